"""Open evidence files for reading only, without touching their access time where allowed.

Every read of an evidence file goes through :func:`open_readonly`, libraries included: Pillow,
PyAV and The Sleuth Kit are handed the open file (or a reader over it), never the path, because a
library that opens the path itself does so without ``O_NOATIME`` and moves the file's access time
(an analyst compares MAC times; see docs/ingest.md, "Access times").
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

_NOATIME = getattr(os, "O_NOATIME", 0)


def open_readonly(path: Path | str) -> BinaryIO:
    """Open ``path`` read-only (``O_RDONLY``, plus ``O_NOATIME`` when the OS allows it)."""
    return os.fdopen(open_readonly_fd(path), "rb")


def readonly_stream(src: Path | str | bytes | BinaryIO) -> BinaryIO:
    """A binary stream over ``src`` for a library that would otherwise open a path itself:
    a path is opened with :func:`open_readonly`, bytes are wrapped, a stream is returned as is.
    The caller closes what it got for a path or bytes."""
    if isinstance(src, bytes):
        return io.BytesIO(src)
    if isinstance(src, (str, Path)):
        return open_readonly(src)
    return src


def list_dir_readonly(folder: Path | str) -> list[str]:
    """The names in ``folder`` (unsorted), listed through a directory handle opened with
    ``O_NOATIME`` where allowed: ``os.scandir(path)`` would move the folder's access time."""
    if not _NOATIME or os.scandir not in os.supports_fd:
        with os.scandir(folder) as it:
            return [entry.name for entry in it]
    fd = open_readonly_fd(folder, getattr(os, "O_DIRECTORY", 0))
    try:
        with os.scandir(fd) as it:
            return [entry.name for entry in it]
    finally:
        os.close(fd)


def open_readonly_fd(path: Path | str, extra: int = 0) -> int:
    """A read-only descriptor of ``path`` (``O_NOATIME`` where allowed: it needs the file's
    ownership, so a plain read-only open is the fallback), with ``extra`` flags (e.g.
    ``O_DIRECTORY``). For reading a whole file without a file object (the ingest digests;
    issue 16). The caller closes it."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | extra
    try:
        return os.open(path, flags | _NOATIME)
    except PermissionError:
        return os.open(path, flags)


def read_head(path: Path | str, size: int) -> bytes:
    """The first ``size`` bytes of ``path`` (all of it if shorter), opened as
    :func:`open_readonly` does, without a file object (the walker reads every file's head to
    find archives: issue 16)."""
    fd = open_readonly_fd(path)
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
