"""The headless command line: ``influence-lab SUBCOMMAND`` (or ``python app.py SUBCOMMAND``).

Each subcommand shares the data / model / training options, runs the same ``core`` code the desktop app
runs, shows a text progress bar on stderr and writes JSON. Every option is checked before any computation
(values, conflicts, output paths, and the size limits of core.limits); a refusal is one line on stderr that
names the problem and the fix, never a traceback.

Exit status (docs/limits.md):
- 0: done (warnings, if any, are lines ``influence-lab CMD: warning: …`` on stderr and a ``warnings`` list in
  the JSON);
- 2: refused — a bad option, option combination, file or output path, or a problem beyond core.limits;
- 3: the computation ran but training diverged (the loss became huge or not finite): ``train`` still writes
  its output with the last finite θ and ``"diverged": true``; the other subcommands stop there;
- 70: an internal error (a bug: please report it; ``INFLUENCE_LAB_DEBUG=1`` shows the traceback);
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from core.data import PRESETS, DataError, make_preset, read_points, standardize
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
from core.points_table import Columns
from core.problem import (
    DEFAULT_LR,
    DEFAULT_WEIGHT_DECAY_LINEAR,
    DEFAULT_WEIGHT_DECAY_MLP,
    Problem,
    make_model,
    problem_warnings,
)
from core.progress import Progress, drive
from core.train import OPTIMIZERS, TrainConfig

EXIT_REFUSED = 2
EXIT_DIVERGED = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""

    exit_status = EXIT_REFUSED


class DivergedError(CliError):
    """Training diverged: printed as one line, exit status 3."""

    exit_status = EXIT_DIVERGED


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


def one_line(text) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------------------------------
# option checks (each message names the option, the problem and the fix)
# --------------------------------------------------------------------------------------------------


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


#: Warnings waiting for the computation to start (so that a refusal stays a single line on stderr).
_PENDING: list[str] = []


def warn(args: argparse.Namespace, message: str) -> None:
    """A warning line ``influence-lab CMD: warning: …`` on stderr, printed when the computation starts
    (:func:`run_with_progress`); dropped if the command is refused before that."""
    _PENDING.append(f"influence-lab {args.command}: warning: {one_line(message)}")


def note(args: argparse.Namespace, message: str) -> None:
    """A line ``influence-lab CMD: note: …`` on stderr (a choice made for the user), printed like :func:`warn`'s."""
    if not getattr(args, "quiet", False):
        _PENDING.append(f"influence-lab {args.command}: note: {one_line(message)}")


def flush_warnings() -> None:
    for line in _PENDING:
        print(line, file=sys.stderr)
    _PENDING.clear()


def diverged_message(problem: Problem, message: str) -> str:
    """A divergence message, with the data-scale hint when the data's magnitudes are unusual."""
    from core.data import scale_warnings

    if scale_warnings(problem.data) and problem.standardization is None:
        message += " or standardise the data (--standardize)"
    return message


# --------------------------------------------------------------------------------------------------
# progress bar and output
# --------------------------------------------------------------------------------------------------


class ProgressBar:
    """A one-line text progress bar on stderr (only drawn when stderr is a terminal or forced)."""

    def __init__(self, enabled: bool | None = None, width: int = 30):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.width = width
        self._last = ""

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        filled = int(round(p.fraction * self.width))
        line = (
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * p.fraction:5.1f}% {p.message[:50]:<50}"
        )
        if line != self._last:
            sys.stderr.write(line)
            sys.stderr.flush()
            self._last = line

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run_with_progress(gen, quiet: bool = False):
    flush_warnings()
    bar = ProgressBar(enabled=False if quiet else None)
    try:
        return drive(gen, bar)
    finally:
        bar.close()


def to_jsonable(obj):
    """numpy arrays and scalars → lists and floats (non-finite floats → None, JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else None
    return obj


def summary_out(args: argparse.Namespace):
    """Where a subcommand's human-readable summary goes: stdout, or stderr when a machine-readable output
    (--json / --csv) goes to stdout; None with --quiet."""
    if getattr(args, "quiet", False):
        return None
    to_stdout = any(getattr(args, dest, None) == "-" for dest in ("json", "csv", "npz"))
    return sys.stderr if to_stdout else sys.stdout


def say_written(args: argparse.Namespace, *dests: str) -> None:
    """One line per output file written (not for '-'), unless --quiet."""
    out = summary_out(args)
    if out is None:
        return
    for dest in dests:
        path = getattr(args, dest, None)
        if path and path != "-":
            print(f"wrote {path}", file=out)


def write_json(doc: dict, path: str | None, force: bool = False) -> None:
    text = json.dumps(to_jsonable(doc), indent=1)
    if path in (None, "-"):
        sys.stdout.write(text + "\n")
        return
    target = Path(path)
    if target.exists() and not force:
        raise CliError(f"{path} exists; pass --force to overwrite it")
    write_text_file(target, text + "\n")


def write_text_file(path, text: str) -> None:
    """Write an output file atomically; an OSError becomes a CliError naming the file."""
    try:
        atomic_write_text(Path(path), text)
    except OSError as exc:
        raise CliError(f"{path}: cannot be written ({exc.strerror or exc}); choose another path") from None


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


def problem_summary(problem: Problem) -> dict:
    """The data, model and training settings of every subcommand's JSON. ``data.warnings`` lists what
    core.problem.problem_warnings says about the data (magnitudes, weights); ``data.standardization`` the
    affine map of --standardize (x and y are then in standardised units), or null."""
    return {
        "data": {
            "x": problem.data.x,
            "y": problem.data.y,
            "weight": problem.data.weight,
            "name": problem.data.name,
            "standardization": problem.standardization,
            "warnings": problem_warnings(problem),
        },
        "model": problem.model.describe(),
        "training_config": {
            "optimizer": problem.config.optimizer,
            "lr": problem.config.lr,
            "steps": problem.config.steps,
            "weight_decay": problem.config.weight_decay,
            "seed": problem.init_seed,
            "converge": problem.converge,
        },
    }


def cmd_train(args: argparse.Namespace) -> int:
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


#: name → (help, add-arguments, run). Other modules register more subcommands here.
SUBCOMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def register(name: str, help_text: str, add_args, run) -> None:
    SUBCOMMANDS[name] = (help_text, add_args, run)


def _add_train_args(p):
    add_problem_options(p)
    add_output_options(p)


register("train", "train the model on the data and report θ̂ (JSON with --json)", _add_train_args, cmd_train)


#: The desktop app's options (refused with a subcommand by :func:`check_global_options`).
GUI_OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--screenshot", dict(metavar="OUT.png", help="GUI: open, compute, save a screenshot, exit")),
    ("--session", dict(metavar="FILE", help="GUI: open this session file")),
    ("--delete", dict(type=int, metavar="J", help="GUI: delete point J (0-based) after training")),
    ("--panel", dict(metavar="NAME", help="GUI: show this panel (for --screenshot and --export-figures)")),
    (
        "--export-figures",
        dict(
            metavar="DIR",
            help="GUI, headless: open, compute, write what File → Export figures writes into DIR, exit",
        ),
    ),
    ("--overwrite", dict(action="store_true", help="GUI: let --export-figures replace files already in DIR")),
    (
        "--window-size",
        dict(
            metavar="WxH",
            help="GUI: window size in pixels for --screenshot and --export-figures (default: 1400x900)",
        ),
    ),
    (
        "--figure-width",
        dict(
            type=float,
            metavar="IN",
            help="GUI: width of exported PDF/SVG figures in inches (default: 3.5, one paper column; 7 for a wide plot)",
        ),
    ),
    (
        "--figure-height",
        dict(
            type=float,
            metavar="IN",
            help="GUI: height of exported PDF/SVG figures in inches (default: from the plot's aspect on screen)",
        ),
    ),
    (
        "--figure-font",
        dict(type=float, metavar="PT", help="GUI: font size of exported PDF/SVG figures (default: 8)"),
    ),
)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="influence-lab",
        description=(
            "Influence Lab: what influence functions really compute, for 1D regression with small MLPs. "
            "Without a subcommand the desktop app opens on the default data."
        ),
    )
    for flag, kwargs in GUI_OPTIONS:
        parser.add_argument(flag, **kwargs)
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, (help_text, add_args, _) in SUBCOMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    _load_subcommands()
    return build_parser().parse_args(argv)


#: Subcommands that take the top-level --delete J (given before the subcommand name).
DELETING = ("analyze", "schedules", "unlearn")


def check_global_options(args: argparse.Namespace) -> None:
    """Refuse the desktop app's options with a subcommand (they would be silently ignored)."""
    given = [
        flag
        for flag, _ in GUI_OPTIONS
        if flag != "--delete"  # the deleting subcommands have their own --delete
        and getattr(args, flag[2:].replace("-", "_"), None) not in (None, False)
    ]
    if given:
        raise CliError(
            f"{', '.join(given)} {'is an option' if len(given) == 1 else 'are options'} of the desktop app, not of "
            f"the {args.command} subcommand: drop {'it' if len(given) == 1 else 'them'}, or run without a subcommand"
        )
    if args.command not in DELETING and getattr(args, "delete", None) is not None:
        raise CliError(
            f"--delete does not apply to {args.command}: drop it (it applies to {', '.join(DELETING)})"
        )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return one_line(exc) or type(exc).__name__


def run_cli(args: argparse.Namespace) -> int:
    """Run a parsed subcommand; map every outcome to an exit status (module docstring) and one stderr line.

    numpy's floating-point warnings are silenced here: every non-finite or diverging result is detected and
    reported explicitly, in one line, instead of as numpy's multi-line RuntimeWarnings."""
    cmd = args.command
    _PENDING.clear()
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            check_global_options(args)
            return SUBCOMMANDS[cmd][2](args)
    except CliError as exc:
        print(f"influence-lab {cmd}: error: {_error_text(exc)}", file=sys.stderr)
        return exc.exit_status
    except (DataError, ValueError, OSError) as exc:  # DataError, SessionError, LimitError are ValueErrors
        print(f"influence-lab {cmd}: error: {_error_text(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    except MemoryError:
        print(
            f"influence-lab {cmd}: error: out of memory: the problem is too large for this machine; use fewer "
            "points, a smaller model or smaller budgets",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print(f"influence-lab {cmd}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("INFLUENCE_LAB_DEBUG"):
            raise
        print(
            f"influence-lab {cmd}: internal error: {type(exc).__name__}: {_error_text(exc)} — this is a bug, "
            "please report it (INFLUENCE_LAB_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _load_subcommands() -> None:
    """Import the modules that register subcommands (kept lazy so ``--help`` stays fast)."""
    import importlib

    for module in ("core.analysis", "core.cli_dynamics", "core.cli_attribution"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
