"""Remembered preferences: window geometry and dock layout, recent sessions, last folders, last-used settings.

Stored with QSettings in an INI file, ``influence-lab.ini`` in the directory named by the environment variable
``INFLUENCE_LAB_CONFIG_DIR`` (tests point it at ``tmp_path``) or else Qt's per-user configuration directory.
Every value read is checked and falls back to its default (:data:`DEFAULTS`) when missing or malformed, so a
damaged file never stops the app.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from core.problem import DEFAULT_DAMPING
from gui.paper_figure import DEFAULT_SIZE, FigureSize
from gui.state import Settings

ENV_DIR = "INFLUENCE_LAB_CONFIG_DIR"
FILE_NAME = "influence-lab.ini"
MAX_RECENT = 8

DEFAULTS = {
    "recent_sessions": [],
    "last_session_dir": "",
    "last_export_dir": "",
    "last_points_dir": "",
    "damping": DEFAULT_DAMPING,
}


def config_path() -> Path:
    d = os.environ.get(ENV_DIR)
    if not d:
        d = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation) or str(
            Path.home() / ".config" / "influence-lab"
        )
    return Path(d) / FILE_NAME


class AppSettings:
    """A thin checked layer over QSettings (INI format)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else config_path()
        self.q = QSettings(str(self.path), QSettings.Format.IniFormat)

    # -- generic -----------------------------------------------------------------------------------------
    def get(self, key: str, default=None):
        return self.q.value(key, DEFAULTS.get(key, default))

    def set(self, key: str, value) -> None:
        self.q.setValue(key, value)

    def sync(self) -> None:
        self.q.sync()

    # -- recent sessions ---------------------------------------------------------------------------------
    def recent_sessions(self) -> list[str]:
        v = self.q.value("recent_sessions", "")
        try:
            items = json.loads(v) if isinstance(v, str) and v else []
        except ValueError:
            items = []
        if not isinstance(items, list):
            return []
        return [p for p in items if isinstance(p, str)][:MAX_RECENT]

    def add_recent_session(self, path: str | Path) -> list[str]:
        p = str(Path(path).resolve())
        items = [p] + [q for q in self.recent_sessions() if q != p]
        items = items[:MAX_RECENT]
        self.q.setValue("recent_sessions", json.dumps(items))
        self.q.setValue("last_session_dir", str(Path(p).parent))
        return items

    def remove_recent_session(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        self.q.setValue("recent_sessions", json.dumps([q for q in self.recent_sessions() if q != p]))

    # -- last-used model and training settings -----------------------------------------------------------
    def training_settings(self) -> Settings | None:
        v = self.q.value("training_settings", "")
        if not isinstance(v, str) or not v:
            return None
        try:
            d = json.loads(v)
            if not isinstance(d, dict):
                return None
            known = {f.name for f in fields(Settings)}
            d = {k: v for k, v in d.items() if k in known}
            if "hidden" in d:
                d["hidden"] = tuple(int(h) for h in d["hidden"])
            s = Settings(**d)
            s.validate()
            return s
        except (ValueError, TypeError, AttributeError):
            return None

    def set_training_settings(self, s: Settings) -> None:
        d = asdict(s)
        d["hidden"] = list(s.hidden)
        self.q.setValue("training_settings", json.dumps(d))

    def damping(self) -> float:
        try:
            v = float(self.q.value("damping", DEFAULT_DAMPING))
        except (TypeError, ValueError):
            return DEFAULT_DAMPING
        return v if v > 0 and v == v and v < float("inf") else DEFAULT_DAMPING

    def folder(self, key: str) -> str:
        """The folder remembered under ``key`` if it still exists, else the user's documents folder (else the
        home folder): a file dialog never starts in whatever directory the app was launched from."""
        v = self.q.value(key, "")
        if isinstance(v, str) and v and Path(v).is_dir():
            return v
        return documents_folder()

    def figure_size(self) -> FigureSize:
        """The physical size of exported PDF / SVG figures (:class:`gui.paper_figure.FigureSize`)."""
        try:
            d = json.loads(str(self.q.value("figure_size", "") or "{}"))
            size = FigureSize(
                **{k: (None if d[k] is None else float(d[k])) for k in FIGURE_SIZE_KEYS if k in d}
            )
            size.check()
            return size
        except (TypeError, ValueError, KeyError):
            return DEFAULT_SIZE

    def set_figure_size(self, size: FigureSize) -> None:
        self.q.setValue("figure_size", json.dumps({k: getattr(size, k) for k in FIGURE_SIZE_KEYS}))


#: The figure-size fields a user sets (the others are layout rules of :mod:`gui.paper_figure`).
FIGURE_SIZE_KEYS = ("width_in", "height_in", "font_pt")


def documents_folder() -> str:
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and Path(docs).is_dir() else str(Path.home())
