"""Batch queries for ``vigil faces search`` and ``vigil places search``: folders and many files in
one process (models and indexes load once: start-up costs 1.5-7 s a call), a progress bar on
stderr, and one JSON or CSV result.

A query file that cannot be read or decoded becomes a row with its error; the other queries
go on, and the command still fails (exit 3) when *no* query could be read.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vigil.errors import InvalidInput

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".heic", ".heif"}
)


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files given, and the image files (by suffix, recursively, sorted) of folders given.

    A file named explicitly is kept whatever its suffix (its decode error is then reported);
    a folder without images, or a missing path, is bad input.
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise InvalidInput(f"{path}: no image files (by suffix) in this folder")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    if not out:
        raise InvalidInput("give at least one image file or folder")
    return out


@contextmanager
def progress(total: int, label: str, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (when ``enabled``); yields ``advance()``."""
    if not enabled or total <= 1:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def show_progress(quiet: bool, machine_output: bool) -> bool:
    """Progress only for a person watching: not with --quiet, JSON/CSV on a pipe or no TTY."""
    return not quiet and not machine_output and sys.stderr.isatty()


def to_csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """CSV text with a header; lists are joined with ``;``, None is empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (";".join(str(x) for x in v) if isinstance(v, list | tuple) else v)
                for k, v in row.items()
            }
        )
    return buf.getvalue()


def write_out(text: str, out: Path | None) -> None:
    """``text`` to ``out`` (a file) or stdout."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc}") from exc
