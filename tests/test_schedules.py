"""Deletion schedules and their flows (docs/science.md §4) against independent computations: matrix exponentials
(scipy.linalg.expm), GD's exact discrete recursion (matrix powers), segment-by-segment training with
core.train, torch autograd, and the notes' H = I analysis derived by hand."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from core.dynamics.analysis import analyze_schedules
from core.dynamics.criterion import criterion, criterion_function, loo_target
from core.dynamics.figure4 import (
    FIG4_THETA0_COUNTEREXAMPLE,
    FIG4_THETA0_STEP_OPTIMAL,
    FIG4_THETA0_STRONG_COUNTEREXAMPLE,
    exact_criteria,
    figure4_problem,
    phase_portrait,
    vector_field,
)
from core.dynamics.flow import quadratic_schedule_flow, schedule_flow
from core.dynamics.quadratic import QuadraticFamily, closed_form_flow, gd_closed_form, step_time_derivative
from core.dynamics.scans import run_scan, step_scan_schedules
from core.dynamics.schedule import (
    Constant,
    ExponentialDecay,
    LinearDecay,
    PiecewiseLinear,
    Schedule,
    Step,
    parse_schedule,
)
from core.model import LinearFeatures, MLPSpec
from core.progress import drive
from core.train import TrainConfig, polish, train_models

# ------------------------------------------------------------------------------------------------------
# independent oracles for a linear model: H and minimisers straight from the design matrix
# ------------------------------------------------------------------------------------------------------


def _quadratic(X, y, w, kappa):
    """(H, θ̂) of L_w = (1/n) Σ w_i ½ (x_iᵀθ − y_i)² + κ/2 ‖θ‖², by least squares on the weighted rows."""
    n, p = X.shape
    H = X.T @ (w[:, None] * X) / n + kappa * np.eye(p)
    sw = np.sqrt(w)
    A = np.vstack([sw[:, None] * X, np.sqrt(n * kappa) * np.eye(p)])
    b = np.concatenate([sw * y, np.zeros(p)])
    return H, np.linalg.lstsq(A, b, rcond=None)[0]


def _expm_flow(H, theta_hat, theta, t):
    return theta_hat + (theta - theta_hat) @ expm(-H * t).T


def _expm_steps(X, y, w, kappa, j, theta0, pieces):
    """Flow through [(duration, ε), …] with scipy's expm."""
    theta = np.array(theta0, dtype=float)
    for dur, e in pieces:
        we = w.copy()
        we[j] *= e
        H, th = _quadratic(X, y, we, kappa)
        theta = _expm_flow(H, th, theta, dur)
    return theta


@pytest.fixture(scope="module")
def fig4():
    return figure4_problem()


# ------------------------------------------------------------------------------------------------------
# schedules
# ------------------------------------------------------------------------------------------------------


def test_schedule_values_and_right_continuity():
    t = np.array([0.0, 0.49, 0.5, 0.75, 1.0, 1.5, 3.0])
    np.testing.assert_array_equal(Step(0.5).eps(t), [1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(Step(0.5).eps_left(t), [1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(LinearDecay(0.5, 1.0).eps(t), [1, 1, 1, 0.5, 0, 0, 0])
    np.testing.assert_array_equal(LinearDecay(0.5, 0.5).eps(t), Step(0.5).eps(t))
    e = ExponentialDecay(0.5, 2.0, 1.5)
    np.testing.assert_allclose(e.eps(t), [1, 1, 1, np.exp(-0.5), np.exp(-1.0), 0, 0])
    assert e.eps_left(1.5) == pytest.approx(np.exp(-2.0))
    assert ExponentialDecay(0.5, 2.0).eps(100.0) > 0  # no cut without T
    # drawn schedule with a jump at 1.0 (repeated time): right-continuous
    pl = PiecewiseLinear((0.0, 0.5, 1.0, 1.0, 2.0), (1.0, 1.0, 0.5, 0.2, 0.0))
    np.testing.assert_allclose(pl.eps([0.0, 0.75, 1.0, 1.5, 2.0, 5.0]), [1, 0.75, 0.2, 0.1, 0, 0])
    assert pl.eps_left(1.0) == pytest.approx(0.5)
    assert Constant(0.3).eps([0.0, 9.0]).tolist() == [0.3, 0.3]


def test_class_E_s_membership():
    s, T = 0.5, 2.0
    assert Step(0.5).in_class(s, T) and Step(2.0).in_class(s, T) and not Step(0.4).in_class(s, T)
    assert LinearDecay(0.5, 2.0).in_class(s, T) and not LinearDecay(0.5, 2.5).in_class(s, T)
    assert ExponentialDecay(0.5, 1.0, 2.0).in_class(s, T) and not ExponentialDecay(0.5, 1.0).in_class(s, T)
    assert PiecewiseLinear((0.5, 1.0), (1.0, 0.0)).in_class(s, T)
    assert not PiecewiseLinear((0.3, 1.0), (1.0, 0.0)).in_class(s, T)
    assert not PiecewiseLinear((0.5, 1.0), (1.0, 0.1)).in_class(s, T)
    # a dip before s hidden behind a jump at a knot, and a bump after T
    assert not PiecewiseLinear((0.0, 0.2, 0.2, 0.5, 1.0), (1.0, 0.5, 1.0, 1.0, 0.0)).in_class(s, T)
    assert not PiecewiseLinear((0.5, 1.0, 2.5, 3.0), (1.0, 0.0, 0.3, 0.0)).in_class(s, T)
    assert PiecewiseLinear((0.0, 0.5, 1.0, 1.0, 2.0), (1.0, 1.0, 0.6, 0.2, 0.0)).in_class(s, T)
    assert not Constant(1.0).in_class(s, T) and not Constant(0.0).in_class(s, T)


@pytest.mark.parametrize(
    "sc",
    [
        Constant(0.25),
        Step(0.7),
        LinearDecay(0.5, 1.25),
        ExponentialDecay(0.5, 3.0, 2.0),
        ExponentialDecay(0.5, 3.0),
        PiecewiseLinear((0.0, 1.0, 1.0), (1.0, 0.5, 0.0)),
    ],
)
def test_describe_round_trip(sc):
    import json

    d = json.loads(json.dumps(sc.describe()))
    again = Schedule.from_dict(d)
    assert again == sc
    t = np.linspace(0, 3, 31)
    np.testing.assert_array_equal(again.eps(t), sc.eps(t))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 10, allow_nan=False), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=6
    )
)
def test_drawn_schedule_round_trip_and_range(points):
    points = sorted(points)
    sc = PiecewiseLinear(tuple(p[0] for p in points), tuple(p[1] for p in points))
    assert Schedule.from_dict(sc.describe()) == sc
    e = sc.eps(np.linspace(-1, 12, 97))
    assert np.all((e >= 0) & (e <= 1))


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "nope"},
        {"kind": "step"},
        {"kind": "step", "tau": -1},
        {"kind": "constant", "value": 2},
        "step",
    ],
)
def test_from_dict_rejects_bad_input(bad):
    with pytest.raises((ValueError, KeyError)):
        Schedule.from_dict(bad)


def test_parse_schedule():
    s, T = 0.5, 2.0
    assert parse_schedule("step", s, T) == Step(0.5)
    assert parse_schedule("step:1.2", s, T) == Step(1.2)
    assert parse_schedule("linear", s, T) == LinearDecay(0.5, 2.0)
    assert parse_schedule("linear:1.5", s, T) == LinearDecay(0.5, 1.5)
    assert parse_schedule("linear:0.7:1.5", s, T) == LinearDecay(0.7, 1.5)
    assert parse_schedule("exp:3", s, T) == ExponentialDecay(0.5, 3.0, 2.0)
    assert parse_schedule("const:0.5", s, T) == Constant(0.5)
    assert parse_schedule("points:0=1,1=0.5,2=0", s, T) == PiecewiseLinear((0, 1, 2), (1, 0.5, 0))
    for bad in ("wave", "step:x", "linear:0.7:0.2", "points:0=2", "points:1", "const"):
        with pytest.raises(ValueError):
            parse_schedule(bad, s, T)


# ------------------------------------------------------------------------------------------------------
# linear closed forms vs numerical flows
# ------------------------------------------------------------------------------------------------------


def test_figure4_problem_is_documented(fig4):
    X = fig4.X
    assert X.shape == (20, 2) and fig4.j == 19 and fig4.kappa == 0.0
    # θ* and θ*_{−j}: ordinary least squares with and without the outlier (np.polyfit, independent)
    np.testing.assert_allclose(fig4.theta_star, np.polyfit(fig4.x, fig4.y, 1)[::-1], atol=1e-12)
    keep = np.arange(20) != 19
    np.testing.assert_allclose(
        fig4.theta_star_del, np.polyfit(fig4.x[keep], fig4.y[keep], 1)[::-1], atol=1e-12
    )
    np.testing.assert_allclose(fig4.theta_star, [0.439, 0.711], atol=1e-3)
    np.testing.assert_allclose(fig4.theta_star_del, [0.472, 1.020], atol=1e-3)
    assert fig4.x[19] == 2.0 and fig4.y[19] == -1.0


def test_closed_form_flow_matches_expm(fig4):
    th0 = np.array([[0.0, 0.0], [3.0, -1.0]])
    w = np.ones(20)
    times = np.array([0.0, 0.3, 0.5, 1.2, 2.0])
    for sc in (Step(0.5), Constant(0.3), PiecewiseLinear((0.0, 0.7, 0.7, 1.1, 1.1), (1, 1, 0.4, 0.4, 0))):
        got = closed_form_flow(fig4.family, th0, sc, times)
        for k, t in enumerate(times):
            pieces = [(b - a, e) for a, b, e in sc.constant_pieces(t)]
            want = _expm_steps(fig4.X, fig4.y, w, 0.0, 19, th0, pieces)
            np.testing.assert_allclose(got[k], want, atol=1e-12)
    with pytest.raises(ValueError):
        closed_form_flow(fig4.family, th0, LinearDecay(0.5, 2.0), [2.0])


def test_gd_is_its_exact_discrete_recursion(fig4):
    """GD on a linear model is θ_{k+1} = θ̂_ε + (I − ηH_ε)(θ_k − θ̂_ε): matrix powers, per constant run."""
    th0 = np.array([[0.0, 0.0], [3.0, 3.0], [-2.0, 1.0]])
    lr, steps = 0.01, 200
    scheds = [Step(0.5), Step(1.37), Constant(1.0), Constant(0.0)]
    flow = drive(schedule_flow(fig4.model, th0, fig4.x, fig4.y, None, 0.0, 19, scheds, lr, steps))
    X, y, w = fig4.X, fig4.y, np.ones(20)
    for s_idx, sc in enumerate(scheds):
        # runs of equal ε: a step at τ has round(τ/η) steps with ε = 1 (the right-continuity convention)
        m1 = round(sc.tau / lr) if isinstance(sc, Step) else (steps if sc.value == 1.0 else 0)
        theta = th0.copy()
        for m, e in ((m1, 1.0), (steps - m1, 0.0)):
            we = w.copy()
            we[19] = e
            H, th = _quadratic(X, y, we, 0.0)
            theta = th + (theta - th) @ np.linalg.matrix_power(np.eye(2) - lr * H, m).T
        np.testing.assert_allclose(flow.final[s_idx], theta, atol=1e-12)
        np.testing.assert_allclose(gd_closed_form(fig4.family, th0, sc, lr, steps), theta, atol=1e-12)


def test_rk4_matches_closed_form_to_1e8(fig4):
    th0 = np.array([[0.0, 0.0], [3.0, 3.0], [-2.0, 1.0]])
    scheds = [Step(0.5), Step(1.0), Constant(1.0), Constant(0.0)]
    flow = drive(schedule_flow(fig4.model, th0, fig4.x, fig4.y, None, 0.0, 19, scheds, 0.01, 200, 10, "rk4"))
    for s_idx, sc in enumerate(scheds):
        want = closed_form_flow(fig4.family, th0, sc, flow.times)
        np.testing.assert_allclose(flow.theta[:, s_idx], want, atol=1e-8, rtol=0)
    # and against scipy's expm at T
    want = _expm_steps(fig4.X, fig4.y, np.ones(20), 0.0, 19, th0, [(0.5, 1.0), (1.5, 0.0)])
    np.testing.assert_allclose(flow.final[0], want, atol=1e-8)


def test_gd_error_is_first_order_in_eta(fig4):
    th0 = np.array([[3.0, 3.0]])
    exact = closed_form_flow(fig4.family, th0, Step(0.5), [2.0])[0]
    errs = []
    for lr in (0.02, 0.01, 0.005):
        f = drive(
            schedule_flow(fig4.model, th0, fig4.x, fig4.y, None, 0.0, 19, [Step(0.5)], lr, round(2 / lr))
        )
        errs.append(np.linalg.norm(f.final[0] - exact))
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.05)
    assert errs[1] / errs[2] == pytest.approx(2.0, rel=0.05)


def test_quadratic_family_matches_linear_model_gradient():
    rng = np.random.default_rng(3)
    model = LinearFeatures(2)
    x, y = rng.uniform(-1, 1, 12), rng.normal(size=12)
    w = rng.uniform(0.2, 1.0, 12)
    fam = QuadraticFamily.from_linear_model(model, x, y, w, 0.05, 4)
    theta = rng.normal(size=(5, 3))
    eps = rng.uniform(0, 1, 5)
    for b in range(5):
        we = w.copy()
        we[4] *= eps[b]
        np.testing.assert_allclose(
            fam.grad(theta[b : b + 1], eps[b : b + 1])[0],
            model.grad(theta[b], x, y, we, 0.05)[0],
            atol=1e-13,
        )


def test_singular_hessian_uses_the_pseudo_inverse():
    """Features (1, x, x²) on 3 distinct x: deleting one point leaves a rank-2 H_0 (κ = 0)."""
    model = LinearFeatures(2)
    x, y = np.array([-1.0, 0.0, 1.0]), np.array([0.5, -0.2, 1.0])
    fam = QuadraticFamily.from_linear_model(model, x, y, None, 0.0, 2)
    assert np.linalg.matrix_rank(fam.H0) == 2
    np.testing.assert_allclose(
        fam.theta_star_del, np.linalg.pinv(fam.H0) @ (model.features(x[:2]).T @ y[:2] / 3)
    )
    th0 = np.array([[0.3, -0.4, 0.8]])
    got = closed_form_flow(fam, th0, 0.0, [5.0])[0]
    want = _expm_flow(fam.H0, fam.theta_star_del, th0, 5.0)
    np.testing.assert_allclose(got, want, atol=1e-12)
    # on the null space of H_0 the flow does not move
    null = np.linalg.eigh(fam.H0)[1][:, 0]
    assert got[0] @ null == pytest.approx(th0[0] @ null, abs=1e-12)


# ------------------------------------------------------------------------------------------------------
# delete-at-time-s (notes eq. 0.9) for an MLP, batching
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(1)
    model = MLPSpec((3,), "tanh")
    x = np.sort(rng.uniform(-2, 2, 15))
    y = np.sin(2 * x) + 0.1 * rng.normal(size=15)
    return model, x, y


def test_step_schedule_is_the_delete_at_time_s_path(mlp):
    """θ(t, s): train with ε = 1 until s, then with ε = 0 until T (core.train, two runs) — the step 1_[0,s)."""
    model, x, y = mlp
    kappa, lr, j = 1e-3, 0.05, 6
    theta0 = model.init_params(2)
    s_steps, T_steps = 120, 300
    flow = drive(
        schedule_flow(
            model, theta0, x, y, None, kappa, j, [Step(s_steps * lr)], lr, T_steps, snapshot_every=10
        )
    )
    cfg = TrainConfig(lr=lr, steps=s_steps, weight_decay=kappa, checkpoint_every=10)
    first = train_models(model, theta0, x, y, None, cfg)
    w0 = np.ones(15)
    w0[j] = 0.0
    second = train_models(model, first.theta, x, y, w0, cfg, steps=T_steps - s_steps)
    ref = np.concatenate([np.stack(first.checkpoints), np.stack(second.checkpoints)[1:]])[:, 0]
    ref_steps = np.concatenate([first.checkpoint_steps, s_steps + np.array(second.checkpoint_steps[1:])])
    np.testing.assert_array_equal(flow.steps, ref_steps)
    np.testing.assert_allclose(flow.theta[:, 0, 0], ref, atol=1e-12)
    np.testing.assert_allclose(flow.times, ref_steps * lr)


def test_batched_flow_equals_one_at_a_time(mlp):
    model, x, y = mlp
    th0 = np.stack([model.init_params(s) for s in (0, 1)])
    scheds = [Step(1.0), LinearDecay(0.5, 2.0), ExponentialDecay(0.5, 2.0, 2.5)]
    for integ in ("gd", "rk4"):
        both = drive(schedule_flow(model, th0, x, y, None, 1e-3, 3, scheds, 0.05, 60, 20, integ))
        for si, sc in enumerate(scheds):
            for p in range(2):
                one = drive(schedule_flow(model, th0[p], x, y, None, 1e-3, 3, [sc], 0.05, 60, 20, integ))
                np.testing.assert_allclose(both.theta[:, si, p], one.theta[:, 0, 0], atol=1e-13)


def test_drawn_schedule_equals_the_named_ones(mlp):
    model, x, y = mlp
    th0 = model.init_params(0)
    scheds = [
        LinearDecay(0.5, 1.5),
        PiecewiseLinear((0.5, 1.5), (1.0, 0.0)),
        Step(1.0),
        PiecewiseLinear((1.0, 1.0), (1.0, 0.0)),
    ]
    f = drive(schedule_flow(model, th0, x, y, None, 1e-3, 2, scheds, 0.05, 50, 0, "rk4"))
    np.testing.assert_allclose(f.final[0], f.final[1], atol=1e-14)
    np.testing.assert_allclose(f.final[2], f.final[3], atol=1e-14)


# ------------------------------------------------------------------------------------------------------
# criterion and target
# ------------------------------------------------------------------------------------------------------


def test_loo_target_linear_is_ols_without_the_point(fig4):
    tgt = loo_target(fig4.model, None, fig4.x, fig4.y, None, 0.0, 7)
    keep = np.arange(20) != 7
    np.testing.assert_allclose(tgt.theta, np.polyfit(fig4.x[keep], fig4.y[keep], 1)[::-1], atol=1e-12)
    assert tgt.converged and tgt.method == "exact" and tgt.grad_norm < 1e-13


def test_loo_target_mlp_is_stationary_by_autograd(mlp):
    model, x, y = mlp
    kappa, j = 1e-2, 4
    theta0 = model.init_params(0)
    trained = train_models(model, theta0, x, y, None, TrainConfig(lr=0.1, steps=1500, weight_decay=kappa))
    theta_hat = polish(model, trained.theta, x, y, None, kappa).theta[0]
    tgt = loo_target(model, theta_hat, x, y, None, kappa, j)
    assert tgt.converged and tgt.grad_norm <= 1e-10
    net = model.to_torch_sequential(tgt.theta)
    xt, yt = torch.tensor(x)[:, None], torch.tensor(y)
    mask = torch.ones(15, dtype=torch.float64)
    mask[j] = 0
    loss = 0.5 * (mask * (net(xt)[:, 0] - yt) ** 2).sum() / 15
    loss = loss + 0.5 * kappa * sum((p * p).sum() for p in net.parameters())
    grads = torch.autograd.grad(loss, list(net.parameters()))
    assert torch.cat([g.reshape(-1) for g in grads]).norm().item() <= 1e-9


def test_criteria_definitions(mlp):
    model, x, y = mlp
    rng = np.random.default_rng(0)
    th = rng.normal(size=(2, 3, 10))
    tgt = rng.normal(size=10)
    e = criterion(th, tgt)
    ef = criterion_function(model, th, tgt, x)
    for a in range(2):
        for b in range(3):
            assert e[a, b] == pytest.approx(0.5 * np.sum((th[a, b] - tgt) ** 2), rel=1e-14)
            f = model.to_torch_sequential(th[a, b])(torch.tensor(x)[:, None])[:, 0].detach().numpy()
            f0 = model.to_torch_sequential(tgt)(torch.tensor(x)[:, None])[:, 0].detach().numpy()
            assert ef[a, b] == pytest.approx(0.5 * np.mean((f - f0) ** 2), rel=1e-12)


def test_vector_field_is_minus_the_gradient(fig4):
    g1, g2, field = vector_field(
        fig4.model, fig4.x, fig4.y, None, 0.0, 19, [1.0, 0.0, 0.5], np.zeros(2), (0, 1), (-1, -2), (2, 3), 5
    )
    X, y = fig4.X, fig4.y
    for e_idx, e in enumerate((1.0, 0.0, 0.5)):
        w = np.ones(20)
        w[19] = e
        for a in range(5):
            for b in range(5):
                th = np.array([g1[b], g2[a]])
                want = -(X.T @ (w * (X @ th - y)) / 20)
                np.testing.assert_allclose(field[e_idx, a, b], want, atol=1e-13)


# ------------------------------------------------------------------------------------------------------
# The notes' optimal-step analysis for H = I, derived by hand and checked numerically
# ------------------------------------------------------------------------------------------------------
#
# With H_0 = H_1 = I, ∇L_ε(θ) = θ − θ*_{−j} − εΔ, Δ = θ* − θ*_{−j}. Variation of constants gives
#   θ(T) − θ*_{−j} = e^{−T}(θ_0 − θ*_{−j}) + Δ·I(ε),   I(ε) = ∫_0^T e^{−(T−u)} ε(u) du,
# so 𝓔 depends on ε only through the number I(ε) ∈ [I_s, 1 − e^{−T}], I_s = e^{−T}(e^s − 1) (the step at s).
# 𝓔 is a convex quadratic in I with minimiser I* = −e^{−T}⟨θ_0 − θ*_{−j}, Δ⟩/‖Δ‖²; hence the step at s is
# optimal in E_s iff I* ≤ I_s, i.e. ⟨θ_0 − θ*_{−j}, Δ⟩ ≥ −(e^s − 1)‖Δ‖², and otherwise the best step is at
# τ* = log(1 − ⟨θ_0 − θ*_{−j}, Δ⟩/‖Δ‖²). For steps, d𝓔(1_[0,τ))/dτ = e^{−2(T−τ)}⟨θ_1(τ) − θ*_{−j}, Δ⟩.
# The notes' example (X = I, y = 1, θ_0 = 0, Δ = e_j) satisfies the condition: the step at s is optimal, as the
# notes say; but their general claim fails already for H = I (counterexample below), and their derivative
# τe^{−2(T−τ)}(‖v‖² + ⟨θ_0 − θ*, v⟩), v = θ_1(τ) − θ*_{−j}, is not the derivative.


def _identity_family(d, j):
    theta_star = np.ones(d)
    theta_del = np.ones(d)
    theta_del[j] = 0.0
    return QuadraticFamily(np.eye(d), theta_star, np.eye(d), theta_del)


def _I(sc, T, m=200001):
    u = np.linspace(0, T, m)
    return np.trapezoid(np.exp(-(T - u)) * sc.eps_left(u), u)  # ε(T⁻): ε on [0, T) is what matters


def test_identity_model_notes_example_step_at_s_is_optimal():
    d, j, s, T, lr = 3, 1, 0.5, 2.0, 0.01
    fam = _identity_family(d, j)
    th0 = np.zeros((1, d))
    taus = np.arange(50, 200) * lr
    E_steps = np.array(
        [criterion(closed_form_flow(fam, th0, Step(t), [T])[0], fam.theta_star_del)[0] for t in taus]
    )
    # the notes' formula for steps with H = I: ½‖e^{−(T−τ)}(e^{−τ}θ_0 + (1 − e^{−τ})θ* − θ*_{−j})‖²
    notes = [
        0.5 * np.sum((np.exp(-(T - t)) * ((1 - np.exp(-t)) * fam.theta_star - fam.theta_star_del)) ** 2)
        for t in taus
    ]
    np.testing.assert_allclose(E_steps, notes, rtol=1e-12)
    assert np.all(np.diff(E_steps) > 0)  # increasing in τ: the step at s is optimal among steps
    t1s = np.linspace(s, T, 16)
    flow = drive(
        quadratic_schedule_flow(fam, th0, [LinearDecay(s, t) for t in t1s], lr, 200, integrator="rk4")
    )
    E_lin = criterion(flow.final[:, 0], fam.theta_star_del)
    assert E_lin[0] == pytest.approx(E_steps[0], abs=1e-10)
    assert np.all(E_lin[1:] > E_steps[0])  # every linear decay is worse than the step at s


def test_identity_model_criterion_depends_only_on_I():
    d, j, T = 2, 0, 2.0
    fam = _identity_family(d, j)
    th0 = np.array([[-1.5, 0.3]])
    lin = LinearDecay(0.5, 1.5)
    # the step with the same I: e^{−T}(e^τ − 1) = I(lin)
    tau = np.log(1 + np.exp(T) * _I(lin, T))
    step_exact = closed_form_flow(fam, th0, Step(tau), [T])[0]
    f = drive(
        quadratic_schedule_flow(fam, th0, [lin, ExponentialDecay(0.5, 2.0, T)], 0.001, 2000, integrator="rk4")
    )
    assert criterion(f.final[0], fam.theta_star_del)[0] == pytest.approx(
        criterion(step_exact, fam.theta_star_del)[0], rel=1e-6
    )
    # the variation-of-constants formula itself, for the exponential decay
    delta = fam.theta_star - fam.theta_star_del
    want = (
        fam.theta_star_del
        + np.exp(-T) * (th0[0] - fam.theta_star_del)
        + delta * _I(ExponentialDecay(0.5, 2.0, T), T)
    )
    np.testing.assert_allclose(f.final[1, 0], want, atol=1e-8)


def test_identity_model_counterexample_and_derivative():
    d, j, s, T = 2, 0, 0.5, 3.0
    fam = _identity_family(d, j)
    delta = fam.theta_star - fam.theta_star_del  # e_0
    th0 = np.array([[-2.0, 0.5]])  # ⟨θ_0 − θ*_{−j}, Δ⟩ = −2 < −(e^s − 1)‖Δ‖² = −0.65
    tau_star = np.log(1 - (th0[0] - fam.theta_star_del) @ delta / (delta @ delta))  # log 3 ≈ 1.0986
    taus = np.linspace(s, T - 0.01, 500)
    E = np.array(
        [criterion(closed_form_flow(fam, th0, Step(t), [T])[0], fam.theta_star_del)[0] for t in taus]
    )
    assert abs(taus[np.argmin(E)] - tau_star) < 0.01
    assert E.min() < E[0] - 1e-3  # a later step beats the step at s
    # derivative: the general formula (core) = the H = I formula = finite differences ≠ the notes' formula
    for tau in (0.6, 1.0, 1.8):
        h = 1e-5
        Ep, Em = (
            criterion(closed_form_flow(fam, th0, Step(t), [T])[0], fam.theta_star_del)[0]
            for t in (tau + h, tau - h)
        )
        fd = (Ep - Em) / (2 * h)
        core = step_time_derivative(fam, th0, tau, T)[0]
        th1 = closed_form_flow(fam, th0, 1.0, [tau])[0, 0]
        by_hand = np.exp(-2 * (T - tau)) * (th1 - fam.theta_star_del) @ delta
        assert core == pytest.approx(fd, rel=1e-6) and by_hand == pytest.approx(fd, rel=1e-6)
        v = th1 - fam.theta_star_del
        notes = tau * np.exp(-2 * (T - tau)) * (v @ v + (th0[0] - fam.theta_star) @ v)
        assert abs(notes - fd) > 1e-3 * abs(fd)


# ------------------------------------------------------------------------------------------------------
# Figure 4: the documented θ_0s
# ------------------------------------------------------------------------------------------------------


def test_step_time_derivative_general_H_matches_finite_differences(fig4):
    th0 = np.array([[0.0, 0.0], [3.0, 3.0], [0.0, 3.0]])
    for tau in (0.5, 1.1):
        h = 1e-5
        E = [exact_criteria(fig4.family, th0, [Step(t)], fig4.T)[0] for t in (tau + h, tau - h)]
        fd = (E[0] - E[1]) / (2 * h)
        np.testing.assert_allclose(step_time_derivative(fig4.family, th0, tau, fig4.T), fd, rtol=1e-5)
    # the data form −(1/n)⟨e^{−H_0(T−τ)}(θ_1 − θ*_{−j}), e^{−H_0(T−τ)}∇ℓ_j(θ_1)⟩ with ∇ℓ_j = φ_j(φ_jᵀθ − y_j)
    tau = 0.5
    E0 = expm(-fig4.family.H0 * (fig4.T - tau))
    th1 = closed_form_flow(fig4.family, th0, 1.0, [tau])[0]
    phi = fig4.X[19]
    want = [-(E0 @ (t - fig4.theta_star_del)) @ (E0 @ (phi * (phi @ t - fig4.y[19]))) / 20 for t in th1]
    np.testing.assert_allclose(step_time_derivative(fig4.family, th0, tau, fig4.T), want, rtol=1e-10)


def test_figure4_findings(fig4):
    pp = drive(phase_portrait(fig4, n_scan=31))
    th0 = pp.flow.theta0s
    np.testing.assert_array_equal(
        th0[:3],
        [FIG4_THETA0_STEP_OPTIMAL, FIG4_THETA0_COUNTEREXAMPLE, FIG4_THETA0_STRONG_COUNTEREXAMPLE],
    )
    # GD with η = 0.01: the step at s is optimal for θ_0 = (0, 0) only, in both scans and overall
    for scan in (pp.step_scan, pp.linear_scan):
        assert scan.step_at_s_optimal[:3].tolist() == [True, False, False]
    assert [o["step_at_s_optimal"] for o in pp.analysis.overall()[:3]] == [True, False, False]
    assert pp.derivative_at_s[0] > 0 and pp.derivative_at_s[1] < 0 and pp.derivative_at_s[2] < 0
    # the docstring's exact numbers (closed forms, scipy expm independent)
    X, y, w = fig4.X, fig4.y, np.ones(20)

    def E(th, tau):
        th_T = _expm_steps(X, y, w, 0.0, 19, th, [(tau, 1.0), (2.0 - tau, 0.0)])
        return 0.5 * np.sum((th_T - fig4.theta_star_del) ** 2)

    assert E((0, 0), 0.5) == pytest.approx(0.0158, abs=5e-5) and E((0, 0), 1.0) == pytest.approx(
        0.0219, abs=5e-5
    )
    assert E((3, 3), 0.5) == pytest.approx(0.0306, abs=5e-5) and E((3, 3), 1.0) == pytest.approx(
        0.0296, abs=5e-5
    )
    assert E((0, 3), 0.5) == pytest.approx(0.147, abs=5e-4)
    taus = np.arange(50, 200) * 0.01
    best = [min(taus, key=lambda t, p=p: E(p, t)) for p in ((3, 3), (0, 3))]
    assert best[0] == pytest.approx(0.97, abs=0.015) and best[1] == pytest.approx(1.86, abs=0.015)
    assert E((0, 3), 1.86) == pytest.approx(0.096, abs=5e-4)
    # exact criteria of the panel's step schedules equal the expm ones
    for k, sc in enumerate(pp.flow.schedules):
        if isinstance(sc, Step):
            np.testing.assert_allclose(pp.criterion_exact[k], [E(p, sc.tau) for p in th0], rtol=1e-10)
    # for θ_0 = (3, 3) a linear decay (t_1 ≈ 1.75) beats every step (RK4, accurate to ~1e-10)
    lin = drive(
        quadratic_schedule_flow(
            fig4.family, [[3.0, 3.0]], [LinearDecay(0.5, 1.75)], 0.01, 200, integrator="rk4"
        )
    )
    e_lin = criterion(lin.final[0, 0], fig4.theta_star_del)
    assert e_lin == pytest.approx(0.0289, abs=5e-5) and e_lin < min(E((3, 3), t) for t in taus) - 5e-4
    # the field and the trajectories fit on the grid
    assert pp.field.shape == (2, 21, 21, 2)
    pts = pp.flow.theta.reshape(-1, 2)
    assert pts[:, 0].min() >= pp.grid_1[0] and pts[:, 1].max() <= pp.grid_2[-1]


def test_scan_functions_and_analysis_agree(fig4):
    th0 = np.array([[0.0, 0.0], [3.0, 3.0]])
    tgt = fig4.theta_star_del
    args = (fig4.model, th0, fig4.x, fig4.y, None, 0.0, 19, tgt, 0.5, 2.0, 0.01, 11)
    step = drive(run_scan("step", *args))
    lin = drive(run_scan("linear", *args))
    assert step.params[0] == 0.5 and np.all(step.params < 2.0) and lin.params[-1] == 2.0
    assert step.criterion[0] == pytest.approx(lin.criterion[0], abs=1e-15)  # both start with the step at s
    ana = drive(
        analyze_schedules(
            fig4.model,
            th0,
            fig4.x,
            fig4.y,
            None,
            0.0,
            19,
            [Step(0.5)],
            0.5,
            2.0,
            0.01,
            loo_target(fig4.model, None, fig4.x, fig4.y, None, 0.0, 19),
            11,
        )
    )
    np.testing.assert_allclose(ana.step_scan.criterion, step.criterion, atol=1e-15)
    np.testing.assert_allclose(ana.linear_scan.criterion, lin.criterion, atol=1e-15)
    np.testing.assert_allclose(ana.criterion[0], step.criterion[0], atol=1e-15)
    # GD step scan = the exact discrete recursion for every τ
    for g, sc in enumerate(step.schedules):
        np.testing.assert_allclose(
            step.theta_T[g], gd_closed_form(fig4.family, th0, sc, 0.01, 200), atol=1e-12
        )


def test_flow_errors(fig4):
    with pytest.raises(ValueError, match="integrator"):
        drive(
            schedule_flow(
                fig4.model, [0, 0], fig4.x, fig4.y, None, 0, 1, [Step(1)], 0.1, 5, integrator="euler"
            )
        )
    with pytest.raises(ValueError, match="index"):
        drive(schedule_flow(fig4.model, [0, 0], fig4.x, fig4.y, None, 0, 20, [Step(1)], 0.1, 5))
    with pytest.raises(ValueError, match="whole number"):
        drive(run_scan("step", fig4.model, [0, 0], fig4.x, fig4.y, None, 0, 1, [0, 0], 0.5, 2.005, 0.01))
    with pytest.raises(ValueError, match="s < T"):
        step_scan_schedules(2.0, 1.0, 0.01)
    # a too-large step diverges and is reported, not raised
    f = drive(schedule_flow(fig4.model, [[0, 0]], fig4.x, fig4.y, None, 0, 1, [Step(1)], 5.0, 200))
    assert f.diverged.all()
