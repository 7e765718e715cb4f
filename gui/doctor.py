"""``./lab doctor``: every check the desktop app depends on, on one screen, each failure with its fix.

Checks: the Python version, the virtual environment, torch (and that it is the CPU build, not a multi-GB CUDA
one), PySide6 and pyqtgraph, the Qt platform plugin the window will use (on Linux the xcb plugin's shared
libraries, read with ``ldd``: Qt's own message often names the wrong missing library), a display to open the
window on, and a writable configuration folder.

:func:`platform_problem` is the launcher's quick check before the window opens: ``None`` when the window can
open, else the message with the exact command that installs what is missing.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: shared library (as ldd names it) → package on Debian / Ubuntu, Fedora, Arch.
LIBRARY_PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
}

#: what Qt's xcb plugin needs on a bare Debian 12 desktop (the README's set-up section lists the same).
DEBIAN_XCB_PACKAGES = (
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxkbcommon-x11-0",
    "libxcb-xinerama0",
    "libxcb-shape0",
    "libegl1",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries ``ldd`` reports as "not found", in its order, without repeats."""
    out: list[str] = []
    for line in ldd_output.splitlines():
        if "not found" in line:
            lib = line.split("=>")[0].strip()
            if lib and lib not in out:
                out.append(lib)
    return out


def install_commands(libraries: list[str]) -> str:
    """The commands that install ``libraries`` on Debian / Ubuntu, Fedora and Arch."""
    known = [LIBRARY_PACKAGES[lib] for lib in libraries if lib in LIBRARY_PACKAGES]
    unknown = [lib for lib in libraries if lib not in LIBRARY_PACKAGES]
    lines = []
    if known:
        deb = " ".join(dict.fromkeys(k[0] for k in known))
        fed = " ".join(dict.fromkeys(k[1] for k in known))
        arch = " ".join(dict.fromkeys(k[2] for k in known))
        lines += [
            f"  Debian / Ubuntu:  sudo apt install {deb}",
            f"  Fedora:           sudo dnf install {fed}",
            f"  Arch:             sudo pacman -S {arch}",
        ]
    if unknown:
        lines.append(f"  also missing (find the package that provides it): {' '.join(unknown)}")
    return "\n".join(lines)


def _pyside_dir() -> Path | None:
    try:
        import PySide6
    except ImportError:
        return None
    return Path(PySide6.__file__).resolve().parent


def xcb_missing() -> list[str] | None:
    """Libraries the xcb platform plugin (and Qt's xcb support library) cannot find; None if ldd or the plugin
    is not there to ask."""
    root = _pyside_dir()
    ldd = shutil.which("ldd")
    if root is None or ldd is None:
        return None
    files = [root / "Qt" / "plugins" / "platforms" / "libqxcb.so"]
    files += sorted((root / "Qt" / "lib").glob("libQt6XcbQpa.so*"))[:1]
    files = [f for f in files if f.exists()]
    if not files:
        return None
    missing: list[str] = []
    for f in files:
        try:
            text = subprocess.run([ldd, str(f)], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        missing += [m for m in missing_libraries(text) if m not in missing]
    return missing


def _wants_xcb() -> bool:
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb"
    # Qt picks xcb under X11 and, with PySide6 wheels, also under most Wayland sessions (XWayland)
    return sys.platform.startswith("linux") and bool(os.environ.get("DISPLAY"))


def platform_problem() -> str | None:
    """Why the desktop window would not open, with the fix; None when nothing is in the way (or unknown)."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")):
        return None
    if not platform and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return (
            "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
            "  Run it from a desktop session, or on a virtual screen: xvfb-run ./lab\n"
            "  Headless figures need no display: ./lab --export-figures DIR  or  ./lab --screenshot OUT.png"
        )
    if not _wants_xcb():
        return None
    missing = xcb_missing()
    if not missing:
        return None
    return (
        f"Qt's xcb platform plugin cannot load: missing {', '.join(missing)}.\n"
        f"{install_commands(missing)}\n"
        "  (Qt's own message may name another library; this list is what ldd reports.)"
    )


def _config_folder() -> Path:
    d = os.environ.get("INFLUENCE_LAB_CONFIG_DIR")
    if d:
        return Path(d)
    try:
        from PySide6.QtCore import QCoreApplication

        from gui.settings import config_path

        QCoreApplication.setOrganizationName("Influence Lab")  # as gui.app names the app
        QCoreApplication.setApplicationName("Influence Lab")
        return config_path().parent
    except Exception:  # Qt not importable: the PySide6 check says why
        return Path.home() / ".config" / "Influence Lab"


def checks() -> list[Check]:
    out: list[Check] = []
    v = sys.version_info
    out.append(
        Check(
            "Python",
            v >= (3, 10),
            f"{v.major}.{v.minor}.{v.micro} ({sys.executable})",
            "install Python 3.10 or newer with venv, then rm -rf .venv and run ./lab again",
        )
    )
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    out.append(
        Check(
            "virtual environment",
            in_venv,
            sys.prefix if in_venv else "not running inside a venv",
            "run through ./lab (it creates .venv inside the checkout)",
        )
    )
    try:
        import torch

        cuda = torch.version.cuda
        out.append(
            Check(
                "torch",
                cuda is None,
                f"{torch.__version__}, "
                + ("CPU build" if cuda is None else f"CUDA {cuda} build (several GB)"),
                "the app needs only the CPU build: .venv/bin/pip install --force-reinstall torch==2.13.0",
            )
        )
    except ImportError as exc:
        out.append(Check("torch", False, f"not importable ({exc})", "rm -rf .venv and run ./lab again"))
    for mod in ("PySide6", "pyqtgraph", "matplotlib"):
        try:
            m = importlib.import_module(mod)
            out.append(Check(mod, True, getattr(m, "__version__", "installed")))
        except ImportError as exc:
            out.append(Check(mod, False, f"not importable ({exc})", "rm -rf .venv and run ./lab again"))
    if sys.platform.startswith("linux"):
        missing = xcb_missing()
        if missing is None:
            out.append(Check("Qt platform plugin (xcb)", True, "not checked: ldd or the plugin not found"))
        elif missing:
            out.append(
                Check(
                    "Qt platform plugin (xcb)",
                    False,
                    f"missing {', '.join(missing)}",
                    "\n" + install_commands(missing),
                )
            )
        else:
            out.append(Check("Qt platform plugin (xcb)", True, "every library it links is found"))
        display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        out.append(
            Check(
                "display",
                bool(display),
                f"{display}" if display else "none (DISPLAY and WAYLAND_DISPLAY unset)",
                "run from a desktop session or `xvfb-run ./lab`; headless figures: ./lab --export-figures DIR",
            )
        )
    elif sys.platform == "darwin":
        out.append(Check("Qt platform plugin (cocoa)", True, "bundled with PySide6; nothing to install"))
    folder = _config_folder()
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    writable = os.access(probe, os.W_OK)
    out.append(
        Check(
            "configuration folder",
            writable,
            str(folder),
            f"make {probe} writable, or point INFLUENCE_LAB_CONFIG_DIR at a writable folder",
        )
    )
    return out


def report(items: list[Check]) -> str:
    width = max(len(c.name) for c in items)
    lines = []
    for c in items:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"      fix: {c.fix}" if not c.fix.startswith("\n") else f"      fix:{c.fix}")
    bad = sum(not c.ok for c in items)
    lines.append("all checks passed" if not bad else f"{bad} check(s) failed")
    return "\n".join(lines)


def main() -> int:
    items = checks()
    print(report(items))
    return 0 if all(c.ok for c in items) else 1


if __name__ == "__main__":
    sys.exit(main())
