"""The error-decomposition panel (docs/science.md §3; Bae et al. 2022, Figure 1; the notes' Figure 1).

Bars: the five gaps between consecutive estimates of the deleted model — warm-start (LOO cold ↔ LOO warm),
proximity (LOO warm ↔ proximal), non-convergence (proximal ↔ PBRF), linearisation (PBRF ↔ linearised PBRF) and
solver error (linearised PBRF exact ↔ iterative) — in function space (mean_i |Δf(x_i)|, the primary metric) or,
toggled, parameter space (‖Δθ‖). The damping λ control recomputes the estimates in a worker, debounced, as it
moves. The table lists every estimate with its distance to the cold-start LOO, the gradient norm of its own
objective, and where it starts; below, self-influence and the predicted vs actual change of ℓ_j.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import style
from gui.analysis import ESTIMATE_LABELS, GAP_NAMES, EstimatesRecord
from gui.export import Table, install_export_actions
from gui.panels.common import Log10Axis, fixed_height_box, fmt
from gui.state import LabState

IDLE_TEXT = "Delete a point (select it, press Del) to decompose the error of the influence estimates."
#: The λ slider covers 10^LAMBDA_MIN … 10^LAMBDA_MAX in steps of 10^(1/LAMBDA_STEPS).
LAMBDA_MIN, LAMBDA_MAX, LAMBDA_STEPS = -6, 1, 10
#: Floor of the log scale (gaps below it, e.g. exact zeros, are drawn at the floor).
LOG_FLOOR = 1e-16
#: Where each estimate starts / is centred, as shown (combining accents do not render everywhere).
CENTRE_TEXT = {"θ̂": "θ trained", "θ^s": "θˢ", "θ_0": "θ₀"}
#: Bar labels (short: five bars share the plot's width; the tooltip and title say the rest).
BAR_TICKS = {
    "warm_start_gap": "warm-start\ngap",
    "proximity_gap": "proximity\ngap",
    "non_convergence_gap": "non-\nconvergence",
    "linearization_error": "linearisation\nerror",
    "solver_error": "solver\nerror",
}
BAR_COLORS = [style.BLUE, style.SKY, style.GREEN, style.ORANGE, style.VERMILION]
TABLE_ORDER = (
    "loo_cold",
    "loo_warm",
    "proximal",
    "pbrf",
    "pbrf_linear",
    "if_solver",
    "if_exact",
    "if_gnh",
    "newton",
)


class DecompositionPanel(QWidget):
    def __init__(self, state: LabState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.record: EstimatesRecord | None = None

        # -- controls ------------------------------------------------------------------------------------
        self.function_space = QRadioButton("function space  mean|Δf|")
        self.function_space.setToolTip(
            "Each gap as the mean over the training inputs of |f(a; x_i) − f(b; x_i)| (the primary metric: hidden "
            "units can be permuted or flipped without changing f)"
        )
        self.param_space = QRadioButton("parameter space  ‖Δθ‖")
        self.param_space.setToolTip(
            "Each gap as the Euclidean distance ‖a − b‖ between the parameter vectors"
        )
        self.function_space.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.function_space)
        group.addButton(self.param_space)
        self.log = QCheckBox("log scale")
        self.log.setChecked(True)
        self.log.setToolTip("Logarithmic bar heights (the gaps span many decades)")
        self.lam_slider = QSlider(Qt.Orientation.Horizontal)
        self.lam_slider.setRange(LAMBDA_MIN * LAMBDA_STEPS, LAMBDA_MAX * LAMBDA_STEPS)
        self.lam_slider.setToolTip(
            "Damping λ (log scale): the proximity term (λ/2)‖θ − θ^s‖² of the proximal response and the PBRF, and "
            "the damping of the Gauss–Newton influence (G + λI)⁻¹. Moving it recomputes the estimates."
        )
        self.lam_edit = QLineEdit()
        self.lam_edit.setFixedWidth(80)
        self.lam_edit.setToolTip("Damping λ > 0, e.g. 1e-3 (Enter applies)")
        self.lam_status = QLabel("")
        self.lam_status.setToolTip("Whether the estimates shown were computed with this λ")

        # -- bars ----------------------------------------------------------------------------------------
        self.plot = pg.PlotWidget(axisItems={"left": Log10Axis("left")})
        self.plot.setObjectName("decompositionPlot")
        self.plot.setWindowTitle("Error decomposition")
        self.plot.setMinimumSize(300, 200)
        pi = self.plot.getPlotItem()
        style.style_plot(pi, "Error decomposition")
        pi.showGrid(x=False, y=True, alpha=0.2)
        pi.setMouseEnabled(x=False, y=False)
        pi.hideButtons()
        self.bars = pg.BarGraphItem(x=np.arange(5), height=np.zeros(5), width=0.62, brushes=BAR_COLORS)
        pi.addItem(self.bars)
        self.value_labels = [pg.TextItem("", color=style.BLACK, anchor=(0.5, 1.0)) for _ in GAP_NAMES]
        for t in self.value_labels:
            pi.addItem(t, ignoreBounds=True)
        ax = pi.getAxis("bottom")
        ax.setTicks([[(k, BAR_TICKS[g]) for k, g in enumerate(GAP_NAMES)]])
        ax.setStyle(tickTextOffset=4)
        ax.setHeight(46)
        pi.setXRange(-0.6, 4.6, padding=0)
        self.plot.setToolTip(
            "The five gaps between consecutive estimates (Bae et al. 2022): warm-start (LOO cold ↔ warm), proximity "
            "(LOO warm ↔ proximal), non-convergence (proximal ↔ PBRF), linearisation (PBRF ↔ linearised PBRF), "
            "solver (exact ↔ iterative iHVP)"
        )

        # -- table ---------------------------------------------------------------------------------------
        self.table = QTableWidget(len(TABLE_ORDER), 4)
        self.table.setObjectName("estimatesTable")
        self.table.setHorizontalHeaderLabels(["estimate", "mean|Δf| vs LOO cold", "‖∇‖", "from"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for c in (0, 1, 2):
            self.table.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeaderItem(2).setToolTip(
            "Gradient norm of the estimate's own objective where it is solved by LM (✗: above 1e-10, not converged)"
        )
        self.table.horizontalHeaderItem(3).setToolTip(
            "θ₀: the initialisation; θˢ: the parameters after the T "
            "training steps (early-stopped); θ trained: θ̂ (polished)"
        )
        self.table.setToolTip(
            "Every estimate of the model without z_j: its function-space distance to the cold-start LOO, the "
            "gradient norm of its own objective where it is solved (converged: ≤ 1e-10), and where it starts or is "
            "centred (hover a row for its formula)"
        )
        for r, name in enumerate(TABLE_ORDER):
            self.table.setItem(r, 0, QTableWidgetItem(ESTIMATE_LABELS[name]))

        self.readout = QLabel(IDLE_TEXT)
        self.readout.setObjectName("decompositionReadout")
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip(
            "Self-influence s_j = g_jᵀH⁻¹g_j, the predicted change of ℓ_j on deletion s_j/n against the actual one "
            "(cold-start LOO), the Hessian's smallest eigenvalues and any warnings"
        )

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.function_space)
        top.addWidget(self.param_space)
        top.addWidget(self.log)
        top.addSpacing(12)
        top.addWidget(QLabel("Damping λ"))
        top.addWidget(self.lam_slider, 1)
        top.addWidget(self.lam_edit)
        top.addWidget(self.lam_status)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.plot)
        split.addWidget(self.table)
        split.setSizes([520, 460])
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        lay.addWidget(fixed_height_box(self.readout, 4))

        install_export_actions(self.plot, "error-decomposition", self.bars_table)

        self.function_space.toggled.connect(self._draw)
        self.log.toggled.connect(self._draw)
        self.lam_slider.valueChanged.connect(self._on_slider)
        self.lam_edit.editingFinished.connect(self._on_edit)
        state.dampingChanged.connect(self._load_damping)
        state.analysisChanged.connect(self._on_analysis)
        self._load_damping()
        self._on_analysis("clear")

    def plots(self) -> dict[str, pg.PlotWidget]:
        return {"error-decomposition": self.plot}

    # -- damping -----------------------------------------------------------------------------------------
    def _load_damping(self, *_) -> None:
        lam = self.state.damping
        self.lam_slider.blockSignals(True)
        self.lam_slider.setValue(int(round(math.log10(lam) * LAMBDA_STEPS)))
        self.lam_slider.blockSignals(False)
        self.lam_edit.setText(f"{lam:.3g}")
        self.lam_edit.setStyleSheet("")
        self._update_lam_status()

    def _on_slider(self, v: int) -> None:
        lam = float(f"{10 ** (v / LAMBDA_STEPS):.3g}")
        self.lam_edit.setText(f"{lam:.3g}")
        self.state.set_damping(lam)

    def _on_edit(self) -> None:
        try:
            lam = float(self.lam_edit.text())
            self.state.set_damping(lam)
        except ValueError:
            self.lam_edit.setStyleSheet("QLineEdit { background: #fde2e1; }")
            self.lam_edit.setToolTip("λ must be a positive number, e.g. 1e-3")
            return
        self.lam_edit.setStyleSheet("")

    def set_damping(self, lam: float) -> None:
        """Set λ as a user would (tests, sessions)."""
        self.lam_edit.setText(f"{lam:.6g}")
        self._on_edit()

    def _update_lam_status(self) -> None:
        rec = self.record
        if rec is None:
            self.lam_status.setText("")
        elif rec.damping == self.state.damping:
            self.lam_status.setText("✓")
            self.lam_status.setToolTip(f"The estimates shown were computed with λ = {rec.damping:.3g}")
        else:
            self.lam_status.setText("computing…")
            self.lam_status.setToolTip(f"The estimates shown are for λ = {rec.damping:.3g}; recomputing")

    # -- state -------------------------------------------------------------------------------------------
    def _on_analysis(self, part: str) -> None:
        a = self.state.analysis
        rec = a.estimates if a is not None else None
        if rec is not self.record or part in ("estimates", "clear"):
            self.record = rec
            self._draw()
            self._fill_table()
        if rec is None:
            if a is None:
                self.readout.setText(IDLE_TEXT)
            elif "estimates" in a.errors:
                self.readout.setText(f"<span style='color:#b00020'>{a.errors['estimates']}</span>")
            else:
                self.readout.setText(f"Computing the estimates for point {a.j} …")
        self._update_lam_status()

    def gaps(self) -> dict[str, float] | None:
        rec = self.record
        if rec is None:
            return None
        return dict(
            rec.result.decomposition if self.function_space.isChecked() else rec.result.decomposition_params
        )

    def _draw(self, *_) -> None:
        pi = self.plot.getPlotItem()
        gaps = self.gaps()
        space = "function space, mean|Δf|" if self.function_space.isChecked() else "parameter space, ‖Δθ‖"
        log = self.log.isChecked()
        axis = pi.getAxis("left")
        if gaps is None:
            self.bars.setOpts(height=np.zeros(5), y0=0)
            for t in self.value_labels:
                t.setText("")
            pi.setTitle("Error decomposition", color=style.BLACK, size="10pt")
            return
        v = np.array([gaps[g] for g in GAP_NAMES], dtype=float)
        if log:
            lv = np.log10(np.maximum(v, LOG_FLOOR))
            floor = math.floor(float(lv.min())) - 0.5
            top = math.ceil(float(lv.max())) + 0.6
            self.bars.setOpts(x=np.arange(5), height=lv - floor, y0=floor, width=0.62, brushes=BAR_COLORS)
            ys = lv
            pi.setYRange(floor, top, padding=0)
        else:
            floor = 0.0
            top = float(v.max()) * 1.18 or 1.0
            self.bars.setOpts(x=np.arange(5), height=v, y0=0, width=0.62, brushes=BAR_COLORS)
            ys = v
            pi.setYRange(0, top, padding=0)
        _set_axis_log(axis, log)
        for k, t in enumerate(self.value_labels):
            t.setText(fmt(v[k], 2))
            t.setPos(k, float(ys[k]))
        rec = self.record
        pi.setLabel(
            "left",
            "gap (" + ("mean|Δf|" if self.function_space.isChecked() else "‖Δθ‖") + ")",
            color=style.BLACK,
        )
        pi.setTitle(
            f"Error decomposition for point {rec.j}, λ = {rec.damping:.3g} ({space})",
            color=style.BLACK,
            size="10pt",
        )

    def _fill_table(self) -> None:
        rec = self.record
        for r, name in enumerate(TABLE_ORDER):
            if rec is None:
                for c in (1, 2, 3):
                    self.table.setItem(r, c, QTableWidgetItem(""))
                continue
            e = rec.result.estimates[name]
            gn = (
                "–"
                if e.grad_norm is None
                else fmt(e.grad_norm, 2) + ("" if e.converged in (None, True) else " ✗")
            )
            cells = [fmt(rec.function_to_cold[name], 3), gn, CENTRE_TEXT.get(e.centre, e.centre)]
            for c, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            self.table.item(r, 0).setToolTip(e.formula)
        if rec is None:
            return
        res = rec.result
        eig = ", ".join(fmt(v, 3) for v in res.hessian_min_eigenvalues)
        pd = (
            "positive definite"
            if res.hessian_positive_definite
            else "<span style='color:#b00020'>NOT positive definite</span>"
        )
        text = (
            f"<b>Point {res.j}</b>: self-influence s<sub>j</sub> = g<sub>j</sub>ᵀH⁻¹g<sub>j</sub> = "
            f"{fmt(res.self_influence)}; predicted change of ℓ<sub>j</sub> on deletion s<sub>j</sub>/n = "
            f"{fmt(res.predicted_loss_change)}, actual (LOO cold) {fmt(res.actual_loss_change)}. "
            f"Hessian H at the trained θ: smallest eigenvalues {eig} ({pd}). Solver: {res.solver}"
            f"{'' if res.solver_budget is None else f', budget {res.solver_budget}'}."
        )
        if res.warnings:
            text += "<br><span style='color:#b00020'>" + "<br>".join(res.warnings) + "</span>"
        self.readout.setText(text)

    # -- export ------------------------------------------------------------------------------------------
    def bars_table(self) -> Table:
        rec = self.record
        if rec is None:
            return ("gap", "function_space", "parameter_space"), []
        res = rec.result
        rows = [[g, float(res.decomposition[g]), float(res.decomposition_params[g])] for g in GAP_NAMES]
        rows += [[f"estimate {n}", rec.function_to_cold[n], rec.param_to_cold[n]] for n in TABLE_ORDER]
        return ("gap", "function_space", "parameter_space"), rows


def _set_axis_log(axis: Log10Axis, log: bool) -> None:
    """The left axis shows powers of ten in log mode, plain numbers otherwise."""
    axis.log10_mode = log
    axis.picture = None
    axis.update()
