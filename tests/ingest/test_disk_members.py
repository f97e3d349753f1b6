"""A disk image's files are read by the workers themselves (one image spreads over workers).

The walker lists the image and hands out :class:`ImageMember` locators; each worker opens the
image read-only and reads its chunk's files. The oracle is the staging folder the image was
made from: every file must be recorded under its path with the SHA-256 of its bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.demo import jpeg_bytes, synthetic_picture
from vigil.evidence.walk import SEP, Entry, ImageMember, Walker
from vigil.ingest.pipeline import ingest
from vigil.ingest.worker import Task, close_worker, init_worker, process_many
from vigil.settings import IngestLimits, Settings
from vigil.store.db import Database

pytestmark = pytest.mark.skipif(not shutil.which("mke2fs"), reason="e2fsprogs not installed")

SPOOL_IN_MEMORY = 256 * 1024
"""Small, so that the image's large file is spooled by the worker that reads it."""


def build_image(root: Path, photos: int, side: tuple[int, int] = (160, 120)) -> Path:
    """An ext4 image of generated photos, a large file, a zip, an empty file and a duplicate."""
    rng = np.random.default_rng(5)
    staging = root / "staging"
    (staging / "Pictures" / "2024").mkdir(parents=True)
    (staging / "docs").mkdir()
    base = jpeg_bytes(synthetic_picture(rng, *side), quality=85)
    for i in range(photos):
        folder = staging / "Pictures" / ("2024" if i % 3 else "")
        # a few trailing bytes make each photo a distinct item with the same pixels
        (folder / f"img{i:04d}.jpg").write_bytes(base + i.to_bytes(4, "big"))
    (staging / "Pictures" / "copy.jpg").write_bytes(base + (1).to_bytes(4, "big"))
    (staging / "docs" / "large.bin").write_bytes(rng.bytes(3 * SPOOL_IN_MEMORY + 17))
    (staging / "docs" / "empty.txt").write_bytes(b"")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/a.txt", "a zip inside the image is expanded by the walker")
        zf.writestr("inner/b.jpg", base + b"zip")
    (staging / "docs" / "pack.zip").write_bytes(buf.getvalue())
    image = root / "ev" / "disk.raw"
    image.parent.mkdir()
    size_mb = 8 + photos * (len(base) + 4096) // 2**20
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(staging), str(image), f"{size_mb}M"],
        check=True,
        capture_output=True,
        env={**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"},
    )
    return image


def oracle(image: Path) -> dict[bytes, str]:
    """raw path → SHA-256 of every file the image was made from, and of the zip's members."""
    staging = image.parents[1] / "staging"
    top = image.name.encode() + SEP
    out = {}
    for path in staging.rglob("*"):
        if path.is_file():
            raw = top + path.relative_to(staging).as_posix().encode()
            out[raw] = hashlib.sha256(path.read_bytes()).hexdigest()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as zf:
                    for name in zf.namelist():
                        out[raw + SEP + name.encode()] = hashlib.sha256(zf.read(name)).hexdigest()
    out[image.name.encode()] = hashlib.sha256(image.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_image(tmp_path_factory.mktemp("disk"), photos=60)


def _walk(image: Path, tmp: Path, **kw: object) -> list[Entry]:
    return list(Walker(image, IngestLimits(), tmp / "spool", **kw))  # type: ignore[arg-type]


def test_walker_hands_out_image_files_instead_of_reading_them(image: Path, tmp_path: Path) -> None:
    read_here = _walk(image, tmp_path)
    located = _walk(image, tmp_path, locate_image_members=True)
    assert [(e.raw_path, e.status, e.depth) for e in located] == [
        (e.raw_path, e.status, e.depth) for e in read_here
    ]
    by_path = {e.raw_path: e for e in located}
    photo = by_path[b"disk.raw!/Pictures/2024/img0001.jpg"]
    assert photo.member is not None and photo.data is None and photo.has_content
    assert photo.member.image == str(image) and photo.member.kind == "raw_disk"
    assert photo.size == len((image.parents[1] / "staging/Pictures/2024/img0001.jpg").read_bytes())
    # a container inside the image is still read and expanded by the walker
    assert by_path[b"disk.raw!/docs/pack.zip"].data is not None
    assert by_path[b"disk.raw!/docs/pack.zip!/inner/b.jpg"].data is not None
    members = [e for e in located if e.member is not None]
    assert len(members) == 60 + 3  # photos, copy.jpg, large.bin, empty.txt
    # resuming: recorded files come back as "done" without a locator, the rest as before
    recorded = {e.raw_path for e in members[::2]}
    resumed = _walk(image, tmp_path, locate_image_members=True, skip=recorded.__contains__)
    assert [e.raw_path for e in resumed] == [e.raw_path for e in located]
    for entry in resumed:
        if entry.raw_path in recorded:
            assert entry.status == "done" and entry.member is None
        elif entry.raw_path in {m.raw_path for m in members}:
            assert entry.member is not None


def test_ingest_reads_image_files_in_the_workers(
    image: Path, tmp_path: Path, dump: Callable[[Database], dict[str, Any]]
) -> None:
    stores = {}
    for workers in (0, 2):
        settings = Settings.load(
            tmp_path / f"home{workers}", limits={"spool_in_memory": SPOOL_IN_MEMORY}
        )
        settings.data_dir.mkdir(parents=True)
        db = Database(settings.database_url)
        report = ingest(settings, db, image, "disk", "tester", ["pdq"], workers=workers)
        assert report.image_member_workers >= 1, report
        assert not settings.spool_dir.exists() or not any(settings.spool_dir.rglob("*"))
        stores[workers] = dump(db)
        db.dispose()
    assert stores[0] == stores[2]
    recorded = {o[0]: o[1] for o in stores[2]["occurrences"]}
    expected = oracle(image)
    assert recorded == expected
    sizes = {o[0]: o[2] for o in stores[2]["occurrences"]}
    assert sizes[b"disk.raw!/docs/large.bin"] == 3 * SPOOL_IN_MEMORY + 17
    assert stores[2]["warnings"] == []


def test_a_member_that_cannot_be_read_becomes_an_error_of_that_file(
    image: Path, tmp_path: Path
) -> None:
    init_worker(None, (), False, None, str(tmp_path / "spool"), SPOOL_IN_MEMORY)
    good = _walk(image, tmp_path, locate_image_members=True)
    member = next(e.member for e in good if e.member is not None and e.size)
    assert member is not None
    bad = ImageMember(member.image, member.kind, member.fs_offset, 10**7, 10)
    gone = ImageMember(str(tmp_path / "missing.raw"), "raw_disk", 0, member.inode, 10)
    try:
        results = process_many(
            [
                Task(1, b"good", member=member),
                Task(2, b"bad", member=bad),
                Task(3, b"gone", member=gone),
            ]
        )
    finally:
        close_worker()
    assert results[0].error is None and results[0].digests is not None
    assert results[0].digests.size == member.size
    for result in results[1:]:
        assert result.digests is None
        assert result.error and "could not be read from the image" in result.error
