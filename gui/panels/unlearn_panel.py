"""The Unlearning panel (docs/science.md §5): retrain vs Descend-to-Delete vs Rewind-to-Delete.

After T steps of full-batch gradient descent from θ₀ on all the points, the deleted point z_j is unlearned by

- retraining (exact unlearning): from θ₀, T steps without z_j — its end θ_R is the reference;
- D2D (Neel et al. 2021): from θ_T, more steps without z_j;
- R2D(K) (Mu & Klabjan 2024): rewind to the saved θ_{T−K}, then steps without z_j (K steps: the canonical R2D).

The panel draws the distance of each to θ_R — in parameters ‖θ − θ_R‖ or in function mean_i |f(θ; x_i) − f(θ_R; x_i)|
— against the number of unlearning steps (log scale; R2D with K = T *is* retraining, its curve lies on the
retraining curve), the unlearned models' curves f(θ; x) over the data, and with a noise σ > 0 the distances of the
published noisy models θ + σZ (a table over the noise draws). Every number comes from :func:`core.dynamics.unlearn.unlearn`
via :func:`gui.dynamics_tasks.unlearn_task` (job kind ``"unlearn"``), with the CLI's defaults
(``influence-lab unlearn``: K = T/10, T/4, T/2, T; budgets = the Ks; 200 noise draws).

The fit view can show the unlearned models: ``overlayRequested(name, xs, ys)`` is emitted for every model ticked
in "Show in fit view" (empty arrays when it is unticked or gone); :meth:`UnlearnPanel.overlays` returns the ticked
ones. The panel also draws them in its own small fit plot.

Wiring (the main window): ``register(window)`` adds the panel as the dock ``"unlearn"``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.dynamics_tasks import (
    RETRAINED,
    TRAINED,
    UNLEARN,
    UnlearnRecord,
    UnlearnRequest,
    base_problem,
    d2d_name,
    default_Ks,
    parse_steps,
    r2d_name,
    unlearn_task,
)
from gui.export import Table, install_export_actions
from gui.jobs import JobRunner
from gui.panels.common import ComputesWhenInView, legend_above
from gui.panels.schedules_panel import _cancel_kind, _make_plot
from gui.state import LabState

UPDATE_DELAY_MS = 150
#: R2D curves' colours (by K, in increasing order).
R2D_COLORS = ["#56B4E9", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#8C564B", "#B8A100"]
RETRAIN_COLOR = style.BLACK
D2D_COLOR = style.VERMILION
TRAINED_COLOR = style.GREY


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    v = float(v)
    return "–" if not math.isfinite(v) else f"{v:.{digits}g}"


def _positive(y: np.ndarray) -> np.ndarray:
    """Zeros (exactly retrained) cannot be drawn on a log axis: NaN there (the curve breaks)."""
    y = np.asarray(y, dtype=np.float64)
    return np.where(y > 0, y, np.nan)


class UnlearnPanel(ComputesWhenInView, QWidget):
    """Distances of retrain / D2D / R2D to the retrained model against unlearning steps (module docstring)."""

    #: a model curve for the fit view: (name, xs, ys); empty arrays remove it
    overlayRequested = Signal(str, object, object)
    #: a new :class:`gui.dynamics_tasks.UnlearnRecord` is shown
    recordChanged = Signal(object)
    JOB_KIND = UNLEARN
    RECORD_TYPE = UnlearnRecord

    def __init__(self, state: LabState, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("unlearnPanel")
        self.state = state
        self.runner = runner
        self.record: UnlearnRecord | None = None
        self._dirty = True
        self._loading = False
        self._last_request: UnlearnRequest | None = None
        self._emitted: set[str] = set()
        self._T_default = int(state.settings.steps)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_DELAY_MS)
        self._timer.timeout.connect(self._compute_if_in_view)

        # -- controls ------------------------------------------------------------------------------------
        self.j_label = QLabel("")
        self.j_label.setToolTip(
            "The point to unlearn: the deleted (analysed) point, else the selected one, else 0"
        )
        self.T_spin = QSpinBox()
        self.T_spin.setRange(1, 10_000_000)
        self.T_spin.setValue(self._T_default)
        self.T_spin.setKeyboardTracking(False)
        self.T_spin.setToolTip("Training length T: GD steps on all the points from θ₀ (and of retraining)")
        self.K_edit = QLineEdit()
        self.K_edit.setPlaceholderText("T/10, T/4, T/2, T")
        self.K_edit.setToolTip(
            "Rewind depths K of R2D, e.g. '5, 20, 50' (1 ≤ K ≤ T); empty: T/10, T/4, T/2, T. R2D(K) rewinds to "
            "θ_{T−K} and runs K steps without zⱼ; K = T is retraining"
        )
        self.budget_edit = QLineEdit()
        self.budget_edit.setPlaceholderText("the Ks")
        self.budget_edit.setToolTip(
            "Unlearning step budgets b of the table and of D2D (empty: the Ks); the curves run to the largest "
            "budget or K"
        )
        self.sigma_spin = QDoubleSpinBox()
        self.sigma_spin.setRange(0.0, 100.0)
        self.sigma_spin.setDecimals(4)
        self.sigma_spin.setSingleStep(0.001)
        self.sigma_spin.setKeyboardTracking(False)
        self.sigma_spin.setToolTip(
            "σ of the noise N(0, σ²I) added to the published parameters (certified unlearning); 0: none"
        )
        self.draws_spin = QSpinBox()
        self.draws_spin.setRange(1, 1_000_000)
        self.draws_spin.setValue(200)
        self.draws_spin.setKeyboardTracking(False)
        self.draws_spin.setToolTip("Number of noise draws Z ~ N(0, I) (the same draws for every method)")
        self.compute_btn = QPushButton("Compute")
        self.compute_btn.setToolTip("Recompute now (edits recompute automatically)")
        self.param_radio = QRadioButton("parameters ‖θ − θ_R‖")
        self.func_radio = QRadioButton("function mean |f − f_R|")
        self.func_radio.setChecked(True)
        self.func_radio.setToolTip(
            "Distance in function space, mean_i |f(θ; x_i) − f(θ_R; x_i)| over the training inputs (the primary "
            "metric: hidden units can be permuted)"
        )
        self.param_radio.setToolTip("Distance in parameter space ‖θ − θ_R‖")
        group = QButtonGroup(self)
        group.addButton(self.param_radio)
        group.addButton(self.func_radio)
        self.status = QLabel("")
        self.status.setObjectName("unlearnStatus")
        self.status.setWordWrap(True)

        # -- plots ---------------------------------------------------------------------------------------
        self.dist_plot = _make_plot(
            "unlearnDistancePlot",
            "Distance to the retrained model",
            "unlearning steps k",
            "mean |f(θ) − f(θ<sub>R</sub>)|",
            "Distance to the retrained model θ_R against unlearning steps: retraining from θ₀ (black), D2D from "
            "θ_T (vermilion), R2D from θ_{T−K} (blues/greens; rings: the canonical R2D(K) after K steps). Log "
            "scale: a curve stops where the distance is exactly 0 (R2D with K = T coincides with retraining)",
            axisItems={"left": style.LogAxis("left")},
        )
        dp = self.dist_plot.getPlotItem()
        dp.setLogMode(x=False, y=True)
        dp.getAxis("left").enableAutoSIPrefix(False)
        self.dist_legend = legend_above(self.dist_plot, 3)  # above the data: inside it covered the curves
        self.retrain_curve = pg.PlotDataItem(pen=pg.mkPen(RETRAIN_COLOR, width=2.5), name="retrain (from θ₀)")
        self.d2d_curve = pg.PlotDataItem(pen=pg.mkPen(D2D_COLOR, width=2.5), name="D2D (from θ<sub>T</sub>)")
        dp.addItem(self.retrain_curve)
        dp.addItem(self.d2d_curve)
        self.r2d_curves: list[pg.PlotDataItem] = []
        self.canonical_item = pg.PlotDataItem(
            pen=None, symbol="o", symbolSize=12, symbolBrush=pg.mkBrush(None)
        )
        dp.addItem(self.canonical_item)
        self.budget_lines: list[pg.InfiniteLine] = []

        self.fit_plot = _make_plot(
            "unlearnFitPlot",
            "Unlearned models",
            "x",
            "f(θ; x)",
            "The points (zⱼ orange) and the models ticked in 'Show in fit view'",
        )
        fp = self.fit_plot.getPlotItem()
        self.fit_legend = fp.addLegend(
            offset=(8, 8), labelTextColor=style.BLACK, brush=style.color("#ffffff", 220), labelTextSize="8pt"
        )
        self.points_item = pg.ScatterPlotItem(
            size=8, pen=pg.mkPen(style.BLACK, width=0.8), brush=pg.mkBrush(style.SKY)
        )
        self.deleted_item = pg.ScatterPlotItem(
            size=14, symbol="o", pen=pg.mkPen(style.ORANGE, width=2.5), brush=pg.mkBrush(None)
        )
        fp.addItem(self.points_item)
        fp.addItem(self.deleted_item)
        self.fit_curves: dict[str, pg.PlotDataItem] = {}

        self.show_list = QListWidget()
        self.show_list.setObjectName("unlearnShowList")
        self.show_list.setToolTip(
            "Show in fit view: tick the models to draw over the data (here and in the Data & fit view)"
        )
        self.show_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.noise_table = QTableWidget(0, 7)
        self.noise_table.setObjectName("unlearnNoiseTable")
        self.noise_table.setHorizontalHeaderLabels(
            ["published model", "‖Δθ‖ mean", "q05", "q95", "mean |Δf|", "q05", "q95"]
        )
        self.noise_table.verticalHeader().setVisible(False)
        self.noise_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.noise_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.noise_table.setToolTip(
            "Distances of the published noisy models θ + σZ to θ_R over the noise draws (mean and 5 % / 95 % "
            "quantiles); the retrained model is published noisy too"
        )
        self.noise_table.hide()

        # -- layout --------------------------------------------------------------------------------------
        top = QGridLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.j_label, 0, 0, 1, 2)
        top.addWidget(QLabel("T"), 0, 2, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.T_spin, 0, 3)
        top.addWidget(QLabel("K"), 0, 4, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.K_edit, 0, 5)
        top.addWidget(QLabel("budgets"), 0, 6, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.budget_edit, 0, 7)
        top.addWidget(QLabel("noise σ"), 1, 2, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.sigma_spin, 1, 3)
        top.addWidget(QLabel("draws"), 1, 4, Qt.AlignmentFlag.AlignRight)
        top.addWidget(self.draws_spin, 1, 5)
        row = QHBoxLayout()
        row.addWidget(QLabel("distance:"))
        row.addWidget(self.func_radio)
        row.addWidget(self.param_radio)
        row.addStretch(1)
        row.addWidget(self.compute_btn)
        top.addLayout(row, 1, 6, 1, 2)
        top.setColumnStretch(5, 1)
        top.setColumnStretch(7, 1)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.fit_plot, 3)
        rl.addWidget(QLabel("Show in fit view:"))
        rl.addWidget(self.show_list, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.dist_plot)
        self.splitter.addWidget(right)
        self.splitter.setSizes([620, 380])
        self.splitter.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.noise_table)
        lay.addWidget(self.status)

        install_export_actions(self.dist_plot, "unlearn-distance", self.distance_table)
        install_export_actions(self.fit_plot, "unlearn-models", self.models_table)

        # -- signals -------------------------------------------------------------------------------------
        self.T_spin.valueChanged.connect(self._on_edit)
        self.K_edit.editingFinished.connect(self._on_edit)
        self.budget_edit.editingFinished.connect(self._on_edit)
        self.sigma_spin.valueChanged.connect(self._on_edit)
        self.draws_spin.valueChanged.connect(self._on_edit)
        self.compute_btn.clicked.connect(self.compute_now)
        self.func_radio.toggled.connect(self._draw_distances)
        self.show_list.itemChanged.connect(self._on_show_changed)
        state.pointsChanged.connect(self._on_session_changed)
        state.modelChanged.connect(self._on_model_changed)
        state.selectionChanged.connect(self._on_session_changed)
        if hasattr(state, "analysisTargetChanged"):
            state.analysisTargetChanged.connect(self._on_session_changed)
        runner.resultReady.connect(self._on_result)
        runner.failed.connect(self._on_failed)
        runner.progress.connect(self._on_progress)
        self.destroyed.connect(functools.partial(_cancel_kind, runner, UNLEARN))
        self._update_j_label()

    # -- public API --------------------------------------------------------------------------------------
    def plots(self) -> dict[str, pg.PlotWidget]:
        return {"unlearn-distance": self.dist_plot, "unlearn-models": self.fit_plot}

    def exportable(self) -> dict[str, tuple[pg.PlotWidget, object]]:
        """The plots with something drawn, for File → Export figures: name → (plot, CSV provider)."""
        if self.record is None:
            return {}
        return {
            "unlearn-distance": (self.dist_plot, self.distance_table),
            "unlearn-models": (self.fit_plot, self.models_table),
        }

    def deleted_point(self) -> int | None:
        st = self.state
        if st.data.n == 0:
            return None
        j = getattr(st, "analysis_target", None)
        if j is None:
            j = st.selection
        return 0 if j is None else int(j)

    def build_request(self) -> UnlearnRequest:
        """The request for the current choices; ValueError with a user-readable message if invalid."""
        j = self.deleted_point()
        if j is None:
            raise ValueError("there are no points")
        T = int(self.T_spin.value())
        Ks = parse_steps(self.K_edit.text(), "K") or default_Ks(T)
        bad = [K for K in Ks if not 1 <= K <= T]
        if bad:
            raise ValueError(f"every K must lie in 1..T = {T}, got {bad}")
        budgets = parse_steps(self.budget_edit.text(), "budgets") or None
        if budgets is not None and min(budgets) < 0:
            raise ValueError("budgets must be ≥ 0")
        problem = base_problem(self.state.problem(), j)
        return UnlearnRequest(
            problem,
            j,
            T,
            tuple(Ks),
            None if budgets is None else tuple(budgets),
            float(self.sigma_spin.value()),
            int(self.draws_spin.value()),
        )

    def request_update(self) -> None:
        self._dirty = True
        if self.in_view() and not self._loading:
            self._timer.start()

    def compute_now(self) -> None:
        self._timer.stop()
        if self.runner.closed:
            return
        try:
            req = self.build_request()
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            self._dirty = False
            return
        self._dirty = False
        self._last_request = req
        self.runner.submit(
            UNLEARN,
            functools.partial(unlearn_task, req),
            self.state.revision,
            label=f"Unlearning point {req.j}",
        )
        self._set_status("Training and unlearning …")

    def is_busy(self) -> bool:
        return self._timer.isActive() or self.runner.is_running(UNLEARN)

    def shutdown(self) -> None:
        self._timer.stop()
        _cancel_kind(self.runner, UNLEARN)

    def overlays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The models ticked in "Show in fit view": name → (xs, ys)."""
        rec = self.record
        if rec is None:
            return {}
        out = {}
        for i in range(self.show_list.count()):
            it = self.show_list.item(i)
            name = it.data(Qt.ItemDataRole.UserRole)
            if it.checkState() == Qt.CheckState.Checked and name in rec.curves:
                out[name] = (rec.grid, rec.curves[name])
        return out

    def set_shown(self, names) -> None:
        """Tick exactly these models in "Show in fit view"."""
        names = set(names)
        self.show_list.blockSignals(True)
        for i in range(self.show_list.count()):
            it = self.show_list.item(i)
            on = it.data(Qt.ItemDataRole.UserRole) in names
            it.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.show_list.blockSignals(False)
        self._on_show_changed()

    # -- reacting ----------------------------------------------------------------------------------------
    def _on_edit(self, *_) -> None:
        if not self._loading:
            self.request_update()

    def _on_session_changed(self, *_) -> None:
        self._update_j_label()
        self.request_update()

    def _on_model_changed(self) -> None:
        steps = int(self.state.settings.steps)
        if self.T_spin.value() == self._T_default and steps != self._T_default:
            self._loading = True
            self.T_spin.setValue(steps)
            self._loading = False
        self._T_default = steps
        self.request_update()

    def _update_j_label(self) -> None:
        j = self.deleted_point()
        note = ""
        st = self.state.settings
        if st.optimizer != "gd":
            note = f" (GD with η = {st.lr:g}; the session trains with {st.optimizer})"
        self.j_label.setText(("no points" if j is None else f"unlearn point j = {j}") + note)

    # -- runner (handlers in ComputesWhenInView) ---------------------------------------------------------
    def _show_result(self, rec: UnlearnRecord) -> None:
        self.show_record(rec)

    # -- drawing -----------------------------------------------------------------------------------------
    def show_record(self, rec: UnlearnRecord) -> None:
        self.record = rec
        dp = self.dist_plot.getPlotItem()
        for it in self.r2d_curves:
            dp.removeItem(it)
        self.r2d_curves = []
        for r, K in enumerate(rec.Ks):
            c = R2D_COLORS[r % len(R2D_COLORS)]
            same = " = retraining" if int(K) == rec.T else ""
            it = pg.PlotDataItem(
                pen=pg.mkPen(c, width=2, style=Qt.PenStyle.DashLine), name=f"R2D, K = {int(K)}{same}"
            )
            dp.addItem(it)
            self.r2d_curves.append(it)
        for ln in self.budget_lines:
            dp.removeItem(ln)
        self.budget_lines = []
        for b in rec.budgets:
            ln = pg.InfiniteLine(
                pos=float(b), angle=90, pen=pg.mkPen(style.GREY, width=1, style=Qt.PenStyle.DotLine)
            )
            dp.addItem(ln, ignoreBounds=True)
            self.budget_lines.append(ln)
        self._fill_show_list()
        self._draw_distances()
        self._draw_models()
        self._fill_noise()

    def _draw_distances(self, *_) -> None:
        rec = self.record
        if rec is None:
            return
        fn = self.func_radio.isChecked()
        k = rec.steps.astype(np.float64)
        rp = rec.retrain_function if fn else rec.retrain_param
        dd = rec.d2d_function if fn else rec.d2d_param
        rr = rec.r2d_function if fn else rec.r2d_param
        self.retrain_curve.setData(k, _positive(rp), connect="finite")
        self.d2d_curve.setData(k, _positive(dd), connect="finite")
        for r, it in enumerate(self.r2d_curves):
            it.setData(k, _positive(rr[r]), connect="finite")
        cx, cy, pens = [], [], []
        for r, e in enumerate(rec.canonical):
            v = float(e["function"] if fn else e["param"])
            if v > 0:  # R2D(K = T) is exactly θ_R: no marker on a log axis
                cx.append(float(e["K"]))
                cy.append(v)
                pens.append(pg.mkPen(R2D_COLORS[r % len(R2D_COLORS)], width=2.5))
        self.canonical_item.setData(cx, cy, symbolPen=pens)
        style.set_labels(
            self.dist_plot.getPlotItem(),
            "unlearning steps k",
            "mean |f(θ) − f(θ<sub>R</sub>)|" if fn else "‖θ − θ<sub>R</sub>‖",
        )
        self.dist_plot.getPlotItem().setTitle(
            f"Distance to the retrained model, point {rec.j} (T = {rec.T}, η = {rec.lr:g})",
            color=style.BLACK,
            size="10pt",
        )
        self.dist_plot.getPlotItem().enableAutoRange()
        self._update_summary()

    def _fill_show_list(self) -> None:
        rec = self.record
        old = {
            self.show_list.item(i).data(Qt.ItemDataRole.UserRole): self.show_list.item(i).checkState()
            for i in range(self.show_list.count())
        }
        self.show_list.blockSignals(True)
        self.show_list.clear()
        defaults = {RETRAINED, d2d_name(int(rec.budgets.max())), r2d_name(int(rec.Ks.min()))}
        for name in rec.curves:
            it = QListWidgetItem(name)
            it.setData(Qt.ItemDataRole.UserRole, name)
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            state = old.get(name)
            if state is None:
                state = Qt.CheckState.Checked if name in defaults else Qt.CheckState.Unchecked
            it.setCheckState(state)
            self.show_list.addItem(it)
        self.show_list.blockSignals(False)
        self._on_show_changed()

    def _curve_color(self, name: str) -> str:
        rec = self.record
        if name == RETRAINED:
            return RETRAIN_COLOR
        if name == TRAINED:
            return TRAINED_COLOR
        if name.startswith("D2D"):
            return D2D_COLOR
        for r, K in enumerate(rec.Ks):
            if name == r2d_name(int(K)):
                return R2D_COLORS[r % len(R2D_COLORS)]
        return style.GREY

    def _on_show_changed(self, *_) -> None:
        shown = self.overlays()
        for name in sorted(self._emitted - set(shown)):
            self.overlayRequested.emit(name, np.zeros(0), np.zeros(0))
        for name, (xs, ys) in shown.items():
            self.overlayRequested.emit(name, xs, ys)
        self._emitted = set(shown)
        self._draw_models()

    def _draw_models(self) -> None:
        rec = self.record
        if rec is None:
            return
        fp = self.fit_plot.getPlotItem()
        keep = rec.data_weight > 0
        self.points_item.setData(
            rec.data_x, rec.data_y, brush=[pg.mkBrush(style.SKY if k else "w") for k in keep]
        )
        self.deleted_item.setData([rec.data_x[rec.j]], [rec.data_y[rec.j]])
        shown = self.overlays()
        for name in list(self.fit_curves):
            if name not in shown:
                fp.removeItem(self.fit_curves.pop(name))
        for name, (xs, ys) in shown.items():
            dashed = name.startswith("R2D")
            pen = pg.mkPen(
                self._curve_color(name),
                width=2.2,
                style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine,
            )
            if name not in self.fit_curves:
                it = pg.PlotDataItem(name=name)
                fp.addItem(it)
                self.fit_curves[name] = it
            self.fit_curves[name].setData(xs, ys, pen=pen)
        fp.setTitle(f"Unlearned models (point {rec.j} orange)", color=style.BLACK, size="10pt")

    def _fill_noise(self) -> None:
        rec = self.record
        if rec.noise is None:
            self.noise_table.hide()
            self.noise_table.setRowCount(0)
            return
        self.noise_table.setRowCount(len(rec.noise))
        for r, row in enumerate(rec.noise):
            vals = [
                row["method"],
                _fmt(row["param"]["mean"]),
                _fmt(row["param"]["q05"]),
                _fmt(row["param"]["q95"]),
                _fmt(row["function"]["mean"]),
                _fmt(row["function"]["q05"]),
                _fmt(row["function"]["q95"]),
            ]
            for c, v in enumerate(vals):
                self.noise_table.setItem(r, c, QTableWidgetItem(v))
        self.noise_table.setMaximumHeight(160)
        self.noise_table.show()

    def _update_summary(self) -> None:
        rec = self.record
        fn = self.func_radio.isChecked()
        key = "function" if fn else "param"
        parts = []
        can = ", ".join(f"K = {e['K']}: {_fmt(e[key])}" for e in rec.canonical)
        parts.append(f"<b>R2D(K)</b> after its K steps: {can}")
        d2d = ", ".join(f"b = {row['budget']}: {_fmt(row['d2d'][key])}" for row in rec.table)
        parts.append(f"<b>D2D</b> after b steps: {d2d}")
        unit = "mean |Δf|" if fn else "‖Δθ‖"
        note = d2d_reference_note(rec, "function" if fn else "param")
        if note:
            parts.append(f"<span style='color:{style.ORANGE}'>{note}</span>")
        parts.append(
            f"<span style='color:{style.GREY}'>distance to the retrained model ({unit}); T = {rec.T} GD steps of "
            f"η = {rec.lr:g}; computed in {rec.seconds:.2f} s</span>"
        )
        self._set_status("<br>".join(parts))

    # -- Qt events ---------------------------------------------------------------------------------------
    def showEvent(self, ev):
        super().showEvent(ev)
        if self._dirty:
            self._timer.start()

    def closeEvent(self, ev):
        self.shutdown()
        super().closeEvent(ev)

    # -- export tables -----------------------------------------------------------------------------------
    def distance_table(self) -> Table:
        rec = self.record
        header = ("method", "step", "param_distance", "function_distance")
        if rec is None:
            return header, []
        rows = []
        for name, p, f in [
            ("retrain", rec.retrain_param, rec.retrain_function),
            ("d2d", rec.d2d_param, rec.d2d_function),
        ] + [(f"r2d K={int(K)}", rec.r2d_param[r], rec.r2d_function[r]) for r, K in enumerate(rec.Ks)]:
            rows += [[name, int(k), float(a), float(b)] for k, a, b in zip(rec.steps, p, f)]
        return header, rows

    def models_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("series", "x", "y"), []
        rows = [["point", float(x), float(y)] for x, y in zip(rec.data_x, rec.data_y)]
        for name, (xs, ys) in self.overlays().items():
            rows += [[name, float(x), float(y)] for x, y in zip(xs, ys)]
        return ("series", "x", "y"), rows


def register(window) -> UnlearnPanel:
    """Add the panel to a MainWindow as the dock "unlearn" (uses the window's state and job runner)."""
    panel = UnlearnPanel(window.state, window.runner)
    window.add_dock_panel("unlearn", "Unlearning", panel)
    return panel


def d2d_reference_note(rec, key: str) -> str:
    """Why D2D's distance to the retrained model can grow with more steps, when it does: the reference θ_R is
    gradient descent stopped after T steps, not the minimiser without z_j that D2D descends to."""
    d = np.asarray(rec.d2d_function if key == "function" else rec.d2d_param, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 3 or d[-1] <= 1.05 * d.min():
        return ""
    g = rec.retrain_grad_norm
    stopped = f"‖∇L₋ⱼ(θ_R)‖ = {g:.2g}, " if np.isfinite(g) else ""
    return (
        f"D2D moves away from θ_R as it takes more steps: θ_R is the retrained model stopped after T = {rec.T} steps "
        f"({stopped}not the minimiser without z_j), while D2D keeps descending towards that minimiser. The growing "
        "distance measures how far θ_R stopped short, not an error of D2D."
    )
