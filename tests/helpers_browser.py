"""What the browser tests share: Debian's chromium through Playwright, the studio served on a free port,
screenshots in test-artifacts/browser/ and waiting for the page's text. The `studio` and `page` fixtures
that use them are in conftest.py."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers_app import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXAMPLE_TITLE = "SynthRef: crosses (41 frames)"
PAGE_TIMEOUT_MS = 90_000
T0 = [0.0]
"""When the test started (`snap` prints the seconds since)."""


@contextmanager
def chromium_page(timeout_ms: int = PAGE_TIMEOUT_MS, height: int = 2400) -> Iterator:
    """A page in headless chromium, tall enough for the whole studio: a full-page screenshot would resize
    the viewport and redraw every canvas, which costs seconds on a busy 2-core machine."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium): the browser tests drive Debian's "
                    "chromium and download no browser")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


@contextmanager
def served(service) -> Iterator[str]:
    """The studio page of `service`, served without blocking; yields its local URL."""
    from app.server import ServeOptions, serve
    from app.ui import build_app
    demo = serve(build_app(service), service, ServeOptions(port=free_port(), block=False))
    try:
        yield demo.local_url
    finally:
        demo.close()


def wait_text(page, selector: str, text: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Wait until the element's text contains `text` (the page answered the step)."""
    page.wait_for_function("([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
                           arg=[selector, text], timeout=timeout_ms)


def snap(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"{time.perf_counter() - T0[0]:6.1f} s  {path.name}")
    return path


def load_example(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Load the shipped SynthRef example through the video panel, as a user does."""
    page.locator("#example-choice input").click()
    page.get_by_role("option", name=EXAMPLE_TITLE).click()
    page.click("#load-example")
    wait_text(page, "#video-info", "41 frames", timeout_ms)


def run_expression(page, expression: str, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Type `expression`, press Run and wait for the run's summary."""
    page.fill("#expression textarea", expression)
    page.click("#run")
    wait_text(page, "#run-status", "Run #", timeout_ms)


def select_nothing(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Move the threshold to 1, so that no trajectory is selected (objects are then picked by hand)."""
    threshold = page.locator("#threshold input[type=number]")
    threshold.fill("1")
    threshold.press("Enter")
    wait_text(page, "#run-status", "Threshold 1.00: 0 of", timeout_ms)
    wait_text(page, "#answer-note", "nothing selected", timeout_ms)


def screen_point(page, x: int, y: int, scale: int) -> tuple[float, float]:
    """Where video pixel (x, y) is on the screen in the overlay image (shown with object-fit: contain)."""
    page.wait_for_function("() => document.querySelector('#overlay img')?.naturalWidth > 0")
    left, top, width, height, natural_w, natural_h = page.evaluate("""() => {
        const i = document.querySelector('#overlay img'); const r = i.getBoundingClientRect();
        return [r.x, r.y, r.width, r.height, i.naturalWidth, i.naturalHeight]; }""")
    fit = min(width / natural_w, height / natural_h)
    left += (width - natural_w * fit) / 2
    top += (height - natural_h * fit) / 2
    return left + (x + 0.5) * scale * fit, top + (y + 0.5) * scale * fit
