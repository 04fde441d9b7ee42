"""Writing a file so that it is either wholly there or not at all.

Every file the workbench writes for a user — session exports, research extracts, FHIR
resources, reports, backups — may hold client data or numbers a leader acts on, so none
may be left half-written by a full disk, a crash or a killed process, and none may be
readable by other users of the machine. One helper does it for all of them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomically"]


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    The temporary file is made by :func:`tempfile.mkstemp` (mode 0600, so the result is
    readable by its owner only), flushed and ``fsync``-ed before the rename, and removed
    when ``write`` raises, so a failed write leaves the target as it was. The parent
    folder is created when missing. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
