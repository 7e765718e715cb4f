"""The files Influence Lab writes keep their format: every CLI output and the session file of the default
problem, compared with fixtures written by an earlier version (tests/fixtures/formats).

The comparison is of the text with every number replaced by a placeholder (so indentation, key order, which
keys exist, strings, nulls and booleans must match byte for byte) and of the numbers themselves to a relative
1e-8 (so the last bits of a float may differ between BLAS builds, but no value may change). Wall-clock fields
("seconds", "timings") are compared as present only.

Regenerate the fixtures only when a format changes on purpose: ``python tests/test_file_formats.py``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "formats"

# (output file, argv): the default problem through each subcommand; attribute without Data Shapley and cold
# LOO (their formats are those of the other columns, and they take half a minute)
COMMANDS = [
    ("train.json", ["train", "--json", "{out}"]),
    ("analyze.json", ["analyze", "--delete", "3", "--json", "{out}"]),
    ("schedules.json", ["schedules", "--json", "{out}", "--quiet"]),
    (
        "schedules-linear-phase.json",
        ["schedules", "--linear-phase", "--grid", "5", "--json", "{out}", "--quiet"],
    ),
    ("unlearn.json", ["unlearn", "--json", "{out}", "--quiet"]),
    ("attribute.json", ["attribute", "--methods", "fast,bif", "--json", "{out}", "--quiet"]),
    ("attribute.csv", ["attribute", "--methods", "fast,bif", "--csv", "{out}", "--quiet"]),
]
WALL_CLOCK_KEYS = ("seconds",)  # a number
WALL_CLOCK_BLOCKS = ("timings",)  # an object of numbers
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|NaN|Infinity)(?![\w.])")


def write_outputs(folder: Path) -> list[Path]:
    """Run every command of COMMANDS into ``folder`` and write the default problem's session file there."""
    sys.path.insert(0, str(ROOT))
    import app

    written = []
    for name, argv in COMMANDS:
        out = folder / name
        status = app.main([a.format(out=out) for a in argv])
        assert status == 0, f"{' '.join(argv)} exited with status {status}"
        written.append(out)
    written.append(_write_session(folder / "session.json", folder / "train.json"))
    return written


def _write_session(path: Path, train_json: Path) -> Path:
    import numpy as np

    from core.model import MLPSpec
    from core.points.dataset import make_preset
    from core.session import Session, save_session
    from core.train import TrainConfig

    trained = json.loads(train_json.read_text())
    model = MLPSpec((3,), "tanh")
    session = Session(
        data=make_preset("teacher"),
        model=model,
        config=TrainConfig(),
        init_seed=0,
        theta0=model.init_params(0),
        theta_hat=np.asarray(trained["training"]["theta_hat"]),
        selection=3,
        damping=1e-3,
        ui={"panel": "eps"},
    )
    save_session(session, path)
    return path


def _skeleton(text: str) -> str:
    return _NUMBER.sub("#", text)


def _numbers(text: str) -> list[float]:
    return [float(m.replace("Infinity", "inf")) for m in _NUMBER.findall(text)]


def _blank_wall_clock(text: str) -> str:
    for key in WALL_CLOCK_KEYS:
        text = re.sub(rf'("{key}": )[-+0-9.eE]+', r"\g<1>0", text)
    for key in WALL_CLOCK_BLOCKS:
        text = re.sub(rf'"{key}": {{[^}}]*}}', lambda m: re.sub(r": [-+0-9.eE]+", ": 0", m.group()), text)
    return text


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    return {p.name: p for p in write_outputs(folder)}


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS] + ["session.json"])
def test_output_format_unchanged(outputs, name):
    expected = _blank_wall_clock((FIXTURES / name).read_text())
    actual = _blank_wall_clock(outputs[name].read_text())
    assert _skeleton(actual) == _skeleton(expected), f"{name}: the layout, keys or strings changed"
    a, e = _numbers(actual), _numbers(expected)
    assert len(a) == len(e)
    changed = [
        (i, x, y)
        for i, (x, y) in enumerate(zip(a, e, strict=True))
        if not math.isclose(x, y, rel_tol=1e-8, abs_tol=1e-12)
    ]
    assert not changed, f"{name}: {len(changed)} numbers changed, first (index, now, before): {changed[:3]}"


def test_skeleton_comparison_can_fail():
    """The comparison sees a renamed key, a changed number and a changed indent."""
    text = (FIXTURES / "train.json").read_text()
    assert _skeleton(text.replace('"theta_hat"', '"theta"', 1)) != _skeleton(text)
    assert _skeleton(text.replace("\n ", "\n  ", 1)) != _skeleton(text)
    numbers = _numbers(text)
    first = _NUMBER.search(text)
    bumped = text[: first.start()] + repr(float(first.group()) * (1 + 1e-6)) + text[first.end() :]
    assert not math.isclose(_numbers(bumped)[0], numbers[0], rel_tol=1e-8)


if __name__ == "__main__":
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for p in FIXTURES.iterdir():
        p.unlink()
    for p in write_outputs(FIXTURES):
        print(p.relative_to(ROOT))
