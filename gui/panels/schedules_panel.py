"""The Schedules panel (docs/science.md §4, notes eqs. 0.9–0.12, Figure 4): delete a point *during* training.

The deleted point's weight follows a schedule ε(t) (1 until the deletion request at s, 0 from T on); the gradient
flow dθ/dt = −∇L_{w(ε(t))}(θ) ends at θ(T), and the criterion 𝓔(ε) = ½‖θ(T) − θ*₋ⱼ‖² (and its function-space twin
𝓔_f) says how close to the retrained model that schedule gets. The panel shows

- the schedules (a table: add / remove steps at τ, linear decays s → t₁, exponential decays with rate r, and
  piecewise-linear schedules drawn by clicking on a small ε(t) plot — drag a knot to move it, double-click or
  Shift-click it to remove it), with 𝓔, 𝓔_f (and the closed form for linear models) for the chosen θ₀; the best
  schedule found (the user's and the scans') is marked ★;
- every ε(t) curve; 𝓔 of every schedule as bars; the step-time scan 𝓔(τ) and the linear-decay scan 𝓔(t₁);
- a phase portrait in a parameter plane — the notes' Figure-4 problem (linear, X ∈ R^{20×2}, deleting its
  outlier) or two chosen parameters of the session's model — with θ*, θ*₋ⱼ, the vector field −∇L₀ or −∇L₁ as
  arrows, the flows of every schedule from every θ₀, and an animation along t (slider / Play, Space).

Changing a schedule, s, T, θ₀ or the plane recomputes in a worker (job kind ``"schedules"``, debounced); every
number comes from core.dynamics via :func:`gui.dynamics_tasks.schedules_task`.

Wiring (the main window): ``register(window)`` adds the panel as the dock ``"schedules"``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.dynamics.figure4 import FIG4_J, FIG4_LR, FIG4_S, FIG4_T, default_figure4_schedules
from core.dynamics.schedule import ExponentialDecay, LinearDecay, PiecewiseLinear, Schedule, Step, step_grid
from core.limits import MAX_HESSIAN_PARAMS
from gui import style
from gui.dynamics_tasks import (
    FIG4_THETA0S,
    MODE_FIG4,
    MODE_MLP,
    SCHEDULES,
    SchedulesRecord,
    SchedulesRequest,
    base_problem,
    default_drawn,
    default_mlp_schedules,
    default_times,
    schedules_task,
)
from gui.export import Table, install_export_actions
from gui.jobs import JobRunner
from gui.panels.common import ComputesWhenInView, FrameControl
from gui.state import LabState

#: Debounce of a recomputation after an edit (ms).
UPDATE_DELAY_MS = 150
#: Duration of a whole animated sweep 0 → T (s); the refresh rate is common.ANIMATION_FPS.
ANIMATION_SECONDS = 5.0
#: A flow with more steps than this is refused (it would run for minutes).
MAX_FLOW_STEPS = 200_000

#: Colours of the schedules (Okabe–Ito, then darker extras), assigned once per schedule.
SCHEDULE_COLORS = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#8C564B",
    "#202020",
    "#B8A100",
    "#7F7F7F",
]
STAR_COLOR = style.BLUE
TARGET_COLOR = style.VERMILION
FIELD_COLOR = "#9a9a9a"

KIND_NAMES = {"step": "step", "linear": "linear decay", "exp": "exponential decay", "drawn": "drawn"}


def _sub(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    v = float(v)
    return "–" if not math.isfinite(v) else f"{v:.{digits}g}"


def place_legend(vb: pg.ViewBox, legend: pg.LegendItem, pts: np.ndarray) -> None:
    """Anchor ``legend`` in the corner of the view that covers the fewest of the points ``pts`` (N, 2), drawn in
    data coordinates (top left on ties)."""
    px, py = vb.viewPixelSize()
    if not (px > 0 and py > 0 and math.isfinite(px) and math.isfinite(py)):
        return
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    (x0, x1), (y0, y1) = vb.viewRange()
    r = legend.boundingRect()
    lw, lh = (r.width() + 10) * px, (r.height() + 10) * py
    corners = [
        ((x0, x0 + lw), (y1 - lh, y1), (0, 0), (8, 8)),
        ((x1 - lw, x1), (y1 - lh, y1), (1, 0), (-8, 8)),
        ((x0, x0 + lw), (y0, y0 + lh), (0, 1), (8, -8)),
        ((x1 - lw, x1), (y0, y0 + lh), (1, 1), (-8, -8)),
    ]
    counts = [
        int(np.sum((pts[:, 0] >= ax) & (pts[:, 0] <= bx) & (pts[:, 1] >= ay) & (pts[:, 1] <= by)))
        for (ax, bx), (ay, by), _, _ in corners
    ]
    _, _, pos, offset = corners[int(np.argmin(counts))]
    legend.anchor(itemPos=pos, parentPos=pos, offset=offset)


# ------------------------------------------------------------------------------------------------------
# the schedules being edited
# ------------------------------------------------------------------------------------------------------


@dataclass
class ScheduleItem:
    """One schedule of the list: its kind and its free parameter (τ, t₁, r, or the drawn knots).

    Linear and exponential decays start at the panel's s; the exponential decay is cut to 0 at T."""

    kind: str  # "step" | "linear" | "exp" | "drawn"
    value: object  # float, or (times, values) for "drawn"
    color: str

    def schedule(self, s: float, T: float) -> Schedule:
        if self.kind == "step":
            return Step(float(self.value))
        if self.kind == "linear":
            return LinearDecay(s, max(float(self.value), s))
        if self.kind == "exp":
            return ExponentialDecay(s, float(self.value), T)
        if self.kind == "drawn":
            times, values = self.value
            return PiecewiseLinear(tuple(times), tuple(values))
        raise ValueError(f"unknown schedule kind {self.kind!r}")

    def text(self) -> str:
        if self.kind == "step":
            return f"step at τ = {float(self.value):g}"
        if self.kind == "linear":
            return f"linear decay s → t₁ = {float(self.value):g}"
        if self.kind == "exp":
            return f"exponential decay, r = {float(self.value):g}"
        return f"drawn ({len(self.value[0])} knots)"

    @staticmethod
    def from_schedule(sc: Schedule, color: str) -> ScheduleItem:
        if isinstance(sc, Step):
            return ScheduleItem("step", sc.tau, color)
        if isinstance(sc, LinearDecay):
            return ScheduleItem("linear", sc.t1, color)
        if isinstance(sc, ExponentialDecay):
            return ScheduleItem("exp", sc.rate, color)
        if isinstance(sc, PiecewiseLinear):
            return ScheduleItem("drawn", (tuple(sc.times), tuple(sc.values)), color)
        raise ValueError(f"the panel cannot edit {sc.label()}")


# ------------------------------------------------------------------------------------------------------
# the drawing plot: a piecewise-linear ε(t) from clicked knots
# ------------------------------------------------------------------------------------------------------


class _DrawViewBox(pg.ViewBox):
    """A ViewBox whose left click on empty space asks for a new knot (right click keeps the menu)."""

    emptyClicked = Signal(float, float)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            if not ev.double():
                p = self.mapSceneToView(ev.scenePos())
                self.emptyClicked.emit(float(p.x()), float(p.y()))
            ev.accept()
            return
        super().mouseClickEvent(ev)


class _Knots(pg.GraphItem):
    """Draggable knots (the pyqtgraph CustomGraphItem pattern); reports moves to its owner."""

    def __init__(self, owner: ScheduleDrawPlot):
        super().__init__()
        self.owner = owner
        self._drag: int | None = None
        self._offset = QPointF(0, 0)
        self.scatter.sigClicked.connect(self._clicked)

    def mouseDragEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            pts = self.scatter.pointsAt(ev.buttonDownPos())
            if len(pts) == 0:
                ev.ignore()
                return
            self._drag = int(pts[0].index())
            t, e = self.owner.times[self._drag], self.owner.values[self._drag]
            self._offset = QPointF(t, e) - ev.buttonDownPos()
        elif self._drag is None:
            ev.ignore()
            return
        p = ev.pos() + self._offset
        self.owner.move_knot(self._drag, p.x(), p.y(), finished=ev.isFinish())
        if ev.isFinish():
            self._drag = None
        ev.accept()

    def _clicked(self, _item, points, ev):
        if len(points) and (ev.double() or ev.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.owner.remove_knot(int(points[0].index()))


class ScheduleDrawPlot(pg.PlotWidget):
    """A small ε(t) plot on which a piecewise-linear schedule is drawn: click to add a knot, drag a knot to move
    it (its time stays between its neighbours'), double-click or Shift-click a knot to remove it.

    ``knotsEdited`` fires on every change (also during a drag); ``editFinished`` when a click or drag ends."""

    knotsEdited = Signal()
    editFinished = Signal()

    def __init__(self, parent: QWidget | None = None):
        style.configure_pyqtgraph()
        super().__init__(parent, viewBox=_DrawViewBox())
        self.setObjectName("scheduleDrawPlot")
        self.setWindowTitle("Drawn schedule")
        self.times: list[float] = []
        self.values: list[float] = []
        self.s, self.T = 0.5, 2.0
        item = self.getPlotItem()
        style.style_plot(item)
        style.set_labels(item, "t", "ε(t)")
        item.setTitle(
            "Draw ε(t): click adds, drag moves, double-click removes", color=style.BLACK, size="8pt"
        )
        vb = item.getViewBox()
        vb.setMouseEnabled(False, False)
        vb.emptyClicked.connect(self._on_empty_click)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(style.BLACK, width=2))
        item.addItem(self.curve)
        self.knots = _Knots(self)
        item.addItem(self.knots)
        self.s_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(style.GREY, style=Qt.PenStyle.DashLine))
        self.T_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(style.GREY, style=Qt.PenStyle.DashLine))
        item.addItem(self.s_line, ignoreBounds=True)
        item.addItem(self.T_line, ignoreBounds=True)
        for ln in (self.s_line, self.T_line):
            ln.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # a knot on s or T stays clickable
        self.knots.setZValue(10)
        self.setMinimumSize(220, 160)
        self.setToolTip(
            "A schedule drawn as a piecewise-linear ε(t) through knots: click on empty space to add a knot, drag "
            "a knot to move it, double-click or Shift-click a knot to remove it. ε holds its first value before "
            "the first knot and its last value after the last one; two knots at one time make a jump. Dashed: "
            "the deletion request s and the horizon T."
        )

    def set_horizon(self, s: float, T: float) -> None:
        self.s, self.T = float(s), float(T)
        self.s_line.setValue(self.s)
        self.T_line.setValue(self.T)
        pad = 0.03 * self.T
        self.getPlotItem().getViewBox().setRange(xRange=(-pad, self.T + pad), yRange=(-0.06, 1.06), padding=0)
        self._redraw()

    def set_knots(self, times, values) -> None:
        self.times = [float(t) for t in times]
        self.values = [float(v) for v in values]
        self._redraw()

    def knots_value(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(self.times), tuple(self.values)

    def add_knot(self, t: float, e: float) -> int:
        t = float(np.clip(t, 0.0, self.T))
        e = float(np.clip(e, 0.0, 1.0))
        i = int(np.searchsorted(self.times, t, side="right"))
        self.times.insert(i, t)
        self.values.insert(i, e)
        self._changed(finished=True)
        return i

    def move_knot(self, i: int, t: float, e: float, finished: bool = True) -> None:
        lo = self.times[i - 1] if i > 0 else 0.0
        hi = self.times[i + 1] if i + 1 < len(self.times) else self.T
        self.times[i] = float(np.clip(t, lo, max(lo, hi)))
        self.values[i] = float(np.clip(e, 0.0, 1.0))
        self._changed(finished)

    def remove_knot(self, i: int) -> None:
        if len(self.times) <= 1 or not 0 <= i < len(self.times):
            return
        del self.times[i]
        del self.values[i]
        self._changed(finished=True)

    def _on_empty_click(self, t: float, e: float) -> None:
        if self.isEnabled():
            self.add_knot(t, e)

    def _changed(self, finished: bool) -> None:
        self._redraw()
        self.knotsEdited.emit()
        if finished:
            self.editFinished.emit()

    def _redraw(self) -> None:
        if not self.times:
            self.curve.setData([], [])
            self.knots.setData(pos=np.zeros((0, 2)))
            return
        # the polyline through the knots, held flat to t = 0 and t = T (the schedule's own definition)
        xs = [min(0.0, self.times[0])] + self.times + [max(self.T, self.times[-1])]
        ys = [self.values[0]] + self.values + [self.values[-1]]
        self.curve.setData(xs, ys)
        pos = np.column_stack([self.times, self.values])
        self.knots.setData(
            pos=pos,
            size=11,
            symbol="o",
            symbolBrush=pg.mkBrush(style.ORANGE),
            symbolPen=pg.mkPen(style.BLACK, width=1),
            pxMode=True,
        )

    def table(self) -> Table:
        return ("knot", "t", "eps"), [[k, t, v] for k, (t, v) in enumerate(zip(self.times, self.values))]


# ------------------------------------------------------------------------------------------------------
# the panel
# ------------------------------------------------------------------------------------------------------


def _make_plot(name: str, title: str, bottom: str, left: str, tip: str, **kw) -> pg.PlotWidget:
    style.configure_pyqtgraph()
    w = pg.PlotWidget(**kw)
    w.setObjectName(name)
    w.setWindowTitle(title)
    item = w.getPlotItem()
    style.style_plot(item)
    style.set_labels(item, bottom, left)
    item.setTitle(title, color=style.BLACK, size="10pt")
    for ax in ("left", "bottom"):
        item.getAxis(ax).enableAutoSIPrefix(False)
    w.setToolTip(tip)
    w.setMinimumSize(240, 150)
    return w


def _cancel_kind(runner: JobRunner, kind: str, *_) -> None:
    """Cancel a panel's job when the panel goes away (bound to the runner, not to the dead panel)."""
    try:
        if not runner.closed:
            runner.cancel(kind)
    except RuntimeError:  # the runner itself was already deleted
        pass


class SchedulesPanel(ComputesWhenInView, QWidget):
    """Deletion schedules ε(t), their criterion 𝓔 and phase portraits (module docstring)."""

    #: a new :class:`gui.dynamics_tasks.SchedulesRecord` is shown
    recordChanged = Signal(object)
    JOB_KIND = SCHEDULES
    RECORD_TYPE = SchedulesRecord

    def __init__(self, state: LabState, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("schedulesPanel")
        self.state = state
        self.runner = runner
        self.record: SchedulesRecord | None = None
        self.items: list[ScheduleItem] = []
        self._color_counter = 0
        self._loading = False
        self._dirty = True
        self._waiting_fit = False
        self._last_request: SchedulesRequest | None = None
        self._seed_default = str(state.settings.init_seed)
        self._session_times = (state.settings.lr, state.settings.steps)
        self._lr = float(state.settings.lr)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_DELAY_MS)
        self._timer.timeout.connect(self._compute_if_in_view)

        self._build_controls()
        self._build_plots()
        self._build_layout()

        for w, name in (
            (self.eps_plot, "schedules-eps"),
            (self.bar_plot, "schedules-criterion"),
            (self.scan_plot, "schedules-step-scan"),
            (self.phase_plot, "schedules-phase-portrait"),
            (self.draw_plot, "schedules-drawn"),
        ):
            install_export_actions(w, name, self._table_provider(name))

        # state
        state.pointsChanged.connect(self._on_session_changed)
        state.modelChanged.connect(self._on_model_changed)
        state.fitChanged.connect(self._on_fit_changed)
        state.selectionChanged.connect(self._on_session_changed)
        state.revisionChanged.connect(self._on_revision)
        if hasattr(state, "analysisTargetChanged"):
            state.analysisTargetChanged.connect(self._on_session_changed)
        # runner (bound slots: disconnected automatically when the panel is deleted)
        runner.resultReady.connect(self._on_result)
        runner.failed.connect(self._on_failed)
        runner.progress.connect(self._on_progress)
        runner.jobsChanged.connect(self._on_jobs_changed)
        self.destroyed.connect(functools.partial(_cancel_kind, runner, SCHEDULES))

        self.space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        self.space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.space.activated.connect(self.frames.toggle)

        self._load_param_names()
        self.set_mode(MODE_MLP, force=True)

    # -- construction ------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("MLP: two chosen parameters", MODE_MLP)
        self.mode_combo.addItem("Linear 2-parameter (Figure 4)", MODE_FIG4)
        self.mode_combo.setToolTip(
            "The problem of the phase portrait: the session's model and data (deleting the selected / deleted "
            "point), drawn in the plane of two chosen parameters; or the notes' Figure-4 problem — a linear model "
            "θ₁ + θ₂x on 20 points (X ∈ R^{20×2}) deleting its outlier z₁₉ = (2, −1), with exact closed forms"
        )
        self.param_x = QComboBox()
        self.param_x.setToolTip("The parameter on the horizontal axis of the phase portrait")
        self.param_y = QComboBox()
        self.param_y.setToolTip("The parameter on the vertical axis of the phase portrait")
        self.theta0_edit = QLineEdit()
        self.theta0_edit.setToolTip(
            "The initial points θ₀ of the flows. MLP mode: init seeds of the session's model, e.g. '0, 1, 2' (the "
            "session's own θ₀ is its init seed). Figure-4 mode: points 'θ₁,θ₂' separated by ';', e.g. '0,0; 3,3'"
        )
        self.s_spin = QDoubleSpinBox()
        self.s_spin.setToolTip("The deletion request time s: every schedule of E_s keeps ε = 1 on [0, s]")
        self.T_spin = QDoubleSpinBox()
        self.T_spin.setToolTip("The horizon T: 𝓔 = ½‖θ(T) − θ*₋ⱼ‖²; ε = 0 from T on")
        for sp in (self.s_spin, self.T_spin):
            sp.setDecimals(4)
            sp.setRange(0.0, 1e7)
            sp.setKeyboardTracking(False)
        self.eta_label = QLabel("")
        self.eta_label.setToolTip(
            "The step η of the flow's gradient descent (t = kη); times snap to this grid"
        )
        self.j_label = QLabel("")
        self.j_label.setToolTip(
            "The deleted point z_j (MLP mode: the deleted or selected point of the session)"
        )
        self.theta0_show = QComboBox()
        self.theta0_show.setToolTip("The θ₀ whose 𝓔 the table, the bars and the scan show")
        self.function_box = QCheckBox("function space 𝓔_f")
        self.function_box.setToolTip(
            "Bars and scan show 𝓔_f = ½ mean_i (f(θ(T); x_i) − f(θ*₋ⱼ; x_i))² instead of 𝓔 = ½‖θ(T) − θ*₋ⱼ‖²"
        )
        self.field_combo = QComboBox()
        self.field_combo.addItem("field −∇L₀ (zⱼ deleted)", 1)
        self.field_combo.addItem("field −∇L₁ (with zⱼ)", 0)
        self.field_combo.addItem("no vector field", -1)
        self.field_combo.setToolTip(
            "The vector field drawn as arrows: the flow's velocity once z_j is deleted (ε = 0, towards θ*₋ⱼ) or "
            "before (ε = 1, towards θ*). For an MLP it is a slice: the other parameters held at θ*₋ⱼ resp. θ̂"
        )
        self.status = QLabel("")
        self.status.setObjectName("schedulesStatus")
        self.status.setWordWrap(True)

        # schedule table and buttons
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("schedulesTable")
        self.table.setHorizontalHeaderLabels(["schedule", "𝓔", "𝓔_f", "𝓔 flow", "in E_s"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, 5):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip(
            "Every schedule with its 𝓔 = ½‖θ(T) − θ*₋ⱼ‖² (gradient descent with step η), 𝓔_f (function space) "
            "and, for linear models, 𝓔 of the exact gradient flow (closed form, η → 0), for the θ₀ chosen above; "
            "★ marks the best schedule of E_s found (yours and the scans'). "
            "The last rows are the best step and the best linear decay of the scans. Select a row to edit it."
        )
        self.add_step = QPushButton("+ Step")
        self.add_step.setToolTip("Add a step 1_[0,τ): delete at once at time τ")
        self.add_linear = QPushButton("+ Linear")
        self.add_linear.setToolTip("Add a linear decay from 1 at s to 0 at t₁")
        self.add_exp = QPushButton("+ Exp")
        self.add_exp.setToolTip("Add an exponential decay e^{−r(t−s)} from s, cut to 0 at T")
        self.add_drawn = QPushButton("+ Draw")
        self.add_drawn.setToolTip("Add a piecewise-linear schedule to draw on the small ε(t) plot")
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip("Remove the selected schedule")
        self.reset_btn = QPushButton("Defaults")
        self.reset_btn.setToolTip(
            "Back to the default schedules, s, T and θ₀ of this mode (those of the CLI)"
        )

        # editors
        self.editor = QStackedWidget()
        self.editor.addWidget(QLabel("Select a schedule to edit it."))
        self.tau_spin = self._editor_spin("τ", "The step time τ: ε = 1 before τ, 0 from τ on")
        self.t1_spin = self._editor_spin("t₁", "The end t₁ of the linear decay (it starts at s)")
        self.rate_spin = self._editor_spin("r", "The decay rate r of ε = e^{−r(t−s)}")
        self.rate_spin.spin.setDecimals(4)
        self.rate_spin.spin.setRange(0.0, 1e6)
        self.draw_plot = ScheduleDrawPlot()
        self.editor.addWidget(self.tau_spin)
        self.editor.addWidget(self.t1_spin)
        self.editor.addWidget(self.rate_spin)
        self.editor.addWidget(self.draw_plot)
        self._pages = {"step": 1, "linear": 2, "exp": 3, "drawn": 4}

        # signals
        self.mode_combo.currentIndexChanged.connect(self._on_mode_combo)
        self.param_x.currentIndexChanged.connect(self._on_edit)
        self.param_y.currentIndexChanged.connect(self._on_edit)
        self.theta0_edit.editingFinished.connect(self._on_edit)
        self.s_spin.valueChanged.connect(self._on_times_changed)
        self.T_spin.valueChanged.connect(self._on_times_changed)
        self.theta0_show.currentIndexChanged.connect(self._draw_numbers)
        self.function_box.toggled.connect(self._draw_numbers)
        self.field_combo.currentIndexChanged.connect(self._draw_field)
        self.table.itemSelectionChanged.connect(self._on_row_selected)
        self.add_step.clicked.connect(lambda: self.add_schedule("step"))
        self.add_linear.clicked.connect(lambda: self.add_schedule("linear"))
        self.add_exp.clicked.connect(lambda: self.add_schedule("exp"))
        self.add_drawn.clicked.connect(lambda: self.add_schedule("drawn"))
        self.remove_btn.clicked.connect(self.remove_selected)
        self.reset_btn.clicked.connect(lambda: self.set_mode(self.mode, force=True))
        self.tau_spin.spin.valueChanged.connect(self._on_param_spin)
        self.t1_spin.spin.valueChanged.connect(self._on_param_spin)
        self.rate_spin.spin.valueChanged.connect(self._on_param_spin)
        self.draw_plot.knotsEdited.connect(self._on_knots_edited)

    def _editor_spin(self, name: str, tip: str) -> QWidget:
        w = QWidget()
        lay = QFormLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        spin = QDoubleSpinBox()
        spin.setDecimals(4)
        spin.setRange(0.0, 1e7)
        spin.setKeyboardTracking(False)
        spin.setToolTip(tip)
        lay.addRow(name, spin)
        w.spin = spin
        return w

    def _build_plots(self) -> None:
        self.eps_plot = _make_plot(
            "schedulesEpsPlot",
            "Schedules ε(t)",
            "t",
            "ε(t)",
            "The weight ε(t) of the deleted point under every schedule; dashed: s and T; dash-dotted: the time shown",
        )
        ep = self.eps_plot.getPlotItem()
        # room above ε = 1 for the legend (ε never exceeds 1), ticks only on [0, 1]
        ep.setYRange(-0.05, 1.4, padding=0)
        ep.getAxis("left").setTicks([[(v, f"{v:g}") for v in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]])
        ep.setMouseEnabled(x=True, y=False)
        self.eps_curves: list[pg.PlotDataItem] = []
        self.eps_s_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(style.GREY, style=Qt.PenStyle.DashLine))
        self.eps_T_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(style.GREY, style=Qt.PenStyle.DashLine))
        self.eps_now = pg.InfiniteLine(
            angle=90, pen=pg.mkPen(style.color(style.BLACK, 140), width=1.5, style=Qt.PenStyle.DashDotLine)
        )
        self.eps_legend = ep.addLegend(
            offset=(6, 2),
            colCount=3,
            labelTextColor=style.BLACK,
            brush=style.color("#ffffff", 200),
            labelTextSize="8pt",
            verSpacing=-6,
        )
        for it in (self.eps_s_line, self.eps_T_line, self.eps_now):
            ep.addItem(it, ignoreBounds=True)

        self.bar_plot = _make_plot(
            "schedulesCriterionPlot",
            "Criterion 𝓔 of each schedule",
            "schedule",
            "𝓔 = ½‖θ(T) − θ*₋ⱼ‖²",
            "𝓔 (or 𝓔_f) of every schedule for the chosen θ₀; ★ the smallest; hatched border: not in E_s",
        )
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.bar_plot.getPlotItem().addItem(self.bars)
        self.bar_best = pg.TextItem("", color=style.BLACK, anchor=(0.5, 1.0))
        self.bar_plot.getPlotItem().addItem(self.bar_best, ignoreBounds=True)
        self.bar_texts: list[pg.TextItem] = []  # the schedules' names, written up the bars
        self.bar_plot.getPlotItem().setMouseEnabled(x=False, y=True)

        self.scan_plot = _make_plot(
            "schedulesScanPlot",
            "Step-time scan 𝓔(τ)",
            "τ (step 1<sub>[0,τ)</sub>)  /  t<sub>1</sub> (linear decay s → t<sub>1</sub>)",
            "𝓔",
            "𝓔 of the step 1_[0,τ) for τ ∈ [s, T) (blue; crosses: the exact gradient flow, closed form, for linear "
            "models) and of the "
            "linear decay s → t₁ for t₁ ∈ [s, T] (green, dashed); ★ the best of each; dashed vertical line: s",
        )
        sp = self.scan_plot.getPlotItem()
        self.scan_legend = sp.addLegend(
            offset=(5, 5), labelTextColor=style.BLACK, brush=style.color("#ffffff", 210)
        )
        self.scan_step = pg.PlotDataItem(
            pen=pg.mkPen(style.BLUE, width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=style.BLUE,
            name="step at τ",
        )
        self.scan_exact = pg.PlotDataItem(
            pen=None,
            symbol="x",
            symbolSize=9,
            symbolPen=pg.mkPen(style.BLACK, width=1.2),
            name="step, exact flow",
        )
        self.scan_linear = pg.PlotDataItem(
            pen=pg.mkPen(style.GREEN, width=2, style=Qt.PenStyle.DashLine), name="linear decay to t₁"
        )
        self.scan_best = pg.PlotDataItem(
            pen=None,
            symbol="star",
            symbolSize=16,
            symbolBrush=style.ORANGE,
            symbolPen=style.BLACK,
            name="best of each scan",
        )
        for it in (self.scan_step, self.scan_exact, self.scan_linear, self.scan_best):
            sp.addItem(it)
        self.scan_s_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(style.GREY, style=Qt.PenStyle.DashLine))
        sp.addItem(self.scan_s_line, ignoreBounds=True)

        self.phase_plot = _make_plot(
            "schedulesPhasePlot",
            "Phase portrait",
            "θ₁",
            "θ₂",
            "The flows θ(t) of every schedule (colours) from every θ₀ (black rings), in the plane of two "
            "parameters; θ* (blue dot) and θ*₋ⱼ (vermilion star); the grey arrows are the vector field chosen "
            "above; squares: θ(T); dots: θ(t) at the time shown",
        )
        pp = self.phase_plot.getPlotItem()
        self.phase_plot.setMinimumSize(320, 300)
        self.phase_legend = pp.addLegend(
            offset=(8, 8), labelTextColor=style.BLACK, brush=style.color("#ffffff", 225), labelTextSize="9pt"
        )
        self.field_item = pg.PlotDataItem(pen=pg.mkPen(FIELD_COLOR, width=1.2), connect="pairs")
        pp.addItem(self.field_item)
        self.flow_items: list[pg.PlotDataItem] = []
        self.end_item = pg.ScatterPlotItem(size=8, symbol="s", pen=pg.mkPen(style.BLACK, width=0.8))
        self.now_item = pg.ScatterPlotItem(size=10, symbol="o", pen=pg.mkPen("w", width=1.0))
        self.theta0_item = pg.PlotDataItem(
            pen=None,
            symbol="o",
            symbolSize=12,
            symbolBrush=pg.mkBrush(None),
            symbolPen=pg.mkPen(style.BLACK, width=2),
            name="θ₀ (starts)",
        )
        self.star_item = pg.PlotDataItem(
            pen=None,
            symbol="o",
            symbolSize=14,
            symbolBrush=STAR_COLOR,
            symbolPen=pg.mkPen("w", width=1.5),
            name="θ*",
        )
        self.target_item = pg.PlotDataItem(
            pen=None,
            symbol="star",
            symbolSize=20,
            symbolBrush=TARGET_COLOR,
            symbolPen=pg.mkPen("w", width=1.2),
            name="θ*₋ⱼ",
        )
        for z, it in enumerate(
            (self.now_item, self.end_item, self.theta0_item, self.star_item, self.target_item)
        ):
            pp.addItem(it)
            it.setZValue(10 + z)  # markers above the flows, θ* and θ*₋ⱼ on top
        self.star_text = pg.TextItem("θ*", color=STAR_COLOR, anchor=(1.1, 1.1))
        self.target_text = pg.TextItem("θ*₋ⱼ", color=TARGET_COLOR, anchor=(-0.15, -0.1))
        for t in (self.star_text, self.target_text):
            f = QFont()
            f.setPointSize(12)
            f.setBold(True)
            t.setFont(f)
            pp.addItem(t, ignoreBounds=True)
            t.setZValue(30)
        self.theta0_texts: list[pg.TextItem] = []
        self.best_circle = pg.PlotDataItem(pen=pg.mkPen(style.BLACK, width=1.3, style=Qt.PenStyle.DotLine))
        pp.addItem(self.best_circle)
        self.best_circle.setZValue(5)
        pp.getViewBox().sigRangeChanged.connect(self._draw_field)
        pp.getViewBox().sigResized.connect(self._draw_field)

        # the time slider: a new record shows its last frame, θ(T)
        self.frames = FrameControl("the flows along t", duration_s=ANIMATION_SECONDS, last_by_default=True)
        self.frames.slider.setToolTip("The time t shown: every flow's position θ(t) and the ε(t) in effect")
        self.frames.label.setToolTip("The time t shown")
        # a narrower label than the default leaves the slider room in the phase portrait's column
        self.frames.label.setMinimumWidth(90)
        self.frames.frameChanged.connect(self._draw_frame)
        self.zoom_btn = QPushButton("Zoom on θ(T)")
        self.zoom_btn.setCheckable(True)
        self.zoom_btn.setToolTip(
            "Zoom the phase portrait on the end points θ(T) and θ*₋ⱼ (where 𝓔 is decided); again: the whole view"
        )
        self.zoom_btn.toggled.connect(self._apply_view)

    def _build_layout(self) -> None:
        top = QGridLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setHorizontalSpacing(6)
        top.addWidget(QLabel("Problem"), 0, 0)
        top.addWidget(self.mode_combo, 0, 1)
        top.addWidget(QLabel("plane x"), 0, 2)
        top.addWidget(self.param_x, 0, 3)
        top.addWidget(QLabel("y"), 0, 4)
        top.addWidget(self.param_y, 0, 5)
        top.addWidget(QLabel("θ₀"), 0, 6)
        top.addWidget(self.theta0_edit, 0, 7)
        top.addWidget(self.j_label, 0, 8)
        top.addWidget(QLabel("s"), 1, 0, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.s_spin, 1, 1)
        top.addWidget(QLabel("T"), 1, 2, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.T_spin, 1, 3)
        top.addWidget(self.eta_label, 1, 4, 1, 2)
        top.addWidget(QLabel("𝓔 for"), 1, 6)
        top.addWidget(self.theta0_show, 1, 7)
        top.addWidget(self.function_box, 1, 8)
        top.setColumnStretch(7, 1)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.table, 2)
        btns = QGridLayout()
        btns.addWidget(self.add_step, 0, 0)
        btns.addWidget(self.add_linear, 0, 1)
        btns.addWidget(self.add_exp, 0, 2)
        btns.addWidget(self.add_drawn, 1, 0)
        btns.addWidget(self.remove_btn, 1, 1)
        btns.addWidget(self.reset_btn, 1, 2)
        ll.addLayout(btns)
        ll.addWidget(self.editor, 1)

        middle = QSplitter(Qt.Orientation.Vertical)
        middle.addWidget(self.eps_plot)
        middle.addWidget(self.bar_plot)
        middle.addWidget(self.scan_plot)
        middle.setChildrenCollapsible(False)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.phase_plot, 1)
        # the time slider on its own row and the view controls under it: in one row they set the column's minimum
        # width (465 px), squeezing the middle plots, or left the slider no room
        rl.addWidget(self.frames)
        row = QHBoxLayout()
        row.addWidget(self.zoom_btn)
        self.field_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.field_combo.setMinimumContentsLength(8)
        row.addWidget(self.field_combo, 1)
        rl.addLayout(row)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(right)
        # the table's schedule names ("linear 50→200") need ~330 px; the middle plots carry legends and titles
        self.splitter.setSizes([330, 360, 420])
        for i, stretch in enumerate((0, 1, 1)):  # extra width goes to the plots, half to the phase portrait
            self.splitter.setStretchFactor(i, stretch)
        self.splitter.setChildrenCollapsible(False)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.status)

    # -- public API --------------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    def plots(self) -> dict[str, pg.PlotWidget]:
        """Every plot of the panel by export name (the main window's "Export figures…" can walk these)."""
        return {
            "schedules-eps": self.eps_plot,
            "schedules-criterion": self.bar_plot,
            "schedules-step-scan": self.scan_plot,
            "schedules-phase-portrait": self.phase_plot,
            "schedules-drawn": self.draw_plot,
        }

    def set_mode(self, mode: str, force: bool = False) -> None:
        """Switch the problem (MLP / Figure 4) and load that mode's defaults: s, T, η, schedules and θ₀s (the
        CLI's defaults, cli.schedules)."""
        if mode not in (MODE_MLP, MODE_FIG4):
            raise ValueError(f"unknown mode {mode!r}")
        if mode == self.mode and not force:
            return
        self._loading = True
        try:
            self.mode_combo.setCurrentIndex(self.mode_combo.findData(mode))
            if mode == MODE_FIG4:
                lr, s, T = FIG4_LR, FIG4_S, FIG4_T
                scheds = default_figure4_schedules(s, T, lr)
                self.theta0_edit.setText("; ".join(f"{a:g},{b:g}" for a, b in FIG4_THETA0S))
            else:
                st = self.state.settings
                lr = st.lr
                s, T = default_times(lr, st.steps)
                scheds = default_mlp_schedules(s, T, lr)
                self._seed_default = str(st.init_seed)
                self.theta0_edit.setText(self._seed_default)
            self._lr = float(lr)
            for sp in (self.s_spin, self.T_spin):
                sp.setSingleStep(lr)
            for w in (self.tau_spin, self.t1_spin):
                w.spin.setSingleStep(lr)
            self.s_spin.setValue(s)
            self.T_spin.setValue(T)
            self.eta_label.setText(f"η = {lr:g} ({step_grid(lr, T)[0]} steps)")
            self.param_x.setEnabled(mode == MODE_MLP)
            self.param_y.setEnabled(mode == MODE_MLP)
            self.items = []
            self._color_counter = 0
            for sc in scheds:
                self.items.append(ScheduleItem.from_schedule(sc, self._next_color()))
            self._set_record(None)
        finally:
            self._loading = False
        self._refresh_table(select=0)
        self._update_j_label()
        self.request_update()

    def schedules(self) -> list[Schedule]:
        """The schedules being edited, as core objects (ValueError names a bad one)."""
        s, T = self.times()
        return [it.schedule(s, T) for it in self.items]

    def times(self) -> tuple[float, float]:
        """(s, T) snapped to the flow's step grid."""
        return step_grid(self._lr, self.s_spin.value())[1], step_grid(self._lr, self.T_spin.value())[1]

    def add_schedule(self, kind: str, value=None) -> int:
        s, T = self.times()
        if value is None:
            value = {
                "step": step_grid(self._lr, min(s + 0.25 * (T - s), T))[1],
                "linear": s + 0.5 * (T - s),
                "exp": 3.0 / max(T - s, 1e-12),
                "drawn": None,
            }[kind]
            if kind == "drawn":
                d = default_drawn(s, T)
                value = (d.times, d.values)
        self.items.append(ScheduleItem(kind, value, self._next_color()))
        row = len(self.items) - 1
        self._refresh_table(select=row)
        self.request_update()
        return row

    def remove_schedule(self, row: int) -> None:
        if 0 <= row < len(self.items) and len(self.items) > 1:
            del self.items[row]
            self._refresh_table(select=min(row, len(self.items) - 1))
            self.request_update()

    def remove_selected(self) -> None:
        self.remove_schedule(self._selected_row())

    def set_schedule_value(self, row: int, value) -> None:
        """Set the free parameter of schedule ``row`` (τ, t₁, r, or (times, values) for a drawn one)."""
        self.items[row].value = value
        self._refresh_table(select=row)
        self.request_update()

    def set_theta0_text(self, text: str) -> None:
        self.theta0_edit.setText(text)
        self.request_update()

    def set_plane(self, a: int, b: int) -> None:
        self._loading = True
        try:
            self.param_x.setCurrentIndex(a)
            self.param_y.setCurrentIndex(b)
        finally:
            self._loading = False
        self.request_update()

    def request_update(self) -> None:
        """Recompute after the debounce (only while the panel is visible; otherwise when it is shown)."""
        self._dirty = True
        if self._loading:
            return
        if self.in_view():
            self._timer.start()

    def is_busy(self) -> bool:
        return self._timer.isActive() or self.runner.is_running(SCHEDULES) or self._waiting_fit

    def shutdown(self) -> None:
        """Stop the timers and cancel this panel's job."""
        self._timer.stop()
        self.frames.stop()
        self.frames.timer.stop()  # stop() only pauses playback; drop a pending redraw too
        _cancel_kind(self.runner, SCHEDULES)

    # -- the request -------------------------------------------------------------------------------------
    def deleted_point(self) -> int | None:
        """MLP mode: the analysed (deleted) point, else the selected one, else 0 (the CLI's default)."""
        st = self.state
        if st.data.n == 0:
            return None
        j = getattr(st, "analysis_target", None)
        if j is None:
            j = st.selection
        return 0 if j is None else int(j)

    def build_request(self) -> SchedulesRequest:
        """The request for the current choices; ValueError with a user-readable message if they are invalid."""
        s, T = self.times()
        lr = self._lr
        steps = step_grid(lr, T)[0]
        if not 0 <= s < T:
            raise ValueError(f"need 0 ≤ s < T, got s = {s:g}, T = {T:g}")
        if steps > MAX_FLOW_STEPS:
            raise ValueError(
                f"T = {T:g} is {steps} steps of η = {lr:g}; at most {MAX_FLOW_STEPS} are allowed"
            )
        scheds = tuple(self.schedules())
        text = self.theta0_edit.text().strip()
        if self.mode == MODE_FIG4:
            pts = []
            for part in [p for p in text.replace("\n", ";").split(";") if p.strip()]:
                try:
                    v = tuple(float(u) for u in part.split(","))
                except ValueError:
                    raise ValueError(f"θ₀ {part.strip()!r}: write two numbers θ₁,θ₂") from None
                if len(v) != 2 or not all(math.isfinite(u) for u in v):
                    raise ValueError(f"θ₀ {part.strip()!r}: write two finite numbers θ₁,θ₂")
                pts.append(v)
            if not pts:
                raise ValueError("give at least one θ₀ (e.g. '0,0; 3,3')")
            return SchedulesRequest(
                MODE_FIG4, scheds, s, T, lr, FIG4_J, theta0s=tuple(pts), field_aspect=self._plot_aspect()
            )
        seeds = []
        for part in [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]:
            try:
                seeds.append(int(part))
            except ValueError:
                raise ValueError(f"θ₀: {part!r} is not an init seed (a whole number)") from None
        if not seeds:
            raise ValueError("give at least one init seed for θ₀ (e.g. '0')")
        j = self.deleted_point()
        if j is None:
            raise ValueError("there are no points")
        problem = base_problem(self.state.problem(), j)
        theta_hat = None
        fit = self.state.fit
        if self.state.fit_is_current() and self.state.data.weight[j] == 1.0:
            theta_hat = np.array(fit.theta_hat, dtype=np.float64)
        a, b = self.param_x.currentIndex(), self.param_y.currentIndex()
        return SchedulesRequest(
            MODE_MLP,
            scheds,
            s,
            T,
            lr,
            j,
            seeds=tuple(seeds),
            dims=(a, b),
            problem=problem,
            theta_hat=theta_hat,
        )

    def _plot_aspect(self) -> float:
        r = self.phase_plot.getPlotItem().getViewBox().boundingRect()
        return float(r.width() / r.height()) if r.width() > 10 and r.height() > 10 else 1.0

    def compute_now(self) -> None:
        """Submit the schedules job now (skipping the debounce)."""
        self._timer.stop()
        if self.runner.closed:
            return
        if self.mode == MODE_MLP and self._should_wait_for_fit():
            self._waiting_fit = True
            self._set_status("Waiting for the session's training to finish …")
            return
        self._waiting_fit = False
        try:
            req = self.build_request()
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            self._dirty = False
            return
        self._dirty = False
        self._last_request = req
        what = "Figure 4" if req.mode == MODE_FIG4 else f"point {req.j}"
        self.runner.submit(
            SCHEDULES,
            functools.partial(schedules_task, req),
            self.state.revision,
            label=f"Schedules ({what})",
        )
        self._set_status("Computing the flows …")

    def _should_wait_for_fit(self) -> bool:
        """The session is retraining the model with z_j (its θ̂ is the one wanted): wait for it."""
        st = self.state
        j = self.deleted_point()
        if j is None or st.fit_is_current() or st.data.weight[j] != 1.0:
            return False
        return self.runner.is_running("fit")

    # -- reacting to the session -------------------------------------------------------------------------
    def _on_session_changed(self, *_) -> None:
        self._update_j_label()
        if self.mode == MODE_MLP:
            self.request_update()

    def _on_model_changed(self) -> None:
        self._load_param_names()
        st = self.state.settings
        if self.mode == MODE_MLP:
            if (st.lr, st.steps) != self._session_times:
                self._session_times = (st.lr, st.steps)
                self.set_mode(MODE_MLP, force=True)
                return
            if self.theta0_edit.text().strip() == self._seed_default:
                self._seed_default = str(st.init_seed)
                self.theta0_edit.setText(self._seed_default)
            self.request_update()
        self._session_times = (st.lr, st.steps)

    def _on_fit_changed(self) -> None:
        if self.mode == MODE_MLP and (self._waiting_fit or self._dirty) and self.state.fit_is_current():
            self._waiting_fit = False
            self.request_update()

    def _on_jobs_changed(self) -> None:
        # waiting for the session's training, which stopped without a fit (cancelled, failed): go on without it
        if self._waiting_fit and not self.runner.is_running("fit"):
            self._waiting_fit = False
            self.request_update()

    def _on_revision(self, *_) -> None:
        # a result is delivered only for the current revision: a running Figure-4 job must be resubmitted
        if self.mode == MODE_FIG4 and self.runner.is_running(SCHEDULES):
            self.request_update()

    def _load_param_names(self) -> None:
        model = self.state.settings.model()
        # beyond the exact-Hessian limit no analysis runs; naming millions of parameters would freeze the GUI
        names = model.param_names() if model.n_params <= MAX_HESSIAN_PARAMS else []
        old = [self.param_x.itemText(i) for i in range(self.param_x.count())]
        labels = [f"θ{_sub(k)} {n}" for k, n in enumerate(names)]
        if labels == old:
            return
        keep = (self.param_x.currentIndex(), self.param_y.currentIndex())
        was = self._loading
        self._loading = True
        try:
            for combo in (self.param_x, self.param_y):
                combo.clear()
                combo.addItems(labels)
            if "W1[0,0]" in names and "b1[0]" in names:
                a, b = names.index("W1[0,0]"), names.index("b1[0]")
            else:
                a, b = 0, min(1, len(names) - 1)
            if old and all(0 <= k < len(names) for k in keep) and keep[0] != keep[1]:
                a, b = keep
            self.param_x.setCurrentIndex(a)
            self.param_y.setCurrentIndex(b)
        finally:
            self._loading = was

    def _update_j_label(self) -> None:
        if self.mode == MODE_FIG4:
            self.j_label.setText(f"deleted: the outlier z{_sub(FIG4_J)} = (2, −1)")
        else:
            j = self.deleted_point()
            self.j_label.setText("no points" if j is None else f"deleted point j = {j}")

    # -- edits -------------------------------------------------------------------------------------------
    def _next_color(self) -> str:
        c = SCHEDULE_COLORS[self._color_counter % len(SCHEDULE_COLORS)]
        self._color_counter += 1
        return c

    def _on_mode_combo(self, *_) -> None:
        if not self._loading:
            self.set_mode(self.mode, force=True)

    def _on_edit(self, *_) -> None:
        if not self._loading:
            self.request_update()

    def _on_times_changed(self, *_) -> None:
        if self._loading:
            return
        s, T = self.times()
        self.eta_label.setText(f"η = {self._lr:g} ({step_grid(self._lr, T)[0]} steps)")
        self.draw_plot.set_horizon(s, T)
        self._refresh_table(select=self._selected_row())
        self.request_update()

    def _selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        r = rows[0].row() if rows else -1
        return r if 0 <= r < len(self.items) else -1

    def _on_row_selected(self) -> None:
        row = self._selected_row()
        self.remove_btn.setEnabled(row >= 0 and len(self.items) > 1)
        if row < 0:
            self.editor.setCurrentIndex(0)
            return
        it = self.items[row]
        was = self._loading
        self._loading = True
        try:
            s, T = self.times()
            if it.kind == "drawn":
                self.draw_plot.set_horizon(s, T)
                self.draw_plot.set_knots(*it.value)
            else:
                page = {"step": self.tau_spin, "linear": self.t1_spin, "exp": self.rate_spin}[it.kind]
                page.spin.setValue(float(it.value))
            self.editor.setCurrentIndex(self._pages[it.kind])
        finally:
            self._loading = was

    def _on_param_spin(self, value: float) -> None:
        if self._loading:
            return
        row = self._selected_row()
        if row >= 0 and self.items[row].kind in ("step", "linear", "exp"):
            self.items[row].value = float(value)
            self._refresh_table(select=row)
            self.request_update()

    def _on_knots_edited(self) -> None:
        if self._loading:
            return
        row = self._selected_row()
        if row >= 0 and self.items[row].kind == "drawn":
            self.items[row].value = self.draw_plot.knots_value()
            self._refresh_labels()
            self.request_update()

    # -- drawing -----------------------------------------------------------------------------------------
    def _refresh_table(self, select: int | None = None) -> None:
        """Rebuild the rows (schedules, then the scans' best) from the items and the record."""
        was = self._loading
        self._loading = True
        try:
            rec = self.record
            extra = 2 if rec is not None and rec.step_params.size else 0
            self.table.setRowCount(len(self.items) + extra)
            for r, it in enumerate(self.items):
                cell = QTableWidgetItem(it.text())
                cell.setData(Qt.ItemDataRole.DecorationRole, QColor(it.color))
                self.table.setItem(r, 0, cell)
                for c in range(1, 5):
                    self.table.setItem(r, c, QTableWidgetItem(""))
            for r in range(len(self.items), len(self.items) + extra):
                for c in range(5):
                    cell = QTableWidgetItem("")
                    cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    self.table.setItem(r, c, cell)
            if select is not None and 0 <= select < len(self.items):
                self.table.selectRow(select)
        finally:
            self._loading = was
        self._fill_numbers()
        self._on_row_selected()

    def _refresh_labels(self) -> None:
        for r, it in enumerate(self.items):
            cell = self.table.item(r, 0)
            if cell is not None:
                cell.setText(it.text())
        self._fill_numbers()

    def _p(self) -> int:
        rec = self.record
        if rec is None:
            return 0
        return int(np.clip(self.theta0_show.currentIndex(), 0, rec.theta0s.shape[0] - 1))

    def _fill_numbers(self) -> None:
        """The table's numbers for the chosen θ₀ — only where the row's schedule is the one computed."""
        rec = self.record
        bold = QFont()
        bold.setBold(True)
        plain = QFont()
        computed = {}
        if rec is not None:
            try:
                s, T = self.times()
                current = [it.schedule(s, T).describe() for it in self.items]
            except ValueError:
                current = [None] * len(self.items)
            done = [sc.describe() for sc in rec.schedules]
            for r, d in enumerate(current):
                if d is not None and r < len(done) and done[r] == d:
                    computed[r] = r
        p = self._p()
        best = rec.best[p] if rec is not None else None
        best_desc = best.get("best_schedule") if best else None
        for r, it in enumerate(self.items):
            k = computed.get(r)
            cells = [self.table.item(r, c) for c in range(5)]
            if any(c is None for c in cells):
                continue
            is_best = k is not None and rec.schedules[k].describe() == best_desc
            cells[0].setText(("★ " if is_best else "") + it.text())
            if k is None:
                for c in cells[1:]:
                    c.setText("…" if rec is not None or self.runner.is_running(SCHEDULES) else "")
            else:
                cells[1].setText(_fmt(rec.criterion[k, p]))
                cells[2].setText(_fmt(rec.criterion_function[k, p]))
                ex = rec.criterion_exact[k, p] if rec.criterion_exact is not None else None
                cells[3].setText(_fmt(ex))
                cells[4].setText("✓" if rec.in_class[k] else "✗ not in E_s")
            for c in cells:
                c.setFont(bold if is_best else plain)
        if rec is not None and rec.step_params.size and self.table.rowCount() >= len(self.items) + 2:
            rows = []
            for kind, params, crit, critf in (
                ("step", rec.step_params, rec.step_criterion, rec.step_criterion_function),
                ("linear", rec.linear_params, rec.linear_criterion, rec.linear_criterion_function),
            ):
                i = int(np.nanargmin(np.where(np.isnan(crit[:, p]), np.inf, crit[:, p])))
                rows.append((kind, params[i], crit[i, p], critf[i, p], i))
            for n, (kind, par, c, cf, i) in enumerate(rows):
                r = len(self.items) + n
                if kind == "step":
                    desc = {"kind": "step", "tau": float(par)}
                    text = f"scan: best step τ = {par:g}"
                    ex = rec.step_exact[i, p] if rec.step_exact is not None else None
                else:
                    desc = {"kind": "linear", "s": rec.s, "t1": float(par)}
                    text = f"scan: best linear decay t₁ = {par:.4g}"
                    ex = None
                is_best = best_desc == desc and not any(
                    rec.schedules[k].describe() == best_desc for k in computed.values()
                )
                vals = [("★ " if is_best else "") + text, _fmt(c), _fmt(cf), _fmt(ex), "✓"]
                for col, v in enumerate(vals):
                    cell = self.table.item(r, col)
                    cell.setText(v)
                    cell.setFont(bold if is_best else plain)
                    cell.setForeground(QColor(style.BLACK if is_best else style.GREY))
        self.table.setColumnHidden(3, rec is None or rec.criterion_exact is None)

    def _set_record(self, rec: SchedulesRecord | None) -> None:
        self.record = rec
        if rec is None:
            self.frames.set_count(0)
            for it in self.eps_curves + self.flow_items:
                it.setData([], [])
            for it in (self.star_item, self.target_item, self.theta0_item, self.scan_step, self.scan_exact):
                it.setData([], [])
            for it in (self.scan_linear, self.scan_best, self.field_item, self.best_circle):
                it.setData([], [])
            self.end_item.setData([], [])
            self.now_item.setData([], [])
            self.bars.setOpts(x=[], height=[])
            self.bar_best.setText("")
            self.star_text.setText("")
            self.target_text.setText("")
            for t in self.theta0_texts:
                t.setText("")
            return
        self._loading = True
        try:
            keep = self.theta0_show.currentIndex()
            self.theta0_show.clear()
            self.theta0_show.addItems(list(rec.theta0_labels))
            self.theta0_show.setCurrentIndex(keep if 0 <= keep < len(rec.theta0_labels) else 0)
        finally:
            self._loading = False
        self._draw_eps()
        self._draw_phase()
        self.frames.set_count(len(rec.times), index=len(rec.times) - 1)
        self._draw_frame(self.frames.index)
        self._refresh_table(select=self._selected_row() if self._selected_row() >= 0 else 0)
        self._draw_numbers()

    def _colors(self, rec: SchedulesRecord) -> list[str]:
        """The colour of each computed schedule (its item's, when the items still match)."""
        out = []
        for k in range(len(rec.schedules)):
            out.append(
                self.items[k].color if k < len(self.items) else SCHEDULE_COLORS[k % len(SCHEDULE_COLORS)]
            )
        return out

    def _ensure_items(self, items: list, n: int, plot: pg.PlotWidget, make) -> None:
        pi = plot.getPlotItem()
        while len(items) < n:
            it = make()
            pi.addItem(it)
            items.append(it)
        while len(items) > n:
            it = items.pop()
            pi.removeItem(it)

    def _draw_eps(self) -> None:
        rec = self.record
        self._ensure_items(self.eps_curves, len(rec.schedules), self.eps_plot, lambda: pg.PlotDataItem())
        self.eps_legend.clear()
        for k, (item, col) in enumerate(zip(self.eps_curves, self._colors(rec))):
            item.setData(rec.eps_times, rec.eps_curves[k], pen=pg.mkPen(col, width=2.2))
            item.opts["name"] = rec.labels[k]
            self.eps_legend.addItem(item, rec.labels[k])
        self.eps_s_line.setValue(rec.s)
        self.eps_T_line.setValue(rec.T)
        self.eps_plot.getPlotItem().setXRange(0, rec.T, padding=0.02)

    def _draw_phase(self) -> None:
        rec = self.record
        pi = self.phase_plot.getPlotItem()
        S, P = rec.criterion.shape
        colors = self._colors(rec)
        # flows: one item per schedule, the θ₀s separated by NaN
        for it in self.flow_items:
            pi.removeItem(it)
        self.flow_items = []
        self.phase_legend.clear()
        nan = np.full((1, 2), np.nan)
        ends, end_brushes = [], []
        for k in range(S):
            parts = []
            for p in range(P):
                parts += [rec.flows[:, k, p, :], nan]
            xy = np.vstack(parts)
            item = pg.PlotDataItem(
                xy[:, 0], xy[:, 1], pen=pg.mkPen(colors[k], width=2.2), connect="finite", name=rec.labels[k]
            )
            pi.addItem(item)  # named: the plot adds it to the legend
            self.flow_items.append(item)
            ends.append(rec.flows[-1, k])
            end_brushes += [pg.mkBrush(colors[k])] * P
        end = np.vstack(ends)
        self.end_item.setData(end[:, 0], end[:, 1], brush=end_brushes)
        self.theta0_item.setData(rec.theta0s_2d[:, 0], rec.theta0s_2d[:, 1])
        self.star_item.setData([rec.theta_star_2d[0]], [rec.theta_star_2d[1]])
        self.target_item.setData([rec.target_2d[0]], [rec.target_2d[1]])
        star_name = "θ* (trained with zⱼ)"
        self.star_item.opts["name"] = star_name
        self.target_item.opts["name"] = "θ*₋ⱼ (retrained without zⱼ)"
        for it, name in (
            (self.theta0_item, "θ₀ (starts)"),
            (self.star_item, star_name),
            (self.target_item, "θ*₋ⱼ (retrained without zⱼ)"),
        ):
            self.phase_legend.addItem(it, name)
        self.star_text.setText(rec.star_label)
        self.star_text.setPos(*rec.theta_star_2d)
        self.target_text.setText("θ*₋ⱼ")
        self.target_text.setPos(*rec.target_2d)
        # each label on the side away from the other marker, so that two close markers' labels never overlap
        left = rec.theta_star_2d[0] <= rec.target_2d[0]
        self.star_text.setAnchor((1.15, 0.5) if left else (-0.15, 0.5))
        self.target_text.setAnchor((-0.15, 0.5) if left else (1.15, 0.5))
        # θ₀ labels (Figure 4: their coordinates)
        while len(self.theta0_texts) < P:
            t = pg.TextItem("", color=style.BLACK, anchor=(0.5, -0.35))
            pi.addItem(t, ignoreBounds=True)
            t.setZValue(20)
            self.theta0_texts.append(t)
        for p, t in enumerate(self.theta0_texts):
            if p < P:
                t.setText(rec.theta0_labels[p])
                t.setPos(*rec.theta0s_2d[p])
            else:
                t.setText("")
        style.set_labels(pi, rec.axis_labels[0], rec.axis_labels[1])
        fig4 = rec.mode == MODE_FIG4
        pi.getViewBox().setAspectLocked(fig4, ratio=1.0)
        title = (
            f"Phase portrait, Figure-4 problem (delete z{_sub(rec.j)}; s = {rec.s:g}, T = {rec.T:g})"
            if fig4
            else f"Phase portrait, point {rec.j} deleted (s = {rec.s:g}, T = {rec.T:g})"
        )
        pi.setTitle(title, color=style.BLACK, size="10pt")
        self._apply_view()

    def _apply_view(self, *_) -> None:
        """The whole field grid (which spans every flow), or — "Zoom on θ(T)" — the end points and θ*₋ⱼ."""
        rec = self.record
        if rec is None:
            return
        vb = self.phase_plot.getPlotItem().getViewBox()
        if self.zoom_btn.isChecked():
            pts = np.vstack([rec.flows[-1].reshape(-1, 2), rec.target_2d[None]])
            pts = pts[np.isfinite(pts).all(axis=1)]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = 0.25 * np.maximum(hi - lo, 1e-6).max()
            vb.setRange(xRange=(lo[0] - pad, hi[0] + pad), yRange=(lo[1] - pad, hi[1] + pad), padding=0)
        else:
            vb.setRange(
                xRange=(rec.grid_1[0], rec.grid_1[-1]), yRange=(rec.grid_2[0], rec.grid_2[-1]), padding=0.02
            )
        self._place_labels()
        self._draw_field()

    def _place_labels(self) -> None:
        """Put the θ* and θ*₋ⱼ labels on opposite sides (away from each other), and the legend in the corner of
        the view that covers the fewest drawn points."""
        rec = self.record
        vb = self.phase_plot.getPlotItem().getViewBox()
        px, py = vb.viewPixelSize()
        if not (px > 0 and py > 0):
            return
        d = (rec.target_2d - rec.theta_star_2d) / np.array([px, py])  # pixels, y up
        if abs(d[0]) >= abs(d[1]):
            right = d[0] >= 0  # θ*₋ⱼ to the right of θ*
            self.star_text.setAnchor((1.15, 0.5) if right else (-0.15, 0.5))
            self.target_text.setAnchor((-0.2, 0.5) if right else (1.2, 0.5))
        else:
            up = d[1] >= 0
            self.star_text.setAnchor((0.5, -0.1) if up else (0.5, 1.1))
            self.target_text.setAnchor((0.5, 1.1) if up else (0.5, -0.1))
        pts = np.vstack(
            [
                rec.flows[:: max(1, len(rec.times) // 50)].reshape(-1, 2),
                rec.theta0s_2d,
                rec.theta_star_2d[None],
                rec.target_2d[None],
            ]
        )
        place_legend(vb, self.phase_legend, pts)

    def _draw_field(self, *_) -> None:
        """Arrows of the chosen vector field: shafts in data units (length ∝ √|v|, at most 0.8 of a grid cell),
        heads of a fixed pixel size (recomputed when the view changes, so they stay readable)."""
        rec = self.record
        e = self.field_combo.currentData()
        if rec is None or e is None or e < 0 or e >= rec.field.shape[0]:
            self.field_item.setData([], [])
            return
        vb = self.phase_plot.getPlotItem().getViewBox()
        px, py = vb.viewPixelSize()
        if not (px > 0 and py > 0 and math.isfinite(px) and math.isfinite(py)):
            return
        g1, g2 = rec.grid_1, rec.grid_2
        dx = (g1[-1] - g1[0]) / max(1, len(g1) - 1)
        dy = (g2[-1] - g2[0]) / max(1, len(g2) - 1)
        F = rec.field[e]  # (G, G, 2), [a, b] at (g1[b], g2[a])
        X, Y = np.meshgrid(g1, g2)
        u, v = F[..., 0].ravel(), F[..., 1].ravel()
        X, Y = X.ravel(), Y.ravel()
        m = np.hypot(u / dx, v / dy)  # length in grid cells
        ok = np.isfinite(m) & (m > 0)
        if not ok.any():
            self.field_item.setData([], [])
            return
        mmax = np.max(m[ok])
        scale = np.zeros_like(m)
        scale[ok] = 0.8 * np.sqrt(m[ok] / mmax) / m[ok]
        su, sv = u * scale, v * scale
        x0, y0 = X - su / 2, Y - sv / 2
        x1, y1 = X + su / 2, Y + sv / 2
        # heads in pixels
        hx, hy = su / px, sv / py
        L = np.hypot(hx, hy)
        keep = ok & (L > 2.0)
        hl = np.minimum(7.0, 0.45 * L)
        with np.errstate(invalid="ignore", divide="ignore"):
            ux, uy = hx / L, hy / L
        xs = [np.column_stack([x0[keep], x1[keep]]).ravel()]
        ys = [np.column_stack([y0[keep], y1[keep]]).ravel()]
        for ang in (math.radians(155), math.radians(-155)):
            c, s_ = math.cos(ang), math.sin(ang)
            bx = (ux * c - uy * s_) * hl * px
            by = (ux * s_ + uy * c) * hl * py
            xs.append(np.column_stack([x1[keep], x1[keep] + bx[keep]]).ravel())
            ys.append(np.column_stack([y1[keep], y1[keep] + by[keep]]).ravel())
        self.field_item.setData(np.concatenate(xs), np.concatenate(ys), connect="pairs")

    def _draw_numbers(self, *_) -> None:
        rec = self.record
        if rec is None:
            return
        p = self._p()
        fn = self.function_box.isChecked()
        crit = rec.criterion_function if fn else rec.criterion
        name = "𝓔_f" if fn else "𝓔"
        colors = self._colors(rec)
        S = crit.shape[0]
        vals = crit[:, p]
        brushes = [pg.mkBrush(c) for c in colors]
        pens = [
            pg.mkPen(style.BLACK, width=1)
            if ok
            else pg.mkPen(style.BLACK, width=2, style=Qt.PenStyle.DotLine)
            for ok in rec.in_class
        ]
        finite = np.where(np.isfinite(vals), vals, np.nan)
        self.bars.setOpts(x=np.arange(S), height=np.nan_to_num(finite), width=0.7, brushes=brushes, pens=pens)
        ax = self.bar_plot.getPlotItem().getAxis("bottom")
        ax.setTicks([[(k, f"{k + 1}") for k in range(S)]])
        bp = self.bar_plot.getPlotItem()
        while len(self.bar_texts) < S:
            t = pg.TextItem("", color="w", anchor=(0.0, 0.5), angle=90)
            f = QFont()
            f.setPointSize(8)
            f.setBold(True)
            t.setFont(f)
            bp.addItem(t, ignoreBounds=True)
            self.bar_texts.append(t)
        for k, t in enumerate(self.bar_texts):
            lab = rec.labels[k] if k < S else ""
            t.setText(lab if len(lab) <= 18 else lab[:17] + "…")
            t.setPos(k, 0.0)
        style.set_labels(
            bp,
            "schedule (row of the table)",
            "𝓔<sub>f</sub> = ½ mean (f(θ(T)) − f(θ*₋ⱼ))²" if fn else "𝓔 = ½‖θ(T) − θ*₋ⱼ‖²",
        )
        bp.setTitle(f"{name} of each schedule, {rec.theta0_labels[p]}", color=style.BLACK, size="10pt")
        in_class = np.where(rec.in_class & np.isfinite(vals), vals, np.inf)
        if np.isfinite(in_class).any():
            kb = int(np.argmin(in_class))
            self.bar_best.setText("★")
            self.bar_best.setPos(kb, float(vals[kb]))
        else:
            self.bar_best.setText("")
        top = np.nanmax(finite) if np.isfinite(finite).any() else 1.0
        bp.setXRange(-0.6, S - 0.4, padding=0)
        bp.setYRange(0, 1.12 * top, padding=0)
        # scans
        sp = self.scan_plot.getPlotItem()
        if rec.step_params.size:
            sc = rec.step_criterion_function if fn else rec.step_criterion
            lc = rec.linear_criterion_function if fn else rec.linear_criterion
            self.scan_step.setData(rec.step_params, sc[:, p])
            if rec.step_exact is not None and not fn:
                self.scan_exact.setData(rec.step_params, rec.step_exact[:, p])
            else:
                self.scan_exact.setData([], [])
            self.scan_linear.setData(rec.linear_params, lc[:, p])
            bx, by = [], []
            for params, c in ((rec.step_params, sc[:, p]), (rec.linear_params, lc[:, p])):
                cc = np.where(np.isnan(c), np.inf, c)
                i = int(np.argmin(cc))
                bx.append(params[i])
                by.append(c[i])
            self.scan_best.setData(bx, by)
            self.scan_s_line.setValue(rec.s)
            sp.setTitle(
                f"Scans of steps and linear decays, {rec.theta0_labels[p]}", color=style.BLACK, size="10pt"
            )
            style.set_labels(
                sp, "τ (step 1<sub>[0,τ)</sub>)  /  t<sub>1</sub> (linear decay s → t<sub>1</sub>)", name
            )
            sp.enableAutoRange()
            sp.getViewBox().autoRange(padding=0.08)
            pts = np.vstack(
                [
                    np.column_stack([rec.step_params, sc[:, p]]),
                    np.column_stack([rec.linear_params, lc[:, p]]),
                ]
            )
            # interpolate along the curves, so that a legend is not put over a steep stretch between samples
            fine = np.linspace(0.0, 1.0, 8)[:, None, None]
            pts = np.concatenate([pts[:-1] + fine * (pts[1:] - pts[:-1])]).reshape(-1, 2)
            place_legend(sp.getViewBox(), self.scan_legend, pts)
        else:
            for it in (self.scan_step, self.scan_exact, self.scan_linear, self.scan_best):
                it.setData([], [])
        self._draw_circle()
        self._fill_numbers()
        self._update_summary()

    def _draw_circle(self) -> None:
        """Figure 4 (d = 2, equal scales): the circle around θ*₋ⱼ through the closest end point θ(T) of the θ₀
        chosen for the table — every schedule ending outside it has a larger 𝓔."""
        rec = self.record
        self.phase_legend.removeItem(self.best_circle)
        if rec is None or rec.mode != MODE_FIG4 or rec.theta0s.shape[1] != 2:
            self.best_circle.setData([], [])
            return
        p = self._p()
        dist = rec.end_distance[:, p]
        dist = dist[np.isfinite(dist)]
        if dist.size == 0:
            self.best_circle.setData([], [])
            return
        r = float(dist.min())
        a = np.linspace(0.0, 2.0 * np.pi, 181)
        self.best_circle.setData(rec.target_2d[0] + r * np.cos(a), rec.target_2d[1] + r * np.sin(a))
        self.phase_legend.addItem(self.best_circle, f"closest θ(T), {rec.theta0_labels[p]}")

    def _update_summary(self) -> None:
        rec = self.record
        if rec is None:
            return
        parts = []
        for p, b in enumerate(rec.best):
            if b.get("best_schedule") is None:
                continue
            lab = rec.theta0_labels[p]
            opt = b.get("step_at_s_optimal")
            verdict = ""
            if opt is not None:
                verdict = (
                    " — <b>the step at s is optimal</b>"
                    if opt
                    else f" — <b>the step at s is not optimal</b> (its 𝓔 = {_fmt(b['step_at_s_criterion'])})"
                )
            deriv = ""
            if rec.derivative_at_s is not None:
                deriv = f"; exact d𝓔/dτ at τ = s: {rec.derivative_at_s[p]:+.3g}"
            parts.append(
                f"{lab}: best {b['best_label']} with 𝓔 = {_fmt(b['best_criterion'])}{verdict}{deriv}"
            )
        msgs = list(rec.messages)
        if not rec.target_converged:
            msgs.append(rec.target_message)
        for m in msgs:
            parts.append(f"<span style='color:#b00020'>{m}</span>")
        parts.append(
            f"<span style='color:{style.GREY}'>deleted point {rec.j}; {rec.steps} steps of η = {rec.lr:g}; arrows: "
            f"{rec.field_note}; computed in {rec.seconds:.2f} s</span>"
        )
        self._set_status("<br>".join(parts))

    def _draw_frame(self, k: int) -> None:
        rec = self.record
        if rec is None or k < 0:
            return
        k = min(k, len(rec.times) - 1)
        t = float(rec.times[k])
        self.eps_now.setValue(t)
        pos = rec.flows[k].reshape(-1, 2)
        colors = self._colors(rec)
        P = rec.flows.shape[2]
        brushes = [pg.mkBrush(colors[s]) for s in range(len(colors)) for _ in range(P)]
        ok = np.isfinite(pos).all(axis=1)
        self.now_item.setData(pos[ok, 0], pos[ok, 1], brush=[b for b, o in zip(brushes, ok) if o])
        self.frames.set_label(f"t = {t:.4g}")

    # -- runner (handlers in ComputesWhenInView) ---------------------------------------------------------
    def _show_result(self, rec: SchedulesRecord) -> None:
        self._set_record(rec)

    # -- Qt events ---------------------------------------------------------------------------------------
    def showEvent(self, ev):
        super().showEvent(ev)
        if self._dirty and not self._loading:
            self._timer.start()

    def closeEvent(self, ev):
        self.shutdown()
        super().closeEvent(ev)

    # -- export tables -----------------------------------------------------------------------------------
    def exportable(self) -> dict[str, tuple[pg.PlotWidget, object]]:
        """The plots with something drawn, for File → Export figures: name → (plot, CSV provider). The drawn-schedule
        editor is left out (it is laid out only while a schedule is being drawn)."""
        if self.record is None:
            return {}
        return {
            name: (plot, self._table_provider(name))
            for name, plot in self.plots().items()
            if name != "schedules-drawn"
        }

    def _table_provider(self, name: str):
        return {
            "schedules-eps": self.eps_table,
            "schedules-criterion": self.criterion_table,
            "schedules-step-scan": self.scan_table,
            "schedules-phase-portrait": self.phase_table,
            "schedules-drawn": self.draw_plot.table,
        }[name]

    def eps_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("schedule", "t", "eps"), []
        rows = [
            [rec.labels[k], float(t), float(e)]
            for k in range(len(rec.labels))
            for t, e in zip(rec.eps_times, rec.eps_curves[k])
        ]
        return ("schedule", "t", "eps"), rows

    def criterion_table(self) -> Table:
        rec = self.record
        header = ("schedule", "theta0", "in_E_s", "criterion", "criterion_function", "criterion_exact")
        if rec is None:
            return header, []
        rows = []
        for k, lab in enumerate(rec.labels):
            for p, pl in enumerate(rec.theta0_labels):
                ex = rec.criterion_exact[k, p] if rec.criterion_exact is not None else float("nan")
                rows.append(
                    [lab, pl, bool(rec.in_class[k]), rec.criterion[k, p], rec.criterion_function[k, p], ex]
                )
        return header, rows

    def scan_table(self) -> Table:
        rec = self.record
        header = ("scan", "param", "theta0", "criterion", "criterion_function", "criterion_exact")
        if rec is None:
            return header, []
        rows = []
        for p, pl in enumerate(rec.theta0_labels):
            for i, tau in enumerate(rec.step_params):
                ex = rec.step_exact[i, p] if rec.step_exact is not None else float("nan")
                rows.append(
                    ["step", tau, pl, rec.step_criterion[i, p], rec.step_criterion_function[i, p], ex]
                )
            for i, t1 in enumerate(rec.linear_params):
                rows.append(
                    [
                        "linear",
                        t1,
                        pl,
                        rec.linear_criterion[i, p],
                        rec.linear_criterion_function[i, p],
                        float("nan"),
                    ]
                )
        return header, rows

    def phase_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("series", "theta0", "t", "a", "b"), []
        a, b = (lab.split(" ")[0] for lab in rec.axis_labels)
        rows = [
            ["theta_star", "", "", *map(float, rec.theta_star_2d)],
            ["theta_star_del", "", "", *map(float, rec.target_2d)],
        ]
        for k, lab in enumerate(rec.labels):
            for p, pl in enumerate(rec.theta0_labels):
                for i, t in enumerate(rec.times):
                    rows.append(
                        [lab, pl, float(t), float(rec.flows[i, k, p, 0]), float(rec.flows[i, k, p, 1])]
                    )
        return ("series", "theta0", "t", a, b), rows


def register(window) -> SchedulesPanel:
    """Add the panel to a MainWindow as the dock "schedules" (uses the window's state and job runner)."""
    panel = SchedulesPanel(window.state, window.runner)
    window.add_dock_panel("schedules", "Schedules", panel)
    return panel
