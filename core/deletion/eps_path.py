"""The ε-path θ(ε) and the gradient-flow homotopy θ(t, ε) (docs/science.md §2 and §4).

θ_j(ε) = argmin_θ L_{w(ε)}(θ) with w_j = ε and w_i = 1 otherwise (so ε = 1 is the trained model and ε = 0
the model with z_j deleted). Two branches are computed:
- the continuation path, followed from θ̂ at ε = 1 down to ε = 0 by tangent predictor / Newton corrector
  steps (each point converged to ‖∇L_{w(ε)}‖ ≤ 1e-10), the branch influence functions linearise;
- the cold path θ(T, ε): for each ε, training from the same θ_0 with the same optimiser and steps.
Both are batched over several deleted points j at once (one model per j).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import numpy as np

from core.model import Model
from core.objective import newton_solve, training_objective
from core.progress import Progress
from core.train import TrainConfig, train

#: Newton corrector tolerance of every continuation point (docs/science.md §2).
PATH_TOL = 1e-10


def eps_weights(base_w: np.ndarray, js, eps) -> np.ndarray:
    """Weights w(ε) for each (j, ε) pair: base weights with w_j = ε·base_w_j; shape (B, n)."""
    js = np.atleast_1d(np.asarray(js, dtype=int))
    eps = np.broadcast_to(np.asarray(eps, dtype=np.float64), js.shape)
    W = np.tile(np.asarray(base_w, dtype=np.float64), (js.size, 1))
    W[np.arange(js.size), js] *= eps
    return W


def eps_tangent(model: Model, theta, x, y, base_w, kappa: float, js, eps) -> tuple[np.ndarray, np.ndarray]:
    """θ'(ε) = −(∇²L_{w(ε)}(θ))⁻¹ w_j ∇ℓ_j(θ) / n (implicit function theorem, docs/science.md §2), batched over j.

    ``theta`` (B, d) are path points for deleted points ``js`` (B,) at weights ``eps`` (B,) (or a scalar);
    w(ε) = ``eps_weights(base_w, js, eps)``. Returns (tangent (B, d), Hessian eigenvalues (B, d), ascending).
    At ε = 1 this is minus the classical influence Δθ_IF; at ε = 0 it is the influence of re-inserting z_j
    into the leave-one-out model.

    Convention for a point whose own weight w_j is below 1: ε scales it (w_j(ε) = ε·w_j), so ε = 1 is always
    the trained model and the derivative carries the factor w_j. With all weights 1 (the usual case) this is
    docs/science.md §2's w_j = ε exactly.
    """
    js = np.atleast_1d(np.asarray(js, dtype=int))
    n = np.shape(x)[0]
    W = eps_weights(base_w, js, eps)
    H = model.hessian(theta, x, y, W, kappa)
    base = np.asarray(base_w, dtype=np.float64)[js]
    g = model.per_example_grads(theta, x, y)[np.arange(len(js)), js] * base[:, None]  # w_j ∇ℓ_j, (B, d)
    lam, Q = np.linalg.eigh(H)
    tangent = -np.einsum("bij,bj->bi", Q, np.einsum("bji,bj->bi", Q, g) / lam) / n
    return tangent, lam


@dataclass
class EpsPath:
    """The continuation path for each deleted point (leading axis B = len(js))."""

    js: np.ndarray  # (B,)
    eps: np.ndarray  # (K,) from 1 down to 0
    theta: np.ndarray  # (B, K, d); NaN after a fold or a failure
    grad_norm: np.ndarray  # (B, K) ‖∇L_{w(ε)}‖ at each point
    min_eig: np.ndarray  # (B, K) smallest Hessian eigenvalue at each point
    tangent: np.ndarray  # (B, K, d) θ'(ε) at each point
    reached: np.ndarray  # (B,) index of the last point computed
    messages: list[str] = field(default_factory=list)

    @property
    def complete(self) -> np.ndarray:
        return self.reached == len(self.eps) - 1

    @property
    def tangent_at_1(self) -> np.ndarray:
        return self.tangent[:, 0]

    @property
    def tangent_at_0(self) -> np.ndarray:
        return self.tangent[:, -1]

    def straightness(self) -> dict:
        """How straight each path is (docs/science.md §2, the notes' Figure 3 question).

        - ``chord_length`` ‖θ(0) − θ(1)‖;
        - ``max_chord_distance``: max over ε of the distance of θ(ε) from the line through θ(1), θ(0),
          and ``relative_chord_distance`` = that / chord length (0 for a straight path);
        - ``tangent_difference`` ‖θ'(1) − θ'(0)‖ and ``tangent_angle_deg`` the angle between them.
        """
        start, end = self.theta[:, 0], self.theta[np.arange(len(self.js)), self.reached]
        chord = end - start
        length = np.linalg.norm(chord, axis=1)
        unit = chord / np.where(length > 0, length, 1.0)[:, None]
        rel = self.theta - start[:, None]
        along = np.einsum("bkd,bd->bk", rel, unit)
        perp = np.linalg.norm(rel - along[..., None] * unit[:, None], axis=2)
        dist = np.nanmax(perp, axis=1)
        t1, t0 = self.tangent_at_1, self.tangent[np.arange(len(self.js)), self.reached]
        cos = np.einsum("bd,bd->b", t1, t0) / (np.linalg.norm(t1, axis=1) * np.linalg.norm(t0, axis=1))
        return {
            "chord_length": length,
            "max_chord_distance": dist,
            "relative_chord_distance": dist / np.where(length > 0, length, np.nan),
            "tangent_difference": np.linalg.norm(t1 - t0, axis=1),
            "tangent_angle_deg": np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))),
        }


#: The ε-path starts only from a θ̂ with ‖∇L(θ̂)‖ at most this (the polish reaches 1e-10) …
START_TOL = 1e-6
#: … and whose Newton correction to PATH_TOL moves it at most this much (relative to 1 + ‖θ̂‖).
START_MOVE = 1e-4


def continuation_path(
    model: Model,
    theta_hat,
    x,
    y,
    w,
    kappa: float,
    js,
    n_points: int = 101,
    tol: float = PATH_TOL,
    max_newton: int = 12,
    max_halvings: int = 12,
) -> Generator[Progress, None, EpsPath]:
    """Follow the stationary branch from θ̂ (ε = 1) to ε = 0 (docs/science.md §2), batched over deleted points js.

    Predictor: θ(ε_k) + θ'(ε_k)(ε_{k+1} − ε_k) (the implicit-function tangent); corrector: pure Newton on
    ∇L_{w(ε)} = 0 (no damping, so it cannot slide to another branch). When the corrector does not reach
    ``tol`` the step in ε is halved (up to ``max_halvings`` times, batched sub-steps). A fold — the Hessian
    losing positive definiteness along the path — ends that point's path with a message naming ε and the
    smallest eigenvalue; the path is never continued onto another branch silently.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    js = np.atleast_1d(np.asarray(js, dtype=int))
    B = js.size
    theta_hat = np.asarray(theta_hat, dtype=np.float64)
    theta = np.tile(theta_hat, (B, 1)) if theta_hat.ndim == 1 else theta_hat.copy()
    d = theta.shape[1]
    eps = np.linspace(1.0, 0.0, n_points)
    K = n_points
    out_theta = np.full((B, K, d), np.nan)
    out_gn = np.full((B, K), np.nan)
    out_eig = np.full((B, K), np.nan)
    out_tan = np.full((B, K, d), np.nan)
    reached = np.full(B, -1)
    alive = np.ones(B, dtype=bool)
    messages: list[str] = []

    def correct(th, e, idx):
        """Newton on ∇L_{w(e)}(θ) = 0 for models idx; returns (θ, ‖∇‖, converged)."""
        W = eps_weights(w, js[idx], e)
        th = th.copy()
        _, g = model.loss_and_grad(th, x, y, W, kappa)
        gn = np.linalg.norm(g, axis=1)
        for _ in range(max_newton):
            act = gn > tol
            if not act.any():
                break
            H = model.hessian(th[act], x, y, W[act], kappa)
            try:
                step = np.linalg.solve(H, g[act][..., None])[..., 0]
            except np.linalg.LinAlgError:
                break
            th[act] -= step
            _, g_new = model.loss_and_grad(th[act], x, y, W[act], kappa)
            g[act] = g_new
            gn_new = np.linalg.norm(g_new, axis=1)
            if not np.isfinite(gn_new).all():
                gn[act] = gn_new
                break
            gn[act] = gn_new
        return th, gn, gn <= tol

    # ε = 1: θ̂ itself, corrected to tolerance (it may come from a polish at the same tolerance). A θ̂ that is
    # not stationary is refused, not "corrected": pure Newton from a non-stationary point can land on another
    # stationary point far away, and the path would then start from a θ(1) that is not the θ̂ shown elsewhere.
    _, g_hat = model.loss_and_grad(theta, x, y, w, kappa)
    gn_hat = np.linalg.norm(g_hat, axis=1)
    th, gn, ok = correct(theta, np.ones(B), np.arange(B))
    moved = np.linalg.norm(th - theta, axis=1)
    for b in range(B):
        if gn_hat[b] > START_TOL:
            alive[b] = False
            th[b], gn[b] = theta[b], gn_hat[b]
            messages.append(
                f"point {js[b]}: θ̂ is not converged (‖∇L(θ̂)‖ = {gn_hat[b]:.2e} > {START_TOL:g}); the ε-path starts "
                "at a stationary θ̂ — train to convergence (more steps, weight decay) first"
            )
        elif not ok[b]:
            alive[b] = False
            messages.append(
                f"point {js[b]}: θ̂ is not stationary to {tol:g} (‖∇L‖ = {gn[b]:.2e}); train to convergence first"
            )
        elif moved[b] > START_MOVE * (1.0 + np.linalg.norm(theta[b])):
            alive[b] = False
            th[b], gn[b] = theta[b], gn_hat[b]
            messages.append(
                f"point {js[b]}: Newton from θ̂ went {moved[b]:.2e} away to reach ‖∇L‖ ≤ {tol:g}; θ̂ is not on a "
                "well-conditioned stationary branch, so the ε-path is not started"
            )
    tan, lam = eps_tangent(model, th, x, y, w, kappa, js, 1.0)
    for b in np.flatnonzero(alive & (lam[:, 0] <= 0)):
        alive[b] = False
        messages.append(f"point {js[b]}: the Hessian at θ̂ is not positive definite (λ_min = {lam[b, 0]:.3g})")
    out_theta[:, 0], out_gn[:, 0], out_eig[:, 0], out_tan[:, 0] = th, gn, lam[:, 0], tan
    reached[alive] = 0
    cur_theta, cur_tan = th, tan
    for k in range(1, K):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        # advance from eps[k-1] to eps[k] in 2^h equal sub-steps, h increasing until Newton converges
        e_from = eps[k - 1]
        pend = idx
        for h in range(max_halvings + 1):
            m = 2**h
            th_p, tan_p = cur_theta[pend].copy(), cur_tan[pend].copy()
            ok_all = np.ones(pend.size, dtype=bool)
            lam_low = np.full(pend.size, np.inf)
            for s in range(1, m + 1):
                e_to = e_from + (eps[k] - e_from) * s / m
                e_prev = e_from + (eps[k] - e_from) * (s - 1) / m
                pred = th_p + tan_p * (e_to - e_prev)
                th_c, gn_c, ok_c = correct(pred, np.full(pend.size, e_to), pend)
                ok_all &= ok_c
                t_c, lam_c = eps_tangent(model, th_c, x, y, w, kappa, js[pend], e_to)
                th_p, tan_p = th_c, t_c
                lam_low = np.minimum(lam_low, lam_c[:, 0])
            good = ok_all & (lam_low > 0)
            done = pend[good]
            out_theta[done, k], out_gn[done, k], out_eig[done, k], out_tan[done, k] = (
                th_p[good],
                gn_c[good],
                lam_c[good, 0],
                tan_p[good],
            )
            cur_theta[done], cur_tan[done] = th_p[good], tan_p[good]
            reached[done] = k
            # converged onto a point where H is not PD: a fold (or bifurcation) of the branch
            fold = pend[ok_all & (lam_low <= 0)]
            for b in fold:
                alive[b] = False
                i = np.flatnonzero(pend == b)[0]
                messages.append(
                    f"point {js[b]}: the continuation meets a fold near ε = {eps[k]:.4g} (the Hessian loses "
                    f"definiteness, λ_min = {lam_low[i]:.3g}); the path stops there instead of jumping branches"
                )
            pend = pend[~ok_all]
            if pend.size == 0:
                break
        for b in pend:
            alive[b] = False
            messages.append(
                f"point {js[b]}: Newton could not follow the branch below ε = {e_from:.4g} even with "
                f"{2**max_halvings} sub-steps; likely a fold (λ_min → 0) — the path stops there"
            )
        yield Progress(k, K - 1, f"ε-path: ε = {eps[k]:.3f}")
    return EpsPath(js, eps, out_theta, out_gn, out_eig, out_tan, reached, messages)


@dataclass
class ColdPath:
    js: np.ndarray  # (B,)
    eps: np.ndarray  # (K,)
    theta: np.ndarray  # (B, K, d): θ(T, ε), trained from θ_0
    grad_norm: np.ndarray  # (B, K)
    polished: bool


def cold_path(
    model: Model,
    theta0,
    x,
    y,
    w,
    config: TrainConfig,
    js,
    n_points: int = 21,
    converge: bool = False,
) -> Generator[Progress, None, ColdPath]:
    """θ(T, ε) for every ε on a grid, trained from the same θ_0 with the same optimiser (docs/science.md §2, §4);
    one batched training run over all (j, ε) pairs, optionally polished to ‖∇L‖ ≤ 1e-10."""
    js = np.atleast_1d(np.asarray(js, dtype=int))
    eps = np.linspace(1.0, 0.0, n_points)
    jj = np.repeat(js, n_points)
    ee = np.tile(eps, js.size)
    W = eps_weights(w, jj, ee)
    theta0 = np.tile(np.asarray(theta0, dtype=np.float64), (W.shape[0], 1))
    res = yield from train(model, theta0, x, y, W, replace(config, checkpoint_every=0))
    theta, gn = res.theta, res.grad_norm
    if converge:
        yield Progress(1, 1, "cold path: polishing")
        sol = newton_solve(training_objective(model, x, y, W, config.weight_decay), theta)
        theta, gn = sol.theta, sol.grad_norm
    d = theta.shape[1]
    return ColdPath(js, eps, theta.reshape(js.size, n_points, d), gn.reshape(js.size, n_points), converge)


@dataclass
class Homotopy:
    """θ(t, ε) on a grid of times t = kη and weights ε for one deleted point j (docs/science.md §4)."""

    j: int
    eps: np.ndarray  # (E,) from 1 to 0
    times: np.ndarray  # (S,) t = step·η
    steps: np.ndarray  # (S,)
    theta: np.ndarray  # (S, E, d)

    def scalar(
        self, model: Model, x, y, w, kappa: float, name: str, target=None, param: int = 0
    ) -> np.ndarray:
        """A scalar field over (t, ε), shape (S, E): ``loss_j`` ℓ_j(θ(t, ε)); ``train_loss`` L_{w(ε)};
        ``full_loss`` L (all weights 1); ``distance`` ‖θ(t, ε) − target‖ (target = θ*_{−j});
        ``param`` θ_k(t, ε)."""
        S, E, d = self.theta.shape
        flat = self.theta.reshape(S * E, d)
        x = np.asarray(x, dtype=np.float64)
        if name == "loss_j":
            r = model.predict(flat, x[[self.j]])[:, 0] - y[self.j]
            out = 0.5 * r * r
        elif name == "train_loss":
            W = np.tile(eps_weights(w, np.full(E, self.j), self.eps), (S, 1))
            out = model.loss(flat, x, y, W, kappa)
        elif name == "full_loss":
            out = model.loss(flat, x, y, w, kappa)
        elif name == "distance":
            if target is None:
                raise ValueError("the distance field needs the target θ*_{−j}")
            out = np.linalg.norm(flat - np.asarray(target)[None], axis=1)
        elif name == "param":
            out = flat[:, param]
        else:
            raise ValueError(f"unknown homotopy scalar {name!r}")
        return out.reshape(S, E)


HOMOTOPY_SCALARS = ("loss_j", "distance", "param", "train_loss", "full_loss")


def homotopy(
    model: Model,
    theta0,
    x,
    y,
    w,
    config: TrainConfig,
    j: int,
    n_eps: int = 41,
    n_snapshots: int = 200,
) -> Generator[Progress, None, Homotopy]:
    """Gradient flow with z_j weighted by ε, from the same θ_0 for every ε (docs/science.md §4):
    dθ/dt = −∇L_{w(ε)}(θ), discretised by the configured optimiser (GD: t = kη); snapshots every
    ⌈steps / n_snapshots⌉ steps. One batched training run over the ε grid."""
    eps = np.linspace(1.0, 0.0, n_eps)
    W = eps_weights(w, np.full(n_eps, j), eps)
    every = max(1, int(np.ceil(config.steps / max(1, n_snapshots))))
    theta0 = np.tile(np.asarray(theta0, dtype=np.float64), (n_eps, 1))
    res = yield from train(model, theta0, x, y, W, replace(config, checkpoint_every=every))
    steps = np.asarray(res.checkpoint_steps)
    return Homotopy(j, eps, steps * config.lr, steps, np.stack(res.checkpoints))
