"""A problem: data + model + training settings, and the fitted model every analysis starts from.

The default problem (README, SCIENCE.md §1): the ``teacher`` preset (20 points), a 1 → 3 → 1 tanh MLP
initialised from seed 0, full-batch gradient descent with η = 0.1 for 2,000 steps and weight decay
κ = 1e-3 (which makes the minimum isolated), then a Newton/LM polish to ‖∇L‖ ≤ 1e-10.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from core.data import Dataset, make_preset
from core.model import LinearFeatures, MLPSpec, Model
from core.progress import Progress, drive, scaled
from core.train import PolishResult, TrainConfig, TrainResult, polish, train

DEFAULT_WEIGHT_DECAY_MLP = 1e-3
DEFAULT_WEIGHT_DECAY_LINEAR = 0.0


@dataclass
class Problem:
    data: Dataset
    model: Model = field(default_factory=lambda: MLPSpec((3,), "tanh"))
    config: TrainConfig = field(default_factory=lambda: TrainConfig(lr=0.1, steps=2000, weight_decay=1e-3))
    init_seed: int = 0
    #: polish θ^s with Newton/LM to ‖∇L‖ ≤ 1e-10 to get θ̂ (otherwise θ̂ = θ^s, early-stopped).
    converge: bool = True

    @property
    def kappa(self) -> float:
        return self.config.weight_decay

    def theta0(self) -> np.ndarray:
        return self.model.init_params(self.init_seed)

    def weights(self) -> np.ndarray:
        return np.asarray(self.data.weight, dtype=np.float64)


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
    """Train the problem's model from θ_0 (yielding progress), then polish if ``problem.converge``."""
    from dataclasses import replace

    theta0 = problem.theta0()
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    cfg = replace(problem.config, checkpoint_every=checkpoint_every or problem.config.checkpoint_every)
    result = yield from scaled(train(problem.model, theta0, x, y, w, cfg), 0.0, 0.9, 1.0, "training: ")
    theta_s = result.theta[0].copy()
    pol = None
    theta_hat = theta_s
    if problem.converge and not result.diverged.any():
        yield Progress(0.9, 1.0, "polishing to ‖∇L‖ ≤ 1e-10")
        pol = polish(problem.model, theta_s, x, y, w, problem.kappa)
        theta_hat = pol.theta[0].copy()
    yield Progress(1.0, 1.0, "trained")
    return Fit(theta0=theta0, theta_s=theta_s, theta_hat=theta_hat, training=result, polish=pol)


def fit(problem: Problem, checkpoint_every: int = 0) -> Fit:
    return drive(fit_problem(problem, checkpoint_every))
