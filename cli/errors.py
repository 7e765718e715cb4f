"""How a subcommand ends: its exit statuses (cli.main's docstring) and the errors that choose them."""

from __future__ import annotations

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
