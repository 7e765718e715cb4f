"""``influence-lab schedules`` / ``unlearn``: JSON and NPZ checked against independent computations
(scipy expm, OLS, core.train runs), and one-line errors with exit status 2."""

import json

import numpy as np
import pytest
from scipy.linalg import expm

from app import main
from core.model import MLPSpec
from core.points.dataset import make_preset
from core.train import TrainConfig, train_models


def _read(path):
    return json.loads(path.read_text())


def test_schedules_linear_phase(tmp_path):
    out, npz = tmp_path / "s.json", tmp_path / "s.npz"
    args = ["schedules", "--linear-phase", "--quiet", "--integrator", "rk4", "--scan", "16"]
    assert main([*args, "--json", str(out), "--npz", str(npz)]) == 0
    doc = _read(out)
    assert doc["mode"] == "linear-phase" and doc["deleted"] == 19 and doc["s"] == 0.5 and doc["T"] == 2.0
    x, y = np.array(doc["data"]["x"]), np.array(doc["data"]["y"])
    assert len(x) == 20 and (x[19], y[19]) == (2.0, -1.0)
    # θ*, θ*_{−j}: OLS with and without point 19
    np.testing.assert_allclose(doc["theta_star"], np.polyfit(x, y, 1)[::-1], atol=1e-12)
    np.testing.assert_allclose(doc["target"]["theta"], np.polyfit(x[:19], y[:19], 1)[::-1], atol=1e-12)
    # 𝓔 of every step schedule: scipy expm closed form (RK4 with jumps on the grid is accurate to ≪ 1e-8)
    X = np.stack([np.ones(20), x], axis=1)
    H1, H0 = X.T @ X / 20, X[:19].T @ X[:19] / 20
    t1, t0 = np.array(doc["theta_star"]), np.array(doc["target"]["theta"])
    th0s = np.array(doc["theta0s"])
    n_steps = 0
    for entry in doc["schedules"]:
        if entry["schedule"]["kind"] != "step":
            continue
        n_steps += 1
        tau = entry["schedule"]["tau"]
        for p, th0 in enumerate(th0s):
            th = t1 + expm(-H1 * tau) @ (th0 - t1)
            th = t0 + expm(-H0 * (2.0 - tau)) @ (th - t0)
            want = 0.5 * np.sum((th - t0) ** 2)
            assert entry["criterion"][p] == pytest.approx(want, abs=1e-9)
            assert entry["criterion_exact"][p] == pytest.approx(want, rel=1e-10)
    assert n_steps == 3
    # the documented finding: the step at s is optimal for θ_0 = (0, 0) only
    np.testing.assert_array_equal(th0s[:3], [[0, 0], [3, 3], [0, 3]])
    assert [b["step_at_s_optimal"] for b in doc["best"][:3]] == [True, False, False]
    assert doc["later_step_better_at_s"][:3] == [False, True, True]
    assert doc["step_scan"]["step_at_s_optimal"][:3] == [True, False, False]
    # npz: plain arrays, no pickle needed
    with np.load(npz, allow_pickle=False) as z:
        K, S, P, d = z["theta"].shape
        assert (S, P, d) == (len(doc["schedules"]), 4, 2) and K == len(z["times"])
        assert z["field"].shape == (2, 21, 21, 2) and z["eps_plot"].shape == (S, 401)
        assert z["schedule_labels"].dtype.kind == "U"
        np.testing.assert_allclose(z["theta"][0, 0], th0s)
        np.testing.assert_allclose(z["theta_star_deleted"], t0)


def test_schedules_on_data_mlp_matches_two_segment_training(tmp_path):
    """The step at s from the JSON equals training with ε = 1 for s/η steps then ε = 0 (core.train)."""
    out = tmp_path / "m.json"
    args = ["schedules", "--quiet", "--steps", "300", "--delete", "3", "--T", "6", "--s-time", "1.5"]
    args += ["--schedule", "step", "--schedule", "linear:4", "--theta0-seeds", "0", "1", "--scan", "4"]
    assert main([*args, "--json", str(out)]) == 0
    doc = _read(out)
    assert doc["mode"] == "data" and doc["eta"] == 0.1 and doc["steps"] == 60
    assert doc["target"]["converged"] and doc["target"]["grad_norm"] <= 1e-10
    data = make_preset("teacher")
    model = MLPSpec((3,), "tanh")
    w0 = np.ones(20)
    w0[3] = 0.0
    cfg = TrainConfig(lr=0.1, steps=15, weight_decay=1e-3)
    step = doc["schedules"][0]
    assert step["schedule"] == {"kind": "step", "tau": 1.5} and step["in_class_E_s"]
    for p, seed in enumerate((0, 1)):
        th0 = model.init_params(seed)
        np.testing.assert_allclose(doc["theta0s"][p], th0)
        a = train_models(model, th0, data.x, data.y, None, cfg).theta
        b = train_models(model, a, data.x, data.y, w0, cfg, steps=45).theta[0]
        np.testing.assert_allclose(step["theta_T"][p], b, atol=1e-12)
        tgt = np.array(doc["target"]["theta"])
        assert step["criterion"][p] == pytest.approx(0.5 * np.sum((b - tgt) ** 2), rel=1e-12)
    assert len(doc["step_scan"]["params"]) == 4 and doc["step_scan"]["params"][0] == 1.5
    assert len(doc["best"]) == 2 and "step_at_s_optimal" in doc["best"][0]


def test_schedules_linear_model_on_data_has_exact_criteria(tmp_path):
    out = tmp_path / "l.json"
    args = [
        "schedules",
        "--quiet",
        "--preset",
        "linear",
        "--model",
        "linear",
        "--steps",
        "20",
        "--delete",
        "7",
    ]
    assert main([*args, "--theta0", "0,0", "--scan", "0", "--json", str(out)]) == 0
    doc = _read(out)
    assert doc["step_scan"] is None and doc["theta_hat"] is None and doc["T"] == 2.0 and doc["s"] == 0.5
    data = make_preset("linear")
    X = np.stack([np.ones(20), data.x], axis=1)
    keep = np.arange(20) != 7
    t1, t0 = np.linalg.lstsq(X, data.y, rcond=None)[0], np.linalg.lstsq(X[keep], data.y[keep], rcond=None)[0]
    H1, H0 = X.T @ X / 20, X[keep].T @ X[keep] / 20
    np.testing.assert_allclose(doc["target"]["theta"], t0, atol=1e-12)
    kinds = [e["schedule"]["kind"] for e in doc["schedules"]]
    assert kinds == ["step", "step", "linear", "exponential"]
    for entry in doc["schedules"][:2]:
        m = round(entry["schedule"]["tau"] / 0.1)
        # GD: its exact discrete recursion; the flow: scipy expm
        gd = t1 + np.linalg.matrix_power(np.eye(2) - 0.1 * H1, m) @ (0 - t1)
        gd = t0 + np.linalg.matrix_power(np.eye(2) - 0.1 * H0, 20 - m) @ (gd - t0)
        assert entry["criterion"][0] == pytest.approx(0.5 * np.sum((gd - t0) ** 2), rel=1e-10)
        fl = t1 + expm(-H1 * m * 0.1) @ (0 - t1)
        fl = t0 + expm(-H0 * (2.0 - m * 0.1)) @ (fl - t0)
        assert entry["criterion_exact"][0] == pytest.approx(0.5 * np.sum((fl - t0) ** 2), rel=1e-10)
    assert all(e["criterion_exact"] == [None] for e in doc["schedules"][2:])  # no closed form: null


def test_unlearn_json_and_npz(tmp_path):
    out, npz = tmp_path / "u.json", tmp_path / "u.npz"
    args = [
        "unlearn",
        "--quiet",
        "--steps",
        "200",
        "--delete",
        "2",
        "--K",
        "20",
        "200",
        "--budget",
        "0",
        "50",
    ]
    assert main([*args, "--noise-sigma", "0.01", "--draws", "32", "--json", str(out), "--npz", str(npz)]) == 0
    doc = _read(out)
    data = make_preset("teacher")
    model = MLPSpec((3,), "tanh")
    w0 = np.ones(20)
    w0[2] = 0.0
    cfg = TrainConfig(lr=0.1, steps=200, weight_decay=1e-3)
    theta0 = model.init_params(0)
    retrained = train_models(model, theta0, data.x, data.y, w0, cfg).theta[0]
    theta_T = train_models(model, theta0, data.x, data.y, None, cfg).theta[0]
    np.testing.assert_allclose(doc["theta_retrain"], retrained, atol=1e-12)
    np.testing.assert_allclose(doc["theta_T"], theta_T, atol=1e-12)
    canon = {e["K"]: e for e in doc["r2d_canonical"]}
    assert canon[200]["param"] <= 1e-12 and canon[200]["function"] <= 1e-12
    d2d = train_models(model, theta_T, data.x, data.y, w0, cfg, steps=50).theta[0]
    row = doc["table"][1]
    assert row["budget"] == 50
    f = model.predict(np.stack([d2d, retrained]), data.x)
    assert row["d2d"]["function"] == pytest.approx(np.mean(np.abs(f[0] - f[1])), rel=1e-10)
    assert row["d2d"]["param"] == pytest.approx(np.linalg.norm(d2d - retrained), rel=1e-10)
    assert doc["table"][0]["d2d"]["param"] == pytest.approx(np.linalg.norm(theta_T - retrained), rel=1e-10)
    assert doc["noise"]["summary"][0]["method"] == "retrain"
    with np.load(npz, allow_pickle=False) as z:
        assert z["r2d_path"].shape[:2] == (2, len(z["steps"])) and z["noise_param"].shape[1] == 32


@pytest.mark.parametrize(
    "args, needle",
    [
        (["schedules", "--delete", "20"], "--delete 20 is out of range"),
        (["schedules", "--delete", "-1"], "out of range"),
        (["unlearn", "--delete", "99"], "--delete 99 is out of range"),
        (["schedules", "--linear-phase", "--delete", "25"], "out of range"),
        (["schedules", "--schedule", "wave"], "not understood"),
        (["schedules", "--schedule", "linear:0.5:0.1"], "t_1"),
        (["schedules", "--T", "2.05", "--eta", "0.1"], "whole number"),
        (["schedules", "--s-time", "5", "--T", "2"], "s < T"),
        (["schedules", "--theta0", "1,2"], "d = 10"),
        (["schedules", "--linear-phase", "--preset", "sine"], "own data"),
        (["unlearn", "--steps", "50", "--K", "60"], "rewind depth"),
        (["unlearn", "--optimizer", "adam"], "gradient descent"),
    ],
)
def test_bad_options_exit_2_one_line(args, needle, capsys):
    assert main([*args, "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_existing_output_refused_before_running(tmp_path, capsys):
    out = tmp_path / "x.json"
    out.write_text("{}")
    assert main(["unlearn", "--quiet", "--json", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_text() == "{}"


def test_delete_before_the_subcommand_is_kept(tmp_path):
    out = tmp_path / "d.json"
    assert (
        main(["--delete", "4", "schedules", "--linear-phase", "--quiet", "--scan", "0", "--json", str(out)])
        == 0
    )
    assert _read(out)["deleted"] == 4
