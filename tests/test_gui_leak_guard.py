"""The leak guard itself (gui_fixtures.no_leaked_threads) sees a running QTimer and a running thread."""

import threading

from gui_fixtures import _active_timers, _foreign_threads
from PySide6.QtCore import QTimer


def test_guard_sees_a_running_timer(qtbot):
    timer = QTimer()
    timer.start(1000)
    try:
        assert timer in _active_timers()
    finally:
        timer.stop()
    assert timer not in _active_timers()


def test_guard_sees_a_running_thread():
    before = set(threading.enumerate())
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="probe")
    t.start()
    try:
        assert t in _foreign_threads(before)
    finally:
        stop.set()
        t.join()
    assert t not in _foreign_threads(before)
