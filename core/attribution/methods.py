"""Per-point attribution: every training point's influence by every method, side by side with exact LOO
(docs/science.md §3, §6, §7).

Conventions (docs/science.md §1): ℓ_i(θ) = ½ (f(θ; x_i) − y_i)², L_w(θ) = (1/n) Σ_i w_i ℓ_i(θ) + (κ/2)‖θ‖²,
deleting z_i sets w_i = 0 and keeps the 1/n. θ_0 is the initialisation, θ^s the parameters training produced,
θ̂ the converged ones (θ̂ = θ^s when the problem is early-stopped), H = ∇²L(θ̂), G the Gauss–Newton Hessian
(κ included), λ the damping.

Query. Every effect is measured on a query loss ℓ_q (a :class:`Query`):
- ``self``: the deleted point's own loss — row i uses ℓ_q = ℓ_i;
- ``point``: one chosen training point q — every row uses ℓ_q;
- ``validation``: the mean loss (1/m) Σ_v ½ (f(θ; x_v) − y_v)² over a validation set (:class:`ValidationSet`).

Sign convention of the table. Every *effect* column means "the change in the query loss when point i is
deleted" (positive: the point was helping the query, deleting it hurts; negative: it was harming it):
- ``loo_cold``  ℓ_q(θ_{−i}) − ℓ_q(θ̂): θ_{−i} retrained from θ_0 with the same optimiser and steps (all n
                 retrains as ONE batched training run with weights 1 − I), then, when θ̂ is polished, polished
                 by one batched LM solve (core.deletion.responses.loo_cold). This is the exact leave-one-out (the truth).
- ``loo_warm``  ℓ_q(θ_{−i}) − ℓ_q(θ̂): θ_{−i} = argmin L_{−i} by LM from θ^s, batched over all i.
- ``if``        ∇ℓ_q(θ̂)ᵀ Δθ_IF, Δθ_IF = (1/n) H⁻¹ ∇ℓ_i(θ̂) (first-order prediction; pseudo-inverse if H is
                 not positive definite, with a warning) — core.deletion.influence.
- ``if_gnh``    ∇ℓ_q(θ̂)ᵀ Δθ_GNH, Δθ_GNH = (1/n)(G + λI)⁻¹ ∇ℓ_i(θ̂).
- ``pbrf``      ℓ_q(θ_PBRF) − ℓ_q(θ^s), the PBRF solved by LM from θ^s (core.deletion.responses; λ > 0).
- ``newton``    ℓ_q(θ_Nt) − ℓ_q(θ̂), θ_Nt = θ̂ − (∇²L_{−i}(θ̂))⁻¹ ∇L_{−i}(θ̂) (Koh et al. 2019).
- ``tracin``    Σ_k η_k ∇ℓ_i(θ_k)·∇ℓ_q(θ_k) over training checkpoints θ_k (Pruthi et al. 2020), η_k the learning
                 rate times the number of steps checkpoint k stands for. Natural sign kept: positive =
                 proponent. Since a GD step moves θ by −(η/n)∇ℓ_i per point, deleting z_i raises ℓ_q by
                 ≈ tracin/n to first order along the trajectory: the same orientation as the deletion effect,
                 n times larger.
- ``bif``       β·Cov(ℓ_i(w), φ(w)) = −β·BIF(z_i, φ) with φ = ℓ_q, w from the localised posterior sampled by
                 SGLD (see :func:`bif_sgld`). The BIF's natural sign is the opposite of the deletion effect
                 and its scale is 1/β; the table flips and rescales it so that its Laplace limit,
                 ∇φᵀ(H + γ/(nβ) I)⁻¹∇ℓ_i / n, is the damped IF prediction. The raw BIF is in ``BIFResult``.
- ``shapley``   TMC Data Shapley value (Ghorbani & Zou 2019) with V(S) = −MSE on the validation set of the
                 model trained on S. Natural sign kept: higher = more helpful, which is the orientation of the
                 deletion effect on the validation loss (V = −2 × mean validation loss, so the LOO analogue
                 V(D) − V(D∖i) = 2 × the ``validation`` query's deletion effect). Always validation-based,
                 whatever the query.
*Score* columns are query-independent and unsigned: ``self_influence`` s_i = ∇ℓ_iᵀ H⁻¹ ∇ℓ_i (s_i / n is the
predicted rise of ℓ_i on deletion), ``leverage`` (Jacobian leverage h_i = ∇f_iᵀ (nG)⁻¹ ∇f_i, docs/science.md §6, κ in
G, no damping), and for linear models the regression diagnostics of core.linear: ``cooks_distance``,
``studentized_residual`` (external), ``dfbetas_k`` per parameter and ``dfbetas_max_abs``.
``shapley_se`` and ``bif_se`` are Monte-Carlo standard errors.

Everything is float64 numpy; long computations are progress generators (core.progress).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace

import numpy as np

from core.deletion.influence import influence_estimates, solve_direct
from core.deletion.responses import loo_cold, solve_responses
from core.linear import jacobian_leverage, ols_diagnostics
from core.model import LinearFeatures, Model, _as_batch
from core.objective import newton_solve, training_objective
from core.points.dataset import Dataset
from core.problem import DEFAULT_DAMPING, Fit, Problem, fit_problem
from core.progress import Progress, drive
from core.train import train

#: Methods of the table, in column order. "ols" adds the linear-model regression diagnostics.
METHODS = (
    "loo_cold",
    "loo_warm",
    "if",
    "if_gnh",
    "pbrf",
    "newton",
    "self_influence",
    "leverage",
    "tracin",
    "bif",
    "shapley",
    "ols",
)
#: The methods that take seconds to minutes (Monte Carlo).
SLOW_METHODS = ("bif", "shapley")
#: Effect columns (signed, "change in the query loss when the point is deleted").
EFFECT_COLUMNS = ("loo_cold", "loo_warm", "if", "if_gnh", "pbrf", "newton", "tracin", "bif")

COLUMN_DOC = {
    "loo_cold": "ℓ_q(θ_−i) − ℓ_q(θ̂), θ_−i retrained from θ_0 (same optimiser and steps; polished when θ̂ is)",
    "loo_warm": "ℓ_q(θ_−i) − ℓ_q(θ̂), θ_−i = argmin L_−i by LM from θ^s",
    "if": "∇ℓ_q(θ̂)ᵀ Δθ_IF, Δθ_IF = (1/n) H⁻¹ ∇ℓ_i(θ̂)",
    "if_gnh": "∇ℓ_q(θ̂)ᵀ Δθ_GNH, Δθ_GNH = (1/n)(G + λI)⁻¹ ∇ℓ_i(θ̂)",
    "pbrf": "ℓ_q(θ_PBRF) − ℓ_q(θ^s)",
    "newton": "ℓ_q(θ_Nt) − ℓ_q(θ̂), θ_Nt = θ̂ − (∇²L_−i(θ̂))⁻¹ ∇L_−i(θ̂)",
    "self_influence": "s_i = ∇ℓ_iᵀ H⁻¹ ∇ℓ_i (query-independent; s_i/n predicts the rise of ℓ_i on deletion)",
    "leverage": "Jacobian leverage h_i = ∇f_iᵀ (nG)⁻¹ ∇f_i (query-independent)",
    "tracin": "Σ_k η_k ∇ℓ_i(θ_k)·∇ℓ_q(θ_k) (positive = proponent; ≈ n × the deletion effect)",
    "bif": "β·Cov(ℓ_i, ℓ_q) = −β·BIF under the localised posterior (SGLD); Laplace limit = damped IF",
    "bif_se": "Monte-Carlo standard error of bif",
    "shapley": "TMC Data Shapley, V = −MSE on the validation set (higher = more helpful)",
    "shapley_se": "Monte-Carlo standard error of shapley",
    "cooks_distance": "Cook's distance e_i² h_ii / (p s² (1 − h_ii)²) (query-independent)",
    "studentized_residual": "externally studentised residual e_i / (s_(i) √(1 − h_ii)) (query-independent)",
    "dfbetas_max_abs": "max_k |DFBETAS_ik| (query-independent)",
}


def column_kind(name: str) -> str:
    """'effect' (change of the query loss on deletion), 'value' (Shapley: higher = more helpful), 'score'
    (query-independent, unsigned) or 'se' (a Monte-Carlo standard error)."""
    if name.endswith("_se"):
        return "se"
    if name == "shapley":
        return "value"
    return "effect" if name in EFFECT_COLUMNS else "score"


def column_doc(name: str) -> str:
    if name.startswith("dfbetas_") and name != "dfbetas_max_abs":
        return f"DFBETAS of parameter {name.split('_', 1)[1]}: (θ̂ − θ̂_(i))_k / (s_(i) √(A⁻¹)_kk)"
    return COLUMN_DOC.get(name, "")


# --------------------------------------------------------------------------------------------------
# Validation sets and queries
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationSet:
    """Points (x_v, y_v) the query ``validation`` and Data Shapley's V = −MSE are measured on."""

    x: np.ndarray
    y: np.ndarray
    source: str = ""

    def __post_init__(self):
        x = np.asarray(self.x, dtype=np.float64).reshape(-1)
        y = np.asarray(self.y, dtype=np.float64).reshape(-1)
        if x.shape != y.shape or x.size == 0:
            raise ValueError("a validation set needs at least one point and one y per x")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("validation points must be finite")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)


#: Points of the clean teacher grid used as the default validation set of a preset.
TEACHER_VALIDATION_POINTS = 100
#: Fraction of the points held out by the default random split (data without a teacher).
DEFAULT_VALIDATION_FRACTION = 0.25


def teacher_validation(data: Dataset, m: int = TEACHER_VALIDATION_POINTS) -> ValidationSet:
    """m noise-free points of the data's teacher f* on an even grid over [min x, max x]: V = −MSE then measures
    the error against the clean function (presets only; ValueError when the data has no teacher)."""
    if data.teacher is None:
        raise ValueError("the data has no teacher function; mark held-out points or use a validation split")
    xs = np.linspace(float(np.min(data.x)), float(np.max(data.x)), int(m))
    return ValidationSet(xs, data.teacher_curve(xs), f"teacher grid ({m} noise-free points)")


def split_validation(
    data: Dataset, holdout=None, fraction: float | None = None, seed: int = 0
) -> tuple[Dataset, ValidationSet, np.ndarray]:
    """Hold points out of the training data: the given indices ``holdout``, or a random ``fraction`` of the
    points (``np.random.default_rng(seed)``). Returns (training data, validation set, original indices of the
    training points). Corrupted indices are re-numbered for the training data (held-out ones are dropped)."""
    n = data.n
    if holdout is not None:
        idx = np.unique(np.asarray(holdout, dtype=int).reshape(-1))
        if idx.size == 0 or (idx < 0).any() or (idx >= n).any():
            raise ValueError(f"held-out point indices must be in 0..{n - 1}")
        source = f"held-out points {idx.tolist()}"
    else:
        fraction = DEFAULT_VALIDATION_FRACTION if fraction is None else float(fraction)
        if not 0 < fraction < 1:
            raise ValueError(f"the validation fraction must be in (0, 1), got {fraction}")
        k = max(1, int(round(fraction * n)))
        idx = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
        source = f"random split: {k} of {n} points (seed {seed})"
    keep = np.setdiff1d(np.arange(n), idx)
    if keep.size < 2:
        raise ValueError("holding these points out leaves fewer than 2 training points")
    pos = {int(j): k for k, j in enumerate(keep)}
    train_data = Dataset(
        x=data.x[keep],
        y=data.y[keep],
        weight=data.weight[keep],
        label=None if data.label is None else [data.label[j] for j in keep],
        name=data.name,
        teacher=data.teacher,
        corrupted=tuple(pos[c] for c in data.corrupted if c in pos),
    )
    return train_data, ValidationSet(data.x[idx], data.y[idx], source), keep


@dataclass(frozen=True)
class Query:
    """What an effect is measured on: ``self`` (row i: ℓ_i), ``point`` (ℓ_q for the training point ``index``)
    or ``validation`` (the mean loss on ``validation``)."""

    kind: str = "self"
    index: int | None = None
    validation: ValidationSet | None = None

    def __post_init__(self):
        if self.kind not in ("self", "point", "validation"):
            raise ValueError(f"unknown query {self.kind!r}; choose self, a point index, or validation")
        if self.kind == "point" and (self.index is None or int(self.index) < 0):
            raise ValueError("a point query needs a point index ≥ 0")
        if self.kind == "validation" and self.validation is None:
            raise ValueError("a validation query needs a validation set")

    def describe(self) -> str:
        if self.kind == "self":
            return "self (each point's own loss)"
        if self.kind == "point":
            return f"the loss of point {self.index}"
        return f"mean validation loss ({self.validation.source or f'{self.validation.x.size} points'})"

    def to_json(self) -> dict:
        doc = {"kind": self.kind, "index": self.index}
        if self.validation is not None:
            doc["validation"] = {
                "source": self.validation.source,
                "x": self.validation.x.tolist(),
                "y": self.validation.y.tolist(),
            }
        return doc


def _check_query(query: Query | None, n: int) -> Query:
    query = Query() if query is None else query
    if query.kind == "point" and not 0 <= int(query.index) < n:
        raise ValueError(f"query point index out of range 0..{n - 1}: {query.index}")
    return query


def query_losses(model: Model, theta, x, y, query: Query) -> np.ndarray:
    """ℓ_q(θ) for every row: (B, n) for theta (B, d) — column i is the query of row i (``self``: ℓ_i)."""
    theta = _as_batch(theta)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if query.kind == "self":
        r = model.predict(theta, x) - y
        return 0.5 * r * r
    if query.kind == "point":
        q = int(query.index)
        r = model.predict(theta, x[q : q + 1])[:, 0] - y[q]
        return np.repeat((0.5 * r * r)[:, None], n, axis=1)
    v = query.validation
    r = model.predict(theta, v.x) - v.y
    return np.repeat(0.5 * np.mean(r * r, axis=1)[:, None], n, axis=1)


def query_grads(model: Model, theta, x, y, query: Query) -> np.ndarray:
    """∇ℓ_q(θ) for every row, (n, d) for one theta (d,); (B, n, d) for theta (B, d)."""
    theta = np.asarray(theta, dtype=np.float64)
    single = theta.ndim == 1
    th = _as_batch(theta)
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if query.kind == "self":
        g = model.per_example_grads(th, x, y)
    elif query.kind == "point":
        q = int(query.index)
        g = np.repeat(model.per_example_grads(th, x[q : q + 1], y[q : q + 1]), n, axis=1)
    else:
        v = query.validation
        gv = model.per_example_grads(th, v.x, v.y).mean(axis=1, keepdims=True)
        g = np.repeat(gv, n, axis=1)
    return g[0] if single else g


def deletion_effects(model: Model, thetas_deleted, theta_base, x, y, query: Query) -> np.ndarray:
    """Row i: ℓ_q(thetas_deleted[i]) − ℓ_q(theta_base) with row i's query; (n,)."""
    n = np.shape(x)[0]
    rows = np.arange(n)
    after = query_losses(model, thetas_deleted, x, y, query)[rows, rows]
    before = query_losses(model, theta_base, x, y, query)[0]
    return after - before


# --------------------------------------------------------------------------------------------------
# TracIn
# --------------------------------------------------------------------------------------------------


def tracin_weights(checkpoint_steps, lr: float) -> np.ndarray:
    """η_k = lr · (s_{k+1} − s_k) for checkpoints at steps s_0 < … < s_K: checkpoint k stands for the steps
    until the next one (a left Riemann sum of the training trajectory); the last checkpoint, where training
    ended, gets 0. With a checkpoint at every step this is exactly Σ_t η ∇ℓ_i(θ_t)·∇ℓ_q(θ_t) over the steps."""
    s = np.asarray(checkpoint_steps, dtype=np.float64)
    eta = np.zeros(s.shape)
    eta[:-1] = lr * np.diff(s)
    return eta


def tracin(
    model: Model, checkpoints, etas, x, y, query: Query, cumulative: bool = False, chunk: int = 256
) -> np.ndarray:
    """TracIn (Pruthi et al. 2020; docs/science.md §7): Σ_k η_k ∇ℓ_i(θ_k)·∇ℓ_q(θ_k) for every training point i.

    checkpoints (K, d), etas (K,). Returns (n,), or with ``cumulative`` the partial sums up to and including
    each checkpoint, (K, n). Positive = proponent (a gradient step on z_i lowered ℓ_q)."""
    ck = np.asarray(checkpoints, dtype=np.float64).reshape(-1, model.n_params)
    etas = np.asarray(etas, dtype=np.float64).reshape(-1)
    if etas.shape[0] != ck.shape[0]:
        raise ValueError("one η_k per checkpoint")
    x = np.asarray(x, dtype=np.float64)
    terms = np.empty((ck.shape[0], x.shape[0]))
    for a in range(0, ck.shape[0], chunk):
        b = min(ck.shape[0], a + chunk)
        gi = model.per_example_grads(ck[a:b], x, y)  # (k, n, d)
        gq = query_grads(model, ck[a:b], x, y, query)  # (k, n, d)
        terms[a:b] = etas[a:b, None] * np.einsum("knd,knd->kn", gi, gq)
    return np.cumsum(terms, axis=0) if cumulative else terms.sum(axis=0)


def _checkpoints(problem: Problem, every: int) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Re-run the problem's training (deterministic, no polish) storing θ every ``every`` steps."""
    cfg = replace(problem.config, checkpoint_every=max(1, int(every)))
    res = yield from train(
        problem.model, problem.theta0(), problem.data.x, problem.data.y, problem.weights(), cfg
    )
    return np.array(res.checkpoint_steps), np.concatenate(res.checkpoints)


def default_tracin_every(steps: int) -> int:
    """A checkpoint every max(1, steps // 2000) steps: every step (the exact sum over GD steps) up to 4,000
    training steps, at most about 2,000 checkpoints beyond."""
    return max(1, int(steps) // 2000)


# --------------------------------------------------------------------------------------------------
# Data Shapley (TMC)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapleyConfig:
    """TMC-Shapley (Ghorbani & Zou 2019) settings.

    Stopping rule: after each batch of permutations, with φ^(t) the running means after t permutations, the
    run stops when t ≥ ``min_permutations`` and
        mean_i |φ_i^(t) − φ_i^(t−W)| / mean_i |φ_i^(t)| < ``convergence_tol``   (W = ``convergence_window``)
    (Ghorbani & Zou's "average relative change over the last W iterations", normalised by the mean magnitude
    rather than per point so that values near 0 do not stall it), or at ``max_permutations``.
    Truncation: within a permutation, once |V(D) − V(S)| ≤ ``truncation_tol`` · |V(D)| for the prefix S, the
    remaining points get marginal 0 (``truncation_tol`` = 0 disables truncation: plain Monte Carlo).
    """

    max_permutations: int = 1000
    min_permutations: int = 20
    convergence_tol: float = 0.05
    convergence_window: int = 50
    truncation_tol: float = 0.01
    #: permutations per batch (None: about 400 prefix models per batch); progress is reported per batch
    batch_permutations: int | None = None
    #: prefix positions evaluated per batched training call (None: ⌈n/4⌉); smaller saves more by truncation
    block: int | None = None
    seed: int = 0
    #: training steps of each utility evaluation (None: the problem's own)
    train_steps: int | None = None

    def validate(self) -> None:
        if self.train_steps is not None and self.train_steps < 0:
            raise ValueError("Shapley's training steps must be ≥ 0")
        if self.max_permutations < 1:
            raise ValueError(f"Shapley needs at least 1 permutation, got {self.max_permutations}")
        if self.min_permutations < 1 or self.convergence_window < 1:
            raise ValueError("min_permutations and convergence_window must be ≥ 1")
        if not (self.convergence_tol >= 0 and self.truncation_tol >= 0):
            raise ValueError("Shapley tolerances must be ≥ 0")
        if self.batch_permutations is not None and self.batch_permutations < 1:
            raise ValueError("batch_permutations must be ≥ 1")
        if self.block is not None and self.block < 1:
            raise ValueError("block must be ≥ 1")


@dataclass
class ShapleyResult:
    """Running or final TMC-Shapley estimates. ``values`` are the running means of the marginal contributions
    (higher = more helpful), ``se`` their standard errors (NaN before 2 permutations)."""

    values: np.ndarray
    se: np.ndarray
    permutations: int
    converged: bool
    change: float  # the stopping rule's statistic at the last check (NaN before the first)
    v_empty: float
    v_full: float
    evaluations: int  # utility evaluations (trained models), cache hits excluded
    truncated_fraction: float  # fraction of marginals set to 0 by truncation
    criterion: str
    history_permutations: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    history: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # running means after each batch

    def to_json(self) -> dict:
        return {
            "values": self.values,
            "se": self.se,
            "permutations": self.permutations,
            "converged": self.converged,
            "change": self.change,
            "v_empty": self.v_empty,
            "v_full": self.v_full,
            "evaluations": self.evaluations,
            "truncated_fraction": self.truncated_fraction,
            "criterion": self.criterion,
        }


def _call(utility, masks):
    """Run a utility that returns values or a progress generator returning them."""
    out = utility(masks)
    if isinstance(out, Generator):
        out = yield from out
    return np.asarray(out, dtype=np.float64).reshape(-1)


def _relay(gen, start: float, stop: float, prefix: str = "", partial=None):
    """Re-map a sub-computation's progress onto [start, stop] (of a total of 1) with ``partial()`` as its
    partial result (the sub-computation's own partial results, e.g. training snapshots, are not passed on)."""
    try:
        while True:
            p = next(gen)
            yield Progress(
                start + (stop - start) * p.fraction,
                1.0,
                prefix + p.message,
                None if partial is None else partial(),
            )
    except StopIteration as stop_:
        return stop_.value


def training_utility(
    problem: Problem, validation: ValidationSet, steps: int | None = None
) -> Callable[[np.ndarray], Generator[Progress, None, np.ndarray]]:
    """V(S) = −MSE on ``validation`` of the model trained on S: for a batch of subset masks (B, n), ONE batched
    training run from θ_0 with the problem's optimiser and steps (``steps`` overrides) and weights
    mask ⊙ w (the 1/n stays 1/n, docs/science.md §1), no polish. V(∅) is therefore what the same procedure gives
    on no data: θ_0 shrunk by the weight decay, (1 − ηκ)^T θ_0 for GD (θ_0 itself when κ = 0)."""
    model, x, y = problem.model, problem.data.x, problem.data.y
    w0 = problem.weights()
    cfg = replace(problem.config, checkpoint_every=0, grad_tol=0.0)
    if steps is not None:
        cfg = replace(cfg, steps=int(steps))
    theta0 = problem.theta0()

    def utility(masks):
        masks = np.asarray(masks, dtype=np.float64)
        start = np.broadcast_to(theta0, (masks.shape[0], theta0.size))
        res = yield from train(model, start, x, y, masks * w0, cfg)
        pred = model.predict(res.theta, validation.x)
        return -np.mean((pred - validation.y) ** 2, axis=1)

    return utility


def tmc_shapley(
    utility, n: int, config: ShapleyConfig = ShapleyConfig()
) -> Generator[Progress, None, ShapleyResult]:
    """Truncated Monte-Carlo Data Shapley (Ghorbani & Zou 2019; docs/science.md §7), a progress generator whose
    ``partial`` is the running :class:`ShapleyResult`.

    ``utility(masks)`` maps subset masks (B, n) to V (B,) — directly or as a progress generator (e.g.
    :func:`training_utility`, one batched training run per call). Permutation k is the k-th
    ``rng.permutation(n)`` of ``np.random.default_rng(config.seed)``. For each permutation π the marginal of
    π_j is V(π_1..π_j) − V(π_1..π_{j−1}), starting from V(∅); once |V(D) − V(S)| ≤ tol·|V(D)| for the current
    prefix S, the rest of π gets marginal 0 (truncation). Prefix values are computed in blocks of positions for
    a batch of permutations at once (one utility call per block, skipping permutations already truncated),
    which gives exactly the sequential algorithm's numbers; values are cached per subset (V(D) and the small
    prefixes repeat). Stopping rule: see :class:`ShapleyConfig`.
    """
    config.validate()
    n = int(n)
    rng = np.random.default_rng(config.seed)
    cache: dict[bytes, float] = {}
    evals = 0

    def evaluate(masks):
        nonlocal evals
        keys = [np.packbits(m).tobytes() for m in masks]
        todo, seen = [], set()
        for k, key in enumerate(keys):
            if key not in cache and key not in seen:
                todo.append(k)
                seen.add(key)
        if todo:
            vals = yield from _call(utility, masks[todo])
            evals += len(todo)
            for k, v in zip(todo, vals):
                cache[keys[k]] = float(v)
        return np.array([cache[k] for k in keys])

    batch = config.batch_permutations or max(1, min(config.max_permutations, math.ceil(400 / n)))
    block = config.block or max(1, math.ceil(n / 4))
    tol = config.truncation_tol
    criterion = (
        f"stop when mean_i |φ_i(t) − φ_i(t−{config.convergence_window})| / mean_i |φ_i(t)| < "
        f"{config.convergence_tol:g} after ≥ {config.min_permutations} permutations, or at "
        f"{config.max_permutations}; truncation when |V(D) − V(S)| ≤ {tol:g}·|V(D)|"
    )
    total_est = config.max_permutations * n
    base = yield from _relay(
        evaluate(np.array([np.zeros(n, bool), np.ones(n, bool)])), 0.0, 0.0, "Shapley: V(∅) and V(D): "
    )
    v_empty, v_full = float(base[0]), float(base[1])
    sums = np.zeros(n)
    sumsq = np.zeros(n)
    running = []  # running means after every permutation
    count = 0
    zeros = 0
    change = float("nan")
    converged = False
    hist_t, hist = [], []

    def result():
        mean = sums / max(count, 1)
        var = (sumsq / max(count, 1) - mean**2) * count / max(count - 1, 1)
        se = np.sqrt(np.maximum(var, 0.0) / max(count, 1)) if count > 1 else np.full(n, np.nan)
        return ShapleyResult(
            mean,
            se,
            count,
            converged,
            change,
            v_empty,
            v_full,
            evals,
            zeros / max(count * n, 1),
            criterion,
            np.array(hist_t, dtype=int),
            np.array(hist).reshape(len(hist), n),
        )

    last_result = [None]

    def last():
        return last_result[0]

    while count < config.max_permutations and not converged:
        P = min(batch, config.max_permutations - count)
        perms = np.array([rng.permutation(n) for _ in range(P)])
        marg = np.zeros((P, n))
        prev = np.full(P, v_empty)
        trunc = np.zeros(P, dtype=bool)
        for start in range(0, n, block):
            stop = min(n, start + block)
            act = np.flatnonzero(~trunc)
            if act.size == 0:
                zeros += P * (n - start)
                break
            L = stop - start
            zeros += (P - act.size) * L  # permutations truncated in an earlier block
            masks = np.zeros((act.size, L, n), dtype=bool)
            for a, p in enumerate(act):
                for k in range(L):
                    masks[a, k, perms[p, : start + k + 1]] = True
            done_frac = (count * n + start * P) / total_est
            vals = yield from _relay(
                evaluate(masks.reshape(-1, n)),
                done_frac,
                min(1.0, done_frac + L * P / total_est),
                f"Shapley: permutations {count + 1}–{count + P}: ",
                last,
            )
            vals = vals.reshape(act.size, L)
            for k in range(L):
                pos = start + k
                for a, p in enumerate(act):
                    if trunc[p] or (tol > 0 and abs(v_full - prev[p]) <= tol * abs(v_full)):
                        trunc[p] = True
                        zeros += 1
                        continue
                    marg[p, perms[p, pos]] = vals[a, k] - prev[p]
                    prev[p] = vals[a, k]
        for p in range(P):
            sums += marg[p]
            sumsq += marg[p] ** 2
            count += 1
            running.append(sums / count)
        W = config.convergence_window
        if count > W:
            now, then = running[-1], running[-1 - W]
            scale = float(np.mean(np.abs(now)))
            change = float(np.mean(np.abs(now - then)) / scale) if scale > 0 else float("inf")
            converged = count >= config.min_permutations and change < config.convergence_tol
        hist_t.append(count)
        hist.append(sums / count)
        res = result()
        last_result[0] = res
        state = "converged" if converged else f"change {change:.3g}"
        yield Progress(min(1.0, count * n / total_est), 1.0, f"Shapley: {count} permutations ({state})", res)
    return result()


def exact_shapley(utility, n: int) -> Generator[Progress, None, np.ndarray]:
    """Exact Shapley values by enumerating all 2^n subsets (n ≤ 16):
    φ_i = Σ_{S ⊆ N∖i} |S|! (n − |S| − 1)! / n! · (V(S ∪ {i}) − V(S)). One utility call on all subsets."""
    n = int(n)
    if n > 16:
        raise ValueError("exact Shapley enumerates 2^n subsets; use n ≤ 16")
    idx = np.arange(2**n)
    masks = ((idx[:, None] >> np.arange(n)) & 1).astype(bool)
    V = yield from _call(utility, masks)
    size = masks.sum(axis=1)
    wt = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for i in range(n):
        without = ~masks[:, i]
        S = idx[without]
        phi[i] = np.sum(wt[size[without]] * (V[S | (1 << i)] - V[S]))
    return phi


# --------------------------------------------------------------------------------------------------
# Bayesian influence function (SGLD)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BIFConfig:
    """SGLD settings of the Bayesian influence function (Kreer et al. 2025; docs/science.md §7).

    Posterior p(w) ∝ exp(−nβ L(w) − (γ/2)‖w − θ̂‖²) (L the full training loss, weight decay included).
    Defaults that work on the default problem (chains mix: split-R̂ ≈ 1.00):
    - β = 100: the Bayesian posterior of Gaussian noise with σ = 1/√β = 0.1, the presets' noise level;
    - γ = None → 0.1·nβ, i.e. the localisation acts like damping λ_eff = γ/(nβ) = 0.1 in the Laplace limit
      −∇φᵀ(nβH + γI)⁻¹∇ℓ_i, and caps the posterior's condition number (which sets SGLD's mixing time);
    - step η = None → 0.05 / λ_max(nβH(θ̂) + γI) (Langevin's discretisation inflates the variance of the
      stiffest direction by ≈ ηλ_max/4 ≈ 1.3 %);
    - burn-in = None → ⌈10 / (η λ_min)⌉, five relaxation times 2/(ηλ_min) of the slowest direction of the
      Laplace Gaussian (λ_min of nβH + γI, or γ when that is not positive definite);
    - ``steps`` sampling steps per chain after burn-in, a draw every ``thin`` steps.
    Chains start at θ̂ plus a draw from the Laplace Gaussian (dispersed starts make split-R̂ meaningful).
    """

    chains: int = 8
    beta: float = 100.0
    gamma: float | None = None
    step_size: float | None = None
    burn_in: int | None = None
    steps: int = 40000
    thin: int = 20
    seed: int = 0
    #: γ = gamma_factor · nβ when gamma is None
    gamma_factor: float = 0.1
    #: η = step_factor / λ_max when step_size is None
    step_factor: float = 0.05

    def validate(self) -> None:
        if self.chains < 1:
            raise ValueError(f"the BIF needs at least 1 chain, got {self.chains}")
        if not (np.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"the inverse temperature β must be > 0, got {self.beta}")
        if self.gamma is not None and not (np.isfinite(self.gamma) and self.gamma >= 0):
            raise ValueError(f"the localisation γ must be ≥ 0, got {self.gamma}")
        if self.step_size is not None and not (np.isfinite(self.step_size) and self.step_size > 0):
            raise ValueError(f"the SGLD step size must be > 0, got {self.step_size}")
        if self.burn_in is not None and self.burn_in < 0:
            raise ValueError("burn-in must be ≥ 0 steps")
        if self.thin < 1 or self.steps < 4 * self.thin:
            raise ValueError(
                "the BIF needs thin ≥ 1 and at least 4 draws per chain (steps ≥ 4·thin) for its diagnostics"
            )


@dataclass
class BIFResult:
    """BIF(z_i, φ) = −Cov(ℓ_i(w), φ(w)) (natural sign, raw scale) with its Monte-Carlo standard error, the
    Laplace approximation −∇φᵀ(nβH + γI)⁻¹∇ℓ_i for comparison, and the chain-mixing diagnostics."""

    bif: np.ndarray  # (n,)
    se: np.ndarray  # (n,)
    laplace: np.ndarray  # (n,)
    beta: float
    gamma: float
    step_size: float
    burn_in: int
    steps: int
    thin: int
    chains: int
    draws: int  # per chain
    rhat: float  # split-R̂ of the loss trace L(w)
    ess: float  # ESS of the loss trace (all chains)
    rhat_max: float  # max split-R̂ over the ℓ_i and φ traces
    ess_min: float  # min ESS over the products (ℓ_i − mean)(φ − mean) behind the covariances
    loss_trace: np.ndarray  # (chains, draws)
    warnings: list[str] = field(default_factory=list)

    @property
    def table_column(self) -> np.ndarray:
        """−β·BIF = β·Cov(ℓ_i, φ): the table's orientation and scale (see the module docstring)."""
        return -self.beta * self.bif

    def to_json(self) -> dict:
        return {
            "bif": self.bif,
            "se": self.se,
            "laplace": self.laplace,
            "beta": self.beta,
            "gamma": self.gamma,
            "step_size": self.step_size,
            "burn_in": self.burn_in,
            "steps": self.steps,
            "thin": self.thin,
            "chains": self.chains,
            "draws_per_chain": self.draws,
            "rhat": self.rhat,
            "ess": self.ess,
            "rhat_max": self.rhat_max,
            "ess_min": self.ess_min,
            "warnings": self.warnings,
        }


def split_rhat(chains) -> np.ndarray:
    """Split-R̂ (Gelman et al., BDA3 §11.4): each chain (…, C, T) is cut in two halves (the middle draw of an
    odd T dropped); W = mean within-half variance, B/h = variance of the half means, both with ddof 1;
    var⁺ = (h − 1)/h · W + B/h; R̂ = √(var⁺ / W). Batched over leading axes. Values near 1 (< 1.01) mean the
    chains agree; NaN when W = 0."""
    s = _split(np.asarray(chains, dtype=np.float64))
    h = s.shape[-1]
    W = s.var(axis=-1, ddof=1).mean(axis=-1)
    Bh = s.mean(axis=-1).var(axis=-1, ddof=1)
    var_plus = (h - 1) / h * W + Bh
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(W > 0, np.sqrt(var_plus / W), np.nan)


def _split(x: np.ndarray) -> np.ndarray:
    T = x.shape[-1]
    h = T // 2
    if h < 2:
        raise ValueError("split-R̂ and ESS need at least 4 draws per chain")
    return np.concatenate([x[..., :h], x[..., T - h :]], axis=-2)


def effective_sample_size(chains) -> np.ndarray:
    """ESS of draws (…, C, T) over all chains (BDA3 §11.5 with Geyer's initial monotone sequence, on the
    split chains as in Stan): ρ_t = 1 − (W − mean autocovariance_t)/var⁺, τ = −1 + 2 Σ_k P_k with
    P_k = ρ_{2k} + ρ_{2k+1} summed while positive and made non-increasing; ESS = C·T / τ (capped at
    C·T·log10(C·T) as in Stan). Batched over leading axes."""
    x = np.asarray(chains, dtype=np.float64)
    s = _split(x)
    lead = s.shape[:-2]
    M, h = s.shape[-2], s.shape[-1]
    s = s.reshape(-1, M, h)
    out = np.empty(s.shape[0])
    c = s - s.mean(axis=-1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * h)))
    f = np.fft.rfft(c, nfft, axis=-1)
    acov = np.fft.irfft(f * np.conj(f), nfft, axis=-1)[..., :h] / h  # biased autocovariance, (S, M, h)
    W = s.var(axis=-1, ddof=1).mean(axis=-1)  # (S,)
    var_plus = (h - 1) / h * W + s.mean(axis=-1).var(axis=-1, ddof=1)
    for k in range(s.shape[0]):
        if not var_plus[k] > 0:
            out[k] = np.nan
            continue
        rho = 1.0 - (W[k] - acov[k].mean(axis=0)) / var_plus[k]
        rho[0] = 1.0
        npairs = h // 2
        P = rho[: 2 * npairs : 2] + rho[1 : 2 * npairs : 2]
        keep = np.flatnonzero(P <= 0)
        P = P[: keep[0]] if keep.size else P
        P = np.minimum.accumulate(P) if P.size else P
        tau = max(-1.0 + 2.0 * P.sum(), 1.0 / np.log10(max(M * h, 10)))
        out[k] = M * h / tau
    return out.reshape(lead) if lead else out[0]


def _loss_rows(model, w, x, y, query):
    r = model.predict(w, x) - y
    ell = 0.5 * r * r
    if query.kind == "self":
        return ell, ell
    return ell, query_losses(model, w, x, y, query)[:, :1]


def _sgld(
    model: Model,
    x,
    y,
    wv,
    kappa: float,
    centers: np.ndarray,
    start: np.ndarray,
    beta: float,
    gamma: float,
    eta: np.ndarray,
    burn_in: int,
    steps: int,
    thin: int,
    rng: np.random.Generator,
    query: Query,
):
    """SGLD w ← w − (η/2)(nβ∇L(w) + γ(w − c)) + N(0, ηI) for B chains (centres c (B, d), steps η (B,)),
    full-batch gradients. Returns traces: ℓ (S, B, n), φ (S, B, 1 or n), L (S, B)."""
    n = np.shape(x)[0]
    w = np.array(start, dtype=np.float64)
    B, d = w.shape
    eta = np.broadcast_to(np.asarray(eta, dtype=np.float64), (B,))[:, None]
    noise = np.sqrt(eta)
    ells, phis, Ls = [], [], []
    total = burn_in + steps
    every = max(1, total // 100)
    for t in range(1, total + 1):
        L, g = model.loss_and_grad(w, x, y, wv, kappa)
        if t > burn_in and (t - burn_in - 1) % thin == 0:
            ell, phi = _loss_rows(model, w, x, y, query)
            ells.append(ell)
            phis.append(phi)
            Ls.append(L)
        w = w - 0.5 * eta * (n * beta * g + gamma * (w - centers)) + noise * rng.standard_normal((B, d))
        if t % every == 0 or t == total:
            phase = "burn-in" if t <= burn_in else "sampling"
            yield Progress(t, total, f"SGLD {phase}: step {t}/{total}")
    return np.array(ells), np.array(phis), np.array(Ls)


def _sgld_scales(H, n, beta, gamma, cfg: BIFConfig):
    d = H.shape[-1]
    A = n * beta * H + gamma * np.eye(d)
    lam = np.linalg.eigvalsh(A)
    lam_max = float(lam[-1])
    if not lam_max > 0:
        raise ValueError("nβH + γI has no positive eigenvalue: increase the localisation γ")
    eta = cfg.step_size if cfg.step_size is not None else cfg.step_factor / lam_max
    slow = float(lam[0]) if lam[0] > 0 else gamma
    if cfg.burn_in is not None:
        burn = int(cfg.burn_in)
    elif slow > 0:
        burn = int(min(math.ceil(10.0 / (eta * slow)), 10 * cfg.steps))
    else:
        burn = cfg.steps
    return A, lam, float(eta), burn


def bif_laplace(model: Model, theta, x, y, w, kappa: float, beta: float, gamma: float, query: Query):
    """The Laplace approximation of the BIF: −∇φᵀ(nβH + γI)⁻¹∇ℓ_i at θ (docs/science.md §7), (n,)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    H = model.hessian(theta, x, y, w, kappa)[0]
    gi = model.per_example_grads(theta, x, y)[0]
    gq = query_grads(model, theta, x, y, query)
    sol, _ = solve_direct(n * beta * H + gamma * np.eye(theta.size), gi)
    return -np.einsum("nd,nd->n", gq, sol)


def _bif_from_traces(ells, phis, beta):
    """(S, C, n), (S, C, k) → (bif (n,), se (n,), rhat_max, ess_min)."""
    S, C, n = ells.shape
    phis = np.broadcast_to(phis, ells.shape)
    de = ells - ells.mean(axis=(0, 1))
    dp = phis - phis.mean(axis=(0, 1))
    prod = de * dp  # (S, C, n)
    cov = prod.mean(axis=(0, 1))
    ess = effective_sample_size(np.transpose(prod, (2, 1, 0)))  # per point, (n, C, S)
    sd = prod.reshape(S * C, n).std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = sd / np.sqrt(ess)
    rh = split_rhat(np.transpose(ells, (2, 1, 0)))  # (n, C, S)
    rh_phi = split_rhat(np.transpose(phis[..., :1], (2, 1, 0)))
    rhat_max = float(np.nanmax(np.concatenate([rh, rh_phi])))
    return -cov, se, rhat_max, float(np.nanmin(ess))


def bif_sgld(
    model: Model,
    theta_hat,
    x,
    y,
    w,
    kappa: float,
    query: Query,
    config: BIFConfig = BIFConfig(),
) -> Generator[Progress, None, BIFResult]:
    """The Bayesian influence function BIF(z_i, φ) = −Cov(ℓ_i(w), φ(w)) for every training point
    (Kreer et al. 2025; docs/science.md §7), φ the query loss (``self``: row i uses φ = ℓ_i, so BIF_i = −Var ℓ_i),
    under p(w) ∝ exp(−nβ L(w) − (γ/2)‖w − θ̂‖²) sampled by SGLD
        w ← w − (η/2)(nβ∇L(w) + γ(w − θ̂)) + N(0, ηI)
    with ``config.chains`` chains batched as models, burn-in and thinning (defaults: :class:`BIFConfig`). The
    covariance pools all chains and draws; its standard error uses the ESS of the product trace. Mixing:
    split-R̂ and ESS of the loss trace L(w) (and the extremes over the ℓ_i / φ / product traces)."""
    config.validate()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    query = _check_query(query, n)
    theta = np.asarray(theta_hat, dtype=np.float64).reshape(-1)
    wv = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    beta = float(config.beta)
    gamma = config.gamma_factor * n * beta if config.gamma is None else float(config.gamma)
    H = model.hessian(theta, x, y, wv, kappa)[0]
    A, lam, eta, burn = _sgld_scales(H, n, beta, gamma, config)
    warnings = []
    if not lam[0] > 0:
        warnings.append(
            f"nβH + γI is not positive definite (smallest eigenvalue {lam[0]:.3g}): the localised posterior is "
            "not a Gaussian around θ̂ and the chains may wander; increase γ"
        )
    rng = np.random.default_rng(config.seed)
    C = config.chains
    lam_c = np.maximum(lam, max(gamma, 1e-3 * float(lam[-1])))  # dispersed, but not along flat directions
    _, Q = np.linalg.eigh(A)
    start = theta + (rng.standard_normal((C, theta.size)) / np.sqrt(lam_c)) @ Q.T
    centers = np.broadcast_to(theta, (C, theta.size))
    ells, phis, Ls = yield from _sgld(
        model, x, y, wv, kappa, centers, start, beta, gamma, eta, burn, config.steps, config.thin, rng, query
    )
    if not (np.isfinite(ells).all() and np.isfinite(Ls).all()):
        raise ValueError(
            f"SGLD diverged (non-finite losses) with step size η = {eta:.3g}: lower the step size or raise γ"
        )
    bif, se, rhat_max, ess_min = _bif_from_traces(ells, phis, beta)
    trace = Ls.T  # (C, S)
    rhat = float(split_rhat(trace))
    ess = float(effective_sample_size(trace))
    if np.isfinite(rhat) and rhat > 1.05:
        warnings.append(f"the chains have not mixed (split-R̂ of the loss = {rhat:.3f} > 1.05): run longer")
    return BIFResult(
        bif=bif,
        se=se,
        laplace=bif_laplace(model, theta, x, y, wv, kappa, beta, gamma, query),
        beta=beta,
        gamma=gamma,
        step_size=eta,
        burn_in=burn,
        steps=config.steps,
        thin=config.thin,
        chains=C,
        draws=ells.shape[0],
        rhat=rhat,
        ess=ess,
        rhat_max=rhat_max,
        ess_min=ess_min,
        loss_trace=trace,
        warnings=warnings,
    )


# --------------------------------------------------------------------------------------------------
# Agreement metrics and detection curves
# --------------------------------------------------------------------------------------------------


def rankdata(a) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata's 'average')."""
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sa = a[order]
    starts = np.flatnonzero(np.r_[True, sa[1:] != sa[:-1]])
    ends = np.r_[starts[1:], sa.size]
    ranks = np.empty(a.size)
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = 0.5 * (s + e - 1) + 1.0
    return ranks


def pearson(a, b) -> float:
    """Pearson's r (NaN when either input is constant)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    da, db = a - a.mean(), b - b.mean()
    den = np.sqrt(np.sum(da * da) * np.sum(db * db))
    return float(np.sum(da * db) / den) if den > 0 else float("nan")


def spearman(a, b) -> float:
    """Spearman's ρ: Pearson's r of the average ranks."""
    return pearson(rankdata(a), rankdata(b))


def _order(scores, direction: str) -> np.ndarray:
    """Indices from most to least flagged: 'desc' (largest first), 'asc' (smallest first) or 'abs' (largest
    |score| first); ties keep index order; NaN last."""
    s = np.asarray(scores, dtype=np.float64)
    if direction == "desc":
        key = -s
    elif direction == "asc":
        key = s
    elif direction == "abs":
        key = -np.abs(s)
    else:
        raise ValueError(f"unknown ranking direction {direction!r}; choose desc, asc or abs")
    key = np.where(np.isnan(key), np.inf, key)
    return np.argsort(key, kind="stable")


def top_k_overlap(a, b, k: int, by: str = "abs") -> float:
    """|top_k(a) ∩ top_k(b)| / k, each ranked by ``by`` ('abs', 'desc' or 'asc'; ties in index order)."""
    k = int(k)
    if not 1 <= k <= len(a):
        raise ValueError(f"k must be in 1..{len(a)}")
    ta = set(_order(a, by)[:k].tolist())
    tb = set(_order(b, by)[:k].tolist())
    return len(ta & tb) / k


def default_top_k(n: int) -> int:
    return max(1, math.ceil(0.15 * n))


def agreement(a, b, k: int | None = None, by: str = "abs") -> dict:
    """Pearson, Spearman and top-k overlap between two columns (rows where either is NaN are dropped)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 2:
        return {"pearson": float("nan"), "spearman": float("nan"), "top_k": float("nan"), "k": 0, "n": a.size}
    k = default_top_k(a.size) if k is None else min(int(k), a.size)
    return {
        "pearson": pearson(a, b),
        "spearman": spearman(a, b),
        "top_k": top_k_overlap(a, b, k, by),
        "k": k,
        "n": int(a.size),
    }


@dataclass
class DetectionCurve:
    """Fraction of corrupted points found against the fraction of points inspected, inspecting in the
    method's ranking (``direction``). ``auc`` is the area under the curve (trapezoid on [0, 1]; a random
    ranking gives ≈ 0.5); ``found_at_k`` the fraction found after inspecting as many points as are
    corrupted; ``inspect_all`` the fraction inspected to find all of them."""

    method: str
    direction: str
    inspected: np.ndarray  # (n + 1,) 0, 1/n, …, 1
    found: np.ndarray  # (n + 1,)
    order: np.ndarray  # (n,) rows in inspection order
    auc: float
    found_at_k: float
    inspect_all: float

    def to_json(self) -> dict:
        return {
            "direction": self.direction,
            "inspected": self.inspected,
            "found": self.found,
            "order": self.order,
            "auc": self.auc,
            "found_at_k": self.found_at_k,
            "inspect_all": self.inspect_all,
        }


def detection_curve(scores, corrupted, direction: str = "desc", method: str = "") -> DetectionCurve:
    """Mislabel detection: inspect the points in the order of ``scores`` (see :func:`_order` for
    ``direction``) and count the corrupted ones found."""
    scores = np.asarray(scores, dtype=np.float64)
    n = scores.size
    bad = np.zeros(n, dtype=bool)
    bad[np.asarray(list(corrupted), dtype=int)] = True
    c = int(bad.sum())
    if c == 0:
        raise ValueError("a detection curve needs at least one corrupted point")
    order = _order(scores, direction)
    found = np.r_[0.0, np.cumsum(bad[order]) / c]
    inspected = np.arange(n + 1) / n
    auc = float(np.sum(0.5 * (found[1:] + found[:-1])) / n)
    return DetectionCurve(
        method,
        direction,
        inspected,
        found,
        order,
        auc,
        float(found[c]),
        float(inspected[int(np.argmax(found >= 1.0))]),
    )


def detection_direction(column: str, query_kind: str = "self") -> str:
    """Which end of a column flags a mislabelled point:
    - effect columns under ``self``: 'desc' (deleting a mislabelled point raises its own loss most);
      under ``validation``: 'asc' (deleting a harmful point lowers the validation loss: most negative first);
      under ``point``: 'abs';
    - ``shapley``: 'asc' (lowest value = most harmful);
    - score columns (self-influence, leverage, Cook's distance, max |DFBETAS|): 'desc';
      studentised residuals and per-parameter DFBETAS: 'abs'."""
    if column == "shapley":
        return "asc"
    if column in EFFECT_COLUMNS:
        return {"self": "desc", "validation": "asc"}.get(query_kind, "abs")
    if column == "studentized_residual" or (column.startswith("dfbetas_") and column != "dfbetas_max_abs"):
        return "abs"
    return "desc"


# --------------------------------------------------------------------------------------------------
# Soft weights and groups (docs/science.md §7)
# --------------------------------------------------------------------------------------------------


@dataclass
class SoftWeightResult:
    """Down-weighting points to w ∈ [0, 1]^n (rows: several weight vectors), from θ̂ with data weights w⁰:
    - ``theta_if``     θ̂ + H⁻¹ Σ_i (w⁰_i − w_i) ∇ℓ_i(θ̂) / n  (influence-corrected; = θ̂ + H⁻¹Σ(1 − w_i)∇ℓ_i/n
                       for w⁰ = 1, docs/science.md §7; pseudo-inverse when H is not positive definite);
    - ``theta_newton`` θ̂ − (∇²L_w(θ̂))⁻¹ ∇L_w(θ̂), the group Newton estimate (Koh et al. 2019);
    - ``theta_warm``   argmin L_w by LM from θ̂ (retrained with these weights, warm);
    - ``theta_cold``   trained from θ_0 with the same optimiser and steps and weights w, polished when θ̂ is.
    ``function_distance[name]`` is the mean |f(θ_name; x_i) − f(θ_cold; x_i)| over the training inputs (the
    retrained model as reference), ``param_distance`` the same in ‖·‖, ``grad_norm_*`` ‖∇L_w‖ of the retrains.
    """

    weights: np.ndarray  # (m, n)
    theta_hat: np.ndarray
    theta_if: np.ndarray
    theta_newton: np.ndarray
    theta_warm: np.ndarray
    theta_cold: np.ndarray
    grad_norm_warm: np.ndarray
    grad_norm_cold: np.ndarray
    function_distance: dict
    param_distance: dict
    warnings: list[str] = field(default_factory=list)


def group_weights(n: int, groups, base=None) -> np.ndarray:
    """One weight row per group: ``base`` (default all 1) with the group's points set to 0."""
    W = []
    for g in groups:
        w = np.ones(n) if base is None else np.array(base, dtype=np.float64)
        w[np.asarray(list(g), dtype=int)] = 0.0
        W.append(w)
    return np.array(W)


def soft_weight_estimates(
    problem: Problem, fit: Fit, weights, cold: bool = True
) -> Generator[Progress, None, SoftWeightResult]:
    """Influence-corrected vs group-Newton vs retrained parameters for soft weights (see
    :class:`SoftWeightResult`); ``weights`` (n,) or (m, n), all retrains batched over the m rows."""
    model, x, y, kappa = problem.model, problem.data.x, problem.data.y, problem.kappa
    n = x.shape[0]
    W = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if W.shape[1] != n or not (np.isfinite(W).all() and (W >= 0).all() and (W <= 1).all()):
        raise ValueError(f"soft weights must be an (n,) or (m, n) array in [0, 1] with n = {n}")
    m = W.shape[0]
    w0 = problem.weights()
    th = np.asarray(fit.theta_hat, dtype=np.float64)
    warnings = []
    H = model.hessian(th, x, y, w0, kappa)[0]
    gi = model.per_example_grads(th, x, y)[0]
    rhs = ((w0 - W) @ gi) / n  # (m, d)
    lam, Q = np.linalg.eigh(H)
    if lam[0] > 1e-12 * max(1.0, abs(lam[-1])):
        step, _ = solve_direct(H, rhs)
    else:
        warnings.append(
            f"H is not positive definite (smallest eigenvalue {lam[0]:.3g}): the influence correction uses the "
            "pseudo-inverse"
        )
        step, _ = solve_direct(H, rhs, pinv=True)
    theta_if = th + step
    thb = np.broadcast_to(th, (m, th.size))
    _, gw = model.loss_and_grad(thb, x, y, W, kappa)
    Hw = model.hessian(thb, x, y, W, kappa)
    nstep, _ = solve_direct(Hw, gw)
    theta_newton = th - nstep
    yield Progress(0.1, 1.0, "soft weights: warm retrain (LM from θ̂)")
    warm = newton_solve(training_objective(model, x, y, W, kappa), thb)
    if not warm.converged.all():
        warnings.append(f"warm retrain stopped at ‖∇L_w‖ = {warm.grad_norm.max():.2e}")
    if cold:
        start = np.broadcast_to(problem.theta0(), (m, th.size))
        tr = yield from _relay(
            train(model, start, x, y, W, replace(problem.config, checkpoint_every=0)),
            0.2,
            0.9,
            "soft weights: cold retrain: ",
        )
        theta_cold = tr.theta
        if problem.converge:
            res = newton_solve(training_objective(model, x, y, W, kappa), theta_cold)
            theta_cold = res.theta
        gn_cold = np.linalg.norm(model.loss_and_grad(theta_cold, x, y, W, kappa)[1], axis=1)
    else:
        theta_cold = warm.theta
        gn_cold = warm.grad_norm
    ref = theta_cold
    fd, pd = {}, {}
    f_ref = model.predict(ref, x)
    for name, t in (("if", theta_if), ("newton", theta_newton), ("warm", warm.theta), ("cold", theta_cold)):
        fd[name] = np.mean(np.abs(model.predict(t, x) - f_ref), axis=1)
        pd[name] = np.linalg.norm(t - ref, axis=1)
    yield Progress(1.0, 1.0, "soft weights done")
    return SoftWeightResult(
        W, th, theta_if, theta_newton, warm.theta, theta_cold, warm.grad_norm, gn_cold, fd, pd, warnings
    )


# --------------------------------------------------------------------------------------------------
# Stagewise influence (docs/science.md §7)
# --------------------------------------------------------------------------------------------------

STAGEWISE_METHODS = ("if", "if_gnh", "newton", "self_influence", "leverage", "tracin", "bif")


@dataclass
class StagewiseResult:
    """A per-point attribution evaluated at training checkpoints θ_k: ``values`` (K, n), row k at step
    ``steps[k]`` (training time t = η·step in ``times``). ``tracin`` is the cumulative sum up to θ_k."""

    method: str
    steps: np.ndarray
    times: np.ndarray
    values: np.ndarray
    query: Query
    warnings: list[str] = field(default_factory=list)


def stagewise_influence(
    problem: Problem,
    method: str = "if",
    query: Query | None = None,
    every: int | None = None,
    damping: float = DEFAULT_DAMPING,
    bif: BIFConfig | None = None,
) -> Generator[Progress, None, StagewiseResult]:
    """Stagewise influence (Lee et al. 2025; docs/science.md §7): ``method`` evaluated at θ_k along training, the
    checkpoints of the problem's training run every ``every`` steps (default steps/50). At θ_k the formulas
    are those of the table with θ̂ → θ_k (not stationary: the IF there is the formula, not a LOO estimate;
    a non-positive-definite H(θ_k) falls back to the pseudo-inverse). ``bif`` samples one localised posterior
    per checkpoint (centre θ_k), all checkpoints' chains batched in one SGLD run (default 4 chains, 4,000
    steps each)."""
    if method not in STAGEWISE_METHODS:
        raise ValueError(f"unknown stagewise method {method!r}; choose one of {', '.join(STAGEWISE_METHODS)}")
    model, x, y, kappa = problem.model, problem.data.x, problem.data.y, problem.kappa
    n = x.shape[0]
    query = _check_query(query, n)
    w0 = problem.weights()
    every = max(1, problem.config.steps // 50) if every is None else int(every)
    ck_every = 1 if method == "tracin" else every
    steps, ck = yield from _relay(_checkpoints(problem, ck_every), 0.0, 0.3, "checkpoints: ")
    warnings: list[str] = []
    if method == "tracin":
        cum = tracin(model, ck, tracin_weights(steps, problem.config.lr), x, y, query, cumulative=True)
        # value at checkpoint s: the steps before s (cumulative sum through the previous checkpoint)
        cum = np.vstack([np.zeros((1, n)), cum[:-1]])
        sel = np.flatnonzero((steps % every == 0) | (steps == steps[-1]))
        steps, values = steps[sel], cum[sel]
    elif method == "bif":
        cfg = bif or BIFConfig(chains=4, steps=4000, thin=10)
        values = yield from _relay(
            _stagewise_bif(model, x, y, w0, kappa, ck, query, cfg, warnings), 0.3, 1.0, "BIF: "
        )
    elif method == "leverage":
        values = jacobian_leverage(model, ck, x, 0.0, kappa)
    else:
        values = np.empty((ck.shape[0], n))
        for k, th in enumerate(ck):
            est = influence_estimates(model, th, x, y, w0, kappa, np.arange(n), damping, solver="direct")
            if method == "self_influence":
                values[k] = est.self_influence
            elif method == "newton":
                values[k] = deletion_effects(model, est.theta_newton, th, x, y, query)
            else:
                delta = est.delta_if if method == "if" else est.delta_gnh
                values[k] = np.einsum("nd,nd->n", query_grads(model, th, x, y, query), delta)
            if k % max(1, len(ck) // 20) == 0:
                yield Progress(0.3 + 0.7 * (k + 1) / len(ck), 1.0, f"stagewise {method}: checkpoint {k + 1}")
    yield Progress(1.0, 1.0, "stagewise influence done")
    return StagewiseResult(method, steps, steps * problem.config.lr, values, query, warnings)


def _stagewise_bif(model, x, y, w0, kappa, ck, query, cfg: BIFConfig, warnings):
    cfg.validate()
    n = x.shape[0]
    K, d = ck.shape
    beta = float(cfg.beta)
    gamma = cfg.gamma_factor * n * beta if cfg.gamma is None else float(cfg.gamma)
    Hs = model.hessian(ck, x, y, w0, kappa)
    etas, burns = [], []
    for H in Hs:
        _, _, eta, burn = _sgld_scales(H, n, beta, gamma, cfg)
        etas.append(eta)
        burns.append(burn)
    burn = max(burns)
    C = cfg.chains
    rng = np.random.default_rng(cfg.seed)
    centers = np.repeat(ck, C, axis=0)
    eta = np.repeat(np.array(etas), C)
    ells, phis, _ = yield from _sgld(
        model,
        x,
        y,
        w0,
        kappa,
        centers,
        centers.copy(),
        beta,
        gamma,
        eta,
        burn,
        cfg.steps,
        cfg.thin,
        rng,
        query,
    )
    out = np.empty((K, n))
    worst = 0.0
    for k in range(K):
        sl = slice(k * C, (k + 1) * C)
        bif, _, rhat_max, _ = _bif_from_traces(ells[:, sl], phis[:, sl], beta)
        out[k] = -beta * bif
        worst = max(worst, rhat_max)
    if worst > 1.05:
        warnings.append(f"BIF: some checkpoints' chains have not mixed (max split-R̂ {worst:.3f} > 1.05)")
    return out


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


@dataclass
class AttributionTable:
    """One row per training point, one column per method (see the module docstring for every column's
    meaning and sign). ``index`` holds the points' indices in the original data (they differ from the row
    numbers when points were held out for validation); ``corrupted`` the rows known to be corrupted."""

    index: np.ndarray
    x: np.ndarray
    y: np.ndarray
    columns: dict[str, np.ndarray]
    query: Query
    damping: float
    corrupted: tuple[int, ...] = ()
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: the estimated parameters of the model without point i, row i, per method (loo_cold, loo_warm, pbrf,
    #: newton, if, if_gnh); not written to CSV / JSON
    thetas: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.x.size

    def column_names(self) -> list[str]:
        return list(self.columns)

    def reference(self) -> str | None:
        """The exact-LOO column the others are compared with: loo_cold, else loo_warm."""
        for name in ("loo_cold", "loo_warm"):
            if name in self.columns:
                return name
        return None

    def agreement(self, reference: str | None = None, k: int | None = None) -> dict[str, dict]:
        """Pearson, Spearman and top-k overlap (by |value|) of every other column with ``reference``."""
        reference = reference or self.reference()
        if reference is None:
            return {}
        ref = self.columns[reference]
        return {
            name: agreement(col, ref, k)
            for name, col in self.columns.items()
            if name != reference and not name.endswith("_se")
        }

    def detection(self) -> dict[str, DetectionCurve]:
        """Every method's mislabel-detection curve (:func:`detection_direction` orientation); {} when no
        corrupted points are known."""
        if not self.corrupted:
            return {}
        return {
            name: detection_curve(col, self.corrupted, detection_direction(name, self.query.kind), name)
            for name, col in self.columns.items()
            if not name.endswith("_se")
        }

    def csv_header(self) -> list[str]:
        head = ["index", "x", "y"]
        if self.corrupted:
            head.append("corrupted")
        return head + list(self.columns)

    def to_csv_text(self) -> str:
        """index, x, y[, corrupted], then one column per method; floats with full precision ('nan' if
        undefined)."""
        bad = set(self.corrupted)
        lines = [",".join(self.csv_header())]
        for r in range(self.n):
            cells = [str(int(self.index[r])), repr(float(self.x[r])), repr(float(self.y[r]))]
            if self.corrupted:
                cells.append("1" if r in bad else "0")
            cells += [repr(float(col[r])) for col in self.columns.values()]
            lines.append(",".join(cells))
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        doc = {
            "query": self.query.to_json(),
            "damping": self.damping,
            "index": self.index,
            "x": self.x,
            "y": self.y,
            "corrupted_rows": list(self.corrupted),
            "columns": {
                name: {"values": col, "kind": column_kind(name), "meaning": column_doc(name)}
                for name, col in self.columns.items()
            },
            "reference": self.reference(),
            "agreement": self.agreement(),
            "info": self.info,
            "warnings": self.warnings,
            "timings": self.timings,
        }
        if self.corrupted:
            doc["detection"] = {k: v.to_json() for k, v in self.detection().items()}
        return doc


def resolve_methods(methods, model: Model) -> list[str]:
    """'all' (every method that applies), 'fast' (all but Shapley and BIF), 'loo' (cold and warm) or a list
    / comma-separated string of names from METHODS. 'ols' needs a linear model."""
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    linear = isinstance(model, LinearFeatures)
    out: list[str] = []
    for m in methods:
        if m == "all":
            out += [k for k in METHODS if k != "ols" or linear]
        elif m == "fast":
            out += [k for k in METHODS if k not in SLOW_METHODS and (k != "ols" or linear)]
        elif m == "loo":
            out += ["loo_cold", "loo_warm"]
        elif m in METHODS:
            if m == "ols" and not linear:
                raise ValueError("the 'ols' diagnostics (Cook's distance, DFBETAS) need a linear model")
            out.append(m)
        else:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(METHODS)} (or all, fast, loo)")
    if not out:
        raise ValueError("no method selected")
    return [m for m in METHODS if m in out]


def _validation_for(problem: Problem, validation: ValidationSet | None) -> ValidationSet:
    if validation is not None:
        return validation
    if problem.data.teacher is not None:
        return teacher_validation(problem.data)
    raise ValueError(
        "Data Shapley and the validation query need a validation set: mark held-out points or use a split"
    )


def attribution_table(
    problem: Problem,
    fit: Fit | None = None,
    methods="all",
    query: Query | None = None,
    damping: float = DEFAULT_DAMPING,
    validation: ValidationSet | None = None,
    shapley: ShapleyConfig = ShapleyConfig(),
    bif: BIFConfig = BIFConfig(),
    tracin_every: int | None = None,
    point_ids=None,
) -> Generator[Progress, None, AttributionTable]:
    """The per-point attribution table of a fitted problem, a progress generator whose ``partial``
    is the table filled so far (Shapley's running estimates appear in it as they converge).

    ``fit`` defaults to fitting the problem. TracIn uses the fit's saved checkpoints when it has some (unless
    ``tracin_every`` asks for another spacing) and otherwise re-runs the training to save them every
    ``tracin_every`` steps (default :func:`default_tracin_every`). ``validation`` (for Shapley and the validation query) defaults to
    the teacher grid of a preset (:func:`teacher_validation`). ``point_ids`` are the rows' indices in the
    original data (default 0..n−1). Every batched piece is one call: all n cold retrains in one training run
    and one LM polish, warm LOO and PBRF in one LM solve, IF / GNH / Newton through one factorisation.
    """
    import time

    model, x, y, kappa = problem.model, problem.data.x, problem.data.y, problem.kappa
    n = x.shape[0]
    w0 = problem.weights()
    methods = resolve_methods(methods, model)
    if "shapley" in methods:
        shapley.validate()
    if "bif" in methods:
        bif.validate()
    if not (np.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping λ must be ≥ 0, got {damping}")
    if "pbrf" in methods and not damping > 0:
        raise ValueError("the PBRF needs damping λ > 0")
    if query is not None and query.kind == "validation" and query.validation is None:
        query = Query("validation", validation=_validation_for(problem, validation))
    query = _check_query(query, n)
    if "shapley" in methods:
        validation = _validation_for(problem, validation if validation is not None else query.validation)
    ids = np.arange(n) if point_ids is None else np.asarray(point_ids, dtype=int)
    table = AttributionTable(
        ids, x.copy(), y.copy(), {}, query, float(damping), tuple(problem.data.corrupted)
    )

    cost = {m: 1.0 for m in methods}
    if "loo_cold" in methods:
        cost["loo_cold"] = 2.0 + n / 20
    if "shapley" in methods:
        cost["shapley"] = shapley.max_permutations * n / 100
    if "bif" in methods:
        cost["bif"] = 10.0
    total = 1.0 + sum(cost.values())
    done = 0.0

    def span(m):
        nonlocal done
        a = done / total
        done += cost.get(m, 0.0)
        return a, done / total

    def snap():
        return replace(table, columns=dict(table.columns), info=dict(table.info), thetas=dict(table.thetas))

    t0 = time.perf_counter()
    if fit is None:
        every = tracin_every or default_tracin_every(problem.config.steps)
        fit = yield from _relay(
            fit_problem(problem, checkpoint_every=every if "tracin" in methods else 0),
            0.0,
            1.0 / total,
            "training: ",
            snap,
        )
        table.timings["fit"] = time.perf_counter() - t0
    done = 1.0
    th_hat, th_s = np.asarray(fit.theta_hat), np.asarray(fit.theta_s)
    js = np.arange(n)
    info = table.info

    if "loo_cold" in methods:
        t = time.perf_counter()
        a, b = span("loo_cold")
        yield Progress(a, 1.0, "exact LOO (cold start): all n retrains in one batch", snap())
        r = yield from _relay(
            loo_cold(model, x, y, w0, kappa, fit.theta0, js, problem.config, problem.converge), a, b, "", snap
        )
        table.thetas["loo_cold"] = r.theta
        table.columns["loo_cold"] = deletion_effects(model, r.theta, th_hat, x, y, query)
        info["loo_cold"] = {
            "polished": bool(problem.converge),
            "grad_norm_max": float(np.max(r.grad_norm)),
            "converged": None if r.converged is None else bool(np.all(r.converged)),
            "function_distance_to_theta_hat": np.mean(
                np.abs(model.predict(r.theta, x) - model.predict(th_hat, x)), axis=1
            ),
        }
        if r.message:
            table.warnings.append(r.message)
        table.timings["loo_cold"] = time.perf_counter() - t

    solved = [m for m in ("loo_warm", "pbrf") if m in methods]
    if solved:
        t = time.perf_counter()
        a, b = span("loo_warm")
        span("pbrf")
        yield Progress(a, 1.0, "warm-start LOO and PBRF by LM (one batched solve)", snap())
        res = solve_responses(model, x, y, w0, kappa, th_s, js, damping, tuple(solved))
        for m in solved:
            base = th_hat if m == "loo_warm" else th_s
            table.thetas[m] = res[m].theta
            table.columns[m] = deletion_effects(model, res[m].theta, base, x, y, query)
            info[m] = {
                "grad_norm_max": float(np.max(res[m].grad_norm)),
                "converged": bool(res[m].converged.all()),
            }
            if res[m].message:
                table.warnings.append(res[m].message)
        table.timings["loo_warm+pbrf"] = time.perf_counter() - t

    if any(m in methods for m in ("if", "if_gnh", "newton", "self_influence")):
        t = time.perf_counter()
        for m in ("if", "if_gnh", "newton", "self_influence"):
            span(m)
        est = influence_estimates(model, th_hat, x, y, w0, kappa, js, damping, solver="direct")
        gq = query_grads(model, th_hat, x, y, query)
        table.thetas.update({"if": est.theta_if, "if_gnh": est.theta_gnh, "newton": est.theta_newton})
        if "if" in methods:
            table.columns["if"] = np.einsum("nd,nd->n", gq, est.delta_if)
        if "if_gnh" in methods:
            table.columns["if_gnh"] = np.einsum("nd,nd->n", gq, est.delta_gnh)
        if "newton" in methods:
            table.columns["newton"] = deletion_effects(model, est.theta_newton, th_hat, x, y, query)
        if "self_influence" in methods:
            table.columns["self_influence"] = np.asarray(est.self_influence, dtype=np.float64)
        info["hessian"] = {
            "positive_definite": est.hessian.positive_definite,
            "min_eigenvalues": est.hessian.eigenvalues[:3],
            "if_method": est.if_method,
        }
        table.warnings += _condense_newton_warnings(est.warnings)
        table.timings["if+gnh+newton"] = time.perf_counter() - t

    if "leverage" in methods:
        span("leverage")
        table.columns["leverage"] = jacobian_leverage(model, th_hat, x, 0.0, kappa)

    if "tracin" in methods:
        t = time.perf_counter()
        a, b = span("tracin")
        every = tracin_every or default_tracin_every(problem.config.steps)
        tr = fit.training
        if tr.checkpoints and tracin_every in (None, _ckpt_every(tr.checkpoint_steps)):
            steps = np.array(tr.checkpoint_steps)
            ck = np.concatenate(tr.checkpoints)[:, :]
        else:
            yield Progress(a, 1.0, "TracIn: re-running training to save checkpoints", snap())
            steps, ck = yield from _relay(_checkpoints(problem, every), a, b, "TracIn checkpoints: ", snap)
            if np.max(np.abs(ck[-1] - th_s)) > 1e-9 * max(1.0, np.max(np.abs(th_s))):
                table.warnings.append("TracIn: re-running the training did not reproduce θ^s of the fit")
        table.columns["tracin"] = tracin(model, ck, tracin_weights(steps, problem.config.lr), x, y, query)
        info["tracin"] = {
            "checkpoints": int(len(steps)),
            "every": int(_ckpt_every(steps)),
            "lr": problem.config.lr,
        }
        table.timings["tracin"] = time.perf_counter() - t

    if "bif" in methods:
        t = time.perf_counter()
        a, b = span("bif")
        res = yield from _relay(bif_sgld(model, th_hat, x, y, w0, kappa, query, bif), a, b, "BIF: ", snap)
        table.columns["bif"] = res.table_column
        table.columns["bif_se"] = res.beta * res.se
        info["bif"] = {k: v for k, v in res.to_json().items() if k not in ("bif", "se")}
        table.warnings += res.warnings
        table.timings["bif"] = time.perf_counter() - t

    if "shapley" in methods:
        t = time.perf_counter()
        a, b = span("shapley")
        gen = tmc_shapley(training_utility(problem, validation, shapley.train_steps), n, shapley)
        try:
            while True:
                p = next(gen)
                if isinstance(p.partial, ShapleyResult):
                    table.columns["shapley"] = p.partial.values
                    table.columns["shapley_se"] = p.partial.se
                yield Progress(a + (b - a) * p.fraction, 1.0, p.message, snap())
        except StopIteration as stop:
            res = stop.value
        table.columns["shapley"] = res.values
        table.columns["shapley_se"] = res.se
        info["shapley"] = {
            **{k: v for k, v in res.to_json().items() if k not in ("values", "se")},
            "validation": validation.source,
        }
        if not res.converged:
            table.warnings.append(
                f"Shapley: not converged after {res.permutations} permutations (change {res.change:.3g} ≥ "
                f"{shapley.convergence_tol:g}); raise the permutation budget"
            )
        table.timings["shapley"] = time.perf_counter() - t

    if "ols" in methods:
        X = model.features(x)
        diag = ols_diagnostics(X, y, kappa)
        if not np.allclose(w0, 1.0):
            table.warnings.append("the OLS diagnostics ignore the data weights")
        table.columns["cooks_distance"] = diag.cooks_distance
        table.columns["studentized_residual"] = diag.resid_studentized_external
        for k in range(diag.p):
            table.columns[f"dfbetas_{k}"] = diag.dfbetas[:, k]
        table.columns["dfbetas_max_abs"] = np.max(np.abs(diag.dfbetas), axis=1)
        table.warnings += list(diag.warnings)

    # canonical column order
    order = [c for m in METHODS for c in _columns_of(m, table.columns)]
    table.columns = {c: table.columns[c] for c in order}
    table.timings["total"] = time.perf_counter() - t0
    yield Progress(1.0, 1.0, "attribution table done", snap())
    return table


def _condense_newton_warnings(warnings: list[str]) -> list[str]:
    """One line for all the per-point 'Newton estimate (j = …)' warnings of core.deletion.influence."""
    import re

    out, js, eigs = [], [], []
    for w in warnings:
        m = re.match(r"Newton estimate \(j = (\d+)\):.*smallest eigenvalue ([^)]+)\)", w)
        if m:
            js.append(m.group(1))
            eigs.append(m.group(2))
        else:
            out.append(w)
    if js:
        lo = min(eigs, key=lambda e: float(e))
        out.append(
            f"Newton estimate: ∇²L_−j(θ̂) is not positive definite for j = {', '.join(js)} (smallest eigenvalue "
            f"{lo}): there the Newton step solves the quadratic model's stationarity condition but does not "
            "minimise it"
        )
    return out


def _columns_of(method: str, columns: dict) -> list[str]:
    if method == "ols":
        return [
            c
            for c in columns
            if c in ("cooks_distance", "studentized_residual", "dfbetas_max_abs")
            or (c.startswith("dfbetas_") and c != "dfbetas_max_abs")
        ]
    return [c for c in (method, f"{method}_se") if c in columns]


def _ckpt_every(steps) -> int:
    s = np.asarray(steps)
    return int(s[1] - s[0]) if s.size > 1 else 0


def compute_table(problem: Problem, **kwargs) -> AttributionTable:
    """:func:`attribution_table` run to the end."""
    return drive(attribution_table(problem, **kwargs))
