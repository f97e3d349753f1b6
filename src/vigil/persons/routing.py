"""Jurisdiction rules as data, referral packages per agency, outcome tracking and the funnel.

* ``countries.csv`` maps a country to the receiving agency; ``@uk_postcode`` sends UK records
  to the postcode-area table ``uk_postcode_forces.csv`` (areas that straddle forces are marked
  ambiguous and name the alternatives). Both ship in ``vigil/persons/data`` and can be replaced
  by files in ``<data_dir>/persons/`` or passed explicitly.
* A referral package (one folder per agency) holds ``referral.html``, ``persons.csv``,
  ``records.csv`` and ``manifest.json`` (SHA-256 of each file and of every source batch). Card
  numbers appear masked as for the ``partner`` role. Only banded persons are referred: a person
  shown as "corroborate first" is never in a package.
* Outcomes: identified → referred → suspect → arrested → charged → convicted, with
  ``no_further_action`` and ``cleared`` (fraud victim) as exits; children safeguarded per person.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from vigil.errors import Conflict, InvalidInput, NotFound
from vigil.persons.cards import mask_card
from vigil.persons.defaults import STAGES as STAGES
from vigil.persons.normalise import uk_postcode_parts
from vigil.persons.policy import CORROBORATE, describe_evidence
from vigil.store import audit, repo
from vigil.store.base import utcnow
from vigil.store.db import Database
from vigil.store.persons import (
    Person,
    PersonAssessment,
    PersonBatch,
    PersonLink,
    PersonOutcome,
    PersonRecord,
    PersonReferral,
)

FUNNEL = ("identified", "referred", "suspect", "arrested", "charged", "convicted")
EXITS = ("no_further_action", "cleared")
_ORDER = {s: i for i, s in enumerate(FUNNEL)}


@dataclass(frozen=True)
class Force:
    force: str
    ambiguous: bool
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class Jurisdictions:
    """Country → agency and UK postcode area → force tables."""

    countries: dict[str, str]
    forces: dict[str, Force]

    @classmethod
    def load(
        cls,
        data_dir: Path | None = None,
        *,
        countries: Path | None = None,
        forces: Path | None = None,
    ) -> Jurisdictions:
        def text(explicit: Path | None, name: str) -> str:
            if explicit is not None:
                return explicit.read_text("utf-8")
            if data_dir is not None and (data_dir / "persons" / name).is_file():
                return (data_dir / "persons" / name).read_text("utf-8")
            return resources.files("vigil.persons.data").joinpath(name).read_text("utf-8")

        ctext = text(countries, "countries.csv")
        ftext = text(forces, "uk_postcode_forces.csv")
        cmap = {r["country"].strip().upper(): r["agency"].strip() for r in _csv(ctext)}
        fmap = {}
        for r in _csv(ftext):
            area = r["area"].strip().upper()
            if not re.fullmatch(r"[A-Z]{1,2}", area):
                raise InvalidInput(f"postcode table: bad area {area!r}")
            alts = tuple(a.strip() for a in (r.get("alternatives") or "").split("|") if a.strip())
            fmap[area] = Force(
                r["force"].strip(),
                (r.get("ambiguous") or "").strip().lower() in ("yes", "y", "true"),
                alts,
            )
        return cls(cmap, fmap)

    def route(self, country: str | None, postcode: str | None) -> tuple[str, bool, str]:
        """(agency, ambiguous, reason) for a person's country and (normalised) postcode."""
        c = (country or "").upper() or ("GB" if uk_postcode_parts(postcode) else "")
        agency = self.countries.get(c) or self.countries.get("*") or "unrouted"
        if agency == "@uk_postcode":
            parts = uk_postcode_parts(postcode)
            if parts is None:
                return "unrouted (UK, no valid postcode)", True, "no valid UK postcode"
            force = self.forces.get(parts[0])
            if force is None:
                return f"unrouted (postcode area {parts[0]})", True, "area not in the table"
            reason = f"postcode area {parts[0]}"
            if force.ambiguous:
                reason += f" straddles {force.force} / {' / '.join(force.alternatives)}"
            return force.force, force.ambiguous, reason
        return agency, False, f"country {c or 'unknown'}"


def _csv(text: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return list(csv.DictReader(lines))


def route_case(
    db: Database, case_name: str, actor: str, jurisdictions: Jurisdictions
) -> dict[str, int]:
    """Set every active person's agency from their most recent record with a location."""
    with db.read() as s:
        case = repo.get_case(s, case_name)
        rows = s.execute(
            select(
                PersonLink.person_id,
                PersonRecord.country,
                PersonRecord.postcode,
                PersonRecord.ts,
                PersonRecord.id,
            )
            .join(PersonRecord, PersonRecord.id == PersonLink.record_id)
            .join(Person, Person.id == PersonLink.person_id)
            .where(Person.case_id == case.id, Person.active.is_(True))
        ).all()
    latest: dict[int, tuple[Any, ...]] = {}
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    for pid, country, pc, ts, rid in rows:
        key = (ts or epoch, rid)
        if (country or pc) and (pid not in latest or key > latest[pid][0]):
            latest[pid] = (key, country, pc)
    counts: Counter[str] = Counter()
    updates = []
    for pid, (_k, country, pc) in latest.items():
        agency, ambiguous, _reason = jurisdictions.route(country, pc)
        updates.append({"id": pid, "agency": agency, "agency_ambiguous": ambiguous})
        counts[agency] += 1
    with db.write() as s:
        if updates:
            s.execute(update(Person), updates)
        audit.append(s, actor, "persons.route", case_id=case.id, details={"agencies": dict(counts)})
    return dict(counts)


# --------------------------------------------------------------------------------------------
# Referral packages
# --------------------------------------------------------------------------------------------

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Referral: {{ agency }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:4px 8px;vertical-align:top}.flag{color:#a40}
.note{background:#ffd;padding:8px;border:1px solid #cc9}</style></head><body>
<h1>Referral to {{ agency }}</h1>
<p>Operation <b>{{ case }}</b>, package {{ created }}, prepared by {{ actor }}.</p>
<p class="note">Every person below is a <b>lead</b> resolved from payment records by
probabilistic linkage, with the evidence for each factor. Payment records alone do not show who
used a card: check the evidence-quality flags and corroborate before any action. Published risk
tools reach only about AUC 0.70-0.78; the band is an order of work, not a finding.</p>
<h2>Source batches</h2><table><tr><th>batch</th><th>file</th><th>SHA-256</th><th>source</th>
<th>legal basis</th><th>received from</th><th>received on</th></tr>
{% for b in batches %}<tr><td>{{ b.id }}</td><td>{{ b.file }}</td><td><code>{{ b.sha256 }}</code>
</td><td>{{ b.source }}</td><td>{{ b.legal_basis }}</td><td>{{ b.received_from }}</td>
<td>{{ b.received_on }}</td></tr>{% endfor %}</table>
{% for p in persons %}
<h2>Person {{ p.id }}: {{ p.label }} — band {{ p.band }} (score {{ p.score }},
confidence {{ p.confidence }})</h2>
{% if p.ambiguous %}<p class="flag">Jurisdiction ambiguous: {{ p.agency }} — confirm.</p>{% endif %}
<h3>Factors</h3><ul>{% for f in p.factors %}<li><b>{{ f.rule }}</b> (+{{ f.weight }}):
{{ f.description }}<br><small>{{ f.evidence_text }}</small></li>{% else %}<li>none</li>
{% endfor %}</ul>
<h3>Evidence-quality flags</h3><ul>{% for f in p.flags %}<li class="flag">record {{ f.record_id }}:
{{ f.text }}</li>{% else %}<li>none</li>{% endfor %}</ul>
<h3>Records</h3><table><tr><th>record</th><th>batch</th><th>line</th><th>name</th>
<th>address</th><th>postcode</th><th>e-mail</th><th>card</th><th>time</th><th>site</th>
<th>amount</th></tr>{% for r in p.records %}<tr><td>{{ r.id }}</td><td>{{ r.batch_id }}</td>
<td>{{ r.line }}</td><td>{{ r.name }}</td><td>{{ r.address }}</td><td>{{ r.postcode }}</td>
<td>{{ r.email }}</td><td>{{ r.card }}</td><td>{{ r.ts }}</td><td>{{ r.site }}</td>
<td>{{ r.amount }}</td></tr>{% endfor %}</table>
{% endfor %}
</body></html>
"""

PERSON_COLUMNS = (
    "person_id",
    "label",
    "band",
    "score",
    "confidence",
    "agency",
    "agency_ambiguous",
    "factors",
    "flags",
    "record_ids",
)
RECORD_COLUMNS = (
    "person_id",
    "record_id",
    "batch_id",
    "line",
    "record_ref",
    "name",
    "address",
    "postcode",
    "country",
    "dob",
    "email",
    "phone",
    "card",
    "ts",
    "site",
    "amount",
    "flags",
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:80] or "agency"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ReferralReport:
    packages: list[dict[str, Any]]
    persons: int
    skipped_corroborate: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def refer_case(
    db: Database,
    case_name: str,
    actor: str,
    out_dir: Path,
    *,
    bands: tuple[str, ...] = ("P1", "P2", "P3", "P4"),
    agency: str | None = None,
) -> ReferralReport:
    """Write one referral package per agency for persons in ``bands`` and mark them referred."""
    if CORROBORATE in bands:
        raise InvalidInput("persons shown as 'corroborate first' are never referred as priority")
    with db.read() as s:
        case = repo.get_case(s, case_name)
        q = (
            select(Person, PersonAssessment)
            .join(
                PersonAssessment,
                (PersonAssessment.person_id == Person.id) & PersonAssessment.current.is_(True),
            )
            .where(Person.case_id == case.id, Person.active.is_(True))
        )
        pairs = s.execute(q).all()
        if not pairs:
            raise NotFound(
                f"no prioritised persons in {case_name!r}: run "
                f"`vigil persons prioritise --case {case_name}` first"
            )
        skipped = sum(1 for p, a in pairs if a.band == CORROBORATE)
        chosen = [
            (p, a)
            for p, a in pairs
            if a.band in bands and a.band != CORROBORATE and (agency is None or p.agency == agency)
        ]
        by_agency: dict[str, list[tuple[Person, PersonAssessment]]] = defaultdict(list)
        for p, a in chosen:
            by_agency[p.agency or "unrouted"].append((p, a))
        pid_list = [p.id for p, _ in chosen]
        recs: dict[int, list[PersonRecord]] = defaultdict(list)
        for i in range(0, len(pid_list), 5000):
            for pid, rec in s.execute(
                select(PersonLink.person_id, PersonRecord)
                .join(PersonRecord, PersonRecord.id == PersonLink.record_id)
                .where(PersonLink.person_id.in_(pid_list[i : i + 5000]))
                .order_by(PersonRecord.ts)
            ).all():
                recs[pid].append(rec)
        batch_ids = {r.batch_id for rl in recs.values() for r in rl}
        batches = {
            b.id: b
            for b in s.execute(select(PersonBatch).where(PersonBatch.id.in_(batch_ids))).scalars()
        }
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(_HTML)
    created = utcnow()
    packages = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for agency_name, members in sorted(by_agency.items()):
        folder = out_dir / f"{_slug(case_name)}-{_slug(agency_name)}-{created:%Y%m%dT%H%M%S}"
        if folder.exists():
            raise Conflict(f"{folder} already exists")
        folder.mkdir(parents=True)
        persons_view = []
        pbuf, rbuf = io.StringIO(), io.StringIO()
        pw = csv.DictWriter(pbuf, fieldnames=PERSON_COLUMNS)
        rw = csv.DictWriter(rbuf, fieldnames=RECORD_COLUMNS)
        pw.writeheader()
        rw.writeheader()
        used_batches: set[int] = set()
        for p, a in sorted(members, key=lambda pa: (-pa[1].score, pa[0].id)):
            flags_by_rec: dict[int, list[str]] = defaultdict(list)
            for f in a.flags:
                flags_by_rec[f["record_id"]].append(f["code"])
            rviews = []
            for r in recs[p.id]:
                used_batches.add(r.batch_id)
                view = {
                    "id": r.id,
                    "batch_id": r.batch_id,
                    "line": r.line,
                    "name": r.name,
                    "address": r.address,
                    "postcode": r.postcode,
                    "email": r.email,
                    "card": mask_card(r.card_last4, "partner"),
                    "ts": r.ts.isoformat() if r.ts else "",
                    "site": r.site,
                    "amount": r.amount,
                }
                rviews.append(view)
                rw.writerow(
                    {
                        "person_id": p.id,
                        "record_id": r.id,
                        "batch_id": r.batch_id,
                        "line": r.line,
                        "record_ref": r.record_ref,
                        "name": r.name,
                        "address": r.address,
                        "postcode": r.postcode,
                        "country": r.country,
                        "dob": r.dob.isoformat() if r.dob else "",
                        "email": r.email,
                        "phone": r.phone,
                        "card": view["card"],
                        "ts": view["ts"],
                        "site": r.site,
                        "amount": r.amount,
                        "flags": "|".join(flags_by_rec.get(r.id, [])),
                    }
                )
            factors = [{**f, "evidence_text": describe_evidence(f["evidence"])} for f in a.factors]
            persons_view.append(
                {
                    "id": p.id,
                    "label": p.label,
                    "band": a.band,
                    "score": a.score,
                    "confidence": a.confidence,
                    "agency": p.agency,
                    "ambiguous": p.agency_ambiguous,
                    "factors": factors,
                    "flags": a.flags,
                    "records": rviews,
                }
            )
            pw.writerow(
                {
                    "person_id": p.id,
                    "label": p.label,
                    "band": a.band,
                    "score": a.score,
                    "confidence": a.confidence,
                    "agency": p.agency,
                    "agency_ambiguous": p.agency_ambiguous,
                    "factors": "|".join(f["rule"] for f in a.factors),
                    "flags": "|".join(sorted({f["code"] for f in a.flags})),
                    "record_ids": "|".join(str(r.id) for r in recs[p.id]),
                }
            )
        bviews = [
            {
                "id": b.id,
                "file": Path(b.file_name).name,
                "sha256": b.sha256,
                "source": b.source,
                "legal_basis": b.legal_basis,
                "received_from": b.received_from,
                "received_on": b.received_on.isoformat() if b.received_on else "",
            }
            for bid, b in sorted(batches.items())
            if bid in used_batches
        ]
        html = template.render(
            agency=agency_name,
            case=case_name,
            created=created.isoformat(),
            actor=actor,
            batches=bviews,
            persons=persons_view,
        )
        files = {
            "referral.html": html.encode("utf-8"),
            "persons.csv": pbuf.getvalue().encode("utf-8"),
            "records.csv": rbuf.getvalue().encode("utf-8"),
        }
        for name, data in files.items():
            (folder / name).write_bytes(data)
        manifest = {
            "case": case_name,
            "agency": agency_name,
            "created": created.isoformat(),
            "prepared_by": actor,
            "persons": [p.id for p, _ in members],
            "files": {n: _sha(d) for n, d in files.items()},
            "source_batches": bviews,
        }
        mbytes = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        (folder / "manifest.json").write_bytes(mbytes)
        packages.append(
            {
                "agency": agency_name,
                "folder": str(folder),
                "persons": len(members),
                "manifest_sha256": _sha(mbytes),
            }
        )
    with db.write() as s:
        for pkg, (agency_name, members) in zip(packages, sorted(by_agency.items()), strict=True):
            ids = [p.id for p, _ in members]
            s.add(
                PersonReferral(
                    case_id=case.id,
                    agency=agency_name,
                    path=pkg["folder"],
                    person_ids=ids,
                    manifest_sha256=pkg["manifest_sha256"],
                    created_by=actor,
                )
            )
            for pid in ids:
                _advance(
                    s,
                    pid,
                    "referred",
                    actor,
                    note=f"referral package to {agency_name}",
                    only_forward=True,
                )
        audit.append(
            s,
            actor,
            "persons.refer",
            case_id=case.id,
            details={"packages": packages, "skipped_corroborate": skipped},
        )
    return ReferralReport(packages, len(chosen), skipped)


# --------------------------------------------------------------------------------------------
# Outcomes and funnel
# --------------------------------------------------------------------------------------------


def _advance(
    s: Any,
    person_id: int,
    stage: str,
    actor: str,
    *,
    note: str | None = None,
    children: int = 0,
    only_forward: bool = False,
) -> Person:
    person = s.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}")
    if stage not in STAGES:
        raise InvalidInput(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    if children < 0:
        raise InvalidInput("children safeguarded cannot be negative")
    current = person.stage
    if only_forward and (current in EXITS or _ORDER.get(current, 0) >= _ORDER.get(stage, 0)):
        return person  # type: ignore[no-any-return]
    if stage in FUNNEL and current in FUNNEL and _ORDER[stage] < _ORDER[current]:
        raise Conflict(
            f"person {person_id} is already at {current!r}; outcomes only move "
            f"forward (record 'cleared' or 'no_further_action' to close)"
        )
    if current in EXITS and stage != current:
        raise Conflict(f"person {person_id} was closed as {current!r}")
    if stage == "no_further_action" and current in ("identified",):
        raise Conflict("no further action is recorded after a referral")
    s.add(
        PersonOutcome(
            person_id=person_id,
            stage=stage,
            children_safeguarded=children,
            note=note,
            recorded_by=actor,
        )
    )
    person.stage = stage
    person.children_safeguarded = (person.children_safeguarded or 0) + children
    person.updated_at = utcnow()
    return person  # type: ignore[no-any-return]


def record_outcome(
    db: Database,
    person_id: int,
    stage: str,
    actor: str,
    *,
    children: int = 0,
    note: str | None = None,
) -> dict[str, Any]:
    """Move a person to ``stage`` (forward only), adding ``children`` safeguarded."""
    with db.write() as s:
        person = _advance(s, person_id, stage, actor, note=note, children=children)
        audit.append(
            s,
            actor,
            "persons.outcome",
            case_id=person.case_id,
            details={"person_id": person_id, "stage": stage, "children": children, "note": note},
        )
        return {
            "person_id": person_id,
            "stage": person.stage,
            "children_safeguarded": person.children_safeguarded,
        }


def funnel(db: Database, case_name: str) -> dict[str, Any]:
    """Counts of persons who reached each stage (cumulative), exits, and children safeguarded."""
    with db.read() as s:
        case = repo.get_case(s, case_name)
        return funnel_for(s, case.id, case_name)


def funnel_for(s: Session, case_id: int, case_name: str) -> dict[str, Any]:
    """:func:`funnel` inside an open session (also the ``persons`` case-summary section)."""
    rows = s.execute(
        select(Person.stage, func.count(), func.coalesce(func.sum(Person.children_safeguarded), 0))
        .where(Person.case_id == case_id, Person.active.is_(True))
        .group_by(Person.stage)
    ).all()
    reached_rows = s.execute(
        select(PersonOutcome.person_id, PersonOutcome.stage)
        .join(Person, Person.id == PersonOutcome.person_id)
        .where(Person.case_id == case_id)
    ).all()
    bands = dict(
        s.execute(
            select(Person.band, func.count())
            .where(Person.case_id == case_id, Person.active.is_(True))
            .group_by(Person.band)
        ).all()
    )
    records = s.execute(
        select(func.count()).select_from(PersonRecord).where(PersonRecord.case_id == case_id)
    ).scalar_one()
    total = sum(n for _st, n, _c in rows)
    children = int(sum(c for _st, _n, c in rows))
    best: dict[int, int] = {}
    exits: Counter[str] = Counter()
    for pid, stage in reached_rows:
        if stage in _ORDER:
            best[pid] = max(best.get(pid, 0), _ORDER[stage])
    for st, n, _c in rows:
        if st in EXITS:
            exits[st] += n
    reached = {stage: 0 for stage in FUNNEL}
    reached["identified"] = total
    for level in best.values():
        for stage, i in _ORDER.items():
            if 0 < i <= level:
                reached[stage] += 1
    return {
        "case": case_name,
        "records": records,
        "persons": total,
        "reached": reached,
        "exits": dict(exits),
        "children_safeguarded": children,
        "bands": {str(k): v for k, v in bands.items()},
    }
