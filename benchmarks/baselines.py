"""Naive baselines: what a researcher's own script would do, one model at a time, in torch.

Every function here works on ONE model: an equivalent ``torch.nn.Sequential`` built by
``MLPSpec.to_torch_sequential`` (same parameter layout as Influence Lab, docs/science.md §1), trained or solved
with ``torch.optim`` in a plain Python loop, derivatives by autograd / ``torch.func``. The loss convention is
the project's: L_w(θ) = (1/n) Σ_i w_i ½ r_i² + (κ/2)‖θ‖², i.e. ``torch.optim.SGD(weight_decay=κ)`` on the mean
of w ⊙ ½ r² for gradient descent, and the explicit penalty in the objective for L-BFGS (which has no weight
decay option).

- gradient descent: ``torch.optim.SGD(lr=η, weight_decay=κ)``, full batch, ``zero_grad / backward / step``;
- converged solves ("argmin"): ``torch.optim.LBFGS`` with the strong-Wolfe line search, tolerance_grad 1e-10,
  tolerance_change 0, history 100, restarted (up to ``LBFGS_ROUNDS`` times) until ‖∇‖₂ ≤ 1e-10 or no progress;
  in float64 it usually stalls a little above 1e-10 (the achieved norm is returned and reported);
- Hessians: ``torch.func.hessian`` of the objective as a function of the flat parameter vector, and
  ``torch.linalg.solve`` for H⁻¹v.

Nothing here is used by the app; ``benchmarks/run.py`` times it against the batched numpy core.
"""

from __future__ import annotations

import numpy as np
import torch

from core.model import MLPSpec

DT = torch.float64
LBFGS_TOL = 1e-10
LBFGS_ROUNDS = 5


def _col(v) -> torch.Tensor:
    return torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=DT).reshape(-1, 1)


def flat(net: torch.nn.Module) -> np.ndarray:
    """θ in the §1 layout (``parameters()`` order)."""
    return torch.nn.utils.parameters_to_vector(net.parameters()).detach().numpy().copy()


def _penalty(net, kappa: float, centre: list[torch.Tensor] | None = None) -> torch.Tensor:
    if centre is None:
        return 0.5 * kappa * sum((p * p).sum() for p in net.parameters())
    return 0.5 * kappa * sum(((p - c) ** 2).sum() for p, c in zip(net.parameters(), centre))


# --------------------------------------------------------------------------------------------------
# gradient descent
# --------------------------------------------------------------------------------------------------


def gd_train(
    spec: MLPSpec, theta0, x, y, w, lr: float, steps: int, kappa: float, snapshot_every: int = 0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Full-batch GD with torch.optim.SGD(weight_decay=κ) on mean(w ⊙ ½ r²); snapshots of θ at step 0 and
    every ``snapshot_every`` steps (and the last step). Returns (θ_T, snapshots)."""
    net = spec.to_torch_sequential(theta0)
    X, Y, W = _col(x), _col(y), _col(w)
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=kappa)
    snaps = [flat(net)] if snapshot_every else []
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = (W * 0.5 * (net(X) - Y) ** 2).mean()
        loss.backward()
        opt.step()
        if snapshot_every and (step % snapshot_every == 0 or step == steps):
            snaps.append(flat(net))
    return flat(net), snaps


# --------------------------------------------------------------------------------------------------
# converged solves by L-BFGS
# --------------------------------------------------------------------------------------------------


def lbfgs_minimize(net: torch.nn.Module, objective, tol: float = LBFGS_TOL) -> float:
    """Minimise ``objective(net)`` in place with L-BFGS (strong Wolfe) until ‖∇‖₂ ≤ tol or no more progress;
    returns the ‖∇‖₂ reached."""
    opt = torch.optim.LBFGS(
        net.parameters(),
        lr=1.0,
        max_iter=1000,
        max_eval=1250,
        tolerance_grad=tol,
        tolerance_change=0.0,
        history_size=100,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = objective(net)
        loss.backward()
        return loss

    best = np.inf
    for _ in range(LBFGS_ROUNDS):
        opt.step(closure)
        opt.zero_grad()
        objective(net).backward()
        gn = float(torch.cat([p.grad.reshape(-1) for p in net.parameters()]).norm())
        if gn <= tol or not gn < 0.5 * best:
            return gn
        best = gn
    return gn


def weighted_loss(x, y, w, kappa: float):
    """The objective L_w(net) (docs/science.md §1) for L-BFGS."""
    X, Y, W = _col(x), _col(y), _col(w)
    return lambda net: (W * 0.5 * (net(X) - Y) ** 2).mean() + _penalty(net, kappa)


def solve_weighted(spec: MLPSpec, theta_start, x, y, w, kappa: float) -> tuple[np.ndarray, float]:
    """argmin_θ L_w(θ) by L-BFGS from theta_start; returns (θ, ‖∇‖₂ reached)."""
    net = spec.to_torch_sequential(theta_start)
    gn = lbfgs_minimize(net, weighted_loss(x, y, w, kappa))
    return flat(net), gn


def solve_proximal(spec, theta_s, x, y, w_minus, kappa, damping) -> tuple[np.ndarray, float]:
    """argmin L_{−j}(θ) + (λ/2)‖θ − θ^s‖², L-BFGS from θ^s (docs/science.md §3 item 3)."""
    net = spec.to_torch_sequential(theta_s)
    centre = [p.detach().clone() for p in net.parameters()]
    base = weighted_loss(x, y, w_minus, kappa)
    gn = lbfgs_minimize(net, lambda m: base(m) + _penalty(m, damping, centre))
    return flat(net), gn


def solve_pbrf(spec, theta_s, x, y, j: int, kappa, damping) -> tuple[np.ndarray, float]:
    """argmin (1/n) Σ_i ½(f_i − f^s_i)² − (1/n) ℓ_j + ((λ+κ)/2)‖θ − θ^s‖², L-BFGS from θ^s (§3 item 4)."""
    net = spec.to_torch_sequential(theta_s)
    X, Y = _col(x), _col(y)
    n = X.shape[0]
    with torch.no_grad():
        fs = net(X).clone()
    centre = [p.detach().clone() for p in net.parameters()]

    def objective(m):
        f = m(X)
        return (
            (0.5 * (f - fs) ** 2).mean()
            - 0.5 * (f[j] - Y[j]).pow(2).sum() / n
            + _penalty(m, kappa + damping, centre)
        )

    gn = lbfgs_minimize(net, objective)
    return flat(net), gn


# --------------------------------------------------------------------------------------------------
# Hessians and linear solves with torch.func
# --------------------------------------------------------------------------------------------------


class FlatFunctions:
    """The network as functions of the flat θ (torch.func.functional_call), for torch.func transforms."""

    def __init__(self, spec: MLPSpec, x, y):
        self.net = spec.to_torch_sequential(np.zeros(spec.n_params))
        self.names = [k for k, _ in self.net.named_parameters()]
        self.shapes = [p.shape for p in self.net.parameters()]
        self.sizes = [p.numel() for p in self.net.parameters()]
        self.X, self.Y = _col(x), _col(y)

    def params(self, theta: torch.Tensor) -> dict:
        out, k = {}, 0
        for name, shape, size in zip(self.names, self.shapes, self.sizes):
            out[name] = theta[k : k + size].reshape(shape)
            k += size
        return out

    def f(self, theta: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        X = self.X if X is None else X
        return torch.func.functional_call(self.net, self.params(theta), (X,))[:, 0]

    def loss(self, w, kappa: float):
        W = torch.as_tensor(np.asarray(w, dtype=np.float64), dtype=DT)
        Y = self.Y[:, 0]
        return lambda th: (W * 0.5 * (self.f(th) - Y) ** 2).mean() + 0.5 * kappa * (th * th).sum()

    def point_loss(self, j: int):
        Xj, yj = self.X[j : j + 1], self.Y[j, 0]
        return lambda th: 0.5 * (self.f(th, Xj)[0] - yj) ** 2

    def hessian(self, w, kappa: float, theta) -> torch.Tensor:
        return torch.func.hessian(self.loss(w, kappa))(_t(theta))

    def grad_point(self, j: int, theta) -> torch.Tensor:
        return torch.func.grad(self.point_loss(j))(_t(theta))

    def per_example_grads(self, theta) -> torch.Tensor:
        """∇ℓ_i for every i, (n, d): vmap of grad over the points."""
        th = _t(theta)
        return torch.func.vmap(lambda xi, yi: torch.func.grad(lambda t: _li(self, t, xi, yi))(th))(
            self.X, self.Y[:, 0]
        )

    def gnh(self, w, kappa: float, theta) -> torch.Tensor:
        """G = (1/n) Jᵀ diag(w) J + κI with J = ∂f/∂θ by torch.func.jacrev."""
        J = torch.func.jacrev(self.f)(_t(theta))
        W = torch.as_tensor(np.asarray(w, dtype=np.float64), dtype=DT)
        n, d = J.shape
        return (J * (W / n)[:, None]).T @ J + kappa * torch.eye(d, dtype=DT)


def _li(ff: FlatFunctions, th, xi, yi):
    return 0.5 * (torch.func.functional_call(ff.net, ff.params(th), (xi[None],))[0, 0] - yi) ** 2


def _t(theta) -> torch.Tensor:
    return torch.as_tensor(np.asarray(theta, dtype=np.float64), dtype=DT)


def cg(A: torch.Tensor, b: torch.Tensor, iters: int, tol: float = 1e-12) -> torch.Tensor:
    """Plain conjugate gradient from 0 with a fixed budget (the 'practical influence' solver)."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = r @ r
    target = tol * b.norm()
    for _ in range(iters):
        if rr.sqrt() <= target:
            break
        Ap = A @ p
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


# --------------------------------------------------------------------------------------------------
# scenarios, one model at a time
# --------------------------------------------------------------------------------------------------


def deletion_estimates(spec, x, y, kappa, theta0, theta_s, theta_hat, j, damping, lr, steps, cg_budget=5):
    """Every estimate of deleting z_j (docs/science.md §3) the naive way. Returns (thetas dict, grad norms dict,
    decomposition dict (function space), self-influence)."""
    n = len(x)
    w = np.ones(n)
    wm = w.copy()
    wm[j] = 0.0
    th = {}
    gns = {}
    # 1. cold LOO: retrain from θ_0 on D∖z_j, then converge
    cold, _ = gd_train(spec, theta0, x, y, wm, lr, steps, kappa)
    th["loo_cold"], gns["loo_cold"] = solve_weighted(spec, cold, x, y, wm, kappa)
    # 2–4: warm LOO, proximal, PBRF from θ^s
    th["loo_warm"], gns["loo_warm"] = solve_weighted(spec, theta_s, x, y, wm, kappa)
    th["proximal"], gns["proximal"] = solve_proximal(spec, theta_s, x, y, wm, kappa, damping)
    th["pbrf"], gns["pbrf"] = solve_pbrf(spec, theta_s, x, y, j, kappa, damping)
    ff = FlatFunctions(spec, x, y)
    d = spec.n_params
    eye = torch.eye(d, dtype=DT)
    # 5–6: linearised PBRF at θ^s, exact and by CG under its budget
    Gs = ff.gnh(w, kappa, theta_s) + damping * eye
    gs = ff.grad_point(j, theta_s)
    th["pbrf_linear"] = theta_s + torch.linalg.solve(Gs, gs).numpy() / n
    th["if_solver"] = theta_s + cg(Gs, gs, cg_budget).numpy() / n
    # IF with the exact Hessian, damped GNH IF, Newton step, all at θ̂
    H = ff.hessian(w, kappa, theta_hat)
    g = ff.grad_point(j, theta_hat)
    Hinv_g = torch.linalg.solve(H, g)
    th["if_exact"] = theta_hat + Hinv_g.numpy() / n
    th["if_gnh"] = theta_hat + torch.linalg.solve(ff.gnh(w, kappa, theta_hat) + damping * eye, g).numpy() / n
    Hm = ff.hessian(wm, kappa, theta_hat)
    gm = torch.func.grad(ff.loss(wm, kappa))(_t(theta_hat))
    th["newton"] = theta_hat - torch.linalg.solve(Hm, gm).numpy()
    s = float(g @ Hinv_g)
    # the decomposition (function space): mean |f(a) − f(b)| over the training inputs
    with torch.no_grad():
        pred = {k: ff.f(_t(v)).numpy() for k, v in th.items()}
    pairs = (
        ("warm_start_gap", "loo_cold", "loo_warm"),
        ("proximity_gap", "loo_warm", "proximal"),
        ("non_convergence_gap", "proximal", "pbrf"),
        ("linearization_error", "pbrf", "pbrf_linear"),
        ("solver_error", "pbrf_linear", "if_solver"),
    )
    dec = {g_: float(np.mean(np.abs(pred[a] - pred[b]))) for g_, a, b in pairs}
    return th, gns, dec, s


def influence_all(spec, x, y, kappa, theta) -> tuple[np.ndarray, np.ndarray]:
    """Δθ_IF for every training point, (1/n) H⁻¹ ∇ℓ_i, with H = torch.func.hessian(L) and one
    torch.linalg.solve for all right-hand sides; and the self-influences g_iᵀ H⁻¹ g_i."""
    n = len(x)
    ff = FlatFunctions(spec, x, y)
    H = ff.hessian(np.ones(n), kappa, theta)
    G = ff.per_example_grads(theta)  # (n, d)
    sol = torch.linalg.solve(H, G.T).T
    return (sol / n).numpy(), (G * sol).sum(dim=1).numpy()
