"""``vigil share``: send a case's *signals* (never media) to an operation's hub, and act on the
overlaps other agencies' cases have with it.

A typical flow::

    vigil share keygen ~/.vigil/agency.key          # once; register agency.key.pub at the hub
    vigil share secret /secure/op-ore.secret         # once per operation, shared out of band
    vigil share push op-ore --operation ORE --hub https://hub.example --key ~/.vigil/agency.key \\
        --secret /secure/op-ore.secret
    vigil share pull --hub https://hub.example --key ~/.vigil/agency.key
    vigil share overlaps op-ore
    vigil share confirm 3 --key ~/.vigil/agency.key

Heavy modules are imported inside the commands so that ``vigil --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines

if TYPE_CHECKING:
    from vigil.share.export import Built, ExportOptions

app = typer.Typer(
    help=(
        "Share a case's signals with an operation's hub (digests, PDQ/vPDQ, face templates, "
        "scene descriptors, camera fingerprints, keyed person encodings: never images, crops "
        "or names), and confirm or reject the overlaps the hub finds.\n\n"
        "Example: vigil share push op-ore --operation ORE --hub https://hub.example "
        "--key agency.key --secret ore.secret"
    ),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
KeyOpt = Annotated[
    Path,
    typer.Option(
        "--key",
        envvar="VIGIL_SHARE_KEY",
        help="The agency's Ed25519 private key file (from `vigil share keygen`).",
    ),
]
HubOpt = Annotated[
    str, typer.Option("--hub", envvar="VIGIL_HUB_URL", help="The hub's URL (https://...).")
]
OperationOpt = Annotated[str, typer.Option("--operation", help="The operation's code at the hub.")]
SecretOpt = Annotated[
    Path | None,
    typer.Option(
        "--secret",
        envvar="VIGIL_SHARE_SECRET",
        help="The operation's shared secret file (persons are left out without it).",
    ),
]
CodebookOpt = Annotated[
    Path | None,
    typer.Option(
        "--codebook",
        help="The operation's shared scene codebook (VGI1 file; scenes are left out without it).",
    ),
]
AgencyOpt = Annotated[
    str | None,
    typer.Option("--agency", help="This agency's name at the hub (default: the case's agency)."),
]
FlaggedOpt = Annotated[
    bool,
    typer.Option(
        "--include-flagged",
        help="Also share persons of records flagged as possibly a stolen card's (off: withheld).",
    ),
]
OnlyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        help="Only these groups (repeatable): hashes, pdq, vpdq, faces, scenes, prnu, persons.",
    ),
]


def _options(
    only: list[str] | None, secret: Path | None, codebook: Path | None, flagged: bool = False
) -> ExportOptions:
    from vigil.share.export import ALL_KINDS, ExportOptions
    from vigil.share.persons import OperationSecret

    return ExportOptions(
        kinds=tuple(only) if only else ALL_KINDS,
        secret=OperationSecret.load(secret) if secret else None,
        codebook=codebook,
        share_flagged=flagged,
    )


def _build(
    case: str,
    operation: str,
    key: Path,
    agency: str | None,
    options: ExportOptions,
) -> Built:
    from vigil.errors import InvalidInput
    from vigil.share import export, keys
    from vigil.store.repo import get_case

    rt = runtime()
    if agency is None:
        with rt.db.read() as s:
            agency = export.default_agency(s, get_case(s, case))
        if agency is None:
            raise InvalidInput(f"case {case!r} has no agency: pass --agency NAME")
    return export.build(
        rt.settings,
        rt.db,
        case,
        agency=agency,
        operation=operation,
        private_key=keys.load_private(key),
        options=options,
    )


def _summary(built: Built, where: str) -> list[str]:
    lines = [
        f"{sum(built.counts.values())} signals of {built.case_ref} for {built.operation} {where}"
    ]
    lines += [f"  {k}: {v}" for k, v in built.counts.items()]
    lines += [f"  note: {n}" for n in built.notes]
    return lines


@app.command()
def keygen(
    private: Annotated[Path, typer.Argument(help="Where to write the private key (0600).")],
    json_out: JsonOpt = False,
) -> None:
    """Create this agency's Ed25519 key pair (PRIVATE and PRIVATE.pub).

    Example: vigil share keygen ~/.vigil/agency.key  (give agency.key.pub to the hub's
    administrator; keep agency.key on this machine only).
    """
    from vigil.share import keys

    public = private.with_name(private.name + ".pub")
    key_id = keys.write_keypair(keys.generate(), private, public)
    result = {"private": str(private), "public": str(public), "key_id": key_id}
    emit_json(result) if json_out else emit_lines(
        [f"private key: {private} (mode 0600)", f"public key:  {public}", f"key id: {key_id}"]
    )


@app.command()
def secret(
    out: Annotated[Path, typer.Argument(help="Where to write the secret (0600).")],
    json_out: JsonOpt = False,
) -> None:
    """Create an operation's shared secret for person encodings (the hub never sees it).

    Example: vigil share secret /secure/ore.secret  (hand it to the other agencies of the
    operation out of band; every agency must encode persons under the same secret).
    """
    from vigil.share.persons import write_secret

    made = write_secret(out)
    result = {"secret": str(out), "key_id": made.key_id}
    emit_json(result) if json_out else emit_lines(
        [f"operation secret: {out} (mode 0600)", f"key id: {made.key_id}"]
    )


@app.command("export")
def export_cmd(
    case: Annotated[str, typer.Argument(help="The case to share.")],
    operation: OperationOpt,
    key: KeyOpt,
    out: Annotated[Path, typer.Option("--out", help="The signed bundle file to write.")],
    secret_file: SecretOpt = None,
    codebook: CodebookOpt = None,
    agency: AgencyOpt = None,
    only: OnlyOpt = None,
    include_flagged: FlaggedOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Write a signed bundle file of a case's signals (for air-gapped units).

    Example: vigil share export op-ore --operation ORE --key agency.key --secret ore.secret
    --out ore-gb.bundle  (carry the file to the hub; `vigil hub import-bundle` reads it).
    """
    from vigil.share import export

    built = _build(
        case, operation, key, agency, _options(only, secret_file, codebook, include_flagged)
    )
    export.write_file(out, built.envelope)
    export.record(runtime().db, built, actor=runtime().actor, destination="file")
    result = {
        "file": str(out),
        "sha256": built.sha256,
        "counts": built.counts,
        "notes": built.notes,
    }
    emit_json(result) if json_out else emit_lines(
        [*_summary(built, f"written to {out}"), f"  sha256: {built.sha256}"]
    )


def _client(hub: str, key: Path) -> Any:
    from vigil.hub.client import HubClient
    from vigil.share import keys

    return HubClient(hub, keys.load_private(key))


@app.command()
def push(
    case: Annotated[str, typer.Argument(help="The case to share.")],
    operation: OperationOpt,
    hub: HubOpt,
    key: KeyOpt,
    secret_file: SecretOpt = None,
    codebook: CodebookOpt = None,
    agency: AgencyOpt = None,
    only: OnlyOpt = None,
    include_flagged: FlaggedOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Send a case's signals to the hub (signed HTTPS request; audited locally).

    Example: vigil share push op-ore --operation ORE --hub https://hub.example --key agency.key
    --secret ore.secret
    """
    from vigil.share import export

    built = _build(
        case, operation, key, agency, _options(only, secret_file, codebook, include_flagged)
    )
    with _client(hub, key) as client:
        answer = client.push(built.envelope)
    export.record(runtime().db, built, actor=runtime().actor, destination=hub)
    result = {"hub": hub, "counts": built.counts, "notes": built.notes, "hub_answer": answer}
    emit_json(result) if json_out else emit_lines(
        [*_summary(built, f"pushed to {hub}"), f"  hub: {answer}"]
    )


@app.command()
def pull(hub: HubOpt, key: KeyOpt, json_out: JsonOpt = False) -> None:
    """Fetch this agency's overlap notifications from the hub and store them locally.

    Example: vigil share pull --hub https://hub.example --key agency.key
    """
    from vigil.share import local

    rt = runtime()
    with _client(hub, key) as client:
        result = local.pull(rt.db, client, hub, actor=rt.actor)
    emit_json(result) if json_out else emit_lines(
        [
            f"{result['notifications']} notification(s): {result['new']} new, {result['updated']} updated"
        ]
    )


@app.command()
def proof(
    operation: OperationOpt,
    hub: HubOpt,
    key: KeyOpt,
    secret_file: Annotated[
        Path,
        typer.Option(
            "--secret",
            envvar="VIGIL_SHARE_SECRET",
            help="The operation's shared secret file (seals the features lent for a proof).",
        ),
    ],
    overlap: Annotated[
        list[int] | None,
        typer.Option("--overlap", help="Only these overlaps (the hub's numbers; repeatable)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Do this agency's part of the same-room proofs the hub asked for, then pull.

    Side a of a same-room overlap lends the scene features (keypoints and descriptors, never
    pixels) of its one shortlisted image, sealed under the operation secret; side b verifies
    them against its own image and reports only the verdict, counts and inlier coordinates.
    Run it on both sides (a, then b). Example: vigil share proof --operation ORE --hub
    https://hub.example --key agency.key --secret ore.secret
    """
    from vigil.share import local
    from vigil.share.persons import OperationSecret

    rt = runtime()
    with _client(hub, key) as client:
        result = local.prove(
            rt.db,
            client,
            OperationSecret.load(secret_file),
            operation,
            actor=rt.actor,
            overlap_ids=overlap or None,
        )
        result["pull"] = local.pull(rt.db, client, hub, actor=rt.actor)
    if json_out:
        emit_json(result)
        return
    lines = [f"features lent for overlap(s): {result['sent'] or '-'}"]
    lines += [f"overlap #{v['overlap']} verified: {v['verdict']}" for v in result["verified"]]
    lines += [f"waiting for the other agency: {result['waiting']}"] if result["waiting"] else []
    lines += [f"overlap #{f['overlap']}: {f['message']}" for f in result["failed"]]
    emit_lines(lines)


@app.command()
def overlaps(
    case: Annotated[str | None, typer.Argument(help="Only this case's overlaps.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List overlaps with other agencies (after `vigil share pull`).

    Example: vigil share overlaps op-ore
    """
    from vigil.share import local
    from vigil.store.repo import get_case

    rt = runtime()
    case_id = None
    if case is not None:
        with rt.db.read() as s:
            case_id = get_case(s, case).id
    rows = local.overlaps(rt.db, case_id)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        emit_lines(["no overlaps stored (run `vigil share pull`)"])
        return
    lines = []
    for r in rows:
        other = (r["other_agency"] or {}).get("name", "?")
        score = "" if r["score"] is None else f" score {r['score']:.3g}"
        lines.append(
            f"#{r['id']} {r['operation']} {r['category']}{score} with {other}: {r['local_ref']} "
            f"[{r['status']}; you: {r['my_decision'] or '-'}, them: {r['their_decision'] or '-'}]"
        )
    emit_lines(lines)


def _decide(overlap: int, decision: str, hub: str | None, key: Path, json_out: bool) -> None:
    from vigil.share import local
    from vigil.store import share as sstore

    rt = runtime()
    if hub is None:
        with rt.db.read() as s:
            hub = sstore.get_overlap(s, overlap).hub
    with _client(hub, key) as client:
        result = local.decide(rt.db, client, overlap, decision, actor=rt.actor)
    emit_json(result) if json_out else emit_lines(
        [f"overlap #{overlap}: {decision}ed (status {result['status']})"]
    )


HubOverride = Annotated[
    str | None,
    typer.Option("--hub", envvar="VIGIL_HUB_URL", help="The hub (default: where it came from)."),
]


@app.command()
def confirm(
    overlap: Annotated[int, typer.Argument(help="The overlap's number (`vigil share overlaps`).")],
    key: KeyOpt,
    hub: HubOverride = None,
    json_out: JsonOpt = False,
) -> None:
    """Confirm an overlap (after talking to the other agency).

    Example: vigil share confirm 3 --key agency.key
    """
    _decide(overlap, "confirm", hub, key, json_out)


@app.command()
def reject(
    overlap: Annotated[int, typer.Argument(help="The overlap's number (`vigil share overlaps`).")],
    key: KeyOpt,
    hub: HubOverride = None,
    json_out: JsonOpt = False,
) -> None:
    """Reject an overlap: the hub never notifies this pair again.

    Example: vigil share reject 3 --key agency.key
    """
    _decide(overlap, "reject", hub, key, json_out)
