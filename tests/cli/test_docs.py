"""Documentation must keep up with the code (Datasette's habit)."""

from __future__ import annotations

from pathlib import Path

from vigil.cli.docs import render

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_reference_is_current() -> None:
    expected = render()
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert current == expected, "docs/cli.md is stale: run `python -m vigil.cli.docs > docs/cli.md`"


def test_every_warning_code_of_the_walker_is_documented() -> None:
    import re

    text = (DOCS / "ingest.md").read_text(encoding="utf-8")
    src = Path(__file__).resolve().parents[2] / "src" / "vigil"
    codes: set[str] = set()
    for module in (
        "evidence/walk.py",
        "evidence/disk.py",
        "content/probe.py",
        "ingest/pipeline.py",
        "ingest/worker.py",
    ):
        codes |= set(
            re.findall(r'\(\s*"([a-z_]+)",\s*f?"', (src / module).read_text(encoding="utf-8"))
        )
    from vigil.content.types import CONTENT_TYPES

    codes -= {"result", "entry", "error", "end", "tick", "ingest"} | set(CONTENT_TYPES.names())
    missing = sorted(c for c in codes if f"`{c}`" not in text)
    assert not missing, f"warning codes not documented in docs/ingest.md: {missing}"
