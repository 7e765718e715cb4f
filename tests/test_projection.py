"""core.projection.principal_plane: the plane of the first two principal components, against numpy's SVD."""

import numpy as np
import pytest

from core.projection import principal_plane


def test_plane_of_points_on_a_tilted_plane_reconstructs_them():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T  # two orthonormal directions in R^6
    coef = rng.normal(size=(50, 2)) * [3.0, 1.0]
    centre = rng.normal(size=6)
    pts = centre + coef @ basis
    plane = principal_plane(pts)
    np.testing.assert_allclose(plane.axes @ plane.axes.T, np.eye(2), atol=1e-12)
    proj = plane.project(pts)
    np.testing.assert_allclose(plane.mean + proj @ plane.axes, pts, atol=1e-10)
    assert plane.explained.sum() == pytest.approx(1.0)
    assert plane.explained[0] > plane.explained[1]
    # PC1 is the direction of largest variance: the same as numpy's SVD up to sign
    u, s, vt = np.linalg.svd(pts - pts.mean(0), full_matrices=False)
    assert abs(abs(vt[0] @ plane.axes[0]) - 1) < 1e-10


def test_vectors_are_projected_without_the_centring_and_nans_are_ignored():
    pts = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0.1, 0], [np.nan, 1, 1]])
    plane = principal_plane(pts)
    v = np.array([1.0, 0, 0])
    np.testing.assert_allclose(plane.project_vectors(v), plane.axes @ v)
    assert np.isfinite(plane.axes).all()


def test_degenerate_clouds_still_give_two_axes():
    plane = principal_plane(np.ones((5, 4)))
    assert plane.axes.shape == (2, 4) and np.allclose(plane.explained, 0)
    np.testing.assert_allclose(plane.axes @ plane.axes.T, np.eye(2), atol=1e-12)
    line = principal_plane(np.outer(np.arange(5.0), [1.0, 2.0, 0.0]))
    assert line.explained[0] == pytest.approx(1.0) and line.explained[1] == 0.0
    with pytest.raises(ValueError):
        principal_plane(np.full((3, 2), np.nan))
