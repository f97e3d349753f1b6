"""Persons queue, one person's evidence with cards masked by role, outcomes and the funnel."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from vigil.store import audit
from vigil.store.persons import Person, PersonAssessment, PersonBatch, PersonLink, PersonRecord

from ._support import World, login_as


def seed_persons(world: World) -> tuple[int, int]:
    """Two banded persons in case A (P2 then P1 by id) with records, factors and flags."""
    case = world.case_a
    with world.app_db.write() as s:
        batch = PersonBatch(
            case_id=case,
            kind="payments",
            file_name="synthetic.csv",
            sha256="0" * 64,
            size=1,
            source="generated",
            legal_basis="test",
            received_from="test",
            imported_by="test",
        )
        s.add(batch)
        s.flush()
        ids = []
        for n, (band, score) in enumerate((("P2", 40.0), ("P1", 90.0))):
            p = Person(
                case_id=case, label=f"Synthetic Person {n}", band=band, score=score, record_count=1
            )
            s.add(p)
            s.flush()
            rec = PersonRecord(
                batch_id=batch.id,
                case_id=case,
                line=n + 2,
                name=f"Synthetic Person {n}",
                card_bin="412345",
                card_last4=f"{n}{n}{n}{n}",
                ts=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            )
            s.add(rec)
            s.flush()
            s.add(PersonLink(record_id=rec.id, person_id=p.id, evidence={"rule": "exact card"}))
            s.add(
                PersonAssessment(
                    person_id=p.id,
                    case_id=case,
                    policy_name="default",
                    policy_sha256="1" * 64,
                    band=band,
                    score=score,
                    confidence="high" if n else "reduced",
                    factors=[
                        {"rule": "repeat_purchase", "weight": 10, "description": "bought twice"}
                    ],
                    flags=[{"record_id": rec.id, "code": "chargeback", "text": "charged back"}]
                    if n == 0
                    else [],
                )
            )
            ids.append(p.id)
    return ids[0], ids[1]


def test_queue_sorted_with_factors_and_flags(client: TestClient, world: World) -> None:
    p2, p1 = seed_persons(world)
    login_as(client, world, "analyst1")
    page = client.get(f"/cases/{world.case_a}/persons").text
    assert page.index(f"#{p1} ") < page.index(f"#{p2} ")  # P1 (higher score) first
    assert "repeat_purchase" in page
    assert "chargeback" in page
    assert "synthetic person of case-b" not in page


def test_person_cards_masked_by_role_and_outcome(client: TestClient, world: World) -> None:
    _, p1 = seed_persons(world)
    url = f"/cases/{world.case_a}/persons/{p1}"
    csrf = login_as(client, world, "investigator1")
    assert "4123 45** **** 1111" in client.get(url).text
    resp = client.post(
        f"{url}/outcome",
        data={"stage": "referred", "children": "0"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status_code == 303
    resp = client.post(
        f"{url}/outcome",
        data={"stage": "arrested", "children": "2", "note": "warrant"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status_code == 303
    assert '<td id="stage">arrested</td>' in client.get(url).text
    back = client.post(f"{url}/outcome", data={"stage": "referred"}, headers={"X-CSRF-Token": csrf})
    assert back.status_code == 409  # forward only
    funnel = client.get(f"/cases/{world.case_a}/funnel").text
    assert "<svg" in funnel
    assert ">2</div>children safeguarded" in funnel
    login_as(client, world, "analyst1")
    text = client.get(url).text
    assert "**** **** **** 1111" in text
    assert "412345" not in text
    assert "4123 45" not in text
    with world.app_db.read() as s:
        outcomes = [e.details for e in audit.iter_entries(s) if e.action == "persons.outcome"]
    assert len(outcomes) == 2


def test_person_of_another_case_not_reachable_through_mine(
    client: TestClient, world: World
) -> None:
    other = world.extra["person_id"][world.case_b]
    csrf = login_as(client, world, "investigator1")
    assert client.get(f"/cases/{world.case_a}/persons/{other}").status_code == 404
    resp = client.post(
        f"/cases/{world.case_a}/persons/{other}/outcome",
        data={"stage": "referred"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status_code == 404
