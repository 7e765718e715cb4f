"""``influence-lab train``: train the model on the data and report θ̂."""

from __future__ import annotations

import argparse

import numpy as np

from cli.errors import DivergedError
from cli.options import add_output_options, add_problem_options, check_output_paths, problem_from_args
from cli.output import diverged_message, run_with_progress, write_json
from core.problem import (
    problem_summary,
)

HELP = "train the model on the data and report θ̂ (JSON with --json)"


def run(args: argparse.Namespace) -> int:
    from core.problem import fit_problem

    check_output_paths(args, "json")
    problem = problem_from_args(args, "train")
    f = run_with_progress(fit_problem(problem), args.quiet)
    doc = problem_summary(problem)
    doc["training"] = {
        "theta0": f.theta0,
        "theta_s": f.theta_s,
        "theta_hat": f.theta_hat,
        "loss": float(
            problem.model.loss(f.theta_hat, problem.data.x, problem.data.y, problem.weights(), problem.kappa)[
                0
            ]
        ),
        "grad_norm": float(
            np.linalg.norm(
                problem.model.grad(
                    f.theta_hat, problem.data.x, problem.data.y, problem.weights(), problem.kappa
                )
            )
        ),
        "steps": f.training.steps,
        "converged": f.converged,
        "weight_decay": problem.kappa,
        "hessian_min_eigenvalues": f.polish.min_eigenvalues[0] if f.polish is not None else None,
        "diverged": bool(f.training.diverged.any()),
        "diverged_at": int(f.training.diverged_at[0]) if f.training.diverged.any() else None,
        "message": f.message,
    }
    if args.json:
        write_json(doc, args.json, args.force)
    else:
        t = doc["training"]
        print(f"{problem.data.name or 'data'}: n = {problem.data.n}, model {problem.model.describe()}")
        print(f"loss {t['loss']:.6g}, ‖∇L‖ {t['grad_norm']:.3g}, converged {t['converged']}")
        print(f.message)
    if f.training.diverged.any():
        # the output above holds the last finite θ; the exit status says the run is not to be trusted
        raise DivergedError(diverged_message(problem, f.training.message))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_problem_options(p)
    add_output_options(p)
