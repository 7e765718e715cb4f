"""Background jobs: run a ``core`` progress generator in a worker thread, deliver its results in the GUI thread.

The contract (DESIGN.md, "workers that can be stopped"):

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
- :meth:`JobRunner.shutdown` cancels every job and joins every worker thread (the main window calls it from
  ``closeEvent``); :func:`live_threads` lists the worker threads still alive (the test suite's leak check).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.progress import Progress

#: Refresh rate of the GUI-side poll that turns worker mailboxes into signals (Hz).
FRAME_RATE = 30

_registry_lock = threading.Lock()
_live_threads: set[threading.Thread] = set()


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
    ):
        self.kind = kind
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
            gen = self.factory()
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    self.result = stop.value
                    break
                with self._lock:
                    self._latest = p
                    self._fresh = True
                self._checkpoint()
        except JobCancelled:
            self.cancelled = True
        except Exception as exc:  # every failure is reported to the user, never lost
            self.error = f"{type(exc).__name__}: {exc}"
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

    # -- requests ---------------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        factory: Callable[[], Generator[Progress, None, Any]],
        revision: int | None = None,
        label: str | None = None,
        paused: bool = False,
    ) -> Job:
        """Start ``factory()`` in a worker thread as the live job of ``kind`` (cancelling the previous one)."""
        if self._closed:
            raise RuntimeError("the job runner has been shut down")
        self.cancel(kind, notify=False)
        rev = self.current_revision() if revision is None else revision
        job = Job(kind, factory, rev, label or kind, paused=paused)
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
        changed = False
        for kind, job in list(self._jobs.items()):
            done = job.finished.is_set()  # read first: every progress was written before `finished` was set
            p = job.take_progress()
            if p is not None:
                self.progress.emit(kind, p)
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
