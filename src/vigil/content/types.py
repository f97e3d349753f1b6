"""Content types detected from the bytes themselves, never from the file name.

Each :class:`ContentType` has a registry name, a broad ``kind`` (photo, video, archive,
disk_image, document, other) and a ``sniff(head)`` test on the first :data:`HEAD_SIZE` bytes.
Order matters only for overlapping signatures; more specific types register first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vigil.registry import Registry

HEAD_SIZE = 4096
"""How many leading bytes sniffers may look at."""

KINDS = ("photo", "video", "archive", "disk_image", "document", "other")


@dataclass(frozen=True)
class ContentType:
    """A file format recognised by its leading bytes."""

    name: str
    kind: str
    mime: str
    sniff: Callable[[bytes], bool]
    description: str = ""


CONTENT_TYPES: Registry[ContentType] = Registry("content type")

UNKNOWN = ContentType(
    "unknown", "other", "application/octet-stream", lambda _h: True, "unrecognised"
)


def _at(offset: int, magic: bytes) -> Callable[[bytes], bool]:
    return lambda h: h[offset : offset + len(magic)] == magic


def _any(*tests: Callable[[bytes], bool]) -> Callable[[bytes], bool]:
    return lambda h: any(t(h) for t in tests)


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def _ftyp_brand(h: bytes) -> bytes | None:
    return h[8:12] if h[4:8] == b"ftyp" and len(h) >= 12 else None


def _is_heif(h: bytes) -> bool:
    return _ftyp_brand(h) in _HEIF_BRANDS


def _is_avif(h: bytes) -> bool:
    return _ftyp_brand(h) in _AVIF_BRANDS


def _is_mov(h: bytes) -> bool:
    brand = _ftyp_brand(h)
    if brand is not None:
        return brand == b"qt  "
    return h[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _is_mp4(h: bytes) -> bool:
    brand = _ftyp_brand(h)
    return brand is not None and brand not in _HEIF_BRANDS | _AVIF_BRANDS and brand != b"qt  "


def _is_bmp(h: bytes) -> bool:
    return (
        h[:2] == b"BM"
        and len(h) >= 18
        and int.from_bytes(h[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)
    )


def _is_tar(h: bytes) -> bool:
    return h[257:262] == b"ustar"


def _is_mpeg_ts(h: bytes) -> bool:
    return len(h) >= 377 and h[0] == 0x47 and h[188] == 0x47 and h[376] == 0x47


def _is_raw_disk(h: bytes) -> bool:
    """A partition table or a file system at offset 0 (MBR, GPT, NTFS, FAT, ext2/3/4)."""
    if len(h) >= 1082 and h[1080:1082] == b"\x53\xef":
        return True
    if h[3:11] == b"NTFS    ":
        return True
    if h[510:512] != b"\x55\xaa":
        return False
    if h[512:520] == b"EFI PART" or h[54:59] in (b"FAT12", b"FAT16") or h[82:87] == b"FAT32":
        return True
    # MBR: four partition entries with sane boot flags and at least one typed partition.
    entries = [h[446 + 16 * i : 462 + 16 * i] for i in range(4)]
    return all(e[0] in (0x00, 0x80) for e in entries) and any(e[4] != 0 for e in entries)


_DEFAULTS: list[ContentType] = [
    ContentType("empty", "other", "application/x-empty", lambda h: not h, "zero-length file"),
    ContentType("jpeg", "photo", "image/jpeg", _at(0, b"\xff\xd8\xff"), "JPEG/JFIF/EXIF"),
    ContentType("png", "photo", "image/png", _at(0, b"\x89PNG\r\n\x1a\n"), "PNG"),
    ContentType("gif", "photo", "image/gif", _any(_at(0, b"GIF87a"), _at(0, b"GIF89a")), "GIF"),
    ContentType(
        "webp", "photo", "image/webp", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP", "WebP"
    ),
    ContentType(
        "tiff",
        "photo",
        "image/tiff",
        _any(_at(0, b"II*\x00"), _at(0, b"MM\x00*")),
        "TIFF and TIFF-based camera raw",
    ),
    ContentType("bmp", "photo", "image/bmp", _is_bmp, "Windows bitmap"),
    ContentType("heif", "photo", "image/heif", _is_heif, "HEIF/HEIC (phones)"),
    ContentType("avif", "photo", "image/avif", _is_avif, "AVIF"),
    ContentType("mov", "video", "video/quicktime", _is_mov, "QuickTime"),
    ContentType("mp4", "video", "video/mp4", _is_mp4, "MPEG-4 / 3GP"),
    ContentType(
        "avi", "video", "video/x-msvideo", lambda h: h[:4] == b"RIFF" and h[8:12] == b"AVI ", "AVI"
    ),
    ContentType("matroska", "video", "video/x-matroska", _at(0, b"\x1a\x45\xdf\xa3"), "MKV / WebM"),
    ContentType(
        "asf", "video", "video/x-ms-asf", _at(0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"), "WMV / ASF"
    ),
    ContentType("flv", "video", "video/x-flv", _at(0, b"FLV\x01"), "Flash video"),
    ContentType(
        "mpeg_ps", "video", "video/mpeg", _at(0, b"\x00\x00\x01\xba"), "MPEG program stream"
    ),
    ContentType("mpeg_ts", "video", "video/mp2t", _is_mpeg_ts, "MPEG transport stream"),
    ContentType(
        "zip",
        "archive",
        "application/zip",
        _any(_at(0, b"PK\x03\x04"), _at(0, b"PK\x05\x06")),
        "ZIP (also DOCX/XLSX/APK)",
    ),
    ContentType("tar", "archive", "application/x-tar", _is_tar, "POSIX tar"),
    ContentType(
        "gzip", "archive", "application/gzip", _at(0, b"\x1f\x8b"), "gzip (tar.gz or single file)"
    ),
    ContentType("bzip2", "archive", "application/x-bzip2", _at(0, b"BZh"), "bzip2"),
    ContentType("xz", "archive", "application/x-xz", _at(0, b"\xfd7zXZ\x00"), "xz"),
    ContentType(
        "7z",
        "archive",
        "application/x-7z-compressed",
        _at(0, b"7z\xbc\xaf\x27\x1c"),
        "7-Zip (not expanded)",
    ),
    ContentType(
        "rar", "archive", "application/vnd.rar", _at(0, b"Rar!\x1a\x07"), "RAR (not expanded)"
    ),
    ContentType(
        "e01", "disk_image", "application/x-ewf", _at(0, b"EVF\x09\x0d\x0a\xff\x00"), "EnCase E01"
    ),
    ContentType(
        "raw_disk",
        "disk_image",
        "application/x-raw-disk-image",
        _is_raw_disk,
        "raw disk / partition image",
    ),
    ContentType("pdf", "document", "application/pdf", _at(0, b"%PDF-"), "PDF"),
]


def register_defaults() -> None:
    """Register the built-in content types (called once by :func:`vigil.plugins.load_defaults`)."""
    for content_type in _DEFAULTS:
        if content_type.name not in CONTENT_TYPES:
            CONTENT_TYPES.register(content_type)


def sniff(head: bytes) -> ContentType:
    """The first registered type whose signature matches ``head`` (``unknown`` otherwise)."""
    if not CONTENT_TYPES:
        register_defaults()
    for content_type in CONTENT_TYPES:
        if content_type.sniff(head):
            return content_type
    return UNKNOWN
