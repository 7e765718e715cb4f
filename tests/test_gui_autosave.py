"""Autosave and crash recovery: the session is autosaved every few edits and on exit, marked clean
on a clean exit, offered for restoring after a crash — in process, and with a real ``python app.py`` killed by
SIGKILL and relaunched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gui_fixtures import *  # noqa: F403
from gui_fixtures import TIMEOUT_MS, wait_idle

from core.points.dataset import Dataset
from core.problem import default_problem
from core.session import Session, SessionError, load_session, save_session
from gui import autosave

ROOT = Path(__file__).resolve().parents[1]


def _new_window(qtbot):
    from gui.main_window import MainWindow

    w = MainWindow(default_problem())
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def _close(w) -> None:
    w.close()
    assert w.shutdown()
    w.deleteLater()


def test_edits_trigger_an_autosave_that_loads(qtbot, trained_window, tmp_path):
    w = trained_window
    d = tmp_path / "slot"
    saver = w.enable_autosave(d, every=3, debounce_ms=50, idle_ms=60_000)
    path = d / autosave.SESSION_FILE
    w.state.delete_point(2)
    w.state.delete_point(5)
    qtbot.wait(200)
    assert not path.exists(), "two edits are fewer than every=3: no autosave yet"
    with qtbot.waitSignal(saver.saved, timeout=TIMEOUT_MS):
        w.state.add_point(0.25, 1.75)
    sess = load_session(path)
    assert sess.data.n == w.state.data.n == 21
    assert sess.data.weight[2] == 0 and sess.data.weight[5] == 0
    assert (sess.data.x[-1], sess.data.y[-1]) == (0.25, 1.75)
    np.testing.assert_array_equal(sess.data.x, w.state.data.x)
    assert autosave.read_state(d)["clean"] is False
    assert autosave.pending_restore(d) == path, "while running, a crash would leave this autosave to restore"
    # undo counts as an edit too; the fit of the autosaved points is added when it arrives (θ̂ in the file)
    w.state.undo_stack.undo()
    w.state.undo_stack.undo()
    w.state.undo_stack.redo()
    qtbot.waitUntil(lambda: load_session(path).data.n == 20, timeout=TIMEOUT_MS)
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: load_session(path).theta_hat is not None, timeout=TIMEOUT_MS)
    np.testing.assert_array_equal(load_session(path).theta_hat, w.state.fit.theta_hat)
    # a clean exit writes the session once more and marks it clean: nothing is offered next time
    w.state.delete_point(9)
    w.close()
    assert autosave.read_state(d)["clean"] is True and autosave.pending_restore(d) is None
    assert load_session(path).data.weight[9] == 0


def test_a_few_edits_are_saved_once_idle(qtbot, trained_window, tmp_path):
    w = trained_window
    saver = w.enable_autosave(tmp_path / "slot", every=3, debounce_ms=50, idle_ms=300)
    with qtbot.waitSignal(saver.saved, timeout=TIMEOUT_MS):
        w.state.delete_point(4)
    assert load_session(saver.path).data.weight[4] == 0


def test_restore_after_a_crash_and_decline(qtbot, trained_window, tmp_path, monkeypatch):
    w = trained_window
    d = tmp_path / "slot"
    w.enable_autosave(d)
    w.state.delete_point(3)
    w.state.select(3)
    w.state.set_damping(0.05)
    wait_idle(qtbot, w)
    assert w.autosaver.save_now()  # … and then the process dies: no clean exit
    fit = w.state.fit

    w2 = _new_window(qtbot)
    try:
        assert not w2.offer_restore(directory=tmp_path / "empty"), "nothing to restore"
        monkeypatch.setenv(autosave.ENV_RESTORE, "yes")
        assert w2.offer_restore(directory=d)
        wait_idle(qtbot, w2)
        st = w2.state
        np.testing.assert_array_equal(st.data.x, w.state.data.x)
        np.testing.assert_array_equal(st.data.weight, w.state.data.weight)
        assert st.settings == w.state.settings and st.damping == pytest.approx(0.05)
        assert st.selection == 3 and st.analysis_target == 3
        assert st.fit.extra.get("restored"), "θ̂ was read from the autosave, not retrained"
        np.testing.assert_array_equal(st.fit.theta_hat, fit.theta_hat)
        assert w2.session_path is None, "the autosave does not become the session file"
    finally:
        _close(w2)

    # declined: the autosave is kept aside, and not offered again
    w3 = _new_window(qtbot)
    try:
        assert not w3.offer_restore(answer=False, directory=d)
        assert not (d / autosave.SESSION_FILE).exists()
        assert load_session(d / autosave.PREVIOUS_FILE).data.weight[3] == 0
        assert autosave.pending_restore(d) is None
    finally:
        _close(w3)


def test_a_damaged_autosave_is_refused_and_set_aside(qtbot, window, tmp_path, monkeypatch):
    d = tmp_path / "slot"
    d.mkdir()
    (d / autosave.SESSION_FILE).write_text('{"format": "influence-lab-session", "version": 1, "data": [')
    shown = []
    monkeypatch.setattr(window, "report_error", lambda title, msg, critical=False: shown.append(msg))
    rev = window.state.revision
    assert not window.offer_restore(answer=True, directory=d)
    assert shown and "session.json" in shown[-1]
    assert window.state.revision == rev
    assert (d / autosave.PREVIOUS_FILE).exists() and autosave.pending_restore(d) is None


def test_without_an_answer_an_interactive_window_asks(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    d = tmp_path / "slot"
    saver = window.enable_autosave(d)
    window.state.delete_point(6)
    assert saver.save_now()
    monkeypatch.delenv(autosave.ENV_RESTORE, raising=False)
    asked = []

    def question(parent, title, text, *args):
        asked.append(title)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", question)
    assert not window.offer_restore()  # the window's own slot
    assert asked == ["Restore the autosaved session?"]
    assert (d / autosave.PREVIOUS_FILE).exists() and autosave.pending_restore(d) is None


def test_restore_answer_from_the_environment(monkeypatch):
    for v, expected in (("yes", True), ("No", False), ("", None), ("maybe", None)):
        monkeypatch.setenv(autosave.ENV_RESTORE, v)
        assert autosave.restore_answer() is expected


def _wait_for_autosave(path: Path, proc, j: int, timeout: float) -> Session:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the app exited early: {proc.communicate()[1]}"
        if path.exists():
            try:
                sess = load_session(path)
            except SessionError:  # never partial (atomic writes); but be lenient while polling
                sess = None
            if sess is not None and sess.data.weight[j] == 0 and sess.theta_hat is not None:
                return sess
        time.sleep(0.2)
    raise AssertionError(f"no autosave with point {j} deleted and θ̂ within {timeout:.0f} s")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_then_relaunch_restores_the_autosave(tmp_path):
    cfg = tmp_path / "cfg"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", INFLUENCE_LAB_CONFIG_DIR=str(cfg))
    env.pop(autosave.ENV_RESTORE, None)
    # distinctive points: a parabola nobody else uses
    x = np.linspace(-1.7, 1.9, 11)
    p = default_problem()
    start = tmp_path / "start.json"
    save_session(
        Session(
            data=Dataset(x=x, y=0.3 * x**2 - 0.7, name="parabola"),
            model=p.model,
            config=p.config,
            init_seed=p.init_seed,
            converge=p.converge,
        ),
        start,
    )
    slot = cfg / "autosave"
    j = 4
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--session", str(start), "--delete", str(j)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        saved = _wait_for_autosave(slot / autosave.SESSION_FILE, proc, j, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    np.testing.assert_array_equal(saved.data.x, x)
    assert autosave.read_state(slot)["clean"] is False
    assert autosave.read_state(slot)["session_path"] == str(start)

    out, dump = tmp_path / "shot.png", tmp_path / "restored.json"
    env[autosave.ENV_RESTORE] = "yes"
    env[autosave.ENV_DUMP_SESSION] = str(dump)
    done = subprocess.run(
        [sys.executable, "app.py", "--screenshot", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.exists()
    restored = load_session(dump)
    np.testing.assert_array_equal(restored.data.x, saved.data.x)
    np.testing.assert_array_equal(restored.data.y, saved.data.y)
    np.testing.assert_array_equal(restored.data.weight, saved.data.weight)
    np.testing.assert_array_equal(restored.theta_hat, saved.theta_hat)
    assert restored.selection == j and restored.ui["analysed"] == j
    # a --screenshot run does not touch the autosave: the next interactive launch still offers it
    assert autosave.pending_restore(slot) == slot / autosave.SESSION_FILE
    assert json.loads((slot / autosave.STATE_FILE).read_text())["clean"] is False
