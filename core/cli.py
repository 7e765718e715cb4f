"""The headless command line: ``influence-lab SUBCOMMAND`` (or ``python app.py SUBCOMMAND``).

Each subcommand shares the data / model / training options, runs the same ``core`` code the desktop app
runs, shows a text progress bar on stderr and writes JSON. Bad options or files end with a one-line
message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from core.data import PRESETS, DataError, load_points, make_preset
from core.model import ACTIVATIONS
from core.problem import DEFAULT_WEIGHT_DECAY_LINEAR, DEFAULT_WEIGHT_DECAY_MLP, Problem, make_model
from core.progress import Progress, drive
from core.train import OPTIMIZERS, TrainConfig


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


# --------------------------------------------------------------------------------------------------
# shared options
# --------------------------------------------------------------------------------------------------


def add_problem_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--data", metavar="FILE", help="points from a CSV (x,y[,weight][,label]) or JSON file")
    src.add_argument("--preset", choices=PRESETS, default=None, help="a built-in dataset (default: teacher)")
    g.add_argument("--n", type=int, default=None, help="number of points of a preset (default 20)")
    g.add_argument("--noise", type=float, default=None, help="noise std of a preset (default 0.1)")
    g.add_argument("--data-seed", type=int, default=None, help="seed of a preset's points")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=("mlp", "linear"), default="mlp", help="MLP or linear features")
    g.add_argument(
        "--hidden", type=int, nargs="+", default=[3], metavar="H", help="hidden widths (default 3)"
    )
    g.add_argument("--activation", choices=ACTIVATIONS, default="tanh")
    g.add_argument("--degree", type=int, default=1, help="linear model: features (1, x, …, x^degree)")
    g = p.add_argument_group("training")
    g.add_argument("--seed", type=int, default=0, help="initialisation seed of θ_0 (default 0)")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default="gd")
    g.add_argument("--lr", type=float, default=0.1, help="learning rate η (default 0.1)")
    g.add_argument("--steps", type=int, default=2000, help="training steps T (default 2000)")
    g.add_argument("--batch-size", type=int, default=None, help="SGD mini-batch size")
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


def problem_from_args(args: argparse.Namespace) -> Problem:
    if args.data:
        data = load_points(args.data)
    else:
        kwargs = {
            k: v for k, v in (("n", args.n), ("noise", args.noise), ("seed", args.data_seed)) if v is not None
        }
        data = make_preset(args.preset or "teacher", **kwargs)
    try:
        model = make_model(args.model, tuple(args.hidden), args.activation, args.degree)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    kappa = args.weight_decay
    if kappa is None:
        kappa = DEFAULT_WEIGHT_DECAY_MLP if args.model == "mlp" else DEFAULT_WEIGHT_DECAY_LINEAR
    config = TrainConfig(
        optimizer=args.optimizer,
        lr=args.lr,
        steps=args.steps,
        weight_decay=kappa,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    try:
        config.validate()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return Problem(data=data, model=model, config=config, init_seed=args.seed, converge=args.converge)


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


def write_json(doc: dict, path: str | None, force: bool = False) -> None:
    text = json.dumps(to_jsonable(doc), indent=1)
    if path in (None, "-"):
        sys.stdout.write(text + "\n")
        return
    target = Path(path)
    if target.exists() and not force:
        raise CliError(f"{path} exists; pass --force to overwrite it")
    atomic_write_text(target, text + "\n")


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="OUT", default=None, help="write the results as JSON ('-' for stdout)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# --------------------------------------------------------------------------------------------------
# subcommands
# --------------------------------------------------------------------------------------------------


def problem_summary(problem: Problem) -> dict:
    return {
        "data": {
            "x": problem.data.x,
            "y": problem.data.y,
            "weight": problem.data.weight,
            "name": problem.data.name,
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

    problem = problem_from_args(args)
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
        "message": f.message,
    }
    if args.json:
        write_json(doc, args.json, args.force)
    else:
        t = doc["training"]
        print(f"{problem.data.name or 'data'}: n = {problem.data.n}, model {problem.model.describe()}")
        print(f"loss {t['loss']:.6g}, ‖∇L‖ {t['grad_norm']:.3g}, converged {t['converged']}")
        print(f.message)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="influence-lab",
        description=(
            "Influence Lab: what influence functions really compute, for 1D regression with small MLPs. "
            "Without a subcommand the desktop app opens on the default data."
        ),
    )
    parser.add_argument("--screenshot", metavar="OUT.png", help="GUI: open, compute, save a screenshot, exit")
    parser.add_argument("--session", metavar="FILE", help="GUI: open this session file")
    parser.add_argument(
        "--delete", type=int, metavar="J", help="GUI: delete point J (0-based) after training"
    )
    parser.add_argument("--panel", metavar="NAME", help="GUI: show this panel (for --screenshot)")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, (help_text, add_args, _) in SUBCOMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    _load_subcommands()
    return build_parser().parse_args(argv)


def run_cli(args: argparse.Namespace) -> int:
    try:
        return SUBCOMMANDS[args.command][2](args)
    except (CliError, DataError, ValueError, OSError) as exc:
        print(f"influence-lab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"influence-lab {args.command}: interrupted", file=sys.stderr)
        return 130


def _load_subcommands() -> None:
    """Import the modules that register subcommands (kept lazy so ``--help`` stays fast)."""
    import importlib

    for module in ("core.analysis", "core.cli_dynamics", "core.cli_attribution"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
