"""Compiled (Numba) candidate check for :class:`vigil.index.hamming.MihIndex`.

The NumPy path of ``MihIndex.search_arrays`` spends most of its time in a dozen full passes over
temporary arrays (probe keys, offset gathers, the ragged expansion of buckets, row gathers,
XOR/popcount, filtering) for ~3,000 probes and ~3,000 candidates per query. Here the same work is
three tight loops per block of queries, each of whose iterations is independent of the others, so
the CPU keeps many cache misses in flight (the work is bound by random reads of the tables):

1. for every (query, probe): the bucket's start and length in the chunk's table;
2. for every non-empty bucket: its row numbers (contiguous) into a candidate list;
3. for every candidate: the full 256-bit distance (four XOR + POPCNT); a match is kept only if
   no *earlier* chunk of the plan also finds it (its distance on that chunk is within that
   chunk's radius), so each (query, row) pair is reported once without a sort.

The results are exactly those of the NumPy path (``tests/index`` checks both against the
brute-force oracle). Numba is imported and the kernel compiled on first use only (the compiled
code is cached on disk by Numba), so importing :mod:`vigil.index.hamming` stays cheap.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic

I64 = npt.NDArray[np.int64]
cgutils: Any = _cgutils  # untyped helpers of Numba's code generator


def _popcount_impl(typingctx: Any, x: Any) -> Any:
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return sig, codegen


popcount: Any = intrinsic(_popcount_impl)
"""POPCNT of a uint64 inside compiled code (LLVM's ``ctpop``)."""


def _prefetch_impl(typingctx: Any, arr: Any, idx: Any) -> Any:
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        index = [args[1]] + [zero] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer(
            context, builder, aryty, ary, index, wraparound=False, boundscheck=False
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        builder.call(
            fn,
            [
                builder.bitcast(ptr, i8p),
                ir.Constant(i32, 0),
                ir.Constant(i32, 3),
                ir.Constant(i32, 1),
            ],
        )
        return context.get_dummy_value()

    return sig, codegen


prefetch: Any = intrinsic(_prefetch_impl)
"""Hint the CPU to load ``arr[idx]`` (first axis) into the cache; never faults, no effect on
results. Only a hint: it lets far more table reads be in flight than the CPU would guess."""

AHEAD = 24
"""How many iterations ahead of its use an item is prefetched."""


def _search(  # pragma: no cover - compiled by Numba; tested through MihIndex
    q: Any,
    qkeys: Any,
    t: int,
    pbase: Any,
    pradius: Any,
    moff: Any,
    masks: Any,
    cmask: Any,
    offsets: Any,
    rows: Any,
    words: Any,
    block: int,
) -> Any:
    nq = q.shape[0]
    n_items = pbase.shape[0]
    per_query = moff[n_items]
    item_of = np.empty(per_query, np.int64)
    for p in range(n_items):
        for j in range(moff[p], moff[p + 1]):
            item_of[j] = p
    nprobe = block * per_query
    addr = np.empty(nprobe, np.int64)
    lo = np.empty(nprobe, np.int64)
    cnt = np.empty(nprobe, np.int64)
    cap_c = nprobe * 2 + 16
    cand_row = np.empty(cap_c, np.int64)
    cand_probe = np.empty(cap_c, np.int64)
    cap = 64
    out_q = np.empty(cap, np.int64)
    out_r = np.empty(cap, np.int64)
    out_d = np.empty(cap, np.int64)
    n_out = 0
    for b0 in range(0, nq, block):
        b1 = min(nq, b0 + block)
        # 1. bucket bounds for every probe of the block (independent loads)
        k = 0
        for qi in range(b0, b1):
            for p in range(n_items):
                base = pbase[p]
                key = qkeys[qi, p]
                for m in range(moff[p], moff[p + 1]):
                    addr[k] = base + (key ^ masks[m])
                    k += 1
        for i in range(k):
            if i + AHEAD < k:
                prefetch(offsets, addr[i + AHEAD])
            a = addr[i]
            s = np.int64(offsets[a])
            lo[i] = s
            cnt[i] = np.int64(offsets[a + 1]) - s
        # 2. candidate rows (each bucket is a contiguous run of the chunk's row table)
        total = 0
        for i in range(k):
            total += cnt[i]
        if total > cap_c:
            cap_c = total + total // 2
            cand_row = np.empty(cap_c, np.int64)
            cand_probe = np.empty(cap_c, np.int64)
        c = 0
        for i in range(k):
            if i + AHEAD < k and cnt[i + AHEAD] > 0:
                prefetch(rows, lo[i + AHEAD])
            s = lo[i]
            for j in range(cnt[i]):
                cand_row[c] = np.int64(rows[s + j])
                cand_probe[c] = i
                c += 1
        # 3. full distance of every candidate; keep a match once (its first chunk in the plan)
        for i in range(c):
            if i + AHEAD < c:
                prefetch(words, cand_row[i + AHEAD])
            row = cand_row[i]
            probe = cand_probe[i]
            qi = b0 + probe // per_query
            x0 = words[row, 0] ^ q[qi, 0]
            x1 = words[row, 1] ^ q[qi, 1]
            x2 = words[row, 2] ^ q[qi, 2]
            x3 = words[row, 3] ^ q[qi, 3]
            d = np.int64(popcount(x0) + popcount(x1) + popcount(x2) + popcount(x3))
            if d > t:
                continue
            p = item_of[probe % per_query]
            seen = False
            for e in range(p):
                de = np.int64(
                    popcount(x0 & cmask[e, 0])
                    + popcount(x1 & cmask[e, 1])
                    + popcount(x2 & cmask[e, 2])
                    + popcount(x3 & cmask[e, 3])
                )
                if de <= pradius[e]:
                    seen = True
                    break
            if seen:
                continue
            if n_out == cap:
                cap *= 2
                nq_ = np.empty(cap, np.int64)
                nr_ = np.empty(cap, np.int64)
                nd_ = np.empty(cap, np.int64)
                nq_[:n_out] = out_q[:n_out]
                nr_[:n_out] = out_r[:n_out]
                nd_[:n_out] = out_d[:n_out]
                out_q, out_r, out_d = nq_, nr_, nd_
            out_q[n_out] = qi
            out_r[n_out] = row
            out_d[n_out] = d
            n_out += 1
    return out_q[:n_out], out_r[:n_out], out_d[:n_out]


search: Any = numba.njit(cache=True, nogil=True)(_search)
"""The compiled kernel: ``search(q, qkeys, t, pbase, pradius, moff, masks, cmask, offsets,
rows, words, block) -> (query index, row, distance)`` of every match, each pair once."""
