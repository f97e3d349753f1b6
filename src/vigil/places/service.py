"""Place identification over the case store: the global index file, searches of a photo or an
item against every case and every reference collection, drawings, reference-collection import
and links to places.

The shortlist index (``<data>/indexes/scenes.vhe``, format in :mod:`vigil.places.ivf`) is derived
data: it is refreshed from the ``scene_features`` table before each search (new rows encoded,
deleted ones dropped) and re-trained when the collection has grown well beyond what its
vocabulary was learnt on; deleting the file only costs a rebuild.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigil.content.decode import decode
from vigil.errors import InvalidInput, NotFound, NotReady, VigilError, WrongFormat
from vigil.places.analyzer import EXTRACTOR
from vigil.places.defaults import DEFAULT_MIN_COVERAGE
from vigil.places.draw import draw_pair, encode_png
from vigil.places.features import (
    DEFAULT_PARAMS,
    QUERY_PARAMS,
    RETRY_PARAMS,
    SceneFeatures,
    extract,
)
from vigil.places.ivf import (
    TRAIN_MAX_DESCRIPTORS,
    TRAIN_PER_IMAGE,
    HammingIndex,
    train_hamming_vocabulary,
)
from vigil.places.search import Candidate, SearchParams, search
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import places as store
from vigil.store.db import Database

U8 = npt.NDArray[np.uint8]
INDEX_NAME = "scenes.vhe"
TRAIN_SAMPLE = 2000
"""Images sampled to learn the vocabulary and PCA."""


def index_path(settings: Settings) -> Path:
    return settings.index_dir / INDEX_NAME


_CACHE: dict[Path, tuple[float, HammingIndex]] = {}


def _load_index(path: Path) -> HammingIndex | None:
    if not path.exists():
        return None
    mtime = path.stat().st_mtime
    hit = _CACHE.get(path)
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        idx = HammingIndex.load(path)
    except WrongFormat:  # an older format (VHE1): derived data, rebuilt from the store
        return None
    idx.spill_dir = path.parent
    _CACHE[path] = (mtime, idx)
    return idx


@dataclass
class IndexStatus:
    path: str
    images: int
    postings: int
    """Indexed local descriptors (one posting each)."""
    added: int
    removed: int
    retrained: bool
    trained_on: int
    words: int
    """Visual words of the vocabulary."""
    other_extractors: dict[str, int] = field(default_factory=dict)
    """Stored features of an earlier extractor version by extractor (never searched: the items
    are pending for ``vigil places scan CASE``, collections for a re-import)."""


def _features(db: Database, ids: Iterable[int]) -> dict[int, SceneFeatures]:
    with db.read() as s:
        raw = store.feature_data(s, ids)
    return {k: SceneFeatures.from_bytes(v) for k, v in raw.items()}


def _stream_features(db: Database, ids: list[int], batch: int = 200) -> Iterable[SceneFeatures]:
    """The features of ``ids``, ``batch`` rows at a time (a training sample of 2,000 images of
    2,000 keypoints is 0.5 GB of rows: never all at once)."""
    for start in range(0, len(ids), batch):
        yield from _features(db, ids[start : start + batch]).values()


def refresh_index(settings: Settings, db: Database, *, rebuild: bool = False) -> IndexStatus:
    """Bring the global index in line with the stored features (train it if needed)."""
    path = index_path(settings)
    with db.read() as s:
        wanted = store.feature_ids(s, EXTRACTOR)
        others = store.other_extractor_counts(s, EXTRACTOR)
    if not wanted:
        if others:
            raise NotReady(
                f"the stored scene features are of an earlier extractor version "
                f"({', '.join(sorted(others))}; this one is {EXTRACTOR}): extract them again with "
                "`vigil places scan CASE` and import reference collections again"
            )
        raise NotReady(
            "no scene features stored yet: ingest photos (the `scene` analyzer runs by default), "
            "back-fill with `vigil places scan CASE`, or import a reference collection"
        )
    idx = None if rebuild else _load_index(path)
    retrain = idx is None or idx.trained_on < min(TRAIN_SAMPLE, len(wanted) // 4)
    removed = added = 0
    if retrain:
        rng = np.random.default_rng(17)
        ordered = sorted(wanted)
        sample_ids = rng.choice(ordered, min(TRAIN_SAMPLE, len(ordered)), replace=False)
        per_image = max(TRAIN_PER_IMAGE, TRAIN_MAX_DESCRIPTORS // max(1, len(sample_ids)))
        vocab = train_hamming_vocabulary(
            _stream_features(db, sorted(int(i) for i in sample_ids)), per_image=per_image
        )
        idx = HammingIndex(vocab, trained_on=len(sample_ids), spill_dir=path.parent)
        todo = sorted(wanted)
    else:
        assert idx is not None  # noqa: S101
        have = idx.key_set()
        stale = have - wanted
        if stale:
            idx.remove(stale)
            removed = len(stale)
        todo = sorted(wanted - have)
    for start in range(0, len(todo), 500):
        chunk = todo[start : start + 500]
        batch = _features(db, chunk)
        added += idx.add_many((key, batch[key]) for key in chunk if key in batch)
    if retrain or added or removed:
        idx.save(path)
        _CACHE[path] = (path.stat().st_mtime, idx)
    return IndexStatus(str(path), len(idx), idx.postings, added, removed, retrain,
                       idx.trained_on, idx.vocab.k, others)  # fmt: skip


# --- people masking ---------------------------------------------------------------------------
def person_boxes(pixels: U8) -> list[tuple[int, int, int, int]]:
    """Boxes likely covered by people, from dlib's frontal face detector (weights inside dlib).

    Each face box is widened to a standing/sitting body below it (1.5 face widths either side,
    from half a face above to 7 faces below). A heuristic: people without a visible face are not
    found; pass explicit boxes for those.
    """
    import cv2
    import dlib

    h, w = pixels.shape[:2]
    scale = min(1.0, 800 / max(h, w))
    small = pixels if scale == 1.0 else cv2.resize(pixels, (int(w * scale), int(h * scale)))
    detector = dlib.get_frontal_face_detector()
    boxes = []
    for r in detector(np.ascontiguousarray(small), 1):
        x0, y0, x1, y1 = (v / scale for v in (r.left(), r.top(), r.right(), r.bottom()))
        fw, fh = x1 - x0, y1 - y0
        boxes.append(
            (int(max(0, x0 - 1.5 * fw)), int(max(0, y0 - 0.5 * fh)),
             int(min(w, x1 + 1.5 * fw)), int(min(h, y1 + 7 * fh)))
        )  # fmt: skip
    return boxes


# --- searching --------------------------------------------------------------------------------
@dataclass
class SearchResult:
    query: dict[str, Any]
    candidates: list[dict[str, Any]]
    index: IndexStatus
    raw: list[Candidate] = field(default_factory=list)
    query_features: SceneFeatures | None = None


def _candidate_dict(
    c: Candidate, info: Mapping[str, Any], rank: int, params: SearchParams
) -> dict[str, Any]:
    v = c.verification
    return {
        "rank": rank,
        "feature_id": c.key,
        **info,
        "inliers": v.inliers,
        "first_fit_inliers": v.first_fit_inliers,
        "guided": v.guided,
        "retried": c.retried,
        "matches": v.matches,
        "verified": c.verified,
        "model": v.model,
        "coverage": round(v.coverage, 3),
        "surfaces_coverage": (
            None if v.surfaces_coverage is None else round(v.surfaces_coverage, 3)
        ),
        "by_two_surfaces": c.verified and v.coverage < params.min_coverage,
        "small_region": v.small_region(params.min_inliers, params.min_coverage),
        "global_similarity": round(c.global_similarity, 4),
        "shortlist_rank": c.shortlist_rank,
        "layout": v.layout.as_dict() if v.layout is not None else None,
    }


def search_features(
    settings: Settings,
    db: Database,
    query: SceneFeatures,
    params: SearchParams,
    *,
    query_info: dict[str, Any],
    actor: str,
    exclude_keys: set[int] | None = None,
    case_name: str | None = None,
    rich: SceneFeatures | Callable[[], SceneFeatures] | None = None,
) -> SearchResult:
    """Search ``query`` against everything indexed (optionally only one case + references).

    ``rich``: richer features of the query image for the weak-result retry
    (:func:`retry_from_pixels`, :func:`retry_from_store`; see
    :attr:`vigil.places.search.SearchParams.retry_below`)."""
    status = refresh_index(settings, db)
    idx = _load_index(index_path(settings))
    assert idx is not None  # noqa: S101
    allowed: set[int] | None = None
    excluded = set(exclude_keys or ())
    if case_name is not None:
        from vigil.store import repo

        with db.read() as s:
            case = repo.get_case(s, case_name)
            allowed = set(store.case_feature_ids(s, case.id, EXTRACTOR))
            allowed |= store.feature_ids(s, EXTRACTOR) - _item_feature_ids(s)
        excluded |= idx.key_set() - allowed

    def load(keys: Iterable[int]) -> Mapping[int, SceneFeatures]:
        return _features(db, keys)

    cands = search(query, idx, load, params, exclude_keys=excluded or None, rich=rich)
    with db.read() as s:
        info = store.describe_features(s, [c.key for c in cands])
    out = [_candidate_dict(c, info.get(c.key, {}), n, params) for n, c in enumerate(cands, 1)]
    with db.write() as s:
        audit.append(
            s, actor, "places.search",
            item_id=query_info.get("item_id"),
            details={"query": query_info, "candidates": len(out),
                     "verified": sum(1 for c in out if c["verified"]),
                     "min_inliers": params.min_inliers, "case": case_name},
        )  # fmt: skip
    return SearchResult(query_info, out, status, cands, query)


def _item_feature_ids(s: Session) -> set[int]:
    q = select(store.SceneFeature.id).where(store.SceneFeature.item_id.is_not(None))
    return set(s.scalars(q))


def query_from_file(
    path: Path, *, mask_people: bool = False, exclude: list[tuple[int, int, int, int]] | None = None
) -> tuple[SceneFeatures, dict[str, Any], U8]:
    """Features of an image file given on the command line (not evidence: read as is)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    pixels = decode(data, min_side=DEFAULT_PARAMS.max_side).pixels
    boxes = list(exclude or [])
    if mask_people:
        boxes += person_boxes(pixels)
    feats = extract(pixels, QUERY_PARAMS, exclude=boxes or None)
    info = {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            "keypoints": len(feats), "masked_boxes": [list(b) for b in boxes]}  # fmt: skip
    return feats, info, pixels


def retry_from_pixels(
    pixels: U8, exclude: list[tuple[int, int, int, int]] | None = None
) -> Callable[[], SceneFeatures]:
    """The weak-result retry's richer features of a query image (:data:`RETRY_PARAMS`, the
    same exclusion boxes as the query's), computed only if a search asks for them."""
    boxes = list(exclude or [])
    return lambda: extract(pixels, RETRY_PARAMS, exclude=boxes or None)


def retry_from_store(db: Database, feature_id: int, query: SceneFeatures) -> SceneFeatures | None:
    """The weak-result retry's richer features of an ingested item's query: its stored record
    (up to 2000 keypoints, the same feature image) when that holds more keypoints than the
    query; ``None`` otherwise (nothing richer to try)."""
    stored = _features(db, [feature_id]).get(feature_id)
    return stored if stored is not None and len(stored) > len(query) else None


def _stored_item_features(db: Database, item_id: int) -> list[tuple[int, int, SceneFeatures]]:
    """(feature id, frame, features) of an item's stored records that have keypoints (frame 0
    for a photo); raise :class:`NotReady` when there are none."""
    with db.read() as s:
        rows = store.features_of_item(s, item_id, EXTRACTOR)
        out = [(r.id, r.frame, SceneFeatures.from_bytes(r.data)) for r in rows if r.n_keypoints > 0]
    if not out:
        raise NotReady(
            f"item #{item_id} has no scene features yet: back-fill with "
            "`vigil places scan CASE` (or `vigil analyze CASE --analyzer scene`)"
        )
    return out


def item_features(db: Database, item_id: int) -> list[tuple[int, SceneFeatures]]:
    """Stored (feature id, features) of an item: one for a photo, one per sampled video frame."""
    return [(fid, f) for fid, _, f in _stored_item_features(db, item_id)]


def item_queries(
    settings: Settings, db: Database, item_id: int
) -> list[tuple[int, SceneFeatures, str]]:
    """Query features of an item, one per stored record: (feature id, features, source).

    A stored record keeps up to 2000 keypoints (what a *candidate* needs), but a query does
    better with the strongest 1000 (``QUERY_PARAMS``): at 10k indexed images, recall@10 0.955
    in 161 ms with 33 links to unrelated rooms, against 0.9525 in 294 ms with 72 links using
    all 2000 (and 0.918 with every second stored keypoint: the stored order is by position, not
    strength). So a photo is decoded again (read-only, hash-checked) and its features
    extracted as for a query file. ``source`` says which was used: ``"re-extracted"``,
    ``"stored"`` (the record is already small), or ``"stored: REASON"`` (the evidence cannot be
    read now; a video, whose frames would need the whole file read and decoded again).
    """
    stored = _stored_item_features(db, item_id)
    if all(len(f) <= QUERY_PARAMS.max_keypoints for _, _, f in stored):
        return [(fid, f, "stored") for fid, _, f in stored]
    if any(frame > 0 for _, frame, _ in stored):
        # reading a whole video again (hash check included) to re-sample its frames costs
        # more than the smaller queries save
        return [(fid, f, "stored: video frames are not decoded again") for fid, _, f in stored]
    out: list[tuple[int, SceneFeatures, str]] = []
    for fid, _, f in stored:  # a photo: one record
        try:
            pixels = target_pixels(settings, db, fid)
        except (VigilError, OSError) as exc:
            out.append((fid, f, f"stored: evidence not readable now ({exc})"))
        else:
            out.append((fid, extract(pixels, QUERY_PARAMS), "re-extracted"))
    return out


# --- pixels of a target, for drawings ----------------------------------------------------------
def target_pixels(settings: Settings, db: Database, feature_id: int) -> U8:
    """Pixels the stored features of ``feature_id`` refer to (evidence re-read read-only)."""
    with db.read() as s:
        row = s.get(store.SceneFeature, feature_id)
        if row is None:
            raise NotFound(f"no scene features #{feature_id}")
        item_id, ref_id, frame = row.item_id, row.reference_id, row.frame
        ref = store.reference_image(s, ref_id) if ref_id is not None else None
    if ref is not None:
        data = Path(ref.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise InvalidInput(f"reference image {ref.path} changed since import (SHA-256 differs)")
        return decode(data, min_side=DEFAULT_PARAMS.max_side).pixels
    from vigil.evidence.locate import open_item

    assert item_id is not None  # noqa: S101
    with open_item(db, item_id, spool_dir=settings.spool_dir) as blob:
        if blob.kind == "video":
            from vigil.content.video import sample_frames

            for i, (_, pixels) in enumerate(sample_frames(blob.source(), every_s=10.0,
                                                          max_frames=12), 1):  # fmt: skip
                if i == frame:
                    return np.asarray(pixels, np.uint8)
            raise NotFound(f"frame {frame} of item #{item_id} could not be decoded again")
        return decode(blob.source(), min_side=DEFAULT_PARAMS.max_side).pixels


def draw_candidate(
    query_pixels: U8,
    candidate_pixels: U8,
    cand: Candidate,
    label: str,
    names: tuple[str, str] | None = None,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> bytes:
    """PNG of one candidate's verification (``names``: what to write above each image;
    ``min_coverage``: the search's, so the caption says "two surfaces" exactly where the
    search's result does)."""
    return encode_png(
        draw_pair(
            query_pixels,
            candidate_pixels,
            cand.verification,
            label=label,
            names=names,
            min_coverage=min_coverage,
        )
    )


# --- reference collections ---------------------------------------------------------------------
REQUIRED_COLUMNS = ("image", "place_id")
PLACE_COLUMNS = ("place_name", "address", "lat", "lon", "place_type")


@dataclass
class ImportReport:
    collection: str
    rows: int = 0
    imported: int = 0
    skipped_existing: int = 0
    refreshed: int = 0
    """Images imported before with features of an earlier extractor version: re-extracted."""
    places_created: int = 0
    no_features: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def warn(self, line: int, code: str, message: str) -> None:
        self.warnings.append({"line": line, "code": code, "message": message})


def import_collection(
    settings: Settings,
    db: Database,
    *,
    name: str,
    folder: Path,
    csv_path: Path,
    actor: str,
    agency: str | None = None,
    provenance: str | None = None,
    description: str | None = None,
    batch: int = 200,
) -> ImportReport:
    """Import a reference collection: images under ``folder`` listed in ``csv_path``.

    CSV columns: ``image`` (path relative to ``folder``) and ``place_id`` (the place's key; a
    place is created when unknown, from ``place_name``, ``address``, ``lat``, ``lon``,
    ``place_type``); every other column is kept as the image's metadata. A bad row becomes a
    warning with its line number and the rest of the file goes on. Re-importing into the same
    collection skips images already imported, except those whose features are of an earlier
    extractor version: they get new features (``refreshed``).
    """
    from vigil.places.geo import parse_coordinate

    folder = folder.resolve()
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder")
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {csv_path} as UTF-8 text: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(f"{csv_path}: missing column(s) {', '.join(missing)} "
                           f"(found: {', '.join(header) or 'none'})")  # fmt: skip
    report = ImportReport(name)
    with db.write() as s:
        coll = store.get_collection(s, name)
        if coll is None:
            coll = store.PlaceCollection(
                name=name, description=description, source_path=str(folder),
                agency_id=store._agency_id(s, agency), provenance=provenance, imported_by=actor,
            )  # fmt: skip
            s.add(coll)
            s.flush()
        coll_id = coll.id
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        with db.write() as s:
            created = 0
            for row in pending:
                try:
                    place = store.get_place(s, row["place_key"])
                except NotFound:
                    p = row["place"]
                    place = store.add_place(
                        s, name=p["name"] or row["place_key"], key=row["place_key"],
                        address=p["address"], lat=p["lat"], lon=p["lon"],
                        place_type=p["type"], agency=agency, created_by=actor,
                    )  # fmt: skip
                    created += 1
                ref_id = row["ref_id"]
                if ref_id is None:
                    ref = store.PlaceReferenceImage(
                        collection_id=coll_id, place_id=place.id, path=row["path"],
                        sha256=row["sha256"], width=row["width"], height=row["height"],
                        meta=row["meta"],
                    )  # fmt: skip
                    s.add(ref)
                    s.flush()
                    ref_id = ref.id
                else:  # imported under an earlier extractor version: its features replaced
                    s.execute(delete(store.SceneFeature).where(
                        store.SceneFeature.reference_id == ref_id))  # fmt: skip
                store.add_scene_feature(
                    s, reference_id=ref_id, data=row["data"], n_keypoints=row["n"],
                    width=row["width"], height=row["height"], extractor=EXTRACTOR,
                )  # fmt: skip
            report.places_created += created
            audit.append(s, actor, "places.reference_import",
                         details={"collection": name, "images": len(pending),
                                  "places_created": created})  # fmt: skip
        pending.clear()

    with db.read() as s:
        ref_ids = {
            p: int(i) for p, i in s.execute(
                select(store.PlaceReferenceImage.path, store.PlaceReferenceImage.id).where(
                    store.PlaceReferenceImage.collection_id == coll_id)
            )
        }  # fmt: skip
        # images imported under an earlier extractor version are imported again (features only)
        existing = store.reference_paths_with_features(s, coll_id, EXTRACTOR)
    seen_paths: set[str] = set()
    for line_no, raw in enumerate(reader, start=2):
        report.rows += 1
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            report.warn(line_no, "extra_fields", "row has more fields than the header; extra "
                        "fields ignored")  # fmt: skip
        try:
            rel, key = row.get("image", ""), row.get("place_id", "")
            if not rel or not key:
                raise InvalidInput("image and place_id must not be empty")
            path = (folder / rel).resolve()
            if not path.is_relative_to(folder):
                raise InvalidInput(f"image path {rel!r} leaves the collection folder")
            if str(path) in existing or str(path) in seen_paths:
                report.skipped_existing += 1
                continue
            lat_raw, lon_raw = row.get("lat", ""), row.get("lon", "")
            lat = parse_coordinate(lat_raw, axis="lat") if lat_raw else None
            lon = parse_coordinate(lon_raw, axis="lon") if lon_raw else None
            if (lat_raw and lat is None) or (lon_raw and lon is None):
                raise InvalidInput(f"unusable coordinates lat={lat_raw!r} lon={lon_raw!r}")
            ptype = row.get("place_type") or "hotel_room"
            if ptype not in store.PLACE_TYPES:
                raise InvalidInput(f"unknown place_type {ptype!r} "
                                   f"(known: {', '.join(store.PLACE_TYPES)})")  # fmt: skip
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidInput(f"cannot read image {rel!r}: {exc}") from exc
            pixels = decode(data, min_side=DEFAULT_PARAMS.max_side).pixels
            feats = extract(pixels, DEFAULT_PARAMS)
        except VigilError as exc:
            report.warn(line_no, exc.code, str(exc))
            continue
        if len(feats) == 0:
            report.no_features += 1
            report.warn(line_no, "no_features", f"{rel}: no scene features (blank or tiny image)")
        meta = {k: v for k, v in row.items()
                if k not in REQUIRED_COLUMNS and k not in PLACE_COLUMNS and k}  # fmt: skip
        pending.append({
            "place_key": key, "path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            "ref_id": ref_ids.get(str(path)),
            "width": int(pixels.shape[1]), "height": int(pixels.shape[0]), "meta": meta,
            "data": feats.to_bytes(), "n": len(feats),
            "place": {"name": row.get("place_name") or None, "address": row.get("address") or None,
                      "lat": lat, "lon": lon, "type": ptype},
        })  # fmt: skip
        seen_paths.add(str(path))
        report.imported += 1
        report.refreshed += str(path) in ref_ids
        if len(pending) >= batch:
            flush()
    flush()
    with db.write() as s:
        coll2 = s.get(store.PlaceCollection, coll_id)
        assert coll2 is not None  # noqa: S101
        coll2.stats = {"rows": report.rows, "imported": report.imported,
                       "warnings": len(report.warnings)}  # fmt: skip
    return report
