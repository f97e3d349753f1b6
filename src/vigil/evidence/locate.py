"""Re-read an ingested item's content from its evidence source (read-only), verifying its digest.

Used by analyzer back-fills and by the web app to serve media through authorised endpoints: the
content is found again from the recorded occurrence (folder path, archive member chain, disk
image path) and its SHA-256 is checked, so a changed or swapped evidence file is detected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vigil.errors import IntegrityError, NotFound
from vigil.evidence.readonly import open_readonly
from vigil.evidence.walk import SEP, Walker
from vigil.ingest.analyzers import Blob
from vigil.settings import IngestLimits
from vigil.store import repo
from vigil.store.db import Database
from vigil.store.models import MediaItem


def _candidates(db: Database, item_id: int) -> tuple[MediaItem, list[tuple[str, bytes]]]:
    with db.read() as s:
        return repo.item_places(s, item_id)


def _verify(data: bytes, item: MediaItem, where: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != item.sha256:
        raise IntegrityError(
            f"evidence at {where} no longer matches item #{item.id} (SHA-256 {digest} != {item.sha256})"
        )


@contextmanager
def open_item(
    db: Database, item_id: int, *, spool_dir: Path | None = None, max_bytes: int = 2 * 1024**3
) -> Iterator[Blob]:
    """Yield a :class:`Blob` with the item's content, read again from its evidence.

    Raises:
        NotFound: unknown item, or none of its sources can be read any more.
        IntegrityError: the content found no longer has the recorded SHA-256.
    """
    item, places = _candidates(db, item_id)
    problems: list[str] = []
    for source_path, raw in places:
        root = Path(source_path)
        try:
            data = _read(root, raw, spool_dir or Path("/nonexistent"), max_bytes)
        except OSError as exc:
            problems.append(f"{source_path}: {exc}")
            continue
        if data is None:
            problems.append(f"{source_path}: {raw.decode('utf-8', 'backslashreplace')} not found")
            continue
        _verify(data, item, f"{source_path} → {raw.decode('utf-8', 'backslashreplace')}")
        yield Blob(
            item.sha256,
            item.size,
            item.content_type,
            item.kind,
            data=data,
            display_path=raw.decode("utf-8", "backslashreplace"),
        )
        return
    raise NotFound(
        f"item #{item_id} could not be re-read from its evidence: {'; '.join(problems) or 'no occurrences'}"
    )


def _read(root: Path, raw: bytes, spool_dir: Path, max_bytes: int) -> bytes | None:
    if SEP not in raw:
        path = root / raw.decode("utf-8", "surrogateescape") if root.is_dir() else root
        with open_readonly(path) as fh:
            return fh.read(max_bytes + 1)[:max_bytes]
    first, _, _rest = raw.partition(SEP)
    top = root / first.decode("utf-8", "surrogateescape") if root.is_dir() else root
    name = first.rsplit(b"/", 1)[-1]
    target = name + raw[len(first) :]

    def skip(path: bytes) -> bool:
        return path != target and not target.startswith(path + SEP)

    walker = Walker(top, IngestLimits(), spool_dir, skip=skip)
    for entry in walker:
        if entry.raw_path == target and entry.status == "ok":
            if entry.data is not None:
                return entry.data
            if entry.spool is not None:
                try:
                    return entry.spool.read_bytes()
                finally:
                    entry.spool.unlink(missing_ok=True)
    return None
