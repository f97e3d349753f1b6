"""Items whose evidence cannot be opened any more (the source folder moved or deleted): every
screen shows "evidence unavailable — source not found at <recorded path>" instead of a tile,
offers no reveal, and a reveal posted anyway is refused with that reason (audited)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import audit
from vigil.store import web as store
from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, login_form, page_csrf, synthetic_png


def _reveal_buttons(html: str, case_id: int) -> set[int]:
    return {int(i) for i in re.findall(rf'hx-post="/cases/{case_id}/items/(\d+)/reveal"', html)}


def test_unavailable_evidence_offers_no_reveal_and_refuses_one(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(3):
        (evidence / f"img_{n}.png").write_bytes(synthetic_png(n, size=200))
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    ingest(settings, db, evidence, "op-gone", "tester", workers=1)
    with db.write() as s:
        user = store.create_user(s, "inv", "investigator", hash_password(PASSWORD))
        case_id = store.list_cases(s)[0].id
        store.add_member(s, case_id, user.id)
        ids = [m.id for m in store.iter_case_items(s, case_id)]
        paths = store.first_paths(s, case_id, ids)
    by_name = {Path(paths[i]).name: i for i in ids}
    gone, kept = by_name["img_1.png"], by_name["img_0.png"]
    (evidence / "img_1.png").unlink()  # the evidence was moved after ingest
    missing_text = f"source not found at {evidence / 'img_1.png'}"

    app = create_app(settings, config=WebConfig(), db=db)  # default: evidence checked on disk
    with TestClient(app, follow_redirects=False) as client:
        assert login_form(client, "inv").status_code == 303
        screens = {
            "review": client.get(f"/cases/{case_id}/review").text,
            "items": client.get(f"/cases/{case_id}/items").text,
            "known/fresh": client.get(f"/cases/{case_id}/triage").text,  # one group per item
        }
        for name, html in screens.items():
            assert _reveal_buttons(html, case_id) == set(ids) - {gone}, name
            assert html.count("Evidence unavailable") == 1, name
            assert missing_text in html, name
        gone_page = client.get(f"/cases/{case_id}/items/{gone}").text
        assert _reveal_buttons(gone_page, case_id) == set()
        assert missing_text in gone_page
        assert f"/items/{gone}/thumb" not in gone_page  # no placeholder image either
        kept_page = client.get(f"/cases/{case_id}/items/{kept}").text
        assert _reveal_buttons(kept_page, case_id) == {kept}
        assert "Evidence unavailable" not in kept_page
        # the tile fragment (after "Hide") agrees
        assert (
            _reveal_buttons(client.get(f"/cases/{case_id}/items/{gone}/tile").text, case_id)
            == set()
        )

        csrf = page_csrf(kept_page)
        refused = client.post(
            f"/cases/{case_id}/items/{gone}/reveal", headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 409
        assert f"cannot reveal item #{gone}: its evidence is unavailable" in refused.text
        assert f"Evidence unavailable</b> — {missing_text}" in refused.text
        assert "data:image" not in refused.text
        assert refused.headers["X-Vigil-Fragment"] == "tile"
        shown = client.post(f"/cases/{case_id}/items/{kept}/reveal", headers={"X-CSRF-Token": csrf})
        assert shown.status_code == 200
        assert "data:image/jpeg;base64," in shown.text
    with db.read() as s:
        entries = [(e.action, e.item_id) for e in audit.iter_entries(s, case_id=case_id)]
    assert ("media.reveal_failed", gone) in entries
    assert ("media.reveal", kept) in entries
    assert ("media.reveal", gone) not in entries
    db.dispose()


def test_evidence_problems_per_recorded_path(tmp_path: Path) -> None:
    """Folder files, a path that became a folder, an archive member (the archive is what must
    be there), and an item found twice (one copy left is enough)."""
    from vigil.store.models import EvidenceSource, Occurrence
    from vigil.web.media import evidence_problems

    from ._support import build_world

    world = build_world(tmp_path / "w", photos=4)
    root = tmp_path / "card"
    (root / "DCIM").mkdir(parents=True)
    a0, a1, a2, a3, doc = world.items_a
    (root / "DCIM" / f"photo_{1000 * world.case_a + 0:04d}.png").write_bytes(b"x")
    (root / "DCIM" / f"photo_{1000 * world.case_a + 1:04d}.png").mkdir()  # not a file any more
    archive = tmp_path / "seized.zip"
    archive.write_bytes(b"PK")
    with world.app_db.write() as s:
        src = s.get(EvidenceSource, 1)
        assert src is not None and src.case_id == world.case_a
        src.path = str(root)
        arc = EvidenceSource(case_id=world.case_a, path=str(archive), kind="archive", status="done")
        gone = EvidenceSource(case_id=world.case_a, path=str(tmp_path / "gone.zip"), kind="archive")
        s.add_all([arc, gone])
        s.flush()
        s.add(Occurrence(source_id=arc.id, item_id=a2, path="x", raw_path=b"seized.zip!/in.png"))
        s.add(Occurrence(source_id=gone.id, item_id=a0, path="y", raw_path=b"gone.zip!/y.png"))
    problems = evidence_problems(world.app_db, world.case_a, [a0, a1, a2, a3, doc])
    assert a0 not in problems  # one of its two recorded copies is there
    assert a2 not in problems  # its archive is there (the member is found on reveal)
    assert problems[a1] == (
        f"source not readable at {root}/DCIM/photo_{1000 * world.case_a + 1:04d}.png"
    )
    assert problems[a3] == (
        f"source not found at {root}/DCIM/photo_{1000 * world.case_a + 3:04d}.png"
    )
    assert set(problems) == {a1, a3, doc}
    world.app_db.dispose()
