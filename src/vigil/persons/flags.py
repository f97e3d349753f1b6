"""Evidence-quality flags: indicators that a record may not show what the subscriber did.

They lower confidence; they never raise risk. Operation Ore's lesson: stolen card sets were
found on the pay site's own servers, many cards were signed up with no site visits at all, and
people were accused on payment records alone. Codes:

==========================  =================================================================
``card_compromised``        the card is on a stolen/compromised list (reference data)
``chargeback``              the payment was charged back (record field or list status)
``card_many_identities``    one card used under many names or postcodes
``ip_country_mismatch``     the IP's country differs from the billing (or issuer) country
``no_site_access``          a subscription with no recorded site access (batch has access data)
``verification_failed``     address/CVV verification failed
``breach_burst``            the purchase falls in a burst on a site inside a known breach window
``site_high_fraud_share``   the site has a high share of flagged records (advisory)
==========================  =================================================================
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select

from vigil.store import audit, repo
from vigil.store.db import Database
from vigil.store.persons import PersonLink, PersonRecord, PersonRecordFlag, PersonRef

FLAG_CODES = (
    "card_compromised",
    "chargeback",
    "card_many_identities",
    "ip_country_mismatch",
    "no_site_access",
    "verification_failed",
    "breach_burst",
    "site_high_fraud_share",
)
FLAG_TEXT = {
    "card_compromised": "card on a stolen/compromised list",
    "chargeback": "payment charged back",
    "card_many_identities": "card used under many names or addresses",
    "ip_country_mismatch": "IP country differs from billing country",
    "no_site_access": "payment with no site access",
    "verification_failed": "card verification failed",
    "breach_burst": "purchase in a burst matching a known breach",
    "site_high_fraud_share": "site with a high share of flagged records",
}


@dataclass(frozen=True)
class FlagParams:
    """Thresholds of the flag rules (set in the policy file's ``flags.params``)."""

    many_identities_names: int = 3
    """Distinct resolved persons using one card (a household sharing a card is two)."""
    many_identities_postcodes: int = 3
    burst_min_records: int = 5
    site_share: float = 0.3
    site_min_records: int = 20

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlagParams:
        from vigil.errors import InvalidInput

        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise InvalidInput(f"unknown flag params {sorted(unknown)} (known: {sorted(known)})")
        return cls(**data)


def compute_flags(
    db: Database, case_name: str, actor: str, params: FlagParams | None = None
) -> dict[str, int]:
    """(Re)compute every record flag of a case; returns counts per code."""
    params = params or FlagParams()
    with db.read() as s:
        case = repo.get_case(s, case_name)
        recs = s.execute(
            select(
                PersonRecord.id,
                PersonRecord.card_token,
                PersonRecord.first_name_n,
                PersonRecord.surname_n,
                PersonRecord.postcode,
                PersonRecord.country,
                PersonRecord.card_country,
                PersonRecord.ip_country,
                PersonRecord.access_count,
                PersonRecord.verification_failed,
                PersonRecord.chargeback,
                PersonRecord.ts,
                PersonRecord.site,
                PersonRecord.card_bin,
            ).where(PersonRecord.case_id == case.id)
        ).all()
        cards = s.execute(
            select(
                PersonRef.card_token,
                PersonRef.category,
                PersonRef.detail,
                PersonRef.start,
                PersonRef.batch_id,
            ).where(PersonRef.kind == "compromised_cards")
        ).all()
        breaches = s.execute(
            select(
                PersonRef.detail,
                PersonRef.start,
                PersonRef.end,
                PersonRef.site,
                PersonRef.extra,
                PersonRef.batch_id,
            ).where(PersonRef.kind == "breaches")
        ).all()
        # names and postcodes per card across the whole store (fraud spans operations)
        usage = s.execute(
            select(
                PersonRecord.card_token,
                PersonRecord.id,
                PersonLink.person_id,
                PersonRecord.postcode,
            )
            .outerjoin(PersonLink, PersonLink.record_id == PersonRecord.id)
            .where(
                PersonRecord.card_token.in_(
                    select(PersonRecord.card_token).where(PersonRecord.case_id == case.id)
                )
            )
        ).all()
    listed: dict[str, dict[str, Any]] = {}
    for token, status, breach, reported, batch_id in cards:
        if token is None:
            continue
        listed[token] = {
            "status": status,
            "breach": breach,
            "reported_on": reported.date().isoformat() if reported else None,
            "list_batch": batch_id,
        }
    # identities per card: resolved persons (an unlinked record counts as its own identity),
    # so that one person's spelling variants are not "many names"
    names: dict[str, set[str]] = defaultdict(set)
    postcodes: dict[str, set[str]] = defaultdict(set)
    for token, rid, pid, pc in usage:
        if token is None:
            continue
        names[token].add(f"p{pid}" if pid is not None else f"r{rid}")
        if pc:
            postcodes[token].add(pc)
    # bursts: records per (breach, site) inside each breach window
    in_window: dict[int, list[int]] = defaultdict(list)
    timed = sorted((r for r in recs if r[11] is not None), key=lambda r: r[11])
    stamps = [r[11] for r in timed]
    for bi, (_name, start, end, site, extra, _b) in enumerate(breaches):
        bins = (extra or {}).get("bins") or []
        if start is None or end is None:
            continue
        # records inside the window, found by binary search on the sorted timestamps
        for r in timed[bisect.bisect_left(stamps, start) : bisect.bisect_right(stamps, end)]:
            rsite, rbin = r[12], r[13]
            if site and rsite != site:
                continue
            if bins and not (rbin and any(rbin.startswith(b) for b in bins)):
                continue
            in_window[bi].append(r[0])
    burst_of: dict[int, dict[str, Any]] = {}
    for bi, ids in in_window.items():
        if len(ids) >= params.burst_min_records:
            name, start, end, site, _extra, batch_id = breaches[bi]
            for rid in ids:
                burst_of[rid] = {
                    "breach": name,
                    "window": [start.isoformat(), end.isoformat()],
                    "site": site,
                    "records_in_window": len(ids),
                    "list_batch": batch_id,
                }
    rows: list[dict[str, Any]] = []
    flagged_by_site: dict[str, set[int]] = defaultdict(set)
    total_by_site: dict[str, int] = defaultdict(int)
    for r in recs:
        rid, token = r[0], r[1]
        country, card_country, ip_country = r[5], r[6], r[7]
        found: list[tuple[str, dict[str, Any]]] = []
        if token and token in listed:
            entry = listed[token]
            if entry["status"] in ("chargeback", "charged_back"):
                found.append(("chargeback", {"source": "list", **entry}))
            else:
                found.append(("card_compromised", entry))
        if r[10]:
            found.append(("chargeback", {"source": "record"}))
        if token and (
            len(names[token]) >= params.many_identities_names
            or len(postcodes[token]) >= params.many_identities_postcodes
        ):
            found.append(
                (
                    "card_many_identities",
                    {"identities": len(names[token]), "postcodes": len(postcodes[token])},
                )
            )
        billing = country or card_country
        if ip_country and billing and ip_country != billing:
            found.append(
                ("ip_country_mismatch", {"ip_country": ip_country, "billing_country": billing})
            )
        if r[8] is not None and r[8] == 0:
            found.append(("no_site_access", {"access_count": 0}))
        if r[9]:
            found.append(("verification_failed", {}))
        if rid in burst_of:
            found.append(("breach_burst", burst_of[rid]))
        seen: set[str] = set()
        for code, detail in found:
            if code in seen:
                continue
            seen.add(code)
            rows.append({"record_id": rid, "case_id": case.id, "code": code, "detail": detail})
        if r[12]:
            total_by_site[r[12]] += 1
            if seen:
                flagged_by_site[r[12]].add(rid)
    risky_sites = {
        site: len(flagged_by_site[site]) / n
        for site, n in total_by_site.items()
        if n >= params.site_min_records and len(flagged_by_site[site]) / n >= params.site_share
    }
    for r in recs:
        if r[12] in risky_sites:
            rows.append(
                {
                    "record_id": r[0],
                    "case_id": case.id,
                    "code": "site_high_fraud_share",
                    "detail": {"site": r[12], "flagged_share": round(risky_sites[r[12]], 3)},
                }
            )
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["code"]] += 1
    with db.write() as s:
        s.execute(delete(PersonRecordFlag).where(PersonRecordFlag.case_id == case.id))
        for i in range(0, len(rows), 20_000):
            s.execute(insert(PersonRecordFlag), rows[i : i + 20_000])
        audit.append(
            s,
            actor,
            "persons.flags",
            case_id=case.id,
            details={"counts": dict(counts), "params": params.__dict__},
        )
    return dict(counts)
