"""ε-path, cold path and homotopy (docs/science.md §2, §4) against independent computations."""

import numpy as np
import pytest
import torch
from torch.func import hessian, jacrev

from core.deletion.eps_path import cold_path, continuation_path, eps_weights, homotopy
from core.model import MLPSpec
from core.progress import drive
from core.train import TrainConfig, polish, train_models

KAPPA = 1e-3


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(1)
    model = MLPSpec((3,), "tanh")
    x = np.sort(rng.uniform(-2, 2, 20))
    y = model.predict(rng.normal(size=10) * 1.5, x)[0] + 0.1 * rng.normal(size=20)
    theta0 = model.init_params(0)
    cfg = TrainConfig(lr=0.1, steps=2000, weight_decay=KAPPA)
    trained = train_models(model, theta0, x, y, None, cfg)
    theta_hat = polish(model, trained.theta, x, y, None, KAPPA).theta[0]
    return model, x, y, theta0, theta_hat, cfg


def _torch_loss(model, x, y, w):
    net = model.to_torch_sequential(np.zeros(model.n_params))
    shapes = [(name, p.shape) for name, p in net.named_parameters()]
    xt, yt, wt = torch.tensor(x)[:, None], torch.tensor(y), torch.tensor(w)

    def loss(t):
        params, o = {}, 0
        for name, shape in shapes:
            size = int(np.prod(shape))
            params[name] = t[o : o + size].reshape(shape)
            o += size
        f = torch.func.functional_call(net, params, (xt,))[:, 0]
        return 0.5 * (wt * (f - yt) ** 2).sum() / len(x) + 0.5 * KAPPA * (t * t).sum()

    return loss


def test_continuation_points_are_stationary_and_tangents_match_autograd(problem):
    model, x, y, _, theta_hat, _ = problem
    j = 5
    path = drive(continuation_path(model, theta_hat, x, y, np.ones(20), KAPPA, [j], n_points=21))
    assert path.complete.all() and not path.messages
    assert np.nanmax(path.grad_norm) <= 1e-10
    for k in (0, 7, 20):
        e = path.eps[k]
        w = eps_weights(np.ones(20), [j], e)[0]
        loss = _torch_loss(model, x, y, w)
        t = torch.tensor(path.theta[0, k])
        # independent stationarity check
        assert np.linalg.norm(jacrev(loss)(t).numpy()) <= 1e-9
        # θ'(ε) = −H⁻¹ ∇ℓ_j / n with an autograd Hessian
        H = hessian(loss)(t).numpy()
        net = model.to_torch_sequential(path.theta[0, k])
        out = net(torch.tensor(x[[j]])[:, None])[0, 0]
        lj = 0.5 * (out - y[j]) ** 2
        gj = torch.autograd.grad(lj, list(net.parameters()))
        gj = torch.cat([g.flatten() for g in gj]).numpy()
        np.testing.assert_allclose(path.tangent[0, k], -np.linalg.solve(H, gj) / 20, atol=1e-8)


def test_tangent_matches_finite_differences_of_the_path(problem):
    model, x, y, _, theta_hat, _ = problem
    path = drive(continuation_path(model, theta_hat, x, y, np.ones(20), KAPPA, [3], n_points=2001))
    h = path.eps[0] - path.eps[1]
    k = 1000
    fd = (path.theta[0, k - 1] - path.theta[0, k + 1]) / (2 * h)
    np.testing.assert_allclose(path.tangent[0, k], fd, atol=1e-6)


def test_endpoint_is_the_retrained_model_and_batching_over_points(problem):
    model, x, y, theta0, theta_hat, cfg = problem
    js = [0, 5, 19]
    path = drive(continuation_path(model, theta_hat, x, y, np.ones(20), KAPPA, js, n_points=41))
    single = drive(continuation_path(model, theta_hat, x, y, np.ones(20), KAPPA, [5], n_points=41))
    np.testing.assert_allclose(path.theta[1], single.theta[0], atol=1e-12)
    # θ(0) is a stationary point of the leave-one-out loss, reached from θ̂ by an independent LM solve
    for b, j in enumerate(js):
        w = np.ones(20)
        w[j] = 0.0
        loo = polish(model, theta_hat, x, y, w, KAPPA)
        np.testing.assert_allclose(path.theta[b, -1], loo.theta[0], atol=1e-6)
    s = path.straightness()
    assert (s["relative_chord_distance"] >= 0).all() and np.isfinite(s["tangent_difference"]).all()


def test_straight_path_for_a_linear_model():
    """For a linear model the path is not straight in general, but the tangent formula is exact: check
    the closed form θ(ε) = (XᵀW(ε)X/n + κI)⁻¹ XᵀW(ε)y/n at every point."""
    from core.model import LinearFeatures

    rng = np.random.default_rng(0)
    model = LinearFeatures(1)
    x = rng.normal(size=12)
    y = 1 + 2 * x + rng.normal(size=12) * 0.3
    X = model.features(x)
    theta_hat = np.linalg.solve(X.T @ X / 12 + KAPPA * np.eye(2), X.T @ y / 12)
    path = drive(continuation_path(model, theta_hat, x, y, np.ones(12), KAPPA, [4], n_points=11))
    for k, e in enumerate(path.eps):
        w = np.ones(12)
        w[4] = e
        exact = np.linalg.solve((X.T * w) @ X / 12 + KAPPA * np.eye(2), (X.T * w) @ y / 12)
        np.testing.assert_allclose(path.theta[0, k], exact, atol=1e-12)


def test_cold_path_equals_individual_trainings(problem):
    model, x, y, theta0, _, cfg = problem
    cfg = TrainConfig(lr=0.1, steps=300, weight_decay=KAPPA)
    cp = drive(cold_path(model, theta0, x, y, np.ones(20), cfg, [2], n_points=5))
    for k, e in enumerate(cp.eps):
        w = np.ones(20)
        w[2] = e
        alone = train_models(model, theta0, x, y, w, cfg)
        np.testing.assert_allclose(cp.theta[0, k], alone.theta[0], atol=1e-12)


def test_homotopy_snapshots_match_the_trajectories(problem):
    model, x, y, theta0, _, _ = problem
    cfg = TrainConfig(lr=0.1, steps=400, weight_decay=KAPPA)
    hom = drive(homotopy(model, theta0, x, y, np.ones(20), cfg, j=7, n_eps=5, n_snapshots=8))
    assert hom.theta.shape == (9, 5, model.n_params)
    np.testing.assert_allclose(hom.times, hom.steps * 0.1)
    # the ε = 0 column at step 150 is 150 GD steps on D∖{z_7}
    w = np.ones(20)
    w[7] = 0.0
    k = list(hom.steps).index(150)
    alone = train_models(model, theta0, x, y, w, TrainConfig(lr=0.1, steps=150, weight_decay=KAPPA))
    np.testing.assert_allclose(hom.theta[k, -1], alone.theta[0], atol=1e-12)
    loss_j = hom.scalar(model, x, y, np.ones(20), KAPPA, "loss_j")
    r = model.predict(hom.theta[k, -1], x[[7]])[0, 0] - y[7]
    assert loss_j[k, -1] == pytest.approx(0.5 * r * r, abs=1e-14)


def test_continuation_reports_a_fold_instead_of_jumping_branches():
    """A 1→1→1 tanh net on 5 points (seed 1): deleting point 1 drives the branch into a bifurcation near
    ε ≈ 0.25 where the Hessian becomes singular; the path must stop there and say so."""
    model = MLPSpec((1,), "tanh")
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-2, 2, 5))
    y = rng.normal(size=5)
    trained = train_models(
        model, model.init_params(1), x, y, None, TrainConfig(lr=0.2, steps=3000, weight_decay=1e-2)
    )
    theta_hat = polish(model, trained.theta, x, y, None, 1e-2)
    assert theta_hat.converged[0] and theta_hat.isolated[0]
    path = drive(continuation_path(model, theta_hat.theta[0], x, y, np.ones(5), 1e-2, [1], n_points=51))
    k = path.reached[0]
    assert 0 < k < 50 and not path.complete[0]
    assert "fold" in path.messages[0] and "point 1" in path.messages[0]
    # the smallest Hessian eigenvalue collapses along the branch (independently recomputed)
    eigs = [
        np.linalg.eigvalsh(
            model.hessian(path.theta[0, i], x, y, np.where(np.arange(5) == 1, path.eps[i], 1.0), 1e-2)[0]
        )[0]
        for i in (0, k)
    ]
    assert eigs[1] < eigs[0] / 10
    assert np.isnan(path.theta[0, k + 1 :]).all()


def test_the_eps_path_starts_at_the_theta_hat_the_rest_of_the_app_uses():
    """A θ̂ that is not stationary is refused with its own ‖∇L(θ̂)‖ (the number the training panel shows), and
    θ(1) is θ̂ itself — never a stationary point Newton found somewhere else."""
    from core.deletion.eps_path import continuation_path
    from core.problem import default_problem, fit
    from core.progress import drive

    problem = default_problem()
    f = fit(problem)
    x, y, w = problem.data.x, problem.data.y, problem.weights()
    bad = f.theta_hat + 0.05  # far from stationary
    _, g = problem.model.loss_and_grad(bad, x, y, w, problem.kappa)
    gn = float(np.linalg.norm(g[0]))
    path = drive(continuation_path(problem.model, bad, x, y, w, problem.kappa, [3], n_points=5))
    assert path.reached[0] == -1
    assert f"‖∇L(θ̂)‖ = {gn:.2e}" in path.messages[0]
    np.testing.assert_array_equal(path.theta[0, 0], bad)
    good = drive(continuation_path(problem.model, f.theta_hat, x, y, w, problem.kappa, [3], n_points=5))
    assert good.reached[0] == 4
    assert np.linalg.norm(good.theta[0, 0] - f.theta_hat) < 1e-8
