"""One deletion, everything at once: fit, delete one point, every estimate of the deleted model, the ε-path and
the error decomposition (what ``influence-lab analyze`` reports).

Its record (:meth:`Analysis.to_json`; README, "analyze output") has the keys ``data``, ``model``, ``training``, ``deleted``,
``damping``, ``estimates``, ``decomposition``, ``decomposition_params``, ``self_influence``,
``predicted_loss_change``, ``actual_loss_change``, ``eps_path`` and, for linear models, ``leverage``,
``cooks_distance``, ``dfbetas`` and ``loo_exact``. Parameters follow the docs/science.md §1 layout.

Edge cases (docs/limits.md): ``hessian`` says whether H = ∇²L(θ̂) is positive definite, its smallest eigenvalues
and how the exact-Hessian IF was computed ("direct", or "pseudo-inverse" when H is singular or indefinite — the
same message is in ``warnings`` and the text output); a fold of the continuation is in ``eps_path.messages``
(``complete`` false) and printed as ``warning: ε-path: …``; deleting a point of weight 0, or from data with no
point of positive weight, is refused (core.problem.deletion_error); a diverged training stops with
core.problem.TrainingDiverged.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from core.deletion.eps_path import EpsPath, continuation_path
from core.deletion.influence import hessian_check
from core.deletion.responses import DeletionEstimates, deletion_estimates
from core.linear import jacobian_leverage, ols_diagnostics
from core.model import LinearFeatures
from core.problem import (
    DEFAULT_DAMPING,
    Fit,
    Problem,
    ProblemError,
    TrainingDiverged,
    deletion_error,
    fit_problem,
    problem_summary,
)
from core.progress import Progress, scaled


def deletion_notes(problem: Problem, j: int) -> list[str]:
    """Warnings about deleting j that do not prevent it (docs/limits.md): deleting the last point of positive
    weight leaves only the weight decay."""
    w = problem.weights()
    if w[j] > 0 and int((w > 0).sum()) == 1:
        return [
            f"deleting point {j} leaves no point with weight > 0: the deleted model minimises (κ/2)‖θ‖² alone, "
            "so θ_{−j} = 0"
        ]
    return []


@dataclass
class Analysis:
    problem: Problem
    fit: Fit
    j: int
    damping: float
    estimates: DeletionEstimates
    eps_path: EpsPath

    def to_json(self) -> dict:
        p, f = self.problem, self.fit
        x, y, w = p.data.x, p.data.y, p.weights()
        theta_hat = f.theta_hat
        loss, grad = p.model.loss_and_grad(theta_hat, x, y, w, p.kappa)
        H = p.model.hessian(theta_hat, x, y, w, p.kappa)[0]
        doc = problem_summary(p)
        check = hessian_check(H, "H = ∇²L(θ̂)")
        doc["training"] = {
            "theta0": f.theta0,
            "theta_s": f.theta_s,
            "theta_hat": theta_hat,
            "loss": float(loss[0]),
            "grad_norm": float(np.linalg.norm(grad[0])),
            "steps": int(f.training.steps),
            "converged": f.converged,
            "weight_decay": p.kappa,
            "hessian_min_eigenvalues": np.linalg.eigvalsh(H)[:3],
            "message": f.message,
        }
        doc.update(self.estimates.to_json())
        doc["warnings"] = deletion_notes(p, self.j) + doc["warnings"]
        # docs/science.md §3: the IF needs H positive definite; when it is not, say so, show the smallest eigenvalue
        # and which substitute the exact-Hessian IF used (analyze: the pseudo-inverse H⁺)
        doc["hessian"] = {
            "positive_definite": check.positive_definite,
            "min_eigenvalues": check.eigenvalues[:3],
            "max_eigenvalue": check.max_eigenvalue,
            "if_method": "direct" if check.positive_definite else "pseudo-inverse",
            "message": check.message,
        }
        path = self.eps_path
        doc["eps_path"] = {
            "eps": path.eps,
            "theta": path.theta[0],
            "grad_norm": path.grad_norm[0],
            "min_eigenvalue": path.min_eig[0],
            "tangent_at_1": path.tangent_at_1[0],
            "tangent_at_0": path.tangent[0, path.reached[0]],
            "complete": bool(path.complete[0]),
            "messages": path.messages,
            "straightness": {k: float(v[0]) for k, v in path.straightness().items()},
        }
        if isinstance(p.model, LinearFeatures):
            diag = ols_diagnostics(p.model.features(x), y, p.kappa)
            doc["leverage"] = diag.leverage
            doc["cooks_distance"] = diag.cooks_distance
            doc["dfbetas"] = diag.dfbetas
            doc["loo_exact"] = diag.loo_theta
            doc["linear_warnings"] = list(diag.warnings)
        else:
            doc["jacobian_leverage"] = jacobian_leverage(p.model, theta_hat, x, self.damping, p.kappa)
        return doc


def analyze(
    problem: Problem,
    j: int,
    damping: float = DEFAULT_DAMPING,
    eps_points: int = 101,
    solver: str = "cg",
    solver_budget: int | None = None,
) -> Generator[Progress, None, Analysis]:
    """Fit the problem, then every estimate of the model without z_j (docs/science.md §3) and the ε-path (§2).

    Refused (:class:`core.problem.ProblemError`) before any computation: a j that :func:`core.problem.deletion_error` refuses (out of
    range, weight already 0, no points left, the last point with κ = 0) and a damping λ that is not a finite
    number > 0 (the PBRF needs λ > 0). When training diverges it stops with :class:`core.problem.TrainingDiverged`.
    """
    msg = deletion_error(problem, j)
    if msg is not None:
        raise ProblemError(msg)
    if not (np.isfinite(damping) and damping > 0):
        raise ProblemError(
            f"--damping {damping:g}: the damping λ must be a finite number > 0 (the PBRF is unbounded without "
            "damping, docs/science.md §3); e.g. --damping 1e-3"
        )
    fit = yield from scaled(fit_problem(problem), 0.0, 0.5, 1.0, "fit: ")
    if fit.training.diverged.any():
        raise TrainingDiverged(fit.training.message)
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    est = yield from scaled(
        deletion_estimates(
            problem.model,
            x,
            y,
            w,
            problem.kappa,
            fit.theta0,
            fit.theta_s,
            fit.theta_hat,
            j,
            damping,
            problem.config,
            solver=solver,
            solver_budget=solver_budget,
            converge=problem.converge,
        ),
        0.5,
        0.85,
        1.0,
        "estimates: ",
    )
    path = yield from scaled(
        continuation_path(problem.model, fit.theta_hat, x, y, w, problem.kappa, [j], n_points=eps_points),
        0.85,
        1.0,
        1.0,
    )  # the ε-path's own messages already say "ε-path: …"
    return Analysis(problem, fit, j, damping, est, path)
