"""`analyze`: the deletion report on the default problem and its JSON document."""

import json

import numpy as np
import pytest

from app import main
from core.deletion.analysis import analyze
from core.problem import default_problem, fit
from core.progress import drive

SOLVED = ("loo_cold", "loo_warm", "proximal", "pbrf")


@pytest.fixture(scope="module")
def default_fit():
    problem = default_problem()
    return problem, fit(problem)


def test_every_point_of_the_default_problem(default_fit):
    problem, _ = default_fit
    for j in range(problem.data.n):
        result = drive(analyze(problem, j, eps_points=21))
        doc = result.to_json()
        for name in SOLVED:
            assert doc["estimates"][name]["grad_norm"] <= 1e-8, (j, name)
        for k, v in doc["decomposition"].items():
            assert np.isfinite(v) and v >= 0, (j, k)
            assert np.isfinite(doc["decomposition_params"][k]) and doc["decomposition_params"][k] >= 0
        assert result.eps_path.complete.all()
        # the ε-path ends where the warm LOO solve ends when θ^s's basin is θ̂'s (converged runs)
        assert np.max(doc["eps_path"]["grad_norm"]) <= 1e-10


def test_json_document_keys(tmp_path):
    out = tmp_path / "a.json"
    assert main(["analyze", "--delete", "4", "--quiet", "--eps-points", "11", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    for key in (
        "data",
        "model",
        "training",
        "deleted",
        "damping",
        "estimates",
        "decomposition",
        "decomposition_params",
        "self_influence",
        "predicted_loss_change",
        "actual_loss_change",
        "eps_path",
    ):
        assert key in doc
    assert doc["model"]["layers"] == [1, 3, 1] and doc["model"]["n_params"] == 10
    for key in (
        "theta0",
        "theta_hat",
        "loss",
        "grad_norm",
        "steps",
        "converged",
        "weight_decay",
        "hessian_min_eigenvalues",
    ):
        assert key in doc["training"]
    assert set(doc["estimates"]) == {
        "loo_cold",
        "loo_warm",
        "proximal",
        "pbrf",
        "pbrf_linear",
        "if_exact",
        "if_gnh",
        "if_solver",
        "newton",
    }
    for e in doc["estimates"].values():
        assert len(e["theta"]) == 10 and len(e["pred_train"]) == 20
    assert set(doc["decomposition"]) == {
        "warm_start_gap",
        "proximity_gap",
        "non_convergence_gap",
        "linearization_error",
        "solver_error",
    }
    assert len(doc["eps_path"]["eps"]) == 11 and len(doc["eps_path"]["theta"]) == 11
    assert doc["deleted"] == 4
    # predicted loss change is s_j / n
    assert doc["predicted_loss_change"] == pytest.approx(doc["self_influence"] / 20, rel=1e-12)


def test_linear_model_report_matches_the_ols_closed_form(tmp_path):
    out = tmp_path / "lin.json"
    args = [
        "analyze",
        "--delete",
        "7",
        "--quiet",
        "--preset",
        "outliers",
        "--model",
        "linear",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["training"]["weight_decay"] == 0.0
    X = np.stack([np.ones(20), np.array(doc["data"]["x"])], axis=1)
    y = np.array(doc["data"]["y"])
    keep = np.arange(20) != 7
    brute = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
    np.testing.assert_allclose(doc["loo_exact"][7], brute, atol=1e-10)
    np.testing.assert_allclose(doc["estimates"]["loo_cold"]["theta"], brute, atol=1e-8)
    # one Newton step is exact for OLS
    np.testing.assert_allclose(doc["estimates"]["newton"]["theta"], brute, atol=1e-10)
    assert len(doc["leverage"]) == 20 and len(doc["cooks_distance"]) == 20


@pytest.mark.parametrize(
    "args, needle",
    [(["--delete", "20"], "not a point index"), (["--delete", "1", "--damping", "0"], "damping")],
)
def test_bad_deletion_options(args, needle, capsys):
    assert main(["analyze", "--quiet", *args]) == 2
    assert needle in capsys.readouterr().err
