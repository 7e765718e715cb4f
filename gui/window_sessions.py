"""Sessions in the main window: the whole state as a :class:`core.session.Session` (view included) and back,
session files, recent sessions, the examples, and autosave with crash recovery (:mod:`gui.autosave`).

Mixed into :class:`gui.main_window.MainWindow`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.problem import Problem
from core.session import Session, SessionError, load_session, save_session
from gui.dynamics_tasks import MODE_FIG4, MODE_MLP
from gui.state import Settings

SESSION_FILTER = "Influence Lab session (*.json)"


class WindowSessions:
    """Sessions, recent sessions and autosave restore of :class:`~gui.main_window.MainWindow`."""

    def current_session(self) -> Session:
        """The whole state as a core Session (θs from the current fit when it belongs to these points)."""
        st = self.state
        p = st.problem()
        fit = st.fit if st.fit_is_current() else None
        return Session(
            data=p.data,
            model=p.model,
            config=p.config,
            init_seed=p.init_seed,
            converge=p.converge,
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
            sess, settings = _read_session(path)
        except (SessionError, ValueError, TypeError) as exc:
            self.report_error(
                "Cannot open the session", f"{path}: {exc}" if str(path) not in str(exc) else str(exc), True
            )
            return False
        ui = sess.ui if isinstance(sess.ui, dict) else {}
        target = _analysed_point(ui, sess.data.n)
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
            answer = self._ask_restore(directory, info)
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

    def _ask_restore(self, directory: Path, info: dict) -> bool:
        from gui import autosave

        when = f" (autosaved {info['saved']})" if isinstance(info.get("saved"), str) else ""
        return (
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

    def open_example(self, ex) -> bool:
        ok = self.open_session(ex.path)
        if ok:
            self.statusBar().showMessage(f"Example: {ex.title}", 6000)
        return ok

    def open_session_dialog(self) -> None:
        start = self.app_settings.folder("last_session_dir")
        path, _ = QFileDialog.getOpenFileName(self, "Open session", start, f"{SESSION_FILTER};;All files (*)")
        if path:
            self.open_session(path)

    def save_session_dialog(self) -> None:
        start = (
            str(self.session_path)
            if self.session_path
            else str(Path(self.app_settings.folder("last_session_dir")) / "session.json")
        )
        path, _ = QFileDialog.getSaveFileName(self, "Save session", start, SESSION_FILTER)
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


def _read_session(path: Path) -> tuple[Session, Settings]:
    """The session in a file and its model/training settings, checked (SessionError, ValueError or TypeError
    name what is wrong)."""
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
    return sess, settings


def _analysed_point(ui: dict, n: int) -> int | None:
    """The session's analysed point, if it names one of its ``n`` points."""
    target = ui.get("analysed")
    if isinstance(target, int) and not isinstance(target, bool) and 0 <= target < n:
        return target
    return None
