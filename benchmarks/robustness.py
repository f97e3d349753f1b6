"""Benchmark: does PDQ find the original after everyday edits, and how often does it match an
unrelated picture, at the default threshold (31 bits)?

Originals are generated benign pictures saved as JPEG q90; the reference hash is computed with
a full decode (as a hash set made by another tool would hold). Each edited copy is saved as a
file and hashed the way Vigil ingest does (reduced-scale decode), then searched in an exact
index of all originals: recall = share of edited copies whose own original is found. Flips and
rotations are also searched with the eight dihedral variants of the query (PDQ's DCT-domain
trick). The false-match rate compares ``--unrelated`` other generated pictures (thumbnails of
128 x 96 px, to keep 100,000 of them affordable) with every original.

    python benchmarks/robustness.py [--originals 200] [--unrelated 100000] [--quick]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from vigil.content.decode import decode
from vigil.index.hamming import MihIndex, hex_to_words
from vigil.signals.base import Hashed
from vigil.signals.pdq import DEFAULT_THRESHOLD, dihedral_hashes, hash_image, hash_pixels
from vigil.signals.synthetic import scene

Edit = Callable[[Image.Image], Image.Image]


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _crop(frac: float) -> Edit:
    def edit(img: Image.Image) -> Image.Image:
        w, h = img.size
        dx, dy = int(w * frac), int(h * frac)
        return img.crop((dx, dy, w - dx, h - dy))

    return edit


def _watermark(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=max(12, img.size[1] // 12))
    draw.text(
        (img.size[0] // 20, img.size[1] * 4 // 5),
        "SAMPLE (c) 2026",
        fill=(255, 255, 255),
        font=font,
    )
    draw.text((img.size[0] * 3 // 5, img.size[1] // 20), "watermark", fill=(0, 0, 0), font=font)
    return out


EDITS: dict[str, Edit] = {
    "resize_50": lambda im: im.resize((im.size[0] // 2, im.size[1] // 2), Image.Resampling.LANCZOS),
    "resize_25": lambda im: im.resize((im.size[0] // 4, im.size[1] // 4), Image.Resampling.LANCZOS),
    "upscale_150": lambda im: im.resize(
        (im.size[0] * 3 // 2, im.size[1] * 3 // 2), Image.Resampling.BICUBIC
    ),
    "crop_2pct": _crop(0.02),
    "crop_5pct": _crop(0.05),
    "crop_10pct": _crop(0.10),
    "watermark_text": _watermark,
    "brightness_+25pct": lambda im: ImageEnhance.Brightness(im).enhance(1.25),
    "contrast_-30pct": lambda im: ImageEnhance.Contrast(im).enhance(0.7),
    "saturation_+50pct": lambda im: ImageEnhance.Color(im).enhance(1.5),
    "greyscale": lambda im: im.convert("L").convert("RGB"),
    "channel_swap": lambda im: Image.merge("RGB", im.split()[::-1]),
    "flip_horizontal": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "flip_vertical": lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    "rotate_90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
}
RECOMPRESS = {"jpeg_q60": 60, "jpeg_q30": 30}
DIHEDRAL = ("flip_horizontal", "flip_vertical", "rotate_90")


def _unrelated_hash(j: int) -> str | None:
    got = hash_pixels(scene(5_000_000 + j, 128, 96))
    return got.value if isinstance(got, Hashed) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--originals", type=int, default=200)
    ap.add_argument("--unrelated", type=int, default=100_000)
    ap.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--quick", action="store_true", help="20 originals, 2,000 unrelated pictures")
    args = ap.parse_args()
    if args.quick:
        args.originals, args.unrelated = 20, 2_000
    t = args.threshold
    started = time.perf_counter()
    originals: list[Image.Image] = []
    refs: list[str] = []
    for i in range(args.originals):
        img = Image.fromarray(scene(1000 + i, 800, 600))
        data = _jpeg(img)
        ref = hash_image(data, reduced=False)
        if not isinstance(ref, Hashed):
            continue
        originals.append(Image.open(io.BytesIO(data)).convert("RGB"))
        refs.append(ref.value)
    index = MihIndex(hex_to_words(refs), np.arange(len(refs), dtype=np.int64))
    recall: dict[str, float] = {}
    distances: dict[str, float] = {}
    dihedral_recall: dict[str, float] = {}
    cases: list[tuple[str, Callable[[Image.Image], bytes]]] = [
        (name, (lambda im, e=edit: _jpeg(e(im)))) for name, edit in EDITS.items()
    ]
    cases += [(name, (lambda im, q=q: _jpeg(im, q))) for name, q in RECOMPRESS.items()]
    for name, make in cases:
        found = 0
        found_dih = 0
        dists = []
        for i, img in enumerate(originals):
            data = make(img)
            got = hash_image(data, reduced=True)
            if not isinstance(got, Hashed):
                continue
            matches = index.query(got.value, max_distance=t)
            hit = [m.distance for m in matches if m.entry_id == i]
            found += bool(hit)
            dists.append(hit[0] if hit else bin(int(got.value, 16) ^ int(refs[i], 16)).count("1"))
            if name in DIHEDRAL:
                variants = dihedral_hashes(decode(data, min_side=512).pixels).values()
                found_dih += any(
                    any(m.entry_id == i for m in index.query(v, max_distance=t)) for v in variants
                )
        recall[name] = round(found / len(originals), 3)
        distances[name] = float(np.median(dists)) if dists else float("nan")
        if name in DIHEDRAL:
            dihedral_recall[name] = round(found_dih / len(originals), 3)
    # false matches: unrelated generated pictures against every original
    false_pairs = 0
    false_images = 0
    hashed = 0
    batch: list[str] = []

    def flush() -> None:
        nonlocal false_pairs, false_images
        for matches in index.query_batch(batch, max_distance=t):
            false_pairs += len(matches)
            false_images += bool(matches)
        batch.clear()

    with multiprocessing.Pool(args.workers) as pool:
        for value in pool.imap(_unrelated_hash, range(args.unrelated), chunksize=256):
            if value is not None:
                hashed += 1
                batch.append(value)
            if len(batch) >= 2000:
                flush()
    if batch:
        flush()
    comparisons = hashed * len(refs)
    print(
        json.dumps(
            {
                "benchmark": "pdq_robustness",
                "threshold": t,
                "originals": len(refs),
                "recall": recall,
                "median_distance_to_original": distances,
                "dihedral_recall": dihedral_recall,
                "unrelated_images": hashed,
                "false_match_pairs": false_pairs,
                "false_match_rate_per_comparison": false_pairs / comparisons
                if comparisons
                else None,
                "unrelated_images_matching_any_original": false_images,
                "elapsed_s": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
