"""A problem: data + model + training settings, and the fitted model every analysis starts from.

The default problem (README, docs/science.md §1): the ``teacher`` preset (20 points), a 1 → 3 → 1 tanh MLP
initialised from seed 0, full-batch gradient descent with η = 0.1 for 2,000 steps and weight decay
κ = 1e-3 (which makes the minimum isolated), then a Newton/LM polish to ‖∇L‖ ≤ 1e-10.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from core.linear import ols_fit
from core.model import LinearFeatures, MLPSpec, Model
from core.points.dataset import Dataset, make_preset
from core.progress import Progress, drive, scaled
from core.train import PolishResult, TrainConfig, TrainResult, polish, train

DEFAULT_WEIGHT_DECAY_MLP = 1e-3
DEFAULT_WEIGHT_DECAY_LINEAR = 0.0
DEFAULT_LR = 0.1  # MLPs; a linear model without an η gets 1/λ_max (core.linear.gd_learning_rate)
DEFAULT_STEPS = 2000
#: Damping λ of the damped Gauss–Newton influence and the PBRF (docs/science.md §3), everywhere a damping is
#: not given: the analysis, the attribution table, sessions and the desktop app.
DEFAULT_DAMPING = 1e-3


class ProblemError(ValueError):
    """A request the core refuses before computing (a point that cannot be deleted, a damping that is not
    positive, …); the message names the problem and what to do."""


class TrainingDiverged(ValueError):
    """Training diverged (the loss became huge or not finite), so nothing computed from θ̂ can be trusted; the
    message says when and which learning rate would be stable."""


@dataclass
class Problem:
    data: Dataset
    model: Model = field(default_factory=lambda: MLPSpec((3,), "tanh"))
    config: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=DEFAULT_LR, steps=DEFAULT_STEPS, weight_decay=DEFAULT_WEIGHT_DECAY_MLP
        )
    )
    init_seed: int = 0
    #: polish θ^s with Newton/LM to ‖∇L‖ ≤ 1e-10 to get θ̂ (otherwise θ̂ = θ^s, early-stopped).
    converge: bool = True
    #: the affine map the data went through (core.points.dataset.standardize: x_mean, x_std, y_mean, y_std), or None.
    standardization: dict | None = None

    @property
    def kappa(self) -> float:
        return self.config.weight_decay

    def theta0(self) -> np.ndarray:
        return self.model.init_params(self.init_seed)

    def weights(self) -> np.ndarray:
        return np.asarray(self.data.weight, dtype=np.float64)


def problem_warnings(problem: Problem) -> list[str]:
    """What the user should know before trusting this problem's numbers (docs/limits.md): the data's magnitudes
    (core.points.dataset.scale_warnings) and points whose weights leave (almost) nothing to fit."""
    from core.points.dataset import scale_warnings

    out = scale_warnings(problem.data)
    w = problem.weights()
    if not (w > 0).any():
        out.append(
            "every point has weight 0: the objective is only the weight decay (κ/2)‖θ‖², so θ̂ = 0"
            + (" (κ > 0)" if problem.kappa > 0 else "; with κ = 0 every θ minimises it and θ̂ is just θ_0")
        )
    elif int((w > 0).sum()) == 1:
        out.append("only one point has weight > 0: the model fits that single point")
    return out


def deletion_error(problem: Problem, j: int, option: str = "--delete") -> str | None:
    """Why deleting point j of ``problem`` is refused, or None when it is well defined (docs/limits.md).

    Refused: an index outside 0..n−1; a point whose weight is already 0 (deleting it changes nothing); data in
    which no point has weight > 0 ("no points left"). Deleting the last point of positive weight is allowed with
    weight decay κ > 0 (the deleted model then minimises (κ/2)‖θ‖² alone: θ = 0) and refused with κ = 0 (the
    objective without it is identically 0, every θ minimises it and the deleted model is undefined).
    """
    n = problem.data.n
    if not 0 <= j < n:
        return (
            f"{option} {j} is out of range: it is not a point index of the data, which have {n} points; use an "
            f"index from 0 to {n - 1}"
        )
    w = problem.weights()
    positive = w > 0
    if not positive.any():
        return (
            "no points left: every point has weight 0, so there is nothing to delete; give some points a weight "
            "> 0"
        )
    if not positive[j]:
        return (
            f"point {j} has weight 0: it is already deleted and deleting it changes nothing; choose a point with "
            f"weight > 0 (e.g. {int(np.flatnonzero(positive)[0])})"
        )
    if positive.sum() == 1 and problem.kappa == 0:
        return (
            f"deleting point {j} leaves no point with weight > 0 and the weight decay is 0: the objective without "
            "it is identically 0 and the deleted model is undefined; add weight decay (--weight-decay > 0)"
        )
    return None


def default_problem() -> Problem:
    return Problem(data=make_preset("teacher"))


def make_model(kind: str = "mlp", hidden=(3,), activation: str = "tanh", degree: int = 1) -> Model:
    if kind == "mlp":
        return MLPSpec(tuple(hidden), activation)
    if kind == "linear":
        return LinearFeatures(degree)
    raise ValueError(f"unknown model kind {kind!r}; choose 'mlp' or 'linear'")


@dataclass
class Fit:
    """θ_0 (initialisation), θ^s (after the training steps) and θ̂ (converged, or θ^s if not polished)."""

    theta0: np.ndarray
    theta_s: np.ndarray
    theta_hat: np.ndarray
    training: TrainResult
    polish: PolishResult | None

    @property
    def converged(self) -> bool:
        return self.polish is not None and bool(self.polish.converged[0])

    @property
    def message(self) -> str:
        msg = self.training.message
        if self.polish is not None:
            msg += "; polish: " + self.polish.message
        return msg


def fit_problem(problem: Problem, checkpoint_every: int = 0) -> Generator[Progress, None, Fit]:
    """Train the problem's model from θ_0 (yielding progress), then polish if ``problem.converge``.

    θ̂ of a linear model is the least-squares solution (core.linear.ols_fit, a stable lstsq solve), polished by
    the same Newton step as every model (it changes it by rounding only); GD still gives θ^s and the training
    curve. θ̂ of an MLP is GD's θ^s polished by Newton / Levenberg–Marquardt."""
    from dataclasses import replace

    theta0 = problem.theta0()
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    cfg = replace(problem.config, checkpoint_every=checkpoint_every or problem.config.checkpoint_every)
    result = yield from scaled(train(problem.model, theta0, x, y, w, cfg), 0.0, 0.9, 1.0, "training: ")
    theta_s = result.theta[0].copy()
    pol = None
    theta_hat = theta_s
    start = None if result.diverged.any() else theta_s
    if problem.converge and isinstance(problem.model, LinearFeatures):
        # a least-squares problem has a closed form: θ̂ never depends on the learning rate or on GD reaching it
        try:
            start = ols_fit(problem.model.features(x), y, problem.kappa, w)
        except (
            ValueError
        ):  # no unique minimiser (n ≤ p or a rank-deficient design with κ = 0): polish GD's θ^s
            pass
    if problem.converge and start is not None:
        yield Progress(0.9, 1.0, "polishing to ‖∇L‖ ≤ 1e-10")
        pol = polish(problem.model, start, x, y, w, problem.kappa)
        theta_hat = pol.theta[0].copy()
    yield Progress(1.0, 1.0, "trained")
    return Fit(theta0=theta0, theta_s=theta_s, theta_hat=theta_hat, training=result, polish=pol)


def fit(problem: Problem, checkpoint_every: int = 0) -> Fit:
    return drive(fit_problem(problem, checkpoint_every))


def problem_summary(problem: Problem) -> dict:
    """The data, model and training settings of every subcommand's JSON. ``data.warnings`` lists what
    core.problem.problem_warnings says about the data (magnitudes, weights); ``data.standardization`` the
    affine map of --standardize (x and y are then in standardised units), or null."""
    return {
        "data": {
            "x": problem.data.x,
            "y": problem.data.y,
            "weight": problem.data.weight,
            "name": problem.data.name,
            "standardization": problem.standardization,
            "warnings": problem_warnings(problem),
        },
        "model": problem.model.describe(),
        "training_config": {
            "optimizer": problem.config.optimizer,
            "lr": problem.config.lr,
            "steps": problem.config.steps,
            "weight_decay": problem.config.weight_decay,
            "seed": problem.init_seed,
            "converge": problem.converge,
        },
    }
