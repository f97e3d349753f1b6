"""Exact Hamming-distance indexes for 256-bit perceptual hashes (PDQ).

Two indexes with the same interface and the same results:

* :class:`LinearHammingIndex` compares the query with every entry (NumPy ``bitwise_count``). It
  is the *oracle*: simple enough to be obviously right.
* :class:`MihIndex` is **multi-index hashing** (Norouzi et al.): the 256 bits are cut into ``m``
  chunks of ``b`` bits, each with a direct-address table from chunk value to entry rows. By the
  generalised pigeonhole principle, if the chunk radii ``r_i`` satisfy ``sum(r_i + 1) > t`` then
  any entry within distance ``t`` of the query is within ``r_i`` of it in at least one chunk, so
  probing every chunk value within ``r_i`` of the query's chunk finds it. Every candidate is then
  verified with the full 256-bit distance, so the result is *exactly* the brute-force result set
  (``tests/index`` checks this with Hypothesis). Radii are chosen per query threshold to minimise
  the expected work; when probing would cost more than a scan (very large thresholds, tiny
  indexes) the query falls back to the linear scan, still exact.

The candidate check (bucket look-ups, candidate rows, XOR/popcount verification) runs compiled
with Numba (:mod:`vigil.index._mihkernel`, with software prefetching; ~3x faster at 10M hashes)
for indexes of :attr:`MihIndex.compiled_min` entries or more, and otherwise as a handful of
NumPy calls per *batch* of queries (``query_batch``), not per candidate. Both give exactly the
brute-force result set.

Values are PDQ's canonical 64-hex-digit strings; internally a hash is four big-endian 64-bit
words (word 0 holds bits 0..63, bit 0 being the most significant bit of the first hex digit).

On-disk format (``.vhix``, see ``docs/known-vs-fresh.md``; never pickle)::

    b"VIGILHIX"                      8 bytes magic
    header_len                       uint32 little-endian
    header                           header_len bytes of UTF-8 JSON:
        {"format": "vigil-hamming-index", "version": 1, "bits": 256, "count": N,
         "signal_type": "pdq", "payload_sha256": "<hex>", "meta": {...}}
    hashes                           N x 32 bytes, each hash big-endian (the hex digits' bytes)
    entry ids                        N x int64 little-endian

The multi-index tables are derived data and are rebuilt on load (deterministically).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from vigil.errors import IntegrityError, InvalidInput, WrongFormat
from vigil.index.base import IndexMatch

BITS = 256
WORDS = BITS // 64
MAGIC = b"VIGILHIX"
FORMAT_NAME = "vigil-hamming-index"
FORMAT_VERSION = 1

Words = npt.NDArray[np.uint64]
"""(N, 4) uint64: one 256-bit hash per row as big-endian words."""


def hex_to_words(values: Sequence[str]) -> Words:
    """Convert canonical 64-hex-digit strings to an (N, 4) uint64 array.

    Raises:
        InvalidInput: a value is not 64 hex digits.
    """
    try:
        raw = bytes.fromhex("".join(values))
    except ValueError as exc:
        raise InvalidInput(f"not hexadecimal hashes: {exc}") from exc
    if len(raw) != 32 * len(values) or any(len(v) != 64 for v in values):
        raise InvalidInput("every hash must be exactly 64 hex digits")
    return bytes_to_words(raw)


def bytes_to_words(raw: bytes | npt.NDArray[np.uint8]) -> Words:
    """Interpret consecutive 32-byte big-endian hashes as an (N, 4) uint64 array."""
    arr = np.frombuffer(raw, dtype=">u8") if isinstance(raw, bytes) else raw.view(">u8")
    return np.ascontiguousarray(arr.astype(np.uint64).reshape(-1, WORDS))


def words_to_bytes(words: Words) -> bytes:
    """The inverse of :func:`bytes_to_words`."""
    return np.ascontiguousarray(words, dtype=np.uint64).astype(">u8").tobytes()


def words_to_hex(words: Words) -> list[str]:
    """Canonical hex strings of an (N, 4) array."""
    raw = words_to_bytes(words)
    return [raw[i : i + 32].hex() for i in range(0, len(raw), 32)]


def hamming(a: Words, b: Words) -> npt.NDArray[np.int64]:
    """Row-wise Hamming distances of two broadcastable word arrays."""
    out: npt.NDArray[np.int64] = np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int64)
    return out


_ALL_64 = np.uint32(0x40404040)


def row_distances(a: Words, b: Words) -> npt.NDArray[np.int64]:
    """Hamming distances of two (k, 4) word arrays, row by row (the verification hot loop).

    ``bitwise_count`` gives four per-word counts (0..64) as bytes; viewing each row's four bytes
    as one uint32 and multiplying by 0x01010101 sums them in the top byte (a SWAR trick, ~9x
    faster than ``sum(axis=1)`` over four elements). The only sum that does not fit a byte is
    256 (all bits differ), which is fixed up explicitly.
    """
    x = np.bitwise_xor(a, b)
    counts = np.ascontiguousarray(np.bitwise_count(x)).view(np.uint32).ravel()
    out = ((counts * np.uint32(0x01010101)) >> np.uint32(24)).astype(np.int64)
    out[counts == _ALL_64] = BITS
    return out


def _check_threshold(max_distance: int | None, default: int) -> int:
    t = default if max_distance is None else max_distance
    if not 0 <= t <= BITS:
        raise InvalidInput(f"distance threshold must be within 0..{BITS}, got {t!r}")
    return int(t)


class LinearHammingIndex:
    """Brute-force exact index: the reference every faster index is tested against."""

    default_threshold = 31

    def __init__(self, words: Words, ids: npt.NDArray[np.int64]) -> None:
        if words.ndim != 2 or words.shape[1] != WORDS or len(words) != len(ids):
            raise InvalidInput("words must be (N, 4) and match ids")
        self.words = np.ascontiguousarray(words, dtype=np.uint64)
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)

    @classmethod
    def build(cls, entries: Iterable[tuple[str, int]]) -> Self:
        """Build from ``(hex, entry_id)`` pairs."""
        values, ids = _split(entries)
        return cls(hex_to_words(values), np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def query(self, value: str, *, max_distance: int | None = None) -> list[IndexMatch]:
        """Entries within ``max_distance`` (default 31) of ``value``, sorted by distance, id."""
        return self.query_batch([value], max_distance=max_distance)[0]

    def query_batch(
        self, values: Sequence[str] | Words, *, max_distance: int | None = None
    ) -> list[list[IndexMatch]]:
        """One result list per query value."""
        t = _check_threshold(max_distance, self.default_threshold)
        q = values if isinstance(values, np.ndarray) else hex_to_words(list(values))
        out: list[list[IndexMatch]] = []
        for row in q:
            rows, dist = _scan(self.words, row, t)
            out.append(_matches(self.ids[rows], dist))
        return out


def _scan(words: Words, query: Words, t: int, block: int = 1 << 20) -> tuple[Any, Any]:
    """Rows of ``words`` within ``t`` of one query row, with their distances."""
    rows_parts: list[npt.NDArray[np.int64]] = []
    dist_parts: list[npt.NDArray[np.int64]] = []
    for start in range(0, len(words), block):
        part = words[start : start + block]
        # prefix pruning: the first word alone already exceeds t for most rows
        d0 = np.bitwise_count(part[:, 0] ^ query[0]).astype(np.int64)
        cand = np.flatnonzero(d0 <= t)
        if len(cand) == 0:
            continue
        d = d0[cand] + hamming(part[cand, 1:], query[1:])
        keep = d <= t
        rows_parts.append(cand[keep] + start)
        dist_parts.append(d[keep])
    if not rows_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows_parts), np.concatenate(dist_parts)


def _matches(ids: npt.NDArray[np.int64], dist: npt.NDArray[np.int64]) -> list[IndexMatch]:
    order = np.lexsort((ids, dist))
    return [IndexMatch(int(ids[i]), int(dist[i])) for i in order]


def _split(entries: Iterable[tuple[str, int]]) -> tuple[list[str], list[int]]:
    values: list[str] = []
    ids: list[int] = []
    for value, entry_id in entries:
        values.append(value)
        ids.append(entry_id)
    return values, ids


@lru_cache(maxsize=256)
def _masks(bits: int, radius: int) -> npt.NDArray[np.int64]:
    """Every ``bits``-bit value with at most ``radius`` bits set (XOR masks for probing)."""
    out = [0]
    for k in range(1, radius + 1):
        for combo in combinations(range(bits), k):
            v = 0
            for bit in combo:
                v |= 1 << bit
            out.append(v)
    arr = np.asarray(out, dtype=np.int64)
    arr.setflags(write=False)
    return arr


def chunk_layout(n: int, chunks: int | None = None) -> list[tuple[int, int]]:
    """``(first bit, width)`` of each MIH chunk for ``n`` entries: about log2(n) bits each (8 to
    24, so each table has ~1 entry per value), at least 11 chunks.

    Raises:
        InvalidInput: ``chunks`` outside 1..32 or chunks wider than 32 bits.
    """
    if chunks is None:
        chunk_bits = min(24.0, max(8.0, math.log2(max(n, 2))))
        chunks = max(11, min(32, round(BITS / chunk_bits)))
    if not 1 <= chunks <= 32:
        raise InvalidInput(f"chunks must be within 1..32, got {chunks}")
    base, extra = divmod(BITS, chunks)
    widths = [base + (1 if i < extra else 0) for i in range(chunks)]
    if max(widths) > 32:
        raise InvalidInput("chunks of more than 32 bits are not supported")
    spans: list[tuple[int, int]] = []
    start = 0
    for width in widths:
        spans.append((start, width))
        start += width
    return spans


def table_dtypes(n: int, chunks: int) -> tuple[type[np.signedinteger[Any]], ...]:
    """Row and offset dtypes of the MIH tables: 32-bit while they fit."""
    return (np.int32 if n < 2**31 else np.int64, np.int32 if n * chunks < 2**31 else np.int64)


def chunk_table(
    words: Words,
    start: int,
    width: int,
    row_base: int,
    rows_out: npt.NDArray[Any],
    offsets_out: npt.NDArray[Any],
) -> None:
    """Fill one chunk's tables: the rows sorted (stably) by their chunk value, and for each value
    ``v`` the start of its rows, ``offsets_out[v] - row_base`` (``offsets_out`` has 2**width + 1
    slots, the last one the end)."""
    keys = MihIndex._chunk_keys(words, start, width).astype(np.uint32)
    rows_out[:] = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=1 << width)
    del keys
    offsets_out[0] = 0
    np.cumsum(counts, out=offsets_out[1:])
    offsets_out += np.asarray(row_base, dtype=offsets_out.dtype)


@lru_cache(maxsize=1)
def _compiled_kernel() -> Any:
    """The compiled kernel module, or None where Numba is not installed (NumPy path then)."""
    try:
        from vigil.index import _mihkernel
    except ImportError:  # pragma: no cover - numba is a dependency; this keeps a fallback
        return None
    return _mihkernel


def _probes(bits: int, radius: int) -> int:
    return sum(math.comb(bits, k) for k in range(radius + 1))


class MihIndex:
    """Exact multi-index-hashing index over 256-bit hashes (see the module docstring)."""

    default_threshold = 31
    max_probes = 60_000
    """Above this many probes per query the linear scan is used instead (still exact)."""
    batch = 48
    """Queries searched together: larger batches spill the CPU caches and get slower."""
    compiled: bool | None = None
    """Use the compiled candidate check (:mod:`vigil.index._mihkernel`, Numba; ~3.5x faster at
    10M hashes, same results): True always, False never (the NumPy path), None (default) from
    :attr:`compiled_min` entries on, where it pays for importing Numba (~1 s per process)."""
    compiled_min = 100_000
    kernel_block = 8
    """Queries per block inside the compiled kernel (its scratch arrays stay in the L2 cache)."""

    def __init__(
        self, words: Words, ids: npt.NDArray[np.int64], *, chunks: int | None = None
    ) -> None:
        if words.ndim != 2 or words.shape[1] != WORDS or len(words) != len(ids):
            raise InvalidInput("words must be (N, 4) and match ids")
        self.words = np.ascontiguousarray(words, dtype=np.uint64)
        self.ids = np.ascontiguousarray(ids, dtype=np.int64)
        n = len(self.ids)
        self.chunk_spans: list[tuple[int, int]] = chunk_layout(n, chunks)
        row_dtype, offs_dtype = table_dtypes(n, len(self.chunk_spans))
        # flat tables filled in place (no per-chunk copies: peak memory stays near the final)
        sizes = [(1 << width) + 1 for _s, width in self.chunk_spans]
        table_base = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._offsets: npt.NDArray[Any] = np.empty(int(sum(sizes)), dtype=offs_dtype)
        self._rows: npt.NDArray[Any] = np.empty(n * len(self.chunk_spans), dtype=row_dtype)
        for i, (s, width) in enumerate(self.chunk_spans):
            base = int(table_base[i])
            chunk_table(
                self.words,
                s,
                width,
                i * n,
                self._rows[i * n : (i + 1) * n],
                self._offsets[base : base + (1 << width) + 1],
            )
        self._table_base = table_base
        self._plans: dict[int, list[tuple[int, int]] | None] = {}
        self._kernel_args: dict[tuple[tuple[int, int], ...], tuple[Any, ...]] = {}

    @classmethod
    def from_tables(
        cls,
        words: Words,
        ids: npt.NDArray[np.int64],
        chunk_spans: Sequence[tuple[int, int]],
        offsets: npt.NDArray[Any],
        rows: npt.NDArray[Any],
    ) -> Self:
        """An index over tables built earlier (e.g. memory-mapped from a ``.vmih`` file).

        The arrays are used as they are (no copy), so a read-only memory map stays shared
        between every process that opens the same file.
        """
        n = len(ids)
        if words.shape != (n, WORDS) or len(rows) != n * len(chunk_spans):
            raise IntegrityError("index tables do not match the entry count")
        sizes = [(1 << width) + 1 for _s, width in chunk_spans]
        if len(offsets) != sum(sizes):
            raise IntegrityError("index offset table has the wrong size")
        index = cls.__new__(cls)
        index.words = words
        index.ids = ids
        index.chunk_spans = [(int(s), int(w)) for s, w in chunk_spans]
        index._offsets = offsets
        index._rows = rows
        index._table_base = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        index._plans = {}
        index._kernel_args = {}
        return index

    @classmethod
    def build(cls, entries: Iterable[tuple[str, int]]) -> Self:
        """Build from ``(hex, entry_id)`` pairs."""
        values, ids = _split(entries)
        return cls(hex_to_words(values), np.asarray(ids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def search_batch(self) -> int:
        """How many queries to hand :meth:`search_arrays` at once: the NumPy path is fastest on
        small batches (its temporaries stay in cache), the compiled one blocks internally."""
        if self._use_compiled() and _compiled_kernel() is not None:
            return 4096
        return self.batch

    def _use_compiled(self) -> bool:
        if self.compiled is None:
            return len(self.ids) >= self.compiled_min
        return self.compiled

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays."""
        return int(self.words.nbytes + self.ids.nbytes + self._offsets.nbytes + self._rows.nbytes)

    @staticmethod
    def _chunk_keys(words: Words, start: int, width: int) -> npt.NDArray[np.int64]:
        end = start + width
        w0, w1 = start // 64, (end - 1) // 64
        if w0 == w1:
            shift = np.uint64(64 - (end - 64 * w0))
            mask = np.uint64((1 << width) - 1)
            keys = (words[:, w0] >> shift) & mask
        else:
            n_hi = 64 * (w0 + 1) - start
            n_lo = end - 64 * w1
            hi = words[:, w0] & np.uint64((1 << n_hi) - 1)
            keys = (hi << np.uint64(n_lo)) | (words[:, w1] >> np.uint64(64 - n_lo))
        return keys.astype(np.int64)

    def plan(self, t: int) -> list[tuple[int, int]] | None:
        """``(chunk, radius)`` pairs probed for threshold ``t``; None means "scan instead".

        Greedy on the expected cost (probes plus expected candidates) under the constraint
        ``sum(radius + 1) >= t + 1`` over the probed chunks, which is what exactness needs.
        """
        if t in self._plans:
            return self._plans[t]
        n = max(len(self.ids), 1)
        radius = [-1] * len(self.chunk_spans)

        def step_cost(i: int) -> float:
            width = self.chunk_spans[i][1]
            r = radius[i] + 1
            if r > width:
                return math.inf
            return math.comb(width, r) * (1.0 + n / float(1 << width))

        for _ in range(t + 1):
            best = min(range(len(radius)), key=step_cost)
            if math.isinf(step_cost(best)):
                self._plans[t] = None
                return None
            radius[best] += 1
        result = [(i, r) for i, r in enumerate(radius) if r >= 0]
        probes = sum(_probes(self.chunk_spans[i][1], r) for i, r in result)
        expected = sum(
            _probes(self.chunk_spans[i][1], r) * n / float(1 << self.chunk_spans[i][1])
            for i, r in result
        )
        # a scan touches every row once, sequentially: far cheaper per row than a random probe
        plan = None if probes > self.max_probes or probes + expected > n / 8 else result
        self._plans[t] = plan
        return plan

    def query(self, value: str, *, max_distance: int | None = None) -> list[IndexMatch]:
        """Entries within ``max_distance`` (default 31) of ``value``, sorted by distance, id."""
        return self.query_batch([value], max_distance=max_distance)[0]

    def query_batch(
        self, values: Sequence[str] | Words, *, max_distance: int | None = None
    ) -> list[list[IndexMatch]]:
        """One result list per query value (vectorised over the batch)."""
        t = _check_threshold(max_distance, self.default_threshold)
        q = values if isinstance(values, np.ndarray) else hex_to_words(list(values))
        q = np.ascontiguousarray(q, dtype=np.uint64)
        plan = self.plan(t)
        if plan is None:
            out: list[list[IndexMatch]] = []
            for row in q:
                rows, dist = _scan(self.words, row, t)
                out.append(_matches(self.ids[rows], dist))
            return out
        step = self.search_batch
        parts = [
            self.search_arrays(q[start : start + step], t, plan) for start in range(0, len(q), step)
        ]
        qi = np.concatenate(
            [p[0] + start for p, start in zip(parts, range(0, len(q), step), strict=True)]
        )
        rows = np.concatenate([p[1] for p in parts])
        dist = np.concatenate([p[2] for p in parts])
        return self._group(len(q), qi, rows, dist)

    def search_arrays(
        self, q: Words, t: int, plan: list[tuple[int, int]] | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(query index, row, distance) triples of all matches, without duplicates."""
        plan = self.plan(t) if plan is None else plan
        if plan is None:
            parts = [(_scan(self.words, row, t), i) for i, row in enumerate(q)]
            qi = np.concatenate([np.full(len(r), i, np.int64) for (r, _d), i in parts])
            rows = np.concatenate([r for (r, _d), _i in parts])
            dist = np.concatenate([d for (_r, d), _i in parts])
            return qi, rows, dist
        kernel = _compiled_kernel() if self._use_compiled() else None
        if kernel is not None:
            return self._search_compiled(kernel, q, t, plan)
        nq = len(q)
        probe_keys = []
        for chunk, r in plan:
            s, width = self.chunk_spans[chunk]
            keys = self._chunk_keys(q, s, width)
            probe_keys.append((keys[:, None] ^ _masks(width, r)[None, :]) + self._table_base[chunk])
        probes = np.concatenate(probe_keys, axis=1)
        per_query = probes.shape[1]
        probes = probes.ravel()
        start = self._offsets[probes]
        counts = (self._offsets[probes + 1] - start).astype(np.int64)
        nz = np.flatnonzero(counts)
        if len(nz) == 0:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        counts = counts[nz]
        start = start[nz].astype(np.int64)
        total = int(counts.sum())
        ends = np.cumsum(counts)
        idx = np.repeat(start - (ends - counts), counts) + np.arange(total, dtype=np.int64)
        rows = self._rows[idx]
        qi = np.repeat(nz // per_query, counts)
        dist = row_distances(np.take(self.words, rows, axis=0), np.take(q, qi, axis=0))
        keep = dist <= t
        qi, rows, dist = qi[keep], rows[keep].astype(np.int64), dist[keep]
        if len(qi) > 1:
            pair = qi * len(self.ids) + rows
            _, first = np.unique(pair, return_index=True)
            qi, rows, dist = qi[first], rows[first], dist[first]
        del nq
        return qi, rows, dist

    def _search_compiled(
        self, kernel: Any, q: Words, t: int, plan: list[tuple[int, int]]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        key = tuple(plan)
        args = self._kernel_args.get(key)
        if args is None:
            pbase = np.asarray([self._table_base[c] for c, _r in plan], np.int64)
            pradius = np.asarray([r for _c, r in plan], np.int64)
            mask_parts = [_masks(self.chunk_spans[c][1], r) for c, r in plan]
            moff = np.concatenate([[0], np.cumsum([len(m) for m in mask_parts])]).astype(np.int64)
            cmask = np.zeros((len(plan), WORDS), np.uint64)
            for i, (c, _r) in enumerate(plan):
                s, width = self.chunk_spans[c]
                for bit in range(s, s + width):
                    cmask[i, bit // 64] |= np.uint64(1) << np.uint64(63 - bit % 64)
            args = (pbase, pradius, moff, np.concatenate(mask_parts), cmask)
            self._kernel_args[key] = args
        pbase, pradius, moff, masks, cmask = args
        q = np.ascontiguousarray(q, dtype=np.uint64)
        qkeys = np.empty((len(q), len(plan)), np.int64)
        for i, (c, _r) in enumerate(plan):
            s, width = self.chunk_spans[c]
            qkeys[:, i] = self._chunk_keys(q, s, width)
        qi, rows, dist = kernel.search(
            q,
            qkeys,
            t,
            pbase,
            pradius,
            moff,
            masks,
            cmask,
            np.asarray(self._offsets),
            np.asarray(self._rows),
            np.asarray(self.words),
            self.kernel_block,
        )
        order = np.lexsort((rows, qi))
        return qi[order], rows[order], dist[order]

    def _group(
        self,
        nq: int,
        qi: npt.NDArray[np.int64],
        rows: npt.NDArray[np.int64],
        dist: npt.NDArray[np.int64],
    ) -> list[list[IndexMatch]]:
        out: list[list[IndexMatch]] = [[] for _ in range(nq)]
        if len(qi) == 0:
            return out
        ids = self.ids[rows]
        order = np.lexsort((ids, dist, qi))
        for k in order:
            out[int(qi[k])].append(IndexMatch(int(ids[k]), int(dist[k])))
        return out

    # --- persistence (documented format, never pickle) ------------------------------------
    def save(
        self, path: Path, *, signal_type: str = "pdq", meta: dict[str, Any] | None = None
    ) -> None:
        """Write the index file (see the module docstring for the format)."""
        save_hashes(path, self.words, self.ids, signal_type=signal_type, meta=meta)

    @classmethod
    def load(cls, path: Path) -> tuple[Self, dict[str, Any]]:
        """Read an index file written by :meth:`save`; returns the index and its header."""
        words, ids, header = load_hashes(path)
        return cls(words, ids), header


def save_hashes(
    path: Path,
    words: Words,
    ids: npt.NDArray[np.int64],
    *,
    signal_type: str = "pdq",
    meta: dict[str, Any] | None = None,
) -> None:
    """Write hashes and entry ids in the ``.vhix`` format, atomically (temp file + rename)."""
    payload_hashes = words_to_bytes(words)
    payload_ids = np.ascontiguousarray(ids, dtype="<i8").tobytes()
    digest = hashlib.sha256(payload_hashes + payload_ids).hexdigest()
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "bits": BITS,
        "count": len(ids),
        "signal_type": signal_type,
        "payload_sha256": digest,
        "meta": meta or {},
    }
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(MAGIC)
        fh.write(struct.pack("<I", len(head)))
        fh.write(head)
        fh.write(payload_hashes)
        fh.write(payload_ids)
    tmp.replace(path)


def load_hashes(path: Path) -> tuple[Words, npt.NDArray[np.int64], dict[str, Any]]:
    """Read and verify a ``.vhix`` file.

    Raises:
        WrongFormat: not a Vigil Hamming index file.
        IntegrityError: the file is truncated, altered or of an unknown version.
    """
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise WrongFormat(f"{path}: not a Vigil Hamming index file")
    if len(data) < len(MAGIC) + 4:
        raise IntegrityError(f"{path}: truncated header")
    (head_len,) = struct.unpack_from("<I", data, len(MAGIC))
    head_end = len(MAGIC) + 4 + head_len
    try:
        header = json.loads(data[len(MAGIC) + 4 : head_end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{path}: unreadable header: {exc}") from exc
    if header.get("format") != FORMAT_NAME or header.get("version") != FORMAT_VERSION:
        raise IntegrityError(f"{path}: unsupported index format {header.get('version')!r}")
    if header.get("bits") != BITS:
        raise IntegrityError(f"{path}: unsupported hash width {header.get('bits')!r}")
    n = int(header.get("count", -1))
    payload = data[head_end:]
    if n < 0 or len(payload) != n * 40:
        raise IntegrityError(f"{path}: expected {n} entries, payload has {len(payload)} bytes")
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise IntegrityError(f"{path}: payload checksum mismatch (file altered or damaged)")
    words = bytes_to_words(payload[: n * 32])
    ids = np.frombuffer(payload[n * 32 :], dtype="<i8").astype(np.int64)
    return words, ids, header
