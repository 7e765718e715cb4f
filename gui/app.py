"""Start the desktop app: ``run_gui(args)`` (``python app.py`` without a subcommand).

``--session FILE``: open a session file (points, model, settings, trained parameters, analysis, view) instead of
the default problem; a bad file ends with a one-line message and exit status 2.
``--screenshot OUT.png``: open the window, train (or restore the session), apply ``--delete J`` (mark point J
deleted, weight 0, select it — which analyses its deletion), wait until every worker has finished (training, the
ε-path, the estimates, the homotopy), save a grab of the window, exit 0.
``--export-figures DIR``: the same run, ending by writing what File → Export figures writes into DIR (refusing to
replace files already there unless ``--overwrite``), then exit 0.
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
from pathlib import Path

_torch_configured = False

#: --screenshot gives up after this many seconds (exit status 1).
SCREENSHOT_TIMEOUT_S = 110.0
SCREENSHOT_SIZE = (1400, 900)


def configure_torch() -> None:
    """Import torch before Qt and limit its threads (docs/design.md pitfalls); once per process."""
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

    what = "--screenshot"

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
            print(f"influence-lab: {self.what} timed out after {SCREENSHOT_TIMEOUT_S:.0f} s", file=sys.stderr)
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
        self._finish(0 if self.deliver() else 1)

    def deliver(self) -> bool:
        ok = self.window.grab().save(self.out)
        if not ok:
            print(f"influence-lab: could not write the screenshot {self.out}", file=sys.stderr)
        return ok

    def _finish(self, status: int) -> None:
        self.status = status
        self.timer.stop()
        self.window.close()
        self.app.quit()


class FigureExportDriver(ScreenshotDriver):
    """Drives an --export-figures run: like --screenshot, but ends by writing what File → Export figures
    writes (the same method) into the folder, and prints the list of files."""

    what = "--export-figures"

    def __init__(self, window, app, out: str, delete, panel=None, overwrite: bool = False):
        self.overwrite = overwrite
        super().__init__(window, app, out, delete, panel)

    def deliver(self) -> bool:
        written = self.window.export_figures(self.out, overwrite=self.overwrite)
        if written is None:
            return False
        print(f"influence-lab: wrote {len(written)} files to {self.out}")
        return True


def _figure_size(args):
    """The --figure-* options as a FigureSize (None when none is given), or a message naming the bad one."""
    from gui.paper_figure import DEFAULT_SIZE, FigureSize

    given = {
        "width_in": getattr(args, "figure_width", None),
        "height_in": getattr(args, "figure_height", None),
        "font_pt": getattr(args, "figure_font", None),
    }
    if all(v is None for v in given.values()):
        return None
    size = FigureSize(
        width_in=given["width_in"],
        height_in=given["height_in"],
        font_pt=DEFAULT_SIZE.font_pt if given["font_pt"] is None else given["font_pt"],
    )
    try:
        size.check()
    except ValueError as exc:
        return f"{exc} (--figure-width, --figure-height, --figure-font)"
    return size


def run_gui(args) -> int:
    configure_torch()
    from PySide6.QtWidgets import QApplication

    from core.problem import default_problem
    from gui.main_window import MainWindow
    from gui.style import configure_pyqtgraph

    screenshot = getattr(args, "screenshot", None)
    export_dir = getattr(args, "export_figures", None)
    headless = screenshot or export_dir
    status = _check_before_qt(getattr(args, "session", None), headless)
    if status is not None:
        return status
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Influence Lab")
    app.setOrganizationName("Influence Lab")
    configure_pyqtgraph()
    if screenshot and export_dir:
        print("influence-lab: give --screenshot or --export-figures, not both", file=sys.stderr)
        return 2
    figure_size = _figure_size(args)
    if isinstance(figure_size, str):
        print(f"influence-lab: {figure_size}", file=sys.stderr)
        return 2
    window = MainWindow(default_problem(), interactive=not headless, remember=not headless)
    status = _prepare_window(window, args, headless, figure_size)
    if status is None:
        status = _show_and_load(window, args, headless)
    if status is not None:
        return status
    delete = getattr(args, "delete", None)
    if delete is not None and not (0 <= delete < window.state.data.n):
        print(
            f"influence-lab: --delete {delete}: point indices are 0..{window.state.data.n - 1}",
            file=sys.stderr,
        )
        window.shutdown()
        return 2
    if headless:
        panel = getattr(args, "panel", None)
        if export_dir:
            overwrite = bool(getattr(args, "overwrite", False))
            driver = FigureExportDriver(window, app, export_dir, delete, panel, overwrite)
        else:
            driver = ScreenshotDriver(window, app, screenshot, delete, panel)
        app.exec()
        return driver.status
    if delete is not None:
        _delete_after_first_fit(window, delete)
    return app.exec()


def _check_before_qt(session_file: str | None, headless) -> int | None:
    """Refuse a bad --session file, and a platform Qt cannot start on, before any window exists (the exit
    status, or None to go on); a headless run is pointed at the offscreen platform."""
    from PySide6.QtWidgets import QApplication

    from core.session import SessionError, load_session

    if session_file:
        try:
            load_session(session_file)  # check it before opening a window: a bad file is a one-line error
        except SessionError as exc:
            print(f"influence-lab: --session: {exc}", file=sys.stderr)
            return 2
    if headless and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a headless run needs no display
    if not headless:
        from gui.doctor import platform_problem

        problem = platform_problem()  # before Qt's own message, which may blame the wrong library
        if problem and QApplication.instance() is None:
            print(f"influence-lab: {problem}", file=sys.stderr)
            return 1
    return None


def _window_size(text: str | None) -> tuple[int, int] | None:
    """--window-size WxH as pixels (the default without it), or None when it is not a valid size."""
    if not text:
        return SCREENSHOT_SIZE
    try:
        wpx, hpx = (int(v) for v in text.lower().split("x"))
    except ValueError:
        return None
    if not (400 <= wpx <= 8000 and 300 <= hpx <= 8000):
        return None
    return wpx, hpx


def _prepare_window(window, args, headless, figure_size) -> int | None:
    """Size the window, restore the preferences and apply the options that need no shown window; the exit
    status of a bad option, or None."""
    size = _window_size(getattr(args, "window_size", None))
    if size is None:
        print(f"influence-lab: --window-size {args.window_size}: give WxH, e.g. 1366x768", file=sys.stderr)
        window.shutdown()
        return 2
    window.resize(*size)
    if not headless:
        window.restore_preferences(settings=not getattr(args, "session", None))
    if figure_size is not None:
        window.figure_size = figure_size
    export_dir = getattr(args, "export_figures", None)
    if export_dir and not getattr(args, "overwrite", False):
        existing = [p for p in window.export_targets(Path(export_dir)) if p.exists()]
        if existing:  # refuse before training, not after
            print(
                f"influence-lab: --export-figures: {export_dir} already holds {len(existing)} of the files to "
                f"write (e.g. {existing[0].name}); add --overwrite to replace them",
                file=sys.stderr,
            )
            window.shutdown()
            return 2
    panel = getattr(args, "panel", None)
    if panel and not window.show_panel(panel):
        names = ", ".join(n for n in window.panels)
        print(f"influence-lab: unknown panel {panel!r}; panels: {names}", file=sys.stderr)
        return 2
    return None


def _show_and_load(window, args, headless) -> int | None:
    """Show the window and fill it: the autosave if restored, else --session, else the file to open, else the
    default problem (trained); then start autosaving (interactive runs). The exit status on failure, or None."""
    window.show()
    if not headless:
        window.fit_to_screen()
    else:
        window.balance_docks()  # a remembered or default size may be larger than this screen
    from gui.autosave import restore_answer

    session_file = getattr(args, "session", None)
    panel = getattr(args, "panel", None)
    restored = False
    if not headless or restore_answer() is not None:
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
    elif getattr(args, "open_file", None):
        if not Path(args.open_file).is_file():
            print(f"influence-lab: {args.open_file}: file not found", file=sys.stderr)
            window.shutdown()
            return 2
        if not window.open_file(args.open_file):
            window.shutdown()
            return 2
        window.start()
    else:
        window.start()
    if not headless:
        window.enable_autosave()
    return None


def _delete_after_first_fit(window, j: int) -> None:
    state = window.state

    def apply():
        state.fitChanged.disconnect(apply)
        state.delete_point(j)
        state.select(j)

    state.fitChanged.connect(apply)
