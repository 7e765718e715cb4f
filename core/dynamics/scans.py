"""Scans of the criterion 𝓔 over one-parameter families of E_s: step times τ ∈ [s, T) and linear-decay end
points t_1 ∈ [s, T] (docs/science.md §4)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from core.dynamics.criterion import criterion, criterion_function
from core.dynamics.flow import schedule_flow
from core.dynamics.schedule import LinearDecay, Schedule, Step, step_grid
from core.model import Model
from core.progress import Progress

#: 𝓔 values within this relative amount of the minimum count as ties (the step at s is "optimal").
TIE_RTOL = 1e-9


@dataclass
class ScheduleScan:
    """𝓔 over a one-parameter family of schedules in E_s, for every θ_0 (P of them).

    ``params`` (G,) are the step times τ (kind "step", τ ∈ [s, T)) or the decay end points t_1 (kind "linear",
    t_1 ∈ [s, T]); params[0] = s is the step at s in both. Best = argmin of 𝓔 (parameter space)."""

    kind: str
    s: float
    T: float
    params: np.ndarray  # (G,)
    schedules: tuple[Schedule, ...]
    criterion: np.ndarray  # (G, P)
    criterion_function: np.ndarray  # (G, P)
    theta_T: np.ndarray  # (G, P, d)

    @property
    def best_index(self) -> np.ndarray:
        return nanargmin(self.criterion)

    @property
    def best_param(self) -> np.ndarray:
        return self.params[self.best_index]

    @property
    def best_criterion(self) -> np.ndarray:
        return np.take_along_axis(self.criterion, self.best_index[None], axis=0)[0]

    @property
    def step_at_s_criterion(self) -> np.ndarray:
        return self.criterion[0]

    @property
    def step_at_s_optimal(self) -> np.ndarray:
        """(P,) the step at s is (up to ties) the best schedule of the scan."""
        return ties_best(self.criterion[0], self.best_criterion)

    def best_schedules(self) -> list[Schedule]:
        return [self.schedules[i] for i in self.best_index]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "param_name": "tau" if self.kind == "step" else "t1",
            "params": self.params,
            "criterion": self.criterion.T,
            "criterion_function": self.criterion_function.T,
            "best_param": self.best_param,
            "best_criterion": self.best_criterion,
            "best_schedule": [sc.describe() for sc in self.best_schedules()],
            "step_at_s_criterion": self.step_at_s_criterion,
            "step_at_s_optimal": self.step_at_s_optimal,
        }


def ties_best(value, best):
    """``value`` is the best 𝓔 up to ties (within TIE_RTOL of ``best``); elementwise for arrays."""
    return value <= best + TIE_RTOL * np.maximum(np.abs(best), 1e-300)


def nanargmin(a: np.ndarray) -> np.ndarray:
    """argmin over axis 0 ignoring NaN (diverged flows); 0 where a column is all NaN."""
    return np.argmin(np.where(np.isnan(a), np.inf, a), axis=0)


def step_scan_schedules(s: float, T: float, lr: float, n: int = 21) -> tuple[np.ndarray, list[Schedule]]:
    """n step times τ = s + (T − s)k/n, k = 0..n−1 (so τ ∈ [s, T)), moved up to the GD grid (GD treats a step
    at τ as one at ⌈τ/η⌉η, so this is where it really happens, and τ ≥ s stays true), duplicates removed; and
    their Step schedules."""
    check_horizon(s, T)
    raw = s + (T - s) * np.arange(int(n)) / int(n)
    taus = np.unique(np.ceil(raw / lr - 1e-9) * lr)
    taus = taus[taus < T - 0.5 * lr] if taus.size > 1 else taus
    return taus, [Step(t) for t in taus]


def linear_scan_schedules(s: float, T: float, n: int = 21) -> tuple[np.ndarray, list[Schedule]]:
    """n decay end points t_1 = s + (T − s)k/(n − 1), k = 0..n−1 (t_1 ∈ [s, T]; t_1 = s is the step at s)."""
    check_horizon(s, T)
    t1s = np.linspace(s, T, max(2, int(n)))
    return t1s, [LinearDecay(s, t) for t in t1s]


def check_horizon(s, T):
    if not (np.isfinite(s) and np.isfinite(T) and 0 <= s < T):
        raise ValueError(f"need 0 ≤ s < T, got s = {s}, T = {T}")


def scan_from_final(kind, s, T, params, scheds, theta_T, target, model, x) -> ScheduleScan:
    crit = criterion(theta_T, target)
    crit_f = (
        criterion_function(model, theta_T, target, x) if model is not None else np.full(crit.shape, np.nan)
    )
    return ScheduleScan(kind, float(s), float(T), np.asarray(params), tuple(scheds), crit, crit_f, theta_T)


def whole_steps(T: float, lr: float) -> int:
    steps, _ = step_grid(lr, T)
    if steps < 1 or abs(steps * lr - T) > 1e-9 * max(1.0, abs(T)):
        raise ValueError(f"T = {T:g} is not a whole number of steps of η = {lr:g}")
    return steps


#: The scans by kind: their schedules (params, Schedule list) for (s, T, η, n).
SCAN_KINDS = {
    "step": lambda s, T, lr, n: step_scan_schedules(s, T, lr, n),
    "linear": lambda s, T, lr, n: linear_scan_schedules(s, T, n),
}


def run_scan(
    kind: str,
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    target,
    s: float,
    T: float,
    lr: float,
    n: int = 21,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleScan]:
    """One batched flow to T and every θ_0 for a scan: kind "step", 𝓔(1_[0,τ)) for τ ∈ [s, T)
    (``step_scan_schedules``), or kind "linear", 𝓔(ε_lin,t_1) for t_1 ∈ [s, T] (``linear_scan_schedules``)."""
    params, scheds = SCAN_KINDS[kind](s, T, lr, n)
    flow = yield from schedule_flow(
        model, theta0s, x, y, w, kappa, j, scheds, lr, whole_steps(T, lr), integrator=integrator
    )
    return scan_from_final(kind, s, T, params, scheds, flow.final, target, model, x)
