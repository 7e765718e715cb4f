"""The centre panel: the data points and the model's fit f(θ; x), edited with the mouse.

Mouse and keys (also in the tooltips and the hint line under the plot):

- click a point: select it;  click empty space: clear the selection;
- drag a point: move it (one undo step per drag); drag empty space: pan; wheel: zoom;
- Shift+click empty space, or any click on empty space while "Add points" mode is on (toolbar, key A): add a point;
- Delete / Backspace: delete the selected point (weight 0: it stays, hollow, and can be restored);
- right-click a point: Delete point / Restore / Set weight…;  right-click elsewhere: view and export menu;
- hover a point: its index, (x, y), weight and residual y − f(θ̂; x) (θ̂ the trained parameters).

Everything here draws state and forwards intents to :class:`gui.state.LabState`; the fit curve itself is
computed in the training job (``gui.tasks``), never in this module.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QAction, QCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGraphicsLinearLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.points.dataset import DataError
from core.points.strokes import brush_points, points_in_polygon, sample_sketch
from gui import style
from gui.analysis import OVERLAY_ESTIMATES
from gui.export import Table, install_export_actions
from gui.state import LabState
from gui.tasks import LiveFit, display_grid

#: per-point colourings of the fit view (keys of FitRecord.extra["scores"])
COLOUR_CHOICES = {"none": "nothing", "self_influence": "self-influence s_i", "leverage": "leverage h_i"}

#: A click within this many screen pixels of a point hits it.
HIT_RADIUS_PX = 9.0

_drag_ids = itertools.count(1)

HINT = (
    "Click a point to select it · Del deletes it and analyses the deletion against the model trained with it "
    "(estimates drawn here; ε-path, homotopy and error decomposition below) · I analyses without deleting · "
    "drag to move · Shift+click (or Add-points mode, key A) adds a point · right-click for more"
)

#: Pens of the deleted-model estimates drawn over the fit (gui.analysis.OVERLAY_ESTIMATES).
ESTIMATE_PENS = {
    "loo_cold": dict(color=style.BLACK, width=2.2),
    "loo_warm": dict(color=style.SKY, width=2.6, style=Qt.PenStyle.DashLine),
    "if_exact": dict(color=style.GREEN, width=2.2),
    "if_gnh": dict(color=style.PURPLE, width=2.4, style=Qt.PenStyle.DashLine),
    "pbrf": dict(color=style.ORANGE, width=2.2),
    "newton": dict(color="#8C564B", width=2.6, style=Qt.PenStyle.DotLine),
}
EPS_CURVE_COLOR = "#AA3377"

#: The pen tools: what a left drag on the plot does.
TOOLS = (
    ("select", "select / move", "Click selects, a drag moves a point or pans the view"),
    ("brush", "brush", "A drag drops points along the stroke (spacing and noise beside)"),
    ("lasso", "lasso", "A drag encircles points: delete, restore or re-weight them"),
    (
        "sketch",
        "sketch a function",
        "A drag draws f; the points are replaced by n noisy samples of it (f is the teacher)",
    ),
)


def _spin(lo: float, hi: float, value: float, decimals: int, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(10 ** -(decimals - 1) if decimals > 1 else 0.1)
    box.setValue(value)
    box.setToolTip(tip)
    return box


class PassiveScatter(pg.ScatterPlotItem):
    """A scatter that leaves every click to the ViewBox (which hit-tests all points in pixels)."""

    def mouseClickEvent(self, ev):
        ev.ignore()


class PointsViewBox(pg.ViewBox):
    """A ViewBox that turns mouse gestures near the data points into point edits (hit test in pixels)."""

    pointClicked = Signal(int)
    emptyClicked = Signal(float, float, object)  # x, y, keyboard modifiers
    pointMenuRequested = Signal(int, object)  # index, screen position (QPoint)
    dragStarted = Signal(int)
    dragMoved = Signal(int, float, float)
    dragFinished = Signal(int)
    hovered = Signal(object)  # index or None
    strokeFinished = Signal(str, object, object)  # tool, xs, ys (data coordinates)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.xy = np.zeros((0, 2))
        self._drag_index: int | None = None
        self._hover_index: int | None = None
        #: "select" (drag moves a point, else pans), or a pen tool whose drag draws a stroke: "brush", "lasso",
        #: "sketch"
        self.tool = "select"
        self._stroke: list[tuple[float, float]] = []
        self.stroke_curve = pg.PlotCurveItem(pen=pg.mkPen("#555555", width=1.5, style=Qt.PenStyle.DashLine))
        self.stroke_curve.setZValue(50)
        self.addItem(self.stroke_curve, ignoreBounds=True)

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        self.xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])

    def point_at(self, view_pos: QPointF) -> int | None:
        """Index of the point nearest to ``view_pos`` (data coordinates) within HIT_RADIUS_PX pixels."""
        if self.xy.shape[0] == 0:
            return None
        px, py = self.viewPixelSize()
        if not (px > 0 and py > 0):
            return None
        d = np.hypot((self.xy[:, 0] - view_pos.x()) / px, (self.xy[:, 1] - view_pos.y()) / py)
        i = int(np.argmin(d))
        return i if d[i] <= HIT_RADIUS_PX else None

    def mouseClickEvent(self, ev):
        pos = self.mapToView(ev.pos())
        hit = self.point_at(pos)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if hit is not None:
                self.pointClicked.emit(hit)
            else:
                self.emptyClicked.emit(pos.x(), pos.y(), ev.modifiers())
            return
        if ev.button() == Qt.MouseButton.RightButton and hit is not None:
            ev.accept()
            self.pointMenuRequested.emit(hit, ev.screenPos().toPoint())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if axis is None and ev.button() == Qt.MouseButton.LeftButton and self.tool != "select":
            ev.accept()  # a pen stroke: never a pan
            if ev.isStart():
                p = self.mapToView(ev.buttonDownPos())
                self._stroke = [(p.x(), p.y())]
            p = self.mapToView(ev.pos())
            self._stroke.append((p.x(), p.y()))
            xs, ys = np.array(self._stroke).T
            closed = self.tool == "lasso"
            self.stroke_curve.setData(
                np.r_[xs, xs[:1]] if closed else xs, np.r_[ys, ys[:1]] if closed else ys
            )
            if ev.isFinish():
                self.stroke_curve.setData([], [])
                self._stroke = []
                self.strokeFinished.emit(self.tool, xs, ys)
            return
        if axis is None and ev.button() == Qt.MouseButton.LeftButton:
            if ev.isStart():
                hit = self.point_at(self.mapToView(ev.buttonDownPos()))
                if hit is not None:
                    self._drag_index = hit
                    self.dragStarted.emit(hit)
            if self._drag_index is not None:
                ev.accept()
                pos = self.mapToView(ev.pos())
                i = self._drag_index
                self.dragMoved.emit(i, pos.x(), pos.y())
                if ev.isFinish():
                    self._drag_index = None
                    self.dragFinished.emit(i)
                return
        super().mouseDragEvent(ev, axis)

    def hoverEvent(self, ev):
        if ev.isExit():
            hit = None
        else:
            hit = self.point_at(self.mapToView(ev.pos()))
        if hit != self._hover_index:
            self._hover_index = hit
            self.hovered.emit(hit)


class FitView(QWidget):
    """Data & fit: points (filled; hollow when deleted), selection ring, fit curve, teacher curve, legend."""

    #: the user asked to toggle "Add points" mode (the main window owns the action)
    addModeChanged = Signal(bool)

    def __init__(self, state: LabState, parent: QWidget | None = None):
        super().__init__(parent)
        style.configure_pyqtgraph()
        self.state = state
        self.add_mode = False
        self._drag_id: int | None = None
        self._live: LiveFit | None = None

        self.viewbox = PointsViewBox()
        self.plot = pg.PlotWidget(viewBox=self.viewbox)
        self.plot.setObjectName("fitPlot")
        self.plot.setWindowTitle("Data & fit")
        item = self.plot.getPlotItem()
        style.style_plot(item, "Data & fit")
        style.reserve_tick_text(item)
        style.set_labels(item, "x", "y")
        # the legends live in a column right of the data (never over the points): the data legend on top, the
        # analysis legend (estimates, f(θ(ε); x)) below it while a deletion is analysed
        self.legend = pg.LegendItem(labelTextColor=style.BLACK, labelTextSize="8.5pt", verSpacing=-3)
        self.legend_column = pg.GraphicsWidget()
        # never let the legends' height squeeze the plot (in a short plot the last entries are clipped instead)
        self.legend_column.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.legend_column.setMinimumHeight(0)
        self.legend_column.setFlag(self.legend_column.GraphicsItemFlag.ItemClipsChildrenToShape)
        self._legend_layout = QGraphicsLinearLayout(Qt.Orientation.Vertical)
        self._legend_layout.setContentsMargins(4, 0, 0, 0)
        self._legend_layout.setSpacing(6)
        self.legend_column.setLayout(self._legend_layout)
        self._legend_layout.addItem(self.legend)
        self._legend_layout.addStretch(1)
        item.layout.addItem(self.legend_column, 2, 3)
        item.legend = self.legend  # named items added below appear in it

        self.teacher_curve = pg.PlotDataItem(
            pen=pg.mkPen(style.TEACHER_COLOR, width=2, style=Qt.PenStyle.DashLine), name="teacher f*(x)"
        )
        self.fit_curve = pg.PlotDataItem(pen=pg.mkPen(style.FIT_COLOR, width=2.5), name="fit f(θ; x)")
        self.points = PassiveScatter(
            size=10, pen=pg.mkPen("w", width=1), brush=pg.mkBrush(style.POINT_COLOR), name="points (weight 1)"
        )
        self.deleted = PassiveScatter(
            size=10,
            pen=pg.mkPen(style.POINT_COLOR, width=1.6),
            brush=pg.mkBrush(None),
            name="deleted (weight 0)",
        )
        self.partial = PassiveScatter(
            size=10,
            pen=pg.mkPen(style.POINT_COLOR, width=1.6),
            brush=pg.mkBrush(style.color(style.POINT_COLOR, 90)),
            name="down-weighted (0 < w < 1)",
        )
        self.corrupted = PassiveScatter(
            size=17,
            pen=pg.mkPen(style.CORRUPTED_COLOR, width=1.6),
            brush=pg.mkBrush(None),
            symbol="s",
            name="corrupted label (preset)",
        )
        self.selected = PassiveScatter(
            size=20, pen=pg.mkPen(style.SELECT_COLOR, width=3), brush=pg.mkBrush(None), name="selected"
        )
        self.analysed = PassiveScatter(
            size=23,
            pen=pg.mkPen(style.VERMILION, width=2, style=Qt.PenStyle.DashLine),
            brush=pg.mkBrush(None),
            name="analysed deletion z_j",
        )
        # the deleted-model estimates and the ε-path curve (gui.analysis), each toggled by its legend entry
        self.estimate_curves = {
            name: pg.PlotDataItem(pen=pg.mkPen(**ESTIMATE_PENS[name]), name=label)
            for name, label in OVERLAY_ESTIMATES.items()
        }
        self.eps_curve = pg.PlotDataItem(pen=pg.mkPen(EPS_CURVE_COLOR, width=3), name="f(θ(ε); x)")
        for it in (
            self.teacher_curve,
            *self.estimate_curves.values(),
            self.eps_curve,
            self.fit_curve,
            self.corrupted,
            self.partial,
            self.deleted,
            self.points,
            self.analysed,
            self.selected,
        ):
            item.addItem(it)
        self._legend_items = {
            self.teacher_curve: "teacher f*(x)",
            self.fit_curve: "fit f(θ; x)",
            self.points: "points (weight 1)",
            self.partial: "down-weighted (0 < w < 1)",
            self.deleted: "deleted (weight 0)",
            self.corrupted: "corrupted label (preset)",
            self.analysed: "analysed deletion z<sub>j</sub>",
            self.selected: "selected",
        }
        self._in_legend = set(self._legend_items) - {self.analysed}
        self.legend.removeItem(self.analysed)
        for it in (*self.estimate_curves.values(), self.eps_curve):
            self.legend.removeItem(it)
        # a second legend for the analysis, in its own column right of the plot (it never hides data): click an
        # entry to hide / show its curve
        self.analysis_legend = pg.LegendItem(
            colCount=1,
            labelTextColor=style.BLACK,
            brush=style.color("#ffffff", 0),
            pen=None,
            labelTextSize="8.5pt",
            verSpacing=-5,
        )
        self.analysis_legend.hide()
        self._legend_column = False
        self._analysis_in_legend: list = []
        self._eps_frame: tuple | None = None
        self._estimates = None

        self.hint = QLabel(HINT)
        self.hint.setObjectName("fitHint")
        self.hint.setStyleSheet("color: #555; padding: 2px 6px;")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.plot, 1)
        colour_row = QHBoxLayout()
        colour_row.setContentsMargins(6, 0, 6, 0)
        colour_row.addWidget(QLabel("Colour points by"))
        self.colour_combo = QComboBox()
        for key, label in COLOUR_CHOICES.items():
            self.colour_combo.addItem(label, key)
        self.colour_combo.setToolTip(
            "Colour the points (weight 1) by a per-point attribution computed after each fit: self-influence "
            "s_i = g_iᵀH⁻¹g_i or the Jacobian leverage h_i (damped, λ = 1e-3); dark = low, yellow = high"
        )
        self.colour_combo.currentIndexChanged.connect(self._recolour)
        colour_row.addWidget(self.colour_combo)
        self.colour_range = QLabel("")
        self.colour_range.setStyleSheet("color: #555;")
        colour_row.addWidget(self.colour_range, 1)
        self._build_tool_row(colour_row)
        layout.addLayout(colour_row)
        layout.addWidget(self.hint)
        self.plot.setToolTip("")
        self.setToolTip("")
        self.export_actions = install_export_actions(self.plot, "data-and-fit", self.table)
        # names the estimates that leave the view (it is not rescaled for them), top left, in pixels
        self.off_view_note = pg.TextItem("", color="#b00020", anchor=(0, 0))
        self.off_view_note.setParentItem(self.viewbox)
        self.off_view_note.setPos(4, 2)
        self.viewbox.sigYRangeChanged.connect(self._say_off_view)

        vb = self.viewbox
        vb.pointClicked.connect(self._on_point_clicked)
        vb.emptyClicked.connect(self._on_empty_clicked)
        vb.pointMenuRequested.connect(self._on_point_menu)
        vb.dragStarted.connect(self._on_drag_started)
        vb.dragMoved.connect(self._on_drag_moved)
        vb.dragFinished.connect(self._on_drag_finished)
        vb.hovered.connect(self._on_hover)

        state.pointsChanged.connect(self._on_points_changed)
        state.selectionChanged.connect(self._draw_selection)
        state.fitChanged.connect(self._on_fit_changed)
        state.analysisTargetChanged.connect(self._draw_selection)
        state.analysisTargetChanged.connect(self._update_analysis_legend)
        state.analysisChanged.connect(self._on_analysis)
        self._on_points_changed()
        self.fit_range()

    # -- drawing -----------------------------------------------------------------------------------------
    def _set_legend(self, item, show: bool) -> None:
        if show and item not in self._in_legend:
            self.legend.addItem(item, self._legend_items[item])
            self._in_legend.add(item)
        elif not show and item in self._in_legend:
            self.legend.removeItem(item)
            self._in_legend.discard(item)

    def _on_points_changed(self) -> None:
        ds = self.state.data
        x, y, w = ds.x, ds.y, ds.weight
        self.viewbox.set_points(x, y)
        idx = np.arange(ds.n)
        full, zero = w >= 1.0, w <= 0.0
        part = ~full & ~zero
        self.points.setData(x=x[full], y=y[full], data=idx[full])
        self._recolour()
        self.deleted.setData(x=x[zero], y=y[zero], data=idx[zero])
        self.partial.setData(x=x[part], y=y[part], data=idx[part])
        corrupted = np.array([i for i in ds.corrupted if i < ds.n], dtype=int)
        self.corrupted.setData(x=x[corrupted], y=y[corrupted])
        grid = display_grid(x)
        teacher = ds.teacher_curve(grid)
        if teacher is None:
            self.teacher_curve.setData([], [])
        else:
            self.teacher_curve.setData(grid, teacher)
        self._set_legend(self.teacher_curve, teacher is not None)
        self._set_legend(self.deleted, bool(zero.any()))
        self._set_legend(self.partial, bool(part.any()))
        self._set_legend(self.corrupted, corrupted.size > 0)
        self._draw_selection()

    def _draw_selection(self, *_):
        i = self.state.selection
        if i is None or i >= self.state.data.n:
            self.selected.setData([], [])
            self._set_legend(self.selected, False)
        else:
            self.selected.setData([self.state.data.x[i]], [self.state.data.y[i]])
            self._set_legend(self.selected, True)
        j = self.state.analysis_target
        if j is None or j >= self.state.data.n:
            self.analysed.setData([], [])
            self._set_legend(self.analysed, False)
        else:
            self.analysed.setData([self.state.data.x[j]], [self.state.data.y[j]])
            self._set_legend(self.analysed, True)
        self._set_title()

    # -- the deletion analysis -----------------------------------------------------------------------------
    def _on_analysis(self, part: str) -> None:
        a = self.state.analysis
        if part in ("estimates", "clear", "stale") or a is None:
            self.show_estimates(a.estimates if a is not None else None)
        if a is None or a.epspath is None:
            self.show_eps_frame(None, -1)
        self._set_title()

    def _set_analysis_legend(self, items: list) -> None:
        if items == self._analysis_in_legend:
            return
        for it in self._analysis_in_legend:
            self.analysis_legend.removeItem(it)
        for it in items:
            self.analysis_legend.addItem(it, it.name())
        self._analysis_in_legend = list(items)
        layout = self._legend_layout
        if items and not self._legend_column:
            layout.insertItem(1, self.analysis_legend)
            self._legend_column = True
        elif not items and self._legend_column:
            layout.removeItem(self.analysis_legend)
            self._legend_column = False
        self.analysis_legend.setVisible(bool(items))

    def show_estimates(self, rec) -> None:
        """Draw the estimates of the model without z_j (a gui.analysis.EstimatesRecord, or None to clear). The
        view is not rescaled for them: an estimate that leaves it far is drawn clipped and named in the plot."""
        self._estimates = rec
        for name, curve in self.estimate_curves.items():
            if rec is None:
                curve.setData([], [])
            else:
                curve.setData(rec.grid, rec.curves[name], skipFiniteCheck=True)
        self._update_analysis_legend()
        self._say_off_view()

    def off_view_estimates(self) -> list[str]:
        """The estimates whose curve leaves the current y-range by more than half its height, as
        "name (y from a to b)"."""
        rec = self._estimates
        if rec is None:
            return []
        (_x0, _x1), (y0, y1) = self.viewbox.viewRange()
        margin = 0.5 * (y1 - y0)
        out = []
        for name, label in OVERLAY_ESTIMATES.items():
            ys = np.asarray(rec.curves.get(name, []), dtype=float)
            ys = ys[np.isfinite(ys)]
            if ys.size and (ys.min() < y0 - margin or ys.max() > y1 + margin):
                out.append(f"{label} (y from {ys.min():.3g} to {ys.max():.3g})")
        return out

    def _say_off_view(self, *_) -> None:
        off = self.off_view_estimates()
        text = ("off the view, drawn clipped: " + "; ".join(off)) if off else ""
        if text != self.off_view_note.toPlainText():
            self.off_view_note.setText(text)

    def show_eps_frame(self, rec, k: int) -> None:
        """Draw f(θ(ε); x) of the ε-path record ``rec`` at index k (k < 0 or rec None: hide it)."""
        if rec is None or k < 0 or k >= len(rec.eps) or k > rec.reached:
            self.eps_curve.setData([], [])
            self._eps_frame = None
        else:
            self.eps_curve.setData(rec.grid, rec.curves[k], skipFiniteCheck=True)
            eps = float(rec.eps[k])
            self._eps_frame = (rec.j, eps)
            label = f"f(θ(ε); x), ε = {eps:.2f}"
            self.eps_curve.opts["name"] = label
            if self.eps_curve in self._analysis_in_legend:
                for sample, lab in self.analysis_legend.items:
                    if sample.item is self.eps_curve and lab.text != label:
                        lab.setText(label)  # a relayout of the legend: only when the label changes
        self._update_analysis_legend()

    #: pens of extra model curves other panels ask to show (e.g. the unlearned models), in order of arrival
    EXTRA_PENS = (
        ("#332288", 2, Qt.PenStyle.DashDotLine),
        ("#117733", 2, Qt.PenStyle.DashLine),
        ("#AA4499", 2, Qt.PenStyle.DotLine),
        ("#882255", 2, Qt.PenStyle.DashDotDotLine),
    )

    def set_overlay(self, name: str, xs, ys) -> None:
        """Show (or, with empty arrays, remove) an extra model curve f(θ; x) computed by another panel."""
        extra = self.__dict__.setdefault("_extra_curves", {})
        curve = extra.get(name)
        if len(xs) == 0:
            if curve is not None:
                self.plot.removeItem(curve)
                del extra[name]
        else:
            if curve is None:
                color, width, dash = self.EXTRA_PENS[len(extra) % len(self.EXTRA_PENS)]
                curve = pg.PlotDataItem(pen=pg.mkPen(color, width=width, style=dash), name=name)
                self.plot.addItem(curve)
                extra[name] = curve
            curve.setData(xs, ys, skipFiniteCheck=True)
        self._update_analysis_legend()

    def _update_analysis_legend(self, *_) -> None:
        # The estimates and f(θ(ε); x) are listed for the whole analysis, from the click on, not as each result
        # arrives: each legend entry added re-lays out every label of the legend (20 ms for seven entries), and
        # that relayout, landing together with the results' repaint, stalled the event loop.
        items = []
        analysing = (
            self.state.analysis_target is not None
            or getattr(self, "_estimates", None) is not None
            or self._eps_frame is not None
        )
        if analysing:
            items += [*self.estimate_curves.values(), self.eps_curve]
        items += list(self.__dict__.get("_extra_curves", {}).values())
        self._set_analysis_legend(items)

    def colour_key(self) -> str:
        return self.colour_combo.currentData() or "none"

    def _recolour(self, *_) -> None:
        """Brush the full-weight points by the chosen per-point score (viridis, min → max of the shown points)."""
        key = self.colour_key()
        fit = self.state.fit
        scores = fit.extra.get("scores", {}) if fit is not None and self.state.fit_is_current() else {}
        external = self.__dict__.get("_external_colouring") or (None, None)
        values = external[1] if key == "external" else scores.get(key)
        idx = self.points.data["data"] if len(self.points.data) else np.zeros(0, dtype=int)
        if key == "none" or values is None or len(values) != self.state.data.n or idx.size == 0:
            # per point, as when coloured: a single brush would leave earlier per-point brushes in place
            self.points.setBrush([pg.mkBrush(style.POINT_COLOR)] * idx.size)
            self.colour_range.setText("" if key == "none" else "(available after the next fit)")
            return
        v = np.asarray(values, dtype=np.float64)[np.asarray(idx, dtype=int)]
        lo, hi = float(v.min()), float(v.max())
        t = (v - lo) / (hi - lo) if hi > lo else np.full(v.shape, 0.5)
        cmap = pg.colormap.get("viridis")
        self.points.setBrush([pg.mkBrush(c) for c in cmap.map(t, mode="qcolor")])
        name = COLOUR_CHOICES.get(key, external[0])
        self.colour_range.setText(f"{name}: {lo:.3g} (dark) … {hi:.3g} (yellow)")

    def set_external_colouring(self, name: str | None, values=None) -> None:
        """Colour the points by a per-point column computed elsewhere (the Attribution panel's table): adds or
        updates the entry ``name`` of "Colour points by" (selected when it is new or renamed) and recolours;
        ``name`` or ``values`` None removes the entry (back to "nothing" if it was shown). One value per point."""
        combo = self.colour_combo
        k = combo.findData("external")
        if name is None or values is None:
            self._external_colouring = None
            if k >= 0:
                if combo.currentIndex() == k:
                    combo.setCurrentIndex(combo.findData("none"))
                combo.removeItem(k)
            return
        self._external_colouring = (str(name), np.asarray(values, dtype=np.float64).reshape(-1))
        if k < 0:
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # room for the longer name
            combo.addItem(str(name), "external")
            k = combo.count() - 1
        elif combo.itemText(k) == str(name):
            self._recolour()
            return
        combo.setItemText(k, str(name))
        if combo.currentIndex() != k:
            combo.setCurrentIndex(k)  # recolours
        else:
            self._recolour()

    def _on_fit_changed(self) -> None:
        self._recolour()
        fit = self.state.fit
        if fit is not None:
            self._live = None
            self.fit_curve.setData(fit.grid, fit.curve, skipFiniteCheck=True)
            self._set_title()

    def show_live(self, live: LiveFit) -> None:
        """Draw a running training job's snapshot (called at most ~30 times a second)."""
        self._live = live
        self.fit_curve.setData(live.grid, live.curve, skipFiniteCheck=True)
        self._set_title()

    def _set_title(self) -> None:
        live, fit = self._live, self.state.fit
        if live is not None:
            # coarse progress (10 % steps): a title that changes every frame re-lays out and repaints the plot
            pct = 10 * int(10 * live.step / max(1, live.steps))
            what = {"init": "initial θ<sub>0</sub> (untrained)", "polishing": "polishing"}.get(
                live.phase, f"training ({pct} % of {live.steps} steps)"
            )
        elif fit is not None:
            if fit.converged:
                what = "trained, converged"
            elif not fit.settings.converge:
                what = f"early-stopped after {fit.extra.get('steps_taken', '?')} steps"
            else:
                what = "trained, <span style='color:#b00020'>not converged</span>"
        else:
            what = ""
        j = self.state.analysis_target
        if j is not None:
            a = self.state.analysis
            est = a.estimates if a is not None and a.j == j else None
            lam = f", λ = {est.damping:.3g}" if est is not None else ""
            what += f" · estimates of the model without point {j}{lam}"
        title = f"Data & fit — {what}" if what else "Data & fit"
        if title != getattr(self, "_title", None):
            self._title = title
            self.plot.getPlotItem().setTitle(title, color=style.BLACK, size="11pt")

    def fit_range(self) -> None:
        """Frame the points (and teacher curve) with some padding."""
        ds = self.state.data
        ys = [ds.y]
        grid = display_grid(ds.x)
        t = ds.teacher_curve(grid)
        if t is not None:
            ys.append(t)
        y = np.concatenate(ys)
        lo, hi = float(y.min()), float(y.max())
        pad = 0.12 * max(hi - lo, 1e-3)
        self.viewbox.setRange(xRange=(grid[0], grid[-1]), yRange=(lo - pad, hi + pad), padding=0)

    # -- intents -----------------------------------------------------------------------------------------
    def _on_point_clicked(self, i: int) -> None:
        self.state.select(i)

    def _on_empty_clicked(self, x: float, y: float, modifiers) -> None:
        if self.add_mode or (modifiers & Qt.KeyboardModifier.ShiftModifier):
            self.state.add_point(x, y)
        else:
            self.state.select(None)

    def _on_drag_started(self, i: int) -> None:
        self._drag_id = next(_drag_ids)
        self.state.select(i)

    def _on_drag_moved(self, i: int, x: float, y: float) -> None:
        if self._drag_id is not None:
            # a dragged point stays inside the view (the view never rescales under the mouse)
            (x0, x1), (y0, y1) = self.viewbox.viewRange()
            x = min(max(x, x0), x1)
            y = min(max(y, y0), y1)
            self.state.move_point(i, x, y, drag_id=self._drag_id)

    def _on_drag_finished(self, i: int) -> None:
        self._drag_id = None

    def point_menu(self, i: int) -> QMenu:
        """The context menu of point i (built fresh: its entries depend on the point's weight)."""
        menu = QMenu(self)
        w = float(self.state.data.weight[i])
        menu.setTitle(f"Point {i}")
        head = menu.addAction(
            f"Point {i}: ({self.state.data.x[i]:.4g}, {self.state.data.y[i]:.4g}), weight {w:g}"
        )
        head.setEnabled(False)
        menu.addSeparator()
        a = menu.addAction("Delete point", lambda: self.state.delete_point(i))
        a.setEnabled(w > 0)
        a.setToolTip(
            "Set the point's weight to 0: it no longer counts in the loss but stays visible (hollow)"
        )
        a = menu.addAction("Restore", lambda: self.state.restore_point(i))
        a.setEnabled(w < 1)
        a.setToolTip("Set the point's weight back to 1")
        menu.addAction("Set weight…", lambda: self.ask_weight(i))
        a = menu.addAction("Analyse deletion", lambda: self.state.analyse(i))
        a.setToolTip(
            "Analyse what deleting this point would do (ε-path, homotopy, estimates) without deleting it (I)"
        )
        menu.addSeparator()
        for act in self.export_actions:
            menu.addAction(act)
        menu.setToolTipsVisible(True)
        return menu

    def _on_point_menu(self, i: int, screen_pos) -> None:
        self.state.select(i)
        self.point_menu(i).popup(screen_pos)

    def ask_weight(self, i: int) -> None:
        w, ok = QInputDialog.getDouble(
            self,
            "Set weight",
            f"Weight of point {i} in the loss (0 = deleted, 1 = full):",
            float(self.state.data.weight[i]),
            0.0,
            1.0,
            3,
        )
        if ok:
            self.state.set_weight(i, w)

    def _on_hover(self, i) -> None:
        self.viewbox.setToolTip("" if i is None else self.point_tooltip(i))

    def point_tooltip(self, i: int) -> str:
        ds = self.state.data
        lines = [f"point {i}", f"(x, y) = ({ds.x[i]:.4g}, {ds.y[i]:.4g})", f"weight {ds.weight[i]:g}"]
        if ds.label is not None and ds.label[i]:
            lines.insert(1, f"label {ds.label[i]!r}")
        fit = self.state.fit
        if fit is not None and self.state.fit_is_current():
            lines.append(f"residual y − f(x) = {ds.y[i] - fit.fitted[i]:.4g}")
            scores = fit.extra.get("scores", {})
            if i < len(scores.get("self_influence", ())):
                lines.append(f"self-influence s_i = {scores['self_influence'][i]:.4g}")
            if i < len(scores.get("leverage", ())):
                lines.append(f"leverage h_i = {scores['leverage'][i]:.4g}")
        else:
            lines.append("residual: (fit is being recomputed)")
        if i in ds.corrupted:
            lines.append("label corrupted by the preset")
        est = self._estimates
        if est is not None and est.j == i:
            r = est.result
            lines.append(
                f"self-influence s_j = {r.self_influence:.4g} (predicted Δℓ_j = {r.predicted_loss_change:.3g})"
            )
        return "\n".join(lines)

    # -- export ------------------------------------------------------------------------------------------
    def table(self) -> Table:
        """Points (index, x, y, weight, fitted, residual) and the drawn curves, one CSV in long format."""
        ds = self.state.data
        fit = self.state.fit if self.state.fit_is_current() else None
        rows: list[list[object]] = []
        for i in range(ds.n):
            f = float(fit.fitted[i]) if fit is not None else ""
            r = float(ds.y[i] - fit.fitted[i]) if fit is not None else ""
            rows.append(["point", i, float(ds.x[i]), float(ds.y[i]), float(ds.weight[i]), f, r])
        curves = [("fit", self.fit_curve), ("teacher", self.teacher_curve)]
        curves += [(f"estimate {name}", c) for name, c in self.estimate_curves.items()]
        curves.append(("eps-path f(theta(eps))", self.eps_curve))
        for name, item in curves:
            xs, ys = item.getData()
            if xs is None or len(xs) == 0 or not item.isVisible():
                continue
            rows += [[name, "", float(a), float(b), "", "", ""] for a, b in zip(xs, ys)]
        return ("series", "index", "x", "y", "weight", "fitted", "residual"), rows

    # -- pen tools -------------------------------------------------------------------------------------------
    def _build_tool_row(self, row: QHBoxLayout) -> None:
        row.addWidget(QLabel("Pen"))
        self.tool_combo = QComboBox()
        for key, label, tip in TOOLS:
            self.tool_combo.addItem(label, key)
            self.tool_combo.setItemData(self.tool_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.tool_combo.setToolTip("What a drag on the plot does (each stroke is one undo step)")
        self.tool_combo.currentIndexChanged.connect(lambda _: self.set_tool(self.tool_combo.currentData()))
        row.addWidget(self.tool_combo)
        self.spacing_box = _spin(
            0.005, 0.5, 0.03, 3, "Brush: a point every this fraction of the view along the stroke"
        )
        self.noise_box = _spin(0.0, 10.0, 0.05, 3, "Brush and sketch: noise std added to y")
        self.count_box = QSpinBox()
        self.count_box.setRange(2, 500)
        self.count_box.setValue(20)
        self.count_box.setToolTip("Sketch: the number of points sampled from the drawn function")
        for label, box in (("spacing", self.spacing_box), ("noise", self.noise_box), ("n", self.count_box)):
            row.addWidget(QLabel(label))
            row.addWidget(box)
        self.viewbox.strokeFinished.connect(self._on_stroke)

    def set_tool(self, tool: str) -> None:
        if tool not in {k for k, _, _ in TOOLS}:
            raise ValueError(f"unknown pen tool {tool!r}")
        self.viewbox.tool = tool
        k = self.tool_combo.findData(tool)
        if self.tool_combo.currentIndex() != k:
            self.tool_combo.setCurrentIndex(k)

    def _on_stroke(self, tool: str, xs, ys) -> None:
        try:
            if tool == "brush":
                self.apply_brush(xs, ys)
            elif tool == "lasso":
                self.show_menu(self.lasso_menu(xs, ys))
            elif tool == "sketch":
                self.apply_sketch(xs, ys)
        except DataError as exc:  # a stroke that makes no data (too many points, no x range): say why
            window = self.window()
            if hasattr(window, "statusBar"):
                window.statusBar().showMessage(str(exc), 8000)

    def show_menu(self, menu: QMenu) -> None:
        """Pop a menu up at the pointer (modal until an entry is chosen or the menu closes)."""
        menu.exec(QCursor.pos())

    def _view_scale(self) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        return (x1 - x0, y1 - y0)

    def apply_brush(self, xs, ys) -> int:
        """Drop points along the stroke (core.points.strokes.brush_points), one undo step; returns how many."""
        self._brush_seed = getattr(self, "_brush_seed", 0) + 1
        px, py = brush_points(
            xs, ys, self.spacing_box.value(), self.noise_box.value(), self._brush_seed, self._view_scale()
        )
        if px.size:
            self.state.add_points(px, py, f"Brush: {px.size} points")
        return int(px.size)

    def lasso_indices(self, xs, ys) -> np.ndarray:
        ds = self.state.data
        return np.flatnonzero(points_in_polygon(ds.x, ds.y, xs, ys))

    def lasso_menu(self, xs, ys) -> QMenu:
        """What to do with the points inside the lasso: delete, restore or re-weight them (one undo step)."""
        idx = self.lasso_indices(xs, ys)
        menu = QMenu(self)
        head = menu.addAction(f"{idx.size} point(s) inside the lasso")
        head.setEnabled(False)
        if idx.size:
            menu.addAction(
                f"Delete {idx.size}", lambda: self.state.set_weights(idx, 0.0, f"Delete {idx.size} points")
            )
            menu.addAction(
                f"Restore {idx.size}", lambda: self.state.set_weights(idx, 1.0, f"Restore {idx.size} points")
            )
            menu.addAction(f"Set the weight of {idx.size}…", lambda: self._ask_weight(idx))
        return menu

    def _ask_weight(self, idx) -> None:
        w, ok = QInputDialog.getDouble(
            self, "Set weights", f"Weight of the {idx.size} points (0 to 1)", 0.5, 0, 1, 3
        )
        if ok:
            self.state.set_weights(idx, w, f"Set the weight of {idx.size} points to {w:g}")

    def apply_sketch(self, xs, ys) -> None:
        """Replace the points by n noisy samples of the drawn function, which becomes the teacher (undoable)."""
        self._sketch_seed = getattr(self, "_sketch_seed", 0) + 1
        ds = sample_sketch(xs, ys, self.count_box.value(), self.noise_box.value(), self._sketch_seed)
        self.state.set_dataset(ds, f"Sketch: {ds.n} points from a drawn function")

    def set_add_mode(self, on: bool) -> None:
        self.add_mode = bool(on)
        self.viewbox.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)


def make_add_mode_action(view: FitView, parent) -> QAction:
    act = QAction("Add points", parent)
    act.setCheckable(True)
    act.setShortcut("A")
    act.setToolTip(
        "Add-points mode (A): while on, clicking empty space in the plot adds a point there.\n"
        "Shift+click adds a point in any mode. Undo with Ctrl+Z."
    )
    act.toggled.connect(view.set_add_mode)
    return act
