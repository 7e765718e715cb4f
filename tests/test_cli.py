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
