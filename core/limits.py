"""Size limits: what Influence Lab refuses up front, with a message, instead of running out of memory.

The numbers are for the project's machine — 24 GiB of RAM and 2 cores, shared by the desktop app, a background
job or two and the operating system — and for the way the core computes: every analysis holds a *batch* of B
models at once, each evaluated on m inputs, as float64 arrays of B·m·d numbers (d the number of parameters),
and the exact-Hessian features hold B Hessians of d² numbers and factorise each of them many times.

Limits (the reasons in brackets; docs/limits.md lists them with what the user sees):

- ``MIN_POINTS`` = 2 ≤ n ≤ ``MAX_POINTS`` = 100,000 points [fewer make no regression and no leave-one-out; the
  loaders refuse more, and every analysis is at least O(n) models].
- d ≤ ``MAX_PARAMS`` = 200,000 parameters for any model [θ, its gradient and a few copies per model are
  then a few MB; session files hold several θ as JSON text, 64 MiB at most].
- d ≤ ``MAX_HESSIAN_PARAMS`` = 2,000 for the features that need the exact Hessian (the Newton / LM polish to
  ‖∇L‖ ≤ 1e-10, the influence function, the Newton estimate, the LM responses, the ε-path) [a d × d float64
  matrix is 32 MB at d = 2,000 and one eigendecomposition takes ≈ 3.4 s on one core of this machine (0.33 s at
  d = 1,000, 9 s at d = 3,000); a polish and an ε-path need hundreds of them, so beyond 2,000 one analysis
  runs for hours long before memory is the problem (at d ≈ 20,000 one matrix is 3.2 GB)].
- B·m·d (and B·d² for batched Hessians) ≤ ``MAX_BATCH_ELEMENTS`` = 2·10⁸ numbers [one such array is 1.6 GB;
  measured: ``attribute --methods loo`` peaks at ≈ 15 bytes per element of its largest batch (0.53 GB for
  B·m·d = 2.6·10⁷ at n = 800), so the limit keeps one job near 3–4 GB, a sixth of the machine].
- hidden layers ≤ ``MAX_HIDDEN_LAYERS`` = 16, widths ≤ ``MAX_WIDTH`` = 10,000, polynomial degree ≤
  ``MAX_DEGREE`` = 15 [a 1-D regression instrument: deeper nets only add Python-level loops; for x on [−2, 2]
  the condition number of XᵀX of the features (1, x, …, x^p) is ≈ 1e13 at p = 15 and ≈ 1e18 — singular in
  float64 — at p = 20].
- training steps ≤ ``MAX_STEPS`` = 10⁷ [a typo guard: 10⁷ gradient-descent steps of the default problem take a
  few minutes; unlearning keeps θ at every step].

Use :func:`check_problem_size` (raises :class:`LimitError`) or :func:`problem_size_error` (returns the message
or None) with a feature name from :data:`FEATURES` before starting a computation; the CLI does this for every
subcommand and the GUI can do the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MIN_POINTS = 2
MAX_POINTS = 100_000
MAX_PARAMS = 200_000
MAX_HESSIAN_PARAMS = 2_000
MAX_BATCH_ELEMENTS = 200_000_000
MAX_HIDDEN_LAYERS = 16
MAX_WIDTH = 10_000
MAX_DEGREE = 15
MAX_STEPS = 10_000_000

#: Data magnitudes outside [SCALE_LOW, SCALE_HIGH] get a warning that suggests standardising (docs/limits.md).
SCALE_HIGH = 1e4
SCALE_LOW = 1e-4


class LimitError(ValueError):
    """A problem too large for this machine; the message names the quantity, the limit and the fix."""


@dataclass(frozen=True)
class Feature:
    """How a computation scales: B(n) models at once, each on m(n) inputs; whether it needs the exact Hessian."""

    description: str
    batch: Callable[[int], int]
    inputs: Callable[[int], int]
    hessian: bool


#: Feature name → its workload. ``batch`` and ``inputs`` are functions of the number of points n.
FEATURES: dict[str, Feature] = {
    "train": Feature(
        "training (with the Newton/LM polish unless early-stopped)", lambda n: 1, lambda n: n, True
    ),
    "analyze": Feature(
        "one deletion: LOO cold/warm, proximal, PBRF, IF, Newton, ε-path", lambda n: 4, lambda n: n + 1, True
    ),
    "attribute": Feature(
        "the attribution table: n leave-one-out models solved together",
        lambda n: 2 * n,
        lambda n: 2 * n,
        True,
    ),
    "eps_path": Feature("the continuation ε-path", lambda n: 1, lambda n: n, True),
    "homotopy": Feature("the homotopy θ(t, ε): one model per ε", lambda n: 41, lambda n: n, False),
    "schedules": Feature("deletion-schedule flows", lambda n: 4, lambda n: n, True),
    "unlearn": Feature("retrain / D2D / R2D unlearning", lambda n: 6, lambda n: n, False),
}


@dataclass(frozen=True)
class Workload:
    feature: str
    n: int
    d: int
    batch: int
    inputs: int
    hessian: bool

    @property
    def elements(self) -> int:
        """Numbers in the largest batched array: B·m·d (Jacobians) or B·d² (Hessians)."""
        return self.batch * self.d * max(self.inputs, self.d if self.hessian else 0)


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v < 1e7 else f"{v:.1e}"


def model_size_error(d: int, layers: int = 1, width: int = 1) -> str | None:
    """The message for a model too large for any feature (d parameters, hidden layers, widest layer), or None."""
    if layers > MAX_HIDDEN_LAYERS:
        return f"{layers} hidden layers; at most {MAX_HIDDEN_LAYERS} are supported. Use fewer layers"
    if width > MAX_WIDTH:
        return f"a hidden layer of width {_fmt(width)}; at most {_fmt(MAX_WIDTH)} is supported. Use narrower layers"
    if d > MAX_PARAMS:
        return (
            f"the model has d = {_fmt(d)} parameters; at most {_fmt(MAX_PARAMS)} are supported. "
            "Use fewer or narrower hidden layers"
        )
    return None


def workload(problem, feature: str, *, batch=None, inputs=None, hessian=None) -> Workload:
    """The :class:`Workload` of running ``feature`` on ``problem`` (a core.problem.Problem); ``batch``,
    ``inputs`` and ``hessian`` override the feature's defaults (e.g. the CLI knows its exact batch)."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; choose one of {', '.join(FEATURES)}")
    spec = FEATURES[feature]
    n = int(problem.data.n)
    if hessian is None:
        hessian = spec.hessian and (feature != "train" or bool(problem.converge))
    return Workload(
        feature,
        n,
        int(problem.model.n_params),
        int(spec.batch(n) if batch is None else batch),
        int(spec.inputs(n) if inputs is None else inputs),
        bool(hessian),
    )


def _largest_n(spec: Feature, d: int, hessian: bool, n: int) -> int:
    """The largest number of points ≤ n whose default workload fits MAX_BATCH_ELEMENTS (binary search)."""

    def fits(k):
        return spec.batch(k) * d * max(spec.inputs(k), d if hessian else 0) <= MAX_BATCH_ELEMENTS

    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def workload_error(w: Workload) -> str | None:
    """The message for a workload beyond the limits, or None."""
    if w.n > MAX_POINTS:
        return f"{_fmt(w.n)} points; at most {_fmt(MAX_POINTS)} are supported. Use a subset of the points"
    if w.n < MIN_POINTS:
        return f"only {w.n} point(s); at least {MIN_POINTS} are needed. Add points"
    if w.d > MAX_PARAMS:
        return model_size_error(w.d)
    if w.hessian and w.d > MAX_HESSIAN_PARAMS:
        return (
            f"{w.feature} needs the exact d × d Hessian, and this model has d = {_fmt(w.d)} parameters; the limit "
            f"is d ≤ {_fmt(MAX_HESSIAN_PARAMS)} (each eigendecomposition would take minutes and a run needs "
            "hundreds). Use a smaller model"
            + (", or --early-stopped to skip the polish" if w.feature == "train" else "")
        )
    if w.elements > MAX_BATCH_ELEMENTS:
        what = (
            f"{_fmt(w.batch)} models × {_fmt(w.d)} × {_fmt(w.d)} Hessian entries"
            if w.hessian and w.d > w.inputs
            else f"{_fmt(w.batch)} models × {_fmt(w.inputs)} inputs × {_fmt(w.d)} parameters"
        )
        fix = "Use fewer points or a smaller model"
        spec = FEATURES.get(w.feature)
        if spec is not None and spec.batch(w.n) == w.batch and spec.inputs(w.n) == w.inputs:
            k = _largest_n(spec, w.d, w.hessian, w.n)
            if k >= MIN_POINTS:
                fix = f"Use at most {_fmt(k)} points with this model, or a smaller model"
        return (
            f"{w.feature} on n = {_fmt(w.n)} points would hold {what} = {_fmt(w.elements)} numbers at once "
            f"({w.elements * 8 / 2**30:.1f} GiB per array); the limit is {_fmt(MAX_BATCH_ELEMENTS)} "
            f"({MAX_BATCH_ELEMENTS * 8 / 2**30:.1f} GiB). {fix}"
        )
    return None


def problem_size_error(problem, feature: str, *, batch=None, inputs=None, hessian=None) -> str | None:
    """The refusal message for running ``feature`` on ``problem`` (see :func:`check_problem_size`), or None."""
    model = problem.model
    hidden = tuple(getattr(model, "hidden", ()))
    msg = model_size_error(int(model.n_params), len(hidden), max(hidden, default=1))
    if msg is not None:
        return msg
    return workload_error(workload(problem, feature, batch=batch, inputs=inputs, hessian=hessian))


def check_problem_size(problem, feature: str, *, batch=None, inputs=None, hessian=None) -> Workload:
    """Refuse (:class:`LimitError`) a ``feature`` run on ``problem`` that exceeds the limits of this module:
    points, parameters, hidden layers and widths, the exact-Hessian size and the batched array size B·m·d
    (B·d² for Hessians). Returns the :class:`Workload` when it fits. ``feature`` is a key of
    :data:`FEATURES`; ``batch`` / ``inputs`` / ``hessian`` override its defaults."""
    msg = problem_size_error(problem, feature, batch=batch, inputs=inputs, hessian=hessian)
    if msg is not None:
        raise LimitError(msg)
    return workload(problem, feature, batch=batch, inputs=inputs, hessian=hessian)


def check_elements(count: float, what: str, fix: str) -> None:
    """Refuse an array of ``count`` numbers beyond MAX_BATCH_ELEMENTS (``what`` it holds, ``fix`` what to do)."""
    if count > MAX_BATCH_ELEMENTS:
        raise LimitError(
            f"{what} would hold {_fmt(count)} numbers ({count * 8 / 2**30:.1f} GiB); the limit is "
            f"{_fmt(MAX_BATCH_ELEMENTS)}. {fix}"
        )
