"""Points from pen strokes: a brush that drops points along a stroke, a lasso that picks points, and a sketched
function that becomes the teacher of a new dataset (docs/science.md §1 for the data conventions).

A stroke is the polyline of the pointer's positions in data coordinates. Distances along it are measured after
dividing x and y by the view's ranges (``scale``), so that "every 5 % of the view" means the same on screen
whatever the axes' units.
"""

from __future__ import annotations

import numpy as np

from core.points.dataset import MAX_POINTS, DataError, Dataset

MAX_STROKE_POINTS = 10_000  # pointer samples kept from one stroke (a long drag at a high event rate)


def _stroke(xs, ys) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(xs, dtype=np.float64).ravel()
    y = np.asarray(ys, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise DataError("stroke: x and y have different lengths. Draw the stroke again.")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size > MAX_STROKE_POINTS:
        pick = np.linspace(0, x.size - 1, MAX_STROKE_POINTS).round().astype(int)
        x, y = x[pick], y[pick]
    return x, y


def resample_stroke(xs, ys, spacing: float, scale=(1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``spacing`` along the stroke (arc length in units of ``scale``, the view's x and y ranges),
    the first at its start; a stroke shorter than ``spacing`` gives its start point alone."""
    x, y = _stroke(xs, ys)
    if x.size == 0:
        return x, y
    if not spacing > 0:
        raise DataError(f"brush: spacing {spacing:g} must be > 0. Choose a positive spacing.")
    sx, sy = (float(abs(v)) or 1.0 for v in scale)
    seg = np.hypot(np.diff(x) / sx, np.diff(y) / sy)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    count = int(np.floor(s[-1] / spacing + 1e-9)) + 1
    if count > MAX_POINTS:
        raise DataError(
            f"brush: {count} points along this stroke (at most {MAX_POINTS}). Choose a larger spacing."
        )
    at = spacing * np.arange(count)
    return np.interp(at, s, x), np.interp(at, s, y)


def brush_points(xs, ys, spacing: float, noise: float, seed: int, scale=(1.0, 1.0)):
    """The brush: points every ``spacing`` along the stroke, y displaced by ``noise`` · N(0, 1) (seeded)."""
    if not (noise >= 0 and np.isfinite(noise)):
        raise DataError(f"brush: noise {noise:g} must be a finite number ≥ 0.")
    px, py = resample_stroke(xs, ys, spacing, scale)
    rng = np.random.default_rng(seed)
    return px, py + noise * rng.standard_normal(px.size)


def points_in_polygon(px, py, poly_x, poly_y) -> np.ndarray:
    """Which points (px, py) lie inside the closed polygon (the lasso), by the even–odd ray-casting rule."""
    px = np.asarray(px, dtype=np.float64)[:, None]
    py = np.asarray(py, dtype=np.float64)[:, None]
    x1, y1 = _stroke(poly_x, poly_y)
    if x1.size < 3:
        return np.zeros(px.shape[0], dtype=bool)
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > py) != (y2 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    return (np.count_nonzero(crosses & (px < x_at), axis=1) % 2) == 1


def sketch_function(xs, ys) -> tuple[np.ndarray, np.ndarray]:
    """The function a stroke draws: its samples sorted by x, those with equal x averaged (a stroke that turns
    back is read as one value per x). Needs two distinct x."""
    x, y = _stroke(xs, ys)
    ux, inv = np.unique(x, return_inverse=True)
    if ux.size < 2:
        raise DataError("sketch: the stroke spans no range of x. Draw the function from left to right.")
    uy = np.bincount(inv, weights=y) / np.bincount(inv)
    return ux, uy


def sample_sketch(xs, ys, n: int, noise: float, seed: int, name: str = "sketch") -> Dataset:
    """n points with x = sorted Uniform(range of the sketch) and y = f(x) + noise · N(0, 1), f the sketched
    function (linear between its samples), drawn in that order from ``np.random.default_rng(seed)`` as the
    presets are; f is kept as the dataset's teacher ``{"kind": "curve", "x": […], "y": […]}``."""
    if not (2 <= int(n) <= MAX_POINTS):
        raise DataError(f"sketch: {n} points; choose 2 to {MAX_POINTS}.")
    if not (noise >= 0 and np.isfinite(noise)):
        raise DataError(f"sketch: noise {noise:g} must be a finite number ≥ 0.")
    fx, fy = sketch_function(xs, ys)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(fx[0], fx[-1], int(n)))
    y = np.interp(x, fx, fy) + noise * rng.standard_normal(int(n))
    return Dataset(x=x, y=y, name=name, teacher={"kind": "curve", "x": fx.tolist(), "y": fy.tolist()})


__all__ = [
    "MAX_STROKE_POINTS",
    "brush_points",
    "points_in_polygon",
    "resample_stroke",
    "sample_sketch",
    "sketch_function",
]
