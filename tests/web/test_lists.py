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
