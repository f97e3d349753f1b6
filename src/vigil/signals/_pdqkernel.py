"""Compiled (Numba) PDQ: the same float32 arithmetic as ``pdqhash.compute``, cache-friendly.

``pdqhash.compute`` (Meta's C++ core behind a Cython wrapper) spends most of its time outside
the hash itself at phone sizes: the wrapper computes the luma with float64 NumPy temporaries,
and the C++ Jarosz tent filter runs its two column passes down one column at a time (a stride
of a whole row per step, so nearly every read misses the cache), over every pixel, although
only 64 x 64 filtered samples are kept. Here the same operations, in the same order and the same
precision, are scheduled differently:

* the luma (float64 products summed left to right, rounded to float32, as the wrapper does) is
  computed row by row straight into the first box pass along the rows;
* a column pass keeps one running sum per column and walks down the rows, so it reads memory
  in order; each column's sum sees the same additions and subtractions in the same order as
  the C++ loop, so every value is bit-identical;
* box passes along the rows run several rows side by side (independent running sums, so the
  CPU overlaps them) instead of one dependent chain at a time;
* the second pass along the rows keeps only the 64 columns the decimation samples, and the
  second column pass only those columns (each column pass is independent of other columns).

The decimation, the quality metric, the 16 x 16 DCT (float32, summed in the C++ order), the
median (the 128th smallest coefficient, which is what the C++ ``torben`` returns for 256
values) and the bit order are the reference's. ``tests/signals`` checks hashes, qualities and
the DCT output against ``pdqhash`` bit for bit. The kernel has one signature (read-only
pixels, which writable arrays convert to), so it is compiled once per machine and cached on
disk by Numba (next to this file, or in the user's cache directory, ``~/.cache/numba``, when the
package directory is not writable); importing this module loads it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

_F32 = np.float32


def _dct_matrix() -> npt.NDArray[np.float32]:
    """The reference 16 x 64 DCT matrix (float32 scale factor times a float64 cosine)."""
    scale = float(_F32(math.sqrt(2.0 / 64.0)))
    d = np.empty((16, 64), np.float32)
    for i in range(16):
        for j in range(64):
            d[i, j] = scale * math.cos((math.pi / 2.0 / 64.0) * (i + 1) * (2 * j + 1))
    return d


DCT = _dct_matrix()

_ROWS_TOGETHER = 8
"""Rows whose box passes run side by side (independent running sums)."""


def _box_rows_py(
    src: Any, dst: Any, r0: int, nr: int, n: int, full: int, sums: Any, cols: Any, ncols: int
) -> None:
    """One box pass along rows ``r0 .. r0+nr`` of ``src`` (float32, H x n), the reference's
    ``box1DFloat`` per row; output column ``cols[k]`` goes to ``dst[row, k]`` when ``ncols`` > 0,
    else every column to ``dst[row, col]``."""
    half = (full + 2) // 2
    p1 = half - 1
    p2 = full - half + 1
    p3 = n - full
    p4 = half - 1
    for r in range(nr):
        sums[r] = _F32(0.0)
    ri = 0
    li = 0
    k = 0  # next sampled column
    cws = 0
    for _ in range(p1):
        for r in range(nr):
            sums[r] += src[r0 + r, ri]
        cws += 1
        ri += 1
    for oi in range(p2 + p3 + p4):
        step = oi
        if step < p2:
            for r in range(nr):
                sums[r] += src[r0 + r, ri]
            cws += 1
            ri += 1
        elif step < p2 + p3:
            for r in range(nr):
                sums[r] += src[r0 + r, ri]
                sums[r] -= src[r0 + r, li]
            ri += 1
            li += 1
        else:
            for r in range(nr):
                sums[r] -= src[r0 + r, li]
            cws -= 1
            li += 1
        div = _F32(cws)
        if ncols == 0:
            for r in range(nr):
                dst[r0 + r, oi] = sums[r] / div
        else:
            while k < ncols and cols[k] == oi:
                for r in range(nr):
                    dst[r0 + r, k] = sums[r] / div
                k += 1


def _box_cols_py(src: Any, dst: Any, n: int, width: int, full: int, sums: Any) -> None:
    """One box pass down the columns of ``src`` (float32, n x width): every column's running
    sum sees the reference's additions, subtractions and divisions in the reference's order."""
    half = (full + 2) // 2
    p1 = half - 1
    p2 = full - half + 1
    p3 = n - full
    p4 = half - 1
    for j in range(width):
        sums[j] = _F32(0.0)
    ri = 0
    li = 0
    oi = 0
    cws = 0
    for _ in range(p1):
        for j in range(width):
            sums[j] += src[ri, j]
        cws += 1
        ri += 1
    for _ in range(p2):
        cws += 1
        div = _F32(cws)
        for j in range(width):
            sums[j] += src[ri, j]
            dst[oi, j] = sums[j] / div
        ri += 1
        oi += 1
    div = _F32(cws)
    for _ in range(p3):
        for j in range(width):
            sums[j] += src[ri, j]
            sums[j] -= src[li, j]
            dst[oi, j] = sums[j] / div
        ri += 1
        li += 1
        oi += 1
    for _ in range(p4):
        cws -= 1
        div = _F32(cws)
        for j in range(width):
            sums[j] -= src[li, j]
            dst[oi, j] = sums[j] / div
        li += 1
        oi += 1


def _pdq_float_py(pixels: Any, dct: Any, out16: Any) -> int:
    """Fill ``out16`` (16 x 16 float32) with the reference's DCT output for RGB ``pixels``
    (H x W x 3 uint8, H and W >= 5 and not both 64); return the quality metric."""
    h, w = pixels.shape[0], pixels.shape[1]
    wr = (w + 127) // 128  # window along rows (reference: computeJaroszFilterWindowSize)
    wc = (h + 127) // 128
    rows_s = np.empty(64, np.int64)
    cols_s = np.empty(64, np.int64)
    for i in range(64):
        rows_s[i] = int(((i + 0.5) * h) / 64)
        cols_s[i] = int(((i + 0.5) * w) / 64)
    luma = np.empty((_ROWS_TOGETHER, w), np.float32)
    buf_a = np.empty((h, w), np.float32)
    buf_b = np.empty((h, w), np.float32)
    sums = np.empty(max(w, 64, _ROWS_TOGETHER), np.float32)
    # pass 1 along the rows, the luma computed on the way (float64, left to right, to float32)
    for r0 in range(0, h, _ROWS_TOGETHER):
        nr = min(_ROWS_TOGETHER, h - r0)
        for r in range(nr):
            for j in range(w):
                y = (
                    np.float64(pixels[r0 + r, j, 0]) * 0.299
                    + np.float64(pixels[r0 + r, j, 1]) * 0.587
                    + np.float64(pixels[r0 + r, j, 2]) * 0.114
                )
                luma[r, j] = _F32(y)
        _box_rows(luma, buf_b[r0:], 0, nr, w, wr, sums, cols_s, 0)
    _box_cols(buf_b, buf_a, h, w, wc, sums)
    # pass 2 along the rows: only the 64 sampled columns are needed further on
    samp = np.empty((h, 64), np.float32)
    for r0 in range(0, h, _ROWS_TOGETHER):
        nr = min(_ROWS_TOGETHER, h - r0)
        _box_rows(buf_a, samp, r0, nr, w, wr, sums, cols_s, 64)
    done = np.empty((h, 64), np.float32)
    _box_cols(samp, done, h, 64, wc, sums)
    a = np.empty((64, 64), np.float32)
    for i in range(64):
        for j in range(64):
            a[i, j] = done[rows_s[i], j]
    # quality (reference: pdqImageDomainQualityMetric)
    gradient = 0
    for i in range(63):
        for j in range(64):
            d = int(((a[i, j] - a[i + 1, j]) * _F32(100.0)) / _F32(255.0))
            gradient += abs(d)
    for i in range(64):
        for j in range(63):
            d = int(((a[i, j] - a[i, j + 1]) * _F32(100.0)) / _F32(255.0))
            gradient += abs(d)
    quality = min(100, gradient // 90)
    # 16 x 64 then 16 x 16 DCT, float32 sums in the reference's order
    t = np.empty((16, 64), np.float32)
    for i in range(16):
        for j in range(64):
            s = _F32(0.0)
            for k in range(64):
                s += dct[i, k] * a[k, j]
            t[i, j] = s
    for i in range(16):
        for j in range(16):
            s = _F32(0.0)
            for k in range(64):
                s += t[i, k] * dct[j, k]
            out16[i, j] = s
    return quality


_box_rows: Any = numba.njit(cache=True, nogil=True)(_box_rows_py)
_box_cols: Any = numba.njit(cache=True, nogil=True)(_box_cols_py)
PIXELS_TYPE = numba.types.Array(numba.uint8, 3, "C", readonly=True)
"""The one pixel type the kernel is compiled for. Decoded pixels are often read-only (a NumPy
view of a decoder's buffer); writable C-contiguous arrays convert to this type safely, so both
kinds share one compiled version (lazily, Numba would compile and cache one per kind, and a
worker would load both)."""

_SIGNATURE = numba.int64(
    PIXELS_TYPE,
    numba.types.Array(numba.float32, 2, "C", readonly=True),
    numba.types.Array(numba.float32, 2, "C"),
)


def _blas_assumed() -> None:
    """Stands in for ``numba.np.linalg.ensure_blas`` while Numba loads its registries."""


@contextmanager
def _scipy_not_imported_yet() -> Iterator[None]:
    """Keep Numba from importing ``scipy.linalg`` (~0.2 CPU-s) when it loads this kernel.

    The first compilation or cache load in a process imports Numba's NumPy implementations, and
    ``numba.np.arraymath`` checks at import that BLAS is there by importing ``scipy.linalg``.
    SciPy is a dependency, so the answer is known; an ingest worker never uses SciPy, and each
    one would pay for the import. Numba's own BLAS users (``np.dot`` and friends) still call
    the real ``ensure_blas`` when they are compiled, so they import SciPy then.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        yield
        return
    try:
        from numba.np import linalg
    except ImportError:  # pragma: no cover - a Numba without this module: nothing to defer
        yield
        return
    real = getattr(linalg, "ensure_blas", None)
    if real is None:  # pragma: no cover - another Numba layout
        yield
        return
    setattr(linalg, "ensure_blas", _blas_assumed)  # noqa: B010 - not in numba stubs
    try:
        yield
    finally:
        setattr(linalg, "ensure_blas", real)  # noqa: B010
        arraymath = sys.modules.get("numba.np.arraymath")
        if arraymath is not None and getattr(arraymath, "ensure_blas", None) is _blas_assumed:
            setattr(arraymath, "ensure_blas", real)  # noqa: B010


# an explicit signature: compiled (or loaded from Numba's on-disk cache) when this module is
# imported, once; the row and column passes stay lazy so they are specialised for their literal
# arguments (64 sampled columns) inside this one compilation
with _scipy_not_imported_yet():
    _pdq_float: Any = numba.njit(_SIGNATURE, cache=True, nogil=True)(_pdq_float_py)


def pdq_float(pixels: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], int]:
    """The reference's 16 x 16 DCT output (row-major, unreversed) and quality for RGB pixels
    (H x W x 3 uint8 with H, W >= 5 and not exactly 64 x 64: callers use ``pdqhash`` there)."""
    out = np.empty((16, 16), np.float32)
    quality = int(_pdq_float(np.ascontiguousarray(pixels, dtype=np.uint8), DCT, out))
    return out, quality


def pdq_bits(pixels: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], int]:
    """256 hash bits, most significant first (as ``pdqhash.compute`` returns them), and the
    quality. A coefficient is 1 when above the 128th smallest of the 256 (the reference's
    median)."""
    out, quality = pdq_float(pixels)
    flat = out.reshape(256)
    median = np.partition(flat, 127)[127]
    bits = (flat > median).astype(np.uint8)[::-1]
    return np.ascontiguousarray(bits), quality
