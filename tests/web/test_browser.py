"""Browser test: Playwright (Python) driving Debian's Chromium against a real ``uvicorn`` server.

Walks the review work a new user does: log in, open a case, add generated evidence, review the
blurred items and reveal one, write a note, check the custody log and download the court
report. A screenshot of each main screen is saved under ``tests/_artifacts/screenshots/``.

Chromium comes from Debian (``scripts/install-system-deps.sh`` installs it; never
``playwright install``). Without it the test skips locally and fails on CI.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.settings import Settings
from vigil.store import audit
from vigil.store import web as store
from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, synthetic_png

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[1] / "_artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, Database]]:
    import uvicorn

    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is missing on CI: scripts/install-system-deps.sh")
        pytest.skip("Debian chromium not installed (bash scripts/install-system-deps.sh)")
    evidence = tmp_path / "evidence" / "seized-card"
    evidence.mkdir(parents=True)
    for n in range(6):
        (evidence / f"IMG_{n:04d}.png").write_bytes(synthetic_png(100 + n, size=320))
    (evidence / "notes.txt").write_text("generated text file\n", encoding="utf-8")
    faces = Path(__file__).resolve().parents[1] / "faces" / "data"  # public-domain adults
    for photo in sorted(faces.glob("*.jpg")):
        shutil.copyfile(photo, evidence / f"portrait_{photo.name}")
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    with db.write() as s:  # the supervisor's account is made in the browser, by the admin
        store.create_user(s, "admin", "administrator", hash_password(PASSWORD))
    port = _free_port()
    app = create_app(settings, config=WebConfig(evidence_roots=(tmp_path / "evidence",)), db=db)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", evidence, db
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        db.dispose()


def run_cli(args: list[str]) -> None:
    from vigil.cli.main import main

    assert main(args) == 0, args


def analyse(evidence: Path, tmp: Path) -> None:
    """What a unit runs after ingest through the CLI: a hash set, matching, face clusters and
    persons (the browser ingest already found the faces)."""
    known = hashlib.md5((evidence / "IMG_0000.png").read_bytes()).hexdigest()  # noqa: S324
    (tmp / "known.txt").write_text(f"md5\n{known}\n", encoding="utf-8")
    run_cli(
        [
            "hashsets",
            "import",
            str(tmp / "known.txt"),
            "--name",
            "test-known",
            "--format",
            "digest_list",
            "--scheme",
            "unspecified",
            "--source",
            "generated",
        ]
    )
    run_cli(["match", "op-browser"])
    run_cli(["faces", "cluster", "op-browser", "--no-search"])
    op = tmp / "op"
    run_cli(["persons", "generate", str(op), "--persons", "30", "--followup", "0"])
    run_cli(
        [
            "persons",
            "import",
            str(op / "records.csv"),
            "--case",
            "op-browser",
            "--mapping",
            str(op / "mapping.yaml"),
            "--source",
            "synthetic",
            "--legal-basis",
            "test data",
            "--received-from",
            "generator",
        ]
    )
    run_cli(["persons", "link", "--case", "op-browser"])


def test_review_walkthrough_in_chromium(
    server: tuple[str, Path, Database], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, evidence, db = server
    monkeypatch.setenv("VIGIL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VIGIL_USER", "sup")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # first run, no CLI: the administrator opens a case, adds an account, makes it a
        # member and adds the evidence, all from the screens
        page.goto(base + "/")
        expect(page).to_have_url(f"{base}/login?next=%2F")
        page.screenshot(path=str(SHOTS / "01-login.png"))
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Your cases")
        expect(page.locator("#first-run")).to_be_visible()
        page.screenshot(path=str(SHOTS / "01b-first-run.png"), full_page=True)
        page.fill("input[name=name]", "op-browser")
        page.fill("input[name=description]", "generated evidence for the browser test")
        page.click("text=Open case")
        expect(page.locator("h1")).to_have_text("Case set-up and members")
        page.click("text=Add an account")
        page.fill("input[name=username]", "sup")
        page.select_option("select[name=role]", "supervisor")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Add user')")
        expect(page.locator("body")).to_contain_text("Account sup added")
        page.click("button:has-text('Add to op-browser')")
        expect(page.locator(".case-setup")).to_contain_text("supervisor")
        page.fill(".ingest-form input[name=path]", str(evidence))
        page.click(".ingest-form button")
        for _ in range(120):
            if "ingest done" in page.locator(".case-setup").inner_text():
                break
            time.sleep(0.5)
            page.reload()
        expect(page.locator(".case-setup")).to_contain_text("ingest done")
        page.screenshot(path=str(SHOTS / "02-members.png"), full_page=True)
        page.click("button:has-text('Log out')")
        expect(page).to_have_url(f"{base}/login")

        # supervisor: log in, open the case, grade an item from its page
        page.fill("input[name=username]", "sup")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.click("text=op-browser")
        expect(page.locator("#count-items")).to_have_text("13")
        page.click(".case-nav >> text=Items")
        page.locator(".caption a").first.click()
        page.locator(".grade button.grade-btn").first.click()
        expect(page.locator(".grade-status").first).to_contain_text("sup=")
        analyse(evidence, tmp_path)
        page.goto(page.url.split("/items/")[0])
        # a face scan is started from the overview's Faces card and followed there (the
        # ingest found the faces already: this one has nothing left to do, and says so)
        page.click("#scan-faces button:has-text('Scan for faces')")
        expect(page.locator("#scan-faces")).to_contain_text("Last face scan", timeout=180_000)
        expect(page.locator("#scan-faces")).to_contain_text("nothing left to scan")
        page.reload()
        expect(page.locator("#scan-faces")).to_contain_text("Last face scan")
        page.screenshot(path=str(SHOTS / "03-case-overview.png"), full_page=True)

        page.click(".case-nav >> text=Items")
        tiles = page.locator(".tile img.blurred")
        expect(tiles).to_have_count(12)  # 6 + 6 photos + 1 text file, 1 known photo hidden
        expect(page.locator(".tile button.reveal")).to_have_count(11)
        for n in range(tiles.count()):
            expect(tiles.nth(n)).to_have_js_property("complete", True)
            assert tiles.nth(n).evaluate("img => img.naturalWidth") > 0
        page.screenshot(path=str(SHOTS / "04-items-blurred.png"), full_page=True)
        page.locator(".tile button.reveal").first.click()
        expect(page.locator(".tile img.clear")).to_have_count(1)
        expect(page.locator("#reveal-count")).to_have_text("1")
        page.screenshot(path=str(SHOTS / "05-item-revealed.png"), full_page=True)
        page.locator(".tile button.hide").first.click()
        expect(page.locator(".tile img.clear")).to_have_count(0)

        # known vs fresh: grade the first fresh group's representative
        page.click(".case-nav >> text=Known / fresh")
        expect(page.locator("body")).to_contain_text("1 known groups are hidden")
        # the unit's grading system (US 0-4 by default), each button explained
        expect(page.locator(".grade-legend").first).to_contain_text("1 = Child abuse material")
        page.locator(".grade button.grade-btn[value='1']").first.click()
        expect(page.locator(".grade-status").first).to_contain_text("sup=1")
        page.screenshot(path=str(SHOTS / "06-known-fresh.png"), full_page=True)

        # faces: clusters of the public-domain portraits; split one face off a cluster
        page.click(".case-nav >> text=Faces")
        expect(page.locator("section.cluster").first).to_be_visible()
        crops = page.locator("section.cluster img.blurred")
        for n in range(crops.count()):
            crops.nth(n).scroll_into_view_if_needed()
            expect(crops.nth(n)).to_have_js_property("complete", True)
            assert crops.nth(n).evaluate("img => img.naturalWidth") > 0
        page.screenshot(path=str(SHOTS / "07-faces.png"), full_page=True)
        split = page.locator("button:has-text('not the same (split)')")
        if split.count():
            split.first.click()
            expect(page.locator("body")).to_contain_text("not the same person")
            page.click("text=Re-cluster with feedback")
            expect(page.locator("h1")).to_have_text("Face clusters")

        # persons: prioritise, open the top person, record an outcome
        page.click(".case-nav >> text=Persons")
        page.click("#prioritise")
        expect(page.locator("table.list tr").nth(1)).to_be_visible()
        page.screenshot(path=str(SHOTS / "08-persons.png"), full_page=True)
        page.locator("table.list tr").nth(1).locator("a").first.click()
        page.select_option("#outcome-form select[name=stage]", "referred")
        page.click("#outcome-form button")
        expect(page.locator("#stage")).to_have_text("referred")
        page.screenshot(path=str(SHOTS / "09-person.png"), full_page=True)
        page.goto(page.url.split("/persons/")[0] + "/funnel")
        expect(page.locator("svg.chart")).to_be_visible()
        page.screenshot(path=str(SHOTS / "10-funnel.png"), full_page=True)

        page.click(".case-nav >> text=Items")
        page.locator(".caption a").first.click()
        expect(page.locator("h1")).to_contain_text("Item #")
        page.fill("textarea[name=text]", "Pattern image; no further action.")
        page.click("text=Save note")
        expect(page.locator(".note")).to_contain_text("Pattern image; no further action.")
        page.screenshot(path=str(SHOTS / "11-item-detail.png"), full_page=True)

        page.click(".case-nav >> text=Custody")
        expect(page.locator("body")).to_contain_text("media.reveal")
        page.screenshot(path=str(SHOTS / "12-custody.png"), full_page=True)

        with page.expect_download() as info:
            page.click("#report-pdf")
        download = info.value
        target = SHOTS.parent / "report.pdf"
        download.save_as(str(target))
        assert target.read_bytes().startswith(b"%PDF-")
        report = context.new_page()
        report.goto(page.url.rsplit("/custody", 1)[0] + "/report.html")
        expect(report.locator("h1")).to_contain_text("Case report: op-browser")
        report.screenshot(path=str(SHOTS / "13-report.png"), full_page=True)

        # evidence moved away after ingest: that item says so, and offers no reveal
        (evidence / "IMG_0003.png").unlink()
        page.click(".case-nav >> text=Items")
        gone = page.locator(".tile.unavailable")
        expect(gone).to_have_count(1)
        expect(gone).to_contain_text("source not found at")
        expect(gone.locator("button.reveal")).to_have_count(0)
        expect(page.locator(".tile button.reveal")).to_have_count(10)
        gone.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "14-evidence-unavailable.png"), full_page=True)
        page.locator(".cell:has(.tile.unavailable) .caption a").click()
        expect(page.locator(".tile.unavailable")).to_contain_text("IMG_0003.png")
        expect(page.locator(".tile button.reveal")).to_have_count(0)
        page.screenshot(path=str(SHOTS / "15-item-unavailable.png"), full_page=True)

        # a place scan from the Places screen: its status line follows it to the end
        page.click(".case-nav >> text=Places & leads")
        page.click("#scan-places button:has-text('Scan for places')")
        expect(page.locator("#scan-places")).to_contain_text("Last place scan", timeout=180_000)
        expect(page.locator("#scan-places")).to_contain_text("Search place candidates")
        page.screenshot(path=str(SHOTS / "16-places-scan.png"), full_page=True)
        browser.close()
    assert errors == [], errors
    with db.read() as s:
        actions = {e.action for e in audit.iter_entries(s)}
    assert {"web.login", "case.create", "user.add", "case.member_add", "web.ingest_done"} <= actions
    assert {"media.reveal", "note.add", "report.export"} <= actions
    assert {"grade.vote", "faces.cluster", "persons.prioritise", "persons.outcome"} <= actions
    assert {"web.faces_scan_start", "web.faces_scan_done"} <= actions
