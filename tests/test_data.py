"""core.points.dataset and core.atomic: presets, the Dataset value, CSV / JSON files, atomic writes.

The teacher curve is checked against torch's nn.Sequential (the parameter layout of docs/science.md §1); the loaders
are checked on every malformed case they promise to name, and by property tests that feed them random bytes,
text and JSON: a loader returns a valid Dataset or raises DataError, never anything else.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.atomic as atomic
import core.points.dataset as data
from core.points.dataset import (
    MAX_POINTS,
    PRESETS,
    DataError,
    Dataset,
    duplicate_x_indices,
    load_csv,
    load_json,
    load_points,
    make_preset,
    save_csv,
    save_json,
    save_points,
)

PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_same(a: Dataset, b: Dataset) -> None:
    """Two datasets hold identical points (floats compared exactly), weights, labels, name, teacher, corrupted."""
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.label == b.label
    assert a.teacher == b.teacher
    assert a.corrupted == b.corrupted
    assert a.name == b.name


def sample(weight: bool = False, label: bool = False) -> Dataset:
    rng = np.random.default_rng(7)
    n = 6
    return Dataset(
        x=rng.normal(size=n) * 1e3,  # awkward floats: the round trip must be exact
        y=rng.normal(size=n) / 3,
        weight=np.array([1.0, 0.0, 0.25, 1.0, 1 / 3, 1.0]) if weight else None,
        label=["a", "b, with comma", 'quoted "q"', "ünïcode ✓", "", "multi\nline"] if label else None,
        name="sample",
    )


# ---------------------------------------------------------------------------------------------------
# Presets


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_deterministic_with_documented_defaults(name):
    a, b = make_preset(name), make_preset(name, n=20, noise=0.1, seed=0)
    assert_same(a, b)
    assert a.n == 20 and a.name == name
    assert np.all(np.diff(a.x) >= 0), "preset x are sorted"
    np.testing.assert_array_equal(a.weight, np.ones(20))
    assert a.teacher is not None and a.label is None
    other = make_preset(name, seed=1)
    assert not np.array_equal(a.x, other.x)
    assert make_preset(name, n=57).n == 57


@pytest.mark.parametrize("name", PRESETS)
def test_preset_without_noise_lies_on_its_teacher(name):
    ds = make_preset(name, noise=0.0, n=50, seed=3)
    clean = np.setdiff1d(np.arange(ds.n), ds.corrupted)
    np.testing.assert_allclose(ds.y[clean], ds.teacher_curve(ds.x)[clean], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ["teacher", "sine", "linear"])
def test_preset_noise_is_gaussian_with_the_given_std(name):
    ds = make_preset(name, n=20_000, noise=0.3, seed=5)
    residual = ds.y - ds.teacher_curve(ds.x)
    assert abs(residual.mean()) < 0.3 * 4 / math.sqrt(ds.n)
    assert residual.std() == pytest.approx(0.3, rel=0.03)


def test_teacher_preset_is_the_documented_random_mlp():
    torch = pytest.importorskip("torch")
    ds = make_preset("teacher")
    teacher = ds.teacher
    assert teacher["kind"] == "mlp" and teacher["layers"] == [1, 3, 1] and teacher["activation"] == "tanh"
    assert len(teacher["theta"]) == 10
    np.testing.assert_array_equal(teacher["theta"], data.teacher_theta())
    # Independent oracle: torch's nn.Sequential with θ loaded in parameters() order.
    net = torch.nn.Sequential(torch.nn.Linear(1, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)).double()
    torch.nn.utils.vector_to_parameters(torch.tensor(teacher["theta"], dtype=torch.float64), net.parameters())
    xs = np.linspace(-2.5, 2.5, 101)
    with torch.no_grad():
        expected = net(torch.tensor(xs).reshape(-1, 1)).numpy().ravel()
    np.testing.assert_allclose(ds.teacher_curve(xs), expected, rtol=1e-13, atol=1e-13)
    # The points are f* + N(0, 0.1²) noise, and f* bends visibly on the x range.
    assert np.all(np.abs(ds.y - ds.teacher_curve(ds.x)) < 4 * 0.1)
    assert np.all((ds.x >= -2) & (ds.x <= 2))
    grid = np.linspace(-2, 2, 401)
    f = ds.teacher_curve(grid)
    design = np.c_[np.ones_like(grid), grid]
    nonlinear = f - design @ np.linalg.lstsq(design, f, rcond=None)[0]
    assert f.max() - f.min() > 1.0 and np.sqrt(np.mean(nonlinear**2)) > 0.2


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus", "sigmoid", "identity"])
def test_teacher_curve_of_a_deeper_mlp_matches_torch(activation):
    torch = pytest.importorskip("torch")
    acts = {
        "tanh": torch.nn.Tanh,
        "relu": torch.nn.ReLU,
        "softplus": torch.nn.Softplus,
        "sigmoid": torch.nn.Sigmoid,
        "identity": torch.nn.Identity,
    }
    layers = [1, 4, 2, 1]
    theta = np.random.default_rng(11).normal(size=4 * 1 + 4 + 2 * 4 + 2 + 1 * 2 + 1)
    ds = Dataset(
        [0.0, 1.0],
        [0.0, 1.0],
        teacher={"kind": "mlp", "layers": layers, "activation": activation, "theta": theta},
    )
    mods = []
    for i, (a, b) in enumerate(zip(layers[:-1], layers[1:], strict=True)):
        mods.append(torch.nn.Linear(a, b))
        if i < len(layers) - 2:
            mods.append(acts[activation]())
    net = torch.nn.Sequential(*mods).double()
    torch.nn.utils.vector_to_parameters(torch.tensor(theta), net.parameters())
    xs = np.linspace(-3, 3, 61)
    with torch.no_grad():
        expected = net(torch.tensor(xs).reshape(-1, 1)).numpy().ravel()
    np.testing.assert_allclose(ds.teacher_curve(xs), expected, rtol=1e-12, atol=1e-12)


def test_sine_and_linear_teachers():
    xs = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(make_preset("sine").teacher_curve(xs), np.sin(2 * xs), atol=1e-15)
    np.testing.assert_allclose(make_preset("linear").teacher_curve(xs), 0.5 + xs, atol=1e-15)
    assert Dataset([0, 1], [0, 1]).teacher_curve(xs) is None


def test_outliers_preset_is_the_linear_data_with_shifted_labels():
    ds, clean = make_preset("outliers"), make_preset("linear")
    assert len(ds.corrupted) == 3 and list(ds.corrupted) == sorted(set(ds.corrupted))
    np.testing.assert_array_equal(ds.x, clean.x)
    shift = ds.y - clean.y
    np.testing.assert_allclose(np.abs(shift[list(ds.corrupted)]), data.OUTLIER_SHIFT)
    np.testing.assert_array_equal(np.delete(shift, ds.corrupted), 0.0)
    assert len(make_preset("outliers", n=2).corrupted) == 1
    assert len(make_preset("outliers", n=100).corrupted) == 15


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "nope"},
        {"name": ["teacher"]},
        {"name": "teacher", "n": 1},
        {"name": "teacher", "n": True},
        {"name": "teacher", "n": 2.5},
        {"name": "teacher", "n": MAX_POINTS + 1},
        {"name": "sine", "noise": -0.1},
        {"name": "sine", "noise": float("nan")},
        {"name": "sine", "noise": "0.1"},
        {"name": "linear", "seed": -1},
        {"name": "linear", "seed": 1.5},
    ],
)
def test_bad_preset_arguments_raise_data_error(kwargs):
    with pytest.raises(DataError):
        make_preset(**kwargs)


# ---------------------------------------------------------------------------------------------------
# The Dataset value


def test_dataset_canonical_types_and_copy():
    ds = Dataset([3, 1, 2], (0, 1, 0), label=("a", "b", "c"), corrupted=[2, 0])
    assert ds.x.dtype == np.float64 and ds.y.dtype == np.float64 and ds.weight.dtype == np.float64
    np.testing.assert_array_equal(ds.weight, 1.0)
    assert ds.label == ["a", "b", "c"] and ds.corrupted == (0, 2) and ds.n == 3
    twin = ds.copy()
    assert_same(ds, twin)
    twin.x[0] = 99.0
    twin.label[0] = "z"
    assert ds.x[0] == 3.0 and ds.label[0] == "a"
    source = np.array([1.0, 2.0])
    owned = Dataset(source, [0.0, 0.0])
    source[0] = 5.0
    assert owned.x[0] == 1.0, "a Dataset owns its arrays"


@pytest.mark.parametrize("name", PRESETS)
def test_to_dict_is_plain_json_and_from_dict_inverts_it(name):
    ds = make_preset(name)
    ds.label = [f"p{i}" for i in range(ds.n)]
    ds.weight[3] = 0.5
    d = ds.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert_same(Dataset.from_dict(d), ds)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"x": [0, 1, 2], "y": [0, 1]}, "y has 2"),
        ({"x": [0], "y": [0]}, "at least 2"),
        ({"x": [0, np.nan], "y": [0, 1]}, "x of point 2"),
        ({"x": [0, 1], "y": [np.inf, 1]}, "y of point 1"),
        ({"x": [[0, 1]], "y": [[0, 1]]}, "flat"),
        ({"x": ["a", "b"], "y": [0, 1]}, "not a list of numbers"),
        ({"x": [0, 1], "y": [0, 1], "weight": [1, 1.5]}, "weight of point 2"),
        ({"x": [0, 1], "y": [0, 1], "weight": [np.nan, 1]}, "weight of point 1"),
        ({"x": [0, 1], "y": [0, 1], "weight": [1]}, "weights"),
        ({"x": [0, 1], "y": [0, 1], "label": ["a"]}, "labels"),
        ({"x": [0, 1], "y": [0, 1], "label": "ab"}, "label"),
        ({"x": [0, 1], "y": [0, 1], "label": ["a", 3]}, "label of point 2"),
        ({"x": [0, 1], "y": [0, 1], "label": ["a", "\ud800"]}, "label of point 2"),
        ({"x": [0, 1], "y": [0, 1], "name": 3}, "name"),
        ({"x": [0, 1], "y": [0, 1], "corrupted": (2,)}, "corrupted"),
        ({"x": [0, 1], "y": [0, 1], "corrupted": (1, 1)}, "corrupted"),
        ({"x": [0, 1], "y": [0, 1], "corrupted": (True,)}, "corrupted"),
        ({"x": [0, 1], "y": [0, 1], "teacher": {"kind": "nn"}}, "teacher"),
        (
            {"x": [0, 1], "y": [0, 1], "teacher": {"kind": "function", "name": "sine", "amplitude": 1}},
            "frequency",
        ),
        (
            {
                "x": [0, 1],
                "y": [0, 1],
                "teacher": {"kind": "mlp", "layers": [1, 3, 1], "activation": "tanh", "theta": [0]},
            },
            "10 numbers",
        ),
        (
            {
                "x": [0, 1],
                "y": [0, 1],
                "teacher": {"kind": "mlp", "layers": [2, 1], "activation": "tanh", "theta": [0] * 3},
            },
            "start and end with 1",
        ),
        (
            {
                "x": [0, 1],
                "y": [0, 1],
                "teacher": {"kind": "mlp", "layers": [1, 1], "activation": "elu", "theta": [0, 0]},
            },
            "activation",
        ),
        (
            {
                "x": [0, 1],
                "y": [0, 1],
                "teacher": {"kind": "function", "name": "linear", "intercept": 0, "slope": 1, "z": 1},
            },
            "unknown key",
        ),
    ],
)
def test_invalid_dataset_raises_data_error(kwargs, needle):
    with pytest.raises(DataError, match="^dataset") as info:
        Dataset(**kwargs)
    assert needle in str(info.value)


def test_validate_after_mutation_names_the_source():
    ds = make_preset("linear")
    ds.y[4] = np.nan
    with pytest.raises(DataError, match=r"^session\.json: y of point 5 is nan"):
        ds.validate("session.json")


def test_duplicate_x_are_allowed_and_reported():
    ds = Dataset([1.0, 2.0, 1.0, 3.0, 2.0, 0.0, -0.0, 1.0], np.zeros(8))
    assert duplicate_x_indices(ds) == [(0, 2, 7), (1, 4), (5, 6)]
    assert duplicate_x_indices(make_preset("teacher")) == []


# ---------------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("label", [False, True])
@pytest.mark.parametrize("ext", [".csv", ".json"])
def test_round_trip(tmp_path, weight, label, ext):
    ds = sample(weight=weight, label=label)
    path = tmp_path / f"sample{ext}"
    save_points(ds, path)
    assert_same(load_points(path), ds)
    assert sorted(os.listdir(tmp_path)) == [path.name], "no temporary file is left behind"
    if ext == ".csv":
        header = path.read_text(encoding="utf-8").splitlines()[0]
        assert header == ",".join(["x", "y"] + ["weight"] * weight + ["label"] * label)


def test_json_round_trip_keeps_teacher_corrupted_and_name(tmp_path):
    ds = make_preset("outliers", n=30, seed=4)
    ds.name = "my outliers"
    save_json(ds, tmp_path / "o.json")
    back = load_json(tmp_path / "o.json")
    assert_same(back, ds)
    assert back.teacher_curve([0.0])[0] == pytest.approx(0.5)


def test_csv_keeps_points_only_and_names_the_dataset_after_the_file(tmp_path):
    ds = make_preset("teacher")
    save_csv(ds, tmp_path / "pts.csv")
    back = load_csv(tmp_path / "pts.csv")
    assert back.name == "pts" and back.teacher is None
    np.testing.assert_array_equal(back.y, ds.y)


def test_csv_header_is_flexible(tmp_path):
    path = tmp_path / "flex.csv"
    path.write_bytes(
        "\ufeff Label , WEIGHT,Y ,x\r\n\r\n first ,0.5,1.5,-2\r\n , , , \r\nsecond,1,2e-3,1e2\r\n".encode()
    )
    ds = load_csv(path)
    np.testing.assert_array_equal(ds.x, [-2.0, 100.0])
    np.testing.assert_array_equal(ds.y, [1.5, 0.002])
    np.testing.assert_array_equal(ds.weight, [0.5, 1.0])
    assert ds.label == ["first", "second"]


def test_json_bare_list_and_minimal_object(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"x": 0, "y": 1}, {"x": 1.5, "y": -2, "weight": 0, "label": "gone"}]))
    ds = load_json(path)
    np.testing.assert_array_equal(ds.x, [0.0, 1.5])
    np.testing.assert_array_equal(ds.weight, [1.0, 0.0])
    assert ds.label == ["", "gone"] and ds.name == "list"
    path.write_text('{"x": [1, 2], "y": [3, 4], "label": null, "teacher": null}')
    ds = load_json(path)
    assert ds.label is None and ds.teacher is None and ds.name == "list"


# ---------------------------------------------------------------------------------------------------
# Malformed files: every message names the file, the line (CSV) and the problem


CSV_CASES = [
    # (content, line number expected in the message or None, substring of the problem)
    ("", None, "empty"),
    ("\n \n,,\n", None, "empty"),
    ("x,weight\n1,1\n", 1, "no 'y' column"),
    ("a,b,c\n1,2,3\n4,5,6\n", 1, "no 'x' or 'y' column"),
    ("1,2,3\n4,5,6\n", 1, "which are x and y"),
    ("x;y\n1;2\n", None, "at least 2"),
    ("y\n1\n", 1, "no 'x' column"),
    ("x,y,X\n1,2,3\n", 1, "appears 2 times"),
    ("x,y\n1,2\n3\n", 3, "1 fields, but the header has 2"),
    ("x,y\n1,2\n3,4,5\n", 3, "3 fields"),
    ("x,y\n1,2\n\n3,abc\n", 4, "y is 'abc', not a number"),
    ("x,y\n1,\n2,3\n", 2, "y is empty"),
    ("x,y\n1,2\nnan,3\n", 3, "x is 'nan', not a finite number"),
    ("x,y\n1,2\n2,-inf\n", 3, "not a finite number"),
    ("x,y\n1,2\n2,1e400\n", 3, "not a finite number"),
    ("x,y,weight\n1,2,1\n2,3,1.5\n", 3, "weight is '1.5', outside [0, 1]"),
    ("x,y,weight\n1,2,-0.1\n2,3,1\n", 2, "outside [0, 1]"),
    ("x,y,weight\n1,2,\n2,3,1\n", 2, "weight is empty"),
    ("x,y\n1,2\n", None, "at least 2"),
    ("x,y\n", None, "at least 2"),
    ('x,y,label\n1,2,"open\n', 2, "malformed CSV (unexpected end of data)"),
    ('x,y,label\n1,2,"a"b\n', 2, "malformed CSV"),
    ('x,y,label\n1,2,"two\nlines"\n3,4,ok\n5,x,bad\n', 5, "y is 'x'"),
    ('x,y,label\n1,2,"two\nlines"\n3,x,"also\ntwo"\n', 4, "y is 'x'"),
]


@pytest.mark.parametrize("content, line, problem", CSV_CASES)
def test_malformed_csv(tmp_path, content, line, problem):
    path = tmp_path / "points.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_points(path)
    message = str(info.value)
    assert message.startswith("points.csv" + ("" if line is None else f", line {line}:")), message
    assert problem in message
    assert message.rstrip().endswith("."), "every message ends with what to do"


def test_non_utf8_csv_names_the_line(tmp_path):
    path = tmp_path / "points.csv"
    path.write_bytes(b"x,y\n1,2\n\xff,3\n")
    with pytest.raises(DataError, match=r"^points\.csv, line 3: not UTF-8"):
        load_csv(path)


JSON_CASES = [
    ("", "empty"),
    ('{"x": [1, 2],\n "y": [3, 4]', "line 2, column"),
    ("{'x': [1]}", "line 1, column 2: invalid JSON"),
    ("[" * 100_000, "nested too deeply"),
    ('{"x": [1, 2], "y": [1, ' + "9" * 5000 + "]}", "invalid JSON"),
    ("3", "top level is 3"),
    ('"x"', "top level"),
    ("null", "top level"),
    ('{"y": [1, 2]}', 'no "x"'),
    ('{"x": null, "y": [1, 2]}', '"x" is null, not a list'),
    ('{"x": [1, 2], "y": 3}', '"y" is 3, not a list'),
    ('{"x": [1, 2], "y": [1, "abc"]}', "\"y\" entry 2 is 'abc', not a number"),
    ('{"x": [1, 2], "y": [1, true]}', "is true, not a number"),
    ('{"x": [1, 2], "y": [1, null]}', "is null, not a number"),
    ('{"x": [1, 2], "y": [1, [2]]}', "is a list, not a number"),
    ('{"x": [1, NaN], "y": [1, 2]}', "not a finite number"),
    ('{"x": [1, 2], "y": [1, Infinity]}', "not a finite number"),
    ('{"x": [1, 2], "y": [1, 1e999]}', "not a finite number"),
    ('{"x": [1, 2], "y": [1, ' + "9" * 400 + "]}", "not a finite number"),
    ('{"x": [1, 2, 3], "y": [1, 2]}', "x has 3 values but y has 2"),
    ('{"x": [1], "y": [1]}', "at least 2"),
    ('{"x": [1, 2], "y": [1, 2], "weight": [1, 2]}', "outside [0, 1]"),
    ('{"x": [1, 2], "y": [1, 2], "weight": [1]}', "weights"),
    ('{"x": [1, 2], "y": [1, 2], "label": ["a", 2]}', "label of point 2"),
    ('{"x": [1, 2], "y": [1, 2], "name": 5}', "name"),
    ('{"x": [1, 2], "y": [1, 2], "points": []}', "unknown key(s) 'points'"),
    ('{"format": "influence-lab-session", "x": [1, 2], "y": [1, 2]}', "not an Influence Lab points file"),
    ('{"version": 2, "x": [1, 2], "y": [1, 2]}', '"version" is 2'),
    ('{"version": true, "x": [1, 2], "y": [1, 2]}', '"version" is true'),
    ('{"x": [1, 2], "y": [1, 2], "corrupted": 1}', '"corrupted" is 1'),
    ('{"x": [1, 2], "y": [1, 2], "corrupted": [5]}', "corrupted"),
    ('{"x": [1, 2], "y": [1, 2], "teacher": [1]}', "teacher: is a list"),
    ('{"x": [1, 2], "y": [1, 2], "teacher": {"kind": "mlp", "layers": [1, 1e9, 1]}}', "layers"),
    ("[1, 2]", "point 1 is 1, not an object"),
    ('[{"x": 1, "y": 2}, {"x": 1}]', 'point 2 has no "y"'),
    ('[{"x": 1, "y": 2}, {"x": 1, "y": 2, "z": 0}]', "point 2 has unknown key(s) 'z'"),
    ('[{"x": 1, "y": 2}, {"x": 1, "y": false}]', 'point 2, "y" is false'),
    ('[{"x": 1, "y": 2}]', "at least 2"),
]


@pytest.mark.parametrize("content, problem", JSON_CASES)
def test_malformed_json(tmp_path, content, problem):
    path = tmp_path / "points.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_points(path)
    message = str(info.value)
    assert message.startswith("points.json"), message
    assert problem in message, message
    assert len(message) < 400, "messages stay short even for huge values"


DIALECTS = [
    # (file name, content, x, y, words the notes contain)
    ("extra.csv", "id,x,y,temp\n7,1,2,30\n8,3,4,31\n", [1, 3], [2, 4], ["ignored", "'id'", "'temp'"]),
    ("semi.csv", "x;y\n1,5;2,25\n3;4\n", [1.5, 3], [2.25, 4], ["semicolons", "decimal commas"]),
    ("tabs.tsv", "# exported by a logger\nx\ty\n1\t2\n# a pause\n3\t4\n", [1, 3], [2, 4], ["tabs"]),
    ("plain.txt", "0.5 1.0\n1.5   2.0\n2.5 3.0\n", [0.5, 1.5, 2.5], [1, 2, 3], ["no header"]),
    ("nohead.csv", "1,2\n3,4\n", [1, 3], [2, 4], ["no header"]),
    ("named.csv", "time,temp\n1,2\n3,4\n", [1, 3], [2, 4], ["'time' as x", "'temp' as y"]),
    ("trailing.csv", "x,y,\n1,2,\n3,4,\n", [1, 3], [2, 4], []),
]


@pytest.mark.parametrize("name, content, x, y, words", DIALECTS)
def test_data_as_it_comes(tmp_path, name, content, x, y, words):
    """Extra columns, other separators, decimal commas, comments, no header, .tsv / .txt: read, with a note
    on every choice made for the user."""
    from core.points.dataset import read_points

    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    ds, notes = read_points(path)
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.y, y)
    text = " ".join(notes)
    for w in words:
        assert w in text, (w, notes)


def test_columns_chosen_by_name_or_position(tmp_path):
    from core.points.table import Columns, ColumnsNeeded

    path = tmp_path / "wide.csv"
    path.write_text("t,a,b,w,tag\n1,10,100,0.5,p\n2,20,200,1,q\n3,30,300,0,r\n")
    with pytest.raises(ColumnsNeeded) as info:
        load_points(path)
    assert info.value.columns == ["t", "a", "b", "w", "tag"] and "--x-col" in str(info.value)
    ds = load_points(path, Columns(x="T", y="b", weight="w", label="5"))
    np.testing.assert_array_equal(ds.y, [100, 200, 300])
    np.testing.assert_array_equal(ds.weight, [0.5, 1, 0])
    assert ds.label == ["p", "q", "r"]
    with pytest.raises(DataError, match="no column 'zz' for y"):
        load_points(path, Columns(x="t", y="zz"))
    with pytest.raises(DataError, match="two roles"):
        load_points(path, Columns(x="t", y="1"))
    # a bad value in a chosen column keeps its line and wording
    path.write_text("t,a\n1,10\n2,abc\n")
    with pytest.raises(DataError, match=r"line 3: y is 'abc', not a number"):
        load_points(path, Columns(x="t", y="a"))


def test_missing_file_directory_and_unsupported_extension(tmp_path):
    with pytest.raises(DataError, match=r"^nothere\.csv: file not found"):
        load_points(tmp_path / "nothere.csv")
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(DataError, match=r"^folder\.json"):
        load_points(tmp_path / "folder.json")
    (tmp_path / "points.dat").write_text("x,y\n1,2\n3,4\n")
    with pytest.raises(
        DataError, match=r"^points\.dat: unsupported file type '\.dat'.*\.csv, \.tsv, \.txt, \.json"
    ):
        load_points(tmp_path / "points.dat")
    with pytest.raises(DataError, match="unsupported"):
        save_points(sample(), tmp_path / "points")
    (tmp_path / "UPPER.CSV").write_text("x,y\n1,2\n3,4\n")
    assert load_points(tmp_path / "UPPER.CSV").n == 2, "extensions are case-insensitive"


@pytest.mark.parametrize("ext", [".csv", ".json"])
def test_size_and_point_limits(tmp_path, monkeypatch, ext):
    ds = make_preset("linear", n=10)
    path = tmp_path / f"big{ext}"
    save_points(ds, path)
    monkeypatch.setattr(data, "MAX_POINTS", 9)
    with pytest.raises(DataError, match=r"^big\.(csv|json).*at most 9|^big\.(csv|json).*more than 9"):
        load_points(path)
    monkeypatch.setattr(data, "MAX_POINTS", 10)
    assert load_points(path).n == 10
    monkeypatch.setattr(data, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(DataError, match=r"^big\.(csv|json): larger than"):
        load_points(path)


def test_save_reports_unwritable_target_as_data_error(tmp_path):
    with pytest.raises(DataError, match=r"^p\.csv: cannot be written"):
        save_points(sample(), tmp_path / "no" / "such" / "dir" / "p.csv")


def test_save_refuses_an_invalid_dataset(tmp_path):
    ds = sample()
    ds.x[0] = np.inf
    with pytest.raises(DataError):
        save_points(ds, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


# ---------------------------------------------------------------------------------------------------
# Atomic writes


def test_atomic_write_creates_and_replaces_without_leftovers(tmp_path):
    target = tmp_path / "out.txt"
    atomic.atomic_write_text(target, "first ✓\n")
    assert target.read_text(encoding="utf-8") == "first ✓\n"
    atomic.atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_atomic_write_keeps_the_target_and_cleans_up(tmp_path, monkeypatch, failing):
    target = tmp_path / "keep.csv"
    target.write_text("old content")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, failing, boom)
    with pytest.raises(OSError):
        atomic.atomic_write_text(target, "new content")
    with pytest.raises(DataError, match=r"^keep\.csv: cannot be written \(No space left on device\)"):
        save_csv(sample(), target)
    monkeypatch.undo()
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["keep.csv"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_atomic_write_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.txt"
        atomic.atomic_write_text(fresh, "a")
        assert fresh.stat().st_mode & 0o777 == 0o644, "new files follow the umask like open() does"
        private = tmp_path / "private.txt"
        private.write_text("a")
        private.chmod(0o600)
        atomic.atomic_write_text(private, "b")
        assert private.stat().st_mode & 0o777 == 0o600, "a replaced file keeps its permissions"
    finally:
        os.umask(umask)


# ---------------------------------------------------------------------------------------------------
# Property tests: random content gives a valid Dataset or DataError, nothing else


def check_loads_or_data_error(path):
    try:
        ds = load_points(path)
    except DataError as exc:
        assert str(exc).startswith(path.name)
        return
    assert ds.n >= 2 and ds.n == len(ds.y) == len(ds.weight)
    assert np.all(np.isfinite(ds.x)) and np.all(np.isfinite(ds.y))
    assert np.all((ds.weight >= 0) & (ds.weight <= 1))


@PROPERTY
@given(content=st.binary(max_size=300))
def test_random_bytes_never_crash_a_loader(tmp_path, content):
    for name in ("random.csv", "random.json"):
        path = tmp_path / name
        path.write_bytes(content)
        check_loads_or_data_error(path)


CSV_ALPHABET = st.sampled_from(
    list("xyXY weightlabel,,,\n\n\r\"'0123456789.-+eE_") + ["nan", "inf", "1e400", "\x00"]
)


@PROPERTY
@given(
    header=st.sampled_from(["x,y\n", "x,y,weight\n", "label,y,x\n", "x,y,weight,label\n", ""]),
    body=st.lists(CSV_ALPHABET, max_size=80).map("".join),
)
def test_random_csv_text_never_crashes(tmp_path, header, body):
    path = tmp_path / "random.csv"
    path.write_text(header + body, encoding="utf-8")
    check_loads_or_data_error(path)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
    max_leaves=30,
)
POINTS_KEYS = st.sampled_from(
    ["x", "y", "weight", "label", "name", "format", "version", "teacher", "corrupted"]
)
NUMBER_LISTS = st.lists(JSON_SCALARS, min_size=0, max_size=6)
TEACHERS = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from(["mlp", "function", "nn"]),
        "name": st.sampled_from(["sine", "linear", "cosine"]),
        "layers": st.lists(st.integers(-1, 4), max_size=4) | JSON_VALUES,
        "activation": st.sampled_from(["tanh", "relu", "elu"]),
        "theta": NUMBER_LISTS,
        "amplitude": JSON_SCALARS,
        "frequency": JSON_SCALARS,
        "intercept": JSON_SCALARS,
        "slope": JSON_SCALARS,
    },
)
POINT_DOCUMENTS = st.dictionaries(POINTS_KEYS, NUMBER_LISTS | JSON_VALUES | TEACHERS, max_size=9)
POINT_LISTS = st.lists(
    st.dictionaries(st.sampled_from(["x", "y", "weight", "label", "z"]), JSON_SCALARS, max_size=4), max_size=5
)


NUMBERS = st.floats(-1e6, 1e6)
NEAR_NUMBERS = NUMBERS | st.floats(0, 1) | JSON_SCALARS


@st.composite
def near_valid_documents(draw):
    """Points documents of consistent shape; half are valid, half have some bad entries (deeper checks)."""
    clean = draw(st.booleans())
    n = draw(st.integers(2 if clean else 0, 6))

    def column(values, bad_values):
        size = n if clean else draw(st.sampled_from([n, n, n + 1, max(n - 1, 0)]))
        return draw(st.lists(values if clean else bad_values, min_size=size, max_size=size))

    optional = {
        "weight": lambda: column(st.floats(0, 1), st.floats(-0.5, 1.5) | NEAR_NUMBERS),
        "label": lambda: column(st.text(max_size=3), st.text(max_size=3) | JSON_SCALARS),
        "name": lambda: draw(st.text(max_size=4) if clean else JSON_SCALARS),
        "teacher": lambda: draw(
            st.sampled_from([make_preset(p).teacher for p in PRESETS]) if clean else TEACHERS
        ),
        "corrupted": lambda: draw(
            st.lists(st.integers(0, n - 1), max_size=3, unique=True)
            if clean
            else st.lists(st.integers(-1, 7), max_size=3)
        ),
        "version": lambda: draw(st.just(1) if clean else st.sampled_from([1, 2, True, "1"])),
    }
    document = {"x": column(NUMBERS, NEAR_NUMBERS), "y": column(NUMBERS, NEAR_NUMBERS)}
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        document[key] = optional[key]()
    if draw(st.booleans()):  # the bare-list form of the same points
        keys = [k for k in ("x", "y", "weight", "label") if k in document]
        return [{k: document[k][i] for k in keys if i < len(document[k])} for i in range(n)]
    return document


CSV_NUMBERS = st.floats(-1e6, 1e6).map(repr) | st.floats(0, 1).map(str) | st.integers(0, 1).map(str)
CSV_BAD_CELLS = st.sampled_from(
    ["", " ", "nan", "-inf", "abc", '"a,b"', '"open', "1e400", "1,5", "0x1", "１", "2"]
)


@st.composite
def near_valid_csv(draw):
    """CSV text with a valid header; half the files have only valid rows, half some bad widths or cells."""
    clean = draw(st.booleans())
    optional = draw(st.lists(st.sampled_from(["weight", "label"]), unique=True))
    columns = draw(st.permutations(["x", "y", *optional]))
    cells = {
        "x": CSV_NUMBERS,
        "y": CSV_NUMBERS,
        "weight": st.floats(0, 1).map(repr),
        "label": st.text('ab ,"', max_size=4),
    }
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        if clean:
            row = [draw(cells[c]) for c in columns]
        else:
            width = draw(st.sampled_from([len(columns)] * 3 + [len(columns) + 1, len(columns) - 1]))
            row = draw(st.lists(CSV_NUMBERS | CSV_BAD_CELLS, min_size=width, max_size=width))
        rows.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows([columns, *rows])
    text = out.getvalue()
    return text if clean else text.replace('"', draw(st.sampled_from(['"', "", '""'])))


@PROPERTY
@given(text=near_valid_csv())
def test_near_valid_csv_never_crashes(tmp_path, text):
    path = tmp_path / "near.csv"
    path.write_text(text, encoding="utf-8", newline="")
    check_loads_or_data_error(path)


@PROPERTY
@given(document=JSON_VALUES | POINT_DOCUMENTS | POINT_LISTS | near_valid_documents())
def test_random_json_structures_never_crash(tmp_path, document):
    path = tmp_path / "random.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    check_loads_or_data_error(path)
    try:
        Dataset.from_dict(document)
    except DataError:
        pass


@PROPERTY
@given(
    x=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=8),
    label=st.booleans(),
    data_=st.data(),
)
def test_valid_random_datasets_round_trip_exactly(tmp_path, x, label, data_):
    n = len(x)
    y = data_.draw(st.lists(st.floats(-1e300, 1e300), min_size=n, max_size=n))
    weight = data_.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    text = st.text(st.characters(exclude_categories=("Cs",)), max_size=6).map(str.strip)
    labels = data_.draw(st.lists(text, min_size=n, max_size=n)) if label else None
    ds = Dataset(x, y, weight, labels, name="r")
    for ext in (".csv", ".json"):
        path = tmp_path / f"r{ext}"
        save_points(ds, path)
        assert_same(load_points(path), ds)
