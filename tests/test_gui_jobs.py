"""The job runner: results in the GUI thread, one live job per kind, stale results dropped, pause / step /
resume, errors as messages, throttled progress, shutdown joins every worker."""

from __future__ import annotations

import threading
import time

import pytest
from gui_fixtures import *  # noqa: F403

from core.progress import Progress
from gui.jobs import JobRunner, live_threads


def counting(n: int, delay: float = 0.0, result="done", log: list | None = None):
    def gen():
        try:
            for k in range(1, n + 1):
                if delay:
                    time.sleep(delay)
                if log is not None:
                    log.append(threading.current_thread().name)
                yield Progress(k, n, f"{k}/{n}", k)
            return result
        finally:
            if log is not None:
                log.append("closed")

    return gen


def forever():
    k = 0
    while True:
        k += 1
        time.sleep(0.001)
        yield Progress(k, 0, "", k)


@pytest.fixture
def runner(qtbot):
    rev = {"value": 0}
    r = JobRunner(lambda: rev["value"])
    r.rev = rev
    yield r
    assert r.shutdown(5.0)


def test_result_arrives_in_gui_thread_with_progress(qtbot, runner):
    seen = []
    runner.progress.connect(lambda kind, p: seen.append((kind, p.partial, threading.current_thread())))
    with qtbot.waitSignal(runner.resultReady, timeout=5000) as blocker:
        runner.submit("demo", counting(20, 0.002, result=42), label="Demo")
    assert blocker.args == ["demo", 0, 42]
    assert seen, "progress was delivered"
    assert all(t is threading.main_thread() for _, _, t in seen)
    assert seen[-1][1] == 20  # the last progress is always delivered
    qtbot.waitUntil(runner.idle, timeout=2000)


def test_progress_is_throttled_to_the_frame_rate(qtbot, runner):
    seen = []
    runner.progress.connect(lambda kind, p: seen.append(p.partial))
    with qtbot.waitSignal(runner.resultReady, timeout=10_000):
        runner.submit("fast", counting(50_000))
    assert seen[-1] == 50_000
    assert len(seen) < 200, "intermediate progress is dropped, not queued"


def test_new_job_cancels_the_old_one_of_the_same_kind(qtbot, runner):
    log_a: list = []
    results = []
    runner.resultReady.connect(lambda kind, rev, res: results.append(res))
    runner.submit("fit", counting(10_000, 0.001, result="A", log=log_a))
    qtbot.waitUntil(lambda: len(log_a) > 3, timeout=2000)
    with qtbot.waitSignal(runner.resultReady, timeout=5000):
        runner.submit("fit", counting(5, result="B"))
    qtbot.waitUntil(runner.idle, timeout=2000)
    assert results == ["B"]
    assert log_a[-1] == "closed", "the cancelled generator was closed"
    assert len(log_a) < 10_000


def test_jobs_of_different_kinds_run_side_by_side(qtbot, runner):
    results = {}
    runner.resultReady.connect(lambda kind, rev, res: results.__setitem__(kind, res))
    runner.submit("a", counting(30, 0.002, result=1))
    runner.submit("b", counting(30, 0.002, result=2))
    qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
    assert results == {"a": 1, "b": 2}


def test_stale_result_is_dropped(qtbot, runner):
    results = []
    runner.resultReady.connect(lambda kind, rev, res: results.append(res))
    runner.submit("fit", counting(20, 0.005, result="old"), revision=0)
    runner.rev["value"] = 1  # the user edited something meanwhile
    qtbot.waitUntil(runner.idle, timeout=5000)
    assert results == []


def test_errors_become_messages(qtbot, runner):
    def broken():
        yield Progress(0, 1, "start")
        raise ValueError("the Hessian is singular")

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.submit("estimates", broken, label="Influence estimates")
    kind, message = blocker.args
    assert kind == "estimates"
    assert "Influence estimates failed" in message and "the Hessian is singular" in message


def test_factory_errors_become_messages(qtbot, runner):
    def factory():
        raise RuntimeError("bad settings")

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.submit("x", factory)
    assert "bad settings" in blocker.args[1]


def test_pause_step_resume(qtbot, runner):
    last = {"k": 0}
    runner.progress.connect(lambda kind, p: last.__setitem__("k", p.partial))
    job = runner.submit("fit", counting(1_000_000, 0.0005, result="end"))
    qtbot.waitUntil(lambda: last["k"] > 5, timeout=3000)
    runner.pause("fit")
    assert runner.is_paused("fit")
    time.sleep(0.05)
    qtbot.wait(80)
    k0 = job.latest.partial
    qtbot.wait(150)
    assert job.latest.partial == k0, "a paused job does not advance"
    runner.step("fit")
    qtbot.waitUntil(lambda: job.latest.partial == k0 + 1, timeout=2000)
    qtbot.wait(100)
    assert job.latest.partial == k0 + 1, "one step advances exactly one yield"
    runner.resume("fit")
    qtbot.waitUntil(lambda: job.latest.partial > k0 + 20, timeout=3000)
    runner.cancel("fit")
    qtbot.waitUntil(runner.idle, timeout=3000)


def test_a_paused_job_can_be_cancelled(qtbot, runner):
    job = runner.submit("fit", forever, paused=True)
    qtbot.waitUntil(lambda: job.latest is not None, timeout=2000)
    assert job.latest.partial == 1, "a job submitted paused runs to its first yield and waits"
    runner.cancel("fit")
    qtbot.waitUntil(runner.idle, timeout=2000)
    assert job.cancelled


def test_shutdown_joins_running_workers(qtbot):
    r = JobRunner()
    for kind in ("a", "b", "c"):
        r.submit(kind, forever)
    qtbot.waitUntil(lambda: len(live_threads()) == 3, timeout=2000)
    assert r.shutdown(5.0)
    assert live_threads() == []
    with pytest.raises(RuntimeError):
        r.submit("a", forever)


def _stamps(log: list):
    """A job that computes in short steps (pure Python, holding the GIL) and logs the time of each step."""

    def gen():
        k = 0
        while True:
            t = time.perf_counter()
            while time.perf_counter() - t < 0.0005:
                pass
            log.append(time.perf_counter())
            k += 1
            yield Progress(k, 0, "", k)

    return gen


def test_workers_pause_while_the_gui_thread_is_busy(qtbot, runner):
    """gui.jobs.ComputeLane: while the GUI thread delivers results or paints (LANE.gui_busy), a worker computes
    at most GUI_SLICE per MAX_GUI_WAIT; when the GUI is free it computes all the time."""
    from gui.jobs import GUI_SLICE, LANE, MAX_GUI_WAIT

    log: list[float] = []
    runner.submit("steps", _stamps(log))
    qtbot.waitUntil(lambda: len(log) > 20, timeout=5000)
    window = 0.4
    t0 = time.perf_counter()
    time.sleep(window)  # GUI thread free (sleeping releases the interpreter)
    t1 = time.perf_counter()
    with LANE.gui_busy():
        time.sleep(window)  # GUI thread "busy" (the workers do not know it sleeps)
    t2 = time.perf_counter()
    runner.cancel("steps")
    qtbot.waitUntil(runner.idle, timeout=5000)
    free = sum(t0 <= t < t1 for t in log)
    busy = sum(t1 <= t < t2 for t in log)
    # free: a step every ~0.5 ms; busy: about GUI_SLICE of steps per MAX_GUI_WAIT (a few % of the free rate)
    assert free > 100
    assert busy < free * 3 * GUI_SLICE / MAX_GUI_WAIT + 5, (free, busy)
    assert LANE.gui_idle.is_set()


def test_paint_watcher_marks_the_gui_busy_during_a_paint(qtbot, runner):
    """The lane sees the GUI thread busy for the whole paint pass of a watched window, and free after it."""
    from PySide6.QtWidgets import QWidget

    from gui.jobs import LANE

    seen: list[bool] = []

    class Probe(QWidget):
        def paintEvent(self, event):
            seen.append(LANE.gui_idle.is_set())

    w = Probe()
    qtbot.addWidget(w)
    runner.watch_paints(w)
    w.resize(120, 80)
    w.show()
    qtbot.waitExposed(w)
    seen.clear()
    w.update()
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    assert seen[-1] is False  # busy while painting
    qtbot.waitUntil(LANE.gui_idle.is_set, timeout=2000)  # and free once the pass is over
