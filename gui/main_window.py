"""The main window: the Data & fit view in the centre, panels as docks, menus, toolbar and status bar.

Panels live in :mod:`gui.panels` (one module per panel) and are registered by name in ``MainWindow.panels``
(``--panel NAME`` raises one); later panels (ε-path, homotopy, estimates, error decomposition) are added with
:meth:`MainWindow.add_dock_panel`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolBar,
    QWidget,
)

from core.data import (
    DEFAULT_N,
    DEFAULT_NOISE,
    DEFAULT_SEED,
    PRESETS,
    DataError,
    load_points,
    make_preset,
    save_points,
)
from core.problem import Problem, default_problem
from gui.controller import Controller
from gui.export import ExportError, export_figure
from gui.panels.fit_view import FitView, make_add_mode_action
from gui.panels.training_panel import TrainingPanel
from gui.state import LabState

PRESET_HELP = {
    "teacher": "20 points from the notes' Figure 3 teacher: a fixed random 1 → 3 → 1 tanh MLP plus noise",
    "sine": "y = sin(2x) + noise on [−π/2, π/2]",
    "linear": "y = 0.5 + x + noise on [−2, 2]",
    "outliers": "the linear data with 15 % of the labels shifted by ±2 (marked as corrupted)",
}

ABOUT_HTML = """
<h3>Influence Lab</h3>
<p>What influence functions really compute, for 1D regression with small MLPs: edit points, train live,
delete a point and compare the influence-function estimates with retraining.</p>
<p>Loss: ℓ<sub>i</sub> = ½ (f(θ; x<sub>i</sub>) − y<sub>i</sub>)², L<sub>w</sub>(θ) = (1/n) Σ w<sub>i</sub> ℓ<sub>i</sub>
+ (κ/2)‖θ‖²; a deleted point has weight 0.</p>
<p><b>References</b></p>
<ul>
<li>Koh &amp; Liang 2017, Understanding black-box predictions via influence functions (arXiv 1703.04730)</li>
<li>Koh, Ang, Teo &amp; Liang 2019, On the accuracy of influence functions for measuring group effects (1905.13289)</li>
<li>Bae, Ng, Lo, Ghassemi &amp; Grosse 2022, If influence functions are the answer, then what is the question? (2209.05364)</li>
<li>Neel, Roth &amp; Sharifi-Malvajerdi 2021, Descent-to-Delete</li>
<li>Mu &amp; Klabjan 2024 (2409.09778) and 2025 (2511.15983), Rewind-to-Delete</li>
<li>Ghorbani &amp; Zou 2019, Data Shapley (1904.02868)</li>
<li>Kreer et al. 2025, Bayesian influence functions (2509.26544)</li>
<li>Lee et al. 2025, stagewise influence (2510.12071)</li>
<li>Qiao et al. 2025, soft-weighted unlearning (2505.18783)</li>
<li>Cook &amp; Weisberg 1982, Residuals and influence in regression; Hayashi 2000, Econometrics</li>
</ul>
"""


class PresetDialog(QDialog):
    """New from preset: name, number of points, noise and seed."""

    def __init__(self, parent: QWidget | None = None, name: str = "teacher"):
        super().__init__(parent)
        self.setWindowTitle("New from preset")
        self.name = QComboBox()
        for p in PRESETS:
            self.name.addItem(p, p)
            self.name.setItemData(self.name.count() - 1, PRESET_HELP.get(p, ""), Qt.ItemDataRole.ToolTipRole)
        self.name.setCurrentText(name)
        self.name.setToolTip("The generating function of the points")
        self.n = QSpinBox()
        self.n.setRange(2, 100_000)
        self.n.setValue(DEFAULT_N)
        self.n.setToolTip("Number of points n")
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 100.0)
        self.noise.setDecimals(3)
        self.noise.setSingleStep(0.05)
        self.noise.setValue(DEFAULT_NOISE)
        self.noise.setToolTip("Standard deviation of the Gaussian label noise")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(DEFAULT_SEED)
        self.seed.setToolTip("Seed of the x positions and the noise")
        form = QFormLayout(self)
        form.addRow("Preset", self.name)
        form.addRow("Points n", self.n)
        form.addRow("Noise σ", self.noise)
        form.addRow("Seed", self.seed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class MainWindow(QMainWindow):
    def __init__(
        self, problem: Problem | None = None, parent: QWidget | None = None, interactive: bool = True
    ):
        super().__init__(parent)
        #: False in --screenshot runs: errors go to stderr instead of modal message boxes
        self.interactive = interactive
        self.setObjectName("InfluenceLabMainWindow")
        self.state = LabState(problem or default_problem(), self)
        self.controller = Controller(self.state, self)
        self.runner = self.controller.runner
        self.panels: dict[str, QWidget] = {}
        self._closed = False

        self.fit_view = FitView(self.state)
        self.setCentralWidget(self.fit_view)
        self.panels["fit"] = self.fit_view
        self.training_panel = TrainingPanel(self.state, self.controller)
        self.training_dock = self.add_dock_panel("training", "Model && Training", self.training_panel)
        self.resizeDocks([self.training_dock], [430], Qt.Orientation.Horizontal)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.setAcceptDrops(True)

        self.controller.liveFit.connect(self.fit_view.show_live)
        self.controller.errorOccurred.connect(self.report_error)
        self.runner.jobsChanged.connect(self._update_status)
        self.runner.progress.connect(self._on_progress)
        self.state.fitChanged.connect(self._update_status)
        self.state.pointsChanged.connect(self._update_title)
        self.state.selectionChanged.connect(self._update_actions)
        self.state.pointsChanged.connect(self._update_actions)
        self._update_title()
        self._update_actions()
        self._update_status()
        self.resize(1400, 900)

    # -- panels ------------------------------------------------------------------------------------------
    def add_dock_panel(
        self,
        name: str,
        title: str,
        widget: QWidget,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        self.panels[name] = dock
        return dock

    def show_panel(self, name: str) -> bool:
        panel = self.panels.get(name)
        if panel is None:
            return False
        if isinstance(panel, QDockWidget):
            panel.show()
            panel.raise_()
        return True

    # -- actions -----------------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        return a

    def _build_actions(self) -> None:
        st = self.state
        self.act_open = self._action(
            "Open points…",
            self.open_points_dialog,
            QKeySequence.StandardKey.Open,
            "Load points from a CSV (x,y[,weight][,label]) or JSON file",
        )
        self.act_save = self._action(
            "Save points…",
            self.save_points_dialog,
            QKeySequence.StandardKey.Save,
            "Save the points (with weights) as CSV or JSON",
        )
        self.act_preset = self._action(
            "New from preset…",
            self.preset_dialog,
            QKeySequence.StandardKey.New,
            "Replace the points by a built-in dataset (choose n, noise and seed)",
        )
        self.act_export = self._action(
            "Export plot…",
            lambda: self.fit_view.export_actions[0].trigger(),
            "Ctrl+E",
            "Save the Data & fit plot as PNG, SVG or PDF",
        )
        self.act_quit = self._action("Quit", self.close, QKeySequence.StandardKey.Quit, "Close Influence Lab")

        self.act_undo = st.undo_stack.createUndoAction(self, "Undo")
        self.act_undo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.act_undo.setToolTip("Undo the last edit (Ctrl+Z)")
        self.act_redo = st.undo_stack.createRedoAction(self, "Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_redo.setToolTip("Redo (Ctrl+Shift+Z)")
        self.act_delete = self._action(
            "Delete point",
            self.delete_selected,
            [QKeySequence.StandardKey.Delete, QKeySequence(Qt.Key.Key_Backspace)],
            "Delete the selected point (weight 0; it stays visible, hollow, and can be restored) — Del / Backspace",
        )
        self.act_restore = self._action(
            "Restore point",
            self.restore_selected,
            "R",
            "Give the selected deleted point its weight 1 back (R)",
        )
        self.act_weight = self._action(
            "Set weight…", self.weight_selected, "W", "Set the selected point's weight in [0, 1] (W)"
        )
        self.act_deselect = self._action(
            "Clear selection",
            self.escape,
            Qt.Key.Key_Escape,
            "Clear the selection and leave Add-points mode (Esc)",
        )
        self.act_add_mode = make_add_mode_action(self.fit_view, self)
        self.act_fit_range = self._action(
            "Frame the data", self.fit_view.fit_range, "Ctrl+0", "Zoom the Data & fit plot to the points"
        )

        c = self.controller
        self.act_start = self._action(
            "Start / resume training", c.start, "F5", "Train from θ_0 (or resume a paused run) — F5"
        )
        self.act_pause = self._action("Pause training", c.pause, "F6", "Pause the running training — F6")
        self.act_step = self._action("Step", c.step, "F7", "Advance a paused run by one chunk of steps — F7")
        self.act_reset = self._action(
            "Reset to θ_0", c.reset, "Shift+F5", "Go back to θ_0 and wait — Shift+F5"
        )
        self.act_cancel = self._action(
            "Cancel computations", self.cancel_all, None, "Stop every running computation"
        )
        self.act_about = self._action(
            "About Influence Lab", self.about, None, "What this is, and the references"
        )
        self.addActions(
            [
                self.act_undo,
                self.act_redo,
                self.act_delete,
                self.act_restore,
                self.act_weight,
                self.act_deselect,
                self.act_add_mode,
                self.act_start,
                self.act_pause,
                self.act_step,
                self.act_reset,
                self.act_fit_range,
            ]
        )

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        presets = m.addMenu("New from preset")
        group = QActionGroup(self)
        for p in PRESETS:
            a = presets.addAction(p, lambda p=p: self.new_from_preset(p))
            a.setToolTip(PRESET_HELP.get(p, ""))
            a.setStatusTip(PRESET_HELP.get(p, ""))
            group.addAction(a)
        presets.addSeparator()
        presets.addAction(self.act_preset)
        presets.setToolTipsVisible(True)
        m.addAction(self.act_open)
        m.addAction(self.act_save)
        m.addSeparator()
        m.addAction(self.act_export)
        m.addSeparator()
        m.addAction(self.act_quit)

        m = mb.addMenu("&Edit")
        for a in (
            self.act_undo,
            self.act_redo,
            None,
            self.act_add_mode,
            self.act_delete,
            self.act_restore,
            self.act_weight,
            self.act_deselect,
        ):
            m.addSeparator() if a is None else m.addAction(a)

        m = mb.addMenu("&Training")
        for a in (self.act_start, self.act_pause, self.act_step, self.act_reset, None, self.act_cancel):
            m.addSeparator() if a is None else m.addAction(a)

        self.view_menu = mb.addMenu("&View")
        self.view_menu.addAction(self.act_fit_range)
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.training_dock.toggleViewAction())

        m = mb.addMenu("&Help")
        m.addAction(self.act_about)
        for menu in mb.findChildren(type(m)):
            menu.setToolTipsVisible(True)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for a in (
            self.act_preset,
            self.act_open,
            self.act_save,
            None,
            self.act_undo,
            self.act_redo,
            None,
            self.act_add_mode,
            self.act_delete,
            self.act_restore,
            None,
            self.act_export,
        ):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_label = QLabel("")
        self.status_label.setObjectName("statusMessage")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(False)
        self.progress.setToolTip("Progress of the running computation")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop every running computation")
        self.cancel_btn.clicked.connect(self.cancel_all)
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_btn)

    # -- status --------------------------------------------------------------------------------------------
    def _on_progress(self, kind: str, progress) -> None:
        job = self.runner.job(kind)
        if job is None:
            return
        self.progress.setValue(int(1000 * progress.fraction))
        self._update_status()

    def _update_status(self) -> None:
        active = self.runner.active()
        busy = bool(active)
        self.progress.setVisible(busy)
        self.cancel_btn.setVisible(busy)
        if busy:
            parts = []
            for info in active:
                msg = info.progress.message if info.progress is not None else "starting…"
                if info.paused:
                    parts.append(f"Paused: {info.label} — {msg} (F5 resumes, F7 steps)")
                else:
                    parts.append(f"{info.label}: {msg}")
            self.status_label.setText(" · ".join(parts))
            self.act_cancel.setEnabled(True)
            return
        self.act_cancel.setEnabled(False)
        fit = self.state.fit
        if fit is None:
            self.status_label.setText("Ready — not trained (F5 trains)")
        else:
            stale = "" if self.state.fit_is_current() else " (for an earlier version of the points/settings)"
            if fit.converged:
                how = "converged"
            elif not fit.settings.converge:
                how = "early-stopped"
            else:
                how = "NOT converged (see the training panel)"
            self.status_label.setText(
                f"Ready — trained model{stale}: L = {fit.loss:.4g}, ‖∇L‖ = {fit.grad_norm:.2g}, {how}"
            )
            self.status_label.setToolTip(fit.message)

    def _update_title(self) -> None:
        ds = self.state.data
        name = ds.name or "untitled"
        deleted = int((ds.weight == 0).sum())
        extra = f", {deleted} deleted" if deleted else ""
        self.setWindowTitle(f"Influence Lab — {name} ({ds.n} points{extra})")

    def _update_actions(self, *_) -> None:
        i = self.state.selection
        has = i is not None
        w = float(self.state.data.weight[i]) if has else 0.0
        self.act_delete.setEnabled(has and w > 0)
        self.act_restore.setEnabled(has and w < 1)
        self.act_weight.setEnabled(has)

    # -- intents -------------------------------------------------------------------------------------------
    def delete_selected(self) -> None:
        if self.state.selection is not None:
            self.state.delete_point(self.state.selection)

    def restore_selected(self) -> None:
        if self.state.selection is not None:
            self.state.restore_point(self.state.selection)

    def weight_selected(self) -> None:
        if self.state.selection is not None:
            self.fit_view.ask_weight(self.state.selection)

    def escape(self) -> None:
        self.state.select(None)
        self.act_add_mode.setChecked(False)

    def cancel_all(self) -> None:
        self.controller.cancel_all()

    def new_from_preset(
        self, name: str, n: int | None = None, noise: float | None = None, seed: int | None = None
    ) -> bool:
        try:
            ds = make_preset(name, n=n, noise=noise, seed=seed)
        except DataError as exc:
            self.report_error("Cannot make the preset", str(exc))
            return False
        self.state.set_dataset(ds, f"New from preset {name}")
        self.fit_view.fit_range()
        return True

    def preset_dialog(self) -> None:
        dlg = PresetDialog(self, self.state.data.name if self.state.data.name in PRESETS else "teacher")
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.new_from_preset(dlg.name.currentData(), dlg.n.value(), dlg.noise.value(), dlg.seed.value())

    def open_points(self, path: str | Path) -> bool:
        """Load points from a file; on any problem show it and keep the current points."""
        try:
            ds = load_points(path)
        except DataError as exc:
            self.report_error("Cannot open points", str(exc), critical=True)
            return False
        self.state.set_dataset(ds, f"Open {Path(path).name}")
        self.fit_view.fit_range()
        return True

    def open_points_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open points", "", "Points (*.csv *.json);;All files (*)")
        if path:
            self.open_points(path)

    def save_points(self, path: str | Path) -> bool:
        try:
            save_points(self.state.data, path)
        except DataError as exc:
            self.report_error("Cannot save points", str(exc), critical=True)
            return False
        self.statusBar().showMessage(f"Saved {self.state.data.n} points to {path}", 4000)
        return True

    def save_points_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save points", f"{self.state.data.name or 'points'}.csv", "CSV (*.csv);;JSON (*.json)"
        )
        if path:
            p = Path(path)
            if p.suffix.lower() not in (".csv", ".json"):
                p = p.with_suffix(".json" if "json" in chosen.lower() else ".csv")
            self.save_points(p)

    def export_plot(self, path: str | Path) -> Path | None:
        try:
            return export_figure(self.fit_view.plot, path)
        except ExportError as exc:
            self.report_error("Export failed", str(exc))
            return None

    def about(self) -> None:
        QMessageBox.about(self, "About Influence Lab", ABOUT_HTML)

    def report_error(self, title: str, message: str, critical: bool = False) -> None:
        if not self.interactive:
            print(f"influence-lab: {title}: {message}", file=sys.stderr)
            return
        if critical:
            QMessageBox.critical(self, title, message)
        else:
            QMessageBox.warning(self, title, message)

    # -- drag and drop of points files -------------------------------------------------------------------
    def dragEnterEvent(self, event):
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in (".csv", ".json") for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        for u in event.mimeData().urls():
            if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in (".csv", ".json"):
                self.open_points(u.toLocalFile())
                event.acceptProposedAction()
                return

    # -- lifetime ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Train on the current session (the app calls this once the window is shown)."""
        self.controller.train()

    def is_idle(self) -> bool:
        return self.controller.idle()

    def shutdown(self) -> bool:
        """Stop and join every worker (idempotent)."""
        if self._closed:
            return True
        self._closed = True
        return self.controller.shutdown()

    def closeEvent(self, event):
        self.shutdown()
        super().closeEvent(event)
