"""``influence-lab attribute``: the per-point attribution table from the command line.

Takes the shared data / model / training options, fits the problem, and writes one row per training point
and one column per method (core.attribution.methods: exact LOO cold and warm, IF, damped-GNH IF, PBRF, Newton,
self-influence, leverage, TracIn, BIF, Data Shapley, and for linear models Cook's distance / DFBETAS) as
CSV (``--csv OUT``) and / or JSON (``--json OUT``, with the agreement of every column with exact LOO and,
for data with known corrupted points, the mislabel-detection curves). Without an output file it prints the
table and the summaries. Example (the outliers study of the README):

    influence-lab attribute --preset outliers --methods all --csv outliers.csv --json outliers.json
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from cli.errors import CliError, DivergedError
from cli.options import (
    add_output_options,
    add_problem_options,
    check_float,
    check_int,
    check_output_paths,
    problem_from_args,
)
from cli.output import (
    diverged_message,
    run_with_progress,
    say_written,
    summary_out,
    write_json,
    write_text_file,
)
from core.attribution.methods import (
    METHODS,
    BIFConfig,
    Query,
    ShapleyConfig,
    attribution_table,
    default_tracin_every,
    resolve_methods,
    split_validation,
    teacher_validation,
)
from core.limits import MAX_STEPS, check_elements, check_problem_size
from core.problem import DEFAULT_DAMPING, fit_problem, problem_summary
from core.progress import scaled

HELP = "per-point attribution table: exact LOO, IF, GNH, PBRF, Newton, TracIn, BIF, Data Shapley (CSV / JSON)"
#: Upper bounds of the Monte-Carlo budgets (typo guards; docs/limits.md).
MAX_PERMUTATIONS = 1_000_000
MAX_CHAINS = 1_000
#: Methods that hold all n leave-one-out models at once on 2n inputs (core.limits feature "attribute").
_BATCHED = ("loo_cold", "loo_warm", "pbrf")
#: Methods that need no exact Hessian (with --early-stopped).
_NO_HESSIAN = ("tracin", "shapley", "loo_cold")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_problem_options(p)
    g = p.add_argument_group("attribution")
    g.add_argument(
        "--methods",
        default="all",
        metavar="LIST",
        help=f"comma-separated methods from {', '.join(METHODS)}; or all (default), fast (all but shapley "
        "and bif), loo (cold and warm)",
    )
    g.add_argument(
        "--query",
        default="self",
        metavar="Q",
        help="what each effect is measured on: self (each point's own loss, default), a point index J, or "
        "validation (the mean validation loss)",
    )
    g.add_argument(
        "--damping", type=float, default=DEFAULT_DAMPING, help=f"damping λ (default {DEFAULT_DAMPING:g})"
    )
    v = g.add_mutually_exclusive_group()
    v.add_argument(
        "--holdout",
        type=int,
        nargs="+",
        metavar="I",
        help="hold these points (0-based) out of training as the validation set",
    )
    v.add_argument(
        "--val-fraction", type=float, default=None, help="hold out a random fraction of the points instead"
    )
    g.add_argument("--val-seed", type=int, default=0, help="seed of the random validation split")
    g = p.add_argument_group("Data Shapley (TMC)")
    g.add_argument("--permutations", type=int, default=1000, help="permutation budget (default 1000)")
    g.add_argument("--min-permutations", type=int, default=20, help="permutations before stopping")
    g.add_argument(
        "--shapley-tol",
        type=float,
        default=0.05,
        help="stop when the running means change by less than this (relative) over 50 permutations",
    )
    g.add_argument(
        "--truncation-tol", type=float, default=0.01, help="truncate at |V(D) − V(S)| ≤ tol·|V(D)| (0: off)"
    )
    g.add_argument(
        "--shapley-steps", type=int, default=None, help="training steps per utility (default --steps)"
    )
    g = p.add_argument_group("Bayesian influence (SGLD)")
    g.add_argument("--chains", type=int, default=8, help="SGLD chains (default 8)")
    g.add_argument("--bif-beta", type=float, default=100.0, help="inverse temperature β (default 100)")
    g.add_argument("--bif-gamma", type=float, default=None, help="localisation γ (default 0.1·nβ)")
    g.add_argument("--bif-steps", type=int, default=40000, help="sampling steps per chain (default 40000)")
    g.add_argument("--bif-burn-in", type=int, default=None, help="burn-in steps (default automatic)")
    g.add_argument("--bif-thin", type=int, default=20, help="keep every k-th draw (default 20)")
    g.add_argument("--bif-step-size", type=float, default=None, help="SGLD step η (default automatic)")
    g = p.add_argument_group("other")
    g.add_argument("--tracin-every", type=int, default=None, help="TracIn checkpoint spacing in steps")
    g.add_argument("--mc-seed", type=int, default=0, help="seed of the Shapley permutations and SGLD noise")
    p.add_argument("--csv", metavar="OUT", default=None, help="write the table as CSV (one row per point)")
    add_output_options(p)


def _check_outputs(args) -> None:
    check_output_paths(args, "csv", "json")


def _check_options(args) -> None:
    """Every attribution option's value, before any computation (CliError names the option and the fix)."""
    check_float(args.damping, "--damping", "the damping λ", 0.0)
    check_int(args.val_seed, "--val-seed", "the validation seed", 0)
    check_int(args.mc_seed, "--mc-seed", "the Monte-Carlo seed", 0)
    check_int(args.permutations, "--permutations", "the Shapley permutation budget", 1, MAX_PERMUTATIONS)
    check_int(args.min_permutations, "--min-permutations", "the minimum number of permutations", 1)
    check_float(args.shapley_tol, "--shapley-tol", "the Shapley convergence tolerance", 0.0)
    check_float(args.truncation_tol, "--truncation-tol", "the truncation tolerance", 0.0)
    check_int(args.shapley_steps, "--shapley-steps", "the training steps per utility", 0, MAX_STEPS)
    check_int(args.chains, "--chains", "the number of SGLD chains", 1, MAX_CHAINS)
    check_float(args.bif_beta, "--bif-beta", "the inverse temperature β", 0.0, strict=True)
    check_float(args.bif_gamma, "--bif-gamma", "the localisation γ", 0.0)
    check_int(args.bif_steps, "--bif-steps", "the SGLD steps per chain", 1, MAX_STEPS)
    check_int(args.bif_burn_in, "--bif-burn-in", "the burn-in", 0, MAX_STEPS)
    check_int(args.bif_thin, "--bif-thin", "the thinning (keep every k-th draw, so thin)", 1, MAX_STEPS)
    check_float(args.bif_step_size, "--bif-step-size", "the SGLD step size", 0.0, strict=True)
    check_int(args.tracin_every, "--tracin-every", "the TracIn checkpoint spacing", 1, MAX_STEPS)


def _query(args, n_train: int, keep: np.ndarray | None, validation):
    q = str(args.query).strip().lower()
    if q == "self":
        return Query("self")
    if q == "validation":
        return Query("validation", validation=validation)
    try:
        j = int(q)
    except ValueError:
        raise CliError(f"--query must be self, validation or a point index, got {args.query!r}") from None
    if keep is not None:
        rows = np.flatnonzero(keep == j)
        if rows.size == 0:
            raise CliError(f"--query {j}: not a training point (held out, or outside 0..{keep.max()})")
        j = int(rows[0])
    elif not 0 <= j < n_train:
        raise CliError(f"--query {j}: point index out of range 0..{n_train - 1}")
    return Query("point", index=j)


def _configs(args):
    try:
        shap = ShapleyConfig(
            max_permutations=args.permutations,
            min_permutations=min(args.min_permutations, max(args.permutations, 1)),
            convergence_tol=args.shapley_tol,
            truncation_tol=args.truncation_tol,
            seed=args.mc_seed,
            train_steps=args.shapley_steps,
        )
        shap.validate()
        bif = BIFConfig(
            chains=args.chains,
            beta=args.bif_beta,
            gamma=args.bif_gamma,
            step_size=args.bif_step_size,
            burn_in=args.bif_burn_in,
            steps=args.bif_steps,
            thin=args.bif_thin,
            seed=args.mc_seed,
        )
        bif.validate()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return shap, bif


def _check_size(problem, methods, args) -> None:
    """core.limits for the chosen methods: all n LOO models at once on 2n inputs for the batched methods,
    otherwise n models (Newton, IF) or the Monte-Carlo batches; TracIn's checkpoints."""
    n = problem.data.n
    hessian = problem.converge or not set(methods) <= set(_NO_HESSIAN)
    if set(methods) & set(_BATCHED):
        check_problem_size(problem, "attribute", hessian=hessian)
    else:
        batch = max(n, args.chains if "bif" in methods else 1, 400 if "shapley" in methods else 1)
        check_problem_size(problem, "attribute", batch=batch, inputs=n, hessian=hessian)
    if "tracin" in methods:
        every = args.tracin_every or default_tracin_every(problem.config.steps)
        check_elements(
            (problem.config.steps // every + 1) * problem.model.n_params * 2,
            "TracIn's checkpoints",
            "Raise --tracin-every",
        )


def run(args: argparse.Namespace) -> int:
    _check_outputs(args)
    _check_options(args)
    problem = problem_from_args(args, feature=None)
    try:
        methods = resolve_methods(args.methods, problem.model)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if "pbrf" in methods and not args.damping > 0:
        raise CliError(f"--damping {args.damping:g}: the PBRF needs damping λ > 0; e.g. --damping 1e-3")
    if not (problem.weights() > 0).any():
        raise CliError(
            "no points left: every point has weight 0, so there is nothing to attribute; give some points a "
            "weight > 0"
        )
    shap, bif = _configs(args)
    full = problem.data
    keep = None
    validation = None
    if args.holdout is not None or args.val_fraction is not None:
        try:
            train_data, validation, keep = split_validation(
                full, args.holdout, args.val_fraction, args.val_seed
            )
        except ValueError as exc:
            raise CliError(str(exc)) from None
        problem.data = train_data
    needs_validation = "shapley" in methods or str(args.query).strip().lower() == "validation"
    if validation is None and needs_validation:
        if full.teacher is None:
            raise CliError(
                "Data Shapley and --query validation need a validation set: this data has no teacher "
                "function; pass --holdout I … or --val-fraction F"
            )
        validation = teacher_validation(full)
    query = _query(args, problem.data.n, keep, validation)
    _check_size(problem, methods, args)

    def pipeline():
        # the fit first, so that a diverged training stops here (exit 3) instead of feeding every column
        every = args.tracin_every or default_tracin_every(problem.config.steps)
        fit = yield from scaled(
            fit_problem(problem, checkpoint_every=every if "tracin" in methods else 0),
            0.0,
            0.05,
            1.0,
            "fit: ",
        )
        if fit.training.diverged.any():
            raise DivergedError(diverged_message(problem, fit.training.message))
        table = yield from scaled(
            attribution_table(
                problem,
                fit=fit,
                methods=methods,
                query=query,
                damping=args.damping,
                validation=validation,
                shapley=shap,
                bif=bif,
                tracin_every=args.tracin_every,
                point_ids=keep,
            ),
            0.05,
            1.0,
            1.0,
        )
        return table

    table = run_with_progress(pipeline(), args.quiet)
    if args.csv:
        text = table.to_csv_text()
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            write_text_file(args.csv, text)
    if args.json:
        doc = problem_summary(problem)
        doc["validation"] = None if validation is None else validation.source
        doc["methods"] = methods
        doc["attribution"] = table.to_json()
        write_json(doc, args.json, args.force)
    say_written(args, "csv", "json")
    if not args.csv and not args.json:  # the table is the output
        _print_summary(table, sys.stdout)
    elif (out := summary_out(args)) is not None:  # the files are the output: a summary beside them
        _print_summary(table, out, rows=False)
    return 0


def _print_summary(table, out, rows: bool = True) -> None:
    """The table (``rows``: only when it is not written to a file), agreement, detection and warnings."""

    def say(text: str = "") -> None:
        print(text, file=out)

    names = table.column_names()
    head = ["index", "x", "y"] + (["bad"] if table.corrupted else []) + names
    width = max(11, *(len(h) + 1 for h in head))
    say(f"query: {table.query.describe()}; damping λ = {table.damping:g}")
    bad = set(table.corrupted)
    if rows:
        say("".join(f"{h:>{width}}" for h in head))
    for r in range(table.n if rows else 0):
        cells = [f"{int(table.index[r]):>{width}d}", f"{table.x[r]:>{width}.4f}", f"{table.y[r]:>{width}.4f}"]
        if table.corrupted:
            cells.append(f"{'*' if r in bad else '':>{width}}")
        cells += [f"{table.columns[c][r]:>{width}.3e}" for c in names]
        say("".join(cells))
    ref = table.reference()
    if ref:
        say(f"\nagreement with {ref}:")
        for name, a in table.agreement().items():
            say(
                f"  {name:<22} pearson {a['pearson']:+.3f}  spearman {a['spearman']:+.3f}  "
                f"top-{a['k']} overlap {a['top_k']:.2f}"
            )
    det = table.detection()
    if det:
        say(f"\nmislabel detection ({len(table.corrupted)} corrupted points):")
        for name, d in det.items():
            say(
                f"  {name:<22} ranked {d.direction:<4} AUC {d.auc:.3f}  found after {len(table.corrupted)} "
                f"inspected {d.found_at_k:.2f}  all found after inspecting {d.inspect_all:.0%}"
            )
    for w in table.warnings:
        say(f"warning: {w}")
