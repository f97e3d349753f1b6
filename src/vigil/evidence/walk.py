"""Walk an evidence source read-only and yield one :class:`Entry` per file found.

Folders are walked in sorted order without following symbolic links; zip, tar (plain, gz, bz2, xz)
and single-file gzip/bzip2/xz archives are expanded recursively from memory or from spool files in
the data folder (never by extracting members under their own names); raw and E01 disk images are
read through The Sleuth Kit (pytsk3) and libewf (pyewf). For ingest, the files of a disk image
and the members of a zip or plain tar on disk can instead be handed out as locators that the
workers read themselves (:class:`ImageMember`, :class:`~vigil.evidence.archive.ArchiveMember`).
The order is deterministic, so an interrupted ingest can be resumed by skipping entries already
recorded.

Anything odd becomes a warning on the entry, never an exception that stops the walk: unreadable
files, symbolic links (not followed; loops are named as such), special files, zip bombs, lying
sizes, path traversal or absolute member names, archives nested too deep, encrypted members,
undecodable names.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import itertools
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from vigil.content.types import HEAD_SIZE, sniff
from vigil.evidence.archive import ArchiveMember, tar_locator, zip_locator
from vigil.evidence.readonly import list_dir_readonly, open_readonly, read_head
from vigil.settings import IngestLimits

SEP = b"!/"
"""Separator between a container's path and a member's path in logical paths."""

ARCHIVE_TYPES = {"zip", "tar", "gzip", "bzip2", "xz"}
UNSUPPORTED_ARCHIVES = {"7z", "rar"}
DISK_TYPES = {"e01", "raw_disk"}
NESTED_TYPES = ARCHIVE_TYPES | UNSUPPORTED_ARCHIVES | DISK_TYPES
"""What a member read by the walker may be that the walker looks into (or reports on)."""


def display_path(raw: bytes) -> str:
    """Human-readable form of a raw path: invalid UTF-8 bytes appear as ``\\xNN``."""
    return raw.decode("utf-8", "backslashreplace")


def _ts(epoch: float | int | None) -> dt.datetime | None:
    if epoch is None or epoch <= 0:
        return None
    try:
        return dt.datetime.fromtimestamp(epoch, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class ImageMember:
    """Where a worker finds one file of a disk image itself (the unit that lets one image spread
    over workers): the image, the byte offset of the file system in it, and the file's inode.

    The walker lists the image; each worker opens the image read-only on its own and reads the
    members of its chunk (see :func:`vigil.evidence.disk.read_member`), so the reading and hashing
    of one image's files run in parallel, and no content travels from the walker to a worker.
    """

    image: str
    kind: str
    """``raw_disk`` or ``e01``."""
    fs_offset: int
    inode: int
    size: int


@dataclass
class Entry:
    """One file found in a source, with how to read it and what went wrong."""

    raw_path: bytes
    depth: int = 0
    size: int | None = None
    mtime: dt.datetime | None = None
    ctime: dt.datetime | None = None
    atime: dt.datetime | None = None
    fs_path: Path | None = None
    data: bytes | None = None
    spool: Path | None = None
    member: ImageMember | ArchiveMember | None = None
    """A disk image's file or an archive's member that the worker reads itself (then ``size`` is
    the declared size)."""
    status: str = "ok"
    """``ok`` (content readable), or why not: ``unreadable``, ``skipped``, ``link``."""
    warnings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def display(self) -> str:
        """The path as shown to people."""
        return display_path(self.raw_path)

    @property
    def has_content(self) -> bool:
        """Whether a worker can read the content."""
        return self.status == "ok" and (
            self.fs_path is not None
            or self.data is not None
            or self.spool is not None
            or self.member is not None
        )


class _Decompressing:
    """A decompressing reader that closes the compressed stream under it too."""

    def __init__(self, raw: BinaryIO, wrap: Callable[[BinaryIO], BinaryIO]) -> None:
        self._raw = raw
        self._stream = wrap(raw)

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def __enter__(self) -> _Decompressing:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stream.close()
        finally:
            self._raw.close()


@dataclass(frozen=True)
class _Nested:
    """A member that is itself a container: its kind, what opens it (None: not expanded),
    its packed size, and the walker's own link to a spooled one (removed after expanding)."""

    kind: str
    opener: Callable[[], BinaryIO] | None
    packed: int
    own: Path | None = None


class _Budget:
    """Bytes and members read out of one top-level archive, against the limits."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.total = 0
        self.members = 0
        self.exhausted: str | None = None


class Walker:
    """Produces :class:`Entry` objects for one source path.

    Args:
        root: the folder, archive or disk image given to ingest.
        limits: zip-bomb and nesting limits.
        spool_dir: where large members are spooled (inside the data folder).
        skip: predicate on a raw path; entries for which it is true are yielded without content
            (used when resuming: already-recorded files are not read again).
        locate_image_members: a disk image's files that are no container are yielded with an
            :class:`ImageMember` locator instead of their content, for workers to read (ingest);
            off, every member's content is read here (re-reading one item).
        locate_archive_members: the same for the members of a zip or plain tar archive that is
            a file on disk (:class:`~vigil.evidence.archive.ArchiveMember`); compressed tars and
            nested archives are still read here.
    """

    def __init__(
        self,
        root: Path,
        limits: IngestLimits,
        spool_dir: Path,
        skip: Callable[[bytes], bool] | None = None,
        *,
        locate_image_members: bool = False,
        locate_archive_members: bool = False,
    ) -> None:
        self.root = root
        self.locate_image_members = locate_image_members
        self.locate_archive_members = locate_archive_members
        self.limits = limits
        self.spool_dir = spool_dir
        self.skip = skip or (lambda _p: False)
        self._spool_seq = itertools.count()
        self._member_names: dict[bytes, int] = {}

    # --- top level --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Entry]:
        if self.root.is_dir() and not self.root.is_symlink():
            yield from self._walk_dir(self.root, b"")
        else:
            yield from self._file_entry(self.root, os.fsencode(self.root.name))

    def _walk_dir(self, folder: Path, prefix: bytes) -> Iterator[Entry]:
        try:
            children = sorted(list_dir_readonly(folder), key=os.fsencode)
        except OSError as exc:
            yield Entry(
                raw_path=prefix.rstrip(b"/") or b".",
                status="unreadable",
                warnings=[("unreadable_dir", f"folder could not be listed: {exc.strerror or exc}")],
            )
            return
        for child in children:
            raw = prefix + os.fsencode(child)
            path = folder / child
            try:
                st = os.lstat(path)
            except OSError as exc:
                yield Entry(
                    raw,
                    status="unreadable",
                    warnings=[("unreadable", f"cannot stat: {exc.strerror or exc}")],
                )
                continue
            name_warn = self._name_warning(child)
            if stat.S_ISLNK(st.st_mode):
                yield self._symlink_entry(path, raw, st, name_warn)
            elif stat.S_ISDIR(st.st_mode):
                if name_warn:
                    yield Entry(raw + b"/", status="skipped", warnings=[name_warn])
                yield from self._walk_dir(path, raw + b"/")
            elif stat.S_ISREG(st.st_mode):
                for entry in self._file_entry(path, raw, st):
                    if name_warn and entry.raw_path == raw:
                        entry.warnings.append(name_warn)
                    yield entry
            else:
                yield Entry(
                    raw,
                    status="skipped",
                    mtime=_ts(st.st_mtime),
                    warnings=[
                        ("special_file", "not a regular file (device, socket or FIFO); not read")
                    ],
                )

    @staticmethod
    def _name_warning(name: str) -> tuple[str, str] | None:
        raw = os.fsencode(name)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return (
                "non_utf8_name",
                f"file name is not valid UTF-8; stored as bytes, shown as {display_path(raw)!r}",
            )
        return None

    def _symlink_entry(
        self, path: Path, raw: bytes, st: os.stat_result, name_warn: tuple[str, str] | None
    ) -> Entry:
        try:
            target = os.readlink(path)
        except OSError as exc:
            target = f"<unreadable: {exc.strerror}>"
        try:
            path.resolve(strict=True)
            loop = False
        except RuntimeError:
            loop = True
        except OSError:
            loop = False
        warnings = [name_warn] if name_warn else []
        if loop:
            warnings.append(("symlink_loop", f"symbolic link loop ({target!s}); not followed"))
        else:
            warnings.append(
                (
                    "symlink",
                    f"symbolic link to {target!s}; not followed (evidence is walked as stored)",
                )
            )
        return Entry(raw, status="link", mtime=_ts(st.st_mtime), warnings=warnings)

    def _file_entry(
        self, path: Path, raw: bytes, st: os.stat_result | None = None
    ) -> Iterator[Entry]:
        try:
            st = st or path.stat()
            head = read_head(path, HEAD_SIZE)
        except OSError as exc:
            yield Entry(
                raw,
                status="unreadable",
                size=st.st_size if st else None,
                mtime=_ts(st.st_mtime) if st else None,
                warnings=[("unreadable", f"cannot read file: {exc.strerror or exc}")],
            )
            return
        entry = Entry(
            raw,
            size=st.st_size,
            mtime=_ts(st.st_mtime),
            ctime=_ts(st.st_ctime),
            atime=_ts(st.st_atime),
            fs_path=path,
        )
        if self.skip(raw):
            entry.fs_path = None
            entry.status = "done"
        yield entry
        kind = sniff(head).name
        if kind in ARCHIVE_TYPES or kind in UNSUPPORTED_ARCHIVES:
            yield from self._expand(
                lambda: open_readonly(path),
                kind,
                raw,
                1,
                _Budget(self.limits),
                st.st_size,
                where=path if self.locate_archive_members else None,
            )
        elif kind in DISK_TYPES:
            from vigil.evidence.disk import walk_disk_image

            yield from walk_disk_image(path, kind, raw, self)

    # --- archives ---------------------------------------------------------------------------
    def _expand(
        self,
        opener: Callable[[], BinaryIO],
        kind: str,
        prefix: bytes,
        depth: int,
        budget: _Budget,
        packed_size: int | None,
        where: Path | None = None,
    ) -> Iterator[Entry]:
        """``where``: the archive is this file on disk, and its members (zip, plain tar) are
        handed out as locators for workers to read."""
        container = prefix + SEP
        if kind in UNSUPPORTED_ARCHIVES:
            yield Entry(
                container,
                depth=depth,
                status="skipped",
                warnings=[
                    (
                        "archive_unsupported",
                        f"{kind} archives are not expanded; extract with a forensic tool and ingest the folder",
                    )
                ],
            )
            return
        if depth > self.limits.max_archive_depth:
            yield Entry(
                container,
                depth=depth,
                status="skipped",
                warnings=[
                    (
                        "archive_too_deep",
                        f"archive nested deeper than {self.limits.max_archive_depth} levels; not expanded",
                    )
                ],
            )
            return
        try:
            if kind == "zip":
                yield from self._expand_zip(opener, container, depth, budget, where)
            elif kind == "tar" or (
                kind in ("gzip", "bzip2", "xz") and self._is_compressed_tar(opener)
            ):
                yield from self._expand_tar(
                    opener,
                    container,
                    depth,
                    budget,
                    packed_size,
                    where if kind == "tar" else None,  # a compressed tar has no random access
                )
            else:
                yield from self._expand_single(opener, kind, container, depth, budget, packed_size)
        except (
            zipfile.BadZipFile,
            tarfile.TarError,
            OSError,
            EOFError,
            lzma.LZMAError,
            zlib.error,
            ValueError,
            NotImplementedError,  # zipfile: a (damaged) central directory asks for a new version
        ) as exc:
            yield Entry(
                container,
                depth=depth,
                status="skipped",
                warnings=[("archive_damaged", f"archive could not be read past this point: {exc}")],
            )

    @staticmethod
    def _is_compressed_tar(opener: Callable[[], BinaryIO]) -> bool:
        try:
            with opener() as fh, tarfile.open(fileobj=fh, mode="r:*") as tf:
                return tf.next() is not None
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error, ValueError):
            return False

    def _member_warnings(self, name: str) -> list[tuple[str, str]]:
        warnings: list[tuple[str, str]] = []
        pure = PurePosixPath(name.replace("\\", "/"))
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            warnings.append(
                (
                    "unsafe_path",
                    f"absolute member path {name!r} (never extracted; recorded as found)",
                )
            )
        if ".." in pure.parts:
            warnings.append(
                (
                    "unsafe_path",
                    f"member path {name!r} climbs out of the archive (path traversal; never extracted)",
                )
            )
        return warnings

    def _check_member(
        self, budget: _Budget, size: int, packed: int | None
    ) -> tuple[str, str] | None:
        limits = self.limits
        if budget.exhausted:
            return ("archive_budget", budget.exhausted)
        if budget.members >= limits.max_archive_members:
            budget.exhausted = (
                f"more than {limits.max_archive_members} members; the rest were not read"
            )
            return ("archive_budget", budget.exhausted)
        if size > limits.max_member_size:
            return (
                "zip_bomb",
                f"member declares {size} bytes, over the {limits.max_member_size}-byte limit; not read",
            )
        if (
            packed is not None
            and size > 1024 * 1024
            and size / max(packed, 1) > limits.max_compression_ratio
        ):
            return (
                "zip_bomb",
                f"compression ratio {size / max(packed, 1):.0f}:1 exceeds {limits.max_compression_ratio:.0f}:1; not read",
            )
        if budget.total + size > limits.max_archive_total:
            budget.exhausted = f"archive expands past {limits.max_archive_total} bytes in total; the rest were not read"
            return ("zip_bomb", budget.exhausted)
        return None

    def _read_member(
        self,
        stream: BinaryIO,
        declared: int,
        budget: _Budget,
        head: bytes = b"",
        cap: int | None = None,
    ) -> tuple[bytes | None, Path | None, int, tuple[str, str] | None]:
        """Read one member with a hard cap (headers may lie); small ones stay in memory."""
        cap = min(
            self.limits.max_member_size if cap is None else cap,
            self.limits.max_archive_total - budget.total,
        )
        limit_mem = self.limits.spool_in_memory
        buf = io.BytesIO()
        spool_file: BinaryIO | None = None
        spool_path: Path | None = None
        total = 0
        pending = head
        try:
            while True:
                chunk, pending = (pending, b"") if pending else (stream.read(1024 * 1024), b"")
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    if spool_file:
                        spool_file.close()
                        spool_path.unlink(missing_ok=True)  # type: ignore[union-attr]
                    budget.total += total
                    return (
                        None,
                        None,
                        total,
                        (
                            "zip_bomb",
                            f"member expands past {cap} bytes (its header said {declared}); not read",
                        ),
                    )
                if spool_file is None and total > limit_mem:
                    self.spool_dir.mkdir(parents=True, exist_ok=True)
                    fd, name = tempfile.mkstemp(
                        prefix=f"m{next(self._spool_seq)}-", dir=self.spool_dir
                    )
                    spool_path = Path(name)
                    spool_file = os.fdopen(fd, "wb")
                    spool_file.write(buf.getvalue())
                    buf = io.BytesIO()
                if spool_file is not None:
                    spool_file.write(chunk)
                else:
                    buf.write(chunk)
        finally:
            if spool_file is not None:
                spool_file.close()
        budget.total += total
        budget.members += 1
        if spool_path is not None:
            return None, spool_path, total, None
        return buf.getvalue(), None, total, None

    def _member_entries(
        self,
        raw: bytes,
        name: str,
        depth: int,
        budget: _Budget,
        size: int,
        packed: int | None,
        mtime: dt.datetime | None,
        open_member: Callable[[], BinaryIO],
        cap: int | None = None,
        located: ImageMember | None = None,
        locate: Callable[[], ArchiveMember | None] | None = None,
    ) -> Iterator[Entry]:
        """Entries for one member (and, if it is an archive, its own members).

        ``cap`` bounds what may be read when the member's size is unknown up front (single-file
        gzip/bzip2/xz streams); otherwise the declared size and the limits decide.

        ``located``: the member is a disk image's file that is no container (the caller sniffed
        its head) and that a worker reads itself, so it is not read here: the entry carries the
        locator, and its declared size counts against the budget. ``locate``: the same for an
        archive's member, asked only once the limits have passed the member (None: read here).
        """
        warnings = self._member_warnings(name)
        seen = self._member_names.get(raw, 0)
        self._member_names[raw] = seen + 1
        if seen:
            raw = raw + f" [duplicate name {seen + 1}]".encode()
            warnings.append(
                (
                    "duplicate_member_name",
                    f"archive holds {seen + 1} members named {name!r}; this one is recorded as {display_path(raw)!r}",
                )
            )
        if self.skip(raw):
            # Already recorded: only look inside if it is itself a container.
            entry = Entry(raw, depth=depth, size=size, mtime=mtime, status="done")
            problem = self._check_member(budget, size, packed)
            if problem or located is not None:
                yield entry
                return
            with open_member() as fh:
                head = fh.read(HEAD_SIZE)
                kind = sniff(head).name
                if kind not in ARCHIVE_TYPES:
                    yield entry
                    return
                data, spool, _, problem = self._read_member(fh, size, budget, head, cap)
            nested = self._nested(data, spool) if problem is None else None
            yield entry
            yield from self._expand_nested(raw, nested, depth, budget)
            return
        problem = self._check_member(budget, size, packed)
        if problem:
            yield Entry(
                raw,
                depth=depth,
                size=size,
                mtime=mtime,
                status="skipped",
                warnings=[*warnings, problem],
            )
            return
        found: ImageMember | ArchiveMember | None = located
        if found is None and locate is not None:
            found = locate()
        if found is not None:
            budget.total += size
            budget.members += 1
            yield Entry(raw, depth=depth, size=size, mtime=mtime, member=found, warnings=warnings)
            return
        with open_member() as fh:
            data, spool, real, problem = self._read_member(fh, size, budget, cap=cap)
        if problem:
            yield Entry(
                raw,
                depth=depth,
                size=real,
                mtime=mtime,
                status="skipped",
                warnings=[*warnings, problem],
            )
            return
        # what the member holds is settled before its entry is handed out: a spooled member's
        # file belongs to whoever records the entry, who may delete it before the walk resumes
        nested = self._nested(data, spool)
        yield Entry(
            raw, depth=depth, size=real, mtime=mtime, data=data, spool=spool, warnings=warnings
        )
        yield from self._expand_nested(raw, nested, depth, budget)

    def _nested(self, data: bytes | None, spool: Path | None) -> _Nested | None:
        """Whether a member read here is itself a container to look into, with what opens it.

        A spooled container is opened through a hard link of the walker's own (removed once it
        is expanded): the spool file itself is deleted by the writer once the member's entry
        is recorded, which may happen while the walker still expands it.
        """
        if data is not None:
            kind = sniff(data[:HEAD_SIZE]).name
            if kind not in NESTED_TYPES:
                return None

            def from_memory() -> BinaryIO:
                return io.BytesIO(data)

            return _Nested(kind, from_memory, len(data))
        if spool is None:
            return None
        with spool.open("rb") as fh:
            kind = sniff(fh.read(HEAD_SIZE)).name
            packed = os.fstat(fh.fileno()).st_size
        if kind not in NESTED_TYPES:
            return None
        if kind in DISK_TYPES:
            return _Nested(kind, None, packed)
        own = spool.with_name(f"{spool.name}-walk")
        try:
            os.link(spool, own)
        except OSError:  # a file system without hard links: a copy of the walker's own
            shutil.copyfile(spool, own)

        def from_spool() -> BinaryIO:
            return own.open("rb")

        return _Nested(kind, from_spool, packed, own)

    def _expand_nested(
        self, raw: bytes, nested: _Nested | None, depth: int, budget: _Budget
    ) -> Iterator[Entry]:
        if nested is None:
            return
        if nested.opener is not None:
            try:
                yield from self._expand(
                    nested.opener, nested.kind, raw, depth + 1, budget, nested.packed
                )
            finally:
                if nested.own is not None:
                    nested.own.unlink(missing_ok=True)
        elif nested.kind in DISK_TYPES:
            yield Entry(
                raw + SEP,
                depth=depth + 1,
                status="skipped",
                warnings=[
                    (
                        "disk_image_nested",
                        "disk image inside an archive is hashed but not expanded; extract it and ingest it as its own source",
                    )
                ],
            )

    def _expand_zip(
        self,
        opener: Callable[[], BinaryIO],
        container: bytes,
        depth: int,
        budget: _Budget,
        where: Path | None = None,
    ) -> Iterator[Entry]:
        with opener() as fh, zipfile.ZipFile(fh) as zf:
            for index, info in enumerate(zf.infolist()):
                if info.filename.endswith("/"):  # is_dir() raises on an empty (damaged) name
                    continue
                name = info.filename or f"[member {index + 1} without a name]"
                raw = container + name.encode("utf-8", "surrogateescape")
                mtime = None
                try:
                    mtime = dt.datetime(*info.date_time, tzinfo=dt.UTC)
                except ValueError:
                    mtime = None
                if info.flag_bits & 0x1:
                    yield Entry(
                        raw,
                        depth=depth,
                        size=info.file_size,
                        mtime=mtime,
                        status="skipped",
                        warnings=[
                            (
                                "encrypted",
                                "encrypted zip member; content not readable without the password",
                            )
                        ],
                    )
                    continue

                def open_member(info: zipfile.ZipInfo = info) -> BinaryIO:
                    return cast(BinaryIO, zf.open(info))

                def locate(
                    index: int = index, info: zipfile.ZipInfo = info
                ) -> ArchiveMember | None:
                    return zip_locator(str(where), zf, index, info)

                try:
                    yield from self._member_entries(
                        raw,
                        name,
                        depth,
                        budget,
                        info.file_size,
                        info.compress_size,
                        mtime,
                        open_member,
                        locate=locate if where is not None else None,
                    )
                except (
                    zipfile.BadZipFile,
                    OSError,
                    EOFError,
                    ValueError,
                    NotImplementedError,
                    zlib.error,  # damaged deflate data (not an OSError)
                ) as exc:
                    yield Entry(
                        raw,
                        depth=depth,
                        size=info.file_size,
                        mtime=mtime,
                        status="skipped",
                        warnings=[("damaged", f"member could not be read: {exc}")],
                    )

    def _expand_tar(
        self,
        opener: Callable[[], BinaryIO],
        container: bytes,
        depth: int,
        budget: _Budget,
        packed_size: int | None,
        where: Path | None = None,
    ) -> Iterator[Entry]:
        """``where``: a plain tar on disk, read with random access (headers only; members are
        located for the workers) instead of streamed."""
        # ignore_zeros: a damaged header no longer ends the archive (tarfile would stop there
        # without a word and every later member would be lost); tarfile then steps over it
        # block by block, and the blocks it stepped over are reported as damage.
        with (
            opener() as fh,
            tarfile.open(fileobj=fh, mode="r|*", ignore_zeros=True)
            if where is None
            else tarfile.open(fileobj=fh, mode="r:", ignore_zeros=True) as tf,
        ):
            damaged: list[int] = []

            def note(level: int, msg: str) -> None:
                offset, _, why = msg.partition(": ")
                if why != "end of file header":  # zero blocks are padding, not damage
                    damaged.append(int(offset, 16))

            setattr(tf, "_dbg", note)  # noqa: B010 - the only hook tarfile offers
            for index, member in enumerate(tf):
                if damaged:
                    yield self._tar_damage(container, depth, damaged)
                if not member.name:
                    member.name = f"[member {index + 1} without a name]"
                raw = container + member.name.encode("utf-8", "surrogateescape")
                mtime = _ts(member.mtime)
                if member.isdir():
                    continue
                if member.issym() or member.islnk():
                    yield Entry(
                        raw,
                        depth=depth,
                        mtime=mtime,
                        status="link",
                        warnings=[
                            *self._member_warnings(member.name),
                            ("symlink", f"link member to {member.linkname!r}; not followed"),
                        ],
                    )
                    continue
                if not member.isfile():
                    yield Entry(
                        raw,
                        depth=depth,
                        mtime=mtime,
                        status="skipped",
                        warnings=[("special_file", "tar member is a device or FIFO; not read")],
                    )
                    continue
                if packed_size is not None and budget.total + member.size > 1024 * 1024:
                    # A compressed tar has no per-member sizes: judge the running total instead.
                    ratio = (budget.total + member.size) / max(packed_size, 1)
                    if ratio > self.limits.max_compression_ratio:
                        yield Entry(
                            raw,
                            depth=depth,
                            size=member.size,
                            mtime=mtime,
                            status="skipped",
                            warnings=[
                                (
                                    "zip_bomb",
                                    f"archive expands past {self.limits.max_compression_ratio:.0f}:1 of its packed size; not read",
                                )
                            ],
                        )
                        continue

                def open_member(member: tarfile.TarInfo = member) -> BinaryIO:
                    extracted = tf.extractfile(member)
                    return cast(BinaryIO, extracted) if extracted is not None else io.BytesIO(b"")

                def locate(member: tarfile.TarInfo = member) -> ArchiveMember | None:
                    return tar_locator(str(where), tf, member, packed_size or 0)

                yield from self._member_entries(
                    raw,
                    member.name,
                    depth,
                    budget,
                    member.size,
                    None,
                    mtime,
                    open_member,
                    locate=locate if where is not None else None,
                )
            if damaged:
                yield self._tar_damage(container, depth, damaged)

    @staticmethod
    def _tar_damage(container: bytes, depth: int, blocks: list[int]) -> Entry:
        """One warning entry for the run of blocks tarfile skipped as not-a-header."""
        start, end = blocks[0], blocks[-1] + 512
        blocks.clear()
        return Entry(
            container + f"[damaged bytes {start}-{end}]".encode(),
            depth=depth,
            status="skipped",
            warnings=[
                (
                    "archive_damaged",
                    f"bytes {start}-{end} of the archive hold no valid tar header; skipped to the "
                    "next member (a member whose header was damaged there is not recovered)",
                )
            ],
        )

    def _expand_single(
        self,
        opener: Callable[[], BinaryIO],
        kind: str,
        container: bytes,
        depth: int,
        budget: _Budget,
        packed_size: int | None,
    ) -> Iterator[Entry]:
        stem = display_path(container[: -len(SEP)]).rsplit("/", 1)[-1]
        for suffix in (".gz", ".bz2", ".xz", ".tgz"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        raw = container + (stem or "content").encode("utf-8", "surrogateescape")
        decompress: dict[str, Callable[[BinaryIO], BinaryIO]] = {
            "gzip": lambda f: cast(BinaryIO, gzip.GzipFile(fileobj=f)),
            "bzip2": lambda f: cast(BinaryIO, bz2.BZ2File(f)),
            "xz": lambda f: cast(BinaryIO, lzma.LZMAFile(f)),  # noqa: SIM115 - closed by the caller
        }

        def open_member() -> BinaryIO:
            return cast(BinaryIO, _Decompressing(opener(), decompress[kind]))

        # The uncompressed size is unknown up front: the bounded reader stops at the ratio limit
        # times the packed size (at least 1 MiB), so a small bomb cannot expand unnoticed.
        cap = None
        if packed_size:
            cap = int(max(self.limits.max_compression_ratio * packed_size, 1024 * 1024))
        yield from self._member_entries(raw, stem, depth, budget, 0, None, None, open_member, cap)
