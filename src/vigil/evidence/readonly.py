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
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:
        fd = os.open(path, flags)  # O_NOATIME needs ownership; fall back to a plain read
    return os.fdopen(fd, "rb")


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
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags | _NOATIME)
    except PermissionError:
        fd = os.open(folder, flags)
    try:
        with os.scandir(fd) as it:
            return [entry.name for entry in it]
    finally:
        os.close(fd)
