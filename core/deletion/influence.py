"""Influence estimates of deleting a training point (docs/science.md §2–3), and the iHVP solvers behind them.

Conventions (docs/science.md §1): ℓ_i(θ) = ½ (f(θ; x_i) − y_i)², L_w(θ) = (1/n) Σ_i w_i ℓ_i(θ) + (κ/2)‖θ‖²,
H = ∇²L_w(θ̂) (exact), G = (1/n) Σ_i w_i ∇f_i ∇f_iᵀ + κI (the Gauss–Newton Hessian, κ included), λ ≥ 0 damping.
Deleting z_j sets w_j = 0; with the default weights w = 1 every formula below is exactly docs/science.md §3. With
general weights the deletion removes w_j ℓ_j / n, so each (1/n) in §3 becomes w_j / n — the same formulas,
written for the weight actually removed (with w_j = 1 they coincide).

Estimates of the model without z_j, centred at θ̂ (docs/science.md §3):
- influence function        Δθ_IF  = (w_j/n) H⁻¹ g_j,           θ_IF  = θ̂ + Δθ_IF   (= θ̂ − w_j θ'(w_j)),
- damped GNH influence      Δθ_GNH = (w_j/n) (G + λI)⁻¹ g_j,    θ_GNH = θ̂ + Δθ_GNH,
- Newton (Koh et al. 2019)  θ_Nt   = θ̂ − (∇²L_{−j}(θ̂))⁻¹ ∇L_{−j}(θ̂)  (no stationarity assumed),
- self-influence s_j = g_jᵀ H⁻¹ g_j and the predicted change of ℓ_j on deletion g_jᵀ Δθ_IF = (w_j/n) s_j,
with g_j = ∇ℓ_j(θ̂). The ε-path tangent (§2) is θ'(ε) = −(∇²L_{w(ε)}(θ))⁻¹ ∇ℓ_j(θ) / n, w(ε) = w with w_j = ε.

Solvers for A x = v (A = H + λI or G + λI), each returning the solution and a :class:`SolveInfo`:
:func:`solve_direct` (Cholesky when A is positive definite, else an eigendecomposition; pseudo-inverse on
request or when A is singular), :func:`solve_cg` (conjugate gradient under an iteration budget) and
:func:`solve_lissa` (v_{k+1} = v + (I − A/s) v_k, v_0 = v, result v_K / s). Everything is float64 numpy,
batched where it helps: matrices (..., d, d), right-hand sides (..., d).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.model import Model, _as_batch, _weights

#: A symmetric matrix counts as positive definite when λ_min > PD_RTOL · max(1, |λ_max|).
PD_RTOL = 1e-12
#: Eigenvalues with |λ| ≤ PINV_RCOND · max|λ| are treated as zero by the pseudo-inverse.
PINV_RCOND = 1e-12
#: Default iterative-solver budgets: CG iterations, LiSSA recursion depth.
DEFAULT_BUDGET = {"cg": 5, "lissa": 100}
#: LiSSA's default scale s = LISSA_SCALE_FACTOR × the top eigenvalue of A.
LISSA_SCALE_FACTOR = 1.1
SOLVERS = ("direct", "cg", "lissa")
#: Above this ‖∇L(θ̂)‖ the IF's stationarity assumption is reported as violated.
STATIONARY_TOL = 1e-8


def fmt_num(v: float) -> str:
    """Compact scientific notation for messages: −3.2e-4 → '-3.2e-4'."""
    if not np.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    mant, exp = f"{v:.1e}".split("e")
    return f"{mant}e{int(exp)}"


# --------------------------------------------------------------------------------------------------
# Positive-definiteness check
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HessianCheck:
    """Eigenvalue summary of a symmetric matrix (docs/science.md §3: 'needs H positive definite; say so')."""

    eigenvalues: np.ndarray  # (d,) ascending
    min_eigenvalue: float
    max_eigenvalue: float
    positive_definite: bool
    message: str

    @property
    def condition_number(self) -> float:
        return self.max_eigenvalue / self.min_eigenvalue if self.positive_definite else float("inf")


def hessian_check(
    H: np.ndarray, name: str = "H", eigenvalues: np.ndarray | None = None, consequence: str | None = None
) -> HessianCheck:
    """Eigenvalues of the symmetric (d, d) matrix H and whether it is positive definite.

    Positive definite means λ_min > PD_RTOL · max(1, |λ_max|). When it is not, the message says that the
    influence function (docs/science.md §3, which needs H⁻¹ of a positive-definite H) is undefined there and how to
    proceed, e.g. "H is not positive definite (smallest eigenvalue -3.2e-4): the influence function is
    undefined here; use damping λ > 3.2e-4 or the pseudo-inverse". ``consequence`` replaces the text after the
    colon (e.g. for the Newton estimate's ∇²L_{−j}). ``eigenvalues`` (ascending) skips the eigendecomposition.
    """
    lam = np.linalg.eigvalsh(np.asarray(H, dtype=np.float64)) if eigenvalues is None else eigenvalues
    lo, hi = float(lam[0]), float(lam[-1])
    pd = bool(np.isfinite(lam).all() and lo > PD_RTOL * max(1.0, abs(hi)))
    if pd:
        msg = f"{name} is positive definite (smallest eigenvalue {fmt_num(lo)}, condition number {fmt_num(hi / lo)})"
    else:
        consequence = consequence or (
            f"the influence function is undefined here; use damping λ > {fmt_num(max(-lo, 0.0))} or the pseudo-inverse"
        )
        msg = f"{name} is not positive definite (smallest eigenvalue {fmt_num(lo)}): {consequence}"
    return HessianCheck(lam, lo, hi, pd, msg)


# --------------------------------------------------------------------------------------------------
# iHVP solvers
# --------------------------------------------------------------------------------------------------


@dataclass
class SolveInfo:
    """How a linear solve A x = v went. Arrays have the right-hand sides' batch shape."""

    method: str  # "cholesky", "eigh", "pinv", "cg" or "lissa"
    iterations: np.ndarray | int  # iterations used (0 for direct solves)
    residual: np.ndarray  # ‖A x − v‖
    budget: int | None = None  # iteration budget (CG max_iter, LiSSA depth); None for direct solves
    converged: np.ndarray | bool = True
    scale: float | np.ndarray | None = None  # LiSSA's s
    message: str = ""
    #: the method itself failed (CG met non-positive curvature, LiSSA's series diverges) — not merely a
    #: budget used up before the tolerance
    failed: bool = False


def _matvec(A, x):
    """A x for A (..., d, d) and x (..., d) with broadcasting; BLAS products (an einsum here is ~2× slower
    on the d = 1,153 scale benchmark)."""
    if A.ndim == 2:
        return x @ A.T
    return (A @ x[..., None])[..., 0]


def _residual(A, x, v):
    return np.linalg.norm(_matvec(A, x) - v, axis=-1)


def _eig_solve(lam, Q, v, pinv: bool, rcond: float):
    """x = Q diag(1/λ) Qᵀ v, with 1/λ → 0 where |λ| ≤ rcond·max|λ| if pinv."""
    inv = np.zeros_like(lam)
    if pinv:
        keep = np.abs(lam) > rcond * np.max(np.abs(lam), axis=-1, keepdims=True)
        inv[keep] = 1.0 / lam[keep]
    else:
        inv = 1.0 / lam
    if Q.ndim == 2:  # one factorisation, many right-hand sides: two matrix products
        return ((v @ Q) * inv) @ Q.T
    qv = (np.swapaxes(Q, -1, -2) @ v[..., None])[..., 0]
    return (Q @ (qv * inv)[..., None])[..., 0]


def solve_direct(A, v, pinv: bool = False, rcond: float = PINV_RCOND):
    """Solve A x = v exactly (docs/science.md §3 'direct'): Cholesky when A is positive definite, otherwise
    A⁻¹v = Q diag(1/λ) Qᵀ v from the eigendecomposition A = Q diag(λ) Qᵀ; with ``pinv`` (or when A is
    singular, |λ| ≤ rcond·max|λ|) the Moore–Penrose pseudo-inverse A⁺v (1/λ → 0 on the null space).

    A is (..., d, d) symmetric, v is (..., d); the batch axes broadcast. Returns (x, SolveInfo).
    """
    A = np.asarray(A, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if not pinv:
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            L = None
        if L is not None:
            if A.ndim == 2:  # one matrix, many right-hand sides: solve them as columns
                flat = v.reshape(-1, v.shape[-1]).T
                x = np.linalg.solve(L.T, np.linalg.solve(L, flat)).T.reshape(v.shape)
            else:
                shape = np.broadcast_shapes(A.shape[:-2], v.shape[:-1])
                Lb = np.broadcast_to(L, (*shape, *L.shape[-2:]))
                vb = np.broadcast_to(v, (*shape, v.shape[-1]))[..., None]
                x = np.linalg.solve(np.swapaxes(Lb, -1, -2), np.linalg.solve(Lb, vb))[..., 0]
            if np.isfinite(x).all():
                return x, SolveInfo("cholesky", 0, _residual(A, x, v))
    lam, Q = np.linalg.eigh(A)
    singular = np.abs(lam).min(axis=-1) <= rcond * np.abs(lam).max(axis=-1)
    use_pinv = pinv or bool(np.any(singular))
    x = _eig_solve(lam, Q, v, use_pinv, rcond)
    msg = ""
    if use_pinv and not pinv:
        msg = "the matrix is singular; used the pseudo-inverse"
    return x, SolveInfo("pinv" if use_pinv else "eigh", 0, _residual(A, x, v), message=msg)


def solve_cg(A, v, tol: float = 1e-12, max_iter: int | None = None, x0=None):
    """Conjugate gradient for A x = v (docs/science.md §3), batched over right-hand sides.

    Standard CG from x_0 (default 0): r = v − A x, p = r; α = rᵀr / pᵀAp, x += α p, r −= α A p,
    β = r_newᵀ r_new / rᵀr, p = r + β p. Stops per system when ‖r‖ ≤ tol·‖v‖ or after ``max_iter``
    iterations (the budget; default d, where exact arithmetic would finish). CG needs A positive definite;
    if pᵀAp ≤ 0 it stops that system and says so. Returns (x, SolveInfo) with per-system iterations and
    residual ‖A x − v‖.
    """
    A = np.asarray(A, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    d = v.shape[-1]
    shape = np.broadcast_shapes(A.shape[:-2], v.shape[:-1])
    vb = np.broadcast_to(v, (*shape, d)).reshape(-1, d)
    Ab = np.broadcast_to(A, (*shape, d, d)).reshape(-1, d, d)
    budget = d if max_iter is None else int(max_iter)
    if budget < 0:
        raise ValueError(f"CG budget must be ≥ 0 iterations, got {budget}")
    x = np.zeros_like(vb) if x0 is None else np.array(np.broadcast_to(x0, vb.shape), dtype=np.float64)
    r = vb - _matvec(Ab, x)
    p = r.copy()
    rr = np.einsum("bi,bi->b", r, r)
    target = tol * np.linalg.norm(vb, axis=1)
    iters = np.zeros(len(vb), dtype=int)
    done = np.sqrt(rr) <= target
    breakdown = np.zeros(len(vb), dtype=bool)
    for _ in range(budget):
        act = ~done
        if not act.any():
            break
        Ap = _matvec(Ab[act], p[act])
        pAp = np.einsum("bi,bi->b", p[act], Ap)
        bad = ~(pAp > 0)
        idx = np.flatnonzero(act)
        breakdown[idx[bad]] = True
        done[idx[bad]] = True
        ok = ~bad
        idx, Ap, pAp = idx[ok], Ap[ok], pAp[ok]
        alpha = rr[idx] / pAp
        x[idx] += alpha[:, None] * p[idx]
        r[idx] -= alpha[:, None] * Ap
        rr_new = np.einsum("bi,bi->b", r[idx], r[idx])
        p[idx] = r[idx] + (rr_new / rr[idx])[:, None] * p[idx]
        rr[idx] = rr_new
        iters[idx] += 1
        done[idx] |= np.sqrt(rr_new) <= target[idx]
    res = _residual(Ab, x, vb)
    converged = (res <= np.maximum(target, 0)) & ~breakdown
    msg = ""
    if breakdown.any():
        msg = "CG met a direction of non-positive curvature (pᵀAp ≤ 0): A is not positive definite"
    elif not converged.all():
        msg = f"CG used its budget of {budget} iterations before reaching ‖r‖ ≤ {tol:g}‖v‖"
    return x.reshape(*shape, d), SolveInfo(
        "cg",
        iters.reshape(shape),
        res.reshape(shape),
        budget,
        converged.reshape(shape),
        message=msg,
        failed=bool(breakdown.any()),
    )


def solve_lissa(A, v, scale: float | None = None, depth: int = DEFAULT_BUDGET["lissa"]):
    """LiSSA for A x = v (docs/science.md §3): v_0 = v, v_{k+1} = v + (I − A/s) v_k, result v_K / s (K = depth).

    v_K / s = (1/s) Σ_{i=0}^{K} (I − A/s)^i v, the truncated Neumann series of (A/s)⁻¹; its error is
    −(I − A/s)^{K+1} A⁻¹ v. The contract requires the scale s to exceed the top eigenvalue of A (this is
    checked, ValueError otherwise); the default is s = 1.1 λ_max(A). The series then converges iff A is
    positive definite, which is reported (converged False and a message) when it is not. A is (..., d, d),
    v (..., d); a scalar s applies to all systems, an array s per system.
    """
    A = np.asarray(A, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    depth = int(depth)
    if depth < 0:
        raise ValueError(f"LiSSA depth must be ≥ 0, got {depth}")
    lam = np.linalg.eigvalsh(A)
    top, bottom = lam[..., -1], lam[..., 0]
    if scale is None:
        s = LISSA_SCALE_FACTOR * np.maximum(top, np.finfo(float).tiny)
    else:
        s = np.asarray(scale, dtype=np.float64)
        if np.any(~(s > top)):
            raise ValueError(
                f"LiSSA scale s = {fmt_num(float(np.min(s)))} must exceed the top eigenvalue of A "
                f"({fmt_num(float(np.max(top)))}); otherwise the recursion v ← v + (I − A/s) v diverges"
            )
    s_b = np.asarray(s)[..., None]
    vk = np.array(np.broadcast_to(v, np.broadcast_shapes(v.shape, A.shape[:-1])), dtype=np.float64)
    for _ in range(depth):
        vk = v + vk - _matvec(A, vk) / s_b
    x = vk / s_b
    res = _residual(A, x, v)
    pd = bottom > 0
    converged = np.broadcast_to(pd, res.shape) & np.isfinite(res)
    msg = ""
    if not np.all(pd):
        msg = (
            f"A is not positive definite (smallest eigenvalue {fmt_num(float(np.min(bottom)))}): "
            "the LiSSA series diverges"
        )
    return x, SolveInfo("lissa", depth, res, depth, converged, scale=s, message=msg, failed=not np.all(pd))


def iterative_solve(A, v, solver: str = "cg", budget: int | None = None, lissa_scale: float | None = None):
    """Dispatch to :func:`solve_cg` (budget = max iterations, tol 1e-12) or :func:`solve_lissa`
    (budget = depth); 'direct' means :func:`solve_direct` (the budget is ignored)."""
    if solver == "direct":
        return solve_direct(A, v)
    if solver == "cg":
        return solve_cg(A, v, tol=1e-12, max_iter=DEFAULT_BUDGET["cg"] if budget is None else budget)
    if solver == "lissa":
        return solve_lissa(
            A, v, scale=lissa_scale, depth=DEFAULT_BUDGET["lissa"] if budget is None else budget
        )
    raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")


# --------------------------------------------------------------------------------------------------
# Influence estimates
# --------------------------------------------------------------------------------------------------


def _indices(j, n: int) -> tuple[np.ndarray, bool]:
    scalar = np.ndim(j) == 0
    js = np.atleast_1d(np.asarray(j))
    if js.size == 0 or not np.issubdtype(js.dtype, np.integer):
        raise ValueError(f"the deleted point must be an integer index (or indices) in 0..{n - 1}, got {j!r}")
    if (js < 0).any() or (js >= n).any():
        raise ValueError(f"deleted point index out of range 0..{n - 1}: {j!r}")
    return js.astype(int), scalar


def deletion_weights(w, n: int, js) -> np.ndarray:
    """(m, n) weights, row k = w with w_{js[k]} = 0 (L_{−j} of docs/science.md §3)."""
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    W = np.array(np.broadcast_to(w, (len(js), n)), dtype=np.float64)
    W[np.arange(len(js)), js] = 0.0
    return W


def _loss_hessians(model: Model, theta: np.ndarray, x, y, js) -> np.ndarray:
    """∇²ℓ_j(θ) = ∇f_j∇f_jᵀ + r_j ∇²f_j for each j in js; (m, d, d)."""
    m = len(js)
    thetas = np.broadcast_to(theta, (m, theta.shape[-1]))
    xj, yj = np.asarray(x)[js], np.asarray(y)[js]
    # one input per model: evaluate at all the js and weight the k-th model's k-th input only
    onehot = np.eye(m)
    J = model.jacobian(thetas, xj)  # (m, m, d)
    r = model.predict(thetas, xj) - yj  # (m, m)
    Jk = J[np.arange(m), np.arange(m)]  # (m, d)
    return np.einsum("bi,bj->bij", Jk, Jk) + model.output_hessian_sum(thetas, xj, onehot * r)


@dataclass
class InfluenceEstimates:
    """Influence estimates of deleting z_j at θ (docs/science.md §3). Per-j fields carry a leading axis of
    length m when several js were asked for, none for a single j. θ_* = θ + Δθ_*."""

    j: int | np.ndarray
    theta: np.ndarray  # (d,) the centre, θ̂
    damping: float
    n: int
    g: np.ndarray  # g_j = ∇ℓ_j(θ̂), (d,) / (m, d)
    H: np.ndarray  # (d, d) exact Hessian ∇²L_w(θ̂)
    G: np.ndarray  # (d, d) GNH (1/n) Σ w_i ∇f_i∇f_iᵀ + κI at θ̂ (undamped; λ is added in the solve)
    hessian: HessianCheck  # of H
    if_method: str  # how H⁻¹ was applied: "cholesky", "eigh", "pinv" or "damped" (H + λI)
    if_valid: bool  # H positive definite, so Δθ_IF is the influence function proper
    delta_if: np.ndarray
    theta_if: np.ndarray
    delta_gnh: np.ndarray  # direct solve
    theta_gnh: np.ndarray
    delta_gnh_solver: np.ndarray  # with the iterative solver under its budget
    theta_gnh_solver: np.ndarray
    solver_info: SolveInfo
    theta_newton: np.ndarray
    newton_hessian: list[HessianCheck]  # of ∇²L_{−j}(θ̂), one per j
    self_influence: float | np.ndarray  # s_j = g_jᵀ H⁻¹ g_j
    predicted_loss_change: float | np.ndarray  # (w_j/n) s_j = g_jᵀ Δθ_IF
    warnings: list[str] = field(default_factory=list)


def influence_estimates(
    model: Model,
    theta_hat,
    x,
    y,
    w,
    kappa: float,
    j,
    damping: float,
    solver: str = "cg",
    solver_budget: int | None = None,
    lissa_scale: float | None = None,
    if_fallback: str = "pinv",
) -> InfluenceEstimates:
    """Every influence estimate of deleting z_j at θ̂ (docs/science.md §3), for one j or an array of js.

    - Δθ_IF = (w_j/n) H⁻¹ g_j with H = ∇²L_w(θ̂) exact and g_j = ∇ℓ_j(θ̂). When H is not positive definite
      (:func:`hessian_check`) the estimate is still returned, with ``if_valid`` False and a warning carrying the
      smallest eigenvalue: computed with the pseudo-inverse H⁺ (``if_fallback="pinv"``; for a nonsingular
      indefinite H that is H⁻¹) or with H + λI (``if_fallback="damped"``, when that is positive definite).
    - Δθ_GNH = (w_j/n)(G + λI)⁻¹ g_j (direct solve) and the same with ``solver`` ('cg' or 'lissa') under
      ``solver_budget`` (CG iterations / LiSSA depth, defaults :data:`DEFAULT_BUDGET`).
    - θ_Nt = θ̂ − (∇²L_{−j}(θ̂))⁻¹ ∇L_{−j}(θ̂) (Koh et al. 2019), exact solve (pseudo-inverse if singular).
    - s_j = g_jᵀ H⁻¹ g_j and the predicted loss change g_jᵀ Δθ_IF = (w_j/n) s_j (= s_j/n for w_j = 1).
    One factorisation of H and of G + λI serves all js.
    """
    if damping < 0 or not np.isfinite(damping):
        raise ValueError(f"damping λ must be ≥ 0, got {damping}")
    if if_fallback not in ("pinv", "damped"):
        raise ValueError("if_fallback must be 'pinv' or 'damped'")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    js, scalar = _indices(j, n)
    theta = np.asarray(theta_hat, dtype=np.float64).reshape(-1)
    d = theta.size
    wv = _weights(w, 1, n)[0]
    coef = wv[js] / n  # weight removed by the deletion, per j
    warnings: list[str] = []

    g = model.per_example_grads(theta, x[js], y[js])[0]  # (m, d)
    grad_norm = float(np.linalg.norm(model.loss_and_grad(theta, x, y, wv, kappa)[1][0]))
    if grad_norm > STATIONARY_TOL:
        warnings.append(
            f"θ̂ is not stationary (‖∇L‖ = {fmt_num(grad_norm)}): the influence function assumes a minimum; "
            "the Newton estimate accounts for the gradient"
        )
    H = model.hessian(theta, x, y, wv, kappa)[0]
    G = model.gnh(theta, x, wv, kappa)[0]
    lam, Q = np.linalg.eigh(H)
    check = hessian_check(H, eigenvalues=lam)

    # H⁻¹ g_j for every j through one factorisation
    if check.positive_definite:
        Hinv_g, info = solve_direct(H, g)
        if_method = info.method
    else:
        warnings.append(check.message)
        Hd_check = hessian_check(H + damping * np.eye(d), name="H + λI") if damping > 0 else None
        if if_fallback == "damped" and Hd_check is not None and Hd_check.positive_definite:
            Hinv_g, _ = solve_direct(H + damping * np.eye(d), g)
            if_method = "damped"
            warnings.append(f"the exact-Hessian IF shown uses H + λI with λ = {fmt_num(damping)}")
        else:
            Hinv_g = _eig_solve(lam, Q, g, pinv=True, rcond=PINV_RCOND)
            if_method = "pinv"
            warnings.append("the exact-Hessian IF shown uses the pseudo-inverse H⁺")
    delta_if = coef[:, None] * Hinv_g
    s = np.einsum("bi,bi->b", g, Hinv_g)

    A = G + damping * np.eye(d)
    Ainv_g, _ = solve_direct(A, g)
    delta_gnh = coef[:, None] * Ainv_g
    it_sol, sinfo = iterative_solve(A, g, solver, solver_budget, lissa_scale)
    delta_gnh_solver = coef[:, None] * it_sol
    if sinfo.failed:
        warnings.append(f"{solver} at θ̂: {sinfo.message}")

    theta_newton, newton_checks = newton_estimate(model, theta, x, y, wv, kappa, js, H=H)
    for jj, c in zip(js, newton_checks, strict=True):
        if not c.positive_definite:
            warnings.append(f"Newton estimate (j = {jj}): " + c.message)

    def pick(a):
        return a[0] if scalar else a

    return InfluenceEstimates(
        j=int(js[0]) if scalar else js,
        theta=theta,
        damping=float(damping),
        n=n,
        g=pick(g),
        H=H,
        G=G,
        hessian=check,
        if_method=if_method,
        if_valid=check.positive_definite,
        delta_if=pick(delta_if),
        theta_if=pick(theta + delta_if),
        delta_gnh=pick(delta_gnh),
        theta_gnh=pick(theta + delta_gnh),
        delta_gnh_solver=pick(delta_gnh_solver),
        theta_gnh_solver=pick(theta + delta_gnh_solver),
        solver_info=sinfo,
        theta_newton=pick(theta_newton),
        newton_hessian=newton_checks,
        self_influence=float(s[0]) if scalar else s,
        predicted_loss_change=float(coef[0] * s[0]) if scalar else coef * s,
        warnings=warnings,
    )


def gnh_influence(
    model: Model,
    theta,
    x,
    y,
    w,
    kappa: float,
    js,
    damping: float,
    solver: str = "cg",
    solver_budget: int | None = None,
    lissa_scale: float | None = None,
):
    """Δθ_GNH = (w_j/n)(G + λI)⁻¹ g_j at θ for each j in js (docs/science.md §3), G = (1/n) Σ w_i ∇f_i∇f_iᵀ + κI
    and g_j = ∇ℓ_j at the same θ: by the direct solve and by the iterative ``solver`` under its budget.

    At θ = θ^s this is the linearised PBRF (Bae et al. 2022: the PBRF's first-order expansion in ε around
    θ^s) and its practical (iterative) version. Returns (delta_direct (m, d), delta_solver (m, d), SolveInfo).
    """
    if damping < 0 or not np.isfinite(damping):
        raise ValueError(f"damping λ must be ≥ 0, got {damping}")
    x = np.asarray(x, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    js = np.atleast_1d(np.asarray(js, dtype=int))
    wv = _weights(w, 1, n)[0]
    coef = wv[js] / n
    g = model.per_example_grads(theta, x[js], np.asarray(y, dtype=np.float64)[js])[0]
    A = model.gnh(theta, x, wv, kappa)[0] + damping * np.eye(theta.size)
    direct, _ = solve_direct(A, g)
    it, info = iterative_solve(A, g, solver, solver_budget, lissa_scale)
    return coef[:, None] * direct, coef[:, None] * it, info


def newton_estimate(model: Model, theta, x, y, w, kappa: float, js, H: np.ndarray | None = None):
    """θ_Nt = θ − (∇²L_{−j}(θ))⁻¹ ∇L_{−j}(θ) for each j in js (Koh et al. 2019; docs/science.md §3).

    ∇²L_{−j} = H − (w_j/n)∇²ℓ_j and ∇L_{−j} = ∇L_w − (w_j/n)∇ℓ_j, both exact; no stationarity of θ is
    assumed (at a stationary θ̂ this is θ̂ + (H − ∇²ℓ_j/n)⁻¹ g_j/n). Solved exactly (Cholesky, else
    eigendecomposition; pseudo-inverse if singular). Returns (θ_Nt (m, d), [HessianCheck of ∇²L_{−j}]).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    js = np.atleast_1d(np.asarray(js, dtype=int))
    wv = _weights(w, 1, n)[0]
    coef = wv[js] / n
    if H is None:
        H = model.hessian(theta, x, y, wv, kappa)[0]
    _, gradL = model.loss_and_grad(theta, x, y, wv, kappa)
    gj = model.per_example_grads(theta, x[js], y[js])[0]
    H_minus = H[None] - coef[:, None, None] * _loss_hessians(model, theta, x, y, js)
    grad_minus = gradL - coef[:, None] * gj
    lam = np.linalg.eigvalsh(H_minus)
    why = "the Newton step solves the quadratic model's stationarity condition but does not minimise it"
    checks = [hessian_check(Hm, "∇²L_{−j}(θ̂)", lm, why) for Hm, lm in zip(H_minus, lam, strict=True)]
    step, _ = solve_direct(H_minus, grad_minus)
    return theta[None] - step, checks


def self_influence_all(model: Model, theta, x, y, w, kappa: float, damping: float = 0.0):
    """s_i = g_iᵀ (H + λI)⁻¹ g_i for every training point at once (docs/science.md §3): diag(Γᵀ (H + λI)⁻¹ Γ) with
    Γ = [g_1 … g_n] the per-example gradients, through one factorisation (pseudo-inverse if the matrix is not
    positive definite). Returns (s (n,), HessianCheck of H + λI)."""
    x = np.asarray(x, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    n = x.shape[0]
    wv = _weights(w, 1, n)[0]
    grads = model.per_example_grads(theta, x, y)[0]
    A = model.hessian(theta, x, y, wv, kappa)[0] + damping * np.eye(theta.size)
    lam, Q = np.linalg.eigh(A)
    check = hessian_check(A, name="H" if damping == 0 else "H + λI", eigenvalues=lam)
    sol = (
        solve_direct(A, grads)[0] if check.positive_definite else _eig_solve(lam, Q, grads, True, PINV_RCOND)
    )
    return np.einsum("ni,ni->n", grads, sol), check


def tangent(model: Model, theta, x, y, w, kappa: float, j: int, eps) -> np.ndarray:
    """The ε-path tangent θ'(ε) = −(∇²L_{w(ε)}(θ))⁻¹ w_j ∇ℓ_j(θ) / n (docs/science.md §2) at any θ and ε.

    theta (d,) or (B, d), eps scalar or (B,); returns (d,) or (B, d). One implementation with the ε-path:
    ``core.deletion.eps_path.eps_tangent`` (where ε scales the point's own weight, w_j(ε) = ε·w_j; with w_j = 1 this is
    docs/science.md's w_j = ε). At ε = 1 on a stationary θ̂ this is −Δθ_IF; at ε = 0 the notes'
    θ̇(0) = −H_{R_j}⁻¹ ∇ℓ_j(θ*_{−j}) / n.
    """
    from core.deletion.eps_path import eps_tangent

    theta = np.asarray(theta, dtype=np.float64)
    single = theta.ndim == 1
    th = _as_batch(theta)
    n = np.shape(x)[0]
    base_w = _weights(w, 1, n)[0]
    out, _ = eps_tangent(
        model, th, np.asarray(x, float), np.asarray(y, float), base_w, kappa, np.full(th.shape[0], j), eps
    )
    return out[0] if single else out


def predicted_query_loss_change(model: Model, theta, x_q, y_q, delta_theta) -> np.ndarray:
    """Predicted change of a query point's loss, Δℓ_q ≈ ∇ℓ_q(θ̂)ᵀ Δθ (docs/science.md §3).

    x_q, y_q: (m,) query points; delta_theta (d,) or (k, d). Returns (m,) or (k, m)."""
    x_q = np.atleast_1d(np.asarray(x_q, dtype=np.float64))
    y_q = np.atleast_1d(np.asarray(y_q, dtype=np.float64))
    gq = model.per_example_grads(np.asarray(theta, dtype=np.float64).reshape(-1), x_q, y_q)[0]  # (m, d)
    return np.asarray(delta_theta, dtype=np.float64) @ gq.T
