"""Influence estimates and iHVP solvers (docs/science.md §2–3) against independent computations: torch autograd
Hessians / Jacobians on the equivalent nn.Sequential, numpy/scipy linear algebra, and closed forms."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call, hessian, jacrev

from core.deletion.influence import (
    DEFAULT_BUDGET,
    gnh_influence,
    hessian_check,
    influence_estimates,
    newton_estimate,
    predicted_query_loss_change,
    self_influence_all,
    solve_cg,
    solve_direct,
    solve_lissa,
    tangent,
)
from core.model import LinearFeatures, MLPSpec
from core.train import TrainConfig, polish, train_models

KAPPA = 1e-3


def teacher_problem(seed=1, n=20):
    """Teacher-like data: 20 sorted x in [-2, 2], y = a random 1→3→1 tanh MLP + N(0, 0.1²) noise."""
    rng = np.random.default_rng(seed)
    model = MLPSpec((3,), "tanh")
    x = np.sort(rng.uniform(-2, 2, n))
    y = model.predict(rng.normal(size=model.n_params) * 1.5, x)[0] + 0.1 * rng.normal(size=n)
    return model, x, y


@pytest.fixture(scope="module")
def fitted():
    model, x, y = teacher_problem()
    theta0 = model.init_params(0)
    cfg = TrainConfig(lr=0.1, steps=2000, weight_decay=KAPPA)
    theta_s = train_models(model, theta0, x, y, None, cfg).theta[0]
    pol = polish(model, theta_s, x, y, None, KAPPA)
    assert pol.converged[0] and pol.isolated[0]
    return model, x, y, theta_s, pol.theta[0]


class Oracle:
    """L_w, its exact Hessian, per-example gradients and the GNH by torch autograd (independent of core)."""

    def __init__(self, model, x, y, w=None, kappa=KAPPA):
        self.net = model.to_torch_sequential(np.zeros(model.n_params))
        self.shapes = [(name, p.shape) for name, p in self.net.named_parameters()]
        self.x = torch.tensor(x)
        self.y = torch.tensor(y)
        self.n = len(x)
        self.w = torch.ones(self.n, dtype=torch.float64) if w is None else torch.tensor(w)
        self.kappa = kappa

    def f(self, t, xs=None):
        xs = self.x if xs is None else torch.as_tensor(xs)
        params, off = {}, 0
        for name, shape in self.shapes:
            size = int(np.prod(shape))
            params[name] = t[off : off + size].reshape(shape)
            off += size
        return functional_call(self.net, params, (xs[:, None],))[:, 0]

    def loss(self, t, w=None):
        w = self.w if w is None else w
        return 0.5 * (w * (self.f(t) - self.y) ** 2).sum() / self.n + 0.5 * self.kappa * (t * t).sum()

    def w_minus(self, j):
        w = self.w.clone()
        w[j] = 0.0
        return w

    def H(self, theta, w=None):
        return hessian(lambda t: self.loss(t, w))(torch.tensor(theta))

    def grad(self, theta, w=None):
        return jacrev(lambda t: self.loss(t, w))(torch.tensor(theta))

    def g(self, theta, j):
        return jacrev(lambda t: 0.5 * (self.f(t)[j] - self.y[j]) ** 2)(torch.tensor(theta))

    def G(self, theta):
        J = jacrev(self.f)(torch.tensor(theta))
        return (J.T * (self.w / self.n)) @ J + self.kappa * torch.eye(J.shape[1], dtype=torch.float64)


def _close(a, b, tol=1e-8):
    a, b = np.asarray(a), np.asarray(b)
    assert np.linalg.norm(a - b) <= tol * max(1.0, np.linalg.norm(b)), (np.linalg.norm(a - b), a, b)


# --------------------------------------------------------------------------------------------------
# hessian_check
# --------------------------------------------------------------------------------------------------


def test_hessian_check_reports_smallest_eigenvalue():
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
    H = Q @ np.diag([-3.2e-4, 0.5, 1.0, 2.0]) @ Q.T
    c = hessian_check(H)
    assert not c.positive_definite
    assert c.min_eigenvalue == pytest.approx(-3.2e-4, rel=1e-10)
    assert "not positive definite" in c.message
    assert "smallest eigenvalue -3.2e-4" in c.message
    assert "λ > 3.2e-4" in c.message and "pseudo-inverse" in c.message
    ok = hessian_check(Q @ np.diag([1e-3, 0.5, 1.0, 2.0]) @ Q.T)
    assert ok.positive_definite and ok.condition_number == pytest.approx(2000, rel=1e-8)
    assert not hessian_check(np.diag([0.0, 1.0])).positive_definite  # singular is not PD


# --------------------------------------------------------------------------------------------------
# Solvers
# --------------------------------------------------------------------------------------------------


def _spd(rng, d, lo=1e-2, hi=10.0):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q @ np.diag(np.geomspace(lo, hi, d)) @ Q.T


def test_solve_direct_against_numpy():
    rng = np.random.default_rng(1)
    A = _spd(rng, 6)
    v = rng.normal(size=(5, 6))
    x, info = solve_direct(A, v)
    assert info.method == "cholesky"
    np.testing.assert_allclose(x, np.linalg.solve(A, v.T).T, rtol=1e-10, atol=1e-12)
    # batched matrices
    As = np.stack([_spd(rng, 6) for _ in range(3)])
    xb, _ = solve_direct(As, v[:3])
    np.testing.assert_allclose(xb, np.stack([np.linalg.solve(a, b) for a, b in zip(As, v[:3], strict=True)]))
    # indefinite, nonsingular: the exact inverse by eigendecomposition
    B = A - 0.05 * np.eye(6)
    xi, info = solve_direct(B, v[0])
    assert info.method == "eigh"
    np.testing.assert_allclose(xi, np.linalg.solve(B, v[0]), rtol=1e-9)
    # singular: pseudo-inverse
    lam, Q = np.linalg.eigh(A)
    S = Q @ np.diag(np.r_[0.0, lam[1:]]) @ Q.T
    xs, info = solve_direct(S, v[0])
    assert info.method == "pinv"
    np.testing.assert_allclose(xs, np.linalg.pinv(S, rcond=1e-10, hermitian=True) @ v[0], rtol=1e-9)
    xp, info = solve_direct(B, v[0], pinv=True)
    np.testing.assert_allclose(xp, np.linalg.pinv(B) @ v[0], rtol=1e-9)


def test_cg_converges_to_direct_with_enough_budget():
    rng = np.random.default_rng(2)
    A = _spd(rng, 10, 1e-2, 1.0)
    v = rng.normal(size=(4, 10))
    x, info = solve_cg(A, v, tol=1e-13, max_iter=200)
    np.testing.assert_allclose(x, np.linalg.solve(A, v.T).T, rtol=1e-9, atol=1e-11)
    assert info.converged.all() and (info.iterations <= 200).all()
    assert (info.residual <= 1e-12 * np.linalg.norm(v, axis=1)).all()


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_cg_with_budget_k_is_the_krylov_minimiser(k):
    """CG after k iterations minimises the A-norm error over the Krylov space span{v, Av, …, A^{k−1}v}:
    x_k = V (VᵀAV)⁻¹ Vᵀ v for an orthonormal basis V — an independent computation of the budgeted solve."""
    rng = np.random.default_rng(3)
    A = _spd(rng, 8, 0.05, 3.0)
    v = rng.normal(size=8)
    K = np.stack([np.linalg.matrix_power(A, i) @ v for i in range(k)], axis=1)
    V, _ = np.linalg.qr(K)
    ref = V @ np.linalg.solve(V.T @ A @ V, V.T @ v)
    x, info = solve_cg(A, v, tol=0.0, max_iter=k)
    np.testing.assert_allclose(x, ref, rtol=1e-8, atol=1e-10)
    assert info.iterations == k and info.budget == k and not info.converged
    np.testing.assert_allclose(info.residual, np.linalg.norm(A @ ref - v), rtol=1e-6)


def test_cg_reports_non_positive_curvature():
    A = np.diag([1.0, -1.0, 2.0])
    _, info = solve_cg(A, np.array([1.0, 1.0, 1.0]), max_iter=10)
    assert info.failed and "not positive definite" in info.message and not info.converged


def test_lissa_converges_and_its_error_is_the_neumann_tail():
    rng = np.random.default_rng(4)
    A = _spd(rng, 6, 0.2, 2.0)
    v = rng.normal(size=6)
    x_ref = np.linalg.solve(A, v)
    x, info = solve_lissa(A, v, scale=2.5, depth=400)
    np.testing.assert_allclose(x, x_ref, rtol=1e-10)
    assert info.converged and info.budget == 400 and info.scale == 2.5
    # small budget: v_K/s − A⁻¹v = −(I − A/s)^{K+1} A⁻¹v
    for K in (0, 3, 10):
        xk, _ = solve_lissa(A, v, scale=2.5, depth=K)
        tail = -np.linalg.matrix_power(np.eye(6) - A / 2.5, K + 1) @ x_ref
        np.testing.assert_allclose(xk - x_ref, tail, rtol=1e-9, atol=1e-12)
    # default scale: 1.1 λ_max
    _, info = solve_lissa(A, v, depth=5)
    assert info.scale == pytest.approx(1.1 * np.linalg.eigvalsh(A)[-1])


def test_lissa_scale_must_exceed_top_eigenvalue():
    A = np.diag([0.5, 2.0])
    with pytest.raises(ValueError, match="must exceed the top eigenvalue"):
        solve_lissa(A, np.ones(2), scale=1.9, depth=5)
    _, info = solve_lissa(np.diag([-0.1, 1.0]), np.ones(2), scale=2.0, depth=5)
    assert info.failed and not info.converged


# --------------------------------------------------------------------------------------------------
# Influence estimates against autograd
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("j", [0, 7, 19])
def test_if_newton_gnh_self_influence_against_autograd(fitted, j):
    model, x, y, _, theta_hat = fitted
    n, lam = len(x), 0.01
    est = influence_estimates(model, theta_hat, x, y, None, KAPPA, j, lam, solver="cg", solver_budget=50)
    o = Oracle(model, x, y)
    H = o.H(theta_hat)
    g = o.g(theta_hat, j)
    d_if = torch.linalg.solve(H, g) / n
    assert est.if_valid and est.if_method == "cholesky"
    _close(est.delta_if, d_if.numpy())
    _close(est.theta_if, theta_hat + d_if.numpy())
    _close(est.g, g.numpy())
    _close(est.H, H.numpy())
    _close(est.G, o.G(theta_hat).numpy())
    s = float(g @ torch.linalg.solve(H, g))
    assert est.self_influence == pytest.approx(s, rel=1e-8)
    assert est.predicted_loss_change == pytest.approx(s / n, rel=1e-8)
    d_gnh = torch.linalg.solve(o.G(theta_hat) + lam * torch.eye(len(theta_hat), dtype=torch.float64), g) / n
    _close(est.delta_gnh, d_gnh.numpy())
    _close(est.delta_gnh_solver, d_gnh.numpy(), 1e-7)  # CG with a generous budget
    # Newton: θ̂ − (∇²L_{−j})⁻¹ ∇L_{−j}, all by autograd
    wm = o.w_minus(j)
    nt = torch.tensor(theta_hat) - torch.linalg.solve(o.H(theta_hat, wm), o.grad(theta_hat, wm))
    _close(est.theta_newton, nt.numpy())


def test_newton_at_a_non_stationary_point_against_autograd(fitted):
    """At the early-stopped θ^s (‖∇L‖ ≈ 2e-3) the Newton estimate keeps the full ∇L_{−j}."""
    model, x, y, theta_s, _ = fitted
    o = Oracle(model, x, y)
    js = np.array([2, 11])
    th, checks = newton_estimate(model, theta_s, x, y, None, KAPPA, js)
    for k, j in enumerate(js):
        wm = o.w_minus(j)
        Hm = o.H(theta_s, wm)
        ref = torch.tensor(theta_s) - torch.linalg.solve(Hm, o.grad(theta_s, wm))
        _close(th[k], ref.numpy())
        assert checks[k].min_eigenvalue == pytest.approx(float(torch.linalg.eigvalsh(Hm)[0]), rel=1e-6)


def test_weighted_data_removes_w_j_over_n(fitted):
    """With data weights, deleting j removes w_j ℓ_j/n: Δθ_IF = (w_j/n) H_w⁻¹ g_j."""
    model, x, y, _, theta_hat = fitted
    w = np.random.default_rng(5).uniform(0.5, 1.0, size=len(x))
    th = polish(model, theta_hat, x, y, w, KAPPA).theta[0]
    j = 4
    est = influence_estimates(model, th, x, y, w, KAPPA, j, 0.01)
    o = Oracle(model, x, y, w)
    ref = w[j] / len(x) * torch.linalg.solve(o.H(th), o.g(th, j))
    _close(est.delta_if, ref.numpy())
    wm = o.w_minus(j)
    nt = torch.tensor(th) - torch.linalg.solve(o.H(th, wm), o.grad(th, wm))
    _close(est.theta_newton, nt.numpy())


def test_batched_js_equal_single_j(fitted):
    model, x, y, _, theta_hat = fitted
    js = np.array([1, 5, 13])
    allj = influence_estimates(model, theta_hat, x, y, None, KAPPA, js, 0.01)
    for k, j in enumerate(js):
        one = influence_estimates(model, theta_hat, x, y, None, KAPPA, int(j), 0.01)
        for field in ("delta_if", "theta_if", "delta_gnh", "delta_gnh_solver", "theta_newton", "g"):
            np.testing.assert_allclose(getattr(allj, field)[k], getattr(one, field), rtol=1e-10, atol=1e-12)
        assert allj.self_influence[k] == pytest.approx(one.self_influence, rel=1e-12)


def test_self_influence_all_against_autograd(fitted):
    model, x, y, _, theta_hat = fitted
    s, check = self_influence_all(model, theta_hat, x, y, None, KAPPA)
    assert check.positive_definite
    o = Oracle(model, x, y)
    H = o.H(theta_hat)
    ref = [float(o.g(theta_hat, j) @ torch.linalg.solve(H, o.g(theta_hat, j))) for j in range(len(x))]
    np.testing.assert_allclose(s, ref, rtol=1e-8)


@pytest.mark.parametrize("eps", [1.0, 0.3, 0.0])
def test_tangent_against_autograd(fitted, eps):
    """θ'(ε) = −(∇²L_{w(ε)})⁻¹ ∇ℓ_j / n with w_j = ε (docs/science.md §2), at θ̂ and at θ^s."""
    model, x, y, theta_s, theta_hat = fitted
    j, n = 6, len(x)
    o = Oracle(model, x, y)
    w = torch.ones(n, dtype=torch.float64)
    w[j] = eps
    for th in (theta_hat, theta_s):
        ref = -torch.linalg.solve(o.H(th, w), o.g(th, j)) / n
        _close(tangent(model, th, x, y, None, KAPPA, j, eps), ref.numpy())
    batch = tangent(model, np.stack([theta_hat, theta_s]), x, y, None, KAPPA, j, np.array([eps, eps]))
    _close(batch[1], (-torch.linalg.solve(o.H(theta_s, w), o.g(theta_s, j)) / n).numpy())
    if eps == 1.0:  # at a stationary θ̂, θ'(1) = −Δθ_IF
        est = influence_estimates(model, theta_hat, x, y, None, KAPPA, j, 0.01)
        _close(tangent(model, theta_hat, x, y, None, KAPPA, j, 1.0), -est.delta_if)


def test_predicted_query_loss_change_against_autograd(fitted):
    model, x, y, _, theta_hat = fitted
    rng = np.random.default_rng(6)
    xq, yq = rng.uniform(-2, 2, 4), rng.normal(size=4)
    delta = rng.normal(size=(2, model.n_params))
    got = predicted_query_loss_change(model, theta_hat, xq, yq, delta)
    o = Oracle(model, x, y)
    for q in range(4):
        gq = jacrev(lambda t, q=q: 0.5 * (o.f(t, torch.tensor(xq))[q] - yq[q]) ** 2)(torch.tensor(theta_hat))
        np.testing.assert_allclose(got[:, q], delta @ gq.numpy(), rtol=1e-10, atol=1e-14)
    assert got.shape == (2, 4)
    assert predicted_query_loss_change(model, theta_hat, xq, yq, delta[0]).shape == (4,)


def test_gnh_influence_iterative_solvers_converge_to_direct(fitted):
    model, x, y, theta_s, _ = fitted
    js = np.arange(len(x))
    direct, cg, info = gnh_influence(model, theta_s, x, y, None, KAPPA, js, 0.01, "cg", 100)
    np.testing.assert_allclose(cg, direct, rtol=1e-8, atol=1e-12)
    _, lissa, info = gnh_influence(model, theta_s, x, y, None, KAPPA, js, 0.1, "lissa", 3000)
    direct01, _, _ = gnh_influence(model, theta_s, x, y, None, KAPPA, js, 0.1, "direct")
    np.testing.assert_allclose(lissa, direct01, rtol=1e-8, atol=1e-12)
    # the defaults leave a visible solver error
    _, cg5, info = gnh_influence(model, theta_s, x, y, None, KAPPA, js, 0.01, "cg")
    assert info.budget == DEFAULT_BUDGET["cg"] and np.abs(cg5 - direct).max() > 0


# --------------------------------------------------------------------------------------------------
# Not positive definite
# --------------------------------------------------------------------------------------------------


def test_indefinite_hessian_is_flagged_and_pseudo_inverse_used():
    """At a random θ with κ = 0, H has negative eigenvalues: flag, message with the smallest eigenvalue, and
    Δθ_IF = (1/n) H⁺ g_j (autograd Hessian, numpy pinv)."""
    model, x, y = teacher_problem(seed=3)
    theta = np.random.default_rng(7).normal(size=model.n_params)
    o = Oracle(model, x, y, kappa=0.0)
    H = o.H(theta).numpy()
    lo = np.linalg.eigvalsh(H)[0]
    assert lo < 0
    j = 3
    est = influence_estimates(model, theta, x, y, None, 0.0, j, damping=0.0)
    assert not est.if_valid and est.if_method == "pinv"
    assert est.hessian.min_eigenvalue == pytest.approx(lo, rel=1e-8)
    msg = "\n".join(est.warnings)
    assert "H is not positive definite" in msg
    mant, exp = f"{lo:.1e}".split("e")
    assert f"smallest eigenvalue {mant}e{int(exp)}" in msg
    _close(est.delta_if, np.linalg.pinv(H, rcond=1e-12, hermitian=True) @ o.g(theta, j).numpy() / len(x))
    # damped fallback: H + λI when that is positive definite
    lam = -lo + 0.1
    est_d = influence_estimates(model, theta, x, y, None, 0.0, j, damping=lam, if_fallback="damped")
    assert est_d.if_method == "damped" and not est_d.if_valid
    _close(est_d.delta_if, np.linalg.solve(H + lam * np.eye(len(theta)), o.g(theta, j).numpy()) / len(x))


def test_linear_model_if_against_closed_form():
    """OLS (feature model, κ = 0): Δθ_IF = −(XᵀX)⁻¹ x_j e_j (docs/science.md §6) and one Newton step is exact."""
    rng = np.random.default_rng(8)
    model = LinearFeatures(2)
    x = rng.uniform(-1, 1, 15)
    y = rng.normal(size=15)
    X = model.features(x)
    theta = np.linalg.lstsq(X, y, rcond=None)[0]
    e = y - X @ theta
    j = 5
    est = influence_estimates(model, theta, x, y, None, 0.0, j, 0.0)
    # g_j = (f_j − y_j) x_j = −e_j x_j; Δθ_IF = (1/n)(XᵀX/n)⁻¹ g_j = −(XᵀX)⁻¹ x_j e_j
    np.testing.assert_allclose(est.delta_if, -np.linalg.solve(X.T @ X, X[j] * e[j]), rtol=1e-10)
    # one Newton step is exact for OLS: the LOO least-squares solution
    keep = np.arange(15) != j
    loo = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
    np.testing.assert_allclose(est.theta_newton, loo, rtol=1e-9)


def test_bad_inputs():
    model, x, y = teacher_problem()
    th = model.init_params(0)
    with pytest.raises(ValueError, match="out of range"):
        influence_estimates(model, th, x, y, None, KAPPA, 20, 0.01)
    with pytest.raises(ValueError, match="damping"):
        influence_estimates(model, th, x, y, None, KAPPA, 0, -1.0)
    with pytest.raises(ValueError, match="unknown solver"):
        influence_estimates(model, th, x, y, None, KAPPA, 0, 0.01, solver="bfgs")


@settings(max_examples=40, deadline=None)
@given(d=st.integers(1, 8), seed=st.integers(0, 2**31 - 1), log_cond=st.floats(0.0, 4.0))
def test_solvers_agree_on_random_spd_systems(d, seed, log_cond):
    """Property: on random SPD systems, Cholesky = numpy solve; CG with budget 3d and LiSSA with a long series
    converge to it (error bounds from the condition number)."""
    rng = np.random.default_rng(seed)
    A = _spd(rng, d, 10.0**-log_cond, 1.0)
    v = rng.normal(size=d)
    ref = np.linalg.solve(A, v)
    x, _ = solve_direct(A, v)
    np.testing.assert_allclose(x, ref, rtol=1e-9, atol=1e-9 * np.linalg.norm(ref))
    xc, _ = solve_cg(A, v, tol=1e-14, max_iter=3 * d)
    assert np.linalg.norm(xc - ref) <= 1e-6 * np.linalg.norm(ref)
    if log_cond <= 1.5:  # LiSSA needs ~ s/λ_min · log(1/tol) terms
        xl, _ = solve_lissa(A, v, depth=2000)
        assert np.linalg.norm(xl - ref) <= 1e-8 * np.linalg.norm(ref)
