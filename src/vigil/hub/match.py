"""Finding candidate overlaps for newly pushed signals, one matcher per kind of evidence.

Every matcher compares a new signal only with signals of *other* agencies in the same operation
and the same comparison group (:func:`group_of`): face templates only under the same model card,
scene descriptors only with the same codebook, person encodings only under the same scheme and
operation secret. Thresholds come from the hub's settings, except a face model's calibrated
threshold, which travels with the model card (the stricter of the two sides is used).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.camera.prnu import pce
from vigil.hub.config import HubSettings
from vigil.hub.pdqindex import PdqIndexes
from vigil.index.hamming import hex_to_words
from vigil.share.codecs import decode_prnu, decode_vector
from vigil.store.hub import HubSignal

EXACT = {
    "md5": "same_file",
    "sha1": "same_file",
    "sha256": "same_file",
    "card_token": "same_card",
    "email_token": "same_email",
}
CATEGORY = {
    **EXACT,
    "pdq": "near_duplicate",
    "vpdq": "near_duplicate",
    "face": "same_face",
    "scene": "same_room",
    "prnu": "same_camera",
    "person": "same_person",
}
F32 = npt.NDArray[np.float32]


COLUMNS = (
    HubSignal.id,
    HubSignal.operation_id,
    HubSignal.member_id,
    HubSignal.kind,
    HubSignal.value,
    HubSignal.value_key,
    HubSignal.local_ref,
    HubSignal.meta,
    HubSignal.group,
)


@dataclass(frozen=True, slots=True)
class Sig:
    """A stored signal as the matchers read it: plain data, no ORM state (pushes are large)."""

    id: int
    operation_id: int
    member_id: int
    kind: str
    value: str
    value_key: str
    local_ref: str
    meta: dict[str, Any]
    group: str

    @classmethod
    def of(cls, row: HubSignal) -> Sig:
        return cls(
            row.id,
            row.operation_id,
            row.member_id,
            row.kind,
            row.value,
            row.value_key,
            row.local_ref,
            row.meta,
            row.group,
        )


@dataclass(frozen=True)
class Candidate:
    """A new signal matched a stored signal of another agency."""

    new_id: int
    other_id: int
    kind: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return CATEGORY[self.kind]


def group_of(kind: str, meta: dict[str, Any]) -> str:
    """The comparison group: signals are only ever compared within one."""
    if kind == "face":
        return "|".join(
            str(meta[k]) for k in ("model", "model_version", "weights_sha256", "metric", "dim")
        )
    if kind == "scene":
        return "|".join(
            str(meta[k]) for k in ("descriptor", "version", "codebook_sha256", "dtype", "dim")
        )
    if kind == "prnu":
        return "|".join(
            str(meta[k]) for k in ("codec", "height", "width", "source_height", "source_width")
        )
    if kind == "person":
        return "|".join(str(meta[k]) for k in ("params_id", "key_id", "bits"))
    if kind in ("card_token", "email_token"):
        return str(meta["key_id"])
    return ""


def _others(session: Session, new: Sequence[Sig], kind: str) -> dict[str, list[Sig]]:
    """Stored, unquarantined signals of other members in the new signals' groups, by group."""
    s0 = new[0]
    groups = sorted({s.group for s in new})
    rows = session.execute(
        select(*COLUMNS).where(
            HubSignal.operation_id == s0.operation_id,
            HubSignal.kind == kind,
            HubSignal.group.in_(groups),
            HubSignal.member_id != s0.member_id,
            HubSignal.quarantined.is_(False),
        )
    ).all()
    out: dict[str, list[Sig]] = defaultdict(list)
    for r in rows:
        out[r.group].append(Sig(*r))
    return out


def _exact(session: Session, new: Sequence[Sig], kind: str) -> list[Candidate]:
    s0 = new[0]
    by_key: dict[tuple[str, str], list[Sig]] = defaultdict(list)
    for s in new:
        by_key[(s.group, s.value_key)].append(s)
    keys = sorted({k for _g, k in by_key})
    out = []
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(HubSignal.id, HubSignal.group, HubSignal.value_key).where(
                HubSignal.operation_id == s0.operation_id,
                HubSignal.kind == kind,
                HubSignal.value_key.in_(keys[start : start + 500]),
                HubSignal.member_id != s0.member_id,
                HubSignal.quarantined.is_(False),
            )
        ).all()
        for o in rows:
            for s in by_key.get((o.group, o.value_key), []):
                out.append(Candidate(s.id, o.id, kind, 0.0, {"match": "exact"}))
    return out


def _pdq(
    session: Session, new: Sequence[Sig], settings: HubSettings, indexes: PdqIndexes
) -> list[Candidate]:
    s0 = new[0]
    index = indexes.get(session, s0.operation_id)
    t = settings.pdq_max_distance
    qi, ids, dist = index.search(hex_to_words([s.value for s in new]), t, s0.member_id)
    return [
        Candidate(new[int(q)].id, int(i), "pdq", float(d), {"distance": int(d), "threshold": t})
        for q, i, d in zip(qi, ids, dist, strict=True)
    ]


def _frames(value: str) -> list[str]:
    return list(dict.fromkeys(value[i : i + 64] for i in range(0, len(value), 64)))


def _close_frames(
    a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64], t: int
) -> npt.NDArray[np.bool_]:
    """Which frame pairs are within ``t`` bits (blocks of 64 rows: bounded memory)."""
    out = np.empty((len(a), len(b)), np.bool_)
    for start in range(0, len(a), 64):
        block = a[start : start + 64]
        d = np.bitwise_count(block[:, None, :] ^ b[None, :, :]).sum(axis=2)
        out[start : start + 64] = d <= t
    return out


def _vpdq(session: Session, new: Sequence[Sig], settings: HubSettings) -> list[Candidate]:
    others = _others(session, new, "vpdq")
    out = []
    for s in new:
        a = hex_to_words(_frames(s.value))
        for o in others.get(s.group, []):
            b = hex_to_words(_frames(o.value))
            close = _close_frames(a, b, settings.pdq_max_distance)
            fa, fb = float(close.any(axis=1).mean()), float(close.any(axis=0).mean())
            if min(fa, fb) >= settings.vpdq_min_fraction:
                ev = {
                    "matched_fraction_new": round(fa, 4),
                    "matched_fraction_other": round(fb, 4),
                    "threshold": settings.vpdq_min_fraction,
                }
                out.append(Candidate(s.id, o.id, "vpdq", round(min(fa, fb), 4), ev))
    return out


def _matrix(rows: Iterable[Sig], dtype: str = "f32") -> F32:
    return np.stack([decode_vector(r.value, dtype) for r in rows])


def _face(session: Session, new: Sequence[Sig]) -> list[Candidate]:
    others = _others(session, new, "face")
    out = []
    for group, olist in others.items():
        mine = [s for s in new if s.group == group]
        if not mine:
            continue
        a, b = _matrix(mine), _matrix(olist)
        metric = mine[0].meta["metric"]
        if metric == "cosine":
            an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
            bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
            d = 1.0 - an @ bn.T
        else:
            d = np.sqrt(
                np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0)
            )
        ta = np.array([float(s.meta["threshold"]) for s in mine])
        tb = np.array([float(o.meta["threshold"]) for o in olist])
        limit = np.minimum(ta[:, None], tb[None, :])
        for i, j in zip(*np.nonzero(d <= limit), strict=True):
            s, o = mine[int(i)], olist[int(j)]
            t, dist = float(limit[i, j]), float(d[i, j])
            ev = {
                "distance": round(dist, 4),
                "threshold": t,
                "metric": metric,
                "model": s.meta["model"],
                "model_version": s.meta["model_version"],
            }
            out.append(Candidate(s.id, o.id, "face", round(dist, 4), ev))
    return out


def _scene(session: Session, new: Sequence[Sig], settings: HubSettings) -> list[Candidate]:
    others = _others(session, new, "scene")
    out = []
    for group, olist in others.items():
        mine = [s for s in new if s.group == group]
        if not mine:
            continue
        dtype = mine[0].meta["dtype"]
        a, b = _matrix(mine, dtype), _matrix(olist, dtype)
        a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        sim = a @ b.T
        k = min(settings.scene_top_k, len(olist))
        for i, row in enumerate(sim):
            for j in np.argsort(-row)[:k]:
                if row[j] >= settings.scene_min_similarity:
                    ev = {
                        "similarity": round(float(row[j]), 4),
                        "threshold": settings.scene_min_similarity,
                        "shortlist_rank": int(np.sum(row > row[j])) + 1,
                        "proof": "geometric proof requested from both owners",
                    }
                    out.append(
                        Candidate(
                            mine[i].id, olist[int(j)].id, "scene", round(float(row[j]), 4), ev
                        )
                    )
    return out


def camera_pce(a: F32, b: F32) -> float:
    """PCE of two aligned binarised fingerprints at zero shift (same sensor, same crop)."""
    fa, fb = np.fft.rfft2(a - a.mean()), np.fft.rfft2(b - b.mean())
    corr = np.fft.irfft2(fa * np.conj(fb), s=a.shape).astype(np.float64) / a.size
    return pce(corr, (0, 0))


def _prnu(session: Session, new: Sequence[Sig], settings: HubSettings) -> list[Candidate]:
    others = _others(session, new, "prnu")
    out = []
    for s in new:
        a = decode_prnu(s.value, s.meta)
        for o in others.get(s.group, []):
            score = camera_pce(a, decode_prnu(o.value, o.meta))
            if score >= settings.prnu_min_pce:
                ev = {"pce": round(score, 1), "threshold": settings.prnu_min_pce}
                out.append(Candidate(s.id, o.id, "prnu", round(score, 1), ev))
    return out


def _person(session: Session, new: Sequence[Sig], settings: HubSettings) -> list[Candidate]:
    """Dice on keyed CLKs among pairs sharing a keyed blocking token (:mod:`vigil.share.persons`)."""
    from vigil.share.persons import from_signal, match_persons

    others = _others(session, new, "person")
    out = []
    for group, olist in others.items():
        mine = [s for s in new if s.group == group]
        if not mine:
            continue
        found = match_persons(
            [from_signal(s.value, s.meta) for s in mine],
            [from_signal(o.value, o.meta) for o in olist],
            threshold=settings.person_min_dice,
        )
        for m in found:
            ev = {
                "dice": round(m.dice, 4),
                "shared_blocks": m.shared_blocks,
                "score": round(m.score, 4),
                "threshold": settings.person_min_dice,
                "blocked": True,
            }
            out.append(
                Candidate(mine[m.left].id, olist[m.right].id, "person", round(m.dice, 4), ev)
            )
    return out


def candidates(
    session: Session, new: Sequence[Sig], settings: HubSettings, indexes: PdqIndexes
) -> list[Candidate]:
    """Every candidate overlap of the new signals (all of one member and one operation)."""
    by_kind: dict[str, list[Sig]] = defaultdict(list)
    for s in new:
        by_kind[s.kind].append(s)
    out: list[Candidate] = []
    for kind, sigs in sorted(by_kind.items()):
        if kind in EXACT:
            out += _exact(session, sigs, kind)
        elif kind == "pdq":
            out += _pdq(session, sigs, settings, indexes)
        elif kind == "vpdq":
            out += _vpdq(session, sigs, settings)
        elif kind == "face":
            out += _face(session, sigs)
        elif kind == "scene":
            out += _scene(session, sigs, settings)
        elif kind == "prnu":
            out += _prnu(session, sigs, settings)
        elif kind == "person":
            out += _person(session, sigs, settings)
    return out
