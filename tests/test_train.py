"""Batched training equals training each model alone; the polish converges or reports degeneracy."""

import numpy as np
import pytest

from core.model import MLPSpec
from core.train import TrainConfig, polish, train_models


def _problem(seed=1, n=20):
    rng = np.random.default_rng(seed)
    model = MLPSpec((3,), "tanh")
    x = np.sort(rng.uniform(-2, 2, n))
    teacher = rng.normal(size=model.n_params) * 1.5
    y = model.predict(teacher, x)[0] + 0.1 * rng.normal(size=n)
    return model, x, y


@pytest.mark.parametrize("optimizer", ["gd", "adam", "sgd"])
def test_batched_training_equals_one_at_a_time(optimizer):
    model, x, y = _problem()
    B = 4
    theta0 = model.init_params(seed=7, batch=B)
    rng = np.random.default_rng(0)
    w = rng.uniform(size=(B, x.size))
    cfg = TrainConfig(
        optimizer=optimizer,
        lr=0.05 if optimizer != "adam" else 0.01,
        steps=300,
        weight_decay=1e-3,
        batch_size=5,
        checkpoint_every=100,
    )
    batched = train_models(model, theta0, x, y, w, cfg)
    for b in range(B):
        alone = train_models(model, theta0[b], x, y, w[b], cfg)
        np.testing.assert_allclose(batched.theta[b], alone.theta[0], atol=1e-12, rtol=0)
        for cb, ca in zip(batched.checkpoints, alone.checkpoints):
            np.testing.assert_allclose(cb[b], ca[0], atol=1e-12, rtol=0)
    assert batched.checkpoint_steps == [0, 100, 200, 300]


def test_gd_matches_torch_optim_sgd():
    """Full-batch GD is torch.optim.SGD on the same loss (an independent implementation)."""
    import torch

    model, x, y = _problem(seed=2)
    theta0 = model.init_params(seed=3)
    ours = train_models(model, theta0, x, y, None, TrainConfig(lr=0.1, steps=50, weight_decay=1e-3))
    net = model.to_torch_sequential(theta0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=1e-3)
    xt, yt = torch.tensor(x)[:, None], torch.tensor(y)
    for _ in range(50):
        opt.zero_grad()
        loss = 0.5 * ((net(xt)[:, 0] - yt) ** 2).mean()
        loss.backward()
        opt.step()
    ref = torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy()
    np.testing.assert_allclose(ours.theta[0], ref, atol=1e-12)


def test_adam_matches_torch_optim_adam():
    import torch

    model, x, y = _problem(seed=5)
    theta0 = model.init_params(seed=1)
    ours = train_models(
        model, theta0, x, y, None, TrainConfig(optimizer="adam", lr=0.01, steps=40, weight_decay=0.0)
    )
    net = model.to_torch_sequential(theta0)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt, yt = torch.tensor(x)[:, None], torch.tensor(y)
    for _ in range(40):
        opt.zero_grad()
        (0.5 * ((net(xt)[:, 0] - yt) ** 2).mean()).backward()
        opt.step()
    ref = torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy()
    np.testing.assert_allclose(ours.theta[0], ref, atol=1e-12)


def test_polish_reaches_1e_10_with_weight_decay():
    model, x, y = _problem()
    gd = train_models(
        model, model.init_params(0), x, y, None, TrainConfig(lr=0.1, steps=3000, weight_decay=1e-3)
    )
    assert gd.grad_norm[0] > 1e-6  # GD alone is far from converged
    pol = polish(model, gd.theta, x, y, None, 1e-3)
    assert pol.converged.all() and pol.isolated.all()
    assert pol.grad_norm[0] <= 1e-10
    # an independent check of stationarity: autograd's gradient at the returned θ
    import torch

    net = model.to_torch_sequential(pol.theta[0])
    loss = 0.5 * ((net(torch.tensor(x)[:, None])[:, 0] - torch.tensor(y)) ** 2).mean()
    loss = loss + 0.5e-3 * sum((p * p).sum() for p in net.parameters())
    loss.backward()
    g = torch.cat([p.grad.flatten() for p in net.parameters()]).numpy()
    assert np.linalg.norm(g) <= 1e-9


def test_polish_reports_degenerate_minimum_without_weight_decay():
    model, x, y = _problem()
    gd = train_models(
        model, model.init_params(0), x, y, None, TrainConfig(lr=0.1, steps=3000, weight_decay=0.0)
    )
    pol = polish(model, gd.theta, x, y, None, 0.0)
    assert not (pol.converged & pol.isolated).all()
    assert pol.min_eigenvalues[0, 0] < 1e-7
    assert "weight decay" in pol.message and "eigenvalues" in pol.message


def test_divergence_is_detected_and_last_finite_theta_kept():
    model, x, y = _problem()
    theta0 = model.init_params(0, batch=2)
    res = train_models(model, theta0, x, y, None, TrainConfig(lr=500.0, steps=200, weight_decay=1e-3))
    assert res.diverged.all()
    assert np.isfinite(res.theta).all()
    assert "lower the learning rate" in res.message and "diverged at step" in res.message


def test_grad_tol_stops_early():
    model, x, y = _problem()
    res = train_models(
        model, model.init_params(0), x, y, None, TrainConfig(lr=0.1, steps=100000, grad_tol=1e-3)
    )
    assert res.steps < 100000 and res.grad_norm[0] <= 1e-3


def test_default_problem_polish_converges_and_kappa_zero_is_reported_degenerate():
    """Issue 2 acceptance on the default data (teacher preset, 1→3→1 tanh, 2,000 GD steps)."""
    from dataclasses import replace

    from core.problem import default_problem, fit

    problem = default_problem()
    assert problem.kappa == 1e-3
    f = fit(problem)
    assert f.training.grad_norm[0] > 1e-6  # GD alone is not converged
    assert f.polish.converged[0] and f.polish.isolated[0] and f.polish.grad_norm[0] <= 1e-10
    # independent: recompute the gradient with torch autograd at θ̂
    import torch

    net = problem.model.to_torch_sequential(f.theta_hat)
    x, y = torch.tensor(problem.data.x)[:, None], torch.tensor(problem.data.y)
    loss = 0.5 * ((net(x)[:, 0] - y) ** 2).mean() + 0.5e-3 * sum((p * p).sum() for p in net.parameters())
    loss.backward()
    assert torch.cat([p.grad.flatten() for p in net.parameters()]).norm() <= 1e-9

    flat = replace(problem, config=replace(problem.config, weight_decay=0.0))
    g = fit(flat)
    assert not (g.polish.converged[0] and g.polish.isolated[0])
    assert g.polish.min_eigenvalues[0, 0] < 1e-5
    assert "degenerate" in g.polish.message and "weight decay" in g.polish.message
