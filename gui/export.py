"""Export any plot: PNG, SVG and PDF figures, and the plotted data as CSV.

- PNG: the view rendered at twice its on-screen size, like a high-DPI screen (pyqtgraph's ImageExporter
  scales the plot but not the legend's text).
- SVG and PDF of a plot: the plot read into plain data (:mod:`gui.plot_snapshot`) and drawn again by matplotlib
  at a paper size (:mod:`gui.paper_figure`, default one paper column; :class:`~gui.paper_figure.FigureSize`):
  the screen's ranges, ticks, labels and legend, text as text and curves as paths. Qt's own vector route
  (QPdfWriter / QSvgGenerator rendering the view) scales pyqtgraph's cosmetic pens and tick fonts
  inconsistently, so it is kept only for widgets that are not a single plot.
- CSV: ``series,x,y`` rows for every data item of the plot, or a panel's own table (``data_provider``).

Every file is written atomically (complete new file or the old one untouched). Export a plot only after it
has been shown and laid out (docs/design.md, pitfalls); :func:`export_figure` processes pending events first.

:func:`install_export_actions` adds "Export plot…" and "Export data (CSV)…" to a plot's context menu.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRect, QRectF, QSizeF
from PySide6.QtGui import (
    QAction,
    QColor,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
)
from PySide6.QtWidgets import QFileDialog, QGraphicsView, QMessageBox, QWidget

from core.atomic import atomic_write_bytes, atomic_write_text
from gui import style
from gui.paper_figure import DEFAULT_SIZE, FigureSize, vector_bytes, vector_documents
from gui.plot_snapshot import snapshot

FIGURE_FORMATS = ("png", "svg", "pdf")
FIGURE_FILTER = "PNG image (*.png);;SVG vector graphics (*.svg);;PDF document (*.pdf)"

#: A table for CSV export: (header, rows).
Table = tuple[Sequence[str], Sequence[Sequence[object]]]


class ExportError(Exception):
    """Exporting failed; the message says what and where."""


def _export_item(widget: QWidget):
    if isinstance(widget, pg.PlotWidget):
        return widget.getPlotItem()
    if isinstance(widget, pg.GraphicsLayoutWidget):
        return widget.ci
    if isinstance(widget, pg.GraphicsView):
        return widget.scene()
    return None


def _settle() -> None:
    app = QGuiApplication.instance()
    if app is not None:
        app.processEvents()


# ------------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------------


def png_bytes(widget: QWidget, scale: float = 2.0) -> bytes:
    """The plot rendered at ``scale`` × its on-screen size, like a high-DPI screen (text and symbols scale;
    pyqtgraph's cosmetic line pens keep their pixel width)."""
    scale = max(1.0, float(scale))
    w, h = widget.width(), widget.height()
    image = QImage(int(round(w * scale)), int(round(h * scale)), QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(scale)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        _render_view(widget, painter, QRectF(0, 0, w, h))
    finally:
        painter.end()
    if image.isNull():
        image = widget.grab().toImage()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, "PNG"):
        raise ExportError("could not encode the PNG image")
    return bytes(buf.data())


def _render_view(widget: QWidget, painter: QPainter, target: QRectF) -> None:
    if isinstance(widget, QGraphicsView):
        vp = widget.viewport().rect()
        with style.uncached(widget):  # vector text and lines in SVG / PDF, not the on-screen pixmap cache
            widget.render(painter, target, QRect(vp))
    else:
        painter.save()
        painter.translate(target.topLeft())
        painter.scale(target.width() / max(1, widget.width()), target.height() / max(1, widget.height()))
        widget.render(painter)
        painter.restore()


def paper_bytes(widget: pg.PlotWidget, fmt: str, size: FigureSize = DEFAULT_SIZE) -> bytes:
    """The plot as a paper figure (PDF or SVG) drawn by matplotlib from the plot's own data."""
    snap = snapshot(widget)
    return vector_bytes(snap, fmt, size, title=widget.windowTitle())


def svg_bytes(widget: QWidget, size: FigureSize = DEFAULT_SIZE) -> bytes:
    if isinstance(widget, pg.PlotWidget):
        return paper_bytes(widget, "svg", size)
    from PySide6.QtSvg import QSvgGenerator

    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    size = widget.size()
    gen.setSize(size)
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setTitle(widget.windowTitle() or "Influence Lab plot")
    painter = QPainter(gen)
    try:
        _render_view(widget, painter, QRectF(0, 0, size.width(), size.height()))
    finally:
        painter.end()
    buf.close()
    return bytes(ba)


def pdf_bytes(widget: QWidget, size: FigureSize = DEFAULT_SIZE) -> bytes:
    if isinstance(widget, pg.PlotWidget):
        return paper_bytes(widget, "pdf", size)
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buf)
    size = widget.size()
    # one page exactly the size of the plot (1 px → 0.75 pt, i.e. 96 dpi on screen)
    page = QPageSize(QSizeF(size.width() * 0.75, size.height() * 0.75), QPageSize.Unit.Point, "plot")
    writer.setPageLayout(QPageLayout(page, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
    writer.setResolution(288)
    writer.setTitle(widget.windowTitle() or "Influence Lab plot")
    writer.setCreator("Influence Lab")
    painter = QPainter(writer)
    try:
        target = QRectF(writer.pageLayout().paintRectPixels(writer.resolution()))
        _render_view(widget, painter, target)
    finally:
        painter.end()
    buf.close()
    return bytes(ba)


def export_figure(
    widget: QWidget, path: str | Path, fmt: str | None = None, size: FigureSize = DEFAULT_SIZE
) -> Path:
    """Write ``widget`` (a pyqtgraph plot) to ``path`` as PNG, SVG or PDF (format from the suffix); ``size`` is
    the physical size of the vector formats (the PNG is the screen at twice its pixels)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FIGURE_FORMATS:
        raise ExportError(f"{path}: unknown figure format {fmt!r}; use .png, .svg or .pdf")
    _settle()
    if widget.width() < 2 or widget.height() < 2:
        raise ExportError(f"{path}: the plot has no size yet (is it visible?)")
    if fmt == "png":
        data = png_bytes(widget)
    else:
        try:
            data = (svg_bytes if fmt == "svg" else pdf_bytes)(widget, size)
        except ValueError as exc:  # a bad figure size
            raise ExportError(f"{path}: {exc}") from None
    return _write_figure(path, data)


def export_figure_set(widget: QWidget, stem: str | Path, size: FigureSize = DEFAULT_SIZE) -> list[Path]:
    """``stem``.png, .svg and .pdf of one plot (File → Export figures): the plot is read and the paper figure
    drawn once for both vector formats."""
    stem = Path(stem)
    if not isinstance(widget, pg.PlotWidget):
        return [
            export_figure(widget, stem.with_name(f"{stem.name}.{ext}"), size=size) for ext in FIGURE_FORMATS
        ]
    written = [export_figure(widget, stem.with_name(f"{stem.name}.png"))]
    try:
        docs = vector_documents(snapshot(widget), ("svg", "pdf"), size, title=widget.windowTitle())
    except ValueError as exc:  # a bad figure size
        raise ExportError(f"{stem}: {exc}") from None
    for ext in ("svg", "pdf"):
        written.append(_write_figure(stem.with_name(f"{stem.name}.{ext}"), docs[ext]))
    return written


def _write_figure(path: Path, data: bytes) -> Path:
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
    return path


# ------------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------------


def plot_table(widget: QWidget) -> Table:
    """Every named data item of a plot as long-format rows ``series, x, y``."""
    item = _export_item(widget)
    plot_items = []
    if isinstance(item, pg.PlotItem):
        plot_items = [item]
    elif isinstance(item, pg.GraphicsLayout):
        plot_items = [it for it in item.items if isinstance(it, pg.PlotItem)]
    rows: list[list[object]] = []
    for p_index, plot in enumerate(plot_items):
        for k, data_item in enumerate(plot.listDataItems()):
            if not data_item.isVisible():
                continue
            name = data_item.name() if hasattr(data_item, "name") else None
            name = name or f"series {k}"
            if len(plot_items) > 1:
                name = f"plot {p_index}: {name}"
            x, y = data_item.getData()
            if x is None or y is None:
                continue
            rows += [[name, float(a), float(b)] for a, b in zip(np.asarray(x), np.asarray(y))]
    return ("series", "x", "y"), rows


def table_to_csv(table: Table) -> str:
    header, rows = table
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_fmt(v) for v in row])
    return out.getvalue()


def _fmt(v: object) -> object:
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return v


def export_csv(path: str | Path, table: Table) -> Path:
    path = Path(path)
    try:
        atomic_write_text(path, table_to_csv(table))
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
    return path


# ------------------------------------------------------------------------------------------------------
# menus
# ------------------------------------------------------------------------------------------------------


def _settings(parent: QWidget):
    from gui.settings import AppSettings

    return getattr(parent, "app_settings", None) or AppSettings()


def start_folder(parent: QWidget) -> Path:
    """Where a save dialog starts: the last export folder, else the user's documents folder."""
    return Path(_settings(parent).folder("last_export_dir"))


def announce_written(parent: QWidget, path: Path) -> None:
    """Remember the folder for the next dialog and say in the status bar what was written where."""
    if getattr(parent, "remember", True):
        _settings(parent).set("last_export_dir", str(path.parent))
    bar = getattr(parent, "statusBar", None)
    if callable(bar):
        bar().showMessage(f"Wrote {path.name} to {path.parent}", 8000)


def export_figure_dialog(widget: QWidget, name: str = "plot", parent: QWidget | None = None) -> Path | None:
    parent = parent or widget.window()
    start = str(start_folder(parent) / f"{name}.png")
    path, chosen = QFileDialog.getSaveFileName(parent, f"Export {name}", start, FIGURE_FILTER)
    if not path:
        return None
    p = Path(path)
    if not p.suffix:
        p = p.with_suffix(
            "." + ("svg" if "svg" in chosen.lower() else "pdf" if "pdf" in chosen.lower() else "png")
        )
    try:
        out = export_figure(widget, p, size=getattr(parent, "figure_size", DEFAULT_SIZE))
    except ExportError as exc:
        QMessageBox.warning(parent, "Export failed", str(exc))
        return None
    announce_written(parent, out)
    return out


def export_data_dialog(
    widget: QWidget,
    data_provider: Callable[[], Table] | None = None,
    name: str = "plot",
    parent: QWidget | None = None,
) -> Path | None:
    parent = parent or widget.window()
    start = str(start_folder(parent) / f"{name}.csv")
    path, _ = QFileDialog.getSaveFileName(parent, f"Export {name} data", start, "CSV table (*.csv)")
    if not path:
        return None
    p = Path(path)
    if not p.suffix:
        p = p.with_suffix(".csv")
    try:
        out = export_csv(p, (data_provider or (lambda: plot_table(widget)))())
    except ExportError as exc:
        QMessageBox.warning(parent, "Export failed", str(exc))
        return None
    announce_written(parent, out)
    return out


def export_actions(
    widget: QWidget, name: str, data_provider: Callable[[], Table] | None = None, parent=None
) -> list[QAction]:
    """Two QActions, "Export plot…" and "Export data (CSV)…", for a plot's menus and toolbars."""
    parent = parent or widget
    fig = QAction("Export plot…", parent)
    fig.setToolTip(f"Save the {name} as PNG, SVG or PDF (chosen by the file name's extension)")
    fig.triggered.connect(lambda: export_figure_dialog(widget, name))
    dat = QAction("Export data (CSV)…", parent)
    dat.setToolTip(f"Save the data drawn in the {name} as a CSV table")
    dat.triggered.connect(lambda: export_data_dialog(widget, data_provider, name))
    return [fig, dat]


def install_export_actions(
    widget: pg.PlotWidget, name: str, data_provider: Callable[[], Table] | None = None
) -> list[QAction]:
    """Add the export actions at the top of the plot's right-click (ViewBox) menu."""
    actions = export_actions(widget, name, data_provider)
    vb = widget.getPlotItem().getViewBox()
    menu = vb.menu
    first = menu.actions()[0] if menu.actions() else None
    for a in actions:
        menu.insertAction(first, a)
    menu.insertSeparator(first)
    widget._export_actions = actions  # keep them alive with the widget
    # pyqtgraph's own "Export..." (its export dialog) would be a second, different export entry in the menu
    widget.scene().contextMenu = []
    return actions


__all__ = [
    "ExportError",
    "Table",
    "announce_written",
    "export_actions",
    "export_csv",
    "export_figure",
    "export_figure_set",
    "install_export_actions",
    "paper_bytes",
    "pdf_bytes",
    "plot_table",
    "png_bytes",
    "start_folder",
    "svg_bytes",
    "table_to_csv",
]
