"""The memory-mapped MIH file (``.vmih``) gives exactly the brute-force results, refuses damage,
and is what the hash-set matcher caches (several processes share one mapped copy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.errors import IntegrityError, WrongFormat
from vigil.index.hamming import LinearHammingIndex, MihIndex, hex_to_words, words_to_hex
from vigil.index.mapped import DATA_START, build_mapped, open_mapped, read_header, save_mapped

hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)


def _planted(n: int, seed: int = 3) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**63, size=(n, 4), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    base = words_to_hex(words)
    queries = []
    for i in range(0, n, max(1, n // 40)):
        q = int(base[i], 16)
        for b in rng.choice(256, int(rng.integers(0, 40)), replace=False):
            q ^= 1 << int(b)
        queries.append(f"{q:064x}")
    return base, queries


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize("t", [0, 8, 31, 48])
def test_mapped_equals_oracle(tmp_path: Path, t: int, compiled: bool) -> None:
    base, queries = _planted(5000)
    entries = [(h, 10 + i) for i, h in enumerate(base)]
    path = tmp_path / "x.vmih"
    size = save_mapped(MihIndex.build(entries), path, meta={"k": 1})
    assert path.stat().st_size == size
    mapped, header = open_mapped(path)
    assert header["count"] == 5000 and header["meta"] == {"k": 1}
    assert isinstance(mapped.words, np.memmap)  # not copied into the process
    mapped.compiled = compiled
    expected = LinearHammingIndex.build(entries).query_batch(queries, max_distance=t)
    assert mapped.query_batch(queries, max_distance=t) == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.lists(hashes, min_size=0, max_size=60), queries=st.lists(hashes, min_size=1, max_size=5)
)
def test_mapped_round_trip_any_size(tmp_path: Path, base: list[str], queries: list[str]) -> None:
    entries = [(h, i) for i, h in enumerate(base)]
    path = tmp_path / "y.vmih"
    save_mapped(MihIndex.build(entries), path)
    mapped, _ = open_mapped(path)
    assert len(mapped) == len(base)
    oracle = LinearHammingIndex.build(entries)
    assert mapped.query_batch(queries, max_distance=64) == oracle.query_batch(
        queries, max_distance=64
    )


def test_damage_is_refused(tmp_path: Path) -> None:
    base, _ = _planted(300)
    path = tmp_path / "z.vmih"
    save_mapped(MihIndex.build([(h, i) for i, h in enumerate(base)]), path)
    data = bytearray(path.read_bytes())
    data[DATA_START + 5] ^= 0x01  # one bit of one hash
    bad = tmp_path / "bad.vmih"
    bad.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="words fails its checksum"):
        open_mapped(bad)
    open_mapped(bad, verify=False)  # an operator may skip the check for a verified file
    short = tmp_path / "short.vmih"
    short.write_bytes(path.read_bytes()[: DATA_START + 100])
    with pytest.raises(IntegrityError, match="outside the file"):
        open_mapped(short)
    other = tmp_path / "other.bin"
    other.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(WrongFormat):
        read_header(other)


def test_another_process_opens_the_same_file(tmp_path: Path) -> None:
    base, queries = _planted(2000)
    path = tmp_path / "shared.vmih"
    save_mapped(MihIndex.build([(h, i) for i, h in enumerate(base)]), path)
    code = (
        "import sys; from pathlib import Path; from vigil.index.mapped import open_mapped;"
        "ix, _ = open_mapped(Path(sys.argv[1]), verify=False);"
        "print(len(ix.query(sys.argv[2], max_distance=40)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), queries[0]],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(out.stdout) >= 1


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(base=st.lists(hashes, min_size=0, max_size=80), chunks=st.sampled_from([None, 16, 32]))
def test_streamed_build_writes_the_same_file(
    tmp_path: Path, base: list[str], chunks: int | None
) -> None:
    """build_mapped (one chunk table at a time, straight to disk) == save_mapped(MihIndex)."""
    words = hex_to_words(base) if base else np.empty((0, 4), np.uint64)
    ids = np.arange(len(base), dtype=np.int64) * 3
    a, b = tmp_path / "a.vmih", tmp_path / "b.vmih"
    size = build_mapped(words, ids, a, chunks=chunks, meta={"m": 1})
    save_mapped(MihIndex(words, ids, chunks=chunks), b, meta={"m": 1})
    assert size == a.stat().st_size
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_streamed_build_equals_oracle(tmp_path: Path, compiled: bool) -> None:
    base, queries = _planted(30_000)
    words = hex_to_words(base)
    ids = np.arange(len(base), dtype=np.int64) + 7
    path = tmp_path / "s.vmih"
    build_mapped(words, ids, path)
    mapped, header = open_mapped(path)
    assert header["count"] == 30_000
    mapped.compiled = compiled
    oracle = LinearHammingIndex(words, ids)
    for t in (0, 31, 32):
        assert mapped.plan(t) is not None
        assert mapped.query_batch(queries, max_distance=t) == oracle.query_batch(
            queries, max_distance=t
        )
