"""The Attribution panel: every training point's influence by every method, side
by side with exact leave-one-out.

- The table: one row per point (index, x, y, [corrupted], a soft weight, then one column per method of core's
  :class:`core.attribution.methods.AttributionTable`), sortable by clicking a header (numeric, NaN last; method columns
  sort largest first on the first click). The fast methods (ticked check boxes) are computed by "Compute", or by
  themselves when the tab is shown after a fit; Data Shapley and the BIF (Monte Carlo, seconds to minutes) by
  their own buttons, their running estimates filling the table as they arrive (at most 5 times a second).
  "Export CSV…" writes exactly ``AttributionTable.to_csv_text()``. Clicking a row selects the point.
- What an effect is measured on (the query, core.attribution.methods.Query): each point's own loss, one chosen point's
  loss, or the mean loss on the validation set (the teacher grid of a preset, as the CLI's default).
- Agreement: a chosen column against the exact-LOO reference column (scatter, y = x diagonal), with Pearson,
  Spearman and top-k overlap (core.attribution.methods.agreement).
- Detection: fraction of the known corrupted points found against the fraction inspected, one curve per method
  (core.attribution.methods.detection_curve), when the data marks corrupted points (the ``outliers`` preset).
- Colour the fit view's points by a chosen column (``colouringRequested``; the main window forwards it to
  :meth:`gui.panels.fit_view.FitView.set_external_colouring`).
- Soft weights: edit the weight column (in [0, 1]) and compare the influence-corrected fit with retraining under
  those weights (core.attribution.methods.soft_weight_estimates).
- Stagewise: a point's influence by a chosen method along training (core.attribution.methods.stagewise_influence).

Every number comes from :mod:`core.attribution.methods` through the worker tasks of :mod:`gui.attribution_tasks`; this
module only merges columns and draws.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.atomic import atomic_write_text
from core.attribution.methods import (
    STAGEWISE_METHODS,
    AttributionTable,
    BIFConfig,
    ShapleyConfig,
    agreement,
    column_doc,
    column_kind,
)
from core.limits import MAX_STEPS
from gui import style
from gui.attribution_tasks import (
    BIF,
    FAST_METHODS,
    KINDS,
    SHAPLEY,
    SOFT,
    SOFT_FITS,
    SOFT_LABELS,
    STAGEWISE,
    TABLE,
    SoftRecord,
    SoftRequest,
    StagewiseRecord,
    StagewiseRequest,
    TableRecord,
    TableRequest,
    bif_config,
    label,
    merge_tables,
    shapley_config,
    soft_task,
    stagewise_task,
    table_task,
    validation_for,
)
from gui.export import Table, install_export_actions
from gui.jobs import JobRunner
from gui.panels.common import (
    PARAM_COLORS,
    ComputesWhenInView,
    empty_text,
    fmt,
    legend_above,
    make_plot,
    set_axis_label,
    set_title,
)
from gui.panels.schedules_panel import _cancel_kind
from gui.state import LabState

#: Debounce of the automatic recomputation after an edit (ms).
UPDATE_DELAY_MS = 200
#: Partial results (Shapley's running estimates) refresh the table and plots at most this often (ms): ≤ 5 Hz.
REFRESH_MS = 200
#: Columns before the methods' ones.
FIXED = ("index", "x", "y", "corrupted", "weight")
FIXED_DOC = {
    "index": "The point's index in the data (as in the fit view)",
    "x": "The point's input x",
    "y": "The point's label y",
    "corrupted": "'yes' if the preset corrupted this point's label (the outliers preset; 1 / 0 in the CSV)",
    "weight": "Soft weight w_i ∈ [0, 1] for 'Run soft weights' (double-click to edit; starts at the data weights)",
}
CORRUPTED_BRUSH = QColor(204, 121, 167, 45)
WEIGHT_BRUSH = QColor(240, 228, 66, 40)
#: Pens of the soft-weights plot's fits.
SOFT_PENS = {
    "original": dict(color=style.GREY, width=2),
    "if": dict(color=style.GREEN, width=2.4),
    "newton": dict(color=style.PURPLE, width=2, style=Qt.PenStyle.DotLine),
    "warm": dict(color=style.SKY, width=2.2, style=Qt.PenStyle.DashLine),
    "cold": dict(color=style.BLACK, width=2.2),
}


def _method_color(name: str) -> str:
    base = name[:-3] if name.endswith("_se") else name
    order = list(FAST_METHODS) + [
        "bif",
        "shapley",
        "cooks_distance",
        "studentized_residual",
        "dfbetas_max_abs",
    ]
    k = order.index(base) if base in order else len(order) + sum(map(ord, base)) % 5
    return PARAM_COLORS[k % len(PARAM_COLORS)]


def _same_columns(a: AttributionTable, b: AttributionTable) -> bool:
    """The same columns with the same numbers (snapshots of a running table share unchanged arrays)."""
    if list(a.columns) != list(b.columns):
        return False
    return all(a.columns[c] is b.columns[c] or np.array_equal(a.columns[c], b.columns[c]) for c in a.columns)


def _cell(v: float) -> str:
    return "nan" if not math.isfinite(v) else f"{v:.4g}"


# ------------------------------------------------------------------------------------------------------
# the table model
# ------------------------------------------------------------------------------------------------------


class AttributionModel(QAbstractTableModel):
    """Rows = points, columns = FIXED (``corrupted`` only when the data marks corrupted points) + the methods'
    columns of an AttributionTable. Sorting keeps a row permutation (numeric, NaN last, stable)."""

    weightsEdited = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.point_index = np.zeros(0, dtype=int)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.corrupted = np.zeros(0, dtype=bool)
        self.weights = np.zeros(0)
        self.table: AttributionTable | None = None
        self.fixed: list[str] = ["index", "x", "y", "weight"]
        self.names: list[str] = []
        self.order = np.zeros(0, dtype=int)
        #: the column sorted by (its name: columns come and go) and the order
        self.sort_name: str | None = None
        self.sort_order = Qt.SortOrder.AscendingOrder

    # -- content -----------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.x.size)

    def columns(self) -> list[str]:
        return self.fixed + self.names

    @property
    def sort_column(self) -> int:
        cols = self.columns()
        return cols.index(self.sort_name) if self.sort_name in cols else -1

    def set_points(self, x, y, corrupted, weights) -> None:
        """New points (the table is cleared: it belonged to other points)."""
        self.beginResetModel()
        self.x = np.asarray(x, dtype=np.float64).copy()
        self.y = np.asarray(y, dtype=np.float64).copy()
        n = self.x.size
        self.point_index = np.arange(n)
        self.corrupted = np.zeros(n, dtype=bool)
        bad = [int(i) for i in corrupted if 0 <= int(i) < n]
        self.corrupted[bad] = True
        self.weights = np.asarray(weights, dtype=np.float64).copy()
        self.fixed = ["index", "x", "y"] + (["corrupted"] if bad else []) + ["weight"]
        self.table = None
        self.names = []
        self.order = np.arange(n)
        self._resort()
        self.endResetModel()

    def set_table(self, table: AttributionTable | None) -> None:
        """Show ``table``'s columns (same points). New or removed columns reset the model; new values of the same
        columns only emit dataChanged (and re-sort when the sorted column changed)."""
        if table is not None and table.n != self.n:
            table = None
        names = [] if table is None else list(table.columns)
        if names != self.names:
            self.beginResetModel()
            self.table, self.names = table, names
            self._resort()
            self.endResetModel()
            return
        self.table = table
        if names and self.n:
            first = len(self.fixed)
            self.dataChanged.emit(self.index(0, first), self.index(self.n - 1, first + len(names) - 1))
            if self.sort_column >= first:
                self._apply_order(self._sorted_order(self.sort_column, self.sort_order))

    def set_weights(self, weights) -> None:
        self.weights = np.asarray(weights, dtype=np.float64).copy()
        c = self.fixed.index("weight")
        if self.n:
            self.dataChanged.emit(self.index(0, c), self.index(self.n - 1, c))

    def values(self, column: int | str) -> np.ndarray:
        """The numbers of a column by point (not in display order)."""
        name = self.columns()[column] if isinstance(column, int) else column
        if name == "index":
            return self.point_index.astype(np.float64)
        if name == "x":
            return self.x
        if name == "y":
            return self.y
        if name == "corrupted":
            return self.corrupted.astype(np.float64)
        if name == "weight":
            return self.weights
        return np.asarray(self.table.columns[name], dtype=np.float64)

    def point_at(self, row: int) -> int:
        """The point shown in display row ``row``."""
        return int(self.order[row])

    def row_of(self, point: int) -> int:
        hits = np.flatnonzero(self.order == point)
        return int(hits[0]) if hits.size else -1

    # -- Qt model API ------------------------------------------------------------------------------------
    def rowCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else self.n

    def columnCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.columns())

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        p = int(self.order[index.row()])
        name = self.columns()[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if name == "index":
                return str(p) if role == Qt.ItemDataRole.DisplayRole else p
            if name == "corrupted":
                return "yes" if self.corrupted[p] else ""
            v = float(self.values(name)[p])
            if role == Qt.ItemDataRole.EditRole:
                return v
            return f"{v:.3g}" if name == "weight" else _cell(v)
        if role == Qt.ItemDataRole.ToolTipRole:
            if name in ("index", "corrupted"):
                return FIXED_DOC[name]
            v = float(self.values(name)[p])
            doc = FIXED_DOC.get(name) or column_doc(name)
            return f"point {p}: {label(name)} = {v!r}\n{doc}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            if name == "weight":
                return WEIGHT_BRUSH
            if self.corrupted[p]:
                return CORRUPTED_BRUSH
            return None
        if role == Qt.ItemDataRole.ForegroundRole and name not in FIXED:
            if not math.isfinite(float(self.values(name)[p])):
                return QColor(style.GREY)
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or self.columns()[index.column()] != "weight":
            return False
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if not (math.isfinite(v) and 0.0 <= v <= 1.0):
            return False
        self.weights[int(self.order[index.row()])] = v
        self.dataChanged.emit(index, index)
        self.weightsEdited.emit()
        return True

    def flags(self, index):
        f = super().flags(index)
        if index.isValid() and self.columns()[index.column()] == "weight":
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return str(section + 1)
            return None
        cols = self.columns()
        if not 0 <= section < len(cols):
            return None
        name = cols[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return "weight ✎" if name == "weight" else label(name)
        if role == Qt.ItemDataRole.ToolTipRole:
            if name in FIXED:
                return FIXED_DOC[name] + " — click to sort"
            kind = column_kind(name)
            return (
                f"{name} ({kind}): {column_doc(name)} — click to sort (largest first, again: smallest first)"
            )
        if role == Qt.ItemDataRole.InitialSortOrderRole:
            desc = name not in FIXED
            return Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder
        return None

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        cols = self.columns()
        self.sort_name = cols[column] if 0 <= column < len(cols) else None
        self.sort_order = order
        self._apply_order(self._sorted_order(self.sort_column, order))

    # -- sorting -----------------------------------------------------------------------------------------
    def _sorted_order(self, column: int, order) -> np.ndarray:
        n = self.n
        if not 0 <= column < len(self.columns()):
            return np.arange(n)
        v = np.array(self.values(column), dtype=np.float64)
        nan = np.isnan(v)
        key = v if order == Qt.SortOrder.AscendingOrder else -v
        key = np.where(nan, 0.0, key)
        return np.lexsort((np.arange(n), key, nan))  # NaN last, then by value, ties by point index

    def _resort(self) -> None:
        self.order = self._sorted_order(self.sort_column, self.sort_order)

    def _apply_order(self, new: np.ndarray) -> None:
        if np.array_equal(new, self.order):
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()  # the view's selection and current cell follow their points
        points = [int(self.order[i.row()]) for i in old]
        self.order = new
        pos = np.empty(self.n, dtype=int)
        pos[new] = np.arange(self.n)
        self.changePersistentIndexList(
            old, [self.index(int(pos[p]), i.column()) for i, p in zip(old, points)]
        )
        self.layoutChanged.emit()


class WeightDelegate(QStyledItemDelegate):
    """Edits the weight column with a spin box limited to [0, 1]."""

    def createEditor(self, parent, option, index):
        box = QDoubleSpinBox(parent)
        box.setRange(0.0, 1.0)
        box.setDecimals(3)
        box.setSingleStep(0.1)
        box.setToolTip("Soft weight w_i ∈ [0, 1] (0 = deleted, 1 = full)")
        return box

    def setEditorData(self, editor, index):
        editor.setValue(float(index.data(Qt.ItemDataRole.EditRole)))

    def setModelData(self, editor, model, index):
        editor.interpretText()
        model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)


# ------------------------------------------------------------------------------------------------------
# the panel
# ------------------------------------------------------------------------------------------------------


def agreement_text(method: str, reference: str, a: dict) -> str:
    """The agreement label: Pearson, Spearman and top-k overlap of ``method`` with ``reference``."""
    return (
        f"{label(method)} vs {label(reference)}: Pearson r = {fmt(a['pearson'], 4)} · Spearman ρ = "
        f"{fmt(a['spearman'], 4)} · top-{a['k']} overlap (by |value|) = {fmt(a['top_k'], 3)} · n = {a['n']}"
    )


class AttributionPanel(ComputesWhenInView, QWidget):
    """The attribution table, its agreement and detection plots, soft weights and stagewise influence."""

    #: colour the fit view's points by a column: (name, values by point) or (None, None) to stop
    colouringRequested = Signal(object, object)
    #: the merged table shown changed (an AttributionTable or None)
    tableChanged = Signal(object)
    #: a soft-weights or stagewise record arrived
    recordChanged = Signal(object)

    def __init__(self, state: LabState, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("attributionPanel")
        self.state = state
        self.runner = runner
        self._dirty = True
        self._loading = False
        #: the requests of the live / last jobs, by kind (results of other requests are ignored)
        self._requests: dict[str, object] = {}
        #: the fast methods' table: (key, table) with key = (revision, query key)
        self._fast: tuple[tuple, AttributionTable] | None = None
        #: Monte-Carlo tables by kind: (key, table, final)
        self._slow: dict[str, tuple[tuple, AttributionTable, bool]] = {}
        self._pending: dict[str, AttributionTable] = {}
        self._messages: dict[str, str] = {}
        self.table: AttributionTable | None = None
        self.soft: SoftRecord | None = None
        self.stage: StagewiseRecord | None = None
        self.agreement: dict | None = None
        self._points_stale = True
        self._colour_sent: tuple | None = None

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPDATE_DELAY_MS)
        self._timer.timeout.connect(self._compute_if_in_view)
        self._refresh = QTimer(self)
        self._refresh.setSingleShot(True)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self._apply_pending)

        self._build_controls()
        self._build_table()
        self._build_plots()
        self._build_layout()

        self.model.weightsEdited.connect(self._on_weights_edited)
        state.revisionChanged.connect(self._on_revision)
        state.dampingChanged.connect(self._on_edit)
        state.fitChanged.connect(self._on_fit)
        state.selectionChanged.connect(self._on_selection)
        runner.resultReady.connect(self._on_result)
        runner.failed.connect(self._on_failed)
        runner.progress.connect(self._on_progress)
        runner.jobsChanged.connect(self._update_buttons)
        for kind in KINDS:
            self.destroyed.connect(functools.partial(_cancel_kind, runner, kind))
        self._load_points()

    # -- construction ------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.query_combo = QComboBox()
        self.query_combo.addItem("each point's own loss", "self")
        self.query_combo.addItem("the loss of point …", "point")
        self.query_combo.addItem("mean validation loss", "validation")
        self.query_combo.setToolTip(
            "What every effect column measures: the change of this loss when point i is deleted — row i's own "
            "loss ℓ_i (self), one chosen point's loss ℓ_q, or the mean loss on the validation set (the teacher "
            "grid of a preset: 100 noise-free points; needs data with a teacher function)"
        )
        self.query_point = QSpinBox()
        self.query_point.setRange(0, 0)
        self.query_point.setKeyboardTracking(False)
        self.query_point.setToolTip(
            "The query point q (its loss ℓ_q is the query when 'the loss of point …')"
        )
        self.method_boxes: dict[str, QCheckBox] = {}
        tips = {
            "loo_cold": "Exact leave-one-out: retrain from θ₀ without the point (all n retrains in one batch) — the "
            "reference column",
            "loo_warm": "Leave-one-out retrained from θˢ by Levenberg–Marquardt (argmin L₋ᵢ)",
            "if": "Influence function ∇ℓ_qᵀ H⁻¹ ∇ℓ_i / n (exact Hessian)",
            "if_gnh": "Damped Gauss–Newton influence ∇ℓ_qᵀ (G + λI)⁻¹ ∇ℓ_i / n (the linearised PBRF)",
            "pbrf": "Proximal Bregman response function solved by LM (needs λ > 0)",
            "newton": "One Newton step on L₋ᵢ from θ̂ (Koh et al. 2019)",
            "self_influence": "Self-influence s_i = ∇ℓ_iᵀ H⁻¹ ∇ℓ_i (query-independent)",
            "leverage": "Jacobian leverage h_i = ∇f_iᵀ (nG)⁻¹ ∇f_i (query-independent)",
            "tracin": "TracIn Σ_k η_k ∇ℓ_i(θ_k)·∇ℓ_q(θ_k) over the training checkpoints (≈ n × the deletion effect)",
            "ols": "Linear models: Cook's distance, studentised residuals, DFBETAS",
        }
        for m in FAST_METHODS:
            box = QCheckBox(label(m) if m != "ols" else "OLS")
            box.setChecked(True)
            box.setToolTip(tips.get(m, column_doc(m)))
            box.toggled.connect(self._on_edit)
            self.method_boxes[m] = box
        self.compute_btn = QPushButton("Compute")
        self.compute_btn.setToolTip(
            "Compute the ticked fast methods now (they recompute by themselves after a fit while this tab is "
            "shown)"
        )
        self.compute_btn.clicked.connect(self.compute_now)

        sd, bd = ShapleyConfig(), BIFConfig()
        self.perm_spin = QSpinBox()
        self.perm_spin.setRange(1, 1_000_000)
        self.perm_spin.setValue(sd.max_permutations)
        self.perm_spin.setToolTip(
            f"Permutation budget of TMC Data Shapley (default {sd.max_permutations}); it stops earlier when the "
            f"running means settle (change < {sd.convergence_tol:g} over {sd.convergence_window} permutations)"
        )
        self.shapley_btn = QPushButton("Run Shapley")
        self.shapley_btn.setToolTip(
            "Truncated Monte-Carlo Data Shapley (Ghorbani & Zou 2019), V = −MSE on the validation set; the "
            "running estimates fill the table as they arrive. Needs a preset (teacher grid as validation set)"
        )
        self.shapley_btn.clicked.connect(self.run_shapley)
        self.chains_spin = QSpinBox()
        self.chains_spin.setRange(1, 1000)
        self.chains_spin.setValue(bd.chains)
        self.chains_spin.setToolTip(f"SGLD chains of the Bayesian influence function (default {bd.chains})")
        self.bif_steps_spin = QSpinBox()
        self.bif_steps_spin.setRange(4, MAX_STEPS)
        self.bif_steps_spin.setSingleStep(1000)
        self.bif_steps_spin.setValue(bd.steps)
        self.bif_steps_spin.setToolTip(
            f"SGLD sampling steps per chain after the automatic burn-in (default {bd.steps}; a draw every "
            f"{bd.thin} steps)"
        )
        self.bif_btn = QPushButton("Run BIF")
        self.bif_btn.setToolTip(
            "Bayesian influence function (Kreer et al. 2025): β·Cov(ℓ_i, ℓ_q) under the localised posterior "
            "sampled by SGLD (β = 100, γ = 0.1·nβ)"
        )
        self.bif_btn.clicked.connect(self.run_bif)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip(
            "Stop this panel's running computations (Shapley's running estimates stay in the table)"
        )
        self.cancel_btn.clicked.connect(self.cancel)
        self.export_btn = QPushButton("Export CSV…")
        self.export_btn.setToolTip(
            "Save the table as CSV: index, x, y[, corrupted], then one column per method at full precision (the "
            "same file as influence-lab attribute --csv)"
        )
        self.export_btn.clicked.connect(self.export_csv_dialog)
        self.colour_combo = QComboBox()
        self.colour_combo.addItem("nothing", None)
        self.colour_combo.setToolTip(
            "Colour the points of the Data & fit view by this column of the table (dark = low, yellow = high)"
        )
        self.colour_combo.currentIndexChanged.connect(self._send_colouring)

        self.query_combo.currentIndexChanged.connect(self._on_query_changed)
        self.query_point.valueChanged.connect(self._on_query_changed)

    def _build_table(self) -> None:
        self.model = AttributionModel(self)
        self.view = QTableView()
        self.view.setObjectName("attributionTable")
        self.view.setModel(self.model)
        self.weight_delegate = WeightDelegate(self.view)
        self._weight_col = -1
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setSortIndicatorShown(True)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.view.setAlternatingRowColors(True)
        self.view.setToolTip(
            "One row per point, one column per method (hover a header for its meaning). Click a header to sort; "
            "click a row to select the point; double-click a weight to edit it"
        )
        self.view.setMinimumWidth(300)
        self.view.clicked.connect(self._on_row_clicked)
        self.model.modelReset.connect(self._after_reset)

    def _card(self, plot: pg.PlotWidget, controls: list | None, note: QLabel) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        if controls:
            row = QHBoxLayout()
            row.setContentsMargins(0, 0, 0, 0)
            for c in controls:
                if c is None:
                    row.addStretch(1)
                elif isinstance(c, str):
                    row.addWidget(QLabel(c))
                else:
                    row.addWidget(c)
            lay.addLayout(row)
        lay.addWidget(plot, 1)
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.RichText)
        note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(note)
        return w

    def _build_plots(self) -> None:
        # agreement with exact LOO
        self.scatter_method = QComboBox()
        self.scatter_method.setToolTip("The column plotted against the exact-LOO reference")
        self.scatter_method.currentIndexChanged.connect(self._draw_scatter)
        self.scatter_plot = make_plot(
            "attributionScatterPlot",
            "Agreement with exact LOO",
            "exact LOO",
            "method",
            "Every point's value by the chosen method (vertical) against exact leave-one-out (horizontal); the "
            "dashed line is y = x; corrupted points (outliers preset) are squares, the selected point is ringed",
        )
        sp = self.scatter_plot.getPlotItem()
        self.diagonal = pg.InfiniteLine(
            pos=(0, 0), angle=45, pen=pg.mkPen(style.GREY, width=1.2, style=Qt.PenStyle.DashLine)
        )
        sp.addItem(self.diagonal, ignoreBounds=True)
        self.scatter_item = pg.ScatterPlotItem(
            size=8, pen=pg.mkPen("w", width=0.8), brush=pg.mkBrush(style.BLUE), name="points"
        )
        self.scatter_bad = pg.ScatterPlotItem(
            size=13, symbol="s", pen=pg.mkPen(style.CORRUPTED_COLOR, width=1.8), brush=pg.mkBrush(None)
        )
        self.scatter_sel = pg.ScatterPlotItem(
            size=17, pen=pg.mkPen(style.SELECT_COLOR, width=2.5), brush=pg.mkBrush(None)
        )
        for it in (self.scatter_bad, self.scatter_item, self.scatter_sel):
            sp.addItem(it)
        self.scatter_empty = empty_text(self.scatter_plot, "")
        self.agreement_label = QLabel("")
        self.agreement_label.setObjectName("attributionAgreement")
        self.agreement_label.setToolTip(
            "Pearson's r, Spearman's ρ and the overlap of the top-k points by |value| (k = ⌈0.15 n⌉) between the "
            "chosen column and exact LOO (core.attribution.methods.agreement)"
        )

        # detection
        self.detect_plot = make_plot(
            "attributionDetectionPlot",
            "Mislabel detection",
            "fraction of points inspected",
            "fraction of corrupted found",
            "Inspect the points in each method's ranking (most suspicious first) and count the corrupted points "
            "found; the dashed diagonal is a random ranking. Needs data with known corrupted points (the outliers "
            "preset)",
        )
        dp = self.detect_plot.getPlotItem()
        dp.setXRange(0, 1, padding=0.02)
        dp.setYRange(0, 1, padding=0.02)
        dp.getViewBox().disableAutoRange()
        dp.addItem(
            pg.PlotDataItem([0, 1], [0, 1], pen=pg.mkPen(style.GREY, width=1, style=Qt.PenStyle.DashLine)),
            ignoreBounds=True,
        )
        self.detect_legend = legend_above(self.detect_plot, 4)  # one entry per method: never over the curves
        self.detect_curves: dict[str, pg.PlotDataItem] = {}
        self.detect_empty = empty_text(self.detect_plot, "")
        self.detect_label = QLabel("")
        self.detect_label.setObjectName("attributionDetection")
        self.detect_label.setToolTip(
            "Area under each detection curve (1 = every corrupted point ranked first, ≈ 0.5 = random)"
        )

        # soft weights
        self.soft_reset_btn = QPushButton("Reset weights")
        self.soft_reset_btn.setToolTip("Set the weight column back to the data's weights")
        self.soft_reset_btn.clicked.connect(self.reset_weights)
        self.soft_btn = QPushButton("Run soft weights")
        self.soft_btn.setToolTip(
            "Compare the influence-corrected fit θ̂ + H⁻¹ Σ_i (w⁰_i − w_i) ∇ℓ_i / n with retraining under the "
            "weight column's weights (from θ₀, and warm by LM from θ̂) — soft-weighted unlearning, Qiao et al. 2025"
        )
        self.soft_btn.clicked.connect(self.run_soft)
        self.soft_plot = make_plot(
            "attributionSoftPlot",
            "Soft weights: IF-corrected vs retrained",
            "x",
            "f(θ; x)",
            "The original fit, the influence-corrected fit and the fits retrained with the soft weights; "
            "down-weighted points are orange, their fill fading with the weight (hollow: weight 0)",
        )
        sfp = self.soft_plot.getPlotItem()
        self.soft_legend = legend_above(self.soft_plot, 3)
        self.soft_points = pg.ScatterPlotItem(size=8)
        sfp.addItem(self.soft_points)
        self.soft_curves = {
            k: pg.PlotDataItem(pen=pg.mkPen(**SOFT_PENS[k]), name=SOFT_LABELS[k]) for k in SOFT_FITS
        }
        for it in self.soft_curves.values():
            sfp.addItem(it)
        self.soft_empty = empty_text(self.soft_plot, "")
        self.soft_label = QLabel("")
        self.soft_label.setObjectName("attributionSoft")
        self.soft_label.setToolTip(
            "Distance of each fit to the model retrained from θ₀ with the soft weights: mean_i |Δf(x_i)| (function "
            "space, the primary metric) and ‖Δθ‖"
        )

        # stagewise
        self.stage_method = QComboBox()
        for m in STAGEWISE_METHODS:
            self.stage_method.addItem(label(m), m)
        self.stage_method.setToolTip(
            "The method evaluated at checkpoints θ_k along training (TracIn: its running sum; BIF: one SGLD "
            "posterior per checkpoint, slow)"
        )
        self.stage_point = QSpinBox()
        self.stage_point.setRange(0, 0)
        self.stage_point.setToolTip("The point whose influence is drawn (follows the selection)")
        self.stage_point.valueChanged.connect(self._draw_stage)
        self.stage_btn = QPushButton("Run")
        self.stage_btn.setToolTip(
            "Compute the chosen method at checkpoints along training (in the background)"
        )
        self.stage_btn.clicked.connect(self.run_stagewise)
        self.stage_plot = make_plot(
            "attributionStagewisePlot",
            "Stagewise influence",
            "training time t = η·step",
            "influence",
            "The chosen point's influence by the chosen method at checkpoints θ_k along training (Lee et al. "
            "2025); dashed: its value in the table (at θ̂), dotted: exact LOO",
        )
        stp = self.stage_plot.getPlotItem()
        self.stage_curve = pg.PlotDataItem(pen=pg.mkPen(style.BLUE, width=2.2), name="stagewise")
        self.stage_final = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(style.BLUE, width=1.2, style=Qt.PenStyle.DashLine)
        )
        self.stage_loo = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(style.BLACK, width=1.2, style=Qt.PenStyle.DotLine)
        )
        stp.addItem(self.stage_curve)
        for ln in (self.stage_final, self.stage_loo):
            ln.hide()
            stp.addItem(ln)
        self.stage_empty = empty_text(self.stage_plot, "")
        self.stage_label = QLabel("")
        self.stage_label.setObjectName("attributionStagewise")
        self.stage_label.setToolTip("The method, point and query of the stagewise curve")

        install_export_actions(self.scatter_plot, "attribution-agreement", self.scatter_table)
        install_export_actions(self.detect_plot, "attribution-detection", self.detection_table)
        install_export_actions(self.soft_plot, "attribution-soft-weights", self.soft_table)
        install_export_actions(self.stage_plot, "attribution-stagewise", self.stagewise_table)

    def _build_layout(self) -> None:
        row1 = QHBoxLayout()
        row1.setContentsMargins(0, 0, 0, 0)
        row1.addWidget(QLabel("Methods"))
        for box in self.method_boxes.values():
            row1.addWidget(box)
        row1.addStretch(1)
        row1.addWidget(self.compute_btn)
        row2 = QHBoxLayout()
        row2.setContentsMargins(0, 0, 0, 0)
        row2.addWidget(QLabel("Shapley permutations"))
        row2.addWidget(self.perm_spin)
        row2.addWidget(self.shapley_btn)
        row2.addSpacing(12)
        row2.addWidget(QLabel("BIF chains"))
        row2.addWidget(self.chains_spin)
        row2.addWidget(QLabel("steps"))
        row2.addWidget(self.bif_steps_spin)
        row2.addWidget(self.bif_btn)
        row2.addStretch(1)
        row2.addWidget(self.cancel_btn)

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(3)
        q = QHBoxLayout()
        q.addWidget(QLabel("Query"))
        q.addWidget(self.query_combo, 1)
        q.addWidget(self.query_point)
        ll.addLayout(q)
        ll.addWidget(self.view, 1)
        b = QHBoxLayout()
        b.addWidget(QLabel("Colour fit view by"))
        b.addWidget(self.colour_combo, 1)
        b.addWidget(self.export_btn)
        ll.addLayout(b)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("attributionTabs")
        self.tabs.setDocumentMode(True)
        cards = (
            (
                "Agreement",
                self._card(
                    self.scatter_plot, ["vs exact LOO:", self.scatter_method, None], self.agreement_label
                ),
            ),
            ("Detection", self._card(self.detect_plot, None, self.detect_label)),
            (
                "Soft weights",
                self._card(self.soft_plot, [self.soft_reset_btn, self.soft_btn, None], self.soft_label),
            ),
            (
                "Stagewise",
                self._card(
                    self.stage_plot,
                    ["method", self.stage_method, "point", self.stage_point, self.stage_btn, None],
                    self.stage_label,
                ),
            ),
        )
        tips = (
            "A column against exact leave-one-out, with Pearson, Spearman and top-k overlap",
            "Mislabel detection curves (data with known corrupted points: the outliers preset)",
            "Soft-weighted unlearning: influence-corrected vs retrained fits for the weight column",
            "A point's influence along training (stagewise influence)",
        )
        for (title, card), tip in zip(cards, tips):
            self.tabs.addTab(card, title)
            self.tabs.setTabToolTip(self.tabs.count() - 1, tip)
        self.tabs.setToolTip("The attribution plots (right-click a plot to export it or its data)")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setSizes([480, 520])
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.status = QLabel("")
        self.status.setObjectName("attributionStatus")
        self.status.setWordWrap(True)
        self.status.setToolTip("What was computed, how long it took, and core's warnings")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.status)

    # -- public API --------------------------------------------------------------------------------------
    def plots(self) -> dict[str, pg.PlotWidget]:
        return {
            "attribution-agreement": self.scatter_plot,
            "attribution-detection": self.detect_plot,
            "attribution-soft-weights": self.soft_plot,
            "attribution-stagewise": self.stage_plot,
        }

    def exportable(self, dock=None) -> dict[str, tuple[pg.PlotWidget, object, object]]:
        """The plots that have something drawn: name → (plot, what to raise to lay it out, CSV provider), for
        File → Export figures (``dock``: the panel's dock; the holder also brings the plot's tab to the front)."""
        out = {}
        have = {
            "attribution-agreement": self.agreement is not None,
            "attribution-detection": self.table is not None and bool(self.detect_curves),
            "attribution-soft-weights": self.soft is not None,
            "attribution-stagewise": self.stage is not None,
        }
        providers = {
            "attribution-agreement": self.scatter_table,
            "attribution-detection": self.detection_table,
            "attribution-soft-weights": self.soft_table,
            "attribution-stagewise": self.stagewise_table,
        }
        for name, plot in self.plots().items():
            if have[name]:
                out[name] = (plot, PlotHolder(self, plot, dock), providers[name])
        return out

    def reveal(self, plot: pg.PlotWidget) -> None:
        """Bring the tab holding ``plot`` to the front."""
        for i in range(self.tabs.count()):
            if self.tabs.widget(i).isAncestorOf(plot):
                self.tabs.setCurrentIndex(i)
                return

    def methods(self) -> tuple[str, ...]:
        return tuple(m for m, box in self.method_boxes.items() if box.isChecked() and box.isEnabled())

    def set_methods(self, methods) -> None:
        methods = set(methods)
        self._loading = True
        try:
            for m, box in self.method_boxes.items():
                box.setChecked(m in methods)
        finally:
            self._loading = False
        self.request_update()

    def query_choice(self) -> tuple[str, int | None]:
        kind = self.query_combo.currentData()
        return kind, (int(self.query_point.value()) if kind == "point" else None)

    def set_query(self, kind: str, index: int | None = None) -> None:
        self._loading = True
        try:
            if index is not None:
                self.query_point.setValue(int(index))
            self.query_combo.setCurrentIndex(self.query_combo.findData(kind))
        finally:
            self._loading = False
        self._on_query_changed()

    def request_update(self) -> None:
        self._dirty = True
        if self.in_view() and not self._loading and self.state.fit_is_current():
            self._timer.start()

    def is_busy(self) -> bool:
        """A computation of this panel is scheduled or running, or partial results wait to be drawn."""
        return (
            self._timer.isActive()
            or self._refresh.isActive()
            or any(self.runner.is_running(k) for k in KINDS)
        )

    def compute_now(self) -> None:
        """Compute the ticked fast methods for the current points, query and λ."""
        self._timer.stop()
        if self.runner.closed:
            return
        st = self.state
        if st.data.n == 0:
            return
        methods = self.methods()
        self._dirty = False
        if not methods:
            self._set_message(TABLE, "tick at least one method", error=True)
            self._fast = None
            self._rebuild()
            return
        kind, index = self.query_choice()
        req = TableRequest(st.problem(), methods, kind, index, float(st.damping), revision=st.revision)
        self._submit(TABLE, table_task, req, f"Attribution table ({len(methods)} methods)", 5)

    def run_shapley(self) -> None:
        """Start TMC Data Shapley with the permutation budget of the spin box (its running estimates fill the
        table)."""
        st = self.state
        if validation_for(st.problem()) is None:
            self._set_message(
                SHAPLEY,
                "Data Shapley needs a validation set: this data has no teacher function (use a preset; the "
                "command line's --holdout / --val-fraction hold points out)",
                error=True,
            )
            return
        perms = int(self.perm_spin.value())
        kind, index = self.query_choice()
        req = TableRequest(
            st.problem(),
            ("shapley",),
            kind,
            index,
            float(st.damping),
            shapley=shapley_config(perms),
            revision=st.revision,
        )
        self._slow.pop(SHAPLEY, None)
        self._submit(SHAPLEY, table_task, req, f"Data Shapley ({perms} permutations)", 6)

    def run_bif(self) -> None:
        """Start the Bayesian influence function (SGLD) for the current query."""
        st = self.state
        chains, steps = int(self.chains_spin.value()), int(self.bif_steps_spin.value())
        kind, index = self.query_choice()
        req = TableRequest(
            st.problem(),
            ("bif",),
            kind,
            index,
            float(st.damping),
            bif=bif_config(chains, steps),
            revision=st.revision,
        )
        self._slow.pop(BIF, None)
        self._submit(BIF, table_task, req, f"Bayesian influence ({chains} SGLD chains)", 6)

    def run_soft(self) -> None:
        """Soft-weighted unlearning with the weight column's weights."""
        if self._points_stale:
            self._load_points()
        st = self.state
        req = SoftRequest(st.problem(), tuple(float(v) for v in self.model.weights), st.revision)
        self._submit(SOFT, soft_task, req, "Soft weights: IF-corrected vs retrained", 5)

    def run_stagewise(self) -> None:
        st = self.state
        kind, index = self.query_choice()
        req = StagewiseRequest(
            st.problem(), self.stage_method.currentData(), kind, index, float(st.damping), st.revision
        )
        self._submit(STAGEWISE, stagewise_task, req, f"Stagewise {label(req.method)}", 5)

    def cancel(self) -> None:
        """Stop every running job of this panel."""
        for kind in KINDS:
            if self.runner.is_running(kind):
                self.runner.cancel(kind)
                self._set_message(kind, "cancelled" + self._partial_note(kind))
        self._update_buttons()

    def shutdown(self) -> None:
        self._timer.stop()
        self._refresh.stop()
        for kind in KINDS:
            _cancel_kind(self.runner, kind)

    def reset_weights(self) -> None:
        self.model.set_weights(self.state.data.weight)

    def set_weight(self, point: int, w: float) -> bool:
        """Set one soft weight (as editing its cell does)."""
        row = self.model.row_of(int(point))
        return row >= 0 and self.model.setData(self.model.index(row, self.model.fixed.index("weight")), w)

    def set_colour_column(self, name: str | None) -> None:
        k = self.colour_combo.findData(name)
        self.colour_combo.setCurrentIndex(max(0, k))

    def write_csv(self, path) -> None:
        """The table as CSV (exactly core's AttributionTable.to_csv_text), written atomically."""
        if self.table is None:
            raise ValueError("nothing to export yet: compute the table first")
        atomic_write_text(path, self.table.to_csv_text())

    def export_csv_dialog(self) -> None:
        if self.table is None:
            QMessageBox.information(self, "Nothing to export", "Compute the table first.")
            return
        from gui.export import announce_written, start_folder

        start = str(start_folder(self.window()) / "attribution.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export the attribution table", start, "CSV (*.csv)")
        if not path:
            return
        try:
            self.write_csv(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"{path}: {exc.strerror or exc}")
            return
        announce_written(self.window(), Path(path))

    # -- jobs --------------------------------------------------------------------------------------------
    def _submit(self, kind: str, task, req, text: str, priority: int) -> None:
        if self.runner.closed:
            return
        self._requests[kind] = req
        self._pending.pop(kind, None)
        self.runner.submit(
            kind, functools.partial(task, req), self.state.revision, label=text, priority=priority
        )
        self._set_message(kind, "running …")
        self._update_buttons()

    def _live(self, kind: str) -> bool:
        job = self.runner.job(kind)
        return job is not None and job.revision == self.state.revision

    def _on_progress(self, kind: str, p) -> None:
        if kind not in KINDS or not self._live(kind):
            return
        self._messages[kind] = f"{p.message} ({100 * p.fraction:.0f} %)"
        if isinstance(p.partial, AttributionTable):
            self._pending[kind] = p.partial
        if not self._refresh.isActive():
            self._refresh.start()

    def _on_result(self, kind: str, revision: int, result) -> None:
        if (
            kind not in KINDS
            or result is None
            or getattr(result, "request", None) is not self._requests.get(kind)
        ):
            return
        self._pending.pop(kind, None)
        if isinstance(result, TableRecord):
            key = self._key(kind, result.request)
            if kind == TABLE:
                self._fast = (key, result.table)
            else:
                self._slow[kind] = (key, result.table, True)
            self._set_message(kind, self._done_text(kind, result))
            self._rebuild()
        elif isinstance(result, SoftRecord):
            self.soft = result
            changed = int(np.sum(result.weights != result.base_weights))
            self._set_message(SOFT, f"{changed} point(s) re-weighted")
            self._draw_soft()
            self.recordChanged.emit(result)
        elif isinstance(result, StagewiseRecord):
            self.stage = result
            self._set_message(
                STAGEWISE, f"{label(result.result.method)} at {len(result.result.steps)} checkpoints"
            )
            self._draw_stage()
            self.recordChanged.emit(result)
        self._update_buttons()

    def _on_failed(self, kind: str, message: str) -> None:
        if kind in KINDS:
            self._pending.pop(kind, None)
            self._set_message(kind, message, error=True)
            self._update_buttons()

    def _key(self, kind: str, req: TableRequest) -> tuple:
        """What a table's columns depend on: the points and settings (revision); and, except for Shapley (always
        validation-based), the query."""
        if kind == SHAPLEY:
            return (req.revision,)
        return (req.revision, req.query_key)

    def _current_key(self, kind: str) -> tuple:
        kind_q, index = self.query_choice()
        if kind == SHAPLEY:
            return (self.state.revision,)
        return (self.state.revision, (kind_q, index))

    def _apply_pending(self) -> None:
        """Draw the latest partial tables (called at most every REFRESH_MS)."""
        changed = False
        for kind, table in list(self._pending.items()):
            req = self._requests.get(kind)
            if not isinstance(req, TableRequest) or not self._live(kind):
                continue
            key = self._key(kind, req)
            prev = self._fast if kind == TABLE else self._slow.get(kind)
            if prev is not None and prev[0] == key and _same_columns(prev[1], table):
                continue  # a progress step without new numbers (Shapley updates once per batch)
            if kind == TABLE:
                self._fast = (key, table)
            else:
                self._slow[kind] = (key, table, False)
            changed = True
        self._pending.clear()
        if changed:
            self._rebuild()
        else:
            self._show_messages()

    def _done_text(self, kind: str, rec: TableRecord) -> str:
        t = rec.table
        if kind == SHAPLEY:
            s = t.info.get("shapley", {})
            state = "converged" if s.get("converged") else "not converged"
            return f"{s.get('permutations', '?')} permutations, {state}, {rec.seconds:.1f} s"
        if kind == BIF:
            b = t.info.get("bif", {})
            return f"{b.get('chains', '?')} chains, split-R̂ {fmt(b.get('rhat'), 3)}, {rec.seconds:.1f} s"
        return f"{len(t.columns)} columns for {t.query.describe()}, λ = {t.damping:g}, {rec.seconds:.2f} s"

    def _partial_note(self, kind: str) -> str:
        entry = self._slow.get(kind)
        if kind == SHAPLEY and entry is not None and "shapley" in entry[1].columns:
            return " (the table keeps the running estimates reached)"
        return ""

    # -- reacting ----------------------------------------------------------------------------------------
    def _on_edit(self, *_) -> None:
        if not self._loading:
            self.request_update()

    def _on_query_changed(self, *_) -> None:
        kind = self.query_combo.currentData()
        self.query_point.setEnabled(kind == "point")
        if self._loading:
            return
        if self.runner.is_running(BIF):  # the BIF depends on the query: its result would not be shown
            self.runner.cancel(BIF)
            self._set_message(BIF, "cancelled (the query changed)")
        self._rebuild()
        self.request_update()

    def _on_revision(self, *_) -> None:
        """New points or settings: every result belonged to the old ones."""
        for kind in KINDS:
            if self.runner.is_running(kind):
                self.runner.cancel(kind)
        self._fast = None
        self._slow.clear()
        self._pending.clear()
        self._messages.clear()
        self.soft = None
        self.stage = None
        self._points_stale = True
        if self._colour_sent is not None:  # the fit view must not colour the new points by the old values
            self._colour_sent = None
            self.colouringRequested.emit(None, None)
        if self.in_view():  # out of view (e.g. while a point is dragged elsewhere) the table waits
            self._load_points()
        else:
            self.table = None
            self.agreement = None
        self.request_update()

    def came_into_view(self) -> None:
        if self._points_stale:
            self._load_points()
        super().came_into_view()

    def _on_fit(self) -> None:
        if self._dirty:
            self.request_update()

    def _on_selection(self, i) -> None:
        if i is None or not 0 <= int(i) < self.model.n:
            self.view.clearSelection()
        else:
            row = self.model.row_of(int(i))
            if row >= 0:
                self.view.selectRow(row)
            self.stage_point.setValue(int(i))
        self._draw_selected()

    def _on_row_clicked(self, index) -> None:
        if index.isValid() and self.model.columns()[index.column()] != "weight":
            self.state.select(self.model.point_at(index.row()))

    def _on_weights_edited(self) -> None:
        changed = int(np.sum(self.model.weights != self.state.data.weight))
        self._set_message(SOFT, f"{changed} weight(s) differ from the data's; press 'Run soft weights'")

    def _compute_if_in_view(self) -> None:
        if self.in_view() and self.state.fit_is_current():
            self.compute_now()

    def _load_points(self) -> None:
        """The current points into the table (no columns until computed) and the controls' ranges."""
        ds = self.state.data
        self._points_stale = False
        self.model.set_points(ds.x, ds.y, ds.corrupted, ds.weight)
        n = max(1, ds.n)
        for spin in (self.query_point, self.stage_point):
            spin.blockSignals(True)
            spin.setRange(0, n - 1)
            spin.blockSignals(False)
        has_val = ds.teacher is not None  # the validation set is the teacher grid (validation_for)
        item = self.query_combo.model().item(2)
        item.setEnabled(has_val)
        item.setToolTip("" if has_val else "needs data with a teacher function (a preset)")
        if not has_val and self.query_combo.currentData() == "validation":
            self.query_combo.setCurrentIndex(0)
        self.shapley_btn.setEnabled(has_val)
        ols = self.method_boxes.get("ols")
        if ols is not None:
            linear = self.state.settings.model_kind == "linear"
            ols.setVisible(linear)
            ols.setEnabled(linear)
        self._rebuild()
        self._draw_soft()
        self._draw_stage()

    def _after_reset(self) -> None:
        self.view.resizeColumnsToContents()
        c = self.model.fixed.index("weight")
        if c != self._weight_col:
            if self._weight_col >= 0:
                self.view.setItemDelegateForColumn(self._weight_col, None)
            self.view.setItemDelegateForColumn(c, self.weight_delegate)
            self._weight_col = c
        header = self.view.horizontalHeader()
        if header.sortIndicatorSection() != self.model.sort_column:
            header.setSortIndicator(self.model.sort_column, self.model.sort_order)

    def _update_buttons(self, *_) -> None:
        running = any(self.runner.is_running(k) for k in KINDS)
        self.cancel_btn.setEnabled(running)
        self.shapley_btn.setText("Restart Shapley" if self.runner.is_running(SHAPLEY) else "Run Shapley")
        self.bif_btn.setText("Restart BIF" if self.runner.is_running(BIF) else "Run BIF")

    # -- the merged table ------------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Merge the fast table and the Monte-Carlo columns that belong to the current points and query, and
        redraw the table, the agreement and detection plots and the colouring."""
        if self._points_stale:  # the rows first (this comes back here)
            self._load_points()
            return
        fast = self._fast[1] if self._fast is not None and self._fast[0] == self._current_key(TABLE) else None
        extras = [t for kind, (key, t, _) in self._slow.items() if key == self._current_key(kind)]
        table = merge_tables(fast, extras)
        self.table = table
        self.model.set_table(table)
        self._update_choices()
        self._draw_scatter()
        self._draw_detection()
        self._send_colouring()
        self._show_messages()
        self.tableChanged.emit(table)

    def _update_choices(self) -> None:
        t = self.table
        names = [] if t is None else [c for c in t.columns if column_kind(c) != "se"]
        ref = None if t is None else t.reference()
        others = [c for c in names if c != ref]
        for combo, items, extra in (
            (self.scatter_method, others, []),
            (self.colour_combo, list(t.columns) if t is not None else [], [None]),
        ):
            keys = extra + items
            if [combo.itemData(i) for i in range(combo.count())] == keys:
                continue
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for k in keys:
                combo.addItem("nothing" if k is None else label(k), k)
                if k is not None:
                    combo.setItemData(combo.count() - 1, column_doc(k), Qt.ItemDataRole.ToolTipRole)
            if current in keys:
                combo.setCurrentIndex(keys.index(current))
            elif combo is self.scatter_method and "if" in keys:
                combo.setCurrentIndex(keys.index("if"))
            combo.blockSignals(False)

    def _send_colouring(self, *_) -> None:
        name = self.colour_combo.currentData()
        t = self.table
        if name is None or t is None or name not in t.columns:
            if self._colour_sent is not None:
                self._colour_sent = None
                self.colouringRequested.emit(None, None)
            return
        values = np.asarray(t.columns[name], dtype=np.float64)
        sent = self._colour_sent
        if sent is not None and sent[0] == name and np.array_equal(sent[1], values):
            return  # unchanged (a partial result of another column arrived)
        if not np.isfinite(values).all():
            if self._colour_sent is not None:
                self._colour_sent = None
                self.colouringRequested.emit(None, None)
            self._set_message("colour", f"cannot colour by {label(name)}: it has undefined (nan) values")
            return
        self._colour_sent = (name, values)
        self.colouringRequested.emit(f"{label(name)} (Attribution)", values)

    # -- drawing -----------------------------------------------------------------------------------------
    def _draw_scatter(self, *_) -> None:
        t = self.table
        ref = None if t is None else t.reference()
        method = self.scatter_method.currentData()
        if t is None or ref is None or method not in t.columns:
            for it in (self.scatter_item, self.scatter_bad, self.scatter_sel):
                it.setData([], [])
            self.agreement = None
            self.agreement_label.setText("")
            self.scatter_empty.setText(
                "Compute the table first" if t is None else "Tick LOO (cold or warm): the reference column"
            )
            self.scatter_empty.show()
            return
        self.scatter_empty.hide()
        xs, ys = np.asarray(t.columns[ref]), np.asarray(t.columns[method])
        idx = np.arange(t.n)
        self.scatter_item.setData(xs, ys, data=idx)
        bad = np.array(t.corrupted, dtype=int)
        self.scatter_bad.setData(xs[bad], ys[bad])
        self._draw_selected()
        self.agreement = agreement(t.columns[method], t.columns[ref])  # = t.agreement(ref)[method]
        self.agreement_label.setText(agreement_text(method, ref, self.agreement))
        set_axis_label(self.scatter_plot, "bottom", f"{label(ref)} (exact LOO)")
        set_axis_label(self.scatter_plot, "left", label(method))
        set_title(self.scatter_plot, f"{label(method)} vs exact LOO — query: {t.query.kind}")

    def _draw_selected(self) -> None:
        """Ring the selected point in the scatter."""
        t = self.table
        ref = None if t is None else t.reference()
        method = self.scatter_method.currentData()
        sel = self.state.selection
        if t is None or ref is None or method not in t.columns or sel is None or not 0 <= sel < t.n:
            self.scatter_sel.setData([], [])
        else:
            self.scatter_sel.setData([t.columns[ref][sel]], [t.columns[method][sel]])

    def _draw_detection(self) -> None:
        t = self.table
        dp = self.detect_plot.getPlotItem()
        curves = t.detection() if t is not None else {}
        for name in list(self.detect_curves):
            if name not in curves:
                dp.removeItem(self.detect_curves.pop(name))
        for name, c in curves.items():
            item = self.detect_curves.get(name)
            if item is None:
                item = pg.PlotDataItem(pen=pg.mkPen(_method_color(name), width=2), name=label(name))
                dp.addItem(item)
                self.detect_curves[name] = item
            item.setData(c.inspected, c.found)
        if t is None:
            self.detect_empty.setText("Compute the table first")
        elif not t.corrupted:
            self.detect_empty.setText(
                "Detection needs known corrupted points:\nFile → New from preset → outliers"
            )
        if curves:
            self.detect_empty.hide()
            aucs = sorted(((c.auc, name) for name, c in curves.items()), reverse=True)
            self.detect_label.setText(
                f"AUC ({len(t.corrupted)} corrupted; random ≈ 0.5): "
                + ", ".join(f"{label(n)} {a:.2f}" for a, n in aucs)
            )
        else:
            self.detect_empty.show()
            self.detect_label.setText("")

    def _draw_soft(self) -> None:
        rec = self.soft
        for k, curve in self.soft_curves.items():
            if rec is None:
                curve.setData([], [])
            else:
                curve.setData(rec.grid, rec.curves[k])
        if rec is None:
            self.soft_points.setData([], [])
            self.soft_label.setText("")
            self.soft_empty.setText("Edit the weight column, then 'Run soft weights'")
            self.soft_empty.show()
            return
        self.soft_empty.hide()
        down = rec.weights < rec.base_weights
        brushes = [
            pg.mkBrush(style.color(style.ORANGE, int(255 * w)) if d else style.BLUE)
            for d, w in zip(down, np.clip(rec.weights, 0, 1))
        ]
        pens = [pg.mkPen(style.ORANGE if d else "w", width=1.6 if d else 0.6) for d in down]
        self.soft_points.setData(rec.data_x, rec.data_y, brush=brushes, pen=pens)
        fd, pd = rec.function_distance, rec.param_distance
        parts = [
            f"{SOFT_LABELS[k]}: mean |Δf| {fmt(fd[k])}, ‖Δθ‖ {fmt(pd[k])}"
            for k in ("if", "newton", "warm", "original")
        ]
        changed = int(np.sum(rec.weights != rec.base_weights))
        warn = "".join(f"<br><span style='color:#b00020'>{w}</span>" for w in rec.warnings)
        self.soft_label.setText(
            f"{changed} point(s) re-weighted; distance to the model retrained from θ₀ — "
            + "; ".join(parts)
            + warn
        )

    def _draw_stage(self, *_) -> None:
        rec = self.stage
        j = int(self.stage_point.value())
        if rec is None or j >= rec.result.values.shape[1]:
            self.stage_curve.setData([], [])
            self.stage_final.hide()
            self.stage_loo.hide()
            self.stage_label.setText("")
            self.stage_empty.setText("Choose a method and a point, then 'Run'")
            self.stage_empty.show()
            return
        self.stage_empty.hide()
        r = rec.result
        self.stage_curve.setData(r.times, r.values[:, j])
        method = r.method
        t = self.table
        same_query = t is not None and t.query.kind == r.query.kind and t.query.index == r.query.index
        if same_query and method in t.columns and method != "tracin":
            self.stage_final.setValue(float(t.columns[method][j]))
            self.stage_final.show()
        else:
            self.stage_final.hide()
        ref = t.reference() if same_query else None
        if ref is not None and column_kind(method) == "effect" and method != "tracin":
            self.stage_loo.setValue(float(t.columns[ref][j]))
            self.stage_loo.show()
        else:
            self.stage_loo.hide()
        set_axis_label(self.stage_plot, "left", f"{label(method)} of point {j}")
        set_title(self.stage_plot, f"Stagewise {label(method)}, point {j}")
        warn = "".join(f" <span style='color:#b00020'>{w}</span>" for w in r.warnings)
        lines = []
        if self.stage_final.isVisible():
            lines.append("dashed: its value in the table (at the trained θ̂)")
        if self.stage_loo.isVisible():
            lines.append("dotted: exact LOO")
        self.stage_label.setText(
            f"{label(method)} of point {j} at {len(r.steps)} checkpoints; query: {r.query.describe()}"
            + "".join(f" · {t}" for t in lines)
            + warn
        )

    def _set_message(self, kind: str, text: str, error: bool = False) -> None:
        self._messages[kind] = f"<span style='color:#b00020'>{text}</span>" if error else text
        self._show_messages()

    def _show_messages(self) -> None:
        names = {TABLE: "Table", SHAPLEY: "Shapley", BIF: "BIF", SOFT: "Soft weights", STAGEWISE: "Stagewise"}
        parts = [f"<b>{names.get(k, k)}</b>: {m}" for k, m in self._messages.items() if m]
        t = self.table
        if t is not None and t.warnings:
            parts.append("<span style='color:#8a5a00'>" + " · ".join(dict.fromkeys(t.warnings)) + "</span>")
        text = " · ".join(parts)
        if self.status.text() != text:
            self.status.setText(text)

    # -- export tables -----------------------------------------------------------------------------------
    def scatter_table(self) -> Table:
        t = self.table
        ref = None if t is None else t.reference()
        method = self.scatter_method.currentData()
        if t is None or ref is None or method not in t.columns:
            return ("index", "x", "y", "reference", "method"), []
        rows = [
            [
                int(t.index[i]),
                float(t.x[i]),
                float(t.y[i]),
                float(t.columns[ref][i]),
                float(t.columns[method][i]),
            ]
            for i in range(t.n)
        ]
        return ("index", "x", "y", ref, method), rows

    def detection_table(self) -> Table:
        t = self.table
        rows = []
        for name, c in (t.detection() if t is not None else {}).items():
            rows += [[name, c.direction, float(a), float(b)] for a, b in zip(c.inspected, c.found)]
        return ("method", "direction", "fraction_inspected", "fraction_found"), rows

    def soft_table(self) -> Table:
        rec = self.soft
        header = ("series", "x", "y", "weight")
        if rec is None:
            return header, []
        rows = [
            ["point", float(a), float(b), float(w)] for a, b, w in zip(rec.data_x, rec.data_y, rec.weights)
        ]
        for k in SOFT_FITS:
            rows += [[k, float(a), float(b), ""] for a, b in zip(rec.grid, rec.curves[k])]
        return header, rows

    def stagewise_table(self) -> Table:
        rec = self.stage
        header = ("method", "point", "step", "time", "value")
        if rec is None:
            return header, []
        r = rec.result
        rows = [
            [r.method, j, int(s), float(t), float(r.values[k, j])]
            for j in range(r.values.shape[1])
            for k, (s, t) in enumerate(zip(r.steps, r.times))
        ]
        return header, rows

    # -- Qt events ---------------------------------------------------------------------------------------
    def showEvent(self, ev):
        super().showEvent(ev)
        if self._points_stale:
            self._load_points()
        if self._dirty and self.state.fit_is_current():
            self._timer.start()

    def closeEvent(self, ev):
        self.shutdown()
        super().closeEvent(ev)


class PlotHolder:
    """What File → Export figures raises to lay a plot out before rendering it (it calls ``show()`` and
    ``raise_()``): the panel's dock, then the plot's tab."""

    def __init__(self, panel: AttributionPanel, plot: pg.PlotWidget, dock=None):
        self.panel, self.plot, self.dock = panel, plot, dock

    def show(self) -> None:
        if self.dock is not None:
            self.dock.show()
        self.panel.reveal(self.plot)

    def raise_(self) -> None:
        if self.dock is not None:
            self.dock.raise_()


def register(window) -> AttributionPanel:
    """Add the panel to a MainWindow as the dock "attribution" (uses the window's state and job runner)."""
    panel = AttributionPanel(window.state, window.runner)
    window.add_dock_panel("attribution", "Attribution", panel)
    return panel
