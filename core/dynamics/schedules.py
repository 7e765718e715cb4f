"""Deletion schedules ε(t), the gradient flow they drive, the criterion 𝓔(ε) and the notes' Figure 4
(docs/science.md §4; notes "Epsilon dynamic", eqs. 0.9–0.12).

The flow. For a deleted point j and a schedule ε(t), the weights are w(ε) = (w_1, …, ε w_j, …, w_n) and

    dθ/dt = −∇L_{w(ε(t))}(θ),   θ(0) = θ_0,                                              (notes eq. 0.12)

with L_w of docs/science.md §1 (mean loss, weight decay κ). It is integrated by gradient descent with step η at
times t_k = kη (the app's discretisation, docs/science.md §4) or, optionally, by classical RK4 with the same step.
Everything is batched over (schedule × initial point): one loop over time for all of them, per-model weight
vectors changing at every step.

Conventions fixed here (and why):
- Every schedule is right-continuous: a step 1_[0,τ) is 1 before τ and 0 from τ on. The flow depends on ε
  only almost everywhere, so this is the notes' 1_[0,τ]; right-continuity makes gradient descent exact:
  GD step k (θ_k → θ_{k+1}) uses ε(t_k), so a step at τ = mη gives exactly m steps with ε = 1 — the
  delete-at-time-s path θ(t, s) of eq. 0.9 (train with ε = 1 until s, then with ε = 0); a step between grid
  points, mη < τ < (m + 1)η, gives m + 1 steps with ε = 1 (⌈τ/η⌉). ε is read at
  t_k + 1e-9 η, i.e. just inside [t_k, t_{k+1}), so that a jump placed on the grid lands on the right step
  despite the rounding of kη. RK4 reads its stages at t_k⁺, t_k + η/2 and t_{k+1}⁻ (the left limit), so it
  is fourth order on every step where ε is smooth; it stays fourth order overall when each jump of ε lies
  on the step grid (scans snap their jump times to the grid for this reason).
- The class E_s = {ε : ε = 1 on [0, s], ε = 0 on [T, ∞)} is checked up to null sets (``in_class``). The
  criterion 𝓔(ε) = ½‖θ(T) − θ*_{−j}‖² (notes eq. 0.11) only sees ε on [0, T): the condition "ε = 0 from T
  on" never changes θ(T). The exponential decay ε(t) = e^{−r(t−s)} on [s, T) is therefore cut to 0 at T
  (it never reaches 0 itself) — that cut is what puts it in E_s, and it does not change 𝓔.
- θ*_{−j} is the leave-one-out minimiser: exact (least squares on the weighted rows, the minimum-norm =
  pseudo-inverse solution when singular) for linear models; for MLPs argmin L_{−j} solved by ``newton_solve`` from θ̂ to ‖∇‖ ≤ 1e-10
  (the warm-start LOO of docs/science.md §3, the branch influence functions describe).
- The function-space twin of 𝓔 is 𝓔_f = ½ mean_i (f(θ(T); x_i) − f(θ*_{−j}; x_i))² over all n training
  inputs (the deleted point's input included), the primary metric of docs/science.md §3.

Linear models (docs/science.md §4, notes eq. 0.10). L_{w(ε)} is affine in ε — L_ε = (1 − ε) L_0 + ε L_1 — and for a
linear model each L_ε is a quadratic, so ∇L_ε(θ) = A_ε θ − b_ε with A_ε = (1 − ε) H_0 + ε H_1. For constant ε
the flow is θ(t) = e^{−A_ε t} θ_0 + (I − e^{−A_ε t}) θ̂_ε (core.linear.linear_flow, pseudo-inverse when A_ε
is singular); piecewise-constant schedules (steps) compose these closed forms exactly
(:class:`QuadraticFamily`). The same class holds the notes' abstract H = I model (H_0 = H_1 = I), used by the
tests to reproduce — and correct — the notes' optimal-step analysis.

The notes' optimal-step analysis for H = I, redone (tests/test_schedules.py checks every line numerically).
H = H_{−j} = I cannot come from deleting a data point (H − H_{−j} = φ_jφ_jᵀ w_j/n ≠ 0 unless z_j has no
influence); it is the abstract family ∇L_ε(θ) = θ − θ*_{−j} − εΔ, Δ = θ* − θ*_{−j}. Variation of constants:
θ(T) − θ*_{−j} = e^{−T}(θ_0 − θ*_{−j}) + Δ I(ε), I(ε) = ∫_0^T e^{−(T−u)} ε(u) du, so 𝓔 depends on ε only through
I(ε) ≥ I(1_[0,s)) = e^{−T}(e^s − 1), and is a convex quadratic in it. Hence the step at s is optimal in E_s iff
⟨θ_0 − θ*_{−j}, Δ⟩ ≥ −(e^s − 1)‖Δ‖² — true for the notes' example (X = I, y = 1, θ_0 = 0), false in general:
otherwise the best step is at τ* = log(1 − ⟨θ_0 − θ*_{−j}, Δ⟩/‖Δ‖²), and a linear decay with the same I ties
with it. The notes' general argument (ε = 0 maximises the instantaneous speed towards θ*_{−j}) fails already
here: the ε-term of the velocity, +εΔ, adds ε⟨Δ, u⟩ to that speed, positive when θ*_{−j} lies between θ and θ*.

The notes' Figure 4 (:func:`figure4_problem`, :func:`phase_portrait`). The notes do not give their X ∈ R^{20×2};
Influence Lab's is fixed here: 19 points x_i = sorted U(−1.5, 1.5), y_i = 0.5 + x_i + 0.1·N(0, 1) (drawn in that
order from ``np.random.default_rng(4)``) plus a high-leverage outlier z_19 = (2, −1), the deleted point j = 19;
the linear model f = θ_1 + θ_2 x (features (1, x), X = [1, x]), κ = 0; s = 0.5, T = 2, η = 0.01. Then
θ* ≈ (0.439, 0.711) and θ*_{−j} ≈ (0.472, 1.020) (‖θ* − θ*_{−j}‖ ≈ 0.31, visible at the scale of the flows).
Findings (exact closed forms for steps, RK4 for decays; GD with η = 0.01 gives the same conclusions, tested):
- θ_0 = (0, 0) (the notes' example start): the step at s is optimal among the scanned steps τ ∈ [s, T) and
  linear decays t_1 ∈ [s, T]: 𝓔(1_[0,0.5]) = 0.0158, 𝓔 rises with τ (0.0219 at τ = 1) and with t_1 (linear
  decay to T: 0.0308); d𝓔/dτ(s) = +0.0079.
- θ_0 = (3, 3): as in the notes' Figure 4(b, c), deleting at τ = 1 beats deleting at s = 0.5:
  𝓔(1_[0,0.5]) = 0.0306, 𝓔(1_[0,1]) = 0.0296, best step τ ≈ 0.97 (𝓔 ≈ 0.0296); here even a linear decay
  (t_1 = 1.75, 𝓔 ≈ 0.0289) and the exponential decay with r = 2 (𝓔 ≈ 0.0281) beat every step, against the
  notes' "step functions are better than polynomial decay".
- θ_0 = (0, 3): a strong counterexample: 𝓔(1_[0,0.5]) = 0.147, best step τ ≈ 1.86 with 𝓔 ≈ 0.096.
The exact first-order test is :func:`step_time_derivative`: d𝓔(1_[0,τ))/dτ =
−(w_j/n) ⟨e^{−H_0(T−τ)}(θ_1(τ) − θ*_{−j}), e^{−H_0(T−τ)} ∇ℓ_j(θ_1(τ))⟩ (θ_1 the ε = 1 flow); a later step is
better when it is negative at τ = s. (For the notes' H = I model it reduces to e^{−2(T−τ)}⟨θ_1(τ) − θ*_{−j},
θ* − θ*_{−j}⟩; the notes' own derivative has a spurious factor τ and a sign error, see tests/test_schedules.py.)
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.linear import linear_flow
from core.model import LinearFeatures, Model
from core.objective import newton_solve, training_objective
from core.progress import Progress

#: ε is read this fraction of a step inside each step interval (see the module docstring).
_NUDGE = 1e-9
#: Tolerance of the LOO minimiser (docs/science.md §1 "converged").
LOO_TOL = 1e-10
INTEGRATORS = ("gd", "rk4")


# ----------------------------------------------------------------------------------------------------------
# Schedules
# ----------------------------------------------------------------------------------------------------------


def _num(v, name: str, lo: float = -np.inf, hi: float = np.inf, allow_inf: bool = False) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if np.isnan(v) or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {v}")
    if not lo <= v <= hi:
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}], got {v:g}")
    return v


class Schedule:
    """A deletion schedule t ↦ ε(t) ∈ [0, 1], right-continuous (module docstring). Subclasses are frozen
    dataclasses with a JSON form ``describe()`` / ``Schedule.from_dict``."""

    kind: str = ""

    def eps(self, t) -> np.ndarray:
        """ε(t), vectorised over t (any shape); right-continuous."""
        raise NotImplementedError

    def eps_left(self, t) -> np.ndarray:
        """The left limit ε(t⁻) (equal to ε(t) where ε is continuous)."""
        return self.eps(t)

    def describe(self) -> dict:
        raise NotImplementedError

    def label(self) -> str:
        raise NotImplementedError

    def constant_pieces(self, T: float) -> list[tuple[float, float, float]]:
        """[(a, b, ε), …] covering [0, T) where ε is constant on each [a, b) — for the exact closed forms.
        ValueError for a schedule that is not piecewise constant on [0, T)."""
        raise ValueError(f"{self.label()} is not piecewise constant; integrate it numerically")

    def in_class(self, s: float, T: float) -> bool:
        """ε ∈ E_s: ε = 1 a.e. on [0, s] and ε = 0 on [T, ∞) (docs/science.md §4)."""
        raise NotImplementedError

    @staticmethod
    def from_dict(d: dict) -> Schedule:
        """Inverse of ``describe()``; ValueError names a bad field."""
        if not isinstance(d, dict) or "kind" not in d:
            raise ValueError(f"a schedule must be a dict with a 'kind', got {d!r}")
        cls = _KINDS.get(d["kind"])
        if cls is None:
            raise ValueError(f"unknown schedule kind {d['kind']!r}; choose one of {', '.join(_KINDS)}")
        return cls._from_dict(d)


def _pieces_from_breaks(breaks, values, T):
    """Constant pieces on [0, T) from sorted break times and the value on each interval between them."""
    edges = [0.0] + [b for b in breaks if 0.0 < b < T] + [float(T)]
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            out.append((a, b, float(values(a))))
    return out


@dataclass(frozen=True)
class Constant(Schedule):
    """ε(t) = v for all t (v = 1: training; v = 0: retraining without z_j; other v: the homotopy θ(t, v))."""

    value: float = 1.0
    kind = "constant"

    def __post_init__(self):
        object.__setattr__(self, "value", _num(self.value, "ε", 0.0, 1.0))

    def eps(self, t):
        return np.full(np.shape(t), self.value)

    def describe(self):
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def _from_dict(cls, d):
        return cls(d.get("value", 1.0))

    def label(self):
        return f"ε ≡ {self.value:g}"

    def constant_pieces(self, T):
        return [(0.0, float(T), self.value)] if T > 0 else []

    def in_class(self, s, T):
        return (self.value == 1.0 or s <= 0) and (self.value == 0.0 or np.isinf(T))


@dataclass(frozen=True)
class Step(Schedule):
    """ε = 1_[0,τ)(t): delete at time τ (notes eq. 0.9 with s = τ)."""

    tau: float
    kind = "step"

    def __post_init__(self):
        object.__setattr__(self, "tau", _num(self.tau, "τ", 0.0))

    def eps(self, t):
        return (np.asarray(t, dtype=np.float64) < self.tau).astype(np.float64)

    def eps_left(self, t):
        return (np.asarray(t, dtype=np.float64) <= self.tau).astype(np.float64)

    def describe(self):
        return {"kind": self.kind, "tau": self.tau}

    @classmethod
    def _from_dict(cls, d):
        return cls(d["tau"])

    def label(self):
        return f"step τ={self.tau:g}"

    def constant_pieces(self, T):
        return _pieces_from_breaks([self.tau], lambda a: self.eps(a), T)

    def in_class(self, s, T):
        return s <= self.tau <= T


@dataclass(frozen=True)
class LinearDecay(Schedule):
    """ε = 1 on [0, s), 1 − (t − s)/(t_1 − s) on [s, t_1), 0 from t_1 on (the notes' ε_lin,t_1);
    t_1 = s is the step at s."""

    s: float
    t1: float
    kind = "linear"

    def __post_init__(self):
        object.__setattr__(self, "s", _num(self.s, "s", 0.0))
        object.__setattr__(self, "t1", _num(self.t1, "t_1", self.s))

    def eps(self, t):
        t = np.asarray(t, dtype=np.float64)
        if self.t1 == self.s:
            return (t < self.s).astype(np.float64)
        return np.clip(1.0 - (t - self.s) / (self.t1 - self.s), 0.0, 1.0)

    def eps_left(self, t):
        if self.t1 == self.s:
            return (np.asarray(t, dtype=np.float64) <= self.s).astype(np.float64)
        return self.eps(t)

    def describe(self):
        return {"kind": self.kind, "s": self.s, "t1": self.t1}

    @classmethod
    def _from_dict(cls, d):
        return cls(d["s"], d["t1"])

    def label(self):
        return f"linear {self.s:g}→{self.t1:g}"

    def constant_pieces(self, T):
        if self.t1 == self.s:
            return _pieces_from_breaks([self.s], lambda a: self.eps(a), T)
        if T <= self.s:
            return [(0.0, float(T), 1.0)] if T > 0 else []
        return super().constant_pieces(T)

    def in_class(self, s, T):
        return self.s >= s and self.t1 <= T


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """ε = 1 on [0, s), e^{−r(t − s)} on [s, T), 0 from T on (the cut at T puts it in E_s; module docstring).
    T = inf means no cut."""

    s: float
    rate: float
    T: float = np.inf
    kind = "exponential"

    def __post_init__(self):
        object.__setattr__(self, "s", _num(self.s, "s", 0.0))
        object.__setattr__(self, "rate", _num(self.rate, "rate r", 0.0))
        object.__setattr__(self, "T", _num(self.T, "T", self.s, allow_inf=True))

    def eps(self, t):
        t = np.asarray(t, dtype=np.float64)
        e = np.exp(-self.rate * np.maximum(t - self.s, 0.0))
        return np.where(t < self.T, e, 0.0)

    def eps_left(self, t):
        t = np.asarray(t, dtype=np.float64)
        e = np.exp(-self.rate * np.maximum(t - self.s, 0.0))
        return np.where(t <= self.T, e, 0.0)

    def describe(self):
        return {"kind": self.kind, "s": self.s, "rate": self.rate, "T": None if np.isinf(self.T) else self.T}

    @classmethod
    def _from_dict(cls, d):
        T = d.get("T")
        return cls(d["s"], d["rate"], np.inf if T is None else T)

    def label(self):
        return f"exp s={self.s:g} r={self.rate:g}"

    def constant_pieces(self, T):
        if self.rate == 0.0 or T <= self.s:
            return _pieces_from_breaks([self.s, self.T], lambda a: self.eps(a), T)
        return super().constant_pieces(T)

    def in_class(self, s, T):
        return self.s >= s and self.T <= T


@dataclass(frozen=True)
class PiecewiseLinear(Schedule):
    """Linear interpolation through user points (t_k, ε_k), t_k non-decreasing (a repeated time is a jump,
    right-continuous: the later value holds at the jump time), ε = ε_0 before t_0 and ε_last after t_last."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    kind = "piecewise_linear"

    def __post_init__(self):
        times = tuple(_num(t, "a schedule time", 0.0) for t in np.atleast_1d(self.times).tolist())
        values = tuple(_num(v, "a schedule value ε", 0.0, 1.0) for v in np.atleast_1d(self.values).tolist())
        if len(times) == 0 or len(times) != len(values):
            raise ValueError("a drawn schedule needs as many times as values, and at least one point")
        if any(b < a for a, b in zip(times[:-1], times[1:])):
            raise ValueError("the times of a drawn schedule must be non-decreasing")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    def _eval(self, t, side):
        t = np.asarray(t, dtype=np.float64)
        tk = np.asarray(self.times)
        vk = np.asarray(self.values)
        # segment index: the last knot ≤ t (right-continuous) or < t (left limit)
        i = np.searchsorted(tk, t, side=side) - 1
        out = np.empty(t.shape)
        before = i < 0
        after = i >= len(tk) - 1
        mid = ~before & ~after
        out[before] = vk[0]
        out[after] = vk[-1]
        im = i[mid]
        a, b = tk[im], tk[im + 1]
        frac = (t[mid] - a) / np.where(b > a, b - a, 1.0)
        out[mid] = vk[im] + frac * (vk[im + 1] - vk[im])
        return out

    def eps(self, t):
        return self._eval(t, "right")

    def eps_left(self, t):
        return self._eval(t, "left")

    def describe(self):
        return {"kind": self.kind, "times": list(self.times), "values": list(self.values)}

    @classmethod
    def _from_dict(cls, d):
        return cls(tuple(d["times"]), tuple(d["values"]))

    def label(self):
        return "drawn (" + ", ".join(f"{t:g}:{v:g}" for t, v in zip(self.times, self.values)) + ")"

    def constant_pieces(self, T):
        tk, vk = self.times, self.values
        for k in range(len(tk) - 1):
            if tk[k + 1] > tk[k] and vk[k + 1] != vk[k] and tk[k] < T:
                return super().constant_pieces(T)
        return _pieces_from_breaks(list(tk), lambda a: self.eps(a), T)

    def in_class(self, s, T):
        # linear between knots: ε is constant c on an interval iff it is c at the interval's ends and at both
        # sides of every knot inside it
        inner = np.array([t for t in self.times if 0.0 < t < s])
        ones = (
            float(self.eps(0.0)) == 1.0
            and float(self.eps_left(s)) == 1.0
            and np.all(self.eps(inner) == 1.0)
            and np.all(self.eps_left(inner) == 1.0)
        )
        later = np.array([t for t in self.times if t > T])
        zeros = (
            float(self.eps(T)) == 0.0
            and self.values[-1] == 0.0
            and np.all(self.eps(later) == 0.0)
            and np.all(self.eps_left(later) == 0.0)
        )
        return bool(ones and zeros)


_KINDS: dict[str, type] = {
    "constant": Constant,
    "step": Step,
    "linear": LinearDecay,
    "exponential": ExponentialDecay,
    "piecewise_linear": PiecewiseLinear,
}


def parse_schedule(spec: str, s: float, T: float) -> Schedule:
    """A schedule from a short text form (CLI, GUI text box); s and T fill omitted fields.

    ``step[:TAU]`` (default τ = s), ``linear[:S]:T1`` / ``linear`` (s → T), ``exp[:S]:RATE`` (cut at T),
    ``const:V``, ``points:T0=E0,T1=E1,…`` (drawn, piecewise linear).
    """
    name, _, rest = spec.strip().partition(":")
    args = [a for a in rest.split(":") if a != ""] if rest else []
    try:
        if name == "step" and len(args) <= 1:
            return Step(float(args[0]) if args else s)
        if name == "linear" and len(args) <= 2:
            if len(args) == 2:
                return LinearDecay(float(args[0]), float(args[1]))
            return LinearDecay(s, float(args[0]) if args else T)
        if name in ("exp", "exponential") and 1 <= len(args) <= 2:
            start, rate = (s, float(args[0])) if len(args) == 1 else (float(args[0]), float(args[1]))
            return ExponentialDecay(start, rate, T)
        if name in ("const", "constant") and len(args) == 1:
            return Constant(float(args[0]))
        if name == "points" and rest:
            pts = [p.split("=") for p in rest.split(",")]
            if any(len(p) != 2 for p in pts):
                raise ValueError("points must be written T=E separated by commas")
            return PiecewiseLinear(tuple(float(p[0]) for p in pts), tuple(float(p[1]) for p in pts))
    except ValueError as exc:
        raise ValueError(f"schedule {spec!r}: {exc}") from None
    raise ValueError(
        f"schedule {spec!r} not understood; use step[:TAU], linear[:S]:T1, exp[:S]:RATE, const:V "
        "or points:T0=E0,T1=E1,…"
    )


def eps_curves(schedules: Sequence[Schedule], times) -> np.ndarray:
    """ε_k(t) of every schedule on a time grid, (S, len(times)) — for plotting."""
    return np.stack([sc.eps(np.asarray(times, dtype=np.float64)) for sc in schedules])


def step_grid(lr: float, t: float) -> tuple[int, float]:
    """(m, mη): the number of GD steps nearest to time t and the time they reach."""
    m = int(round(float(t) / lr))
    return m, m * lr


# ----------------------------------------------------------------------------------------------------------
# Quadratic families (linear models, and the notes' abstract H = I model)
# ----------------------------------------------------------------------------------------------------------


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
    eps = schedule.eps((np.arange(steps) + _NUDGE) * lr)
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


# ----------------------------------------------------------------------------------------------------------
# The batched flow
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowSnapshot:
    step: int
    time: float
    theta: np.ndarray  # (S, P, d)


@dataclass
class ScheduleFlow:
    """Trajectories of dθ/dt = −∇L_{w(ε(t))}(θ) for every (schedule, θ_0): ``theta`` is (K, S, P, d) at the
    snapshot ``steps`` (times ``steps·lr``), always including step 0 and the last step."""

    schedules: tuple[Schedule, ...]
    theta0s: np.ndarray  # (P, d)
    lr: float
    integrator: str
    steps: np.ndarray  # (K,)
    times: np.ndarray  # (K,)
    theta: np.ndarray  # (K, S, P, d)
    eps: np.ndarray  # (K, S): ε at the snapshot times
    diverged: np.ndarray  # (S, P) θ left the finite numbers or moved > DIVERGENCE_FACTOR(1 + ‖θ_0‖)

    @property
    def final(self) -> np.ndarray:
        """θ(T) for every (schedule, θ_0), (S, P, d)."""
        return self.theta[-1]

    @property
    def T(self) -> float:
        return float(self.times[-1])


def _integrate(
    grad: Callable[[np.ndarray, np.ndarray], np.ndarray],
    schedules: Sequence[Schedule],
    theta0s: np.ndarray,
    lr: float,
    steps: int,
    snapshot_every: int,
    integrator: str,
) -> Generator[Progress, None, ScheduleFlow]:
    """One batched loop over time for all (schedule × θ_0) models; model b = s·P + p."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"unknown integrator {integrator!r}; choose one of {', '.join(INTEGRATORS)}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the step η must be a positive number, got {lr}")
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}")
    schedules = tuple(schedules)
    if not schedules:
        raise ValueError("no schedules to integrate")
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    S, (P, d) = len(schedules), theta0s.shape
    every = int(snapshot_every) if snapshot_every and snapshot_every > 0 else max(1, steps)
    k_grid = np.arange(steps, dtype=np.float64)
    t_start = (k_grid + _NUDGE) * lr
    # ε tables (S, steps), repeated over the θ_0s to (B, steps); see the module docstring for the read times
    E0 = np.repeat(eps_curves(schedules, t_start), P, axis=0)
    if integrator == "rk4":
        Em = np.repeat(eps_curves(schedules, (k_grid + 0.5) * lr), P, axis=0)
        E1 = np.repeat(np.stack([sc.eps_left((k_grid + 1.0 - _NUDGE) * lr) for sc in schedules]), P, axis=0)
    theta = np.tile(theta0s, (S, 1))
    snaps, snap_steps = [theta.copy()], [0]
    yield_every = max(1, steps // 100)
    h = lr
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            if integrator == "gd":
                theta = theta - h * grad(theta, E0[:, k])
            else:
                k1 = grad(theta, E0[:, k])
                k2 = grad(theta - 0.5 * h * k1, Em[:, k])
                k3 = grad(theta - 0.5 * h * k2, Em[:, k])
                k4 = grad(theta - h * k3, E1[:, k])
                theta = theta - (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            step = k + 1
            if step % every == 0 or step == steps:
                snaps.append(theta.copy())
                snap_steps.append(step)
            if step % yield_every == 0 or step == steps:
                yield Progress(
                    step,
                    steps,
                    f"flow step {step}/{steps}",
                    FlowSnapshot(step, step * lr, theta.reshape(S, P, d).copy()),
                )
    steps_arr = np.array(snap_steps)
    times = steps_arr * lr
    traj = np.stack(snaps).reshape(len(snaps), S, P, d)
    return ScheduleFlow(
        schedules=schedules,
        theta0s=theta0s,
        lr=float(lr),
        integrator=integrator,
        steps=steps_arr,
        times=times,
        theta=traj,
        eps=eps_curves(schedules, (steps_arr + _NUDGE) * lr).T,  # the ε in effect from each snapshot on
        diverged=_diverged(traj[0], traj[-1]),
    )


#: A flow whose θ moved more than this factor times (1 + ‖θ_0‖) has diverged (step η too large).
DIVERGENCE_FACTOR = 1e8


def _diverged(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        moved = np.linalg.norm(end - start, axis=-1)
        bad = ~np.isfinite(end).all(axis=-1) | (
            moved > DIVERGENCE_FACTOR * (1 + np.linalg.norm(start, axis=-1))
        )
    return bad


def _model_grad(model: Model, x, y, w, kappa: float, j: int, B: int):
    """∇L_{w(ε)} for B models whose only differing weight is w_j = ε·w_j (preallocated weights)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    base = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    if not 0 <= j < n:
        raise ValueError(f"the deleted point index must lie in 0..{n - 1}, got {j}")
    W = np.tile(base, (B, 1))
    wj = base[j]

    def grad(theta, eps):
        W[:, j] = wj * eps
        return model.loss_and_grad(theta, x, y, W, kappa)[1]

    return grad


def schedule_flow(
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    schedules: Sequence[Schedule],
    lr: float,
    steps: int,
    snapshot_every: int = 0,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleFlow]:
    """dθ/dt = −∇L_{w(ε(t))}(θ) from every θ_0 (P, d) under every schedule, to T = steps·η, by GD (t = kη,
    step k uses ε(t_k)) or RK4, in one batched loop (docs/science.md §4, notes eq. 0.12). Snapshots every
    ``snapshot_every`` steps (0: only the start and the end). Generator (Progress) returning a ScheduleFlow."""
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    B = len(schedules) * theta0s.shape[0]
    grad = _model_grad(model, x, y, w, kappa, int(j), B)
    return (yield from _integrate(grad, schedules, theta0s, lr, steps, snapshot_every, integrator))


def quadratic_schedule_flow(
    family: QuadraticFamily,
    theta0s,
    schedules: Sequence[Schedule],
    lr: float,
    steps: int,
    snapshot_every: int = 0,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleFlow]:
    """:func:`schedule_flow` for a :class:`QuadraticFamily` (∇L_ε = A_ε θ − b_ε)."""
    return (yield from _integrate(family.grad, schedules, theta0s, lr, steps, snapshot_every, integrator))


# ----------------------------------------------------------------------------------------------------------
# The criterion and the LOO target
# ----------------------------------------------------------------------------------------------------------


@dataclass
class LOOTarget:
    """θ*_{−j}, the minimiser of L_{−j} (docs/science.md §4 "θ(∞, 0)")."""

    theta: np.ndarray  # (d,)
    grad_norm: float
    converged: bool
    method: str  # "exact" (linear least squares) or "newton" (LM from θ̂)
    message: str = ""


def loo_target(model: Model, theta_hat, x, y, w, kappa: float, j: int, tol: float = LOO_TOL) -> LOOTarget:
    """θ*_{−j}: exact for a linear model (normal equations, pseudo-inverse if singular); for an MLP the
    minimiser of L_{−j} reached by Newton/LM (core.objective.newton_solve) from θ̂, to ‖∇L_{−j}‖ ≤ tol."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if not 0 <= j < n:
        raise ValueError(f"the deleted point index must lie in 0..{n - 1}, got {j}")
    w0 = np.ones(n) if w is None else np.array(w, dtype=np.float64)
    w0[j] = 0.0
    if isinstance(model, LinearFeatures):
        theta = QuadraticFamily.from_linear_model(model, x, y, w, kappa, j).theta_star_del
        gn = float(np.linalg.norm(model.grad(theta, x, y, w0, kappa)))
        return LOOTarget(theta, gn, True, "exact", "exact least-squares solution")
    res = newton_solve(training_objective(model, x, y, w0, kappa), theta_hat, tol=tol)
    gn = float(res.grad_norm[0])
    ok = bool(res.converged[0])
    msg = (
        f"‖∇L_−j‖ = {gn:.2e} ≤ {tol:g}"
        if ok
        else f"the LOO solve stopped at ‖∇L_−j‖ = {gn:.2e} > {tol:g} (smallest Hessian eigenvalues "
        f"{', '.join(f'{e:.3g}' for e in res.min_eigenvalues[0])}): the LOO minimum is degenerate"
    )
    return LOOTarget(res.theta[0], gn, ok, "newton", msg)


def criterion(theta_T, target) -> np.ndarray:
    """𝓔 = ½‖θ(T) − θ*_{−j}‖² over the last axis (notes eq. 0.11)."""
    diff = np.asarray(theta_T, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return 0.5 * np.einsum("...d,...d->...", diff, diff)


def criterion_function(model: Model, theta_T, target, x) -> np.ndarray:
    """𝓔_f = ½ mean_i (f(θ(T); x_i) − f(θ*_{−j}; x_i))² over the training inputs; shape theta_T.shape[:-1]."""
    theta_T = np.asarray(theta_T, dtype=np.float64)
    lead = theta_T.shape[:-1]
    f = model.predict(theta_T.reshape(-1, theta_T.shape[-1]), x)
    f0 = model.predict(np.asarray(target, dtype=np.float64), x)
    return (0.5 * np.mean((f - f0) ** 2, axis=1)).reshape(lead)


# ----------------------------------------------------------------------------------------------------------
# Scans of 𝓔 over step times and linear-decay end points
# ----------------------------------------------------------------------------------------------------------

#: 𝓔 values within this relative amount of the minimum count as ties (the step at s is "optimal").
TIE_RTOL = 1e-9


@dataclass
class ScheduleScan:
    """𝓔 over a one-parameter family of schedules in E_s, for every θ_0 (P of them).

    ``params`` (G,) are the step times τ (kind "step", τ ∈ [s, T)) or the decay end points t_1 (kind "linear",
    t_1 ∈ [s, T]); params[0] = s is the step at s in both. Best = argmin of 𝓔 (parameter space)."""

    kind: str
    s: float
    T: float
    params: np.ndarray  # (G,)
    schedules: tuple[Schedule, ...]
    criterion: np.ndarray  # (G, P)
    criterion_function: np.ndarray  # (G, P)
    theta_T: np.ndarray  # (G, P, d)

    @property
    def best_index(self) -> np.ndarray:
        return _nanargmin(self.criterion)

    @property
    def best_param(self) -> np.ndarray:
        return self.params[self.best_index]

    @property
    def best_criterion(self) -> np.ndarray:
        return np.take_along_axis(self.criterion, self.best_index[None], axis=0)[0]

    @property
    def step_at_s_criterion(self) -> np.ndarray:
        return self.criterion[0]

    @property
    def step_at_s_optimal(self) -> np.ndarray:
        """(P,) the step at s is (up to ties) the best schedule of the scan."""
        best = self.best_criterion
        return self.criterion[0] <= best + TIE_RTOL * np.maximum(np.abs(best), 1e-300)

    def best_schedules(self) -> list[Schedule]:
        return [self.schedules[i] for i in self.best_index]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "param_name": "tau" if self.kind == "step" else "t1",
            "params": self.params,
            "criterion": self.criterion.T,
            "criterion_function": self.criterion_function.T,
            "best_param": self.best_param,
            "best_criterion": self.best_criterion,
            "best_schedule": [sc.describe() for sc in self.best_schedules()],
            "step_at_s_criterion": self.step_at_s_criterion,
            "step_at_s_optimal": self.step_at_s_optimal,
        }


def _nanargmin(a: np.ndarray) -> np.ndarray:
    """argmin over axis 0 ignoring NaN (diverged flows); 0 where a column is all NaN."""
    return np.argmin(np.where(np.isnan(a), np.inf, a), axis=0)


def step_scan_schedules(s: float, T: float, lr: float, n: int = 21) -> tuple[np.ndarray, list[Schedule]]:
    """n step times τ = s + (T − s)k/n, k = 0..n−1 (so τ ∈ [s, T)), moved up to the GD grid (GD treats a step
    at τ as one at ⌈τ/η⌉η, so this is where it really happens, and τ ≥ s stays true), duplicates removed; and
    their Step schedules."""
    _check_s_T(s, T)
    raw = s + (T - s) * np.arange(int(n)) / int(n)
    taus = np.unique(np.ceil(raw / lr - 1e-9) * lr)
    taus = taus[taus < T - 0.5 * lr] if taus.size > 1 else taus
    return taus, [Step(t) for t in taus]


def linear_scan_schedules(s: float, T: float, n: int = 21) -> tuple[np.ndarray, list[Schedule]]:
    """n decay end points t_1 = s + (T − s)k/(n − 1), k = 0..n−1 (t_1 ∈ [s, T]; t_1 = s is the step at s)."""
    _check_s_T(s, T)
    t1s = np.linspace(s, T, max(2, int(n)))
    return t1s, [LinearDecay(s, t) for t in t1s]


def _check_s_T(s, T):
    if not (np.isfinite(s) and np.isfinite(T) and 0 <= s < T):
        raise ValueError(f"need 0 ≤ s < T, got s = {s}, T = {T}")


def _scan_from_flow(kind, s, T, params, scheds, theta_T, target, model, x) -> ScheduleScan:
    crit = criterion(theta_T, target)
    crit_f = (
        criterion_function(model, theta_T, target, x) if model is not None else np.full(crit.shape, np.nan)
    )
    return ScheduleScan(kind, float(s), float(T), np.asarray(params), tuple(scheds), crit, crit_f, theta_T)


def _steps_for(T: float, lr: float) -> int:
    steps, _ = step_grid(lr, T)
    if steps < 1 or abs(steps * lr - T) > 1e-9 * max(1.0, abs(T)):
        raise ValueError(f"T = {T:g} is not a whole number of steps of η = {lr:g}")
    return steps


def scan_step_time(
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    target,
    s: float,
    T: float,
    lr: float,
    n: int = 21,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleScan]:
    """𝓔(1_[0,τ)) for τ ∈ [s, T) (``step_scan_schedules``) and every θ_0, one batched flow."""
    taus, scheds = step_scan_schedules(s, T, lr, n)
    flow = yield from schedule_flow(
        model, theta0s, x, y, w, kappa, j, scheds, lr, _steps_for(T, lr), integrator=integrator
    )
    return _scan_from_flow("step", s, T, taus, scheds, flow.final, target, model, x)


def scan_linear_decay(
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    target,
    s: float,
    T: float,
    lr: float,
    n: int = 21,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleScan]:
    """𝓔(ε_lin,t_1) for t_1 ∈ [s, T] (``linear_scan_schedules``) and every θ_0, one batched flow."""
    t1s, scheds = linear_scan_schedules(s, T, n)
    flow = yield from schedule_flow(
        model, theta0s, x, y, w, kappa, j, scheds, lr, _steps_for(T, lr), integrator=integrator
    )
    return _scan_from_flow("linear", s, T, t1s, scheds, flow.final, target, model, x)


# ----------------------------------------------------------------------------------------------------------
# Everything at once (what the CLI and the Schedules panel show)
# ----------------------------------------------------------------------------------------------------------


@dataclass
class ScheduleAnalysis:
    """User schedules' flows + the two scans, from one batched loop.

    ``flow`` holds only the user schedules (with snapshots); ``criterion`` / ``criterion_function`` are their
    𝓔 and 𝓔_f (S, P); the scans are None when not asked for."""

    j: int
    s: float
    T: float
    target: LOOTarget
    flow: ScheduleFlow
    criterion: np.ndarray
    criterion_function: np.ndarray
    step_scan: ScheduleScan | None
    linear_scan: ScheduleScan | None
    messages: list[str] = field(default_factory=list)

    def candidates(self) -> tuple[list[Schedule], np.ndarray]:
        """Every evaluated schedule of E_s (user schedules in the class, then the scans) and its 𝓔, (C, P)."""
        scheds, rows = [], []
        for sc, row in zip(self.flow.schedules, self.criterion):
            if sc.in_class(self.s, self.T):
                scheds.append(sc)
                rows.append(row)
        for scan in (self.step_scan, self.linear_scan):
            if scan is not None:
                scheds += list(scan.schedules)
                rows += list(scan.criterion)
        P = self.flow.theta0s.shape[0]
        return scheds, np.array(rows).reshape(len(rows), P)

    def overall(self) -> list[dict]:
        """Per θ_0: the best schedule of E_s found (user + scans), its 𝓔, the step at s's 𝓔 and whether the step
        at s is optimal among them (ties within TIE_RTOL)."""
        scheds, crit = self.candidates()
        step_s = None
        if self.step_scan is not None:
            step_s = self.step_scan.criterion[0]
        else:
            for sc, row in zip(self.flow.schedules, self.criterion):
                if isinstance(sc, Step) and sc.tau == self.s:
                    step_s = row
        out = []
        for p in range(crit.shape[1]):
            if crit.shape[0] == 0:
                out.append({"best_schedule": None, "best_criterion": None})
                continue
            k = int(_nanargmin(crit[:, p]))
            best = float(crit[k, p])
            entry = {
                "best_schedule": scheds[k].describe(),
                "best_label": scheds[k].label(),
                "best_criterion": best,
            }
            if step_s is not None:
                entry["step_at_s_criterion"] = float(step_s[p])
                entry["step_at_s_optimal"] = bool(step_s[p] <= best + TIE_RTOL * max(abs(best), 1e-300))
            out.append(entry)
        return out


def analyze_schedules(
    model: Model,
    theta0s,
    x,
    y,
    w,
    kappa: float,
    j: int,
    schedules: Sequence[Schedule],
    s: float,
    T: float,
    lr: float,
    target: LOOTarget,
    n_scan: int = 21,
    snapshot_every: int = 0,
    integrator: str = "gd",
) -> Generator[Progress, None, ScheduleAnalysis]:
    """Flows of the user schedules (snapshots every ``snapshot_every`` steps), 𝓔 and 𝓔_f against
    ``target`` (see :func:`loo_target`), and — when n_scan > 0 — the step-time and linear-decay scans, all in
    one batched loop of (user + scan schedules) × θ_0s."""
    _check_s_T(s, T)
    steps = _steps_for(T, lr)
    schedules = list(schedules)
    taus, step_s = step_scan_schedules(s, T, lr, n_scan) if n_scan > 0 else (np.array([]), [])
    t1s, lin_s = linear_scan_schedules(s, T, n_scan) if n_scan > 0 else (np.array([]), [])
    every = snapshot_every or max(1, steps // 200)
    flow = yield from schedule_flow(
        model, theta0s, x, y, w, kappa, j, schedules + step_s + lin_s, lr, steps, every, integrator
    )
    S = len(schedules)
    theta_T = flow.final
    user = ScheduleFlow(
        schedules=tuple(schedules),
        theta0s=flow.theta0s,
        lr=flow.lr,
        integrator=integrator,
        steps=flow.steps,
        times=flow.times,
        theta=flow.theta[:, :S],
        eps=flow.eps[:, :S],
        diverged=flow.diverged[:S],
    )
    tgt = target.theta
    crit = criterion(theta_T[:S], tgt)
    crit_f = criterion_function(model, theta_T[:S], tgt, x)
    G = len(step_s)
    step_scan = linear_scan = None
    if n_scan > 0:
        step_scan = _scan_from_flow("step", s, T, taus, step_s, theta_T[S : S + G], tgt, model, x)
        linear_scan = _scan_from_flow("linear", s, T, t1s, lin_s, theta_T[S + G :], tgt, model, x)
    messages = []
    if flow.diverged.any():
        messages.append(
            f"{int(flow.diverged.sum())} flow(s) diverged (θ left the finite numbers): lower the step η"
        )
    bad = [sc.label() for sc in schedules if not sc.in_class(s, T)]
    if bad:
        messages.append(f"not in E_s (ε = 1 on [0, s], 0 from T): {', '.join(bad)}")
    if not target.converged:
        messages.append(target.message)
    return ScheduleAnalysis(
        int(j), float(s), float(T), target, user, crit, crit_f, step_scan, linear_scan, messages
    )


# ----------------------------------------------------------------------------------------------------------
# Phase portraits (the notes' Figure 4)
# ----------------------------------------------------------------------------------------------------------

#: The Figure-4 problem (module docstring): data, deleted point and times.
FIG4_SEED = 4
FIG4_N_CLEAN = 19
FIG4_OUTLIER = (2.0, -1.0)
FIG4_J = 19
FIG4_S = 0.5
FIG4_T = 2.0
FIG4_LR = 0.01
#: θ_0 for which the step at s is optimal among the scanned schedules, and two counterexamples.
FIG4_THETA0_STEP_OPTIMAL = (0.0, 0.0)
FIG4_THETA0_COUNTEREXAMPLE = (3.0, 3.0)
FIG4_THETA0_STRONG_COUNTEREXAMPLE = (0.0, 3.0)


@dataclass
class LinearPhaseProblem:
    """A linear problem f = θᵀφ(x) (for a phase portrait: 2 parameters, X = [1, x]) with its quadratic family."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    model: LinearFeatures
    kappa: float
    j: int
    s: float
    T: float
    lr: float
    family: QuadraticFamily
    name: str = ""

    @property
    def X(self) -> np.ndarray:
        return self.model.features(self.x)

    @property
    def theta_star(self) -> np.ndarray:
        return self.family.theta_star

    @property
    def theta_star_del(self) -> np.ndarray:
        return self.family.theta_star_del


def figure4_dataset():
    """The Figure-4 points as a core.points.dataset.Dataset (module docstring): 19 points on y = 0.5 + x with noise
    0.1 from ``default_rng(4)`` (x first, then the noise) and the outlier (2, −1) as point 19."""
    from core.points.dataset import Dataset

    rng = np.random.default_rng(FIG4_SEED)
    x = np.sort(rng.uniform(-1.5, 1.5, FIG4_N_CLEAN))
    y = 0.5 + x + 0.1 * rng.standard_normal(FIG4_N_CLEAN)
    x = np.append(x, FIG4_OUTLIER[0])
    y = np.append(y, FIG4_OUTLIER[1])
    teacher = {"kind": "function", "name": "linear", "intercept": 0.5, "slope": 1.0}
    return Dataset(x=x, y=y, name="figure4", teacher=teacher, corrupted=(FIG4_N_CLEAN,))


def figure4_problem(
    j: int = FIG4_J, s: float = FIG4_S, T: float = FIG4_T, lr: float = FIG4_LR
) -> LinearPhaseProblem:
    """The notes' Figure-4 setting in Influence Lab's form (module docstring): :func:`figure4_dataset`, linear
    features (1, x), κ = 0, delete point 19, s = 0.5, T = 2, η = 0.01."""
    data = figure4_dataset()
    if not 0 <= j < data.n:
        raise ValueError(f"the deleted point index must lie in 0..{data.n - 1}, got {j}")
    return linear_phase_problem(LinearFeatures(1), data.x, data.y, data.weight, 0.0, j, s, T, lr, "figure4")


def linear_phase_problem(model: LinearFeatures, x, y, w, kappa, j, s, T, lr, name="") -> LinearPhaseProblem:
    """A :class:`LinearPhaseProblem` from any data with a linear model (any number of parameters)."""
    fam = QuadraticFamily.from_linear_model(model, x, y, w, kappa, j)
    w = np.ones(len(x)) if w is None else np.asarray(w, dtype=np.float64)
    return LinearPhaseProblem(
        np.asarray(x, float), np.asarray(y, float), w, model, float(kappa), int(j), s, T, lr, fam, name
    )


def vector_field(
    model: Model,
    x,
    y,
    w,
    kappa: float,
    j: int,
    eps_values,
    center,
    dims: tuple[int, int],
    lo,
    hi,
    n_grid: int = 21,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """−∇L_{w(ε)} projected on two parameters (dims) on an n_grid × n_grid grid over [lo, hi] (2-vectors), the
    other parameters held at ``center`` (irrelevant when d = 2). Returns (axis_1 (G,), axis_2 (G,),
    field (E, G, G, 2)) with field[e, a, b] at (axis_1[b], axis_2[a]) (row = second parameter). One batched
    gradient evaluation."""
    eps_values = np.atleast_1d(np.asarray(eps_values, dtype=np.float64))
    center = np.asarray(center, dtype=np.float64)
    a, b = dims
    g1 = np.linspace(lo[0], hi[0], n_grid)
    g2 = np.linspace(lo[1], hi[1], n_grid)
    P2, P1 = np.meshgrid(g2, g1, indexing="ij")
    pts = np.tile(center, (n_grid * n_grid, 1))
    pts[:, a] = P1.ravel()
    pts[:, b] = P2.ravel()
    E = eps_values.size
    theta = np.tile(pts, (E, 1))
    grad = _model_grad(model, x, y, w, kappa, j, theta.shape[0])
    g = grad(theta, np.repeat(eps_values, n_grid * n_grid))
    field_ = -g[:, [a, b]].reshape(E, n_grid, n_grid, 2)
    return g1, g2, field_


@dataclass
class PhasePortrait:
    """Everything a Figure-4 panel draws: the :class:`ScheduleAnalysis` (flows of several schedules from
    several θ_0, 𝓔, the step / linear-decay scans), θ* and θ*_{−j} (``problem``), the vector fields −∇L_ε for
    ε = 1 and ε = 0 on a grid, exact 𝓔 for the piecewise-constant schedules and the exact d𝓔/dτ at τ = s."""

    problem: LinearPhaseProblem
    analysis: ScheduleAnalysis
    criterion_exact: np.ndarray  # (S, P) closed form, NaN where ε is not piecewise constant
    step_scan_exact: np.ndarray  # (G, P) closed-form 𝓔 of the scanned steps
    derivative_at_s: np.ndarray  # (P,) exact d𝓔(1_[0,τ))/dτ at τ = s
    grid_1: np.ndarray  # (G,) θ_1 values
    grid_2: np.ndarray  # (G,) θ_2 values
    field_eps: np.ndarray  # (E,) the ε of each field
    field: np.ndarray  # (E, G, G, 2), field[e, a, b] at (grid_1[b], grid_2[a])

    @property
    def flow(self) -> ScheduleFlow:
        return self.analysis.flow

    @property
    def criterion(self) -> np.ndarray:
        return self.analysis.criterion

    @property
    def step_scan(self) -> ScheduleScan:
        return self.analysis.step_scan

    @property
    def linear_scan(self) -> ScheduleScan:
        return self.analysis.linear_scan


def exact_criteria(family: QuadraticFamily, theta0s, schedules: Sequence[Schedule], T: float) -> np.ndarray:
    """𝓔 from the closed forms (:func:`closed_form_flow`) for every piecewise-constant schedule, (S, P);
    NaN for schedules without a closed form (decays)."""
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    out = np.full((len(schedules), len(theta0s)), np.nan)
    for k, sc in enumerate(schedules):
        try:
            th = closed_form_flow(family, theta0s, sc, [T])[0]
        except ValueError:
            continue
        out[k] = criterion(th, family.theta_star_del)
    return out


def default_figure4_schedules(s: float = FIG4_S, T: float = FIG4_T, lr: float = FIG4_LR) -> list[Schedule]:
    """The notes' Figure 4 panels: linear decay s → T (a), steps at s (b), at 2s (c) and late, at
    s + 2(T − s)/3 (d; "delay the deletion too much"), plus an exponential decay from s with rate 3/(T − s).
    Step times are snapped to the GD grid (exact for GD and fourth order for RK4)."""
    snap = lambda t: min(round(t / lr) * lr, T)  # noqa: E731
    return [
        LinearDecay(s, T),
        Step(s),
        Step(snap(2 * s)),
        Step(snap(s + 2 * (T - s) / 3)),
        ExponentialDecay(s, 3.0 / (T - s), T),
    ]


def phase_portrait(
    problem: LinearPhaseProblem,
    schedules: Sequence[Schedule] | None = None,
    theta0s=None,
    n_grid: int = 21,
    n_scan: int = 41,
    integrator: str = "gd",
    snapshot_every: int = 0,
    margin: float = 0.15,
) -> Generator[Progress, None, PhasePortrait]:
    """Phase-portrait data for a linear 2-parameter problem (the notes' Figure 4): one batched flow of
    (schedules + step scan + linear-decay scan) × θ_0s, closed forms for the piecewise-constant ones, and the
    vector fields −∇L_1, −∇L_0 on a grid spanning the θ_0s, θ* and θ*_{−j}."""
    if problem.family.d != 2:
        raise ValueError("a phase portrait needs a 2-parameter linear model (features (1, x))")
    schedules = list(
        default_figure4_schedules(problem.s, problem.T, problem.lr) if schedules is None else schedules
    )
    if theta0s is None:
        theta0s = np.array(
            [
                FIG4_THETA0_STEP_OPTIMAL,
                FIG4_THETA0_COUNTEREXAMPLE,
                FIG4_THETA0_STRONG_COUNTEREXAMPLE,
                (-2.0, -2.0),
            ]
        )
    theta0s = np.atleast_2d(np.asarray(theta0s, dtype=np.float64))
    pr = problem
    target = LOOTarget(pr.theta_star_del, 0.0, True, "exact", "exact least-squares solution")
    ana = yield from analyze_schedules(
        pr.model,
        theta0s,
        pr.x,
        pr.y,
        pr.w,
        pr.kappa,
        pr.j,
        schedules,
        pr.s,
        pr.T,
        pr.lr,
        target,
        n_scan,
        snapshot_every,
        integrator,
    )
    exact = exact_criteria(pr.family, theta0s, schedules, pr.T)
    step_exact = exact_criteria(pr.family, theta0s, ana.step_scan.schedules, pr.T) if n_scan > 0 else None
    pts = np.vstack([theta0s, pr.theta_star, pr.theta_star_del, ana.flow.theta.reshape(-1, 2)])
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    eps_f = np.array([1.0, 0.0])
    g1, g2, fld = vector_field(
        pr.model, pr.x, pr.y, pr.w, pr.kappa, pr.j, eps_f, np.zeros(2), (0, 1), lo - pad, hi + pad, n_grid
    )
    deriv = step_time_derivative(pr.family, theta0s, pr.s, pr.T)
    return PhasePortrait(
        problem=pr,
        analysis=ana,
        criterion_exact=exact,
        step_scan_exact=step_exact,
        derivative_at_s=deriv,
        grid_1=g1,
        grid_2=g2,
        field_eps=eps_f,
        field=fld,
    )
