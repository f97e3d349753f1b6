"""Face and place scans started from the browser: a background job whose state is in the store
(so any worker shows it), one at a time per case and kind, permission-checked and audited."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import web as store
from vigil.store.db import Database
from vigil.store.models import Job
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, login_form, page_csrf, synthetic_png

HX = {"HX-Request": "true"}


def _case(tmp_path: Path) -> tuple[Settings, Database, int]:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(3):
        (evidence / f"img_{n}.png").write_bytes(synthetic_png(n, size=160))
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    ingest(settings, db, evidence, "op-scan", "tester", analyzers=[], workers=1)
    with db.write() as s:
        case_id = store.list_cases(s)[0].id
        for name, role in (("sup", "supervisor"), ("ana", "analyst")):
            user = store.create_user(s, name, role, hash_password(PASSWORD))
            store.add_member(s, case_id, user.id)
    return settings, db, case_id


class Gate:
    """Runs spawned jobs in threads that wait for :meth:`open` (so "running" can be observed)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.threads: list[threading.Thread] = []

    def __call__(self, target: Callable[[], None], name: str) -> threading.Thread:
        def held() -> None:
            self.event.wait(60)
            target()

        worker = threading.Thread(target=held, name=name, daemon=True)
        worker.start()
        self.threads.append(worker)
        return worker

    def open(self) -> None:
        self.event.set()


def _poll(client: TestClient, url: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = client.get(url).text
        if "running</b>" not in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{url} still running after {timeout} s")


def test_scans_run_in_the_background_one_at_a_time(tmp_path: Path) -> None:
    settings, db, case_id = _case(tmp_path)
    gate = Gate()
    app = create_app(settings, config=WebConfig(), db=db)
    app.state.vigil.spawn = gate
    other_worker = create_app(settings, config=WebConfig(), db=db)  # same store, own memory
    faces_url = f"/cases/{case_id}/scans/faces"
    with (
        TestClient(app, follow_redirects=False) as client,
        TestClient(other_worker, follow_redirects=False) as other,
    ):
        login_form(client, "sup")
        login_form(other, "sup")
        sections = client.get(f"/cases/{case_id}/sections").text
        assert f'hx-post="{faces_url}"' in sections
        assert f'hx-post="/cases/{case_id}/scans/places"' in sections
        assert f'hx-post="/cases/{case_id}/scans/match"' in sections  # under Known vs fresh
        assert "vigil match" not in sections
        assert "Scan for faces</button>" in sections
        csrf = page_csrf(client.get(f"/cases/{case_id}").text)

        started = client.post(
            faces_url, data={"back": f"/cases/{case_id}"}, headers={**HX, "X-CSRF-Token": csrf}
        )
        assert started.status_code == 200
        assert "Face scan running</b>" in started.text
        assert 'hx-trigger="every 2s"' in started.text  # the line polls itself
        assert "Scan for faces" not in started.text
        # the second worker sees the job (it is in the store) and refuses a second one
        seen = other.get(faces_url).text
        assert "Face scan running</b>" in seen
        other_csrf = page_csrf(other.get(f"/cases/{case_id}").text)
        again = other.post(faces_url, headers={**HX, "X-CSRF-Token": other_csrf})
        assert again.status_code == 409
        assert "already running" in again.text and "started by sup" in again.text
        assert again.headers["X-Vigil-Fragment"] == "scan"
        plain = client.post(faces_url, data={"csrf_token": csrf})
        assert plain.status_code == 409 and "already running" in plain.text
        # a reload of the faces screen still shows it running
        assert "Face scan running</b>" in client.get(f"/cases/{case_id}/faces").text

        gate.open()
        done = _poll(other, faces_url)
        assert "Last face scan</b> finished" in done
        assert "3 of 3 items scanned" in done
        assert "0 new faces found" in done and "No faces in the new items" in done
        assert "Scan for faces again</button>" in done
        # the running line polls with poll=1; the poll that finds the scan over reloads the
        # page, so that the clusters and empty states the scan changed show too
        assert re.search(r"hx-get=\"[^\"]*scans/faces\?back=[^\"]*&amp;poll=1\"", started.text)
        over = client.get(faces_url, params={"poll": "1"}, headers=HX)
        assert over.headers.get("HX-Refresh") == "true"
        assert "HX-Refresh" not in client.get(faces_url, headers=HX).headers  # not a poll

        # a form without scripts: redirected back to where it came from
        places = client.post(
            f"/cases/{case_id}/scans/places",
            data={"csrf_token": csrf, "back": f"/cases/{case_id}/places"},
        )
        assert places.status_code == 303
        assert places.headers["location"] == f"/cases/{case_id}/places"
        finished = _poll(client, f"/cases/{case_id}/scans/places")
        assert "3 of 3 items now have scene features" in finished, finished
        assert f'href="/cases/{case_id}/review"' in finished  # what to do next
        # known/fresh matching is the same kind of job
        match_url = f"/cases/{case_id}/scans/match"
        matched = client.post(
            match_url,
            data={"back": f"/cases/{case_id}/triage"},
            headers={**HX, "X-CSRF-Token": csrf},
        )
        assert matched.status_code == 200
        matched_line = _poll(client, match_url)
        assert "3 items against 0 hash set(s): 3 fresh" in matched_line, matched_line
        assert f'href="/cases/{case_id}/triage">reload this page' in matched_line
        for worker in gate.threads:
            worker.join(timeout=60)
    with db.read() as s:
        jobs = list(s.execute(select(Job).where(Job.case_id == case_id)).scalars())
        actions = [e.action for e in audit.iter_entries(s, case_id=case_id)]
    assert sorted((j.kind, j.status) for j in jobs if j.kind.startswith("web.")) == [
        ("web.faces_scan", "done"),
        ("web.match", "done"),
        ("web.places_scan", "done"),
    ]
    for kind in ("faces", "places"):
        assert f"web.{kind}_scan_start" in actions
        assert f"web.{kind}_scan_done" in actions
    assert actions.count("web.faces_scan_start") == 1  # the refused ones started nothing
    db.dispose()


def test_scan_refused_without_the_right_and_stale_jobs_expire(tmp_path: Path) -> None:
    settings, db, case_id = _case(tmp_path)
    app = create_app(settings, config=WebConfig(), db=db)
    spawned: list[str] = []
    app.state.vigil.spawn = lambda _target, name: spawned.append(name)  # never runs
    url = f"/cases/{case_id}/scans/faces"
    with TestClient(app, follow_redirects=False) as client:
        login_form(client, "ana")
        csrf = page_csrf(client.get(f"/cases/{case_id}").text)
        refused = client.post(url, headers={**HX, "X-CSRF-Token": csrf})
        assert refused.status_code == 403
        line = client.get(url).text
        assert "Scan for faces" not in line
        assert "A supervisor or investigator of the case starts it" in line
        assert spawned == []

        client.cookies.clear()
        login_form(client, "sup")
        csrf = page_csrf(client.get(f"/cases/{case_id}").text)
        assert client.post(url, headers={**HX, "X-CSRF-Token": csrf}).status_code == 200
        assert spawned == [f"vigil-faces-{case_id}"]
        # the process that ran it died: no heartbeat for an hour
        with db.write() as s:
            job = s.execute(select(Job).where(Job.kind == "web.faces_scan")).scalar_one()
            job.updated_at = job.updated_at - dt.timedelta(hours=1)
        line = client.get(url).text
        assert "failed</b>" in line and "interrupted" in line
        assert "Scan for faces again</button>" in line
        assert client.post(url, headers={**HX, "X-CSRF-Token": csrf}).status_code == 200
    with db.read() as s:
        statuses = sorted(
            (j.id, j.status, j.error or "")
            for j in s.execute(select(Job).where(Job.kind == "web.faces_scan")).scalars()
        )
        denied = [
            e.details for e in audit.iter_entries(s, case_id=case_id) if e.action == "web.denied"
        ]
    assert [st for _i, st, _e in statuses] == ["failed", "running"]
    assert statuses[0][2].startswith("interrupted")
    assert any("lacks analysis.run" in d for d in denied)
    db.dispose()


def test_overview_cards_carry_no_cli_advice() -> None:
    """Summary texts end in "run `vigil match CASE`" for the CLI; the overview card drops it
    (the section offers the action itself)."""
    from vigil.web.overview import section_cards

    stale = (
        "OUT OF DATE: triage as of 2026-12-01 10:00 UTC; since then 1 hash set(s) loaded. "
        "Items may show as fresh that are now known: run `vigil match op-a`"
    )
    cards = section_cards("known_vs_fresh", "Known vs fresh", {"notice": stale, "hash_sets": 2})
    texts = [value for _label, value, _link in cards.cards]
    assert texts == [
        "OUT OF DATE: triage as of 2026-12-01 10:00 UTC; since then 1 hash set(s) loaded. "
        "Items may show as fresh that are now known",
        "2",
    ]
