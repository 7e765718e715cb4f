"""Background jobs: run a ``core`` progress generator in a worker thread, deliver its results in the GUI thread.

The contract (docs/design.md, "workers that can be stopped"):

- A *job* is a factory returning a generator that yields :class:`core.progress.Progress` and returns a result.
  The factory is called in the worker thread, so even building the computation never blocks the GUI.
- Every job has a *kind* (``"fit"``, later ``"estimates"``, ``"epspath"``, ``"homotopy"`` …). At most one job
  per kind is live: submitting a new one cancels the old one between two of its yields.
- Every job carries the state *revision* it was computed for. A finished job whose revision is no longer the
  current one is stale and its result is dropped (``JobRunner.current_revision`` tells the runner what is current).
- Workers never touch Qt. A worker only writes its latest progress, its result or its error into a small
  lock-protected mailbox (:class:`Job`). A QTimer in the GUI thread (~30 Hz, running only while jobs are live)
  reads the mailboxes and emits the runner's signals, so the GUI sees at most one progress update per kind per
  frame (intermediate partial results are dropped, never queued) and no Qt object is ever shared with a thread.
- Jobs can be paused (the worker waits between yields), single-stepped while paused, and cancelled.
- The GUI thread has priority (see :class:`ComputeLane`): workers compute one at a time, highest priority first,
  and wait between two yields while the GUI thread delivers results or paints, so a paint or a result handler
  runs at full speed instead of sharing the GIL with every worker.
- :meth:`JobRunner.shutdown` cancels every job and joins every worker thread (the main window calls it from
  ``closeEvent``); :func:`live_threads` lists the worker threads still alive (the test suite's leak check).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal

from core.progress import Progress

#: Refresh rate of the GUI-side poll that turns worker mailboxes into signals (Hz).
FRAME_RATE = 30

#: The interpreter's GIL switch interval while a JobRunner exists (seconds; CPython's default is 5 ms).
#: Workers run numpy on small arrays, which holds the GIL between operations; the GUI thread re-acquires the
#: GIL after every call into Qt that released it (PySide6 releases it around C++ calls), and each re-acquisition
#: can wait a whole switch interval while workers are busy. A paint makes hundreds of such calls, so with the
#: default 5 ms a paint of a plot during a computation takes about three times as long as when idle; 0.2 ms
#: brings that down to about 1.6× (measured on a pyqtgraph plot with one numpy worker). The workers pay a few more
#: thread switches, only while the GUI thread wants the GIL.
GIL_SWITCH_INTERVAL = 0.0002

#: While the GUI thread is busy, a worker waits at its next yield up to MAX_GUI_WAIT seconds for the GUI thread to
#: finish: the GUI gets the interpreter to itself for a paint or a result handler. When a wait times out (the GUI
#: stayed busy, e.g. a long animation) the worker computes for GUI_SLICE seconds before it waits again, so long
#: computations keep moving.
GUI_SLICE = 0.002
MAX_GUI_WAIT = 0.050

_registry_lock = threading.Lock()
_live_threads: set[threading.Thread] = set()


class ComputeLane:
    """Who computes next: one worker at a time, highest priority (lowest number) first, and none while the GUI
    thread is busy (up to :data:`MAX_GUI_WAIT` per step).

    Why: every worker is Python driving numpy on small arrays, so it holds the GIL almost all the time; with k
    busy workers the GUI thread gets about 1/(k+1) of the interpreter and a 15 ms paint takes 60 ms or more
    (measured: 300-500 ms stalls of a 10 ms probe with four analysis jobs). Running the workers one at a time
    loses nothing (the GIL serialises them anyway), and pausing them at their yields while the GUI thread works
    gives the GUI the interpreter.

    The GUI thread says when it is busy: around the job runner's delivery of results (:meth:`gui_busy`) and
    around every paint of a watched window (:class:`PaintWatcher`). The event dispatcher's ``awake`` /
    ``aboutToBlock`` signals cannot tell: with Qt's glib dispatcher (Linux) timers, posted events and paints are
    all dispatched between ``aboutToBlock`` and ``awake``, so the GUI looked idle exactly while it worked.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._holder: object | None = None
        self._waiting: list[tuple[int, int, object]] = []
        self._seq = 0
        self.gui_idle = threading.Event()
        self.gui_idle.set()
        self._busy_depth = 0  # GUI thread only

    def acquire(self, job: Job) -> None:
        """Block until ``job`` may compute its next step (raises JobCancelled if it is cancelled meanwhile): it is
        the first of the waiting jobs by priority, no job holds the lane, and the GUI thread is not busy (or the
        job's free slice after a timed-out wait is running)."""
        while True:
            if not self.gui_idle.is_set() and time.perf_counter() >= job._free_until:
                if not self.gui_idle.wait(MAX_GUI_WAIT):
                    # the GUI stayed busy the whole wait (an animation, a long paint): compute a slice regardless
                    job._free_until = time.perf_counter() + GUI_SLICE
            with self._cond:
                self._seq += 1
                entry = (job.priority, self._seq, job)
                self._waiting.append(entry)
                try:
                    while True:
                        if job._cancel.is_set():
                            raise JobCancelled
                        if self._holder is None and min(self._waiting)[2] is job:
                            if self.gui_idle.is_set() or time.perf_counter() < job._free_until:
                                self._holder = job
                                return
                            break  # the GUI got busy while this job queued behind another: wait for the GUI
                        self._cond.wait(0.05)
                finally:
                    self._waiting.remove(entry)

    def release(self, job: Job) -> None:
        with self._cond:
            if self._holder is job:
                self._holder = None
            self._cond.notify_all()

    # -- GUI thread -------------------------------------------------------------------------------------
    def begin_gui_work(self) -> None:
        self._busy_depth += 1
        self.gui_idle.clear()

    def end_gui_work(self) -> None:
        self._busy_depth = max(0, self._busy_depth - 1)
        if self._busy_depth == 0:
            self.gui_idle.set()

    @contextmanager
    def gui_busy(self) -> Iterator[None]:
        """Workers pause at their next yield while the block runs (GUI thread; nests)."""
        self.begin_gui_work()
        try:
            yield
        finally:
            self.end_gui_work()


#: The events during which Qt paints a window: an update request, an expose (first show, resize) or a paint.
_PAINTING_EVENTS = frozenset({QEvent.Type.UpdateRequest, QEvent.Type.Expose, QEvent.Type.Paint})


class _SettleMarker(QObject):
    """Marks the GUI thread busy until the events already queued have been handled.

    :meth:`mark` makes the GUI busy and posts this object a low-priority event; Qt delivers it only after every
    event posted before it (the paints a result handler or an update request caused). One process-wide instance,
    so a window closed meanwhile never leaves the lane busy."""

    _DONE = QEvent.Type(QEvent.registerEventType())

    def __init__(self, lane: ComputeLane):
        super().__init__()
        self.lane = lane
        self.pending = False

    def mark(self) -> None:
        if not self.pending:
            self.pending = True
            self.lane.begin_gui_work()
            QCoreApplication.postEvent(self, QEvent(self._DONE), Qt.EventPriority.LowEventPriority.value)

    def event(self, event: QEvent) -> bool:
        if event.type() == self._DONE:
            if self.pending:
                self.pending = False
                self.lane.end_gui_work()
            return True
        return super().event(event)


_settle_marker: _SettleMarker | None = None


def mark_gui_busy_until_settled() -> None:
    """The workers pause (at their next yields) until the GUI thread has handled the events queued so far."""
    global _settle_marker
    if _settle_marker is None:
        _settle_marker = _SettleMarker(LANE)
    _settle_marker.mark()


class PaintWatcher(QObject):
    """Tells the lane that the GUI thread is busy while a top-level window paints.

    Qt 6 paints a window's changed widgets in one pass when the window (or its QWindow) handles an
    ``UpdateRequest`` or an ``Expose``. On such an event this filter (on the widget, and on its QWindow once that
    exists) marks the GUI busy until the queued events are handled (:func:`mark_gui_busy_until_settled`): the
    paint, and what it triggers (pyqtgraph re-ranges and repaints in posted events). Measured on the deletion
    analysis, busy until settled gave shorter main-thread gaps than busy during the paint call alone, because a
    worker then does not start a step between two paints of the same burst."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._handles: list = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if hasattr(obj, "windowHandle"):  # the widget: follow its QWindow (created when it is first shown)
            handle = obj.windowHandle()
            if handle is not None and not any(h is handle for h in self._handles):
                handle.installEventFilter(self)
                self._handles.append(handle)
        if event.type() in _PAINTING_EVENTS:
            mark_gui_busy_until_settled()
        return False


#: The process-wide lane every JobRunner's workers share.
LANE = ComputeLane()


def live_threads() -> list[threading.Thread]:
    """Worker threads started by any JobRunner that have not finished yet."""
    with _registry_lock:
        return [t for t in _live_threads if t.is_alive()]


class JobCancelled(Exception):
    """Internal: raised inside the worker when its job was cancelled between yields."""


@dataclass(frozen=True)
class JobInfo:
    """What the status bar shows about a live job (a snapshot, safe to keep)."""

    kind: str
    label: str
    revision: int
    paused: bool
    progress: Progress | None


class Job:
    """One run of a generator in a worker thread, and the mailbox it shares with the GUI thread.

    Only plain Python objects cross the thread boundary: the worker sets ``_latest`` / ``result`` / ``error``
    under ``_lock``; the GUI thread reads them from :class:`JobRunner`'s timer.
    """

    def __init__(
        self,
        kind: str,
        factory: Callable[[], Generator[Progress, None, Any]],
        revision: int,
        label: str,
        paused: bool = False,
        priority: int = 5,
    ):
        self.kind = kind
        self.priority = priority
        self._free_until = 0.0  # perf_counter() until which the job computes even while the GUI is busy
        self.factory = factory
        self.revision = revision
        self.label = label
        self._lock = threading.Condition()
        self._cancel = threading.Event()
        self._paused = paused
        self._steps_allowed = 0
        self._latest: Progress | None = None
        self._fresh = False  # a progress the GUI has not seen yet
        self.result: Any = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.cancelled = False
        self.finished = threading.Event()
        self.thread: threading.Thread | None = None

    # -- GUI thread -------------------------------------------------------------------------------------
    def cancel(self) -> None:
        with self._lock:
            self._cancel.set()
            self._lock.notify_all()  # wake a paused worker so it sees the cancellation

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            self._steps_allowed = 0

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._lock.notify_all()

    def step(self, count: int = 1) -> None:
        """While paused, let the worker advance ``count`` more yields (then it waits again)."""
        with self._lock:
            self._steps_allowed += count
            self._lock.notify_all()

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def take_progress(self) -> Progress | None:
        """The latest progress if the GUI has not seen it yet (else None)."""
        with self._lock:
            if not self._fresh:
                return None
            self._fresh = False
            return self._latest

    @property
    def latest(self) -> Progress | None:
        with self._lock:
            return self._latest

    def info(self) -> JobInfo:
        return JobInfo(self.kind, self.label, self.revision, self.paused, self.latest)

    # -- worker thread ----------------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        """Between two yields: stop if cancelled, wait while paused (unless a single step was granted)."""
        with self._lock:
            while True:
                if self._cancel.is_set():
                    raise JobCancelled
                if not self._paused:
                    return
                if self._steps_allowed > 0:
                    self._steps_allowed -= 1
                    return
                self._lock.wait(0.1)

    def run(self) -> None:
        gen = None
        try:
            LANE.acquire(self)
            try:
                gen = self.factory()
            finally:
                LANE.release(self)
            while True:
                LANE.acquire(self)
                try:
                    p = next(gen)
                except StopIteration as stop:
                    self.result = stop.value
                    break
                finally:
                    LANE.release(self)
                with self._lock:
                    self._latest = p
                    self._fresh = True
                self._checkpoint()
        except JobCancelled:
            self.cancelled = True
        except Exception as exc:  # every failure is reported to the user, never lost
            self.error = user_message(exc)
            self.traceback = traceback.format_exc()
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:
                    pass
            self.finished.set()
            with _registry_lock:
                _live_threads.discard(threading.current_thread())


class JobRunner(QObject):
    """Starts jobs in worker threads; at most one live job per kind; signals arrive in the GUI thread.

    Signals (all emitted in the GUI thread, from the frame timer):

    - ``progress(kind, Progress)`` — the latest progress of a live job (at most once per frame per kind);
    - ``resultReady(kind, revision, result)`` — a job finished for the current revision;
    - ``failed(kind, message)`` — a job raised; the message names the exception;
    - ``jobsChanged()`` — a job started, finished, was cancelled, paused or resumed (the status bar listens).

    Stale results (revision no longer current) and results of cancelled jobs are dropped silently.
    """

    progress = Signal(str, object)
    resultReady = Signal(str, int, object)
    failed = Signal(str, str)
    jobsChanged = Signal()

    def __init__(self, current_revision: Callable[[], int] | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.current_revision = current_revision or (lambda: 0)
        self._jobs: dict[str, Job] = {}  # the live (newest) job of each kind
        self._retired: list[Job] = []  # cancelled jobs whose threads may still be finishing
        self._timer = QTimer(self)
        self._timer.setInterval(int(1000 / FRAME_RATE))
        self._timer.timeout.connect(self._poll)
        self._closed = False
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self._paint_watchers: list[PaintWatcher] = []

    def watch_paints(self, window: QObject) -> None:
        """Pause the workers while ``window`` (a top-level widget) paints (see :class:`PaintWatcher`)."""
        watcher = PaintWatcher(self)
        window.installEventFilter(watcher)
        self._paint_watchers.append(watcher)

    # -- requests ---------------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        factory: Callable[[], Generator[Progress, None, Any]],
        revision: int | None = None,
        label: str | None = None,
        paused: bool = False,
        priority: int = 5,
    ) -> Job:
        """Start ``factory()`` in a worker thread as the live job of ``kind`` (cancelling the previous one).
        ``priority``: lower numbers compute first when several jobs are live (:class:`ComputeLane`)."""
        if self._closed:
            raise RuntimeError("the job runner has been shut down")
        self.cancel(kind, notify=False)
        rev = self.current_revision() if revision is None else revision
        job = Job(kind, factory, rev, label or kind, paused=paused, priority=priority)
        thread = threading.Thread(target=job.run, name=f"influence-lab-{kind}", daemon=True)
        job.thread = thread
        with _registry_lock:
            _live_threads.add(thread)
        self._jobs[kind] = job
        thread.start()
        if not self._timer.isActive():
            self._timer.start()
        self.jobsChanged.emit()
        return job

    def cancel(self, kind: str, notify: bool = True) -> bool:
        job = self._jobs.pop(kind, None)
        if job is None:
            return False
        job.cancel()
        self._retired.append(job)
        if notify:
            self.jobsChanged.emit()
        return True

    def cancel_all(self) -> None:
        for kind in list(self._jobs):
            self.cancel(kind, notify=False)
        self.jobsChanged.emit()

    def pause(self, kind: str) -> None:
        job = self._jobs.get(kind)
        if job is not None:
            job.pause()
            self.jobsChanged.emit()

    def resume(self, kind: str) -> None:
        job = self._jobs.get(kind)
        if job is not None:
            job.resume()
            self.jobsChanged.emit()

    def step(self, kind: str, count: int = 1) -> None:
        job = self._jobs.get(kind)
        if job is not None:
            job.step(count)
            self.jobsChanged.emit()

    # -- queries ----------------------------------------------------------------------------------------
    def job(self, kind: str) -> Job | None:
        return self._jobs.get(kind)

    def is_running(self, kind: str) -> bool:
        return kind in self._jobs

    def is_paused(self, kind: str) -> bool:
        job = self._jobs.get(kind)
        return job is not None and job.paused

    def active(self) -> list[JobInfo]:
        return [job.info() for job in self._jobs.values()]

    @property
    def closed(self) -> bool:
        return self._closed

    def idle(self) -> bool:
        """No live job and no worker thread still finishing."""
        return not self._jobs and all(j.finished.is_set() for j in self._retired)

    # -- GUI-thread delivery ----------------------------------------------------------------------------
    def _poll(self) -> None:
        with LANE.gui_busy():  # the result handlers run without the workers competing for the interpreter
            emitted = self._deliver()
        if emitted:
            mark_gui_busy_until_settled()  # ... and the repaints they caused

    def _deliver(self) -> bool:
        """Emit what the workers left in their mailboxes; True if any progress, result or job change went out."""
        changed = emitted = False
        for kind, job in list(self._jobs.items()):
            done = job.finished.is_set()  # read first: every progress was written before `finished` was set
            p = job.take_progress()
            if p is not None:
                self.progress.emit(kind, p)
                emitted = True
            if not done or self._jobs.get(kind) is not job:  # a progress slot may have replaced the job
                continue
            del self._jobs[kind]
            changed = True
            if job.thread is not None:
                job.thread.join()
            if job.cancelled:
                continue
            if job.error is not None:
                self.failed.emit(kind, f"{job.label} failed: {job.error}")
            elif job.revision == self.current_revision():
                self.resultReady.emit(kind, job.revision, job.result)
        still = []
        for job in self._retired:
            if job.finished.is_set():
                if job.thread is not None:
                    job.thread.join()
            else:
                still.append(job)
        self._retired = still
        if changed:
            self.jobsChanged.emit()
        if not self._jobs and not self._retired:
            self._timer.stop()
        return emitted or changed

    def flush(self) -> None:
        """Deliver whatever is ready now (tests and the screenshot driver call this)."""
        self._poll()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel every job and join every worker thread; True if all stopped within ``timeout`` seconds."""
        self._closed = True
        self._timer.stop()
        jobs = list(self._jobs.values()) + self._retired
        self._jobs.clear()
        self._retired = []
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + timeout
        ok = True
        for job in jobs:
            if job.thread is not None:
                job.thread.join(max(0.0, deadline - time.monotonic()))
                ok = ok and not job.thread.is_alive()
        return ok


def user_message(exc: BaseException) -> str:
    """The text a user sees for a failed job: the message of a ValueError (core's errors name the problem and
    the fix); for anything else, what failed in words and where the details are — never a class name."""
    text = str(exc).strip()
    if isinstance(exc, ValueError) and text:
        return text
    if isinstance(exc, MemoryError):
        return (
            "Out of memory: the problem is too large for this machine; use fewer points or a smaller model."
        )
    if isinstance(exc, (FloatingPointError, OverflowError, ZeroDivisionError)):
        return f"The computation produced non-finite numbers ({text or 'overflow'}); lower the learning rate or add damping."
    return f"An internal error stopped this computation ({text or 'no message'}); this is a bug, please report it."
