"""Colours, pens and global pyqtgraph options shared by every panel (one look for all plots)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView

#: Colour-blind-safe palette (Okabe–Ito) for the series of the plots.
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILION = "#D55E00"
GREEN = "#009E73"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
YELLOW = "#F0E442"
GREY = "#7F7F7F"
BLACK = "#202020"

POINT_COLOR = BLUE
FIT_COLOR = VERMILION
TEACHER_COLOR = GREY
SELECT_COLOR = ORANGE
CORRUPTED_COLOR = PURPLE
LOSS_COLOR = BLUE

_configured = False


def configure_pyqtgraph() -> None:
    """White background, dark foreground, antialiasing, row-major images (docs/design.md pitfall). Idempotent."""
    global _configured
    if _configured:
        return
    pg.setConfigOptions(antialias=True, background="w", foreground=BLACK, imageAxisOrder="row-major")
    _configured = True


def color(c: str, alpha: int = 255) -> QColor:
    q = QColor(c)
    q.setAlpha(alpha)
    return q


def style_plot(plot: pg.PlotWidget | pg.PlotItem, title: str | None = None) -> None:
    """Grid, readable axis fonts, and a title in the panel style."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    item.showGrid(x=True, y=True, alpha=0.15)
    for name in ("left", "bottom"):
        ax = item.getAxis(name)
        ax.setTextPen(BLACK)
        ax.setPen(GREY)
    cache_axes(item)
    if title:
        item.setTitle(title, color=BLACK, size="11pt")


def cache_axes(item: pg.PlotItem) -> None:
    """Keep each axis (ticks, tick labels, grid) as a pixmap that is redrawn only when its range or size changes.

    Why: pyqtgraph replays an axis's QPicture on every repaint of its plot, and that replay (text layout of each
    tick label) was half of a plot's paint time: 4 ms per axis, 16 → 8 ms for the Data & fit view, measured
    offscreen. A curve changing under an unchanged axis now repaints only the curves. Exports render without
    the cache (:func:`uncached`), so SVG and PDF keep vector text.
    """
    for name in ("left", "bottom", "right", "top"):
        ax = item.getAxis(name)
        ax.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # an axis widens for longer tick labels and (by default) narrows again for shorter ones; each change
        # re-lays out the plot and paints it a second time right after a new result. Only widening keeps the
        # layout fixed after the first few results.
        ax.setStyle(autoReduceTextSpace=False)


def reserve_tick_text(item: pg.PlotItem, px: int = 40) -> None:
    """Give the left axis room for ``px`` pixels of tick labels from the start (pyqtgraph reserves 30): a plot
    whose range changes with every result (the fit view, the ε-path) then keeps its layout instead of widening
    the axis, re-laying out and painting a second time when a result with longer labels arrives. Only for plots
    wide enough to spare the pixels."""
    ax = item.getAxis("left")
    ax.textWidth = max(ax.textWidth, px)


@contextmanager
def uncached(view: QGraphicsView) -> Iterator[None]:
    """Within the block, every item of ``view``'s scene paints itself (no pixmap cache): for vector exports."""
    scene = view.scene() if isinstance(view, QGraphicsView) else None
    saved = [] if scene is None else [(it, it.cacheMode()) for it in scene.items()]
    for it, mode in saved:
        if mode != QGraphicsItem.CacheMode.NoCache:
            it.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        yield
    finally:
        for it, mode in saved:
            if mode != QGraphicsItem.CacheMode.NoCache:
                it.setCacheMode(mode)


class LogAxis(pg.AxisItem):
    """A log-scale axis that labels the decades (and 2, 5 × 10^k when the range spans little more than one).

    pyqtgraph labels every minor tick 2…9 × 10^k when there is room, which crowds a short plot.
    """

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode:
            return strings
        lo, hi = sorted(self.range)
        keep = (1,) if hi - lo > 1.3 else (1, 2, 5)
        out = []
        for v, s in zip(values, strings):
            mantissa = 10 ** (v - math.floor(v + 1e-9))
            out.append(s if any(abs(mantissa - k) < 1e-6 * k for k in keep) else "")
        return out


def set_labels(plot: pg.PlotItem, bottom: str, left: str) -> None:
    """Axis labels (HTML allowed) in a readable size."""
    set_label(plot, "bottom", bottom)
    set_label(plot, "left", left)


def set_label(plot: pg.PlotItem, axis: str, text: str) -> None:
    plot.setLabel(axis, text, color=BLACK, **{"font-size": "11pt"})
