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
import importlib
import os
import sys
import warnings

import numpy as np

from cli.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_REFUSED, CliError
from cli.options import ArgumentParser
from cli.output import clear_pending_warnings, one_line

#: The subcommands, in the order ``--help`` lists them: name → the module that implements it. Each module
#: defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> exit status``.
SUBCOMMANDS: dict[str, str] = {
    "train": "cli.train",
    "analyze": "cli.analyze",
    "schedules": "cli.schedules",
    "unlearn": "cli.unlearn",
    "attribute": "cli.attribute",
}


def subcommand(name: str):
    """The module implementing subcommand ``name`` (imported on first use)."""
    return importlib.import_module(SUBCOMMANDS[name])


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
    for name in SUBCOMMANDS:
        module = subcommand(name)
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
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
    clear_pending_warnings()
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            check_global_options(args)
            return subcommand(cmd).run(args)
    except CliError as exc:
        print(f"influence-lab {cmd}: error: {_error_text(exc)}", file=sys.stderr)
        return exc.exit_status
    except (
        ValueError,
        OSError,
    ) as exc:  # core's refusals (DataError, SessionError, LimitError, …) are ValueErrors
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
