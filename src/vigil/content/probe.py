"""Cheap metadata for photos and videos: dimensions, EXIF, duration, and a structural check.

Ingest must run near the speed of hashing, so photos are *not* fully decoded here: the header
gives the dimensions and EXIF, and a structural check catches truncation (a JPEG without its end
marker, a PNG without IEND, a GIF without its trailer). Only when that check fails, or with
``deep=True``, is the image actually decoded (JPEG at reduced scale) to tell real damage from
harmless trailing bytes. A sound MP4/MOV video is read from its boxes
(:mod:`vigil.content.mp4head`); any other video, or with ``deep=True``, is opened with PyAV and
its first frame decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from vigil.content.exif import ExifInfo, read_exif
from vigil.content.imageopen import open_image
from vigil.content.jpeghead import read_jpeg_header
from vigil.content.mp4head import read_mp4_header
from vigil.errors import TooLarge, VigilError
from vigil.evidence.readonly import open_readonly, readonly_stream

VERSION = "probe-1"


@dataclass
class MediaMeta:
    """What ingest records about one photo or video."""

    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    frame_rate: float | None = None
    exif: ExifInfo | None = None
    damaged: bool = False
    warnings: list[tuple[str, str]] = field(default_factory=list)
    needs_decode: bool = False
    """A photo whose structure check failed (or ``deep``) and whose decode was left to the
    caller (``decode_check=False``: the ingest worker decodes once for probe and analyzers)."""


def _tail(src: Path | bytes, n: int = 64) -> bytes:
    if isinstance(src, bytes):
        return src[-n:]
    with open_readonly(src) as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - n))
        return fh.read()


def _structurally_complete(content_type: str, tail: bytes) -> bool:
    stripped = tail.rstrip(b"\x00")
    if content_type == "jpeg":
        return stripped.endswith(b"\xff\xd9")
    if content_type == "png":
        return b"IEND" in tail[-16:]
    if content_type == "gif":
        return stripped.endswith(b";")
    return True


def probe_photo(
    src: Path | bytes,
    content_type: str,
    *,
    deep: bool = False,
    decode_check: bool = True,
    ends: tuple[bytes, bytes] | None = None,
) -> MediaMeta:
    """Dimensions, EXIF and a structural check for one photo.

    With ``decode_check=False`` a needed decode is not done here but flagged in
    ``needs_decode`` (see :func:`mark_decode`). ``ends``: the file's first and last bytes,
    read already (see :func:`~vigil.content.jpeghead.read_jpeg_header`).
    """
    meta = MediaMeta()
    # a plain JPEG's header without Pillow's open machinery; anything else through Pillow
    header = read_jpeg_header(src, ends=ends) if content_type == "jpeg" else None
    if header is not None:
        meta.width, meta.height = header.width, header.height
        meta.exif = header.exif_info()
        tail = header.tail
    else:
        try:
            img = open_image(src)
        except VigilError as exc:
            meta.damaged = True
            meta.warnings.append(("corrupt_image", f"image header unreadable: {exc}"))
            return meta
        with img:
            meta.width, meta.height = img.size
            meta.exif = read_exif(img)
            tail = ends[1] if ends is not None and not isinstance(src, bytes) else _tail(src)
    for problem in meta.exif.problems:
        meta.warnings.append(("exif", problem))
    needs_decode = deep or not _structurally_complete(content_type, tail)
    if needs_decode and not decode_check:
        meta.needs_decode = True
    elif needs_decode:
        from vigil.content.decode import decode  # NumPy: only for a photo that needs it

        try:
            decode(src, min_side=256)
        except VigilError as exc:
            mark_decode(meta, exc)
    return meta


def mark_decode(meta: MediaMeta, exc: Exception) -> None:
    """Record the outcome of a photo's check decode that failed with ``exc``: damage, or a
    refusal by the decode budget (the photo is then not known to be damaged)."""
    if isinstance(exc, TooLarge):
        return
    meta.damaged = True
    meta.warnings.append(("corrupt_image", str(exc)))


_MP4_TYPES = frozenset({"mp4", "mov"})


def probe_video(
    src: Path | bytes, *, deep: bool = False, content_type: str | None = None
) -> MediaMeta:
    """Dimensions, duration and frame rate for one video.

    A sound MP4/MOV (``content_type`` "mp4" or "mov", or not given) is read from its boxes
    without PyAV and without decoding (:func:`~vigil.content.mp4head.read_mp4_header`, which
    gives PyAV's values); anything it gives up on, and every video with ``deep``, is opened
    with PyAV and its first frame decoded.
    """
    if not deep and (content_type is None or content_type in _MP4_TYPES):
        header = read_mp4_header(src)
        if header is not None:
            return MediaMeta(
                width=header.width,
                height=header.height,
                duration_s=header.duration_s,
                frame_rate=header.frame_rate,
            )
    return _probe_video_pyav(src)


def _probe_video_pyav(src: Path | bytes) -> MediaMeta:
    """PyAV opens the container and decodes the first frame (every video before the box reader)."""
    import av

    meta = MediaMeta()
    try:
        # PyAV reads our O_NOATIME handle: given the path, FFmpeg would open it itself
        with readonly_stream(src) as fh, av.open(fh, mode="r") as container:
            streams = container.streams.video
            if not streams:
                meta.warnings.append(("no_video_stream", "container has no video stream"))
                return meta
            stream = streams[0]
            meta.width = stream.codec_context.width or None
            meta.height = stream.codec_context.height or None
            if stream.average_rate:
                meta.frame_rate = float(stream.average_rate)
            if container.duration:
                meta.duration_s = container.duration / 1_000_000
            elif stream.duration and stream.time_base:
                meta.duration_s = float(stream.duration * stream.time_base)
            for _frame in container.decode(stream):
                break
            else:
                meta.damaged = True
                meta.warnings.append(("corrupt_video", "no frame could be decoded"))
    except (av.FFmpegError, OSError, ValueError, IndexError) as exc:
        meta.damaged = True
        meta.warnings.append(("corrupt_video", f"video could not be decoded: {exc}"))
    return meta


def probe(
    src: Path | bytes,
    kind: str,
    content_type: str,
    *,
    deep: bool = False,
    decode_check: bool = True,
    ends: tuple[bytes, bytes] | None = None,
) -> MediaMeta | None:
    """Metadata for photos and videos; None for other kinds. ``ends``: see :func:`probe_photo`."""
    if kind == "photo":
        return probe_photo(src, content_type, deep=deep, decode_check=decode_check, ends=ends)
    if kind == "video":
        return probe_video(src, deep=deep, content_type=content_type)
    return None


Image.init()
