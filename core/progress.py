"""Progress protocol for long computations.

Every long computation in ``core`` is a generator that yields :class:`Progress` and returns its result
(``StopIteration.value``). A GUI worker or the CLI drives it, shows the progress, and can stop it between
two yields simply by not asking for the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    done: float
    total: float
    message: str = ""
    partial: Any = None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))


class Cancelled(Exception):
    """Raised by :func:`drive` when the ``should_stop`` callback asks to stop."""


def drive(
    gen: Generator[Progress, None, R],
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> R:
    """Run a progress generator to completion and return its result."""
    try:
        while True:
            p = next(gen)
            if on_progress is not None:
                on_progress(p)
            if should_stop is not None and should_stop():
                gen.close()
                raise Cancelled()
    except StopIteration as stop:
        return stop.value


def scaled(gen: Generator[Progress, None, R], start: float, stop: float, total: float, prefix: str = ""):
    """Re-map a sub-computation's progress onto [start, stop] of a larger one (``yield from scaled(...)``)."""
    try:
        while True:
            p = next(gen)
            yield Progress(start + (stop - start) * p.fraction, total, prefix + p.message, p.partial)
    except StopIteration as s:
        return s.value
