"""Open evidence files for reading only, without touching their access time where allowed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: Path | str) -> BinaryIO:
    """Open ``path`` read-only (``O_RDONLY``, plus ``O_NOATIME`` when the OS allows it)."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:
        fd = os.open(path, flags)  # O_NOATIME needs ownership; fall back to a plain read
    return os.fdopen(fd, "rb")
