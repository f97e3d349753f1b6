"""Browser test: Playwright (Python) driving Debian's Chromium against a real ``uvicorn`` server.

Walks the review work a new user does: log in, open a case, add generated evidence, review the
blurred items and reveal one, write a note, check the custody log and download the court
report. A screenshot of each main screen is saved under ``tests/_artifacts/screenshots/``.

Chromium comes from Debian (``scripts/install-system-deps.sh`` installs it; never
``playwright install``). Without it the test skips locally and fails on CI.
"""

from __future__ import annotations

import os
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
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    with db.write() as s:
        store.create_user(s, "admin", "administrator", hash_password(PASSWORD))
        store.create_user(s, "sup", "supervisor", hash_password(PASSWORD))
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


def test_review_walkthrough_in_chromium(server: tuple[str, Path, Database]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, evidence, db = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # administrator: log in, open a case, give the supervisor access
        page.goto(base + "/")
        expect(page).to_have_url(f"{base}/login?next=%2F")
        page.screenshot(path=str(SHOTS / "01-login.png"))
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("Your cases")
        page.fill("input[name=name]", "op-browser")
        page.fill("input[name=description]", "generated evidence for the browser test")
        page.click("text=Open case")
        expect(page.locator("h1")).to_have_text("Case members")  # admins see no case content
        form = page.locator("form", has=page.locator("input[name=case_id]")).first
        form.locator("select[name=username]").select_option("sup")
        form.locator("button").click()
        expect(page.locator("body")).to_contain_text("sup (supervisor)")
        page.screenshot(path=str(SHOTS / "02-members.png"), full_page=True)
        page.click("button:has-text('Log out')")
        expect(page).to_have_url(f"{base}/login")

        # supervisor: log in, add evidence, review
        page.fill("input[name=username]", "sup")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.click("text=op-browser")
        page.fill("#ingest-form input[name=path]", str(evidence))
        page.click("#ingest-form button")
        for _ in range(120):
            if page.locator("#count-items").inner_text().strip() not in ("0", ""):
                break
            time.sleep(0.5)
            page.reload()
        expect(page.locator("#count-items")).to_have_text("7")
        page.screenshot(path=str(SHOTS / "03-case-overview.png"), full_page=True)

        page.click(".case-nav >> text=Items")
        tiles = page.locator(".tile img.blurred")
        expect(tiles).to_have_count(7)  # 6 photos + 1 text file (placeholder)
        expect(page.locator(".tile button.reveal")).to_have_count(6)
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

        page.locator(".caption a").first.click()
        expect(page.locator("h1")).to_contain_text("Item #")
        page.fill("textarea[name=text]", "Pattern image; no further action.")
        page.click("text=Save note")
        expect(page.locator(".note")).to_contain_text("Pattern image; no further action.")
        page.screenshot(path=str(SHOTS / "06-item-detail.png"), full_page=True)

        page.click(".case-nav >> text=Custody")
        expect(page.locator("body")).to_contain_text("media.reveal")
        page.screenshot(path=str(SHOTS / "07-custody.png"), full_page=True)

        with page.expect_download() as info:
            page.click("#report-pdf")
        download = info.value
        target = SHOTS.parent / "report.pdf"
        download.save_as(str(target))
        assert target.read_bytes().startswith(b"%PDF-")
        report = context.new_page()
        report.goto(page.url.rsplit("/custody", 1)[0] + "/report.html")
        expect(report.locator("h1")).to_contain_text("Case report: op-browser")
        report.screenshot(path=str(SHOTS / "08-report.png"), full_page=True)
        browser.close()
    assert errors == [], errors
    with db.read() as s:
        actions = {e.action for e in audit.iter_entries(s)}
    assert {"web.login", "case.create", "case.member_add", "web.ingest_done"} <= actions
    assert {"media.reveal", "note.add", "report.export"} <= actions
