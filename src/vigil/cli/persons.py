"""``vigil persons``: payment records → persons → prioritised, explained referrals.

A typical operation::

    vigil persons generate /tmp/op                       # synthetic data with ground truth
    vigil persons reference /tmp/op/register.csv --kind register --source "PND extract" \\
        --legal-basis "DPA 2018 s.35" --received-from "force intelligence bureau"
    vigil persons import /tmp/op/records.csv --case op-ore --mapping /tmp/op/mapping.yaml \\
        --source "payment processor" --legal-basis "production order 123" --received-from NCA
    vigil persons link --case op-ore
    vigil persons prioritise --case op-ore
    vigil persons list --case op-ore --band P1
    vigil persons refer --case op-ore --out /tmp/referrals --band P1 --band P2
    vigil persons outcome 17 charged --children 2
    vigil persons funnel --case op-ore
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli.context import runtime
from vigil.cli.output import emit_json, emit_lines
from vigil.errors import InvalidInput, NotFound
from vigil.persons.defaults import DEFAULT_LINK_WEIGHT, DEFAULT_STRONG_WEIGHT, STAGES
from vigil.persons.mapping import REFERENCE_KINDS, Mapping

if TYPE_CHECKING:
    from vigil.persons.cards import CardVault

app = typer.Typer(
    help=(
        "Offender identification and triage from payment records: import batches with "
        "provenance, resolve records into persons (Splink), enrich with police reference data, "
        "prioritise with explained factors and evidence-quality flags, refer to forces, track "
        "outcomes, watch new batches for re-offending.\n\n"
        "Start with: vigil persons generate /tmp/op  (synthetic data), then follow the "
        "commands it prints."
    ),
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
CaseOpt = Annotated[str, typer.Option("--case", help="Operation (case) name.")]
SourceOpt = Annotated[str, typer.Option("--source", help="Where the data comes from.")]
BasisOpt = Annotated[str, typer.Option("--legal-basis", help="Legal basis for holding it.")]
FromOpt = Annotated[str, typer.Option("--received-from", help="Who handed it over.")]
OnOpt = Annotated[str | None, typer.Option("--received-on", help="Date received (YYYY-MM-DD).")]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of a file without byte-order mark (default UTF-8), e.g. cp1252.",
    ),
]

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        "--backend",
        help="Linkage engine: duckdb (default, this machine) or spark (Splink's Spark backend: "
        "a local Spark, or the cluster of --spark-master).",
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="With --engine spark: the master URL, e.g. spark://host:7077, yarn, k8s://... "
        "(default local[N], N = the configured workers).",
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="With --engine spark: a Spark setting KEY=VALUE (repeatable), e.g. "
        "spark.executor.memory=8g or spark.checkpoint.dir=hdfs://nn/vigil/tmp.",
    ),
]


def _link_params(
    engine: str, spark_master: str | None, spark_conf: list[str] | None, **kwargs: Any
) -> Any:
    """LinkParams for the engine options (shared by the commands that run linkage)."""
    from vigil.persons.linkage import LinkParams
    from vigil.persons.spark import parse_conf

    if engine not in ("duckdb", "spark"):
        raise InvalidInput("--engine must be duckdb or spark")
    if engine != "spark" and (spark_master or spark_conf):
        raise InvalidInput("--spark-master and --spark-conf need --engine spark")
    return LinkParams(
        backend=engine,  # type: ignore[arg-type]
        threads=runtime().settings.workers,
        spark_master=spark_master,
        spark_conf=parse_conf(spark_conf or []),
        **kwargs,
    )


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"--received-on: {text!r} is not YYYY-MM-DD") from exc


def _vault() -> CardVault:
    from vigil.persons.cards import CardVault

    return CardVault.for_data_dir(runtime().settings.data_dir)


def _role() -> str:
    from sqlalchemy import select

    from vigil.store.models import User

    rt = runtime()
    with rt.db.read() as s:
        user = s.execute(select(User).where(User.username == rt.actor)).scalar_one_or_none()
    return user.role if user else "investigator"


def _print_report(data: dict[str, Any], as_json: bool, title: str) -> None:
    if as_json:
        emit_json(data)
        return
    lines = [title]
    for k, v in data.items():
        if k == "warnings":
            for w in v:
                where = f"line {w['line']}" if w["line"] else "file"
                lines.append(f"  warning [{w['code']}] {where}: {w['message']}")
        else:
            lines.append(f"  {k}: {v}")
    emit_lines(lines)


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write the synthetic operation into.")],
    persons: Annotated[int, typer.Option(help="Number of synthetic persons.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    followup: Annotated[
        int, typer.Option(help="Also write a later batch with this many new persons.")
    ] = 100,
    messy: Annotated[
        bool,
        typer.Option(
            "--messy",
            help="Add the errors of real typed records (name swaps, nicknames, OCR errors, "
            "DOB transpositions and day/month swaps, postcode and address typos, missing "
            "fields); truth.csv names each record's errors in its noise column.",
        ),
    ] = False,
    surname_skew: Annotated[
        float,
        typer.Option(
            help="Draw surnames with a Zipf-like skew (0: uniform; 1: the commonest 1.8 %, "
            "the ten commonest 13 %, as in real populations).",
            min=0.0,
        ),
    ] = 0.0,
) -> None:
    """Write synthetic records with ground truth (no real person) plus reference lists.

    Example: vigil persons generate /tmp/op --persons 2000 --messy --seed 7
    """
    from vigil.persons import synth

    data = synth.generate(
        synth.SynthConfig(persons=persons, seed=seed, messy=messy, surname_skew=surname_skew)
    )
    paths = data.write(out)
    lines = [f"{name}: {path}" for name, path in paths.items()]
    if followup:
        later = synth.generate_followup(data, new_persons=followup, seed=seed + 1)
        lp = later.write(out / "later")
        lines.append(f"later records: {lp['records']}")
    lines.append(f"{len(data.records)} records, {len(data.fraud_refs)} stolen-card records")
    prov = '--source synthetic --legal-basis "test data" --received-from generator'
    lines += [
        "next:",
        *(
            f"  vigil persons reference {out / (k + '.csv')} --kind {k} {prov}"
            for k in REFERENCE_KINDS
        ),
        f"  vigil persons import {paths['records']} --case demo-op "
        f"--mapping {paths['mapping']} {prov}",
        "  vigil persons link --case demo-op",
        "  vigil persons prioritise --case demo-op",
        "  vigil persons list --case demo-op",
        f"  vigil persons refer --case demo-op --out {out / 'referrals'} --band P1",
        "  vigil persons funnel --case demo-op",
    ]
    emit_lines(lines)


@app.command("import")
def import_batch(
    path: Annotated[Path, typer.Argument(help="CSV, JSON, JSON Lines or Parquet batch.")],
    case: CaseOpt,
    mapping: Annotated[Path, typer.Option("--mapping", help="Column mapping YAML.")],
    source: SourceOpt,
    legal_basis: BasisOpt,
    received_from: FromOpt,
    received_on: OnOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv|json|jsonl|parquet")] = None,
    encoding: EncodingOpt = None,
    no_watch: Annotated[
        bool, typer.Option("--no-watch", help="Do not score the batch against known persons.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a batch of payment/subscription records with its provenance.

    Bad rows become line-numbered warnings; good rows import; a file of which no row can be
    used is refused (exit 3, nothing stored). Text is read as its byte-order mark says, else
    as --encoding, else UTF-8 (the report says which). When a linkage model exists, the new
    records are scored against every known person and re-offending alerts are raised.

    Example: vigil persons import records.csv --case op-ore --mapping mapping.yaml
    --source "processor X" --legal-basis "production order 12/2026" --received-from NCA
    """
    from vigil.persons import records as records_mod
    from vigil.persons import resolve, watch

    rt = runtime()
    prov = records_mod.Provenance(source, legal_basis, received_from, _date(received_on))
    report = records_mod.import_records(
        rt.db,
        _vault(),
        path,
        case_name=case,
        mapping=Mapping.load(mapping),
        provenance=prov,
        actor=rt.actor,
        fmt=fmt,
        encoding=encoding,
    )
    data = report.as_dict()
    if not no_watch:
        with rt.db.read() as s:
            have_model = resolve.latest_model(s) is not None
        if have_model:
            data["watch"] = watch.watch_batch(rt.db, report.batch_id, rt.actor).as_dict()
    _print_report(data, as_json, f"imported batch {report.batch_id} into {case}")


@app.command("reference")
def import_reference(
    path: Annotated[Path, typer.Argument(help="Reference CSV/JSON/Parquet file.")],
    kind: Annotated[str, typer.Option("--kind", help=f"One of: {', '.join(REFERENCE_KINDS)}.")],
    source: SourceOpt,
    legal_basis: BasisOpt,
    received_from: FromOpt,
    received_on: OnOpt = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Column mapping YAML.")] = None,
    encoding: EncodingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import police reference data: register, convictions, roles, compromised_cards, breaches.

    Rows are read and checked as by `vigil persons import` (a file with no usable row is
    refused).

    Example: vigil persons reference register.csv --kind register --source "ViSOR extract"
    --legal-basis "DPA 2018 part 3" --received-from "force intelligence bureau"
    """
    from vigil.persons import records as records_mod

    rt = runtime()
    from vigil.persons.mapping import REFERENCE_FIELDS

    if kind not in REFERENCE_KINDS:
        raise InvalidInput(f"--kind must be one of {', '.join(REFERENCE_KINDS)}")
    prov = records_mod.Provenance(source, legal_basis, received_from, _date(received_on))
    m = Mapping.load(mapping, fields=REFERENCE_FIELDS[kind]) if mapping else None
    report = records_mod.import_reference(
        rt.db,
        _vault(),
        path,
        kind=kind,
        provenance=prov,
        actor=rt.actor,
        mapping=m,
        encoding=encoding,
    )
    _print_report(report.as_dict(), as_json, f"imported {kind} batch {report.batch_id}")


@app.command("warnings")
def batch_warnings(
    batch_id: Annotated[int, typer.Argument(help="Batch id (from import).")],
    as_json: JsonOpt = False,
) -> None:
    """Line-numbered warnings of an imported batch.

    Example: vigil persons warnings 3 --json
    """
    from vigil.persons import records as records_mod
    from vigil.store.persons import PersonBatch

    rt = runtime()
    with rt.db.read() as s:
        if s.get(PersonBatch, batch_id) is None:
            raise NotFound(f"no batch {batch_id}")
        rows: list[dict[str, Any]] = [
            {"line": w.line, "code": w.code, "message": w.message}
            for w in records_mod.batch_warnings(s, batch_id)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_lines(
            [f"line {r['line']}: [{r['code']}] {r['message']}" for r in rows] or ["no warnings"]
        )


@app.command("link")
def link(
    case: CaseOpt,
    link_weight: Annotated[
        float, typer.Option(help="Minimum match weight for a link.")
    ] = DEFAULT_LINK_WEIGHT,
    strong_weight: Annotated[
        float, typer.Option(help="Bridges weaker than this are cut and flagged.")
    ] = DEFAULT_STRONG_WEIGHT,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
    new_only: Annotated[
        bool,
        typer.Option(
            "--new-only",
            help="Link only records without a person yet into the existing persons, with "
            "the case's latest model (no retraining; same persons a full re-link with that "
            "model would give).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Resolve the operation's records into persons, then link persons to reference data.

    Investigators' same / not-same decisions are honoured; clusters held together by a single
    weak link are split and listed for review (see `vigil persons review`).

    On Spark (--engine spark) the same model links the same records into the same persons as on
    DuckDB; see docs/persons.md for a cluster.

    Example: vigil persons link --case op-ore   (then, after the next import: --new-only)
    Example: vigil persons link --case op-ore --engine spark --spark-master spark://head:7077
    """
    from vigil.persons import reference, resolve

    rt = runtime()
    params = _link_params(
        engine, spark_master, spark_conf, link_weight=link_weight, strong_weight=strong_weight
    )
    if new_only:
        report = resolve.link_new_records(rt.db, case, rt.actor, params=params)
    else:
        report = resolve.link_case(rt.db, case, rt.actor, params=params)
    data = report.as_dict()
    data["enrichment"] = reference.enrich_case(rt.db, case, rt.actor, params=params).as_dict()
    _print_report(data, as_json, f"linked {case}")


@app.command("export")
def export(
    case: CaseOpt,
    fmt: Annotated[str, typer.Option("--format", help="csv (default) or json.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Every record of the operation → its person, with band, flags and the link evidence.

    One row per record: record_ref, person id and label, band, score, confidence, the record's
    evidence-quality flags, open review flags, and the per-comparison evidence of the link
    that tied it in. Card numbers are never exported. Audited.

    Example: vigil persons export --case op-ore --format csv --output persons.csv
    """
    import sys

    from vigil.persons import export as export_mod

    rt = runtime()
    if fmt not in export_mod.FORMATS:
        raise InvalidInput(f"--format must be one of {', '.join(export_mod.FORMATS)}")
    if output is None:
        export_mod.write(rt.db, case, sys.stdout, fmt, rt.actor)
        return
    try:
        with output.open("w", encoding="utf-8", newline="") as fh:
            n = export_mod.write(rt.db, case, fh, fmt, rt.actor)
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc}") from exc
    emit_lines([f"exported {n} records of {case} to {output}"])


@app.command("review")
def review(case: CaseOpt, as_json: JsonOpt = False) -> None:
    """Links the clustering did not make on its own: cut weak links, refused merges, conflicts,
    ambiguous household records (an initial or no first name tied by a shared card alone).

    Decide each with `vigil persons decide A B --same|--not-same --reason ...`.

    Example: vigil persons review --case op-ore
    """
    from sqlalchemy import select

    from vigil.store import repo
    from vigil.store.persons import PersonLinkFlag

    rt = runtime()
    with rt.db.read() as s:
        c = repo.get_case(s, case)
        flags = (
            s.execute(
                select(PersonLinkFlag)
                .where(PersonLinkFlag.case_id == c.id, PersonLinkFlag.resolved.is_(False))
                .order_by(PersonLinkFlag.match_weight.desc())
            )
            .scalars()
            .all()
        )
        rows: list[dict[str, Any]] = [
            {
                "kind": f.kind,
                "record_a": f.record_a,
                "record_b": f.record_b,
                "person_a": f.person_a,
                "person_b": f.person_b,
                "match_weight": round(f.match_weight, 2),
                "evidence": f.evidence,
            }
            for f in flags
        ]
    if as_json:
        emit_json(rows)
        return
    from vigil.persons.policy import comparison_text

    emit_lines(
        [
            f"[{r['kind']}] records {r['record_a']} ~ {r['record_b']} (persons "
            f"{r['person_a']} / {r['person_b']}), weight {r['match_weight']}: "
            + ", ".join(
                comparison_text(k, v, digits=2)
                for k, v in (r["evidence"] or {}).get("comparisons", {}).items()
            )
            for r in rows
        ]
        or ["nothing to review"]
    )


@app.command("decide")
def decide(
    record_a: Annotated[int, typer.Argument(help="First record id.")],
    record_b: Annotated[int, typer.Argument(help="Second record id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
    same: Annotated[
        bool, typer.Option("--same/--not-same", help="Same person, or not the same person.")
    ] = False,
) -> None:
    """Record that two records are (not) the same person; applied at the next `link`.

    A "not the same person" decision is never merged across, whatever the scores say.

    Example: vigil persons decide 101 205 --not-same --reason "father and son, confirmed"
    """
    from vigil.persons import resolve

    rt = runtime()
    resolve.decide(rt.db, record_a, record_b, same=same, reason=reason, actor=rt.actor)
    emit_lines(
        [
            f"recorded: records {record_a} and {record_b} are "
            f"{'the same person' if same else 'not the same person'}; re-run link"
        ]
    )


@app.command("prioritise")
def prioritise(
    case: CaseOpt,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy YAML.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date for recency (YYYY-MM-DD).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute evidence-quality flags, score persons with the policy and route them to forces.

    A person whose only evidence is flagged records is never banded: they are shown as
    "possible fraud victim — corroborate first".

    Example: vigil persons prioritise --case op-ore --policy my_policy.yaml
    """
    from vigil.persons import flags as flags_mod
    from vigil.persons import policy as policy_mod
    from vigil.persons import routing

    rt = runtime()
    pol = policy_mod.Policy.load(policy)
    when = None
    if as_of:
        try:
            when = dt.datetime.combine(dt.date.fromisoformat(as_of), dt.time(), dt.UTC)
        except ValueError as exc:
            raise InvalidInput(f"--as-of: {as_of!r} is not YYYY-MM-DD") from exc
    counts = flags_mod.compute_flags(rt.db, case, rt.actor, pol.flag_params)
    bands = policy_mod.prioritise_case(rt.db, case, rt.actor, policy=pol, as_of=when)
    agencies = routing.route_case(
        rt.db, case, rt.actor, routing.Jurisdictions.load(rt.settings.data_dir)
    )
    data = {"policy": pol.name, "flags": counts, "bands": bands, "agencies": len(agencies)}
    _print_report(data, as_json, f"prioritised {case}")


@app.command("list")
def list_persons(
    case: CaseOpt,
    band: Annotated[
        str | None, typer.Option(help="Only this band (P1 ... or corroborate).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Persons of an operation, banded ones first by score, with factors and flags.

    Example: vigil persons list --case op-ore --band P1 --json
    """
    from sqlalchemy import select

    from vigil.persons import policy as policy_mod
    from vigil.store import repo
    from vigil.store.persons import Person

    rt = runtime()
    with rt.db.read() as s:
        c = repo.get_case(s, case)
        q = select(Person).where(Person.case_id == c.id, Person.active.is_(True))
        if band:
            q = q.where(Person.band == band)
        people = (
            s.execute(
                q.order_by(
                    (Person.band == policy_mod.CORROBORATE).asc(),  # banded persons first
                    Person.score.desc().nulls_last(),
                    Person.id,
                ).limit(limit)
            )
            .scalars()
            .all()
        )
    rows: list[dict[str, Any]] = []
    for p in people:
        a = policy_mod.current_assessment(rt.db, p.id)
        rows.append(
            {
                "id": p.id,
                "label": p.label,
                "records": p.record_count,
                "band": p.band,
                "score": p.score,
                "confidence": a.confidence if a else None,
                "factors": [f["rule"] for f in a.factors] if a else [],
                "flags": sorted({f["code"] for f in a.flags}) if a else [],
                "agency": p.agency,
                "stage": p.stage,
            }
        )
    if as_json:
        emit_json(rows)
        return
    emit_lines(
        [
            f"#{r['id']} {r['label']} [{r['band']}] score {r['score']} "
            f"({r['records']} records, {r['confidence']}) factors: "
            f"{', '.join(r['factors']) or '-'}; flags: {', '.join(r['flags']) or '-'}; "
            f"{r['agency']}; {r['stage']}"
            for r in rows
        ]
        or ["no persons"]
    )


@app.command("show")
def show(
    person_id: Annotated[int, typer.Argument(help="Person id.")], as_json: JsonOpt = False
) -> None:
    """One person: band, every factor with its evidence, flags and source records.

    Card numbers are masked by role (BIN and last four for investigators and above).

    Example: vigil persons show 17 --json
    """
    from sqlalchemy import func, select

    from vigil.persons import policy as policy_mod
    from vigil.persons import resolve
    from vigil.persons.cards import mask_card
    from vigil.store import audit
    from vigil.store.persons import Person, PersonAlert, PersonLink

    rt = runtime()
    role = _role()
    with rt.db.read() as s:
        p = s.get(Person, person_id)
        if p is None:
            raise NotFound(f"no person {person_id}")
        recs = resolve.person_records(s, person_id)
        links = {
            lk.record_id: lk
            for lk in s.execute(
                select(PersonLink).where(PersonLink.person_id == person_id)
            ).scalars()
        }
        alerts = s.execute(
            select(func.count()).select_from(PersonAlert).where(PersonAlert.person_id == person_id)
        ).scalar_one()
    a = policy_mod.current_assessment(rt.db, person_id)
    data: dict[str, Any] = {
        "id": p.id,
        "label": p.label,
        "band": p.band,
        "score": p.score,
        "confidence": a.confidence if a else None,
        "agency": p.agency,
        "agency_ambiguous": p.agency_ambiguous,
        "stage": p.stage,
        "children_safeguarded": p.children_safeguarded,
        "alerts": alerts,
        "factors": a.factors if a else [],
        "flags": a.flags if a else [],
        "records": [
            {
                "id": r.id,
                "batch_id": r.batch_id,
                "line": r.line,
                "name": r.name,
                "address": r.address,
                "postcode": r.postcode,
                "dob": r.dob,
                "email": r.email,
                "card": mask_card(r.card_last4, role, bin6=r.card_bin),
                "ts": r.ts,
                "site": r.site,
                "link": links[r.id].evidence if r.id in links else None,
            }
            for r in recs
        ],
    }
    with rt.db.write() as s:
        audit.append(
            s,
            rt.actor,
            "persons.show",
            case_id=p.case_id,
            details={"person_id": person_id, "role": role},
        )
    if as_json:
        emit_json(data)
        return
    lines = [
        f"person #{p.id} {p.label}: band {p.band}, score {p.score}, "
        f"confidence {data['confidence']}, {p.agency}, stage {p.stage}"
    ]
    for f in data["factors"]:
        lines.append(f"  factor {f['rule']} (+{f['weight']}): {f['description']}")
        lines.append(f"    evidence: {policy_mod.describe_evidence(f['evidence'])}")
    for f in data["flags"]:
        lines.append(f"  flag record {f['record_id']}: {f['text']}")
    for r in data["records"]:
        lines.append(
            f"  record {r['id']} (batch {r['batch_id']} line {r['line']}): {r['name']}, "
            f"{r['address']} {r['postcode']}, {r['email']}, card {r['card']}, {r['ts']}"
        )
    emit_lines(lines)


@app.command("card")
def reveal_card(
    record_id: Annotated[int, typer.Argument(help="Record id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
) -> None:
    """Show a record's full card number (administrators, supervisors, investigators only).

    Every reveal is audited with its reason; the number is printed, never logged.

    Example: vigil persons card 1042 --reason "production order to issuer"
    """
    from vigil.store import audit
    from vigil.store.persons import PersonRecord

    rt = runtime()
    role = _role()
    if not reason.strip():
        raise InvalidInput("--reason must not be empty")
    with rt.db.read() as s:
        rec = s.get(PersonRecord, record_id)
        if rec is None or rec.card_enc is None:
            raise NotFound(f"record {record_id} has no card number")
    number = _vault().reveal(rec.card_enc, role)
    with rt.db.write() as s:
        audit.append(
            s,
            rt.actor,
            "persons.card_reveal",
            case_id=rec.case_id,
            details={"record_id": record_id, "role": role, "reason": reason},
        )
    emit_lines([number])


@app.command("refer")
def refer(
    case: CaseOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for the packages.")],
    band: Annotated[
        list[str] | None, typer.Option("--band", help="Bands to refer (repeat); default all.")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write referral packages (HTML, CSV, manifest with hashes) per agency; mark referred.

    Example: vigil persons refer --case op-ore --out /tmp/referrals --band P1 --band P2
    """
    from vigil.persons import routing

    rt = runtime()
    bands = tuple(band) if band else ("P1", "P2", "P3", "P4")
    report = routing.refer_case(rt.db, case, rt.actor, out, bands=bands, agency=agency)
    if as_json:
        emit_json(report.as_dict())
        return
    emit_lines(
        [f"{p['agency']}: {p['persons']} persons -> {p['folder']}" for p in report.packages]
        + [f"{report.skipped_corroborate} persons not referred: corroborate first"]
    )


@app.command("outcome")
def outcome(
    person_id: Annotated[int, typer.Argument(help="Person id.")],
    stage: Annotated[str, typer.Argument(help=f"One of: {', '.join(STAGES)}.")],
    children: Annotated[int, typer.Option(help="Children safeguarded at this step.")] = 0,
    note: Annotated[str | None, typer.Option(help="Free-text note.")] = None,
) -> None:
    """Record an outcome step for a person (forward only; cleared = fraud victim).

    Example: vigil persons outcome 17 arrested --children 1 --note "devices seized"
    """
    from vigil.persons import routing

    rt = runtime()
    res = routing.record_outcome(rt.db, person_id, stage, rt.actor, children=children, note=note)
    emit_lines(
        [
            f"person {res['person_id']}: {res['stage']} "
            f"({res['children_safeguarded']} children safeguarded)"
        ]
    )


@app.command("funnel")
def funnel(case: CaseOpt, as_json: JsonOpt = False) -> None:
    """Operation funnel: identified → referred → suspect → arrested → charged → convicted.

    Example: vigil persons funnel --case op-ore
    """
    from vigil.persons import routing

    rt = runtime()
    data = routing.funnel(rt.db, case)
    if as_json:
        emit_json(data)
        return
    r = data["reached"]
    emit_lines(
        [
            f"{case}: {data['records']} records -> {data['persons']} persons",
            " -> ".join(f"{k} {v}" for k, v in r.items()),
            f"exits: {data['exits'] or '-'}; children safeguarded: {data['children_safeguarded']}",
            f"bands: {data['bands']}",
        ]
    )


@app.command("watch")
def watch_cmd(
    batch_id: Annotated[int, typer.Argument(help="Records batch id.")],
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a batch against all known persons and raise re-offending alerts.

    Example: vigil persons watch 7
    """
    from vigil.persons import watch

    rt = runtime()
    params = _link_params(engine, spark_master, spark_conf)
    _print_report(
        watch.watch_batch(rt.db, batch_id, rt.actor, params=params).as_dict(),
        as_json,
        f"watched batch {batch_id}",
    )


@app.command("alerts")
def alerts(
    case: Annotated[str | None, typer.Option("--case", help="Only this case's batches.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-offending alerts: new records matching persons with convictions.

    Example: vigil persons alerts --json
    """
    from sqlalchemy import select

    from vigil.store import repo
    from vigil.store.persons import PersonAlert, PersonRecord

    rt = runtime()
    with rt.db.read() as s:
        q = select(PersonAlert, PersonRecord.name).join(
            PersonRecord, PersonRecord.id == PersonAlert.record_id
        )
        if case:
            q = q.where(PersonRecord.case_id == repo.get_case(s, case).id)
        rows: list[dict[str, Any]] = [
            {
                "id": a.id,
                "person_id": a.person_id,
                "record_id": a.record_id,
                "batch_id": a.batch_id,
                "record_name": name,
                "match_weight": round(a.match_weight, 2),
                "reasons": a.reasons,
                "status": a.status,
                "evidence": a.evidence,
            }
            for a, name in s.execute(q.order_by(PersonAlert.id)).all()
        ]
    if as_json:
        emit_json(rows)
        return
    emit_lines(
        [
            f"alert {r['id']}: record {r['record_id']} ({r['record_name']}) matches person "
            f"{r['person_id']} (weight {r['match_weight']}): {'; '.join(r['reasons'])}"
            for r in rows
        ]
        or ["no alerts"]
    )
