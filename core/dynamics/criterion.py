"""The target of a deletion, θ*_{−j}, and the criteria 𝓔 and 𝓔_f that measure how close θ(T) gets to it
(docs/science.md §3–§4, notes eq. 0.11).

- θ*_{−j} is the leave-one-out minimiser: exact (least squares on the weighted rows, the minimum-norm =
  pseudo-inverse solution when singular) for linear models; for MLPs argmin L_{−j} solved by ``newton_solve``
  from θ̂ to ‖∇‖ ≤ 1e-10 (the warm-start LOO of docs/science.md §3, the branch influence functions describe).
- The function-space twin of 𝓔 is 𝓔_f = ½ mean_i (f(θ(T); x_i) − f(θ*_{−j}; x_i))² over all n training
  inputs (the deleted point's input included), the primary metric of docs/science.md §3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.dynamics.quadratic import QuadraticFamily
from core.model import LinearFeatures, Model
from core.objective import newton_solve, training_objective

#: Tolerance of the LOO minimiser (docs/science.md §1 "converged").
LOO_TOL = 1e-10


@dataclass
class LOOTarget:
    """θ*_{−j}, the minimiser of L_{−j} (docs/science.md §4 "θ(∞, 0)")."""

    theta: np.ndarray  # (d,)
    grad_norm: float
    converged: bool
    method: str  # "exact" (linear least squares) or "newton" (LM from θ̂)
    message: str = ""


def loo_target(model: Model, theta_hat, x, y, w, kappa: float, j: int, tol: float = LOO_TOL) -> LOOTarget:
    """θ*_{−j}: exact for a linear model (normal equations, pseudo-inverse if singular); for an MLP the
    minimiser of L_{−j} reached by Newton/LM (core.objective.newton_solve) from θ̂, to ‖∇L_{−j}‖ ≤ tol."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if not 0 <= j < n:
        raise ValueError(f"the deleted point index must lie in 0..{n - 1}, got {j}")
    w0 = np.ones(n) if w is None else np.array(w, dtype=np.float64)
    w0[j] = 0.0
    if isinstance(model, LinearFeatures):
        theta = QuadraticFamily.from_linear_model(model, x, y, w, kappa, j).theta_star_del
        gn = float(np.linalg.norm(model.grad(theta, x, y, w0, kappa)))
        return LOOTarget(theta, gn, True, "exact", "exact least-squares solution")
    res = newton_solve(training_objective(model, x, y, w0, kappa), theta_hat, tol=tol)
    gn = float(res.grad_norm[0])
    ok = bool(res.converged[0])
    msg = (
        f"‖∇L_−j‖ = {gn:.2e} ≤ {tol:g}"
        if ok
        else f"the LOO solve stopped at ‖∇L_−j‖ = {gn:.2e} > {tol:g} (smallest Hessian eigenvalues "
        f"{', '.join(f'{e:.3g}' for e in res.min_eigenvalues[0])}): the LOO minimum is degenerate"
    )
    return LOOTarget(res.theta[0], gn, ok, "newton", msg)


def criterion(theta_T, target) -> np.ndarray:
    """𝓔 = ½‖θ(T) − θ*_{−j}‖² over the last axis (notes eq. 0.11)."""
    diff = np.asarray(theta_T, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return 0.5 * np.einsum("...d,...d->...", diff, diff)


def criterion_function(model: Model, theta_T, target, x) -> np.ndarray:
    """𝓔_f = ½ mean_i (f(θ(T); x_i) − f(θ*_{−j}; x_i))² over the training inputs; shape theta_T.shape[:-1]."""
    theta_T = np.asarray(theta_T, dtype=np.float64)
    lead = theta_T.shape[:-1]
    f = model.predict(theta_T.reshape(-1, theta_T.shape[-1]), x)
    f0 = model.predict(np.asarray(target, dtype=np.float64), x)
    return (0.5 * np.mean((f - f0) ** 2, axis=1)).reshape(lead)
