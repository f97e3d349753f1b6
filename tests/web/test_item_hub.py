"""The item page as the hub of the item's evidence: known/fresh with the matching set, visual
duplicates, faces with clusters and victim candidates, place links, camera/GPS and custody."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vigil.store.hashsets import HashSet, TriageGroup, TriageOutcome

from ._support import World, login_as


def _seed_triage(world: World) -> int:
    """Items 0 and 1 of case A in one group: 0 near-known (set, category, distance), 1 fresh."""
    a0, a1 = world.items_a[0], world.items_a[1]
    with world.app_db.write() as s:
        hs = HashSet(
            name="synthetic-set", format="pdq_csv", scheme="vics_us", source="t", imported_by="t"
        )
        s.add(hs)
        s.flush()
        group = TriageGroup(
            case_id=world.case_a,
            representative_item_id=a0,
            outcome="near_known",
            member_count=2,
            occurrence_count=2,
        )
        s.add(group)
        s.flush()
        s.add_all(
            [
                TriageOutcome(
                    case_id=world.case_a,
                    item_id=a0,
                    outcome="near_known",
                    perceptual="checked",
                    best_set_id=hs.id,
                    category="1",
                    distance=12,
                    group_id=group.id,
                    group_distance=0,
                ),
                TriageOutcome(
                    case_id=world.case_a,
                    item_id=a1,
                    outcome="fresh",
                    perceptual="checked",
                    group_id=group.id,
                    group_distance=7,
                ),
            ]
        )
        return group.id


def test_item_page_shows_the_evidence_of_every_capability(client: TestClient, world: World) -> None:
    group_id = _seed_triage(world)
    a0, a1 = world.items_a[0], world.items_a[1]
    login_as(client, world, "investigator1")
    page = client.get(f"/cases/{world.case_a}/items/{a0}")
    assert page.status_code == 200
    html = page.text
    assert 'class="badge outcome-near_known"' in html
    assert "synthetic-set" in html
    assert "PDQ distance</th><td>12" in html
    assert f'href="/cases/{world.case_a}/triage?group={group_id}' in html
    assert f'#group-{group_id}"' in html
    # the other member of its group, blurred, linked, with its distance
    assert f'href="/cases/{world.case_a}/items/{a1}"' in html
    assert "d=7" in html
    # faces with cluster and the seeded victim-record candidate
    assert f"/cases/{world.case_a}/faces/{world.extra['face_id'][world.case_a]}/crop" in html
    assert f'href="/cases/{world.case_a}/faces#cluster-0"' in html
    assert "victim record <b>V-case-a</b>" in html
    # place search, custody
    assert f'href="/cases/{world.case_a}/items/{a0}/places"' in html
    assert 'id="custody-h"' in html
    # the fresh member points back to its representative
    other = client.get(f"/cases/{world.case_a}/items/{a1}").text
    assert "fresh</b> — matches no loaded hash set" in other
    assert f'representative <a href="/cases/{world.case_a}/items/{a0}">' in other


def test_item_page_hides_known_duplicates_and_custody_by_role(
    client: TestClient, world: World
) -> None:
    _seed_triage(world)
    with world.app_db.write() as s:
        row = s.query(TriageOutcome).filter_by(item_id=world.items_a[0]).one()
        row.outcome = "known"
    login_as(client, world, "analyst1")  # no media.known, no custody.view
    html = client.get(f"/cases/{world.case_a}/items/{world.items_a[1]}").text
    assert f'href="/cases/{world.case_a}/items/{world.items_a[0]}"><img' not in html
    assert 'id="custody-h"' not in html
