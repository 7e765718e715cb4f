"""Datasets for 1D regression: the ``Dataset`` value, built-in presets, and CSV / JSON points files.

Conventions (docs/science.md §1): a dataset is n points z_i = (x_i, y_i) of float64 numbers, each with a weight
w_i ∈ [0, 1] (default 1) that multiplies its loss in L_w, and optionally a text label. Duplicate x values
are allowed (the science does not need distinct x); ``duplicate_x_indices`` reports them.

Presets (``make_preset``, names in ``PRESETS``) are deterministic functions of (n, noise, seed) and record the
clean generating function as ``Dataset.teacher`` (a plain-JSON description, see ``Dataset``).

Files:
- CSV (read also as .tsv and .txt): a header line naming the columns, then one line per point. Columns ``x`` and
  ``y``, ``weight`` and ``label`` optional; any order; names are case-insensitive and surrounding spaces are
  ignored; other columns are ignored with a note. Blank and ``#`` comment lines are skipped; ``;``, tab, ``|``
  or white-space separators and decimal commas are recognised; a file of two numeric columns needs no header;
  the user can choose the columns (core.points.table). Line numbers in messages are 1-based and count every
  line of the file.
- JSON: ``{"format": "influence-lab-points", "version": 1, "x": [...], "y": [...], "weight": [...],
  "label": [...], "name": "...", "teacher": {...}, "corrupted": [...]}`` (only x and y required), or a bare list
  of points ``[{"x": 0.5, "y": 1.2, "weight": 1, "label": "a"}, ...]`` (weight and label optional).
- Both are UTF-8 (a byte-order mark is accepted). Saves are atomic (``core.atomic``); CSV keeps x, y, weight
  and label only, JSON keeps every field.

Errors: every loader raises ``DataError`` and nothing else for any file content or unreadable file; its message
names the file, the line where there is one, the problem and the fix.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import operator
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from core.atomic import atomic_write_text
from core.limits import MAX_POINTS, MIN_POINTS, SCALE_HIGH, SCALE_LOW
from core.model import ACTIVATIONS, MLPSpec

#: Files larger than this are refused before reading.
MAX_FILE_BYTES = 50 * 1024 * 1024
# MAX_POINTS: datasets with more points are refused (every analysis is at least O(n) models); MIN_POINTS: fewer
# points make no regression problem (and no leave-one-out). Both live in core.limits with the other limits.

JSON_FORMAT = "influence-lab-points"
JSON_VERSION = 1
CSV_COLUMNS = ("x", "y", "weight", "label")
_JSON_KEYS = ("format", "version", "x", "y", "weight", "label", "name", "teacher", "corrupted")


class DataError(ValueError):
    """Bad data: the one error type of every loader, validator and preset in this module.

    The message names the source (file name, with line and column where known), the problem and what to do,
    e.g. ``points.csv, line 4: y is 'abc', not a number. Fix the value or delete the line.``
    """


def _list_names(names: Sequence[Any], limit: int = 5) -> str:
    """'a', 'b', 'c' (and 7 more): the first few names for a message."""
    shown = ", ".join(_show(name) for name in names[:limit])
    return shown if len(names) <= limit else f"{shown} (and {len(names) - limit} more)"


def _fail(where: str, problem: str, fix: str) -> NoReturn:
    raise DataError(f"{where}: {problem}. {fix}")


def _show(value: Any, limit: int = 40) -> str:
    """A short printable form of a value for a message (never the whole of a huge string or list)."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit else repr(value[:limit]) + "…"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int) and abs(value) > 10**40:
        return "a huge integer"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= limit else text[:limit] + "…"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


# ----------------------------------------------------------------------------------------------------
# Teacher functions (the clean curve a preset was drawn from)

_MAX_WIDTH = 10_000  # widest teacher layer accepted

#: Named closed-form teachers: name → (parameter names, f(x, **params)).
_FUNCTIONS: dict[str, tuple[tuple[str, ...], Callable[..., np.ndarray]]] = {
    "sine": (("amplitude", "frequency"), lambda x, amplitude, frequency: amplitude * np.sin(frequency * x)),
    "linear": (("intercept", "slope"), lambda x, intercept, slope: intercept + slope * x),
}


def _normalise_teacher(teacher: Any, where: str) -> dict:
    """Check a teacher description and return it as a fresh dict of plain JSON types.

    ``{"kind": "mlp", "layers": [1, h.., 1], "activation": <tanh|relu|softplus|sigmoid|identity>, "theta": [...]}``
    or ``{"kind": "function", "name": <sine|linear>, <its parameters>: numbers}``
    or ``{"kind": "curve", "x": [increasing numbers], "y": [numbers]}`` (a sketched function, linear in between).
    """
    fix = "Fix or remove the teacher description."

    def bad(problem: str) -> NoReturn:
        _fail(where, f"teacher: {problem}", fix)

    if not isinstance(teacher, dict):
        bad(f"is {_show(teacher)}, not an object")
    kind = teacher.get("kind")
    if kind == "mlp":
        expected = {"kind", "layers", "activation", "theta"}
        layers = teacher.get("layers")
        if (
            not isinstance(layers, list)
            or len(layers) < 2
            or not all(_is_int(v) and 1 <= v <= _MAX_WIDTH for v in layers)
        ):
            bad(f'"layers" must be a list of at least two integers from 1 to {_MAX_WIDTH}')
        if layers[0] != 1 or layers[-1] != 1:
            bad('"layers" must start and end with 1 (one input, one output)')
        activation = teacher.get("activation")
        if activation not in ACTIVATIONS:
            bad(f'"activation" is {_show(activation)}; choose one of {", ".join(ACTIVATIONS)}')
        d = sum(o * i + o for i, o in zip(layers[:-1], layers[1:], strict=True))
        theta = teacher.get("theta")
        if not isinstance(theta, (list, tuple, np.ndarray)) or len(theta) != d:
            bad(f'"theta" must be a list of {d} numbers for layers {layers}')
        values = [_number(v, f'"theta" entry {i + 1}', where) for i, v in enumerate(theta)]
        result = {
            "kind": "mlp",
            "layers": [int(v) for v in layers],
            "activation": activation,
            "theta": values,
        }
    elif kind == "function":
        name = teacher.get("name")
        if name not in _FUNCTIONS:
            bad(f'"name" is {_show(name)}; choose one of {", ".join(_FUNCTIONS)}')
        params = _FUNCTIONS[name][0]
        expected = {"kind", "name", *params}
        missing = [p for p in params if p not in teacher]
        if missing:
            bad(f"{name} needs {', '.join(params)}; missing {', '.join(missing)}")
        result = {"kind": "function", "name": name, **{p: _number(teacher[p], p, where) for p in params}}
    elif kind == "curve":  # a sketched function (core.points.strokes), linear between its samples
        expected = {"kind", "x", "y"}
        cx, cy = teacher.get("x"), teacher.get("y")
        if not isinstance(cx, (list, tuple, np.ndarray)) or not isinstance(cy, (list, tuple, np.ndarray)):
            bad('"x" and "y" must be lists of numbers')
        if len(cx) != len(cy) or not 2 <= len(cx) <= MAX_POINTS:
            bad(f'"x" and "y" must have the same length, 2 to {MAX_POINTS}')
        xs = [_number(v, f'"x" entry {i + 1}', where) for i, v in enumerate(cx)]
        ys = [_number(v, f'"y" entry {i + 1}', where) for i, v in enumerate(cy)]
        if any(b <= a for a, b in zip(xs[:-1], xs[1:], strict=True)):
            bad('"x" must increase strictly')
        result = {"kind": "curve", "x": xs, "y": ys}
    else:
        bad(f'"kind" is {_show(kind)}; choose "mlp", "function" or "curve"')
    unknown = [k for k in teacher if k not in expected]
    if unknown:
        bad(f"unknown key(s) {_list_names(unknown)}")
    return result


def _teacher_function(teacher: dict) -> Callable[[np.ndarray], np.ndarray]:
    """The callable x ↦ f*(x) of a normalised teacher description."""
    if teacher["kind"] == "mlp":
        # the layout of docs/science.md §1, as core.model's MLP (the test suite checks both against torch)
        model = MLPSpec(hidden=tuple(teacher["layers"][1:-1]), activation=teacher["activation"])
        theta = np.asarray(teacher["theta"], dtype=np.float64)

        def mlp(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=np.float64)
            return model.predict(theta, x.reshape(-1))[0].reshape(x.shape)

        return mlp
    if teacher["kind"] == "curve":
        cx, cy = np.asarray(teacher["x"]), np.asarray(teacher["y"])
        return lambda x: np.interp(np.asarray(x, dtype=np.float64), cx, cy)
    params, fn = _FUNCTIONS[teacher["name"]]
    return lambda x: fn(x, **{p: teacher[p] for p in params})


# ----------------------------------------------------------------------------------------------------
# Dataset


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _number(value: Any, what: str, where: str) -> float:
    """A JSON value as a finite float; booleans, strings, null, lists are not numbers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(
            where,
            f"{what} is {_show(value)}, not a number",
            "Use plain numbers (no quotes, no true/false/null).",
        )
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        _fail(
            where,
            f"{what} is {_show(value)}, not a finite number",
            "Replace it by a finite number or delete the point.",
        )
    return result


def _vector(values: Any, what: str, where: str) -> np.ndarray:
    """``values`` as a new one-dimensional float64 array."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        _fail(where, f"{what} is not a list of numbers", f"Give {what} as a list of numbers.")
    if array.ndim != 1:
        _fail(
            where,
            f"{what} has shape {array.shape}, not a flat list",
            f"Give {what} as a flat list of numbers.",
        )
    return array


def _is_text(value: Any) -> bool:
    """A str that can be written as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _normalise_fields(
    where: str,
    x: Any,
    y: Any,
    weight: Any = None,
    label: Any = None,
    name: Any = "",
    teacher: Any = None,
    corrupted: Any = (),
) -> dict:
    """Validate the fields of a Dataset and return them in canonical types (see ``Dataset``); raise DataError."""
    xs = _vector(x, "x", where)
    ys = _vector(y, "y", where)
    n = len(xs)
    if len(ys) != n:
        _fail(where, f"x has {n} values but y has {len(ys)}", "Give one y for every x.")
    if n < MIN_POINTS:
        _fail(where, f"only {n} point(s); at least {MIN_POINTS} are needed", "Add points.")
    if n > MAX_POINTS:
        _fail(where, f"{n} points; at most {MAX_POINTS} are supported", "Use a subset of the points.")
    for what, values in (("x", xs), ("y", ys)):
        bad = ~np.isfinite(values)
        if bad.any():
            i = _first_bad(bad)
            _fail(
                where,
                f"{what} of point {i + 1} is {values[i]}, not a finite number",
                "Fix or delete the point.",
            )
    if weight is None:
        ws = np.ones(n)
    else:
        ws = _vector(weight, "weight", where)
        if len(ws) != n:
            _fail(where, f"{n} points but {len(ws)} weights", "Give one weight per point, or none (all 1).")
        bad = ~((ws >= 0.0) & (ws <= 1.0))  # also catches NaN
        if bad.any():
            i = _first_bad(bad)
            _fail(
                where,
                f"weight of point {i + 1} is {ws[i]}, outside [0, 1]",
                "Weights must be between 0 and 1.",
            )
    labels = None
    if label is not None:
        if isinstance(label, str) or not isinstance(label, (list, tuple, np.ndarray)):
            _fail(
                where, f"label is {_show(label)}, not a list of texts", "Give one label per point, or none."
            )
        labels = list(label)
        if len(labels) != n:
            _fail(where, f"{n} points but {len(labels)} labels", "Give one label per point, or none.")
        for i, text in enumerate(labels):
            if not _is_text(text):
                _fail(where, f"label of point {i + 1} is {_show(text)}, not text", "Labels must be strings.")
    if not _is_text(name):
        _fail(where, f"name is {_show(name)}, not text", "Give the dataset name as a string.")
    indices = list(corrupted) if isinstance(corrupted, (list, tuple, np.ndarray)) else None
    if (
        indices is None
        or not all(_is_int(i) and 0 <= i < n for i in indices)
        or len(set(indices)) != len(indices)
    ):
        _fail(
            where,
            f"corrupted must list distinct point indices 0..{n - 1}",
            "Fix or remove the corrupted list.",
        )
    return {
        "x": xs,
        "y": ys,
        "weight": ws,
        "label": labels,
        "name": name,
        "teacher": None if teacher is None else _normalise_teacher(teacher, where),
        "corrupted": tuple(sorted(int(i) for i in indices)),
    }


@dataclass(eq=False)
class Dataset:
    """n points (x_i, y_i) with weights and optional labels; validated on construction (``DataError``).

    Fields (canonical types after construction):
    - ``x``, ``y``: float64 arrays of shape (n,), finite; 2 ≤ n ≤ MAX_POINTS. Duplicate x are allowed.
    - ``weight``: float64 (n,), each in [0, 1], multiplying the point's loss (docs/science.md §1); None → all 1.
    - ``label``: list of n strings, or None.
    - ``name``: a display name (presets: the preset name; files: the file stem).
    - ``teacher``: the clean generating function, or None. Plain JSON:
      ``{"kind": "mlp", "layers": [1, 3, 1], "activation": "tanh", "theta": [...]}`` (θ in the layout of
      docs/science.md §1) or ``{"kind": "function", "name": "sine", "amplitude": 1.0, "frequency": 2.0}`` /
      ``{"kind": "function", "name": "linear", "intercept": 0.5, "slope": 1.0}``. ``teacher_curve`` evaluates it.
    - ``corrupted``: sorted indices (0-based) of points whose labels were deliberately corrupted (``outliers``).

    The arrays are the Dataset's own copies; fields assigned later are not re-checked until ``validate()``.
    """

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None = None
    label: list[str] | None = None
    name: str = ""
    teacher: dict | None = None
    corrupted: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, where: str | None = None) -> None:
        """Check every field and convert it to its canonical type in place; raise DataError naming ``where``."""
        fields = _normalise_fields(where or _describe(self.name), **self._fields())
        for key, value in fields.items():
            setattr(self, key, value)

    def _fields(self) -> dict:
        return {
            "x": self.x,
            "y": self.y,
            "weight": self.weight,
            "label": self.label,
            "name": self.name,
            "teacher": self.teacher,
            "corrupted": self.corrupted,
        }

    @property
    def n(self) -> int:
        """The number of points."""
        return len(self.x)

    def copy(self) -> Dataset:
        """An independent copy (arrays, labels and teacher are copied)."""
        return Dataset(**copy.deepcopy(self._fields()))

    def to_dict(self) -> dict:
        """All fields as plain JSON types (lists, floats, str, None); ``from_dict`` inverts it exactly."""
        return {
            "name": self.name,
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "weight": self.weight.tolist(),
            "label": None if self.label is None else list(self.label),
            "teacher": copy.deepcopy(self.teacher),
            "corrupted": list(self.corrupted),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "dataset") -> Dataset:
        """A Dataset from ``to_dict`` output or any form ``load_json`` accepts; DataError names ``source``."""
        return _dataset_from_json(data, source, default_name="")

    def teacher_curve(self, xs: Any) -> np.ndarray | None:
        """f*(xs) of the teacher (same shape as xs, float64), or None when the dataset has no teacher."""
        if self.teacher is None:
            return None
        xs = np.asarray(xs, dtype=np.float64)
        return _teacher_function(self.teacher)(xs)


def _describe(name: str) -> str:
    return f"dataset {name!r}" if name else "dataset"


def duplicate_x_indices(ds: Dataset) -> list[tuple[int, ...]]:
    """Groups of point indices sharing exactly the same x, each sorted, groups ordered by first index.

    Duplicates are allowed (the science works with them); the GUI uses this to warn. Empty when all x differ.
    """
    order = np.argsort(ds.x, kind="stable")  # equal x keep their index order
    xs = ds.x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]
    return sorted(tuple(order[a:b].tolist()) for a, b in zip(starts, ends, strict=True) if b - a > 1)


# ----------------------------------------------------------------------------------------------------
# Magnitudes: warnings and standardisation (docs/limits.md, "Huge or tiny magnitudes")


def _centre_and_spread(values: np.ndarray) -> tuple[float, float]:
    """(mean, population standard deviation) of finite values without overflow for |v| up to 1.8e308."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if scale == 0.0:
        return 0.0, 0.0
    u = values / scale
    return float(np.mean(u)) * scale, float(np.std(u)) * scale


def scale_warnings(ds: Dataset) -> list[str]:
    """Warnings for data whose magnitudes the defaults are not made for; empty for ordinary data.

    Influence Lab does not rescale data silently: θ, losses, Hessians and influences are reported in the data's
    own units (θ's layout is a public contract). The defaults (θ_0 ~ U(±1/√fan_in), η = 0.1, κ = 1e-3, the
    gradient tolerance 1e-10) assume x and y of order 1, so:
    - max |x| > SCALE_HIGH (1e4): tanh/sigmoid units saturate, the model sees a step function and the Hessian is
      badly scaled;
    - 0 < std(x) < SCALE_LOW (1e-4): the model sees almost a single input and fits little more than a constant;
    - max |y| > SCALE_HIGH: the loss is of order y², gradient descent at the default η tends to diverge (then it
      stops and says so) and the absolute tolerance 1e-10 means nothing at that scale;
    - 0 < std(y) < SCALE_LOW: the signal is below the weight decay and the tolerance, every influence ≈ 0;
    - all x equal, or all y equal: reported too (the fit is a constant; with constant y every residual and so
      every influence is ≈ 0).
    Each message names the fix: standardise (``standardize``, the CLI's ``--standardize``).
    """
    out = []
    fix = "standardise the data (--standardize, or subtract the mean and divide by the standard deviation)"
    for name, values in (("x", ds.x), ("y", ds.y)):
        big = float(np.max(np.abs(values)))
        _, spread = _centre_and_spread(values)
        if spread == 0.0:
            if name == "x":
                out.append(f"every x equals {values[0]:.6g}: the model can only fit a constant")
            else:
                out.append(
                    f"every y equals {values[0]:.6g}: the fit is that constant, the residuals vanish and every "
                    "influence is ≈ 0"
                )
        elif big > SCALE_HIGH:
            why = (
                "tanh and sigmoid units saturate for |x| ≫ 1 and the Hessian is badly scaled"
                if name == "x"
                else "the loss is of order y², gradient descent at the default learning rate tends to diverge and "
                "the gradient tolerance 1e-10 means nothing at this scale"
            )
            out.append(f"|{name}| reaches {big:.3g} (> {SCALE_HIGH:g}): {why}; {fix}")
        elif spread < SCALE_LOW:
            why = (
                "the model sees almost a single input and fits little more than a constant"
                if name == "x"
                else "the signal is below the weight decay and the gradient tolerance, and every influence is ≈ 0"
            )
            out.append(
                f"{name} varies by only {spread:.3g} (standard deviation < {SCALE_LOW:g}): {why}; {fix}"
            )
    return out


def standardize(ds: Dataset) -> tuple[Dataset, dict]:
    """x' = (x − mean x) / std x and y' = (y − mean y) / std y (population standard deviations), returning the
    new Dataset and ``{"x_mean", "x_std", "y_mean", "y_std"}``. A constant column is only centred (its std is
    reported as 1). Weights, labels, the name and the corrupted indices are kept; the teacher is dropped (it is
    in the original units). Every result computed on the new data is in standardised units."""
    out = {}
    cols = {}
    for name, values in (("x", ds.x), ("y", ds.y)):
        mean, std = _centre_and_spread(values)
        std = std if std > 0 else 1.0
        cols[name] = (values - mean) / std
        out[f"{name}_mean"], out[f"{name}_std"] = mean, std
    new = Dataset(
        x=cols["x"],
        y=cols["y"],
        weight=ds.weight.copy(),
        label=None if ds.label is None else list(ds.label),
        name=ds.name,
        corrupted=ds.corrupted,
    )
    return new, out


# ----------------------------------------------------------------------------------------------------
# Presets

PRESETS = ("teacher", "sine", "linear", "outliers")
DEFAULT_N = 20
DEFAULT_NOISE = 0.1
DEFAULT_SEED = 0

#: The teacher f* of the default data: a 1 → 3 → 1 tanh MLP with θ* = TEACHER_SCALES ⊙ N(0, I) drawn by
#: ``np.random.default_rng(TEACHER_SEED)``, in the layout of docs/science.md §1 (W1 (3×1), b1 (3), W2 (1×3), b2 (1)).
#: Seed and scales were chosen by looking at the curve: on [-2, 2] it rises through a peak near x = 0 and has
#: a shallow dip on the left (range about [-0.3, 1.1]), so it bends visibly and is well above the noise.
TEACHER_LAYERS = (1, 3, 1)
TEACHER_SEED = 15
TEACHER_SCALES = (1.5,) * 3 + (1.0,) * 3 + (1.0,) * 3 + (0.1,)

#: The outliers preset corrupts round(OUTLIER_FRACTION · n) labels (at least 1) by ±OUTLIER_SHIFT.
OUTLIER_FRACTION = 0.15
OUTLIER_SHIFT = 2.0


def teacher_theta() -> np.ndarray:
    """θ* of the default teacher MLP (see TEACHER_SEED), a new float64 array of length 10."""
    rng = np.random.default_rng(TEACHER_SEED)
    return rng.standard_normal(len(TEACHER_SCALES)) * np.array(TEACHER_SCALES)


@dataclass(frozen=True)
class _Preset:
    x_range: tuple[float, float]
    teacher: dict  # copied into every Dataset
    outliers: bool = False


_TEACHER_MLP = {
    "kind": "mlp",
    "layers": list(TEACHER_LAYERS),
    "activation": "tanh",
    "theta": teacher_theta().tolist(),
}
_SINE = {"kind": "function", "name": "sine", "amplitude": 1.0, "frequency": 2.0}
_LINE = {"kind": "function", "name": "linear", "intercept": 0.5, "slope": 1.0}
_PRESETS: dict[str, _Preset] = {
    "teacher": _Preset((-2.0, 2.0), _TEACHER_MLP),
    "sine": _Preset((-math.pi / 2, math.pi / 2), _SINE),
    "linear": _Preset((-2.0, 2.0), _LINE),
    "outliers": _Preset((-2.0, 2.0), _LINE, outliers=True),
}


def make_preset(
    name: str, n: int | None = None, noise: float | None = None, seed: int | None = None
) -> Dataset:
    """A built-in dataset, deterministic in (name, n, noise, seed); defaults n = 20, noise = 0.1, seed = 0.

    All presets: x = sorted(Uniform(range, n)), y = f*(x) + noise · N(0, 1), drawn in that order from
    ``np.random.default_rng(seed)``; f* is recorded as ``Dataset.teacher``; all weights 1, no labels.

    - ``teacher`` (the app's default data; the notes' Figure 3 setup): x on [-2, 2], f* the fixed random
      1 → 3 → 1 tanh MLP θ* = ``teacher_theta()`` (the same f* for every seed; the seed redraws x and noise).
    - ``sine``: x on [-π/2, π/2], f*(x) = sin(2x) (one full period).
    - ``linear``: x on [-2, 2], f*(x) = 0.5 + x.
    - ``outliers``: the ``linear`` data (same x and noise for the same seed) with round(0.15 n) (at least one;
      3 of 20) labels shifted by ±2.0 (20 noise std at the default noise); their indices are in ``corrupted``.

    Raises DataError for an unknown name, n outside [2, MAX_POINTS], a negative or non-finite noise, or a
    negative seed.
    """
    if name not in PRESETS:
        raise DataError(f"unknown preset {name!r}. Choose one of {', '.join(PRESETS)}.")
    where = f"preset {name!r}"
    n = DEFAULT_N if n is None else n
    noise = DEFAULT_NOISE if noise is None else noise
    seed = DEFAULT_SEED if seed is None else seed
    if not _is_int(n) or not MIN_POINTS <= n <= MAX_POINTS:
        _fail(
            where, f"n is {_show(n)}", f"Choose a whole number of points from {MIN_POINTS} to {MAX_POINTS}."
        )
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float, np.integer, np.floating))
        or not (math.isfinite(noise) and noise >= 0)
    ):
        _fail(where, f"noise is {_show(noise)}", "Choose a finite noise standard deviation ≥ 0.")
    if not _is_int(seed) or seed < 0:
        _fail(where, f"seed is {_show(seed)}", "Choose a whole number ≥ 0.")

    spec = _PRESETS[name]
    teacher = copy.deepcopy(spec.teacher)
    rng = np.random.default_rng(operator.index(seed))
    x = np.sort(rng.uniform(*spec.x_range, size=int(n)))
    y = _teacher_function(teacher)(x) + float(noise) * rng.standard_normal(int(n))
    corrupted: tuple[int, ...] = ()
    if spec.outliers:
        k = max(1, round(OUTLIER_FRACTION * n))
        idx = np.sort(rng.choice(int(n), size=k, replace=False))
        y[idx] += OUTLIER_SHIFT * rng.choice([-1.0, 1.0], size=k)
        corrupted = tuple(idx.tolist())
    return Dataset(x=x, y=y, name=name, teacher=teacher, corrupted=corrupted)


# ----------------------------------------------------------------------------------------------------
# Reading files


def _read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (BOM dropped), refusing missing, unreadable, oversized or non-UTF-8 files."""
    where = path.name or str(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                _too_large(where)
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        _fail(where, f"file not found ({path})", "Check the file name and folder.")
    except IsADirectoryError:
        _fail(where, "is a folder, not a file", "Choose a .csv or .json file.")
    except PermissionError:
        _fail(where, "permission denied", "Check that you may read the file.")
    except OSError as exc:
        _fail(where, f"cannot be read ({exc.strerror or exc})", "Check the file.")
    if len(data) > MAX_FILE_BYTES:
        _too_large(where)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        _fail(
            f"{where}, line {line}",
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
            "Save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8').",
        )


def _too_large(where: str) -> NoReturn:
    _fail(where, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB", f"Use at most {MAX_POINTS} points.")


def _empty(where: str) -> NoReturn:
    _fail(
        where,
        "the file is empty",
        "A CSV points file starts with a header line such as 'x,y', then one line per point.",
    )


def load_csv(path: str | os.PathLike, columns=None) -> Dataset:
    """Read delimited points text (.csv, .tsv, .txt; core.points.table); ``name`` is the file stem. Raises
    DataError (a ColumnsNeeded when x and y cannot be told and ``columns`` does not say)."""
    return read_points(path, columns)[0]


def _csv_number(field: str, column: str, at: str) -> float:
    text = field.strip()
    if not text:
        _fail(at, f"{column} is empty", "Fill in a number or delete the line.")
    try:
        value = float(text)
    except ValueError:
        _fail(at, f"{column} is {_show(text)}, not a number", "Fix the value or delete the line.")
    if not math.isfinite(value):
        _fail(at, f"{column} is {_show(text)}, not a finite number", "Fix the value or delete the line.")
    if column == "weight" and not 0.0 <= value <= 1.0:
        _fail(
            at,
            f"weight is {_show(text)}, outside [0, 1]",
            "Weights must be between 0 (ignored) and 1 (full weight).",
        )
    return value


def load_json(path: str | os.PathLike) -> Dataset:
    """Read a JSON points file (either form in the module docstring); ``name`` defaults to the file stem."""
    path = Path(path)
    where = path.name
    text = _read_text(path)
    if not text.strip():
        _fail(where, "the file is empty", 'A JSON points file looks like {"x": [...], "y": [...]}.')
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(
            f"{where}, line {exc.lineno}, column {exc.colno}",
            f"invalid JSON ({exc.msg})",
            "Fix the syntax there (a JSON validator shows it), or save the points as CSV.",
        )
    except RecursionError:
        _fail(
            where, "the JSON is nested too deeply", 'A JSON points file looks like {"x": [...], "y": [...]}.'
        )
    except ValueError as exc:  # e.g. an integer literal with more than 4300 digits
        problem = (
            "invalid JSON: a number has more than 4300 digits"
            if "digits" in str(exc)
            else f"invalid JSON ({exc})"
        )
        _fail(where, problem, "Fix the value.")
    return _dataset_from_json(document, where, default_name=path.stem)


def _dataset_from_json(document: Any, where: str, default_name: str) -> Dataset:
    """A Dataset from a parsed points document (object form or bare list form); raise DataError."""
    if isinstance(document, list):
        return _dataset_from_point_list(document, where, default_name)
    if not isinstance(document, dict):
        _fail(
            where,
            f"the top level is {_show(document)}, not an object or a list",
            'Use {"x": [...], "y": [...]} or a list of {"x": ..., "y": ...} objects.',
        )
    unknown = [k for k in document if k not in _JSON_KEYS]
    if unknown:
        _fail(where, f"unknown key(s) {_list_names(unknown)}", f"The keys are {', '.join(_JSON_KEYS)}.")
    fmt = document.get("format", JSON_FORMAT)
    if fmt != JSON_FORMAT:
        _fail(
            where,
            f'"format" is {_show(fmt)}, not an Influence Lab points file',
            f'Points files have "format": "{JSON_FORMAT}".',
        )
    version = document.get("version", JSON_VERSION)
    if not _is_int(version) or not 1 <= version <= JSON_VERSION:
        _fail(
            where,
            f'"version" is {_show(version)}; this Influence Lab reads version {JSON_VERSION}',
            "Use a newer Influence Lab.",
        )
    for key in ("x", "y"):
        if key not in document:
            _fail(where, f'no "{key}" list', 'A points file needs "x" and "y" lists of the same length.')
    columns = {
        key: None
        if key in ("weight", "label") and document.get(key) is None
        else _json_list(document[key], key, where)
        for key in ("x", "y", "weight", "label")
    }
    numbers = {
        key: None
        if columns[key] is None
        else [_number(v, f'"{key}" entry {i + 1}', where) for i, v in enumerate(columns[key])]
        for key in ("x", "y", "weight")
    }
    corrupted = document.get("corrupted")
    corrupted = [] if corrupted is None else corrupted
    if not isinstance(corrupted, (list, tuple, np.ndarray)):
        _fail(
            where,
            f'"corrupted" is {_show(corrupted)}, not a list',
            "Give point indices as a list of integers.",
        )
    return Dataset(
        **_normalise_fields(
            where,
            numbers["x"],
            numbers["y"],
            numbers["weight"],
            columns["label"],
            default_name if document.get("name") is None else document["name"],
            document.get("teacher"),
            corrupted,
        )
    )


def _json_list(value: Any, key: str, where: str) -> list:
    if not isinstance(value, (list, tuple, np.ndarray)):
        _fail(
            where,
            f'"{key}" is {_show(value)}, not a list',
            f'Give "{key}" as a list with one entry per point.',
        )
    if len(value) > MAX_POINTS:
        _fail(
            where,
            f'"{key}" has {len(value)} entries; at most {MAX_POINTS} points are supported',
            "Use a subset.",
        )
    return value


def _dataset_from_point_list(items: list, where: str, default_name: str) -> Dataset:
    """The bare-list form: [{"x": .., "y": .., "weight": .. (optional), "label": .. (optional)}, ...]."""
    _json_list(items, "points", where)
    keys = ("x", "y", "weight", "label")
    columns: dict[str, list] = {key: [] for key in keys}
    for i, item in enumerate(items):
        what = f"point {i + 1}"
        if not isinstance(item, dict):
            _fail(
                where, f"{what} is {_show(item)}, not an object", 'Write each point as {"x": 0.5, "y": 1.2}.'
            )
        unknown = [k for k in item if k not in keys]
        if unknown:
            _fail(
                where,
                f"{what} has unknown key(s) {_list_names(unknown)}",
                "The keys are x, y, weight, label.",
            )
        for key in ("x", "y"):
            if key not in item:
                _fail(where, f'{what} has no "{key}"', 'Write each point as {"x": 0.5, "y": 1.2}.')
        for key in ("x", "y", "weight"):
            columns[key].append(_number(item.get(key, 1.0), f'{what}, "{key}"', where))
        columns["label"].append(item.get("label", ""))
    has_label = any("label" in item for item in items)
    return Dataset(
        **_normalise_fields(
            where,
            columns["x"],
            columns["y"],
            columns["weight"],
            columns["label"] if has_label else None,
            default_name,
        )
    )


def load_points(path: str | os.PathLike, columns=None) -> Dataset:
    """Read a points file, choosing the format by extension (.csv, .tsv, .txt or .json, any case). Raises
    DataError."""
    return read_points(path, columns)[0]


def points_columns(path: str | os.PathLike):
    """The column names of a delimited points file and the columns that would be read without a choice
    (a core.points.table.Columns, or None when x and y cannot be told), for a column picker. Raises DataError."""
    from core.points.table import Columns, ColumnsNeeded, choose_columns, read_table

    path = Path(path)
    table = read_table(_read_text(path), path.name)
    try:
        picked, _ = choose_columns(table)
    except ColumnsNeeded:
        return list(table.names), None
    name = {role: table.names[k] for role, k in picked.items()}
    return list(table.names), Columns(name["x"], name["y"], name.get("weight"), name.get("label"))


def read_points(path: str | os.PathLike, columns=None) -> tuple[Dataset, list[str]]:
    """A points file and the notes on what was chosen for the user while reading it (separator, decimal
    commas, columns taken or ignored); ``columns`` (a core.points.table.Columns) says which columns are x, y,
    weight and label in delimited text. Raises DataError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return load_json(path), []
    if suffix not in DELIMITED_SUFFIXES:
        _fail(
            path.name or str(path),
            f"unsupported file type {suffix or '(no extension)'!r}",
            f"Points files are {', '.join(POINTS_SUFFIXES)}.",
        )
    from core.points.table import parse_points_text

    return parse_points_text(_read_text(path), path.name, path.stem, columns)


# ----------------------------------------------------------------------------------------------------
# Writing files


def save_csv(ds: Dataset, path: str | os.PathLike) -> None:
    """Write ``ds`` as CSV (atomically): columns x, y, then weight (only if some weight ≠ 1), then label (if any).

    RFC 4180 style: CRLF line ends and double quotes where needed (Python's csv writer quotes a field holding a
    lone CR only when CR is part of the line terminator), so any label reads back unchanged, except that
    ``load_csv`` strips spaces around labels.

    Numbers are written with ``repr`` (shortest round-trip form), so ``load_csv`` reads back identical floats.
    The name, teacher and corrupted indices are not stored in CSV (use JSON to keep them).
    """
    ds.validate()
    columns = ["x", "y"]
    if np.any(ds.weight != 1.0):
        columns.append("weight")
    if ds.label is not None:
        columns.append("label")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    data = {"x": ds.x.tolist(), "y": ds.y.tolist(), "weight": ds.weight.tolist(), "label": ds.label}
    for i in range(ds.n):
        writer.writerow([data[c][i] if c == "label" else repr(data[c][i]) for c in columns])
    _write(path, out.getvalue())


def save_json(ds: Dataset, path: str | os.PathLike) -> None:
    """Write ``ds`` as a JSON points document (atomically) with every field; one key per line."""
    ds.validate()
    document = {"format": JSON_FORMAT, "version": JSON_VERSION, **ds.to_dict()}
    body = ",\n".join(
        f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}" for key, value in document.items()
    )
    _write(path, "{\n" + body + "\n}\n")


def save_points(ds: Dataset, path: str | os.PathLike) -> None:
    """Write a points file, choosing the format by extension (.csv or .json). Raises DataError."""
    _format_for(Path(path))[1](ds, path)


def _write(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        _fail(
            path.name or str(path),
            f"cannot be written ({exc.strerror or exc})",
            "Choose another folder or file name.",
        )


_FORMATS: dict[str, tuple[Callable[[Any], Dataset], Callable[[Dataset, Any], None]]] = {
    ".csv": (load_csv, save_csv),
    ".json": (load_json, save_json),
}
#: What a points file may be called when read (written: .csv or .json).
DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")
POINTS_SUFFIXES = (*DELIMITED_SUFFIXES, ".json")


def _format_for(path: Path) -> tuple[Callable[[Any], Dataset], Callable[[Dataset, Any], None]]:
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        _fail(
            path.name or str(path),
            f"unsupported file type {suffix or '(no extension)'!r}",
            f"Points files are {' or '.join(_FORMATS)}.",
        )
    return _FORMATS[suffix]
