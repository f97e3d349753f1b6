"""Raw (dd) and EnCase E01 disk images, read through pytsk3 (The Sleuth Kit) and pyewf (libewf).

Partitions are found with TSK's volume system (MBR, GPT, ...); an image without a partition table
is tried as a single file system at offset 0. Allocated regular files are read; deleted and
unallocated content is not recovered (that is carving, out of scope: use a forensic suite and
ingest its export). Supported file systems are those of The Sleuth Kit 4.x: NTFS, FAT12/16/32,
exFAT, ext2/3/4, HFS+, ISO 9660, UFS. Other image formats (AFF4, VMDK, VHD, split raw ``.001``)
are hashed as files but not opened; the warning says so.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pytsk3

from vigil.content.types import HEAD_SIZE, sniff
from vigil.evidence.readonly import open_readonly
from vigil.evidence.walk import (
    ARCHIVE_TYPES,
    DISK_TYPES,
    SEP,
    UNSUPPORTED_ARCHIVES,
    Entry,
    ImageMember,
    _Budget,
)

if TYPE_CHECKING:
    from vigil.evidence.walk import Walker

CHUNK = 1024 * 1024


class _EwfImage(pytsk3.Img_Info):  # type: ignore[misc]
    """Adapts a pyewf handle to TSK's image interface."""

    def __init__(self, handle: Any, files: list[BinaryIO]) -> None:
        self._handle = handle
        self._files = files
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:
        self._handle.close()
        for fh in self._files:
            fh.close()

    def read(self, offset: int, size: int) -> bytes:
        self._handle.seek(offset)
        data: bytes = self._handle.read(size)
        return data

    def get_size(self) -> int:
        size: int = self._handle.get_media_size()
        return size


class _RawImage(pytsk3.Img_Info):  # type: ignore[misc]
    """A raw (dd) image read by TSK from our own read-only handle: ``pytsk3.Img_Info(path)``
    would have libtsk open the path itself, without ``O_NOATIME``."""

    def __init__(self, path: Path) -> None:
        self._fh = open_readonly(path)
        # the end, not fstat's size: a block device (/dev/sdb) has st_size 0
        self._size = os.lseek(self._fh.fileno(), 0, os.SEEK_END)
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def close(self) -> None:
        self._fh.close()

    def read(self, offset: int, size: int) -> bytes:
        return os.pread(self._fh.fileno(), size, offset)

    def get_size(self) -> int:
        return self._size


def open_image(path: Path, kind: str) -> Any:
    """Open a disk image read-only as a pytsk3 image object, every file of it (E01 segments
    too) through :func:`~vigil.evidence.readonly.open_readonly`."""
    if kind == "e01":
        import pyewf

        segments = pyewf.glob(str(path))
        handles = [open_readonly(segment) for segment in segments]
        handle = pyewf.handle()
        try:
            handle.open_file_objects(handles, "r")
        except BaseException:
            for fh in handles:
                fh.close()
            raise
        return _EwfImage(handle, handles)
    return _RawImage(path)


def _ts(value: int | None) -> dt.datetime | None:
    if not value or value <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _file_systems(img: Any) -> Iterator[tuple[bytes, Any | None, str | None, int]]:
    """(prefix, FS_Info or None, problem, byte offset) for each partition (or the whole image)."""
    try:
        volume = pytsk3.Volume_Info(img)
    except OSError:
        volume = None
    if volume is None:
        try:
            yield b"", pytsk3.FS_Info(img), None, 0
        except OSError as exc:
            yield (
                b"",
                None,
                f"no partition table and no file system The Sleuth Kit can read: {exc}",
                0,
            )
        return
    block = volume.info.block_size
    for part in volume:
        if not part.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC:
            continue
        prefix = f"p{part.addr}/".encode()
        offset = part.start * block
        try:
            yield prefix, pytsk3.FS_Info(img, offset=offset), None, offset
        except OSError as exc:
            desc = (
                part.desc.decode("utf-8", "replace")
                if isinstance(part.desc, bytes)
                else str(part.desc)
            )
            yield (
                prefix,
                None,
                f"partition {part.addr} ({desc}) has no readable file system: {exc}",
                offset,
            )


def _walk_names(fs: Any, inode: int, seen: set[int]) -> None:
    """Open every directory reachable from ``inode`` (what the real walk will ask TSK for)."""
    if inode in seen:
        return
    seen.add(inode)
    try:
        directory = fs.open_dir(inode=inode)
    except OSError:
        return
    for f in directory:
        meta = f.info.meta
        if meta is None or f.info.name.name in (b".", b".."):
            continue
        if meta.type == pytsk3.TSK_FS_META_TYPE_DIR and meta.flags & pytsk3.TSK_FS_META_FLAG_ALLOC:
            _walk_names(fs, meta.addr, seen)


def probe_in_child(path: Path, kind: str, timeout: float) -> str | None:
    """Why the image must not be walked in this process (None when it may).

    The Sleuth Kit can loop for ever *inside C code* on a damaged file system (the fuzzers
    found ext2 images whose root directory never opens, issue 14); no Python timeout can
    interrupt that. So the directory tree is first opened in a forked child that is killed
    after ``timeout`` seconds (or that crashes instead of this process). Costs a fork and a
    metadata-only walk; skipped where there is no ``fork``.
    """
    if not hasattr(os, "fork"):
        return None
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a threaded process (ingest walks in a producer
        # thread): the child only runs TSK and os._exit()s, touching no lock another thread
        # could hold (no logging, no database, no imports).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's work is checked through its exit status
        code = 1
        try:
            img = open_image(path, kind)
            for _prefix, fs, _problem, _offset in _file_systems(img):
                if fs is not None:
                    _walk_names(fs, fs.info.root_inum, set())
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return (
                f"The Sleuth Kit did not finish reading the file system within {timeout:.0f} s "
                "(damaged structures can make it loop); not walked"
            )
        time.sleep(0.005)
    if os.WIFSIGNALED(status):
        return f"The Sleuth Kit crashed reading the file system (signal {os.WTERMSIG(status)})"
    return None  # a plain error is met again, and reported, by the walk itself


def walk_disk_image(path: Path, kind: str, raw: bytes, walker: Walker) -> Iterator[Entry]:
    """Entries for every allocated regular file in the image at ``path``."""
    container = raw + SEP
    try:
        size_gib = path.stat().st_size / 1024**3
    except OSError:
        size_gib = 0.0
    problem = probe_in_child(path, kind, walker.limits.disk_probe_s * (1 + size_gib))
    if problem:
        yield Entry(
            container,
            depth=1,
            status="skipped",
            warnings=[("disk_image_unreadable", problem)],
        )
        return
    try:
        img = open_image(path, kind)
    except (OSError, ImportError) as exc:
        yield Entry(
            container,
            depth=1,
            status="skipped",
            warnings=[("disk_image_unreadable", f"{kind} image could not be opened: {exc}")],
        )
        return
    budget = _Budget(walker.limits)
    try:
        for prefix, fs, problem, offset in _file_systems(img):
            if fs is None:
                yield Entry(
                    container + prefix,
                    depth=1,
                    status="skipped",
                    warnings=[("filesystem_unsupported", problem or "unreadable")],
                )
                continue
            where = (str(path), kind, offset) if walker.locate_image_members else None
            yield from _walk_fs(
                fs, fs.info.root_inum, container + prefix, walker, budget, set(), where
            )
    finally:
        close = getattr(img, "close", None)
        if close:
            close()


def _walk_fs(
    fs: Any,
    inode: int,
    prefix: bytes,
    walker: Walker,
    budget: _Budget,
    seen: set[int],
    where: tuple[str, str, int] | None = None,
) -> Iterator[Entry]:
    """Entries for the files under directory ``inode``.

    ``where`` (image path, kind, file-system offset): files that are no container are handed
    out as :class:`ImageMember` locators for workers to read (only their first bytes are read
    here, to tell containers, which are expanded here, from the rest).
    """
    if inode in seen:
        yield Entry(
            prefix,
            depth=1,
            status="skipped",
            warnings=[
                ("directory_loop", "directory already visited (file-system loop); not walked again")
            ],
        )
        return
    seen.add(inode)
    try:
        directory = fs.open_dir(inode=inode)
    except OSError as exc:
        yield Entry(
            prefix,
            depth=1,
            status="unreadable",
            warnings=[("unreadable_dir", f"directory could not be read: {exc}")],
        )
        return
    children = []
    for f in directory:
        name = f.info.name.name
        if name in (b".", b"..") or f.info.meta is None:
            continue
        if f.info.meta.type in (pytsk3.TSK_FS_META_TYPE_VIRT, pytsk3.TSK_FS_META_TYPE_VIRT_DIR):
            continue  # TSK's virtual entries ($OrphanFiles, $MBR, $FAT1 ...)
        if name.startswith(b"$") and f.info.meta.addr < 32:
            continue  # NTFS metadata files ($MFT, $Bitmap ...)
        children.append((name, f))
    children.sort(key=lambda c: c[0])
    for name, f in children:
        meta = f.info.meta
        raw = prefix + name
        if not meta.flags & pytsk3.TSK_FS_META_FLAG_ALLOC:
            continue
        if meta.type == pytsk3.TSK_FS_META_TYPE_DIR:
            if name in (b"lost+found", b"$OrphanFiles"):
                continue
            yield from _walk_fs(fs, meta.addr, raw + b"/", walker, budget, seen, where)
            continue
        if meta.type != pytsk3.TSK_FS_META_TYPE_REG:
            yield Entry(
                raw,
                depth=1,
                status="skipped",
                mtime=_ts(meta.mtime),
                warnings=[("special_file", "not a regular file (link, device or other); not read")],
            )
            continue
        size = int(meta.size)
        mtime, ctime, atime = (
            _ts(meta.mtime),
            _ts(getattr(meta, "crtime", 0) or meta.ctime),
            _ts(meta.atime),
        )

        def open_member(f: Any = f, size: int = size) -> Any:
            return _TskReader(f, size)

        try:
            located = None
            if where is not None and not _is_container(f, size):
                located = ImageMember(where[0], where[1], where[2], int(meta.addr), size)
            for entry in walker._member_entries(
                raw,
                name.decode("utf-8", "replace"),
                1,
                budget,
                size,
                None,
                mtime,
                open_member,
                located=located,
            ):
                if entry.raw_path == raw:
                    entry.ctime, entry.atime = ctime, atime
                    entry.warnings = [w for w in entry.warnings if w[0] != "unsafe_path"]
                yield entry
        except OSError as exc:
            yield Entry(
                raw,
                depth=1,
                size=size,
                status="unreadable",
                warnings=[("unreadable", f"file content could not be read from the image: {exc}")],
            )


_CONTAINERS = ARCHIVE_TYPES | UNSUPPORTED_ARCHIVES | DISK_TYPES


def _is_container(f: Any, size: int) -> bool:
    """Whether the file's first bytes say archive or disk image (expanded by the walker)."""
    head: bytes = f.read_random(0, min(size, HEAD_SIZE)) if size > 0 else b""
    return sniff(head).name in _CONTAINERS


_OPEN: dict[tuple[str, str], tuple[Any, dict[int, Any]]] = {}
"""This worker process's open image (one at a time) and its file systems by byte offset."""


def read_member(member: ImageMember) -> Iterator[bytes]:
    """The content of one disk image file, in chunks, read by a worker from the image itself.

    The image is opened read-only once per worker process and kept open for the next members
    of the same image (:func:`close_images` closes it). At most ``member.size`` bytes are read.

    Raises:
        OSError: the image or the file cannot be read.
    """
    key = (member.image, member.kind)
    if key not in _OPEN:
        close_images()
        _OPEN[key] = (open_image(Path(member.image), member.kind), {})
    img, systems = _OPEN[key]
    fs = systems.get(member.fs_offset)
    if fs is None:
        fs = systems[member.fs_offset] = pytsk3.FS_Info(img, offset=member.fs_offset)
    f = fs.open_meta(inode=member.inode)
    pos = 0
    while pos < member.size:
        data: bytes = f.read_random(pos, min(CHUNK, member.size - pos))
        if not data:
            return
        pos += len(data)
        yield data


def close_images() -> None:
    """Close the image :func:`read_member` keeps open in this process."""
    for img, _systems in _OPEN.values():
        close = getattr(img, "close", None)
        if close:
            close()
    _OPEN.clear()


class _TskReader:
    """A minimal read-only stream over a TSK file object."""

    def __init__(self, f: Any, size: int) -> None:
        self._f = f
        self._size = size
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if self._pos >= self._size:
            return b""
        if n < 0 or n > self._size - self._pos:
            n = self._size - self._pos
        n = min(n, CHUNK)
        data: bytes = self._f.read_random(self._pos, n)
        if not data:
            return b""
        self._pos += len(data)
        return data

    def __enter__(self) -> _TskReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
