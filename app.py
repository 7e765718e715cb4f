"""Influence Lab entry point.

``python app.py`` opens the desktop app on the built-in default data; ``python app.py SUBCOMMAND …`` runs
the same core headless (``python app.py --help`` lists the subcommands).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # One BLAS thread unless the user says otherwise: the arrays here are small, and OpenBLAS's second
    # thread makes small matrix products up to 200× slower when the other core is busy (the GUI's main
    # thread, a worker). Must be set before numpy is first imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from cli.main import parse_args, run_cli
    from core.points.dataset import POINTS_SUFFIXES  # a .json may also be a session

    # ``app.py FILE`` (``./lab FILE``) opens a points or session file, as a drop on the window does
    open_file = None
    if argv and not argv[0].startswith("-") and os.path.splitext(argv[0])[1].lower() in POINTS_SUFFIXES:
        open_file, argv = argv[0], argv[1:]
    args = parse_args(argv)
    if args.command is not None:
        return run_cli(args)
    from gui.app import run_gui

    args.open_file = open_file
    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
