"""Print the source tree with one line per module: its path and the first sentence of its docstring.

docs/design.md's "Modules" section is this script's output (tests/test_architecture.py checks that every module
of core/, cli/ and gui/ is listed there). Run: ``python scripts/module_tree.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "cli", "gui")
WIDTH = 110


def first_sentence(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    text = " ".join(doc.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def module_paths() -> list[Path]:
    paths = [ROOT / "app.py"]
    for package in PACKAGES:
        paths += sorted((ROOT / package).rglob("*.py"))
    return [p for p in paths if "__pycache__" not in p.parts]


def tree_lines() -> list[str]:
    rows = []
    for p in module_paths():
        rel = p.relative_to(ROOT).as_posix()
        if p.name == "__init__.py":
            rel = rel[: -len("__init__.py")]
        rows.append((rel, first_sentence(p)))
    width = max(len(r) for r, _ in rows) + 2
    lines = []
    for rel, text in rows:
        line = f"{rel:<{width}}{text}"
        lines.append(line if len(line) <= WIDTH else line[: WIDTH - 1] + "…")
    return lines


if __name__ == "__main__":
    sys.stdout.write("\n".join(tree_lines()) + "\n")
