"""The court-ready case report: contents, no images, export audited with its digest."""

from __future__ import annotations

import hashlib
import json

from fastapi.testclient import TestClient

from vigil.reports import court
from vigil.store import audit
from vigil.store import web as store

from ._support import World, login_as


def test_report_html_lists_sources_items_notes_and_custody(
    client: TestClient, world: World
) -> None:
    csrf = login_as(client, world, "investigator1")
    note = client.post(
        f"/cases/{world.case_a}/notes",
        data={"csrf_token": csrf, "text": "Examined <b>all</b> items on the card."},
    )
    assert note.status_code == 303
    client.post(
        f"/cases/{world.case_a}/items/{world.items_a[0]}/reveal", headers={"X-CSRF-Token": csrf}
    )
    resp = client.get(f"/cases/{world.case_a}/report.html")
    assert resp.status_code == 200
    html = resp.text
    with world.app_db.read() as s:
        src = store.case_sources(s, world.case_a)[0]
        digests = [(m.sha256, m.md5) for m in store.iter_case_items(s, world.case_a)]
        other = [m.sha256 for m in store.iter_case_items(s, world.case_b)]
    assert src.sha256 is not None
    assert src.sha256 in html
    for sha, md5 in digests:
        assert sha in html
        assert md5 in html
    for sha in other:
        assert sha not in html  # nothing of case B
    assert "Examined &lt;b&gt;all&lt;/b&gt; items" in html  # escaped
    assert "media.reveal" in html
    assert "note.add" in html
    assert "<img" not in html
    assert "data:image" not in html
    assert "verified:" in html


def test_report_pdf_and_export_audit(client: TestClient, world: World) -> None:
    login_as(client, world, "auditor1")
    resp = client.get(f"/cases/{world.case_a}/report.pdf")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF-")
    assert "attachment" in resp.headers["content-disposition"]
    with world.app_db.read() as s:
        exports = [e for e in audit.iter_entries(s) if e.action == "report.export"]
        details = json.loads(exports[-1].details)
    assert details["format"] == "pdf"
    assert details["sha256"] == hashlib.sha256(resp.content).hexdigest()


def test_report_build_counts_and_pdf_text(world: World) -> None:
    with world.app_db.read() as s:
        report = court.build(s, world.case_a, "tester")
    assert report.counts["totals"]["unique items"] == len(world.items_a)
    assert report.counts["items by kind"] == {"document": 1, "photo": len(world.items_a) - 1}
    assert [i.item_id for i in report.items] == sorted(world.items_a)
    pdf = court.to_pdf(report)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 2000
