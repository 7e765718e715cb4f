"""The options every subcommand shares (data, model, training, output), checked before any computation."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from cli.errors import EXIT_REFUSED, CliError
from cli.output import note, one_line, warn
from core.limits import (
    MAX_DEGREE,
    MAX_HIDDEN_LAYERS,
    MAX_POINTS,
    MAX_STEPS,
    MAX_WIDTH,
    MIN_POINTS,
    check_problem_size,
)
from core.linear import gd_learning_rate
from core.model import ACTIVATIONS, LinearFeatures
from core.points.dataset import PRESETS, make_preset, read_points, standardize
from core.points.table import Columns
from core.problem import (
    DEFAULT_LR,
    DEFAULT_WEIGHT_DECAY_LINEAR,
    DEFAULT_WEIGHT_DECAY_MLP,
    Problem,
    make_model,
    problem_warnings,
)
from core.train import OPTIMIZERS, TrainConfig


class HelpWithDefaults(argparse.HelpFormatter):
    """--help shows each option's default, unless it has none (None, False, suppressed) or its help already
    says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(default, bool)
        ):
            return text
        shown = " ".join(str(v) for v in default) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``influence-lab train: error: … (see influence-lab train --help)``, and
    each option's default in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpWithDefaults)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _show(value) -> str:
    return repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)


def check_int(value, option: str, meaning: str, lo: int, hi: int | None = None) -> None:
    """Refuse an integer option outside [lo, hi] (None: no upper bound); None (not given) passes."""
    if value is None:
        return
    if value < lo or (hi is not None and value > hi):
        rng = f"from {lo:,} to {hi:,}" if hi is not None else f"≥ {lo:,}"
        raise CliError(f"{option} {value}: {meaning} must be a whole number {rng}")


def check_float(
    value, option: str, meaning: str, lo: float | None = None, strict: bool = False, hi: float | None = None
) -> None:
    """Refuse a float option that is not finite, below lo (or equal with ``strict``) or above hi."""
    if value is None:
        return
    ok = math.isfinite(value) and (lo is None or value > lo or (value == lo and not strict))
    ok = ok and (hi is None or value <= hi)
    if not ok:
        parts = ["a finite number"]
        if lo is not None:
            parts.append(f"{'>' if strict else '≥'} {lo:g}")
        if hi is not None:
            parts.append(f"≤ {hi:g}")
        raise CliError(f"{option} {_show(value)}: {meaning} must be {' '.join(parts)}")


def check_ints(values, option: str, meaning: str, lo: int, hi: int | None = None, most: int = 10_000) -> None:
    """Refuse a list option with too many entries or an entry outside [lo, hi]."""
    if values is None:
        return
    if len(values) > most:
        raise CliError(f"{option}: {len(values):,} values; give at most {most:,}")
    for v in values:
        check_int(v, option, meaning, lo, hi)


# --------------------------------------------------------------------------------------------------
# shared options
# --------------------------------------------------------------------------------------------------


def add_problem_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    src = g.add_mutually_exclusive_group()
    src.add_argument(
        "--data",
        metavar="FILE",
        help="points from delimited text (.csv, .tsv, .txt: columns x, y[, weight][, label], or chosen with "
        "--x-col …) or a JSON points file",
    )
    src.add_argument("--preset", choices=PRESETS, default=None, help="a built-in dataset (default: teacher)")
    for role, what in (("x", "x"), ("y", "y"), ("weight", "the weights"), ("label", "the labels")):
        g.add_argument(
            f"--{role}-col",
            metavar="NAME",
            default=None,
            help=f"--data: the column holding {what} (header name or 1-based position)",
        )
    g.add_argument("--n", type=int, default=None, help="number of points of a preset (default 20)")
    g.add_argument("--noise", type=float, default=None, help="noise std of a preset (default 0.1)")
    g.add_argument("--data-seed", type=int, default=None, help="seed of a preset's points")
    g.add_argument(
        "--standardize",
        action="store_true",
        help="fit and report in standardised units: x → (x − mean)/std, y → (y − mean)/std (docs/limits.md)",
    )
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=("mlp", "linear"), default="mlp", help="MLP or linear features")
    g.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=None,
        metavar="H",
        help=f"MLP hidden widths (default 3; at most {MAX_HIDDEN_LAYERS} layers of width ≤ {MAX_WIDTH:,})",
    )
    g.add_argument("--activation", choices=ACTIVATIONS, default=None, help="MLP activation (default tanh)")
    g.add_argument(
        "--degree",
        type=int,
        default=None,
        help=f"linear model: features (1, x, …, x^degree) (default 1, at most {MAX_DEGREE})",
    )
    g = p.add_argument_group("training")
    g.add_argument("--seed", type=int, default=0, help="initialisation seed of θ_0 (default 0)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default="gd", help="the training algorithm")
    g.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"learning rate η (default: {DEFAULT_LR:g}; for a linear model at most 1/λ_max of the loss Hessian, "
        "stated when smaller)",
    )
    g.add_argument("--steps", type=int, default=2000, help="training steps T (default 2000)")
    g.add_argument(
        "--batch-size", type=int, default=None, help="SGD mini-batch size (--optimizer sgd; ≥ n: full batch)"
    )
    g.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help=f"κ (default {DEFAULT_WEIGHT_DECAY_MLP:g} for MLPs, {DEFAULT_WEIGHT_DECAY_LINEAR:g} for linear)",
    )
    conv = g.add_mutually_exclusive_group()
    conv.add_argument(
        "--converge",
        dest="converge",
        action="store_true",
        default=True,
        help="polish θ̂ with Newton/LM to ‖∇L‖ ≤ 1e-10 (default)",
    )
    conv.add_argument(
        "--early-stopped",
        dest="converge",
        action="store_false",
        help="use the early-stopped θ^s after --steps as θ̂",
    )


def check_problem_args(args: argparse.Namespace) -> None:
    """Check the shared data / model / training options and their combinations (CliError names the fix)."""
    if args.data:
        given = [
            o
            for o, v in (("--n", args.n), ("--noise", args.noise), ("--data-seed", args.data_seed))
            if v is not None
        ]
        if given:
            raise CliError(
                f"{', '.join(given)} shape{'s' if len(given) == 1 else ''} a preset's points, but --data gives the "
                f"points from a file: drop {', '.join(given)} or use --preset"
            )
    check_int(args.n, "--n", "the number of points", MIN_POINTS, MAX_POINTS)
    check_float(args.noise, "--noise", "the noise standard deviation", 0.0)
    check_int(args.data_seed, "--data-seed", "the data seed", 0)
    if args.model == "linear":
        given = [
            o for o, v in (("--hidden", args.hidden), ("--activation", args.activation)) if v is not None
        ]
        if given:
            raise CliError(
                f"{' and '.join(given)} describe{'s' if len(given) == 1 else ''} an MLP, but --model linear has "
                "the features (1, x, …, x^degree): drop it, or use --model mlp"
            )
        check_int(args.degree, "--degree", "the polynomial degree", 0, MAX_DEGREE)
    else:
        if args.degree is not None:
            raise CliError("--degree sets a linear model's features: add --model linear, or drop --degree")
        if args.hidden is not None:
            if len(args.hidden) > MAX_HIDDEN_LAYERS:
                raise CliError(
                    f"--hidden: {len(args.hidden)} hidden layers; give at most {MAX_HIDDEN_LAYERS} widths"
                )
            check_ints(args.hidden, "--hidden", "every hidden width (positive)", 1, MAX_WIDTH)
    check_int(args.seed, "--seed", "the initialisation seed", 0)
    check_float(args.lr, "--lr", "the learning rate η", 0.0, strict=True)
    check_int(args.steps, "--steps", "the number of training steps", 0, MAX_STEPS)
    check_float(args.weight_decay, "--weight-decay", "the weight decay κ", 0.0)
    if args.batch_size is not None:
        if args.optimizer != "sgd":
            raise CliError(
                f"--batch-size is the mini-batch of --optimizer sgd, but the optimiser is {args.optimizer}: add "
                "--optimizer sgd, or drop --batch-size"
            )
        check_int(args.batch_size, "--batch-size", "the mini-batch size", 1)


def problem_from_args(args: argparse.Namespace, feature: str | None = "train", **size) -> Problem:
    """The Problem the shared options describe, after :func:`check_problem_args`; ``feature`` (a key of
    core.limits.FEATURES, None: no check) and ``size`` (batch / inputs / hessian overrides) are checked
    against the size limits. Data warnings (magnitudes, weights) are printed to stderr."""
    check_problem_args(args)
    if args.data:
        picked = [getattr(args, f"{r}_col", None) for r in ("x", "y", "weight", "label")]
        columns = None
        if any(picked):
            if not (picked[0] and picked[1]):
                raise CliError(
                    "--x-col and --y-col go together: give both (--weight-col, --label-col optional)"
                )
            columns = Columns(*picked)
        data, notes = read_points(args.data, columns)
        for text in notes:
            note(args, f"{args.data}: {text}")
    else:
        kwargs = {
            k: v for k, v in (("n", args.n), ("noise", args.noise), ("seed", args.data_seed)) if v is not None
        }
        data = make_preset(args.preset or "teacher", **kwargs)
    scaling = None
    if getattr(args, "standardize", False):
        data, scaling = standardize(data)
    try:
        model = make_model(
            args.model,
            tuple(args.hidden) if args.hidden is not None else (3,),
            args.activation or "tanh",
            1 if args.degree is None else args.degree,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    kappa = args.weight_decay
    if kappa is None:
        kappa = DEFAULT_WEIGHT_DECAY_MLP if args.model == "mlp" else DEFAULT_WEIGHT_DECAY_LINEAR
    lr, warn_note = args.lr, None
    if lr is None and isinstance(model, LinearFeatures):
        # θ̂ of a linear model is its least-squares solution; GD (θ^s, the dynamics) gets a step that is stable
        try:
            stable = gd_learning_rate(model.features(data.x), data.weight, kappa)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if stable < DEFAULT_LR:
            lr = stable
            warn_note = (
                f"η = {lr:.4g} = 1/λ_max of the loss Hessian (no --lr given; the default {DEFAULT_LR:g} would "
                "make gradient descent diverge); θ̂ is the least-squares solution"
            )
    lr = DEFAULT_LR if lr is None else lr
    config = TrainConfig(
        optimizer=args.optimizer,
        lr=lr,
        steps=args.steps,
        weight_decay=kappa,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    try:
        config.validate()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    problem = Problem(
        data=data,
        model=model,
        config=config,
        init_seed=args.seed,
        converge=args.converge,
        standardization=scaling,
    )
    if feature is not None:
        check_problem_size(problem, feature, **size)
    for msg in problem_warnings(problem):
        warn(args, msg)
    if warn_note is not None:
        note(args, warn_note)
    return problem


def check_output_paths(args: argparse.Namespace, *dests: str) -> None:
    """Refuse unusable output paths before computing anything: an existing file without --force, a folder, a
    missing parent folder, two outputs to the same file, two outputs to stdout ('-'), and '-' where only a
    file will do (--npz)."""
    seen: dict[str, str] = {}
    for dest in dests:
        path = getattr(args, dest, None)
        if path is None:
            continue
        option = "--" + dest.replace("_", "-")
        if path == "-":
            if dest == "npz":
                raise CliError(
                    "--npz - : NumPy archives are binary and cannot go to stdout; give a file name"
                )
            if "-" in seen:
                raise CliError(
                    f"{seen['-']} and {option} cannot both go to stdout ('-'); write one of them to a file"
                )
            seen["-"] = option
            continue
        if not path.strip():
            raise CliError(f"{option} needs a file name")
        target = Path(path)
        if target.is_dir():
            raise CliError(f"{option} {path} is a folder; give a file name inside it")
        if target.exists() and not args.force:
            raise CliError(f"{path} exists; pass --force to overwrite it")
        parent = target.parent
        if not parent.is_dir():
            raise CliError(
                f"{option} {path}: the folder {parent} does not exist; create it or choose another path"
            )
        key = str(target.resolve())
        if key in seen:
            raise CliError(f"{seen[key]} and {option} name the same file {path}; give them different names")
        seen[key] = option


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="OUT", default=None, help="write the results as JSON ('-' for stdout)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------------------------------
# subcommands
# --------------------------------------------------------------------------------------------------


def add_delete_option(group, help_text: str) -> None:
    """``--delete J`` of the deleting subcommands. SUPPRESS keeps a value given before the subcommand's name
    (``influence-lab --delete 3 analyze``)."""
    group.add_argument("--delete", type=int, metavar="J", default=argparse.SUPPRESS, help=help_text)
