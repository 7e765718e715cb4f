"""The architecture (docs/design.md): core imports no front end and no Qt, the command line no Qt and no GUI.

Two independent checks: import-linter's contracts (pyproject.toml, over every subpackage), and a subprocess that
imports every module of core/ and cli/ and inspects sys.modules (catching imports made at run time).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_PACKAGES = ("PySide6", "pyqtgraph", "PyQt5", "PyQt6", "shiboken6")


def _modules(package: str) -> list[str]:
    return sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / package).rglob("*.py")
        if p.stem != "__init__"
    )


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail("lint-imports is missing: install the test extras (pip install -e .[test])")
    out = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "0 broken" in out.stdout


@pytest.mark.parametrize("package", ["core", "cli"])
def test_package_imports_no_qt_at_run_time(package):
    modules = _modules(package)
    assert len(modules) > 5
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_PACKAGES!r} or m.split('.')[0] == 'gui']\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{package} imported Qt or GUI modules: {out.stdout}"


def test_design_lists_every_module():
    """docs/design.md's module list names every module of core/, cli/ and gui/ (scripts/module_tree.py)."""
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    listed = {line.split()[0] for line in design.splitlines() if line[:1].isalpha() and line.split()}
    modules = []
    for package in ("core", "cli", "gui"):
        for p in (ROOT / package).rglob("*.py"):
            if "__pycache__" in p.parts:
                continue
            rel = p.relative_to(ROOT).as_posix()
            modules.append(rel[: -len("__init__.py")] if p.name == "__init__.py" else rel)
    missing = sorted(m for m in modules if m not in listed)
    assert not missing, f"docs/design.md does not list {missing}: run python scripts/module_tree.py"
