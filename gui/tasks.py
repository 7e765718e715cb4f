"""Job bodies: generators that call ``core`` in a worker thread and package what the views draw.

Each task takes an immutable snapshot (a :class:`core.problem.Problem` made by :meth:`LabState.problem`) and
yields :class:`core.progress.Progress` whose ``partial`` is a small frozen record the GUI can draw directly
(the curve on the display grid is evaluated here, in the worker, not in the GUI thread).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace

import numpy as np

from core.problem import DEFAULT_DAMPING, Problem, fit_problem
from core.progress import Progress
from core.train import TrainSnapshot, suggested_learning_rate
from gui.state import FitRecord, Settings

#: Number of x values of the display grid the fit curves are drawn on.
GRID_POINTS = 400

#: Aim for about this many progress yields per training run (live loss curve resolution, "Step" size) ...
TARGET_YIELDS = 500
#: ... but yield at least every this many steps, so a cancel or pause takes effect quickly on long runs.
MAX_STEPS_PER_YIELD = 50


def display_grid(x: np.ndarray, n: int = GRID_POINTS) -> np.ndarray:
    """A dense grid over the data's x range, padded by 10 % on each side."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (-1.0, 1.0)
    span = max(hi - lo, 1e-6)
    pad = 0.1 * span if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n)


def steps_per_yield(steps: int) -> int:
    return max(1, min(MAX_STEPS_PER_YIELD, int(steps) // TARGET_YIELDS))


@dataclass(frozen=True)
class LiveFit:
    """A snapshot of a running training job (the ``partial`` of its progress)."""

    step: int
    steps: int
    theta: np.ndarray  # (d,)
    loss: float
    grad_norm: float
    grid: np.ndarray
    curve: np.ndarray  # f(θ_k; grid)
    #: the loss history so far: the first ``history_len`` entries of two append-only lists shared with the
    #: worker (no per-yield copy, so long runs stay O(1) per yield); read it with :meth:`history`.
    _steps: list
    _loss: list
    history_len: int
    phase: str = "training"  # "init" | "training" | "polishing"

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        k = self.history_len
        return np.asarray(self._steps[:k], dtype=np.float64), np.asarray(self._loss[:k], dtype=np.float64)


#: above this many parameters the per-point scores (one exact Hessian) are skipped after a fit
SCORES_MAX_PARAMS = 2000
#: damping λ of the Jacobian leverage h_i = ∇f_iᵀ(nG + nλI)⁻¹∇f_i shown per point (docs/science.md §6)
LEVERAGE_DAMPING = DEFAULT_DAMPING


def point_scores(model, theta, x, y, w, kappa: float) -> dict[str, np.ndarray]:
    """Per-point attributions drawn in the fit view (colour, hover), computed by core in the worker:
    self-influence s_i = g_iᵀH⁻¹g_i (core.deletion.influence.self_influence_all, docs/science.md §3) and the Jacobian
    leverage (core.linear.jacobian_leverage, §6). Missing entries mean "not available" (too large a model,
    or a failed factorisation)."""
    from core.deletion.influence import self_influence_all
    from core.linear import jacobian_leverage

    scores: dict[str, np.ndarray] = {}
    if model.n_params > SCORES_MAX_PARAMS or not np.isfinite(theta).all():
        return scores
    try:
        scores["self_influence"], _ = self_influence_all(model, theta, x, y, w, kappa)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        pass
    try:
        scores["leverage"] = np.asarray(jacobian_leverage(model, theta, x, LEVERAGE_DAMPING, kappa)).reshape(
            -1
        )
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        pass
    return {k: np.asarray(v, dtype=np.float64) for k, v in scores.items() if np.isfinite(v).all()}


def fit_task(
    problem: Problem, revision: int, settings: Settings, fingerprint: str = ""
) -> Generator[Progress, None, FitRecord]:
    """Train (and polish) ``problem`` like :func:`core.problem.fit_problem`, yielding drawable snapshots."""
    chunk = steps_per_yield(problem.config.steps)
    problem = replace(problem, config=replace(problem.config, yield_every=chunk))
    model = problem.model
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    grid = display_grid(x)
    kappa = problem.kappa
    theta0 = problem.theta0()
    loss0, g0 = model.loss_and_grad(theta0, x, y, w, kappa)
    h_steps = [0]
    h_loss = [float(loss0[0])]
    steps = int(problem.config.steps)

    def live(step, theta, loss, gnorm, phase):
        return LiveFit(
            step=step,
            steps=steps,
            theta=np.array(theta, dtype=np.float64),
            loss=float(loss),
            grad_norm=float(gnorm),
            grid=grid,
            curve=model.predict(theta, grid)[0],
            _steps=h_steps,
            _loss=h_loss,
            history_len=len(h_steps),
            phase=phase,
        )

    last = live(0, theta0, loss0[0], np.linalg.norm(g0), "init")
    yield Progress(0.0, 1.0, f"training: step 0/{steps}", last)

    gen = fit_problem(problem)
    try:
        while True:
            p = next(gen)
            snap = p.partial
            if isinstance(snap, TrainSnapshot):
                h_steps.append(snap.step)
                h_loss.append(float(snap.loss[0]))
                last = live(snap.step, snap.theta[0], snap.loss[0], snap.grad_norm[0], "training")
                yield Progress(p.done, p.total, p.message, last)
            else:
                last = replace(last, phase="polishing" if p.fraction < 1 else last.phase)
                yield Progress(p.done, p.total, p.message, last)
    except StopIteration as stop:
        fit = stop.value
    finally:
        gen.close()

    theta_hat = fit.theta_hat
    loss, g = model.loss_and_grad(theta_hat, x, y, w, kappa)
    return FitRecord(
        revision=revision,
        settings=settings,
        model=model,
        theta0=fit.theta0,
        theta_s=fit.theta_s,
        theta_hat=theta_hat,
        loss=float(loss[0]),
        grad_norm=float(np.linalg.norm(g[0])),
        converged=fit.converged,
        message=fit.message,
        history_steps=np.array(h_steps, dtype=np.float64),
        history_loss=np.array(h_loss, dtype=np.float64),
        grid=grid,
        curve=model.predict(theta_hat, grid)[0],
        fitted=model.predict(theta_hat, x)[0],
        min_eigenvalues=None if fit.polish is None else np.asarray(fit.polish.min_eigenvalues[0]),
        extra={
            "diverged": bool(fit.training.diverged.any()),
            "diverged_at": int(fit.training.diverged_at.max()) if fit.training.diverged.any() else None,
            "suggested_lr": (
                suggested_learning_rate(model, fit.theta0, x, y, w, kappa, problem.config.lr)
                if fit.training.diverged.any()
                else None
            ),
            "steps_taken": int(fit.training.steps),
            "scores": point_scores(model, theta_hat, x, y, w, kappa),
        },
        fingerprint=fingerprint,
    )
