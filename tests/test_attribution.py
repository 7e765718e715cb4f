"""core.attribution.methods against independent references: one-at-a-time retraining, autograd Hessian solves,
statsmodels, exact Shapley by enumeration, the exact Gaussian posterior of a linear model, hand loops and
scipy.stats. Fixed seeds, small budgets."""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from core.attribution.methods import (
    BIFConfig,
    Query,
    ShapleyConfig,
    ShapleyResult,
    agreement,
    attribution_table,
    bif_sgld,
    deletion_effects,
    detection_curve,
    detection_direction,
    effective_sample_size,
    exact_shapley,
    group_weights,
    pearson,
    rankdata,
    resolve_methods,
    soft_weight_estimates,
    spearman,
    split_rhat,
    split_validation,
    stagewise_influence,
    teacher_validation,
    tmc_shapley,
    top_k_overlap,
    tracin,
    tracin_weights,
    training_utility,
)
from core.deletion.influence import influence_estimates, newton_estimate
from core.linear import ols_fit
from core.model import LinearFeatures, MLPSpec
from core.objective import newton_solve, training_objective
from core.points.dataset import make_preset
from core.problem import Problem, default_problem, fit
from core.progress import drive
from core.train import TrainConfig, polish, train_models


def small_problem(n=12, steps=1500, preset="teacher", **kw):
    return Problem(make_preset(preset, n=n, **kw), config=TrainConfig(lr=0.1, steps=steps, weight_decay=1e-3))


@pytest.fixture(scope="module")
def teacher12():
    p = small_problem()
    return p, fit(p)


# --------------------------------------------------------------------------------------------------
# exact LOO: batched = one at a time
# --------------------------------------------------------------------------------------------------


def test_batched_loo_equals_one_at_a_time(teacher12):
    p, f = teacher12
    x, y = p.data.x, p.data.y
    n = x.size
    unpolished = Problem(p.data, p.model, p.config, converge=False)
    f_s = fit(unpolished)
    t_raw = drive(attribution_table(unpolished, f_s, methods="loo"))
    t_pol = drive(attribution_table(p, f, methods="loo"))
    for j in range(n):
        w = np.ones(n)
        w[j] = 0.0
        raw = train_models(p.model, f.theta0, x, y, w, p.config).theta[0]
        np.testing.assert_allclose(t_raw.thetas["loo_cold"][j], raw, rtol=0, atol=1e-12)
        pol = polish(p.model, raw, x, y, w, p.kappa).theta[0]
        np.testing.assert_allclose(t_pol.thetas["loo_cold"][j], pol, rtol=0, atol=1e-8)
        warm = newton_solve(training_objective(p.model, x, y, w, p.kappa), f.theta_s).theta[0]
        np.testing.assert_allclose(t_pol.thetas["loo_warm"][j], warm, rtol=0, atol=1e-8)

        # the column is the change of the deleted point's own loss (query "self")
        def ell(th, j=j):
            return 0.5 * (p.model.predict(th, x[j : j + 1])[0, 0] - y[j]) ** 2

        assert t_pol.columns["loo_cold"][j] == pytest.approx(ell(pol) - ell(f.theta_hat), abs=1e-10)
        assert t_raw.columns["loo_cold"][j] == pytest.approx(ell(raw) - ell(f_s.theta_hat), abs=1e-12)


# --------------------------------------------------------------------------------------------------
# IF, self-influence, queries: against torch autograd
# --------------------------------------------------------------------------------------------------


def torch_reference(model, theta, x, y, kappa, xq, yq):
    """s_i, the IF query prediction ∇ℓ_qᵀ H⁻¹ g_i / n, by torch.func.hessian on the torch.nn.Sequential."""
    net = model.to_torch_sequential(theta)
    names = [k for k, _ in net.named_parameters()]
    shapes = [v.shape for _, v in net.named_parameters()]
    X = torch.as_tensor(x)[:, None]
    Y = torch.as_tensor(y)
    Xq = torch.as_tensor(np.atleast_1d(xq))[:, None]
    Yq = torch.as_tensor(np.atleast_1d(yq))

    def unflat(v):
        out, k = {}, 0
        for name, sh in zip(names, shapes):
            m = int(np.prod(sh))
            out[name] = v[k : k + m].reshape(sh)
            k += m
        return out

    def f(v, inp):
        return torch.func.functional_call(net, unflat(v), (inp,))[:, 0]

    def L(v):
        return 0.5 * torch.mean((f(v, X) - Y) ** 2) + 0.5 * kappa * torch.sum(v * v)

    v0 = torch.as_tensor(np.asarray(theta, dtype=np.float64))
    H = torch.func.hessian(L)(v0)
    gi = torch.func.jacrev(lambda v: 0.5 * (f(v, X) - Y) ** 2)(v0)  # (n, d)
    gq = torch.func.grad(lambda v: torch.mean(0.5 * (f(v, Xq) - Yq) ** 2))(v0)
    sol = torch.linalg.solve(H, gi.T).T
    s = torch.einsum("nd,nd->n", gi, sol).numpy()
    return s, (sol @ gq).numpy() / x.size


def test_if_and_self_influence_against_autograd_hessian(teacher12):
    p, f = teacher12
    x, y = p.data.x, p.data.y
    n = x.size
    s_ref, _ = torch_reference(p.model, f.theta_hat, x, y, p.kappa, x[0], y[0])
    t = drive(attribution_table(p, f, methods="if,self_influence"))
    np.testing.assert_allclose(t.columns["self_influence"], s_ref, rtol=1e-8)
    np.testing.assert_allclose(t.columns["if"], s_ref / n, rtol=1e-8)  # self query: g_iᵀ Δθ_IF = s_i / n
    q = 5
    _, pred = torch_reference(p.model, f.theta_hat, x, y, p.kappa, x[q], y[q])
    tq = drive(attribution_table(p, f, methods="if", query=Query("point", index=q)))
    np.testing.assert_allclose(tq.columns["if"], pred, rtol=1e-8)
    val = teacher_validation(p.data, 30)
    _, pred_v = torch_reference(p.model, f.theta_hat, x, y, p.kappa, val.x, val.y)
    tv = drive(attribution_table(p, f, methods="if", query=Query("validation", validation=val)))
    np.testing.assert_allclose(tv.columns["if"], pred_v, rtol=1e-8)


def test_effect_columns_follow_their_definitions(teacher12):
    p, f = teacher12
    x, y = p.data.x, p.data.y
    t = drive(attribution_table(p, f, methods="fast", damping=1e-2))
    q = Query()
    # PBRF is measured from θ^s, Newton and the IFs from θ̂
    np.testing.assert_allclose(
        t.columns["pbrf"], deletion_effects(p.model, t.thetas["pbrf"], f.theta_s, x, y, q), atol=1e-15
    )
    th_nt, _ = newton_estimate(p.model, f.theta_hat, x, y, None, p.kappa, np.arange(x.size))
    np.testing.assert_allclose(
        t.columns["newton"], deletion_effects(p.model, th_nt, f.theta_hat, x, y, q), atol=1e-12
    )
    est = influence_estimates(p.model, f.theta_hat, x, y, None, p.kappa, np.arange(x.size), 1e-2)
    g = p.model.per_example_grads(f.theta_hat, x, y)[0]
    np.testing.assert_allclose(t.columns["if_gnh"], np.einsum("nd,nd->n", g, est.delta_gnh), rtol=1e-10)
    # a converged deletion effect on a point's own loss is positive; the IF tracks LOO here
    assert (t.columns["loo_cold"] > 0).all()
    assert spearman(t.columns["if"], t.columns["loo_cold"]) > 0.8
    assert list(t.columns)[:2] == ["loo_cold", "loo_warm"] and "self_influence" in t.columns


# --------------------------------------------------------------------------------------------------
# OLS diagnostics against statsmodels
# --------------------------------------------------------------------------------------------------


def test_ols_columns_against_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.stats.outliers_influence import OLSInfluence

    data = make_preset("outliers", n=15, seed=2)
    p = Problem(data, LinearFeatures(1), TrainConfig(lr=0.1, steps=500, weight_decay=0.0))
    f = fit(p)
    t = drive(attribution_table(p, f, methods="loo,if,newton,ols,leverage"))
    X = p.model.features(data.x)
    infl = OLSInfluence(sm.OLS(data.y, X).fit())
    np.testing.assert_allclose(t.columns["cooks_distance"], infl.cooks_distance[0], rtol=1e-9)
    np.testing.assert_allclose(t.columns["dfbetas_0"], infl.dfbetas[:, 0], rtol=1e-9)
    np.testing.assert_allclose(t.columns["dfbetas_1"], infl.dfbetas[:, 1], rtol=1e-9)
    np.testing.assert_allclose(t.columns["studentized_residual"], infl.resid_studentized_external, rtol=1e-9)
    np.testing.assert_allclose(t.columns["leverage"], infl.hat_matrix_diag, rtol=1e-9)
    # exact LOO in closed form: e_i² / (1 − h)² change of the own loss; Newton is exact for a quadratic loss
    e, h = infl.resid, infl.hat_matrix_diag
    loo = 0.5 * (e / (1 - h)) ** 2 - 0.5 * e**2
    np.testing.assert_allclose(t.columns["loo_cold"], loo, rtol=1e-7)
    np.testing.assert_allclose(t.columns["newton"], loo, rtol=1e-7)
    # the IF misses the 1/(1 − h) factor: ∇ℓ_iᵀΔθ_IF = e_i² h_i
    np.testing.assert_allclose(t.columns["if"], e**2 * h, rtol=1e-7)
    det = t.detection()
    assert det["cooks_distance"].direction == "desc" and det["studentized_residual"].direction == "abs"


# --------------------------------------------------------------------------------------------------
# Data Shapley
# --------------------------------------------------------------------------------------------------


def ridge_utility(n=7, kappa=0.05, seed=4):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, n))
    y = 0.5 + x + 0.3 * rng.standard_normal(n)
    y[2] += 2.0  # one bad label
    X = np.stack([np.ones(n), x], axis=1)
    xv = np.linspace(-2, 2, 25)
    Xv = np.stack([np.ones(25), xv], axis=1)
    yv = 0.5 + xv

    def V(masks):
        th = ols_fit(X, y, kappa, weights=np.asarray(masks, dtype=float))
        return -np.mean((th @ Xv.T - yv) ** 2, axis=1)

    return V


def shapley_by_permutations(V, n):
    """The definition: the average marginal contribution over all n! orders (with a per-subset cache)."""
    cache = {}

    def v(S):
        key = frozenset(S)
        if key not in cache:
            m = np.zeros((1, n), bool)
            m[0, list(S)] = True
            cache[key] = float(V(m)[0])
        return cache[key]

    margs = []
    for perm in itertools.permutations(range(n)):
        row = np.zeros(n)
        for k, i in enumerate(perm):
            row[i] = v(perm[: k + 1]) - v(perm[:k])
        margs.append(row)
    margs = np.array(margs)
    return margs.mean(axis=0), margs.std(axis=0)


def test_exact_shapley_enumeration_matches_definition():
    V = ridge_utility()
    phi, _ = shapley_by_permutations(V, 7)
    np.testing.assert_allclose(drive(exact_shapley(V, 7)), phi, atol=1e-13)
    assert np.argmin(phi) == 2  # the corrupted point has the lowest value


@pytest.mark.parametrize("P", [100, 1600])
def test_tmc_shapley_against_exact_values(P):
    """Without truncation TMC is plain Monte Carlo over permutations: |φ̂_i − φ_i| ≤ 4 σ_i / √P with σ_i the
    exact standard deviation of point i's marginal over all orders (fixed seed)."""
    n = 7
    V = ridge_utility()
    phi, sigma = shapley_by_permutations(V, n)
    cfg = ShapleyConfig(max_permutations=P, min_permutations=P, truncation_tol=0.0, seed=1)
    res = drive(tmc_shapley(V, n, cfg))
    assert res.permutations == P
    assert np.all(np.abs(res.values - phi) <= 4 * sigma / math.sqrt(P))
    np.testing.assert_allclose(res.se, sigma / math.sqrt(P), rtol=0.35)  # its own standard errors
    # efficiency: every permutation's marginals telescope to V(D) − V(∅)
    assert res.values.sum() == pytest.approx(res.v_full - res.v_empty, abs=1e-12)


def test_tmc_truncation_bias_is_bounded():
    n = 7
    V = ridge_utility()
    phi, sigma = shapley_by_permutations(V, n)
    tol = 0.01
    res = drive(tmc_shapley(V, n, ShapleyConfig(400, 400, truncation_tol=tol, seed=2)))
    assert res.truncated_fraction > 0
    # each permutation loses at most tol·|V(D)| of the telescoping sum
    assert abs(res.values.sum() - (res.v_full - res.v_empty)) <= tol * abs(res.v_full)
    assert np.all(np.abs(res.values - phi) <= 4 * sigma / math.sqrt(400) + tol * abs(res.v_full))


def naive_tmc(V, n, P, tol, seed):
    rng = np.random.default_rng(seed)
    v_full = float(V(np.ones((1, n), bool))[0])
    v_empty = float(V(np.zeros((1, n), bool))[0])
    total = np.zeros(n)
    for _ in range(P):
        perm = rng.permutation(n)
        prev = v_empty
        for k in range(n):
            if tol > 0 and abs(v_full - prev) <= tol * abs(v_full):
                break
            m = np.zeros((1, n), bool)
            m[0, perm[: k + 1]] = True
            cur = float(V(m)[0])
            total[perm[k]] += cur - prev
            prev = cur
    return total / P


@pytest.mark.parametrize("block,batch", [(1, 1), (3, 4), (7, 32)])
def test_batched_tmc_equals_sequential_algorithm(block, batch):
    V = ridge_utility()
    cfg = ShapleyConfig(32, 32, truncation_tol=0.05, seed=3, block=block, batch_permutations=batch)
    res = drive(tmc_shapley(V, 7, cfg))
    np.testing.assert_allclose(res.values, naive_tmc(V, 7, 32, 0.05, 3), atol=1e-14)


def test_tmc_stopping_rule_and_partial_results():
    V = ridge_utility()
    cfg = ShapleyConfig(5000, 50, convergence_tol=0.05, convergence_window=50, truncation_tol=0.0, seed=0)
    partials = []
    res = drive(tmc_shapley(V, 7, cfg), lambda p: partials.append(p.partial))
    assert res.converged and res.permutations < 5000 and res.change < 0.05
    running = [r for r in partials if isinstance(r, ShapleyResult)]
    assert len(running) >= 2 and running[0].permutations < running[-1].permutations
    assert "stop when" in res.criterion


def test_training_utility_trains_the_subset_from_theta0(teacher12):
    p, f = teacher12
    val = teacher_validation(p.data, 20)
    U = training_utility(p, val, steps=300)
    masks = np.zeros((3, p.data.n), bool)
    masks[1, :4] = True
    masks[2] = True
    got = drive(U(masks))
    for m, v in zip(masks, got):
        th = train_models(p.model, f.theta0, p.data.x, p.data.y, m.astype(float), p.config, steps=300).theta
        assert v == pytest.approx(-np.mean((p.model.predict(th, val.x)[0] - val.y) ** 2), abs=1e-13)
    # V(∅): θ_0 shrunk by the weight decay
    th_empty = f.theta0 * (1 - p.config.lr * p.kappa) ** 300
    assert got[0] == pytest.approx(-np.mean((p.model.predict(th_empty, val.x)[0] - val.y) ** 2), rel=1e-10)


# --------------------------------------------------------------------------------------------------
# Bayesian influence function
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["self", "point"])
def test_bif_on_linear_model_against_exact_gaussian_and_laplace(kind):
    """On a linear model the localised posterior is Gaussian; SGLD's stationary law is then exactly
    N(θ̂, C) with C = Q diag(1/(a(1 − ηa/4))) Qᵀ for A = nβH + γI = Q diag(a) Qᵀ, and
    Cov(ℓ_i, ℓ_q) = r_i r_q x_iᵀCx_q + ½(x_iᵀCx_q)². The SGLD estimate must match it within its Monte-Carlo
    error, and the Laplace approximation −∇ℓ_qᵀA⁻¹∇ℓ_i within that error plus their known gap."""
    d = make_preset("linear", n=20, noise=0.5, seed=3)
    x, y, n = d.x, d.y, 20
    model = LinearFeatures(1)
    X = model.features(x)
    theta = ols_fit(X, y)
    q = Query() if kind == "self" else Query("point", index=3)
    beta, gamma = 100.0, 20.0
    res = drive(
        bif_sgld(model, theta, x, y, None, 0.0, q, BIFConfig(8, beta, gamma, steps=20000, thin=10, seed=1))
    )
    a, Q = np.linalg.eigh(n * beta * X.T @ X / n + gamma * np.eye(2))
    C = (Q / (a * (1 - res.step_size * a / 4))) @ Q.T
    r = X @ theta - y
    K = X @ C @ X.T
    cov = (
        r * r * np.diag(K) + 0.5 * np.diag(K) ** 2
        if kind == "self"
        else r * r[3] * K[:, 3] + 0.5 * K[:, 3] ** 2
    )
    exact = -cov
    mc = np.linalg.norm(res.se)
    err_exact = np.linalg.norm(res.bif - exact)
    err_laplace = np.linalg.norm(res.bif - res.laplace)
    gap = np.linalg.norm(exact - res.laplace)  # Langevin discretisation + the quadratic term
    rel = err_laplace / np.linalg.norm(res.laplace)
    print(
        f"BIF ({kind}) relative error vs Laplace {rel:.3f}, vs exact {err_exact / np.linalg.norm(exact):.3f}"
    )
    assert err_exact <= 3 * mc
    assert err_laplace <= 3 * mc + gap
    assert rel < 0.08  # measured 0.020 (self) and 0.044 (point)
    assert res.rhat < 1.01 and res.ess > 1000
    assert np.all(np.abs(res.bif - exact) <= 5 * res.se)
    np.testing.assert_allclose(res.table_column, -beta * res.bif)


def test_bif_defaults_work_on_the_default_problem():
    """Default BIFConfig on the default problem: the chains mix and the BIF ranks points like exact LOO."""
    p = default_problem()
    f = fit(p)
    res = drive(bif_sgld(p.model, f.theta_hat, p.data.x, p.data.y, None, p.kappa, Query()))
    assert res.gamma == pytest.approx(0.1 * 20 * 100) and res.chains == 8 and res.draws == 2000
    assert res.rhat < 1.01 and res.rhat_max < 1.05 and res.ess > 1000  # measured 1.0004, 1.016, 2089
    loo = drive(attribution_table(p, f, methods="loo_cold")).columns["loo_cold"]
    assert spearman(res.table_column, loo) > 0.9  # measured 0.953


def test_split_rhat_and_ess_on_known_chains():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((4, 4000))
    assert split_rhat(iid) < 1.01
    assert effective_sample_size(iid) == pytest.approx(16000, rel=0.1)
    shifted = iid + np.arange(4)[:, None]
    assert split_rhat(shifted) > 1.5
    rho = 0.8
    ar = np.zeros((4, 20000))
    e = rng.standard_normal((4, 20000))
    for t in range(1, 20000):
        ar[:, t] = rho * ar[:, t - 1] + e[:, t]
    assert effective_sample_size(ar) == pytest.approx(80000 * (1 - rho) / (1 + rho), rel=0.15)


# --------------------------------------------------------------------------------------------------
# TracIn
# --------------------------------------------------------------------------------------------------


def test_tracin_against_hand_loop():
    p = small_problem(n=8, steps=60)
    f = fit(p, checkpoint_every=7)
    steps = np.array(f.training.checkpoint_steps)
    ck = np.concatenate(f.training.checkpoints)
    assert steps[0] == 0 and steps[-1] == 60
    q = 3
    got = tracin(p.model, ck, tracin_weights(steps, 0.1), p.data.x, p.data.y, Query("point", index=q))
    x = torch.as_tensor(p.data.x)[:, None]
    y = torch.as_tensor(p.data.y)
    want = np.zeros(8)
    for k in range(len(steps) - 1):
        net = p.model.to_torch_sequential(ck[k])
        eta = 0.1 * (steps[k + 1] - steps[k])
        grads = []
        for i in range(8):
            net.zero_grad()
            (0.5 * (net(x[i : i + 1])[0, 0] - y[i]) ** 2).backward()
            grads.append(torch.nn.utils.parameters_to_vector([t.grad for t in net.parameters()]).clone())
        for i in range(8):
            want[i] += eta * float(grads[i] @ grads[q])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_tracin_every_step_sums_to_the_query_loss_decrease():
    """With a checkpoint at every GD step, κ = 0 and a small step, Σ_i tracin_i / n telescopes to
    ℓ_q(θ_0) − ℓ_q(θ_T) up to O(η) (TracIn's defining identity)."""
    data = make_preset("teacher", n=10)
    p = Problem(data, MLPSpec((3,)), TrainConfig(lr=0.01, steps=300, weight_decay=0.0), converge=False)
    f = fit(p, checkpoint_every=1)
    q = Query("point", index=4)
    tr = tracin(
        p.model, np.concatenate(f.training.checkpoints), tracin_weights(f.training.checkpoint_steps, 0.01),
        data.x, data.y, q,
    )  # fmt: skip
    ell = lambda th: 0.5 * (p.model.predict(th, data.x[4:5])[0, 0] - data.y[4]) ** 2  # noqa: E731
    assert tr.sum() / 10 == pytest.approx(ell(f.theta0) - ell(f.theta_s), rel=0.02)


# --------------------------------------------------------------------------------------------------
# agreement metrics and detection curves
# --------------------------------------------------------------------------------------------------


def test_agreement_metrics_against_scipy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(30)
    b = a + 0.5 * rng.standard_normal(30)
    b[:5] = b[5]  # ties
    assert pearson(a, b) == pytest.approx(stats.pearsonr(a, b)[0], abs=1e-13)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-13)
    np.testing.assert_allclose(rankdata(b), stats.rankdata(b))
    ag = agreement(a, b, k=5)
    assert ag["pearson"] == pytest.approx(stats.pearsonr(a, b)[0], abs=1e-13) and ag["k"] == 5
    u = np.array([5.0, -9.0, 1.0, 0.0, 3.0])
    v = np.array([4.0, 1.0, -8.0, 0.5, 2.0])
    assert top_k_overlap(u, v, 2, "abs") == 0.5  # {1, 0} vs {2, 0}
    assert top_k_overlap(u, v, 2, "desc") == 1.0  # {0, 4} vs {0, 4}
    assert top_k_overlap(u, v, 1, "asc") == 0.0  # {1} vs {2}
    c = a.copy()
    c[3] = np.nan
    assert agreement(c, b)["n"] == 29


def test_detection_curve_on_a_toy_ranking():
    scores = np.array([0.9, 0.1, 0.8, 0.3])
    d = detection_curve(scores, [0, 3], "desc")
    np.testing.assert_array_equal(d.order, [0, 2, 3, 1])
    np.testing.assert_allclose(d.found, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(d.inspected, [0, 0.25, 0.5, 0.75, 1])
    assert d.auc == pytest.approx(0.625) and d.found_at_k == 0.5 and d.inspect_all == 0.75
    a = detection_curve(scores, [1], "asc")
    assert a.found_at_k == 1.0 and a.inspect_all == 0.25
    assert detection_curve(-scores, [0], "abs").order[0] == 0
    assert detection_direction("loo_cold", "self") == "desc"
    assert detection_direction("if", "validation") == "asc"
    assert detection_direction("shapley", "self") == "asc"
    assert detection_direction("self_influence", "validation") == "desc"


# --------------------------------------------------------------------------------------------------
# soft weights, groups, stagewise, tables
# --------------------------------------------------------------------------------------------------


def test_soft_weights_linear_newton_is_exact_and_if_is_first_order():
    data = make_preset("outliers", n=15, seed=1)
    p = Problem(data, LinearFeatures(1), TrainConfig(lr=0.1, steps=3000, weight_decay=0.0))
    f = fit(p)
    errs = []
    for eps in (0.2, 0.1):
        w = np.ones(15)
        w[list(data.corrupted)] = 1 - eps
        r = drive(soft_weight_estimates(p, f, w))
        exact = ols_fit(p.model.features(data.x), data.y, 0.0, weights=w)
        np.testing.assert_allclose(r.theta_newton[0], exact, atol=1e-10)
        np.testing.assert_allclose(r.theta_warm[0], exact, atol=1e-10)
        np.testing.assert_allclose(r.theta_cold[0], exact, atol=1e-9)
        errs.append(np.linalg.norm(r.theta_if[0] - exact))
    assert errs[0] / errs[1] == pytest.approx(4.0, rel=0.15)  # second-order error


def test_group_weights_reduce_to_single_deletion_estimates(teacher12):
    p, f = teacher12
    x, y = p.data.x, p.data.y
    W = group_weights(x.size, [[2], [7]])
    r = drive(soft_weight_estimates(p, f, W, cold=False))
    est = influence_estimates(p.model, f.theta_hat, x, y, None, p.kappa, np.array([2, 7]), 1e-3)
    np.testing.assert_allclose(r.theta_if, est.theta_if, atol=1e-12)
    np.testing.assert_allclose(r.theta_newton, est.theta_newton, atol=1e-10)
    assert np.all(r.grad_norm_warm <= 1e-10)
    g = drive(soft_weight_estimates(p, f, group_weights(x.size, [[2, 7]])))
    assert g.function_distance["cold"][0] == 0.0 and g.function_distance["newton"][0] < 0.05


def test_stagewise_influence_along_training():
    p = Problem(make_preset("teacher", n=10), config=TrainConfig(lr=0.1, steps=400, weight_decay=1e-3))
    ifs = drive(stagewise_influence(p, "if", every=100))
    np.testing.assert_array_equal(ifs.steps, [0, 100, 200, 300, 400])
    np.testing.assert_allclose(ifs.times, ifs.steps * 0.1)
    early = Problem(p.data, p.model, p.config, converge=False)
    t = drive(attribution_table(early, methods="if,tracin", tracin_every=1))
    np.testing.assert_allclose(ifs.values[-1], t.columns["if"], rtol=1e-10)
    tr = drive(stagewise_influence(p, "tracin", every=100))
    np.testing.assert_allclose(tr.values[-1], t.columns["tracin"], rtol=1e-12)
    assert np.all(tr.values[0] == 0)
    bif = drive(stagewise_influence(p, "bif", every=200, bif=BIFConfig(chains=2, steps=400, thin=10)))
    assert bif.values.shape == (3, 10) and np.isfinite(bif.values).all()


def test_table_with_everything_on_outliers_and_partial_results():
    p = small_problem(n=12, steps=400, preset="outliers")
    partials = []
    t = drive(
        attribution_table(
            p,
            methods="all",
            query=Query("validation", validation=teacher_validation(p.data, 30)),
            shapley=ShapleyConfig(max_permutations=6, batch_permutations=3, seed=0),
            bif=BIFConfig(chains=2, steps=400, thin=10),
        ),
        lambda pr: partials.append(pr.partial),
    )
    assert list(t.columns) == [
        "loo_cold", "loo_warm", "if", "if_gnh", "pbrf", "newton", "self_influence", "leverage", "tracin",
        "bif", "bif_se", "shapley", "shapley_se",
    ]  # fmt: skip
    assert all(np.isfinite(c).all() for c in t.columns.values())
    with_shapley = [s for s in partials if s is not None and "shapley" in s.columns]
    assert len(with_shapley) >= 2 and with_shapley[0].info.get("shapley") is None
    doc = t.to_json()
    assert set(doc["detection"]) >= {"loo_cold", "shapley"} and doc["reference"] == "loo_cold"
    assert doc["detection"]["shapley"]["direction"] == "asc" and doc["detection"]["if"]["direction"] == "asc"
    header = t.to_csv_text().splitlines()[0].split(",")
    assert header[:4] == ["index", "x", "y", "corrupted"]


def test_split_validation_and_method_resolution():
    data = make_preset("outliers", n=20)
    tr, val, keep = split_validation(data, holdout=[0, data.corrupted[0]])
    assert tr.n == 18 and val.x.size == 2 and len(tr.corrupted) == len(data.corrupted) - 1
    assert [keep[c] for c in tr.corrupted] == list(data.corrupted[1:])
    _, val2, keep2 = split_validation(data, fraction=0.25, seed=1)
    assert val2.x.size == 5 and keep2.size == 15
    assert resolve_methods("fast", MLPSpec()) == [
        "loo_cold", "loo_warm", "if", "if_gnh", "pbrf", "newton", "self_influence", "leverage", "tracin",
    ]  # fmt: skip
    assert "ols" in resolve_methods("all", LinearFeatures(1))
    for bad in ("nope", "ols", ""):
        with pytest.raises(ValueError):
            resolve_methods(bad, MLPSpec())
