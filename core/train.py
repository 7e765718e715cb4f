"""Batched training: weighted full-batch gradient descent, seeded mini-batch SGD, Adam, and a
Newton / Levenberg–Marquardt polish.

All of them minimise L_w(θ) = (1/n) Σ_i w_i ½ (f(θ; x_i) − y_i)² + (κ/2)‖θ‖² (docs/science.md §1) for B models
at once: ``theta0`` is (B, d) and ``weights`` is (B, n) (or (n,) shared). Gradient descent with step η is the
Euler discretisation of the gradient flow dθ/dt = −∇L_w(θ) at times t = kη (docs/science.md §4).

Training is a generator yielding :class:`core.progress.Progress` (its ``partial`` a :class:`TrainSnapshot`)
and returning a :class:`TrainResult`; :func:`train_models` runs it to the end.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from core.model import Model
from core.objective import newton_solve, training_objective
from core.progress import Progress, drive

OPTIMIZERS = ("gd", "sgd", "adam")

#: A model whose loss exceeds this multiple of its starting loss (or is not finite) has diverged.
DIVERGENCE_FACTOR = 1e8


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "gd"
    lr: float = 0.1
    steps: int = 2000
    weight_decay: float = 1e-3
    #: stop early once every model's ‖∇L‖ ≤ grad_tol (0 disables; GD/Adam only).
    grad_tol: float = 0.0
    #: SGD mini-batch size (None: full batch) and the seed of its shuffling (shared by all models).
    batch_size: int | None = None
    seed: int = 0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    #: store θ every k steps (0: never) — the homotopy, unlearning and TracIn read these.
    checkpoint_every: int = 0
    #: yield progress every k steps (0: about 100 times per run).
    yield_every: int = 0

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimiser {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.steps < 0:
            raise ValueError(f"steps must be ≥ 0, got {self.steps}")
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight decay must be ≥ 0, got {self.weight_decay}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch size must be ≥ 1, got {self.batch_size}")


@dataclass(frozen=True)
class TrainSnapshot:
    step: int
    theta: np.ndarray  # (B, d)
    loss: np.ndarray  # (B,)
    grad_norm: np.ndarray  # (B,)


@dataclass
class TrainResult:
    theta: np.ndarray  # (B, d): final parameters (last finite ones for diverged models)
    loss: np.ndarray  # (B,)
    grad_norm: np.ndarray  # (B,)
    steps: int  # steps taken
    diverged: np.ndarray  # (B,) bool
    diverged_at: np.ndarray  # (B,) step of divergence, −1 if none
    checkpoint_steps: list[int] = field(default_factory=list)
    checkpoints: list[np.ndarray] = field(default_factory=list)  # each (B, d)
    loss_history: np.ndarray | None = None  # (recorded, B)
    history_steps: np.ndarray | None = None

    @property
    def message(self) -> str:
        if self.diverged.any():
            first = int(self.diverged_at[self.diverged].min())
            return (
                f"training diverged at step {first} for {int(self.diverged.sum())} of {self.diverged.size} "
                "model(s) (loss became huge or not finite); the last finite parameters were kept — "
                "lower the learning rate"
            )
        return f"trained {self.steps} steps; loss {float(self.loss.max()):.4g}, ‖∇L‖ {float(self.grad_norm.max()):.3g}"


def _prepare(theta0, x, weights):
    theta = np.array(theta0, dtype=np.float64, copy=True)
    if theta.ndim == 1:
        theta = theta[None, :]
    n = np.shape(x)[0]
    w = np.ones((theta.shape[0], n)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.broadcast_to(w, (theta.shape[0], n))
    return theta, w


def train(
    model: Model, theta0, x, y, weights=None, config: TrainConfig = TrainConfig()
) -> Generator[Progress, None, TrainResult]:
    """Train B models from theta0 with the configured optimiser (see module docstring)."""
    config.validate()
    theta, w = _prepare(theta0, x, weights)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    B, d = theta.shape
    n = x.shape[0]
    kappa = config.weight_decay
    lr = config.lr
    steps = int(config.steps)
    yield_every = config.yield_every or max(1, steps // 100)
    rng = np.random.default_rng(config.seed)
    m1 = np.zeros_like(theta)
    m2 = np.zeros_like(theta)
    b1, b2 = config.adam_betas
    mb_size = None if config.optimizer != "sgd" else min(config.batch_size or n, n)
    order = np.arange(n)
    cursor = n  # forces a fresh permutation at the first SGD step

    loss, g = model.loss_and_grad(theta, x, y, w, kappa)
    start_loss = np.where(np.isfinite(loss), np.maximum(loss, 1e-300), np.inf)
    # "loss ≤ limit" is False for NaN, ±inf and exploding losses alike: one comparison per step
    limit = DIVERGENCE_FACTOR * start_loss
    diverged = ~np.isfinite(loss)
    any_diverged = bool(diverged.any())
    diverged_at = np.where(diverged, 0, -1)
    ckpt_steps, ckpts = [], []
    hist_steps, hist = [0], [loss.copy()]
    if config.checkpoint_every:
        ckpt_steps.append(0)
        ckpts.append(theta.copy())
    grad_norm = np.linalg.norm(g, axis=1)
    track_norm = config.grad_tol > 0
    sgd = config.optimizer == "sgd" and mb_size < n
    adam = config.optimizer == "adam"
    step = 0
    for step in range(1, steps + 1):
        if sgd:
            if cursor + mb_size > n:
                order = rng.permutation(n)
                cursor = 0
            batch = order[cursor : cursor + mb_size]
            cursor += mb_size
            mask = np.zeros(n)
            mask[batch] = n / mb_size  # (1/n)·(n/b) = 1/b: the unbiased mini-batch estimate of L_w
            _, g = model.loss_and_grad(theta, x, y, w * mask, kappa)
        if adam:
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b2 * m2 + (1 - b2) * g * g
            update = (m1 / (1 - b1**step)) / (np.sqrt(m2 / (1 - b2**step)) + config.adam_eps)
        else:
            update = g
        if any_diverged:
            update[diverged] = 0.0
        # a new array, so the previous (finite) θ survives for models that diverge at this step
        new_theta = theta - lr * update
        loss, g = model.loss_and_grad(new_theta, x, y, w, kappa)
        if not (loss <= limit).all():
            bad = ~(loss <= limit) & ~diverged
            diverged |= bad
            any_diverged = True
            diverged_at[bad] = step
            new_theta[bad] = theta[bad]
            loss[bad], g[bad] = model.loss_and_grad(theta[bad], x, y, w[bad], kappa)
        theta = new_theta
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            ckpt_steps.append(step)
            ckpts.append(theta.copy())
        report = step % yield_every == 0 or step == steps
        if track_norm or report:
            grad_norm = np.linalg.norm(g, axis=1)
        done = (any_diverged and bool(diverged.all())) or (
            track_norm and bool((grad_norm[~diverged] <= config.grad_tol).all())
        )
        if report or done:
            grad_norm = np.linalg.norm(g, axis=1)
            hist_steps.append(step)
            hist.append(loss.copy())
            yield Progress(
                step, steps, f"step {step}/{steps}", TrainSnapshot(step, theta.copy(), loss, grad_norm)
            )
        if done:
            break
    if config.checkpoint_every and (not ckpt_steps or ckpt_steps[-1] != step):
        ckpt_steps.append(step)
        ckpts.append(theta.copy())
    return TrainResult(
        theta=theta,
        loss=loss,
        grad_norm=grad_norm,
        steps=step,
        diverged=diverged,
        diverged_at=diverged_at,
        checkpoint_steps=ckpt_steps,
        checkpoints=ckpts,
        loss_history=np.array(hist),
        history_steps=np.array(hist_steps),
    )


def train_models(model: Model, theta0, x, y, weights=None, config: TrainConfig = TrainConfig(), **overrides):
    """Run :func:`train` to the end and return its :class:`TrainResult`."""
    if overrides:
        config = replace(config, **overrides)
    return drive(train(model, theta0, x, y, weights, config))


# --------------------------------------------------------------------------------------------------
# Newton / Levenberg–Marquardt polish
# --------------------------------------------------------------------------------------------------


@dataclass
class PolishResult:
    theta: np.ndarray  # (B, d)
    loss: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray  # (B,) ‖∇L‖ ≤ tol reached
    isolated: np.ndarray  # (B,) smallest Hessian eigenvalue > ISOLATION_EIG at the end
    min_eigenvalues: np.ndarray  # (B, k) the k smallest Hessian eigenvalues at the end, ascending
    iterations: int
    tol: float

    @property
    def message(self) -> str:
        msgs = []
        for b in range(self.theta.shape[0]):
            eigs = ", ".join(f"{e:.3g}" for e in self.min_eigenvalues[b])
            if self.converged[b] and self.isolated[b]:
                continue
            if self.converged[b]:
                msgs.append(
                    f"model {b}: ‖∇L‖ = {self.grad_norm[b]:.2e} ≤ {self.tol:g} but the minimum is not isolated "
                    f"(smallest Hessian eigenvalues {eigs}); add weight decay to make it unique"
                )
            else:
                msgs.append(
                    f"model {b}: the polish stopped at ‖∇L‖ = {self.grad_norm[b]:.2e} > {self.tol:g}; "
                    f"smallest Hessian eigenvalues {eigs} — the minimum is degenerate (flat or saddle "
                    "directions); add weight decay (e.g. --weight-decay 1e-3) to make it isolated"
                )
        if not msgs:
            return f"converged: ‖∇L‖ ≤ {self.tol:g} at an isolated minimum for every model"
        return "; ".join(msgs)


def polish(
    model: Model,
    theta,
    x,
    y,
    weights=None,
    weight_decay: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    n_eigs: int = 3,
) -> PolishResult:
    """Take models to ‖∇L_w‖ ≤ tol by Levenberg–Marquardt on the exact Hessian (core.objective.newton_solve);
    where the minimum is not isolated, stop and report the gradient norm reached and the smallest
    Hessian eigenvalues instead of pretending (docs/science.md §1)."""
    theta, w = _prepare(theta, x, weights)
    obj = training_objective(model, x, y, w, weight_decay)
    res = newton_solve(obj, theta, tol=tol, max_iter=max_iter, n_eigs=n_eigs)
    return PolishResult(
        theta=res.theta,
        loss=res.value,
        grad_norm=res.grad_norm,
        converged=res.converged,
        isolated=res.isolated,
        min_eigenvalues=res.min_eigenvalues,
        iterations=res.iterations,
        tol=tol,
    )


def suggested_learning_rate(model: Model, theta, x, y, weights, kappa: float, lr: float) -> float:
    """A gradient-descent step that is stable near ``theta`` (the start of a training that diverged):
    η = 1/λ_max(G), G = Jᵀ diag(w/n) J + κI the Gauss–Newton Hessian of L_w at θ (J = ∂f/∂θ), rounded down to
    1, 2 or 5 × 10^k and at most lr/2. GD on a quadratic with curvature λ_max is stable for η < 2/λ_max; 1/λ_max
    leaves a factor 2 for the curvature growing along the way. (docs/science.md §1.)"""
    theta = np.asarray(theta, dtype=np.float64).reshape(1, -1)
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    J = model.jacobian(theta, x)[0]
    G = (J * (w / n)[:, None]).T @ J
    lam = float(np.linalg.eigvalsh(0.5 * (G + G.T))[-1]) + float(kappa)
    eta = 1.0 / lam if np.isfinite(lam) and lam > 0 else lr / 10
    eta = min(eta, lr / 2)
    exp = np.floor(np.log10(eta))
    for m in (5.0, 2.0, 1.0):
        if m * 10**exp <= eta:
            return float(m * 10**exp)
    return float(10**exp)
