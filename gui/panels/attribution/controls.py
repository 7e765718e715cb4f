"""The Attribution panel's controls and layout (:class:`AttributionControls`, a mixin of
:class:`gui.panels.attribution.panel.AttributionPanel`): the query, the fast methods' check boxes, the Monte-Carlo
settings (Data Shapley, BIF), the table view, the plots' tabs and the status line.

The panel provides the slots the controls connect to (``compute_now``, ``run_shapley``, ``run_bif``, ``cancel``,
``export_csv_dialog``, ``_on_edit``, ``_on_query_changed``, ``_send_colouring``, ``_on_row_clicked``,
``_after_reset``) and the plots' widgets (:class:`gui.panels.attribution.plots.AttributionPlots`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.attribution.methods import BIFConfig, ShapleyConfig, column_doc
from core.limits import MAX_STEPS
from gui.attribution_tasks import FAST_METHODS, label
from gui.panels.attribution.table_model import AttributionModel, WeightDelegate
from gui.panels.attribution.widgets import button, card, hbox, note, spin

#: Tooltips of the fast methods' check boxes (the others show core's column_doc).
METHOD_TIPS = {
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


class AttributionControls:
    """Builds the panel's controls, its table view and its layout."""

    # -- controls ----------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self._build_query_controls()
        self._build_method_boxes()
        self._build_monte_carlo_controls()
        self.cancel_btn = button(
            "Cancel",
            "Stop this panel's running computations (Shapley's running estimates stay in the table)",
            self.cancel,
        )
        self.export_btn = button(
            "Export CSV…",
            "Save the table as CSV: index, x, y[, corrupted], then one column per method at full precision (the "
            "same file as influence-lab attribute --csv)",
            self.export_csv_dialog,
        )
        self.colour_combo = QComboBox()
        self.colour_combo.addItem("nothing", None)
        self.colour_combo.setToolTip(
            "Colour the points of the Data & fit view by this column of the table (dark = low, yellow = high)"
        )
        self.colour_combo.currentIndexChanged.connect(self._send_colouring)

    def _build_query_controls(self) -> None:
        self.query_combo = QComboBox()
        self.query_combo.addItem("each point's own loss", "self")
        self.query_combo.addItem("the loss of point …", "point")
        self.query_combo.addItem("mean validation loss", "validation")
        self.query_combo.setToolTip(
            "What every effect column measures: the change of this loss when point i is deleted — row i's own "
            "loss ℓ_i (self), one chosen point's loss ℓ_q, or the mean loss on the validation set (the teacher "
            "grid of a preset: 100 noise-free points; needs data with a teacher function)"
        )
        self.query_point = spin(
            0, 0, "The query point q (its loss ℓ_q is the query when 'the loss of point …')"
        )
        self.query_point.setKeyboardTracking(False)
        self.query_combo.currentIndexChanged.connect(self._on_query_changed)
        self.query_point.valueChanged.connect(self._on_query_changed)

    def _build_method_boxes(self) -> None:
        self.method_boxes: dict[str, QCheckBox] = {}
        for m in FAST_METHODS:
            box = QCheckBox(label(m) if m != "ols" else "OLS")
            box.setChecked(True)
            box.setToolTip(METHOD_TIPS.get(m, column_doc(m)))
            box.toggled.connect(self._on_edit)
            self.method_boxes[m] = box
        self.compute_btn = button(
            "Compute",
            "Compute the ticked fast methods now (they recompute by themselves after a fit while this tab is "
            "shown)",
            self.compute_now,
        )

    def _build_monte_carlo_controls(self) -> None:
        sd, bd = ShapleyConfig(), BIFConfig()
        self.perm_spin = spin(
            1,
            1_000_000,
            f"Permutation budget of TMC Data Shapley (default {sd.max_permutations}); it stops earlier when the "
            f"running means settle (change < {sd.convergence_tol:g} over {sd.convergence_window} permutations)",
            sd.max_permutations,
        )
        self.shapley_btn = button(
            "Run Shapley",
            "Truncated Monte-Carlo Data Shapley (Ghorbani & Zou 2019), V = −MSE on the validation set; the "
            "running estimates fill the table as they arrive. Needs a preset (teacher grid as validation set)",
            self.run_shapley,
        )
        self.chains_spin = spin(
            1, 1000, f"SGLD chains of the Bayesian influence function (default {bd.chains})", bd.chains
        )
        self.bif_steps_spin = spin(
            4,
            MAX_STEPS,
            f"SGLD sampling steps per chain after the automatic burn-in (default {bd.steps}; a draw every "
            f"{bd.thin} steps)",
            bd.steps,
            step=1000,
        )
        self.bif_btn = button(
            "Run BIF",
            "Bayesian influence function (Kreer et al. 2025): β·Cov(ℓ_i, ℓ_q) under the localised posterior "
            "sampled by SGLD (β = 100, γ = 0.1·nβ)",
            self.run_bif,
        )

    # -- the table view ----------------------------------------------------------------------------------
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

    # -- layout ------------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._table_side())
        self.splitter.addWidget(self._plot_tabs())
        self.splitter.setSizes([480, 520])
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.status = note("attributionStatus", "What was computed, how long it took, and core's warnings")
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(hbox("Methods", *self.method_boxes.values(), None, self.compute_btn))
        lay.addLayout(
            hbox(
                "Shapley permutations",
                self.perm_spin,
                self.shapley_btn,
                12,
                "BIF chains",
                self.chains_spin,
                "steps",
                self.bif_steps_spin,
                self.bif_btn,
                None,
                self.cancel_btn,
            )
        )
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.status)

    def _table_side(self) -> QWidget:
        """The query above the table, the colouring and the CSV export below it."""
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(3)
        ll.addLayout(hbox("Query", (self.query_combo, 1), self.query_point))
        ll.addWidget(self.view, 1)
        ll.addLayout(hbox("Colour fit view by", (self.colour_combo, 1), self.export_btn))
        return left

    def _plot_tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.tabs.setObjectName("attributionTabs")
        self.tabs.setDocumentMode(True)
        cards = (
            (
                "Agreement",
                card(self.scatter_plot, ["vs exact LOO:", self.scatter_method, None], self.agreement_label),
                "A column against exact leave-one-out, with Pearson, Spearman and top-k overlap",
            ),
            (
                "Detection",
                card(self.detect_plot, None, self.detect_label),
                "Mislabel detection curves (data with known corrupted points: the outliers preset)",
            ),
            (
                "Soft weights",
                card(self.soft_plot, [self.soft_reset_btn, self.soft_btn, None], self.soft_label),
                "Soft-weighted unlearning: influence-corrected vs retrained fits for the weight column",
            ),
            (
                "Stagewise",
                card(
                    self.stage_plot,
                    ["method", self.stage_method, "point", self.stage_point, self.stage_btn, None],
                    self.stage_label,
                ),
                "A point's influence along training (stagewise influence)",
            ),
        )
        for title, widget, tip in cards:
            self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(self.tabs.count() - 1, tip)
        self.tabs.setToolTip("The attribution plots (right-click a plot to export it or its data)")
        return self.tabs
