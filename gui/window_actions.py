"""The main window's actions, menus and toolbar, and the About box.

Mixed into :class:`gui.main_window.MainWindow`: the actions call the window's own methods (points, sessions,
export, intents), so every shortcut and menu entry stays a method of the window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMenu, QMessageBox, QToolBar

from core.points.dataset import PRESETS
from gui import examples
from gui.panels.fit_view import make_add_mode_action
from gui.window_points import PRESET_HELP

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


class WindowActions:
    """The ``act_*`` actions, the menu bar and the toolbar of :class:`~gui.main_window.MainWindow`."""

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        if tip:
            _set_tip(a, tip)
        a.triggered.connect(slot)
        return a

    def _build_actions(self) -> None:
        self._build_file_actions()
        self._build_edit_and_view_actions()
        self._build_training_actions()
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

    def _build_file_actions(self) -> None:
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

    def _build_edit_and_view_actions(self) -> None:
        st = self.state
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

    def _build_training_actions(self) -> None:
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

    def _build_menus(self) -> None:
        mb = self.menuBar()
        self._build_file_menu(mb.addMenu("&File"))
        _add_items(
            mb.addMenu("&Edit"),
            [
                self.act_undo,
                self.act_redo,
                None,
                self.act_add_mode,
                self.act_delete,
                self.act_restore,
                self.act_weight,
                self.act_analyse,
                self.act_deselect,
            ],
        )
        _add_items(
            mb.addMenu("&Training"),
            [self.act_start, self.act_pause, self.act_step, self.act_reset, None, self.act_cancel],
        )
        self.view_menu = mb.addMenu("&View")
        # every panel, in the order they were added
        toggles = [dock.toggleViewAction() for dock in self.findChildren(QDockWidget)]
        _add_items(
            self.view_menu, [self.act_fit_range, self.act_play, None, *toggles, None, self.act_reset_layout]
        )
        self._build_help_menu(mb.addMenu("&Help"))
        for menu in mb.findChildren(QMenu):
            menu.setToolTipsVisible(True)

    def _build_file_menu(self, m: QMenu) -> None:
        presets = m.addMenu("New from preset")
        group = QActionGroup(self)
        for p in PRESETS:
            a = presets.addAction(p, lambda p=p: self.new_from_preset(p))
            _set_tip(a, PRESET_HELP.get(p, ""))
            group.addAction(a)
        presets.addSeparator()
        presets.addAction(self.act_preset)
        presets.setToolTipsVisible(True)
        _add_items(m, [self.act_open, self.act_save, None, self.act_open_session])
        self.recent_menu = m.addMenu("Recent sessions")
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        _add_items(
            m,
            [
                self.act_save_session,
                None,
                self.act_export,
                self.act_export_all,
                self.act_figure_size,
                self.act_export_frames,
                None,
                self.act_quit,
            ],
        )

    def _build_help_menu(self, m: QMenu) -> None:
        self.examples_menu = m.addMenu("Examples")
        self.examples_menu.setToolTipsVisible(True)
        self.example_actions = []
        for ex in examples.EXAMPLES:
            a = self.examples_menu.addAction(ex.title, lambda ex=ex: self.open_example(ex))
            _set_tip(a, ex.description)
            self.example_actions.append(a)
        m.addSeparator()
        m.addAction(self.act_about)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        _add_items(
            tb,
            [
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
            ],
        )
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def about(self) -> None:
        QMessageBox.about(self, "About Influence Lab", ABOUT_HTML)


def _add_items(target: QMenu | QToolBar, items: list[QAction | None]) -> None:
    """Add the actions to a menu or toolbar in order, None standing for a separator."""
    for a in items:
        if a is None:
            target.addSeparator()
        else:
            target.addAction(a)


def _set_tip(action: QAction, tip: str) -> None:
    action.setToolTip(tip)
    action.setStatusTip(tip)
