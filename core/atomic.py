"""Atomic file writes: a reader sees either the old file or the complete new one, never a partial file.

The data goes to a new temporary file in the target's directory (same file system, so the rename is
atomic), is flushed and fsync'ed, and is then ``os.replace``'d onto the target. On any error the temporary
file is removed and the target is left untouched.

The temporary file is created with ``os.open(..., O_CREAT | O_EXCL, 0o666)`` rather than ``mkstemp`` so the
kernel applies the process umask, as for a plain ``open(path, "w")`` (``mkstemp`` would leave 0o600); when
an existing file is replaced, its permission bits are kept.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring); creates or replaces the file."""
    target = Path(path)
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, target.stat().st_mode & 0o7777)  # keep the replaced file's permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, encoded as ``encoding`` (UTF-8); newlines are written as given."""
    atomic_write_bytes(path, text.encode(encoding))


def _create_temp(target: Path) -> tuple[int, Path]:
    """Create and open a new hidden file ``.<name>.<random>.tmp`` next to ``target``; return (fd, path)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {target}")
