"""The framing shared by the shortlist index files (``VGI1``; ``VHE2`` below; never pickle)::

    4-byte magic | uint32 L | L bytes of UTF-8 JSON header | little-endian arrays, in order

Each format names its header fields and its array layout; this module writes the file
atomically, reads the frame back and slices the arrays, with the same errors for every format:
:class:`NotReady` (no file), :class:`WrongFormat` (another magic), :class:`DamagedInput` (bad
header, wrong length).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import DamagedInput, NotReady, WrongFormat

Layout = Sequence[tuple[str, int, str]]
"""(name, element count, little-endian dtype) of each array, in file order."""


def write(
    path: Path, magic: bytes, header: dict[str, Any], arrays: Sequence[tuple[npt.ArrayLike, str]]
) -> None:
    """Write ``magic``, the JSON ``header`` and each (array, dtype) to ``path`` atomically."""
    head = json.dumps(header, sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(magic + struct.pack("<I", len(head)) + head)
        for arr, dtype in arrays:
            fh.write(np.ascontiguousarray(arr, dtype).tobytes())
    os.replace(tmp, path)


def read(path: Path, magic: bytes) -> tuple[dict[str, Any], bytes, int]:
    """The header, the whole file and the offset where the arrays start."""
    name = magic.decode()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotReady(f"no scene index at {path}: run `vigil places index`") from None
    if data[:4] != magic or len(data) < 8:
        raise WrongFormat(f"{path}: not a {name} scene index")
    (hlen,) = struct.unpack_from("<I", data, 4)
    try:
        header = json.loads(data[8 : 8 + hlen])
    except ValueError as exc:
        raise DamagedInput(f"{path}: bad {name} header: {exc}") from exc
    if not isinstance(header, dict):
        raise DamagedInput(f"{path}: bad {name} header: not an object")
    return header, data, 8 + hlen


def arrays(
    path: Path, magic: bytes, data: bytes, offset: int, layout: Layout
) -> dict[str, npt.NDArray[Any]]:
    """Slice the arrays of ``layout`` (read-only views) after checking the file's length."""
    size = sum(count * np.dtype(dt).itemsize for _, count, dt in layout)
    if len(data) != offset + size:
        raise DamagedInput(f"{path}: {magic.decode()} file is truncated or has trailing bytes")
    out: dict[str, npt.NDArray[Any]] = {}
    for name, count, dt in layout:
        out[name] = np.frombuffer(data, dtype=dt, count=count, offset=offset)
        offset += count * np.dtype(dt).itemsize
    return out


# --- aligned, checksummed sections (``VHE2``): mapped, not read ---------------------------------

ALIGN = 4096
DATA_START = 16 * 1024
"""Bytes reserved for magic + header; the first section starts here (as in ``.vmih`` files,
:mod:`vigil.index.mapped`)."""
_CHUNK = 64 * 1024 * 1024


def section_offsets(sizes: Sequence[tuple[str, int]]) -> dict[str, int]:
    """File offset of each (name, byte size) section, in order, each aligned to ``ALIGN``."""
    out: dict[str, int] = {}
    pos = DATA_START
    for name, nbytes in sizes:
        out[name] = pos
        pos = -(-(pos + nbytes) // ALIGN) * ALIGN
    out[""] = pos
    return out


def write_header(fh: Any, magic: bytes, header: dict[str, Any]) -> None:
    """Write ``magic``, the header length and the JSON header at the start of ``fh``."""
    head = json.dumps(header, sort_keys=True).encode()
    if len(magic) + 4 + len(head) > DATA_START:
        raise DamagedInput("index header too large for the reserved space")
    fh.seek(0)
    fh.write(magic + struct.pack("<I", len(head)) + head)


def read_header(path: Path, magic: bytes) -> dict[str, Any]:
    """The JSON header of a sectioned file (only its first ``DATA_START`` bytes are read)."""
    name = magic.decode()
    try:
        with path.open("rb") as fh:
            head = fh.read(DATA_START)
    except FileNotFoundError:
        raise NotReady(f"no scene index at {path}: run `vigil places index`") from None
    if head[:4] != magic or len(head) < 8:
        raise WrongFormat(f"{path}: not a {name} scene index")
    (hlen,) = struct.unpack_from("<I", head, 4)
    try:
        header = json.loads(head[8 : 8 + hlen])
    except ValueError as exc:
        raise DamagedInput(f"{path}: bad {name} header: {exc}") from exc
    if not isinstance(header, dict):
        raise DamagedInput(f"{path}: bad {name} header: not an object")
    return header


def checked_sections(
    path: Path, magic: bytes, specs: dict[str, Any], layout: Layout, *, verify: bool = True
) -> dict[str, npt.NDArray[Any]]:
    """Map each section of ``layout`` read-only (``numpy.memmap``) after checking that it lies
    in the file and (``verify``) that its SHA-256 matches the header's.

    The checksum is computed with plain reads, not through the mapping, so checking a large
    index does not leave its pages in this process's resident set."""
    name = magic.decode()
    size = path.stat().st_size
    out: dict[str, npt.NDArray[Any]] = {}
    with path.open("rb") as fh:
        for sec, count, dt in layout:
            try:
                spec = specs[sec]
                offset, digest = int(spec["offset"]), str(spec["sha256"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DamagedInput(f"{path}: bad {name} header: section {sec}: {exc}") from exc
            nbytes = count * np.dtype(dt).itemsize
            if offset < DATA_START or offset + nbytes > size:
                raise DamagedInput(f"{path}: {name} file is truncated (section {sec})")
            if verify:
                h = hashlib.sha256()
                fh.seek(offset)
                left = nbytes
                while left:
                    block = fh.read(min(_CHUNK, left))
                    if not block:
                        raise DamagedInput(f"{path}: {name} file is truncated (section {sec})")
                    h.update(block)
                    left -= len(block)
                if h.hexdigest() != digest:
                    raise DamagedInput(f"{path}: {name} section {sec} fails its checksum")
            out[sec] = (
                np.memmap(path, dtype=dt, mode="r", offset=offset, shape=(count,))
                if count
                else np.zeros(0, dt)
            )
    return out
