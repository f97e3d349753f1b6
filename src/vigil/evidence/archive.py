"""Members of a zip or plain tar archive that workers read themselves (one archive spreads over
workers, as a disk image does with :class:`~vigil.evidence.walk.ImageMember`).

The walker lists the archive (a zip's central directory, a plain tar's headers) and reads only
each member's first bytes, to tell nested containers (expanded by the walker, as before) from
the rest; every other member becomes an :class:`ArchiveMember` locator. A worker opens the
archive read-only itself (kept open for its next members) and reads the member: a zip member by
its place in the central directory (decompressed and CRC-checked by :mod:`zipfile`, which never
returns more than the declared size), a tar member as the byte range of its data.

Only archives that are files on disk are split: zip and uncompressed tar. A compressed tar
(``.tar.gz``/``.bz2``/``.xz``) has no random access (a member's data starts wherever the
decompressor is after all members before it), so its members are still streamed by the walker
and travel to the workers as bytes; so do the members of nested archives.
"""

from __future__ import annotations

import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from vigil.content.types import HEAD_SIZE, sniff
from vigil.errors import DamagedInput
from vigil.evidence.readonly import open_readonly

CHUNK = 1024 * 1024

READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    tarfile.TarError,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    zlib.error,
)
"""What reading one member may raise when the archive is damaged (as the walker catches)."""


@dataclass(frozen=True)
class ArchiveMember:
    """Where a worker finds one member of a zip or plain tar archive on disk.

    ``index`` is the member's place in a zip's central directory (``-1`` for tar); ``offset``
    is a zip member's local header offset (checked, so a changed archive is noticed) or the
    byte offset of a tar member's data; ``size`` is the declared (uncompressed) size.
    """

    archive: str
    kind: str
    """``zip`` or ``tar``."""
    name: str
    index: int
    offset: int
    size: int


def _is_container(head: bytes) -> bool:
    from vigil.evidence.walk import ARCHIVE_TYPES, DISK_TYPES, UNSUPPORTED_ARCHIVES

    return sniff(head).name in ARCHIVE_TYPES | UNSUPPORTED_ARCHIVES | DISK_TYPES


def zip_locator(
    archive: str, zf: zipfile.ZipFile, index: int, info: zipfile.ZipInfo
) -> ArchiveMember | None:
    """A locator for the zip member, or None when its first bytes say it is itself a container
    (the walker reads and expands it). Reads (decompresses) only the member's first 4 KiB.

    Raises:
        zipfile.BadZipFile, zlib.error, ...: the member's start is damaged (as a full read would).
    """
    with zf.open(info) as fh:
        head = fh.read(HEAD_SIZE)
    if _is_container(head):
        return None
    return ArchiveMember(archive, "zip", info.filename, index, info.header_offset, info.file_size)


def tar_locator(
    archive: str, tf: tarfile.TarFile, member: tarfile.TarInfo, archive_size: int
) -> ArchiveMember | None:
    """A locator for the regular tar member, or None when the walker must read it itself: it is
    a container, a sparse file, or its data runs past the end of the archive (a truncated tar:
    the walker's read then fails exactly as it did before members were split)."""
    if member.sparse is not None or member.offset_data + member.size > archive_size:
        return None
    extracted = tf.extractfile(member)
    head = extracted.read(min(HEAD_SIZE, member.size)) if extracted is not None else b""
    if _is_container(head):
        return None
    return ArchiveMember(archive, "tar", member.name, -1, member.offset_data, member.size)


_OPEN: dict[tuple[int, str], tuple[BinaryIO, zipfile.ZipFile | None]] = {}
"""Open archives with their parsed zip directories, one per reading thread (a worker process
has one; an ingest without analyzers reads in several threads of one process, and a file
position cannot be shared between them)."""
_OPEN_LOCK = threading.Lock()


def _open(member: ArchiveMember) -> tuple[BinaryIO, zipfile.ZipFile | None]:
    thread = threading.get_ident()
    with _OPEN_LOCK:
        found = _OPEN.get((thread, member.archive))
        if found is not None:
            return found
        stale = [key for key in _OPEN if key[0] == thread]
        for key in stale:  # this thread moved on to another archive
            _close(*_OPEN.pop(key))
    fh = open_readonly(member.archive)
    try:
        zf = zipfile.ZipFile(fh) if member.kind == "zip" else None
    except BaseException:
        fh.close()
        raise
    with _OPEN_LOCK:
        _OPEN[(thread, member.archive)] = (fh, zf)
    return fh, zf


def _close(fh: BinaryIO, zf: zipfile.ZipFile | None) -> None:
    if zf is not None:
        zf.close()
    fh.close()


def read_member(member: ArchiveMember) -> Iterator[bytes]:
    """The member's content in chunks, read by a worker from the archive itself (read-only,
    kept open for the next members of the same archive; :func:`close_archives` closes it).
    Never more than the declared size: :mod:`zipfile` stops there (and checks the CRC), a tar
    member is the byte range of its declared size.

    Raises:
        DamagedInput: the member cannot be read (code ``damaged``, the message as the walker
            words it), or the archive is no longer what was listed.
    """
    try:
        fh, zf = _open(member)
        if zf is not None:
            infos = zf.infolist()
            info = infos[member.index] if 0 <= member.index < len(infos) else None
            if info is None or (info.filename, info.header_offset) != (member.name, member.offset):
                raise DamagedInput(
                    f"member could not be read: the archive changed since it was listed "
                    f"(no member {member.name!r} at entry {member.index})"
                )
            with zf.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    yield chunk
            return
        fh.seek(member.offset)
        left = member.size
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                raise tarfile.ReadError("unexpected end of data")
            left -= len(chunk)
            yield chunk
    except DamagedInput:
        raise
    except READ_ERRORS as exc:
        raise DamagedInput(f"member could not be read: {exc}") from exc


def close_archives() -> None:
    """Close every archive :func:`read_member` keeps open in this process (call it when no
    thread reads any more)."""
    with _OPEN_LOCK:
        for fh, zf in _OPEN.values():
            _close(fh, zf)
        _OPEN.clear()
