"""Peak memory and time of one ingest worker on decompression bombs of each image format.

Each bomb is a small file that decodes to a huge image (issue 14, defect 2: a 389 KB greyscale
PNG of 20000 x 20000 took 10.7 GB). Every file is run through the real worker path (digest,
sniff, probe, default analyzers: PDQ, scene features) in a fresh child process whose address
space is capped (``--cap-gb``, so a regression fails instead of exhausting the shared machine);
the child's peak RSS comes from ``os.wait4``. The peer measured in the same run
is the same worker on an ordinary 12 MP photo, i.e. the floor a bomb should stay near.

Prints ONE JSON line: per file its size, peak RSS (MB), seconds and outcome (warnings stored).

    python benchmarks/decode_budget.py [--quick] [--cap-gb 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vigil.content.bombs import gif_frames_bomb, pillow_bomb, png_bomb


def _child(path: str) -> None:
    from vigil.ingest.worker import Task, init_worker, process
    from vigil.plugins import load_defaults

    load_defaults()
    from vigil.ingest.analyzers import ANALYZERS

    names = tuple(a.name for a in ANALYZERS if a.default_enabled)
    init_worker(None, names, False)
    t0 = time.perf_counter()
    result = process(Task(0, path.encode(), fs_path=path))
    secs = time.perf_counter() - t0
    warnings = list(result.warnings)
    if result.meta is not None:
        warnings += result.meta.warnings
    for _name, (_v, out) in result.analyses.items():
        warnings += out.warnings
    print(json.dumps({"s": round(secs, 2), "warnings": sorted({c for c, _m in warnings})}))


def _run(path: Path, cap_gb: float) -> dict[str, object]:
    cap = int(cap_gb * (1 << 30))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(  # wait4 gives this child's own peak RSS
            [sys.executable, __file__, "--child", str(path)],
            stdout=out,
            stderr=err,
            text=True,
            preexec_fn=limit,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rc = os.waitstatus_to_exitcode(status)
    row: dict[str, object] = {
        "file": path.name,
        "bytes": path.stat().st_size,
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "wall_s": round(wall, 2),
    }
    if rc == 0:
        row.update(json.loads(stdout.strip().splitlines()[-1]))
    else:
        tail = (stderr.strip().splitlines() or ["?"])[-1]
        row["failed"] = f"rc={rc}: {tail[:160]}"
    return row


def _bombs(tmp: Path, quick: bool) -> list[Path]:
    from vigil.signals.synthetic import jpeg_bytes, scene

    side = 12000 if quick else 20000
    photo = tmp / "peer-12mp.jpg"
    photo.write_bytes(jpeg_bytes(scene(3, 4000, 3000)))
    files = [
        photo,
        png_bomb(tmp / f"png-1bit-{side}.png", side, side, "1"),
        png_bomb(tmp / f"png-grey-{side}.png", side, side, "L"),
        png_bomb(tmp / f"png-rgb-{side}.png", side, side, "RGB"),
        png_bomb(tmp / f"png-rgba-{side}.png", side, side, "RGBA"),
        pillow_bomb(tmp / f"jpeg-grey-{side}.jpg", "JPEG", side, side, "L", quality=50),
        pillow_bomb(
            tmp / f"tiff-grey-{side}.tif", "TIFF", side, side, "L", compression="tiff_adobe_deflate"
        ),
        pillow_bomb(tmp / "webp-16383.webp", "WEBP", 16383, 16383, "RGB", lossless=True),
        pillow_bomb(tmp / f"gif-{side}.gif", "GIF", side, side, "P"),
        gif_frames_bomb(tmp / "gif-frames-4000x40.gif", 4000, 4000, 40 if not quick else 10),
    ]
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller bombs (12000 px sides)")
    parser.add_argument("--cap-gb", type=float, default=3.0, help="address-space cap per child")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="vigil-bombs-") as tmp:
        files = _bombs(Path(tmp), args.quick)
        rows = [_run(f, args.cap_gb) for f in files]
    print(
        json.dumps(
            {
                "benchmark": "decode_budget",
                "quick": args.quick,
                "cap_gb": args.cap_gb,
                "cpu": os.cpu_count(),
                "files": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
