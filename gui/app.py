"""Start the desktop app: ``run_gui(args)`` (``python app.py`` without a subcommand).

``--session FILE``: open a session file (points, model, settings, trained parameters, analysis, view) instead of
the default problem; a bad file ends with a one-line message and exit status 2.
``--screenshot OUT.png``: open the window, train (or restore the session), apply ``--delete J`` (mark point J
deleted, weight 0, select it — which analyses its deletion), wait until every worker has finished (training, the
ε-path, the estimates, the homotopy), save a grab of the window, exit 0.
``--panel NAME`` raises a panel: ``fit``, ``training``, ``eps``, ``homotopy``, ``decomposition``, ``schedules``,
``unlearn``, ``attribution`` (a --screenshot run also waits for the attribution table when that panel is shown).
Preferences (geometry, recent files, last-used settings) are read and written only in interactive runs.

Autosave (:mod:`gui.autosave`): interactive runs write the session to ``<config dir>/autosave/session.json`` every
few edits and on exit. If the last run did not exit cleanly, the launch offers to restore that autosave (a
question box; ``INFLUENCE_LAB_RESTORE=yes|no`` answers it without asking and is the only way a --screenshot run
restores). A restored autosave takes the place of ``--session FILE``. Test hook: with
``INFLUENCE_LAB_DUMP_SESSION=FILE``, a --screenshot run also saves the session it shows to FILE before exiting.
"""

from __future__ import annotations

import os
import sys
import time

_torch_configured = False

#: --screenshot gives up after this many seconds (exit status 1).
SCREENSHOT_TIMEOUT_S = 110.0
SCREENSHOT_SIZE = (1400, 900)


def configure_torch() -> None:
    """Import torch before Qt and limit its threads (DESIGN.md pitfalls); once per process."""
    global _torch_configured
    if _torch_configured:
        return
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:  # the core runs on numpy; torch is only the test oracle
        pass
    _torch_configured = True


class ScreenshotDriver:
    """Drives a --screenshot run: wait for training, apply the deletion, wait again, grab, quit."""

    def __init__(self, window, app, out: str, delete: int | None, panel: str | None = None):
        from PySide6.QtCore import QTimer

        self.window, self.app, self.out, self.delete, self.panel = window, app, out, delete, panel
        self.status = 1
        self.started = time.monotonic()
        self.quiet_since: float | None = None
        self.timer = QTimer()
        self.timer.setInterval(50)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _ready(self) -> bool:
        w = self.window
        panel = getattr(w, "attribution_panel", None)
        # the attribution panel's debounce and throttled partial redraws are not jobs of the runner
        busy = panel is not None and panel.is_busy()
        return w.is_idle() and not busy and w.state.fit_is_current() and w.analysis_complete()

    def _tick(self) -> None:
        if time.monotonic() - self.started > SCREENSHOT_TIMEOUT_S:
            print(
                f"influence-lab: --screenshot timed out after {SCREENSHOT_TIMEOUT_S:.0f} s", file=sys.stderr
            )
            self._finish(1)
            return
        if not self._ready():
            self.quiet_since = None
            return
        if self.delete is not None:
            j, self.delete = self.delete, None
            try:
                self.window.state.delete_point(j)
                self.window.state.select(j)
            except IndexError as exc:
                print(f"influence-lab: --delete: {exc}", file=sys.stderr)
                self._finish(2)
            return
        # let the last frame be drawn before grabbing
        now = time.monotonic()
        if self.quiet_since is None:
            self.quiet_since = now
            if self.panel:
                self.window.focus_panel(self.panel)
            return
        if now - self.quiet_since < 0.35:
            return
        self.app.processEvents()
        from gui.autosave import ENV_DUMP_SESSION

        dump = os.environ.get(ENV_DUMP_SESSION)
        if dump:  # test hook (module docstring)
            from core.session import save_session

            try:
                save_session(self.window.current_session(), dump)
            except (OSError, ValueError) as exc:
                print(f"influence-lab: {ENV_DUMP_SESSION}: {exc}", file=sys.stderr)
                self._finish(1)
                return
        ok = self.window.grab().save(self.out)
        if not ok:
            print(f"influence-lab: could not write the screenshot {self.out}", file=sys.stderr)
        self._finish(0 if ok else 1)

    def _finish(self, status: int) -> None:
        self.status = status
        self.timer.stop()
        self.window.close()
        self.app.quit()


def run_gui(args) -> int:
    configure_torch()
    from PySide6.QtWidgets import QApplication

    from core.problem import default_problem
    from core.session import SessionError, load_session
    from gui.main_window import MainWindow
    from gui.style import configure_pyqtgraph

    session_file = getattr(args, "session", None)
    if session_file:
        try:
            load_session(session_file)  # check it before opening a window: a bad file is a one-line error
        except SessionError as exc:
            print(f"influence-lab: --session: {exc}", file=sys.stderr)
            return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Influence Lab")
    app.setOrganizationName("Influence Lab")
    configure_pyqtgraph()
    screenshot = getattr(args, "screenshot", None)
    window = MainWindow(default_problem(), interactive=not screenshot, remember=not screenshot)
    window.resize(*SCREENSHOT_SIZE)
    if not screenshot:
        window.restore_preferences(settings=not session_file)
    panel = getattr(args, "panel", None)
    if panel and not window.show_panel(panel):
        names = ", ".join(n for n in window.panels)
        print(f"influence-lab: unknown panel {panel!r}; panels: {names}", file=sys.stderr)
        return 2
    window.show()
    from gui.autosave import restore_answer

    restored = False
    if not screenshot or restore_answer() is not None:
        restored = window.offer_restore()
    if restored:
        if session_file:
            print(f"influence-lab: restored the autosaved session instead of {session_file}", file=sys.stderr)
        if panel:
            window.show_panel(panel)
    elif session_file:
        if not window.open_session(session_file):
            return 2
        if panel:
            window.show_panel(panel)
    else:
        window.start()
    if not screenshot:
        window.enable_autosave()
    delete = getattr(args, "delete", None)
    if delete is not None and not (0 <= delete < window.state.data.n):
        print(
            f"influence-lab: --delete {delete}: point indices are 0..{window.state.data.n - 1}",
            file=sys.stderr,
        )
        window.shutdown()
        return 2
    if screenshot:
        driver = ScreenshotDriver(window, app, screenshot, delete, panel)
        app.exec()
        return driver.status
    if delete is not None:
        _delete_after_first_fit(window, delete)
    return app.exec()


def _delete_after_first_fit(window, j: int) -> None:
    state = window.state

    def apply():
        state.fitChanged.disconnect(apply)
        state.delete_point(j)
        state.select(j)

    state.fitChanged.connect(apply)
