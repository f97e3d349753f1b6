"""Streaming digests equal hashlib's one-shot digests, also with the per-thread read buffer reused
across files, threads running at once, and a stream whose reading digests another stream."""

from __future__ import annotations

import hashlib
import io
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from vigil.evidence.hashing import (
    CHUNK,
    digest_bytes,
    digest_fd_ends,
    digest_stream_ends,
)
from vigil.evidence.readonly import open_readonly_fd


def _blob(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _oracle(data: bytes) -> tuple[str, str, str, int]:
    return (
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


def _check(data: bytes) -> None:
    d, head, _tail = digest_stream_ends(io.BytesIO(data), keep=4096)
    assert (d.md5, d.sha1, d.sha256, d.size) == _oracle(data)
    assert head == data[:4096]
    assert d == digest_bytes(data)


def test_sizes_around_the_buffer_one_after_another() -> None:
    # a long file first, then shorter ones: nothing of the earlier file may leak into the next
    for i, n in enumerate((CHUNK * 2 + 5, CHUNK, CHUNK - 1, 5000, 1, 0)):
        _check(_blob(n, i))


def test_threads_at_once() -> None:
    blobs = [_blob(n, i) for i, n in enumerate([CHUNK + 3, 70_000, 1, CHUNK * 3] * 6)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(_check, blobs))


class _DigestingStream(io.BytesIO):
    """A stream that digests another stream each time it is read into (a nested call)."""

    def readinto(self, buffer: object) -> int:  # type: ignore[override]
        n = super().readinto(buffer)  # type: ignore[arg-type]
        _check(_blob(CHUNK + 9, 99))  # after the read: a shared buffer would now hold its bytes
        return n


def test_a_nested_call_does_not_share_the_buffer() -> None:
    data = _blob(CHUNK * 2 + 11, 7)
    d, _head, _tail = digest_stream_ends(_DigestingStream(data))
    assert (d.md5, d.sha1, d.sha256, d.size) == _oracle(data)


def test_a_descriptor_gives_what_a_stream_gives(tmp_path: Path) -> None:
    """``digest_fd_ends`` (the ingest's unbuffered read, no file object) against the stream
    reader and hashlib, with the kept head and tail, at sizes around the read buffer."""
    for i, n in enumerate((CHUNK * 2 + 5, CHUNK, CHUNK - 1, CHUNK + 1, 70_000, 64, 63, 1, 0)):
        data = _blob(n, 100 + i)
        path = tmp_path / f"f{i}"
        path.write_bytes(data)
        fd = open_readonly_fd(path)
        try:
            d, head, tail = digest_fd_ends(fd, keep=16_384, tail=64)
        finally:
            os.close(fd)
        assert (d.md5, d.sha1, d.sha256, d.size) == _oracle(data)
        assert (head, tail) == (data[:16_384], data[-64:] if data else b"")
        assert (d, head, tail) == digest_stream_ends(io.BytesIO(data), keep=16_384, tail=64)
