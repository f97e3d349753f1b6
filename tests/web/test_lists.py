"""Lists that grow are paginated: 10k rows generated straight into the store, and each page
stays one page (persons queue; more lists join as they get pages)."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import insert

from ._support import World, login_as

N = 10_000


def _persons(world: World) -> None:
    from vigil.store.persons import Person

    bands = ["A", "B", "C", None]
    rows = [
        {
            "case_id": world.case_a,
            "label": f"generated person {n}",
            "record_count": n % 7,
            "band": bands[n % 4],
            "score": float(n % 100),
            "stage": "identified",
        }
        for n in range(N)
    ]
    with world.app_db.write() as s:
        s.execute(insert(Person), rows)


def test_persons_queue_pages_sorts_and_filters_10k(client: TestClient, world: World) -> None:
    _persons(world)
    login_as(client, world, "investigator1")
    url = f"/cases/{world.case_a}/persons"
    started = time.perf_counter()
    first = client.get(url)
    elapsed = time.perf_counter() - started
    assert first.status_code == 200
    assert first.text.count('<tr>\n<td><a href="/cases/') == 50
    assert f"persons 1–50 of {N + 1}" in first.text  # + the seeded person
    assert elapsed < 5, elapsed  # one page, not the whole queue
    # the band filter is a select of the bands present, not free text
    options = re.findall(r'<option value="([^"]*)"', first.text.split('id="band-select"')[1])
    assert options[:5] == ["", "A", "B", "C", "(none)"]
    last = client.get(url, params={"page": (N // 50) + 1})
    assert "persons 10001–10001 of 10001" in last.text
    assert "next →" not in last.text
    banded = client.get(url, params={"band": "B", "sort": "records"})
    assert f"of {N // 4}" in banded.text
    counts = [int(c) for c in re.findall(r'<td class="num-cell">(\d+)</td><td>', banded.text)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == 6
    assert re.findall(r"<td>([A-C—])</td><td class=\"num-cell\">", banded.text) == ["B"] * 50


def test_face_clusters_and_links_page_at_10k(client: TestClient, world: World) -> None:
    from sqlalchemy import select

    from vigil.store.faces import FaceCluster, FaceLink

    with world.app_db.write() as s:
        seeded = (
            s.execute(select(FaceCluster).where(FaceCluster.case_id == world.case_a))
            .scalars()
            .first()
        )
        assert seeded is not None
        face, model = seeded.representative_face_id, seeded.model_id
        s.execute(
            insert(FaceCluster),
            [
                {
                    "case_id": world.case_a,
                    "label": 100 + k,
                    "size": 1 + k % 9,
                    "representative_face_id": face,
                    "model_id": model,
                    "threshold": 0.5,
                }
                for k in range(N)
            ],
        )
        s.execute(
            insert(FaceLink),
            [
                {
                    "case_id": world.case_a,
                    "face_id": face,
                    "target": f"face:{k}",
                    "distance": 0.4,
                    "rank": 1 + k % 5,
                    "threshold": 0.5,
                    "model_id": model,
                    "status": "candidate",
                }
                for k in range(N)
            ],
        )
    login_as(client, world, "investigator1")
    url = f"/cases/{world.case_a}/faces"
    started = time.perf_counter()
    page = client.get(url)
    assert time.perf_counter() - started < 5
    assert page.text.count('<section class="cluster"') == 24
    assert f"clusters 1–24 of {N + 2}" in page.text
    assert f"links 1–50 of {N + 1}" in page.text
    sizes = [int(n) for n in re.findall(r"<small>\((\d+) faces", page.text)]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] == 9
    last = client.get(url, params={"page": (N + 2 + 23) // 24, "links_page": (N + 1 + 49) // 50})
    assert "next clusters" not in last.text
    assert "next links" not in last.text
    assert f"of {N + 2}" in last.text


def test_custody_and_audit_pages_at_10k(client: TestClient, world: World) -> None:
    import datetime as dt

    from sqlalchemy import func, select

    from vigil.store.models import AuditAnchor, AuditEntry

    with world.app_db.write() as s:
        top = int(s.execute(select(func.max(AuditEntry.seq))).scalar_one() or 0)
        now = dt.datetime.now(dt.UTC)
        s.execute(
            insert(AuditEntry),
            [
                {
                    "seq": top + 1 + k,
                    "ts": now,
                    "actor": "generator",
                    "action": "web.view" if k % 2 else "grade.vote",
                    "case_id": world.case_a,
                    "item_id": None,
                    "details": "{}",
                    "prev_hash": "0" * 64,
                    "entry_hash": "0" * 64,
                }
                for k in range(N)
            ],
        )
        # move the chain's head past the generated rows so later appends follow them (the
        # chain itself is not what this test is about)
        anchor = s.get(AuditAnchor, 1)
        if anchor is None:
            s.add(AuditAnchor(id=1, seq=top + N, entry_hash="0" * 64))
        else:
            anchor.seq, anchor.entry_hash = top + N, "0" * 64
    login_as(client, world, "auditor1")
    url = f"/cases/{world.case_a}/custody"
    started = time.perf_counter()
    page = client.get(url)
    assert time.perf_counter() - started < 5
    rows = re.findall(r"<tr><td>(\d+)</td>", page.text)
    assert len(rows) == 100
    assert "web.view</td>" not in page.text  # views are counted, not listed
    assert f"{N // 2 + 1} page views not listed" in page.text  # + this one
    cursor = re.search(r'custody\?before=(\d+)" rel="next"', page.text)
    assert cursor is not None
    older = client.get(url, params={"before": cursor.group(1)}).text
    older_rows = re.findall(r"<tr><td>(\d+)</td>", older)
    assert len(older_rows) == 100
    assert int(older_rows[0]) < int(rows[-1])  # the next page carries on, no overlap
    audit_page = client.get("/admin/audit", params={"limit": 100}).text
    assert len(re.findall(r"<tr><td>(\d+)</td>", audit_page)) == 100
    assert 'rel="next"' in audit_page


def test_place_links_page_at_10k(client: TestClient, world: World) -> None:
    from sqlalchemy import select

    from vigil.store.places import Place, PlaceLink

    with world.app_db.write() as s:
        s.execute(
            insert(Place),
            [
                {"key": f"P-{k}", "name": f"room {k}", "created_by": "test"}
                for k in range(N // len(world.items_a) + 1)
            ],
        )
        ids = list(s.execute(select(Place.id).where(Place.key.like("P-%"))).scalars())
        rows = [
            {"place_id": p, "item_id": i, "status": "candidate", "created_by": "test"}
            for p in ids
            for i in world.items_a
        ][:N]
        s.execute(insert(PlaceLink), rows)
    login_as(client, world, "investigator1")
    url = f"/cases/{world.case_a}/places"
    started = time.perf_counter()
    page = client.get(url)
    assert time.perf_counter() - started < 5
    assert f"links 1–100 of {N}" in page.text
    last = client.get(url, params={"links_page": N // 100}).text
    assert f"links {N - 99}–{N} of {N}" in last
    assert "next links" not in last


def test_known_fresh_groups_page_at_10k(client: TestClient, world: World) -> None:
    from vigil.store.hashsets import TriageGroup

    outcomes = ["fresh", "near_known", "known"]
    with world.app_db.write() as s:
        s.execute(
            insert(TriageGroup),
            [
                {
                    "case_id": world.case_a,
                    "representative_item_id": world.items_a[k % 4],
                    "outcome": outcomes[k % 3],
                    "member_count": 1 + k % 5,
                    "occurrence_count": 1 + k % 97,
                }
                for k in range(N)
            ],
        )
    known = len(range(2, N, 3))
    listed = N - known
    login_as(client, world, "investigator1")
    url = f"/cases/{world.case_a}/triage"
    started = time.perf_counter()
    first = client.get(url)
    assert time.perf_counter() - started < 5
    assert first.status_code == 200
    assert first.text.count('<tr id="group-') == 100
    assert f"groups 1–100 of {listed}" in first.text
    assert f"{known} known groups are hidden" in first.text
    rows = re.findall(
        r'<span class="label outcome-(\w+)">\w+</span></td>\n<td>\d+</td><td>(\d+)</td>', first.text
    )
    assert [o for o, _ in rows] == ["fresh"] * 100  # fresh first
    files = [int(n) for _, n in rows]
    assert files == sorted(files, reverse=True) and files[0] == 97  # most files first
    fresh = len(range(0, N, 3))
    # the page where fresh turns into near-known: order carried across pages by the database
    turn = client.get(url, params={"page": fresh // 100 + 1}).text
    turned = re.findall(r'<span class="label outcome-(\w+)">', turn)
    assert turned == ["fresh"] * (fresh % 100) + ["near_known"] * (100 - fresh % 100)
    last_page = (listed + 99) // 100
    last = client.get(url, params={"page": last_page}).text
    assert f"groups {(last_page - 1) * 100 + 1}–{listed} of {listed}" in last
    assert 'rel="next"' not in last
    assert "outcome-known" not in last
    shown = client.get(url, params={"show_known": "true", "page": N // 100}).text
    assert f"of {N}" in shown
    assert re.findall(r'<span class="label outcome-(\w+)">', shown) == ["known"] * 100
    with_known = client.get(url, params={"show_known": "true"}).text
    assert 'triage?page=2&amp;show_known=true" rel="next"' in with_known  # the filter is kept
    # against the oracle: the whole list sorted in Python (vigil.triage.report.list_groups)
    from vigil.triage.report import list_groups

    with world.app_db.read() as s:
        oracle = list_groups(s, world.case_a, members=False)
    listed_ids = [g["group_id"] for g in oracle if g["outcome"] != "known"]
    for page_no in (1, 17, fresh // 100 + 1, last_page):
        html = client.get(url, params={"page": page_no}).text
        ids = [int(i) for i in re.findall(r'<tr id="group-(\d+)">', html)]
        assert ids == listed_ids[(page_no - 1) * 100 : page_no * 100], page_no
    # a link to one group opens the page that holds it
    for pos in (0, 99, 100, 4321, len(listed_ids) - 1):
        gid = listed_ids[pos]
        html = client.get(url, params={"group": gid}).text
        assert f'<tr id="group-{gid}">' in html, pos
        assert f"groups {pos // 100 * 100 + 1}–" in html, pos
