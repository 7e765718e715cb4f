"""The benchmark's fast paths give the same numbers as simple ones. No timing is asserted here: each
core scenario's "ours" function of benchmarks/run.py runs on a tiny budget and is compared with a plain
computation (one training run per model, a dense solve, a sequential TMC loop, plain gradient descent). The
torch baselines are not run here (importing torch alone takes seconds); the benchmark checks on every run that
they agree with ours (its ``agreement`` column)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmarks import run as bench
from core.attribution.methods import teacher_validation
from core.deletion.eps_path import eps_weights
from core.deletion.influence import influence_estimates
from core.model import MLPSpec
from core.points.dataset import make_preset
from core.problem import Problem, default_problem, fit
from core.train import polish, train_models


@pytest.fixture(scope="module")
def fitted():
    p = default_problem()
    return p, fit(p)


def test_homotopy_columns_equal_single_training_runs(fitted):
    p, f = fitted
    steps, every = 120, 12
    hom = bench.ours_homotopy(p, f, j=3, n_eps=5, steps=steps, n_snapshots=steps // every)
    assert hom.theta.shape == (steps // every + 1, 5, p.model.n_params)
    for e in (0, 2, 4):
        w = eps_weights(p.weights(), [3], [hom.eps[e]])[0]
        single = train_models(
            p.model, f.theta0, p.data.x, p.data.y, w, p.config, steps=steps, checkpoint_every=every
        )
        np.testing.assert_allclose(np.concatenate(single.checkpoints), hom.theta[:, e], rtol=0, atol=1e-13)


def test_eps_path_points_are_stationary_and_start_along_the_influence(fitted):
    p, f = fitted
    x, y, w = p.data.x, p.data.y, p.weights()
    path = bench.ours_eps_path(p, f, j=3, n_points=11)
    assert path.complete[0]
    for k, e in enumerate(path.eps):
        _, g = p.model.loss_and_grad(path.theta[0, k], x, y, eps_weights(w, [3], [e]), p.kappa)
        assert np.linalg.norm(g) <= 1e-10
    inf = influence_estimates(p.model, f.theta_hat, x, y, w, p.kappa, 3, bench.DAMPING, solver="direct")
    np.testing.assert_allclose(path.tangent_at_1[0], -inf.delta_if, rtol=1e-8, atol=1e-12)


def test_one_deletion_matches_a_retrain_and_a_dense_solve(fitted):
    p, f = fitted
    x, y, w = p.data.x, p.data.y, p.weights()
    n, j = p.data.n, 3
    est = bench.ours_deletion(p, f, j=j)
    wm = w.copy()
    wm[j] = 0.0
    tr = train_models(p.model, f.theta0, x, y, wm, p.config)
    cold = polish(p.model, tr.theta[0], x, y, wm, p.kappa).theta[0]
    np.testing.assert_allclose(est.loo_cold.theta, cold, rtol=0, atol=1e-8)
    H = p.model.hessian(f.theta_hat, x, y, w, p.kappa)[0]
    g = p.model.per_example_grads(f.theta_hat, x[[j]], y[[j]])[0, 0]
    np.testing.assert_allclose(
        est.if_exact.theta, f.theta_hat + np.linalg.solve(H, g) / n, rtol=0, atol=1e-12
    )


def test_batched_loo_equals_one_point_at_a_time(fitted):
    p, f = fitted
    small = replace(p, config=replace(p.config, steps=300))
    js = [0, 4, 9]
    batched = bench.ours_loo_all(small, f, js=js)
    assert batched.converged.all()
    for k, j in enumerate(js):
        single = bench.ours_loo_all(small, f, js=[j])
        np.testing.assert_allclose(batched.theta[k], single.theta[0], rtol=0, atol=1e-9)


def _sequential_tmc(problem, validation, permutations, tol=0.01, seed=0):
    """Plain TMC-Shapley: one training run per prefix, permutation after permutation."""
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    n = x.size
    cfg = replace(problem.config, checkpoint_every=0)

    def V(mask):
        th = train_models(problem.model, problem.theta0(), x, y, mask * w, cfg).theta
        return -float(np.mean((problem.model.predict(th, validation.x)[0] - validation.y) ** 2))

    v_empty, v_full = V(np.zeros(n)), V(np.ones(n))
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    for _ in range(permutations):
        perm = rng.permutation(n)
        mask, prev, truncated = np.zeros(n), v_empty, False
        for i in perm:
            if truncated or abs(v_full - prev) <= tol * abs(v_full):
                truncated = True
                continue
            mask[i] = 1.0
            v = V(mask)
            total[i] += v - prev
            prev = v
    return total / permutations


def test_batched_tmc_shapley_equals_the_sequential_algorithm():
    p = Problem(data=make_preset("teacher", n=6))
    p = replace(p, config=replace(p.config, steps=80))
    val = teacher_validation(p.data)
    res = bench.ours_shapley(p, permutations=4, validation=val)
    assert res.permutations == 4
    np.testing.assert_allclose(res.values, _sequential_tmc(p, val, 4), rtol=0, atol=1e-12)


def test_scale_scenarios_on_a_small_network():
    sp = Problem(data=make_preset("teacher", n=40), model=MLPSpec((4, 4), "tanh"))
    x, y, w = sp.data.x, sp.data.y, sp.weights()
    res = bench.ours_scale_gd(sp, steps=60)
    # plain gradient descent, one step at a time, on the same loss
    th = sp.theta0().copy()
    for _ in range(60):
        th = th - sp.config.lr * sp.model.grad(th, x, y, w, sp.kappa)[0]
    np.testing.assert_allclose(res.theta[0], th, rtol=0, atol=1e-12)
    th = res.theta[0]
    delta, s, _ = bench.ours_influence_all(sp.model, th, x, y, w, sp.kappa)
    H = sp.model.hessian(th, x, y, w, sp.kappa)[0]
    G = sp.model.per_example_grads(th, x, y)[0]
    dense = np.linalg.solve(H, G.T).T
    scale = np.abs(dense).max()
    np.testing.assert_allclose(delta, dense / x.size, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(s, np.einsum("nd,nd->n", G, dense), rtol=1e-8)


def test_flop_counter_counts_and_restores():
    p = default_problem()
    orig = MLPSpec.loss_and_grad
    with bench.FlopCounter() as fc:
        p.model.loss_and_grad(np.zeros((2, p.model.n_params)), p.data.x, p.data.y)
        np.linalg.eigh(np.eye(4))
    assert MLPSpec.loss_and_grad is orig
    assert fc.flops == pytest.approx(2 * 6 * p.model.n_params * p.data.n + 4 * 4**3)
