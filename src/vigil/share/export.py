"""Building a signed bundle of *signals* from a local case (never media, never a raw record).

What a bundle may carry, kind by kind, and where it comes from:

========== =============================================== ====================================
kind       value                                           source
========== =============================================== ====================================
md5/sha1/  the item's digests                              ``media_items``
sha256
pdq        256-bit PDQ hash (photos)                       ``item_signals`` (``pdq``)
vpdq       the video's frame PDQ hashes, in order          ``item_signals`` (``vpdq``)
face       embedding + model card + operating threshold    ``face_embeddings``/``face_models``
scene      VLAD global descriptor under a codebook the     ``scene_features`` + ``--codebook``
           operation shares (a unit's own vocabulary is
           not comparable with another unit's)
prnu       sign bits of the centred 512 x 512 crop         ``camera_fingerprints`` of the case
person     keyed, hardened Bloom filter + blocking tokens  ``person_records`` + operation secret
card_token keyed HMAC of the card number                   ``person_records`` (decrypted here)
email_     keyed HMAC of the e-mail address                ``person_records``
token
========== =============================================== ====================================

Every signal has an opaque ``local_ref`` (``item:12``, ``face:7``, ``person:3``, ``record:9``,
``camera:2``) that only this unit can resolve, and passes :class:`~vigil.share.policy.SharePolicy`
(an allow-list, plus a scan for image signatures and for the case's file and person names)
before the bundle is signed. Building a bundle is audited locally: which kinds, how many, to
which operation and destination — never the values.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.errors import InvalidInput, VigilError
from vigil.settings import Settings
from vigil.share import keys, protocol
from vigil.share.persons import OperationSecret, PersonEncoder, PersonFields
from vigil.share.policy import FaceModelCard, SharePolicy
from vigil.store import audit
from vigil.store.db import Database
from vigil.store.models import Case, EvidenceSource, MediaItem, Occurrence

ALL_KINDS = ("hashes", "pdq", "vpdq", "faces", "scenes", "prnu", "persons")
"""Groups a user can pick with ``--only``: hashes = md5 + sha1 + sha256; persons = person +
card_token + email_token."""
MAX_VPDQ_FRAMES = 3600
VICTIM_FLAGS = ("card_compromised", "card_many_identities", "breach_burst")
"""Evidence-quality flags (:mod:`vigil.persons.flags`) saying the name on a record may be a
stolen card's holder rather than the subscriber: such a record's person encoding is withheld
(its card token is still shared: the card itself is a real signal)."""
MAX_SCENES_PER_ITEM = 8
_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_.:+-]")


def token(text: str) -> str:
    """A free string made into a wire token (``[A-Za-z0-9_.:+-]``, at most 64 characters)."""
    return _TOKEN_BAD.sub("_", text)[:64] or "_"


@dataclass
class ExportOptions:
    """What to put in a bundle."""

    kinds: tuple[str, ...] = ALL_KINDS
    secret: OperationSecret | None = None
    """The operation secret (persons are skipped without it)."""
    codebook: Path | None = None
    """A shared VLAD codebook (``VGI1`` file); scenes are skipped without it."""
    share_flagged: bool = False
    """Also share the person encodings of records flagged as possibly a stolen card's."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(ALL_KINDS))
        if unknown:
            raise InvalidInput(f"unknown signal group(s) {unknown}; choose from {list(ALL_KINDS)}")


@dataclass
class Collected:
    """Signals of one case, with counts per kind and notes on what was skipped and why."""

    signals: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)
    face_models: list[FaceModelCard] = field(default_factory=list)

    def add(
        self, kind: str, value: str, local_ref: str, meta: dict[str, Any] | None = None
    ) -> None:
        self.signals.append(
            {"kind": kind, "value": value, "local_ref": local_ref, "meta": meta or {}}
        )

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s["kind"] for s in self.signals).items()))


def _case_items(session: Session, case_id: int) -> list[MediaItem]:
    stmt = (
        select(MediaItem)
        .where(
            MediaItem.id.in_(
                select(Occurrence.item_id)
                .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
                .where(EvidenceSource.case_id == case_id, Occurrence.item_id.is_not(None))
            )
        )
        .order_by(MediaItem.id)
    )
    return list(session.execute(stmt).scalars())


def _basename(path: str) -> str:
    return PureWindowsPath(PurePosixPath(path).name).name


def _forbidden_of_case(session: Session, case_id: int) -> set[str]:
    """File names and source paths of the case's evidence (never to appear in a bundle)."""
    out: set[str] = set()
    rows = session.execute(
        select(Occurrence.path, EvidenceSource.path)
        .join(EvidenceSource, Occurrence.source_id == EvidenceSource.id)
        .where(EvidenceSource.case_id == case_id)
    ).all()
    for occ_path, src_path in rows:
        for p in (occ_path, src_path):
            if p:
                out.add(_basename(str(p)))
                out.add(str(p))
    return out


def _hashes(c: Collected, items: list[MediaItem], kinds: tuple[str, ...]) -> None:
    if "hashes" not in kinds:
        return
    for it in items:
        ref = f"item:{it.id}"
        c.add("md5", it.md5, ref)
        c.add("sha1", it.sha1, ref)
        c.add("sha256", it.sha256, ref)


def _perceptual(
    c: Collected, session: Session, items: list[MediaItem], kinds: tuple[str, ...]
) -> None:
    from vigil.store.hashsets import ItemSignal

    ids = [it.id for it in items]
    if "pdq" in kinds:
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(ItemSignal).where(
                    ItemSignal.item_id.in_(ids[start : start + 500]),
                    ItemSignal.signal_type == "pdq",
                    ItemSignal.status == "ok",
                    ItemSignal.value.is_not(None),
                )
            ).scalars()
            for r in rows:
                meta = {"quality": int(r.quality)} if r.quality is not None else {}
                c.add("pdq", str(r.value), f"item:{r.item_id}", meta)
    if "vpdq" in kinds:
        frames: dict[int, list[tuple[int, str, str]]] = {}
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(ItemSignal).where(
                    ItemSignal.item_id.in_(ids[start : start + 500]),
                    ItemSignal.signal_type == "vpdq",
                    ItemSignal.status == "ok",
                    ItemSignal.value.is_not(None),
                )
            ).scalars()
            for r in rows:
                frames.setdefault(r.item_id, []).append((r.frame, str(r.value), r.hasher_version))
        for item_id, fr in sorted(frames.items()):
            fr.sort()
            if len(fr) > MAX_VPDQ_FRAMES:
                step = len(fr) / MAX_VPDQ_FRAMES
                fr = [fr[int(i * step)] for i in range(MAX_VPDQ_FRAMES)]
            value = "".join(v for _, v, _ in fr)
            c.add("vpdq", value, f"item:{item_id}", {"version": token(fr[0][2])})


def _faces(c: Collected, session: Session, case_id: int, kinds: tuple[str, ...]) -> None:
    if "faces" not in kinds:
        return
    from vigil.store import faces as fstore

    for model_id in fstore.embedder_model_ids(session):
        model = fstore.get_model(session, model_id)
        cal = fstore.latest_calibration(session, model_id)
        if cal is None:
            from vigil.faces.service import DEFAULT_THRESHOLD

            threshold = DEFAULT_THRESHOLD
            c.notes.append(
                f"faces ({model.name}): no calibration stored, shared with the default threshold"
            )
        else:
            threshold = float(cal.threshold)
        card = FaceModelCard(token(model.name), token(model.version), model.sha256, int(model.dim))
        c.face_models.append(card)
        from vigil.share.codecs import encode_vector

        for face, emb in fstore.case_faces(session, case_id, model_id):
            c.add(
                "face",
                encode_vector(emb.array()),
                f"face:{face.id}",
                {
                    "model": card.model,
                    "model_version": card.model_version,
                    "weights_sha256": card.weights_sha256,
                    "dim": card.dim,
                    "metric": "l2",
                    "threshold": float(threshold),
                },
            )


def _scenes(c: Collected, session: Session, case_id: int, options: ExportOptions) -> None:
    if "scenes" not in options.kinds:
        return
    if options.codebook is None:
        c.notes.append(
            "scenes: skipped (pass --codebook: a descriptor is comparable across units only "
            "under a codebook the operation shares)"
        )
        return
    from vigil.places.analyzer import EXTRACTOR
    from vigil.places.features import SceneFeatures
    from vigil.places.vlad import GlobalIndex
    from vigil.share.codecs import encode_vector
    from vigil.store import places as pstore

    raw = options.codebook.read_bytes()
    vocab = GlobalIndex.load(options.codebook).vocab
    digest = hashlib.sha256(raw).hexdigest()
    per_item: Counter[int] = Counter()
    fids = pstore.case_feature_ids(session, case_id, EXTRACTOR)
    ordered = sorted(fids)
    for start in range(0, len(ordered), 200):
        chunk = ordered[start : start + 200]
        data = pstore.feature_data(session, chunk)
        for fid in chunk:
            item_id = fids[fid]
            if per_item[item_id] >= MAX_SCENES_PER_ITEM or fid not in data:
                continue
            per_item[item_id] += 1
            vec = vocab.encode(SceneFeatures.from_bytes(data[fid]))[0]
            c.add(
                "scene",
                encode_vector(vec, "f16"),
                f"item:{item_id}",
                {
                    "descriptor": "vlad",
                    "version": "1",
                    "codebook_sha256": digest,
                    "dim": int(vec.shape[0]),
                    "dtype": "f16",
                },
            )


def _prnu(c: Collected, session: Session, case_id: int, kinds: tuple[str, ...]) -> None:
    if "prnu" not in kinds:
        return
    from vigil.camera.prnu import Fingerprint
    from vigil.share.codecs import encode_prnu
    from vigil.store.places import CameraFingerprint

    rows = session.execute(
        select(CameraFingerprint).where(CameraFingerprint.case_id == case_id)
    ).scalars()
    for row in rows:
        try:
            fp = Fingerprint.load(Path(row.path))
        except VigilError as exc:
            c.notes.append(f"prnu camera:{row.id}: skipped ({exc})")
            continue
        value, meta = encode_prnu(fp.k)
        c.add("prnu", value, f"camera:{row.id}", meta)
        c.forbidden.update(x for x in (row.name, row.serial) if x)


def person_fields(rec: Any, card: str | None) -> PersonFields:
    """The quasi-identifiers of a stored record (normalised with the local linkage rules)."""
    name = rec.name
    kw: dict[str, Any] = (
        {"name": name} if name else {"first": rec.first_name_n, "last": rec.surname_n}
    )
    emails = [rec.email] if rec.email else []
    try:
        return PersonFields.from_raw(
            **kw,
            dob=rec.dob,
            postcode=rec.postcode,
            address=rec.address,
            emails=emails,
            cards=[card] if card else [],
        )
    except InvalidInput:  # a stored card that no longer validates: share the rest
        return PersonFields.from_raw(
            **kw, dob=rec.dob, postcode=rec.postcode, address=rec.address, emails=emails
        )


def _persons(
    c: Collected, session: Session, settings: Settings, case_id: int, options: ExportOptions
) -> None:
    if "persons" not in options.kinds:
        return
    if options.secret is None:
        c.notes.append("persons: skipped (pass --secret, the operation's shared secret file)")
        return
    from vigil.persons.cards import CardVault
    from vigil.store.persons import PersonLink, PersonRecord, PersonRecordFlag

    enc = PersonEncoder(options.secret)
    flagged: set[int] = set()
    if not options.share_flagged:
        flagged = {
            int(r)
            for r in session.execute(
                select(PersonRecordFlag.record_id).where(
                    PersonRecordFlag.case_id == case_id, PersonRecordFlag.code.in_(VICTIM_FLAGS)
                )
            ).scalars()
        }
    withheld = 0
    vault: CardVault | None = None
    seen: set[tuple[str, str, bytes]] = set()
    rows = session.execute(
        select(PersonRecord, PersonLink.person_id)
        .outerjoin(PersonLink, PersonLink.record_id == PersonRecord.id)
        .where(PersonRecord.case_id == case_id)
        .order_by(PersonRecord.id)
        .execution_options(yield_per=2000)
    ).all()
    undecryptable = 0
    for rec, person_id in rows:
        ref = f"person:{person_id}" if person_id is not None else f"record:{rec.id}"
        card = None
        if rec.card_enc:
            if vault is None:
                vault = CardVault.for_data_dir(settings.data_dir)
            try:
                card = vault.decrypt(rec.card_enc)
            except VigilError:
                undecryptable += 1
        fields = person_fields(rec, card)
        for piece in (rec.name, rec.email, rec.first_name_n, rec.surname_n, rec.address):
            if piece:
                c.forbidden.add(str(piece))
        c.forbidden.update(t for t in fields.names if len(t) >= 4)
        if card:
            c.forbidden.add(card)
        e = enc.encode(fields)
        if rec.id in flagged:
            withheld += 1
        elif fields.names or fields.dob or fields.postcode:
            key = (ref, "person", e.clk + "".join(e.blocks).encode())
            if key not in seen:
                seen.add(key)
                c.add("person", e.b64(), ref, e.meta())
        for kind, values in (("card_token", e.cards), ("email_token", e.emails)):
            for v in values:
                if (ref, kind, v.encode()) not in seen:
                    seen.add((ref, kind, v.encode()))
                    c.add(kind, v, ref, {"key_id": e.key_id})
    if undecryptable:
        c.notes.append(f"persons: {undecryptable} card number(s) could not be decrypted (skipped)")
    if withheld:
        c.notes.append(
            f"persons: {withheld} record(s) flagged as possibly a stolen card's "
            f"({', '.join(VICTIM_FLAGS)}): their person encodings withheld, card tokens shared"
        )


def collect(settings: Settings, session: Session, case: Case, options: ExportOptions) -> Collected:
    """Every allowed signal of ``case`` (not yet checked by the policy)."""
    c = Collected()
    c.forbidden |= _forbidden_of_case(session, case.id)
    items = _case_items(session, case.id)
    _hashes(c, items, options.kinds)
    _perceptual(c, session, items, options.kinds)
    _faces(c, session, case.id, options.kinds)
    _scenes(c, session, case.id, options)
    _prnu(c, session, case.id, options.kinds)
    _persons(c, session, settings, case.id, options)
    return c


@dataclass
class Built:
    """A signed bundle and what it holds (counts only)."""

    envelope: bytes
    counts: dict[str, int]
    notes: list[str]
    sha256: str
    case_id: int
    case_ref: str
    operation: str
    agency: str
    nonce: str


def build(
    settings: Settings,
    db: Database,
    case_name: str,
    *,
    agency: str,
    operation: str,
    private_key: Ed25519PrivateKey,
    options: ExportOptions,
) -> Built:
    """Collect, police and sign a bundle of ``case_name`` for ``operation``.

    Nothing is written or audited here: the caller calls :func:`record` once the bundle has
    been written to a file or accepted by the hub.
    """
    from vigil.store.repo import get_case

    with db.read() as s:
        case = get_case(s, case_name)
        case_id = case.id
        collected = collect(settings, s, case, options)
    policy = SharePolicy(collected.forbidden, collected.face_models)
    signals = policy.check_all(collected.signals)
    case_ref = f"case-{case_id}"
    bundle = protocol.make_bundle(
        agency=token(agency),
        operation=token(operation),
        case_ref=case_ref,
        key_id=keys.key_id(private_key),
        signals=signals,
    )
    policy.check_header(bundle["header"])
    envelope = protocol.sign_bundle(bundle, private_key)
    return Built(
        envelope=envelope,
        counts=collected.counts(),
        notes=collected.notes,
        sha256=hashlib.sha256(envelope).hexdigest(),
        case_id=case_id,
        case_ref=case_ref,
        operation=bundle["header"]["operation"],
        agency=bundle["header"]["agency"],
        nonce=bundle["header"]["nonce"],
    )


def record(db: Database, built: Built, *, actor: str, destination: str) -> None:
    """Remember and audit a bundle that was written or delivered (counts only, never values)."""
    from vigil.store import share as sstore

    with db.write() as s:
        sstore.add_push(
            s,
            case_id=built.case_id,
            operation=built.operation,
            destination=destination,
            counts=built.counts,
            bundle_sha256=built.sha256,
            nonce=built.nonce,
            created_by=actor,
        )
        audit.append(
            s,
            actor,
            "share.export" if destination == "file" else "share.push",
            case_id=built.case_id,
            details={
                "operation": built.operation,
                "agency": built.agency,
                "destination": destination,
                "counts": built.counts,
                "signals": sum(built.counts.values()),
                "bundle_sha256": built.sha256,
                "nonce": built.nonce,
                "notes": built.notes,
            },
        )


def write_file(path: Path, data: bytes) -> None:
    """Write a bundle file atomically, readable only by its owner (it is still case data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def default_agency(session: Session, case: Case) -> str | None:
    """The case's agency name, if it has one."""
    from vigil.store.models import Agency

    if case.agency_id is None:
        return None
    row = session.get(Agency, case.agency_id)
    return row.name if row else None
