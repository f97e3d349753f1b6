"""Known/fresh screen and grading, on triage rows written as the matching step writes them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vigil.store import audit
from vigil.store.hashsets import HashSet, TriageGroup, TriageOutcome

from ._support import World, login_as


def seed_triage(world: World) -> tuple[int, int, int]:
    known, fresh, near = world.items_a[0], world.items_a[1], world.items_a[2]
    with world.app_db.write() as s:
        hs = HashSet(
            name="test-set",
            format="digest_list",
            scheme="uk_caid",
            source="generated",
            imported_by="test",
        )
        s.add(hs)
        s.flush()
        for item_id, outcome, category, distance in (
            (known, "known", "B", 0),
            (fresh, "fresh", None, None),
            (near, "near_known", "C", 12),
        ):
            g = TriageGroup(
                case_id=world.case_a,
                representative_item_id=item_id,
                outcome=outcome,
                member_count=1,
                occurrence_count=1,
            )
            s.add(g)
            s.flush()
            s.add(
                TriageOutcome(
                    case_id=world.case_a,
                    item_id=item_id,
                    outcome=outcome,
                    perceptual="checked",
                    best_set_id=hs.id if category else None,
                    category=category,
                    distance=distance,
                    group_id=g.id,
                    group_distance=0,
                )
            )
    return known, fresh, near


def test_groups_fresh_first_known_hidden(client: TestClient, world: World) -> None:
    login_as(client, world, "investigator1")
    empty = client.get(f"/cases/{world.case_a}/triage")
    assert empty.status_code == 200
    assert "Nothing matched yet" in empty.text  # explains the missing step ...
    assert f'href="/cases/{world.case_a}/review"' in empty.text  # ... and links on
    known, fresh, near = seed_triage(world)
    page = client.get(f"/cases/{world.case_a}/triage").text
    assert f"/items/{known}/thumb" not in page
    assert page.index(f"/items/{fresh}/thumb") < page.index(f"/items/{near}/thumb")
    assert "1 known groups are hidden" in page
    shown = client.get(f"/cases/{world.case_a}/triage?show_known=true").text
    assert f"/items/{known}/thumb" in shown
    items = client.get(f"/cases/{world.case_a}/items").text  # item list: same provider
    assert f"/items/{known}/thumb" not in items
    assert items.index(f"/items/{fresh}/thumb") < items.index(f"/items/{world.items_a[3]}/thumb")
    assert "1 known hidden" in items
    login_as(client, world, "analyst1")
    assert client.get(f"/cases/{world.case_a}/triage?show_known=true").status_code == 403


def test_grading_votes_trusted_and_conflict(client: TestClient, world: World) -> None:
    _, fresh, _ = seed_triage(world)
    url = f"/cases/{world.case_a}/items/{fresh}/grade"
    for user in ("investigator1", "analyst1"):
        csrf = login_as(client, world, user)
        resp = client.post(url, data={"grade": "B"}, headers={"X-CSRF-Token": csrf})
        assert resp.status_code == 200
        assert "trusted" not in resp.text
    csrf = login_as(client, world, "supervisor1")
    resp = client.post(url, data={"grade": "b"}, headers={"X-CSRF-Token": csrf})
    assert "trusted B" in resp.text
    bad = client.post(url, data={"grade": "Z"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 400
    csrf = login_as(client, world, "partner1")  # partners may not grade
    assert client.post(url, data={"grade": "A"}, headers={"X-CSRF-Token": csrf}).status_code == 403
    csrf = login_as(client, world, "analyst1")
    resp = client.post(url, data={"grade": "A"}, headers={"X-CSRF-Token": csrf})
    assert "conflict" in resp.text
    grades = client.get(f"/cases/{world.case_a}/grades").text
    assert "analyst1=A" in grades
    assert "conflict" in grades
    detail = client.get(f"/cases/{world.case_a}/items/{fresh}").text
    assert "supervisor1=B" in detail
    with world.app_db.read() as s:
        votes = [e.actor for e in audit.iter_entries(s) if e.action == "grade.vote"]
    assert votes == ["investigator1", "analyst1", "supervisor1", "analyst1"]


def test_triage_screen_says_as_of_and_out_of_date(client: TestClient, world: World) -> None:
    from vigil.store import repo
    from vigil.triage.freshness import catalogue_signature, record_state

    login_as(client, world, "investigator1")
    seed_triage(world)  # outcomes without a recorded catalogue: not provably current
    page = client.get(f"/cases/{world.case_a}/triage").text
    assert "Out of date" in page and "did not record the hash sets" in page
    # the way out is a button (matching as a background job), not a CLI command
    assert "vigil match" not in page
    assert f'hx-get="/cases/{world.case_a}/scans/match?back=' in page
    assert f'action="/cases/{world.case_a}/scans/match"' in page
    with world.app_db.write() as s:
        items = repo.case_item_count(s, world.case_a)
        record_state(s, world.case_a, threshold=31, items=items, catalogue=catalogue_signature(s))
    page = client.get(f"/cases/{world.case_a}/triage").text
    assert "Triage as of" in page and "Out of date" not in page
    with world.app_db.write() as s:  # a hash set loaded after matching
        s.add(
            HashSet(name="late", format="digest_list", scheme="none", source="t", imported_by="t")
        )
    page = client.get(f"/cases/{world.case_a}/triage").text
    assert "Out of date" in page and "1 hash set(s) loaded" in page
