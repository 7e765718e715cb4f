"""Worker tasks of the deletion-dynamics panels: ``"schedules"`` (ε(t) schedules, 𝓔, scans, phase portraits) and
``"unlearn"`` (retrain / D2D / R2D distances to the retrained model). docs/science.md §4–§5.

Each task is a generator run by :class:`gui.jobs.JobRunner` in a worker thread. It takes an immutable request
(a frozen dataclass holding a :class:`core.problem.Problem` snapshot and the panel's choices), calls ``core``
(the modules of :mod:`core.dynamics`) exactly like ``influence-lab schedules`` / ``influence-lab unlearn``
do (:mod:`cli.schedules`, :mod:`cli.unlearn`, same defaults), and returns a frozen record holding every array the panels draw:
ε(t) curves on a plotting grid, trajectories projected on the chosen parameter plane, the vector fields, the
criteria, the unlearned models' curves f(θ; x) on a display grid. The panels only index and draw.

This module never imports Qt (it is importable by the CLI and by headless tests).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.dynamics.analysis import ScheduleAnalysis, analyze_schedules
from core.dynamics.criterion import loo_target
from core.dynamics.figure4 import (
    FIG4_THETA0S,
    exact_criteria,
    field_box,
    figure4_problem,
    phase_portrait,
    vector_field,
)
from core.dynamics.quadratic import QuadraticFamily, step_time_derivative
from core.dynamics.schedule import (
    ExponentialDecay,
    LinearDecay,
    PiecewiseLinear,
    Schedule,
    Step,
    eps_curves,
    step_grid,
)
from core.dynamics.unlearn import unlearn
from core.model import LinearFeatures
from core.problem import Problem, fit_problem
from core.progress import Progress, scaled

#: Job kinds of the two panels (one live job per kind on the shared runner).
SCHEDULES = "schedules"
UNLEARN = "unlearn"

#: Phase-portrait modes.
MODE_MLP = "mlp"  # the session's model (any two of its parameters)
MODE_FIG4 = "figure4"  # the notes' Figure-4 problem: linear, X ∈ R^{20×2}

#: Points of the ε(t) curves drawn (the CLI's --npz uses 401 as well).
EPS_PLOT_POINTS = 401
#: Trajectory snapshots per flow (the CLI's --snapshots default).
SNAPSHOTS = 200
#: Grid sizes of the step-time / linear-decay scans (the CLI's --scan default) and of the vector field.
N_SCAN = 21
N_GRID = 17
#: Display grid of the unlearned models' curves f(θ; x).
FIT_GRID_POINTS = 300


def base_problem(problem: Problem, j: int) -> Problem:
    """The problem the deletion of j is studied on: the same points with w_j = 1 (other deletions kept)."""
    from dataclasses import replace

    data = problem.data.copy()
    data.weight[j] = 1.0
    return replace(problem, data=data)


def default_times(lr: float, steps: int) -> tuple[float, float]:
    """(s, T) of the CLI in data mode: T = steps·η, s = T/4 on the step grid."""
    T = step_grid(lr, steps * lr)[1]
    s = step_grid(lr, T / 4)[1]
    return s, T


def default_mlp_schedules(s: float, T: float, lr: float) -> list[Schedule]:
    """The CLI's default schedules in data mode: step at s, step at 2s, linear decay s → T, exponential decay
    with rate 3/(T − s)."""
    return [
        Step(s),
        Step(min(step_grid(lr, 2 * s)[1], T)),
        LinearDecay(s, T),
        ExponentialDecay(s, 3.0 / (T - s), T),
    ]


def default_drawn(s: float, T: float) -> PiecewiseLinear:
    """A drawn schedule to start editing from: 1 until s, a fast drop, then to 0 at T (in E_s)."""
    return PiecewiseLinear((0.0, s, s + 0.2 * (T - s), T), (1.0, 1.0, 0.3, 0.0))


def display_grid(x: np.ndarray, n: int = FIT_GRID_POINTS) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (-1.0, 1.0)
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n)


# ------------------------------------------------------------------------------------------------------
# schedules
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulesRequest:
    """Everything a schedules job needs (a snapshot: safe to hand to a worker)."""

    mode: str
    schedules: tuple[Schedule, ...]
    s: float
    T: float
    lr: float
    #: the deleted point (Figure-4 mode: the outlier, core.dynamics.figure4.FIG4_J)
    j: int
    #: the initial points θ_0: explicit (P, d) rows (Figure 4), or None to use ``seeds``
    theta0s: tuple[tuple[float, ...], ...] | None = None
    #: init seeds of the session's model, one θ_0 each (MLP mode)
    seeds: tuple[int, ...] = (0,)
    #: the two parameters of the plane (indices into the parameter vector)
    dims: tuple[int, int] = (0, 1)
    #: MLP mode: the base problem (w_j = 1); None in Figure-4 mode
    problem: Problem | None = None
    #: MLP mode: θ̂ of the base problem if already trained (else the task trains it)
    theta_hat: np.ndarray | None = None
    n_scan: int = N_SCAN
    n_grid: int = N_GRID
    integrator: str = "gd"
    snapshots: int = SNAPSHOTS
    #: width / height of the plot the field is drawn in: with equal axis scales (Figure 4) the field's grid is
    #: widened to this shape, so that the arrows fill the view
    field_aspect: float = 1.0


@dataclass(frozen=True)
class SchedulesRecord:
    """What the Schedules panel draws (every array computed in the worker)."""

    request: SchedulesRequest
    mode: str
    j: int
    s: float
    T: float
    lr: float
    steps: int
    schedules: tuple[Schedule, ...]
    labels: tuple[str, ...]
    in_class: np.ndarray  # (S,) ε ∈ E_s
    eps_times: np.ndarray  # (N,) plotting grid of t
    eps_curves: np.ndarray  # (S, N) ε_k(t)
    times: np.ndarray  # (K,) snapshot times
    eps_at: np.ndarray  # (K, S) ε in effect at the snapshots
    theta0s: np.ndarray  # (P, d)
    theta0_labels: tuple[str, ...]
    theta_T: np.ndarray  # (S, P, d) θ(T)
    target: np.ndarray  # (d,) θ*_{−j}
    theta_star: np.ndarray  # (d,) θ* (Figure 4) / θ̂ (the trained model, MLP mode)
    flows: np.ndarray  # (K, S, P, 2) trajectories in the plane
    theta0s_2d: np.ndarray  # (P, 2)
    target_2d: np.ndarray  # (2,)
    theta_star_2d: np.ndarray  # (2,)
    criterion: np.ndarray  # (S, P) 𝓔 = ½‖θ(T) − θ*_{−j}‖²
    criterion_function: np.ndarray  # (S, P) 𝓔_f
    end_distance: np.ndarray  # (S, P) ‖θ(T) − θ*₋ⱼ‖ = √(2𝓔)
    criterion_exact: np.ndarray | None  # (S, P) closed form (linear models), NaN where none
    step_params: np.ndarray  # (G,) τ of the step scan
    step_criterion: np.ndarray  # (G, P)
    step_criterion_function: np.ndarray  # (G, P)
    step_exact: np.ndarray | None  # (G, P)
    linear_params: np.ndarray  # (G',) t_1 of the linear-decay scan
    linear_criterion: np.ndarray  # (G', P)
    linear_criterion_function: np.ndarray  # (G', P)
    best: list  # ScheduleAnalysis.overall(): per θ_0 the best schedule found and whether the step at s wins
    derivative_at_s: np.ndarray | None  # (P,) exact d𝓔/dτ at τ = s (linear models)
    grid_1: np.ndarray  # (G,) vector-field grid, first parameter
    grid_2: np.ndarray  # (G,) second parameter
    field_eps: np.ndarray  # (E,) the ε of each field
    field: np.ndarray  # (E, G, G, 2) −∇L_ε projected, field[e, a, b] at (grid_1[b], grid_2[a])
    field_note: str  # where the other parameters are held
    param_names: tuple[str, ...]
    dims: tuple[int, int]
    axis_labels: tuple[str, str]
    star_label: str  # "θ*" (the trained model: θ* of the notes, θ̂ of the session)
    target_converged: bool
    target_message: str
    diverged: np.ndarray  # (S, P)
    messages: tuple[str, ...]
    seconds: float


def _theta0_label(v: np.ndarray) -> str:
    if v.size <= 3:
        return "θ₀ = (" + ", ".join(f"{float(a):g}" for a in v) + ")"
    return "θ₀"


def _widen(lo: np.ndarray, hi: np.ndarray, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """The smallest box containing [lo, hi] whose width / height is ``aspect``, with the same centre."""
    if not (np.isfinite(aspect) and aspect > 0):
        return lo, hi
    c, span = (lo + hi) / 2, hi - lo
    w, h = span
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    half = np.array([w, h]) / 2
    return c - half, c + half


@dataclass(frozen=True)
class _Portrait:
    """What either mode computes for the record: the analysis and the phase-portrait data in the chosen plane."""

    analysis: ScheduleAnalysis
    theta0s: np.ndarray  # (P, d)
    dims: tuple[int, int]
    theta_star: np.ndarray  # (d,)
    target: np.ndarray  # (d,)
    exact: np.ndarray | None
    step_exact: np.ndarray | None
    derivative: np.ndarray | None
    grid_1: np.ndarray
    grid_2: np.ndarray
    field_eps: np.ndarray
    field: np.ndarray
    param_names: tuple[str, ...]
    axis_labels: tuple[str, str]
    field_note: str


def schedules_task(req: SchedulesRequest) -> Generator[Progress, None, SchedulesRecord]:
    """Flows of the request's schedules from its θ_0s, 𝓔 and 𝓔_f, the step-time and linear-decay scans and the
    phase-portrait data — :func:`core.dynamics.figure4.phase_portrait` in Figure-4 mode,
    :func:`core.dynamics.analysis.analyze_schedules` against :func:`core.dynamics.criterion.loo_target` for the
    session's model (as the CLI does)."""
    start = time.perf_counter()
    schedules = list(req.schedules)
    if not schedules:
        raise ValueError("add at least one schedule")
    s, T, lr = float(req.s), float(req.T), float(req.lr)
    steps = step_grid(lr, T)[0]
    every = max(1, steps // max(1, int(req.snapshots)))
    portrait = _figure4_portrait if req.mode == MODE_FIG4 else _session_portrait
    port = yield from portrait(req, schedules, s, T, lr, every)
    return _record(req, port, lr, time.perf_counter() - start)


def _figure4_portrait(req, schedules, s, T, lr, every) -> Generator[Progress, None, _Portrait]:
    """The notes' Figure-4 problem: :func:`core.dynamics.figure4.phase_portrait`, its field grid widened to the
    plot's shape."""
    pr = figure4_problem(req.j, s, T, lr)
    theta0s = np.atleast_2d(np.asarray(req.theta0s or FIG4_THETA0S, dtype=np.float64))
    pp = yield from scaled(
        phase_portrait(pr, schedules, theta0s, req.n_grid, req.n_scan, req.integrator, every),
        0.0,
        0.95,
        1.0,
        "Figure 4: ",
    )
    # the core's grid spans the θ₀s, θ*, θ*₋ⱼ and the flows; widen it to the plot's shape (equal scales)
    lo, hi = _widen(
        np.array([pp.grid_1[0], pp.grid_2[0]]), np.array([pp.grid_1[-1], pp.grid_2[-1]]), req.field_aspect
    )
    g1, g2, fld = vector_field(
        pr.model, pr.x, pr.y, pr.w, pr.kappa, pr.j, pp.field_eps, np.zeros(2), (0, 1), lo, hi, req.n_grid
    )
    return _Portrait(
        pp.analysis,
        theta0s,
        (0, 1),
        pr.theta_star,
        pr.theta_star_del,
        pp.criterion_exact,
        pp.step_scan_exact,
        pp.derivative_at_s,
        g1,
        g2,
        pp.field_eps,
        fld,
        ("θ₁", "θ₂"),
        ("θ₁  (intercept)", "θ₂  (slope)"),
        "the vector fields −∇L₁ (with zⱼ) and −∇L₀ (zⱼ deleted) of the linear model",
    )


def _session_portrait(req, schedules, s, T, lr, every) -> Generator[Progress, None, _Portrait]:
    """The session's model: θ̂ (trained if needed), θ*₋ⱼ by :func:`core.dynamics.criterion.loo_target`, the
    flows and scans, closed forms for a linear model, and the fields in the chosen plane."""
    if req.problem is None:
        raise ValueError("no problem to analyse")
    problem = req.problem
    model = problem.model
    x, y, w, kappa = problem.data.x, problem.data.y, problem.weights(), problem.kappa
    j = int(req.j)
    if not 0 <= j < problem.data.n:
        raise ValueError(f"the deleted point index must lie in 0..{problem.data.n - 1}, got {j}")
    theta_hat = req.theta_hat
    family = None
    if isinstance(model, LinearFeatures):
        family = QuadraticFamily.from_linear_model(model, x, y, w, kappa, j)
        theta_hat = family.theta_star
    elif theta_hat is None:
        fit = yield from scaled(fit_problem(problem), 0.0, 0.3, 1.0, f"model with point {j}: ")
        theta_hat = fit.theta_hat
    yield Progress(0.3, 1.0, "LOO minimiser θ*₋ⱼ")
    tgt = loo_target(model, theta_hat, x, y, w, kappa, j)
    theta0s = np.stack([model.init_params(int(sd)) for sd in req.seeds])
    ana = yield from scaled(
        analyze_schedules(
            model, theta0s, x, y, w, kappa, j, schedules, s, T, lr, tgt, req.n_scan, every, req.integrator
        ),
        0.32,
        0.95,
        1.0,
        "flows: ",
    )
    exact = step_exact = deriv = None
    if family is not None:
        exact = exact_criteria(family, theta0s, schedules, T)
        if ana.step_scan is not None:
            step_exact = exact_criteria(family, theta0s, ana.step_scan.schedules, T)
        deriv = step_time_derivative(family, theta0s, s, T)
    dims = tuple(int(k) for k in req.dims)
    d = model.n_params
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= k < d for k in dims):
        raise ValueError(f"choose two different parameters among 0..{d - 1}, got {dims}")
    theta_star = np.asarray(theta_hat, dtype=np.float64)
    target = tgt.theta
    pts = np.vstack(
        [
            theta0s[:, dims],
            theta_star[None, dims],
            target[None, dims],
            ana.flow.theta[..., dims].reshape(-1, 2),
        ]
    )
    lo, hi = field_box(pts)
    yield Progress(0.96, 1.0, "vector fields")
    g1, g2, f1 = vector_field(model, x, y, w, kappa, j, [1.0], theta_star, dims, lo, hi, req.n_grid)
    _, _, f0 = vector_field(model, x, y, w, kappa, j, [0.0], target, dims, lo, hi, req.n_grid)
    pn = model.param_names()
    a, b = dims
    note = (
        "−∇L₁ sliced through θ* = θ̂ and −∇L₀ through θ*₋ⱼ (the other parameters held there)"
        if d > 2
        else "the vector fields −∇L₁ (with zⱼ) and −∇L₀ (zⱼ deleted)"
    )
    return _Portrait(
        ana,
        theta0s,
        dims,
        theta_star,
        target,
        exact,
        step_exact,
        deriv,
        g1,
        g2,
        np.array([1.0, 0.0]),
        np.concatenate([f1, f0]),
        tuple(pn),
        (f"θ{_sub(a)} = {pn[a]}", f"θ{_sub(b)} = {pn[b]}"),
        note,
    )


def _record(req: SchedulesRequest, port: _Portrait, lr: float, seconds: float) -> SchedulesRecord:
    """The record of a finished computation: every array the panel draws, projected on the plane."""
    ana = port.analysis
    flow = ana.flow
    a, b = port.dims
    target = np.asarray(port.target, dtype=np.float64)
    theta_star = np.asarray(port.theta_star, dtype=np.float64)
    eps_t = np.linspace(0.0, ana.T, EPS_PLOT_POINTS)
    scan_g = ana.step_scan
    scan_l = ana.linear_scan
    empty = np.zeros((0, port.theta0s.shape[0]))
    return SchedulesRecord(
        request=req,
        mode=req.mode,
        j=int(ana.j),
        s=ana.s,
        T=ana.T,
        lr=lr,
        steps=int(flow.steps[-1]),
        schedules=tuple(flow.schedules),
        labels=tuple(sc.label() for sc in flow.schedules),
        in_class=np.array([sc.in_class(ana.s, ana.T) for sc in flow.schedules]),
        eps_times=eps_t,
        eps_curves=eps_curves(flow.schedules, eps_t),
        times=flow.times,
        eps_at=flow.eps,
        theta0s=flow.theta0s,
        theta0_labels=tuple(_theta0_label(v) for v in flow.theta0s)
        if req.mode == MODE_FIG4
        else tuple(f"θ₀ of seed {int(sd)}" for sd in req.seeds),
        theta_T=flow.final,
        target=target,
        theta_star=theta_star,
        flows=flow.theta[..., [a, b]],
        theta0s_2d=flow.theta0s[:, [a, b]],
        target_2d=target[[a, b]],
        theta_star_2d=theta_star[[a, b]],
        criterion=ana.criterion,
        criterion_function=ana.criterion_function,
        end_distance=np.linalg.norm(flow.final - target[None, None, :], axis=-1),
        criterion_exact=port.exact,
        step_params=scan_g.params if scan_g is not None else np.zeros(0),
        step_criterion=scan_g.criterion if scan_g is not None else empty,
        step_criterion_function=scan_g.criterion_function if scan_g is not None else empty,
        step_exact=port.step_exact,
        linear_params=scan_l.params if scan_l is not None else np.zeros(0),
        linear_criterion=scan_l.criterion if scan_l is not None else empty,
        linear_criterion_function=scan_l.criterion_function if scan_l is not None else empty,
        best=ana.overall(),
        derivative_at_s=port.derivative,
        grid_1=port.grid_1,
        grid_2=port.grid_2,
        field_eps=port.field_eps,
        field=port.field,
        field_note=port.field_note,
        param_names=port.param_names,
        dims=(a, b),
        axis_labels=port.axis_labels,
        star_label="θ*",
        target_converged=bool(ana.target.converged),
        target_message=ana.target.message,
        diverged=flow.diverged,
        messages=tuple(ana.messages),
        seconds=seconds,
    )


def _sub(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


# ------------------------------------------------------------------------------------------------------
# unlearning
# ------------------------------------------------------------------------------------------------------


def default_Ks(T: int) -> list[int]:
    """The CLI's default rewind depths: T/10, T/4, T/2, T."""
    T = int(T)
    return sorted({max(1, T // 10), max(1, T // 4), max(1, T // 2), T})


def parse_steps(text: str, name: str) -> list[int]:
    """A comma / space separated list of whole step counts ("5, 20, 50")."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise ValueError(f"{name}: {p!r} is not a number") from None
        if not np.isfinite(v) or v != int(v):
            raise ValueError(f"{name}: {p!r} is not a whole number of steps")
        out.append(int(v))
    return out


@dataclass(frozen=True)
class UnlearnRequest:
    problem: Problem  # the base problem (w_j = 1)
    j: int
    T: int
    Ks: tuple[int, ...]
    budgets: tuple[int, ...] | None = None
    noise_sigma: float = 0.0
    draws: int = 200
    noise_seed: int = 0


@dataclass(frozen=True)
class UnlearnRecord:
    """What the Unlearning panel draws: distances to θ_R against unlearning steps, the unlearned models' curves."""

    request: UnlearnRequest
    j: int
    T: int
    lr: float
    Ks: np.ndarray  # (R,)
    budgets: np.ndarray  # (U,)
    steps: np.ndarray  # (M,) unlearning step counts k
    retrain_param: np.ndarray  # (M,) NaN beyond T
    retrain_function: np.ndarray
    d2d_param: np.ndarray  # (M,)
    d2d_function: np.ndarray
    r2d_param: np.ndarray  # (R, M)
    r2d_function: np.ndarray
    table: list  # UnlearnResult.table()
    canonical: list  # UnlearnResult.canonical_r2d()
    noise: list | None  # NoiseStudy.summary()
    noise_sigma: float
    grid: np.ndarray  # (G,) x of the model curves
    data_x: np.ndarray
    data_y: np.ndarray
    data_weight: np.ndarray
    #: name → f(θ; grid): the trained model θ_T, θ_R, D2D after each budget, canonical R2D(K) for each K
    curves: dict = field(default_factory=dict)
    theta_retrain: np.ndarray | None = None
    theta_T: np.ndarray | None = None
    seconds: float = 0.0
    #: ‖∇L_{−j}(θ_R)‖: how far the T-step retrained reference is from a minimiser without z_j
    retrain_grad_norm: float = float("nan")


TRAINED = "trained, T steps (with zⱼ)"
RETRAINED = "retrained without zⱼ (exact)"


def d2d_name(b: int) -> str:
    return f"D2D, {int(b)} steps"


def r2d_name(K: int) -> str:
    return f"R2D, K = {int(K)}"


def unlearn_task(req: UnlearnRequest) -> Generator[Progress, None, UnlearnRecord]:
    """:func:`core.dynamics.unlearn.unlearn` on the base problem (GD with the session's η, T steps from θ_0), plus the
    unlearned models' curves f(θ; x) on a display grid."""
    start = time.perf_counter()
    pr = req.problem
    model = pr.model
    x, y, w = pr.data.x, pr.data.y, pr.weights()
    res = yield from unlearn(
        model,
        pr.theta0(),
        x,
        y,
        w,
        pr.kappa,
        int(req.j),
        pr.config.lr,
        int(req.T),
        list(req.Ks),
        None if req.budgets is None else list(req.budgets),
        float(req.noise_sigma),
        int(req.draws),
        int(req.noise_seed),
    )
    grid = display_grid(x)
    named: list[tuple[str, np.ndarray]] = [(TRAINED, res.theta_T), (RETRAINED, res.theta_retrain)]
    named += [(d2d_name(b), res.d2d(int(b))) for b in res.budgets]
    named += [(r2d_name(K), res.r2d(int(K))) for K in res.Ks]
    f = model.predict(np.stack([t for _, t in named]), grid)
    curves = {name: f[k] for k, (name, _) in enumerate(named)}
    return UnlearnRecord(
        request=req,
        j=res.j,
        T=res.T,
        lr=res.lr,
        Ks=res.Ks,
        budgets=res.budgets,
        steps=res.steps,
        retrain_param=res.retrain_param,
        retrain_function=res.retrain_function,
        d2d_param=res.d2d_param,
        d2d_function=res.d2d_function,
        r2d_param=res.r2d_param,
        r2d_function=res.r2d_function,
        table=res.table(),
        canonical=res.canonical_r2d(),
        noise=None if res.noise is None else res.noise.summary(),
        noise_sigma=float(req.noise_sigma),
        grid=grid,
        data_x=np.asarray(x, dtype=np.float64),
        data_y=np.asarray(y, dtype=np.float64),
        data_weight=np.asarray(w, dtype=np.float64),
        curves=curves,
        theta_retrain=res.theta_retrain,
        theta_T=res.theta_T,
        seconds=time.perf_counter() - start,
        retrain_grad_norm=_grad_norm_without(pr, int(req.j), res.theta_retrain),
    )


def _grad_norm_without(problem, j: int, theta) -> float:
    """‖∇L_{−j}(θ)‖ on the problem's data with z_j's weight 0 (docs/science.md §1)."""
    w = np.array(problem.weights(), dtype=np.float64)
    w[j] = 0.0
    _, g = problem.model.loss_and_grad(theta, problem.data.x, problem.data.y, w, problem.kappa)
    return float(np.linalg.norm(g[0]))


__all__: Sequence[str] = [
    "MODE_FIG4",
    "MODE_MLP",
    "SCHEDULES",
    "UNLEARN",
    "SchedulesRecord",
    "SchedulesRequest",
    "UnlearnRecord",
    "UnlearnRequest",
    "base_problem",
    "default_Ks",
    "default_mlp_schedules",
    "default_times",
    "schedules_task",
    "unlearn_task",
]
