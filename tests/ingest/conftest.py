from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from vigil.store.db import Database
from vigil.store.models import EvidenceSource, ItemWarning, MediaItem, Occurrence

ITEM_FIELDS = (
    "sha256",
    "sha1",
    "md5",
    "size",
    "content_type",
    "kind",
    "width",
    "height",
    "camera_make",
    "camera_model",
    "camera_serial",
    "captured_at",
    "gps_lat",
    "gps_lon",
    "status",
)


def canonical(db: Database, warnings_by_item: bool = False) -> dict[str, Any]:
    """Everything an ingest recorded, independent of row ids and timing.

    ``warnings_by_item``: an item's warnings (e.g. PDQ's low quality) are keyed by the item's
    SHA-256 instead of the path they were recorded on. The writer records them on the
    occurrence whose result it took first, so two files with the same bytes give either path
    depending on the order their tasks finish (Ray, several workers)."""
    with db.read() as s:
        items = sorted(
            tuple(getattr(i, f) for f in ITEM_FIELDS)
            for i in s.execute(select(MediaItem)).scalars()
        )
        sha = {i.id: i.sha256 for i in s.execute(select(MediaItem)).scalars()}
        occ = sorted(
            (
                bytes(o.raw_path),
                sha.get(o.item_id) if o.item_id else None,
                o.size,
                o.status,
                o.depth,
                o.mtime.isoformat() if o.mtime else None,
            )
            for o in s.execute(select(Occurrence)).scalars()
        )
        warns: list[tuple[Any, ...]] = sorted(
            (bytes(w.raw_path), w.code, w.message) for w in s.execute(select(ItemWarning)).scalars()
        )
        if warnings_by_item:
            warns = sorted(
                (
                    f"item {sha[w.item_id]}" if w.item_id else f"path {bytes(w.raw_path)!r}",
                    w.code,
                    w.message,
                )
                for w in s.execute(select(ItemWarning)).scalars()
            )
        sources = sorted(
            (src.path, src.kind, src.status, src.sha256)
            for src in s.execute(select(EvidenceSource)).scalars()
        )
    return {"items": items, "occurrences": occ, "warnings": warns, "sources": sources}


@pytest.fixture
def dump() -> Callable[[Database], dict[str, Any]]:
    return canonical
