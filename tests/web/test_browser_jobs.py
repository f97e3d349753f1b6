"""Browser test (Debian's Chromium): a face scan started from the Faces screen is followed by
its status line while it runs and after; a second start from another tab is refused on screen;
a Reveal clicked on a stale page after the evidence went away is refused on screen (the 409
fragments are swapped in by ``static/vigil.js``). Screenshots go to tests/_artifacts/."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vigil.ingest.pipeline import ingest
from vigil.settings import Settings
from vigil.store import web as store
from vigil.store.db import Database
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, synthetic_png
from .test_browser import ARGS, CHROMIUM, SHOTS, _free_port

pytestmark = pytest.mark.browser


def test_scan_status_and_refusals_in_chromium(tmp_path: Path) -> None:
    import uvicorn
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed (bash scripts/install-system-deps.sh)")
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(4):
        (evidence / f"img_{n}.png").write_bytes(synthetic_png(40 + n, size=240))
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    ingest(settings, db, evidence, "op-jobs", "tester", analyzers=[], workers=1)
    with db.write() as s:
        user = store.create_user(s, "sup", "supervisor", hash_password(PASSWORD))
        case_id = store.list_cases(s)[0].id
        store.add_member(s, case_id, user.id)
    gate = threading.Event()
    app = create_app(settings, config=WebConfig(), db=db)

    def held(target: Callable[[], None], name: str) -> threading.Thread:
        worker = threading.Thread(target=lambda: (gate.wait(120), target()), name=name, daemon=True)
        worker.start()
        return worker

    app.state.vigil.spawn = held
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + "/login")
            page.fill("input[name=username]", "sup")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            other = context.new_page()  # a second tab, opened before the scan starts
            other.goto(f"{base}/cases/{case_id}/faces")
            page.goto(f"{base}/cases/{case_id}/faces")
            page.click("#scan-faces button:has-text('Scan for faces')")
            expect(page.locator("#scan-faces")).to_contain_text("Face scan running")
            page.screenshot(path=str(SHOTS / "20-face-scan-running.png"), full_page=True)
            # the stale tab still offers the button: its click is refused, on screen
            other.click("#scan-faces button:has-text('Scan for faces')")
            expect(other.locator("#scan-faces")).to_contain_text("already running")
            expect(other.locator("#scan-faces")).to_contain_text("Face scan running")
            page.reload()  # the job is in the store: a reload still shows it
            expect(page.locator("#scan-faces")).to_contain_text("Face scan running")
            gate.set()
            expect(page.locator("#scan-faces")).to_contain_text("Last face scan", timeout=120_000)
            expect(page.locator("#scan-faces")).to_contain_text("4 of 4 items scanned")
            page.screenshot(path=str(SHOTS / "21-face-scan-done.png"), full_page=True)

            # Reveal on a page loaded while the evidence was there, clicked after it went away
            page.goto(f"{base}/cases/{case_id}/items")
            expect(page.locator(".tile button.reveal")).to_have_count(4)
            (evidence / "img_2.png").unlink()
            tile = page.locator(".cell:has-text('img_2.png') .tile")
            tile_id = tile.get_attribute("id")
            tile.locator("button.reveal").click()
            refused = page.locator(f"#{tile_id}")
            expect(refused).to_contain_text("cannot reveal item")
            expect(refused).to_contain_text("source not found at")
            expect(refused.locator("button.reveal")).to_have_count(0)
            expect(page.locator(".tile img.clear")).to_have_count(0)
            page.screenshot(path=str(SHOTS / "22-reveal-refused.png"), full_page=True)
            browser.close()
        assert errors == [], errors
    finally:
        gate.set()
        srv.should_exit = True
        thread.join(timeout=10)
        db.dispose()
