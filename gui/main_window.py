"""The main window: the Data & fit view in the centre, panels as docks, and the parts mixed in around them.

Panels live in :mod:`gui.panels` (one module per panel) and are registered by name in ``MainWindow.panels``
(``--panel NAME`` raises one): ``fit`` (the centre), ``training`` (right), and the analysis docks ``eps``,
``homotopy`` and ``decomposition`` (tabbed below the fit). Deleting a point analyses its deletion
(:mod:`gui.controller`). The rest of the window is mixed in, one part per module:

- :mod:`gui.window_actions`: actions, menus, toolbar and the About box;
- :mod:`gui.window_status`: the status bar, the title and which point actions are enabled;
- :mod:`gui.window_points`: presets, points files, drag and drop;
- :mod:`gui.window_sessions`: sessions (:mod:`core.session`), recent files, examples, autosave and restore;
- :mod:`gui.window_export`: exporting the plot, every figure at once and the animations;
- :mod:`gui.window_preferences`: geometry, dock layout and last-used settings in the INI file (:mod:`gui.settings`).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QScrollArea, QVBoxLayout, QWidget

from core.problem import Problem, default_problem
from gui.controller import Controller
from gui.panels.attribution.panel import AttributionPanel
from gui.panels.common import ProjectionModel, staggered_updates_pending
from gui.panels.decomposition import DecompositionPanel
from gui.panels.eps_path import EpsPathPanel
from gui.panels.fit_view import FitView
from gui.panels.homotopy import HomotopyPanel
from gui.panels.schedules_panel import SchedulesPanel
from gui.panels.training_panel import TrainingPanel
from gui.panels.unlearn_panel import UnlearnPanel
from gui.paper_figure import DEFAULT_SIZE
from gui.settings import AppSettings
from gui.state import LabState
from gui.window_actions import WindowActions
from gui.window_export import WindowExport
from gui.window_points import WindowPoints
from gui.window_preferences import WindowPreferences
from gui.window_sessions import WindowSessions
from gui.window_status import WindowStatus

#: Names accepted by ``--panel`` and :meth:`MainWindow.show_panel` besides the registered ones.
PANEL_ALIASES = {"eps_path": "eps", "epspath": "eps", "decomp": "decomposition", "main": "fit"}


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


class MainWindow(
    WindowActions, WindowStatus, WindowPoints, WindowSessions, WindowExport, WindowPreferences, QMainWindow
):
    """The window and its parts; the menus, status bar, documents, export and preferences are mixed in from the
    ``gui.window_*`` modules so that this class only assembles them."""

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
        #: the unlearned models drawn in the fit view while the unlearning panel is in view
        self._unlearn_overlays: set[str] = set()
        #: view parts of an opened session that wait for their analysis to arrive (see apply_ui)
        self._pending_ui: dict = {}

        self._build_fit_and_training()
        self._build_analysis_docks()
        self._build_dynamics_docks()
        self._arrange_bottom_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.setAcceptDrops(True)
        self._connect_state()
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

    # -- assembly ------------------------------------------------------------------------------------------
    def _build_fit_and_training(self) -> None:
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

    def _build_analysis_docks(self) -> None:
        """The ε-path, homotopy and error-decomposition docks of the analysed deletion."""
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

    def _build_dynamics_docks(self) -> None:
        """The Schedules, Unlearning and Attribution docks, which compute only while in view (so tabbed away
        they cost nothing)."""
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.schedules_panel = SchedulesPanel(self.state, self.runner)
        self.unlearn_panel = UnlearnPanel(self.state, self.runner)
        # in scroll areas: their minimum sizes must not squeeze the fit view when the bottom docks are short
        self.schedules_dock = self.add_dock_panel(
            "schedules", "Schedules ε(t)", _scrollable(self.schedules_panel), bottom
        )
        self.unlearn_dock = self.add_dock_panel(
            "unlearn", "Unlearning", _scrollable(self.unlearn_panel), bottom
        )
        # per-point attribution colours the fit view's points on request
        self.attribution_panel = AttributionPanel(self.state, self.runner)
        self.attribution_dock = self.add_dock_panel(
            "attribution", "Attribution", _scrollable(self.attribution_panel), bottom
        )
        self.attribution_dock.visibilityChanged.connect(
            lambda v: v and self.attribution_panel.came_into_view()
        )
        self.attribution_panel.colouringRequested.connect(self.fit_view.set_external_colouring)
        self.unlearn_panel.overlayRequested.connect(self._on_unlearn_overlay)
        self.unlearn_dock.visibilityChanged.connect(self._sync_unlearn_overlays)
        # tabbed docks: raising a tab does not send the panel a showEvent, so tell it
        self.schedules_dock.visibilityChanged.connect(lambda v: v and self.schedules_panel.came_into_view())
        self.unlearn_dock.visibilityChanged.connect(lambda v: v and self.unlearn_panel.came_into_view())

    def _arrange_bottom_docks(self) -> None:
        """Tab the bottom docks together, size the docks, and tie the ε-path and homotopy animations to the
        fit view and to each other."""
        tabs = [
            self.eps_dock,
            self.homotopy_dock,
            self.decomposition_dock,
            self.schedules_dock,
            self.unlearn_dock,
            self.attribution_dock,
        ]
        for first, second in zip(tabs, tabs[1:]):
            self.tabifyDockWidget(first, second)
        self.eps_dock.raise_()
        self.resizeDocks([self.training_dock], [400], Qt.Orientation.Horizontal)
        self.resizeDocks([self.eps_dock], [430], Qt.Orientation.Vertical)
        self.eps_panel.epsFrameChanged.connect(self._on_eps_frame)
        self.eps_panel.frames.playingChanged.connect(lambda on: self._note_animated(self.eps_panel, on))
        self.homotopy_panel.frames.playingChanged.connect(
            lambda on: self._note_animated(self.homotopy_panel, on)
        )

    def _connect_state(self) -> None:
        """The fit view, the status bar, the title and the point actions follow the controller and the state."""
        self.controller.liveFit.connect(self.fit_view.show_live)
        self.controller.errorOccurred.connect(self.report_error)
        self.runner.jobsChanged.connect(self._update_status)
        self.runner.progress.connect(self._on_progress)
        self.state.fitChanged.connect(self._update_status)
        self.state.analysisChanged.connect(self._update_status)
        self.state.analysisChanged.connect(self._apply_pending_ui)
        self.state.pointsChanged.connect(self._update_title)
        self.state.selectionChanged.connect(self._update_actions)
        self.state.pointsChanged.connect(self._update_actions)

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

    # -- intents -------------------------------------------------------------------------------------------
    def delete_selected(self) -> None:
        self._on_selected(self.state.delete_point)

    def restore_selected(self) -> None:
        self._on_selected(self.state.restore_point)

    def analyse_selected(self) -> None:
        self._on_selected(self.state.analyse)

    def weight_selected(self) -> None:
        self._on_selected(self.fit_view.ask_weight)

    def _on_selected(self, act) -> None:
        """``act(i)`` on the selected point i, if one is selected."""
        if self.state.selection is not None:
            act(self.state.selection)

    def escape(self) -> None:
        self.state.select(None)
        self.act_add_mode.setChecked(False)

    def cancel_all(self) -> None:
        self.controller.cancel_all()

    def report_error(self, title: str, message: str, critical: bool = False) -> None:
        if not self.interactive:
            print(f"influence-lab: {title}: {message}", file=sys.stderr)
            return
        if critical:
            QMessageBox.critical(self, title, message)
        else:
            QMessageBox.warning(self, title, message)

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
