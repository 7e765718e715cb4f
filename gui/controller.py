"""The controller: turns state edits and user intents into jobs, and job results into state.

It owns the :class:`gui.jobs.JobRunner` and knows each job kind:

- ``"fit"`` — train the session's model from θ_0 (then polish to θ̂ when "train to convergence" is on).
  Any edit of the points or settings restarts it (debounced by :data:`RETRAIN_DELAY_MS`, so a drag does not
  start a run per mouse move); its live snapshots go to ``liveFit`` and its final :class:`FitRecord` into the
  state (only if it was computed for the current revision).

Later kinds (deletion estimates, ε-path, homotopy, error decomposition) hang off ``LabState.fitChanged`` and
``selectionChanged`` the same way: submit a task from :mod:`gui.tasks` under their own kind, draw its
``progress`` partials, store its result.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from gui.jobs import JobRunner
from gui.state import FitRecord, LabState
from gui.tasks import LiveFit, fit_task

FIT = "fit"
RETRAIN_DELAY_MS = 120


class Controller(QObject):
    #: a running training job's latest snapshot (gui.tasks.LiveFit), at most ~30 per second
    liveFit = Signal(object)
    #: an error for the user (title, message)
    errorOccurred = Signal(str, str)
    #: training started / paused / finished / cancelled (the training panel updates its buttons)
    trainingStateChanged = Signal()

    def __init__(self, state: LabState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.runner = JobRunner(lambda: state.revision, self)
        self.auto_retrain = True
        self.last_live: LiveFit | None = None
        self._retrain_timer = QTimer(self)
        self._retrain_timer.setSingleShot(True)
        self._retrain_timer.setInterval(RETRAIN_DELAY_MS)
        self._retrain_timer.timeout.connect(self._retrain_now)
        state.pointsChanged.connect(self._on_edit)
        state.modelChanged.connect(self._on_edit)
        self.runner.progress.connect(self._on_progress)
        self.runner.resultReady.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.jobsChanged.connect(self.trainingStateChanged)

    # -- training intents --------------------------------------------------------------------------------
    def train(self, paused: bool = False) -> None:
        """(Re)start training from θ_0 on the current session."""
        self._retrain_timer.stop()
        state = self.state
        problem = state.problem()
        revision = state.revision
        settings = state.settings
        self.runner.submit(
            FIT,
            lambda: fit_task(problem, revision, settings),
            revision,
            label="Training " + settings.model_text(),
            paused=paused,
        )

    def start(self) -> None:
        """Start: resume a paused run, else train from θ_0."""
        if self.runner.is_paused(FIT):
            self.runner.resume(FIT)
        elif not self.runner.is_running(FIT):
            self.train()

    def pause(self) -> None:
        self.runner.pause(FIT)

    def step(self) -> None:
        """One chunk of training steps while paused (starts a paused run at θ_0 first if none is live)."""
        if self.runner.is_running(FIT):
            if not self.runner.is_paused(FIT):
                self.runner.pause(FIT)
            self.runner.step(FIT)
        else:
            self.train(paused=True)
            self.runner.step(FIT)

    def reset(self) -> None:
        """Back to θ_0: cancel the run, forget the fit, and wait paused at step 0 (Start or Step continues)."""
        self.state.set_fit(None)
        self.train(paused=True)

    def cancel_all(self) -> None:
        self._retrain_timer.stop()
        self.runner.cancel_all()

    def is_training(self) -> bool:
        return self.runner.is_running(FIT)

    def is_paused(self) -> bool:
        return self.runner.is_paused(FIT)

    def idle(self) -> bool:
        return not self._retrain_timer.isActive() and self.runner.idle()

    def shutdown(self) -> bool:
        self._retrain_timer.stop()
        return self.runner.shutdown()

    # -- plumbing ----------------------------------------------------------------------------------------
    def _on_edit(self) -> None:
        if self.auto_retrain and not self.runner.closed:
            self._retrain_timer.start()

    def _retrain_now(self) -> None:
        if self.runner.closed:
            return
        # a user who paused keeps control: the restarted run waits at step 0 too
        self.train(paused=self.runner.is_paused(FIT))

    def _on_progress(self, kind: str, progress) -> None:
        if kind == FIT and isinstance(progress.partial, LiveFit):
            self.last_live = progress.partial
            self.liveFit.emit(progress.partial)

    def _on_result(self, kind: str, revision: int, result) -> None:
        if kind == FIT and isinstance(result, FitRecord):
            self.state.set_fit(result)

    def _on_failed(self, kind: str, message: str) -> None:
        self.errorOccurred.emit("Computation failed", message)
