"""The web page end to end in headless Chromium (Debian's, driven by Playwright's package)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.api.helpers import wait_in_page
from tests.services import missing_service

CHROMIUM = Path(os.environ.get("REELFLOW_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("BROWSER TEST NOT RUN: playwright missing (pip install playwright)")
    if not CHROMIUM.is_file():
        missing_service(
            f"BROWSER TEST NOT RUN: no Chromium at {CHROMIUM} (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_page_creates_starts_and_plays_a_reel(browser, live_server, worker, alice, tmp_path):
    page = browser.new_page(viewport={"width": 900, "height": 1400})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(live_server)
    page.fill("#token", alice.token)
    page.click("#signin-button")
    page.wait_for_selector("#project:not([hidden])")
    assert page.inner_text("#who") == "alice (standard)"
    page.fill("#script", "Made in the browser.")
    page.click("#create-button")
    page.wait_for_selector("#render:not([hidden])")
    for select, value in (
        ("#quality", "low"),
        ("#music_preset", "none"),
        ("#effects_preset", "none"),
    ):
        page.select_option(select, value)
    page.click("#start-button")
    page.wait_for_selector("#progress-section:not([hidden])")
    wait_in_page(page, "document.getElementById('bar').value >= 100", timeout_s=180)
    page.wait_for_selector("#result:not([hidden])", timeout=30_000)
    assert page.eval_on_selector("#video", "v => v.src.startsWith('blob:')")
    wait_in_page(page, "document.getElementById('video').readyState >= 1", timeout_s=30)
    assert page.eval_on_selector("#video", "v => v.duration") > 0.5
    assert page.inner_text("#stage") == "completed" and page.inner_text("#percent") == "100"
    shot = tmp_path / "viewer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert not problems, problems
    page.close()
