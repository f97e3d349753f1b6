"""The decode memory budget (issue 14, defect 2): bombs are reduced or refused, never decoded
whole; ordinary photos keep their pixels."""

from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vigil.content.bombs import gif_frames_bomb, pillow_bomb, png_bomb
from vigil.content.decode import decode, orient_array, to_rgb8
from vigil.errors import TooLarge

_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from vigil.ingest.worker import Task, init_worker, process
    from vigil.plugins import load_defaults
    load_defaults()
    init_worker(None, ("pdq", "scene"), False)
    path = sys.argv[1]
    t0 = time.perf_counter()
    r = process(Task(0, path.encode(), fs_path=path))
    codes = [c for c, _m in r.warnings]
    for _n, (_v, out) in r.analyses.items():
        codes += [c for c, _m in out.warnings]
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"codes": codes, "s": time.perf_counter() - t0,
                      "cpu_s": ru.ru_utime + ru.ru_stime,
                      "analyses": sorted(r.analyses), "messages": [m for _c, m in r.warnings],
                      "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)


def _worker_on(path: Path) -> dict[str, object]:
    """Run the ingest worker path on one file in a child capped at 3 GB of address space."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        preexec_fn=cap,
        timeout=600,  # a hang, not a slow machine (the time bound is on CPU, below)
        check=True,
    )
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_greyscale_png_bomb_stays_within_budget(tmp_path: Path) -> None:
    """The issue's file: 20000 x 20000 greyscale, ~389 KB; it took 10.7 GB and 2.5 minutes."""
    bomb = png_bomb(tmp_path / "bomb.png", 20000, 20000, "L")
    assert bomb.stat().st_size < 500_000
    out = _worker_on(bomb)
    peak_mb = int(out["rss"]) / 1024  # type: ignore[call-overload]
    assert peak_mb < 1024, out  # reduced strip by strip: native 400 MB + code, not 10 GB
    assert out["analyses"] == ["pdq", "scene"]
    assert float(out["cpu_s"]) < 60  # type: ignore[arg-type]  # CPU: a loaded machine is slow


def test_rgb_png_bomb_is_refused_with_a_warning_naming_the_file(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "rgb-bomb.png", 20000, 20000, "RGB")
    out = _worker_on(bomb)
    assert "image_too_large" in out["codes"]  # type: ignore[operator]
    assert any("rgb-bomb.png" in m for m in out["messages"])  # type: ignore[attr-defined]
    assert int(out["rss"]) / 1024 < 600  # type: ignore[call-overload]  # refused before decoding


def test_budget_refuses_before_allocating(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "b.png", 8000, 8000, "RGBA")
    with pytest.raises(TooLarge, match="over the 64 MB"):
        decode(bomb, max_bytes=64 << 20)
    with pytest.raises(TooLarge):
        decode(bomb, exact=True, max_pixels=10_000_000)  # PRNU-style callers never get less


@pytest.mark.parametrize(
    ("fmt", "mode", "opts"),
    [
        ("PNG", "L", {}),
        ("TIFF", "L", {"compression": "tiff_adobe_deflate"}),
        ("JPEG", "L", {"quality": 50}),
        ("WEBP", "RGB", {"lossless": True}),
        ("GIF", "P", {}),
        ("BMP", "1", {}),
    ],
)
def test_each_format_is_reduced_to_the_pixel_cap(
    tmp_path: Path, fmt: str, mode: str, opts: dict[str, object]
) -> None:
    path = pillow_bomb(tmp_path / f"x.{fmt.lower()}", fmt, 6000, 4000, mode, **opts)
    d = decode(path, max_pixels=2_000_000)
    h, w = d.pixels.shape[:2]
    assert h * w <= 2_000_000 and d.pixels.shape[2] == 3
    assert d.original_size == (6000, 4000) and d.scale < 0.6


def test_animated_gif_is_not_walked(tmp_path: Path) -> None:
    """Only the first frame is decoded (counting frames used to decode every one)."""
    path = gif_frames_bomb(tmp_path / "frames.gif", 1000, 1000, 30)
    d = decode(path, min_side=640)
    assert d.pixels.shape == (1000, 1000, 3)


def _img(mode: str, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65535, (301, 403), dtype=np.uint16))
    if mode == "F":
        return Image.fromarray(rng.random((301, 403)).astype(np.float32), "F")
    rgb = Image.fromarray(rng.integers(0, 255, (301, 403, 3), dtype=np.uint8), "RGB")
    return rgb.convert(mode) if mode != "P" else rgb.convert("P", palette=Image.Palette.ADAPTIVE)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "1", "P", "I;16", "F", "CMYK", "LA"])
def test_strip_conversion_gives_the_same_pixels_as_a_whole_image(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strip-wise conversion and reduction equal converting and reducing the whole image."""
    import vigil.content.decode as dec

    img = _img(mode)
    fmt = "TIFF"
    buf = io.BytesIO()
    img.save(buf, fmt)
    whole = np.asarray(to_rgb8(Image.open(io.BytesIO(buf.getvalue()))).reduce(3))
    monkeypatch.setattr(dec, "STRIP_BYTES", 4 * 403 * 7)  # a handful of rows per strip
    got = decode(buf.getvalue(), min_side=100).pixels
    assert got.shape == whole.shape
    assert np.array_equal(got, whole)


@pytest.mark.parametrize("orientation", range(2, 9))
def test_orientation_on_arrays_matches_pillow(orientation: int) -> None:
    ops = {
        2: (Image.Transpose.FLIP_LEFT_RIGHT,),
        3: (Image.Transpose.ROTATE_180,),
        4: (Image.Transpose.FLIP_TOP_BOTTOM,),
        5: (Image.Transpose.TRANSPOSE,),
        6: (Image.Transpose.ROTATE_270,),
        7: (Image.Transpose.TRANSVERSE,),
        8: (Image.Transpose.ROTATE_90,),
    }
    a = np.random.default_rng(1).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    ref = Image.fromarray(a)
    for op in ops[orientation]:
        ref = ref.transpose(op)
    assert np.array_equal(orient_array(a, orientation), np.asarray(ref))
