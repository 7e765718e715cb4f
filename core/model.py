"""Batched functional models: MLPs with analytic derivatives and linear feature models.

Every function takes parameters with a leading model axis, ``theta`` of shape (B, d), and evaluates B models
at once on the same inputs x of shape (n,). Per-model data weights have shape (B, n). All float64 numpy.

Parameter layout (docs/science.md §1, a public contract): the flattening of the equivalent
``torch.nn.Sequential(Linear(1, h1), act, ..., Linear(hL, 1))`` in ``parameters()`` order, i.e. for each
layer its weight (out × in, row-major) followed by its bias.

Loss convention (docs/science.md §1): ℓ_i = ½ (f(θ; x_i) − y_i)²,
L_w(θ) = (1/n) Σ_i w_i ℓ_i(θ) + (κ/2)‖θ‖², with n the number of points (deleted ones included).

Why numpy and hand-written derivatives: the models here are tiny (d ≈ 10), so the cost is the number of
array operations, not flops; numpy's per-operation overhead is a few times lower than torch's on such arrays
(measured on this machine), and the analytic exact Hessian (forward-over-reverse with all d tangent
directions at once) avoids autograd's overhead. torch autograd stays the test oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("tanh", "relu", "softplus", "sigmoid", "identity")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Stable for large |z|: exp never overflows.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def activation_derivatives(name: str, z: np.ndarray, order: int = 2):
    """σ(z), σ'(z) and (for order 2) σ''(z) for the named activation."""
    if name == "tanh":
        a = np.tanh(z)
        d1 = 1.0 - a * a
        d2 = -2.0 * a * d1 if order >= 2 else None
    elif name == "relu":
        a = np.maximum(z, 0.0)
        d1 = (z > 0).astype(z.dtype)
        d2 = np.zeros_like(z) if order >= 2 else None
    elif name == "softplus":
        a = np.logaddexp(0.0, z)
        d1 = _sigmoid(z)
        d2 = d1 * (1.0 - d1) if order >= 2 else None
    elif name == "sigmoid":
        a = _sigmoid(z)
        d1 = a * (1.0 - a)
        d2 = d1 * (1.0 - 2.0 * a) if order >= 2 else None
    elif name == "identity":
        a = z
        d1 = np.ones_like(z)
        d2 = np.zeros_like(z) if order >= 2 else None
    else:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return a, d1, d2


def _as_batch(theta: np.ndarray) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    return theta[None, :] if theta.ndim == 1 else theta


def _weights(w, B: int, n: int) -> np.ndarray:
    if w is None:
        return np.ones((B, n))
    w = np.asarray(w, dtype=np.float64)
    return np.broadcast_to(w, (B, n)) if w.ndim <= 1 else w


class Model:
    """Common interface. Subclasses implement ``predict``, ``jacobian`` and ``output_hessian_sum``."""

    n_params: int

    # -- to implement -------------------------------------------------------------------------------
    def predict(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:  # (B, n)
        raise NotImplementedError

    def jacobian(self, theta: np.ndarray, x: np.ndarray) -> np.ndarray:  # (B, n, d): ∂f(θ; x_i)/∂θ
        raise NotImplementedError

    def output_hessian_sum(self, theta: np.ndarray, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Σ_i c_i ∇²_θ f(θ; x_i) for per-model coefficients c (B, n); shape (B, d, d)."""
        raise NotImplementedError

    def weighted_output_grad(self, theta: np.ndarray, x: np.ndarray, c: np.ndarray):
        """(f, Σ_i c_i ∇_θ f(θ; x_i)) — overridden by fast paths."""
        J = self.jacobian(theta, x)
        return self.predict(theta, x), np.einsum("bn,bnd->bd", c, J)

    def describe(self) -> dict:
        raise NotImplementedError

    # -- the loss of docs/science.md §1 -------------------------------------------------------------------
    def loss(self, theta, x, y, w=None, kappa: float = 0.0) -> np.ndarray:
        """L_w(θ) = (1/n) Σ_i w_i ½ (f_i − y_i)² + (κ/2)‖θ‖²  (docs/science.md §1); shape (B,)."""
        theta = _as_batch(theta)
        f = self.predict(theta, x)
        n = f.shape[1]
        w = _weights(w, theta.shape[0], n)
        r = f - y
        return 0.5 * np.einsum("bn,bn->b", w, r * r) / n + 0.5 * kappa * np.einsum("bd,bd->b", theta, theta)

    def loss_and_grad(self, theta, x, y, w=None, kappa: float = 0.0):
        """(L_w(θ), ∇L_w(θ) = (1/n) Σ_i w_i r_i ∇f_i + κθ) with r_i = f_i − y_i (docs/science.md §1)."""
        theta = _as_batch(theta)
        n = np.shape(x)[0]
        B = theta.shape[0]
        w = _weights(w, B, n)
        f = self.predict(theta, x)
        r = f - y
        c = w * r / n
        _, g = self.weighted_output_grad(theta, x, c)
        loss = 0.5 * np.einsum("bn,bn->b", c, r) + 0.5 * kappa * np.einsum("bd,bd->b", theta, theta)
        return loss, g + kappa * theta

    def grad(self, theta, x, y, w=None, kappa: float = 0.0) -> np.ndarray:
        return self.loss_and_grad(theta, x, y, w, kappa)[1]

    def per_example_grads(self, theta, x, y) -> np.ndarray:
        """∇ℓ_i(θ) = (f_i − y_i) ∇f_i; shape (B, n, d)."""
        theta = _as_batch(theta)
        J = self.jacobian(theta, x)
        r = self.predict(theta, x) - y
        return r[:, :, None] * J

    def gnh(self, theta, x, w=None, kappa: float = 0.0) -> np.ndarray:
        """Gauss–Newton Hessian G = (1/n) Σ_i w_i ∇f_i ∇f_iᵀ + κI (docs/science.md §1); shape (B, d, d)."""
        theta = _as_batch(theta)
        J = self.jacobian(theta, x)
        n = J.shape[1]
        w = _weights(w, theta.shape[0], n)
        G = np.swapaxes(J * (w / n)[:, :, None], 1, 2) @ J  # BLAS; an einsum here is 20× slower
        if kappa:
            G = G + kappa * np.eye(self.n_params)
        return G

    def hessian(self, theta, x, y, w=None, kappa: float = 0.0) -> np.ndarray:
        """Exact Hessian ∇²L_w = G_w + (1/n) Σ_i w_i r_i ∇²f_i (docs/science.md §1); shape (B, d, d)."""
        theta = _as_batch(theta)
        n = np.shape(x)[0]
        w = _weights(w, theta.shape[0], n)
        r = self.predict(theta, x) - y
        H = self.gnh(theta, x, w, kappa)
        H = H + self.output_hessian_sum(theta, x, w * r / n)
        return 0.5 * (H + np.swapaxes(H, 1, 2))


@dataclass(frozen=True)
class MLPSpec(Model):
    """An MLP 1 → h_1 → … → h_L → 1 with one activation on every hidden layer (docs/science.md §1)."""

    hidden: tuple[int, ...] = (3,)
    activation: str = "tanh"
    _shapes: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        hidden = tuple(int(h) for h in self.hidden)
        if any(h < 1 for h in hidden):
            raise ValueError("hidden widths must be positive integers")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}"
            )
        object.__setattr__(self, "hidden", hidden)
        widths = (1, *hidden, 1)
        shapes = []
        offset = 0
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            w_slice = slice(offset, offset + fan_out * fan_in)
            offset += fan_out * fan_in
            b_slice = slice(offset, offset + fan_out)
            offset += fan_out
            shapes.append((fan_in, fan_out, w_slice, b_slice))
        object.__setattr__(self, "_shapes", tuple(shapes))

    @property
    def layers(self) -> list[int]:
        return [1, *self.hidden, 1]

    @property
    def n_params(self) -> int:  # type: ignore[override]
        return self._shapes[-1][3].stop

    def describe(self) -> dict:
        return {
            "kind": "mlp",
            "layers": self.layers,
            "activation": self.activation,
            "n_params": self.n_params,
        }

    def param_names(self) -> list[str]:
        names = []
        for layer, (fan_in, fan_out, _, _) in enumerate(self._shapes, start=1):
            names += [f"W{layer}[{p},{q}]" for p in range(fan_out) for q in range(fan_in)]
            names += [f"b{layer}[{p}]" for p in range(fan_out)]
        return names

    def init_params(self, seed: int = 0, batch: int | None = None) -> np.ndarray:
        """torch.nn.Linear's default initialisation, U(−1/√fan_in, 1/√fan_in), from a numpy seed."""
        rng = np.random.default_rng(seed)
        size = (self.n_params,) if batch is None else (batch, self.n_params)
        theta = np.empty(size)
        for fan_in, _, w_slice, b_slice in self._shapes:
            bound = 1.0 / np.sqrt(fan_in)
            theta[..., w_slice] = rng.uniform(-bound, bound, size=theta[..., w_slice].shape)
            theta[..., b_slice] = rng.uniform(-bound, bound, size=theta[..., b_slice].shape)
        return theta

    def unpack(self, theta: np.ndarray):
        """[(W (B, out, in), b (B, out)), …] views into theta."""
        theta = _as_batch(theta)
        B = theta.shape[0]
        return [
            (theta[:, ws].reshape(B, fan_out, fan_in), theta[:, bs])
            for fan_in, fan_out, ws, bs in self._shapes
        ]

    def _forward(self, theta, x, order: int):
        """Pre-activations, activations and σ', σ'' per hidden layer; activations a_l have shape (B, n, h_l)."""
        params = self.unpack(theta)
        B = theta.shape[0]
        a = np.broadcast_to(np.asarray(x, dtype=np.float64)[None, :, None], (B, np.shape(x)[0], 1))
        acts, d1s, d2s = [a], [], []
        for W, b in params[:-1]:
            z = a @ np.swapaxes(W, 1, 2) + b[:, None, :]
            a, d1, d2 = activation_derivatives(self.activation, z, order)
            acts.append(a)
            d1s.append(d1)
            d2s.append(d2)
        W, b = params[-1]
        f = (a @ np.swapaxes(W, 1, 2))[:, :, 0] + b
        return params, acts, d1s, d2s, f

    def predict(self, theta, x):
        theta = _as_batch(theta)
        params = self.unpack(theta)
        a = np.asarray(x, dtype=np.float64)[None, :, None]
        for W, b in params[:-1]:
            a, _, _ = activation_derivatives(self.activation, a @ np.swapaxes(W, 1, 2) + b[:, None, :], 0)
        W, b = params[-1]
        return (a @ np.swapaxes(W, 1, 2))[:, :, 0] + b

    def _backward(self, params, acts, d1s, seed):
        """δ_l = ∂(Σ_i c_i f_i)/∂z_l per example, for every layer l (output layer last); seed c is (B, n)."""
        deltas = [seed[:, :, None]]
        for l in range(len(params) - 1, 0, -1):
            W = params[l][0]
            deltas.append((deltas[-1] @ W) * d1s[l - 1])
        deltas.reverse()
        return deltas

    def loss_and_grad(self, theta, x, y, w=None, kappa: float = 0.0):
        """(L_w(θ), ∇L_w(θ)) in one fused forward/backward pass (docs/science.md §1).

        The hot loop of every gradient-descent run. Arrays are laid out (B, width, n) so that the
        per-example axis is contiguous: on these tiny arrays numpy's cost is the number of operations,
        and this layout keeps reductions and broadcasts on the fast path.
        """
        theta = _as_batch(theta)
        x = np.asarray(x, dtype=np.float64)
        B, n = theta.shape[0], x.shape[0]
        shapes = self._shapes
        acts = []  # hidden activations, (B, h_l, n)
        d1s = []
        a = None
        for l, (fan_in, fan_out, ws, bs) in enumerate(shapes[:-1]):
            W = theta[:, ws].reshape(B, fan_out, fan_in)
            z = W * x if l == 0 else W @ a  # input width is 1: a broadcast beats a matmul
            z += theta[:, bs][:, :, None]
            a, d1, _ = activation_derivatives(self.activation, z, 1)
            acts.append(a)
            d1s.append(d1)
        fan_in, _, ws, bs = shapes[-1]
        W_out = theta[:, ws]  # (B, h_L) — the output width is 1
        if a is None:
            f = W_out * x + theta[:, bs]
        else:
            f = (W_out[:, None, :] @ a)[:, 0, :] + theta[:, bs]
        r = f - y
        c = r * (1.0 / n) if w is None else r * (np.asarray(w, dtype=np.float64) * (1.0 / n))
        loss = 0.5 * np.einsum("bn,bn->b", c, r)
        g = np.empty_like(theta)
        if a is None:
            g[:, ws] = (c @ x)[:, None]
        else:
            g[:, ws] = (a @ c[:, :, None])[:, :, 0]
        g[:, bs] = c.sum(axis=1)[:, None]
        if acts:
            delta = W_out[:, :, None] * c[:, None, :]  # (B, h_L, n)
            for l in range(len(shapes) - 2, -1, -1):
                delta *= d1s[l]
                fan_in, fan_out, ws, bs = shapes[l]
                g[:, ws] = (delta @ x) if l == 0 else (delta @ np.swapaxes(acts[l - 1], 1, 2)).reshape(B, -1)
                g[:, bs] = delta.sum(axis=2)
                if l > 0:
                    delta = np.swapaxes(theta[:, ws].reshape(B, fan_out, fan_in), 1, 2) @ delta
        if kappa:
            loss = loss + 0.5 * kappa * np.einsum("bd,bd->b", theta, theta)
            g += kappa * theta
        return loss, g

    def weighted_output_grad(self, theta, x, c):
        theta = _as_batch(theta)
        params, acts, d1s, _, f = self._forward(theta, x, 1)
        deltas = self._backward(params, acts, d1s, c)
        B = theta.shape[0]
        g = np.empty((B, self.n_params))
        for (_, _, ws, bs), delta, a_prev in zip(self._shapes, deltas, acts):
            g[:, ws] = (np.swapaxes(delta, 1, 2) @ a_prev).reshape(B, -1)
            g[:, bs] = delta.sum(axis=1)
        return f, g

    def jacobian(self, theta, x):
        theta = _as_batch(theta)
        params, acts, d1s, _, _ = self._forward(theta, x, 1)
        B, n = theta.shape[0], np.shape(x)[0]
        deltas = self._backward(params, acts, d1s, np.ones((B, n)))
        J = np.empty((B, n, self.n_params))
        for (_, _, ws, bs), delta, a_prev in zip(self._shapes, deltas, acts):
            J[:, :, ws] = (delta[:, :, :, None] * a_prev[:, :, None, :]).reshape(B, n, -1)
            J[:, :, bs] = delta
        return J

    def _direction_table(self):
        """For every basis direction k of θ: (layer, is_weight, p, q) in the §1 layout."""
        layer, is_w, ps, qs = [], [], [], []
        for l, (fan_in, fan_out, _, _) in enumerate(self._shapes):
            for p in range(fan_out):
                for q in range(fan_in):
                    layer.append(l), is_w.append(True), ps.append(p), qs.append(q)
            for p in range(fan_out):
                layer.append(l), is_w.append(False), ps.append(p), qs.append(0)
        return np.array(layer), np.array(is_w), np.array(ps), np.array(qs)

    #: tangent arrays hold at most this many numbers per chunk of directions (bounds memory for wide nets)
    HESSIAN_CHUNK_ELEMENTS = 2**21

    def output_hessian_sum(self, theta, x, c):
        """Σ_i c_i ∇²f(θ; x_i) by forward-over-reverse differentiation along the d basis directions.

        Forward tangents ż_l = Ẇ_l a_{l−1} + ḃ_l + W_l ȧ_{l−1}, ȧ_l = σ'(z_l) ż_l; backward tangents
        δ̇_l = σ''(z_l) ż_l ⊙ u_l + σ'(z_l) ⊙ (Ẇ_{l+1}ᵀ δ_{l+1} + W_{l+1}ᵀ δ̇_{l+1}) with u_l = W_{l+1}ᵀ δ_{l+1};
        the Hessian columns are the tangents of the gradient blocks Σ_i δ_l a_{l−1}ᵀ and Σ_i δ_l. Directions
        are processed in chunks so the (B, chunk, n, width) tangent arrays stay small for wide networks.
        """
        theta = _as_batch(theta)
        params, acts, d1s, d2s, _ = self._forward(theta, x, 2)
        deltas = self._backward(params, acts, d1s, np.asarray(c, dtype=np.float64))
        B, n, d = theta.shape[0], np.shape(x)[0], self.n_params
        L = len(params)
        dir_layer, dir_is_w, dir_p, dir_q = self._direction_table()
        width = max(max(self.hidden, default=1), 1)
        chunk = int(max(1, min(d, self.HESSIAN_CHUNK_ELEMENTS // max(1, B * n * width))))
        H = np.empty((B, d, d))
        for k0 in range(0, d, chunk):
            k1 = min(d, k0 + chunk)
            K = k1 - k0
            lay, isw, ps, qs = dir_layer[k0:k1], dir_is_w[k0:k1], dir_p[k0:k1], dir_q[k0:k1]
            # forward tangents: a_dots[l] is the tangent of the input to layer l, (B, K, n, in_l) or None
            a_dots = [None]
            z_dots = []
            for l in range(L - 1):
                W = params[l][0]
                fan_out = W.shape[1]
                own = np.flatnonzero(lay == l)
                if a_dots[-1] is None:
                    if own.size == 0:  # no direction of this chunk acts on layers ≤ l: tangents are zero
                        z_dots.append(None)
                        a_dots.append(None)
                        continue
                    z_dot = np.zeros((B, K, n, fan_out))
                else:
                    z_dot = a_dots[-1] @ np.swapaxes(W, 1, 2)[:, None]
                if own.size:
                    w_dirs, b_dirs = own[isw[own]], own[~isw[own]]
                    # direction W_l[p, q]: ż_l gains e_p a_{l−1, q}; direction b_l[p]: e_p
                    z_dot[:, w_dirs, :, ps[w_dirs]] += np.moveaxis(acts[l][:, :, qs[w_dirs]], 2, 0)
                    z_dot[:, b_dirs, :, ps[b_dirs]] += 1.0
                z_dots.append(z_dot)
                a_dots.append(d1s[l][:, None] * z_dot)
            # backward tangents; the seed c is held fixed, so the output delta has none
            delta_dots = [None] * L
            for l in range(L - 2, -1, -1):
                W_next = params[l + 1][0]
                u = deltas[l + 1] @ W_next  # (B, n, h_l)
                if delta_dots[l + 1] is None:
                    u_dot = np.zeros((B, K, n, W_next.shape[2]))
                else:
                    u_dot = delta_dots[l + 1] @ W_next[:, None]
                own = np.flatnonzero((lay == l + 1) & isw)
                if own.size:
                    # direction W_{l+1}[p, q]: W_{l+1}ᵀ δ_{l+1} gains e_q δ_{l+1, p}
                    u_dot[:, own, :, qs[own]] += np.moveaxis(deltas[l + 1][:, :, ps[own]], 2, 0)
                delta_dots[l] = d1s[l][:, None] * u_dot
                if z_dots[l] is not None:
                    delta_dots[l] += d2s[l][:, None] * z_dots[l] * u[:, None]
            for l, (fan_in, fan_out, ws, bs) in enumerate(self._shapes):
                # columns for W_l: Σ_i (δ̇_l a_{l−1}ᵀ + δ_l ȧ_{l−1}ᵀ); for b_l: Σ_i δ̇_l
                block = np.zeros((B, K, fan_out, fan_in))
                if delta_dots[l] is not None:
                    block += np.swapaxes(delta_dots[l], 2, 3) @ acts[l][:, None]
                if a_dots[l] is not None:
                    block += np.swapaxes(deltas[l], 1, 2)[:, None] @ a_dots[l]
                H[:, ws, k0:k1] = np.swapaxes(block.reshape(B, K, -1), 1, 2)
                if delta_dots[l] is None:
                    H[:, bs, k0:k1] = 0.0
                else:
                    H[:, bs, k0:k1] = np.swapaxes(delta_dots[l].sum(axis=2), 1, 2)
        return H

    def to_torch_sequential(self, theta: np.ndarray):
        """An equivalent torch.nn.Sequential holding theta (a single model), for oracles and baselines."""
        import torch

        acts = {
            "tanh": torch.nn.Tanh,
            "relu": torch.nn.ReLU,
            "softplus": torch.nn.Softplus,
            "sigmoid": torch.nn.Sigmoid,
            "identity": torch.nn.Identity,
        }
        modules = []
        for i, (fan_in, fan_out, _, _) in enumerate(self._shapes):
            modules.append(torch.nn.Linear(fan_in, fan_out, dtype=torch.float64))
            if i < len(self._shapes) - 1:
                modules.append(acts[self.activation]())
        net = torch.nn.Sequential(*modules)
        torch.nn.utils.vector_to_parameters(torch.tensor(np.array(theta, dtype=np.float64)), net.parameters())
        return net


@dataclass(frozen=True)
class LinearFeatures(Model):
    """f(θ; x) = θᵀφ(x) with φ(x) = (1, x, …, x^p) (docs/science.md §1)."""

    degree: int = 1

    def __post_init__(self):
        if int(self.degree) < 0:
            raise ValueError("degree must be ≥ 0")
        object.__setattr__(self, "degree", int(self.degree))

    @property
    def n_params(self) -> int:  # type: ignore[override]
        return self.degree + 1

    def features(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)[:, None] ** np.arange(self.degree + 1)

    def describe(self) -> dict:
        names = ["1", "x"] + [f"x^{k}" for k in range(2, self.degree + 1)]
        return {
            "kind": "linear",
            "features": names[: self.n_params],
            "activation": "identity",
            "n_params": self.n_params,
        }

    def param_names(self) -> list[str]:
        return [f"θ{k}" for k in range(self.n_params)]

    def init_params(self, seed: int = 0, batch: int | None = None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        size = (self.n_params,) if batch is None else (batch, self.n_params)
        return rng.normal(0.0, 1.0, size=size)

    def predict(self, theta, x):
        return _as_batch(theta) @ self.features(x).T

    def jacobian(self, theta, x):
        theta = _as_batch(theta)
        phi = self.features(x)
        return np.broadcast_to(phi, (theta.shape[0], *phi.shape)).copy()

    def weighted_output_grad(self, theta, x, c):
        theta = _as_batch(theta)
        phi = self.features(x)
        return theta @ phi.T, c @ phi

    def output_hessian_sum(self, theta, x, c):
        theta = _as_batch(theta)
        return np.zeros((theta.shape[0], self.n_params, self.n_params))


def model_from_description(desc: dict) -> Model:
    """Inverse of ``Model.describe()`` (session files, CLI)."""
    kind = desc.get("kind", "mlp")
    if kind == "mlp":
        layers = list(desc["layers"])
        if len(layers) < 2 or layers[0] != 1 or layers[-1] != 1:
            raise ValueError("an MLP's layers must start and end with 1 (1D regression)")
        return MLPSpec(hidden=tuple(layers[1:-1]), activation=desc.get("activation", "tanh"))
    if kind == "linear":
        return LinearFeatures(degree=len(desc["features"]) - 1)
    raise ValueError(f"unknown model kind {kind!r}")
