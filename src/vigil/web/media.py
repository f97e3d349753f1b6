"""Pixels for the review screens: blurred greyscale thumbnails by default, one clear image on a
deliberate (audited) reveal. Media is re-read read-only from the evidence through
:func:`vigil.evidence.locate.open_item`; nothing is ever served from a folder."""

from __future__ import annotations

import base64
import io
import os
import stat
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageOps
from sqlalchemy.orm import Session

from vigil.content.decode import decode
from vigil.errors import VigilError
from vigil.evidence.walk import SEP
from vigil.store.db import Database

MAX_MEDIA_BYTES = 256 * 1024**2
"""Items larger than this are not rendered in the browser (a placeholder is shown)."""


def load_from_evidence(db: Database, item_id: int) -> bytes:
    """The item's bytes, re-read read-only from its evidence source (SHA-256 verified)."""
    from vigil.evidence.locate import open_item  # the foundation's read-only locator

    with open_item(db, item_id, max_bytes=MAX_MEDIA_BYTES) as blob:
        if blob.data is not None:
            return bytes(blob.data)
        with blob.open() as fh:
            return fh.read(MAX_MEDIA_BYTES)


def recorded_path(source_path: str, inside_folder: bool, raw: bytes) -> str:
    """The file on the server an occurrence is read from: the file inside a folder source, or
    the archive / disk image itself (members are found again inside it)."""
    if not inside_folder:
        return source_path
    first = raw.partition(SEP)[0]
    return os.path.join(source_path, os.fsdecode(first))


def _problem(path: str) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"source not found at {path}"
    except OSError as exc:
        return f"source not readable at {path} ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.R_OK):
        return f"source not readable at {path}"
    return ""


def evidence_problems(db: Database | Session, case_id: int, item_ids: list[int]) -> dict[int, str]:
    """Items none of whose recorded sources can be opened now, each with why (the first
    recorded path): their evidence is unavailable, so no reveal is offered. One ``stat`` per
    recorded path of the page's items (stopping at the first that is there); nothing is read."""
    from vigil.store import web as store

    if isinstance(db, Session):  # the request's read session
        rows = store.item_source_paths(db, case_id, item_ids)
    else:
        with db.read() as session:
            rows = store.item_source_paths(session, case_id, item_ids)
    roots: dict[tuple[str, str], bool] = {}  # (source path, kind) -> files are inside it
    problems: dict[int, str] = {}
    ok: set[int] = set()
    for item_id, source_path, kind, raw in rows:
        if item_id in ok:
            continue
        key = (source_path, kind)
        if key not in roots:
            roots[key] = kind == "folder" or os.path.isdir(source_path)
        path = recorded_path(source_path, roots[key], raw)
        problem = _problem(path)
        if problem:
            problems.setdefault(item_id, problem)
        else:
            ok.add(item_id)
            problems.pop(item_id, None)
    return problems


def no_problems(_db: Database | Session, _case_id: int, _item_ids: list[int]) -> dict[int, str]:
    """The check used with an injected media loader (tests): every item counts as readable."""
    return {}


def _fit(img: Image.Image, size: int) -> Image.Image:
    img = img.copy()
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    return img


def placeholder(label: str, size: int) -> bytes:
    """A neutral grey tile with a short label (videos, documents, unreadable items)."""
    img = Image.new("L", (size, size), 200)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, size - 1, size - 1), outline=150)
    draw.text((10, size // 2 - 6), label[:24], fill=60)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def blurred_thumbnail(data: bytes, *, size: int, radius: float) -> bytes:
    """Greyscale, heavily blurred JPEG thumbnail (the default view of any image)."""
    pixels = decode(data, min_side=size).pixels
    img = _fit(Image.fromarray(pixels, "RGB"), size)
    small = ImageOps.grayscale(img)
    # blur at a reduced scale then scale up: removes detail whatever the blur radius setting
    tiny = small.resize((max(1, small.width // 8), max(1, small.height // 8)), Image.Resampling.BOX)
    blurred = tiny.resize(small.size, Image.Resampling.BILINEAR).filter(
        ImageFilter.GaussianBlur(radius)
    )
    out = io.BytesIO()
    blurred.save(out, "JPEG", quality=70)
    return out.getvalue()


def clear_image(data: bytes, *, size: int = 1024) -> bytes:
    """A clear JPEG of the item, scaled to at most ``size`` pixels (shown after a reveal)."""
    pixels = decode(data, min_side=size).pixels
    img = _fit(Image.fromarray(pixels, "RGB"), size)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def data_uri(jpeg: bytes) -> str:
    """An inline ``data:`` URI: the clear image exists only in the reveal response."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def thumbnail_for(
    db: Database, loader: Any, item_id: int, kind: str, *, size: int, radius: float
) -> tuple[bytes, str]:
    """The blurred thumbnail bytes and media type of an item (a placeholder when no image)."""
    if kind != "photo":
        return placeholder(kind, size), "image/png"
    try:
        data = loader(db, item_id)
        return blurred_thumbnail(data, size=size, radius=radius), "image/jpeg"
    except (VigilError, OSError, ValueError):
        return placeholder("unavailable", size), "image/png"
