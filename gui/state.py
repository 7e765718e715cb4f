"""The one state object of the window: the session being edited, the latest fit, the selection, undo.

:class:`LabState` holds

- the points (a :class:`core.points.dataset.Dataset`, replaced — never mutated in place — on every edit),
- the model and training settings (:class:`Settings`, frozen),
- the latest fit (:class:`FitRecord`: θ_0, θ^s, θ̂, loss history, the curve on a display grid) and the
  revision it was computed for,
- the selected point (or None),
- the *analysed* point j (``analysis_target``: set by deleting a point — undo restores the previous one — by
  selecting a deleted point, or by :meth:`LabState.analyse`), the damping λ of its estimates, and the analysis
  results (``analysis``: :class:`gui.analysis.AnalysisResults`, filled by the controller's jobs),
- a small cache of finished fits by problem fingerprint (deleting a point finds the model trained with it),
- a revision counter, bumped by every edit of points or settings; jobs are tagged with it and stale results
  dropped.

Every edit goes through a QUndoStack (:meth:`LabState.undo_stack`) as a command, so Ctrl+Z / Ctrl+Shift+Z undo
and redo adding, moving, deleting (weight 0 — the point stays, drawn hollow), restoring and re-weighting points,
loading a dataset and changing settings. Signals are fine-grained: ``pointsChanged``, ``modelChanged``
(model or training settings), ``fitChanged``, ``selectionChanged``, ``revisionChanged``, ``analysisTargetChanged``,
``dampingChanged``, ``analysisChanged``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.model import LinearFeatures, MLPSpec, Model
from core.points.dataset import Dataset
from core.problem import (
    DEFAULT_DAMPING,
    DEFAULT_WEIGHT_DECAY_LINEAR,
    DEFAULT_WEIGHT_DECAY_MLP,
    Problem,
    make_model,
)
from core.train import TrainConfig
from gui import dataset_ops

# ------------------------------------------------------------------------------------------------------
# settings
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Model and training settings: everything of a Problem except the points."""

    model_kind: str = "mlp"  # "mlp" | "linear"
    hidden: tuple[int, ...] = (3,)
    activation: str = "tanh"
    degree: int = 1
    init_seed: int = 0
    optimizer: str = "gd"
    lr: float = 0.1
    steps: int = 2000
    weight_decay: float = DEFAULT_WEIGHT_DECAY_MLP
    batch_size: int | None = None
    converge: bool = True

    def model(self) -> Model:
        return make_model(self.model_kind, self.hidden, self.activation, self.degree)

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            optimizer=self.optimizer,
            lr=self.lr,
            steps=self.steps,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size if self.optimizer == "sgd" else None,
            seed=self.init_seed,
        )

    def validate(self) -> None:
        """Raise ValueError with a user-readable message if these settings cannot be trained."""
        self.model()
        self.train_config().validate()

    def model_text(self) -> str:
        if self.model_kind == "linear":
            return f"linear, degree {self.degree}"
        return "1 → " + " → ".join(str(h) for h in self.hidden) + f" → 1, {self.activation}"

    @classmethod
    def from_problem(cls, problem: Problem) -> Settings:
        m = problem.model
        c = problem.config
        common = dict(
            init_seed=problem.init_seed,
            optimizer=c.optimizer,
            lr=c.lr,
            steps=c.steps,
            weight_decay=c.weight_decay,
            batch_size=c.batch_size,
            converge=problem.converge,
        )
        if isinstance(m, LinearFeatures):
            return cls(model_kind="linear", degree=m.degree, activation="identity", **common)
        if isinstance(m, MLPSpec):
            return cls(model_kind="mlp", hidden=tuple(m.hidden), activation=m.activation, **common)
        raise TypeError(f"unsupported model {m!r}")


# ------------------------------------------------------------------------------------------------------
# the fit
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitRecord:
    """A finished fit and what the views draw from it (everything computed in the worker)."""

    revision: int
    settings: Settings
    model: Model
    theta0: np.ndarray
    theta_s: np.ndarray
    theta_hat: np.ndarray
    loss: float  # L_w(θ̂)
    grad_norm: float  # ‖∇L_w(θ̂)‖
    converged: bool
    message: str
    history_steps: np.ndarray  # training steps at which the loss was recorded
    history_loss: np.ndarray  # L_w(θ_k) at those steps
    grid: np.ndarray  # dense display grid of x
    curve: np.ndarray  # f(θ̂; grid)
    fitted: np.ndarray  # f(θ̂; x_i) at the data points (residuals for the hover text)
    min_eigenvalues: np.ndarray | None = None  # smallest Hessian eigenvalues after the polish
    extra: dict = field(default_factory=dict)
    #: gui.analysis.problem_fingerprint of the problem this fit belongs to ("" if unknown)
    fingerprint: str = ""


# ------------------------------------------------------------------------------------------------------
# the state object
# ------------------------------------------------------------------------------------------------------


#: How many finished fits (keyed by problem fingerprint) are kept, so that deleting a point finds the model
#: trained with it at once.
FIT_CACHE_SIZE = 8


#: The model and training settings each built-in dataset is meant for (New from preset applies them): the MLP
#: of the notes for the curved ones and for the outliers (the Attribution example), plain OLS for the line.
PRESET_SETTINGS: dict[str, Settings] = {
    "teacher": Settings(),
    "sine": Settings(),
    "outliers": Settings(),
    "linear": Settings(model_kind="linear", degree=1, weight_decay=DEFAULT_WEIGHT_DECAY_LINEAR),
}


def describe_settings(s: Settings) -> str:
    """One line for the status bar: the model and the training settings."""
    if s.model_kind == "linear":
        model = f"linear model of degree {s.degree}"
    else:
        model = f"MLP {'→'.join(str(h) for h in (1, *s.hidden, 1))} {s.activation}"
    return f"{model}, η = {s.lr:g}, T = {s.steps}, κ = {s.weight_decay:g}"


class LabState(QObject):
    pointsChanged = Signal()
    modelChanged = Signal()
    fitChanged = Signal()
    selectionChanged = Signal(object)  # int or None
    revisionChanged = Signal(int)
    #: the analysed point j changed (int or None): deleting a point analyses its deletion
    analysisTargetChanged = Signal(object)
    #: the damping λ of the deletion estimates changed
    dampingChanged = Signal(float)
    #: analysis results arrived or were cleared; the argument names the part
    #: ("epspath", "estimates", "homotopy", "base", "errors", "stale" or "clear")
    analysisChanged = Signal(str)

    def __init__(self, problem: Problem, parent: QObject | None = None):
        super().__init__(parent)
        self._data: Dataset = problem.data.copy()
        self._settings = Settings.from_problem(problem)
        self._fit: FitRecord | None = None
        self._selection: int | None = None
        self._target: int | None = None
        self._damping = DEFAULT_DAMPING
        self._revision = 0
        self._fit_cache: OrderedDict[str, FitRecord] = OrderedDict()
        #: the deletion analysis shown (gui.analysis.AnalysisResults) or None
        self.analysis = None
        self.undo_stack = QUndoStack(self)

    # -- reading -----------------------------------------------------------------------------------------
    @property
    def data(self) -> Dataset:
        """The current points (treat as read-only; edit through the methods below)."""
        return self._data

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def fit(self) -> FitRecord | None:
        return self._fit

    @property
    def selection(self) -> int | None:
        return self._selection

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def analysis_target(self) -> int | None:
        """The point whose deletion is analysed (set by deleting it, or by :meth:`analyse`)."""
        return self._target

    @property
    def damping(self) -> float:
        return self._damping

    def fit_is_current(self) -> bool:
        return self._fit is not None and self._fit.revision == self._revision

    def problem(self) -> Problem:
        """An independent snapshot of the session as a core Problem (safe to hand to a worker)."""
        s = self._settings
        return Problem(
            data=self._data.copy(),
            model=s.model(),
            config=s.train_config(),
            init_seed=s.init_seed,
            converge=s.converge,
        )

    # -- user edits (undoable) ---------------------------------------------------------------------------
    def add_point(self, x: float, y: float) -> int:
        self.undo_stack.push(_AddPoint(self, float(x), float(y)))
        return self._data.n - 1

    def add_points(self, xs, ys, text: str) -> None:
        """Add many points as one undo step (a brush stroke)."""
        self.undo_stack.beginMacro(text)
        try:
            for x, y in zip(np.asarray(xs, float), np.asarray(ys, float), strict=True):
                self.undo_stack.push(_AddPoint(self, float(x), float(y)))
        finally:
            self.undo_stack.endMacro()

    def set_weights(self, indices, w: float, text: str) -> None:
        """Set the weight of many points as one undo step (a lasso)."""
        w = float(w)
        if not (0.0 <= w <= 1.0):
            raise ValueError(f"a weight must lie in [0, 1], got {w:g}")
        self.undo_stack.beginMacro(text)
        try:
            for i in indices:
                self._check_index(int(i))
                if self._data.weight[int(i)] != w:
                    self.undo_stack.push(_SetWeight(self, int(i), w, text))
        finally:
            self.undo_stack.endMacro()

    def move_point(self, i: int, x: float, y: float, drag_id: int | None = None) -> None:
        """Move point i; consecutive moves with the same ``drag_id`` merge into one undo step."""
        self._check_index(i)
        self.undo_stack.push(_MovePoint(self, i, float(x), float(y), drag_id))

    def delete_point(self, i: int) -> None:
        """Delete point i: weight 0, it stays in the data (drawn hollow) and can be restored. The deletion of i
        becomes the analysed one (undo restores the point and the previous analysis)."""
        self._check_index(i)
        if self._data.weight[i] != 0.0:
            self.undo_stack.push(_SetWeight(self, i, 0.0, f"Delete point {i}", target=i))
        else:
            self.analyse(i)

    def restore_point(self, i: int) -> None:
        self._check_index(i)
        if self._data.weight[i] != 1.0:
            self.undo_stack.push(_SetWeight(self, i, 1.0, f"Restore point {i}"))

    def set_weight(self, i: int, w: float) -> None:
        self._check_index(i)
        w = float(w)
        if not (0.0 <= w <= 1.0):
            raise ValueError(f"a weight must lie in [0, 1], got {w:g}")
        if self._data.weight[i] != w:
            self.undo_stack.push(_SetWeight(self, i, w, f"Set weight of point {i} to {w:g}"))

    def set_settings(self, settings: Settings) -> None:
        settings.validate()
        if settings != self._settings:
            self.undo_stack.push(_SetSettings(self, settings))

    def set_dataset(self, data: Dataset, text: str = "Replace points") -> None:
        self.undo_stack.push(_SetDataset(self, data.copy(), text))

    def set_dataset_and_settings(self, data: Dataset, settings: Settings, text: str) -> None:
        """New points with their own model and training settings, as one undo step."""
        settings.validate()
        self.undo_stack.beginMacro(text)
        try:
            self.set_dataset(data, text)
            self.set_settings(settings)
        finally:
            self.undo_stack.endMacro()

    # -- not undoable ------------------------------------------------------------------------------------
    def select(self, i: int | None) -> None:
        """Select point i (None clears). Selecting a deleted point (weight 0) analyses its deletion."""
        if i is not None:
            self._check_index(i)
        if i != self._selection:
            self._selection = i
            self.selectionChanged.emit(i)
        if i is not None and self._data.weight[i] == 0.0:
            self.analyse(i)

    def analyse(self, i: int | None) -> None:
        """Analyse the deletion of point i (None: no analysis) without changing the points."""
        if i is not None:
            self._check_index(i)
        if i != self._target:
            self._target = i
            self.analysisTargetChanged.emit(i)

    def set_damping(self, damping: float) -> None:
        damping = float(damping)
        if not (np.isfinite(damping) and damping > 0):
            raise ValueError(f"the damping λ must be a positive number, got {damping:g}")
        if damping != self._damping:
            self._damping = damping
            self.dampingChanged.emit(damping)

    def set_analysis(self, analysis, part: str) -> None:
        """Install analysis results (gui.analysis.AnalysisResults or None) and say which part changed."""
        self.analysis = analysis
        self.analysisChanged.emit(part)

    # -- fits by problem ---------------------------------------------------------------------------------
    def remember_fit(self, fit: FitRecord) -> None:
        if not fit.fingerprint:
            return
        self._fit_cache[fit.fingerprint] = fit
        self._fit_cache.move_to_end(fit.fingerprint)
        while len(self._fit_cache) > FIT_CACHE_SIZE:
            self._fit_cache.popitem(last=False)

    def cached_fit(self, fingerprint: str) -> FitRecord | None:
        return self._fit_cache.get(fingerprint)

    # -- whole sessions ----------------------------------------------------------------------------------
    def replace_session(
        self,
        data: Dataset,
        settings: Settings,
        selection: int | None = None,
        target: int | None = None,
        damping: float | None = None,
    ) -> None:
        """Replace points and settings at once (File → Open session): a new document, so the undo history is
        cleared; one revision bump, then pointsChanged and modelChanged."""
        settings.validate()
        self.undo_stack.clear()
        self._fit = None
        self._selection = None
        self._target = None
        self._data = data.copy()
        self._settings = settings
        if damping is not None:
            self._damping = float(damping)
            self.dampingChanged.emit(self._damping)
        self._bump()
        self.pointsChanged.emit()
        self.modelChanged.emit()
        self.fitChanged.emit()
        self.selectionChanged.emit(None)
        self.analysisTargetChanged.emit(None)
        if selection is not None and 0 <= selection < data.n:
            self.select(selection)
        if target is not None and 0 <= target < data.n:
            self.analyse(target)

    def set_fit(self, fit: FitRecord | None) -> None:
        self._fit = fit
        if fit is not None:
            self.remember_fit(fit)
        self.fitChanged.emit()

    # -- low level (used by the undo commands) -----------------------------------------------------------
    def _check_index(self, i: int) -> None:
        if not (0 <= i < self._data.n):
            raise IndexError(f"point {i} does not exist (there are {self._data.n} points)")

    def _bump(self) -> None:
        self._revision += 1
        self.revisionChanged.emit(self._revision)

    def _replace_data(self, data: Dataset) -> None:
        self._data = data
        if self._selection is not None and self._selection >= data.n:
            self._selection = None
            self.selectionChanged.emit(None)
        if self._target is not None and self._target >= data.n:
            self._target = None
            self.analysisTargetChanged.emit(None)
        self._bump()
        self.pointsChanged.emit()

    def _replace_settings(self, settings: Settings) -> None:
        self._settings = settings
        self._bump()
        self.modelChanged.emit()


class _AddPoint(QUndoCommand):
    def __init__(self, state: LabState, x: float, y: float):
        super().__init__(f"Add point ({x:.3g}, {y:.3g})")
        self.state, self.x, self.y = state, x, y
        self.before = state.data

    def redo(self):
        self.state._replace_data(dataset_ops.with_point(self.before, self.x, self.y))
        self.state.select(self.state.data.n - 1)

    def undo(self):
        self.state._replace_data(self.before)


class _MovePoint(QUndoCommand):
    ID = 1001

    def __init__(self, state: LabState, i: int, x: float, y: float, drag_id: int | None):
        super().__init__(f"Move point {i}")
        self.state, self.i, self.x, self.y, self.drag_id = state, i, x, y, drag_id
        self.before = state.data

    def id(self) -> int:
        return self.ID if self.drag_id is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _MovePoint) or other.drag_id != self.drag_id or other.i != self.i:
            return False
        self.x, self.y = other.x, other.y
        return True

    def redo(self):
        self.state._replace_data(dataset_ops.with_moved(self.before, self.i, self.x, self.y))

    def undo(self):
        self.state._replace_data(self.before)


class _SetWeight(QUndoCommand):
    """Set one weight; with ``target`` (a deletion) also make that point the analysed one."""

    _KEEP = object()

    def __init__(self, state: LabState, i: int, w: float, text: str, target=_KEEP):
        super().__init__(text)
        self.state, self.i, self.w = state, i, w
        self.before = state.data
        self.target = target
        self.target_before = state.analysis_target

    def redo(self):
        self.state._replace_data(dataset_ops.with_weight(self.before, self.i, self.w))
        if self.target is not self._KEEP:
            self.state.analyse(self.target)

    def undo(self):
        self.state._replace_data(self.before)
        if self.target is not self._KEEP:
            self.state.analyse(self.target_before)


class _SetDataset(QUndoCommand):
    """New points: the selection and the analysed deletion belong to the old ones and go (undo brings them)."""

    def __init__(self, state: LabState, data: Dataset, text: str):
        super().__init__(text)
        self.state, self.after = state, data
        self.before = state.data
        self.selection_before = state.selection
        self.target_before = state.analysis_target

    def redo(self):
        self.state.select(None)
        self.state.analyse(None)
        self.state._replace_data(self.after)

    def undo(self):
        self.state._replace_data(self.before)
        if self.selection_before is not None and self.selection_before < self.before.n:
            self.state.select(self.selection_before)
        if self.target_before is not None and self.target_before < self.before.n:
            self.state.analyse(self.target_before)


class _SetSettings(QUndoCommand):
    def __init__(self, state: LabState, settings: Settings):
        super().__init__(_settings_change_text(state.settings, settings))
        self.state, self.after = state, settings
        self.before = state.settings

    def redo(self):
        self.state._replace_settings(self.after)

    def undo(self):
        self.state._replace_settings(self.before)


def _settings_change_text(a: Settings, b: Settings) -> str:
    changed = [f.name for f in a.__dataclass_fields__.values() if getattr(a, f.name) != getattr(b, f.name)]
    return "Change " + (", ".join(n.replace("_", " ") for n in changed) or "settings")
