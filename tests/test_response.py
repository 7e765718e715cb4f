"""Response functions and the error decomposition (docs/science.md §3, Bae et al. 2022) against independent
computations: brute-force torch.optim.SGD retraining, torch autograd gradients of each response's objective,
finite differences of PBRF solutions in ε, and closed forms for the solvers' errors."""

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

from core.deletion.responses import (
    ESTIMATE_NAMES,
    GAP_NAMES,
    deletion_estimates,
    deletion_estimates_all,
    loo_cold,
    loo_warm,
    pbrf,
    proximal_response,
    solve_responses,
)
from core.model import MLPSpec
from core.progress import Progress, drive
from core.train import TrainConfig, polish, train_models

KAPPA = 1e-3
LAM = 1e-2
CFG = TrainConfig(lr=0.1, steps=2000, weight_decay=KAPPA)


def teacher_problem(seed=1, n=20):
    """Teacher-like data: 20 sorted x in [-2, 2], y = a random 1→3→1 tanh MLP + N(0, 0.1²) noise."""
    rng = np.random.default_rng(seed)
    model = MLPSpec((3,), "tanh")
    x = np.sort(rng.uniform(-2, 2, n))
    y = model.predict(rng.normal(size=model.n_params) * 1.5, x)[0] + 0.1 * rng.normal(size=n)
    return model, x, y


@pytest.fixture(scope="module")
def fitted():
    """θ_0, the early-stopped θ^s (2,000 GD steps, ‖∇L‖ ≈ 2e-3) and the polished θ̂."""
    model, x, y = teacher_problem()
    theta0 = model.init_params(0)
    theta_s = train_models(model, theta0, x, y, None, CFG).theta[0]
    pol = polish(model, theta_s, x, y, None, KAPPA)
    assert pol.converged[0] and pol.isolated[0]
    return model, x, y, theta0, theta_s, pol.theta[0]


class Oracle:
    """The objectives of docs/science.md §3 written directly in torch on the equivalent nn.Sequential."""

    def __init__(self, model, x, y, kappa=KAPPA):
        self.net = model.to_torch_sequential(np.zeros(model.n_params))
        self.shapes = [(name, p.shape) for name, p in self.net.named_parameters()]
        self.x, self.y, self.n, self.kappa = torch.tensor(x), torch.tensor(y), len(x), kappa

    def f(self, t):
        params, off = {}, 0
        for name, shape in self.shapes:
            size = int(np.prod(shape))
            params[name] = t[off : off + size].reshape(shape)
            off += size
        return functional_call(self.net, params, (self.x[:, None],))[:, 0]

    def loo(self, t, j):
        r2 = (self.f(t) - self.y) ** 2
        keep = torch.arange(self.n) != j
        return 0.5 * r2[keep].sum() / self.n + 0.5 * self.kappa * (t * t).sum()

    def proximal(self, t, j, theta_s, lam):
        return self.loo(t, j) + 0.5 * lam * ((t - torch.tensor(theta_s)) ** 2).sum()

    def pbrf(self, t, j, theta_s, lam, eps=1.0):
        ts = torch.tensor(theta_s)
        f, fs = self.f(t), self.f(ts).detach()
        bregman = 0.5 * ((f - fs) ** 2).sum() / self.n
        loss_j = 0.5 * (f[j] - self.y[j]) ** 2
        return bregman - eps * loss_j / self.n + 0.5 * (lam + self.kappa) * ((t - ts) ** 2).sum()

    def grad_norm(self, fun, theta, *args):
        return float(torch.linalg.norm(jacrev(lambda t: fun(t, *args))(torch.tensor(theta))))

    def gnh_influence(self, theta, j, lam):
        """(1/n)(G + λI)⁻¹∇ℓ_j at θ, G = JᵀJ/n + κI."""
        t = torch.tensor(theta)
        J = jacrev(self.f)(t)
        G = J.T @ J / self.n + (self.kappa + lam) * torch.eye(len(t), dtype=torch.float64)
        g = jacrev(lambda s: 0.5 * (self.f(s)[j] - self.y[j]) ** 2)(t)
        return (torch.linalg.solve(G, g) / self.n).numpy(), G.numpy(), g.numpy()


# --------------------------------------------------------------------------------------------------
# LOO, cold start
# --------------------------------------------------------------------------------------------------


def test_loo_cold_matches_brute_force_torch_retraining(fitted):
    """One batched train_models call with w_j = 0 equals retraining each LOO model alone with
    torch.optim.SGD (same θ_0 and steps; the point dropped from the loss, 1/n kept; weight decay κ)."""
    model, x, y, theta0, _, _ = fitted
    js = np.array([0, 9, 19])
    ours = drive(loo_cold(model, x, y, None, KAPPA, theta0, js, CFG, converge=False))
    assert ours.converged is None and ours.theta.shape == (3, model.n_params)
    xt, yt, n = torch.tensor(x)[:, None], torch.tensor(y), len(x)
    for k, j in enumerate(js):
        net = model.to_torch_sequential(theta0.copy())  # it aliases its argument (see report)
        opt = torch.optim.SGD(net.parameters(), lr=CFG.lr, weight_decay=KAPPA)
        keep = torch.arange(n) != int(j)
        for _ in range(CFG.steps):
            opt.zero_grad()
            (0.5 * ((net(xt)[:, 0] - yt) ** 2)[keep].sum() / n).backward()
            opt.step()
        ref = torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy()
        np.testing.assert_allclose(ours.theta[k], ref, atol=1e-8, rtol=0)


def test_loo_cold_polished_is_stationary(fitted):
    model, x, y, theta0, _, _ = fitted
    js = np.arange(len(x))
    r = drive(loo_cold(model, x, y, None, KAPPA, theta0, js, CFG, converge=True))
    o = Oracle(model, x, y)
    assert r.converged.all()
    for k, j in enumerate(js):
        assert o.grad_norm(o.loo, r.theta[k], int(j)) <= 1e-8


# --------------------------------------------------------------------------------------------------
# Warm LOO, proximal, PBRF: autograd gradient of each objective ≈ 0
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("centre", ["early_stopped", "converged"])
def test_responses_are_stationary_points_of_their_objectives(fitted, centre):
    model, x, y, _, theta_s, theta_hat = fitted
    ts = theta_s if centre == "early_stopped" else theta_hat
    js = np.arange(len(x))
    o = Oracle(model, x, y)
    warm = loo_warm(model, x, y, None, KAPPA, ts, js)
    prox = proximal_response(model, x, y, None, KAPPA, ts, js, LAM)
    pb = pbrf(model, x, y, None, KAPPA, ts, js, LAM)
    for r in (warm, prox, pb):
        assert r.converged.all() and (r.grad_norm <= 1e-10).all(), r.message
    for k, j in enumerate(js):
        j = int(j)
        assert o.grad_norm(o.loo, warm.theta[k], j) <= 1e-8
        assert o.grad_norm(o.proximal, prox.theta[k], j, ts, LAM) <= 1e-8
        assert o.grad_norm(o.pbrf, pb.theta[k], j, ts, LAM) <= 1e-8
    # the PBRF moves away from z_j: its loss goes up
    f_pb = model.predict(pb.theta, x)
    f_s = model.predict(ts, x)[0]
    assert (np.abs(f_pb[js, js] - y[js]) > np.abs(f_s[js] - y[js])).all()


def test_stacked_solve_equals_separate_solves(fitted):
    model, x, y, _, theta_s, _ = fitted
    js = np.array([3, 12])
    stacked = solve_responses(model, x, y, None, KAPPA, theta_s, js, LAM)
    np.testing.assert_allclose(
        stacked["pbrf"].theta, pbrf(model, x, y, None, KAPPA, theta_s, js, LAM).theta, atol=1e-10
    )
    np.testing.assert_allclose(
        stacked["loo_warm"].theta, loo_warm(model, x, y, None, KAPPA, theta_s, js).theta, atol=1e-10
    )


def test_pbrf_needs_positive_damping(fitted):
    model, x, y, theta0, theta_s, theta_hat = fitted
    with pytest.raises(ValueError, match="λ > 0"):
        pbrf(model, x, y, None, KAPPA, theta_s, 0, 0.0)
    with pytest.raises(ValueError, match="λ > 0"):
        drive(deletion_estimates(model, x, y, None, KAPPA, theta0, theta_s, theta_hat, 0, 0.0, CFG))


# --------------------------------------------------------------------------------------------------
# Bae et al.'s identity: d/dε PBRF(ε) at 0 = (G + λI)⁻¹ ∇ℓ_j / n = the linearised PBRF's step
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("centre", ["early_stopped", "converged"])
def test_pbrf_derivative_in_eps_is_the_damped_gnh_influence(fitted, centre):
    model, x, y, _, theta_s, theta_hat = fitted
    ts = theta_s if centre == "early_stopped" else theta_hat
    js = np.arange(len(x))
    h = 1e-4
    plus = pbrf(model, x, y, None, KAPPA, ts, js, LAM, eps=h, tol=1e-13)
    minus = pbrf(model, x, y, None, KAPPA, ts, js, LAM, eps=-h, tol=1e-13)
    assert plus.converged.all() and minus.converged.all()
    fd = (plus.theta - minus.theta) / (2 * h)
    o = Oracle(model, x, y)
    for k, j in enumerate(js):
        ref, _, _ = o.gnh_influence(ts, int(j), LAM)
        assert np.linalg.norm(fd[k] - ref) <= 1e-6 * np.linalg.norm(ref), (j, fd[k], ref)


# --------------------------------------------------------------------------------------------------
# The one entry point and the decomposition
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def all_estimates(fitted):
    model, x, y, theta0, theta_s, theta_hat = fitted
    out = {}
    for converge in (True, False):
        th = theta_hat if converge else theta_s
        out[converge] = drive(
            deletion_estimates_all(
                model, x, y, None, KAPPA, theta0, theta_s, th, None, LAM, CFG, converge=converge
            )
        )
    return out


@pytest.mark.parametrize("converge", [True, False])
def test_acceptance_every_point(fitted, all_estimates, converge):
    """Deleting each of the 20 points: every solved response has ‖∇‖ ≤ 1e-8 (by autograd), the five gaps
    are finite and non-negative, and the function-space gaps are mean |Δf| over the training inputs."""
    model, x, y, _, theta_s, theta_hat = fitted
    o = Oracle(model, x, y)
    res = all_estimates[converge]
    assert [r.j for r in res] == list(range(len(x)))
    pairs = {
        "warm_start_gap": ("loo_cold", "loo_warm"),
        "proximity_gap": ("loo_warm", "proximal"),
        "non_convergence_gap": ("proximal", "pbrf"),
        "linearization_error": ("pbrf", "pbrf_linear"),
        "solver_error": ("pbrf_linear", "if_solver"),
    }
    for r in res:
        j = r.j
        solved = ["loo_warm", "proximal", "pbrf"] + (["loo_cold"] if converge else [])
        for name in solved:
            e = getattr(r, name)
            assert e.converged and e.grad_norm <= 1e-8, (j, name, e.grad_norm)
        assert o.grad_norm(o.loo, r.loo_warm.theta, j) <= 1e-8
        assert o.grad_norm(o.proximal, r.proximal.theta, j, theta_s, LAM) <= 1e-8
        assert o.grad_norm(o.pbrf, r.pbrf.theta, j, theta_s, LAM) <= 1e-8
        if converge:
            assert o.grad_norm(o.loo, r.loo_cold.theta, j) <= 1e-8
        else:
            assert r.loo_cold.converged is None and r.loo_cold.grad_norm > 0
        for name in ("pbrf_linear", "if_exact", "if_gnh", "if_solver", "newton"):
            assert getattr(r, name).grad_norm is None
        assert set(r.decomposition) == set(GAP_NAMES) == set(r.decomposition_params)
        for gap, (a, b) in pairs.items():
            fa = o.f(torch.tensor(getattr(r, a).theta)).detach().numpy()
            fb = o.f(torch.tensor(getattr(r, b).theta)).detach().numpy()
            assert np.isfinite(r.decomposition[gap]) and r.decomposition[gap] >= 0
            assert r.decomposition[gap] == pytest.approx(np.mean(np.abs(fa - fb)), rel=1e-9, abs=1e-15)
            dp = np.linalg.norm(getattr(r, a).theta - getattr(r, b).theta)
            assert r.decomposition_params[gap] == pytest.approx(dp, rel=1e-12, abs=1e-15)
        for name in ESTIMATE_NAMES:
            e = getattr(r, name)
            np.testing.assert_allclose(e.pred_train, o.f(torch.tensor(e.theta)).detach().numpy(), atol=1e-13)
        # actual change of z_j's own loss on deletion, from the cold-start LOO model
        f_loo = o.f(torch.tensor(r.loo_cold.theta)).detach().numpy()[j]
        f_hat = model.predict(theta_hat if converge else theta_s, x)[0][j]
        assert r.actual_loss_change == pytest.approx(
            0.5 * (f_loo - y[j]) ** 2 - 0.5 * (f_hat - y[j]) ** 2, rel=1e-9
        )
        assert r.predicted_loss_change == pytest.approx(r.self_influence / len(x), rel=1e-12)


def test_centres_follow_science_md(fitted, all_estimates):
    """IF / Newton at θ̂; PBRF, proximal, warm LOO and the linearised PBRF at θ^s (autograd GNH at θ^s)."""
    model, x, y, _, theta_s, theta_hat = fitted
    o = Oracle(model, x, y)
    for r in all_estimates[True][::5]:
        step, _, _ = o.gnh_influence(theta_s, r.j, LAM)
        np.testing.assert_allclose(r.pbrf_linear.theta, theta_s + step, rtol=1e-9, atol=1e-12)
        step_hat, _, _ = o.gnh_influence(theta_hat, r.j, LAM)
        np.testing.assert_allclose(r.if_gnh.theta, theta_hat + step_hat, rtol=1e-9, atol=1e-12)
        assert r.pbrf.centre == r.proximal.centre == r.loo_warm.centre == r.pbrf_linear.centre == "θ^s"
        assert r.if_exact.centre == r.newton.centre == r.if_gnh.centre == "θ̂"
    # when θ^s = θ̂ the linearised PBRF and the damped GNH IF coincide
    for r in all_estimates[False][::5]:
        np.testing.assert_allclose(r.pbrf_linear.theta, r.if_gnh.theta, rtol=1e-12, atol=1e-14)


def test_single_j_equals_batched(fitted, all_estimates):
    model, x, y, theta0, theta_s, theta_hat = fitted
    one = drive(deletion_estimates(model, x, y, None, KAPPA, theta0, theta_s, theta_hat, 7, LAM, CFG))
    batched = all_estimates[True][7]
    for name in ESTIMATE_NAMES:
        np.testing.assert_allclose(getattr(one, name).theta, getattr(batched, name).theta, atol=1e-8)
    for gap in GAP_NAMES:
        assert one.decomposition[gap] == pytest.approx(batched.decomposition[gap], rel=1e-6, abs=1e-10)


def test_solver_error_is_the_iterative_solvers_error(fitted):
    """LiSSA with depth K: the reported solver error (5↔6) is ‖(1/n)(I − A/s)^{K+1} A⁻¹ g_j‖ with
    A = G(θ^s) + λI (autograd GNH); with a large budget it vanishes, and CG with budget d is exact."""
    model, x, y, theta0, theta_s, theta_hat = fitted
    o = Oracle(model, x, y)
    j, K, s = 4, 20, 3.0
    step, A, g = o.gnh_influence(theta_s, j, LAM)
    assert s > np.linalg.eigvalsh(A)[-1]
    r = drive(
        deletion_estimates(
            model,
            x,
            y,
            None,
            KAPPA,
            theta0,
            theta_s,
            theta_hat,
            j,
            LAM,
            CFG,
            solver="lissa",
            solver_budget=K,
            lissa_scale=s,
        )
    )
    tail = np.linalg.matrix_power(np.eye(len(g)) - A / s, K + 1) @ step
    assert r.decomposition_params["solver_error"] == pytest.approx(np.linalg.norm(tail), rel=1e-8)
    f_lin = o.f(torch.tensor(theta_s + step)).detach().numpy()
    f_lis = o.f(torch.tensor(theta_s + step - tail)).detach().numpy()
    assert r.decomposition["solver_error"] == pytest.approx(np.mean(np.abs(f_lin - f_lis)), rel=1e-6)
    assert r.solver_info["budget"] == K and r.solver_info["method"] == "lissa"
    big = drive(
        deletion_estimates(
            model,
            x,
            y,
            None,
            KAPPA,
            theta0,
            theta_s,
            theta_hat,
            j,
            LAM,
            CFG,
            solver="cg",
            solver_budget=model.n_params + 5,
        )
    )
    assert big.decomposition_params["solver_error"] <= 1e-10 * np.linalg.norm(step)


def test_progress_and_config_checks(fitted):
    model, x, y, theta0, theta_s, theta_hat = fitted
    gen = deletion_estimates(model, x, y, None, KAPPA, theta0, theta_s, theta_hat, 2, LAM, CFG)
    seen = []
    res = drive(gen, on_progress=seen.append)
    assert all(isinstance(p, Progress) for p in seen) and seen[-1].fraction == 1.0
    fr = [p.fraction for p in seen]
    assert fr == sorted(fr)
    assert res.j == 2 and set(res.estimates) == set(ESTIMATE_NAMES)
    with pytest.raises(ValueError, match="weight decay"):
        drive(deletion_estimates(model, x, y, None, 0.0, theta0, theta_s, theta_hat, 2, LAM, CFG))
    with pytest.raises(ValueError, match="one index"):
        drive(deletion_estimates(model, x, y, None, KAPPA, theta0, theta_s, theta_hat, [1, 2], LAM, CFG))


def test_early_stopped_model_reports_what_is_undefined(all_estimates):
    """With θ̂ = the early-stopped θ^s (‖∇L‖ ≈ 2e-3) the IF's assumptions fail: say so."""
    r = all_estimates[False][0]
    assert any("not stationary" in w for w in r.warnings)
    assert not r.hessian_positive_definite and r.hessian_min_eigenvalues[0] < 0  # −1.7e-3 on this problem
    assert any("H is not positive definite" in w and "smallest eigenvalue -" in w for w in r.warnings)
    # the solved responses from θ^s are still fine
    assert all(getattr(r, k).converged for k in ("loo_warm", "proximal", "pbrf"))


def test_linear_model_deletion_against_closed_form_ols():
    """A feature model with κ = 0 (OLS): the polished cold LOO, the warm LOO and the Newton estimate all equal
    the least-squares fit without z_j (numpy lstsq), and the IF is θ̂ − (XᵀX)⁻¹ x_j e_j (docs/science.md §6)."""
    from core.model import LinearFeatures

    rng = np.random.default_rng(11)
    model = LinearFeatures(2)
    x = np.sort(rng.uniform(-1, 1, 12))
    y = 1.0 - 2.0 * x + 0.5 * x**2 + 0.2 * rng.normal(size=12)
    X = model.features(x)
    cfg = TrainConfig(lr=0.2, steps=300, weight_decay=0.0)
    theta0 = model.init_params(3)
    theta_s = train_models(model, theta0, x, y, None, cfg).theta[0]
    theta_hat = np.linalg.lstsq(X, y, rcond=None)[0]
    res = drive(deletion_estimates_all(model, x, y, None, 0.0, theta0, theta_s, theta_hat, None, 0.05, cfg))
    e = y - X @ theta_hat
    for r in res:
        keep = np.arange(len(x)) != r.j
        loo = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
        for name in ("loo_cold", "loo_warm", "newton"):
            np.testing.assert_allclose(getattr(r, name).theta, loo, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(
            r.if_exact.theta, theta_hat - np.linalg.solve(X.T @ X, X[r.j] * e[r.j]), rtol=1e-9, atol=1e-12
        )
        assert all(np.isfinite(v) and v >= 0 for v in r.decomposition.values())


def test_to_json_is_plain_json(all_estimates):
    import json

    doc = all_estimates[True][3].to_json()
    back = json.loads(json.dumps(doc))
    assert back["deleted"] == 3 and set(back["estimates"]) == set(ESTIMATE_NAMES)
    assert set(back["decomposition"]) == set(GAP_NAMES) == set(back["decomposition_params"])
    for name in ESTIMATE_NAMES:
        assert {"theta", "grad_norm", "pred_train"} <= set(back["estimates"][name])
    assert back["estimates"]["newton"]["grad_norm"] is None
    assert back["estimates"]["pbrf"]["grad_norm"] <= 1e-8
    assert back["estimates"]["pbrf"]["min_eigenvalue"] > 0
