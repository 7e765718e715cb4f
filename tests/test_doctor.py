"""``./lab doctor`` and the launcher's check before the window opens: ldd's report becomes the exact install
command, a missing display is named with its remedy, and every check is printed with the fix of a failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gui import doctor

ROOT = Path(__file__).resolve().parents[1]

# what ldd printed for PySide6's libqxcb.so on a fresh Debian 12 desktop (shortened)
LDD = """\
\tlinux-vdso.so.1 (0x00007ffd5b1f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f2a1c000000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f2a1bf00000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2a1b800000)
"""


def test_ldd_report_becomes_the_install_command():
    missing = doctor.missing_libraries(LDD)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]  # not libxcb-cursor, which Qt blamed
    text = doctor.install_commands(missing)
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in text
    assert "sudo pacman -S xcb-util-wm xcb-util-keysyms" in text
    assert "libfoo.so.9" in doctor.install_commands(["libfoo.so.9"])  # an unknown library is still named


def test_launcher_check_names_the_missing_libraries_before_qt(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(doctor, "xcb_missing", lambda: ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    problem = doctor.platform_problem()
    assert "libxcb-icccm.so.4" in problem and "sudo apt install libxcb-icccm4 libxcb-keysyms1" in problem
    monkeypatch.setattr(doctor, "xcb_missing", lambda: [])
    assert doctor.platform_problem() is None
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert "xvfb-run ./lab" in doctor.platform_problem()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert doctor.platform_problem() is None


def test_app_refuses_with_the_fix_instead_of_a_qt_abort():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}  # no DISPLAY, no QT_QPA_PLATFORM
    proc = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    if sys.platform.startswith("linux"):
        assert proc.returncode == 1
        assert "no display" in proc.stderr and "xvfb-run" in proc.stderr and "Traceback" not in proc.stderr


def test_doctor_prints_every_check_with_fixes():
    proc = subprocess.run(
        [sys.executable, "-m", "gui.doctor"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    out = proc.stdout
    for name in ("Python", "virtual environment", "torch", "PySide6", "configuration folder"):
        assert name in out, name
    if sys.platform.startswith("linux"):
        assert "Qt platform plugin (xcb)" in out and "display" in out
    failed = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == (1 if failed else 0)
    assert out.count("fix:") >= len(failed)
