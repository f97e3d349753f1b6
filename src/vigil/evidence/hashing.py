"""MD5, SHA-1 and SHA-256 of a stream in one pass."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1024 * 1024
_LOCAL = threading.local()
"""Each thread's read buffer, reused from file to file (a fresh 1 MiB buffer per file costs
page faults on every file: ~5 % of digesting many small photos)."""


@dataclass(frozen=True)
class Digests:
    """The three digests and the byte count of one content."""

    md5: str
    sha1: str
    sha256: str
    size: int


def digest_stream_ends(
    stream: BinaryIO, *, keep: int = 0, tail: int = 0
) -> tuple[Digests, bytes, bytes]:
    """Hash ``stream`` to its end; also return up to its first ``keep`` and its last ``tail``
    bytes (what a photo's header probe reads, so it need not open the file again)."""
    return _digest_ends(stream.readinto, keep, tail)  # type: ignore[attr-defined]


def digest_fd_ends(fd: int, *, keep: int = 0, tail: int = 0) -> tuple[Digests, bytes, bytes]:
    """:func:`digest_stream_ends` of an open file descriptor, read from its current position
    with ``os.readv`` (no file object: ``io.FileIO`` costs an ``fstat`` and one more release and
    re-acquisition of the GIL per file; issue 16). The caller closes ``fd``."""
    return _digest_ends(lambda view: os.readv(fd, (view,)), keep, tail)


def _digest_ends(
    readinto: Callable[[memoryview], int | None], keep: int, tail: int
) -> tuple[Digests, bytes, bytes]:
    md5, sha1, sha256 = (
        hashlib.md5(usedforsecurity=False),
        hashlib.sha1(usedforsecurity=False),
        hashlib.sha256(),
    )
    size = 0
    head = b""
    last = b""
    # taken out while in use, so a nested call (a stream that digests) gets a buffer of its own
    view: memoryview | None = getattr(_LOCAL, "view", None)
    _LOCAL.view = None
    if view is None:
        view = memoryview(bytearray(CHUNK))
    while True:
        n = readinto(view)
        if not n:
            break
        chunk = view[:n]
        if len(head) < keep:
            head += bytes(chunk[: keep - len(head)])
        md5.update(chunk)
        sha1.update(chunk)
        sha256.update(chunk)
        size += n
        if tail:
            last = bytes(chunk[-tail:]) if n >= tail else (last + bytes(chunk))[-tail:]
        del chunk
    _LOCAL.view = view
    return Digests(md5.hexdigest(), sha1.hexdigest(), sha256.hexdigest(), size), head, last


def digest_bytes(data: bytes) -> Digests:
    """Digests of an in-memory content."""
    return Digests(
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
