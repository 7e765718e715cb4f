"""Autosave and crash recovery: nothing is lost when the app is killed in the middle of work.

The session being edited (the window's :meth:`MainWindow.current_session`, written with
:func:`core.session.save_session`, i.e. atomically) goes to ``<config dir>/autosave/session.json``, the config dir
being the one of the preferences (``INFLUENCE_LAB_CONFIG_DIR`` or Qt's per-user configuration directory,
:func:`gui.settings.config_path`). It is written

- after every :data:`EVERY_EDITS` changes of the undo stack (an edit, an undo or a redo), debounced by
  :data:`DEBOUNCE_MS`; when fewer edits are pending, :data:`IDLE_MS` after the last one;
- once more when the fit of the autosaved points arrives, so a restore needs no retraining (θ̂ is in the file);
- on a clean exit (the window is closed), which also marks it *clean*.

A sidecar ``autosave/state.json`` says whether the run that wrote the autosave exited cleanly
(``{"clean": false, ...}`` after every autosave, ``true`` at the clean exit) and which session file the user had
open. On launch, an autosave whose run did not exit cleanly (killed, crashed) is offered for restoring
(:meth:`MainWindow.offer_restore`): a question box, or — for scripts, tests and ``--screenshot`` runs — the
environment variable ``INFLUENCE_LAB_RESTORE=yes|no``. Restoring opens it like a session file (points, weights,
settings, θ̂, λ, selection, view); declining moves it aside to ``autosave/previous-session.json`` (kept, not lost).
Only a window that autosaves (interactive runs) ever writes or moves these files.

Two instances running at once share the slot (the last writer wins).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from core.atomic import atomic_write_text
from core.session import save_session
from gui.settings import config_path

#: Environment variable answering the restore question without asking: ``yes`` or ``no``.
ENV_RESTORE = "INFLUENCE_LAB_RESTORE"
#: Test hook: at the end of a ``--screenshot`` run, save the session shown to this file (gui.app).
ENV_DUMP_SESSION = "INFLUENCE_LAB_DUMP_SESSION"

SESSION_FILE = "session.json"
STATE_FILE = "state.json"
PREVIOUS_FILE = "previous-session.json"
STATE_FORMAT = "influence-lab-autosave"

#: Autosave after this many undo-stack changes …
EVERY_EDITS = 3
#: … once no further change has come for this long (a burst of edits is written once) …
DEBOUNCE_MS = 300
#: … or, with fewer changes pending, this long after the last one.
IDLE_MS = 5000


def autosave_dir() -> Path:
    """``<config dir>/autosave`` (not created here)."""
    return config_path().parent / "autosave"


def read_state(directory: str | Path) -> dict:
    """The sidecar of the autosave in ``directory``; ``{}`` when missing or damaged."""
    try:
        doc = json.loads((Path(directory) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def pending_restore(directory: str | Path | None = None) -> Path | None:
    """The autosaved session of a run that did not exit cleanly, or None (none, or the last run exited cleanly)."""
    d = Path(directory) if directory is not None else autosave_dir()
    path = d / SESSION_FILE
    if not path.is_file():
        return None
    return None if read_state(d).get("clean") is True else path


def restore_answer(default: bool | None = None) -> bool | None:
    """``INFLUENCE_LAB_RESTORE`` as True (yes/y/1/true), False (no/n/0/false) or ``default`` when unset/other."""
    v = os.environ.get(ENV_RESTORE, "").strip().lower()
    if v in ("yes", "y", "1", "true"):
        return True
    if v in ("no", "n", "0", "false"):
        return False
    return default


def set_aside(directory: str | Path) -> Path | None:
    """Move a declined autosave to ``previous-session.json`` (replacing an older one); return its new path."""
    d = Path(directory)
    src = d / SESSION_FILE
    if not src.is_file():
        return None
    dst = d / PREVIOUS_FILE
    os.replace(src, dst)
    with contextlib.suppress(OSError):
        (d / STATE_FILE).unlink()
    return dst


class Autosaver(QObject):
    """Writes the window's session to the autosave slot every few edits and on :meth:`finish` (clean exit)."""

    #: the autosave file was written (its path)
    saved = Signal(str)

    def __init__(
        self,
        window,
        directory: str | Path | None = None,
        every: int = EVERY_EDITS,
        debounce_ms: int = DEBOUNCE_MS,
        idle_ms: int = IDLE_MS,
    ):
        super().__init__(window)
        self.window = window
        self.directory = Path(directory) if directory is not None else autosave_dir()
        self.path = self.directory / SESSION_FILE
        self.every = max(1, int(every))
        self.pending = 0  # undo-stack changes not yet written
        self.saves = 0
        self.finished = False
        self._without_fit = False  # the last autosave had no θ̂ (the fit was not current)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(int(debounce_ms))
        self._timer.timeout.connect(self.save_now)
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(int(idle_ms))
        self._idle.timeout.connect(self.save_now)
        state = window.state
        state.undo_stack.indexChanged.connect(self._on_edit)
        state.fitChanged.connect(self._on_fit)

    def _on_edit(self, *_) -> None:
        if self.finished:
            return
        self.pending += 1
        if self.pending >= self.every:
            self._idle.stop()
            self._timer.start()  # restarts: a burst of edits is written once it pauses
        else:
            self._idle.start()

    def _on_fit(self) -> None:
        if self.finished or not self._without_fit or self.pending:
            return
        if self.window.state.fit_is_current():
            self._timer.start()

    def save_now(self) -> bool:
        """Write the session and mark the run unclean (a crash from now on leaves this autosave to restore)."""
        self._timer.stop()
        self._idle.stop()
        return self._write(clean=False)

    def finish(self) -> bool:
        """Clean exit: write the session a last time and mark it clean (idempotent)."""
        if self.finished:
            return True
        self.finished = True
        self._timer.stop()
        self._idle.stop()
        return self._write(clean=True)

    def _write(self, clean: bool) -> bool:
        w = self.window
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            session = w.current_session()
            original = w.session_path
            doc = {
                "format": STATE_FORMAT,
                "version": 1,
                "clean": clean,
                "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "pid": os.getpid(),
                "session_path": str(original) if original is not None else None,
            }
            state_text = json.dumps(doc, indent=1) + "\n"
            # a kill between the two writes must never leave a new session marked clean: "unclean" is written
            # before the session, "clean" only after it
            if not clean:
                atomic_write_text(self.directory / STATE_FILE, state_text)
            save_session(session, self.path)
            if clean:
                atomic_write_text(self.directory / STATE_FILE, state_text)
        except (OSError, ValueError) as exc:  # an autosave never interrupts work; say it once on stderr
            print(f"influence-lab: autosave to {self.path} failed: {exc}", file=sys.stderr)
            return False
        self.pending = 0
        self.saves += 1
        self._without_fit = session.theta_hat is None
        self.saved.emit(str(self.path))
        return True
