"""``vigil hub``: run and administer a hub where agencies find overlaps without sharing media.

Every hub module is imported inside the command that needs it, so ``vigil --help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.output import emit_json, emit_lines

if TYPE_CHECKING:
    from vigil.hub.service import Hub

app = typer.Typer(
    help=(
        "The deconfliction hub: member agencies (Ed25519 keys), operations, signed bundles, "
        "overlaps.\n\nExample: vigil hub init /srv/hub && vigil hub serve --hub /srv/hub"
    ),
    no_args_is_help=True,
)
members_app = typer.Typer(help="Member agencies and their public keys.", no_args_is_help=True)
ops_app = typer.Typer(
    help="Operations: create, add participants, show the board.", no_args_is_help=True
)
app.add_typer(members_app, name="members")
app.add_typer(ops_app, name="operations")

HubDir = Annotated[
    Path,
    typer.Option("--hub", envvar="VIGIL_HUB", help="Hub data folder (made by `vigil hub init`)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _open(hub_dir: Path) -> Hub:
    from vigil.hub.service import Hub

    return Hub.open(hub_dir)


@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="New hub data folder.")],
    database_url: Annotated[
        str, typer.Option(help="SQLAlchemy URL; default SQLite in the folder.")
    ] = "",
) -> None:
    """Create a hub folder: settings, database and the administrator's key pair.

    Example: vigil hub init /srv/hub --database-url postgresql+psycopg://hub@db/hub
    """
    from vigil.hub.service import Hub

    hub, kid = Hub.init(directory, database_url=database_url)
    hub.close()
    emit_lines(
        [f"hub created in {directory}", f"administrator key {kid}: {hub.settings.admin_key}"]
    )


@app.command("keygen")
def keygen(
    private: Annotated[Path, typer.Argument(help="Where to write the private key (PEM, 0600).")],
) -> None:
    """Make an agency's Ed25519 key pair (the .pub file goes to the hub administrator).

    Example: vigil hub keygen keys/de-bka.pem   # writes keys/de-bka.pem and keys/de-bka.pub
    """
    from vigil.share import keys

    kid = keys.write_keypair(keys.generate(), private, private.with_suffix(".pub"))
    emit_lines(
        [f"key {kid}: {private} (keep secret), {private.with_suffix('.pub')} (send to the hub)"]
    )


@members_app.command("add")
def members_add(
    name: Annotated[str, typer.Argument(help="Short agency name, e.g. de-bka.")],
    country: Annotated[str, typer.Option(help="ISO 3166 alpha-2 code, e.g. DE.")],
    force: Annotated[str, typer.Option(help="The police force or unit.")],
    contact: Annotated[str, typer.Option(help="Contact desk (phone or functional e-mail).")],
    public_key: Annotated[Path, typer.Option(help="The agency's public key file (PEM or base64).")],
    hub_dir: HubDir = Path("hub"),
) -> None:
    """Register a member agency with its public key.

    Example: vigil hub members add de-bka --country DE --force "BKA SO12" --contact so12@bka.example --public-key de-bka.pub
    """
    from vigil.hub import members
    from vigil.share import keys

    hub = _open(hub_dir)
    with hub.db.write() as s:
        m = members.add_member(
            s,
            name,
            country=country,
            force=force,
            contact=contact,
            public_key=keys.load_public(public_key),
        )
        kid = m.key_id
    emit_lines([f"member {name} ({country}) registered with key {kid}"])


@members_app.command("revoke")
def members_revoke(
    name: Annotated[str, typer.Argument(help="Member agency name.")],
    hub_dir: HubDir = Path("hub"),
) -> None:
    """Revoke a member's key (lost or compromised): everything it signs is refused from now on.

    Example: vigil hub members revoke de-bka --hub /srv/hub
    """
    from vigil.hub import members

    hub = _open(hub_dir)
    with hub.db.write() as s:
        m = members.revoke(s, name)
        kid = m.key_id
    emit_lines([f"member {name}: key {kid} revoked"])


@members_app.command("list")
def members_list(hub_dir: HubDir = Path("hub"), as_json: JsonOpt = False) -> None:
    """List member agencies.

    Example: vigil hub members list --json
    """
    from vigil.hub import members

    hub = _open(hub_dir)
    with hub.db.read() as s:
        rows = [
            {
                "name": m.name,
                "country": m.country,
                "force": m.force,
                "contact": m.contact,
                "key_id": m.key_id,
                "role": m.role,
            }
            for m in members.list_members(s)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [f"{r['name']}\t{r['country']}\t{r['role']}\t{r['key_id']}\t{r['force']}" for r in rows]
        )


@ops_app.command("add")
def ops_add(
    code: Annotated[str, typer.Argument(help="Operation code, e.g. op-ore.")],
    name: Annotated[str, typer.Option(help="Operation name.")],
    action_day: Annotated[str | None, typer.Option(help="Action day, YYYY-MM-DD.")] = None,
    hub_dir: HubDir = Path("hub"),
) -> None:
    """Create an operation.

    Example: vigil hub operations add op-ore --name "Operation Ore" --action-day 2027-03-01
    """
    from vigil.errors import InvalidInput
    from vigil.hub import operations

    try:
        day = dt.date.fromisoformat(action_day) if action_day else None
    except ValueError as exc:
        raise InvalidInput(f"--action-day {action_day!r} is not YYYY-MM-DD") from exc
    hub = _open(hub_dir)
    with hub.db.write() as s:
        operations.create(s, code, name, day)
    emit_lines([f"operation {code} created"])


@ops_app.command("join")
def ops_join(
    code: Annotated[str, typer.Argument(help="Operation code.")],
    member: Annotated[str, typer.Argument(help="Member agency name.")],
    hub_dir: HubDir = Path("hub"),
) -> None:
    """Add a member agency to an operation (with its country's default checklist).

    Example: vigil hub operations join op-ore de-bka
    """
    from vigil.hub import members, operations

    hub = _open(hub_dir)
    with hub.db.write() as s:
        operations.join(s, operations.get(s, code), members.by_name(s, member))
    emit_lines([f"{member} takes part in {code}"])


@ops_app.command("board")
def ops_board(
    code: Annotated[str, typer.Argument(help="Operation code.")],
    hub_dir: HubDir = Path("hub"),
    as_json: JsonOpt = False,
) -> None:
    """Show the operation board: participants, targets by country, checklist, funnel.

    Example: vigil hub operations board op-ore --json
    """
    from vigil.hub import members, service

    hub = _open(hub_dir)
    with hub.db.read() as s:
        admin = members.by_name(s, service.ADMIN)
    board = hub.board(admin, code)
    if as_json:
        emit_json(board)
        return
    lines = [
        f"{board['operation']['name']} ({code}), action day {board['operation']['action_day']}"
    ]
    for country, targets in board["targets"].items():
        lines += [f"  {country} {t['agency']} {t['ref']}: {t['status']}" for t in targets]
    for country, row in [
        *board["funnel"]["countries"].items(),
        ("total", board["funnel"]["total"]),
    ]:
        lines.append(f"  funnel {country}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    emit_lines(lines)


@app.command("import-bundle")
def import_bundle(
    files: Annotated[
        list[Path], typer.Argument(help="Signed bundle files (from `vigil share export`).")
    ],
    hub_dir: HubDir = Path("hub"),
    as_json: JsonOpt = False,
) -> None:
    """Import bundle files carried from air-gapped units (same checks as a push over HTTPS).

    Example: vigil hub import-bundle /media/usb/*.vigil.json --hub /srv/hub
    """
    hub = _open(hub_dir)
    results: list[dict[str, Any]] = []
    for f in files:
        results.append({"file": str(f), **hub.import_file(f)})
    if as_json:
        emit_json(results)
    else:
        emit_lines(
            [
                f"{r['file']}: {r['signals']} signals, {r['overlaps']} new overlaps, {r['quarantined']} quarantined"
                for r in results
            ]
        )


@app.command("quarantine")
def quarantine(
    release: Annotated[
        int | None, typer.Option(help="Release this quarantine id (notify its matches).")
    ] = None,
    keep: Annotated[
        int | None, typer.Option(help="Close this quarantine id, keeping the signal out.")
    ] = None,
    hub_dir: HubDir = Path("hub"),
    as_json: JsonOpt = False,
) -> None:
    """List signals held by the flood guard, or review one (release or keep out).

    Example: vigil hub quarantine --hub /srv/hub && vigil hub quarantine --keep 3 --hub /srv/hub
    """
    hub = _open(hub_dir)
    qid = release if release is not None else keep
    if qid is not None:
        result: Any = hub.review_quarantine(qid, release=release is not None)
        rows = [result]
        text = [
            f"quarantine #{result['id']}: {'released' if result['released'] else 'kept out'}, {result['overlaps']} overlaps"
        ]
    else:
        rows = hub.quarantine()
        text = [
            f"#{r['id']} {r['agency']} {r['kind']} signal {r['signal']}: {r['reason']}"
            for r in rows
        ] or ["nothing in quarantine"]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(text)


@app.command("audit")
def audit_verify(hub_dir: HubDir = Path("hub")) -> None:
    """Verify the hub's own hash-chained audit log (exit 6 when broken).

    Example: vigil hub audit --hub /srv/hub
    """
    report = _open(hub_dir).verify_audit()
    emit_lines([f"hub audit log intact: {report.entries} entries, head {report.head_hash}"])


@app.command("serve")
def serve(
    hub_dir: HubDir = Path("hub"),
    host: Annotated[
        str, typer.Option(help="Interface to bind (put TLS in front of it).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8700,
) -> None:
    """Serve the hub API to member agencies (signed requests only; one worker).

    Example: vigil hub serve --hub /srv/hub --host 0.0.0.0 --port 8700
    """
    import uvicorn

    from vigil.hub.app import create_app

    uvicorn.run(create_app(_open(hub_dir)), host=host, port=port, workers=1, log_level="info")
