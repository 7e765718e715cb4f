"""A plot as plain data: what a pyqtgraph plot draws, read off its items, for drawing it again elsewhere.

:func:`snapshot` walks a :class:`pyqtgraph.PlotWidget` as it is on screen — the view range, the axes' own tick
values and tick strings, the title, the axis labels, the legend, and every visible item in the view (curves,
scatter spots, bars, infinite lines, text, images, colour bars) with its colours, widths, dashes and stacking
order — and returns a :class:`PlotSnapshot` that holds no Qt object. :mod:`gui.paper_figure` draws it with
matplotlib at a paper size (docs/design.md, "Figure export").

Everything is in *view coordinates*: the coordinates pyqtgraph draws in (log₁₀ of the data on a log axis), so the
ticks read off the axes land where they land on screen. Sizes are in screen pixels. Items of a kind this module
does not know are listed in :attr:`PlotSnapshot.skipped` (a test asserts that no exported plot skips anything).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

RGBA = tuple[float, float, float, float]

#: Qt pen styles as dash patterns in units of the line width (what matplotlib's ``dashes`` takes).
_DASHES = {
    Qt.PenStyle.DashLine: (4.0, 2.0),
    Qt.PenStyle.DotLine: (1.0, 2.0),
    Qt.PenStyle.DashDotLine: (4.0, 2.0, 1.0, 2.0),
    Qt.PenStyle.DashDotDotLine: (4.0, 2.0, 1.0, 2.0, 1.0, 2.0),
}


@dataclass
class Stroke:
    color: RGBA
    width_px: float
    dashes: tuple[float, ...] | None = None  # None: solid


@dataclass
class Line:
    x: np.ndarray
    y: np.ndarray
    stroke: Stroke
    z: float
    fill_level: float | None = None
    fill_color: RGBA | None = None


@dataclass
class Markers:
    x: np.ndarray
    y: np.ndarray
    symbols: list[str]
    sizes_px: np.ndarray
    faces: list[RGBA]
    edges: list[RGBA]
    edge_widths_px: np.ndarray
    z: float


@dataclass
class Bars:
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    faces: list[RGBA]
    edges: list[RGBA]
    edge_width_px: float
    z: float


@dataclass
class RuleLine:
    """An infinite line: horizontal (``vertical`` False) at y = pos, or vertical at x = pos."""

    pos: float
    vertical: bool
    stroke: Stroke
    z: float


@dataclass
class Text:
    x: float
    y: float
    text: str
    color: RGBA
    size_px: float
    anchor: tuple[float, float]  # (0, 0) top left … (1, 1) bottom right of the text at (x, y)
    angle: float
    z: float


@dataclass
class Image:
    rgba: np.ndarray  # (rows, cols, 4) uint8, top row first as on screen
    extent: tuple[float, float, float, float]  # left, right, bottom, top in view coordinates
    z: float


@dataclass
class ColorBar:
    colors: np.ndarray  # (n, 4) uint8 from low to high
    low: float
    high: float
    label: str
    ticks: list[tuple[float, str]] = field(default_factory=list)
    rect: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # the colour strip, in widget pixels


@dataclass
class LegendEntry:
    label: str
    line: Stroke | None
    marker: str | None
    marker_size_px: float
    marker_face: RGBA | None
    marker_edge: RGBA | None
    patch: RGBA | None = None  # a filled square (bars)


@dataclass
class Legend:
    entries: list[LegendEntry]
    columns: int
    font_px: float
    place: str  # "inside" the view box, or outside it: "above", "right", "below", "left"
    rect: tuple[float, float, float, float]  # left, top, width, height in widget pixels


@dataclass
class Axis:
    label: str
    ticks: list[tuple[float, str]]  # labelled ticks
    minor: list[float]
    grid_alpha: float  # 0: no grid
    visible: bool = True
    explicit: bool = False  # ticks set by name (setTicks), not generated from the range


@dataclass
class PlotSnapshot:
    width_px: float
    height_px: float
    view_rect: tuple[float, float, float, float]  # the data area: left, top, width, height in widget pixels
    xlim: tuple[float, float]  # left edge, right edge (decreasing when the axis is inverted)
    ylim: tuple[float, float]  # bottom edge, top edge
    title: str
    title_px: float
    label_px: float
    tick_px: float
    bottom: Axis
    left: Axis
    items: list = field(default_factory=list)
    legends: list[Legend] = field(default_factory=list)
    colorbar: ColorBar | None = None
    skipped: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------------
# colours and pens
# ------------------------------------------------------------------------------------------------------


def _rgba(c: QColor) -> RGBA:
    return (c.redF(), c.greenF(), c.blueF(), c.alphaF())


def _stroke(pen) -> Stroke | None:
    pen = pen if isinstance(pen, QPen) else pg.mkPen(pen)
    if pen.style() == Qt.PenStyle.NoPen or pen.color().alpha() == 0:
        return None
    width = pen.widthF() or 1.0  # a cosmetic width of 0 is one pixel
    if pen.style() == Qt.PenStyle.CustomDashLine:
        dashes = tuple(float(v) for v in pen.dashPattern())
    else:
        dashes = _DASHES.get(pen.style())
    return Stroke(_rgba(pen.color()), float(width), dashes)


def _face(brush) -> RGBA:
    brush = brush if isinstance(brush, QBrush) else pg.mkBrush(brush)
    if brush.style() == Qt.BrushStyle.NoBrush:
        return (0.0, 0.0, 0.0, 0.0)
    return _rgba(brush.color())


_NONE: RGBA = (0.0, 0.0, 0.0, 0.0)


def _pen_parts(pen) -> tuple[RGBA, float]:
    s = _stroke(pen)
    return (_NONE, 0.0) if s is None else (s.color, s.width_px)


# ------------------------------------------------------------------------------------------------------
# text
# ------------------------------------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)(sub|sup)>", re.IGNORECASE)
_OTHER_TAGS = re.compile(r"<(?!/?(?:sub|sup)>)[^>]*>", re.IGNORECASE)


def plain_markup(text: str) -> str:
    """Strip every HTML tag but <sub> and <sup>; <br> becomes a newline; entities are decoded."""
    text = re.sub(r"<br\s*/?>", "\n", text or "", flags=re.IGNORECASE)
    text = _OTHER_TAGS.sub("", text)
    return html.unescape(text).replace("\xa0", " ")


def _font_px(font: QFont | None) -> float:
    font = font or QFont()
    if font.pixelSize() > 0:
        return float(font.pixelSize())
    return float(font.pointSizeF()) * 96.0 / 72.0


def _css_px(size: object) -> float | None:
    m = re.fullmatch(r"\s*([\d.]+)\s*(pt|px)\s*", str(size or ""))
    if not m:
        return None
    v = float(m.group(1))
    return v if m.group(2) == "px" else v * 96.0 / 72.0


def _label_px(label_item) -> float:
    """The font size of a pyqtgraph LabelItem (its ``size`` option, else its font)."""
    return _css_px(label_item.opts.get("size")) or _font_px(label_item.item.font())


def _axis_label_px(ax: pg.AxisItem) -> float:
    """The font size of an axis label (its label style's ``font-size``, else the label's font)."""
    return _css_px(ax.labelStyle.get("font-size")) or _font_px(ax.label.font())


# ------------------------------------------------------------------------------------------------------
# axes
# ------------------------------------------------------------------------------------------------------


def _axis(ax: pg.AxisItem) -> Axis:
    """The axis' ticks as pyqtgraph draws them: its own draw specification (which levels get labels depends on
    the room the strings take), with the tick positions mapped back to view coordinates."""
    labelled: list[tuple[float, str]] = []
    minor: list[float] = []
    image = QImage(4, 4, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = ax.generateDrawSpecs(painter)
    finally:
        painter.end()
    lo, hi = (float(v) for v in ax.range)
    vertical = ax.orientation in ("left", "right")
    bounds = ax.mapRectFromParent(ax.geometry())
    length = bounds.height() if vertical else bounds.width()
    if specs is not None and hi != lo and length > 0:
        _axis_spec, tick_specs, text_specs = specs

        def value(pos: float) -> float:  # AxisItem.generateDrawSpecs' linear map, inverted
            frac = (bounds.height() - pos) / length if vertical else pos / length
            return lo + frac * (hi - lo)

        for rect, _flags, text in text_specs:
            c = rect.center()
            labelled.append((value(c.y() if vertical else c.x()), str(text)))
        taken = np.array([v for v, _ in labelled])
        tol = 1e-3 * abs(hi - lo)
        # tick_specs come level by level, each level with its own pen alpha and length: the minor ticks are
        # the unlabelled ticks of the first level that has any (finer levels would crowd a small figure)
        levels: dict[tuple, list[float]] = {}
        for pen, p1, p2 in tick_specs:
            key = (pen.color().alpha(), round((p2 - p1).manhattanLength(), 3))
            levels.setdefault(key, []).append(value(p1.y() if vertical else p1.x()))
        for values in levels.values():
            free = [v for v in values if not len(taken) or np.min(np.abs(taken - v)) > tol]
            if free:
                minor = free
                break
    if not ax.style.get("showValues", True):
        labelled = [(v, "") for v, _ in labelled]
    label = ax.labelText if ax.label.isVisible() else ""
    if label and ax.labelUnits:
        label = f"{label} ({ax.labelUnitPrefix}{ax.labelUnits})"
    grid = ax.grid
    alpha = 0.0 if grid is False or grid is None else float(grid) / 255.0
    explicit = ax._tickLevels is not None
    return Axis(plain_markup(label), sorted(labelled), sorted(set(minor)), alpha, ax.isVisible(), explicit)


# ------------------------------------------------------------------------------------------------------
# items
# ------------------------------------------------------------------------------------------------------


def _to_view(item: QGraphicsItem, vb: pg.ViewBox):
    """The affine map from the item's coordinates to view coordinates: (a, b, c, d, e, f) with
    x' = a x + c y + e, y' = b x + d y + f."""
    t, _ok = item.itemTransform(vb.childGroup)
    return t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy()


def _apply(m, x, y):
    a, b, c, d, e, f = m
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return a * x + c * y + e, b * x + d * y + f


def _curve(item: pg.PlotCurveItem, vb, z) -> Line | None:
    x, y = item.getData()
    if x is None or y is None or len(x) == 0:
        return None
    stroke = _stroke(item.opts["pen"])
    fill = item.opts.get("fillLevel")
    brush = item.opts.get("brush")
    fill_color = _face(brush) if fill is not None and brush is not None else None
    if stroke is None and fill_color is None:
        return None
    x, y = _apply(_to_view(item, vb), x, y)
    if item.opts.get("connect") == "pairs":  # separate segments: break the line after each pair
        n = len(x) // 2 * 2
        x = np.insert(x[:n].reshape(-1, 2), 2, np.nan, axis=1).ravel()
        y = np.insert(y[:n].reshape(-1, 2), 2, np.nan, axis=1).ravel()
    return Line(
        x, y, stroke or Stroke(_NONE, 0.0), z, None if fill_color is None else float(fill), fill_color
    )


def _symbol_name(s) -> str:
    return s if isinstance(s, str) else "o"


def _scatter(item: pg.ScatterPlotItem, vb, z) -> Markers | None:
    data = item.data
    if len(data) == 0:
        return None
    visible = np.asarray(data["visible"], dtype=bool)
    if not visible.any():
        return None
    data = data[visible]
    opts = item.opts
    sizes = np.where(data["size"] < 0, opts["size"], data["size"]).astype(float)
    symbols = [_symbol_name(opts["symbol"] if s is None else s) for s in data["symbol"]]
    faces = [_face(opts["brush"] if b is None else b) for b in data["brush"]]
    edges, widths = [], []
    for p in data["pen"]:
        c, w = _pen_parts(opts["pen"] if p is None else p)
        edges.append(c)
        widths.append(w)
    x, y = _apply(_to_view(item, vb), data["x"], data["y"])
    return Markers(x, y, symbols, sizes, faces, edges, np.asarray(widths, dtype=float), z)


def _bars(item: pg.BarGraphItem, vb, z) -> Bars | None:
    x0, y0, x1, y1 = (np.atleast_1d(np.asarray(v, dtype=float)) for v in item._getNormalizedCoords())
    n = max(len(x0), len(y0), len(x1), len(y1))
    x0, y0, x1, y1 = (np.broadcast_to(v, (n,)).copy() for v in (x0, y0, x1, y1))
    m = _to_view(item, vb)
    x0, y0 = _apply(m, x0, y0)
    x1, y1 = _apply(m, x1, y1)
    brushes = item._brushes if item._brushes is not None else [item._sharedBrush] * n
    pens = item._pens if item._pens is not None else [item._sharedPen] * n
    edges = [_pen_parts(p)[0] for p in pens]
    width = max([_pen_parts(p)[1] for p in pens] or [0.0])
    return Bars(x0, y0, x1, y1, [_face(b) for b in brushes], edges, width, z)


def _rule(item: pg.InfiniteLine, vb, z) -> RuleLine | None:
    stroke = _stroke(item.currentPen if getattr(item, "currentPen", None) is not None else item.pen)
    if stroke is None:
        return None
    angle = float(item.angle) % 180.0
    if angle not in (0.0, 90.0):
        return None
    vertical = angle == 90.0
    p = item.pos()
    return RuleLine(float(p.x() if vertical else p.y()), vertical, stroke, z)


def _text(item: pg.TextItem, vb, z) -> Text | None:
    doc = item.textItem
    plain = doc.toPlainText().strip()
    if not plain:
        return None
    scene_anchor = item.mapToScene(QPointF(0, 0))
    view = vb.childGroup.mapFromScene(scene_anchor)
    color = _rgba(doc.defaultTextColor())
    return Text(
        float(view.x()),
        float(view.y()),
        plain,
        color,
        _font_px(doc.font()),
        (float(item.anchor.x()), float(item.anchor.y())),
        float(item.angle),
        z,
    )


def _qimage_rgba(q: QImage) -> np.ndarray:
    q = q.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = q.width(), q.height()
    buf = np.frombuffer(q.constBits(), dtype=np.uint8, count=q.sizeInBytes())
    return buf.reshape(h, q.bytesPerLine())[:, : w * 4].reshape(h, w, 4).copy()


def _image(item: pg.ImageItem, vb, z) -> Image | None:
    if item.image is None:
        return None
    if item.qimage is None:
        item.render()
    if item.qimage is None:
        return None
    rgba = _qimage_rgba(item.qimage)
    r = item.boundingRect()
    m = _to_view(item, vb)
    xs, ys = _apply(m, [r.left(), r.right()], [r.top(), r.bottom()])
    # row 0 of the image is at item y = top: in view coordinates it may be the bottom (pyqtgraph's y points up)
    if ys[0] < ys[1]:
        rgba = rgba[::-1]
    if xs[0] > xs[1]:
        rgba = rgba[:, ::-1]
    return Image(rgba, (min(xs), max(xs), min(ys), max(ys)), z)


def _colorbar(bar: pg.ColorBarItem, origin: QPointF) -> ColorBar:
    cmap = bar.colorMap()
    colors = cmap.getLookupTable(nPts=256, alpha=True, mode=pg.ColorMap.BYTE)
    lo, hi = (float(v) for v in bar.levels())
    labelled = [bar.getAxis(side) for side in ("right", "left", "bottom", "top")]
    labelled = [a for a in labelled if a.label.isVisible() and a.labelText]
    label = plain_markup(labelled[0].labelText) if labelled else ""
    ticks = _axis(bar.axis).ticks if bar.axis.isVisible() else []
    r = bar.vb.sceneBoundingRect()
    rect = (r.left() - origin.x(), r.top() - origin.y(), r.width(), r.height())
    return ColorBar(np.asarray(colors, dtype=np.uint8), lo, hi, label, ticks, rect)


def _legend_entry(sample, label_item) -> LegendEntry | None:
    text = plain_markup(label_item.text).strip()
    if not text or not sample.isVisible():
        return None
    item = sample.item
    opts = getattr(item, "opts", {})
    if isinstance(item, pg.BarGraphItem):
        b = item._sharedBrush if item._sharedBrush is not None else (item._brushes or [None])[0]
        return LegendEntry(text, None, None, 0.0, None, None, patch=_face(b))
    scatter = isinstance(item, pg.ScatterPlotItem)
    line = None if scatter or opts.get("pen") is None else _stroke(opts.get("pen"))
    symbol = opts.get("symbol")
    if symbol is None:
        return LegendEntry(text, line, None, 0.0, None, None)
    # a ScatterPlotItem names its options size / brush / pen, a PlotDataItem symbolSize / symbolBrush / ...
    size = float(opts.get("size" if scatter else "symbolSize", 10))
    face = _face(opts.get("brush" if scatter else "symbolBrush"))
    edge = _pen_parts(opts.get("pen" if scatter else "symbolPen"))[0]
    return LegendEntry(text, line, _symbol_name(symbol), size, face, edge)


def _legend(legend: pg.LegendItem, vb: pg.ViewBox, origin: QPointF) -> Legend | None:
    entries = [e for e in (_legend_entry(s, lab) for s, lab in legend.items) if e is not None]
    if not entries:
        return None
    r = legend.sceneBoundingRect()
    v = vb.sceneBoundingRect()
    if vb.isAncestorOf(legend) or v.contains(r.center()):
        place = "inside"
    else:  # the side of the view box the legend's centre lies beyond the most
        c = r.center()
        beyond = {
            "above": v.top() - c.y(),
            "below": c.y() - v.bottom(),
            "left": v.left() - c.x(),
            "right": c.x() - v.right(),
        }
        place = max(beyond, key=beyond.get)
    font_px = _label_px(legend.items[0][1]) if legend.items else _font_px(None)
    return Legend(
        entries,
        max(1, int(legend.columnCount)),
        font_px,
        place,
        (r.left() - origin.x(), r.top() - origin.y(), r.width(), r.height()),
    )


_HANDLERS = (
    (pg.PlotCurveItem, _curve),
    (pg.ScatterPlotItem, _scatter),
    (pg.BarGraphItem, _bars),
    (pg.InfiniteLine, _rule),
    (pg.TextItem, _text),
    (pg.ImageItem, _image),
)

#: Items that draw nothing of their own (containers) or belong to another item already read.
_CONTAINERS = (pg.PlotDataItem, pg.ItemGroup, pg.GraphItem)


def _owned_by_read_item(item: QGraphicsItem, vb) -> bool:
    """An item inside a text, an infinite line or a legend is drawn by that parent's handler (or not at all);
    an infinite line's label is a text of its own."""
    p = item.parentItem()
    if isinstance(item, pg.TextItem) and isinstance(p, pg.InfiniteLine):
        return False
    while p is not None and p is not vb:
        if isinstance(p, (pg.TextItem, pg.InfiniteLine, pg.LegendItem, pg.ScatterPlotItem)):
            return True
        p = p.parentItem()
    return False


def snapshot(widget: pg.PlotWidget) -> PlotSnapshot:
    """Read ``widget``'s plot as it is drawn now (module docstring)."""
    plot = widget.getPlotItem()
    vb = plot.getViewBox()
    origin = widget.mapToScene(0, 0)
    vr = vb.sceneBoundingRect()
    (x0, x1), (y0, y1) = vb.viewRange()
    if vb.xInverted():
        x0, x1 = x1, x0
    if vb.yInverted():
        y0, y1 = y1, y0
    bottom, left = plot.getAxis("bottom"), plot.getAxis("left")
    tick_px = _font_px(bottom.style.get("tickFont") or bottom.font())
    label_px = _axis_label_px(bottom) if bottom.label.isVisible() else _axis_label_px(left)
    title = plot.titleLabel.text if plot.titleLabel.isVisible() else ""
    snap = PlotSnapshot(
        width_px=float(widget.width()),
        height_px=float(widget.height()),
        view_rect=(vr.left() - origin.x(), vr.top() - origin.y(), vr.width(), vr.height()),
        xlim=(float(x0), float(x1)),
        ylim=(float(y0), float(y1)),
        title=plain_markup(title).strip(),
        title_px=_label_px(plot.titleLabel),
        label_px=label_px,
        tick_px=tick_px,
        bottom=_axis(bottom),
        left=_axis(left),
    )
    for it in widget.scene().items():
        if isinstance(it, pg.LegendItem) and it.isVisible() and (plot.isAncestorOf(it) or it is plot.legend):
            got = _legend(it, vb, origin)
            if got is not None:
                snap.legends.append(got)
    snap.legends.sort(key=lambda g: (g.rect[1], g.rect[0]))
    # scene.items() lists the topmost first: reversed, a stable sort by z keeps Qt's stacking of equal z
    view_items = [it for it in reversed(widget.scene().items()) if vb.isAncestorOf(it) and it.isVisible()]
    for it in view_items:
        if isinstance(it, _CONTAINERS) or _owned_by_read_item(it, vb):
            continue
        for kind, read in _HANDLERS:
            if isinstance(it, kind):
                z = float(it.zValue()) + _stack_offset(it)
                got = read(it, vb, z)
                if got is not None:
                    snap.items.append(got)
                break
        else:
            if not _is_view_machinery(it, vb):
                snap.skipped.append(type(it).__name__)
    snap.items.sort(key=lambda i: i.z)
    for it in widget.scene().items():
        if isinstance(it, pg.ColorBarItem) and it.isVisible():
            snap.colorbar = _colorbar(it, origin)
            break
    return snap


def _stack_offset(item: QGraphicsItem) -> float:
    """Children of a PlotDataItem stack as their parent does (the curve below its own symbols)."""
    parent = item.parentItem()
    if isinstance(parent, pg.PlotDataItem):
        return float(parent.zValue()) + (0.5 if isinstance(item, pg.ScatterPlotItem) else 0.0)
    return 0.0


def _is_view_machinery(item: QGraphicsItem, vb) -> bool:
    """The view box's own parts: its background, its zoom rectangle, its axis-following groups."""
    if item is vb.childGroup or item is getattr(vb, "background", None):
        return True
    if item is getattr(vb, "rbScaleBox", None) or item is getattr(vb, "borderRect", None):
        return True
    name = type(item).__name__
    return name in {"ChildGroup", "QGraphicsRectItem", "ItemGroup", "QGraphicsTextItem", "QGraphicsPathItem"}


__all__ = [
    "Axis",
    "Bars",
    "ColorBar",
    "Image",
    "Legend",
    "LegendEntry",
    "Line",
    "Markers",
    "PlotSnapshot",
    "RuleLine",
    "Stroke",
    "Text",
    "plain_markup",
    "snapshot",
]
