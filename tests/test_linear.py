"""Linear models, the exact cases (docs/science.md §6), against independent computations: statsmodels'
OLSInfluence, brute-force refits with the point removed, the model's own loss/gradient/Hessian code, torch
autograd Jacobians, and a tight numerical integration of the gradient flow (§4, eq. 0.10)."""

import json

import numpy as np
import pytest
import statsmodels.api as sm
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from torch.func import functional_call, jacrev

from core.linear import jacobian_leverage, linear_flow, ols_diagnostics, ols_fit
from core.model import LinearFeatures, MLPSpec

# (kind, n, p): "random" is a Gaussian design, "poly" the polynomial features (1, x, …, x^(p−1)) of
# LinearFeatures on uniform x.
DESIGNS = [
    ("random", 6, 2),
    ("random", 12, 1),
    ("random", 20, 3),
    ("random", 50, 6),
    ("poly", 8, 2),
    ("poly", 20, 3),
    ("poly", 40, 4),
    ("poly", 30, 6),
]


def _design(kind: str, n: int, p: int, seed: int):
    rng = np.random.default_rng(seed)
    if kind == "random":
        X = rng.normal(size=(n, p))
        x = None
    else:
        x = rng.uniform(-2.0, 2.0, size=n)
        X = LinearFeatures(p - 1).features(x)
    y = X @ rng.normal(size=p) + 0.5 * rng.standard_t(3, size=n)
    return X, y, x


def _brute_loo(X, y, j, kappa):
    """Minimiser of L_{−j}(θ) = (1/n) Σ_{i≠j} ½ (x_iᵀθ − y_i)² + (κ/2)‖θ‖², n the full count (docs/science.md §1)."""
    n, p = X.shape
    keep = np.arange(n) != j
    Xk, yk = X[keep], y[keep]
    if kappa == 0.0:
        return np.linalg.lstsq(Xk, yk, rcond=None)[0]
    return np.linalg.solve(Xk.T @ Xk + n * kappa * np.eye(p), Xk.T @ yk)


def _close(a, b, tol=1e-8):
    """|a − b| ≤ tol · max(1, |b|) elementwise."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    err = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    assert np.all(err <= tol), f"max scaled error {err.max():.3e}"


# ---------------------------------------------------------------------------------------------------------------
# statsmodels
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,n,p", DESIGNS)
@pytest.mark.parametrize("seed", [0, 1])
def test_diagnostics_match_statsmodels(kind, n, p, seed):
    X, y, _ = _design(kind, n, p, seed)
    d = ols_diagnostics(X, y)
    res = sm.OLS(y, X).fit()
    inf = res.get_influence()
    _close(d.theta, res.params)
    _close(d.residuals, res.resid)
    _close(d.s2, res.mse_resid)
    _close(d.leverage, inf.hat_matrix_diag)
    _close(d.resid_studentized_internal, inf.resid_studentized_internal)
    _close(d.resid_studentized_external, inf.resid_studentized_external)
    _close(d.cooks_distance, inf.cooks_distance[0])
    _close(d.dfbetas, inf.dfbetas)
    _close(d.sigma_loo, np.sqrt(inf.sigma2_not_obsi))
    _close(d.loo_theta, inf.params_not_obsi)
    assert d.loo_defined.all() and d.warnings == ()


@pytest.mark.parametrize("kind,n,p", DESIGNS[:6])
def test_ols_fit_matches_statsmodels_ols_and_wls(kind, n, p):
    X, y, _ = _design(kind, n, p, 7)
    _close(ols_fit(X, y), sm.OLS(y, X).fit().params)
    w = np.random.default_rng(3).uniform(0.2, 1.0, size=n)
    _close(ols_fit(X, y, weights=w), sm.WLS(y, X, weights=w).fit().params)
    # batched weights
    W = np.stack([np.ones(n), w])
    _close(ols_fit(X, y, weights=W), np.stack([ols_fit(X, y), ols_fit(X, y, weights=w)]))


@pytest.mark.parametrize("kappa", [0.0, 1e-3, 0.2])
@pytest.mark.parametrize("degree", [1, 3])
def test_ols_fit_minimises_our_loss(kappa, degree):
    """∇L_w(θ̂) = 0 with the loss of core/model.py (1/n mean, κ/2 ridge, 1/n kept for zero weights)."""
    rng = np.random.default_rng(degree)
    model = LinearFeatures(degree)
    x = rng.uniform(-1.5, 1.5, size=15)
    y = np.sin(2 * x) + 0.1 * rng.normal(size=15)
    X = model.features(x)
    w = rng.uniform(size=15)
    w[4] = 0.0
    for weights in (None, w):
        theta = ols_fit(X, y, kappa, weights)
        g = model.grad(theta, x, y, weights, kappa)[0]
        assert np.linalg.norm(g) <= 1e-12
        # the stated normal equations (XᵀWX + nκI)θ = XᵀWy
        ww = np.ones(15) if weights is None else weights
        _close(
            np.linalg.solve(X.T @ (ww[:, None] * X) + 15 * kappa * np.eye(degree + 1), X.T @ (ww * y)), theta
        )


# ---------------------------------------------------------------------------------------------------------------
# exact LOO, IF, Newton
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [0.0, 1e-2, 0.5])
@pytest.mark.parametrize("kind,n,p", [("random", 10, 3), ("poly", 25, 4), ("random", 40, 5)])
def test_loo_closed_form_matches_brute_force(kind, n, p, kappa):
    X, y, _ = _design(kind, n, p, 11)
    d = ols_diagnostics(X, y, kappa)
    brute = np.stack([_brute_loo(X, y, j, kappa) for j in range(n)])
    _close(d.loo_theta, brute)
    # the LOO objective's own gradient, via ols_fit with w_j = 0 (the 1/n and nκ kept)
    for j in (0, n // 2, n - 1):
        w = np.ones(n)
        w[j] = 0.0
        _close(d.loo_theta[j], ols_fit(X, y, kappa, w))
    # LOO (PRESS) residuals and PRESS
    loo_resid = y - np.einsum("ik,ik->i", X, brute)
    _close(d.loo_residuals, loo_resid)
    _close(d.press, np.sum(loo_resid**2))
    # s_(i): the residual standard deviation of each brute-force LOO fit (also for ridge)
    sse = np.array([np.sum(np.delete(y - X @ brute[j], j) ** 2) for j in range(n)])
    _close(d.sigma_loo, np.sqrt(sse / (n - p - 1)))
    # Newton is exact for a quadratic loss
    _close(d.newton_theta, brute)


@pytest.mark.parametrize("kappa", [0.0, 0.05])
def test_loo_change_is_if_change_over_one_minus_leverage(kappa):
    X, y, _ = _design("poly", 30, 4, 5)
    d = ols_diagnostics(X, y, kappa)
    _close(d.loo_delta, d.if_delta / (1.0 - d.leverage)[:, None], 1e-10)
    assert np.all(np.linalg.norm(d.loo_delta, axis=1) >= np.linalg.norm(d.if_delta, axis=1))


@pytest.mark.parametrize("kappa", [0.0, 1e-3, 0.1])
def test_if_and_newton_match_model_hessian_definitions(kappa):
    """Δθ_IF = (1/n) H⁻¹ g_j and θ_Nt = θ̂ − (∇²L_{−j})⁻¹∇L_{−j}(θ̂) (docs/science.md §3), with H, g, ∇L from
    core/model.py's LinearFeatures rather than the closed forms."""
    rng = np.random.default_rng(2)
    model = LinearFeatures(3)
    n = 18
    x = rng.uniform(-1, 1, size=n)
    y = x**3 - x + 0.2 * rng.normal(size=n)
    d = ols_diagnostics(model.features(x), y, kappa)
    H = model.hessian(d.theta, x, y, kappa=kappa)[0]
    G = model.per_example_grads(d.theta, x, y)[0]
    for j in range(n):
        _close(d.if_theta[j], d.theta + np.linalg.solve(H, G[j]) / n)
        w = np.ones(n)
        w[j] = 0.0
        Hj = model.hessian(d.theta, x, y, w, kappa)[0]
        gj = model.grad(d.theta, x, y, w, kappa)[0]
        step = d.theta - np.linalg.solve(Hj, gj)
        _close(d.newton_theta[j], step)
        # the LOO parameters are stationary for L_{−j}
        assert np.linalg.norm(model.grad(d.loo_theta[j], x, y, w, kappa)[0]) <= 1e-12


@pytest.mark.parametrize("kappa", [0.01, 0.3])
def test_ridge_diagnostics_are_the_stated_substitution(kappa):
    """κ > 0: h = diag(X A⁻¹ Xᵀ), Cook and DFBETAS by XᵀX → A = XᵀX + nκI, computed by brute force."""
    X, y, _ = _design("random", 16, 3, 9)
    n, p = X.shape
    d = ols_diagnostics(X, y, kappa)
    A = X.T @ X + n * kappa * np.eye(p)
    Ainv = np.linalg.inv(A)
    theta = Ainv @ X.T @ y
    e = y - X @ theta
    h = np.einsum("ij,jk,ik->i", X, Ainv, X)
    s2 = e @ e / (n - p)
    brute = np.stack([_brute_loo(X, y, j, kappa) for j in range(n)])
    s_loo = np.sqrt([np.sum(np.delete(y - X @ brute[j], j) ** 2) / (n - p - 1) for j in range(n)])
    _close(d.theta, theta)
    _close(d.leverage, h)
    _close(d.s2, s2)
    _close(d.resid_studentized_internal, e / np.sqrt(s2 * (1 - h)))
    _close(d.resid_studentized_external, e / (s_loo * np.sqrt(1 - h)))
    # Cook's distance in its quadratic-form version (Δθ)ᵀ A (Δθ) / (p s²)
    delta = theta - brute
    _close(d.cooks_distance, np.einsum("ij,jk,ik->i", delta, A, delta) / (p * s2))
    _close(d.dfbetas, delta / (s_loo[:, None] * np.sqrt(np.diag(Ainv))[None, :]))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(4, 30),
    p=st.integers(1, 4),
    kappa=st.sampled_from([0.0, 1e-3, 1.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_leverage_properties_and_loo_identity(n, p, kappa, seed):
    if p >= n:
        p = n - 1
    X, y, _ = _design("random", n, p, seed)
    d = ols_diagnostics(X, y, kappa)
    assert np.all(d.leverage >= -1e-12) and np.all(d.leverage <= 1 + 1e-12)
    if kappa == 0.0:
        assert abs(d.leverage.sum() - p) <= 1e-9  # tr(hat) = p
    ok = d.loo_defined
    _close(d.loo_theta[ok], np.stack([_brute_loo(X, y, j, kappa) for j in np.flatnonzero(ok)]), 1e-7)


# ---------------------------------------------------------------------------------------------------------------
# rank deficiency, h_ii = 1, too few points
# ---------------------------------------------------------------------------------------------------------------


def test_too_few_points_is_a_clear_error():
    rng = np.random.default_rng(0)
    for n, p in [(3, 3), (3, 5)]:
        X, y = rng.normal(size=(n, p)), rng.normal(size=n)
        with pytest.raises(ValueError, match="n points ≤ p parameters.*add points or use weight decay"):
            ols_diagnostics(X, y)
        with pytest.raises(ValueError, match="n points ≤ p parameters"):
            ols_fit(X, y)


def test_rank_deficient_design_is_a_clear_error():
    # degree-3 polynomial on only three distinct x values: rank 3 < 4
    x = np.repeat([-1.0, 0.0, 1.0], 4)
    X = LinearFeatures(3).features(x)
    y = np.arange(12.0)
    with pytest.raises(ValueError, match="rank deficient"):
        ols_diagnostics(X, y)
    with pytest.raises(ValueError, match="rank deficient"):
        ols_fit(X, y)
    # a zero weight that removes identifiability
    x2 = np.array([-1.0, 0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="rank deficient"):
        ols_fit(LinearFeatures(3).features(x2)[:, :3], y[:4], weights=[1, 1, 0, 0])
    # weight decay makes both well posed
    d = ols_diagnostics(X, y, kappa=1e-3)
    assert np.all(np.isfinite(d.leverage)) and d.loo_defined.all()
    assert np.all(np.isfinite(ols_fit(X, y, kappa=1e-3)))


def test_leverage_one_gives_nan_flag_not_crash():
    """Point 0 is the only one with a nonzero second feature: h_00 = 1, deleting it leaves θ_2 undetermined."""
    rng = np.random.default_rng(4)
    n = 9
    X = np.column_stack([np.ones(n), rng.normal(size=n), np.zeros(n)])
    X[0, 2] = 1.0
    y = rng.normal(size=n)
    d = ols_diagnostics(X, y)
    assert not d.loo_defined[0] and d.loo_defined[1:].all()
    assert abs(d.leverage[0] - 1.0) <= 1e-12
    assert d.warnings and "h_ii = 1" in d.warnings[0] and "[0]" in d.warnings[0]
    for arr in (d.loo_theta[0], d.newton_theta[0], d.dfbetas[0]):
        assert np.all(np.isnan(arr))
    for arr in (
        d.loo_residuals,
        d.resid_studentized_internal,
        d.resid_studentized_external,
        d.cooks_distance,
    ):
        assert np.isnan(arr[0]) and np.all(np.isfinite(arr[1:]))
    assert np.all(np.isfinite(d.if_theta))
    # the other points are still exact
    _close(d.loo_theta[1:], np.stack([_brute_loo(X, y, j, 0.0) for j in range(1, n)]))
    _close(d.newton_theta[1:], d.loo_theta[1:])
    assert np.isfinite(d.press)
    # JSON-able, with nulls for the undefined entries
    doc = json.loads(json.dumps(d.to_json_dict(), allow_nan=False))
    assert doc["cooks_distance"][0] is None and doc["loo_defined"][0] is False
    # ridge makes the deletion well posed
    dr = ols_diagnostics(X, y, kappa=0.01)
    assert dr.loo_defined.all()
    _close(dr.loo_theta[0], _brute_loo(X, y, 0, 0.01))


def test_degrees_of_freedom_edge_cases():
    rng = np.random.default_rng(6)
    # n = p + 1: s² defined, the LOO fits interpolate (no residual dof) → NaN external quantities
    X, y = rng.normal(size=(4, 3)), rng.normal(size=4)
    d = ols_diagnostics(X, y)
    assert np.isfinite(d.s2) and np.all(np.isnan(d.resid_studentized_external))
    assert np.all(np.isnan(d.dfbetas)) and any("n − p − 1" in w for w in d.warnings)
    _close(d.loo_theta, np.stack([_brute_loo(X, y, j, 0.0) for j in range(4)]))
    # ridge with p > n: leverage and LOO exact, s² undefined
    X, y = rng.normal(size=(5, 8)), rng.normal(size=5)
    d = ols_diagnostics(X, y, kappa=0.1)
    assert np.isnan(d.s2) and any("n − p" in w for w in d.warnings)
    A = X.T @ X + 5 * 0.1 * np.eye(8)
    _close(d.leverage, np.einsum("ij,jk,ik->i", X, np.linalg.inv(A), X))
    _close(d.loo_theta, np.stack([_brute_loo(X, y, j, 0.1) for j in range(5)]))
    _close(d.newton_theta, d.loo_theta)


def test_bad_inputs_raise_value_errors():
    X, y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(ValueError):
        ols_fit(X, y[:4])
    with pytest.raises(ValueError):
        ols_fit(X[:, 0], y)
    with pytest.raises(ValueError):
        ols_fit(np.eye(5)[:, :2], y, kappa=-1.0)
    with pytest.raises(ValueError):
        ols_fit(np.eye(5)[:, :2], y, weights=-np.ones(5))
    with pytest.raises(ValueError):
        linear_flow(np.array([[1.0, 2.0], [0.0, 1.0]]), np.zeros(2), np.ones(2), 1.0)


# ---------------------------------------------------------------------------------------------------------------
# Jacobian leverage
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [0, 1, 2, 4])
def test_jacobian_leverage_of_linear_model_is_ols_leverage(degree):
    rng = np.random.default_rng(degree)
    model = LinearFeatures(degree)
    x = rng.uniform(-1, 1, size=14)
    y = rng.normal(size=14)
    X = model.features(x)
    theta = rng.normal(size=degree + 1)
    _close(jacobian_leverage(model, theta, x), ols_diagnostics(X, y).leverage, 1e-10)
    _close(jacobian_leverage(model, theta, x), sm.OLS(y, X).fit().get_influence().hat_matrix_diag, 1e-10)
    # damping and weight decay both enter as n(κ + λ): the ridge leverage
    _close(
        jacobian_leverage(model, theta, x, lam=0.02, kappa=0.03), ols_diagnostics(X, y, 0.05).leverage, 1e-10
    )


def _torch_jacobian(model: MLPSpec, theta, x):
    net = model.to_torch_sequential(theta)
    names_shapes = [(name, p.shape) for name, p in net.named_parameters()]
    xt = torch.tensor(x)[:, None]

    def f(t):
        params, offset = {}, 0
        for name, shape in names_shapes:
            size = int(np.prod(shape))
            params[name] = t[offset : offset + size].reshape(shape)
            offset += size
        return functional_call(net, params, (xt,))[:, 0]

    return jacrev(f)(torch.tensor(theta)).numpy()


def _well_conditioned_thetas(model: MLPSpec, x, count: int, seed: int):
    """The `count` best-conditioned Jacobians among 200 seeded draws (random θ often gives cond(J) ~ 1e10+,
    where no undamped leverage is accurate to 1e-8 by any method)."""
    thetas = 1.5 * np.random.default_rng(seed).normal(size=(200, model.n_params))
    cond = np.array([np.linalg.cond(J) for J in model.jacobian(thetas, x)])
    return thetas[np.argsort(cond)[:count]]


# undamped only on the shallow nets, whose Jacobians can be well conditioned; the deeper ones are damped
MLP_CASES = [
    ((3,), "tanh", 0.0, 0.0),
    ((2,), "tanh", 0.0, 0.0),
    ((3,), "tanh", 1e-2, 0.0),
    ((3,), "tanh", 0.0, 1e-3),
    ((3,), "tanh", 0.1, 1e-3),
    ((4, 2), "softplus", 1e-2, 1e-3),
    ((4, 2), "softplus", 0.0, 1e-2),
    ((2, 2), "sigmoid", 1e-2, 0.0),
    ((2, 2), "sigmoid", 0.1, 1e-3),
]


@pytest.mark.parametrize("hidden,activation,lam,kappa", MLP_CASES)
def test_jacobian_leverage_of_mlp_matches_autograd(hidden, activation, lam, kappa):
    model = MLPSpec(hidden, activation)
    n = 40
    x = np.linspace(-3.0, 3.0, n)
    thetas = _well_conditioned_thetas(model, x, 3, seed=len(hidden) + 10 * len(activation))
    h = jacobian_leverage(model, thetas, x, lam=lam, kappa=kappa)
    assert h.shape == (3, n)
    d = model.n_params
    c = n * (lam + kappa)
    for b, theta in enumerate(thetas):
        J = _torch_jacobian(model, theta, x)
        # J (JᵀJ + cI)⁻¹ Jᵀ = Q₁Q₁ᵀ with [J; √c I] = QR and Q₁ the first n rows of Q (a QR, not an SVD)
        Q = np.linalg.qr(np.vstack([J, np.sqrt(c) * np.eye(d)]))[0][:n]
        _close(h[b], np.einsum("jk,jk->j", Q, Q))
        _close(jacobian_leverage(model, theta, x, lam=lam, kappa=kappa), h[b], 1e-14)
        # the literal §6 form ∇f_jᵀ (nG + nλI)⁻¹ ∇f_j with the model's own GNH G = JᵀJ/n + κI
        G = model.gnh(theta, x, kappa=kappa)[0]
        ref = np.einsum("jd,jd->j", J, np.linalg.solve(n * G + n * lam * np.eye(d), J.T).T)
        cond = np.linalg.cond(n * G + n * lam * np.eye(d))
        _close(h[b], ref, max(1e-8, 10 * cond * np.finfo(float).eps))


def test_jacobian_leverage_singular_undamped_uses_pseudo_inverse():
    """Relu units that are dead on every input have zero Jacobian columns: JᵀJ is singular; h = diag(J J⁺)."""
    model = MLPSpec((3,), "relu")
    x = np.linspace(0.1, 2.0, 12)
    theta = np.array([1.0, -1.0, 0.5, 0.0, 0.0, 0.2, 1.0, 2.0, -1.0, 0.3])  # unit 2 dead on x > 0
    J = model.jacobian(theta, x)[0]
    assert np.linalg.matrix_rank(J) < model.n_params
    h = jacobian_leverage(model, theta, x)
    _close(h, np.diag(J @ np.linalg.pinv(J)), 1e-10)


# ---------------------------------------------------------------------------------------------------------------
# linear gradient flow
# ---------------------------------------------------------------------------------------------------------------


def _integrate(rhs, theta0, ts):
    if ts[-1] == 0.0:
        return np.broadcast_to(theta0, (len(ts), len(theta0)))
    sol = solve_ivp(
        lambda _t, th: rhs(th), (0.0, ts[-1]), theta0, method="DOP853", t_eval=ts, rtol=1e-13, atol=1e-14
    )
    assert sol.success
    return sol.y.T


def test_linear_flow_matches_gradient_flow_of_ols_loss():
    """dθ/dt = −∇L(θ) with the model's own gradient, H = XᵀX/n + κI, θ̂ = its minimiser (docs/science.md §4)."""
    rng = np.random.default_rng(8)
    model = LinearFeatures(2)
    x = rng.uniform(-1.5, 1.5, size=20)
    y = 1.0 - x + 0.5 * x**2 + 0.1 * rng.normal(size=20)
    X = model.features(x)
    for kappa in (0.0, 0.05):
        H = X.T @ X / 20 + kappa * np.eye(3)
        theta_hat = ols_fit(X, y, kappa)
        theta0 = rng.normal(size=3)
        ts = np.linspace(0.0, 12.0, 25)
        ref = _integrate(lambda th, kappa=kappa: -model.grad(th, x, y, kappa=kappa)[0], theta0, ts)
        out = linear_flow(H, theta0, theta_hat, ts)
        assert out.shape == (25, 3)
        assert np.abs(out - ref).max() <= 1e-8
        _close(linear_flow(H, theta0, theta_hat, 0.0), theta0, 1e-14)
        _close(linear_flow(H, theta0, theta_hat, 1e4), theta_hat, 1e-10)


def test_linear_flow_with_singular_hessian():
    """Duplicate feature columns: H singular; the null-space component of θ keeps θ_0's value."""
    rng = np.random.default_rng(12)
    n = 15
    z = rng.normal(size=n)
    X = np.column_stack([np.ones(n), z, z])
    y = 0.3 + 2.0 * z + 0.1 * rng.normal(size=n)
    H = X.T @ X / n
    assert np.linalg.matrix_rank(H) == 2
    b = X.T @ y / n
    theta_hat = np.linalg.pinv(X) @ y  # a minimiser (the pseudo-inverse one)
    theta0 = np.array([1.0, -2.0, 0.5])
    ts = np.linspace(0.0, 8.0, 17)
    ref = _integrate(lambda th: -(H @ th - b), theta0, ts)  # −∇L exactly
    out = linear_flow(H, theta0, theta_hat, ts)
    assert np.abs(out - ref).max() <= 1e-8
    null = np.array([0.0, 1.0, -1.0]) / np.sqrt(2.0)
    _close(out @ null, np.full(len(ts), theta0 @ null), 1e-12)


def test_linear_flow_batches_over_times_and_starts():
    rng = np.random.default_rng(1)
    M = rng.normal(size=(2, 2))
    H = M @ M.T + 0.1 * np.eye(2)
    theta_hat = rng.normal(size=2)
    starts = rng.normal(size=(4, 2))
    ts = np.array([[0.0, 0.5], [1.0, 3.0]])
    out = linear_flow(H, starts, theta_hat, ts)
    assert out.shape == (2, 2, 4, 2)
    for a in range(2):
        for c in range(2):
            for k in range(4):
                ref = _integrate(lambda th: -H @ (th - theta_hat), starts[k], np.array([0.0, ts[a, c]]))[-1]
                assert np.abs(out[a, c, k] - ref).max() <= 1e-8
    assert linear_flow(H, starts[0], theta_hat, 2.0).shape == (2,)
