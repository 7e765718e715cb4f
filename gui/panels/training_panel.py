"""Model & Training panel: the model and optimiser settings, Start / Pause / Step / Reset, the live loss curve.

Edits become undoable :class:`gui.state.Settings` changes in the state, which retrain automatically (when
"Retrain on every edit" is on). Invalid input (a hidden-widths text like "3,x", a negative learning rate) is
marked red with the reason in the tooltip and changes nothing.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.model import ACTIVATIONS
from gui import style
from gui.controller import Controller
from gui.export import install_export_actions
from gui.panels.common import fixed_height_box
from gui.state import FitRecord, LabState, Settings
from gui.tasks import LiveFit, steps_per_yield

#: Smallest interval between two redraws of the live loss curve (seconds).
LOSS_REDRAW_S = 0.1

OPTIMIZER_LABELS = {"gd": "Gradient descent", "sgd": "SGD (mini-batch)", "adam": "Adam"}
MODEL_LABELS = {"mlp": "MLP", "linear": "Linear (polynomial features)"}

_BAD = "QLineEdit { background: #fde2e1; }"


def parse_hidden(text: str) -> tuple[int, ...]:
    """'3' → (3,), '32,32' or '32 32' → (32, 32); ValueError with a readable message otherwise."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise ValueError("give at least one hidden width, e.g. 3 or 32,32")
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"{text!r}: hidden widths are whole numbers separated by commas, e.g. 32,32"
        ) from None
    if any(w < 1 or w > 4096 for w in widths):
        raise ValueError("each hidden width must be between 1 and 4096")
    return widths


def parse_float(text: str, what: str, minimum: float = -math.inf, positive: bool = False) -> float:
    try:
        v = float(text.strip())
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number (write e.g. 0.1 or 1e-3)") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite")
    if positive and v <= 0:
        raise ValueError(f"{what} must be > 0")
    if v < minimum:
        raise ValueError(f"{what} must be ≥ {minimum:g}")
    return v


def fmt(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.3g}"


class TrainingPanel(QWidget):
    settingsError = Signal(str)

    def __init__(self, state: LabState, controller: Controller, parent: QWidget | None = None):
        super().__init__(parent)
        style.configure_pyqtgraph()
        self.state = state
        self.controller = controller
        self._updating = False

        # -- model ---------------------------------------------------------------------------------------
        self.model_kind = QComboBox()
        for key, label in MODEL_LABELS.items():
            self.model_kind.addItem(label, key)
        self.model_kind.setToolTip("MLP 1 → h₁ → … → 1, or a linear model θᵀφ(x) with φ(x) = (1, x, …, x^p)")
        self.hidden = QLineEdit()
        self.hidden.setToolTip("Hidden layer widths, e.g. 3 (the notes' 1 → 3 → 1) or 32,32 for two layers")
        self.activation = QComboBox()
        self.activation.addItems(list(ACTIVATIONS))
        self.activation.setToolTip("Activation σ of every hidden layer")
        self.degree = QSpinBox()
        self.degree.setRange(0, 12)
        self.degree.setToolTip("Linear model: polynomial degree p of the features (1, x, …, x^p)")
        self.init_seed = QSpinBox()
        self.init_seed.setRange(0, 2**31 - 1)
        self.init_seed.setToolTip("Seed of the initial parameters θ_0 (and of SGD's shuffling)")

        model_box = QGroupBox("Model")
        mf = QFormLayout(model_box)
        mf.addRow("Kind", self.model_kind)
        mf.addRow("Hidden widths", self.hidden)
        mf.addRow("Activation", self.activation)
        mf.addRow("Degree", self.degree)
        mf.addRow("Init seed", self.init_seed)

        # -- training ------------------------------------------------------------------------------------
        self.optimizer = QComboBox()
        for key, label in OPTIMIZER_LABELS.items():
            self.optimizer.addItem(label, key)
        self.optimizer.setToolTip(
            "Full-batch gradient descent (the Euler steps of gradient flow), SGD or Adam"
        )
        self.batch_size = QSpinBox()
        self.batch_size.setRange(0, 100_000)
        self.batch_size.setSpecialValueText("full batch")
        self.batch_size.setToolTip("SGD mini-batch size (0 = full batch)")
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate η (step size), e.g. 0.1; accepts 1e-3 notation")
        self.weight_decay = QLineEdit()
        self.weight_decay.setToolTip(
            "Weight decay κ in L_w(θ) = (1/n) Σ w_i ℓ_i(θ) + (κ/2)‖θ‖².\n"
            "A small κ (1e-3) makes the MLP's minimum isolated; κ = 0 is allowed (often degenerate)."
        )
        self.steps = QSpinBox()
        self.steps.setRange(0, 10_000_000)
        self.steps.setSingleStep(500)
        self.steps.setGroupSeparatorShown(True)
        self.steps.setToolTip("Training steps T (the early-stopped θ^s is the parameter after T steps)")
        self.converge = QCheckBox("Train to convergence")
        self.converge.setToolTip(
            "After the T steps, polish with Newton / Levenberg–Marquardt to ‖∇L‖ ≤ 1e-10 (converged parameters);\n"
            "off: use the early-stopped parameters after T steps"
        )
        self.auto = QCheckBox("Retrain on every edit")
        self.auto.setChecked(controller.auto_retrain)
        self.auto.setToolTip("Restart training from θ_0 whenever the points or settings change")

        train_box = QGroupBox("Training")
        tf = QFormLayout(train_box)
        tf.addRow("Optimiser", self.optimizer)
        tf.addRow("Batch size", self.batch_size)
        tf.addRow("Learning rate η", self.lr)
        tf.addRow("Weight decay κ", self.weight_decay)
        tf.addRow("Steps T", self.steps)
        tf.addRow(self.converge)
        tf.addRow(self.auto)
        for form in (mf, tf):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()

        # -- buttons ------------------------------------------------------------------------------------
        self.start_btn = QPushButton("Start")
        self.start_btn.setToolTip("Train from θ_0 with these settings (or resume a paused run)")
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setToolTip("Pause the running training; Start resumes, Step advances")
        self.step_btn = QPushButton("Step")
        self.reset_btn = QPushButton("Reset")
        self.reset_btn.setToolTip("Go back to θ_0 and wait (Start trains, Step advances a few steps)")
        buttons = QGridLayout()
        buttons.addWidget(self.start_btn, 0, 0)
        buttons.addWidget(self.pause_btn, 0, 1)
        buttons.addWidget(self.step_btn, 0, 2)
        buttons.addWidget(self.reset_btn, 0, 3)

        # -- live loss ----------------------------------------------------------------------------------
        self.loss_plot = pg.PlotWidget(axisItems={"left": style.LogAxis("left")})
        self.loss_plot.setObjectName("lossPlot")
        self.loss_plot.setWindowTitle("Training loss")
        lp = self.loss_plot.getPlotItem()
        style.style_plot(lp, "Training loss")
        style.set_labels(lp, "step k", "L<sub>w</sub>(θ<sub>k</sub>)")
        lp.setLogMode(x=False, y=True)
        lp.getAxis("left").enableAutoSIPrefix(False)
        lp.setMenuEnabled(True)
        self.loss_plot.setMinimumHeight(170)
        self.loss_curve = lp.plot([], [], pen=pg.mkPen(style.LOSS_COLOR, width=2))
        self.final_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen(style.FIT_COLOR, width=1.5, style=Qt.PenStyle.DashLine),
            label="trained",
            labelOpts={"position": 0.12, "color": style.FIT_COLOR, "anchors": [(0, 1), (0, 1)]},
        )
        lp.addItem(
            self.final_line
        )  # counts for the auto range: the trained loss (after the polish) stays in view
        self.final_line.hide()
        # said in the plot (centred, in pixels) when a session restored θ̂ without its training run
        self.no_history = pg.TextItem("", color=style.GREY, anchor=(0.5, 0.5))
        self.no_history.setParentItem(lp.vb)
        lp.vb.sigResized.connect(lambda vb: self.no_history.setPos(vb.width() / 2, vb.height() / 2))
        self.loss_plot.setToolTip(
            "Training loss L_w(θ_k) against the step k (log scale); dashed: L at the trained parameters"
        )
        install_export_actions(self.loss_plot, "training-loss")

        self.readout = QLabel("")
        self.readout.setObjectName("trainingReadout")
        self.readout.setWordWrap(True)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setToolTip("Step, loss L_w and gradient norm ‖∇L_w‖ of the current parameters")

        # what went wrong with the last training and what to change (a diverged run offers a smaller η)
        self.advice = QLabel("")
        self.advice.setObjectName("trainingAdvice")
        self.advice.setWordWrap(True)
        self.advice.setStyleSheet("color: #b00020;")
        self.advice.hide()
        self.remedy_btn = QPushButton("")
        self.remedy_btn.setObjectName("trainingRemedy")
        self.remedy_btn.hide()
        self.remedy_btn.clicked.connect(self._apply_remedy)
        self._remedy_lr: float | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(model_box)
        layout.addWidget(train_box)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addWidget(self.advice)
        layout.addWidget(self.remedy_btn)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(fixed_height_box(self.readout, 3))

        # -- wiring -------------------------------------------------------------------------------------
        for w in (self.model_kind, self.activation, self.optimizer):
            w.currentIndexChanged.connect(self._commit)
        for w in (self.hidden, self.lr, self.weight_decay):
            w.editingFinished.connect(self._commit)
        for w in (self.degree, self.init_seed, self.steps, self.batch_size):
            w.editingFinished.connect(self._commit)
        self.converge.toggled.connect(self._commit)
        self.auto.toggled.connect(self._set_auto)
        self.start_btn.clicked.connect(controller.start)
        self.pause_btn.clicked.connect(controller.pause)
        self.step_btn.clicked.connect(controller.step)
        self.reset_btn.clicked.connect(controller.reset)
        self._pending_live: LiveFit | None = None
        self._last_loss_draw = 0.0
        self._loss_timer = QTimer(self)
        self._loss_timer.setSingleShot(True)
        self._loss_timer.setInterval(int(1000 * LOSS_REDRAW_S))
        self._loss_timer.timeout.connect(self._draw_loss_live)
        controller.liveFit.connect(self.show_live)
        controller.trainingStateChanged.connect(self._update_buttons)
        state.modelChanged.connect(self._load_settings)
        state.fitChanged.connect(self._on_fit_changed)
        self._load_settings()
        self._update_buttons()

    # -- settings <-> widgets ----------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.state.settings
        self._updating = True
        try:
            self.model_kind.setCurrentIndex(self.model_kind.findData(s.model_kind))
            self.hidden.setText(",".join(str(h) for h in s.hidden))
            self.activation.setCurrentText(s.activation if s.model_kind == "mlp" else "tanh")
            self.degree.setValue(s.degree)
            self.init_seed.setValue(s.init_seed)
            self.optimizer.setCurrentIndex(self.optimizer.findData(s.optimizer))
            self.batch_size.setValue(s.batch_size or 0)
            self.lr.setText(f"{s.lr:g}")
            self.weight_decay.setText(f"{s.weight_decay:g}")
            self.steps.setValue(s.steps)
            self.converge.setChecked(s.converge)
            for w in (self.hidden, self.lr, self.weight_decay):
                w.setStyleSheet("")
            self.error.hide()
        finally:
            self._updating = False
        self._update_enabled()

    def _update_enabled(self) -> None:
        mlp = self.model_kind.currentData() == "mlp"
        self.hidden.setEnabled(mlp)
        self.activation.setEnabled(mlp)
        self.degree.setEnabled(not mlp)
        self.batch_size.setEnabled(self.optimizer.currentData() == "sgd")
        chunk = steps_per_yield(self.steps.value())
        self.step_btn.setToolTip(
            f"Advance a paused training run by {chunk} step{'s' if chunk > 1 else ''} "
            "(starts a paused run at θ_0 if none is running)"
        )

    def read_settings(self) -> Settings:
        """The settings the widgets show; ValueError naming the bad field otherwise."""
        s = self.state.settings
        kind = self.model_kind.currentData()
        hidden = parse_hidden(self.hidden.text()) if kind == "mlp" else s.hidden
        activation = self.activation.currentText() if kind == "mlp" else "identity"
        return replace(
            s,
            model_kind=kind,
            hidden=hidden,
            activation=activation,
            degree=self.degree.value(),
            init_seed=self.init_seed.value(),
            optimizer=self.optimizer.currentData(),
            batch_size=self.batch_size.value() or None,
            lr=parse_float(self.lr.text(), "learning rate", positive=True),
            weight_decay=parse_float(self.weight_decay.text(), "weight decay", minimum=0.0),
            steps=self.steps.value(),
            converge=self.converge.isChecked(),
        )

    def _commit(self, *_) -> None:
        if self._updating:
            return
        self._update_enabled()
        for w in (self.hidden, self.lr, self.weight_decay):
            w.setStyleSheet("")
        try:
            settings = self.read_settings()
            self.state.set_settings(settings)
        except ValueError as exc:
            msg = str(exc)
            bad = {"hidden": self.hidden, "learning": self.lr, "weight": self.weight_decay}
            for key, widget in bad.items():
                if key in msg.lower():
                    widget.setStyleSheet(_BAD)
            self.error.setText(msg)
            self.error.show()
            self.settingsError.emit(msg)
            return
        self.error.hide()

    def _set_auto(self, on: bool) -> None:
        self.controller.auto_retrain = bool(on)

    # -- live view ---------------------------------------------------------------------------------------
    def show_live(self, live: LiveFit) -> None:
        # the loss curve is redrawn at most LOSS_REDRAW_S apart (the fit view keeps the full frame rate): each
        # redraw repaints the whole log-scale plot, and a frame that repaints two plots is twice as long
        self._pending_live = live
        if self.no_history.textItem.toPlainText():
            self.no_history.setText("")
        now = time.monotonic()
        if now - self._last_loss_draw >= LOSS_REDRAW_S or live.phase != "training":
            self._draw_loss_live()
        elif not self._loss_timer.isActive():
            self._loss_timer.start()
        if live.phase != "polishing":
            self.final_line.hide()
        what = {"init": "θ_0", "polishing": "polishing"}.get(live.phase, "training")
        self.readout.setText(
            f"<b>{what}</b>: step {live.step} / {live.steps}<br>L<sub>w</sub> = {fmt(live.loss)} · "
            f"‖∇L<sub>w</sub>‖ = {fmt(live.grad_norm)}"
        )

    def _draw_loss_live(self) -> None:
        live = self._pending_live
        if live is None:
            return
        self._last_loss_draw = time.monotonic()
        steps, loss = live.history()
        self.loss_curve.setData(steps, np.maximum(loss, 1e-300), skipFiniteCheck=True)

    def _on_fit_changed(self) -> None:
        self._loss_timer.stop()
        self._pending_live = None
        fit: FitRecord | None = self.state.fit
        if fit is None:
            self.final_line.hide()
            return
        self.loss_curve.setData(fit.history_steps, np.maximum(fit.history_loss, 1e-300), skipFiniteCheck=True)
        restored = bool(fit.extra.get("restored")) and len(fit.history_steps) == 0
        self.no_history.setText(
            "no training history:\nthe trained θ came from the session file" if restored else ""
        )
        # without a curve the dashed line's "trained" label would sit on the centred note
        self.final_line.label.setVisible(not restored)
        if fit.loss > 0:
            self.final_line.setValue(math.log10(fit.loss))
            self.final_line.show()
        if fit.converged:
            status = "converged"
        elif not fit.settings.converge:
            status = "early-stopped (no polish)"
        else:
            status = "<span style='color:#b00020'>not converged</span>"
        eig = ""
        polished = " + Newton polish" if fit.settings.converge else ""
        if fit.min_eigenvalues is not None and len(fit.min_eigenvalues):
            eig = f"<br>smallest Hessian eigenvalue λ<sub>min</sub> = {fmt(float(fit.min_eigenvalues[0]))}"
        how = (
            "<b>Restored</b> from the session file (no training history)"
            if fit.extra.get("restored")
            else f"<b>Trained</b>: {fit.extra.get('steps_taken', '?')} steps{polished}"
        )
        if fit.extra.get("diverged"):
            status = "<span style='color:#b00020'>diverged</span>"
        self.readout.setText(
            f"{how}<br>"
            f"L<sub>w</sub> = {fmt(fit.loss)} · ‖∇L<sub>w</sub>‖ = {fmt(fit.grad_norm)} · {status}{eig}"
        )
        self.readout.setToolTip(fit.message)
        self._show_advice(fit)

    def _show_advice(self, fit: FitRecord) -> None:
        text, lr = training_advice(fit)
        self.advice.setText(text)
        self.advice.setVisible(bool(text))
        self._remedy_lr = lr
        self.remedy_btn.setVisible(lr is not None)
        if lr is not None:
            self.remedy_btn.setText(f"Use η = {lr:g} and retrain")

    def _apply_remedy(self) -> None:
        if self._remedy_lr is not None:
            from dataclasses import replace

            self.state.set_settings(replace(self.state.settings, lr=self._remedy_lr))
            self.controller.train()

    def _update_buttons(self) -> None:
        running = self.controller.is_training()
        paused = self.controller.is_paused()
        self.start_btn.setEnabled(not running or paused)
        self.pause_btn.setEnabled(running and not paused)
        self.start_btn.setText("Resume" if paused else "Start")


def training_advice(fit: FitRecord) -> tuple[str, float | None]:
    """What the user should know about a finished training and, for a diverged one, the η to try."""
    s = fit.settings
    if fit.extra.get("diverged"):
        at = fit.extra.get("diverged_at")
        lr = fit.extra.get("suggested_lr")
        step = f" at step {at}" if at is not None and at >= 0 else ""
        try_lr = f" η = {lr:g} is below the stability bound 2/λ_max at θ_0." if lr else ""
        return (
            f"Training diverged{step} with η = {s.lr:g}: the loss became huge or not finite, so nothing is "
            f"analysed on this model. Lower the learning rate.{try_lr}",
            lr,
        )
    if s.converge and not fit.converged:
        eig = (
            None
            if fit.min_eigenvalues is None or not len(fit.min_eigenvalues)
            else float(fit.min_eigenvalues[0])
        )
        causes = []
        if eig is not None and eig < 0:
            causes.append(
                f"the Hessian has a negative eigenvalue (λ_min = {eig:.2g}): the polish stopped near a saddle — "
                "more steps T, a larger weight decay κ or another init seed usually lead to a minimum"
            )
        elif eig is not None and eig < 1e-8:
            causes.append(
                f"the Hessian is nearly singular (λ_min = {eig:.2g}): a flat direction — a larger weight decay κ "
                "makes the minimum unique; the analysis uses the damping λ"
            )
        if fit.grad_norm > 1e-3:
            causes.append(f"‖∇L‖ = {fit.grad_norm:.2g} is far from 0: give more steps T or a larger η")
        if not causes:
            causes.append("more steps T or a larger weight decay κ usually help")
        return "Not converged: " + "; ".join(causes) + ".", None
    return "", None
