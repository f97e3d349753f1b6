"""The framing shared by the shortlist index files (``VGI1``, ``VHE1``; never pickle)::

    4-byte magic | uint32 L | L bytes of UTF-8 JSON header | little-endian arrays, in order

Each format names its header fields and its array layout; this module writes the file
atomically, reads the frame back and slices the arrays, with the same errors for every format:
:class:`NotReady` (no file), :class:`WrongFormat` (another magic), :class:`DamagedInput` (bad
header, wrong length).
"""

from __future__ import annotations

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
