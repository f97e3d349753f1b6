"""Open evidence files for reading only, without touching their access time where allowed."""

from __future__ import annotations

import io
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


def _open_fd(path: Path | str) -> int:
    """A read-only descriptor of ``path``, with the same flags as :func:`open_readonly`."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags | _NOATIME)
    except PermissionError:
        return os.open(path, flags)


def open_readonly_raw(path: Path | str) -> io.FileIO:
    """:func:`open_readonly` without a read buffer: for reading a whole file in large chunks
    with ``readinto`` (a buffered reader only adds an object and a copy per file; issue 16)."""
    return io.FileIO(_open_fd(path), "rb", closefd=True)


def read_head(path: Path | str, size: int) -> bytes:
    """The first ``size`` bytes of ``path`` (all of it if shorter), opened as
    :func:`open_readonly` does, without a file object (the walker reads every file's head to
    find archives: issue 16)."""
    fd = _open_fd(path)
    try:
        parts: list[bytes] = []
        left = size
        while left > 0:
            part = os.read(fd, left)
            if not part:
                break
            parts.append(part)
            left -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)
