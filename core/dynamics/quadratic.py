"""Quadratic families L_ε = (1 − ε) L_0 + ε L_1 — linear models, and the notes' abstract H = I model — with the
exact gradient flow, gradient descent's own closed form and the exact derivative d𝓔/dτ of a step
(docs/science.md §4, notes eq. 0.10).

L_{w(ε)} is affine in ε — L_ε = (1 − ε) L_0 + ε L_1 — and for a linear model each L_ε is a quadratic, so
∇L_ε(θ) = A_ε θ − b_ε with A_ε = (1 − ε) H_0 + ε H_1. For constant ε the flow is
θ(t) = e^{−A_ε t} θ_0 + (I − e^{−A_ε t}) θ̂_ε (core.linear.linear_flow, pseudo-inverse when A_ε is singular);
piecewise-constant schedules (steps) compose these closed forms exactly (:class:`QuadraticFamily`). The same
class holds the notes' abstract H = I model (H_0 = H_1 = I), used by the tests to reproduce — and correct — the
notes' optimal-step analysis.

The notes' optimal-step analysis for H = I, redone (tests/test_schedules.py checks every line numerically).
H = H_{−j} = I cannot come from deleting a data point (H − H_{−j} = φ_jφ_jᵀ w_j/n ≠ 0 unless z_j has no
influence); it is the abstract family ∇L_ε(θ) = θ − θ*_{−j} − εΔ, Δ = θ* − θ*_{−j}. Variation of constants:
θ(T) − θ*_{−j} = e^{−T}(θ_0 − θ*_{−j}) + Δ I(ε), I(ε) = ∫_0^T e^{−(T−u)} ε(u) du, so 𝓔 depends on ε only through
I(ε) ≥ I(1_[0,s)) = e^{−T}(e^s − 1), and is a convex quadratic in it. Hence the step at s is optimal in E_s iff
⟨θ_0 − θ*_{−j}, Δ⟩ ≥ −(e^s − 1)‖Δ‖² — true for the notes' example (X = I, y = 1, θ_0 = 0), false in general:
otherwise the best step is at τ* = log(1 − ⟨θ_0 − θ*_{−j}, Δ⟩/‖Δ‖²), and a linear decay with the same I ties
with it. The notes' general argument (ε = 0 maximises the instantaneous speed towards θ*_{−j}) fails already
here: the ε-term of the velocity, +εΔ, adds ε⟨Δ, u⟩ to that speed, positive when θ*_{−j} lies between θ and θ*.

The exact first-order test is :func:`step_time_derivative`: d𝓔(1_[0,τ))/dτ =
−(w_j/n) ⟨e^{−H_0(T−τ)}(θ_1(τ) − θ*_{−j}), e^{−H_0(T−τ)} ∇ℓ_j(θ_1(τ))⟩ (θ_1 the ε = 1 flow); a later step is
better when it is negative at τ = s. (For the notes' H = I model it reduces to e^{−2(T−τ)}⟨θ_1(τ) − θ*_{−j},
θ* − θ*_{−j}⟩; the notes' own derivative has a spurious factor τ and a sign error, see tests/test_schedules.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.dynamics.schedule import NUDGE, Constant, Schedule
from core.linear import linear_flow
from core.model import LinearFeatures


def _psd_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The minimum-norm solution of A θ = b (the pseudo-inverse solution when A is singular)."""
    return np.linalg.lstsq(A, b, rcond=None)[0]


@dataclass(frozen=True)
class QuadraticFamily:
    """L_ε(θ) = (1 − ε) L_0(θ) + ε L_1(θ) with quadratic L_1 (Hessian H_1, minimiser θ*) and L_0 (H_0, θ*_{−j}):
    ∇L_ε(θ) = A_ε θ − b_ε, A_ε = (1 − ε) H_0 + ε H_1, b_ε = (1 − ε) H_0 θ*_{−j} + ε H_1 θ*.

    For a linear model on data (``from_linear_model``) this is exactly L_{w(ε)} of docs/science.md §1–§2 (L_w is
    affine in w_j): H_1 = Φᵀ diag(w) Φ / n + κI, H_0 the same with w_j = 0 (n unchanged). With H_0 = H_1 = I
    it is the notes' "H = I" model of the optimal-step analysis.
    """

    H1: np.ndarray
    theta_star: np.ndarray
    H0: np.ndarray
    theta_star_del: np.ndarray

    def __post_init__(self):
        for name in ("H1", "theta_star", "H0", "theta_star_del"):
            object.__setattr__(self, name, np.array(getattr(self, name), dtype=np.float64))

    @property
    def d(self) -> int:
        return self.theta_star.shape[0]

    @classmethod
    def from_linear_model(cls, model: LinearFeatures, x, y, w, kappa: float, j: int) -> QuadraticFamily:
        Phi = model.features(x)
        n, p = Phi.shape
        w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
        w0 = w.copy()
        w0[j] = 0.0
        y = np.asarray(y, dtype=np.float64)

        def quad(wv):
            H = Phi.T @ (wv[:, None] * Phi) / n + kappa * np.eye(p)
            # the minimiser from the weighted rows [√w Φ; √(nκ) I] (no squared condition number); lstsq's
            # minimum-norm solution is H⁺ Φᵀ W y / n, the pseudo-inverse one, when H is singular
            sw = np.sqrt(wv)
            rows = np.vstack([sw[:, None] * Phi, np.sqrt(n * kappa) * np.eye(p)])
            rhs = np.concatenate([sw * y, np.zeros(p)])
            return H, np.linalg.lstsq(rows, rhs, rcond=None)[0]

        H1, t1 = quad(w)
        H0, t0 = quad(w0)
        return cls(H1, t1, H0, t0)

    def A(self, eps: float) -> np.ndarray:
        return (1.0 - eps) * self.H0 + eps * self.H1

    def minimiser(self, eps: float) -> np.ndarray:
        """θ̂_ε = A_ε⁺ b_ε (pseudo-inverse when A_ε is singular); the stored θ*, θ*_{−j} at ε = 1, 0."""
        if eps == 1.0:
            return self.theta_star
        if eps == 0.0:
            return self.theta_star_del
        b = (1.0 - eps) * self.H0 @ self.theta_star_del + eps * self.H1 @ self.theta_star
        return _psd_solve(self.A(eps), b)

    def grad(self, theta: np.ndarray, eps: np.ndarray) -> np.ndarray:
        """∇L_ε(θ) for a batch: theta (B, d), eps (B,)."""
        g0 = (theta - self.theta_star_del) @ self.H0.T
        g1 = (theta - self.theta_star) @ self.H1.T
        e = np.asarray(eps, dtype=np.float64)[:, None]
        return (1.0 - e) * g0 + e * g1


def closed_form_flow(family: QuadraticFamily, theta0s, schedule, times) -> np.ndarray:
    """The exact gradient flow of a quadratic family under a constant ε (a number) or a piecewise-constant
    schedule (steps, constants, flat drawn schedules), at the given times: (len(times), P, d).

    On each piece [a, b) with constant ε: θ(t) = e^{−A_ε(t−a)} θ(a) + (I − e^{−A_ε(t−a)}) θ̂_ε
    (core.linear.linear_flow, notes eq. 0.10); pieces are composed in order.
    """
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    theta = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    if np.any(times < 0):
        raise ValueError("times must be ≥ 0")
    horizon = float(times.max()) if times.size else 0.0
    if not isinstance(schedule, Schedule):
        schedule = Constant(float(schedule))
    pieces = schedule.constant_pieces(horizon) if horizon > 0 else []
    out = np.empty((times.size, *theta.shape))
    out[times == 0] = theta
    for a, b, e in pieces:
        inside = (times > a) & (times <= b)  # θ is continuous, so a break time may belong to either piece
        H, th = family.A(e), family.minimiser(e)
        if inside.any():
            out[inside] = linear_flow(H, theta, th, times[inside] - a)
        theta = linear_flow(H, theta, th, b - a)
    return out


def gd_closed_form(family: QuadraticFamily, theta0s, schedule, lr: float, steps: int) -> np.ndarray:
    """Gradient descent's own exact solution on a quadratic family: with ε_k = ε(t_k) (the flow's rule),
    θ_{k+1} = θ̂_{ε_k} + (I − η A_{ε_k})(θ_k − θ̂_{ε_k}), so on a run of m steps with one ε,
    θ ← θ̂_ε + (I − ηA_ε)^m (θ − θ̂_ε) (matrix powers; an independent check of the GD loop). Returns (P, d)."""
    theta = np.atleast_2d(np.asarray(theta0s, dtype=np.float64)).copy()
    if not isinstance(schedule, Schedule):
        schedule = Constant(float(schedule))
    eps = schedule.eps((np.arange(steps) + NUDGE) * lr)
    k = 0
    d = family.d
    while k < steps:
        m = 1
        while k + m < steps and eps[k + m] == eps[k]:
            m += 1
        th = family.minimiser(eps[k])
        M = np.linalg.matrix_power(np.eye(d) - lr * family.A(eps[k]), m)
        theta = th + (theta - th) @ M.T
        k += m
    return theta


def step_time_derivative(family: QuadraticFamily, theta0s, tau: float, T: float) -> np.ndarray:
    """d𝓔(1_[0,τ))/dτ for a quadratic family, exactly, (P,):
    with g(τ) = e^{−H_0(T−τ)}(θ_1(τ) − θ*_{−j}) and θ_1 the ε = 1 flow, g'(τ) = e^{−H_0(T−τ)}(∇L_0 − ∇L_1)(θ_1(τ)),
    so d𝓔/dτ = ⟨g, g'⟩. For data, ∇L_0 − ∇L_1 = −(w_j/n) ∇ℓ_j. Negative at τ = s ⇔ a later step does better."""
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    th1 = closed_form_flow(family, theta0s, 1.0, [tau])[0]
    diff = family.grad(th1, np.zeros(len(th1))) - family.grad(th1, np.ones(len(th1)))
    lam, Q = np.linalg.eigh(family.H0)
    E = (Q * np.exp(-lam * (T - tau))) @ Q.T
    g = (th1 - family.theta_star_del) @ E.T
    gp = diff @ E.T
    return np.einsum("pd,pd->p", g, gp)
