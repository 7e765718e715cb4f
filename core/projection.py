"""Two-dimensional views of parameter trajectories: the principal plane of a cloud of parameter vectors.

The ε-path and homotopy panels draw θ ∈ R^d in a plane: either two chosen coordinates (a neuron's (w, b), as in
the notes' Figure 3 — no computation needed) or the plane spanned by the first two principal components of the
points being drawn (:func:`principal_plane`). Projections of points *and* of tangent vectors use the same basis,
so a tangent drawn in the plane is the projection of the true tangent (directions are projected without the
centring, :meth:`PrincipalPlane.project_vectors`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PrincipalPlane:
    """The affine plane mean + span(axes) of the first two principal components of a point cloud."""

    mean: np.ndarray  # (d,)
    axes: np.ndarray  # (2, d), orthonormal rows, PC1 then PC2
    explained: np.ndarray  # (2,) fraction of the total variance along each axis (0 when the cloud is a point)

    def project(self, points) -> np.ndarray:
        """Coordinates (…, 2) of points (…, d) in the plane (relative to the mean)."""
        p = np.asarray(points, dtype=np.float64)
        return (p - self.mean) @ self.axes.T

    def project_vectors(self, vectors) -> np.ndarray:
        """Components (…, 2) of direction vectors (…, d) (tangents) along the two axes."""
        return np.asarray(vectors, dtype=np.float64) @ self.axes.T


def principal_plane(points) -> PrincipalPlane:
    """The plane of the first two principal components of ``points`` (…, d); NaN rows are ignored.

    Signs are fixed so that each axis has a non-negative largest-magnitude coefficient (a deterministic
    orientation). With d = 1 or a degenerate cloud the missing axes are filled with unit vectors orthogonal to
    the ones found, with explained variance 0.
    """
    p = np.asarray(points, dtype=np.float64)
    d = p.shape[-1]
    p = p.reshape(-1, d)
    p = p[np.isfinite(p).all(axis=1)]
    if p.shape[0] == 0:
        raise ValueError("principal_plane needs at least one finite point")
    mean = p.mean(axis=0)
    centred = p - mean
    total = float(np.sum(centred**2))
    if p.shape[0] > 1 and total > 0:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        var = s**2
    else:
        vt = np.zeros((0, d))
        var = np.zeros(0)
    axes = [vt[k] for k in range(min(2, vt.shape[0])) if var[k] > 1e-24 * var[0]]
    explained = [float(var[k] / total) for k in range(len(axes))]
    # complete to two orthonormal axes (degenerate clouds, d = 1: the second axis is then zero)
    for e in np.eye(d):
        if len(axes) >= 2:
            break
        v = e - sum(np.dot(e, a) * a for a in axes) if axes else e.copy()
        nv = np.linalg.norm(v)
        if nv > 1e-8:
            axes.append(v / nv)
            explained.append(0.0)
    while len(axes) < 2:
        axes.append(np.zeros(d))
        explained.append(0.0)
    A = np.array(axes[:2])
    for k in range(2):
        i = int(np.argmax(np.abs(A[k])))
        if A[k, i] < 0:
            A[k] = -A[k]
    return PrincipalPlane(mean, A, np.array(explained[:2]))


__all__ = ["PrincipalPlane", "principal_plane"]
