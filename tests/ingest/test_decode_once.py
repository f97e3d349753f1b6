"""Decode once, analyse many (issue 16): one decode per photo feeds the probe and every default
analyzer; the results equal each analyzer's own decode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

import vigil.content.decode as decoding
from vigil.ingest.analyzers import ANALYZERS, Blob, PhotoPixels, run_analyzer
from vigil.ingest.pipeline import ingest
from vigil.plugins import load_defaults
from vigil.settings import Settings
from vigil.signals.synthetic import jpeg_bytes, scene
from vigil.store.db import Database
from vigil.store.hashsets import ItemSignal


def _photos(folder: Path) -> list[Path]:
    folder.mkdir()
    out = []
    sizes = [(1600, 1200), (2200, 1100), (700, 500), (2600, 2100)]  # below/above the 2x draft
    for i, (w, h) in enumerate(sizes):
        p = folder / f"p{i}.jpg"
        p.write_bytes(jpeg_bytes(scene(i, w, h)))
        out.append(p)
    png = folder / "p.png"
    Image.fromarray(scene(9, 1500, 1400)).save(png)
    out.append(png)
    cut = folder / "cut.jpg"  # truncated: the probe's damage check is that same decode
    cut.write_bytes(jpeg_bytes(scene(5, 900, 700))[:-2])
    out.append(cut)
    return out


def test_each_photo_is_decoded_once_by_ingest(
    settings: Settings, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _photos(tmp_path / "ev")
    calls: list[Any] = []
    real = decoding._rgb_array  # every decode() goes through it, however decode was imported

    def counting(img: Any, k: int) -> Any:
        calls.append(img.size)
        return real(img, k)

    monkeypatch.setattr(decoding, "_rgb_array", counting)
    report = ingest(settings, db, tmp_path / "ev", "c", "tester", ["pdq", "scene"], workers=0)
    assert report is not None
    # pdq + scene (+ the damage check) from one decode; the cut JPEG fails inside load()
    assert len(calls) == len(photos) - 1, calls
    with db.read() as s:
        values = s.execute(select(ItemSignal.value).where(ItemSignal.signal_type == "pdq")).all()
    assert len([v for (v,) in values if v]) == len(photos) - 1  # the cut one is damaged


def test_shared_pixels_give_what_each_analyzer_computes_alone(tmp_path: Path) -> None:
    load_defaults()
    data = jpeg_bytes(scene(3, 2600, 1900))
    blob = Blob("0" * 64, len(data), "jpeg", "photo", data=data)
    pixels = PhotoPixels(blob)
    for name in ("pdq", "scene"):
        analyzer = ANALYZERS.get(name)
        shared = run_analyzer(analyzer, blob, pixels)
        alone = analyzer.analyze(blob)
        assert repr(shared.payload) == repr(alone.payload), name
        assert shared.warnings == alone.warnings
    assert pixels.decodes == 1


def test_a_refused_bomb_is_reported_once_and_keeps_its_item(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    from vigil.content.bombs import png_bomb
    from vigil.store.models import ItemWarning, MediaItem

    ev = tmp_path / "ev"
    ev.mkdir()
    png_bomb(ev / "huge.png", 16000, 16000, "RGBA")
    (ev / "ok.jpg").write_bytes(jpeg_bytes(scene(1, 800, 600)))
    ingest(settings, db, ev, "c", "tester", workers=0)
    with db.read() as s:
        warns = [(w.code, w.message) for w in s.execute(select(ItemWarning)).scalars()]
        items = s.execute(select(MediaItem)).scalars().all()
    assert len(items) == 2
    too_large = [m for c, m in warns if c == "image_too_large"]
    assert len(too_large) == 1 and "huge.png" in too_large[0]


def test_full_and_reduced_needs_share_or_derive_one_decode(tmp_path: Path) -> None:
    """Faces (full scale) + PDQ/scene (>= 640 px): one decode for a 2 MP JPEG (the plans are
    the same) and for a large PNG (the reduced pixels are derived, equal to a direct decode)."""
    from vigil.content.decode import decode
    from vigil.ingest.analyzers import ImageNeeds

    jpg = jpeg_bytes(scene(2, 1632, 1224))
    png_path = tmp_path / "big.png"
    img = Image.fromarray(scene(4, 2100, 1500))
    exif = img.getexif()
    exif[0x0112] = 6  # rotated by tag: reduction happens in stored orientation
    img.save(png_path, exif=exif)
    for blob in (
        Blob("1" * 64, len(jpg), "jpeg", "photo", data=jpg),
        Blob("2" * 64, 0, "png", "photo", path=png_path),
    ):
        pixels = PhotoPixels(blob)
        full = pixels.at(ImageNeeds(None))
        small = pixels.at(ImageNeeds(640))
        assert pixels.decodes == 1
        direct = decode(blob.source(), min_side=640).pixels
        assert small.pixels.shape == direct.shape and np.array_equal(small.pixels, direct)
        assert full.pixels.shape[0] * full.pixels.shape[1] >= direct.shape[0] * direct.shape[1]
