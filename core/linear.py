"""Linear models — the exact cases (docs/science.md §6), the Jacobian leverage of an MLP (§6) and the
closed-form linear gradient flow (§4, notes eq. 0.10).

Pure float64 numpy. Conventions (docs/science.md §1):

- Design matrix X ∈ R^{n×p} (row i is φ(x_i)ᵀ), model f(θ; x_i) = x_iᵀθ, residual e = y − Xθ̂
  (note: e_i = y_i − f_i, the opposite sign of the r_i = f_i − y_i used in core/model.py).
- L_w(θ) = (1/n) Σ_i w_i ½ (x_iᵀθ − y_i)² + (κ/2)‖θ‖², n the number of rows *including* deleted ones.
  Its gradient is (1/n) Xᵀ W (Xθ − y) + κθ, so its minimiser solves (XᵀWX + nκI) θ = XᵀWy.
- A = XᵀX + nκI is "XᵀX" of the OLS formulas under the ridge substitution XᵀX → XᵀX + nκI (§6); the
  exact Hessian of L is H = A/n and the per-point gradient is g_j = ∇ℓ_j(θ̂) = −x_j e_j.

Deleting point j keeps the 1/n (§1): L_{−j}(θ) = (1/n) Σ_{i≠j} ½ r_i² + (κ/2)‖θ‖², whose normal equations are
(A − x_j x_jᵀ) θ = Xᵀy − x_j y_j. Sherman–Morrison with that A gives, for OLS and ridge alike,
θ̂ − θ̂_{(−j)} = A⁻¹ x_j e_j / (1 − h_jj),  h_jj = x_jᵀ A⁻¹ x_j.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: 1 − h_ii at or below this counts as h_ii = 1: the point alone determines a direction of θ, so deleting it
#: leaves the (unpenalised) LOO problem without a unique solution.
LEVERAGE_ONE_TOL = 1e-10


def _rank_tol(s: np.ndarray, shape: tuple[int, int]) -> float:
    """numpy.linalg.matrix_rank's default tolerance σ_max · max(n, p) · eps."""
    smax = float(s.max()) if s.size else 0.0
    return smax * max(shape) * np.finfo(np.float64).eps


def _check_design(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"the design matrix X must be 2-D (n points × p features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite (no NaN or inf)")
    return X, y


def _check_kappa(kappa: float, name: str = "kappa") -> float:
    kappa = float(kappa)
    if not np.isfinite(kappa) or kappa < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0, got {kappa}")
    return kappa


def _too_few_points(n: int, p: int) -> ValueError:
    return ValueError(
        f"n points ≤ p parameters (n = {n}, p = {p}): ordinary least squares is not identifiable and its "
        "diagnostics are undefined; add points or use weight decay (κ > 0)"
    )


def _rank_deficient(rank: int, p: int) -> ValueError:
    return ValueError(
        f"the design matrix is rank deficient (rank {rank} < p = {p} parameters): the least-squares parameters "
        "are not unique (e.g. fewer distinct x values than polynomial coefficients); add points or use weight "
        "decay (κ > 0)"
    )


# --------------------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------------------


def ols_fit(X, y, kappa: float = 0.0, weights=None) -> np.ndarray:
    """θ̂ = argmin L_w(θ), L_w(θ) = (1/n) Σ_i w_i ½ (x_iᵀθ − y_i)² + (κ/2)‖θ‖²  (docs/science.md §1, §6).

    Setting ∇L_w = (1/n) Xᵀ W (Xθ − y) + κθ to zero gives the normal equations (XᵀWX + nκI) θ = XᵀWy,
    with n = the number of rows of X, zero-weight (deleted) rows included (§1: the 1/n stays 1/n). They are
    solved stably as the least-squares problem [√W X; √(nκ) I] θ ≈ [√W y; 0] (no XᵀX is formed).

    X is (n, p), y (n,), weights None, (n,) or (B, n) with w_i ≥ 0. Returns θ̂ of shape (p,) or (B, p).

    Raises ValueError when κ = 0 and n ≤ p ("n points ≤ p parameters") or when the weighted design √W X is
    rank deficient with κ = 0 (the minimiser is then not unique).
    """
    X, y = _check_design(X, y)
    kappa = _check_kappa(kappa)
    n, p = X.shape
    if kappa == 0.0 and n <= p:
        raise _too_few_points(n, p)
    if weights is None:
        W = np.ones((1, n))
        squeeze = True
    else:
        W = np.asarray(weights, dtype=np.float64)
        squeeze = W.ndim == 1
        W = np.atleast_2d(W)
        if W.ndim != 2 or W.shape[1] != n:
            raise ValueError(f"weights must have shape ({n},) or (B, {n}), got {np.shape(weights)}")
        if not np.all(np.isfinite(W)) or np.any(W < 0):
            raise ValueError("weights must be finite and ≥ 0")
    thetas = np.empty((W.shape[0], p))
    ridge = np.sqrt(n * kappa) * np.eye(p)
    for b, w in enumerate(W):
        sw = np.sqrt(w)
        Xw = sw[:, None] * X
        if kappa == 0.0:
            s = np.linalg.svd(Xw, compute_uv=False)
            rank = int(np.sum(s > _rank_tol(s, Xw.shape)))
            if rank < p:
                raise _rank_deficient(rank, p)
            thetas[b] = np.linalg.lstsq(Xw, sw * y, rcond=None)[0]
        else:
            thetas[b] = np.linalg.lstsq(
                np.vstack([Xw, ridge]), np.concatenate([sw * y, np.zeros(p)]), rcond=None
            )[0]
    return thetas[0] if squeeze else thetas


# --------------------------------------------------------------------------------------------------------------
# Regression diagnostics
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OLSDiagnostics:
    """Per-point regression diagnostics of a linear fit (docs/science.md §6); built by :func:`ols_diagnostics`.

    Shapes: n points, p parameters. Undefined entries are NaN, never an exception:
    ``loo_defined[i]`` is False where h_ii = 1 (within ``LEVERAGE_ONE_TOL``), which makes every LOO quantity of
    point i undefined; ``s2`` / ``sigma_loo`` are NaN when their degrees of freedom n − p / n − p − 1 are ≤ 0
    (possible only with κ > 0, or n = p + 1). ``warnings`` explains every such case in words.
    """

    n: int
    p: int
    kappa: float
    #: θ̂ (p,), the minimiser of L (κ/2 ridge convention of §1)
    theta: np.ndarray
    #: fitted values Xθ̂ (n,)
    fitted: np.ndarray
    #: raw residuals e = y − Xθ̂ (n,)
    residuals: np.ndarray
    #: leverage h_ii = x_iᵀ A⁻¹ x_i, A = XᵀX + nκI (n,)
    leverage: np.ndarray
    #: s² = Σ e² / (n − p)
    s2: float
    #: e_i / (s √(1 − h_ii)) (n,)
    resid_studentized_internal: np.ndarray
    #: e_i / (s_(i) √(1 − h_ii)) (n,)
    resid_studentized_external: np.ndarray
    #: s_(i), the residual standard deviation of the fit without point i (n,)
    sigma_loo: np.ndarray
    #: Cook's distance e_i² h_ii / (p s² (1 − h_ii)²) (n,)
    cooks_distance: np.ndarray
    #: DFBETAS (θ̂ − θ̂_(i))_k / (s_(i) √(A⁻¹)_kk) (n, p)
    dfbetas: np.ndarray
    #: exact leave-one-out parameters θ̂_(−i) (n, p), row i = point i deleted
    loo_theta: np.ndarray
    #: influence-function estimate θ_IF = θ̂ + (1/n) H⁻¹ g_i (n, p)
    if_theta: np.ndarray
    #: one Newton step on L_{−i} from θ̂ (n, p) — exact for a quadratic loss
    newton_theta: np.ndarray
    #: LOO (PRESS) residuals y_i − x_iᵀθ̂_(−i) = e_i / (1 − h_ii) (n,)
    loo_residuals: np.ndarray
    #: PRESS = Σ_i (e_i / (1 − h_ii))² over the points where it is defined
    press: float
    #: False where h_ii = 1: the LOO fit of point i is not unique (n,) bool
    loo_defined: np.ndarray
    #: human-readable notes on every undefined (NaN) entry
    warnings: tuple[str, ...] = ()

    @property
    def loo_delta(self) -> np.ndarray:
        """θ̂_(−i) − θ̂ (n, p) — the exact deletion change (= ``if_delta`` / (1 − h_ii))."""
        return self.loo_theta - self.theta

    @property
    def if_delta(self) -> np.ndarray:
        """Δθ_IF = (1/n) H⁻¹ g_i = −A⁻¹ x_i e_i (n, p) (docs/science.md §3)."""
        return self.if_theta - self.theta

    @property
    def dfbeta(self) -> np.ndarray:
        """θ̂ − θ̂_(i) (n, p), the unscaled DFBETA (statsmodels' sign)."""
        return self.theta - self.loo_theta

    def to_json_dict(self) -> dict:
        """Every field as plain Python (lists, floats, bools); non-finite numbers become None (JSON null)."""

        def clean(v):
            if isinstance(v, np.ndarray):
                if v.dtype == bool:
                    return v.tolist()
                return (
                    [clean(u) for u in v] if v.ndim > 1 else [float(u) if np.isfinite(u) else None for u in v]
                )
            if isinstance(v, (float, np.floating)):
                return float(v) if np.isfinite(v) else None
            if isinstance(v, tuple):
                return list(v)
            return v

        return {f.name: clean(getattr(self, f.name)) for f in fields(self)}


def ols_diagnostics(X, y, kappa: float = 0.0) -> OLSDiagnostics:
    """Leverage, residuals, Cook's distance, DFBETAS, exact LOO, IF and Newton for a linear fit (docs/science.md §6).

    With A = XᵀX + nκI (κ = 0: plain OLS; κ > 0: ridge under our (κ/2)‖θ‖² and 1/n convention, §1):

    - θ̂ = A⁻¹Xᵀy, e = y − Xθ̂, h_ii = x_iᵀ A⁻¹ x_i (diagonal of X A⁻¹ Xᵀ);
    - s² = Σ e² / (n − p); internally studentised r_i = e_i / (s √(1 − h_ii));
    - exact LOO (Sherman–Morrison; deleting i keeps the 1/n of §1, so L_{−i} has normal equations
      (A − x_i x_iᵀ) θ = Xᵀy − x_i y_i and the nκ stays nκ): θ̂ − θ̂_(−i) = A⁻¹ x_i e_i / (1 − h_ii);
    - LOO (PRESS) residual y_i − x_iᵀθ̂_(−i) = e_i / (1 − h_ii), PRESS = Σ of their squares;
    - s_(i)² = Σ_{k≠i} (y_k − x_kᵀθ̂_(−i))² / (n − p − 1), in closed form
      SSE + 2 c_i (He)_i + c_i² (H²)_ii − (e_i/(1 − h_ii))² with H = X A⁻¹ Xᵀ, c_i = e_i / (1 − h_ii)
      (for OLS He = 0 and H² = H, giving the textbook SSE − e_i² / (1 − h_ii));
      externally studentised t_i = e_i / (s_(i) √(1 − h_ii));
    - Cook's distance D_i = e_i² h_ii / (p s² (1 − h_ii)²);
    - DFBETAS_ik = (θ̂ − θ̂_(i))_k / (s_(i) √(A⁻¹)_kk) (statsmodels' definition at κ = 0);
    - influence function (§3): Δθ_IF = (1/n) H_L⁻¹ g_i with H_L = A/n = XᵀX/n + κI and g_i = ∇ℓ_i(θ̂) = −x_i e_i,
      i.e. Δθ_IF = −A⁻¹ x_i e_i: the exact LOO change without the 1/(1 − h_ii) factor;
    - Newton (§3): θ_Nt = θ̂ − (∇²L_{−i})⁻¹ ∇L_{−i}(θ̂) with ∇²L_{−i} = (A − x_i x_iᵀ)/n, solved directly (not
      by the closed form); exact for this quadratic loss.

    At κ = 0 these are the standard OLS diagnostics (they agree with statsmodels' OLSInfluence). At κ > 0 they
    are the §6 substitution XᵀX → A with the degrees of freedom kept at n − p and n − p − 1; the LOO
    parameters, PRESS residuals, s_(i), IF and Newton are then still exact for our ridge objective.

    Undefined values are NaN with a flag and a warning (see :class:`OLSDiagnostics`), never an exception, except:
    ValueError when κ = 0 and n ≤ p ("n points ≤ p parameters: add points or use weight decay"), or when κ = 0
    and X is rank deficient.
    """
    X, y = _check_design(X, y)
    kappa = _check_kappa(kappa)
    n, p = X.shape
    if kappa == 0.0 and n <= p:
        raise _too_few_points(n, p)
    notes: list[str] = []

    # X = U S Vᵀ (thin); A = V diag(s² + nκ) Vᵀ with s padded by zeros to length p (p > n is possible for ridge).
    # Full V is needed only when p > n (then n is small and so is the full U); otherwise the thin SVD is exact.
    U, s, Vt = np.linalg.svd(X, full_matrices=p > n)
    r = s.size
    U = U[:, :r]
    V = Vt.T  # (p, p)
    if kappa == 0.0:
        rank = int(np.sum(s > _rank_tol(s, X.shape)))
        if rank < p:
            raise _rank_deficient(rank, p)
    s2pad = np.zeros(p)
    s2pad[:r] = s * s
    a_eig = s2pad + n * kappa  # eigenvalues of A, all > 0 here
    q = (s * s) / a_eig[:r]  # eigenvalues of the hat matrix X A⁻¹ Xᵀ (= 1 for OLS)
    # A⁻¹ Xᵀ = V_r diag(s / (s² + nκ)) Uᵀ, (p, n)
    AinvXt = (V[:, :r] * (s / a_eig[:r])) @ U.T
    theta = AinvXt @ y
    fitted = X @ theta
    e = y - fitted
    if kappa == 0.0:
        lev = np.einsum("ik,ik->i", U, U)
    else:
        lev = np.einsum("ik,k,ik->i", U, q, U)
    Ainv_diag = np.einsum("jk,k,jk->j", V, 1.0 / a_eig, V)

    one_minus_h = 1.0 - lev
    defined = one_minus_h > LEVERAGE_ONE_TOL
    if not np.all(defined):
        idx = np.flatnonzero(~defined).tolist()
        notes.append(
            f"points {idx} have leverage h_ii = 1: each alone determines a direction of θ, so deleting it leaves "
            "the parameters undetermined; their LOO, PRESS, studentised residuals, Cook's distance, DFBETAS and "
            "Newton estimate are NaN (use weight decay κ > 0 to make them defined)"
        )
    safe = np.where(defined, one_minus_h, np.nan)
    c = e / safe  # LOO (PRESS) residuals

    # Exact LOO by Sherman–Morrison and the IF estimate; row i is point i.
    if_delta = -(AinvXt * e).T  # −A⁻¹ x_i e_i
    loo_theta = theta + if_delta / safe[:, None]
    if_theta = theta + if_delta

    # s² and s_(i)²
    sse = float(e @ e)
    dof = n - p
    if dof > 0:
        s2 = sse / dof
    else:
        s2 = np.nan
        notes.append(
            f"n − p = {dof} ≤ 0 residual degrees of freedom: s², studentised residuals, Cook's distance "
            "and DFBETAS are NaN"
        )
    if kappa == 0.0:
        sse_loo = sse - e * c
    else:
        He = U @ (q * (U.T @ e))
        H2 = np.einsum("ik,k,ik->i", U, q * q, U)
        sse_loo = sse + 2.0 * c * He + c * c * H2 - c * c
    sse_loo = np.maximum(sse_loo, 0.0)  # rounding near an exact LOO fit
    if dof - 1 > 0:
        sigma_loo = np.sqrt(sse_loo / (dof - 1))
    else:
        sigma_loo = np.full(n, np.nan)
        if dof > 0:
            notes.append(
                f"n − p − 1 = {dof - 1}: the leave-one-out fits have no residual degrees of freedom, so "
                "externally studentised residuals and DFBETAS are NaN"
            )

    s = np.sqrt(s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stud_int = e / (s * np.sqrt(safe))
        stud_ext = e / (sigma_loo * np.sqrt(safe))
        cooks = e * e * lev / (p * s2 * safe * safe)
        dfbetas = (theta - loo_theta) / (sigma_loo[:, None] * np.sqrt(Ainv_diag)[None, :])

    # Newton: one step on L_{−i} from θ̂, by a direct solve of (A − x_i x_iᵀ) δ = n ∇L_{−i}(θ̂).
    grad_full_n = X.T @ (fitted - y) + n * kappa * theta  # n ∇L(θ̂) (≈ 0)
    A = (V * a_eig) @ V.T
    newton_theta = np.full((n, p), np.nan)
    if np.any(defined):
        Xd = X[defined]
        M = A[None] - Xd[:, :, None] * Xd[:, None, :]
        rhs = grad_full_n[None] + Xd * e[defined][:, None]  # n ∇L_{−i}(θ̂) = n∇L(θ̂) − ∇ℓ_i, ∇ℓ_i = −x_i e_i
        newton_theta[defined] = theta - np.linalg.solve(M, rhs[:, :, None])[:, :, 0]

    press = float(np.sum(c[defined] ** 2))
    return OLSDiagnostics(
        n=n,
        p=p,
        kappa=kappa,
        theta=theta,
        fitted=fitted,
        residuals=e,
        leverage=lev,
        s2=float(s2),
        resid_studentized_internal=stud_int,
        resid_studentized_external=stud_ext,
        sigma_loo=sigma_loo,
        cooks_distance=cooks,
        dfbetas=dfbetas,
        loo_theta=loo_theta,
        if_theta=if_theta,
        newton_theta=newton_theta,
        loo_residuals=c,
        press=press,
        loo_defined=defined,
        warnings=tuple(notes),
    )


# --------------------------------------------------------------------------------------------------------------
# MLP leverage
# --------------------------------------------------------------------------------------------------------------


def jacobian_leverage(model, theta, x, lam: float = 0.0, kappa: float = 0.0) -> np.ndarray:
    """Jacobian leverage h_j = ∇f_jᵀ (nG + nλI)⁻¹ ∇f_j of an MLP (or any model) (docs/science.md §6).

    G = (1/n) JᵀJ + κI is the Gauss–Newton Hessian of §1 and J (n × d, row j = ∇_θ f(θ; x_j)) plays the design
    matrix, so nG + nλI = JᵀJ + n(κ + λ)I and h = diag(J (JᵀJ + n(κ + λ)I)⁻¹ Jᵀ). For a linear feature model
    with κ = λ = 0 this is the OLS leverage.

    Computed from the SVD J = U S Vᵀ as h_j = Σ_k U_jk² s_k² / (s_k² + n(κ + λ)). When κ + λ = 0 and J is rank
    deficient (JᵀJ singular), singular values below numpy's rank tolerance are dropped, i.e. the pseudo-inverse
    is used and h is the leverage of the projection onto J's column space.

    theta (d,) → returns (n,); theta (B, d) → returns (B, n).
    """
    lam = _check_kappa(lam, "lam (damping λ)")
    kappa = _check_kappa(kappa)
    theta = np.asarray(theta, dtype=np.float64)
    single = theta.ndim == 1
    J = model.jacobian(theta, x)  # (B, n, d)
    n = J.shape[1]
    U, s, _ = np.linalg.svd(J, full_matrices=False)  # U (B, n, r), s (B, r)
    shift = n * (kappa + lam)
    if shift == 0.0:
        tol = s.max(axis=1, keepdims=True) * max(J.shape[1:]) * np.finfo(np.float64).eps
        q = (s > tol).astype(np.float64)
    else:
        q = s * s / (s * s + shift)
    h = np.einsum("bjk,bk,bjk->bj", U, q, U)
    return h[0] if single else h


# --------------------------------------------------------------------------------------------------------------
# Linear gradient flow
# --------------------------------------------------------------------------------------------------------------


def linear_flow(H, theta0, theta_hat, t) -> np.ndarray:
    """Closed-form gradient flow θ(t) = e^{−Ht} θ_0 + (I − e^{−Ht}) θ̂ (docs/science.md §4, notes eq. 0.10).

    This solves dθ/dt = −H (θ − θ̂), θ(0) = θ_0 — the gradient flow of a quadratic loss with Hessian H and
    minimiser θ̂ (for our mean loss H = XᵀX/n + κI). With the eigendecomposition H = Q diag(μ) Qᵀ,
    θ(t) = θ̂ + Q diag(e^{−μt}) Qᵀ (θ_0 − θ̂). Valid for singular H: on the null space e^{−Ht} = I, so that
    component of θ stays at θ_0's (θ̂ need only be a minimiser, e.g. the pseudo-inverse solution; §4 asks for
    the pseudo-inverse when H is singular). Negative eigenvalues (an indefinite H) grow exponentially, as the
    flow does.

    H: symmetric (d, d) (symmetrised; a clearly non-symmetric H is a ValueError). theta0, theta_hat: (..., d),
    broadcast together to a batch shape b. t: scalar or array of times. Returns shape (*t.shape, *b, d).
    """
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square matrix, got shape {H.shape}")
    d = H.shape[0]
    scale = max(float(np.abs(H).max()) if H.size else 0.0, 1.0)
    if np.abs(H - H.T).max(initial=0.0) > 1e-8 * scale:
        raise ValueError("H must be symmetric (the Hessian of a quadratic loss)")
    mu, Q = np.linalg.eigh(0.5 * (H + H.T))
    theta0 = np.asarray(theta0, dtype=np.float64)
    theta_hat = np.asarray(theta_hat, dtype=np.float64)
    if theta0.shape[-1:] != (d,) or theta_hat.shape[-1:] != (d,):
        raise ValueError(f"theta0 and theta_hat must end in dimension d = {d}")
    diff, theta_hat = np.broadcast_arrays(theta0 - theta_hat, theta_hat)
    coords = diff @ Q  # Qᵀ(θ_0 − θ̂), shape (*b, d)
    t = np.asarray(t, dtype=np.float64)
    tt = t.reshape(t.shape + (1,) * diff.ndim)  # (*T, 1…, 1)
    decay = np.exp(-tt * mu)  # (*T, 1…, d)
    return theta_hat + (decay * coords) @ Q.T


def gd_learning_rate(X, weights=None, kappa: float = 0.0) -> float:
    """η = 1/λ_max(H) for gradient descent on L_w, H = (1/n) XᵀWX + κI its (constant) Hessian (module docstring).

    GD on a quadratic is stable for η < 2/λ_max; 1/λ_max is the largest step that never overshoots along the
    stiffest direction, so the loss decreases monotonically. Used when a linear model is given no η."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    H = (X * (w / n)[:, None]).T @ X
    lam = float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1]) + float(kappa)
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError("the loss Hessian is zero: every point has weight 0 or the features vanish")
    return 1.0 / lam
