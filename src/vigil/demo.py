"""Synthetic evidence for the demo, the tests and the benchmarks.

Everything is generated: procedural pictures (gradients, shapes, noise; no people), a short
synthetic video, archives, and deliberately bad input (truncated image, zip bomb, path-traversal
members, a symlink loop, a non-UTF-8 file name). Deterministic for a given seed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CAMERAS = [
    ("VigilSynth", "SX-100", "SN0001"),
    ("VigilSynth", "SX-200", "SN0002"),
    ("Procedural", "P1", None),
]


def synthetic_picture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A benign procedural picture: colour gradient, random shapes and mild noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    c = rng.uniform(0, 255, size=(3, 3))
    base = np.stack(
        [
            c[i, 0] * x / max(width, 1) + c[i, 1] * y / max(height, 1) + c[i, 2] * 0.2
            for i in range(3)
        ],
        axis=-1,
    )
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 18))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = (
            x0 + int(rng.integers(8, max(9, width // 3))),
            y0 + int(rng.integers(8, max(9, height // 3))),
        )
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 3))
        if shape == 0:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == 1:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 8)))
    noise = rng.normal(0, 4, size=(height, width, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def jpeg_bytes(
    img: Image.Image,
    *,
    quality: int = 88,
    camera: tuple[str, str, str | None] | None = None,
    taken: str | None = None,
    gps: tuple[float, float] | None = None,
) -> bytes:
    """Encode ``img`` as JPEG with optional EXIF camera, capture time and GPS."""
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = camera[0], camera[1]
        if camera[2]:
            exif.get_ifd(0x8769)[0xA431] = camera[2]
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if gps:
        lat, lon = gps
        ifd = exif.get_ifd(0x8825)

        def dms(v: float) -> tuple[float, float, float]:
            v = abs(v)
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round((v - d - m / 60) * 3600, 4))

        ifd[1], ifd[2] = ("N" if lat >= 0 else "S"), dms(lat)
        ifd[3], ifd[4] = ("E" if lon >= 0 else "W"), dms(lon)
    out = io.BytesIO()
    img.save(
        out,
        "JPEG",
        quality=quality,
        exif=exif.tobytes() if len(exif) or camera or taken or gps else b"",
    )
    return out.getvalue()


def synthetic_video(
    path: Path,
    *,
    seconds: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (96, 64),
    seed: int = 0,
) -> None:
    """Write a short MPEG-4 clip of moving coloured blocks."""
    import av

    rng = np.random.default_rng(seed)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        background = np.asarray(synthetic_picture(rng, size[0], size[1]))
        for i in range(int(seconds * fps)):
            frame_arr = background.copy()
            x = (i * 4) % (size[0] - 16)
            frame_arr[10:26, x : x + 16] = (255, 64, 32)
            frame = av.VideoFrame.from_ndarray(frame_arr, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass(frozen=True)
class DemoLayout:
    """What :func:`build_evidence` produced (for tests to assert against)."""

    root: Path
    photos: int
    unique_photos: int
    has_disk_image: bool


def build_evidence(
    root: Path, *, seed: int = 7, photos: int = 24, bad_input: bool = True, disk_image: bool = True
) -> DemoLayout:
    """Create a synthetic seizure folder at ``root`` (which must not exist or be empty)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "DCIM").mkdir(exist_ok=True)
    (root / "Downloads").mkdir(exist_ok=True)
    blobs: list[bytes] = []
    for i in range(photos):
        w, h = [(320, 240), (640, 480), (800, 600), (1024, 768)][i % 4]
        cam = CAMERAS[i % len(CAMERAS)]
        gps = (
            (51.5 + rng.uniform(-0.01, 0.01), -0.12 + rng.uniform(-0.01, 0.01))
            if i % 5 == 0
            else None
        )
        data = jpeg_bytes(
            synthetic_picture(rng, w, h),
            camera=cam,
            taken=f"2024:0{1 + i % 9}:1{i % 10} 1{i % 10}:00:00",
            gps=gps,
        )
        blobs.append(data)
        (root / "DCIM" / f"IMG_{1000 + i}.JPG").write_bytes(data)
    for i in range(3):
        png = io.BytesIO()
        synthetic_picture(rng, 200, 150).save(png, "PNG")
        (root / "Downloads" / f"screen{i}.png").write_bytes(png.getvalue())
    # duplicates: the same bytes under other names
    (root / "Downloads" / "copy_of_IMG_1000.jpg").write_bytes(blobs[0])
    (root / "Downloads" / "renamed.dat").write_bytes(blobs[1])
    synthetic_video(root / "DCIM" / "VID_0001.mp4", seed=seed)
    # archives: a zip holding photos and a nested tar.gz
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        for j in range(3):
            data = jpeg_bytes(synthetic_picture(rng, 320, 240))
            info = tarfile.TarInfo(f"nested/pic{j}.jpg")
            info.size, info.mtime = len(data), 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(root / "Downloads" / "holiday.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for j in range(4):
            zf.writestr(f"holiday/h{j}.jpg", jpeg_bytes(synthetic_picture(rng, 400, 300)))
        zf.writestr("holiday/also_IMG_1002.jpg", blobs[2])
        zf.writestr("holiday/more.tar.gz", inner.getvalue())
    if bad_input:
        bad = root / "bad"
        bad.mkdir(exist_ok=True)
        (bad / "truncated.jpg").write_bytes(blobs[3][: len(blobs[3]) // 2])
        (bad / "not_a_picture.jpg").write_bytes(b"this is text pretending to be a JPEG\n" * 20)
        with zipfile.ZipFile(bad / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("zeros.bin", b"\x00" * (32 * 1024 * 1024))
            zf.writestr("fine.txt", b"an innocent member next to the bomb\n")
        with zipfile.ZipFile(bad / "traversal.zip", "w") as zf:
            zf.writestr("../../escaped.jpg", blobs[4])
            zf.writestr("/etc/absolute.txt", b"absolute path member\n")
            zf.writestr("ok/normal.txt", b"normal member\n")
        os.symlink("loop_b", bad / "loop_a")
        os.symlink("loop_a", bad / "loop_b")
        (bad / os.fsdecode(b"caf\xe9_latin1_name.jpg")).write_bytes(blobs[5])
    has_disk = False
    if disk_image and shutil.which("mke2fs"):
        staging = root.parent / f".{root.name}-disk-staging"
        (staging / "Pictures").mkdir(parents=True, exist_ok=True)
        for j in range(3):
            (staging / "Pictures" / f"disk{j}.jpg").write_bytes(
                jpeg_bytes(synthetic_picture(rng, 320, 240))
            )
        (staging / "Pictures" / "dup_of_IMG_1003.jpg").write_bytes(blobs[3])
        img = root / "usb_stick.dd"
        done = subprocess.run(
            [
                "mke2fs",
                "-q",
                "-F",
                "-t",
                "ext4",
                "-d",
                str(staging),
                "-E",
                "root_owner=0:0",
                str(img),
                "4M",
            ],
            capture_output=True,
            check=False,
            env={**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"},
        )
        shutil.rmtree(staging, ignore_errors=True)
        has_disk = done.returncode == 0
        if not has_disk:
            img.unlink(missing_ok=True)
    return DemoLayout(root, photos, photos, has_disk)


def build_hash_sets(evidence: Path, out_dir: Path) -> list[Path]:
    """Synthetic hash sets for the demo, made from the demo evidence itself (no real material).

    * ``demo-known.csv`` (ICSE-style): exact MD5/SHA-1 of three demo photos, category codes only.
    * ``demo-near.pdq.csv``: PDQ hashes of *re-encoded, resized* copies of two other photos, so
      the originals in the evidence match perceptually (near-known) but not by digest.
    """
    import hashlib

    from vigil.signals.base import Hashed
    from vigil.signals.pdq import hash_image

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;Series name;Category"
    ]
    for n, name in enumerate(("IMG_1000.JPG", "IMG_1001.JPG", "IMG_1002.JPG")):
        data = (evidence / "DCIM" / name).read_bytes()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
        rows.append(f"{md5};{sha1};;DEMO-{n + 1:04d};true;false;false;DEMO-SERIES-A;{1 + n % 2}")
    known = out_dir / "demo-known.csv"
    known.write_text("\n".join(rows) + "\n", encoding="utf-8")
    pdq_rows = ["hash,quality,label"]
    for name in sorted(p.name for p in (evidence / "DCIM").glob("IMG_*.JPG"))[4:]:
        img = Image.open(evidence / "DCIM" / name).convert("RGB")
        variant = img.resize((img.width * 9 // 10, img.height * 9 // 10))
        buf = io.BytesIO()
        variant.save(buf, "JPEG", quality=60)
        outcome = hash_image(buf.getvalue())
        if isinstance(outcome, Hashed) and outcome.quality is not None and outcome.quality >= 70:
            pdq_rows.append(f"{outcome.value},{outcome.quality},demo-variant-of-{name}")
        if len(pdq_rows) == 3:
            break
    near = out_dir / "demo-near.pdq.csv"
    near.write_text("\n".join(pdq_rows) + "\n", encoding="utf-8")
    return [known, near]
