"""Reliability: bad input is refused in one line, sizes are limited, files are data only,
and every numerical edge case has the defined behaviour of docs/limits.md."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np
import pytest

from app import main
from core import limits
from core.deletion.influence import influence_estimates
from core.deletion.responses import pbrf_objective
from core.limits import LimitError, check_problem_size, problem_size_error
from core.model import LinearFeatures, MLPSpec
from core.points.dataset import (
    DataError,
    Dataset,
    duplicate_x_indices,
    load_points,
    make_preset,
    scale_warnings,
    standardize,
)
from core.problem import Problem, deletion_error
from core.session import Session, SessionError, load_session, save_session
from core.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parent / "corpus"
FAST = ["--quiet", "--steps", "300"]


def run(argv, capsys):
    """(exit status, stdout, stderr) of ``app.main`` in-process; argparse's SystemExit counts as a status."""
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def error_line(err: str) -> str:
    """The single error line of stderr (warnings may precede it)."""
    lines = [line for line in err.splitlines() if line.strip() and ": warning: " not in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def run_json(argv, capsys):
    rc, out, err = run([*argv, "--json", "-"], capsys)
    assert rc == 0, err
    return json.loads(out), err


def write_csv(path: Path, x, y, w=None) -> Path:
    head = "x,y" + (",weight" if w is not None else "")
    rows = [
        ",".join(repr(float(v)) for v in ((a, b) if w is None else (a, b, c)))
        for a, b, c in zip(x, y, w if w is not None else [None] * len(x))
    ]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


# --------------------------------------------------------------------------------------------------
# 1. Files are data: no pickle / eval / exec / torch.load anywhere in the app's code
# --------------------------------------------------------------------------------------------------

#: modules whose import alone means untrusted bytes could become code
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def _violations(path: Path) -> list[str]:
    """Every use in ``path`` of a way to turn bytes into code (by the syntax tree: comments, docstrings and
    strings that merely mention them do not count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            out += [
                f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
            out.append(f"{where}: from {node.module} import …")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                out.append(f"{where}: {f.id}(…)")
            if isinstance(f, ast.Attribute) and f.attr == "load":
                owner = f.value.id if isinstance(f.value, ast.Name) else ""
                if owner in ("torch", "pickle", "yaml", "marshal", "dill", "joblib"):
                    out.append(f"{where}: {owner}.load(…)")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    out.append(f"{where}: allow_pickle=…")
        elif isinstance(node, ast.Attribute) and node.attr in ("loads", "load", "Unpickler"):
            if isinstance(node.value, ast.Name) and node.value.id in FORBIDDEN_MODULES:
                out.append(f"{where}: {node.value.id}.{node.attr}")
    return out


def app_sources() -> list[Path]:
    files = [ROOT / "app.py", *sorted((ROOT / "core").rglob("*.py")), *sorted((ROOT / "gui").rglob("*.py"))]
    return [f for f in files if f.is_file()]


def test_no_source_file_can_execute_file_content():
    """Sessions and points files are read as data only: no pickle (or its relatives), eval, exec, compile,
    torch.load, yaml.load or allow_pickle anywhere in app.py, core/ or gui/ (comments and strings aside)."""
    sources = app_sources()
    assert len(sources) > 20
    bad = [v for path in sources for v in _violations(path)]
    assert not bad, "\n".join(bad)


def test_the_source_scan_catches_what_it_should(tmp_path):
    fake = tmp_path / "probe.py"
    fake.write_text(
        "import pickle\nfrom marshal import loads\nimport numpy as np\nimport torch\n"
        "x = eval('1')\nexec('y = 2')\nnp.load('f', allow_pickle=True)\ntorch.load('m')\n"
        "# eval( in a comment is fine\ns = 'pickle.loads in a string is fine'\nnet.eval()\n"
    )
    assert len(_violations(fake)) == 6, _violations(fake)


# --------------------------------------------------------------------------------------------------
# 2. The malformed-file corpus: every file refused cleanly, by the loader's own error, naming the file
# --------------------------------------------------------------------------------------------------

POINT_FILES = sorted((CORPUS / "points").iterdir())
SESSION_FILES = sorted((CORPUS / "sessions").iterdir())


def test_the_corpus_is_big_enough():
    assert len(POINT_FILES) >= 20 and len(SESSION_FILES) >= 20
    kinds = {p.suffix for p in POINT_FILES}
    assert kinds == {".csv", ".json"}


@pytest.mark.parametrize("path", POINT_FILES + SESSION_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_is_refused_cleanly(path):
    os.environ.pop("INFLUENCE_LAB_PWNED", None)
    if path.parent.name == "points":
        with pytest.raises(DataError) as info:
            load_points(path)
    else:
        with pytest.raises(SessionError) as info:
            load_session(path)
    message = str(info.value)
    assert message.startswith(path.name), message
    assert "\n" not in message and len(message) < 600
    assert "INFLUENCE_LAB_PWNED" not in os.environ  # the pickle payloads were never unpickled


def test_a_utf8_byte_order_mark_is_accepted_in_sessions_and_points(tmp_path):
    s = Session(data=make_preset("teacher", n=5), model=MLPSpec((3,), "tanh"), config=TrainConfig())
    path = tmp_path / "s.json"
    save_session(s, path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_session(path).data.n == 5
    pts = tmp_path / "p.csv"
    pts.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n3,4\n")
    assert load_points(pts).n == 2


# --------------------------------------------------------------------------------------------------
# 3. Every CLI option validated: one line, the problem and the fix, exit 2
# --------------------------------------------------------------------------------------------------

BAD_OPTIONS = [
    (["train", "--steps", "-1"], "--steps -1"),
    (["train", "--steps", "10000001"], "10,000,000"),
    (["train", "--n", "1"], "--n 1"),
    (["train", "--n", "1000000000"], "100,000"),
    (["train", "--hidden", "100000", "100000"], "10,000"),
    (["train", "--hidden", *["2"] * 17], "at most 16"),
    (["train", "--hidden", "0"], "positive"),
    (["train", "--lr", "nan"], "learning rate"),
    (["train", "--lr", "inf"], "learning rate"),
    (["train", "--lr", "0"], "> 0"),
    (["train", "--weight-decay", "-1"], "weight decay"),
    (["train", "--weight-decay", "nan"], "finite"),
    (["train", "--noise", "nan"], "noise"),
    (["train", "--seed", "-1"], "seed"),
    (["train", "--data-seed", "-1"], "seed"),
    (["train", "--model", "linear", "--degree", "16"], "from 0 to 15"),
    (["train", "--model", "linear", "--hidden", "5"], "--model mlp"),
    (["train", "--model", "linear", "--activation", "relu"], "--activation"),
    (["train", "--degree", "2"], "--model linear"),
    (["train", "--batch-size", "4"], "--optimizer sgd"),
    (["train", "--optimizer", "sgd", "--batch-size", "0"], "--batch-size 0"),
    (["train", "--data", "x.csv", "--n", "5"], "--data"),
    (["--screenshot", "x.png", "train"], "desktop app"),
    (["--session", "s.json", "analyze", "--delete", "1"], "desktop app"),
    (["--delete", "3", "train"], "does not apply to train"),
    (["--delete", "3", "attribute"], "does not apply to attribute"),
    (["train", "--json", "/nonexistent-folder/x.json"], "does not exist"),
    (["analyze"], "--delete J is required"),
    (["analyze", "--delete", "20"], "out of range"),
    (["analyze", "--delete", "-1"], "out of range"),
    (["analyze", "--delete", "1", "--damping", "0"], "λ > 0"),
    (["analyze", "--delete", "1", "--damping", "nan"], "damping"),
    (["analyze", "--delete", "1", "--damping", "inf"], "damping"),
    (["analyze", "--delete", "1", "--eps-points", "1"], "ε-path"),
    (["analyze", "--delete", "1", "--eps-points", "10002"], "10,001"),
    (["analyze", "--delete", "1", "--solver-budget", "-1"], "solver"),
    (["schedules", "--delete", "20"], "out of range"),
    (["schedules", "--T", "inf"], "--T inf"),
    (["schedules", "--s-time", "nan"], "--s-time nan"),
    (["schedules", "--eta", "1e-12", "--T", "2"], "flow steps"),
    (["schedules", "--grid", "100000"], "--grid"),
    (["schedules", "--scan", "-1"], "--scan"),
    (["schedules", "--snapshots", "0"], "--snapshots"),
    (["schedules", "--theta0-seeds", "-1"], "seed"),
    (["schedules", "--linear-phase", "--hidden", "4"], "drop --hidden"),
    (["schedules", "--npz", "-"], "--npz"),
    (["unlearn", "--delete", "99"], "out of range"),
    (["unlearn", "--steps", "0"], "--steps 0"),
    (["unlearn", "--K", "0"], "rewind depth"),
    (["unlearn", "--draws", "0"], "--draws 0"),
    (["unlearn", "--noise-sigma", "nan"], "noise σ"),
    (["unlearn", "--record-every", "-1"], "--record-every"),
    (["unlearn", "--noise-seed", "-1"], "seed"),
    (["attribute", "--methods", "pbrf", "--damping", "0"], "λ > 0"),
    (["attribute", "--damping", "nan"], "damping"),
    (["attribute", "--chains", "0"], "chain"),
    (["attribute", "--mc-seed", "-1"], "seed"),
    (["attribute", "--val-seed", "-1", "--val-fraction", "0.2"], "seed"),
    (["attribute", "--bif-step-size", "nan"], "step size"),
    (["attribute", "--csv", "-", "--json", "-"], "stdout"),
]


@pytest.mark.parametrize("argv, needle", BAD_OPTIONS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_bad_option_is_refused_in_one_line(argv, needle, capsys):
    rc, _, err = run([*argv, "--quiet"], capsys)
    assert rc == 2, err
    line = error_line(err)
    assert needle in line, line
    assert line.startswith("influence-lab ")


def test_syntax_errors_are_one_line_too(capsys):
    rc, _, err = run(["train", "--steps", "abc"], capsys)
    assert rc == 2
    line = error_line(err)
    assert "invalid int value: 'abc'" in line and "(see influence-lab train --help)" in line


def test_outputs_are_checked_before_computing(tmp_path, capsys):
    folder = tmp_path / "out"
    folder.mkdir()
    rc, _, err = run(["analyze", "--quiet", "--delete", "1", "--json", str(folder)], capsys)
    assert rc == 2 and "is a folder" in error_line(err)
    same = str(tmp_path / "same.json")
    rc, _, err = run(["attribute", "--quiet", "--csv", same, "--json", same], capsys)
    assert rc == 2 and "same file" in error_line(err)


def test_delete_may_come_before_the_subcommand(capsys):
    rc, out, err = run(["--delete", "3", "analyze", "--quiet", "--steps", "50", "--eps-points", "3"], capsys)
    assert rc == 0, err
    assert "deleted point 3 of 20" in out


# --------------------------------------------------------------------------------------------------
# 4. Size limits (core/limits.py)
# --------------------------------------------------------------------------------------------------


def test_limits_are_one_set_of_numbers():
    import core.points.dataset
    import core.session

    assert (
        core.points.dataset.MAX_POINTS == limits.MAX_POINTS
        and core.points.dataset.MIN_POINTS == limits.MIN_POINTS
    )
    assert core.session.MAX_PARAMS == limits.MAX_PARAMS
    assert limits.MAX_HESSIAN_PARAMS <= limits.MAX_PARAMS
    # the limits leave the documented default problem and the benchmark's scale model (d = 1,153) alone
    assert problem_size_error(Problem(data=make_preset("teacher")), "analyze") is None
    scale = Problem(data=make_preset("teacher", n=1000), model=MLPSpec((32, 32)))
    assert problem_size_error(scale, "train") is None


def test_too_many_points_for_a_batched_feature():
    p = Problem(data=make_preset("teacher", n=5000))
    assert problem_size_error(p, "analyze") is None
    with pytest.raises(LimitError, match="at most 2,236 points") as info:
        check_problem_size(p, "attribute")
    assert isinstance(info.value, ValueError)
    w = check_problem_size(Problem(data=make_preset("teacher", n=2236)), "attribute")
    assert w.elements <= limits.MAX_BATCH_ELEMENTS and w.batch == 2 * 2236


def test_exact_hessian_features_have_their_own_parameter_limit():
    big = Problem(data=make_preset("teacher", n=10), model=MLPSpec((64, 64)))  # d = 4,353
    assert big.model.n_params == 4353
    with pytest.raises(LimitError, match="exact d × d Hessian"):
        check_problem_size(big, "analyze")
    with pytest.raises(LimitError, match="--early-stopped"):
        check_problem_size(big, "train")
    big.converge = False
    assert check_problem_size(big, "train").hessian is False
    huge = Problem(data=make_preset("teacher", n=10), model=MLPSpec((10_000, 10_000)))
    assert "at most 200,000" in problem_size_error(huge, "train")
    with pytest.raises(ValueError, match="unknown feature"):
        check_problem_size(big, "nonsense")


def test_size_refusals_from_the_cli_are_immediate(capsys, monkeypatch):
    """Refused before any training starts (no time is asserted: training is made to fail if it is reached)."""
    import core.problem

    def no_training(*args, **kwargs):
        raise AssertionError("the refusal came after training had started")

    with monkeypatch.context() as m:
        m.setattr(core.problem, "train", no_training)
        rc, _, err = run(["attribute", "--quiet", "--n", "5000", "--methods", "loo"], capsys)
        assert rc == 2 and "GiB" in error_line(err)
        rc, _, err = run(["train", "--quiet", "--hidden", "64", "64"], capsys)
        assert rc == 2 and "--early-stopped" in error_line(err)
    rc, out, err = run(
        ["train", "--quiet", "--hidden", "64", "64", "--early-stopped", "--steps", "5"], capsys
    )
    assert rc == 0, err


# --------------------------------------------------------------------------------------------------
# 5. Numerical edge cases (docs/limits.md, "Numerical edge cases")
# --------------------------------------------------------------------------------------------------


def _finite_estimates(doc):
    for name, e in doc["estimates"].items():
        assert all(v is not None and np.isfinite(v) for v in e["theta"]), name


def test_duplicate_x_values_are_allowed(tmp_path, capsys):
    """Two identical points (1, 1), (1, 1) and two points sharing x = 0 with different y."""
    path = write_csv(tmp_path / "dup.csv", [0, 0, 1, 1, 2, -1], [1, 2, 1, 1, 3, 0.5])
    ds = load_points(path)
    assert duplicate_x_indices(ds) == [(0, 1), (2, 3)]
    doc, _ = run_json(["analyze", *FAST, "--data", str(path), "--delete", "2"], capsys)
    _finite_estimates(doc)
    assert doc["training"]["converged"] is True and doc["eps_path"]["complete"] is True
    # deleting one of two identical points: the warm LOO is the minimiser of L_{−2}, whose gradient vanishes
    assert doc["estimates"]["loo_warm"]["converged"] is True


def test_two_points(capsys):
    doc, _ = run_json(["analyze", *FAST, "--n", "2", "--delete", "0"], capsys)
    _finite_estimates(doc)
    assert len(doc["data"]["x"]) == 2 and np.isfinite(doc["self_influence"])
    # OLS with n ≤ p is not identifiable: refused with the reason and the fix
    rc, _, err = run(
        ["analyze", *FAST, "--preset", "linear", "--model", "linear", "--n", "2", "--delete", "0"], capsys
    )
    assert rc == 2 and "not identifiable" in error_line(err)


def test_all_but_one_point_deleted(tmp_path, capsys):
    path = write_csv(tmp_path / "one.csv", [0, 1, 2], [1, 2, 0.5], [0, 1, 0])
    doc, err = run_json(["train", *FAST, "--data", str(path)], capsys)
    assert any("only one point" in w for w in doc["data"]["warnings"]) and "warning: only one point" in err
    # deleting the last point of positive weight: the deleted model minimises (κ/2)‖θ‖² alone, θ = 0
    doc, _ = run_json(["analyze", *FAST, "--data", str(path), "--delete", "1"], capsys)
    assert np.max(np.abs(doc["estimates"]["loo_warm"]["theta"])) < 1e-8
    assert np.max(np.abs(doc["estimates"]["loo_cold"]["theta"])) < 1e-8
    assert any("leaves no point with weight > 0" in w for w in doc["warnings"])
    # … which is undefined without weight decay
    rc, _, err = run(["analyze", *FAST, "--data", str(path), "--delete", "1", "--weight-decay", "0"], capsys)
    assert rc == 2 and "undefined" in error_line(err)
    # a point of weight 0 is already deleted
    rc, _, err = run(["analyze", *FAST, "--data", str(path), "--delete", "0"], capsys)
    assert rc == 2 and "already deleted" in error_line(err)


def test_every_point_deleted(tmp_path, capsys):
    path = write_csv(tmp_path / "zero.csv", [0, 1, 2], [1, 2, 0.5], [0, 0, 0])
    doc, err = run_json(["train", *FAST, "--data", str(path)], capsys)
    assert np.max(np.abs(doc["training"]["theta_hat"])) < 1e-10  # only the weight decay: θ̂ = 0
    assert any("every point has weight 0" in w for w in doc["data"]["warnings"])
    for argv in (
        ["analyze", "--delete", "0"],
        ["attribute", "--methods", "if"],
        ["unlearn"],
        ["schedules", "--scan", "2"],
    ):
        rc, _, err = run([*argv, *FAST, "--data", str(path)], capsys)
        assert rc == 2 and "no points left" in error_line(err), argv


def test_deletion_rules_in_the_core():
    p = Problem(data=Dataset([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0]))
    assert deletion_error(p, 0) is None
    assert "already deleted" in deletion_error(p, 1)
    assert "out of range" in deletion_error(p, 3)


def test_constant_y(tmp_path, capsys):
    path = write_csv(tmp_path / "const.csv", np.linspace(-2, 2, 8), [0.7] * 8)
    doc, _ = run_json(["analyze", *FAST, "--data", str(path), "--delete", "3"], capsys)
    assert any("every y equals 0.7" in w for w in doc["data"]["warnings"])
    _finite_estimates(doc)
    # the fit is (almost) the constant: residuals and so influences are ≈ 0
    assert abs(doc["predicted_loss_change"]) < 1e-4 and abs(doc["actual_loss_change"]) < 1e-4


def test_magnitude_warnings_and_standardize(tmp_path, capsys):
    x = np.linspace(-2, 2, 12)
    y = np.sin(2 * x)
    huge = write_csv(tmp_path / "huge.csv", x * 1e8, y * 1e8)
    tiny = write_csv(tmp_path / "tiny.csv", x * 1e-8, y * 1e-8)
    for path, phrase in ((huge, "reaches"), (tiny, "varies by only")):
        warnings = scale_warnings(load_points(path))
        assert len(warnings) == 2 and all(phrase in w and "--standardize" in w for w in warnings)
    rc, out, err = run(["train", *FAST, "--data", str(huge), "--json", "-"], capsys)
    assert rc in (0, 3)
    assert "warning: |x| reaches" in err and "--standardize" in err
    if rc == 0:
        assert len(json.loads(out)["data"]["warnings"]) == 2
    # with --standardize: no warning, trained in standardised units, the map recorded
    doc, err = run_json(["train", *FAST, "--data", str(huge), "--standardize"], capsys)
    assert "warning" not in err and doc["data"]["warnings"] == []
    s = doc["data"]["standardization"]
    assert s["x_mean"] == pytest.approx(0.0, abs=1e-6) and s["x_std"] == pytest.approx(np.std(x * 1e8))
    np.testing.assert_allclose(doc["data"]["x"], x / np.std(x), atol=1e-12)
    assert doc["training"]["converged"] is True
    # the same as training on the standardised file
    plain = write_csv(tmp_path / "plain.csv", x / np.std(x), (y - y.mean()) / y.std())
    ref, _ = run_json(["train", *FAST, "--data", str(plain)], capsys)
    np.testing.assert_allclose(doc["training"]["theta_hat"], ref["training"]["theta_hat"], atol=1e-7)


def test_standardize_is_overflow_free_and_centres_constant_columns():
    ds = Dataset([1e300, -1e300, 5e299], [3.0, 3.0, 3.0])
    new, m = standardize(ds)
    assert np.isfinite(new.x).all() and np.std(new.x) == pytest.approx(1.0)
    assert m["y_std"] == 1.0 and np.all(new.y == 0.0)


def test_huge_labels_diverge_with_a_standardize_hint(tmp_path, capsys):
    x = np.linspace(-2, 2, 12)
    path = write_csv(tmp_path / "bigy.csv", x, np.sin(2 * x) * 1e8)
    rc, _, err = run(["train", *FAST, "--data", str(path), "--lr", "1"], capsys)
    assert rc == 3
    line = error_line(err)
    assert "diverged" in line and "--standardize" in line


def test_indefinite_hessian_is_reported_with_its_smallest_eigenvalue(capsys):
    """κ = 0 on the default problem: the polish stops at a degenerate point whose Hessian is indefinite."""
    argv = [
        "analyze",
        "--quiet",
        "--steps",
        "500",
        "--delete",
        "0",
        "--weight-decay",
        "0",
        "--eps-points",
        "5",
    ]
    doc, _ = run_json(argv, capsys)
    h = doc["hessian"]
    assert h["positive_definite"] is False and doc["hessian_positive_definite"] is False
    assert h["min_eigenvalues"][0] < 0 and h["if_method"] == "pseudo-inverse"
    assert "not positive definite (smallest eigenvalue -" in h["message"]
    assert any("not positive definite" in w and "smallest eigenvalue" in w for w in doc["warnings"])
    assert any("pseudo-inverse" in w for w in doc["warnings"])
    rc, out, _ = run(argv, capsys)
    assert rc == 0
    assert "not positive definite (smallest eigenvalue" in out and "pseudo-inverse H⁺" in out


def test_singular_hessian_in_the_core_pinv_or_damped():
    """A quadratic model on two distinct x values: XᵀX is singular (rank 2 < 3)."""
    model = LinearFeatures(2)
    x = np.array([0.0, 0.0, 1.0, 1.0])
    y = np.array([0.0, 0.5, 1.0, 1.5])
    X = model.features(x)
    theta = np.linalg.lstsq(X, y, rcond=None)[0]
    est = influence_estimates(model, theta, x, y, None, 0.0, 1, damping=0.1)
    assert not est.if_valid and est.if_method == "pinv"
    assert abs(est.hessian.min_eigenvalue) < 1e-12
    assert any("not positive definite" in w for w in est.warnings)
    assert any("pseudo-inverse" in w for w in est.warnings)
    damped = influence_estimates(model, theta, x, y, None, 0.0, 1, damping=0.1, if_fallback="damped")
    assert damped.if_method == "damped" and any("H + λI" in w for w in damped.warnings)


def test_divergent_learning_rate(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc, stdout, err = run(["train", "--quiet", "--steps", "50", "--lr", "100", "--json", str(out)], capsys)
    assert rc == 3
    line = error_line(err)
    assert (
        "diverged at step" in line and "last finite parameters were kept" in line and "learning rate" in line
    )
    doc = json.loads(out.read_text())
    t = doc["training"]
    assert t["diverged"] is True and t["diverged_at"] >= 1 and t["converged"] is False
    assert all(v is not None and np.isfinite(v) for v in t["theta_s"])
    assert t["theta_hat"] == t["theta_s"]
    # text mode says it on stdout too
    rc, stdout, err = run(["train", "--quiet", "--steps", "50", "--lr", "100"], capsys)
    assert rc == 3 and "diverged" in stdout
    # the analyses stop there, with the same status and nothing written
    for argv in (
        ["analyze", "--delete", "1"],
        ["attribute", "--methods", "if"],
        ["unlearn"],
        ["schedules", "--scan", "2"],
    ):
        target = tmp_path / "a.json"
        rc, _, err = run([*argv, "--quiet", "--steps", "50", "--lr", "100", "--json", str(target)], capsys)
        assert rc == 3 and "diverged" in error_line(err), argv
        assert not target.exists()


def test_pbrf_with_zero_damping_is_refused(capsys):
    rc, _, err = run(["analyze", *FAST, "--delete", "1", "--damping", "0"], capsys)
    assert rc == 2 and "λ > 0" in error_line(err)
    model = MLPSpec((3,))
    ds = make_preset("teacher", n=5)
    with pytest.raises(ValueError, match="λ > 0"):
        pbrf_objective(model, ds.x, ds.y, None, 1e-3, [1], model.init_params(0), 0.0)


def test_continuation_fold_is_reported_by_analyze(tmp_path, capsys):
    """tests/test_paths.py's fold (a 1→1→1 tanh net on 5 points), through the CLI: JSON and text."""
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-2, 2, 5))
    y = rng.normal(size=5)
    path = write_csv(tmp_path / "fold.csv", x, y)
    argv = [
        "analyze", "--quiet", "--data", str(path), "--hidden", "1", "--seed", "1", "--lr", "0.2",
        "--steps", "3000", "--weight-decay", "1e-2", "--delete", "1", "--eps-points", "51",
    ]  # fmt: skip
    doc, _ = run_json(argv, capsys)
    ep = doc["eps_path"]
    assert ep["complete"] is False
    assert any("fold" in m and "point 1" in m for m in ep["messages"])
    assert ep["theta"][-1][0] is None  # beyond the fold: NaN in the core, null in JSON
    rc, out, _ = run(argv, capsys)
    assert rc == 0
    assert any(line.startswith("warning: ε-path:") and "fold" in line for line in out.splitlines())
