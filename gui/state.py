"""The one state object of the window: the session being edited, the latest fit, the selection, undo.

:class:`LabState` holds

- the points (a :class:`core.data.Dataset`, replaced — never mutated in place — on every edit),
- the model and training settings (:class:`Settings`, frozen),
- the latest fit (:class:`FitRecord`: θ_0, θ^s, θ̂, loss history, the curve on a display grid) and the
  revision it was computed for,
- the selected point (or None),
- a revision counter, bumped by every edit of points or settings; jobs are tagged with it and stale results
  dropped.

Every edit goes through a QUndoStack (:meth:`LabState.undo_stack`) as a command, so Ctrl+Z / Ctrl+Shift+Z undo
and redo adding, moving, deleting (weight 0 — the point stays, drawn hollow), restoring and re-weighting points,
loading a dataset and changing settings. Signals are fine-grained: ``pointsChanged``, ``modelChanged``
(model or training settings), ``fitChanged``, ``selectionChanged``, ``revisionChanged``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.data import Dataset
from core.model import LinearFeatures, MLPSpec, Model
from core.problem import DEFAULT_WEIGHT_DECAY_MLP, Problem, make_model
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


# ------------------------------------------------------------------------------------------------------
# the state object
# ------------------------------------------------------------------------------------------------------


class LabState(QObject):
    pointsChanged = Signal()
    modelChanged = Signal()
    fitChanged = Signal()
    selectionChanged = Signal(object)  # int or None
    revisionChanged = Signal(int)

    def __init__(self, problem: Problem, parent: QObject | None = None):
        super().__init__(parent)
        self._data: Dataset = problem.data.copy()
        self._settings = Settings.from_problem(problem)
        self._fit: FitRecord | None = None
        self._selection: int | None = None
        self._revision = 0
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

    def move_point(self, i: int, x: float, y: float, drag_id: int | None = None) -> None:
        """Move point i; consecutive moves with the same ``drag_id`` merge into one undo step."""
        self._check_index(i)
        self.undo_stack.push(_MovePoint(self, i, float(x), float(y), drag_id))

    def delete_point(self, i: int) -> None:
        """Delete point i: weight 0, it stays in the data (drawn hollow) and can be restored."""
        self._check_index(i)
        if self._data.weight[i] != 0.0:
            self.undo_stack.push(_SetWeight(self, i, 0.0, f"Delete point {i}"))

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

    # -- not undoable ------------------------------------------------------------------------------------
    def select(self, i: int | None) -> None:
        if i is not None:
            self._check_index(i)
        if i != self._selection:
            self._selection = i
            self.selectionChanged.emit(i)

    def set_fit(self, fit: FitRecord | None) -> None:
        self._fit = fit
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
    def __init__(self, state: LabState, i: int, w: float, text: str):
        super().__init__(text)
        self.state, self.i, self.w = state, i, w
        self.before = state.data

    def redo(self):
        self.state._replace_data(dataset_ops.with_weight(self.before, self.i, self.w))

    def undo(self):
        self.state._replace_data(self.before)


class _SetDataset(QUndoCommand):
    def __init__(self, state: LabState, data: Dataset, text: str):
        super().__init__(text)
        self.state, self.after = state, data
        self.before = state.data
        self.selection_before = state.selection

    def redo(self):
        self.state.select(None)
        self.state._replace_data(self.after)

    def undo(self):
        self.state._replace_data(self.before)
        if self.selection_before is not None and self.selection_before < self.before.n:
            self.state.select(self.selection_before)


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
