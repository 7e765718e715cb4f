"""Regenerate the malformed-file corpus (tests/corpus/points, tests/corpus/sessions).

Run from the repository root: ``.venv/bin/python tests/corpus/make_corpus.py``. Every file written here must be
refused cleanly — by ``core.points.dataset.load_points`` with a ``DataError`` (points) or by ``core.session.load_session``
with a ``SessionError`` (sessions), the message naming the file — and nothing in it may ever be executed
(tests/test_edge_cases.py::test_corpus_file_is_refused_cleanly). The pickle payloads, if they were ever
unpickled, would set the environment variable INFLUENCE_LAB_PWNED; the test checks that they never are.
"""

from __future__ import annotations

import builtins
import copy
import json
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from core.model import MLPSpec  # noqa: E402
from core.points.dataset import make_preset  # noqa: E402
from core.session import Session  # noqa: E402
from core.train import TrainConfig  # noqa: E402

PWN = "__import__('os').environ.__setitem__('INFLUENCE_LAB_PWNED', '1')"


class _Payload:
    """Unpickling this object would call eval(PWN)."""

    def __reduce__(self):
        return (builtins.eval, (PWN,))


def pickle_payload(protocol: int) -> bytes:
    return pickle.dumps(_Payload(), protocol=protocol)


POINTS: dict[str, bytes | str] = {
    "empty.csv": "",
    "empty.json": "",
    "blank_lines_only.csv": "\n\n   \n\t\n",
    "binary_random.csv": bytes(range(256)) * 4,
    "pickle_payload.json": pickle_payload(4),
    "pickle_payload.csv": pickle_payload(4),
    "pickle_protocol0.csv": pickle_payload(0),
    "nan_value.csv": "x,y\n1,nan\n2,3\n",
    "infinity.json": '{"x": [1, Infinity], "y": [1, 2]}',
    "duplicate_header.csv": "x,y,x\n1,2,3\n4,5,6\n",
    "huge_number.csv": "x,y\n1,1e400\n2,3\n",
    "huge_integer_literal.json": '{"x": [1, ' + "9" * 5000 + '], "y": [1, 2]}',
    "deeply_nested.json": "[" * 5_000 + "]" * 5_000,
    "truncated.json": '{"x": [1, 2, 3], "y": [1, 2',
    "utf16_with_bom.csv": "x,y\n1,2\n3,4\n".encode("utf-16"),
    "latin1_label.csv": "x,y,label\n1,2,caf\xe9\n3,4,th\xe9\n".encode("latin-1"),
    "bom_then_garbage.json": "\ufeffnot json at all",
    "x_is_a_string.json": '{"x": "1,2,3", "y": [1, 2, 3]}',
    "eval_string.json": '{"x": "__import__(\'os\').system(\'echo pwned\')", "y": [1, 2]}',
    "booleans.json": '{"x": [true, false], "y": [1, 2]}',
    "nulls.json": '{"x": [1, null], "y": [1, 2]}',
    "newer_version.json": '{"format": "influence-lab-points", "version": 99, "x": [1, 2], "y": [1, 2]}',
    "wrong_format.json": '{"format": "influence-lab-session", "version": 1, "x": [1, 2], "y": [1, 2]}',
    "mismatched_lengths.json": '{"x": [1, 2, 3], "y": [1, 2]}',
    "unknown_key.json": '{"x": [1, 2], "y": [1, 2], "__class__": "os.system"}',
    "top_level_string.json": '"just a string"',
    "one_point.csv": "x,y\n1,2\n",
    "semicolons.csv": "x;y\n1;2\n3;4\n",
    "decimal_comma.csv": "x,y\n1,5,2\n3,4\n",
    "weight_out_of_range.csv": "x,y,weight\n1,2,1\n3,4,2\n",
    "unterminated_quote.csv": 'x,y,label\n1,2,"open\n3,4,b\n',
    "nul_byte.csv": "x,y\n1,\x002\n3,4\n",
    "header_only.csv": "x,y\n",
    "no_header.csv": "1,2\n3,4\n",
    "bare_list_bad_point.json": '[{"x": 1, "y": 2}, {"x": "a", "y": 3}]',
}


def base_session() -> dict:
    s = Session(
        data=make_preset("teacher", n=5),
        model=MLPSpec((3,), "tanh"),
        config=TrainConfig(lr=0.1, steps=100, weight_decay=1e-3),
        theta0=[0.0] * 10,
        theta_s=[0.1] * 10,
        theta_hat=[0.2] * 10,
        selection=2,
    )
    return s.to_dict()


def mutated(**changes) -> str:
    doc = base_session()
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = doc
        for p in parents:
            node = node[p]
        node[last] = value
    return json.dumps(doc, indent=1)


def raw_mutated(old: str, new: str) -> str:
    text = json.dumps(base_session(), indent=1)
    assert old in text, old
    return text.replace(old, new, 1)


def sessions() -> dict[str, bytes | str]:
    valid = json.dumps(base_session(), indent=1)
    nested = copy.deepcopy(base_session())
    nested["ui"] = "UI"
    nested_text = json.dumps(nested).replace('"UI"', '{"a": ' * 5_000 + "1" + "}" * 5_000)
    return {
        "empty.json": "",
        "whitespace.json": "  \n\n ",
        "binary_random.json": bytes(range(256)) * 4,
        "pickle_payload.json": pickle_payload(4),
        "pickle_protocol0.json": pickle_payload(0),
        "truncated.json": valid[: len(valid) // 2],
        "bom_truncated.json": "\ufeff" + valid[: len(valid) // 3],
        "utf16.json": valid.encode("utf-16"),
        "newer_version.json": mutated(version=2),
        "version_zero.json": mutated(version=0),
        "version_string.json": mutated(version="1"),
        "wrong_format.json": mutated(format="influence-lab-points"),
        "not_an_object.json": "[1, 2, 3]",
        "nan_theta.json": raw_mutated('"theta_hat": [\n  0.2', '"theta_hat": [\n  NaN'),
        "infinite_lr.json": raw_mutated('"lr": 0.1', '"lr": Infinity'),
        "huge_int_in_theta.json": raw_mutated('"theta0": [\n  0.0', '"theta0": [\n  ' + "9" * 400),
        "huge_int_literal.json": raw_mutated('"steps": 100', '"steps": ' + "9" * 5000),
        "huge_steps.json": mutated(training__steps=10**12),
        "deeply_nested_ui.json": nested_text,
        "steps_as_string.json": mutated(training__steps="100"),
        "lr_as_boolean.json": mutated(training__lr=True),
        "negative_init_seed.json": mutated(training__init_seed=-1),
        "layers_as_strings.json": mutated(model__layers=["1", "3", "1"]),
        "layers_too_wide.json": mutated(model__layers=[1, 100_000, 100_000, 1]),
        "linear_features_string.json": mutated(model={"kind": "linear", "features": "abcdef"}),
        "unknown_model_kind.json": mutated(model={"kind": "transformer", "layers": [1, 3, 1]}),
        "activation_code.json": mutated(model__activation="__import__('os').system('echo pwned')"),
        "n_params_mismatch.json": mutated(model__n_params=11),
        "theta_wrong_length.json": mutated(theta_hat=[0.0] * 9),
        "theta_strings.json": mutated(theta_s=["0.1"] * 10),
        "selection_out_of_range.json": mutated(selection=5),
        "data_weight_out_of_range.json": mutated(data__weight=[1, 1, 5, 1, 1]),
        "data_missing_y.json": raw_mutated('"y": [', '"why": ['),
        "optimizer_unknown.json": mutated(training__optimizer="lbfgs"),
    }


def write(folder: Path, files: dict[str, bytes | str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write(HERE / "points", POINTS)
    write(HERE / "sessions", sessions())
    print(f"{len(POINTS)} points files, {len(sessions())} session files")
