"""Response functions for deleting a training point and Bae et al.'s error decomposition (docs/science.md §3).

Notation (docs/science.md §1): L_w(θ) = (1/n) Σ_i w_i ℓ_i(θ) + (κ/2)‖θ‖², ℓ_i = ½ (f(θ; x_i) − y_i)²; L_{−j} is
L_w with w_j = 0 (the 1/n stays 1/n); θ_0 the initialisation, θ^s the parameters training produced (early-
stopped or converged), θ̂ the converged parameters (θ̂ = θ^s when not polished), λ > 0 the damping.

The six estimates of the model without z_j (Bae et al. 2022, arXiv 2209.05364, §3 and Figure 1):
1. ``loo_cold``    LOO, cold start: train on D∖z_j from θ_0 with the same optimiser and step count (weights
                   w_j = 0 in :func:`core.train.train_models`); with ``converge`` polished by LM to tolerance.
2. ``loo_warm``    LOO, warm start: argmin L_{−j}(θ), solved by LM from θ^s.
3. ``proximal``    argmin L_{−j}(θ) + (λ/2)‖θ − θ^s‖², LM from θ^s.
4. ``pbrf``        argmin (1/n) Σ_i w_i ½ (f(θ; x_i) − f(θ^s; x_i))² − (w_j/n) ℓ_j(θ) + ((λ+κ)/2)‖θ − θ^s‖²,
                   LM from θ^s (the sum includes i = j; λ > 0 required).
5. ``pbrf_linear`` θ^s + Δθ_GNH(θ^s), Δθ_GNH = (w_j/n)(G(θ^s) + λI)⁻¹ ∇ℓ_j(θ^s), exact solve.
6. ``if_solver``   the same with the iterative solver (CG / LiSSA) under its budget ("practical influence").
plus, centred at θ̂: ``if_exact`` θ̂ + (w_j/n) H⁻¹ g_j, ``if_gnh`` θ̂ + (w_j/n)(G(θ̂) + λI)⁻¹ g_j and
``newton`` θ̂ − (∇²L_{−j}(θ̂))⁻¹ ∇L_{−j}(θ̂) (core.deletion.influence).

Convention fixed here, following the paper where docs/science.md is ambiguous: docs/science.md §3 writes the linearised
PBRF as "θ^s + Δθ_GNH" with Δθ_GNH defined from g_j = ∇ℓ_j(θ̂). The PBRF is centred at θ^s, and Bae et al.
linearise it around θ^s, so items 5 and 6 use G and ∇ℓ_j evaluated at θ^s; only then is item 5 the PBRF's
exact first-order expansion (d/dε of the PBRF solution at ε = 0, tested) and the linearisation error (4↔5)
a pure linearisation error. For the same reason ``if_solver`` (item 6) is centred at θ^s, so the solver error
(5↔6) is the iterative solver's error alone. ``if_gnh`` keeps docs/science.md's θ̂-centred formula (an IF, so at θ̂);
when θ^s = θ̂ it coincides with ``pbrf_linear``.
With general data weights the deletion removes w_j ℓ_j/n and the PBRF's Bregman terms are weighted by w_i
(the Bregman divergence of L_w); with w = 1 this is exactly docs/science.md §3.

Every LM solve (items 2–4 and the cold-start polish) is one batched :func:`core.objective.newton_solve` over
an :class:`core.objective.LSObjective`. To stack LOO-warm, proximal and PBRF for many js into a single solve,
all of them are written over the union of inputs u = (x_1, …, x_n, x_{j_1}, …, x_{j_m}): the first n entries
carry the training / Bregman terms, entry n + k carries the k-th model's −(w_j/n) ℓ_j term (coefficient 0
elsewhere).

Why the PBRF is well posed for λ > 0: because the Bregman sum includes i = j, the deleted point enters as
½(f_j − f^s_j)² − ½(f_j − y_j)² = (y_j − f^s_j) f_j + const, linear in the output f_j; with bounded activations
(tanh, sigmoid) |f| grows at most like ‖θ‖, so the proximity term ((λ+κ)/2)‖θ − θ^s‖² makes the objective
coercive. With relu / softplus / identity f can grow like a product of layer weights and a small λ may leave the
PBRF unbounded below; the LM solve then reports that it did not converge (a warning), it never pretends.
With λ = 0 (even with κ > 0) the contract's "λ > 0 is required" is applied: the PBRF refuses with a ValueError.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from core.deletion.influence import (
    HessianCheck,
    SolveInfo,
    _indices,
    deletion_weights,
    fmt_num,
    gnh_influence,
    influence_estimates,
)
from core.model import Model, _weights
from core.objective import LSObjective, newton_solve
from core.progress import Progress, scaled
from core.train import TrainConfig, train

#: Gradient-norm tolerance of every LM solve (docs/science.md §1 "converged").
SOLVE_TOL = 1e-10
#: LM iteration cap: 1→3→1 problems need ~10–40 iterations from θ^s; wider nets (1→8→8→1, d = 97) with nearly
#: flat directions ~150. Converged models leave the active set, so a generous cap costs nothing when not needed.
SOLVE_MAX_ITER = 500

ESTIMATE_NAMES = (
    "loo_cold",
    "loo_warm",
    "proximal",
    "pbrf",
    "pbrf_linear",
    "if_exact",
    "if_gnh",
    "if_solver",
    "newton",
)
#: (gap name, estimate a, estimate b): the decomposition's consecutive pairs (Bae et al. Figure 1).
GAPS = (
    ("warm_start_gap", "loo_cold", "loo_warm"),
    ("proximity_gap", "loo_warm", "proximal"),
    ("non_convergence_gap", "proximal", "pbrf"),
    ("linearization_error", "pbrf", "pbrf_linear"),
    ("solver_error", "pbrf_linear", "if_solver"),
)
GAP_NAMES = tuple(g[0] for g in GAPS)


# --------------------------------------------------------------------------------------------------
# Objectives (batched over the deleted points js, on the union inputs)
# --------------------------------------------------------------------------------------------------


def _setup(x, y, w, js):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    js, _ = _indices(js, n)
    wv = _weights(w, 1, n)[0].astype(np.float64)
    return x, y, n, js, wv


def _union(x, y, js):
    return np.concatenate([x, x[js]]), np.concatenate([y, y[js]])


def loo_objective(model: Model, x, y, w, kappa: float, js) -> LSObjective:
    """L_{−j}(θ) = (1/n) Σ_{i≠j} w_i ℓ_i(θ) + (κ/2)‖θ‖² for each j in js (docs/science.md §3 items 1–2), over the
    union inputs (the extra entries have coefficient 0)."""
    x, y, n, js, wv = _setup(x, y, w, js)
    m = len(js)
    u, t = _union(x, y, js)
    c = np.concatenate([deletion_weights(wv, n, js) / n, np.zeros((m, m))], axis=1)
    return LSObjective(model, u, np.broadcast_to(t, (m, n + m)), c, np.full(m, float(kappa)), None)


def proximal_objective(model: Model, x, y, w, kappa: float, js, theta_s, damping: float) -> LSObjective:
    """L_{−j}(θ) + (λ/2)‖θ − θ^s‖² (docs/science.md §3 item 3). As an LSObjective the two quadratic terms combine:
    (κ/2)‖θ‖² + (λ/2)‖θ − θ^s‖² = ((κ+λ)/2)‖θ − λθ^s/(κ+λ)‖² + const."""
    if damping < 0:
        raise ValueError(f"damping λ must be ≥ 0, got {damping}")
    obj = loo_objective(model, x, y, w, kappa, js)
    m = obj.c.shape[0]
    mu = float(kappa) + float(damping)
    theta_s = np.asarray(theta_s, dtype=np.float64).reshape(-1)
    center = damping / mu * theta_s if mu > 0 else np.zeros_like(theta_s)
    return replace(obj, mu=np.full(m, mu), center=np.broadcast_to(center, (m, theta_s.size)))


def pbrf_objective(
    model: Model, x, y, w, kappa: float, js, theta_s, damping: float, eps: float | np.ndarray = 1.0
) -> LSObjective:
    """The PBRF objective (docs/science.md §3 item 4; Bae et al. 2022's PBRF plus the weight decay's Bregman term):

        (1/n) Σ_i w_i ½ (f(θ; x_i) − f(θ^s; x_i))² − ε (w_j/n) ½ (f(θ; x_j) − y_j)² + ((λ+κ)/2)‖θ − θ^s‖².

    ε = 1 is the deletion; other ε (scalar or one per j) give the PBRF path whose derivative at ε = 0 is the
    linearised PBRF. λ > 0 is required (ValueError otherwise): with λ = 0 the objective is in general flat or
    unbounded in θ and the paper's response is undefined.
    """
    if not (np.isfinite(damping) and damping > 0):
        raise ValueError(
            f"the PBRF needs damping λ > 0 (got λ = {damping}): without the proximity term (λ/2)‖θ − θ^s‖² the "
            "deleted point's loss is maximised unchecked and the response is undefined"
        )
    x, y, n, js, wv = _setup(x, y, w, js)
    m = len(js)
    theta_s = np.asarray(theta_s, dtype=np.float64).reshape(-1)
    f_s = model.predict(theta_s, x)[0]
    u = np.concatenate([x, x[js]])
    t = np.broadcast_to(np.concatenate([f_s, y[js]]), (m, n + m))
    eps = np.broadcast_to(np.asarray(eps, dtype=np.float64), (m,))
    c = np.zeros((m, n + m))
    c[:, :n] = wv / n
    c[np.arange(m), n + np.arange(m)] = -eps * wv[js] / n
    mu = np.full(m, float(kappa) + float(damping))
    return LSObjective(model, u, t, c, mu, np.broadcast_to(theta_s, (m, theta_s.size)))


def stack_objectives(*objs: LSObjective) -> LSObjective:
    """One LSObjective whose models are the models of ``objs`` in order (they must share u)."""
    u = objs[0].u
    for o in objs[1:]:
        if o.u.shape != u.shape or not np.array_equal(o.u, u):
            raise ValueError("stacked objectives must share their inputs u")
    Bs = [np.shape(o.c)[0] for o in objs]
    m = u.shape[0]
    d = objs[0].model.n_params
    t = np.concatenate([np.broadcast_to(o.t, (b, m)) for o, b in zip(objs, Bs, strict=True)])
    c = np.concatenate([np.broadcast_to(o.c, (b, m)) for o, b in zip(objs, Bs, strict=True)])
    mu = np.concatenate(
        [np.broadcast_to(np.asarray(o.mu, dtype=np.float64), (b,)) for o, b in zip(objs, Bs, strict=True)]
    )
    center = np.concatenate(
        [
            np.zeros((b, d)) if o.center is None else np.broadcast_to(o.center, (b, d))
            for o, b in zip(objs, Bs, strict=True)
        ]
    )
    return LSObjective(objs[0].model, u, t, c, mu, center)


# --------------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------------


@dataclass
class Response:
    """A response batched over the deleted points js: theta (m, d). grad_norm is the norm of the gradient of
    the response's own objective at theta (None for closed-form estimates); converged is grad_norm ≤ tol for
    solved responses (None when not solved)."""

    name: str
    js: np.ndarray
    theta: np.ndarray
    grad_norm: np.ndarray | None = None
    converged: np.ndarray | None = None
    min_eigenvalues: np.ndarray | None = None  # (m, k) of the objective's Hessian at theta
    iterations: int = 0
    tol: float | None = None
    start: str = ""
    message: str = ""
    diverged: np.ndarray | None = None  # (m,) cold start only: training diverged


def _from_solve(name, js, res, sl, start) -> Response:
    return Response(
        name,
        js,
        res.theta[sl],
        res.grad_norm[sl],
        res.converged[sl],
        None if res.min_eigenvalues is None else res.min_eigenvalues[sl],
        res.iterations,
        res.tol,
        start,
    )


def solve_responses(
    model: Model,
    x,
    y,
    w,
    kappa: float,
    theta_s,
    js,
    damping: float,
    which=("loo_warm", "proximal", "pbrf"),
    tol: float = SOLVE_TOL,
    max_iter: int = SOLVE_MAX_ITER,
    eps: float | np.ndarray = 1.0,
    cold_start: np.ndarray | None = None,
) -> dict[str, Response]:
    """Items 2–4 of docs/science.md §3 — LOO warm start, proximal response, PBRF — for every j in js, all solved by
    ONE batched LM call (:func:`core.objective.newton_solve`) from θ^s to ‖∇‖ ≤ tol. ``eps`` scales the
    PBRF's deleted-point term (see :func:`pbrf_objective`). ``which`` may also contain "loo_cold": the polish
    of the cold-start LOO (argmin L_{−j} by LM from ``cold_start`` (m, d), the trained parameters), so that it
    shares the same batched solve."""
    builders = {
        "loo_cold": lambda: loo_objective(model, x, y, w, kappa, js),
        "loo_warm": lambda: loo_objective(model, x, y, w, kappa, js),
        "proximal": lambda: proximal_objective(model, x, y, w, kappa, js, theta_s, damping),
        "pbrf": lambda: pbrf_objective(model, x, y, w, kappa, js, theta_s, damping, eps),
    }
    unknown = [k for k in which if k not in builders]
    if unknown:
        raise ValueError(f"unknown response(s) {unknown}; choose from {list(builders)}")
    js_arr, _ = _indices(js, np.shape(x)[0])
    m = len(js_arr)
    starts = []
    for name in which:
        if name == "loo_cold":
            if cold_start is None:
                raise ValueError("polishing the cold-start LOO needs its trained parameters (cold_start)")
            starts.append(np.asarray(cold_start, dtype=np.float64).reshape(m, model.n_params))
        else:
            starts.append(
                np.broadcast_to(np.asarray(theta_s, dtype=np.float64).reshape(-1), (m, model.n_params))
            )
    obj = stack_objectives(*[builders[k]() for k in which])
    res = newton_solve(obj, np.concatenate(starts), tol=tol, max_iter=max_iter)
    out = {}
    for k, name in enumerate(which):
        start = "θ_0" if name == "loo_cold" else "θ^s"
        r = _from_solve(name, js_arr, res, slice(k * m, (k + 1) * m), start)
        if not r.converged.all():
            bad = js_arr[~r.converged]
            origin = "the trained parameters" if name == "loo_cold" else "θ^s"
            r.message = (
                f"{name}: LM from {origin} stopped at ‖∇‖ = {fmt_num(float(r.grad_norm.max()))} > {tol:g} for "
                f"j = {', '.join(map(str, bad))} (smallest Hessian eigenvalue "
                f"{fmt_num(float(r.min_eigenvalues[:, 0].min()))})"
            )
        out[name] = r
    return out


def loo_warm(model, x, y, w, kappa, theta_s, js, tol=SOLVE_TOL, max_iter=SOLVE_MAX_ITER) -> Response:
    """LOO, warm start (docs/science.md §3 item 2): argmin L_{−j}(θ) by LM from θ^s."""
    return solve_responses(model, x, y, w, kappa, theta_s, js, 0.0, ("loo_warm",), tol, max_iter)["loo_warm"]


def proximal_response(model, x, y, w, kappa, theta_s, js, damping, tol=SOLVE_TOL, max_iter=SOLVE_MAX_ITER):
    """Proximal response (docs/science.md §3 item 3): argmin L_{−j}(θ) + (λ/2)‖θ − θ^s‖² by LM from θ^s."""
    return solve_responses(model, x, y, w, kappa, theta_s, js, damping, ("proximal",), tol, max_iter)[
        "proximal"
    ]


def pbrf(model, x, y, w, kappa, theta_s, js, damping, eps=1.0, tol=SOLVE_TOL, max_iter=SOLVE_MAX_ITER):
    """PBRF (docs/science.md §3 item 4, :func:`pbrf_objective`) by LM from θ^s; λ > 0 required."""
    return solve_responses(model, x, y, w, kappa, theta_s, js, damping, ("pbrf",), tol, max_iter, eps)["pbrf"]


def _train_cold(model, x, y, wv, kappa, theta0, js, train_config):
    """Train len(js) models from θ_0 on D∖z_j (w_j = 0) with one batched :func:`core.train.train` call."""
    if float(train_config.weight_decay) != float(kappa):
        raise ValueError(
            f"κ = {kappa} differs from the training configuration's weight decay {train_config.weight_decay}"
        )
    n = np.shape(x)[0]
    theta0 = np.asarray(theta0, dtype=np.float64).reshape(-1)
    start = np.broadcast_to(theta0, (len(js), theta0.size))
    W = deletion_weights(wv, n, js)
    return (yield from scaled(train(model, start, x, y, W, train_config), 0.0, 1.0, 1.0, "LOO cold start: "))


def _unpolished_cold(model, x, y, wv, kappa, js, tr) -> Response:
    W = deletion_weights(wv, np.shape(x)[0], js)
    _, g = model.loss_and_grad(tr.theta, x, y, W, kappa)
    msg = "LOO cold start: " + tr.message if tr.diverged.any() else ""
    return Response(
        "loo_cold",
        js,
        tr.theta,
        np.linalg.norm(g, axis=1),
        None,
        None,
        tr.steps,
        None,
        "θ_0",
        msg,
        tr.diverged,
    )


def loo_cold(
    model: Model,
    x,
    y,
    w,
    kappa: float,
    theta0,
    js,
    train_config: TrainConfig,
    converge: bool = True,
    tol: float = SOLVE_TOL,
    max_iter: int = SOLVE_MAX_ITER,
) -> Generator[Progress, None, Response]:
    """LOO, cold start (docs/science.md §3 item 1), a progress generator: train B = len(js) models from the same θ_0
    with ``train_config`` (same optimiser, steps, mini-batch order), model k with w_{js[k]} = 0, in ONE
    :func:`core.train.train` call; with ``converge`` then polish all by LM on L_{−j} to ‖∇L_{−j}‖ ≤ tol.
    grad_norm is ‖∇L_{−j}‖ at the result in both cases; converged is set only when polished."""
    x, y, n, js, wv = _setup(x, y, w, js)
    tr = yield from scaled(_train_cold(model, x, y, wv, kappa, theta0, js, train_config), 0.0, 0.9, 1.0)
    if not converge:
        return _unpolished_cold(model, x, y, wv, kappa, js, tr)
    yield Progress(0.9, 1.0, f"LOO cold start: polishing to ‖∇L‖ ≤ {tol:g}")
    r = solve_responses(
        model, x, y, wv, kappa, None, js, 0.0, ("loo_cold",), tol, max_iter, cold_start=tr.theta
    )
    r = r["loo_cold"]
    if tr.diverged.any():
        r.message = "; ".join(filter(None, ["LOO cold start: " + tr.message, r.message]))
    r.diverged = tr.diverged
    yield Progress(1.0, 1.0, "LOO cold start done")
    return r


def linearised_pbrf(
    model: Model,
    x,
    y,
    w,
    kappa: float,
    theta_s,
    js,
    damping: float,
    solver: str = "cg",
    solver_budget: int | None = None,
    lissa_scale: float | None = None,
) -> tuple[Response, Response, SolveInfo]:
    """Items 5 and 6 of docs/science.md §3: θ^s + Δθ_GNH(θ^s) by the exact solve ('pbrf_linear') and by the iterative
    ``solver`` under ``solver_budget`` ('if_solver'), Δθ_GNH = (w_j/n)(G(θ^s) + λI)⁻¹ ∇ℓ_j(θ^s) (see the module
    docstring for why G and ∇ℓ_j are taken at θ^s)."""
    x, y, n, js, wv = _setup(x, y, w, js)
    theta_s = np.asarray(theta_s, dtype=np.float64).reshape(-1)
    direct, it, info = gnh_influence(
        model, theta_s, x, y, wv, kappa, js, damping, solver, solver_budget, lissa_scale
    )
    lin = Response("pbrf_linear", js, theta_s + direct, start="θ^s")
    prac = Response("if_solver", js, theta_s + it, start="θ^s", message=info.message)
    return lin, prac, info


# --------------------------------------------------------------------------------------------------
# Error decomposition
# --------------------------------------------------------------------------------------------------


@dataclass
class ErrorDecomposition:
    """Bae et al.'s five gaps (docs/science.md §3), each the distance between consecutive estimates:
    ``function[name]`` = mean_i |f(a; x_i) − f(b; x_i)| over the training inputs (the primary metric) and
    ``params[name]`` = ‖a − b‖. Values are floats for one j, (m,) arrays for many."""

    function: dict[str, float | np.ndarray]
    params: dict[str, float | np.ndarray]


def function_distance(model: Model, a, b, x) -> np.ndarray:
    """mean_i |f(a; x_i) − f(b; x_i)| over the inputs x (docs/science.md §3); a, b (d,) or (m, d) → (m,)."""
    return np.mean(np.abs(model.predict(a, x) - model.predict(b, x)), axis=1)


def error_decomposition(model: Model, x, thetas: dict) -> ErrorDecomposition:
    """The five-term decomposition (docs/science.md §3; Bae et al. 2022 Figure 1) from the six estimates
    ``thetas[name]`` for name in loo_cold, loo_warm, proximal, pbrf, pbrf_linear, if_solver, each (d,) or (m, d):
    warm-start gap (1↔2), proximity gap (2↔3), non-convergence gap (3↔4), linearisation error (4↔5),
    solver error (5↔6), in function space and parameter space."""
    x = np.asarray(x, dtype=np.float64)
    single = np.ndim(thetas["loo_cold"]) == 1
    fun, par = {}, {}
    for gap, a, b in GAPS:
        ta = np.atleast_2d(thetas[a])
        tb = np.atleast_2d(thetas[b])
        fd = function_distance(model, ta, tb, x)
        pd = np.linalg.norm(ta - tb, axis=1)
        fun[gap] = float(fd[0]) if single else fd
        par[gap] = float(pd[0]) if single else pd
    return ErrorDecomposition(fun, par)


# --------------------------------------------------------------------------------------------------
# One entry point
# --------------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """One estimate of the model without z_j: its parameters, predictions at the training inputs, and (for
    solved responses) the gradient norm of its own objective and whether it reached the tolerance."""

    theta: np.ndarray  # (d,)
    pred_train: np.ndarray  # (n,)
    grad_norm: float | None
    converged: bool | None
    centre: str  # where it starts / is centred: "θ_0", "θ^s" or "θ̂"
    formula: str
    #: smallest eigenvalue of the objective's Hessian at theta (solved responses only): > 0 means a strict local
    #: minimum was found, not a saddle
    min_eigenvalue: float | None = None

    def to_json(self) -> dict:
        """{theta, grad_norm, pred_train} as in the CLI's JSON, plus converged and min_eigenvalue."""
        return {
            "theta": [float(v) for v in self.theta],
            "grad_norm": self.grad_norm,
            "pred_train": [float(v) for v in self.pred_train],
            "converged": self.converged,
            "min_eigenvalue": self.min_eigenvalue,
        }


_FORMULAS = {
    "loo_cold": "train on D∖z_j from θ_0 (same optimiser and steps)",
    "loo_warm": "argmin L_{−j}(θ), LM from θ^s",
    "proximal": "argmin L_{−j}(θ) + (λ/2)‖θ − θ^s‖², LM from θ^s",
    "pbrf": "argmin (1/n)Σ_i ½(f(θ;x_i) − f(θ^s;x_i))² − (1/n)ℓ_j(θ) + ((λ+κ)/2)‖θ − θ^s‖², LM from θ^s",
    "pbrf_linear": "θ^s + (1/n)(G(θ^s) + λI)⁻¹∇ℓ_j(θ^s), direct solve",
    "if_exact": "θ̂ + (1/n)H⁻¹∇ℓ_j(θ̂)",
    "if_gnh": "θ̂ + (1/n)(G(θ̂) + λI)⁻¹∇ℓ_j(θ̂), direct solve",
    "if_solver": "θ^s + (1/n)(G(θ^s) + λI)⁻¹∇ℓ_j(θ^s), iterative solver under its budget",
    "newton": "θ̂ − (∇²L_{−j}(θ̂))⁻¹∇L_{−j}(θ̂)",
}


@dataclass
class DeletionEstimates:
    """Every estimate of the model without z_j (docs/science.md §3) and the error decomposition."""

    j: int
    damping: float
    n: int
    loo_cold: Estimate
    loo_warm: Estimate
    proximal: Estimate
    pbrf: Estimate
    pbrf_linear: Estimate
    if_exact: Estimate
    if_gnh: Estimate
    if_solver: Estimate
    newton: Estimate
    decomposition: dict[str, float]  # function space, mean |Δf| over the training inputs
    decomposition_params: dict[str, float]  # ‖Δθ‖
    self_influence: float  # s_j = g_jᵀ H⁻¹ g_j at θ̂
    predicted_loss_change: float  # (w_j/n) s_j
    actual_loss_change: float  # ℓ_j(θ_LOO cold) − ℓ_j(θ̂)
    hessian_min_eigenvalues: np.ndarray  # the 3 smallest eigenvalues of H = ∇²L(θ̂)
    hessian_positive_definite: bool
    solver: str
    solver_budget: int | None
    solver_info: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def estimates(self) -> dict[str, Estimate]:
        return {name: getattr(self, name) for name in ESTIMATE_NAMES}

    def to_json(self) -> dict:
        """The deletion part of the CLI's JSON document: deleted, damping, estimates, decomposition,
        decomposition_params, self_influence, predicted_loss_change, actual_loss_change, plus the Hessian's
        smallest eigenvalues, the solver and the warnings. Plain floats and lists."""
        return {
            "deleted": self.j,
            "damping": self.damping,
            "estimates": {name: e.to_json() for name, e in self.estimates.items()},
            "decomposition": dict(self.decomposition),
            "decomposition_params": dict(self.decomposition_params),
            "self_influence": self.self_influence,
            "predicted_loss_change": self.predicted_loss_change,
            "actual_loss_change": self.actual_loss_change,
            "hessian_min_eigenvalues": [float(v) for v in self.hessian_min_eigenvalues],
            "hessian_positive_definite": self.hessian_positive_definite,
            "solver": {"name": self.solver, **self.solver_info},
            "warnings": list(self.warnings),
        }


def deletion_estimates_all(
    model: Model,
    x,
    y,
    w,
    kappa: float,
    theta0,
    theta_s,
    theta_hat,
    js,
    damping: float,
    train_config: TrainConfig,
    solver: str = "cg",
    solver_budget: int | None = None,
    converge: bool = True,
    lissa_scale: float | None = None,
    tol: float = SOLVE_TOL,
) -> Generator[Progress, None, list[DeletionEstimates]]:
    """:func:`deletion_estimates` for every j in ``js`` (None: every point) with every solve batched over the
    js: one training run with B = len(js) for the cold LOO, ONE LM solve for the cold-LOO polish and the
    3·len(js) warm / proximal / PBRF problems together, one factorisation of H and of G + λI. Progress
    generator; returns a list of :class:`DeletionEstimates` in the order of ``js``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    js, _ = _indices(np.arange(n) if js is None else js, n)
    m = len(js)
    wv = _weights(w, 1, n)[0].astype(np.float64)
    theta0 = np.asarray(theta0, dtype=np.float64).reshape(-1)
    theta_s = np.asarray(theta_s, dtype=np.float64).reshape(-1)
    theta_hat = np.asarray(theta_hat, dtype=np.float64).reshape(-1)
    if not (np.isfinite(damping) and damping > 0):
        raise ValueError(f"the deletion estimates need damping λ > 0 for the PBRF (got λ = {damping})")

    tr = yield from scaled(_train_cold(model, x, y, wv, kappa, theta0, js, train_config), 0.0, 0.8, 1.0)
    yield Progress(0.8, 1.0, "LOO warm start, proximal response, PBRF (and the cold-start polish) by LM")
    which = ("loo_cold", "loo_warm", "proximal", "pbrf") if converge else ("loo_warm", "proximal", "pbrf")
    solved = solve_responses(
        model, x, y, wv, kappa, theta_s, js, damping, which, tol=tol, cold_start=tr.theta
    )
    if converge:
        cold = solved.pop("loo_cold")
        cold.diverged = tr.diverged
    else:
        cold = _unpolished_cold(model, x, y, wv, kappa, js, tr)
    yield Progress(0.9, 1.0, "influence estimates")
    inf = influence_estimates(
        model, theta_hat, x, y, wv, kappa, js, damping, solver, solver_budget, lissa_scale
    )
    lin, prac, sinfo = linearised_pbrf(
        model, x, y, wv, kappa, theta_s, js, damping, solver, solver_budget, lissa_scale
    )

    thetas = {
        "loo_cold": cold.theta,
        "loo_warm": solved["loo_warm"].theta,
        "proximal": solved["proximal"].theta,
        "pbrf": solved["pbrf"].theta,
        "pbrf_linear": lin.theta,
        "if_exact": inf.theta_if,
        "if_gnh": inf.theta_gnh,
        "if_solver": prac.theta,
        "newton": inf.theta_newton,
    }
    responses = {"loo_cold": cold, **solved}
    centres = {
        "loo_cold": "θ_0",
        "loo_warm": "θ^s",
        "proximal": "θ^s",
        "pbrf": "θ^s",
        "pbrf_linear": "θ^s",
        "if_solver": "θ^s",
        "if_exact": "θ̂",
        "if_gnh": "θ̂",
        "newton": "θ̂",
    }
    allth = np.concatenate([thetas[k] for k in ESTIMATE_NAMES])
    preds = model.predict(allth, x).reshape(len(ESTIMATE_NAMES), m, n)
    dec = error_decomposition(model, x, {k: thetas[k] for k in thetas})
    ell = 0.5 * (preds[0, np.arange(m), js] - y[js]) ** 2
    ell_hat = 0.5 * (model.predict(theta_hat, x[js])[0] - y[js]) ** 2

    common = [wm for wm in inf.warnings if not wm.startswith("Newton estimate")]
    if sinfo.failed:
        common.append(f"{solver} at θ^s: {sinfo.message}")
    sinfo_dict = {
        "method": sinfo.method,
        "budget": sinfo.budget,
        "scale": None if sinfo.scale is None else np.asarray(sinfo.scale).tolist(),
        "message": sinfo.message,
    }
    out = []
    for k, j in enumerate(js):
        est = {}
        for e, name in enumerate(ESTIMATE_NAMES):
            r = responses.get(name)
            gn = None if r is None or r.grad_norm is None else float(r.grad_norm[k])
            conv = None if r is None or r.converged is None else bool(r.converged[k])
            me = None if r is None or r.min_eigenvalues is None else float(r.min_eigenvalues[k, 0])
            est[name] = Estimate(
                thetas[name][k].copy(), preds[e, k].copy(), gn, conv, centres[name], _FORMULAS[name], me
            )
        warn = list(common)
        if cold.diverged is not None and cold.diverged[k]:
            warn.append("loo_cold: training on D∖z_j diverged; the last finite parameters were kept")
        for name, r in responses.items():
            if r.converged is not None and not r.converged[k]:
                warn.append(
                    f"{name}: the solve stopped at ‖∇‖ = {fmt_num(float(r.grad_norm[k]))} > {tol:g} (smallest "
                    f"Hessian eigenvalue {fmt_num(float(r.min_eigenvalues[k, 0]))}): not converged"
                )
            elif r.min_eigenvalues is not None and not r.min_eigenvalues[k, 0] > 0:
                warn.append(
                    f"{name}: converged to a stationary point whose Hessian is not positive definite (smallest "
                    f"eigenvalue {fmt_num(float(r.min_eigenvalues[k, 0]))}): a saddle or a degenerate minimum"
                )
        if not inf.newton_hessian[k].positive_definite:
            warn.append("Newton estimate: " + inf.newton_hessian[k].message)
        out.append(
            DeletionEstimates(
                j=int(j),
                damping=float(damping),
                n=n,
                **est,
                decomposition={g: float(dec.function[g][k]) for g in GAP_NAMES},
                decomposition_params={g: float(dec.params[g][k]) for g in GAP_NAMES},
                self_influence=float(inf.self_influence[k]),
                predicted_loss_change=float(inf.predicted_loss_change[k]),
                actual_loss_change=float(ell[k] - ell_hat[k]),
                hessian_min_eigenvalues=inf.hessian.eigenvalues[:3].copy(),
                hessian_positive_definite=inf.hessian.positive_definite,
                solver=solver,
                solver_budget=sinfo.budget,
                solver_info={
                    **sinfo_dict,
                    "iterations": int(np.asarray(sinfo.iterations).reshape(-1)[k])
                    if np.ndim(sinfo.iterations)
                    else int(sinfo.iterations),
                    "residual": float(np.asarray(sinfo.residual).reshape(-1)[k]),
                },
                warnings=warn,
            )
        )
    yield Progress(1.0, 1.0, "deletion estimates done")
    return out


def deletion_estimates(
    model: Model,
    x,
    y,
    w,
    kappa: float,
    theta0,
    theta_s,
    theta_hat,
    j: int,
    damping: float,
    train_config: TrainConfig,
    solver: str = "cg",
    solver_budget: int | None = None,
    converge: bool = True,
    lissa_scale: float | None = None,
    tol: float = SOLVE_TOL,
) -> Generator[Progress, None, DeletionEstimates]:
    """Every estimate of the model without z_j (docs/science.md §3), a progress generator returning
    :class:`DeletionEstimates`: the six responses of Bae et al. (LOO cold from θ_0, LOO warm / proximal / PBRF by
    LM from θ^s, linearised PBRF and its iterative version at θ^s), the IF / damped-GNH IF / Newton estimates at
    θ̂, the five-gap decomposition, self-influence and the predicted vs actual change of ℓ_j.

    ``converge``: polish the cold-start LOO to ‖∇L_{−j}‖ ≤ tol (use it when θ̂ was polished too).
    ``train_config`` must be the configuration that produced θ^s from θ_0 (its weight decay must equal κ).
    """
    if np.ndim(j) != 0:
        raise ValueError("deletion_estimates takes one index j; use deletion_estimates_all for several")
    res = yield from deletion_estimates_all(
        model,
        x,
        y,
        w,
        kappa,
        theta0,
        theta_s,
        theta_hat,
        [j],
        damping,
        train_config,
        solver,
        solver_budget,
        converge,
        lissa_scale,
        tol,
    )
    return res[0]


__all__ = [
    "DeletionEstimates",
    "ErrorDecomposition",
    "Estimate",
    "HessianCheck",
    "Response",
    "deletion_estimates",
    "deletion_estimates_all",
    "error_decomposition",
    "function_distance",
    "linearised_pbrf",
    "loo_cold",
    "loo_objective",
    "loo_warm",
    "pbrf",
    "pbrf_objective",
    "proximal_objective",
    "proximal_response",
    "solve_responses",
    "stack_objectives",
]
