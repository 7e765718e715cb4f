"""The controller: turns state edits and user intents into jobs, and job results into state.

It owns the :class:`gui.jobs.JobRunner` and knows each job kind:

- ``"fit"`` — train the session's model from θ_0 (then polish to θ̂ when "train to convergence" is on).
  Any edit of the points or settings restarts it (debounced by :data:`RETRAIN_DELAY_MS`, so a drag does not
  start a run per mouse move); its live snapshots go to ``liveFit`` and its final :class:`FitRecord` into the
  state (only if it was computed for the current revision). Opening a session with trained parameters runs
  the same kind as a *restore* (no training: loss, gradient norm and curves of the stored θ̂).
- The deletion analysis of the analysed point j (``LabState.analysis_target``; set by deleting a point), all
  against the *base* model — the current points with w_j = 1 (:mod:`gui.analysis`):
  ``"base"`` trains the base model when no finished fit of that problem is cached (deleting a point after
  training finds it in the cache; the base of an analysis without deletion is the current fit);
  ``"epspath"`` (continuation + cold path), ``"estimates"`` (every estimate and the error decomposition at
  the damping λ; a λ change re-runs only this kind, debounced) and ``"homotopy"`` (θ(t, ε)).
  A new target, an edit or a new λ cancels the running analysis jobs of that kind and starts new ones
  (debounced by :data:`ANALYSIS_DELAY_MS`); results carry an :class:`gui.analysis.AnalysisKey` and are
  dropped unless it is still the current one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from core.limits import problem_size_error
from core.problem import deletion_error
from gui.analysis import (
    AnalysisKey,
    AnalysisResults,
    EpsPathRecord,
    EstimatesRecord,
    HomotopyRecord,
    base_fit_task,
    base_problem,
    epspath_task,
    estimates_task,
    homotopy_task,
    problem_fingerprint,
    restore_fit_task,
)
from gui.jobs import JobRunner
from gui.state import FitRecord, LabState
from gui.tasks import LiveFit, fit_task

FIT = "fit"
BASE = "base"
EPSPATH = "epspath"
ESTIMATES = "estimates"
HOMOTOPY = "homotopy"
ANALYSIS_KINDS = (BASE, EPSPATH, ESTIMATES, HOMOTOPY)
#: Which job computes first when several are live (gui.jobs.ComputeLane): the base model the others wait for,
#: then what the user looks at first after a deletion (the estimates over the fit), then the retraining of the
#: current model, the ε-path and the homotopy.
PRIORITY = {BASE: 0, ESTIMATES: 1, FIT: 2, EPSPATH: 3, HOMOTOPY: 4}
RETRAIN_DELAY_MS = 120
#: Debounce of the analysis after an edit / a new target, and of the estimates after a damping change.
ANALYSIS_DELAY_MS = 60
DAMPING_DELAY_MS = 150


class Controller(QObject):
    #: a running training job's latest snapshot (gui.tasks.LiveFit), at most ~30 per second
    liveFit = Signal(object)
    #: an error for the user (title, message)
    errorOccurred = Signal(str, str)
    #: training started / paused / finished / cancelled (the training panel updates its buttons)
    trainingStateChanged = Signal()
    #: an analysis kind finished (kind, seconds from the analysis request to the result)
    analysisTimed = Signal(str, float)

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
        self._analysis_timer = QTimer(self)
        self._analysis_timer.setSingleShot(True)
        self._analysis_timer.setInterval(ANALYSIS_DELAY_MS)
        self._analysis_timer.timeout.connect(self._start_analysis)
        self._damping_timer = QTimer(self)
        self._damping_timer.setSingleShot(True)
        self._damping_timer.setInterval(DAMPING_DELAY_MS)
        self._damping_timer.timeout.connect(self._restart_estimates)
        #: (key, base problem) of the analysis waiting for its base fit, or None
        self._pending_base: tuple[AnalysisKey, object] | None = None
        self._analysis_started: dict[str, float] = {}
        #: seconds from the last analysis request to each kind's result (status bar, tests, benchmarks)
        self.timings: dict[str, float] = {}
        state.pointsChanged.connect(self._on_edit)
        state.modelChanged.connect(self._on_edit)
        state.revisionChanged.connect(self._schedule_analysis)
        state.analysisTargetChanged.connect(self._on_target_changed)
        state.dampingChanged.connect(self._on_damping_changed)
        state.fitChanged.connect(self._on_fit_for_base)
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
        too_big = problem_size_error(problem, "train")
        if (
            too_big is not None
        ):  # refuse with the limit's message instead of running out of memory in a worker
            self.errorOccurred.emit("Model or data too large", too_big)
            return
        fp = problem_fingerprint(problem, settings)
        self.runner.submit(
            FIT,
            lambda: fit_task(problem, revision, settings, fp),
            revision,
            label="Training " + settings.model_text(),
            paused=paused,
            priority=PRIORITY[FIT],
        )

    def restore_fit(self, theta0, theta_s, theta_hat) -> None:
        """Use trained parameters from a session file instead of training (loss, ‖∇L‖, curves in a worker)."""
        self._retrain_timer.stop()
        state = self.state
        problem = state.problem()
        revision = state.revision
        settings = state.settings
        fp = problem_fingerprint(problem, settings)
        self.runner.submit(
            FIT,
            lambda: restore_fit_task(problem, revision, settings, fp, theta0, theta_s, theta_hat),
            revision,
            label="Restoring the session's model",
            priority=PRIORITY[FIT],
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
        self._analysis_timer.stop()
        self._damping_timer.stop()
        self._pending_base = None
        self.runner.cancel_all()

    def is_training(self) -> bool:
        return self.runner.is_running(FIT)

    def is_paused(self) -> bool:
        return self.runner.is_paused(FIT)

    def idle(self) -> bool:
        return (
            not self._retrain_timer.isActive()
            and not self._analysis_timer.isActive()
            and not self._damping_timer.isActive()
            and self._pending_base is None
            and self.runner.idle()
        )

    def analysis_busy(self) -> bool:
        """An analysis is scheduled, waiting for its base model or running."""
        return (
            self._analysis_timer.isActive()
            or self._damping_timer.isActive()
            or self._pending_base is not None
            or any(self.runner.is_running(k) for k in ANALYSIS_KINDS)
        )

    def shutdown(self) -> bool:
        self._retrain_timer.stop()
        self._analysis_timer.stop()
        self._damping_timer.stop()
        self._pending_base = None
        return self.runner.shutdown()

    # -- the deletion analysis ---------------------------------------------------------------------------
    def _on_target_changed(self, j) -> None:
        self._cancel_analysis()
        if j is None:
            self.state.set_analysis(None, "clear")
            return
        self.state.set_analysis(None, "clear")  # another point: nothing of the old analysis applies
        self._schedule_analysis()

    def _schedule_analysis(self, *_) -> None:
        if self.state.analysis_target is None or self.runner.closed:
            return
        if self.state.analysis is not None and not self.state.analysis.stale:
            self.state.analysis.stale = True
            self.state.analysisChanged.emit("stale")
        self._analysis_started = {k: _now() for k in (EPSPATH, ESTIMATES, HOMOTOPY)}
        self._analysis_timer.start()

    def _cancel_analysis(self) -> None:
        self._analysis_timer.stop()
        self._damping_timer.stop()
        self._pending_base = None
        for kind in ANALYSIS_KINDS:
            self.runner.cancel(kind, notify=False)
        self.runner.jobsChanged.emit()

    def current_key(self) -> AnalysisKey | None:
        j = self.state.analysis_target
        if j is None:
            return None
        problem = base_problem(self.state.problem(), j)
        return AnalysisKey(j, self.state.revision, problem_fingerprint(problem, self.state.settings))

    def _start_analysis(self) -> None:
        """Start (or restart) the analysis of the current target: homotopy at once, the ε-path and the
        estimates as soon as the base model is known."""
        state = self.state
        j = state.analysis_target
        if j is None or self.runner.closed:
            return
        for kind in ANALYSIS_KINDS:
            self.runner.cancel(kind, notify=False)
        settings = state.settings
        problem = base_problem(state.problem(), j)
        too_big = problem_size_error(problem, "analyze") or deletion_error(problem, j)
        if too_big is not None:
            self.errorOccurred.emit("Deletion analysis refused", too_big)
            return
        fp = problem_fingerprint(problem, settings)
        key = AnalysisKey(j, state.revision, fp)
        old = state.analysis
        results = AnalysisResults(key)
        if old is not None and old.key.j == j:
            # keep drawing the previous results (marked stale) until the new ones arrive
            results = AnalysisResults(key, old.base, old.epspath, old.estimates, old.homotopy, stale=True)
        state.analysis = results
        theta0 = problem.theta0()
        self.runner.submit(
            HOMOTOPY,
            lambda: homotopy_task(problem, theta0, key),
            state.revision,
            label=f"Homotopy θ(t, ε) for point {j}",
            priority=PRIORITY[HOMOTOPY],
        )
        base = state.cached_fit(fp)
        if base is not None:
            self._start_with_base(key, problem, base)
            return
        self._pending_base = (key, problem)
        current = state.problem()
        waiting_for_fit = problem_fingerprint(current, settings) == fp and (
            self.runner.is_running(FIT) and not self.runner.is_paused(FIT) or self._retrain_timer.isActive()
        )
        if not waiting_for_fit:
            self.runner.submit(
                BASE,
                lambda: base_fit_task(problem, settings, fp, j),
                state.revision,
                label=f"Training the model with point {j} (base of the analysis)",
                priority=PRIORITY[BASE],
            )
        self.runner.jobsChanged.emit()

    def _on_fit_for_base(self) -> None:
        fit = self.state.fit
        if fit is not None and self._pending_base is not None:
            key, problem = self._pending_base
            if fit.fingerprint == key.base:
                self.runner.cancel(BASE)
                self._start_with_base(key, problem, fit)

    def _start_with_base(self, key: AnalysisKey, problem, base: FitRecord) -> None:
        state = self.state
        self._pending_base = None
        if state.analysis is None or state.analysis.key != key:
            return
        state.analysis.base = base
        if base.extra.get("diverged"):
            # every estimate of a diverged model is meaningless: say why instead of computing them
            self.runner.cancel(HOMOTOPY, notify=False)
            lr = base.extra.get("suggested_lr")
            why = (
                f"not analysed: the model trained with point {key.j} diverged (η = {base.settings.lr:g})"
                + (f"; try η = {lr:g}" if lr else "; lower the learning rate")
            )
            a = state.analysis
            a.epspath = a.estimates = a.homotopy = None
            a.stale = False
            for kind in ("epspath", "estimates", "homotopy"):
                a.errors[kind] = why
            state.analysisChanged.emit("errors")
            return
        state.analysisChanged.emit("base")
        self.runner.submit(
            EPSPATH,
            lambda: epspath_task(problem, base, key),
            key.revision,
            label=f"ε-path of point {key.j}",
            priority=PRIORITY[EPSPATH],
        )
        self._submit_estimates(key, problem, base)

    def _submit_estimates(self, key: AnalysisKey, problem, base: FitRecord) -> None:
        damping = self.state.damping
        self.runner.submit(
            ESTIMATES,
            lambda: estimates_task(problem, base, key, damping),
            key.revision,
            label=f"Deletion estimates for point {key.j} (λ = {damping:.3g})",
            priority=PRIORITY[ESTIMATES],
        )

    def _on_damping_changed(self, *_) -> None:
        a = self.state.analysis
        if a is not None and not self.runner.closed:
            self._damping_timer.start()

    def _restart_estimates(self) -> None:
        a = self.state.analysis
        if a is None or a.base is None or self.runner.closed or a.key != self.current_key():
            return  # the full analysis (scheduled or running) will use the new damping
        self._analysis_started[ESTIMATES] = _now()
        problem = base_problem(self.state.problem(), a.key.j)
        self._submit_estimates(a.key, problem, a.base)

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
        state = self.state
        if kind == FIT and isinstance(result, FitRecord):
            state.set_fit(result)
            return
        if kind == BASE and isinstance(result, FitRecord):
            state.remember_fit(result)
            if self._pending_base is not None and self._pending_base[0].base == result.fingerprint:
                key, problem = self._pending_base
                self._start_with_base(key, problem, result)
            return
        a = state.analysis
        records = {EPSPATH: EpsPathRecord, ESTIMATES: EstimatesRecord, HOMOTOPY: HomotopyRecord}
        if kind not in records or not isinstance(result, records[kind]):
            return
        if a is None or result.key != a.key:
            return  # computed for another point, other points or settings: stale
        if kind == ESTIMATES and result.damping != state.damping:
            return
        if a.stale:
            # the first new result replaces the previous analysis' leftovers
            a.epspath = a.estimates = a.homotopy = None
            a.stale = False
            a.errors.clear()
        setattr(a, kind, result)
        a.errors.pop(kind, None)
        started = self._analysis_started.get(kind)
        if started is not None:
            self.timings[kind] = _now() - started
            self.analysisTimed.emit(kind, self.timings[kind])
        state.analysisChanged.emit(kind)

    def _on_failed(self, kind: str, message: str) -> None:
        a = self.state.analysis
        if kind == FIT and self._pending_base is not None and not self.runner.is_running(BASE):
            # the analysis was waiting for this fit as its base model
            kind = BASE
        if kind in ANALYSIS_KINDS and a is not None:
            if kind == BASE:
                self._pending_base = None
                for k in (EPSPATH, ESTIMATES):
                    a.errors[k] = message
            else:
                a.errors[kind] = message
            self.state.analysisChanged.emit("errors")
        self.errorOccurred.emit("Computation failed", message)


def _now() -> float:
    import time

    return time.perf_counter()
