"""The MP4/MOV box reader (vigil.content.mp4head) against PyAV's path (the oracle)."""

from __future__ import annotations

import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vigil.content import probe as probe_mod
from vigil.content.mp4head import read_mp4_header
from vigil.content.probe import MediaMeta, _probe_video_pyav, probe_video

av = pytest.importorskip("av")
CODECS = [c for c in ("mpeg4", "libx264") if c in av.codecs_available]


def _make(
    path: Path,
    *,
    fmt: str = "mp4",
    codec: str = "mpeg4",
    size: tuple[int, int] = (320, 240),
    rate: int | Fraction = 25,
    frames: int = 10,
    pix: str = "yuv420p",
    audio: bool = False,
    movflags: str | None = None,
) -> bytes:
    """A generated clip written to ``path`` (PyAV is the only video source)."""
    options = {"movflags": movflags} if movflags else {}
    w, h = size
    with av.open(str(path), mode="w", format=fmt, options=options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, pix
        if codec == "libx264":
            stream.options = {"bf": "2", "g": "8"}
        sound = out.add_stream("aac", rate=16000) if audio else None
        for i in range(frames):
            arr = np.full((h, w, 3), (i * 7) % 250, np.uint8)
            arr[: h // 2, : w // 3] = 255 - (i * 7) % 250
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:
            for j in range(int(frames / float(rate) * 16000 / 1024) + 1):
                frame = av.AudioFrame.from_ndarray(
                    np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = 16000, j * 1024
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path.read_bytes()


def _same(fast: MediaMeta, ref: MediaMeta) -> None:
    assert (fast.width, fast.height) == (ref.width, ref.height)
    assert fast.frame_rate == pytest.approx(ref.frame_rate, rel=1e-6)
    assert fast.duration_s is not None and ref.duration_s is not None
    assert abs(fast.duration_s - ref.duration_s) < 1e-3
    assert not fast.damaged and not ref.damaged and not fast.warnings


MATRIX = [
    (fmt, codec, size, rate, frames, movflags)
    for fmt in ("mp4", "mov")
    for codec in CODECS
    for size, rate, frames in (
        ((320, 240), 25, 1),
        ((66, 50), 15, 37),
        ((34, 18), 24, 2),
        ((640, 360), Fraction(30000, 1001), 61),
        ((96, 64), 30, 90),
    )
    for movflags in (None, "faststart")
]


@pytest.mark.parametrize(("fmt", "codec", "size", "rate", "frames", "movflags"), MATRIX)
def test_fast_path_equals_pyav(
    tmp_path: Path,
    fmt: str,
    codec: str,
    size: tuple[int, int],
    rate: int | Fraction,
    frames: int,
    movflags: str | None,
) -> None:
    path = tmp_path / f"clip.{fmt}"
    data = _make(path, fmt=fmt, codec=codec, size=size, rate=rate, frames=frames, movflags=movflags)
    header = read_mp4_header(path)
    assert header is not None
    assert read_mp4_header(data) == header
    ref = _probe_video_pyav(path)
    fast = probe_video(path, content_type=fmt)
    _same(fast, ref)
    _same(probe_video(data), _probe_video_pyav(data))
    if movflags == "faststart":
        assert data.index(b"moov") < data.index(b"mdat")


@pytest.mark.skipif("libx264" not in CODECS, reason="no libx264")
def test_odd_size_4_4_4(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    _make(path, codec="libx264", size=(33, 17), pix="yuv444p", frames=5)
    _same(probe_video(path), _probe_video_pyav(path))
    assert read_mp4_header(path) is not None


def test_audio_track_is_left_to_pyav(tmp_path: Path) -> None:
    """FFmpeg's duration then also depends on the audio track: not reproduced, PyAV decides."""
    path = tmp_path / "sound.mp4"
    _make(path, audio=True, frames=20)
    assert read_mp4_header(path) is None
    assert probe_video(path) == _probe_video_pyav(path)


def _outcome(fn: object, src: Path | bytes) -> object:
    """A probe's result, or the exception it raised (today's PyAV path raises on some cut
    files; ingest records that as ``probe_failed``)."""
    try:
        return fn(src)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return (type(exc).__name__, str(exc))


def _unsound(data: bytes, tmp_path: Path) -> None:
    """The reader gives up; probe_video gives exactly PyAV's path."""
    assert read_mp4_header(data) is None
    path = tmp_path / "bad.mp4"
    path.write_bytes(data)
    assert read_mp4_header(path) is None
    assert _outcome(probe_video, data) == _outcome(_probe_video_pyav, data)
    assert _outcome(probe_video, path) == _outcome(_probe_video_pyav, path)


@pytest.mark.parametrize("movflags", [None, "faststart"])
def test_truncated_copies_give_up(tmp_path: Path, movflags: str | None) -> None:
    data = _make(tmp_path / "c.mp4", frames=30, movflags=movflags)
    cuts = set(range(0, len(data), max(1, len(data) // 40)))
    for box in (b"ftyp", b"moov", b"mdat", b"trak", b"stbl"):
        at = data.index(box) - 4
        cuts |= {at, at + 4, at + 8, at + 9}
    for cut in sorted(cuts):
        if 0 <= cut < len(data):
            assert read_mp4_header(data[:cut]) is None, cut
    for cut in sorted(cuts)[::8]:
        _unsound(data[:cut], tmp_path)


def test_garbage_appended_and_box_past_eof_give_up(tmp_path: Path) -> None:
    data = _make(tmp_path / "c.mp4", frames=5)
    for tail in (b"\x00", b"junk" * 3, b"\x00\x00\x00\x10free", b"\x00\x00\x00\x08wxyz"):
        _unsound(data + tail, tmp_path)
    _unsound(data + b"\x00\x00\x10\x00free" + b"\x00" * 16, tmp_path)  # a box past EOF


def test_fragmented_gives_up(tmp_path: Path) -> None:
    data = _make(tmp_path / "f.mp4", frames=30, movflags="frag_keyframe+empty_moov")
    assert b"moof" in data
    _unsound(data, tmp_path)


def _header_region(data: bytes) -> list[int]:
    """Offsets of the ftyp and moov boxes (where mutations go)."""
    out: list[int] = []
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size < 8:
            break
        if data[pos + 4 : pos + 8] != b"mdat":
            out.extend(range(pos, min(pos + size, len(data))))
        pos += size
    return out


def _pyav_or_none(data: bytes) -> MediaMeta | None:
    """PyAV's probe of a mutant; None where it failed (damaged, no stream, an error)."""
    try:
        meta = _probe_video_pyav(data)
    except Exception:  # noqa: BLE001 - any failure of the oracle counts as failure
        return None
    if meta.damaged or meta.warnings or meta.width is None or meta.duration_s is None:
        return None
    return meta


@pytest.mark.parametrize("movflags", [None, "faststart"])
def test_mutants_give_up_or_equal_pyav(tmp_path: Path, movflags: str | None) -> None:
    """Flipped, overwritten or clipped header bytes: the reader gives up, or PyAV reads the
    mutant without failing and gives the same values (a real check: the reader's values are
    compared with PyAV's reading of the same mutant bytes)."""
    data = _make(tmp_path / "m.mp4", frames=12, movflags=movflags)
    region = _header_region(data)
    answered = 0
    for seed in range(300):
        rng = random.Random(seed)
        mutant = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            at = rng.choice(region)
            if rng.random() < 0.5:
                mutant[at] ^= 1 << rng.randrange(8)
            else:
                mutant[at] = rng.randrange(256)
        if seed % 10 == 0:
            mutant = mutant[: rng.randint(8, len(mutant) - 1)]
        header = read_mp4_header(bytes(mutant))
        if header is None:
            continue
        answered += 1
        ref = _pyav_or_none(bytes(mutant))
        assert ref is not None, seed
        fast = MediaMeta(header.width, header.height, header.duration_s, header.frame_rate)
        _same(fast, ref)
    assert answered > 10  # many mutants touch bytes that do not matter (names, flags, dates)


def test_deep_still_decodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.mp4"
    _make(path)
    calls: list[object] = []
    real = probe_mod._probe_video_pyav

    def counting(src: Path | bytes) -> MediaMeta:
        calls.append(src)
        return real(src)

    monkeypatch.setattr(probe_mod, "_probe_video_pyav", counting)
    probe_mod.probe(path, "video", "mp4")
    assert calls == []
    probe_mod.probe(path, "video", "mp4", deep=True)
    assert calls == [path]
    probe_mod.probe(path, "video", "matroska")
    assert len(calls) == 2


def test_ingest_of_a_sound_mp4_does_not_import_av(tmp_path: Path) -> None:
    evidence = tmp_path / "ev"
    evidence.mkdir()
    _make(evidence / "clip.mp4", frames=8)
    code = (
        "import sys\n"
        "from vigil.ingest.pipeline import ingest\n"
        "from vigil.settings import Settings\n"
        "from vigil.store.db import Database\n"
        f"settings = Settings.load({str(tmp_path / 'home')!r}, workers=0)\n"
        "db = Database(settings.database_url)\n"
        f"report = ingest(settings, db, {str(evidence)!r}, 'c', 't', [], workers=0)\n"
        "assert report.files == 1, report\n"
        "assert 'av' not in sys.modules, 'av imported'\n"
    )
    env_src = str(Path(probe_mod.__file__).parents[2])
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={"PYTHONPATH": env_src, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
    )
