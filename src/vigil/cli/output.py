"""Shared output helpers for CLI commands (JSON vs text)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)


def emit_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (one document)."""
    sys.stdout.write(
        json.dumps(data, indent=2, sort_keys=False, default=str, ensure_ascii=False) + "\n"
    )


def emit_lines(lines: list[str]) -> None:
    """Write plain text lines (no markup interpretation: paths may contain brackets)."""
    for line in lines:
        console.print(line, markup=False, soft_wrap=True)
