"""Example sessions that reproduce the research notes' figures in one click (Help → Examples).

Each example is an ordinary session file in ``resources/examples/`` made from ``core`` alone by
:func:`build_example` (no Qt here): the 20-point teacher data, a point deleted (weight 0, selected and analysed),
the model trained on the remaining points (θ_0, θ^s and θ̂ stored), and the panel to raise. Opening it shows the
model without the point; the analysis retrains the model with the point (the base) and computes the rest.

Regenerate the files with ``python -m gui.examples`` (``--check`` compares them instead); a test does the check.

- ``figure3_eps_path.json`` — the notes' Figure 3: the ε-path of the first hidden neuron's (w, b) =
  (W1[0,0], b1[0]) when deleting point 7, the point with the most curved path on the default problem
  (tangent angle ≈ 28°).
- ``figure2_homotopy.json`` — the notes' Figure 2: the homotopy θ(t, ε) for point 19 (the largest move of θ),
  coloured by the distance to θ*_{−j}.
- ``figure1_decomposition.json`` — the notes' Figure 1 (Bae et al.): the error decomposition of point 7 for an
  early-stopped model (1,000 GD steps, no polish) at λ = 1e-2, where the first three gaps dominate.
- ``attribution_outliers.json`` — the Attribution tab on the ``outliers`` preset (three corrupted labels, nothing
  deleted): every method against exact LOO and the mislabel-detection curves (docs/attribution.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.points.dataset import make_preset
from core.problem import DEFAULT_DAMPING, default_problem, fit
from core.session import Session, save_session

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "resources" / "examples"


@dataclass(frozen=True)
class Example:
    file: str
    title: str
    description: str
    j: int
    panel: str
    steps: int = 2000
    converge: bool = True
    damping: float = DEFAULT_DAMPING
    ui: tuple = ()
    preset: str = "teacher"
    delete: bool = True  # False: nothing deleted (j is only the selection)

    @property
    def path(self) -> Path:
        return EXAMPLES_DIR / self.file


EXAMPLES = (
    Example(
        "figure3_eps_path.json",
        "Figure 3 — ε-path of the first hidden neuron",
        "Teacher data (20 points), 1 → 3 → 1 tanh MLP; point 7 deleted. The ε-path θ(ε) of the first hidden "
        "neuron (w, b) = (W1[0,0], b1[0]) from the trained model (ε = 1) to the model without the point (ε = 0), "
        "with the influence-function tangents at both ends: visibly curved (tangent angle ≈ 28°).",
        j=7,
        panel="eps",
        ui=(("projection", {"mode": "params", "a": 0, "b": 3}), ("eps_index", 50)),
    ),
    Example(
        "figure2_homotopy.json",
        "Figure 2 — the homotopy θ(t, ε)",
        "Teacher data, point 19 deleted: gradient flow from the same θ_0 for 41 weights ε of the point, as a heatmap "
        "over (t, ε) of the distance to θ*_{−j}, the family of fits at time t, and the trajectories of the first "
        "neuron.",
        j=19,
        panel="homotopy",
        ui=(
            ("homotopy_scalar", "distance"),
            ("homotopy_log", True),
            ("projection", {"mode": "params", "a": 0, "b": 3}),
        ),
    ),
    Example(
        "figure1_decomposition.json",
        "Figure 1 — error decomposition",
        "Teacher data, point 7 deleted, early-stopped training (1,000 GD steps, no polish), damping λ = 1e-2: the "
        "warm-start, proximity and non-convergence gaps dominate the linearisation and solver errors.",
        j=7,
        panel="decomposition",
        steps=1000,
        converge=False,
        damping=1e-2,
        ui=(("decomposition_space", "function"),),
    ),
    Example(
        "figure4_phase_portrait.json",
        "Figure 4 — deletion schedules, phase portrait",
        "The notes' linear 2-parameter problem (X ∈ R^{20×2}, the outlier z₁₉ deleted, s = 0.5, T = 2): flows of the "
        "step, linear and exponential schedules from θ₀ = (0, 0), where the step at s is optimal, and from "
        "θ₀ = (3, 3), where a later step and an exponential decay beat it (the Schedules tab, Figure-4 mode).",
        j=7,
        panel="schedules",
        ui=(("schedules_mode", "figure4"),),
    ),
    Example(
        "attribution_outliers.json",
        "Attribution — mislabelled points of the outliers preset",
        "The outliers preset (20 points, labels 5, 10 and 12 corrupted), nothing deleted: every point's influence by "
        "every method next to exact leave-one-out, their agreement, and how fast each finds the corrupted labels "
        "(the Detection tab); run Shapley and the BIF from the tab.",
        j=10,
        panel="attribution",
        preset="outliers",
        delete=False,
    ),
)


def build_example(ex: Example) -> Session:
    """The example's session, computed with core: the model trained without point j, the analysis of j."""
    p = default_problem()
    if ex.preset != "teacher":
        p = replace(p, data=make_preset(ex.preset))
    p = replace(p, config=replace(p.config, steps=ex.steps), converge=ex.converge)
    data = p.data.copy()
    if ex.delete:
        data.weight[ex.j] = 0.0
    p = replace(p, data=data)
    f = fit(p)
    ui = {"panel": ex.panel, **({"analysed": ex.j} if ex.delete else {}), "example": ex.title, **dict(ex.ui)}
    return Session(
        data=data,
        model=p.model,
        config=p.config,
        init_seed=p.init_seed,
        converge=p.converge,
        theta0=f.theta0,
        theta_s=f.theta_s,
        theta_hat=f.theta_hat,
        selection=ex.j,
        damping=ex.damping,
        ui=ui,
    )


def write_examples(folder: Path = EXAMPLES_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for ex in EXAMPLES:
        path = folder / ex.file
        save_session(build_example(ex), path)
        out.append(path)
    return out


def compare_documents(a: dict, b: dict, rtol: float = 1e-7, atol: float = 1e-9, where: str = "") -> list[str]:
    """Differences between two session documents (numbers compared with a tolerance)."""
    diffs: list[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                diffs.append(f"{where}/{k}: only in one document")
            else:
                diffs += compare_documents(a[k], b[k], rtol, atol, f"{where}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            diffs.append(f"{where}: lengths {len(a)} and {len(b)}")
        elif a and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a + b):
            if not np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol):
                diffs.append(f"{where}: numbers differ")
        else:
            for k, (u, v) in enumerate(zip(a, b)):
                diffs += compare_documents(u, v, rtol, atol, f"{where}[{k}]")
    elif isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and np.isclose(a, b, rtol, atol)):
            diffs.append(f"{where}: {a!r} != {b!r}")
    elif a != b:
        diffs.append(f"{where}: {a!r} != {b!r}")
    return diffs


def check_examples(folder: Path = EXAMPLES_DIR) -> list[str]:
    problems = []
    for ex in EXAMPLES:
        path = folder / ex.file
        if not path.exists():
            problems.append(f"{path.name}: missing")
            continue
        stored = json.loads(path.read_text())
        fresh = build_example(ex).to_dict()
        fresh = json.loads(json.dumps(fresh))
        problems += [f"{path.name}{d}" for d in compare_documents(stored, fresh)]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write (or check) the example sessions in resources/examples/")
    ap.add_argument(
        "--check", action="store_true", help="compare the stored files with freshly computed ones"
    )
    args = ap.parse_args(argv)
    if args.check:
        problems = check_examples()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    for p in write_examples():
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
