"""Fixtures and helpers shared by the GUI tests (``from gui_fixtures import *`` in a tests/test_gui_*.py).

- ``no_leaked_threads`` (autouse wherever imported): fails a test that leaves a job worker thread (or any other
  new Python thread) or a QTimer running — the napari-style guard against workers and timers outliving their
  window.
- ``window``: a shown MainWindow on the default problem, not yet training; closed (workers joined) afterwards.
- ``trained_window``: the same after its first training has finished.
- ``isolated_config`` (autouse): preferences (QSettings INI) go to a fresh ``tmp_path`` directory, never to the
  user's configuration.
"""

from __future__ import annotations

import gc
import threading
import time
import warnings

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, Qt, QTimer

from gui.jobs import live_threads

__all__ = [
    "click_data",
    "data_to_view",
    "isolated_config",
    "no_leaked_threads",
    "trained_window",
    "wait_analysis",
    "wait_idle",
    "window",
    "TIMEOUT_MS",
]

TIMEOUT_MS = 30_000


def _active_timers() -> list:
    """Every QTimer still running: parentless ones held by Python (found through the garbage collector's list)
    and children of the application, once the deletions the test scheduled (deleteLater) have happened."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    with warnings.catch_warnings():  # isinstance on some of torch's deprecated module attributes warns
        warnings.simplefilter("ignore")
        timers = [
            o for o in gc.get_objects() if isinstance(o, QTimer) and shiboken6.isValid(o) and o.isActive()
        ]
    app = QCoreApplication.instance()
    if app is not None:
        timers += [t for t in app.findChildren(QTimer) if t.isActive() and t not in timers]
    return timers


def _describe_timer(t) -> str:
    owner = t.parent()
    return f"{t.objectName() or 'QTimer'} ({t.interval()} ms) of {type(owner).__name__ if owner else 'no parent'}"


def _foreign_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)
    ]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """Point the app's preferences at a fresh directory (gui.settings reads INFLUENCE_LAB_CONFIG_DIR)."""
    d = tmp_path / "config"
    d.mkdir(exist_ok=True)
    monkeypatch.setenv("INFLUENCE_LAB_CONFIG_DIR", str(d))
    return d


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fails a test that leaves a thread or a QTimer running (workers and timers must not outlive a window)."""
    before = set(threading.enumerate())
    timers_before = _active_timers()
    yield
    # a worker that was cancelled gets a moment to leave its generator (cancellation is between yields)
    deadline = time.monotonic() + 0.5
    while (live_threads() or _foreign_threads(before)) and time.monotonic() < deadline:
        time.sleep(0.01)
    leaked = live_threads() + [t for t in _foreign_threads(before) if t not in live_threads()]
    assert not leaked, f"threads still running after the test: {[t.name for t in leaked]}"
    timers = [t for t in _active_timers() if t not in timers_before]
    assert not timers, f"timers still running after the test: {[_describe_timer(t) for t in timers]}"


@pytest.fixture
def window(qtbot, no_leaked_threads):
    from core.problem import default_problem
    from gui.main_window import MainWindow

    w = MainWindow(default_problem())
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
    assert w.shutdown()
    w.deleteLater()


@pytest.fixture
def trained_window(qtbot, window):
    with qtbot.waitSignal(window.state.fitChanged, timeout=TIMEOUT_MS):
        window.start()
    wait_idle(qtbot, window)
    return window


def wait_idle(qtbot, w, timeout: int = TIMEOUT_MS) -> None:
    """Wait until no job runs, no retrain is pending and the fit belongs to the current revision."""
    qtbot.waitUntil(lambda: w.is_idle() and w.state.fit_is_current(), timeout=timeout)


def wait_analysis(qtbot, w, timeout: int = TIMEOUT_MS) -> None:
    """Wait until every job is done and the analysis of the analysed point (if any) is complete."""
    qtbot.waitUntil(
        lambda: w.is_idle() and w.state.fit_is_current() and w.analysis_complete(), timeout=timeout
    )
    qtbot.wait(30)  # panels draw parts of a result in later turns of the event loop


def wait_drawn(qtbot, timeout: int = TIMEOUT_MS) -> None:
    """Wait until the plot updates the panels stagger over later turns of the event loop have run."""
    from gui.panels.common import staggered_updates_pending

    qtbot.waitUntil(lambda: staggered_updates_pending() == 0, timeout=timeout)


def data_to_view(fit_view, x: float, y: float) -> QPoint:
    """Viewport pixel position of the data point (x, y) in the Data & fit plot."""
    scene = fit_view.viewbox.mapViewToScene(QPointF(x, y))
    return fit_view.plot.mapFromScene(scene)


def click_data(
    qtbot, fit_view, x: float, y: float, modifier=Qt.KeyboardModifier.NoModifier, button=None
) -> None:
    qtbot.mouseClick(
        fit_view.plot.viewport(), button or Qt.MouseButton.LeftButton, modifier, data_to_view(fit_view, x, y)
    )
