"""Unlearning one training point: retraining, Descend-to-Delete and Rewind-to-Delete (docs/science.md §5).

All three run full-batch gradient descent with step η on L_{−j} (L_w of docs/science.md §1 with w_j = 0, the 1/n
kept) after a training run of T steps from θ_0 on the whole data D:
- retrain (exact unlearning): from θ_0, T steps on D∖{z_j}; its end point θ_R is the reference;
- D2D (Neel et al. 2021): from θ_T, b more steps on D∖{z_j};
- R2D (Mu & Klabjan 2024): during training save θ_{T−K}; to delete, load it and run steps on D∖{z_j}. The
  canonical R2D(K) runs K steps, so that it ends after T steps in all, like retraining; R2D(K, b) runs b.
So R2D with K = T *is* retraining (same θ_0, same steps), and D2D with many steps converges to the
warm-start LOO minimiser reached from θ_T (docs/science.md §3 item 2), not necessarily to θ_R.

Everything unlearning-side is one batched GD loop: retrain, D2D and every R2D(K) are rows of one (2 + R, d)
parameter batch on the same loss (they differ only in their start), run for max(T, max budget, max K) steps.
Distances to θ_R as a function of the unlearning steps k: in parameters ‖θ − θ_R‖ and in function
mean_i |f(θ; x_i) − f(θ_R; x_i)| over all n training inputs (docs/science.md §3; function space is the primary
metric because hidden units can be permuted).

Certified versions publish θ + N(0, σ²I) (docs/science.md §5). σ is given by the user here (the papers derive it from
sensitivity bounds that need Lipschitz and smoothness constants). The noise study draws Z_1, …, Z_D ~ N(0, I)
once from ``default_rng(noise_seed)`` and uses the same draws for every method (common random numbers, so
differences between methods are not noise-draw noise); the retrained model is published noisy too (θ_R + σZ,
the certified exact unlearning) and distances are measured to the noise-free θ_R.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from core.model import Model
from core.progress import Progress, scaled
from core.train import TrainConfig, train

QUANTILES = (0.05, 0.5, 0.95)


def _distances(model: Model, theta: np.ndarray, ref: np.ndarray, x) -> tuple[np.ndarray, np.ndarray]:
    """(‖θ − θ_R‖, mean_i |f(θ; x_i) − f(θ_R; x_i)|) for θ of any leading shape."""
    theta = np.asarray(theta, dtype=np.float64)
    lead = theta.shape[:-1]
    flat = theta.reshape(-1, theta.shape[-1])
    pdist = np.linalg.norm(flat - ref, axis=1)
    fdist = np.mean(np.abs(model.predict(flat, x) - model.predict(ref, x)), axis=1)
    return pdist.reshape(lead), fdist.reshape(lead)


@dataclass
class NoiseStudy:
    """Distances of noisy published models θ + σZ_k (k = 1..draws) to θ_R for each table entry."""

    sigma: float
    draws: int
    seed: int
    labels: list[str]  # entry names: "retrain", "d2d b=…", "r2d K=… b=…"
    param: np.ndarray  # (entries, draws)
    function: np.ndarray  # (entries, draws)

    def summary(self) -> list[dict]:
        out = []
        for k, lab in enumerate(self.labels):
            row = {"method": lab}
            for name, arr in (("param", self.param[k]), ("function", self.function[k])):
                row[name] = {
                    "mean": float(arr.mean()),
                    "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
                    **{f"q{int(round(100 * q)):02d}": float(np.quantile(arr, q)) for q in QUANTILES},
                }
            out.append(row)
        return out


@dataclass
class UnlearnResult:
    """Retrain / D2D / R2D paths and their distances to the retrained model θ_R (module docstring).

    ``steps`` (M,) are the recorded unlearning step counts k (0 … max budget, every ``record_every`` steps, and
    every budget and K exactly). Paths hold θ after k unlearning steps; the retrain path is NaN beyond T."""

    j: int
    lr: float
    T: int
    Ks: np.ndarray  # (R,) rewind depths
    budgets: np.ndarray  # (U,) step budgets of the table
    steps: np.ndarray  # (M,)
    theta0: np.ndarray  # (d,)
    theta_T: np.ndarray  # (d,) trained T steps on D
    theta_rewind: np.ndarray  # (R, d) the saved θ_{T−K}
    theta_retrain: np.ndarray  # (d,) θ_R
    retrain_path: np.ndarray  # (M, d)
    d2d_path: np.ndarray  # (M, d)
    r2d_path: np.ndarray  # (R, M, d)
    retrain_param: np.ndarray  # (M,)
    retrain_function: np.ndarray  # (M,)
    d2d_param: np.ndarray  # (M,)
    d2d_function: np.ndarray  # (M,)
    r2d_param: np.ndarray  # (R, M)
    r2d_function: np.ndarray  # (R, M)
    noise: NoiseStudy | None = None

    def at(self, k: int) -> int:
        """Index of step count k in ``steps``."""
        idx = np.flatnonzero(self.steps == k)
        if idx.size == 0:
            raise KeyError(f"step {k} was not recorded")
        return int(idx[0])

    def d2d(self, b: int) -> np.ndarray:
        """θ after b D2D steps."""
        return self.d2d_path[self.at(b)]

    def r2d(self, K: int, b: int | None = None) -> np.ndarray:
        """θ of R2D(K) after b steps (default b = K, the canonical R2D)."""
        r = int(np.flatnonzero(self.Ks == K)[0])
        return self.r2d_path[r, self.at(K if b is None else b)]

    def table(self) -> list[dict]:
        """Distances to θ_R at each budget b: D2D(b), R2D(K, b) for each K; plus canonical R2D(K) and retrain."""
        rows = []
        for b in self.budgets:
            i = self.at(int(b))
            rows.append(
                {
                    "budget": int(b),
                    "d2d": {"param": self.d2d_param[i], "function": self.d2d_function[i]},
                    "r2d": [
                        {"K": int(K), "param": self.r2d_param[r, i], "function": self.r2d_function[r, i]}
                        for r, K in enumerate(self.Ks)
                    ],
                }
            )
        return rows

    def canonical_r2d(self) -> list[dict]:
        return [
            {
                "K": int(K),
                "param": self.r2d_param[r, self.at(int(K))],
                "function": self.r2d_function[r, self.at(int(K))],
            }
            for r, K in enumerate(self.Ks)
        ]


def _check_steps(values, name, lo, hi) -> np.ndarray:
    arr = np.unique(np.asarray([int(v) for v in np.atleast_1d(values)], dtype=int))
    if arr.size == 0:
        raise ValueError(f"give at least one {name}")
    if arr.min() < lo or arr.max() > hi:
        raise ValueError(f"{name} must lie in {lo}..{hi}, got {arr.tolist()}")
    return arr


def unlearn(
    model: Model,
    theta0,
    x,
    y,
    w,
    kappa: float,
    j: int,
    lr: float,
    T: int,
    Ks: Sequence[int],
    budgets: Sequence[int] | None = None,
    noise_sigma: float = 0.0,
    draws: int = 200,
    noise_seed: int = 0,
    record_every: int = 0,
) -> Generator[Progress, None, UnlearnResult]:
    """Train T GD steps on D from θ_0 (saving θ_{T−K} for every K), then run retrain, D2D and R2D(K) for all K
    as one batched GD loop on D∖{z_j}; distances to θ_R as a function of unlearning steps (module docstring).

    Ks: rewind depths, 1 ≤ K ≤ T. budgets: step counts of the summary table (default: the Ks). Curves are
    recorded every ``record_every`` steps (0: about 500 points) up to max(budgets ∪ Ks). With noise_sigma > 0,
    a seeded noise study (:class:`NoiseStudy`) over ``draws`` draws.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    if not 0 <= int(j) < n:
        raise ValueError(f"the deleted point index must lie in 0..{n - 1}, got {j}")
    j = int(j)
    T = int(T)
    if T < 1:
        raise ValueError(f"the training length T must be ≥ 1 step, got {T}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive number, got {lr}")
    Ks = _check_steps(Ks, "rewind depth K", 1, T)
    budgets = Ks.copy() if budgets is None else _check_steps(budgets, "step budget", 0, 10**7)
    if not (np.isfinite(noise_sigma) and noise_sigma >= 0):
        raise ValueError(f"the noise σ must be ≥ 0, got {noise_sigma}")
    if noise_sigma > 0 and int(draws) < 1:
        raise ValueError(f"the number of noise draws must be ≥ 1, got {draws}")
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    theta0 = np.asarray(theta0, dtype=np.float64).reshape(-1)
    d = theta0.size

    # 1. training on D, saving θ_{T−K}: checkpoints every gcd of the rewind points (exact, no interpolation)
    every = math.gcd(T, *[T - int(K) for K in Ks]) or T
    cfg = TrainConfig(optimizer="gd", lr=lr, steps=T, weight_decay=kappa, checkpoint_every=every)
    res = yield from scaled(train(model, theta0, x, y, w, cfg), 0.0, 0.4, 1.0, "training on D: ")
    if res.diverged.any():
        raise ValueError(f"training on D diverged at step {int(res.diverged_at[0])}: lower the learning rate")
    ckpt = dict(zip(res.checkpoint_steps, res.checkpoints))
    theta_T = ckpt[T][0]
    rewind = np.stack([ckpt[T - int(K)][0] for K in Ks])

    # 2. one batched GD loop on D∖{z_j}: rows = retrain (θ_0), D2D (θ_T), R2D(K) (θ_{T−K})
    R = Ks.size
    horizon = int(max(budgets.max(), Ks.max()))
    n_loop = max(T, horizon)
    rec_every = int(record_every) if record_every and record_every > 0 else max(1, horizon // 500)
    record = np.zeros(horizon + 1, dtype=bool)
    record[::rec_every] = True
    record[budgets] = True
    record[Ks] = True
    record[horizon] = True
    steps_rec = np.flatnonzero(record)
    W = np.tile(w, (2 + R, 1))
    W[:, j] = 0.0
    theta = np.vstack([theta0, theta_T, rewind])
    paths = np.full((steps_rec.size, 2 + R, d), np.nan)
    theta_R = None
    slot = {int(k): i for i, k in enumerate(steps_rec)}
    paths[0] = theta
    yield_every = max(1, n_loop // 100)
    for k in range(1, n_loop + 1):
        theta = theta - lr * model.loss_and_grad(theta, x, y, W, kappa)[1]
        if k == T:
            theta_R = theta[0].copy()
        if k in slot:
            paths[slot[k]] = theta
            if k > T:
                paths[slot[k], 0] = np.nan  # retraining stops at T
        if k % yield_every == 0 or k == n_loop:
            yield Progress(0.4 + 0.55 * k / n_loop, 1.0, f"unlearning step {k}/{n_loop}")
    if not np.isfinite(theta_R).all():
        raise ValueError("retraining on D∖{z_j} diverged: lower the learning rate")

    retrain_path, d2d_path, r2d_path = paths[:, 0], paths[:, 1], np.swapaxes(paths[:, 2:], 0, 1)
    rp, rf = _distances(model, retrain_path, theta_R, x)
    dp, df = _distances(model, d2d_path, theta_R, x)
    r2p, r2f = _distances(model, r2d_path, theta_R, x)
    out = UnlearnResult(
        j=j,
        lr=float(lr),
        T=T,
        Ks=Ks,
        budgets=budgets,
        steps=steps_rec,
        theta0=theta0,
        theta_T=theta_T,
        theta_rewind=rewind,
        theta_retrain=theta_R,
        retrain_path=retrain_path,
        d2d_path=d2d_path,
        r2d_path=r2d_path,
        retrain_param=rp,
        retrain_function=rf,
        d2d_param=dp,
        d2d_function=df,
        r2d_param=r2p,
        r2d_function=r2f,
    )
    if noise_sigma > 0:
        yield Progress(0.95, 1.0, "noise draws")
        Z = np.random.default_rng(noise_seed).standard_normal((int(draws), d))
        labels = ["retrain"]
        published = [theta_R]
        for b in budgets:
            labels.append(f"d2d b={int(b)}")
            published.append(out.d2d(int(b)))
        for K in Ks:
            for b in budgets:
                labels.append(f"r2d K={int(K)} b={int(b)}")
                published.append(out.r2d(int(K), int(b)))
        pub = np.stack(published)[:, None, :] + noise_sigma * Z[None, :, :]
        npd, nfd = _distances(model, pub, theta_R, x)
        out.noise = NoiseStudy(float(noise_sigma), int(draws), int(noise_seed), labels, npd, nfd)
    yield Progress(1.0, 1.0, "unlearning done")
    return out
