"""Grid review: status filters, sorts, pagination at 10k items, bulk grade and tag, the JSON
answer the keyboard uses, and the role and case checks on the new routes."""

from __future__ import annotations

import hashlib
import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from vigil.store.hashsets import Grade, TriageOutcome
from vigil.store.models import EvidenceSource, MediaItem, Occurrence

from ._support import World, login_as

N = 10_000


def bulk_items(world: World, n: int = N) -> list[int]:
    """``n`` generated items in case A, straight into the store (no pixels: never rendered
    unblurred here), every 3rd fresh, every 3rd+1 near-known in series S-k, the rest unmatched,
    with capture times counting down so time order differs from id order."""
    with world.app_db.write() as s:
        src = s.execute(
            select(EvidenceSource.id).where(EvidenceSource.case_id == world.case_a)
        ).scalar_one()
        start = (
            int(
                s.execute(select(MediaItem.id).order_by(MediaItem.id.desc())).scalars().first() or 0
            )
            + 1
        )
        rows = []
        for k in range(n):
            digest = hashlib.sha256(f"bulk {k}".encode()).hexdigest()
            rows.append(
                {
                    "id": start + k,
                    "sha256": digest,
                    "sha1": digest[:40],
                    "md5": digest[:32],
                    "size": 10,
                    "content_type": "png",
                    "kind": "photo",
                    "extractor_version": "test",
                    "captured_at": f"2024-01-01T{(n - k) // 3600:02d}:{(n - k) // 60 % 60:02d}:{(n - k) % 60:02d}"
                    if k % 2 == 0
                    else None,
                }
            )
        s.execute(insert(MediaItem), rows)
        s.execute(
            insert(Occurrence),
            [
                {
                    "source_id": src,
                    "item_id": start + k,
                    "path": f"bulk/{k}.png",
                    "raw_path": f"bulk/{k}.png".encode(),
                }
                for k in range(n)
            ],
        )
        s.execute(
            insert(TriageOutcome),
            [
                {
                    "case_id": world.case_a,
                    "item_id": start + k,
                    "outcome": "fresh" if k % 3 == 0 else "near_known",
                    "perceptual": "checked",
                    "series": None if k % 3 == 0 else f"S-{k % 5}",
                }
                for k in range(n)
                if k % 3 != 2
            ],
        )
    return list(range(start, start + n))


def tiles(html: str) -> list[int]:
    return [
        int(i)
        for i in re.findall(r'class="rcell[^"]*" role="gridcell"[^>]*data-item="(\d+)"', html)
    ]


def test_review_grid_filters_sorts_and_pages_10k(client: TestClient, world: World) -> None:
    ids = bulk_items(world)
    login_as(client, world, "investigator1")
    url = f"/cases/{world.case_a}/review"
    started = time.perf_counter()
    page = client.get(url)
    elapsed = time.perf_counter() - started
    assert page.status_code == 200
    assert len(tiles(page.text)) == 120
    total = N + len(world.items_a)
    assert f"items 1–120 of {total}" in page.text
    assert elapsed < 5, elapsed
    first = tiles(page.text)
    assert all((i - ids[0]) % 3 == 0 for i in first)  # fresh first
    fresh = client.get(url, params={"status": "fresh", "size": 240, "page": 14}).text
    assert f"of {len(range(0, N, 3))}" in fresh
    assert "next →" not in fresh
    near = client.get(url, params={"status": "near_known", "sort": "series"}).text
    got = tiles(near)
    assert all((i - ids[0]) % 3 == 1 for i in got)
    assert all((i - ids[0]) % 5 == 0 for i in got[:100])  # series S-0 first
    timed = tiles(client.get(url, params={"sort": "time"}).text)
    assert timed[0] == ids[-2]  # the latest index with a time has the earliest clock
    assert client.get(url, params={"status": "bogus"}).status_code == 400
    # the keys of the unit's grading system are on screen, with their labels
    assert "<kbd>1</kbd> grade 1" in page.text
    assert "Child abuse material" in page.text


def test_bulk_and_keyboard_grading_and_tags(client: TestClient, world: World) -> None:
    csrf = login_as(client, world, "investigator1")
    url = f"/cases/{world.case_a}/review"
    a = world.items_a
    back = f"{url}?status=ungraded"
    resp = client.post(
        f"{url}/grade",
        data={"csrf_token": csrf, "item_id": a[:3], "grade": "2", "back": back},
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == back
    with world.app_db.read() as s:
        votes = s.execute(
            select(Grade.item_id, Grade.grade).where(Grade.case_id == world.case_a)
        ).all()
    assert sorted(votes) == [(i, "2") for i in a[:3]]
    ungraded = tiles(client.get(url, params={"status": "ungraded"}).text)
    assert set(a[:3]).isdisjoint(ungraded)
    assert a[3] in ungraded
    # the keyboard path: one item, JSON back, for the tile's status line
    resp = client.post(
        f"{url}/grade",
        data={"item_id": a[3], "grade": "1"},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert resp.json() == {
        "items": {
            str(a[3]): {
                "mine": "1",
                "text": "graded 1 by you",
                "trusted": False,
                "conflict": False,
                "votes": 1,
            }
        }
    }
    # a second reviewer disagrees: the conflict filter finds it
    csrf2 = login_as(client, world, "supervisor1")
    client.post(f"{url}/grade", data={"csrf_token": csrf2, "item_id": a[0], "grade": "3"})
    conflict = client.get(url, params={"status": "conflict"}).text
    assert tiles(conflict) == [a[0]]
    assert "conflict: 2 / 3" in conflict
    # bulk tag: a note per item, audited
    resp = client.post(
        f"{url}/tag", data={"csrf_token": csrf2, "item_id": a[:2], "tag": "series  X"}
    )
    assert resp.status_code == 303
    item_page = client.get(f"/cases/{world.case_a}/items/{a[1]}").text
    assert "tag: series X" in item_page
    # refusals: no item, an item of another case, a bad grade, an off-site return address
    assert client.post(f"{url}/grade", data={"csrf_token": csrf2, "grade": "1"}).status_code == 400
    other = client.post(
        f"{url}/grade", data={"csrf_token": csrf2, "item_id": world.items_b[0], "grade": "1"}
    )
    assert other.status_code == 404
    assert (
        client.post(
            f"{url}/grade", data={"csrf_token": csrf2, "item_id": a[0], "grade": "Z"}
        ).status_code
        == 400
    )
    away = client.post(
        f"{url}/grade",
        data={
            "csrf_token": csrf2,
            "item_id": a[0],
            "grade": "1",
            "back": "https://elsewhere.example/",
        },
    )
    assert away.headers["location"] == url


def test_known_items_need_media_known(client: TestClient, world: World) -> None:
    with world.app_db.write() as s:
        s.add(
            TriageOutcome(
                case_id=world.case_a,
                item_id=world.items_a[0],
                outcome="known",
                perceptual="checked",
            )
        )
    login_as(client, world, "analyst1")
    url = f"/cases/{world.case_a}/review"
    assert world.items_a[0] not in tiles(client.get(url).text)
    assert client.get(url, params={"status": "known"}).status_code == 403
    assert client.get(url, params={"show_known": "true"}).status_code == 403
    login_as(client, world, "investigator1")
    assert tiles(client.get(url, params={"status": "known"}).text) == [world.items_a[0]]
