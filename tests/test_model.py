"""The batched analytic model against torch autograd on an equivalent nn.Sequential (docs/science.md §1)."""

import numpy as np
import pytest
import torch
from torch.func import functional_call, hessian, jacrev

from core.model import ACTIVATIONS, LinearFeatures, MLPSpec, model_from_description

ARCHS = [(3,), (4, 2), (2, 3, 2)]


def _torch_oracle(model: MLPSpec, theta_b, x, y, w, kappa):
    net = model.to_torch_sequential(theta_b)
    names_shapes = [(name, p.shape) for name, p in net.named_parameters()]
    xt = torch.tensor(x)[:, None]
    yt = torch.tensor(y)
    wt = torch.tensor(w)

    def f(t):
        params, offset = {}, 0
        for name, shape in names_shapes:
            size = int(np.prod(shape))
            params[name] = t[offset : offset + size].reshape(shape)
            offset += size
        return functional_call(net, params, (xt,))[:, 0]

    def loss(t):
        return 0.5 * (wt * (f(t) - yt) ** 2).sum() / len(x) + 0.5 * kappa * (t * t).sum()

    def gnh(t):
        J = jacrev(f)(t)
        return (J.T * (wt / len(x))) @ J + kappa * torch.eye(len(t), dtype=t.dtype)

    t = torch.tensor(theta_b)
    return {
        "pred": f(t).detach().numpy(),
        "jac": jacrev(f)(t).numpy(),
        "loss": float(loss(t)),
        "grad": jacrev(loss)(t).numpy(),
        "hess": hessian(loss)(t).numpy(),
        "gnh": gnh(t).numpy(),
        "params_vec": torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy(),
    }


@pytest.mark.parametrize("hidden", ARCHS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batched_mlp_matches_autograd(hidden, activation):
    rng = np.random.default_rng(hash((hidden, activation)) % 2**32)
    model = MLPSpec(hidden, activation)
    B, n, kappa = 3, 9, 0.01
    theta = rng.normal(size=(B, model.n_params))
    x, y = rng.normal(size=n), rng.normal(size=n)
    w = rng.uniform(size=(B, n))
    pred = model.predict(theta, x)
    J = model.jacobian(theta, x)
    loss, grad = model.loss_and_grad(theta, x, y, w, kappa)
    H = model.hessian(theta, x, y, w, kappa)
    G = model.gnh(theta, x, w, kappa)
    for b in range(B):
        ref = _torch_oracle(model, theta[b], x, y, w[b], kappa)
        np.testing.assert_allclose(ref["params_vec"], theta[b], atol=0)
        np.testing.assert_allclose(pred[b], ref["pred"], atol=1e-10, rtol=0)
        np.testing.assert_allclose(J[b], ref["jac"], atol=1e-10, rtol=0)
        assert abs(loss[b] - ref["loss"]) <= 1e-10
        np.testing.assert_allclose(grad[b], ref["grad"], atol=1e-10, rtol=0)
        np.testing.assert_allclose(H[b], ref["hess"], atol=1e-10, rtol=0)
        np.testing.assert_allclose(G[b], ref["gnh"], atol=1e-10, rtol=0)


def test_per_example_grads_and_unweighted_defaults():
    rng = np.random.default_rng(3)
    model = MLPSpec((3,), "tanh")
    theta = rng.normal(size=model.n_params)
    x, y = rng.normal(size=6), rng.normal(size=6)
    G = model.per_example_grads(theta, x, y)[0]
    # the mean of per-example gradients is the gradient of the unweighted loss without weight decay
    np.testing.assert_allclose(G.mean(axis=0), model.grad(theta, x, y)[0], atol=1e-14)
    # weight w_j = 0 removes exactly z_j's term while keeping 1/n (docs/science.md §1)
    w = np.ones(6)
    w[2] = 0.0
    np.testing.assert_allclose(model.grad(theta, x, y, w)[0], (G.sum(axis=0) - G[2]) / 6, atol=1e-14)


def test_parameter_layout_is_sequential_order():
    model = MLPSpec((3,), "tanh")
    assert model.n_params == 10
    assert model.param_names() == [
        "W1[0,0]",
        "W1[1,0]",
        "W1[2,0]",
        "b1[0]",
        "b1[1]",
        "b1[2]",
        "W2[0,0]",
        "W2[0,1]",
        "W2[0,2]",
        "b2[0]",
    ]
    assert model_from_description(model.describe()) == model


def test_linear_features_closed_form():
    rng = np.random.default_rng(4)
    model = LinearFeatures(2)
    x, y = rng.normal(size=10), rng.normal(size=10)
    theta = rng.normal(size=(2, 3))
    phi = np.stack([np.ones(10), x, x**2], axis=1)
    np.testing.assert_allclose(model.predict(theta, x), theta @ phi.T)
    H = model.hessian(theta, x, y, None, 0.1)
    np.testing.assert_allclose(H[1], phi.T @ phi / 10 + 0.1 * np.eye(3), atol=1e-14)
    g = model.grad(theta, x, y, None, 0.1)
    np.testing.assert_allclose(g[0], phi.T @ (phi @ theta[0] - y) / 10 + 0.1 * theta[0], atol=1e-14)
    assert model_from_description(model.describe()) == model


def test_bad_specs_are_refused_with_a_message():
    with pytest.raises(ValueError, match="activation"):
        MLPSpec((3,), "gelu")
    with pytest.raises(ValueError, match="positive"):
        MLPSpec((0,), "tanh")
