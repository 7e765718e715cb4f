"""The headless CLI: help, JSON output, one-line errors with a non-zero exit status."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import main

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert "train" in out.stdout and "SUBCOMMAND" in out.stdout


def test_train_json(tmp_path):
    out = tmp_path / "t.json"
    assert main(["train", "--quiet", "--steps", "500", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["model"]["layers"] == [1, 3, 1]
    assert len(doc["training"]["theta_hat"]) == 10
    assert doc["training"]["converged"] is True and doc["training"]["grad_norm"] <= 1e-10
    # refuses to overwrite without --force
    assert main(["train", "--quiet", "--steps", "10", "--json", str(out)]) == 2
    assert main(["train", "--quiet", "--steps", "10", "--json", str(out), "--force"]) == 0


def test_linear_model_defaults_to_plain_ols(tmp_path):
    out = tmp_path / "l.json"
    assert main(["train", "--quiet", "--preset", "linear", "--model", "linear", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["training"]["weight_decay"] == 0.0
    x, y = np.array(doc["data"]["x"]), np.array(doc["data"]["y"])
    ols = np.polyfit(x, y, 1)[::-1]
    np.testing.assert_allclose(doc["training"]["theta_hat"], ols, atol=1e-9)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--data", "missing.csv"], "missing.csv"),
        (["train", "--lr", "-1"], "learning rate"),
        (["train", "--hidden", "0"], "positive"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_bad_csv_one_line_message(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,abc\n")
    out = subprocess.run(
        [sys.executable, "app.py", "train", "--data", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "bad.csv, line 3" in out.stderr and "Traceback" not in out.stderr


def test_analyze_and_attribute_say_what_they_wrote_and_the_headline(tmp_path, capsys):
    out = tmp_path / "a.json"
    assert main(["analyze", "--steps", "400", "--eps-points", "11", "--delete", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "self-influence s_j" in printed and "error decomposition" in printed
    doc = json.loads(out.read_text())
    assert f"{doc['self_influence']:.6g}" in printed  # the summary quotes the file's number
    # --quiet prints nothing; JSON to stdout sends the summary to stderr so that stdout stays valid JSON
    assert (
        main(
            [
                "analyze",
                "--quiet",
                "--steps",
                "400",
                "--eps-points",
                "11",
                "--delete",
                "3",
                "--json",
                str(out),
                "--force",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == ""
    assert main(["analyze", "--steps", "400", "--eps-points", "11", "--delete", "3", "--json", "-"]) == 0
    both = capsys.readouterr()
    json.loads(both.out)
    assert "self-influence" in both.err
    csv_out = tmp_path / "t.csv"
    assert main(["attribute", "--steps", "400", "--methods", "loo_cold,if", "--csv", str(csv_out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {csv_out}" in printed and "agreement with" in printed


def test_progress_label_is_not_doubled():
    from core.deletion.analysis import analyze
    from core.problem import default_problem

    messages = [p.message for p in analyze(default_problem(), 3, eps_points=5)]
    assert any(m.startswith("ε-path: ") for m in messages)
    assert not any("ε-path: ε-path" in m for m in messages)


def test_every_help_shows_the_defaults():
    """Every option with a default says it in --help (in its own words or as "(default: …)")."""
    import argparse

    from cli.main import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    missing = []
    for name, sub in {"": parser, **subs}.items():
        text = " ".join(sub.format_help().split())
        for action in sub._actions:
            d = action.default
            if not action.option_strings or d in (None, False, argparse.SUPPRESS) or isinstance(d, bool):
                continue
            if action.help == argparse.SUPPRESS:
                continue
            line = " ".join(sub.formatter_class("x")._get_help_string(action).split())
            if "default" not in line.lower() or line.split("%(")[0][:30] not in text:
                missing.append(f"{name} {action.option_strings[0]}")
    assert missing == []


def test_linear_model_is_solved_not_trained_and_matches_statsmodels(tmp_path):
    """A quadratic least-squares fit on 37 points with x up to 6.5 (η = 0.1 would make GD diverge): with no
    training option, analyze solves it and its regression diagnostics equal statsmodels' OLSInfluence."""
    sm = pytest.importorskip("statsmodels.api")
    from statsmodels.stats.outliers_influence import OLSInfluence

    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(0, 6.5, 37))
    y = 1 + 0.5 * x - 0.08 * x**2 + rng.normal(0, 0.3, 37)
    data = tmp_path / "quad.csv"
    np.savetxt(data, np.c_[x, y], delimiter=",", header="x,y", comments="")
    out = tmp_path / "a.json"
    args = ["analyze", "--data", str(data), "--model", "linear", "--degree", "2", "--weight-decay", "0"]
    assert main([*args, "--delete", "4", "--json", str(out), "--quiet"]) == 0
    doc = json.loads(out.read_text())
    X = np.c_[np.ones_like(x), x, x**2]
    ols = sm.OLS(y, X).fit()
    infl = OLSInfluence(ols)
    np.testing.assert_allclose(doc["training"]["theta_hat"], ols.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(doc["leverage"], infl.hat_matrix_diag, rtol=0, atol=1e-8)
    np.testing.assert_allclose(doc["cooks_distance"], infl.cooks_distance[0], rtol=0, atol=1e-8)
    np.testing.assert_allclose(doc["dfbetas"], infl.dfbetas, rtol=0, atol=1e-8)
    loo = np.array([sm.OLS(np.delete(y, i), np.delete(X, i, axis=0)).fit().params for i in range(37)])
    np.testing.assert_allclose(doc["loo_exact"], loo, rtol=0, atol=1e-8)
    # η was chosen, not tuned by the user: 1/λ_max of the loss Hessian (1/n) XᵀX, below the default 0.1
    lam = np.linalg.eigvalsh(X.T @ X / 37)[-1]
    assert 1 / lam < 0.1 and doc["training_config"]["lr"] == pytest.approx(1 / lam, rel=1e-12)
