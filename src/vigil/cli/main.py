"""The ``vigil`` command line: the edge that maps Vigil errors to exit codes.

Sub-command groups live in one module each under ``vigil.cli`` and are attached below.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vigil import __version__
from vigil.cli.context import Runtime, close_runtime, set_runtime
from vigil.errors import (
    Busy,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    NotReady,
    PermissionDenied,
    PolicyViolation,
    VigilError,
)
from vigil.settings import Settings


class ReturnCode(enum.IntEnum):
    """Exit codes of the ``vigil`` command (stable; scripts may rely on them)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID_INPUT = 3
    NOT_FOUND = 4
    CONFLICT = 5
    INTEGRITY = 6
    DENIED = 7
    NOT_READY = 8


_EXIT_FOR: list[tuple[type[VigilError], ReturnCode]] = [
    (IntegrityError, ReturnCode.INTEGRITY),
    (NotFound, ReturnCode.NOT_FOUND),
    (Conflict, ReturnCode.CONFLICT),
    (PermissionDenied, ReturnCode.DENIED),
    (PolicyViolation, ReturnCode.DENIED),
    (NotReady, ReturnCode.NOT_READY),
    (Busy, ReturnCode.NOT_READY),
    (InvalidInput, ReturnCode.INVALID_INPUT),
]

err_console = Console(stderr=True)

app = typer.Typer(
    name="vigil",
    help=(
        "Vigil: forensic triage for child-exploitation investigations.\n\n"
        "Start with `vigil demo` (builds a synthetic case and ingests it), then "
        "`vigil ingest PATH --case NAME` on real evidence and `vigil case summary NAME`. "
        "Data lives in $VIGIL_HOME (default: the user data folder); see `vigil info`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vigil {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="VIGIL_HOME",
            help="Installation data folder (database, indexes, spool). Default: user data dir.",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", envvar="VIGIL_USER", help="Name recorded in the audit log."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Global options shared by every command."""
    set_runtime(Runtime(Settings.load(data_dir, user=user)))


# --- sub-command groups (one module each) -------------------------------------------------
from vigil.cli import audit as _audit  # noqa: E402
from vigil.cli import case as _case  # noqa: E402
from vigil.cli import ingest as _ingest  # noqa: E402

app.add_typer(_case.app, name="case")
app.add_typer(_audit.app, name="audit")
_ingest.register(app)
# (capability groups are added here: hashsets, faces, victims, places, camera, persons, serve)
from vigil.cli import web as _web  # noqa: E402

app.add_typer(_web.app, name="users")
_web.register(app)
from vigil.cli import backup as _backup  # noqa: E402

_backup.register(app)
from vigil.cli import faces as _faces  # noqa: E402

app.add_typer(_faces.app, name="faces")
app.add_typer(_faces.victims_app, name="victims")
from vigil.cli import persons as _persons  # noqa: E402

app.add_typer(_persons.app, name="persons")
from vigil.cli import hashsets as _hashsets  # noqa: E402

app.add_typer(_hashsets.app, name="hashsets")
_hashsets.register(app)  # match, triage, grade, grades
from vigil.cli import places as _places  # noqa: E402

app.add_typer(_places.app, name="places")
app.add_typer(_places.camera_app, name="camera")
from vigil.cli import hub as _hub  # noqa: E402

app.add_typer(_hub.app, name="hub")
from vigil.cli import share as _share  # noqa: E402

app.add_typer(_share.app, name="share")
# --- end of sub-command groups ------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and translate Vigil errors to exit codes."""
    try:
        app(args=argv, standalone_mode=False)
    except VigilError as exc:
        code = next((rc for cls, rc in _EXIT_FOR if isinstance(exc, cls)), ReturnCode.ERROR)
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        return int(code)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted: re-run the same command to resume")
        return 130
    except Exception as exc:
        # Usage errors from Typer's (vendored) click carry their own exit code and message.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        raise
    finally:
        close_runtime()
    return 0


if __name__ == "__main__":
    sys.exit(main())
