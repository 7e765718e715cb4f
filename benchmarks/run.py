"""Influence Lab speed benchmarks against naive baselines, in one process and one run.

    .venv/bin/python benchmarks/run.py            # every scenario, ~2 minutes; writes benchmarks/results.json
    .venv/bin/python benchmarks/run.py --only homotopy,loo_all --no-gui

For every scenario of the issue's table this times Influence Lab's own code path (the batched numpy core, the
best of ``--repeat`` runs, default 3, after one untimed warm-up run that also counts the floating-point work)
and a naive baseline — one model at a time, ``torch.nn.Sequential`` + ``torch.optim`` in a Python loop, the
way a researcher would write it (``benchmarks/baselines.py``). Where the baseline would take minutes, a stated
subset is timed and scaled linearly (the ``note`` column says which). Each row also checks that both computed
the same numbers (``agreement``); a row whose answers disagree is not "met".

Work and rate: ``flops`` is an analytic count of the arithmetic the scenario performs, collected during the
warm-up run by wrapping the model evaluations and the LAPACK calls (formulas in :data:`FLOP_FORMULAS`; for an MLP
with P weights on n points: a forward pass ≈ 2·P·n, loss and gradient ≈ 6·P·n, Jacobian ≈ 5·P·n, the exact
Hessian's second-order part ≈ 8·P·n·d (forward-over-reverse along the d directions), eigh ≈ 4d³, Cholesky
d³/3, solve ⅔d³ + 2d²k). ``gflops`` = flops / ours_s. The machine's reference is a 2000×2000 float64 matmul
with 1 and 2 BLAS threads, measured in the same run (subprocesses), so the distance to the limit is visible.

Environment: OPENBLAS_NUM_THREADS=1 (the app's default; set here before numpy is imported, an explicit
setting wins), torch with 2 threads for the baselines (the scale rows also try 1 thread and keep the faster:
a 2-thread torch on a busy 2-core machine can be 10-40x slower). The load average is printed: other processes
on a 2-core machine slow everything down.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from core.atomic import atomic_write_text  # noqa: E402
from core.attribution.methods import ShapleyConfig, teacher_validation, tmc_shapley, training_utility  # noqa: E402
from core.deletion.eps_path import continuation_path, eps_weights, homotopy  # noqa: E402
from core.deletion.influence import solve_direct  # noqa: E402
from core.deletion.responses import deletion_estimates, loo_cold  # noqa: E402
from core.model import MLPSpec  # noqa: E402
from core.objective import LSObjective  # noqa: E402
from core.points.dataset import make_preset  # noqa: E402
from core.problem import Fit, Problem, default_problem, fit  # noqa: E402
from core.progress import drive  # noqa: E402
from core.train import train_models  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.json"
TORCH_THREADS = 2

#: the deleted point of the single-deletion scenarios (homotopy, ε-path, one deletion)
J = 3
DAMPING = 1e-3
HOMOTOPY_STEPS = 4000
HOMOTOPY_EPS = 41
HOMOTOPY_SNAPSHOTS = 200
PATH_POINTS = 101
#: points of the naive ε-path that are timed (the rest is scaled linearly)
PATH_SUBSET = 21
SHAPLEY_PERMUTATIONS = 200
SCALE_N = 1000
SCALE_HIDDEN = (32, 32)

# --------------------------------------------------------------------------------------------------
# Influence Lab's side: the scenarios as the app runs them (budgets are parameters for the smoke test)
# --------------------------------------------------------------------------------------------------


def ours_homotopy(
    problem: Problem,
    f: Fit,
    j: int = J,
    n_eps: int = HOMOTOPY_EPS,
    steps: int = HOMOTOPY_STEPS,
    n_snapshots: int = HOMOTOPY_SNAPSHOTS,
):
    """θ(t, ε): n_eps weights × ``steps`` GD steps from θ_0, one batched run (core.deletion.eps_path.homotopy)."""
    cfg = replace(problem.config, steps=steps)
    return drive(
        homotopy(
            problem.model,
            f.theta0,
            problem.data.x,
            problem.data.y,
            problem.weights(),
            cfg,
            j,
            n_eps,
            n_snapshots,
        )
    )


def ours_eps_path(problem: Problem, f: Fit, j: int = J, n_points: int = PATH_POINTS):
    """The continuation ε-path from θ̂, each point Newton-corrected to ‖∇‖ ≤ 1e-10."""
    return drive(
        continuation_path(
            problem.model,
            f.theta_hat,
            problem.data.x,
            problem.data.y,
            problem.weights(),
            problem.kappa,
            [j],
            n_points,
        )
    )


def ours_deletion(problem: Problem, f: Fit, j: int = J, damping: float = DAMPING):
    """Every estimate of one deletion and the decomposition (core.deletion.responses.deletion_estimates)."""
    return drive(
        deletion_estimates(
            problem.model,
            problem.data.x,
            problem.data.y,
            problem.weights(),
            problem.kappa,
            f.theta0,
            f.theta_s,
            f.theta_hat,
            j,
            damping,
            problem.config,
            converge=problem.converge,
        )
    )


def ours_loo_all(problem: Problem, f: Fit, js=None):
    """Exact (cold-start, converged) LOO for every point: one batched training run + one batched LM polish."""
    js = np.arange(problem.data.n) if js is None else np.asarray(js)
    return drive(
        loo_cold(
            problem.model,
            problem.data.x,
            problem.data.y,
            problem.weights(),
            problem.kappa,
            f.theta0,
            js,
            problem.config,
            converge=True,
        )
    )


def shapley_config(permutations: int = SHAPLEY_PERMUTATIONS) -> ShapleyConfig:
    """Exactly ``permutations`` permutations (the convergence rule cannot stop earlier), truncation on."""
    return ShapleyConfig(max_permutations=permutations, min_permutations=permutations)


def ours_shapley(problem: Problem, permutations: int = SHAPLEY_PERMUTATIONS, validation=None):
    """TMC-Shapley with V = −MSE on the teacher grid, each utility a batched training run from θ_0."""
    validation = teacher_validation(problem.data) if validation is None else validation
    utility = training_utility(problem, validation)
    return drive(tmc_shapley(utility, problem.data.n, shapley_config(permutations)))


def scale_problem(n: int = SCALE_N, hidden=SCALE_HIDDEN) -> Problem:
    return Problem(data=make_preset("teacher", n=n), model=MLPSpec(tuple(hidden), "tanh"))


def ours_scale_gd(problem: Problem, steps: int | None = None):
    """``steps`` (default: the problem's 2,000) full-batch GD steps of one model."""
    cfg = problem.config if steps is None else replace(problem.config, steps=steps)
    return train_models(
        problem.model, problem.theta0(), problem.data.x, problem.data.y, problem.weights(), cfg
    )


def ours_influence_all(model, theta, x, y, w, kappa: float):
    """Δθ_IF = (1/n) H⁻¹ ∇ℓ_i for every training point and s_i = ∇ℓ_iᵀ H⁻¹ ∇ℓ_i, exact Hessian, one
    factorisation (core.deletion.influence.solve_direct: Cholesky, else eigendecomposition / pseudo-inverse, as the app's
    influence estimates do). Returns (Δθ (n, d), s (n,), SolveInfo)."""
    n = np.shape(x)[0]
    H = model.hessian(theta, x, y, w, kappa)[0]
    G = model.per_example_grads(theta, x, y)[0]  # (n, d)
    sol, info = solve_direct(H, G)
    return sol / n, np.einsum("nd,nd->n", G, sol), info


# --------------------------------------------------------------------------------------------------
# Counting floating-point work
# --------------------------------------------------------------------------------------------------


def _batch(theta) -> int:
    return 1 if np.ndim(theta) == 1 else int(np.shape(theta)[0])


#: analytic flops per call (model methods: for B models, P = d weights, n inputs)
FLOP_FORMULAS = {
    "predict": "2·P·n per model (one multiply-add per weight and input)",
    "loss_and_grad": "6·P·n per model (forward 2Pn + backward 4Pn)",
    "weighted_output_grad": "6·P·n per model",
    "jacobian": "5·P·n per model (forward, backward, outer products)",
    "output_hessian_sum": "8·P·n·d per model (forward-over-reverse tangents along d directions)",
    "gnh": "+ 2·n·d² per model (JᵀJ), plus its Jacobian",
    "LSObjective.hessian": "+ 2·m·d² per model (JᵀCJ), plus Jacobian and output Hessian",
    "eigh": "4·d³ per matrix (tridiagonalisation + back-transformation)",
    "eigvalsh": "4/3·d³ per matrix",
    "cholesky": "d³/3 per matrix",
    "solve": "2/3·d³ + 2·d²·k per matrix (LU + k right-hand sides)",
    "svd": "6·d³ per matrix (rough)",
}


class FlopCounter:
    """Counts the analytic flops of MLP evaluations and LAPACK calls made inside the ``with`` block (by
    wrapping MLPSpec methods and numpy.linalg functions; not thread-safe, used only in the warm-up runs).
    BLAS products written inline in the core (e.g. einsum in the eigen-solve) are not seen: see ``extra``."""

    def __init__(self):
        self.flops = 0.0
        self.calls: Counter = Counter()
        self._saved: list = []

    def _add(self, name, flops):
        self.flops += float(flops)
        self.calls[name] += 1

    def __enter__(self):
        c = self

        def model_wrap(name, per_model):
            orig = getattr(MLPSpec, name)

            def wrapper(self_, theta, x, *a, **k):
                c._add(name, per_model(self_, np.shape(x)[0]) * _batch(theta))
                return orig(self_, theta, x, *a, **k)

            self._saved.append((MLPSpec, name, orig))
            setattr(MLPSpec, name, wrapper)

        model_wrap("predict", lambda m, n: 2 * m.n_params * n)
        model_wrap("loss_and_grad", lambda m, n: 6 * m.n_params * n)
        model_wrap("weighted_output_grad", lambda m, n: 6 * m.n_params * n)
        model_wrap("jacobian", lambda m, n: 5 * m.n_params * n)
        model_wrap("output_hessian_sum", lambda m, n: 8 * m.n_params * n * m.n_params)
        model_wrap("gnh", lambda m, n: 2 * n * m.n_params**2)

        orig_h = LSObjective.hessian

        def ls_hessian(self_, theta):
            c._add("LSObjective.hessian", 2 * np.shape(self_.u)[0] * self_.model.n_params**2 * _batch(theta))
            return orig_h(self_, theta)

        self._saved.append((LSObjective, "hessian", orig_h))
        LSObjective.hessian = ls_hessian

        def lin_wrap(name, cost):
            orig = getattr(np.linalg, name)

            def wrapper(A, *a, **k):
                A_ = np.asarray(A)
                d = A_.shape[-1]
                batch = int(np.prod(A_.shape[:-2])) if A_.ndim > 2 else 1
                extra = a[0] if a else None
                c._add(name, cost(d, batch, A_, extra))
                return orig(A, *a, **k)

            self._saved.append((np.linalg, name, orig))
            setattr(np.linalg, name, wrapper)

        def solve_cost(d, batch, A, b):
            b = np.asarray(b)
            k = b.shape[-1] if b.ndim == A.ndim else 1
            bb = int(np.prod(b.shape[: -2 if b.ndim == A.ndim else -1])) if b.ndim > 1 else 1
            return max(batch, bb) * (2 / 3 * d**3 + 2 * d * d * k)

        lin_wrap("eigh", lambda d, b, A, e: b * 4 * d**3)
        lin_wrap("eigvalsh", lambda d, b, A, e: b * 4 / 3 * d**3)
        lin_wrap("cholesky", lambda d, b, A, e: b * d**3 / 3)
        lin_wrap("solve", solve_cost)
        lin_wrap("svd", lambda d, b, A, e: b * 6 * d**3)
        return self

    def __exit__(self, *exc):
        for owner, name, orig in reversed(self._saved):
            setattr(owner, name, orig)
        self._saved.clear()
        return False


# --------------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------------


@dataclass
class Target:
    max_s: float
    min_ratio: float | None = None

    def text(self) -> str:
        t = f"≤ {self.max_s:g} s"
        if self.min_ratio:
            t += f" and ≥ {self.min_ratio:g}× naive"
        return t


@dataclass
class Row:
    key: str
    scenario: str
    target: Target
    ours_s: float | None = None
    ours_runs: list = field(default_factory=list)
    baseline_s: float | None = None
    flops: float | None = None
    flops_formula: str = ""
    note: str = ""
    agreement: dict = field(default_factory=dict)
    agrees: bool | None = None
    error: str | None = None
    #: the smallest CPU (process) time of the timed runs: close to ours_s on a quiet machine, smaller when other
    #: processes take the CPU away
    ours_cpu_s: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.ours_s is None or self.baseline_s is None or self.ours_s <= 0:
            return None
        return self.baseline_s / self.ours_s

    @property
    def gflops(self) -> float | None:
        if self.flops is None or not self.ours_s:
            return None
        return self.flops / self.ours_s / 1e9

    @property
    def met(self) -> bool:
        if self.ours_s is None or self.error:
            return False
        ok = self.ours_s <= self.target.max_s
        if self.target.min_ratio is not None:
            ok = ok and self.ratio is not None and self.ratio >= self.target.min_ratio
        return bool(ok and self.agrees is not False)

    def to_json(self) -> dict:
        return {
            "scenario": self.scenario,
            "ours_s": self.ours_s,
            "baseline_s": self.baseline_s,
            "ratio": self.ratio,
            "target": self.target.text(),
            "met": self.met,
            "flops": self.flops,
            "gflops": self.gflops,
            "flops_formula": self.flops_formula,
            "note": self.note,
            "agreement": _jsonable(self.agreement),
            "agrees": self.agrees,
            "ours_runs_s": self.ours_runs,
            "ours_cpu_s": self.ours_cpu_s,
            "error": self.error,
        }


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def time_ours(
    row: Row, fn: Callable[[], object], repeat: int, extra_flops: Callable[[object], float] | None = None
):
    """One warm-up run counting flops, then ``repeat`` timed runs; ours_s is the minimum. Returns the last
    run's result."""
    with FlopCounter() as fc:
        out = fn()
    row.flops = fc.flops + (extra_flops(out) if extra_flops else 0.0)
    runs, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    row.ours_runs = [round(r, 4) for r in runs]
    row.ours_s = min(runs)
    row.ours_cpu_s = min(cpu)
    return out


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def maxabs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


def set_torch_threads(k: int) -> None:
    import torch

    torch.set_num_threads(k)


# --------------------------------------------------------------------------------------------------
# Scenarios: ours + baseline + agreement
# --------------------------------------------------------------------------------------------------


def bench_homotopy(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    p, f = ctx["problem"], ctx["fit"]
    row = Row(
        "homotopy",
        f"homotopy θ(t, ε): {HOMOTOPY_EPS} ε × {HOMOTOPY_STEPS:,} GD steps, {HOMOTOPY_SNAPSHOTS} snapshots",
        Target(0.5, 100),
    )
    row.flops_formula = "41 models × 4,000 steps × 6·P·n (P = 10, n = 20) + the loss evaluations"
    hom = time_ours(row, lambda: ours_homotopy(p, f), repeat)
    # baseline: a Python loop over ε, each a torch SGD run of 4,000 steps with snapshots every 20 steps
    idx = [0, HOMOTOPY_EPS // 2, HOMOTOPY_EPS - 1]
    every = int(np.ceil(HOMOTOPY_STEPS / HOMOTOPY_SNAPSHOTS))
    diffs = []
    t_total = 0.0
    for e in idx:
        w = eps_weights(p.weights(), [J], [hom.eps[e]])[0]
        t, (_, snaps) = timed(
            lambda w=w: bl.gd_train(
                p.model, f.theta0, p.data.x, p.data.y, w, p.config.lr, HOMOTOPY_STEPS, p.kappa, every
            )
        )
        t_total += t
        diffs.append(maxabs(np.stack(snaps), hom.theta[:, e]))
    row.baseline_s = t_total * HOMOTOPY_EPS / len(idx)
    row.note = (
        f"baseline: {len(idx)} of {HOMOTOPY_EPS} ε values timed ({t_total:.2f} s), scaled ×{HOMOTOPY_EPS}/"
        f"{len(idx)}; torch {TORCH_THREADS} threads"
    )
    row.agreement = {"max |Δθ| over all snapshots of the timed ε": max(diffs), "tolerance": 1e-8}
    row.agrees = max(diffs) <= 1e-8
    return row


def bench_eps_path(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    p, f = ctx["problem"], ctx["fit"]
    row = Row("eps_path", f"ε-path by continuation: {PATH_POINTS} points, each ‖∇‖ ≤ 1e-10", Target(0.1))
    row.flops_formula = (
        "counted: Newton corrector (gradient, exact Hessian, solve) + tangent (Hessian, eigh) per point"
    )
    path = time_ours(row, lambda: ours_eps_path(p, f), repeat)
    # baseline: warm-started L-BFGS at each ε (1 → 0), each to tolerance_grad 1e-10; the first PATH_SUBSET
    # points are timed (≈ 0.3 s each) and the time scaled to the whole path
    x, y = p.data.x, p.data.y
    k_sub = PATH_SUBSET

    def naive():
        th = f.theta_hat
        out, gns = [], []
        for e in path.eps[:k_sub]:
            w = eps_weights(p.weights(), [J], [e])[0]
            th, gn = bl.solve_weighted(p.model, th, x, y, w, p.kappa)
            out.append(th)
            gns.append(gn)
        return np.stack(out), np.array(gns)

    t_sub, (th_b, gn_b) = timed(naive)
    row.baseline_s = t_sub * PATH_POINTS / k_sub
    k = min(k_sub, int(path.reached[0]) + 1)
    err = np.max(np.abs(th_b[:k] - path.theta[0, :k]), axis=1)
    # an approximate minimiser with gradient g is within ‖g‖/λ_min of the minimiser: the baseline's own residual
    bound = np.maximum(1e-6, 2 * gn_b[:k] / path.min_eig[0, :k])
    row.note = (
        f"baseline: L-BFGS (strong Wolfe, tolerance_grad 1e-10) warm-started from the previous ε; the first "
        f"{k_sub} of {PATH_POINTS} points (ε 1 → {path.eps[k_sub - 1]:.2f}) timed ({t_sub:.2f} s), scaled "
        f"×{PATH_POINTS}/{k_sub}; L-BFGS stalls at ‖∇‖ ≤ {gn_b.max():.1e} (ours ≤ "
        f"{np.nanmax(path.grad_norm):.1e}); torch {TORCH_THREADS} threads"
    )
    row.agreement = {
        "max |Δθ| over the timed points": float(err.max()),
        "tolerance": "max(1e-6, 2‖∇L(θ_baseline)‖/λ_min(H)) per point",
        "worst err/tolerance": float(np.max(err / bound)),
        "ours max ‖∇‖": float(np.nanmax(path.grad_norm)),
        "baseline max ‖∇‖": float(gn_b.max()),
    }
    row.agrees = bool(np.all(err <= bound) and path.complete[0] and np.nanmax(path.grad_norm) <= 1e-10)
    return row


def bench_deletion(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    p, f = ctx["problem"], ctx["fit"]
    row = Row(
        "deletion",
        "one deletion: every estimate (LOO cold/warm, proximal, PBRF, linear PBRF, IF, "
        "GNH IF, CG IF, Newton) + decomposition",
        Target(0.3),
    )
    row.flops_formula = "counted: 2,000 GD steps + LM solves (Hessian, eigh) + Hessians and solves of the IFs"
    est = time_ours(row, lambda: ours_deletion(p, f), repeat)
    row.baseline_s, (th_b, gn_b, dec_b, s_b) = timed(
        lambda: bl.deletion_estimates(
            p.model,
            p.data.x,
            p.data.y,
            p.kappa,
            f.theta0,
            f.theta_s,
            f.theta_hat,
            J,
            DAMPING,
            p.config.lr,
            p.config.steps,
        )
    )
    solved = ("loo_cold", "loo_warm", "proximal", "pbrf")
    per = {k: maxabs(th_b[k], est.estimates[k].theta) for k in th_b}
    dec = max(abs(dec_b[g] - est.decomposition[g]) for g in dec_b)
    ok = all(per[k] <= (1e-6 if k in solved else 1e-8) for k in per) and dec <= 1e-6
    row.note = (
        f"baseline: SGD loop for the cold LOO, L-BFGS for the 4 converged solves (max ‖∇‖ reached "
        f"{max(gn_b.values()):.1e}), torch.func.hessian / jacrev + torch.linalg.solve, CG(5) in torch; "
        f"torch {TORCH_THREADS} threads"
    )
    row.agreement = {
        "max |Δθ| per estimate": per,
        "max |Δ gap| (function space)": dec,
        "self-influence rel. diff": abs(s_b - est.self_influence) / abs(est.self_influence),
        "tolerance": "1e-6 solved / 1e-8 closed form",
    }
    row.agrees = bool(ok)
    return row


def bench_loo_all(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    p, f = ctx["problem"], ctx["fit"]
    n = p.data.n
    row = Row("loo_all", f"exact LOO for all {n} points, converged ‖∇‖ ≤ 1e-10", Target(1.0, 20))
    row.flops_formula = "20 models × 2,000 steps × 6·P·n + counted LM polish (Hessians, eigh)"
    r = time_ours(row, lambda: ours_loo_all(p, f), repeat)
    js = [0, 5, 10, 15]
    t_total, diffs, gns = 0.0, [], []
    for j in js:
        wm = p.weights().copy()
        wm[j] = 0.0

        def naive(wm=wm):
            th, _ = bl.gd_train(
                p.model, f.theta0, p.data.x, p.data.y, wm, p.config.lr, p.config.steps, p.kappa
            )
            return bl.solve_weighted(p.model, th, p.data.x, p.data.y, wm, p.kappa)

        t, (th, gn) = timed(naive)
        t_total += t
        diffs.append(maxabs(th, r.theta[j]))
        gns.append(gn)
    row.baseline_s = t_total * n / len(js)
    row.note = (
        f"baseline: {len(js)} of {n} points timed ({t_total:.2f} s: 2,000 SGD steps + L-BFGS each, "
        f"‖∇‖ reached ≤ {max(gns):.1e}), scaled ×{n}/{len(js)}; torch {TORCH_THREADS} threads"
    )
    row.agreement = {
        "max |Δθ| over the timed points": max(diffs),
        "tolerance": 1e-6,
        "ours max ‖∇‖": float(np.max(r.grad_norm)),
    }
    row.agrees = bool(max(diffs) <= 1e-6 and np.all(r.converged))
    return row


def bench_shapley(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    p = ctx["problem"]
    n = p.data.n
    row = Row("shapley", f"TMC-Shapley, {SHAPLEY_PERMUTATIONS} permutations, n = {n}", Target(10.0))
    row.flops_formula = "(utility evaluations) × 2,000 steps × 6·P·n + validation predictions"
    validation = teacher_validation(p.data)
    res = time_ours(row, lambda: ours_shapley(p, validation=validation), repeat)
    # baseline: the sequential algorithm trains one torch model per evaluated prefix (no batching, no cache)
    perm = np.random.default_rng(0).permutation(n)
    masks = np.zeros((3, n))
    for k, size in enumerate((5, 10, 15)):
        masks[k, perm[:size]] = 1.0
    Xv = bl._col(validation.x)
    t_total, vals = 0.0, []
    for m in masks:

        def naive(m=m):
            th, _ = bl.gd_train(
                p.model, p.theta0(), p.data.x, p.data.y, m, p.config.lr, p.config.steps, p.kappa
            )
            net = p.model.to_torch_sequential(th)
            import torch

            with torch.no_grad():
                return -float(((net(Xv)[:, 0].numpy() - validation.y) ** 2).mean())

        t, v = timed(naive)
        t_total += t
        vals.append(v)
    models = int(round(res.permutations * n * (1 - res.truncated_fraction))) + 2
    row.baseline_s = t_total / len(masks) * models
    ours_v = drive(training_utility(p, validation)(masks.astype(bool)))
    d = maxabs(vals, ours_v)
    row.note = (
        f"baseline: {len(masks)} utility trainings timed ({t_total / len(masks):.2f} s each), scaled to the "
        f"{models:,} trainings of the sequential algorithm (every non-truncated prefix + V(∅), V(D)); ours "
        f"trained {res.evaluations:,} distinct subsets in batches; torch {TORCH_THREADS} threads"
    )
    row.agreement = {
        "max |ΔV| on the timed subsets": d,
        "tolerance": 1e-8,
        "permutations": res.permutations,
        "truncated fraction": res.truncated_fraction,
    }
    row.agrees = bool(d <= 1e-8 and res.permutations == SHAPLEY_PERMUTATIONS)
    return row


def bench_scale_gd(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    sp = ctx["scale_problem"]
    P, n = sp.model.n_params, sp.data.n
    row = Row(
        "scale_gd", f"scale: n = {n:,}, 1→32→32→1 tanh (d = {P:,}): {sp.config.steps:,} GD steps", Target(3.0)
    )
    row.flops_formula = f"{sp.config.steps:,} steps × 6·P·n = 6·{P}·{n} per step"
    res = time_ours(row, lambda: ours_scale_gd(sp), repeat)
    ctx["scale_theta"] = res.theta[0]
    sub = 200
    times = {}
    th_b = None
    for k in (TORCH_THREADS, 1):
        set_torch_threads(k)
        times[k], (th_b, _) = timed(
            lambda: bl.gd_train(
                sp.model, sp.theta0(), sp.data.x, sp.data.y, sp.weights(), sp.config.lr, sub, sp.kappa
            )
        )
    set_torch_threads(TORCH_THREADS)
    best = min(times.values())
    row.baseline_s = best * sp.config.steps / sub
    ref = ours_scale_gd(sp, steps=sub).theta[0]
    d = maxabs(th_b, ref)
    row.note = (
        f"baseline: {sub} of {sp.config.steps:,} steps timed with torch 2 threads ({times[2]:.2f} s) and 1 "
        f"thread ({times[1]:.2f} s), the faster scaled ×{sp.config.steps // sub}"
    )
    row.agreement = {f"max |Δθ| after {sub} steps": d, "tolerance": 1e-8}
    row.agrees = bool(d <= 1e-8 and not res.diverged.any())
    return row


def bench_scale_if(ctx, repeat: int) -> Row:
    from benchmarks import baselines as bl

    sp = ctx["scale_problem"]
    if "scale_theta" not in ctx:
        ctx["scale_theta"] = ours_scale_gd(sp).theta[0]
    th = ctx["scale_theta"]
    x, y, w, kappa = sp.data.x, sp.data.y, sp.weights(), sp.kappa
    P, n = sp.model.n_params, sp.data.n
    row = Row(
        "scale_if",
        f"scale: IF for all {n:,} points, exact Hessian (d = {P:,}), at θ after the GD steps",
        Target(3.0),
    )
    row.flops_formula = (
        "counted: Hessian (8·P·n·d + 2·n·d² + Jacobian) + factorisations; + 6·d²·n for applying "
        "the eigen-solve and its residual (inline einsums, added by formula)"
    )

    def extra(out):
        _, _, info = out
        return 6.0 * P * P * n if info.method in ("eigh", "pinv") else 2.0 * P * P * n

    delta, s, info = time_ours(row, lambda: ours_influence_all(sp.model, th, x, y, w, kappa), repeat, extra)
    times = {}
    for k in (TORCH_THREADS, 1):
        set_torch_threads(k)
        times[k], (delta_b, s_b) = timed(lambda: bl.influence_all(sp.model, x, y, kappa, th))
    set_torch_threads(TORCH_THREADS)
    row.baseline_s = min(times.values())
    rel = maxabs(delta_b, delta) / float(np.max(np.abs(delta)))
    lam = np.linalg.eigvalsh(sp.model.hessian(th, x, y, w, kappa)[0])
    row.note = (
        f"ours solved by {info.method} (H at θ^s has λ_min = {lam[0]:.2e}: not positive definite after "
        f"2,000 GD steps); baseline torch.func.hessian + torch.linalg.solve, 2 threads {times[2]:.2f} s, "
        f"1 thread {times[1]:.2f} s, the faster kept"
    )
    row.agreement = {
        "max |ΔΔθ| / max |Δθ|": rel,
        "tolerance": 1e-6,
        "self-influence max rel. diff": float(np.max(np.abs(s_b - s) / np.abs(s))),
    }
    row.agrees = bool(rel <= 1e-6)
    return row


# --------------------------------------------------------------------------------------------------
# GUI rows (in-process, offscreen)
# --------------------------------------------------------------------------------------------------

GUI_NOT_MEASURABLE = "not measurable yet"


def bench_gui(ctx, repeat: int) -> list[Row]:
    from benchmarks import gui_bench

    return gui_bench.run(repeat)


# --------------------------------------------------------------------------------------------------
# Reference rate, reporting
# --------------------------------------------------------------------------------------------------

_MATMUL = (
    "import time, numpy as np\n"
    "a = np.random.default_rng(0).standard_normal((2000, 2000)); a @ a\n"
    "ts = []\n"
    "for _ in range(5):\n"
    "    t = time.perf_counter(); a @ a; ts.append(time.perf_counter() - t)\n"
    "print(min(ts))\n"
)


def reference_rates() -> dict[int, float]:
    """GFLOP/s of a 2000×2000 float64 numpy matmul (2·2000³ flops) with 1 and 2 BLAS threads."""
    out = {}
    for k in (1, 2):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(k), OMP_NUM_THREADS=str(k), MKL_NUM_THREADS=str(k))
        res = subprocess.run(
            [sys.executable, "-c", _MATMUL], env=env, capture_output=True, text=True, check=True
        )
        out[k] = 2 * 2000**3 / float(res.stdout.strip()) / 1e9
    return out


def _fmt(v, spec="{:.3f}", none="—"):
    return none if v is None else spec.format(v)


def print_table(rows: list[Row], ref: dict[int, float]) -> None:
    head = f"{'scenario':<58} {'ours_s':>8} {'baseline_s':>11} {'ratio':>8}  {'target':<26} met"
    print(head)
    print("-" * len(head))
    for r in rows:
        name = r.scenario if len(r.scenario) <= 58 else r.scenario[:57] + "…"
        ours = _fmt(r.ours_s, "{:.3f}", "n/a")
        print(
            f"{name:<58} {ours:>8} {_fmt(r.baseline_s, '{:.2f}'):>11} {_fmt(r.ratio, '{:.0f}×'):>8}  "
            f"{r.target.text():<26} {'yes' if r.met else 'NO'}"
        )
    print()
    print(
        f"work and rate (reference: 2000×2000 float64 matmul {ref[1]:.1f} GFLOP/s with 1 BLAS thread, "
        f"{ref[2]:.1f} GFLOP/s with 2)"
    )
    print(f"{'scenario':<12} {'flops':>10} {'GFLOP/s':>9} {'% of 1-thread peak':>19}  formula")
    for r in rows:
        if r.flops is None:
            continue
        pct = 100 * r.gflops / ref[1] if r.gflops else None
        print(
            f"{r.key:<12} {r.flops:>10.3g} {_fmt(r.gflops, '{:.3f}'):>9} {_fmt(pct, '{:.2f}%'):>19}  "
            f"{r.flops_formula}"
        )
    print()
    print("agreement and notes")
    for r in rows:
        status = {True: "agree", False: "DISAGREE", None: "n/a"}[r.agrees]
        print(f"- {r.key} [{status}] {json.dumps(_jsonable(r.agreement), ensure_ascii=False, default=str)}")
        if r.ours_runs:
            cpu = f"; min CPU (process) time {r.ours_cpu_s:.3f} s" if r.ours_cpu_s is not None else ""
            print(f"    ours runs (s): {r.ours_runs}{cpu}")
        if r.note:
            print(f"    {r.note}")
        if r.error:
            print(f"    ERROR: {r.error}")


CORE = {
    "homotopy": bench_homotopy,
    "eps_path": bench_eps_path,
    "deletion": bench_deletion,
    "loo_all": bench_loo_all,
    "shapley": bench_shapley,
    "scale_gd": bench_scale_gd,
    "scale_if": bench_scale_if,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(CORE)}, gui")
    ap.add_argument("--no-gui", action="store_true", help="skip the two GUI rows")
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed runs of ours per scenario (the minimum counts)"
    )
    ap.add_argument("--json", default=str(RESULTS), help="where to write the results (default %(default)s)")
    args = ap.parse_args(argv)
    selected = [s for s in args.only.split(",") if s] or [*CORE, "gui"]
    if args.no_gui and "gui" in selected:
        selected.remove("gui")
    unknown = [s for s in selected if s not in CORE and s != "gui"]
    if unknown:
        ap.error(f"unknown scenario(s) {unknown}")

    import torch

    set_torch_threads(TORCH_THREADS)
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    print("Influence Lab benchmarks")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"
    )
    print(
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} (ours), torch threads {TORCH_THREADS} "
        f"(baselines), ours = min of {args.repeat} runs after a warm-up"
    )
    print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    if load0[0] > 1.0:
        print(
            f"WARNING: the machine is busy (load {load0[0]:.1f} on {os.cpu_count()} CPUs): every time is inflated"
        )
    ref = reference_rates()
    print(
        f"reference 2000×2000 float64 matmul: {ref[1]:.1f} GFLOP/s (1 thread), {ref[2]:.1f} GFLOP/s (2 threads)"
    )
    print()

    ctx: dict = {}
    p = default_problem()
    ctx["problem"] = p
    ctx["fit"] = fit(p)
    if any(s.startswith("scale") for s in selected):
        ctx["scale_problem"] = scale_problem()
    rows: list[Row] = []
    for key in selected:
        if key == "gui":
            continue
        t = time.perf_counter()
        try:
            row = CORE[key](ctx, args.repeat)
        except Exception as exc:  # a broken scenario is reported, the others still run
            import traceback

            traceback.print_exc()
            row = Row(key, key, Target(0.0), error=f"{type(exc).__name__}: {exc}")
        rows.append(row)
        print(
            f"  {key}: ours {_fmt(row.ours_s)} s, baseline {_fmt(row.baseline_s, '{:.2f}')} s "
            f"({time.perf_counter() - t:.1f} s wall)",
            flush=True,
        )
    if "gui" in selected:
        t = time.perf_counter()
        rows += bench_gui(ctx, args.repeat)
        print(f"  gui: ({time.perf_counter() - t:.1f} s wall)", flush=True)
    load1 = os.getloadavg()
    print()
    print_table(rows, ref)
    total = time.perf_counter() - t_start
    print()
    print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; total run time {total:.1f} s")
    met = sum(r.met for r in rows)
    print(f"targets met: {met} of {len(rows)}")
    machine = {
        "cpus": os.cpu_count(),
        "load_average_start": [round(v, 2) for v in load0],
        "load_average_end": [round(v, 2) for v in load1],
        "reference_matmul_gflops": {f"{k}_thread": round(v, 2) for k, v in ref.items()},
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "torch_threads": TORCH_THREADS,
        "total_run_s": round(total, 1),
    }
    doc = [{**r.to_json(), "machine": machine} for r in rows]
    atomic_write_text(args.json, json.dumps(_jsonable(doc), indent=2, ensure_ascii=False) + "\n")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
