"""Browser test of the review widgets, in Debian's Chromium against a real ``uvicorn`` server:
keyboard grading of 20 items in the grid, bulk grading after a multi-select, the GPS map and the
capture-time timeline on generated positions, and — watching every image the browser receives —
no unblurred pixel before a deliberate reveal. Screenshots go to ``tests/_artifacts/``."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from vigil.settings import Settings
from vigil.store import web as store
from vigil.store.db import Database
from vigil.store.hashsets import Grade, TriageOutcome
from vigil.store.models import Case, EvidenceSource, MediaItem
from vigil.web.app import create_app
from vigil.web.config import WebConfig
from vigil.web.passwords import hash_password

from ._support import PASSWORD, add_item
from .test_browser import ARGS, CHROMIUM, SHOTS, _free_port

pytestmark = pytest.mark.browser
ITEMS = 36


def _seed(db: Database) -> tuple[int, list[int], dict[int, bytes]]:
    """A case of generated pictures: GPS in two places (London, Lyon) on every 3rd item,
    capture times on two devices, a third of the items fresh and a third near-known."""
    media: dict[int, bytes] = {}
    with db.write() as s:
        inv = store.create_user(s, "ivy", "investigator", hash_password(PASSWORD))
        case = Case(name="op-grid", description="generated")
        s.add(case)
        s.flush()
        src = EvidenceSource(
            case_id=case.id, path="/evidence/op-grid", kind="folder", status="done"
        )
        s.add(src)
        s.flush()
        ids = [add_item(s, case.id, src.id, 500 + n, media, "photo") for n in range(ITEMS)]
        for n, item_id in enumerate(ids):
            item = s.get(MediaItem, item_id)
            assert item is not None
            item.camera_make, item.camera_model = "GenCam", f"M{n % 2}"
            item.captured_at = f"2024-0{1 + n % 6}-{10 + n % 15}T{8 + n % 10:02d}:00:00"
            if n % 3 == 0:
                base = (51.5007, -0.1246) if n % 2 == 0 else (45.7640, 4.8357)
                item.gps_lat, item.gps_lon = base[0] + n * 1e-5, base[1] + n * 1e-5
            if n % 3 != 2:
                s.add(
                    TriageOutcome(
                        case_id=case.id,
                        item_id=item_id,
                        outcome="fresh" if n % 3 == 0 else "near_known",
                        perceptual="checked",
                        series=None if n % 3 == 0 else "GEN-SERIES",
                    )
                )
        store.add_member(s, case.id, inv.id)
        return case.id, ids, media


@pytest.fixture
def grid_server(tmp_path: Path) -> Iterator[tuple[str, int, list[int], dict[int, bytes], Database]]:
    import uvicorn

    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed (bash scripts/install-system-deps.sh)")
    settings = Settings.load(tmp_path / "home", workers=1)
    db = Database(settings.database_url)
    case_id, ids, media = _seed(db)

    def loader(_db: Database, item_id: int) -> bytes:
        return media[item_id]

    app = create_app(settings, config=WebConfig(), db=db, load_media=loader)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    try:
        yield f"http://127.0.0.1:{port}", case_id, ids, media, db
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        db.dispose()


def _edges(a: np.ndarray) -> float:
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


def assert_not_clear(body: bytes, original: bytes) -> None:
    """The bytes a browser got are not the item's pixels: greyscale and without its detail."""
    assert body != original
    img = Image.open(io.BytesIO(body))
    rgb = np.asarray(img.convert("RGB"), dtype=float)
    assert np.abs(rgb[..., 0] - rgb[..., 1]).max() <= 3  # no colour
    assert np.abs(rgb[..., 1] - rgb[..., 2]).max() <= 3
    grey = np.asarray(img.convert("L"), dtype=float)
    clear = np.asarray(Image.open(io.BytesIO(original)).convert("L").resize(img.size), dtype=float)
    assert _edges(grey) < 0.3 * _edges(clear)


CONTRAST_JS = """
() => {
  function rgb(text) {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) { return null; }
    const p = m[1].split(",").map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function lum(c) {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function background(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) { return c; }
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  }
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest("svg, .leaflet-container, .skip, option")) { continue; }
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) { continue; }
    const fg = rgb(getComputedStyle(el).color), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) { bad.push(`${el.tagName}.${el.className}: ${n.textContent.trim().slice(0, 30)} ${ratio.toFixed(2)}`); }
  }
  return bad;
}
"""
"""Every visible text (outside the map and charts) against its background: WCAG AA 4.5:1."""


def test_grid_keyboard_bulk_map_timeline_and_no_clear_pixels(
    grid_server: tuple[str, int, list[int], dict[int, bytes], Database],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, case_id, ids, media, db = grid_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    images: list[tuple[str, bytes]] = []
    revealed = {"started": False}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        def watch(resp: object) -> None:
            r = resp  # playwright Response
            ctype = r.headers.get("content-type", "")  # type: ignore[attr-defined]
            if ctype.startswith("image/") and not revealed["started"]:
                images.append((r.url, r.body()))  # type: ignore[attr-defined]

        page.on("response", watch)
        page.goto(base + "/login")
        page.fill("input[name=username]", "ivy")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.click("text=op-grid")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / "20-overview-cards.png"), full_page=True)
        contrast: list[str] = page.evaluate(CONTRAST_JS)

        # keyboard grading: 20 items, one key each, the focus moving on by itself
        page.click(".case-nav >> text=Review")
        grid = page.locator("#review-grid")
        expect(grid).to_have_attribute("data-ready", "true")
        expect(page.locator("#key-legend")).to_contain_text("Child abuse material")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / "21-review-grid.png"), full_page=False)
        contrast += page.evaluate(CONTRAST_JS)
        page.locator(".rcell").first.focus()
        for n in range(20):
            page.keyboard.press("1" if n % 2 == 0 else "2")
        expect(page.locator(".rcell.graded")).to_have_count(20)
        expect(page.locator(".rcell").nth(20)).to_be_focused()
        expect(page.locator(".rcell").first.locator(".rstatus")).to_contain_text("graded 1 by you")
        with db.read() as s:
            graded = s.execute(select(Grade.grade).where(Grade.case_id == case_id)).scalars().all()
        assert sorted(graded) == ["1"] * 10 + ["2"] * 10
        page.keyboard.press("ArrowDown")  # moves a row down: still in the grid
        assert page.evaluate("document.activeElement.classList.contains('rcell')")
        page.screenshot(path=str(SHOTS / "22-review-graded.png"), full_page=False)

        # bulk: the ungraded rest, selected by keyboard and checkbox, graded with one button
        page.select_option("select[name=status]", "ungraded")
        page.click("#review-filter button")
        expect(page.locator(".rcell")).to_have_count(ITEMS - 20)
        page.locator(".rcell").first.focus()
        page.keyboard.press("x")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("x")
        page.locator(".rcell").nth(2).locator("input.pick").check()
        expect(page.locator("#selected-count")).to_have_text("3")
        page.screenshot(path=str(SHOTS / "23-review-bulk.png"), full_page=False)
        page.click("#bulk-form button.grade-btn[value='3']")
        expect(page.locator(".rcell")).to_have_count(ITEMS - 23)
        with db.read() as s:
            assert s.execute(select(Grade).where(Grade.grade == "3")).scalars().all().__len__() == 3

        # the map of GPS clusters (two places) and the timeline (two devices)
        page.click(".case-nav >> text=Places")
        expect(page.locator("#gps-map")).to_have_attribute("data-ready", "2")
        expect(page.locator("#gps-map path.leaflet-interactive")).to_have_count(2)
        expect(page.locator("svg.timeline circle.mark")).to_have_count(ITEMS)
        page.locator("#gps-map path.leaflet-interactive").first.click()
        expect(page.locator(".leaflet-popup-content")).to_contain_text("Cluster")
        page.screenshot(path=str(SHOTS / "24-places-map-timeline.png"), full_page=True)
        contrast += page.evaluate(CONTRAST_JS)

        # the item page, the hub of its evidence
        page.goto(f"{base}/cases/{case_id}/items/{ids[1]}")
        expect(page.locator("h1")).to_contain_text("near-known")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / "25-item-hub.png"), full_page=True)
        contrast += page.evaluate(CONTRAST_JS)
        # keyboard only: the skip link is the first stop and lands on the content
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        # a 4K screen: the grid uses the width (more columns), nothing overflows sideways
        page.set_viewport_size({"width": 3840, "height": 2160})
        page.goto(f"{base}/cases/{case_id}/review")
        expect(grid).to_have_attribute("data-ready", "true")
        per_row = page.evaluate(
            "(() => { const c = [...document.querySelectorAll('.rcell')];"
            " return c.filter(e => e.offsetTop === c[0].offsetTop).length; })()"
        )
        assert per_row >= 14, per_row
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(SHOTS / "26-review-4k.png"), full_page=False)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/cases/{case_id}/items/{ids[1]}")

        # everything seen so far was blurred; now reveal one on purpose
        dom = page.content()
        assert "data:image" not in dom
        revealed["started"] = True
        page.click(".tile button.reveal")
        expect(page.locator(".tile img.clear")).to_have_count(1)
        browser.close()
    assert errors == [], errors
    assert contrast == [], contrast
    assert len(images) >= ITEMS // 2
    for url, body in images:
        found = re.search(r"/items/(\d+)/thumb$", url)
        assert found, f"an image came from a route that is not the blurred thumbnail: {url}"
        assert_not_clear(body, media[int(found.group(1))])
