"""``influence-lab unlearn`` (docs/science.md §5): retrain, D2D and R2D (``--K``, ``--budget``) with distances to
the retrained model against unlearning steps, and an optional noise study (``--noise-sigma``, ``--draws``)."""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from cli.dynamics_options import (
    MAX_DRAWS,
    MAX_LIST,
    add_dynamics_options,
    check_delete,
    check_dynamics_outputs,
    write_npz,
)
from cli.errors import CliError, DivergedError
from cli.options import check_float, check_int, check_ints, problem_from_args
from cli.output import diverged_message, run_with_progress, to_jsonable, write_json
from core.dynamics.unlearn import unlearn
from core.limits import MAX_STEPS, check_elements, check_problem_size
from core.problem import problem_summary

HELP = "unlearning one point: retrain vs Descend-to-Delete vs Rewind-to-Delete"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_dynamics_options(p)
    g = p.add_argument_group("unlearning (docs/science.md §5)")
    g.add_argument(
        "--K",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="R2D rewind depths (default T/10, T/4, T/2, T)",
    )
    g.add_argument(
        "--budget",
        type=int,
        nargs="+",
        default=None,
        metavar="B",
        help="unlearning step budgets (default: the Ks)",
    )
    g.add_argument(
        "--noise-sigma", type=float, default=0.0, help="σ of the published noise N(0, σ²I) (0: none)"
    )
    g.add_argument("--draws", type=int, default=200, help="noise draws (default 200)")
    g.add_argument("--noise-seed", type=int, default=0, help="seed of the noise draws")
    g.add_argument(
        "--record-every", type=int, default=0, metavar="N", help="curve resolution (0: ~500 points)"
    )


def run(args: argparse.Namespace) -> int:
    check_dynamics_outputs(args)
    if args.optimizer != "gd":
        raise CliError("unlearn compares full-batch gradient descent runs; use --optimizer gd")
    check_int(args.steps, "--steps", "the training length T of unlearn", 1, MAX_STEPS)
    check_ints(args.K, "--K", "every rewind depth K (at most --steps)", 1, args.steps, most=MAX_LIST)
    check_ints(args.budget, "--budget", "every unlearning step budget", 0, MAX_STEPS, most=MAX_LIST)
    check_float(args.noise_sigma, "--noise-sigma", "the noise σ", 0.0)
    check_int(args.draws, "--draws", "the number of noise draws", 1, MAX_DRAWS)
    check_int(args.noise_seed, "--noise-seed", "the noise seed", 0)
    check_int(
        args.record_every, "--record-every", "the curve resolution in steps (0: automatic)", 0, MAX_STEPS
    )
    problem = problem_from_args(args, feature=None)
    x, y, w, model, kappa = problem.data.x, problem.data.y, problem.weights(), problem.model, problem.kappa
    j = check_delete(getattr(args, "delete", None), problem.data.n, 0, problem)
    T = problem.config.steps
    Ks = args.K or sorted({max(1, T // 10), max(1, T // 4), max(1, T // 2), T})
    budgets = args.budget or Ks
    d = model.n_params
    check_problem_size(problem, "unlearn", batch=2 + len(Ks))
    every = math.gcd(T, *[T - int(K) for K in Ks]) or T
    check_elements(
        (T // every + 1) * d,
        f"the checkpoints every {every} steps of {T:,} steps",
        "Use other --K or fewer --steps",
    )
    horizon = max(max(budgets), max(Ks))
    recorded = horizon // (args.record_every or max(1, horizon // 500)) + len(budgets) + len(Ks) + 2
    check_elements(recorded * (2 + len(Ks)) * d, "the recorded unlearning paths", "Raise --record-every")
    if args.noise_sigma > 0:
        labels = 1 + len(budgets) * (1 + len(Ks))
        check_elements(
            labels * args.draws * max(d, problem.data.n),
            f"the noise study ({labels} models × {args.draws:,} draws)",
            "Lower --draws or give fewer --K / --budget",
        )
    start = time.perf_counter()
    try:
        res = run_with_progress(
            unlearn(
                model,
                problem.theta0(),
                x,
                y,
                w,
                kappa,
                j,
                problem.config.lr,
                T,
                Ks,
                args.budget,
                args.noise_sigma,
                args.draws,
                args.noise_seed,
                args.record_every,
            ),
            args.quiet,
        )
    except ValueError as exc:
        if "diverged" in str(exc):  # core.dynamics.unlearn: training on D or on D∖{z_j} diverged
            raise DivergedError(diverged_message(problem, str(exc))) from None
        raise
    doc = {"command": "unlearn"}
    doc.update(problem_summary(problem))
    doc.update(
        {
            "deleted": j,
            "T": res.T,
            "lr": res.lr,
            "K": res.Ks,
            "budgets": res.budgets,
            "theta0": res.theta0,
            "theta_T": res.theta_T,
            "theta_retrain": res.theta_retrain,
            "theta_rewind": {str(int(K)): res.theta_rewind[r] for r, K in enumerate(res.Ks)},
            "table": res.table(),
            "r2d_canonical": res.canonical_r2d(),
            "curves": {
                "steps": res.steps,
                "retrain_param": res.retrain_param,
                "retrain_function": res.retrain_function,
                "d2d_param": res.d2d_param,
                "d2d_function": res.d2d_function,
                "r2d_param": res.r2d_param,
                "r2d_function": res.r2d_function,
            },
            "noise": None
            if res.noise is None
            else {
                "sigma": res.noise.sigma,
                "draws": res.noise.draws,
                "seed": res.noise.seed,
                "summary": res.noise.summary(),
            },
            "seconds": time.perf_counter() - start,
        }
    )
    if args.npz:
        arrays = {
            "steps": res.steps,
            "K": res.Ks,
            "budgets": res.budgets,
            "theta0": res.theta0,
            "theta_T": res.theta_T,
            "theta_retrain": res.theta_retrain,
            "theta_rewind": res.theta_rewind,
            "retrain_path": res.retrain_path,
            "d2d_path": res.d2d_path,
            "r2d_path": res.r2d_path,
            "retrain_param": res.retrain_param,
            "retrain_function": res.retrain_function,
            "d2d_param": res.d2d_param,
            "d2d_function": res.d2d_function,
            "r2d_param": res.r2d_param,
            "r2d_function": res.r2d_function,
        }
        if res.noise is not None:
            arrays.update(
                noise_labels=np.array(res.noise.labels),
                noise_param=res.noise.param,
                noise_function=res.noise.function,
            )
        write_npz(arrays, args.npz, args.force)
    if args.json:
        write_json(doc, args.json, args.force)
    if not args.json or args.json != "-":
        print(f"unlearn: delete point {j}, T = {T} steps, η = {res.lr:g}; distance to the retrained model")
        for row in to_jsonable(res.table()):
            r2d = ", ".join(f"K={e['K']}: {e['function']:.3g}" for e in row["r2d"])
            print(f"  budget {row['budget']}: D2D {row['d2d']['function']:.3g}; R2D {r2d} (mean |Δf|)")
    return 0
