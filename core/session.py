"""Session files: the whole state of a study as one plain, versioned JSON document.

A session holds the points (with weights and labels), the model, the training settings and seeds, the
parameters θ_0, θ^s, θ̂ (docs/science.md §1 layout), the selected/deleted point and the analysis settings.
Reading never executes anything: only ``json.loads`` on text, then type checks of every field; pickles,
``eval`` and ``torch.load`` are never used. A file of a newer format version is refused with a message;
older versions are migrated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from core.limits import MAX_DEGREE, MAX_HIDDEN_LAYERS, MAX_PARAMS, MAX_STEPS, MAX_WIDTH, model_size_error
from core.model import ACTIVATIONS, Model, model_from_description
from core.points.dataset import DataError, Dataset
from core.problem import DEFAULT_DAMPING
from core.train import OPTIMIZERS, TrainConfig

FORMAT = "influence-lab-session"
VERSION = 1
MAX_SESSION_BYTES = 64 * 1024 * 1024


class SessionError(ValueError):
    """A session file that cannot be read; the message names the file and the problem."""


@dataclass
class Session:
    data: Dataset
    model: Model
    config: TrainConfig
    init_seed: int = 0
    converge: bool = True
    theta0: np.ndarray | None = None
    theta_s: np.ndarray | None = None
    theta_hat: np.ndarray | None = None
    selection: int | None = None
    damping: float = DEFAULT_DAMPING
    ui: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        def vec(a):
            return None if a is None else [float(v) for v in np.asarray(a, dtype=np.float64)]

        c = self.config
        return {
            "format": FORMAT,
            "version": VERSION,
            "data": self.data.to_dict(),
            "model": self.model.describe(),
            "training": {
                "optimizer": c.optimizer,
                "lr": c.lr,
                "steps": c.steps,
                "weight_decay": c.weight_decay,
                "batch_size": c.batch_size,
                "sgd_seed": c.seed,
                "init_seed": self.init_seed,
                "converge": self.converge,
            },
            "theta0": vec(self.theta0),
            "theta_s": vec(self.theta_s),
            "theta_hat": vec(self.theta_hat),
            "selection": self.selection,
            "analysis": {"damping": self.damping},
            "ui": self.ui,
        }


def save_session(session: Session, path) -> None:
    """Write the session atomically (temp file + rename) as indented JSON."""
    atomic_write_text(Path(path), json.dumps(session.to_dict(), indent=1, allow_nan=False) + "\n")


def _fail(path, msg) -> SessionError:
    return SessionError(f"{Path(path).name}: {msg}")


def _short(v) -> str:
    """A short printable form of a JSON value for a message (never a whole huge list or number)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 10**15:
        return "a huge integer"
    text = repr(v) if not isinstance(v, (dict, list)) else ("an object" if isinstance(v, dict) else "a list")
    return text if len(text) <= 40 else text[:40] + "…"


def _number(path, doc, key, kind=float, minimum=None, allow_none=False, maximum=None):
    """A JSON number field: an int (kind int) or a finite float; booleans, strings, huge values refused."""
    v = doc.get(key)
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(path, f"'{key}' must be {'an integer' if kind is int else 'a number'}, got {_short(v)}")
    if isinstance(v, float) and not np.isfinite(v):
        raise _fail(path, f"'{key}' must be finite, got {_short(v)}")
    if kind is int and isinstance(v, float):
        if not v.is_integer():
            raise _fail(path, f"'{key}' must be an integer, got {_short(v)}")
        v = int(v)
    if kind is float:
        try:
            v = float(v)
        except OverflowError:
            raise _fail(path, f"'{key}' is too large to be a number, got {_short(v)}") from None
    if minimum is not None and v < minimum:
        raise _fail(path, f"'{key}' must be ≥ {minimum}, got {_short(v)}")
    if maximum is not None and v > maximum:
        raise _fail(path, f"'{key}' must be ≤ {maximum:,}, got {_short(v)}")
    return kind(v)


def _vector(path, doc, key, d):
    v = doc.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != d:
        raise _fail(path, f"'{key}' must be a list of {d} numbers (the model's parameter count)")
    if any(isinstance(e, bool) or not isinstance(e, (int, float)) for e in v):
        raise _fail(path, f"'{key}' must contain only numbers")
    try:
        a = np.asarray(v, dtype=np.float64)
    except OverflowError:
        raise _fail(path, f"'{key}' contains a number too large for float64") from None
    if not np.isfinite(a).all():
        raise _fail(path, f"'{key}' contains NaN or infinite values")
    return a


def _model(path, desc) -> Model:
    """The model description, type-checked before it is built: {"kind": "mlp", "layers": [1, h…, 1],
    "activation": …} or {"kind": "linear", "features": ["1", "x", …]}; "n_params", if present, must match."""
    if not isinstance(desc, dict):
        raise _fail(path, "model: 'model' must be an object")
    kind = desc.get("kind", "mlp")
    allowed = {"kind", "layers", "activation", "n_params", "features"}
    unknown = [k for k in desc if k not in allowed]
    if unknown:
        raise _fail(path, f"model: unknown key(s) {', '.join(map(_short, unknown[:5]))}")
    if kind == "mlp":
        layers = desc.get("layers")
        if (
            not isinstance(layers, list)
            or len(layers) < 2
            or not all(isinstance(h, int) and not isinstance(h, bool) for h in layers)
        ):
            raise _fail(path, "model: 'layers' must be a list of integers such as [1, 3, 1]")
        if len(layers) - 2 > MAX_HIDDEN_LAYERS:
            raise _fail(
                path, f"model: {len(layers) - 2} hidden layers; at most {MAX_HIDDEN_LAYERS} are supported"
            )
        if not all(1 <= h <= MAX_WIDTH for h in layers):
            raise _fail(path, f"model: every width in 'layers' must be from 1 to {MAX_WIDTH:,}")
        activation = desc.get("activation", "tanh")
        if activation not in ACTIVATIONS:
            raise _fail(
                path, f"model: 'activation' is {_short(activation)}; choose one of {', '.join(ACTIVATIONS)}"
            )
        d = sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))
        msg = model_size_error(d, len(layers) - 2, max(layers))
        if msg is not None:
            raise _fail(path, f"model: {msg}")
    elif kind == "linear":
        features = desc.get("features")
        if (
            not isinstance(features, list)
            or not 1 <= len(features) <= MAX_DEGREE + 1
            or not all(isinstance(f, str) for f in features)
        ):
            raise _fail(
                path, f'model: \'features\' must be a list of 1 to {MAX_DEGREE + 1} names such as ["1", "x"]'
            )
    else:
        raise _fail(path, f'model: unknown model kind {_short(kind)}; choose "mlp" or "linear"')
    try:
        model = model_from_description(desc)
    except (ValueError, TypeError, KeyError) as exc:
        raise _fail(path, f"model: {exc}") from None
    expected = desc.get("n_params")
    if expected is not None and expected != model.n_params:
        raise _fail(path, f"model: 'n_params' is {_short(expected)} but the layers give {model.n_params}")
    if model.n_params > MAX_PARAMS:  # pragma: no cover - caught by model_size_error
        raise _fail(path, f"the model has {model.n_params} parameters; the limit is {MAX_PARAMS}")
    return model


def _migrate(path, doc: dict) -> dict:
    """Bring an older session document up to VERSION (no older versions exist yet)."""
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail(path, "missing or invalid 'version'")
    if version > VERSION:
        raise _fail(
            path,
            f"session format version {version} is newer than this Influence Lab understands ({VERSION}); "
            "update Influence Lab to open it",
        )
    if version < 1:
        raise _fail(path, f"unknown session format version {version}")
    return doc


def session_from_dict(doc, path="session") -> Session:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _fail(path, f'not an Influence Lab session (expected a JSON object with "format": "{FORMAT}")')
    doc = _migrate(path, doc)
    try:
        data = Dataset.from_dict(doc.get("data"))
    except DataError as exc:
        raise _fail(path, f"points: {exc}") from None
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise _fail(path, f"points: malformed ({exc})") from None
    model = _model(path, doc.get("model"))
    tr = doc.get("training")
    if not isinstance(tr, dict):
        raise _fail(path, "'training' must be an object")
    optimizer = tr.get("optimizer", "gd")
    if optimizer not in OPTIMIZERS:
        raise _fail(path, f"unknown optimiser {optimizer!r}")
    config = TrainConfig(
        optimizer=optimizer,
        lr=_number(path, tr, "lr", float),
        steps=_number(path, tr, "steps", int, 0, maximum=MAX_STEPS),
        weight_decay=_number(path, tr, "weight_decay", float, 0),
        batch_size=_number(path, tr, "batch_size", int, 1, allow_none=True),
        seed=_number(path, tr, "sgd_seed", int, 0) if "sgd_seed" in tr else 0,
    )
    try:
        config.validate()
    except ValueError as exc:
        raise _fail(path, f"training: {exc}") from None
    converge = tr.get("converge", True)
    if not isinstance(converge, bool):
        raise _fail(path, "'converge' must be true or false")
    d = model.n_params
    selection = doc.get("selection")
    if selection is not None and (
        isinstance(selection, bool) or not isinstance(selection, int) or not 0 <= selection < data.n
    ):
        raise _fail(path, f"'selection' must be a point index in [0, {data.n - 1}] or null")
    analysis = doc.get("analysis") or {}
    if not isinstance(analysis, dict):
        raise _fail(path, "'analysis' must be an object")
    damping = _number(path, analysis, "damping", float, 0) if "damping" in analysis else 1e-3
    ui = doc.get("ui") or {}
    if not isinstance(ui, dict):
        raise _fail(path, "'ui' must be an object")
    return Session(
        data=data,
        model=model,
        config=config,
        init_seed=_number(path, tr, "init_seed", int, 0) if "init_seed" in tr else 0,
        converge=converge,
        theta0=_vector(path, doc, "theta0", d),
        theta_s=_vector(path, doc, "theta_s", d),
        theta_hat=_vector(path, doc, "theta_hat", d),
        selection=selection,
        damping=damping,
        ui=ui,
    )


def load_session(path) -> Session:
    """Read a session file: JSON text only, every field checked; SessionError names any problem."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise _fail(p, f"cannot open: {exc.strerror or exc}") from None
    if size > MAX_SESSION_BYTES:
        raise _fail(
            p, f"the file is {size / 2**20:.0f} MiB; sessions are limited to {MAX_SESSION_BYTES >> 20} MiB"
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise _fail(p, f"cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise _fail(p, "the file is empty (a session is a JSON object)")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is accepted, as for points files
    except UnicodeDecodeError:
        raise _fail(
            p, "not a text file (a session is UTF-8 JSON; binary data such as a pickle is refused)"
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(p, f"line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise _fail(p, "the JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal of more than 4300 digits
        what = (
            "invalid JSON: a number has more than 4300 digits"
            if "digits" in str(exc)
            else f"invalid JSON ({exc})"
        )
        raise _fail(p, what) from None
    return session_from_dict(doc, p)
