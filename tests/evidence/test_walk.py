"""The walker: every file accounted for, bad input as warnings, nothing written outside the spool."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from vigil.evidence.walk import Entry, Walker
from vigil.settings import IngestLimits


def walk(root: Path, tmp_path: Path, **limits: int | float) -> dict[bytes, Entry]:
    entries = list(Walker(root, IngestLimits(**limits), tmp_path / "spool"))  # type: ignore[arg-type]
    by_path = {e.raw_path: e for e in entries}
    assert len(by_path) == len(entries), "every logical path must be unique"
    return by_path


def codes(entry: Entry) -> set[str]:
    return {c for c, _m in entry.warnings}


def test_nested_archives_are_expanded(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        info = tarfile.TarInfo("deep/a.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    root = tmp_path / "ev"
    root.mkdir()
    with zipfile.ZipFile(root / "outer.zip", "w") as zf:
        zf.writestr("x/inner.tgz", inner.getvalue())
        zf.writestr("x/b.txt", b"bee")
    found = walk(root, tmp_path)
    assert set(found) == {
        b"outer.zip",
        b"outer.zip!/x/inner.tgz",
        b"outer.zip!/x/inner.tgz!/deep/a.txt",
        b"outer.zip!/x/b.txt",
    }
    assert found[b"outer.zip!/x/inner.tgz!/deep/a.txt"].data == b"hello"
    assert found[b"outer.zip!/x/inner.tgz!/deep/a.txt"].depth == 2


def test_zip_bomb_is_refused_but_neighbours_are_read(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * (8 * 1024 * 1024))
        zf.writestr("ok.txt", b"fine")
    found = walk(root, tmp_path)
    assert "zip_bomb" in codes(found[b"bomb.zip!/zeros"])
    assert found[b"bomb.zip!/zeros"].status == "skipped"
    assert found[b"bomb.zip!/ok.txt"].data == b"fine"


def test_size_limits_apply_even_when_headers_lie(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    with zipfile.ZipFile(root / "big.zip", "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("big.bin", os.urandom(300_000))
    found = walk(root, tmp_path, max_member_size=100_000)
    assert "zip_bomb" in codes(found[b"big.zip!/big.bin"])
    found = walk(root, tmp_path, max_archive_total=100_000)
    assert "zip_bomb" in codes(found[b"big.zip!/big.bin"])


def test_path_traversal_and_absolute_members_are_flagged_not_extracted(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    with zipfile.ZipFile(root / "t.zip", "w") as zf:
        zf.writestr("../../../escape.txt", b"x")
        zf.writestr("/abs.txt", b"y")
    before = set(tmp_path.parent.rglob("escape.txt"))
    found = walk(root, tmp_path)
    assert "unsafe_path" in codes(found[b"t.zip!/../../../escape.txt"])
    assert "unsafe_path" in codes(found[b"t.zip!//abs.txt"])
    assert found[b"t.zip!/../../../escape.txt"].data == b"x"  # content is still evidence
    assert set(tmp_path.parent.rglob("escape.txt")) == before


def test_symlinks_are_not_followed_and_loops_named(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "real.txt").write_bytes(b"r")
    os.symlink("a", root / "b")
    os.symlink("b", root / "a")
    os.symlink("/etc/passwd", root / "outside")
    found = walk(root, tmp_path)
    assert "symlink_loop" in codes(found[b"a"])
    assert "symlink_loop" in codes(found[b"b"])
    assert "symlink" in codes(found[b"outside"])
    assert all(found[p].status == "link" for p in (b"a", b"b", b"outside"))


def test_non_utf8_names_kept_exactly(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    name = b"caf\xe9.txt"
    (root / os.fsdecode(name)).write_bytes(b"c")
    found = walk(root, tmp_path)
    assert name in found
    assert "non_utf8_name" in codes(found[name])
    assert found[name].display == "caf\\xe9.txt"


def test_unreadable_file_becomes_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "locked.bin").write_bytes(b"secret")
    (root / "open.bin").write_bytes(b"fine")
    import vigil.evidence.walk as walk_mod

    real = walk_mod.read_head

    def fake(path: Path | str, size: int) -> bytes:
        if str(path).endswith("locked.bin"):
            raise PermissionError(13, "Permission denied")
        return real(path, size)

    monkeypatch.setattr(walk_mod, "read_head", fake)
    found = walk(root, tmp_path)
    assert found[b"locked.bin"].status == "unreadable"
    assert "unreadable" in codes(found[b"locked.bin"])
    assert found[b"open.bin"].status == "ok"


def test_damaged_archive_and_depth_limit(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", b"a" * 1000)
    (root / "cut.zip").write_bytes(buf.getvalue()[:60])
    level = b"core"
    for i in range(4):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as zf:
            zf.writestr(f"l{i}.zip" if i else "core.txt", level)
        level = b.getvalue()
    (root / "deep.zip").write_bytes(level)
    found = walk(root, tmp_path, max_archive_depth=2)
    assert "archive_damaged" in codes(found[b"cut.zip!/"])
    too_deep = [e for p, e in found.items() if "archive_too_deep" in codes(e)]
    assert len(too_deep) == 1
    assert too_deep[0].depth == 3


def test_duplicate_member_names_are_all_kept(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    with zipfile.ZipFile(root / "d.zip", "w") as zf:
        zf.writestr("same.txt", b"one")
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("same.txt", b"two")
    found = walk(root, tmp_path)
    assert found[b"d.zip!/same.txt"].data == b"one"
    second = found[b"d.zip!/same.txt [duplicate name 2]"]
    assert second.data == b"two"
    assert "duplicate_member_name" in codes(second)


def test_tar_links_and_unsupported_archives(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    with tarfile.open(root / "l.tar", "w") as tf:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tf.addfile(link)
    (root / "x.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\0" * 64)
    found = walk(root, tmp_path)
    assert found[b"l.tar!/link"].status == "link"
    assert "archive_unsupported" in codes(found[b"x.7z!/"])


def test_large_members_spool_inside_the_spool_dir_and_are_cleaned_up_by_reader(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    payload = os.urandom(200_000)
    with zipfile.ZipFile(root / "s.zip", "w") as zf:
        zf.writestr("big.bin", payload)
    found = walk(root, tmp_path, spool_in_memory=50_000)
    entry = found[b"s.zip!/big.bin"]
    assert entry.data is None
    assert entry.spool is not None
    assert entry.spool.parent == tmp_path / "spool"
    assert entry.spool.read_bytes() == payload


def test_single_file_gzip_bomb_is_cut_at_the_ratio_limit(tmp_path: Path) -> None:
    import gzip

    root = tmp_path / "ev"
    root.mkdir()
    (root / "zeros.bin.gz").write_bytes(gzip.compress(b"\0" * (16 * 1024 * 1024)))
    (root / "small.txt.gz").write_bytes(gzip.compress(b"hello " * 10))
    found = walk(root, tmp_path)
    assert "zip_bomb" in codes(found[b"zeros.bin.gz!/zeros.bin"])
    assert found[b"small.txt.gz!/small.txt"].data == b"hello " * 10


def test_a_spooled_member_may_be_deleted_as_soon_as_it_is_handed_out(tmp_path: Path) -> None:
    """The writer deletes a member's spool file once its entry is recorded, which may happen
    before the walker resumes (an ingest with workers=0 raced here: the walker then looked at the
    deleted file and yielded the member a second time, as damaged). The walker must not need a
    spool file after handing out its entry, even for a spooled archive it still expands."""
    root = tmp_path / "ev"
    root.mkdir()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("deep/a.bin", os.urandom(70_000))
        zf.writestr("deep/b.txt", b"bee")
    with zipfile.ZipFile(root / "outer.zip", "w") as zf:
        zf.writestr("big1.bin", os.urandom(60_000))
        zf.writestr("nested.zip", inner.getvalue())
        zf.writestr("big2.bin", os.urandom(60_000))
    spool = tmp_path / "spool"
    seen: list[Entry] = []
    for entry in Walker(root, IngestLimits(spool_in_memory=50_000), spool):
        seen.append(entry)
        if entry.spool is not None:
            entry.spool.unlink()  # as the writer does once the entry is recorded
    paths = [e.raw_path for e in seen]
    assert len(paths) == len(set(paths)), paths
    assert set(paths) == {
        b"outer.zip",
        b"outer.zip!/big1.bin",
        b"outer.zip!/nested.zip",
        b"outer.zip!/nested.zip!/deep/a.bin",
        b"outer.zip!/nested.zip!/deep/b.txt",
        b"outer.zip!/big2.bin",
    }
    assert all(e.status == "ok" and not e.warnings for e in seen), seen
    spooled = [e for e in seen if e.spool is not None]
    assert len(spooled) == 4  # big1, nested.zip, a.bin, big2: the test did delete them early
    assert not list(spool.iterdir())  # the walker's own link to nested.zip is gone too
