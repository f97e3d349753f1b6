"""The local export policy: an allow-list, checked on every signal before anything is signed.

:func:`vigil.share.kinds.validate_signal` (shared with the hub) fixes each kind's exact shape.
This module adds what only the exporting unit can know or afford to check, because a bug in an
exporter — not only a malicious one — must never put media or a name into a bundle:

* ``local_ref`` is ``<prefix>:<number>`` with a prefix from :data:`REF_PREFIXES` (an opaque
  database id; never a file name, a user name or a person's name);
* no ``meta`` string looks like a file name (a media or archive extension) or contains one of
  the case's *forbidden strings* (file names, person names, e-mail addresses; see
  :class:`SharePolicy`);
* binary values (base64 kinds) are decoded and scanned: an image or video signature at the start
  (JPEG, PNG, GIF, TIFF, WebP, BMP-with-header, ISO media, Matroska, RIFF) or a long signature
  anywhere (PNG, GIF, ``JFIF``/``Exif`` markers, ``WEBPVP8``, ``ftyp`` brands) is refused, and so
  is any forbidden string of 6 or more characters;
* face templates must be embedding-like (every value finite and within ±16: raw pixels read as
  float32 give huge or tiny magnitudes) and, when the exporter passes the installation's face
  models, from one of them with its registered dimension; scene descriptors are unit vectors.

Anything else raises :class:`~vigil.errors.PolicyViolation` naming the signal and the rule.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import PolicyViolation
from vigil.share.kinds import validate_signal

REF_PREFIXES = frozenset({"item", "face", "person", "record", "camera"})
"""What a ``local_ref`` may point at (resolved only by the owning unit)."""
_REF = re.compile(r"^([a-z_]+):([0-9]{1,18})$")
_MEDIA_EXT = re.compile(
    r"\.(jpe?g|jfif|png|gif|bmp|tiff?|webp|heic|heif|avif|raw|cr2|nef|dng|mp4|m4v|mov|avi|mkv|"
    r"wmv|flv|webm|3gp|mpe?g|zip|rar|7z|tar|gz|pdf|docx?|e01|dd|img|iso)$",
    re.IGNORECASE,
)
BINARY_KINDS = frozenset({"face", "scene", "prnu", "person"})
_START_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF
    b"MM\x00*",
    b"RIFF",  # WebP, AVI, WAV
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"\x00\x00\x01\xba",  # MPEG-PS
    b"PK\x03\x04",  # zip
)
_START_MAGIC_AT4 = (b"ftyp",)  # ISO media (MP4, MOV, HEIC): bytes 4..8
_ANYWHERE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"GIF87a",
    b"JFIF\x00",
    b"Exif\x00\x00",
    b"WEBPVP8",
    b"ftypheic",
    b"ftypisom",
    b"ftypmp4",
    b"ftypqt",
)
MIN_FORBIDDEN_BYTES = 6
"""Forbidden strings shorter than this are only checked in text fields: in random binary values
(filters, bits) a short string turns up by chance."""
MAX_FACE_VALUE = 16.0


@dataclass(frozen=True)
class FaceModelCard:
    """A face embedder model the unit holds (what a face template must come from)."""

    model: str
    model_version: str
    weights_sha256: str
    dim: int


@dataclass
class SharePolicy:
    """The allow-list for one export: forbidden strings of the case and its face models."""

    forbidden: Iterable[str] = ()
    """Strings that must never appear: evidence file names, person names, e-mail addresses."""
    face_models: Iterable[FaceModelCard] | None = None
    """When given, a face template must come from one of these models."""
    _text: frozenset[str] = field(init=False, default=frozenset())
    _text_lengths: tuple[int, ...] = field(init=False, default=())
    _bytes: dict[int, list[bytes]] = field(init=False, default_factory=dict)
    _prefixes: npt.NDArray[np.uint64] = field(
        init=False, default_factory=lambda: np.zeros(0, np.uint64)
    )
    _models: set[FaceModelCard] | None = field(init=False, default=None)
    _checked_text: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        # single words (a surname, "vlad") are checked in binary values only: as meta text they
        # would clash with legitimate tokens; full names, addresses, e-mails and file names
        # (anything with a space, dot, @ or slash) are checked everywhere
        text = {
            s.strip().lower()
            for s in self.forbidden
            if s and len(s.strip()) >= 4 and re.search(r"[ .@/\\]", s.strip())
        }
        self._text = frozenset(text)
        self._text_lengths = tuple(sorted({len(t) for t in text}))
        # binary values are scanned by the first MIN_FORBIDDEN_BYTES bytes of each forbidden
        # string (one vectorised lookup per value), then the candidates are compared in full:
        # linear in the value's size whatever the number of forbidden strings
        variants: set[bytes] = set()
        for s in self.forbidden:
            s = (s or "").strip()
            if len(s) >= MIN_FORBIDDEN_BYTES:
                for form in (s, s.lower(), s.upper(), s.title()):
                    variants.add(form.encode("utf-8", "ignore"))
        by_prefix: dict[int, list[bytes]] = {}
        for raw in variants:
            if len(raw) >= MIN_FORBIDDEN_BYTES:
                by_prefix.setdefault(_key(raw[:MIN_FORBIDDEN_BYTES]), []).append(raw)
        self._bytes = by_prefix
        self._prefixes = np.array(sorted(by_prefix), dtype=np.uint64)
        self._models = set(self.face_models) if self.face_models is not None else None

    def check(self, signal: Any, index: int | None = None) -> dict[str, Any]:
        """Validate one signal; return it unchanged or raise :class:`PolicyViolation`."""
        sig = validate_signal(signal, index=index)
        what = f"signal #{index}" if index is not None else "signal"
        what = f"{what} ({sig['kind']})"
        m = _REF.match(sig["local_ref"])
        if not m or m.group(1) not in REF_PREFIXES:
            raise PolicyViolation(
                f"{what}: local_ref {sig['local_ref']!r} must be <{'|'.join(sorted(REF_PREFIXES))}>"
                ":<number>"
            )
        for key, value in sig["meta"].items():
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str):
                    self._check_text(text, f"{what}: meta.{key}")
        if sig["kind"] in BINARY_KINDS:
            raw = base64.b64decode(sig["value"])
            self._check_binary(raw, what)
            if sig["kind"] == "face":
                self._check_face(raw, sig["meta"], what)
            elif sig["kind"] == "scene" and sig["meta"]["dtype"] in ("f16", "f32"):
                dtype = "<f2" if sig["meta"]["dtype"] == "f16" else "<f4"
                vec = np.frombuffer(raw, dtype=dtype).astype(np.float64)
                if not np.all(np.isfinite(vec)) or np.abs(vec).max(initial=0.0) > 1.001:
                    raise PolicyViolation(f"{what}: a scene descriptor is a unit vector")
        return sig

    def check_all(self, signals: Iterable[Any]) -> list[dict[str, Any]]:
        """Check every signal (the first violation stops the export)."""
        return [self.check(s, i) for i, s in enumerate(signals)]

    def check_header(self, header: Mapping[str, Any]) -> None:
        """The bundle header's free strings (agency, operation, case reference)."""
        for key in ("agency", "operation", "case_ref"):
            value = header.get(key)
            if isinstance(value, str):
                self._check_text(value, f"bundle header {key}")

    def _check_text(self, text: str, what: str) -> None:
        if _MEDIA_EXT.search(text):
            raise PolicyViolation(f"{what} looks like a file name")
        if text in self._checked_text or not self._text:
            return
        low = text.lower()
        for n in self._text_lengths:  # every substring of each forbidden length: O(len(text))
            if n > len(low):
                break
            if any(low[i : i + n] in self._text for i in range(len(low) - n + 1)):
                raise PolicyViolation(f"{what} contains a name or file name of the case")
        if len(self._checked_text) < 100_000:
            self._checked_text.add(text)

    def _check_binary(self, raw: bytes, what: str) -> None:
        if raw.startswith(_START_MAGIC) or raw[4:8] in _START_MAGIC_AT4:
            raise PolicyViolation(f"{what}: value starts like an image, video or archive file")
        for magic in _ANYWHERE_MAGIC:
            if magic in raw:
                raise PolicyViolation(f"{what}: value holds an image or video file signature")
        if not self._bytes or len(raw) < MIN_FORBIDDEN_BYTES:
            return
        arr = np.frombuffer(raw, dtype=np.uint8).astype(np.uint64)
        keys = np.zeros(len(raw) - MIN_FORBIDDEN_BYTES + 1, dtype=np.uint64)
        for k in range(MIN_FORBIDDEN_BYTES):
            keys = (keys << np.uint64(8)) | arr[k : k + len(keys)]
        pos = np.searchsorted(self._prefixes, keys)
        pos[pos == len(self._prefixes)] = 0
        for at in np.flatnonzero(self._prefixes[pos] == keys).tolist():
            for bad in self._bytes[int(keys[at])]:
                if raw.startswith(bad, at):
                    raise PolicyViolation(f"{what}: value holds a name or file name of the case")

    def _check_face(self, raw: bytes, meta: Mapping[str, Any], what: str) -> None:
        vec = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        if not np.all(np.isfinite(vec)) or np.abs(vec).max(initial=0.0) > MAX_FACE_VALUE:
            raise PolicyViolation(f"{what}: not a face template (values outside ±{MAX_FACE_VALUE})")
        if self._models is not None:
            card = FaceModelCard(
                str(meta["model"]),
                str(meta["model_version"]),
                str(meta["weights_sha256"]),
                int(meta["dim"]),
            )
            if card not in self._models:
                raise PolicyViolation(f"{what}: not from a face model of this installation")


def _key(prefix: bytes) -> int:
    """The first MIN_FORBIDDEN_BYTES bytes of a string as one big-endian integer."""
    return int.from_bytes(prefix, "big")
