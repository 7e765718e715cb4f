"""Fuzzing the command line: random argument lists drawn from the real option names with random,
often bad, values. Whatever they are, ``app.main`` must end with exit status 0, 2 (refused) or 3 (training
diverged) and, when it does not succeed, exactly one ``error`` line on stderr — never a traceback, never an
internal error. Budgets are kept small (steps ≤ 50, n ≤ 12, a few permutations / SGLD steps) so that each
example takes well under a second; sizes beyond core.limits are drawn too, and must be refused at once.

Also here: a property test of the session reader with numbers JSON can hold but float64 cannot (huge integer
literals, which once crashed the reader)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import main
from core.session import SessionError, load_session

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FLAG = None  # an option without a value

#: phrases that betray an internal error passed off as a refusal (a numpy or Python message, not ours)
INTERNAL = (
    "Traceback",
    "internal error",
    "could not be broadcast",
    "operands",
    "has no attribute",
    "NoneType",
    "unsupported operand",
    "not subscriptable",
    "invalid literal for int",
    "cannot convert float",
    "could not convert",
    "expected non-negative integer",
    "Errno",
    "out of memory",
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    x = np.linspace(-2, 2, 8)
    (d / "points.csv").write_text("x,y\n" + "".join(f"{a!r},{float(np.sin(a))!r}\n" for a in x.tolist()))
    (d / "zero_weights.csv").write_text("x,y,weight\n0,1,0\n1,2,0\n2,0.5,0\n")
    (d / "one_weight.csv").write_text("x,y,weight\n0,1,0\n1,2,1\n2,0.5,0\n")
    (d / "huge.csv").write_text(
        "x,y\n" + "".join(f"{a * 1e8!r},{float(np.cos(a)) * 1e8!r}\n" for a in x.tolist())
    )
    (d / "dup.csv").write_text("x,y\n0,1\n0,2\n1,1\n1,1\n2,3\n")
    (d / "bad.csv").write_text("x,y\n1,abc\n")
    (d / "exists.json").write_text("{}")
    (d / "folder").mkdir()
    return d


def shared_values(files):
    """Option → (valid values, bad values); a value None is a flag."""
    p = str(files)
    return {
        "--preset": (["teacher", "sine", "linear", "outliers"], ["bogus"]),
        "--data": (
            [f"{p}/points.csv", f"{p}/dup.csv", f"{p}/one_weight.csv", f"{p}/huge.csv"],
            [f"{p}/zero_weights.csv", f"{p}/bad.csv", f"{p}/missing.csv", f"{p}/folder", f"{p}/points.txt"],
        ),
        "--n": (["2", "3", "5", "12"], ["0", "1", "-3", "100001", "1000000000", "x"]),
        "--noise": (["0", "0.1", "1e8"], ["-1", "nan", "inf"]),
        "--data-seed": (["0", "1"], ["-1", "x"]),
        "--standardize": ([FLAG], []),
        "--model": (["mlp", "linear"], ["cnn"]),
        "--hidden": (["3", "2 2", "1"], ["0", "-1", "100000", "5000 5000", " ".join(["1"] * 17), "x"]),
        "--activation": (["tanh", "relu", "softplus", "sigmoid", "identity"], ["gelu"]),
        "--degree": (["0", "1", "3", "15"], ["16", "-1"]),
        "--seed": (["0", "1"], ["-1"]),
        "--optimizer": (["gd", "sgd", "adam"], ["lbfgs"]),
        "--lr": (["0.05", "0.1", "1", "100", "1e300"], ["0", "-1", "nan", "inf"]),
        "--steps": (["0", "1", "10", "50"], ["-1", "x", "10000001"]),
        "--batch-size": (["1", "4", "100"], ["0", "-2"]),
        "--weight-decay": (["0", "1e-3", "1", "1e300"], ["nan", "-1", "inf"]),
        "--converge": ([FLAG], []),
        "--early-stopped": ([FLAG], []),
        "--json": (["-", f"{p}/out.json"], [f"{p}/exists.json", f"{p}/nofolder/x.json", f"{p}/folder", ""]),
        "--force": ([FLAG], []),
    }


DELETE = (["0", "1", "3"], ["-1", "20", "1000", "x"])


def command_values(files):
    p = str(files)
    npz = ([f"{p}/out.npz"], ["-", f"{p}/nofolder/x.npz", f"{p}/out.json"])
    return {
        "train": {},
        "analyze": {
            "--delete": DELETE,
            "--damping": (["1e-3", "0.1", "1e300"], ["0", "-1", "nan", "inf"]),
            "--eps-points": (["2", "3", "11"], ["1", "0", "-5", "10002"]),
            "--solver": (["cg", "lissa"], ["direct"]),
            "--solver-budget": (["0", "1", "5"], ["-1", "1000001"]),
        },
        "schedules": {
            "--delete": DELETE,
            "--schedule": (
                ["step", "step:0.5", "linear", "exp:3", "const:0.5", "points:0=1,1=0"],
                ["wave", "step:nan"],
            ),
            "--s-time": (["0", "0.5", "1"], ["-1", "nan", "1e9"]),
            "--T": (["0.5", "1", "2"], ["0", "-1", "nan", "inf", "1e9"]),
            "--eta": (["0.01", "0.1"], ["0", "nan", "-1", "1e-12"]),
            "--integrator": (["gd", "rk4"], ["euler"]),
            "--scan": (["0", "2", "3"], ["-1", "1002"]),
            "--snapshots": (["1", "5"], ["0", "100001"]),
            "--theta0": (["0,0", "1,2"], ["a,b", "=-1,2"]),
            "--theta0-seeds": (["0", "0 1"], ["-1"]),
            "--linear-phase": ([FLAG], []),
            "--grid": (["2", "3", "5"], ["1", "1002"]),
            "--npz": npz,
        },
        "unlearn": {
            "--delete": DELETE,
            "--K": (["1", "2 5"], ["0", "60", "-1"]),
            "--budget": (["0", "1 3"], ["-1"]),
            "--noise-sigma": (["0", "0.1"], ["-1", "nan"]),
            "--draws": (["1", "5"], ["0", "100001"]),
            "--noise-seed": (["0"], ["-1"]),
            "--record-every": (["0", "1", "5"], ["-1"]),
            "--npz": npz,
        },
        "attribute": {
            "--methods": (
                ["fast", "loo", "if,if_gnh", "pbrf", "newton", "tracin", "shapley", "bif", "ols"],
                ["nope", ""],
            ),
            "--query": (["self", "0", "3", "validation"], ["99", "sideways"]),
            "--damping": (["1e-3", "0"], ["-1", "nan"]),
            "--holdout": (["0", "0 1"], ["99", "-1"]),
            "--val-fraction": (["0.2", "0.5"], ["0", "1", "1.5", "nan"]),
            "--val-seed": (["0"], ["-1"]),
            "--permutations": (["1", "3"], ["0", "-1"]),
            "--min-permutations": (["1", "2"], ["0"]),
            "--shapley-tol": (["0", "0.05"], ["-1", "nan"]),
            "--truncation-tol": (["0", "0.01"], ["-1"]),
            "--shapley-steps": (["0", "5"], ["-1"]),
            "--chains": (["1", "2"], ["0"]),
            "--bif-beta": (["1", "100"], ["0", "nan"]),
            "--bif-gamma": (["0", "1"], ["-1"]),
            "--bif-steps": (["80", "100"], ["0", "3"]),
            "--bif-burn-in": (["0", "4"], ["-1"]),
            "--bif-thin": (["1", "2"], ["0"]),
            "--bif-step-size": (["1e-4"], ["0", "nan"]),
            "--tracin-every": (["1", "5"], ["0"]),
            "--mc-seed": (["0"], ["-1"]),
            "--csv": ([f"{p}/out.csv", "-"], [f"{p}/nofolder/x.csv", f"{p}/exists.json"]),
        },
    }


#: small budgets put before the random options (which may override them with other small or bad values)
BASE = {
    "train": ["--steps", "20"],
    "analyze": ["--steps", "20", "--eps-points", "5", "--delete", "1"],
    "schedules": ["--steps", "20", "--scan", "2", "--snapshots", "5", "--grid", "5"],
    "unlearn": ["--steps", "20", "--draws", "5"],
    "attribute": ["--steps", "20", "--n", "6", "--permutations", "3", "--bif-steps", "80", "--chains", "2"],
}
TOP_LEVEL = {
    "--delete": (["2"], ["-1", "99"]),
    "--session": ([], ["s.json"]),
    "--screenshot": ([], ["x.png"]),
    "--panel": ([], ["fit"]),
}


def _pairs(data, pool: dict, max_size: int) -> list[str]:
    """Up to max_size distinct options, each with a valid value nine times in ten (when it has one)."""
    names = data.draw(st.lists(st.sampled_from(sorted(pool)), max_size=max_size, unique=True))
    argv: list[str] = []
    for name in names:
        valid, bad = pool[name]
        use_bad = not valid or (bad and data.draw(st.integers(0, 9)) == 0)
        value = data.draw(st.sampled_from(bad if use_bad else valid))
        argv.append(name)
        if value is not None:
            argv.extend(value.split(" ") if value.strip() else [value])
    return argv


def _run(argv, capsys):
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a syntax error (2)
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def _check_outcome(argv, rc, err):
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line or "internal error" in line]
    others = [line for line in lines if line not in errors and ": warning: " not in line]
    context = f"argv={argv!r}\nstatus={rc}\nstderr={err}"
    assert rc in (0, 2, 3), context
    assert not any(phrase in err for phrase in INTERNAL), context
    assert not others, context
    if rc == 0:
        assert not errors, context
    else:
        assert len(errors) == 1, context


@FUZZ
@given(data=st.data())
def test_random_command_lines_exit_0_2_or_3_with_one_error_line(files, capsys, monkeypatch, data):
    monkeypatch.chdir(files)  # a random relative output path lands in the temporary folder
    command = data.draw(st.sampled_from(sorted(BASE)))
    pool = {**shared_values(files), **command_values(files)[command]}
    argv = _pairs(data, TOP_LEVEL, 1) if data.draw(st.integers(0, 9)) == 0 else []
    argv += [command, "--quiet", *BASE[command], *_pairs(data, pool, 4)]
    rc, _, err = _run(argv, capsys)
    _check_outcome(argv, rc, err)


@FUZZ
@given(data=st.data())
def test_random_tokens_never_crash_the_parser(files, capsys, monkeypatch, data):
    """Arbitrary tokens (option names, values, junk) in any order: argparse or our checks refuse them."""
    monkeypatch.chdir(files)  # e.g. "--json 20" writes ./20: into the temporary folder, not the checkout
    command = data.draw(st.sampled_from(sorted(BASE)))
    pool = {**shared_values(files), **command_values(files)[command]}
    values = sorted(
        {v for valid, bad in pool.values() for v in valid + bad if v is not None and " " not in v}
    )
    tokens = sorted(pool) + values + ["--", "-", "--help-me", "-x", "é", "\x00", "--json=", "--lr=-1"]
    argv = [command, "--quiet", *BASE[command]] + data.draw(st.lists(st.sampled_from(tokens), max_size=6))
    rc, _, err = _run(argv, capsys)
    _check_outcome(argv, rc, err)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(
        [
            "lr",
            "steps",
            "weight_decay",
            "batch_size",
            "init_seed",
            "sgd_seed",
            "theta0",
            "damping",
            "selection",
        ]
    ),
    digits=st.integers(min_value=17, max_value=4000),
    negative=st.booleans(),
)
def test_session_numbers_beyond_float64_give_session_error_or_a_valid_session(
    tmp_path, key, digits, negative
):
    """JSON integers of any length up to Python's 4300-digit limit (beyond it: the corpus file
    sessions/huge_int_literal.json) in every numeric field: a SessionError naming the file, or — where a huge
    integer is a legal value (a seed, a batch size) — a session whose numbers are usable."""
    big = ("-" if negative else "") + "9" * digits
    doc = {
        "format": "influence-lab-session",
        "version": 1,
        "data": {"x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 1.0]},
        "model": {"kind": "mlp", "layers": [1, 1, 1], "activation": "tanh"},
        "training": {"optimizer": "gd", "lr": 0.1, "steps": 10, "weight_decay": 0.001},
        "theta0": [0.0, 0.0, 0.0, 0.0],
        "selection": None,
        "analysis": {"damping": 0.001},
    }
    if key == "theta0":
        doc["theta0"][0] = "BIG"
    elif key == "damping":
        doc["analysis"]["damping"] = "BIG"
    elif key == "selection":
        doc["selection"] = "BIG"
    else:
        doc["training"][key] = "BIG"
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc).replace('"BIG"', big))
    try:
        session = load_session(path)
    except SessionError as exc:
        assert str(exc).startswith("big.json: ")
        return
    c = session.config
    assert np.isfinite([c.lr, c.weight_decay, session.damping]).all()
    assert 0 <= c.steps <= 10_000_000 and session.init_seed >= 0 and c.seed >= 0
    assert session.theta0 is None or np.isfinite(session.theta0).all()
