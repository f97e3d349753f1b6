"""Helpers for face tests: the committed public-domain adult portraits, derived variants, blobs
and a way to record items in a case.

Only ``obama_*`` are distinct photographs of one person; the other people have one photograph
each, so their "second photos" are derived variants (crop + mirror + brightness + rescale + JPEG)
generated here.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.ingest.analyzers import Blob
from vigil.store import repo
from vigil.store.models import MediaItem

DATA = Path(__file__).parent / "data"
PEOPLE = {
    "obama_1.jpg": "obama",
    "obama_2.jpg": "obama",
    "obama_3.jpg": "obama",
    "biden_1.jpg": "biden",
    "collins_1.jpg": "collins",
    "hopper_1.jpg": "hopper",
}


def photo_bytes(name: str) -> bytes:
    """A committed photo's bytes."""
    return (DATA / name).read_bytes()


def variant_bytes(name: str, *, seed: int = 1) -> bytes:
    """A derived variant of a committed photo: crop, mirror, brightness, rescale, JPEG q80."""
    img = Image.open(DATA / name).convert("RGB")
    w, h = img.size
    rng = np.random.default_rng(seed)
    dx, dy = int(w * rng.uniform(0.02, 0.08)), int(h * rng.uniform(0.0, 0.05))
    img = img.crop((dx, dy, w - dx // 2, h - dy // 2))
    img = ImageOps.mirror(img)
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.75, 0.9)))
    scale = float(rng.uniform(0.8, 0.95))
    img = img.resize((int(img.width * scale), int(img.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def blob_of(data: bytes, name: str, kind: str = "photo", ctype: str = "jpeg") -> Blob:
    """An in-memory blob as ingest would hand it to an analyzer."""
    return Blob(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        content_type=ctype,
        kind=kind,
        data=data,
        display_path=name,
    )


def add_item(
    session: Session, case_name: str, name: str, data: bytes, *, kind: str = "photo"
) -> int:
    """Record ``data`` as an item found at ``name`` in a folder source of ``case_name``."""
    case = repo.ensure_case(session, case_name, "tester")
    source, _ = repo.ensure_source(session, case, f"/evidence/{case_name}", "folder", "tester")
    digest = hashlib.sha256(data).hexdigest()
    existing = session.execute(
        select(MediaItem.id).where(MediaItem.sha256 == digest)
    ).scalar_one_or_none()
    if existing is not None:
        item_id = existing
    else:
        item = repo.add_item(
            session,
            sha256=digest,
            sha1=hashlib.sha1(data).hexdigest(),  # noqa: S324 - forensic digest, not security
            md5=hashlib.md5(data).hexdigest(),  # noqa: S324
            size=len(data),
            content_type="jpeg" if kind == "photo" else "mp4",
            kind=kind,
            extractor_version="test",
        )
        item_id = item.id
    repo.add_occurrence(
        session, source_id=source.id, item_id=item_id, path=name, raw_path=name.encode()
    )
    session.flush()
    return item_id
