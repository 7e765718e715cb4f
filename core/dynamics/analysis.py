"""Everything at once, what the CLI and the Schedules panel show: the flows of the user's schedules, their 𝓔 and
𝓔_f, and the two scans, from one batched loop (docs/science.md §4)."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.dynamics.criterion import LOOTarget, criterion, criterion_function
from core.dynamics.flow import ScheduleFlow, schedule_flow
from core.dynamics.scans import (
    ScheduleScan,
    check_horizon,
    linear_scan_schedules,
    nanargmin,
    scan_from_final,
    step_scan_schedules,
    ties_best,
    whole_steps,
)
from core.dynamics.schedule import Schedule, Step
from core.model import Model
from core.progress import Progress


@dataclass
class ScheduleAnalysis:
    """User schedules' flows + the two scans, from one batched loop.

    ``flow`` holds only the user schedules (with snapshots); ``criterion`` / ``criterion_function`` are their
    𝓔 and 𝓔_f (S, P); the scans are None when not asked for."""

    j: int
    s: float
    T: float
    target: LOOTarget
    flow: ScheduleFlow
    criterion: np.ndarray
    criterion_function: np.ndarray
    step_scan: ScheduleScan | None
    linear_scan: ScheduleScan | None
    messages: list[str] = field(default_factory=list)

    def candidates(self) -> tuple[list[Schedule], np.ndarray]:
        """Every evaluated schedule of E_s (user schedules in the class, then the scans) and its 𝓔, (C, P)."""
        scheds, rows = [], []
        for sc, row in zip(self.flow.schedules, self.criterion):
            if sc.in_class(self.s, self.T):
                scheds.append(sc)
                rows.append(row)
        for scan in (self.step_scan, self.linear_scan):
            if scan is not None:
                scheds += list(scan.schedules)
                rows += list(scan.criterion)
        P = self.flow.theta0s.shape[0]
        return scheds, np.array(rows).reshape(len(rows), P)

    def overall(self) -> list[dict]:
        """Per θ_0: the best schedule of E_s found (user + scans), its 𝓔, the step at s's 𝓔 and whether the step
        at s is optimal among them (ties within TIE_RTOL)."""
        scheds, crit = self.candidates()
        step_s = None
        if self.step_scan is not None:
            step_s = self.step_scan.criterion[0]
        else:
            for sc, row in zip(self.flow.schedules, self.criterion):
                if isinstance(sc, Step) and sc.tau == self.s:
                    step_s = row
        out = []
        for p in range(crit.shape[1]):
            if crit.shape[0] == 0:
                out.append({"best_schedule": None, "best_criterion": None})
                continue
            k = int(nanargmin(crit[:, p]))
            best = float(crit[k, p])
            entry = {
                "best_schedule": scheds[k].describe(),
                "best_label": scheds[k].label(),
                "best_criterion": best,
            }
            if step_s is not None:
                entry["step_at_s_criterion"] = float(step_s[p])
                entry["step_at_s_optimal"] = bool(ties_best(step_s[p], best))
            out.append(entry)
        return out


def analyze_schedules(
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    schedules: Sequence[Schedule],
    s: float,
    T: float,
    lr: float,
    target: LOOTarget,
    n_scan: int = 21,
    snapshot_every: int = 0,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleAnalysis]:
    """Flows of the user schedules (snapshots every ``snapshot_every`` steps), 𝓔 and 𝓔_f against
    ``target`` (see :func:`loo_target`), and — when n_scan > 0 — the step-time and linear-decay scans, all in
    one batched loop of (user + scan schedules) × θ_0s."""
    check_horizon(s, T)
    steps = whole_steps(T, lr)
    schedules = list(schedules)
    taus, step_s = step_scan_schedules(s, T, lr, n_scan) if n_scan > 0 else (np.array([]), [])
    t1s, lin_s = linear_scan_schedules(s, T, n_scan) if n_scan > 0 else (np.array([]), [])
    every = snapshot_every or max(1, steps // 200)
    flow = yield from schedule_flow(
        model, theta0s, x, y, w, kappa, j, schedules + step_s + lin_s, lr, steps, every, integrator
    )
    S = len(schedules)
    theta_T = flow.final
    user = ScheduleFlow(
        schedules=tuple(schedules),
        theta0s=flow.theta0s,
        lr=flow.lr,
        integrator=integrator,
        steps=flow.steps,
        times=flow.times,
        theta=flow.theta[:, :S],
        eps=flow.eps[:, :S],
        diverged=flow.diverged[:S],
    )
    tgt = target.theta
    crit = criterion(theta_T[:S], tgt)
    crit_f = criterion_function(model, theta_T[:S], tgt, x)
    G = len(step_s)
    step_scan = linear_scan = None
    if n_scan > 0:
        step_scan = scan_from_final("step", s, T, taus, step_s, theta_T[S : S + G], tgt, model, x)
        linear_scan = scan_from_final("linear", s, T, t1s, lin_s, theta_T[S + G :], tgt, model, x)
    messages = []
    if flow.diverged.any():
        messages.append(
            f"{int(flow.diverged.sum())} flow(s) diverged (θ left the finite numbers): lower the step η"
        )
    bad = [sc.label() for sc in schedules if not sc.in_class(s, T)]
    if bad:
        messages.append(f"not in E_s (ε = 1 on [0, s], 0 from T): {', '.join(bad)}")
    if not target.converged:
        messages.append(target.message)
    return ScheduleAnalysis(
        int(j), float(s), float(T), target, user, crit, crit_f, step_scan, linear_scan, messages
    )
