"""The case's overlaps page: listed with the other agency and a link to the local item; confirm
and reject go to the hub with CSRF, as the agency, by case members with share.decide only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient

from vigil.share import keys
from vigil.store import share as sstore

from ._support import World, login_as


class FakeHub:
    calls: ClassVar[list[tuple[int, str]]] = []
    pushed: ClassVar[list[bytes]] = []

    def __init__(self, url: str, key: Any) -> None:
        self.url = url

    def push(self, envelope: bytes) -> dict[str, Any]:
        FakeHub.pushed.append(envelope)
        return {"signals": 1}

    def decide(self, overlap_id: int, decision: str) -> dict[str, Any]:
        FakeHub.calls.append((overlap_id, decision))
        return {"status": "rejected" if decision == "reject" else "open"}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[FakeHub]:
    import vigil.hub.client

    key = tmp_path / "agency.key"
    keys.write_keypair(keys.generate(), key, tmp_path / "agency.key.pub")
    monkeypatch.setenv("VIGIL_SHARE_KEY", str(key))
    monkeypatch.setattr(vigil.hub.client, "HubClient", FakeHub)
    FakeHub.calls = []
    FakeHub.pushed = []
    return FakeHub


def test_overlaps_page_lists_and_decides(
    client: TestClient, world: World, hub: type[FakeHub]
) -> None:
    overlap = world.extra["overlap_id"][world.case_a]
    url = f"/cases/{world.case_a}/overlaps"
    csrf = login_as(client, world, "investigator1")
    page = client.get(url).text
    assert "same_file" in page and "other (NL)" in page
    assert f'href="/cases/{world.case_a}/items/{world.items_a[0]}"' in page
    assert 'value="reject"' in page
    no_csrf = client.post(f"{url}/{overlap}/decision", data={"decision": "reject"})
    assert no_csrf.status_code == 403 and hub.calls == []
    resp = client.post(
        f"{url}/{overlap}/decision", data={"decision": "reject"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status_code == 303
    assert hub.calls == [(world.case_a, "reject")]  # the hub's overlap id (seeded = case id)
    with world.app_db.read() as s:
        row = sstore.get_overlap(s, overlap)
        assert (row.my_decision, row.status, row.decided_by) == (
            "reject",
            "rejected",
            "investigator1",
        )
    assert 'value="reject"' not in client.get(url).text


def test_analyst_sees_but_cannot_decide(
    client: TestClient, world: World, hub: type[FakeHub]
) -> None:
    overlap = world.extra["overlap_id"][world.case_a]
    csrf = login_as(client, world, "analyst1")
    url = f"/cases/{world.case_a}/overlaps"
    assert 'value="reject"' not in client.get(url).text
    resp = client.post(
        f"{url}/{overlap}/decision", data={"decision": "confirm"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status_code == 403 and hub.calls == []


def test_overlap_of_another_case_is_not_found_here(
    client: TestClient, world: World, hub: type[FakeHub]
) -> None:
    other = world.extra["overlap_id"][world.case_b]
    csrf = login_as(client, world, "investigator1")
    resp = client.post(
        f"/cases/{world.case_a}/overlaps/{other}/decision",
        data={"decision": "confirm"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status_code == 404 and hub.calls == []


def test_members_push_the_case_from_the_page(
    client: TestClient, world: World, hub: type[FakeHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from vigil.store import audit, repo
    from vigil.store.faces import FaceEmbedding
    from vigil.store.models import Case

    url = f"/cases/{world.case_a}/share"
    csrf = login_as(client, world, "investigator1")
    not_set_up = client.post(url, data={"operation": "ORE"}, headers={"X-CSRF-Token": csrf})
    assert not_set_up.status_code == 409 and hub.pushed == []  # no hub URL configured
    monkeypatch.setenv("VIGIL_HUB_URL", "https://hub.invalid")
    with world.app_db.write() as s:
        s.get(Case, world.case_a).agency_id = repo.ensure_agency(s, "de-bka", "DE").id
    assert 'action="/cases/' in client.get(f"/cases/{world.case_a}/overlaps").text
    # the test world's 4-d face vectors are no face templates: the policy refuses the export
    refused = client.post(url, data={"operation": "ORE"}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403 and "meta.dim=4" in refused.text and hub.pushed == []
    with world.app_db.write() as s:
        s.query(FaceEmbedding).delete()
    resp = client.post(url, data={"operation": "ORE"}, headers={"X-CSRF-Token": csrf})
    assert resp.status_code == 303
    (envelope,) = hub.pushed
    bundle = json.loads(envelope)["bundle"]
    assert bundle["header"]["agency"] == "de-bka" and bundle["header"]["operation"] == "ORE"
    assert {s["kind"] for s in bundle["signals"]} == {"md5", "sha1", "sha256"}
    with world.app_db.read() as s:
        entry = [e for e in audit.iter_entries(s) if e.action == "share.push"][-1]
        assert entry.actor == "investigator1" and entry.case_id == world.case_a
    csrf = login_as(client, world, "analyst1")
    assert (
        client.post(url, data={"operation": "ORE"}, headers={"X-CSRF-Token": csrf}).status_code
        == 403
    )
    csrf = login_as(client, world, "outsider")
    assert (
        client.post(url, data={"operation": "ORE"}, headers={"X-CSRF-Token": csrf}).status_code
        == 403
    )
    assert len(hub.pushed) == 1


def test_a_geometric_proof_shows_as_its_verdict_not_its_coordinates(
    client: TestClient, world: World, hub: type[FakeHub]
) -> None:
    overlap = world.extra["overlap_id"][world.case_a]
    points = [[10.5, 20.25, 30.5, 40.75]] * 42
    with world.app_db.write() as s:
        row = sstore.get_overlap(s, overlap)
        row.evidence = {
            **(row.evidence or {}),
            "proof": {
                "verdict": "same_room",
                "inliers": 42,
                "matches": 97,
                "coverage": 0.31,
                "points": points,
            },
        }
    login_as(client, world, "investigator1")
    page = client.get(f"/cases/{world.case_a}/overlaps").text
    assert "geometric proof: same_room, 42 inliers of 97 matches, coverage 0.31" in page
    assert "20.25" not in page
