"""``influence-lab attribute``: the per-point attribution table (issue 6) from the command line.

Takes the shared data / model / training options, fits the problem, and writes one row per training point
and one column per method (core.attribution: exact LOO cold and warm, IF, damped-GNH IF, PBRF, Newton,
self-influence, leverage, TracIn, BIF, Data Shapley, and for linear models Cook's distance / DFBETAS) as
CSV (``--csv OUT``) and / or JSON (``--json OUT``, with the agreement of every column with exact LOO and,
for data with known corrupted points, the mislabel-detection curves). Without an output file it prints the
table and the summaries. Example (the outliers study of the README):

    influence-lab attribute --preset outliers --methods all --csv outliers.csv --json outliers.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from core.attribution import (
    DEFAULT_DAMPING,
    METHODS,
    BIFConfig,
    Query,
    ShapleyConfig,
    attribution_table,
    resolve_methods,
    split_validation,
    teacher_validation,
)
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


def add_attribute_args(p: argparse.ArgumentParser) -> None:
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
    for path in (args.csv, args.json):
        if path not in (None, "-") and Path(path).exists() and not args.force:
            raise CliError(f"{path} exists; pass --force to overwrite it")
    if args.csv == "-" and args.json == "-":
        raise CliError("--csv and --json cannot both go to stdout")


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
    if args.tracin_every is not None and args.tracin_every < 1:
        raise CliError("--tracin-every must be ≥ 1")
    if not (np.isfinite(args.damping) and args.damping >= 0):
        raise CliError(f"--damping must be ≥ 0, got {args.damping}")
    return shap, bif


def cmd_attribute(args: argparse.Namespace) -> int:
    _check_outputs(args)
    problem = problem_from_args(args)
    try:
        methods = resolve_methods(args.methods, problem.model)
    except ValueError as exc:
        raise CliError(str(exc)) from None
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
    gen = attribution_table(
        problem,
        methods=methods,
        query=query,
        damping=args.damping,
        validation=validation,
        shapley=shap,
        bif=bif,
        tracin_every=args.tracin_every,
        point_ids=keep,
    )
    table = run_with_progress(gen, args.quiet)
    if args.csv:
        text = table.to_csv_text()
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            atomic_write_text(args.csv, text)
    if args.json:
        doc = problem_summary(problem)
        doc["validation"] = None if validation is None else validation.source
        doc["methods"] = methods
        doc["attribution"] = table.to_json()
        write_json(doc, args.json, args.force)
    if not args.csv and not args.json:
        _print_summary(table)
    return 0


def _print_summary(table) -> None:
    names = table.column_names()
    head = ["index", "x", "y"] + (["bad"] if table.corrupted else []) + names
    width = max(11, *(len(h) + 1 for h in head))
    print(f"query: {table.query.describe()}; damping λ = {table.damping:g}")
    print("".join(f"{h:>{width}}" for h in head))
    bad = set(table.corrupted)
    for r in range(table.n):
        cells = [f"{int(table.index[r]):>{width}d}", f"{table.x[r]:>{width}.4f}", f"{table.y[r]:>{width}.4f}"]
        if table.corrupted:
            cells.append(f"{'*' if r in bad else '':>{width}}")
        cells += [f"{table.columns[c][r]:>{width}.3e}" for c in names]
        print("".join(cells))
    ref = table.reference()
    if ref:
        print(f"\nagreement with {ref}:")
        for name, a in table.agreement().items():
            print(
                f"  {name:<22} pearson {a['pearson']:+.3f}  spearman {a['spearman']:+.3f}  "
                f"top-{a['k']} overlap {a['top_k']:.2f}"
            )
    det = table.detection()
    if det:
        print(f"\nmislabel detection ({len(table.corrupted)} corrupted points):")
        for name, d in det.items():
            print(
                f"  {name:<22} ranked {d.direction:<4} AUC {d.auc:.3f}  found after {len(table.corrupted)} "
                f"inspected {d.found_at_k:.2f}  all found after inspecting {d.inspect_all:.0%}"
            )
    for w in table.warnings:
        print(f"warning: {w}")


register(
    "attribute",
    "per-point attribution table: exact LOO, IF, GNH, PBRF, Newton, TracIn, BIF, Data Shapley (CSV / JSON)",
    add_attribute_args,
    cmd_attribute,
)
