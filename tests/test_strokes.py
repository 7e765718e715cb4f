"""Pen strokes: brush points along a stroke, the lasso, and a sketched function as a new dataset's teacher."""

from __future__ import annotations

import numpy as np
import pytest

from core.points.dataset import DataError, Dataset, load_json, save_json
from core.points.strokes import (
    brush_points,
    points_in_polygon,
    resample_stroke,
    sample_sketch,
    sketch_function,
)


def test_resample_spacing_is_arc_length_in_view_units():
    # an L-shaped stroke: 2 units right then 1 unit up, in a view 4 wide and 2 high → 0.5 + 0.5 view units long
    xs, ys = [0, 2, 2], [0, 0, 1]
    px, py = resample_stroke(xs, ys, 0.25, scale=(4, 2))
    np.testing.assert_allclose(px, [0, 1, 2, 2, 2])
    np.testing.assert_allclose(py, [0, 0, 0, 0.5, 1.0])
    d = np.hypot(np.diff(px) / 4, np.diff(py) / 2)
    np.testing.assert_allclose(d, 0.25)


def test_brush_noise_is_seeded_and_only_in_y():
    a = brush_points([0, 1], [0, 0], 0.1, 0.3, seed=4)
    b = brush_points([0, 1], [0, 0], 0.1, 0.3, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], np.linspace(0, 1, 11))
    assert np.std(a[1]) > 0.05
    with pytest.raises(DataError, match="larger spacing"):
        brush_points([0, 1e9], [0, 0], 1e-9, 0.0, seed=0)


def test_lasso_even_odd_rule_against_a_square_and_a_concave_shape():
    square = ([0, 1, 1, 0], [0, 0, 1, 1])
    inside = points_in_polygon([0.5, 1.5, 0.1, -0.1], [0.5, 0.5, 0.9, 0.5], *square)
    assert inside.tolist() == [True, False, True, False]
    # a U shape: the notch (0.5, 0.8) is outside, the arms inside
    u = ([0, 1, 1, 0.7, 0.7, 0.3, 0.3, 0], [0, 0, 1, 1, 0.3, 0.3, 1, 1])
    got = points_in_polygon([0.5, 0.15, 0.85, 0.5], [0.8, 0.8, 0.8, 0.1], *u)
    assert got.tolist() == [False, True, True, True]
    assert not points_in_polygon([0.5], [0.5], [0, 1], [0, 1]).any()  # two vertices: no area


def test_a_sketch_becomes_a_dataset_whose_teacher_is_the_drawn_function(tmp_path):
    # a stroke that wiggles back: equal x are averaged into one value
    xs = [-1.0, 0.0, 0.0, 1.0, 2.0]
    ys = [1.0, 0.0, 2.0, 3.0, 3.0]
    fx, fy = sketch_function(xs, ys)
    np.testing.assert_array_equal(fx, [-1, 0, 1, 2])
    np.testing.assert_array_equal(fy, [1, 1, 3, 3])
    ds = sample_sketch(xs, ys, 25, 0.0, seed=2)
    assert isinstance(ds, Dataset) and ds.n == 25 and np.all(np.diff(ds.x) >= 0)
    assert -1 <= ds.x.min() and ds.x.max() <= 2
    np.testing.assert_allclose(ds.y, np.interp(ds.x, fx, fy))  # noise 0: on the drawn function
    np.testing.assert_allclose(ds.teacher_curve(ds.x), ds.y)
    save_json(ds, tmp_path / "s.json")  # the curve teacher survives a file round trip
    back = load_json(tmp_path / "s.json")
    np.testing.assert_allclose(back.teacher_curve([0.5]), [2.0])
    with pytest.raises(DataError, match="left to right"):
        sketch_function([1, 1, 1], [0, 1, 2])
