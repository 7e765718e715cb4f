"""What a subcommand writes: the progress bar on stderr, warnings and notes, JSON and text files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cli.errors import CliError
from core.atomic import atomic_write_text
from core.problem import (
    Problem,
)
from core.progress import Progress, drive


def one_line(text) -> str:
    return " ".join(str(text).split())


# --------------------------------------------------------------------------------------------------
# option checks (each message names the option, the problem and the fix)
# --------------------------------------------------------------------------------------------------


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


def clear_pending_warnings() -> None:
    _PENDING.clear()


def flush_warnings() -> None:
    for line in _PENDING:
        print(line, file=sys.stderr)
    _PENDING.clear()


def diverged_message(problem: Problem, message: str) -> str:
    """A divergence message, with the data-scale hint when the data's magnitudes are unusual."""
    from core.points.dataset import scale_warnings

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
