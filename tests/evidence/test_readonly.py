"""The unbuffered ways of reading evidence read exactly what the buffered file object reads."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from vigil.evidence import readonly
from vigil.evidence.hashing import CHUNK, digest_fd_ends, digest_stream_ends
from vigil.evidence.readonly import open_readonly, open_readonly_fd, read_head


@pytest.mark.parametrize("length", [0, 1, 4095, 4096, 4097, CHUNK - 1, CHUNK, CHUNK + 5, 3 * CHUNK])
def test_head_and_digests_match_the_buffered_reader(tmp_path: Path, length: int) -> None:
    data = random.Random(length).randbytes(length)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    for size in (0, 16, 4096, 70_000):
        with open_readonly(path) as fh:
            assert read_head(path, size) == fh.read(size) == data[:size]
    with open_readonly(path) as fh:
        buffered = digest_stream_ends(fh, keep=70_000, tail=4096)
    fd = open_readonly_fd(path)
    try:
        unbuffered = digest_fd_ends(fd, keep=70_000, tail=4096)
    finally:
        os.close(fd)
    assert unbuffered == buffered
    assert unbuffered[1] == data[:70_000] and unbuffered[2] == data[-4096:]


def test_head_is_gathered_from_short_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcdefghij")
    real = os.read
    monkeypatch.setattr(readonly.os, "read", lambda fd, n: real(fd, min(n, 3)))
    assert read_head(path, 8) == b"abcdefgh"
    assert read_head(path, 50) == b"abcdefghij"


def test_failures_are_oserrors_and_close_the_descriptor(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_head(tmp_path / "missing", 10)
    with pytest.raises(IsADirectoryError):
        read_head(tmp_path, 10)
    before = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    for _ in range(50):
        with pytest.raises(IsADirectoryError):
            read_head(tmp_path, 10)
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before


def test_without_noatime_permission_it_falls_back_to_a_plain_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"content")
    path.chmod(stat.S_IRUSR)
    real = os.open
    flags_seen: list[int] = []

    def fake_open(p: str | Path, flags: int, *a: int) -> int:
        flags_seen.append(flags)
        if readonly._NOATIME and flags & readonly._NOATIME:
            raise PermissionError(1, "Operation not permitted")
        return real(p, flags, *a)

    monkeypatch.setattr(readonly.os, "open", fake_open)
    assert read_head(path, 4) == b"cont"
    fd = open_readonly_fd(path)
    try:
        assert os.read(fd, 100) == b"content"
    finally:
        os.close(fd)
    assert all(f & os.O_WRONLY == 0 and f & os.O_RDWR == 0 for f in flags_seen)
