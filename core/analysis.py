"""``influence-lab analyze``: train, delete one point, and report every estimate of the deleted model.

The JSON document (README, "analyze output") has the keys ``data``, ``model``, ``training``, ``deleted``,
``damping``, ``estimates``, ``decomposition``, ``decomposition_params``, ``self_influence``,
``predicted_loss_change``, ``actual_loss_change``, ``eps_path`` and, for linear models, ``leverage``,
``cooks_distance``, ``dfbetas`` and ``loo_exact``. Parameters follow the SCIENCE.md §1 layout.
"""

from __future__ import annotations

import argparse
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from core.cli import (
    CliError,
    add_output_options,
    add_problem_options,
    problem_from_args,
    problem_summary,
    register,
    run_with_progress,
    write_json,
)
from core.linear import jacobian_leverage, ols_diagnostics
from core.model import LinearFeatures
from core.paths import EpsPath, continuation_path
from core.problem import Fit, Problem, fit_problem
from core.progress import Progress, scaled
from core.response import DeletionEstimates, deletion_estimates

DEFAULT_DAMPING = 1e-3


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
    """Fit the problem, then every estimate of the model without z_j (SCIENCE.md §3) and the ε-path (§2)."""
    n = problem.data.n
    if not 0 <= j < n:
        raise CliError(f"--delete {j} is not a point index; the data has {n} points (0 … {n - 1})")
    if damping <= 0:
        raise CliError("--damping must be > 0 (the PBRF is unbounded without damping, SCIENCE.md §3)")
    fit = yield from scaled(fit_problem(problem), 0.0, 0.5, 1.0, "fit: ")
    if fit.training.diverged.any():
        raise CliError(fit.training.message)
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
        "ε-path: ",
    )
    return Analysis(problem, fit, j, damping, est, path)


def _add_args(p: argparse.ArgumentParser) -> None:
    add_problem_options(p)
    g = p.add_argument_group("deletion")
    g.add_argument("--delete", type=int, required=True, metavar="J", help="the point to delete (0-based)")
    g.add_argument(
        "--damping", type=float, default=DEFAULT_DAMPING, help="λ of the GNH influence and the PBRF"
    )
    g.add_argument(
        "--eps-points", type=int, default=101, metavar="K", help="points on the ε-path (default 101)"
    )
    g.add_argument("--solver", choices=("cg", "lissa"), default="cg", help="iterative iHVP solver")
    g.add_argument("--solver-budget", type=int, default=None, help="iterations of the iterative solver")
    add_output_options(p)


def _run(args: argparse.Namespace) -> int:
    if args.eps_points < 2:
        raise CliError("--eps-points must be at least 2")
    problem = problem_from_args(args)
    result = run_with_progress(
        analyze(problem, args.delete, args.damping, args.eps_points, args.solver, args.solver_budget),
        args.quiet,
    )
    doc = result.to_json()
    if args.json:
        write_json(doc, args.json, args.force)
        return 0
    e = result.estimates
    print(f"deleted point {args.delete} of {problem.data.n}; damping λ = {args.damping:g}")
    print(f"θ̂: ‖∇L‖ = {doc['training']['grad_norm']:.2e}, converged {doc['training']['converged']}")
    print(
        f"self-influence s_j = {e.self_influence:.6g}; predicted Δℓ_j = {e.predicted_loss_change:.6g}, "
        f"actual (cold LOO) = {e.actual_loss_change:.6g}"
    )
    print("error decomposition (mean |Δf| over training inputs; ‖Δθ‖):")
    for k, v in e.decomposition.items():
        print(f"  {k:22s} {v:.4g}   {e.decomposition_params[k]:.4g}")
    for msg in [*e.warnings, *result.eps_path.messages]:
        print("warning:", msg)
    return 0


register(
    "analyze",
    "delete one point: every estimate of the deleted model, the ε-path and the error "
    "decomposition (JSON with --json)",
    _add_args,
    _run,
)
