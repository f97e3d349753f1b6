"""Face clusters screen: blurred crops, reveal, same / not-same feedback, linking a cluster to a
victim record and deciding candidate links (faces seeded with a synthetic test model)."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import Image

from vigil.store import audit

from ._support import World, login_as


def test_clusters_crops_and_reveal(client: TestClient, world: World) -> None:
    csrf = login_as(client, world, "analyst1")
    page = client.get(f"/cases/{world.case_a}/faces")
    assert page.status_code == 200
    face = world.extra["face_id"][world.case_a]
    assert f"/cases/{world.case_a}/faces/{face}/crop" in page.text
    assert "V-case-a" in page.text  # the candidate link's identity
    assert "V-case-b" not in page.text
    crop = client.get(f"/cases/{world.case_a}/faces/{face}/crop")
    assert crop.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(crop.content)).mode == "L"
    other = world.extra["face_id"][world.case_b]
    assert client.get(f"/cases/{world.case_a}/faces/{other}/crop").status_code == 404
    resp = client.post(f"/cases/{world.case_a}/faces/{face}/reveal", headers={"X-CSRF-Token": csrf})
    assert "data:image/jpeg;base64," in resp.text
    with world.app_db.read() as s:
        reveals = [e.details for e in audit.iter_entries(s) if e.action == "media.reveal"]
    assert f'"face":{face}' in reveals[-1]


def test_feedback_link_and_decide(client: TestClient, world: World) -> None:
    csrf = login_as(client, world, "investigator1")
    base = f"/cases/{world.case_a}/faces"
    face = world.extra["face_id"][world.case_a]
    with world.app_db.read() as s:
        from vigil.store import faces as fstore

        clusters = fstore.case_clusters(s, world.case_a)
    second = clusters[1][0].representative_face_id
    resp = client.post(
        f"{base}/feedback",
        data={"face_a": face, "face_b": second, "kind": "same", "csrf_token": csrf},
    )
    assert resp.status_code == 303
    assert "same person" in client.get(base).text
    changed = client.post(  # a reviewer may change their mind about the same pair
        f"{base}/feedback",
        data={"face_a": face, "face_b": second, "kind": "different", "csrf_token": csrf},
    )
    assert changed.status_code == 303
    assert "not the same person" in client.get(base).text
    bad = client.post(
        f"{base}/feedback",
        data={"face_a": face, "face_b": second, "kind": "maybe", "csrf_token": csrf},
    )
    assert bad.status_code == 400
    foreign = world.extra["face_id"][world.case_b]
    resp = client.post(
        f"{base}/feedback",
        data={"face_a": face, "face_b": foreign, "kind": "same", "csrf_token": csrf},
    )
    assert resp.status_code == 404
    resp = client.post(f"{base}/clusters/1/link", data={"identity": "V-case-a", "csrf_token": csrf})
    assert resp.status_code == 303
    link = world.extra["link_id"][world.case_a]
    resp = client.post(
        f"{base}/links/{link}/decide", data={"status": "confirmed", "csrf_token": csrf}
    )
    assert resp.status_code == 303
    assert "confirmed" in client.get(base).text
    other_link = world.extra["link_id"][world.case_b]
    resp = client.post(
        f"{base}/links/{other_link}/decide", data={"status": "rejected", "csrf_token": csrf}
    )
    assert resp.status_code == 404
    with world.app_db.read() as s:
        actions = [e.action for e in audit.iter_entries(s, case_id=world.case_a)]
    assert {"faces.feedback", "victims.link", "faces.link_decide"} <= set(actions)


def test_a_likely_minor_face_is_marked_and_its_cluster_comes_first(
    client: TestClient, world: World
) -> None:
    from vigil.store import faces as fstore

    login_as(client, world, "analyst1")
    page = client.get(f"/cases/{world.case_a}/faces")
    assert "likely minor" not in page.text
    face = world.extra["face_id"][world.case_a]
    with world.app_db.write() as s:
        model = fstore.ensure_model(s, "age", "fake_age", "1", "0" * 64)
        age = {"status": "estimate", "low": 7.0, "median": 9.0, "high": 12.0, "p_minor": 0.98}
        fstore.add_age(s, face, model.id, dict(age, likely_minor=True))
    page = client.get(f"/cases/{world.case_a}/faces")
    assert page.text.count("likely minor") == 2  # the cluster heading and the face caption
    first_cluster = page.text.index('class="cluster"')
    assert page.text.index(f'id="face-{face}"') > first_cluster
    assert page.text.index("likely minor") < page.text.index('class="cluster"', first_cluster + 1)
