"""The gradient flow a deletion schedule drives, batched over (schedule × initial point) (docs/science.md §4,
notes eq. 0.12).

For a deleted point j and a schedule ε(t), the weights are w(ε) = (w_1, …, ε w_j, …, w_n) and

    dθ/dt = −∇L_{w(ε(t))}(θ),   θ(0) = θ_0,                                              (notes eq. 0.12)

with L_w of docs/science.md §1 (mean loss, weight decay κ). It is integrated by gradient descent with step η at
times t_k = kη (the app's discretisation, docs/science.md §4) or, optionally, by classical RK4 with the same step;
ε is read as :mod:`core.dynamics.schedule` explains. Everything is batched over (schedule × initial point): one
loop over time for all of them, per-model weight vectors changing at every step.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import numpy as np

from core.dynamics.quadratic import QuadraticFamily
from core.dynamics.schedule import NUDGE, Schedule, eps_curves
from core.model import Model
from core.progress import Progress

INTEGRATORS = ("gd", "rk4")


@dataclass(frozen=True)
class FlowSnapshot:
    step: int
    time: float
    theta: np.ndarray  # (S, P, d)


@dataclass
class ScheduleFlow:
    """Trajectories of dθ/dt = −∇L_{w(ε(t))}(θ) for every (schedule, θ_0): ``theta`` is (K, S, P, d) at the
    snapshot ``steps`` (times ``steps·lr``), always including step 0 and the last step."""

    schedules: tuple[Schedule, ...]
    theta0s: np.ndarray  # (P, d)
    lr: float
    integrator: str
    steps: np.ndarray  # (K,)
    times: np.ndarray  # (K,)
    theta: np.ndarray  # (K, S, P, d)
    eps: np.ndarray  # (K, S): ε at the snapshot times
    diverged: np.ndarray  # (S, P) θ left the finite numbers or moved > DIVERGENCE_FACTOR(1 + ‖θ_0‖)

    @property
    def final(self) -> np.ndarray:
        """θ(T) for every (schedule, θ_0), (S, P, d)."""
        return self.theta[-1]

    @property
    def T(self) -> float:
        return float(self.times[-1])


def _integrate(
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray],
    schedules: Sequence[Schedule],
    theta0s: np.ndarray,
    lr: float,
    steps: int,
    snapshot_every: int,
    integrator: str,
) -> Generator[Progress, None, ScheduleFlow]:
    """One batched loop over time for all (schedule × θ_0) models; model b = s·P + p."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"unknown integrator {integrator!r}; choose one of {', '.join(INTEGRATORS)}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the step η must be a positive number, got {lr}")
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}")
    schedules = tuple(schedules)
    if not schedules:
        raise ValueError("no schedules to integrate")
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    S, (P, d) = len(schedules), theta0s.shape
    every = int(snapshot_every) if snapshot_every and snapshot_every > 0 else max(1, steps)
    k_grid = np.arange(steps, dtype=np.float64)
    t_start = (k_grid + NUDGE) * lr
    # ε tables (S, steps), repeated over the θ_0s to (B, steps); core.dynamics.schedule explains the read times
    E0 = np.repeat(eps_curves(schedules, t_start), P, axis=0)
    if integrator == "rk4":
        Em = np.repeat(eps_curves(schedules, (k_grid + 0.5) * lr), P, axis=0)
        E1 = np.repeat(np.stack([sc.eps_left((k_grid + 1.0 - NUDGE) * lr) for sc in schedules]), P, axis=0)
    theta = np.tile(theta0s, (S, 1))
    snaps, snap_steps = [theta.copy()], [0]
    yield_every = max(1, steps // 100)
    h = lr
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            if integrator == "gd":
                theta = theta - h * grad(theta, E0[:, k])
            else:
                k1 = grad(theta, E0[:, k])
                k2 = grad(theta - 0.5 * h * k1, Em[:, k])
                k3 = grad(theta - 0.5 * h * k2, Em[:, k])
                k4 = grad(theta - h * k3, E1[:, k])
                theta = theta - (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            step = k + 1
            if step % every == 0 or step == steps:
                snaps.append(theta.copy())
                snap_steps.append(step)
            if step % yield_every == 0 or step == steps:
                yield Progress(
                    step,
                    steps,
                    f"flow step {step}/{steps}",
                    FlowSnapshot(step, step * lr, theta.reshape(S, P, d).copy()),
                )
    steps_arr = np.array(snap_steps)
    times = steps_arr * lr
    traj = np.stack(snaps).reshape(len(snaps), S, P, d)
    return ScheduleFlow(
        schedules=schedules,
        theta0s=theta0s,
        lr=float(lr),
        integrator=integrator,
        steps=steps_arr,
        times=times,
        theta=traj,
        eps=eps_curves(schedules, (steps_arr + NUDGE) * lr).T,  # the ε in effect from each snapshot on
        diverged=_diverged(traj[0], traj[-1]),
    )


#: A flow whose θ moved more than this factor times (1 + ‖θ_0‖) has diverged (step η too large).
DIVERGENCE_FACTOR = 1e8


def _diverged(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        moved = np.linalg.norm(end - start, axis=-1)
        bad = ~np.isfinite(end).all(axis=-1) | (
            moved > DIVERGENCE_FACTOR * (1 + np.linalg.norm(start, axis=-1))
        )
    return bad


def batched_grad(model: Model, x, y, w, kappa: float, j: int, B: int):
    """∇L_{w(ε)} for B models whose only differing weight is w_j = ε·w_j (preallocated weights)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    base = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    if not 0 <= j < n:
        raise ValueError(f"the deleted point index must lie in 0..{n - 1}, got {j}")
    W = np.tile(base, (B, 1))
    wj = base[j]

    def grad(theta, eps):
        W[:, j] = wj * eps
        return model.loss_and_grad(theta, x, y, W, kappa)[1]

    return grad


def schedule_flow(
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    schedules: Sequence[Schedule],
    lr: float,
    steps: int,
    snapshot_every: int = 0,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleFlow]:
    """dθ/dt = −∇L_{w(ε(t))}(θ) from every θ_0 (P, d) under every schedule, to T = steps·η, by GD (t = kη,
    step k uses ε(t_k)) or RK4, in one batched loop (docs/science.md §4, notes eq. 0.12). Snapshots every
    ``snapshot_every`` steps (0: only the start and the end). Generator (Progress) returning a ScheduleFlow."""
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    B = len(schedules) * theta0s.shape[0]
    grad = batched_grad(model, x, y, w, kappa, int(j), B)
    return (yield from _integrate(grad, schedules, theta0s, lr, steps, snapshot_every, integrator))


def quadratic_schedule_flow(
    family: QuadraticFamily,
    theta0s,
    schedules: Sequence[Schedule],
    lr: float,
    steps: int,
    snapshot_every: int = 0,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleFlow]:
    """:func:`schedule_flow` for a :class:`QuadraticFamily` (∇L_ε = A_ε θ − b_ε)."""
    return (yield from _integrate(family.grad, schedules, theta0s, lr, steps, snapshot_every, integrator))
