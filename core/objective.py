"""Weighted least-squares objectives and a batched Newton / Levenberg–Marquardt solver for them.

Every objective Influence Lab minimises has the form (docs/science.md §1, §3)

    Q(θ) = Σ_i c_i ½ (f(θ; u_i) − t_i)² + (μ/2)‖θ − θ_c‖²

with signed coefficients c_i, inputs u_i (a point may appear twice), targets t_i, a proximity weight μ ≥ 0
and a centre θ_c. Examples:
- the training loss L_w: u = x, t = y, c = w/n, μ = κ, θ_c = 0;
- the proximal response: c = w_{−j}/n, and κ/2‖θ‖² + λ/2‖θ − θ^s‖² = (κ+λ)/2 ‖θ − λθ^s/(κ+λ)‖² + const;
- the PBRF: targets f(θ^s; x_i) with c = 1/n, plus the deleted point's own loss with c = −1/n.
Objectives are batched: c, t and θ_c may carry a leading model axis B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.model import Model, _as_batch


@dataclass(frozen=True)
class LSObjective:
    model: Model
    u: np.ndarray  # (m,) inputs
    t: np.ndarray  # (m,) or (B, m) targets
    c: np.ndarray  # (m,) or (B, m) coefficients
    mu: float | np.ndarray = 0.0  # scalar or (B,)
    center: np.ndarray | None = None  # (d,) or (B, d); None means 0

    def _mu(self, B):
        return np.broadcast_to(np.asarray(self.mu, dtype=np.float64), (B,))

    def _center(self, theta):
        return np.zeros_like(theta) if self.center is None else np.broadcast_to(self.center, theta.shape)

    def value_and_grad(self, theta):
        """(Q(θ), ∇Q(θ) = Σ_i c_i r_i ∇f_i + μ(θ − θ_c)) with r_i = f_i − t_i; shapes (B,), (B, d)."""
        theta = _as_batch(theta)
        B = theta.shape[0]
        f = self.model.predict(theta, self.u)
        r = f - self.t
        c = np.broadcast_to(self.c, r.shape)
        _, g = self.model.weighted_output_grad(theta, self.u, c * r)
        mu = self._mu(B)
        delta = theta - self._center(theta)
        value = 0.5 * np.einsum("bn,bn->b", c * r, r) + 0.5 * mu * np.einsum("bd,bd->b", delta, delta)
        return value, g + mu[:, None] * delta

    def hessian(self, theta):
        """∇²Q = Σ_i c_i (∇f_i ∇f_iᵀ + r_i ∇²f_i) + μI; shape (B, d, d)."""
        theta = _as_batch(theta)
        B, d = theta.shape
        J = self.model.jacobian(theta, self.u)
        r = self.model.predict(theta, self.u) - self.t
        c = np.broadcast_to(self.c, r.shape)
        H = np.swapaxes(J * c[:, :, None], 1, 2) @ J + self.model.output_hessian_sum(theta, self.u, c * r)
        H = H + self._mu(B)[:, None, None] * np.eye(d)
        return 0.5 * (H + np.swapaxes(H, 1, 2))


def training_objective(model: Model, x, y, w, kappa: float) -> LSObjective:
    """L_w(θ) of docs/science.md §1 as an LSObjective (w may be (n,) or (B, n))."""
    n = np.shape(x)[0]
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    return LSObjective(model, np.asarray(x, float), np.asarray(y, float), w / n, kappa, None)


@dataclass
class SolveResult:
    theta: np.ndarray  # (B, d)
    value: np.ndarray  # (B,)
    grad_norm: np.ndarray  # (B,)
    converged: np.ndarray  # (B,) grad_norm ≤ tol
    iterations: int
    tol: float
    min_eigenvalues: np.ndarray | None = None  # (B, k) at the solution, ascending

    @property
    def isolated(self) -> np.ndarray:
        return self.min_eigenvalues[:, 0] > ISOLATION_EIG


#: A minimum counts as isolated when the smallest Hessian eigenvalue exceeds this (absolute).
ISOLATION_EIG = 1e-7


def newton_solve(
    obj: LSObjective,
    theta_start,
    tol: float = 1e-10,
    max_iter: int = 100,
    n_eigs: int = 3,
    mu0: float = 1e-6,
) -> SolveResult:
    """Levenberg–Marquardt on the exact Hessian: θ ← θ − (∇²Q + μ_b I)⁻¹ ∇Q, batched over models.

    μ_b ≥ 0 adapts per model (÷10 after an accepted step, ×10 after a rejected one) and is kept above
    −λ_min(∇²Q) so every step is a descent direction; at an isolated minimum μ → 0 and the iteration is
    Newton's, converging quadratically to ‖∇Q‖ ≤ tol. A step is accepted when Q decreases, or when Q rises by
    no more than rounding and ‖∇Q‖ decreases (near the minimum Q is flat to machine precision).
    """
    theta = np.array(_as_batch(theta_start), dtype=np.float64, copy=True)
    B, d = theta.shape
    value, g = obj.value_and_grad(theta)
    gn = np.linalg.norm(g, axis=1)
    mu = np.full(B, mu0)
    it = 0
    sub = _Subset(obj)
    for it in range(1, max_iter + 1):
        active = gn > tol
        if not active.any():
            it -= 1
            break
        idx = np.flatnonzero(active)
        o = sub(idx, B)
        lam, Q = np.linalg.eigh(o.hessian(theta[idx]))
        m = mu[idx]
        floor = -lam[:, 0] + 1e-8 * np.maximum(1.0, np.abs(lam[:, -1]))
        shift = np.where(lam[:, 0] > 0, np.where(m > 1e-12, m, 0.0), np.maximum(m, floor))
        qg = np.einsum("bji,bj->bi", Q, g[idx])
        trial = theta[idx] - np.einsum("bij,bj->bi", Q, qg / (lam + shift[:, None]))
        value_t, g_t = o.value_and_grad(trial)
        gn_t = np.linalg.norm(g_t, axis=1)
        roundoff = 64 * np.finfo(float).eps * np.maximum(np.abs(value[idx]), 1e-300)
        ok = np.isfinite(value_t) & (
            (value_t < value[idx]) | ((value_t <= value[idx] + roundoff) & (gn_t < gn[idx]))
        )
        acc = idx[ok]
        theta[acc], value[acc], g[acc], gn[acc] = trial[ok], value_t[ok], g_t[ok], gn_t[ok]
        mu[acc] = mu[acc] / 10
        rej = idx[~ok]
        mu[rej] = np.minimum(np.maximum(mu[rej] * 10, 1e-8), 1e12)
        if (mu[idx] >= 1e12).all():
            break  # no step helps any remaining model at this precision
    lam = np.linalg.eigvalsh(obj.hessian(theta))
    return SolveResult(theta, value, gn, gn <= tol, it, tol, lam[:, : min(n_eigs, d)])


class _Subset:
    """Restricts a batched objective to a subset of its models (for the still-active ones)."""

    def __init__(self, obj: LSObjective):
        self.obj = obj

    def __call__(self, idx, B) -> LSObjective:
        o = self.obj

        def take(a, axis_len_ndim):
            if a is None:
                return None
            a = np.asarray(a)
            return a[idx] if a.ndim == axis_len_ndim else a

        if len(idx) == B:
            return o
        return LSObjective(
            o.model,
            o.u,
            take(o.t, 2),
            take(o.c, 2),
            take(o.mu, 1) if np.ndim(o.mu) == 1 else o.mu,
            take(o.center, 2),
        )
