"""Declarative prioritisation: a YAML policy of weighted rules gives each person a score, a
band and the list of factors (with the evidence behind each) that produced it.

The evidence-quality rule is not configurable away: a person whose records *all* carry an
untrusted flag is never placed in a priority band; they are shown as
:data:`CORROBORATE` ("possible fraud victim — corroborate first"), whatever their score.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, update

from vigil.errors import InvalidInput
from vigil.persons.flags import FLAG_CODES, FLAG_TEXT, FlagParams
from vigil.store import audit, repo
from vigil.store.base import utcnow
from vigil.store.db import Database
from vigil.store.persons import (
    Person,
    PersonAlert,
    PersonAssessment,
    PersonLink,
    PersonRecord,
    PersonRecordFlag,
    PersonRef,
    PersonRefLink,
)

CORROBORATE = "corroborate"
CORROBORATE_TEXT = "possible fraud victim — corroborate first"
RECORD_CONDITIONS = ("min_count", "min_span_days", "within_days", "min_sites")


@dataclass(frozen=True)
class Rule:
    """One weighted rule."""

    id: str
    weight: float
    kind: str
    """``reference``, ``records`` or ``alerts``."""
    params: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Band:
    name: str
    min_score: float
    label: str = ""


@dataclass(frozen=True)
class Policy:
    """A validated triage policy."""

    name: str
    version: int
    bands: tuple[Band, ...]
    rules: tuple[Rule, ...]
    untrusted: frozenset[str]
    advisory: frozenset[str]
    flag_params: FlagParams
    sha256: str

    def band_for(self, score: float) -> Band:
        for band in self.bands:
            if score >= band.min_score:
                return band
        return self.bands[-1]

    @classmethod
    def load(cls, path: Path | str | None = None) -> Policy:
        """Load a policy file (the packaged default when ``path`` is None)."""
        if path is None:
            text = (
                resources.files("vigil.persons.data")
                .joinpath("default_policy.yaml")
                .read_text("utf-8")
            )
            origin = "default policy"
        else:
            try:
                text = Path(path).read_text("utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot read policy {path}: {exc}") from exc
            origin = str(path)
        return cls.parse(text, origin)

    @classmethod
    def parse(cls, text: str, origin: str = "policy") -> Policy:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{origin}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{origin}: a policy is a mapping with name, bands, rules, flags")
        unknown = set(data) - {"name", "version", "bands", "rules", "flags", "description"}
        if unknown:
            raise InvalidInput(f"{origin}: unknown keys {sorted(unknown)}")
        bands_raw = data.get("bands") or []
        if not bands_raw:
            raise InvalidInput(f"{origin}: needs at least one band")
        bands = []
        for b in bands_raw:
            try:
                bands.append(Band(str(b["name"]), float(b["min_score"]), str(b.get("label", ""))))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInput(f"{origin}: bad band {b!r}: needs name and min_score") from exc
        if any(b.name == CORROBORATE for b in bands):
            raise InvalidInput(f"{origin}: band name {CORROBORATE!r} is reserved")
        bands.sort(key=lambda b: -b.min_score)
        rules = []
        seen: set[str] = set()
        for r in data.get("rules") or []:
            rules.append(_parse_rule(r, origin))
            if rules[-1].id in seen:
                raise InvalidInput(f"{origin}: duplicate rule id {rules[-1].id!r}")
            seen.add(rules[-1].id)
        flags = data.get("flags") or {}
        untrusted = frozenset(flags.get("untrusted") or FLAG_CODES[:-1])
        advisory = frozenset(flags.get("advisory") or ())
        bad = (untrusted | advisory) - set(FLAG_CODES)
        if bad:
            raise InvalidInput(f"{origin}: unknown flag codes {sorted(bad)} (known: {FLAG_CODES})")
        return cls(
            name=str(data.get("name") or "unnamed"),
            version=int(data.get("version") or 1),
            bands=tuple(bands),
            rules=tuple(rules),
            untrusted=untrusted,
            advisory=advisory,
            flag_params=FlagParams.from_dict(flags.get("params") or {}),
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        )


def _parse_rule(r: Any, origin: str) -> Rule:
    if not isinstance(r, dict) or "id" not in r or "weight" not in r or "when" not in r:
        raise InvalidInput(f"{origin}: a rule needs id, weight and when: {r!r}")
    when = r["when"]
    if not isinstance(when, dict) or len(when) != 1:
        raise InvalidInput(f"{origin}: rule {r['id']}: 'when' must have exactly one condition")
    kind, params = next(iter(when.items()))
    params = dict(params or {})
    if kind == "reference":
        if params.get("kind") not in ("register", "convictions", "roles"):
            raise InvalidInput(
                f"{origin}: rule {r['id']}: reference kind must be register, convictions or roles"
            )
        cats = params.get("category")
        if cats is not None and not isinstance(cats, list):
            params["category"] = [cats]
    elif kind == "records":
        bad = set(params) - set(RECORD_CONDITIONS)
        if bad or len(params) != 1:
            raise InvalidInput(
                f"{origin}: rule {r['id']}: records condition takes one of "
                f"{', '.join(RECORD_CONDITIONS)}"
            )
    elif kind == "alerts":
        if set(params) - {"min_count"}:
            raise InvalidInput(f"{origin}: rule {r['id']}: alerts condition takes min_count")
    else:
        raise InvalidInput(
            f"{origin}: rule {r['id']}: unknown condition {kind!r} (reference, records, alerts)"
        )
    try:
        weight = float(r["weight"])
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{origin}: rule {r['id']}: weight must be a number") from exc
    return Rule(
        id=str(r["id"]),
        weight=weight,
        kind=kind,
        params=params,
        description=str(r.get("description", "")),
    )


@dataclass
class PersonFacts:
    """What the rules look at for one person."""

    person_id: int
    records: list[dict[str, Any]] = field(default_factory=list)
    refs: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    flags: dict[int, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Assessment:
    """A person's band, score, confidence, factors and flags."""

    person_id: int
    band: str
    score: float
    confidence: str
    factors: list[dict[str, Any]]
    flags: list[dict[str, Any]]


def assess(facts: PersonFacts, policy: Policy, as_of: dt.datetime) -> Assessment:
    """Apply ``policy`` to one person's facts."""
    untrusted_ids = {
        rid for rid, fl in facts.flags.items() if any(f["code"] in policy.untrusted for f in fl)
    }
    clean = [r for r in facts.records if r["id"] not in untrusted_ids]
    factors: list[dict[str, Any]] = []
    for rule in policy.rules:
        evidence = _evaluate(rule, facts, clean, as_of)
        if evidence is not None:
            factors.append(
                {
                    "rule": rule.id,
                    "description": rule.description,
                    "weight": rule.weight,
                    "evidence": evidence,
                }
            )
    score = float(sum(f["weight"] for f in factors))
    flag_list = [
        {
            "record_id": rid,
            "code": f["code"],
            "text": FLAG_TEXT.get(f["code"], f["code"]),
            "untrusted": f["code"] in policy.untrusted,
            "detail": f.get("detail"),
        }
        for rid, fl in sorted(facts.flags.items())
        for f in fl
    ]
    if not clean:
        band, confidence = CORROBORATE, CORROBORATE_TEXT
    else:
        band = policy.band_for(score).name
        confidence = "reduced" if flag_list else "high"
    return Assessment(facts.person_id, band, score, confidence, factors, flag_list)


def _evaluate(
    rule: Rule, facts: PersonFacts, clean: list[dict[str, Any]], as_of: dt.datetime
) -> list[dict[str, Any]] | None:
    p = rule.params
    if rule.kind == "reference":
        cats = p.get("category")
        hits = [
            r
            for r in facts.refs
            if r["kind"] == p["kind"] and (cats is None or r["category"] in cats)
        ]
        return hits or None
    if rule.kind == "alerts":
        return (
            facts.alerts
            if len(facts.alerts) >= int(p.get("min_count", 1)) and facts.alerts
            else None
        )
    ids = [r["id"] for r in clean]
    stamps = sorted(r["ts"] for r in clean if r["ts"] is not None)
    if "min_count" in p:
        ok = len(clean) >= int(p["min_count"])
        ev: dict[str, Any] = {"records": ids, "count": len(clean)}
    elif "min_span_days" in p:
        span = (stamps[-1] - stamps[0]).days if len(stamps) >= 2 else 0
        ok = span >= int(p["min_span_days"])
        ev = {
            "records": ids,
            "first": stamps[0].isoformat() if stamps else None,
            "last": stamps[-1].isoformat() if stamps else None,
            "span_days": span,
        }
    elif "within_days" in p:
        recent = [
            r
            for r in clean
            if r["ts"] is not None and (as_of - r["ts"]).days <= int(p["within_days"])
        ]
        ok = bool(recent)
        ev = {"records": [r["id"] for r in recent], "as_of": as_of.date().isoformat()}
    else:
        sites = sorted({r["site"] for r in clean if r["site"]})
        ok = len(sites) >= int(p["min_sites"])
        ev = {"sites": sites}
    return [ev] if ok else None


def load_facts(db: Database, case_id: int) -> dict[int, PersonFacts]:
    """Records, reference links, alerts and flags of every active person of a case."""
    out: dict[int, PersonFacts] = {}
    with db.read() as s:
        rows = s.execute(
            select(
                PersonLink.person_id,
                PersonRecord.id,
                PersonRecord.ts,
                PersonRecord.site,
                PersonRecord.amount,
                PersonRecord.batch_id,
            )
            .join(PersonRecord, PersonRecord.id == PersonLink.record_id)
            .join(Person, Person.id == PersonLink.person_id)
            .where(Person.case_id == case_id, Person.active.is_(True))
        ).all()
        for pid, rid, ts, site, amount, batch in rows:
            f = out.setdefault(pid, PersonFacts(pid))
            f.records.append(
                {"id": rid, "ts": ts, "site": site, "amount": amount, "batch_id": batch}
            )
        rec_to_pid = {r["id"]: pid for pid, f in out.items() for r in f.records}
        for pid, ref_id, kind, cat, detail, ref, batch, w, rec, ev in s.execute(
            select(
                PersonRefLink.person_id,
                PersonRef.id,
                PersonRef.kind,
                PersonRef.category,
                PersonRef.detail,
                PersonRef.ref,
                PersonRef.batch_id,
                PersonRefLink.match_weight,
                PersonRefLink.record_id,
                PersonRefLink.evidence,
            )
            .join(PersonRef, PersonRef.id == PersonRefLink.ref_id)
            .join(Person, Person.id == PersonRefLink.person_id)
            .where(Person.case_id == case_id)
        ).all():
            if pid in out:
                out[pid].refs.append(
                    {
                        "ref_id": ref_id,
                        "kind": kind,
                        "category": cat,
                        "detail": detail,
                        "reference": ref,
                        "batch_id": batch,
                        "match_weight": round(w, 2),
                        "via_record": rec,
                        "comparisons": (ev or {}).get("comparisons"),
                    }
                )
        flags: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for rid, code, detail in s.execute(
            select(
                PersonRecordFlag.record_id, PersonRecordFlag.code, PersonRecordFlag.detail
            ).where(PersonRecordFlag.case_id == case_id)
        ).all():
            flags[rid].append({"code": code, "detail": detail})
        for rid, fl in flags.items():
            owner = rec_to_pid.get(rid)
            if owner is not None:
                out[owner].flags[rid] = fl
        for aid, pid, rid, w, reasons in s.execute(
            select(
                PersonAlert.id,
                PersonAlert.person_id,
                PersonAlert.record_id,
                PersonAlert.match_weight,
                PersonAlert.reasons,
            )
        ).all():
            target = rec_to_pid.get(rid)
            for p in {target, pid}:
                if p is not None and p in out:
                    out[p].alerts.append(
                        {
                            "alert_id": aid,
                            "record_id": rid,
                            "known_person": pid,
                            "match_weight": round(w, 2),
                            "reasons": reasons,
                        }
                    )
    return out


def prioritise_case(
    db: Database,
    case_name: str,
    actor: str,
    *,
    policy: Policy | None = None,
    as_of: dt.datetime | None = None,
) -> dict[str, int]:
    """Assess every active person of a case; returns counts per band."""
    policy = policy or Policy.load()
    as_of = as_of or utcnow()
    with db.read() as s:
        case = repo.get_case(s, case_name)
    facts = load_facts(db, case.id)
    results = [assess(f, policy, as_of) for f in facts.values()]
    counts: dict[str, int] = defaultdict(int)
    with db.write() as s:
        s.execute(
            update(PersonAssessment)
            .where(PersonAssessment.case_id == case.id)
            .values(current=False)
        )
        rows = []
        for a in results:
            counts[a.band] += 1
            rows.append(
                {
                    "person_id": a.person_id,
                    "case_id": case.id,
                    "policy_name": policy.name,
                    "policy_sha256": policy.sha256,
                    "band": a.band,
                    "score": a.score,
                    "confidence": a.confidence,
                    "factors": a.factors,
                    "flags": a.flags,
                    "current": True,
                    "created_at": utcnow(),
                }
            )
        from sqlalchemy import insert

        for i in range(0, len(rows), 10_000):
            s.execute(insert(PersonAssessment), rows[i : i + 10_000])
        if results:
            s.execute(
                update(Person),
                [{"id": a.person_id, "band": a.band, "score": a.score} for a in results],
            )
        audit.append(
            s,
            actor,
            "persons.prioritise",
            case_id=case.id,
            details={
                "policy": policy.name,
                "policy_sha256": policy.sha256,
                "bands": dict(counts),
                "as_of": as_of.isoformat(),
            },
        )
    return dict(counts)


def current_assessment(db: Database, person_id: int) -> PersonAssessment | None:
    """The current assessment of a person, if prioritised."""
    with db.read() as s:
        return s.execute(
            select(PersonAssessment)
            .where(PersonAssessment.person_id == person_id, PersonAssessment.current.is_(True))
            .order_by(PersonAssessment.id.desc())
            .limit(1)
        ).scalar_one_or_none()


def comparison_text(name: str, comparison: dict[str, Any], digits: int = 1) -> str:
    """One comparison of a link's evidence: ``surname exact (+3.2, frequency -1.6)`` (the
    term-frequency adjustment, when the level has one: a common name weighs less)."""
    text = f"{name} {comparison['level']} ({comparison['match_weight']:+.{digits}f}"
    adj = comparison.get("term_frequency_adjustment")
    if adj is not None:
        text += f", frequency {adj:+.{digits}f}"
    return text + ")"


def describe_evidence(evidence: list[dict[str, Any]]) -> str:
    """One readable line per piece of a factor's evidence (for packages and the CLI)."""
    parts = []
    for ev in evidence:
        if "ref_id" in ev:
            comps = ev.get("comparisons") or {}
            why = ", ".join(
                comparison_text(name, c) for name, c in comps.items() if c.get("level") != "missing"
            )
            category = ev.get("category") if ev.get("category") != ev["kind"] else ""
            parts.append(
                f"{ev['kind']} {category or ''} {ev.get('detail') or ''}".strip()
                + f" [reference {ev.get('reference') or ev['ref_id']}, batch {ev.get('batch_id')}]"
                + f" matched via record {ev.get('via_record')} with weight "
                + f"{ev.get('match_weight')}: {why}"
            )
        elif "alert_id" in ev:
            parts.append(
                f"alert {ev['alert_id']}: record {ev['record_id']} matches known person "
                f"{ev['known_person']} (weight {ev['match_weight']}): {'; '.join(ev['reasons'])}"
            )
        elif "sites" in ev:
            parts.append(f"sites: {', '.join(ev['sites'])}")
        else:
            recs = ", ".join(str(r) for r in ev.get("records", []))
            extra = ", ".join(f"{k} {v}" for k, v in ev.items() if k != "records")
            parts.append(f"records {recs}" + (f" ({extra})" if extra else ""))
    return "; ".join(parts)
