"""The options and helpers ``influence-lab schedules`` and ``influence-lab unlearn`` share (docs/science.md §4, §5).

Both take the shared data / model / training options (cli.options.add_problem_options) plus ``--delete J``,
show a text progress bar, and write the numbers the Schedules / Unlearning panels show as ``--json OUT`` and
the trajectories as ``--npz OUT`` (``numpy.savez``: plain arrays only, strings as unicode arrays — loading never
needs ``allow_pickle``)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from cli.errors import CliError
from cli.options import add_delete_option, add_output_options, add_problem_options, check_output_paths
from core.atomic import atomic_write_bytes
from core.problem import deletion_error

#: Upper bounds of the dynamics options (docs/limits.md): scan grid sizes, snapshots, the vector-field grid,
#: the number of initial points θ_0, of rewind depths / budgets and of noise draws.
MAX_SCAN = 1_001
MAX_SNAPSHOTS = 100_000
MAX_GRID = 1_001
MAX_THETA0 = 1_000
MAX_LIST = 1_000
MAX_DRAWS = 100_000

# --------------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------------


def add_dynamics_options(p: argparse.ArgumentParser) -> None:
    add_problem_options(p)
    g = p.add_argument_group("deletion")
    add_delete_option(g, "the deleted point, 0-based (default 0; 19, the outlier, with --linear-phase)")
    add_output_options(p)
    p.add_argument("--npz", metavar="OUT", default=None, help="write the trajectories as a NumPy .npz file")


def check_delete(j, n: int, default: int, problem=None) -> int:
    """The deleted point (``default`` when not given); with a problem, core.problem.deletion_error's rules
    (weight already 0, no points left, …) apply too."""
    j = default if j is None else j
    if problem is not None:
        msg = deletion_error(problem, int(j))
        if msg is not None:
            raise CliError(msg)
    if not 0 <= j < n:
        raise CliError(f"--delete {j} is out of range: the data have {n} points (indices 0..{n - 1})")
    return int(j)


def check_dynamics_outputs(args) -> None:
    """Refuse unusable outputs before computing (not after a long run)."""
    check_output_paths(args, "json", "npz")


def write_npz(arrays: dict, path: str, force: bool = False) -> None:
    """np.savez of plain arrays, written atomically; strings become unicode arrays (no pickle)."""
    target = Path(path)
    if target.exists() and not force:
        raise CliError(f"{path} exists; pass --force to overwrite it")
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            raise ValueError(f"array {k!r} is not numeric or text")
        clean[k] = a
    buf = io.BytesIO()
    np.savez(buf, **clean)
    try:
        atomic_write_bytes(target, buf.getvalue())
    except OSError as exc:
        raise CliError(f"{path}: cannot be written ({exc.strerror or exc}); choose another path") from None


def initial_points(args, model, default_seed: int, default_points=None) -> np.ndarray:
    d = model.n_params
    if args.theta0:
        if len(args.theta0) > MAX_THETA0:
            raise CliError(
                f"--theta0 given {len(args.theta0)} times; give at most {MAX_THETA0} initial points"
            )
        pts = []
        for text in args.theta0:
            try:
                v = [float(u) for u in text.split(",")]
            except ValueError:
                raise CliError(f"--theta0 {text!r}: write {d} numbers separated by commas") from None
            if len(v) != d or not np.all(np.isfinite(v)):
                raise CliError(
                    f"--theta0 {text!r}: need {d} finite numbers (the model has d = {d} parameters)"
                )
            pts.append(v)
        return np.array(pts)
    if args.theta0_seeds:
        return np.stack([model.init_params(int(s)) for s in args.theta0_seeds])
    if default_points is not None:
        return np.asarray(default_points, dtype=np.float64)
    return model.init_params(default_seed)[None, :]
