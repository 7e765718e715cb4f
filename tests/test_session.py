"""Session files: round trip, versioning, and refusal of anything that is not plain session JSON."""

import json
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.model import MLPSpec
from core.points.dataset import make_preset
from core.session import VERSION, Session, SessionError, load_session, save_session, session_from_dict
from core.train import TrainConfig


def _session():
    model = MLPSpec((3,), "tanh")
    return Session(
        data=make_preset("teacher"),
        model=model,
        config=TrainConfig(lr=0.05, steps=123, weight_decay=1e-3),
        init_seed=4,
        theta0=model.init_params(4),
        theta_hat=np.arange(10.0),
        selection=3,
        damping=0.01,
        ui={"panel": "eps"},
    )


def test_round_trip(tmp_path):
    s = _session()
    path = tmp_path / "a.json"
    save_session(s, path)
    t = load_session(path)
    np.testing.assert_array_equal(t.data.x, s.data.x)
    np.testing.assert_array_equal(t.theta0, s.theta0)
    np.testing.assert_array_equal(t.theta_hat, s.theta_hat)
    assert t.theta_s is None
    assert t.model == s.model and t.config == s.config
    assert (t.init_seed, t.selection, t.damping, t.ui) == (4, 3, 0.01, {"panel": "eps"})


def test_newer_version_is_refused_with_a_message(tmp_path):
    doc = _session().to_dict()
    doc["version"] = VERSION + 1
    path = tmp_path / "new.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match="newer"):
        load_session(path)


def test_pickle_payload_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.json"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(SessionError, match="evil.json"):
        load_session(path)
    assert not marker.exists()


def test_executable_content_is_data_not_code(tmp_path):
    doc = _session().to_dict()
    doc["model"] = {"kind": "__import__('os').system('touch x')"}
    path = tmp_path / "code.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match="model"):
        load_session(path)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.pop("format"), "not an Influence Lab session"),
        (lambda d: d.__setitem__("theta0", [1.0] * 3), "theta0"),
        (lambda d: d["training"].__setitem__("lr", "fast"), "lr"),
        (lambda d: d["training"].__setitem__("lr", -1.0), "learning rate"),
        (lambda d: d.__setitem__("selection", 99), "selection"),
        (lambda d: d["data"].__setitem__("y", [1.0]), "points"),
        (lambda d: d["model"].__setitem__("layers", [2, 3, 1]), "model"),
    ],
)
def test_malformed_sessions_name_the_problem(tmp_path, mutate, match):
    doc = _session().to_dict()
    mutate(doc)
    with pytest.raises(SessionError, match=match):
        session_from_dict(doc, tmp_path / "s.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(["data", "model", "training", "theta0", "selection", "analysis", "ui", "version"]),
    value=json_values,
)
def test_fuzzed_fields_give_session_error_or_a_session(tmp_path, key, value):
    doc = _session().to_dict()
    doc[key] = value
    try:
        s = session_from_dict(doc, tmp_path / "f.json")
    except SessionError as exc:
        assert "f.json" in str(exc)
    else:
        assert isinstance(s, Session)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_fuzzed_bytes_give_session_error(tmp_path, raw):
    path = tmp_path / "b.json"
    path.write_bytes(raw)
    with pytest.raises(SessionError):
        load_session(path)
