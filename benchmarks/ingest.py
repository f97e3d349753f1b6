"""Ingest benchmark: prints one JSON line.

Generates >= 5,000 JPEGs (mixed 0.3 / 2 / 12 MP), a few videos and archives, then measures
(a) the machine's raw limit in the same run: reading every byte and computing MD5 + SHA-1 +
SHA-256 with the same number of processes, and (b) `vigil ingest` of the same folder (digests,
type sniffing, EXIF, structural checks, single-writer SQLite), without and (optionally) with the
default analyzers. Goal: ingest wall time within 1.5x of the raw hashing limit.

    python benchmarks/ingest.py            # full size (5,000 photos, ~1.3 GB)
    python benchmarks/ingest.py --quick    # 600 photos, for a smoke run
    python benchmarks/ingest.py --quick --executor ray   # + Ray with 1 and 2 local workers
    python benchmarks/ingest.py --phone 200 [--baseline-src /work/main/src]
    python benchmarks/ingest.py --photos 1000 --cli --baseline-src /work/main/src
    python benchmarks/ingest.py --photos 1000 --workers 2 --repeat 5 --baseline-src BASE/src
    python benchmarks/ingest.py --quick --disk-image --executor ray --baseline-src /work/main/src

``--disk-image`` puts the generated files into one ext4 image (mke2fs -d) and ingests that
image instead of the folder: one evidence item whose files the workers read themselves (issue
16); with ``--baseline-src`` the same image is also ingested by another source tree (e.g. one
whose walker reads every file of the image itself) with the local executor, in the same run.
Every run records the 1-minute load average before and after it (the machine may be shared).
Each ingest reports its CPU seconds (writer and local workers) next to the raw limit's (the
fair comparison on a shared machine); ``--cli`` also runs ``vigil ingest --no-analyzers`` as a
user does (console script, fresh store) and reports its whole process tree's CPU seconds, and
the CPU seconds of running it once more on the existing store (``rerun_cpu_s``: nothing new).

``--phone N`` (issue 16) measures N 2 MP phone-like JPEGs with the default analyzers instead:
photos per CPU-second of the workers (per core, robust to a shared machine) next to, in the same
run and process, the decode limit (decode alone) and decode + PDQ + SIFT done once per photo;
``--baseline-src`` also runs the same ingest with another source tree (e.g. main's code) so the
speed-up over today's code is measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from vigil.demo import jpeg_bytes, synthetic_picture, synthetic_video
from vigil.plugins import load_defaults

SIZES = {"0.3MP": (640, 480), "2MP": (1632, 1224), "12MP": (4000, 3000)}
MIX = (("0.3MP", 0.70), ("2MP", 0.25), ("12MP", 0.05))


def unique_variant(jpeg: bytes, n: int) -> bytes:
    """Same pixels, different bytes: a COM segment right after SOI (keeps the file well formed)."""
    payload = f"vigil-bench-{n}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def build(root: Path, photos: int) -> dict[str, int]:
    rng = np.random.default_rng(11)
    bases = {
        k: [
            jpeg_bytes(
                synthetic_picture(rng, *SIZES[k]),
                quality=90,
                camera=("Bench", k, "SN1"),
                taken="2024:01:01 12:00:00",
            )
            for _ in range(3)
        ]
        for k in SIZES
    }
    counts = {k: int(photos * share) for k, share in MIX}
    counts["0.3MP"] += photos - sum(counts.values())
    n = 0
    for k, count in counts.items():
        folder = root / "photos" / k
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"{k}_{i:05d}.jpg").write_bytes(unique_variant(bases[k][i % 3], n))
            n += 1
    (root / "video").mkdir()
    for v in range(4):
        synthetic_video(root / "video" / f"clip{v}.mp4", seconds=4, fps=15, size=(320, 240), seed=v)
    (root / "archives").mkdir()
    for a in range(3):
        with zipfile.ZipFile(root / "archives" / f"a{a}.zip", "w", zipfile.ZIP_STORED) as zf:
            for i in range(100):
                zf.writestr(
                    f"in/{i}.jpg", unique_variant(bases["0.3MP"][i % 3], 10_000_000 + a * 1000 + i)
                )
    return counts


def _hash_file(path: str) -> int:
    md5, sha1, sha256 = (
        hashlib.md5(usedforsecurity=False),
        hashlib.sha1(usedforsecurity=False),
        hashlib.sha256(),
    )
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            md5.update(chunk)
            sha1.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size


def _tree_cpu_s() -> float:
    """CPU seconds of this process and of its reaped children so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def raw_limit(root: Path, workers: int) -> tuple[float, int, int]:
    wall, _cpu, total, n = raw_limit_cpu(root, workers)
    return wall, total, n


def raw_limit_cpu(root: Path, workers: int) -> tuple[float, float, int, int]:
    """Wall and process-tree CPU seconds of reading + digesting every file, bytes, files."""
    files = [str(p) for p in root.rglob("*") if p.is_file()]
    cpu0 = _tree_cpu_s()
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        total = sum(pool.map(_hash_file, files, chunksize=16))
    return time.perf_counter() - start, _tree_cpu_s() - cpu0, total, len(files)


def cli_ingest(src: str, home: Path, target: Path, workers: int) -> dict[str, float]:
    """``vigil ingest --no-analyzers`` as a user runs it (console script, fresh store): wall and
    CPU seconds of its whole process tree (interpreter, imports, store set-up, workers)."""
    import subprocess
    import sys

    script = Path(sys.executable).with_name("vigil")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "vigil.cli.main"]
    env = dict(os.environ, PYTHONPATH=src, VIGIL_HOME=str(home))
    args = ["ingest", str(target), "-c", "bench", "--no-analyzers", "-j", str(workers), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    files = int(json.loads(out.stdout)["files"])
    # the same command again on the now existing store: nothing new to record, so this is the
    # command's fixed cost (interpreter, imports, opening the store) plus the walk
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rerun = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "files": files,
        "rerun_cpu_s": round(rerun, 2),
    }


def disk_image(folder: Path, image: Path, total_bytes: int) -> Path:
    """An ext4 image holding ``folder`` (mke2fs -d; the files' bytes are unchanged)."""
    import subprocess

    size_mb = int(total_bytes * 1.3 / 2**20) + 64
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(folder), str(image), f"{size_mb}M"],
        check=True,
        capture_output=True,
    )
    return image


def walker_cpu_s(image: Path, spool: Path) -> dict[str, float]:
    """CPU seconds of the walker alone over the image (the serial part of an image's ingest):
    reading every file's content itself, against handing out locators (issue 16)."""
    from vigil.evidence.walk import Walker
    from vigil.settings import IngestLimits

    out = {}
    for label, locate in (("reads_every_file", False), ("hands_out_locators", True)):
        start = time.process_time()
        for entry in Walker(image, IngestLimits(), spool, locate_image_members=locate):
            if entry.spool is not None:
                entry.spool.unlink()
        out[label] = round(time.process_time() - start, 2)
    return out


_INGEST_CHILD = """
import json, resource, sys, time
from pathlib import Path
from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store.db import Database

def vm_hwm_mb():  # peak RSS of this process (VmHWM is not inherited over exec, ru_maxrss is)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

home, root, workers, executor = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5]
analyzers = None if sys.argv[4] == "defaults" else [n for n in sys.argv[4].split(",") if n]
if analyzers is None or analyzers:  # as the command line: no plug-ins without analyzers
    from vigil.plugins import load_defaults
    load_defaults()
settings = Settings.load(home, workers=workers)
Path(home).mkdir(parents=True, exist_ok=True)
db = Database(settings.database_url)
warm, startup = None, 0.0
if executor == "ray":  # start Ray first: its start-up (~10 s) is reported on its own
    from vigil.jobs.ray_executor import RayExecutor
    t0 = time.perf_counter()
    warm = RayExecutor(num_cpus=workers)
    startup = time.perf_counter() - t0
me0, ch0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.perf_counter()
report = ingest(settings, db, root, "bench", "bench", analyzers, executor=executor)
wall = time.perf_counter() - start
import multiprocessing.forkserver as fs
if hasattr(fs._forkserver, "_stop"):  # analyzer workers are the fork server's children:
    fs._forkserver._stop()            # reap it so that their CPU time reaches RUSAGE_CHILDREN
me1, ch1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
if warm is not None:
    warm.shutdown()
db.dispose()
print(json.dumps({
    "startup": startup,
    "wall": wall,
    "writer_cpu": me1.ru_utime - me0.ru_utime + me1.ru_stime - me0.ru_stime,
    # local workers (reaped at the pool's shutdown); not Ray's
    "workers_cpu": ch1.ru_utime - ch0.ru_utime + ch1.ru_stime - ch0.ru_stime,
    "files": report.files,
    "analyzers": report.analyzers,
    "image_member_workers": getattr(report, "image_member_workers", None),
    "rss_writer_mb": vm_hwm_mb(),
    "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    # the whole process (interpreter, imports, store) and every child it reaped (--phone)
    "process_cpu": me1.ru_utime + me1.ru_stime,
    "children_cpu": ch1.ru_utime + ch1.ru_stime,
}))
"""


def _timed_ingest(
    src: str, home: Path, root: Path, workers: int, analyzers: list[str] | None, executor: str
) -> dict[str, object]:
    """One ingest in a fresh interpreter running the ``src`` tree, which imports only what
    ``vigil ingest`` imports (not this script's NumPy, whose thread pool would make the process
    one that ingest must not fork), so its CPU and peak RSS are the ingest's alone."""
    import subprocess
    import sys

    names = "defaults" if analyzers is None else ",".join(analyzers)
    args = [str(home), str(root), str(workers), names, executor]
    proc = subprocess.run(
        [sys.executable, "-c", _INGEST_CHILD, *args],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=src), check=True,
    )  # fmt: skip
    r: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return r


def _phone_ingest(
    src: str, home: Path, root: Path, workers: int, analyzers: str
) -> dict[str, object]:
    """``--phone``: one ingest (:func:`_timed_ingest`), rated per CPU-second of the whole
    process and its workers (interpreter and imports included, as in earlier sessions)."""
    names = None if analyzers == "defaults" else [n for n in analyzers.split(",") if n]
    r = _timed_ingest(src, home, root, workers, names, "local")
    out: dict[str, object] = {
        "wall": r["wall"],
        "files": r["files"],
        "analyzers": r["analyzers"],
        "worker_cpu": r["children_cpu"],
        "writer_cpu": r["process_cpu"],
        "ingest_writer_cpu": r["writer_cpu"],
    }
    n = int(r["files"])  # type: ignore[call-overload]
    cpu = float(r["children_cpu"]) + float(r["process_cpu"])  # type: ignore[arg-type]
    out["photos_per_cpu_s"] = round(n / cpu, 2)
    out["photos_per_s_wall"] = round(n / float(r["wall"]), 2)  # type: ignore[arg-type]
    return out


def _cpu_rate(fn: object, files: list[Path]) -> float:
    start = time.process_time()
    for f in files:
        fn(f)  # type: ignore[operator]
    return round(len(files) / (time.process_time() - start), 2)


def phone(args: argparse.Namespace) -> None:
    """2 MP phone-like photos, default analyzers: ingest rate vs the decode limit (one JSON line)."""
    from vigil.content.decode import decode
    from vigil.places.analyzer import features_of_pixels
    from vigil.signals.pdq import REDUCED_MIN_SIDE, hash_pixels

    tmp = Path(tempfile.mkdtemp(prefix="vigil-phone-"))
    try:
        root = tmp / "evidence"
        root.mkdir()
        rng = np.random.default_rng(5)
        bases = [
            jpeg_bytes(
                synthetic_picture(rng, *SIZES["2MP"]), quality=90, camera=("Bench", "p", "1")
            )
            for _ in range(8)
        ]
        files = []
        for i in range(args.phone):
            f = root / f"IMG_{i:05d}.jpg"
            f.write_bytes(unique_variant(bases[i % len(bases)], i))
            files.append(f)
        sample = files[: min(len(files), 60)]

        def once(f: Path) -> None:
            d = decode(f, min_side=REDUCED_MIN_SIDE)
            hash_pixels(d.pixels)
            features_of_pixels(d.pixels)

        limits = {
            "decode_per_cpu_s": _cpu_rate(lambda f: decode(f, min_side=REDUCED_MIN_SIDE), sample),
            "decode_pdq_sift_once_per_cpu_s": _cpu_rate(once, sample),
        }
        here = str(Path(__file__).resolve().parents[1] / "src")
        names = args.analyzers or "defaults"
        runs = {"this": _phone_ingest(here, tmp / "home-this", root, args.workers, names)}
        if args.baseline_src:
            runs["baseline"] = _phone_ingest(
                args.baseline_src, tmp / "home-base", root, args.workers, names
            )
        out: dict[str, object] = {
            "benchmark": "ingest_phone",
            "photos": args.phone,
            "size": "1632x1224 JPEG q90",
            "workers": args.workers,
            "limits_one_core": limits,
            "ingest": runs,
            "baseline_src": args.baseline_src,
            "analyzers": args.analyzers or "defaults",
        }
        this_rate = float(runs["this"]["photos_per_cpu_s"])  # type: ignore[arg-type]
        out["vs_decode_pdq_sift_once"] = round(
            limits["decode_pdq_sift_once_per_cpu_s"] / this_rate, 2
        )
        if "baseline" in runs:
            base_rate = float(runs["baseline"]["photos_per_cpu_s"])  # type: ignore[arg-type]
            out["speedup_vs_baseline_per_cpu"] = round(this_rate / base_rate, 2)
        print(json.dumps(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_plan(
    args: argparse.Namespace,
    plan: list[tuple[str, list[str] | None, str, int]],
    tmp: Path,
    target: Path,
    raw_s: float,
    raw_cpu: float,
    total_bytes: int,
    rep: int,
) -> dict[str, dict[str, object]]:
    """Each planned ingest once (a fresh store each), against repetition ``rep``'s raw limit."""
    runs: dict[str, dict[str, object]] = {}
    for label, analyzers, executor, workers in plan:
        load_before = os.getloadavg()[0]
        here = str(Path(__file__).resolve().parents[1] / "src")
        src = args.baseline_src if executor == "baseline" else here
        r = _timed_ingest(
            src,
            tmp / f"home-{label}-{rep}",
            target,
            workers,
            analyzers,
            "local" if executor == "baseline" else executor,
        )
        wall = float(r["wall"])  # type: ignore[arg-type]
        cpu = float(r["writer_cpu"]) + float(r["workers_cpu"])  # type: ignore[arg-type]
        runs[label] = {
            "wall_s": round(wall, 2),
            "cpu_s": {
                "writer": round(float(r["writer_cpu"]), 2),  # type: ignore[arg-type]
                "workers": round(float(r["workers_cpu"]), 2),  # type: ignore[arg-type]
                "total": round(cpu, 2),
            },
            "vs_raw_cpu": round(cpu / raw_cpu, 2) if executor != "ray" else None,
            "files": r["files"],
            "items_per_s": round(int(r["files"]) / wall, 1),  # type: ignore[call-overload]
            "mb_per_s": round(total_bytes / wall / 1e6, 1),
            "vs_raw_hashing": round(wall / raw_s, 2),
            "analyzers": r["analyzers"],
            "executor": executor,
            "src": src,
            "workers": workers,
            "executor_startup_s": round(float(r["startup"]), 2),  # type: ignore[arg-type]
            "peak_rss_mb": {
                "writer": round(float(r["rss_writer_mb"]), 1),  # type: ignore[arg-type]
                "worker": round(float(r["rss_worker_mb"]), 1),  # type: ignore[arg-type]
            },
            "image_member_workers": r["image_member_workers"],
            "load_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }
    return runs


def _repeat_summary(repeats: list[dict[str, object]]) -> dict[str, object]:
    """Per ingest: each repetition's wall and CPU ratios to the raw limit measured right before
    it, and their medians; "ingest" in the output holds the last repetition's full figures."""
    out: dict[str, object] = {
        "raw_wall_s": [round(float(r["raw_wall_s"]), 3) for r in repeats],  # type: ignore[arg-type]
        "raw_cpu_s": [round(float(r["raw_cpu_s"]), 3) for r in repeats],  # type: ignore[arg-type]
    }
    labels = list(repeats[0]["runs"])  # type: ignore[call-overload]
    for label in labels:
        walls, cpus = [], []
        for r in repeats:
            run = r["runs"][label]  # type: ignore[index]
            walls.append(run["vs_raw_hashing"])
            cpus.append(run["vs_raw_cpu"])
        out[label] = {
            "vs_raw_hashing": walls,
            "vs_raw_cpu": cpus,
            "median_vs_raw_hashing": float(np.median(walls)),
            "median_vs_raw_cpu": float(np.median([c for c in cpus if c is not None]))
            if any(c is not None for c in cpus)
            else None,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="600 photos instead of 5,000")
    parser.add_argument("--photos", type=int, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--with-analyzers", action="store_true", help="also time ingest with the default analyzers"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="reuse/keep the generated folder here"
    )
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="ray: also time each ingest on a private local Ray instance with 1 and 2 workers "
        "(Ray start-up timed on its own), next to the local executor",
    )
    parser.add_argument(
        "--disk-image",
        action="store_true",
        help="ingest one ext4 image holding the generated files instead of the folder",
    )
    parser.add_argument(
        "--ingest-analyzers",
        default="",
        help="also time ingest with these analyzers (comma list), e.g. pdq",
    )
    parser.add_argument(
        "--cli",
        action="store_true",
        help="also run `vigil ingest --no-analyzers` as a user does (console script, fresh "
        "store): wall and CPU seconds of its whole process tree, with --baseline-src too",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure the raw limit and every ingest N times, alternated (a fresh store each), "
        "and report each repetition's ratios and their median (a shared machine is noisy)",
    )
    parser.add_argument("--phone", type=int, default=0, help="N 2 MP photos, default analyzers")
    parser.add_argument("--baseline-src", default=None, help="also run ingest from this src/")
    parser.add_argument(
        "--analyzers", default="pdq,vpdq,scene", help="for --phone: comma list ('' = defaults)"
    )
    args = parser.parse_args()
    if args.phone:
        phone(args)
        return
    photos = args.photos or (600 if args.quick else 5000)
    load_defaults()
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    root = args.keep or tmp / "evidence"
    try:
        t0 = time.perf_counter()
        if not root.exists():
            build(root, photos)
        gen_s = time.perf_counter() - t0
        _hash_file(str(next(root.rglob("*.jpg"))))  # warm imports
        raw_s, total_bytes, n_files = raw_limit(root, args.workers)  # also warms the page cache
        target = disk_image(root, tmp / "evidence.raw", total_bytes) if args.disk_image else root
        walker_cpu = walker_cpu_s(target, tmp / "walk-spool") if args.disk_image else None
        plan: list[tuple[str, list[str] | None, str, int]] = []
        choices: list[tuple[str, list[str] | None]] = [("no_analyzers", [])]
        if args.with_analyzers:
            choices.append(("default_analyzers", None))
        if args.ingest_analyzers:
            names = args.ingest_analyzers.split(",")
            choices.append(("_".join(names), names))
        for label, analyzers in choices:
            plan.append((label, analyzers, "local", args.workers))
            if args.executor == "ray":
                plan += [(f"{label}_ray_{n}w", analyzers, "ray", n) for n in (1, 2)]
        if args.baseline_src and not args.phone:
            for label, analyzers, executor, workers in list(plan):
                if executor == "local":
                    plan.append((f"{label}_baseline", analyzers, "baseline", workers))
        repeats: list[dict[str, object]] = []
        for _rep in range(max(1, args.repeat)):  # the raw limit again before each repetition
            raw_s, raw_cpu, total_bytes, n_files = raw_limit_cpu(root, args.workers)
            runs = _run_plan(args, plan, tmp, target, raw_s, raw_cpu, total_bytes, _rep)
            repeats.append({"raw_wall_s": raw_s, "raw_cpu_s": raw_cpu, "runs": runs})
        cli: dict[str, object] | None = None
        if args.cli:  # the whole command, as a user runs it, against the raw limit's CPU
            here = str(Path(__file__).resolve().parents[1] / "src")
            srcs = {"this": here, **({"baseline": args.baseline_src} if args.baseline_src else {})}
            cli = {}
            for name, src in srcs.items():
                load_before = os.getloadavg()[0]
                c: dict[str, object] = dict(
                    cli_ingest(src, tmp / f"home-cli-{name}", target, args.workers)
                )
                c["vs_raw_wall"] = round(float(c["wall_s"]) / raw_s, 2)  # type: ignore[arg-type]
                c["vs_raw_cpu"] = round(float(c["cpu_s"]) / raw_cpu, 2)  # type: ignore[arg-type]
                c["load_1min"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
                cli[name] = c
        print(
            json.dumps(
                {
                    "benchmark": "ingest",
                    "photos": photos,
                    "source": "one ext4 disk image" if args.disk_image else "folder",
                    "cpus": os.cpu_count(),
                    "files": n_files,
                    "bytes": total_bytes,
                    "workers": args.workers,
                    "generate_s": round(gen_s, 1),
                    "raw_limit": {
                        "wall_s": round(raw_s, 2),
                        "cpu_s": round(raw_cpu, 2),
                        "mb_per_s": round(total_bytes / raw_s / 1e6, 1),
                        "items_per_s": round(n_files / raw_s, 1),
                        "what": "read + MD5 + SHA-1 + SHA-256, same process count, warm cache",
                    },
                    "ingest": runs,
                    "repeats": _repeat_summary(repeats) if len(repeats) > 1 else None,
                    "cli_no_analyzers": cli,
                    "walker_cpu_s": walker_cpu,
                    "goal": "ingest wall time <= 1.5x raw hashing limit",
                    "load_1min_end": round(os.getloadavg()[0], 1),
                }
            )
        )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
