"""The main window: the Data & fit view in the centre, panels as docks, menus, toolbar and status bar.

Panels live in :mod:`gui.panels` (one module per panel) and are registered by name in ``MainWindow.panels``
(``--panel NAME`` raises one): ``fit`` (the centre), ``training`` (right), and the analysis docks ``eps``,
``homotopy`` and ``decomposition`` (tabbed below the fit). Deleting a point analyses its deletion
(:mod:`gui.controller`); the File menu opens and saves sessions (:mod:`core.session`), keeps recent files and
exports every figure at once; Help → Examples opens the sessions that reproduce the notes' figures.
Preferences (geometry, dock layout, recent files, last-used settings) live in an INI file (:mod:`gui.settings`).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, Qt
from PySide6.QtGui import QAction, QActionGroup, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QApplication,
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
    QScrollArea,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core.points.dataset import (
    DEFAULT_N,
    DEFAULT_NOISE,
    DEFAULT_SEED,
    DELIMITED_SUFFIXES,
    POINTS_SUFFIXES,
    PRESETS,
    DataError,
    make_preset,
    points_columns,
    read_points,
    save_points,
)
from core.problem import Problem, default_problem
from core.session import Session, SessionError, load_session, save_session
from gui import examples
from gui.column_picker import pick_columns
from gui.controller import Controller
from gui.dynamics_tasks import MODE_FIG4, MODE_MLP
from gui.export import ExportError, export_csv, export_figure, export_figure_set, plot_table
from gui.panels.attribution_panel import AttributionPanel
from gui.panels.common import ProjectionModel, staggered_updates_pending
from gui.panels.decomposition import DecompositionPanel
from gui.panels.eps_path import EpsPathPanel
from gui.panels.fit_view import FitView, make_add_mode_action
from gui.panels.homotopy import HomotopyPanel
from gui.panels.schedules_panel import SchedulesPanel
from gui.panels.training_panel import TrainingPanel
from gui.panels.unlearn_panel import UnlearnPanel
from gui.paper_figure import DEFAULT_SIZE
from gui.settings import AppSettings
from gui.state import PRESET_SETTINGS, LabState, Settings, describe_settings

#: Names accepted by ``--panel`` and :meth:`MainWindow.show_panel` besides the registered ones.
PANEL_ALIASES = {"eps_path": "eps", "epspath": "eps", "decomp": "decomposition", "main": "fit"}

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


class _MinimumHeightHolder(QWidget):
    """Holds a panel inside a scroll area and asks the area for the panel's minimum height only.

    Why: a panel with word-wrapped labels has a height-for-width layout, and QScrollArea then sizes the panel to its
    *preferred* height (every plot at its size hint), so a dock shorter than that scrolls and crops the plots.
    With the minimum, the plots stretch into whatever height the dock offers and the area scrolls only below it."""

    def __init__(self, panel: QWidget):
        super().__init__()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(panel)

    def heightForWidth(self, width: int) -> int:
        return self.minimumSizeHint().height()


def _scrollable(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(_MinimumHeightHolder(widget))
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


class MainWindow(QMainWindow):
    def __init__(
        self,
        problem: Problem | None = None,
        parent: QWidget | None = None,
        interactive: bool = True,
        settings: AppSettings | None = None,
        remember: bool = True,
    ):
        super().__init__(parent)
        #: False in --screenshot runs: errors go to stderr instead of modal message boxes
        self.interactive = interactive
        #: write preferences (geometry, recent files, last-used settings) on close
        self.remember = remember
        self.app_settings = settings or AppSettings()
        #: the physical size of exported PDF / SVG figures (File → Figure size…, or the command line)
        self.figure_size = self.app_settings.figure_size() if remember else DEFAULT_SIZE
        self.setObjectName("InfluenceLabMainWindow")
        self.state = LabState(problem or default_problem(), self)
        self.controller = Controller(self.state, self)
        self.runner = self.controller.runner
        self.runner.watch_paints(self)  # workers pause while this window paints (gui.jobs.PaintWatcher)
        self.panels: dict[str, QWidget] = {}
        self._closed = False
        self.session_path: Path | None = None
        #: writes the session to the autosave slot every few edits and on close (gui.autosave); see enable_autosave
        self.autosaver = None
        self._last_animated = None

        self.fit_view = FitView(self.state)
        self.setCentralWidget(self.fit_view)
        self.panels["fit"] = self.fit_view
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.training_panel = TrainingPanel(self.state, self.controller)
        # scrolls on a short screen instead of pushing the window's minimum height past it
        training_area = _scrollable(self.training_panel)
        training_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = training_area.verticalScrollBar().sizeHint().width()  # room for the panel and a scroll bar
        training_area.setMinimumWidth(self.training_panel.minimumSizeHint().width() + bar + 4)
        self.training_dock = self.add_dock_panel("training", "Model && Training", training_area)

        self.projection = ProjectionModel(self)
        self.eps_panel = EpsPathPanel(self.state, self.projection)
        self.homotopy_panel = HomotopyPanel(self.state, self.projection)
        self.decomposition_panel = DecompositionPanel(self.state)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.eps_dock = self.add_dock_panel("eps", "ε-path θ(ε)", self.eps_panel, bottom)
        self.homotopy_dock = self.add_dock_panel("homotopy", "Homotopy θ(t, ε)", self.homotopy_panel, bottom)
        self.decomposition_dock = self.add_dock_panel(
            "decomposition", "Error decomposition", self.decomposition_panel, bottom
        )
        # deletion dynamics: they compute only while visible, so tabbed away they cost nothing
        self.schedules_panel = SchedulesPanel(self.state, self.runner)
        self.unlearn_panel = UnlearnPanel(self.state, self.runner)
        # in scroll areas: their minimum sizes must not squeeze the fit view when the bottom docks are short
        self.schedules_dock = self.add_dock_panel(
            "schedules", "Schedules ε(t)", _scrollable(self.schedules_panel), bottom
        )
        self.unlearn_dock = self.add_dock_panel(
            "unlearn", "Unlearning", _scrollable(self.unlearn_panel), bottom
        )
        # per-point attribution: computes only while in view; colours the fit view's points on request
        self.attribution_panel = AttributionPanel(self.state, self.runner)
        self.attribution_dock = self.add_dock_panel(
            "attribution", "Attribution", _scrollable(self.attribution_panel), bottom
        )
        self.attribution_dock.visibilityChanged.connect(
            lambda v: v and self.attribution_panel.came_into_view()
        )
        self.attribution_panel.colouringRequested.connect(self.fit_view.set_external_colouring)
        # the unlearned models are drawn in the fit view while the unlearning panel is in view
        self._unlearn_overlays: set[str] = set()
        self.unlearn_panel.overlayRequested.connect(self._on_unlearn_overlay)
        self.unlearn_dock.visibilityChanged.connect(self._sync_unlearn_overlays)
        # tabbed docks: raising a tab does not send the panel a showEvent, so tell it
        self.schedules_dock.visibilityChanged.connect(lambda v: v and self.schedules_panel.came_into_view())
        self.unlearn_dock.visibilityChanged.connect(lambda v: v and self.unlearn_panel.came_into_view())
        self.tabifyDockWidget(self.eps_dock, self.homotopy_dock)
        self.tabifyDockWidget(self.homotopy_dock, self.decomposition_dock)
        self.tabifyDockWidget(self.decomposition_dock, self.schedules_dock)
        self.tabifyDockWidget(self.schedules_dock, self.unlearn_dock)
        self.tabifyDockWidget(self.unlearn_dock, self.attribution_dock)
        self.eps_dock.raise_()
        self.resizeDocks([self.training_dock], [400], Qt.Orientation.Horizontal)
        self.resizeDocks([self.eps_dock], [430], Qt.Orientation.Vertical)
        self.eps_panel.epsFrameChanged.connect(self._on_eps_frame)
        self.eps_panel.frames.playingChanged.connect(lambda on: self._note_animated(self.eps_panel, on))
        self.homotopy_panel.frames.playingChanged.connect(
            lambda on: self._note_animated(self.homotopy_panel, on)
        )

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
        self.state.analysisChanged.connect(self._update_status)
        self._pending_ui: dict = {}
        self.state.analysisChanged.connect(self._apply_pending_ui)
        self.state.pointsChanged.connect(self._update_title)
        self.state.selectionChanged.connect(self._update_actions)
        self.state.pointsChanged.connect(self._update_actions)
        self._update_title()
        self._update_actions()
        self._update_status()
        self.resize(1400, 900)
        self._default_layout = self.saveState()
        # Python's cyclic garbage collector scans every live object in a full (generation-2) collection, holding
        # the GIL: with the window's thousands of Qt/pyqtgraph wrappers that took 70-160 ms, and a worker's
        # allocations can trigger it at any time, stalling the GUI thread. The window's objects live as long as
        # it does: move them out of the collector's way (they are still freed by reference counting).
        gc.collect()
        gc.freeze()

    # -- panels ------------------------------------------------------------------------------------------
    def _on_unlearn_overlay(self, name: str, xs, ys) -> None:
        if self.unlearn_dock.isVisible() and not self.unlearn_dock.visibleRegion().isEmpty():
            self.fit_view.set_overlay(name, xs, ys)
            (self._unlearn_overlays.add if len(xs) else self._unlearn_overlays.discard)(name)

    def _sync_unlearn_overlays(self, visible: bool) -> None:
        for name in list(self._unlearn_overlays):
            self.fit_view.set_overlay(name, [], [])
        self._unlearn_overlays.clear()
        if visible:
            for name, (xs, ys) in self.unlearn_panel.overlays().items():
                self.fit_view.set_overlay(name, xs, ys)
                self._unlearn_overlays.add(name)

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
        name = PANEL_ALIASES.get(name, name)
        panel = self.panels.get(name)
        if panel is None:
            return False
        if isinstance(panel, QDockWidget):
            panel.show()
            panel.raise_()
        return True

    def focus_panel(self, name: str) -> bool:
        """Raise a panel and give it room (``--screenshot --panel NAME``): an analysis dock gets most of the height
        under the fit view."""
        if not self.show_panel(name):
            return False
        dock = self.panels.get(PANEL_ALIASES.get(name, name))
        if dock in (self.eps_dock, self.homotopy_dock, self.decomposition_dock):
            self.resizeDocks([dock], [int(0.5 * self.height())], Qt.Orientation.Vertical)
        elif dock in (
            self.attribution_dock,
            self.schedules_dock,
            self.unlearn_dock,
        ):  # tables, controls, 3-4 plots
            self.resizeDocks([dock], [int(0.66 * self.height())], Qt.Orientation.Vertical)
        return True

    def fit_to_screen(self, area: QRect | None = None) -> None:
        """Keep the window inside the screen's available area (a remembered or default size larger than this
        screen is shrunk and the window moved in), then give the analysis docks at most their share of the
        height so that the data plot keeps at least a third of it."""
        screen = self.screen()
        if area is None and screen is not None:
            area = screen.availableGeometry()
        if area is not None:
            frame = self.frameGeometry().size() - self.geometry().size()  # title bar and borders
            w = min(self.width(), area.width() - frame.width())
            h = min(self.height(), area.height() - frame.height())
            if (w, h) != (self.width(), self.height()):
                self.resize(w, h)
            g = self.frameGeometry()
            x = min(max(g.left(), area.left()), area.right() - g.width() + 1)
            y = min(max(g.top(), area.top()), area.bottom() - g.height() + 1)
            if (x, y) != (g.left(), g.top()):
                self.move(x, y)
        self.balance_docks()

    def balance_docks(self) -> None:
        """The analysis docks below the data plot take about 45 % of the window's height, so the data plot keeps
        more than a third of it at any window size."""
        bottom = [d for d in (self.eps_dock, self.homotopy_dock, self.decomposition_dock) if d.isVisible()]
        if bottom:
            self.resizeDocks([bottom[0]], [int(0.45 * self.height())], Qt.Orientation.Vertical)

    def raised_panel(self) -> str:
        """The analysis dock on top (its tab is current), for sessions."""
        for name in ("eps", "homotopy", "decomposition", "schedules", "unlearn", "attribution"):
            dock = self.panels[name]
            if dock.isVisible() and not dock.visibleRegion().isEmpty():
                return name
        return "eps"

    def _on_eps_frame(self, k: int) -> None:
        self.fit_view.show_eps_frame(self.eps_panel.record, k)

    def _note_animated(self, panel, on: bool) -> None:
        if on:
            self._last_animated = panel
            other = self.homotopy_panel if panel is self.eps_panel else self.eps_panel
            other.frames.stop()

    def toggle_animation(self) -> None:
        """Space: play / pause the animation of the ε-path or the homotopy panel, whichever is in view."""
        eps_vis = not self.eps_panel.visibleRegion().isEmpty()
        hom_vis = not self.homotopy_panel.visibleRegion().isEmpty()
        if eps_vis and hom_vis:
            panel = self._last_animated or self.eps_panel
        elif hom_vis:
            panel = self.homotopy_panel
        else:
            panel = self.eps_panel
        panel.frames.toggle()

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
        self.act_export_all = self._action(
            "Export figures…",
            self.export_figures_dialog,
            "Ctrl+Shift+E",
            "Write every plot (PNG, SVG, PDF and CSV data) and a JSON of the settings into a folder",
        )
        self.act_figure_size = self._action(
            "Figure size…",
            self.figure_size_dialog,
            None,
            "The physical size and font size of exported PDF and SVG figures",
        )
        self.act_export_frames = self._action(
            "Export animations…",
            self.export_frames_dialog,
            None,
            "Write the ε-path and homotopy animations as GIF, MP4 and numbered PNG frames into a folder",
        )
        self.act_open_session = self._action(
            "Open session…",
            self.open_session_dialog,
            "Ctrl+Shift+O",
            "Open a session file: points, model, training settings, trained parameters, analysis and view",
        )
        self.act_save_session = self._action(
            "Save session…",
            self.save_session_dialog,
            "Ctrl+Shift+S",
            "Save everything (points, model, settings, seeds, θ_0, θ^s, θ̂, analysed point, λ, view) as JSON",
        )
        self.act_quit = self._action("Quit", self.close, QKeySequence.StandardKey.Quit, "Close Influence Lab")
        self.act_analyse = self._action(
            "Analyse deletion",
            self.analyse_selected,
            "I",
            "Analyse what deleting the selected point would do, without deleting it (I)",
        )
        self.act_play = self._action(
            "Play / pause animation",
            self.toggle_animation,
            Qt.Key.Key_Space,
            "Play or pause the ε-path or homotopy animation in view (Space)",
        )
        self.act_reset_layout = self._action(
            "Reset layout", self.reset_layout, None, "Put every panel back where it was at the start"
        )

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
                self.act_analyse,
                self.act_play,
                self.act_open_session,
                self.act_save_session,
                self.act_export_all,
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
        m.addAction(self.act_open_session)
        self.recent_menu = m.addMenu("Recent sessions")
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addAction(self.act_save_session)
        m.addSeparator()
        m.addAction(self.act_export)
        m.addAction(self.act_export_all)
        m.addAction(self.act_figure_size)
        m.addAction(self.act_export_frames)
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
            self.act_analyse,
            self.act_deselect,
        ):
            m.addSeparator() if a is None else m.addAction(a)

        m = mb.addMenu("&Training")
        for a in (self.act_start, self.act_pause, self.act_step, self.act_reset, None, self.act_cancel):
            m.addSeparator() if a is None else m.addAction(a)

        self.view_menu = mb.addMenu("&View")
        self.view_menu.addAction(self.act_fit_range)
        self.view_menu.addAction(self.act_play)
        self.view_menu.addSeparator()
        for dock in self.findChildren(QDockWidget):  # every panel, in the order they were added
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.act_reset_layout)

        m = mb.addMenu("&Help")
        self.examples_menu = m.addMenu("Examples")
        self.examples_menu.setToolTipsVisible(True)
        self.example_actions = []
        for ex in examples.EXAMPLES:
            a = self.examples_menu.addAction(ex.title, lambda ex=ex: self.open_example(ex))
            a.setToolTip(ex.description)
            a.setStatusTip(ex.description)
            self.example_actions.append(a)
        m.addSeparator()
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
            self.act_analyse,
            None,
            self.act_export,
            self.act_export_all,
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
        a = self.state.analysis
        if a is not None and a.errors:
            self.status_label.setText(
                f"Ready — the analysis of point {a.j} had errors: " + "; ".join(a.errors.values())
            )
            return
        if fit is None:
            self.status_label.setText("Ready — not trained (F5 trains)")
        else:
            stale = "" if self.state.fit_is_current() else " (for an earlier version of the points/settings)"
            if fit.extra.get("diverged"):
                at = fit.extra.get("diverged_at")
                lr = fit.extra.get("suggested_lr")
                self.status_label.setText(
                    f"Training diverged{f' at step {at}' if at is not None else ''} with η = {fit.settings.lr:g}"
                    + (f" — try η = {lr:g} (the training panel applies it in one click)" if lr else "")
                )
                self.status_label.setToolTip(fit.message)
                return
            if fit.converged:
                how = "converged"
            elif not fit.settings.converge:
                how = "early-stopped"
            else:
                how = "NOT converged (see the training panel)"
            done = ""
            if a is not None and a.complete():
                t = self.controller.timings
                done = f" · deletion of point {a.j} analysed"
                if "estimates" in t:
                    done += f" (estimates drawn {1000 * t['estimates']:.0f} ms after the request)"
            self.status_label.setText(
                f"Ready — trained model{stale}: L = {fit.loss:.4g}, ‖∇L‖ = {fit.grad_norm:.2g}, {how}{done}"
            )
            self.status_label.setToolTip(fit.message)

    def _update_title(self) -> None:
        ds = self.state.data
        name = self.session_path.name if self.session_path is not None else ds.name or "untitled"
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
        self.act_analyse.setEnabled(has)

    # -- intents -------------------------------------------------------------------------------------------
    def delete_selected(self) -> None:
        if self.state.selection is not None:
            self.state.delete_point(self.state.selection)

    def restore_selected(self) -> None:
        if self.state.selection is not None:
            self.state.restore_point(self.state.selection)

    def analyse_selected(self) -> None:
        if self.state.selection is not None:
            self.state.analyse(self.state.selection)

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
        settings = PRESET_SETTINGS.get(name, Settings())
        self.state.set_dataset_and_settings(ds, settings, f"New from preset {name}")
        self.fit_view.fit_range()
        self.statusBar().showMessage(
            f"New {name} data ({ds.n} points) with its recommended settings: {describe_settings(settings)}",
            8000,
        )
        return True

    def preset_dialog(self) -> None:
        dlg = PresetDialog(self, self.state.data.name if self.state.data.name in PRESETS else "teacher")
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.new_from_preset(dlg.name.currentData(), dlg.n.value(), dlg.noise.value(), dlg.seed.value())

    def open_points(self, path: str | Path, columns=None) -> bool:
        """Load points from a file; on any problem show it and keep the current points. A delimited file whose
        columns do not say which are x and y, or that has columns the app would ignore, opens the column
        picker (interactive runs)."""
        path = Path(path)
        try:
            if columns is None and self.interactive and path.suffix.lower() in DELIMITED_SUFFIXES:
                names, guess = points_columns(path)
                standard = guess is not None and all(
                    n.lower() in ("x", "y", "weight", "label") for n in names
                )
                if not standard:
                    columns = pick_columns(self, path.name, names, guess)
                    if columns is None:
                        return False
            ds, notes = read_points(path, columns)
        except DataError as exc:
            self.report_error("Cannot open points", str(exc), critical=True)
            return False
        self.state.set_dataset(ds, f"Open {path.name}")
        self.fit_view.fit_range()
        said = "; ".join(notes)
        self.statusBar().showMessage(
            f"Opened {path.name}: {ds.n} points" + (f" ({said})" if said else ""), 10000
        )
        return True

    def open_points_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open points",
            self.app_settings.folder("last_points_dir"),
            "Points (*.csv *.tsv *.txt *.json);;All files (*)",
        )
        if path:
            self._remember_folder("last_points_dir", path)
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
        start = Path(self.app_settings.folder("last_points_dir")) / f"{self.state.data.name or 'points'}.csv"
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save points", str(start), "CSV (*.csv);;JSON (*.json)"
        )
        if path:
            self._remember_folder("last_points_dir", path)
            p = Path(path)
            if p.suffix.lower() not in (".csv", ".json"):
                p = p.with_suffix(".json" if "json" in chosen.lower() else ".csv")
            self.save_points(p)

    def _remember_folder(self, key: str, path: str | Path) -> None:
        if self.remember:
            self.app_settings.set(key, str(Path(path).parent))

    def export_plot(self, path: str | Path) -> Path | None:
        try:
            return export_figure(self.fit_view.plot, path, size=self.figure_size)
        except ExportError as exc:
            self.report_error("Export failed", str(exc))
            return None

    # -- sessions ------------------------------------------------------------------------------------------
    def current_session(self) -> Session:
        """The whole state as a core Session (θs from the current fit when it belongs to these points)."""
        st = self.state
        s = st.settings
        fit = st.fit if st.fit_is_current() else None
        return Session(
            data=st.data.copy(),
            model=s.model(),
            config=s.train_config(),
            init_seed=s.init_seed,
            converge=s.converge,
            theta0=None if fit is None else fit.theta0,
            theta_s=None if fit is None else fit.theta_s,
            theta_hat=None if fit is None else fit.theta_hat,
            selection=st.selection,
            damping=st.damping,
            ui=self.ui_state(),
        )

    def ui_state(self) -> dict:
        hp = self.homotopy_panel
        return {
            "panel": self.raised_panel(),
            "analysed": self.state.analysis_target,
            "projection": self.projection.to_dict(),
            "eps_index": self.eps_panel.frames.index,
            "eps_relative": self.eps_panel.relative.isChecked(),
            "homotopy_scalar": hp.scalar.currentData(),
            "homotopy_param": max(0, hp.param.currentData() or 0),
            "homotopy_log": hp.log.isChecked(),
            "time_index": hp.frames.index,
            "decomposition_space": "function"
            if self.decomposition_panel.function_space.isChecked()
            else "parameters",
            "decomposition_log": self.decomposition_panel.log.isChecked(),
        }

    def apply_ui(self, ui: dict) -> None:
        """Restore the view parts of a session (unknown or malformed entries are ignored)."""
        if not isinstance(ui, dict):
            return
        self.projection.from_dict(ui.get("projection"))
        hp = self.homotopy_panel
        k = hp.scalar.findData(ui.get("homotopy_scalar"))
        if k >= 0:
            hp.scalar.setCurrentIndex(k)
        if isinstance(ui.get("homotopy_log"), bool):
            hp.log.setChecked(ui["homotopy_log"])
        if isinstance(ui.get("eps_relative"), bool):
            self.eps_panel.relative.setChecked(ui["eps_relative"])
        self._pending_ui = {
            k: ui[k] for k in ("eps_index", "time_index", "homotopy_param") if isinstance(ui.get(k), int)
        }
        dp = self.decomposition_panel
        if ui.get("decomposition_space") == "parameters":
            dp.param_space.setChecked(True)
        elif ui.get("decomposition_space") == "function":
            dp.function_space.setChecked(True)
        if isinstance(ui.get("decomposition_log"), bool):
            dp.log.setChecked(ui["decomposition_log"])
        if ui.get("schedules_mode") in (MODE_FIG4, MODE_MLP):
            self.schedules_panel.set_mode(ui["schedules_mode"])
        if isinstance(ui.get("panel"), str):
            self.show_panel(ui["panel"])

    def _apply_pending_ui(self, part: str) -> None:
        pend = getattr(self, "_pending_ui", None)
        if not pend:
            return
        if part == "epspath" and "eps_index" in pend and self.eps_panel.record is not None:
            self.eps_panel.frames.set_index(pend.pop("eps_index"))
        if part == "homotopy" and self.homotopy_panel.record is not None:
            hp = self.homotopy_panel
            if "homotopy_param" in pend:
                k = hp.param.findData(pend.pop("homotopy_param"))
                if k >= 0:
                    hp.param.setCurrentIndex(k)
            if "time_index" in pend:
                hp.frames.set_index(pend.pop("time_index"))

    def save_session(self, path: str | Path) -> bool:
        path = Path(path)
        try:
            save_session(self.current_session(), path)
        except (OSError, ValueError) as exc:
            self.report_error("Cannot save the session", f"{path}: {exc}", critical=True)
            return False
        self.session_path = path
        if self.remember:
            self.app_settings.add_recent_session(path)
        self._update_title()
        self.statusBar().showMessage(f"Saved the session to {path}", 4000)
        return True

    def open_session(self, path: str | Path, as_file: bool = True) -> bool:
        """Open a session file; on any problem show it (file and problem) and keep everything as it was.

        ``as_file=False`` (restoring the autosave): the file does not become the session file nor a recent one."""
        path = Path(path)
        try:
            sess = load_session(path)
            settings = Settings.from_problem(
                Problem(
                    data=sess.data,
                    model=sess.model,
                    config=sess.config,
                    init_seed=sess.init_seed,
                    converge=sess.converge,
                )
            )
            settings.validate()
        except (SessionError, ValueError, TypeError) as exc:
            self.report_error(
                "Cannot open the session", f"{path}: {exc}" if str(path) not in str(exc) else str(exc), True
            )
            return False
        ui = sess.ui if isinstance(sess.ui, dict) else {}
        target = ui.get("analysed")
        if not (isinstance(target, int) and not isinstance(target, bool) and 0 <= target < sess.data.n):
            target = None
        self.controller.cancel_all()
        if as_file:
            self.session_path = path
        self.state.replace_session(sess.data, settings, sess.selection, target, sess.damping)
        if sess.theta_hat is not None:
            theta0 = sess.theta0 if sess.theta0 is not None else self.state.problem().theta0()
            self.controller.restore_fit(theta0, sess.theta_s, sess.theta_hat)
        else:
            self.controller.train()
        self.apply_ui(ui)
        self.fit_view.fit_range()
        if self.remember and as_file:
            self.app_settings.add_recent_session(path)
        self._update_title()
        self.statusBar().showMessage(f"Opened the session {path}", 4000)
        return True

    # -- autosave and crash recovery (gui.autosave) --------------------------------------------------------
    def enable_autosave(self, directory: str | Path | None = None, **timing):
        """Autosave the session every few edits and on close into ``directory`` (default: the autosave slot in
        the config dir); ``timing``: ``every``, ``debounce_ms``, ``idle_ms`` of :class:`gui.autosave.Autosaver`."""
        from gui.autosave import Autosaver

        if self.autosaver is None:
            self.autosaver = Autosaver(self, directory, **timing)
        return self.autosaver

    def offer_restore(self, answer: bool | None = None, directory: str | Path | None = None) -> bool:
        """If the last run left an autosave without exiting cleanly, offer to restore it; True if restored.

        ``answer`` decides (True/False); None: ``INFLUENCE_LAB_RESTORE=yes|no``, else a question box (interactive
        windows) or no. Declined (or unreadable), a preference-writing window moves it aside to
        ``previous-session.json``; a --screenshot window leaves the files as they are."""
        from gui import autosave

        if directory is None:
            directory = self.autosaver.directory if self.autosaver is not None else autosave.autosave_dir()
        directory = Path(directory)
        path = autosave.pending_restore(directory)
        if path is None:
            return False
        info = autosave.read_state(directory)
        if answer is None:
            answer = autosave.restore_answer()
        if answer is None and self.interactive:
            when = f" (autosaved {info['saved']})" if isinstance(info.get("saved"), str) else ""
            answer = (
                QMessageBox.question(
                    self,
                    "Restore the autosaved session?",
                    f"Influence Lab did not exit cleanly last time. Restore the session autosaved then{when}?\n\n"
                    f"No keeps it as {directory / autosave.PREVIOUS_FILE}.",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                    QMessageBox.StandardButton.Yes,
                )
                == QMessageBox.StandardButton.Yes
            )
        restored = bool(answer) and self.open_session(path, as_file=False)
        if not restored:
            if self.remember:
                try:
                    autosave.set_aside(directory)
                except OSError as exc:
                    print(f"influence-lab: could not move the autosave aside: {exc}", file=sys.stderr)
            return False
        original = info.get("session_path")
        if isinstance(original, str) and original:
            self.session_path = Path(original)
            self._update_title()
        self.statusBar().showMessage("Restored the autosaved session", 6000)
        return True

    def open_example(self, ex) -> bool:
        ok = self.open_session(ex.path)
        if ok:
            self.statusBar().showMessage(f"Example: {ex.title}", 6000)
        return ok

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open session",
            self.app_settings.folder("last_session_dir"),
            "Influence Lab session (*.json);;All files (*)",
        )
        if path:
            self.open_session(path)

    def save_session_dialog(self) -> None:
        start = (
            str(self.session_path)
            if self.session_path
            else str(Path(self.app_settings.folder("last_session_dir")) / "session.json")
        )
        path, _ = QFileDialog.getSaveFileName(self, "Save session", start, "Influence Lab session (*.json)")
        if path:
            p = Path(path)
            if p.suffix.lower() != ".json":
                p = p.with_suffix(".json")
            self.save_session(p)

    def _fill_recent_menu(self) -> None:
        m = self.recent_menu
        m.clear()
        items = self.app_settings.recent_sessions()
        if not items:
            a = m.addAction("(no recent sessions)")
            a.setEnabled(False)
            return
        for p in items:
            a = m.addAction(Path(p).name, lambda p=p: self._open_recent(p))
            a.setToolTip(p)
            a.setStatusTip(p)
        m.addSeparator()
        m.addAction("Clear the list", lambda: self.app_settings.set("recent_sessions", "[]"))

    def _open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.app_settings.remove_recent_session(path)
            self.report_error("Cannot open the session", f"{path}: the file no longer exists", critical=True)
            return
        self.open_session(path)

    # -- export everything ---------------------------------------------------------------------------------
    def all_plots(self) -> dict[str, tuple[QWidget, QDockWidget | None, object]]:
        """name → (plot widget, its dock or None, CSV data provider)."""
        out: dict = {
            "data-and-fit": (self.fit_view.plot, None, self.fit_view.table),
            "training-loss": (self.training_panel.loss_plot, self.training_dock, None),
        }
        providers = {
            "eps-path-parameters": self.eps_panel.params_table,
            "eps-path-plane": self.eps_panel.projection_table,
            "homotopy-heatmap": self.homotopy_panel.heat_table,
            "homotopy-curves": self.homotopy_panel.curves_table,
            "homotopy-trajectories": self.homotopy_panel.traj_table,
            "error-decomposition": self.decomposition_panel.bars_table,
        }
        for panel, dock in (
            (self.eps_panel, self.eps_dock),
            (self.homotopy_panel, self.homotopy_dock),
            (self.decomposition_panel, self.decomposition_dock),
        ):
            for name, plot in panel.plots().items():
                out[name] = (plot, dock, providers[name])
        # the Schedules and Unlearning plots once they have computed (only while their tab was in view)
        for panel, dock in (
            (self.schedules_panel, self.schedules_dock),
            (self.unlearn_panel, self.unlearn_dock),
        ):
            for name, (plot, provider) in panel.exportable().items():
                out[name] = (plot, dock, provider)
        # the attribution plots that have been computed (they compute on demand)
        attribution = self.attribution_panel.exportable(self.attribution_dock)
        for name, (plot, holder, provider) in attribution.items():
            out[name] = (plot, holder, provider)
        return out

    def export_targets(self, folder: Path) -> list[Path]:
        names = [f"{n}.{ext}" for n in self.all_plots() for ext in ("png", "svg", "pdf", "csv")]
        return [folder / n for n in names] + [folder / "settings.json"]

    def export_figures(self, folder: str | Path, overwrite: bool | None = None) -> list[Path] | None:
        """Write every plot as PNG, SVG and PDF with its data as CSV, and settings.json, into ``folder``.

        Existing files are never overwritten silently: ``overwrite=None`` asks the user, False refuses (returns
        None), True overwrites. Docks not in view are brought up in turn (a plot must be laid out to export)
        and the previous view restored."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.report_error("Export failed", f"{folder}: {exc.strerror or exc}", critical=True)
            return None
        existing = [p for p in self.export_targets(folder) if p.exists()]
        if existing and not self._confirm_overwrite(folder, existing, overwrite):
            return None
        raised = self.raised_panel()
        written: list[Path] = []
        try:
            for name, (plot, dock, provider) in self.all_plots().items():
                if dock is not None and plot.visibleRegion().isEmpty():
                    dock.show()
                    dock.raise_()
                    QApplication.processEvents()
                written += export_figure_set(plot, folder / name, size=self.figure_size)
                table = provider() if provider is not None else plot_table(plot)
                written.append(export_csv(folder / f"{name}.csv", table))
            meta = self.export_metadata(written)
            from core.atomic import atomic_write_text

            atomic_write_text(folder / "settings.json", json.dumps(meta, indent=1, allow_nan=False) + "\n")
            written.append(folder / "settings.json")
        except (ExportError, OSError, ValueError) as exc:
            self.report_error("Export failed", str(exc), critical=True)
            return None
        finally:
            self.show_panel(raised)
        if self.remember:
            self.app_settings.set("last_export_dir", str(folder))
        self.statusBar().showMessage(f"Exported {len(written)} files to {folder}", 6000)
        return written

    def export_metadata(self, files: list[Path]) -> dict:
        """settings.json: the session that produced the figures (without the data arrays' duplication) and the
        analysis numbers shown."""
        doc = {"format": "influence-lab-figures", "version": 1, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        doc["session"] = self.current_session().to_dict()
        fs = self.figure_size
        doc["figure_size"] = {"width_in": fs.width_in, "height_in": fs.height_in, "font_pt": fs.font_pt}
        a = self.state.analysis
        if a is not None:
            an: dict = {"deleted": a.j, "damping": self.state.damping}
            if a.estimates is not None:
                an["estimates"] = _plain(a.estimates.result.to_json())
            if a.epspath is not None:
                an["eps_path"] = {
                    "points": int(a.epspath.reached + 1),
                    "straightness": _plain(a.epspath.straightness),
                    "messages": list(a.epspath.messages),
                    "eps_shown": self.eps_panel.current_eps(),
                }
            if a.homotopy is not None:
                h = a.homotopy
                an["homotopy"] = {
                    "n_eps": int(len(h.eps)),
                    "n_snapshots": int(len(h.times)),
                    "t_max": float(h.times[-1]),
                    "scalar_shown": self.homotopy_panel.scalar.currentData(),
                    "time_shown": float(h.times[min(self.homotopy_panel.frames.index, len(h.times) - 1)]),
                    "target_note": h.target_note,
                }
            doc["analysis"] = an
        doc["files"] = [p.name for p in files]
        return doc

    def _confirm_overwrite(self, folder: Path, existing: list[Path], overwrite: bool | None) -> bool:
        if overwrite is not None:
            return bool(overwrite)
        if not self.interactive:
            print(f"influence-lab: {folder} already holds exported files; not overwriting", file=sys.stderr)
            return False
        names = ", ".join(p.name for p in existing[:4]) + (" …" if len(existing) > 4 else "")
        answer = QMessageBox.question(
            self,
            "Overwrite files?",
            f"{folder} already holds {len(existing)} of the files to write ({names}).\nOverwrite them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def export_figures_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export figures into a folder", self.app_settings.folder("last_export_dir")
        )
        if folder:
            self.export_figures(folder)

    def export_frames(
        self, folder: str | Path, which=("eps", "homotopy"), every: int = 1, overwrite: bool | None = None
    ) -> list[Path] | None:
        """The ε-path animation (Data & fit above the ε-path panel) and the homotopy animation (its panel) as
        numbered PNG frames in ``folder``/eps-path and ``folder``/homotopy, and each as a GIF and an MP4
        (``folder``/eps-path.gif, …; gui.animation_files). Asks before overwriting."""
        folder = Path(folder)
        jobs = []
        if "eps" in which and self.eps_panel.record is not None:
            jobs.append(("eps-path", self.eps_panel, self.eps_dock, [self.fit_view, self.eps_panel]))
        if "homotopy" in which and self.homotopy_panel.record is not None:
            jobs.append(("homotopy", self.homotopy_panel, self.homotopy_dock, [self.homotopy_panel]))
        if not jobs:
            self.report_error(
                "Nothing to export", "Delete a point first: the animations belong to its analysis."
            )
            return None
        existing = [p for sub, *_ in jobs for p in (folder / sub).glob("frame_*.png")]
        existing += [folder / f"{sub}.{ext}" for sub, *_ in jobs for ext in ("gif", "mp4")]
        existing = [p for p in existing if p.exists()]
        if existing and not self._confirm_overwrite(folder, existing, overwrite):
            return None
        from gui.animation_files import AnimationFiles

        raised = self.raised_panel()
        written = []
        movies = []
        files = None
        try:
            for sub, panel, dock, widgets in jobs:
                (folder / sub).mkdir(parents=True, exist_ok=True)
                for old in (folder / sub).glob("frame_*.png"):
                    old.unlink()
                dock.show()
                dock.raise_()
                QApplication.processEvents()
                frames = panel.frames
                frames.stop()
                keep = frames.index
                steps = range(0, frames.count, max(1, every))
                # the files play at the speed of the on-screen playback (the whole sweep in duration_s)
                files = AnimationFiles(folder, sub, len(steps), len(steps) / frames.duration_s)
                for k in steps:
                    frames.set_index(k)
                    QApplication.processEvents()
                    files.add(_stack_grabs(widgets))
                frames.set_index(keep)
                written += files.close()
                movies += [files.gif_path.name, files.mp4_path.name]
                files = None
        except (OSError, RuntimeError, ValueError) as exc:  # a full disk, ffmpeg failing
            if files is not None:
                files.abort()
            self.report_error("Export failed", str(exc), critical=True)
            return None
        finally:
            self.show_panel(raised)
        if self.remember:
            self.app_settings.set("last_export_dir", str(folder))
        n_frames = sum(1 for p in written if p.suffix == ".png")
        self.statusBar().showMessage(f"Wrote {n_frames} frames and {', '.join(movies)} to {folder}", 8000)
        return written

    def figure_size_dialog(self) -> None:
        from gui.figure_size_dialog import FigureSizeDialog

        dlg = FigureSizeDialog(self.figure_size, self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.set_figure_size(dlg.size_chosen())

    def set_figure_size(self, size) -> None:
        size.check()
        self.figure_size = size
        if self.remember:
            self.app_settings.set_figure_size(size)
        w = "automatic width" if size.width_in is None else f"{size.width_in:g} in wide"
        h = "automatic height" if size.height_in is None else f"{size.height_in:g} in high"
        self.statusBar().showMessage(f"PDF and SVG figures: {w}, {h}, {size.font_pt:g} pt", 6000)

    def export_frames_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export the animations into a folder", self.app_settings.folder("last_export_dir")
        )
        if folder:
            self.export_frames(folder)

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
        if any(u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in POINTS_SUFFIXES for u in urls):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        for u in event.mimeData().urls():
            if u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in POINTS_SUFFIXES:
                self.open_file(u.toLocalFile())
                event.acceptProposedAction()
                return

    def open_file(self, path: str | Path) -> bool:
        """A points file, or a session (a JSON document whose format is a session)."""
        path = Path(path)
        if path.suffix.lower() == ".json" and _looks_like_session(path):
            return self.open_session(path)
        return self.open_points(path)

    # -- lifetime ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Train on the current session (the app calls this once the window is shown)."""
        self.controller.train()

    def is_idle(self) -> bool:
        """No job runs and no staggered plot update is waiting (everything asked for is computed and drawn)."""
        return self.controller.idle() and staggered_updates_pending() == 0

    def analysis_complete(self) -> bool:
        """No analysis, or every part of the current one has arrived (or failed)."""
        a = self.state.analysis
        if self.state.analysis_target is None:
            return True
        return a is not None and a.j == self.state.analysis_target and not a.stale and a.complete()

    def shutdown(self) -> bool:
        """Stop and join every worker (idempotent)."""
        if self._closed:
            return True
        self._closed = True
        self.eps_panel.frames.stop()
        self.homotopy_panel.frames.stop()
        return self.controller.shutdown()

    # -- preferences -----------------------------------------------------------------------------------------
    def restore_preferences(self, settings: bool = True) -> None:
        """Window geometry, dock layout and (``settings``) the last-used model/training settings and λ."""
        st = self.app_settings
        geom = st.get("geometry")
        if isinstance(geom, QByteArray) and not geom.isEmpty():
            self.restoreGeometry(geom)
        layout = st.get("window_state")
        if isinstance(layout, QByteArray) and not layout.isEmpty():
            self.restoreState(layout)
        if settings:
            s = st.training_settings()
            if s is not None and s != self.state.settings:
                self.state.replace_session(self.state.data, s)
            lam = st.damping()
            if lam != self.state.damping:
                self.state.set_damping(lam)

    def save_preferences(self) -> None:
        st = self.app_settings
        st.set("geometry", self.saveGeometry())
        st.set("window_state", self.saveState())
        st.set_training_settings(self.state.settings)
        st.set("damping", self.state.damping)
        st.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_layout)
        for dock in (self.training_dock, self.eps_dock, self.homotopy_dock, self.decomposition_dock):
            dock.show()
        self.eps_dock.raise_()

    def closeEvent(self, event):
        if self.autosaver is not None and not self._closed:
            try:
                self.autosaver.finish()  # the last autosave, marked clean: the next launch offers no restore
            except Exception as exc:  # never block closing
                print(f"influence-lab: autosave on exit failed: {exc}", file=sys.stderr)
        if self.remember and not self._closed:
            try:
                self.save_preferences()
            except Exception as exc:  # preferences are a convenience: never block closing
                print(f"influence-lab: could not save preferences: {exc}", file=sys.stderr)
        self.shutdown()
        super().closeEvent(event)


def _looks_like_session(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return '"influence-lab-session"' in head


def _plain(obj):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _stack_grabs(widgets: list[QWidget]) -> QImage:
    """The widgets grabbed and stacked vertically into one image (an animation frame)."""
    grabs = [w.grab().toImage() for w in widgets]
    width = max(g.width() for g in grabs)
    height = sum(g.height() for g in grabs)
    img = QImage(width, height, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.white)
    p = QPainter(img)
    try:
        y = 0
        for g in grabs:
            p.drawImage(QRect(0, y, g.width(), g.height()), g)
            y += g.height()
    finally:
        p.end()
    return img
