"""Memory-mapped multi-index-hashing files (``.vmih``): open a 100M-hash index in seconds, once.

A ``.vhix`` file holds only hashes and entry ids; the MIH tables are rebuilt on every load (11
stable argsorts over N keys: ~1 s per million hashes here, and a private copy of ~15 bytes per
hash and chunk in each process). At national scale (10^8 hashes) that is minutes and ~10 GB per
process. A ``.vmih`` file stores the built tables too, each section aligned to 4 KiB, so
:func:`open_mapped` maps them read-only with ``numpy.memmap``: nothing is rebuilt, and every
process that opens the same file (web workers, CLI runs, matching jobs) shares one copy in the
page cache instead of holding its own.

Layout (little-endian; never pickle)::

    b"VIGILMIH"          8 bytes magic
    header_len           uint32
    header               UTF-8 JSON, padded with spaces to DATA_START - 12 bytes:
        {"format": "vigil-mih-index", "version": 1, "bits": 256, "count": N,
         "signal_type": "pdq", "chunk_spans": [[start, width], ...], "meta": {...},
         "sections": {"words"|"ids"|"rows"|"offsets":
                      {"offset": o, "dtype": "<u8", "shape": [...], "sha256": "<hex>"}}}
    sections             at 4 KiB-aligned offsets from DATA_START on

Integrity: every section carries its SHA-256; :func:`open_mapped` checks them by default (a
streaming read, ~1 GB/s), and ``verify=False`` skips that for a file checked earlier in the same
deployment. Truncated, altered or foreign files raise :class:`~vigil.errors.IntegrityError` /
:class:`~vigil.errors.WrongFormat`, and the caller rebuilds from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import IntegrityError, WrongFormat
from vigil.index.hamming import BITS, WORDS, MihIndex, chunk_layout, chunk_table, table_dtypes

MAGIC = b"VIGILMIH"
FORMAT_NAME = "vigil-mih-index"
FORMAT_VERSION = 1
ALIGN = 4096
DATA_START = 64 * 1024
"""Bytes reserved for magic + header; the first section starts here."""
_HASH_CHUNK = 64 * 1024 * 1024


def _bytes(arr: npt.NDArray[Any]) -> memoryview:
    """A flat byte view of a contiguous array (no copy; empty arrays included)."""
    flat: Any = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    return memoryview(flat)


def _sha256(arr: npt.NDArray[Any]) -> str:
    view = _bytes(arr)
    h = hashlib.sha256()
    for start in range(0, len(view), _HASH_CHUNK):
        h.update(view[start : start + _HASH_CHUNK])
    return h.hexdigest()


def _little(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))


def save_mapped(
    index: MihIndex, path: Path, *, signal_type: str = "pdq", meta: dict[str, Any] | None = None
) -> int:
    """Write ``index`` with its tables as a ``.vmih`` file (atomically); returns its size."""
    sections = {
        "words": _little(index.words),
        "ids": _little(index.ids),
        "rows": _little(index._rows),
        "offsets": _little(index._offsets),
    }
    layout: dict[str, dict[str, Any]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        pos = DATA_START
        for name, arr in sections.items():
            fh.seek(pos)
            view = _bytes(arr)
            for start in range(0, len(view), _HASH_CHUNK):
                fh.write(view[start : start + _HASH_CHUNK])
            layout[name] = {
                "offset": pos,
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "sha256": _sha256(arr),
            }
            pos = -(-(pos + arr.nbytes) // ALIGN) * ALIGN
        fh.truncate(pos)
        _write_header(fh, len(index.ids), index.chunk_spans, signal_type, meta, layout)
    tmp.replace(path)
    return pos


def build_mapped(
    words: npt.NDArray[np.uint64],
    ids: npt.NDArray[np.int64],
    path: Path,
    *,
    chunks: int | None = None,
    signal_type: str = "pdq",
    meta: dict[str, Any] | None = None,
) -> int:
    """Build the index straight into a ``.vmih`` file, one chunk table at a time; returns its
    size. The file is byte-for-byte what ``save_mapped(MihIndex(words, ids), path)`` writes, but
    the row tables (~44 bytes per hash) are never all in memory: the peak is the hashes and ids
    plus one chunk's sort (~16 bytes per hash) and the offset tables, so a 100M-hash index can
    be built on a machine that could not hold it. Open it with :func:`open_mapped`.
    """
    words = np.ascontiguousarray(words, dtype=np.uint64)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if words.ndim != 2 or words.shape[1] != WORDS or len(words) != len(ids):
        raise IntegrityError("words must be (N, 4) and match ids")
    n = len(ids)
    spans = chunk_layout(n, chunks)
    row_dtype, offs_dtype = table_dtypes(n, len(spans))
    sizes = [(1 << width) + 1 for _s, width in spans]
    offsets = np.empty(int(sum(sizes)), dtype=offs_dtype)
    layout: dict[str, dict[str, Any]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        pos = DATA_START

        def write(name: str, parts: Any, dtype: np.dtype[Any], shape: list[int]) -> None:
            nonlocal pos
            fh.seek(pos)
            digest = hashlib.sha256()
            nbytes = 0
            for part in parts:
                view = _bytes(_little(part))
                for start in range(0, len(view), _HASH_CHUNK):
                    fh.write(view[start : start + _HASH_CHUNK])
                    digest.update(view[start : start + _HASH_CHUNK])
                nbytes += len(view)
            layout[name] = {
                "offset": pos,
                "dtype": np.dtype(dtype).newbyteorder("<").str,
                "shape": shape,
                "sha256": digest.hexdigest(),
            }
            pos = -(-(pos + nbytes) // ALIGN) * ALIGN

        def row_tables() -> Any:
            base = 0
            for i, (s, width) in enumerate(spans):
                part = np.empty(n, dtype=row_dtype)
                chunk_table(words, s, width, i * n, part, offsets[base : base + sizes[i]])
                base += sizes[i]
                yield part
                del part

        write("words", [words], words.dtype, [n, WORDS])
        write("ids", [ids], ids.dtype, [n])
        write("rows", row_tables(), np.dtype(row_dtype), [n * len(spans)])
        write("offsets", [offsets], offsets.dtype, [len(offsets)])
        fh.truncate(pos)
        _write_header(fh, n, spans, signal_type, meta, layout)
    tmp.replace(path)
    return pos


def _write_header(
    fh: Any,
    n: int,
    spans: list[tuple[int, int]],
    signal_type: str,
    meta: dict[str, Any] | None,
    layout: dict[str, dict[str, Any]],
) -> None:
    header = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "bits": BITS,
        "count": n,
        "signal_type": signal_type,
        "chunk_spans": [list(span) for span in spans],
        "meta": meta or {},
        "sections": layout,
    }
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    if len(MAGIC) + 4 + len(head) > DATA_START:
        raise IntegrityError("index header too large for the reserved space")
    fh.seek(0)
    fh.write(MAGIC + struct.pack("<I", len(head)) + head)
    fh.flush()
    os.fsync(fh.fileno())


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a ``.vmih`` file.

    Raises:
        WrongFormat: not a Vigil MIH file.
        IntegrityError: a damaged header or an unsupported version.
    """
    with path.open("rb") as fh:
        head = fh.read(DATA_START)
    if not head.startswith(MAGIC):
        raise WrongFormat(f"{path}: not a Vigil memory-mapped index file")
    if len(head) < len(MAGIC) + 4:
        raise IntegrityError(f"{path}: truncated header")
    (n,) = struct.unpack_from("<I", head, len(MAGIC))
    try:
        header: dict[str, Any] = json.loads(head[len(MAGIC) + 4 : len(MAGIC) + 4 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{path}: unreadable header: {exc}") from exc
    if header.get("format") != FORMAT_NAME or header.get("version") != FORMAT_VERSION:
        raise IntegrityError(f"{path}: unsupported index format {header.get('version')!r}")
    if header.get("bits") != BITS:
        raise IntegrityError(f"{path}: unsupported hash width {header.get('bits')!r}")
    return header


def open_mapped(path: Path, *, verify: bool = True) -> tuple[MihIndex, dict[str, Any]]:
    """Map a ``.vmih`` file read-only and return the index over it, with its header.

    Raises:
        WrongFormat: not a Vigil MIH file.
        IntegrityError: truncated, altered (a section's SHA-256 differs) or inconsistent.
    """
    header = read_header(path)
    size = path.stat().st_size
    arrays: dict[str, npt.NDArray[Any]] = {}
    try:
        for name in ("words", "ids", "rows", "offsets"):
            spec = header["sections"][name]
            dtype = np.dtype(spec["dtype"])
            shape = tuple(int(x) for x in spec["shape"])
            offset = int(spec["offset"])
            nbytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
            if offset < DATA_START or offset + nbytes > size:
                raise IntegrityError(f"{path}: section {name} lies outside the file")
            arr: npt.NDArray[Any] = (
                np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
                if nbytes
                else np.empty(shape, dtype)
            )
            if verify and _sha256(arr) != spec["sha256"]:
                raise IntegrityError(f"{path}: section {name} fails its checksum (altered)")
            arrays[name] = arr
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{path}: inconsistent header: {exc}") from exc
    words = arrays["words"]
    if words.dtype != np.dtype("<u8") or words.ndim != 2 or words.shape[1] != WORDS:
        raise IntegrityError(f"{path}: hashes are not (N, 4) little-endian uint64")
    spans = [(int(s), int(w)) for s, w in header.get("chunk_spans", [])]
    if not spans or sum(w for _s, w in spans) != BITS:
        raise IntegrityError(f"{path}: chunk layout does not cover {BITS} bits")
    index = MihIndex.from_tables(words, arrays["ids"], spans, arrays["offsets"], arrays["rows"])
    return index, header
