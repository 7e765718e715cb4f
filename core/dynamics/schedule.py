"""Deletion schedules ε(t) — steps, constants, linear and exponential decays, drawn piecewise-linear schedules —
their JSON form and short text form, and the step grid of the flow (docs/science.md §4; notes "Epsilon dynamic",
eqs. 0.9–0.12).

Conventions fixed here (and why):
- Every schedule is right-continuous: a step 1_[0,τ) is 1 before τ and 0 from τ on. The flow depends on ε
  only almost everywhere, so this is the notes' 1_[0,τ]; right-continuity makes gradient descent exact:
  GD step k (θ_k → θ_{k+1}) uses ε(t_k), so a step at τ = mη gives exactly m steps with ε = 1 — the
  delete-at-time-s path θ(t, s) of eq. 0.9 (train with ε = 1 until s, then with ε = 0); a step between grid
  points, mη < τ < (m + 1)η, gives m + 1 steps with ε = 1 (⌈τ/η⌉). ε is read at
  t_k + 1e-9 η (:data:`NUDGE`), i.e. just inside [t_k, t_{k+1}), so that a jump placed on the grid lands on
  the right step despite the rounding of kη. RK4 reads its stages at t_k⁺, t_k + η/2 and t_{k+1}⁻ (the left
  limit, :meth:`Schedule.eps_left`), so it is fourth order on every step where ε is smooth; it stays fourth
  order overall when each jump of ε lies on the step grid (scans snap their jump times to the grid for this
  reason).
- The class E_s = {ε : ε = 1 on [0, s], ε = 0 on [T, ∞)} is checked up to null sets (``in_class``). The
  criterion 𝓔(ε) = ½‖θ(T) − θ*_{−j}‖² (notes eq. 0.11) only sees ε on [0, T): the condition "ε = 0 from T
  on" never changes θ(T). The exponential decay ε(t) = e^{−r(t−s)} on [s, T) is therefore cut to 0 at T
  (it never reaches 0 itself) — that cut is what puts it in E_s, and it does not change 𝓔.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: ε is read this fraction of a step inside each step interval (module docstring).
NUDGE = 1e-9


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
