"""``influence-lab attribute``: CSV / JSON output with the right columns, refusals with exit 2 and one line."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app import main
from core.points.dataset import make_preset

ROOT = Path(__file__).resolve().parents[1]
FAST = ["attribute", "--quiet", "--n", "10", "--steps", "300"]


def read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array([[float(v) for v in r] for r in rows[1:]])


def test_help_lists_attribute():
    out = subprocess.run(
        [sys.executable, "app.py", "attribute", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert "--methods" in out.stdout and "--csv" in out.stdout and "--permutations" in out.stdout


def test_csv_has_one_row_per_point_and_one_column_per_method(tmp_path):
    out = tmp_path / "t.csv"
    assert main([*FAST, "--methods", "fast", "--csv", str(out)]) == 0
    header, values = read_csv(out)
    assert header[:3] == ["index", "x", "y"]
    assert any("self" in h for h in header) and any("loo" in h for h in header)
    assert header[3:] == [
        "loo_cold", "loo_warm", "if", "if_gnh", "pbrf", "newton", "self_influence", "leverage", "tracin",
    ]  # fmt: skip
    assert values.shape == (10, len(header)) and np.isfinite(values).all()
    np.testing.assert_array_equal(values[:, 0], np.arange(10))
    # refuses to overwrite without --force, before computing anything
    assert main([*FAST, "--methods", "if", "--csv", str(out)]) == 2
    assert main([*FAST, "--methods", "if", "--csv", str(out), "--force"]) == 0
    assert read_csv(out)[0] == ["index", "x", "y", "if"]


def test_json_on_outliers_reports_agreement_and_detection(tmp_path):
    out = tmp_path / "o.json"
    args = ["attribute", "--quiet", "--preset", "outliers", "--steps", "500", "--methods", "loo,if,tracin"]
    assert main([*args, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    att = doc["attribution"]
    assert att["reference"] == "loo_cold" and set(att["columns"]) == {"loo_cold", "loo_warm", "if", "tracin"}
    assert att["corrupted_rows"] == list(make_preset("outliers").corrupted) == [5, 10, 12]
    assert set(att["detection"]) == {"loo_cold", "loo_warm", "if", "tracin"}
    curve = att["detection"]["if"]
    assert curve["direction"] == "desc" and len(curve["found"]) == 21 and curve["found"][-1] == 1.0
    assert -1 <= att["agreement"]["if"]["spearman"] <= 1


def test_shapley_validation_query_and_holdout(tmp_path):
    out = tmp_path / "s.csv"
    args = [*FAST, "--methods", "shapley,if", "--permutations", "3", "--shapley-steps", "100"]
    assert main([*args, "--query", "validation", "--holdout", "0", "4", "--csv", str(out)]) == 0
    header, values = read_csv(out)
    assert header == ["index", "x", "y", "if", "shapley", "shapley_se"]
    assert values.shape[0] == 8 and 0 not in values[:, 0] and 4 not in values[:, 0]
    # a point query names an original index; it must be a training point
    assert (
        main([*FAST, "--methods", "if", "--query", "5", "--holdout", "0", "--csv", str(out), "--force"]) == 0
    )
    assert main([*FAST, "--methods", "if", "--query", "0", "--holdout", "0"]) == 2


def test_prints_a_table_without_output_files(capsys):
    assert main([*FAST, "--methods", "if,self_influence"]) == 0
    text = capsys.readouterr().out
    assert "self_influence" in text and "query: self" in text


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--methods", "nope"], "unknown method"),
        (["--methods", "ols"], "linear model"),
        (["--query", "99"], "out of range"),
        (["--query", "sideways"], "--query"),
        (["--permutations", "0"], "permutation"),
        (["--chains", "0"], "chain"),
        (["--damping", "-1"], "damping"),
        (["--methods", "pbrf", "--damping", "0"], "λ > 0"),
        (["--val-fraction", "1.5", "--methods", "if"], "fraction"),
        (["--holdout", "99", "--methods", "if"], "held-out"),
        (["--tracin-every", "0"], "tracin-every"),
        (["--bif-thin", "0"], "thin"),
    ],
)
def test_bad_options_exit_2_with_one_line(extra, needle, capsys):
    assert main([*FAST, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err


def test_shapley_needs_a_validation_set_for_data_without_teacher(tmp_path, capsys):
    pts = tmp_path / "p.csv"
    pts.write_text("x,y\n" + "".join(f"{v},{2 * v}\n" for v in np.linspace(-1, 1, 8)))
    assert main(["attribute", "--quiet", "--data", str(pts), "--methods", "shapley"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--holdout" in err and "\n" not in err
