"""One large zip of generated photos, ingested with 1 and 2 workers, members split over the
workers (``split_archives``, the default) or read by the walker and sent as bytes (before):
prints one JSON line.

    python benchmarks/archive_split.py --members 1500
    python benchmarks/archive_split.py --members 1500 --analyzers pdq

Each ingest runs in its own process (a fresh store), so its CPU seconds are that process tree's
(writer + workers); the raw limit in the same run is one process decompressing every member and
computing MD5 + SHA-1 + SHA-256 of it. The 1-minute load average is recorded around every run
(the machine may be shared): compare only runs of the same invocation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from vigil.demo import jpeg_bytes, synthetic_picture
from vigil.evidence.walk import Walker
from vigil.settings import IngestLimits

_INGEST = """
import json, sys, time, resource
from pathlib import Path
from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store.db import Database
home, target, workers, split, analyzers = sys.argv[1:6]
if analyzers:
    from vigil.plugins import load_defaults
    load_defaults()
settings = Settings.load(Path(home), limits={"split_archives": split == "1"})
settings.data_dir.mkdir(parents=True)
db = Database(settings.database_url)
db.dispose()
me0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
r = ingest(settings, Database(settings.database_url), Path(target), "bench", "bench",
           [a for a in analyzers.split(",") if a], workers=int(workers))
wall = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF)
ch = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "files": r.files, "archive_member_workers":
    r.archive_member_workers, "worker_processes": r.worker_processes,
    "writer_cpu": me.ru_utime + me.ru_stime - me0.ru_utime - me0.ru_stime,
    "workers_cpu": ch.ru_utime + ch.ru_stime}))
"""


def build(path: Path, members: int) -> int:
    """A deflated zip of ``members`` distinct 640x480 photos (8 different pictures)."""
    rng = np.random.default_rng(7)
    pics = [jpeg_bytes(synthetic_picture(rng, 640, 480), quality=85) for _ in range(8)]
    total = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            data = pics[i % 8][:2] + b"\xff\xfe\x00\x06" + i.to_bytes(4, "big") + pics[i % 8][2:]
            zf.writestr(f"DCIM/{i // 250:03d}/IMG_{i:05d}.JPG", data)
            total += len(data)
    return total


def raw_limit(path: Path) -> dict[str, float]:
    """One process: decompress every member and compute its three digests."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            md5, sha1, sha256 = hashlib.md5(), hashlib.sha1(), hashlib.sha256()  # noqa: S324
            with zf.open(info) as fh:
                while chunk := fh.read(1024 * 1024):
                    md5.update(chunk)
                    sha1.update(chunk)
                    sha256.update(chunk)
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "cpu_s": round(time.process_time() - cpu0, 2),
    }


def walker_cpu_s(path: Path, spool: Path) -> dict[str, float]:
    """CPU seconds of the walker alone over the zip (the serial part): reading every member
    itself, as before, and handing out locators."""
    out = {}
    for name, locate in (("reads_members", False), ("hands_out_locators", True)):
        cpu0 = time.process_time()
        for entry in Walker(path, IngestLimits(), spool, locate_archive_members=locate):
            if entry.spool is not None:
                entry.spool.unlink()
        out[name] = round(time.process_time() - cpu0, 2)
    return out


def run_ingest(
    home: Path, target: Path, workers: int, split: bool, analyzers: str
) -> dict[str, object]:
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _INGEST,
            str(home),
            str(target),
            str(workers),
            "1" if split else "0",
            analyzers,
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(done.stderr.decode())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    tree = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "workers": workers,
        "split": split,
        "wall_s": round(out["wall_s"], 2),
        "cpu_s_ingest": round(out["writer_cpu"] + out["workers_cpu"], 2),
        "cpu_s_writer": round(out["writer_cpu"], 2),
        "cpu_s_workers": round(out["workers_cpu"], 2),
        "cpu_s_process_tree": round(tree, 2),  # + interpreter, imports, store creation
        "files": out["files"],
        "archive_member_workers": out["archive_member_workers"],
        "load_1m": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1500)
    parser.add_argument("--analyzers", default="", help="comma-separated, default none")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-archsplit-") as tmp:
        root = Path(tmp)
        (root / "ev").mkdir()
        target = root / "ev" / "card.zip"
        uncompressed = build(target, args.members)
        result: dict[str, object] = {
            "members": args.members,
            "zip_mb": round(target.stat().st_size / 1e6, 1),
            "members_mb": round(uncompressed / 1e6, 1),
            "analyzers": args.analyzers or None,
            "cpus": os.cpu_count(),
            "raw_limit_1_process": raw_limit(target),
            "walker_cpu_s": walker_cpu_s(target, root / "walk-spool"),
        }
        runs = []
        for workers in (1, 2):
            for split in (False, True):
                home = root / f"home-{workers}-{int(split)}"
                runs.append(run_ingest(home, target, workers, split, args.analyzers))
        result["runs"] = runs
    print(json.dumps(result))


if __name__ == "__main__":
    main()
