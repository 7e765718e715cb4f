"""Worker tasks of the Attribution panel: the per-point attribution table, its
Monte-Carlo columns (Data Shapley, BIF), soft-weighted unlearning and stagewise influence.

Each task is a generator run by :class:`gui.jobs.JobRunner` in a worker thread. It takes an immutable request (a
frozen dataclass holding a :class:`core.problem.Problem` snapshot and the panel's choices) and calls
:mod:`core.attribution.methods` exactly like ``influence-lab attribute`` does (:mod:`cli.attribute`: fit first with
TracIn's checkpoints, stop on a diverged training, then :func:`core.attribution.methods.attribution_table`; same
defaults, same validation set — the teacher grid of a preset). The progress ``partial`` of the table tasks is
core's :class:`core.attribution.methods.AttributionTable` snapshot (Shapley's running estimates appear in it). The
panel only merges columns, indexes and draws.

This module never imports Qt (it is importable by headless tests).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.attribution.methods import (
    DEFAULT_DAMPING,
    METHODS,
    SLOW_METHODS,
    STAGEWISE_METHODS,
    AttributionTable,
    BIFConfig,
    Query,
    ShapleyConfig,
    SoftWeightResult,
    StagewiseResult,
    ValidationSet,
    attribution_table,
    default_tracin_every,
    soft_weight_estimates,
    stagewise_influence,
    teacher_validation,
)
from core.deletion.responses import function_distance
from core.limits import check_elements, problem_size_error
from core.problem import Fit, Problem, fit_problem
from core.progress import Progress, scaled
from gui.dynamics_tasks import display_grid

#: Job kinds (one live job per kind on the shared runner).
TABLE = "attribution"
SHAPLEY = "attribution-shapley"
BIF = "attribution-bif"
SOFT = "attribution-soft"
STAGEWISE = "attribution-stagewise"
KINDS = (TABLE, SHAPLEY, BIF, SOFT, STAGEWISE)

#: The fast methods offered as check boxes (seconds at most), in the table's column order; "ols" only for
#: linear models.
FAST_METHODS = tuple(m for m in METHODS if m not in SLOW_METHODS)

#: Short names of the methods and columns (headers, legends, combo boxes).
LABELS = {
    "loo_cold": "LOO (cold)",
    "loo_warm": "LOO (warm)",
    "if": "IF",
    "if_gnh": "GNH IF",
    "pbrf": "PBRF",
    "newton": "Newton",
    "self_influence": "self-influence",
    "leverage": "leverage",
    "tracin": "TracIn",
    "bif": "BIF",
    "bif_se": "BIF s.e.",
    "shapley": "Shapley",
    "shapley_se": "Shapley s.e.",
    "ols": "OLS diagnostics",
    "cooks_distance": "Cook's D",
    "studentized_residual": "stud. residual",
    "dfbetas_max_abs": "max |DFBETAS|",
}

#: Query kinds (core.attribution.methods.Query).
QUERY_KINDS = ("self", "point", "validation")


def label(name: str) -> str:
    """The short display name of a column (``dfbetas_k`` → ``DFBETAS k``)."""
    if name in LABELS:
        return LABELS[name]
    if name.startswith("dfbetas_"):
        return f"DFBETAS {name.split('_', 1)[1]}"
    return name


def validation_for(problem: Problem) -> ValidationSet | None:
    """The validation set of the validation query and Data Shapley: the teacher grid of a preset (the CLI's
    default), or None when the data has no teacher."""
    if problem.data.teacher is None:
        return None
    return teacher_validation(problem.data)


def make_query(problem: Problem, kind: str, index: int | None = None) -> Query:
    """core's :class:`Query` for the panel's choice; ValueError with a user-readable message if impossible."""
    if kind == "self":
        return Query("self")
    if kind == "point":
        n = problem.data.n
        if index is None or not 0 <= int(index) < n:
            raise ValueError(f"the query point must be one of 0..{n - 1}")
        return Query("point", index=int(index))
    if kind == "validation":
        v = validation_for(problem)
        if v is None:
            raise ValueError(
                "the validation query needs a validation set: this data has no teacher function (use a preset; "
                "the command line's --holdout / --val-fraction hold points out)"
            )
        return Query("validation", validation=v)
    raise ValueError(f"unknown query {kind!r}")


def size_error(problem: Problem, methods: Sequence[str], chains: int = 1) -> str | None:
    """core.limits' refusal for these methods on this problem, or None — the rule of ``influence-lab attribute``
    (cli.attribute): all n leave-one-out models at once on 2n inputs for the batched methods, otherwise
    n models (IF, Newton) or the Monte-Carlo batches; TracIn's checkpoints."""
    n = problem.data.n
    hessian = problem.converge or not set(methods) <= {"tracin", "shapley", "loo_cold"}
    if set(methods) & {"loo_cold", "loo_warm", "pbrf"}:
        msg = problem_size_error(problem, "attribute", hessian=hessian)
    else:
        batch = max(n, chains if "bif" in methods else 1, 400 if "shapley" in methods else 1)
        msg = problem_size_error(problem, "attribute", batch=batch, inputs=n, hessian=hessian)
    if msg is None and "tracin" in methods:
        every = default_tracin_every(problem.config.steps)
        try:
            check_elements(
                (problem.config.steps // every + 1) * problem.model.n_params * 2,
                "TracIn's checkpoints",
                "Untick TracIn",
            )
        except ValueError as exc:
            msg = str(exc)
    return msg


# ------------------------------------------------------------------------------------------------------
# the table (fast methods, Shapley, BIF)
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRequest:
    """One attribution_table run: the problem snapshot, the methods, the query and the Monte-Carlo settings."""

    problem: Problem
    methods: tuple[str, ...]
    query_kind: str = "self"
    query_index: int | None = None
    damping: float = DEFAULT_DAMPING
    shapley: ShapleyConfig = ShapleyConfig()
    bif: BIFConfig = BIFConfig()
    #: the state revision the request was made for
    revision: int = 0

    @property
    def query_key(self) -> tuple:
        return (self.query_kind, self.query_index if self.query_kind == "point" else None)


@dataclass(frozen=True)
class TableRecord:
    """A finished table job: the request and core's table."""

    request: TableRequest
    table: AttributionTable
    seconds: float


def shapley_config(permutations: int, seed: int = 0) -> ShapleyConfig:
    """The CLI's Shapley settings for a permutation budget (min permutations capped at the budget)."""
    d = ShapleyConfig()
    return replace(
        d,
        max_permutations=int(permutations),
        min_permutations=min(d.min_permutations, int(permutations)),
        seed=seed,
    )


def bif_config(chains: int, steps: int, seed: int = 0) -> BIFConfig:
    """The CLI's BIF settings with this many chains and sampling steps (thinning lowered so that every chain
    keeps at least 4 draws)."""
    d = BIFConfig()
    thin = max(1, min(d.thin, int(steps) // 4))
    return replace(d, chains=int(chains), steps=int(steps), thin=thin, seed=seed)


def _fit(problem: Problem, tracin: bool, start: float, stop: float):
    every = default_tracin_every(problem.config.steps)
    fit: Fit = yield from scaled(
        fit_problem(problem, checkpoint_every=every if tracin else 0), start, stop, 1.0, "fit: "
    )
    if fit.training.diverged.any():
        raise ValueError(f"the training diverged ({fit.training.message})")
    return fit


def table_task(req: TableRequest) -> Generator[Progress, None, TableRecord]:
    """Fit the problem (with TracIn's checkpoints when TracIn is asked for), then
    :func:`core.attribution.methods.attribution_table` — as ``influence-lab attribute`` does."""
    import time

    t0 = time.perf_counter()
    problem = req.problem
    methods = list(req.methods)
    if not methods:
        raise ValueError("tick at least one method")
    if not (problem.weights() > 0).any():
        raise ValueError("every point has weight 0: there is nothing to attribute")
    msg = size_error(problem, methods, req.bif.chains)
    if msg is not None:
        raise ValueError(msg)
    query = make_query(problem, req.query_kind, req.query_index)
    validation = query.validation if query.validation is not None else validation_for(problem)
    if "shapley" in methods and validation is None:
        raise ValueError(
            "Data Shapley needs a validation set (V = −MSE on it): this data has no teacher function; use a "
            "preset (the command line's --holdout / --val-fraction hold points out)"
        )
    fit = yield from _fit(problem, "tracin" in methods, 0.0, 0.05)
    table = yield from scaled(
        attribution_table(
            problem,
            fit=fit,
            methods=methods,
            query=query,
            damping=req.damping,
            validation=validation,
            shapley=req.shapley,
            bif=req.bif,
        ),
        0.05,
        1.0,
        1.0,
    )
    return TableRecord(req, table, time.perf_counter() - t0)


def _rank(name: str) -> int:
    base = name[:-3] if name.endswith("_se") else name
    return METHODS.index(base) if base in METHODS else METHODS.index("ols")


def merge_tables(
    base: AttributionTable | None, extras: Sequence[AttributionTable]
) -> AttributionTable | None:
    """One table with the columns of ``base`` (the fast methods) and of ``extras`` (Shapley, BIF runs on the same
    points), in the canonical column order of core.attribution.methods.METHODS. The query, damping and rows are the
    base table's (the first extra's without a base); warnings, info and timings are joined."""
    tables = [t for t in [base, *extras] if t is not None]
    if not tables:
        return None
    head = tables[0]
    if len(tables) == 1:
        return head
    columns: dict[str, np.ndarray] = {}
    info, timings, warnings, thetas = {}, {}, [], {}
    for t in tables:
        columns.update(t.columns)
        info.update(t.info)
        timings.update(t.timings)
        thetas.update(t.thetas)
        warnings += [w for w in t.warnings if w not in warnings]
    order = sorted(columns, key=_rank)  # stable: insertion order within a method
    return replace(
        head,
        columns={c: columns[c] for c in order},
        info=info,
        warnings=warnings,
        timings=timings,
        thetas=thetas,
    )


# ------------------------------------------------------------------------------------------------------
# soft weights
# ------------------------------------------------------------------------------------------------------

#: The fits drawn by the soft-weights plot, in drawing order.
SOFT_FITS = ("original", "if", "newton", "warm", "cold")
SOFT_LABELS = {
    "original": "original fit",
    "if": "IF-corrected",
    "newton": "group Newton",
    "warm": "retrained (warm)",
    "cold": "retrained (from θ₀)",
}


@dataclass(frozen=True)
class SoftRequest:
    problem: Problem
    weights: tuple[float, ...]
    revision: int = 0


@dataclass(frozen=True)
class SoftRecord:
    """soft_weight_estimates for one weight vector, with the fits' curves on a display grid."""

    request: SoftRequest
    result: SoftWeightResult
    grid: np.ndarray
    curves: dict  # name (SOFT_FITS) → f(θ; grid)
    thetas: dict  # name → θ (d,)
    #: mean |f(θ_name; x_i) − f(θ_retrained; x_i)| and ‖θ_name − θ_retrained‖ over the training inputs
    function_distance: dict
    param_distance: dict
    data_x: np.ndarray
    data_y: np.ndarray
    weights: np.ndarray
    base_weights: np.ndarray
    warnings: tuple[str, ...] = field(default_factory=tuple)


def soft_task(req: SoftRequest) -> Generator[Progress, None, SoftRecord]:
    """Fit the problem, then :func:`core.attribution.methods.soft_weight_estimates` (influence-corrected, group Newton,
    warm and cold retrains with the soft weights)."""
    problem = req.problem
    w = np.asarray(req.weights, dtype=np.float64)
    msg = size_error(problem, ["loo_warm"])
    if msg is not None:
        raise ValueError(msg)
    fit = yield from _fit(problem, False, 0.0, 0.4)
    res = yield from scaled(soft_weight_estimates(problem, fit, w), 0.4, 1.0, 1.0)
    model, x = problem.model, problem.data.x
    thetas = {
        "original": np.asarray(fit.theta_hat),
        "if": res.theta_if[0],
        "newton": res.theta_newton[0],
        "warm": res.theta_warm[0],
        "cold": res.theta_cold[0],
    }
    grid = display_grid(x)
    curves = {k: model.predict(th, grid)[0] for k, th in thetas.items()}
    ref = thetas["cold"]
    fd = {k: float(function_distance(model, th, ref, x)[0]) for k, th in thetas.items()}
    pd = {k: float(np.linalg.norm(th - ref)) for k, th in thetas.items()}
    return SoftRecord(
        req,
        res,
        grid,
        curves,
        thetas,
        fd,
        pd,
        x.copy(),
        problem.data.y.copy(),
        w,
        problem.weights().copy(),
        tuple(res.warnings),
    )


# ------------------------------------------------------------------------------------------------------
# stagewise influence
# ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagewiseRequest:
    problem: Problem
    method: str = "if"
    query_kind: str = "self"
    query_index: int | None = None
    damping: float = DEFAULT_DAMPING
    revision: int = 0


@dataclass(frozen=True)
class StagewiseRecord:
    request: StagewiseRequest
    result: StagewiseResult


def stagewise_task(req: StagewiseRequest) -> Generator[Progress, None, StagewiseRecord]:
    """:func:`core.attribution.methods.stagewise_influence` of the request's method at checkpoints along training."""
    if req.method not in STAGEWISE_METHODS:
        raise ValueError(f"choose one of {', '.join(STAGEWISE_METHODS)}")
    problem = req.problem
    msg = size_error(problem, ["if"], 4)
    if msg is not None:
        raise ValueError(msg)
    query = make_query(problem, req.query_kind, req.query_index)
    res = yield from stagewise_influence(problem, req.method, query, damping=req.damping)
    return StagewiseRecord(req, res)


__all__ = [
    "BIF",
    "FAST_METHODS",
    "KINDS",
    "LABELS",
    "QUERY_KINDS",
    "SHAPLEY",
    "SOFT",
    "SOFT_FITS",
    "SOFT_LABELS",
    "STAGEWISE",
    "STAGEWISE_METHODS",
    "TABLE",
    "SoftRecord",
    "SoftRequest",
    "StagewiseRecord",
    "StagewiseRequest",
    "TableRecord",
    "TableRequest",
    "bif_config",
    "label",
    "make_query",
    "merge_tables",
    "shapley_config",
    "size_error",
    "soft_task",
    "stagewise_task",
    "table_task",
    "validation_for",
]
