"""The notes' Figure 4: a linear 2-parameter problem, its vector fields −∇L_ε and phase portraits
(docs/science.md §4, notes "Epsilon dynamic").

The notes do not give their X ∈ R^{20×2}; Influence Lab's is fixed here: 19 points x_i = sorted U(−1.5, 1.5),
y_i = 0.5 + x_i + 0.1·N(0, 1) (drawn in that order from ``np.random.default_rng(4)``) plus a high-leverage
outlier z_19 = (2, −1), the deleted point j = 19; the linear model f = θ_1 + θ_2 x (features (1, x), X = [1, x]),
κ = 0; s = 0.5, T = 2, η = 0.01. Then θ* ≈ (0.439, 0.711) and θ*_{−j} ≈ (0.472, 1.020) (‖θ* − θ*_{−j}‖ ≈ 0.31,
visible at the scale of the flows).
Findings (exact closed forms for steps, RK4 for decays; GD with η = 0.01 gives the same conclusions, tested):
- θ_0 = (0, 0) (the notes' example start): the step at s is optimal among the scanned steps τ ∈ [s, T) and
  linear decays t_1 ∈ [s, T]: 𝓔(1_[0,0.5]) = 0.0158, 𝓔 rises with τ (0.0219 at τ = 1) and with t_1 (linear
  decay to T: 0.0308); d𝓔/dτ(s) = +0.0079.
- θ_0 = (3, 3): as in the notes' Figure 4(b, c), deleting at τ = 1 beats deleting at s = 0.5:
  𝓔(1_[0,0.5]) = 0.0306, 𝓔(1_[0,1]) = 0.0296, best step τ ≈ 0.97 (𝓔 ≈ 0.0296); here even a linear decay
  (t_1 = 1.75, 𝓔 ≈ 0.0289) and the exponential decay with r = 2 (𝓔 ≈ 0.0281) beat every step, against the
  notes' "step functions are better than polynomial decay".
- θ_0 = (0, 3): a strong counterexample: 𝓔(1_[0,0.5]) = 0.147, best step τ ≈ 1.86 with 𝓔 ≈ 0.096.
The exact first-order test is :func:`core.dynamics.quadratic.step_time_derivative`.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from core.dynamics.analysis import ScheduleAnalysis, analyze_schedules
from core.dynamics.criterion import LOOTarget, criterion
from core.dynamics.flow import ScheduleFlow, batched_grad
from core.dynamics.quadratic import QuadraticFamily, closed_form_flow, step_time_derivative
from core.dynamics.scans import ScheduleScan
from core.dynamics.schedule import ExponentialDecay, LinearDecay, Schedule, Step
from core.model import LinearFeatures, Model
from core.progress import Progress

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
#: The default starts of a Figure-4 phase portrait (also the CLI's --linear-phase and the panel's).
FIG4_THETA0S = (
    FIG4_THETA0_STEP_OPTIMAL,
    FIG4_THETA0_COUNTEREXAMPLE,
    FIG4_THETA0_STRONG_COUNTEREXAMPLE,
    (-2.0, -2.0),
)
#: Margin of the vector-field grid around everything drawn, as a fraction of the span.
FIELD_MARGIN = 0.15


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
    grad = batched_grad(model, x, y, w, kappa, j, theta.shape[0])
    g = grad(theta, np.repeat(eps_values, n_grid * n_grid))
    field_ = -g[:, [a, b]].reshape(E, n_grid, n_grid, 2)
    return g1, g2, field_


def field_box(points: np.ndarray, margin: float = FIELD_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of a vector-field grid: the box of the finite ``points`` (N, 2), padded by ``margin`` times its
    span (at least 1e-3) on every side."""
    pts = points[np.isfinite(points).all(axis=1)]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    return lo - pad, hi + pad


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
    margin: float = FIELD_MARGIN,
) -> Generator[Progress, None, PhasePortrait]:
    """Phase-portrait data for a linear 2-parameter problem (the notes' Figure 4): one batched flow of
    (schedules + step scan + linear-decay scan) × θ_0s, closed forms for the piecewise-constant ones, and the
    vector fields −∇L_1, −∇L_0 on a grid spanning the θ_0s, θ* and θ*_{−j}."""
    if problem.family.d != 2:
        raise ValueError("a phase portrait needs a 2-parameter linear model (features (1, x))")
    schedules = list(
        default_figure4_schedules(problem.s, problem.T, problem.lr) if schedules is None else schedules
    )
    theta0s = np.atleast_2d(np.asarray(FIG4_THETA0S if theta0s is None else theta0s, dtype=np.float64))
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
    lo, hi = field_box(
        np.vstack([theta0s, pr.theta_star, pr.theta_star_del, ana.flow.theta.reshape(-1, 2)]), margin
    )
    eps_f = np.array([1.0, 0.0])
    g1, g2, fld = vector_field(
        pr.model, pr.x, pr.y, pr.w, pr.kappa, pr.j, eps_f, np.zeros(2), (0, 1), lo, hi, n_grid
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
