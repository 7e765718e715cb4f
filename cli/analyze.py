"""``influence-lab analyze``: train, delete one point, and report every estimate of the deleted model.

The JSON document (README, "analyze output") is :meth:`core.deletion.analysis.Analysis.to_json`; its edge cases
are described there. A diverged training stops with exit status 3.
"""

from __future__ import annotations

import argparse
import sys

from cli.errors import CliError, DivergedError
from cli.options import (
    add_delete_option,
    add_output_options,
    add_problem_options,
    check_float,
    check_int,
    check_output_paths,
    problem_from_args,
)
from cli.output import diverged_message, run_with_progress, say_written, summary_out, write_json
from core.deletion.analysis import analyze
from core.problem import DEFAULT_DAMPING, TrainingDiverged, deletion_error

HELP = (
    "delete one point: every estimate of the deleted model, the ε-path and the error decomposition "
    "(JSON with --json)"
)
#: Upper bounds of the analysis options (typo guards; docs/limits.md).
MAX_EPS_POINTS = 10_001
MAX_SOLVER_BUDGET = 1_000_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_problem_options(p)
    g = p.add_argument_group("deletion")
    add_delete_option(g, "the point to delete (0-based; required)")
    g.add_argument(
        "--damping", type=float, default=DEFAULT_DAMPING, help="λ of the GNH influence and the PBRF"
    )
    g.add_argument(
        "--eps-points", type=int, default=101, metavar="K", help="points on the ε-path (default 101)"
    )
    g.add_argument("--solver", choices=("cg", "lissa"), default="cg", help="iterative iHVP solver")
    g.add_argument("--solver-budget", type=int, default=None, help="iterations of the iterative solver")
    add_output_options(p)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "delete", None) is None:
        raise CliError("--delete J is required: the 0-based index of the point to delete, e.g. --delete 3")
    check_int(args.eps_points, "--eps-points", "the number of points on the ε-path", 2, MAX_EPS_POINTS)
    check_float(args.damping, "--damping", "the damping λ (the PBRF needs λ > 0)", 0.0, strict=True)
    check_int(args.solver_budget, "--solver-budget", "the iterative solver's budget", 0, MAX_SOLVER_BUDGET)
    check_output_paths(args, "json")
    problem = problem_from_args(args, "analyze")
    msg = deletion_error(problem, args.delete)
    if msg is not None:
        raise CliError(msg)
    try:
        result = run_with_progress(
            analyze(problem, args.delete, args.damping, args.eps_points, args.solver, args.solver_budget),
            args.quiet,
        )
    except TrainingDiverged as exc:
        raise DivergedError(diverged_message(problem, str(exc))) from None
    doc = result.to_json()
    if args.json:
        write_json(doc, args.json, args.force)
        say_written(args, "json")
    out = summary_out(args) if args.json else sys.stdout  # without --json the summary is the output
    if out is not None:
        _print_summary(problem, args, result, doc, out)
    return 0


def _print_summary(problem, args, result, doc, out) -> None:
    e = result.estimates

    def say(text: str) -> None:
        print(text, file=out)

    say(f"deleted point {args.delete} of {problem.data.n}; damping λ = {args.damping:g}")
    say(f"θ̂: ‖∇L‖ = {doc['training']['grad_norm']:.2e}, converged {doc['training']['converged']}")
    h = doc["hessian"]
    say(
        f"{h['message']}"
        + ("" if h["positive_definite"] else "; the exact-Hessian IF below uses the pseudo-inverse H⁺")
    )
    say(
        f"self-influence s_j = {e.self_influence:.6g}; predicted Δℓ_j = {e.predicted_loss_change:.6g}, "
        f"actual (cold LOO) = {e.actual_loss_change:.6g}"
    )
    say("error decomposition (mean |Δf| over training inputs; ‖Δθ‖):")
    for k, v in e.decomposition.items():
        say(f"  {k:22s} {v:.4g}   {e.decomposition_params[k]:.4g}")
    for msg in [*doc["warnings"], *("ε-path: " + m for m in result.eps_path.messages)]:
        say(f"warning: {msg}")
