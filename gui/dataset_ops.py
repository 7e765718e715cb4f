"""Small pure edits of a :class:`core.points.dataset.Dataset` used by the undo commands: each returns a new Dataset.

The input is never modified (undo keeps the old value). Labels, the teacher and the corrupted indices are kept;
an added point gets an empty label when the dataset has labels.
"""

from __future__ import annotations

import numpy as np

from core.points.dataset import Dataset


def _fields(ds: Dataset) -> dict:
    c = ds.copy()
    return {
        "x": c.x,
        "y": c.y,
        "weight": c.weight,
        "label": c.label,
        "name": c.name,
        "teacher": c.teacher,
        "corrupted": c.corrupted,
    }


def with_point(ds: Dataset, x: float, y: float, weight: float = 1.0) -> Dataset:
    f = _fields(ds)
    f["x"] = np.append(f["x"], float(x))
    f["y"] = np.append(f["y"], float(y))
    f["weight"] = np.append(f["weight"], float(weight))
    if f["label"] is not None:
        f["label"] = [*f["label"], ""]
    return Dataset(**f)


def with_moved(ds: Dataset, i: int, x: float, y: float) -> Dataset:
    f = _fields(ds)
    f["x"][i] = float(x)
    f["y"][i] = float(y)
    return Dataset(**f)


def with_weight(ds: Dataset, i: int, w: float) -> Dataset:
    f = _fields(ds)
    f["weight"][i] = float(w)
    return Dataset(**f)
