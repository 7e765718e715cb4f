"""Retrain / D2D / R2D (docs/science.md §5) against independent runs of core.train, Newton's LOO solve and torch."""

import numpy as np
import pytest
import torch

from core.dynamics.unlearn import unlearn
from core.model import MLPSpec
from core.objective import newton_solve, training_objective
from core.progress import drive
from core.train import TrainConfig, train_models

KAPPA = 1e-3
LR = 0.1
T = 300
J = 4


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    model = MLPSpec((3,), "tanh")
    x = np.sort(rng.uniform(-2, 2, 16))
    y = np.tanh(1.5 * x) - 0.3 * x + 0.1 * rng.normal(size=16)
    return model, x, y, model.init_params(3)


@pytest.fixture(scope="module")
def result(problem):
    model, x, y, theta0 = problem
    return drive(
        unlearn(model, theta0, x, y, None, KAPPA, J, LR, T, [30, 100, T], [0, 30, 100, 250, 400], 0.02, 64, 5)
    )


def _w_del(n=16, j=J):
    w = np.ones(n)
    w[j] = 0.0
    return w


def _gd(model, theta, x, y, w, steps):
    """Independent GD run (core.train) — the reference for every path."""
    if steps == 0:
        return np.asarray(theta, dtype=float).reshape(-1)
    cfg = TrainConfig(optimizer="gd", lr=LR, steps=steps, weight_decay=KAPPA)
    return train_models(model, theta, x, y, w, cfg).theta[0]


def _fdist(model, a, b, x):
    fa = model.to_torch_sequential(a)(torch.tensor(x)[:, None]).detach().numpy()[:, 0]
    fb = model.to_torch_sequential(b)(torch.tensor(x)[:, None]).detach().numpy()[:, 0]
    return np.mean(np.abs(fa - fb))


def test_retrain_and_r2d_with_K_equal_T_is_retraining_exactly(problem, result):
    model, x, y, theta0 = problem
    retrained = _gd(model, theta0, x, y, _w_del(), T)
    np.testing.assert_allclose(result.theta_retrain, retrained, atol=1e-12)
    np.testing.assert_allclose(result.r2d(T), retrained, atol=1e-12)
    np.testing.assert_allclose(result.theta_rewind[-1], theta0, atol=0)
    k = result.at(T)
    assert result.r2d_param[-1, k] <= 1e-12 and result.r2d_function[-1, k] <= 1e-12
    assert result.retrain_param[k] <= 1e-12
    assert np.isnan(result.retrain_path[result.at(400)]).all()  # retraining stops at T


def test_paths_equal_independent_training_runs(problem, result):
    model, x, y, theta0 = problem
    theta_T = _gd(model, theta0, x, y, None, T)
    np.testing.assert_allclose(result.theta_T, theta_T, atol=1e-12)
    for r, K in enumerate(result.Ks):
        saved = _gd(model, theta0, x, y, None, T - K)
        np.testing.assert_allclose(result.theta_rewind[r], saved, atol=1e-12)
        for b in (30, 100, 250):
            np.testing.assert_allclose(result.r2d(K, b), _gd(model, saved, x, y, _w_del(), b), atol=1e-12)
    for b in (0, 30, 250, 400):
        d2d = _gd(model, theta_T, x, y, _w_del(), b)
        np.testing.assert_allclose(result.d2d(b), d2d, atol=1e-12)
        i = result.at(b)
        assert result.d2d_param[i] == pytest.approx(np.linalg.norm(d2d - result.theta_retrain), rel=1e-10)
        assert result.d2d_function[i] == pytest.approx(_fdist(model, d2d, result.theta_retrain, x), rel=1e-10)


def test_table_and_recording(result):
    assert result.steps[0] == 0 and result.steps[-1] == 400
    assert set(result.budgets.tolist()) <= set(result.steps.tolist())
    assert set(result.Ks.tolist()) <= set(result.steps.tolist())
    table = result.table()
    assert [row["budget"] for row in table] == [0, 30, 100, 250, 400]
    row = table[2]
    assert row["d2d"]["function"] == result.d2d_function[result.at(100)]
    assert [e["K"] for e in row["r2d"]] == [30, 100, T]
    canon = result.canonical_r2d()
    assert canon[1]["function"] == result.r2d_function[1, result.at(100)]


def test_noise_draws_are_seeded_and_shared(problem, result):
    model, x, y, _ = problem
    nz = result.noise
    assert nz.param.shape == (len(nz.labels), 64) and nz.labels[0] == "retrain"
    Z = np.random.default_rng(5).standard_normal((64, model.n_params))
    # retrain + σZ: the distance is σ‖Z_k‖, draw by draw
    np.testing.assert_allclose(nz.param[0], 0.02 * np.linalg.norm(Z, axis=1), rtol=1e-12)
    k = nz.labels.index("d2d b=30")
    pub = result.d2d(30) + 0.02 * Z
    np.testing.assert_allclose(nz.param[k], np.linalg.norm(pub - result.theta_retrain, axis=1), rtol=1e-12)
    assert nz.function[k][3] == pytest.approx(_fdist(model, pub[3], result.theta_retrain, x), rel=1e-10)
    s = nz.summary()[k]
    assert s["param"]["mean"] == pytest.approx(nz.param[k].mean())
    assert s["param"]["q05"] <= s["param"]["q50"] <= s["param"]["q95"]


def test_batched_equals_one_at_a_time(problem, result):
    model, x, y, theta0 = problem
    for K in result.Ks:
        one = drive(unlearn(model, theta0, x, y, None, KAPPA, J, LR, T, [K], [0, 30, 100, 250, 400]))
        for b in (30, 250, 400):
            np.testing.assert_allclose(one.r2d(K, b), result.r2d(K, b), atol=1e-13)
            np.testing.assert_allclose(one.d2d(b), result.d2d(b), atol=1e-13)
        np.testing.assert_allclose(one.theta_retrain, result.theta_retrain, atol=1e-13)


def test_d2d_converges_to_the_warm_start_loo(problem):
    """Enough D2D steps reach argmin L_{−j} on the branch of θ_T (Newton/LM from θ_T), to 1e-6."""
    model, x, y, theta0 = problem
    kappa = 0.02  # well-conditioned minimum: GD converges linearly in a few thousand steps
    res = drive(unlearn(model, theta0, x, y, None, kappa, J, 0.3, 200, [200], [6000], record_every=1000))
    obj = training_objective(model, x, y, _w_del(), kappa)
    loo = newton_solve(obj, res.theta_T, tol=1e-12)
    assert loo.converged[0]
    assert np.linalg.norm(res.d2d(6000) - loo.theta[0]) <= 1e-6


def test_errors(problem):
    model, x, y, theta0 = problem
    with pytest.raises(ValueError, match="rewind depth"):
        drive(unlearn(model, theta0, x, y, None, KAPPA, J, LR, 50, [60]))
    with pytest.raises(ValueError, match="rewind depth"):
        drive(unlearn(model, theta0, x, y, None, KAPPA, J, LR, 50, [0]))
    with pytest.raises(ValueError, match="index"):
        drive(unlearn(model, theta0, x, y, None, KAPPA, 16, LR, 50, [10]))
    with pytest.raises(ValueError, match="σ"):
        drive(unlearn(model, theta0, x, y, None, KAPPA, J, LR, 50, [10], noise_sigma=-1))
    with pytest.raises(ValueError, match="diverged"):
        drive(unlearn(model, theta0, x, y, None, KAPPA, J, 50.0, 50, [10]))
