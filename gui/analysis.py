"""The deletion analysis of one point j: job bodies (run in worker threads) and the records the panels draw.

When a point j is deleted (or analysed without deleting it), three jobs run against the *base* model — the model
trained on the current points with w_j = 1 (docs/science.md §2: ε = 1 is the trained model, ε = 0 the model without
z_j):

- ``epspath``: the continuation path θ(ε) (101 points, each converged to ‖∇L‖ ≤ 1e-10) with its tangents θ'(ε),
  and the cold path θ(T, ε) (21 points, trained from θ_0; polished when "train to convergence" is on);
- ``estimates``: every estimate of the deleted model and the five-gap error decomposition at damping λ
  (:func:`core.deletion.responses.deletion_estimates`);
- ``homotopy``: θ(t, ε) for 41 values of ε and 201 snapshots in time (:func:`core.deletion.eps_path.homotopy`), its scalar
  fields over (t, ε), and θ*_{−j} (the ε = 0 end polished to ‖∇L_{−j}‖ ≤ 1e-10, i.e. θ(∞, 0)).

Every number is computed here, in the worker, by ``core`` functions: the curves f(θ; x) on the display grid,
the principal planes of the trajectories (:mod:`core.projection`), distances between estimates
(:func:`core.deletion.responses.function_distance`). The panels only index and draw the records.

Each record carries the :class:`AnalysisKey` it was computed for; the controller drops a record whose key is
no longer the current one (another point, other data or settings), like the job runner drops stale revisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from core.deletion.eps_path import (
    HOMOTOPY_SCALARS,
    PATH_TOL,
    cold_path,
    continuation_path,
    eps_weights,
    homotopy,
)
from core.deletion.influence import hessian_check
from core.deletion.responses import (
    ESTIMATE_NAMES,
    GAP_NAMES,
    DeletionEstimates,
    deletion_estimates,
    function_distance,
)
from core.problem import Problem
from core.progress import Progress, scaled
from core.projection import PrincipalPlane, principal_plane
from core.train import polish
from gui.state import FitRecord, Settings
from gui.tasks import display_grid, fit_task

#: Points of the continuation path (ε from 1 to 0) and of the cold path.
EPS_POINTS = 101
COLD_POINTS = 21
#: Homotopy grid: values of ε and time snapshots.
HOMOTOPY_EPS = 41
HOMOTOPY_SNAPSHOTS = 200
#: Grid points of the homotopy's family of curves f(θ(t, ε); x) (coarser than the fit view's grid).
FAMILY_GRID = 160
#: Length in ε of the tangent segments drawn at ε = 1 and ε = 0.
TANGENT_SPAN = 0.2

#: The estimates drawn over the fit (docs/science.md §3) and their legend names, in drawing order.
OVERLAY_ESTIMATES = {
    "loo_cold": "LOO, cold start",
    "loo_warm": "LOO, warm start",
    "if_exact": "influence function (H)",
    "if_gnh": "damped-GNH influence",
    "pbrf": "PBRF",
    "newton": "Newton step",
}
ESTIMATE_LABELS = {
    **OVERLAY_ESTIMATES,
    "proximal": "proximal response",
    "pbrf_linear": "linearised PBRF",
    "if_solver": "linearised PBRF, iterative",
}
GAP_LABELS = {
    "warm_start_gap": "warm-start gap",
    "proximity_gap": "proximity gap",
    "non_convergence_gap": "non-convergence gap",
    "linearization_error": "linearisation error",
    "solver_error": "solver error",
}
SCALAR_LABELS = {
    "loss_j": "loss on the deleted point: ℓⱼ(θ(t, ε))",
    "distance": "distance to θ*₋ⱼ: ‖θ(t, ε) − θ*₋ⱼ‖",
    "param": "a parameter θₖ(t, ε)",
    "train_loss": "training loss, zⱼ weighted by ε",
    "full_loss": "loss on all points (ε = 1)",
}
assert set(SCALAR_LABELS) == set(HOMOTOPY_SCALARS)


# ------------------------------------------------------------------------------------------------------
# keys
# ------------------------------------------------------------------------------------------------------


def problem_fingerprint(problem: Problem, settings: Settings) -> str:
    """A digest of everything a fit depends on: points, weights, model and training settings."""
    h = hashlib.sha1()
    for a in (problem.data.x, problem.data.y, problem.weights()):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(b"|")
    h.update(repr(settings).encode())
    return h.hexdigest()


def base_problem(problem: Problem, j: int) -> Problem:
    """The problem whose trained model the deletion of j is analysed against: the same points with w_j = 1."""
    data = problem.data.copy()
    data.weight[j] = 1.0
    return replace(problem, data=data)


@dataclass(frozen=True)
class AnalysisKey:
    """What an analysis was computed for: the point, the session revision and the base problem."""

    j: int
    revision: int
    base: str  # problem_fingerprint of the base problem


# ------------------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpsPathRecord:
    """The ε-path of point j (docs/science.md §2), ready to draw."""

    key: AnalysisKey
    param_names: list[str]
    eps: np.ndarray  # (K,) 1 → 0
    theta: np.ndarray  # (K, d), NaN after the last point reached
    grad_norm: np.ndarray  # (K,)
    min_eig: np.ndarray  # (K,)
    tangent: np.ndarray  # (K, d) θ'(ε)
    reached: int  # index of the last point computed
    messages: list[str]
    straightness: dict[str, float]
    #: tangent segments per parameter: ε at both ends (2,) and θ_k at both ends (d, 2), at ε = 1 and at ε_end
    seg1_eps: np.ndarray
    seg1: np.ndarray
    seg0_eps: np.ndarray
    seg0: np.ndarray
    cold_eps: np.ndarray  # (Kc,)
    cold_theta: np.ndarray  # (Kc, d)
    cold_polished: bool
    cold_end_function_distance: float  # mean_i |f(θ_cold(0); x_i) − f(θ_cont(0); x_i)|
    cold_end_param_distance: float
    grid: np.ndarray  # (G,)
    curves: np.ndarray  # (K, G) f(θ(ε); grid)
    #: principal plane of the continuation and cold points, and every point/segment projected onto it
    plane: PrincipalPlane
    pc_theta: np.ndarray  # (K, 2)
    pc_cold: np.ndarray  # (Kc, 2)
    pc_seg1: np.ndarray  # (2, 2) endpoints
    pc_seg0: np.ndarray  # (2, 2)
    #: the same coordinates relative to θ̂ = θ(1) (θ_k(ε) − θ̂_k: deletion moves θ little against its size)
    d_theta: np.ndarray  # (K, d)
    d_cold: np.ndarray  # (Kc, d)
    d_seg1: np.ndarray  # (d, 2)
    d_seg0: np.ndarray  # (d, 2)

    @property
    def j(self) -> int:
        return self.key.j

    @property
    def eps_end(self) -> float:
        return float(self.eps[self.reached]) if self.reached >= 0 else 1.0


@dataclass(frozen=True)
class EstimatesRecord:
    """Every estimate of the model without z_j at damping λ (docs/science.md §3), ready to draw."""

    key: AnalysisKey
    damping: float
    result: DeletionEstimates
    grid: np.ndarray  # (G,)
    curves: dict[str, np.ndarray]  # name → f(θ_name; grid)
    #: mean_i |f(θ_name; x_i) − f(θ_LOO cold; x_i)| and the same against the trained θ̂
    function_to_cold: dict[str, float]
    function_to_hat: dict[str, float]
    param_to_cold: dict[str, float]

    @property
    def j(self) -> int:
        return self.key.j


@dataclass(frozen=True)
class HomotopyRecord:
    """θ(t, ε) of point j (docs/science.md §4), its scalar fields and curves, ready to draw."""

    key: AnalysisKey
    param_names: list[str]
    eps: np.ndarray  # (E,) 1 → 0
    times: np.ndarray  # (S,) t = kη
    steps: np.ndarray  # (S,)
    theta: np.ndarray  # (S, E, d)
    #: scalar fields over (t, ε), each (S, E); "param" is read from theta
    scalars: dict[str, np.ndarray]
    #: log10 of the positive fields (None where a field has non-positive values)
    log_scalars: dict[str, np.ndarray | None]
    target: np.ndarray  # θ*_{−j} (d,)
    target_note: str
    theta0: np.ndarray
    grid: np.ndarray  # (Gc,)
    curves: np.ndarray  # (S, E, Gc) f(θ(t, ε); grid)
    plane: PrincipalPlane
    pc_theta: np.ndarray  # (S, E, 2)
    pc_target: np.ndarray  # (2,)
    optimizer: str
    lr: float

    @property
    def j(self) -> int:
        return self.key.j


@dataclass
class AnalysisResults:
    """The analysis currently shown: its key, the base fit, and whatever results have arrived."""

    key: AnalysisKey
    base: FitRecord | None = None
    epspath: EpsPathRecord | None = None
    estimates: EstimatesRecord | None = None
    homotopy: HomotopyRecord | None = None
    errors: dict[str, str] = field(default_factory=dict)
    stale: bool = False  # a newer analysis is being computed (the points or settings changed)

    @property
    def j(self) -> int:
        return self.key.j

    def complete(self) -> bool:
        return all(
            getattr(self, kind) is not None or kind in self.errors
            for kind in ("epspath", "estimates", "homotopy")
        )


# ------------------------------------------------------------------------------------------------------
# tasks
# ------------------------------------------------------------------------------------------------------


def base_fit_task(problem: Problem, settings: Settings, fingerprint: str, j: int):
    """Train the base model (w_j = 1) like the training job, without live drawing."""
    gen = fit_task(problem, -1, settings, fingerprint)
    rec = yield from scaled(gen, 0.0, 1.0, 1.0, f"model with point {j} (base of the analysis): ")
    return rec


def restore_fit_task(
    problem: Problem, revision: int, settings: Settings, fingerprint: str, theta0, theta_s, theta_hat
) -> Generator[Progress, None, FitRecord]:
    """A FitRecord for parameters read from a session file (no training): loss, ‖∇L‖, Hessian eigenvalues,
    curves."""
    yield Progress(0.0, 1.0, "restoring the session's trained parameters")
    model = problem.model
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    kappa = problem.kappa
    theta0 = np.asarray(theta0, dtype=np.float64)
    theta_s = np.asarray(theta_s if theta_s is not None else theta_hat, dtype=np.float64)
    theta_hat = np.asarray(theta_hat, dtype=np.float64)
    loss, g = model.loss_and_grad(theta_hat, x, y, w, kappa)
    gn = float(np.linalg.norm(g[0]))
    check = hessian_check(model.hessian(theta_hat, x, y, w, kappa)[0], "∇²L(θ̂)")
    converged = bool(settings.converge and gn <= PATH_TOL)
    grid = display_grid(x)
    message = f"restored from the session file: L = {float(loss[0]):.4g}, ‖∇L‖ = {gn:.3g}; {check.message}"
    yield Progress(1.0, 1.0, "restored")
    return FitRecord(
        revision=revision,
        settings=settings,
        model=model,
        theta0=theta0,
        theta_s=theta_s,
        theta_hat=theta_hat,
        loss=float(loss[0]),
        grad_norm=gn,
        converged=converged,
        message=message,
        # no training history in a session file: the loss plot shows only the loss reached
        history_steps=np.zeros(0),
        history_loss=np.zeros(0),
        grid=grid,
        curve=model.predict(theta_hat, grid)[0],
        fitted=model.predict(theta_hat, x)[0],
        min_eigenvalues=check.eigenvalues[:3].copy(),
        extra={"diverged": False, "steps_taken": int(problem.config.steps), "restored": True},
        fingerprint=fingerprint,
    )


def _project_segments(
    plane: PrincipalPlane, start: np.ndarray, tangent: np.ndarray, span: float
) -> np.ndarray:
    """Endpoints (2, 2) of the projected segment start → start + span·tangent."""
    return np.stack([plane.project(start), plane.project(start) + span * plane.project_vectors(tangent)])


def epspath_task(
    problem: Problem, base: FitRecord, key: AnalysisKey, n_points: int = EPS_POINTS, n_cold: int = COLD_POINTS
) -> Generator[Progress, None, EpsPathRecord]:
    """The continuation path from θ̂ and the cold path from θ_0 for point ``key.j`` (docs/science.md §2)."""
    model = problem.model
    j = key.j
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    kappa = problem.kappa
    ep = yield from scaled(
        continuation_path(model, base.theta_hat, x, y, w, kappa, [j], n_points=n_points),
        0.0,
        0.55,
        1.0,
        f"point {j}: ",
    )
    cp = yield from scaled(
        cold_path(
            model, base.theta0, x, y, w, problem.config, [j], n_points=n_cold, converge=problem.converge
        ),
        0.55,
        0.95,
        1.0,
        f"point {j}: cold path θ(T, ε): ",
    )
    yield Progress(0.95, 1.0, f"point {j}: curves and projections")
    theta = ep.theta[0]
    reached = int(ep.reached[0])
    K, d = theta.shape
    tangent = ep.tangent[0]
    st = {k: float(v[0]) for k, v in ep.straightness().items()} if reached > 0 else {}
    grid = display_grid(x)
    curves = np.full((K, grid.size), np.nan)
    ok = np.isfinite(theta).all(axis=1)
    if ok.any():
        curves[ok] = model.predict(theta[ok], grid)
    e1, e0 = 1.0, float(ep.eps[max(reached, 0)])
    t1 = tangent[0]
    t0 = tangent[max(reached, 0)]
    th1, th0 = theta[0], theta[max(reached, 0)]
    # θ(ε) ≈ θ(ε₀) + θ'(ε₀)(ε − ε₀): from ε = 1 the segment goes down to 1 − span, from ε_end up to ε_end + span
    seg1_eps = np.array([e1, e1 - TANGENT_SPAN])
    seg1 = np.stack([th1, th1 - TANGENT_SPAN * t1], axis=1)
    seg0_eps = np.array([e0, e0 + TANGENT_SPAN])
    seg0 = np.stack([th0, th0 + TANGENT_SPAN * t0], axis=1)
    cold_theta = cp.theta[0]
    ref = np.asarray(base.theta_hat, dtype=np.float64)  # θ(1) = θ̂ (also when the continuation cannot start)
    pts = np.concatenate([theta[ok], cold_theta[np.isfinite(cold_theta).all(axis=1)]])
    plane = principal_plane(pts if pts.size else theta[:1])
    if np.isfinite(th0).all() and np.isfinite(cold_theta[-1]).all():
        cold_fd = float(function_distance(model, cold_theta[-1], th0, x)[0])
        cold_pd = float(np.linalg.norm(cold_theta[-1] - th0))
    else:
        cold_fd = cold_pd = float("nan")
    yield Progress(1.0, 1.0, f"point {j}: ε-path done")
    return EpsPathRecord(
        key=key,
        param_names=list(model.param_names()),
        eps=ep.eps.copy(),
        theta=theta,
        grad_norm=ep.grad_norm[0],
        min_eig=ep.min_eig[0],
        tangent=tangent,
        reached=reached,
        messages=list(ep.messages),
        straightness=st,
        seg1_eps=seg1_eps,
        seg1=seg1,
        seg0_eps=seg0_eps,
        seg0=seg0,
        cold_eps=cp.eps.copy(),
        cold_theta=cold_theta,
        cold_polished=bool(cp.polished),
        cold_end_function_distance=cold_fd,
        cold_end_param_distance=cold_pd,
        grid=grid,
        curves=curves,
        plane=plane,
        pc_theta=plane.project(theta),
        pc_cold=plane.project(cold_theta),
        pc_seg1=_project_segments(plane, th1, -t1, TANGENT_SPAN),
        pc_seg0=_project_segments(plane, th0, t0, TANGENT_SPAN),
        d_theta=theta - ref,
        d_cold=cold_theta - ref,
        d_seg1=seg1 - ref[:, None],
        d_seg0=seg0 - ref[:, None],
    )


def estimates_task(
    problem: Problem, base: FitRecord, key: AnalysisKey, damping: float
) -> Generator[Progress, None, EstimatesRecord]:
    """Every estimate of the model without z_j and the error decomposition at damping λ (docs/science.md §3)."""
    model = problem.model
    j = key.j
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    res = yield from scaled(
        deletion_estimates(
            model,
            x,
            y,
            w,
            problem.kappa,
            base.theta0,
            base.theta_s,
            base.theta_hat,
            j,
            damping,
            problem.config,
            converge=problem.converge,
        ),
        0.0,
        0.95,
        1.0,
        f"point {j}, λ = {damping:.3g}: ",
    )
    grid = display_grid(x)
    est = res.estimates
    thetas = np.stack([est[name].theta for name in ESTIMATE_NAMES])
    curves_all = model.predict(thetas, grid)
    cold = est["loo_cold"].theta
    fd_cold = function_distance(model, thetas, cold, x)
    fd_hat = function_distance(model, thetas, base.theta_hat, x)
    pd_cold = np.linalg.norm(thetas - cold[None], axis=1)
    names = list(ESTIMATE_NAMES)
    return EstimatesRecord(
        key=key,
        damping=float(damping),
        result=res,
        grid=grid,
        curves={name: curves_all[k] for k, name in enumerate(names)},
        function_to_cold={name: float(fd_cold[k]) for k, name in enumerate(names)},
        function_to_hat={name: float(fd_hat[k]) for k, name in enumerate(names)},
        param_to_cold={name: float(pd_cold[k]) for k, name in enumerate(names)},
    )


def homotopy_task(
    problem: Problem,
    theta0: np.ndarray,
    key: AnalysisKey,
    n_eps: int = HOMOTOPY_EPS,
    n_snapshots: int = HOMOTOPY_SNAPSHOTS,
) -> Generator[Progress, None, HomotopyRecord]:
    """θ(t, ε) from θ_0 for every ε on the grid with the training settings (docs/science.md §4), its scalar fields,
    θ*_{−j} = θ(∞, 0) (the ε = 0 end polished on L_{−j}) and the family of curves f(θ(t, ε); x)."""
    model = problem.model
    j = key.j
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    kappa = problem.kappa
    config = problem.config
    h = yield from scaled(
        homotopy(model, theta0, x, y, w, config, j, n_eps=n_eps, n_snapshots=n_snapshots),
        0.0,
        0.8,
        1.0,
        f"point {j}: θ(t, ε): ",
    )
    yield Progress(0.8, 1.0, f"point {j}: θ*_{{−j}} and the scalar fields")
    end = h.theta[-1, -1]  # t = T, ε = 0
    w0 = eps_weights(w, [j], 0.0)
    if np.isfinite(end).all():
        pol = polish(model, end, x, y, w0, kappa)
        target = pol.theta[0]
        note = (
            "θ*₋ⱼ (star) is the ε = 0 end θ(T, 0) polished to ‖∇L₋ⱼ‖ ≤ 1e-10, i.e. θ(∞, 0)"
            if bool(pol.converged[0])
            else f"θ*₋ⱼ (star): the polish of θ(T, 0) stopped at ‖∇L₋ⱼ‖ = {float(pol.grad_norm[0]):.2g}"
        )
    else:
        target = end
        note = "θ*₋ⱼ (star) is θ(T, 0) (training diverged)"
    scalars = {}
    for name in HOMOTOPY_SCALARS:
        if name == "param":
            continue
        scalars[name] = h.scalar(model, x, y, w, kappa, name, target=target)
        yield Progress(0.82, 1.0, f"point {j}: scalar field {name}")
    log_scalars = {}
    for name, v in scalars.items():
        log_scalars[name] = np.log10(v) if np.all(v > 0) else None
    S, E, d = h.theta.shape
    grid = display_grid(x, FAMILY_GRID)
    flat = h.theta.reshape(S * E, d)
    curves = np.empty((S * E, grid.size))
    chunk = max(1, 2000 // max(1, grid.size // 40))
    for a in range(0, S * E, chunk):
        curves[a : a + chunk] = model.predict(flat[a : a + chunk], grid)
        yield Progress(0.85 + 0.13 * min(1.0, (a + chunk) / (S * E)), 1.0, f"point {j}: family of curves")
    plane = principal_plane(np.concatenate([flat, target[None]]))
    yield Progress(1.0, 1.0, f"point {j}: homotopy done")
    return HomotopyRecord(
        key=key,
        param_names=list(model.param_names()),
        eps=h.eps.copy(),
        times=np.asarray(h.times, dtype=np.float64),
        steps=np.asarray(h.steps),
        theta=h.theta,
        scalars=scalars,
        log_scalars=log_scalars,
        target=np.asarray(target, dtype=np.float64),
        target_note=note,
        theta0=np.asarray(theta0, dtype=np.float64),
        grid=grid,
        curves=curves.reshape(S, E, grid.size),
        plane=plane,
        pc_theta=plane.project(h.theta),
        pc_target=plane.project(target),
        optimizer=config.optimizer,
        lr=float(config.lr),
    )


__all__ = [
    "AnalysisKey",
    "AnalysisResults",
    "ESTIMATE_LABELS",
    "EpsPathRecord",
    "EstimatesRecord",
    "GAP_LABELS",
    "GAP_NAMES",
    "HomotopyRecord",
    "OVERLAY_ESTIMATES",
    "SCALAR_LABELS",
    "base_fit_task",
    "base_problem",
    "epspath_task",
    "estimates_task",
    "homotopy_task",
    "problem_fingerprint",
    "restore_fit_task",
]
