"""End to end in Debian's chromium through Playwright: load an example, type an expression, run, move
the threshold, paint a correction, save it, export. Each step leaves a screenshot in
test-artifacts/browser/ and is checked against the page and the store."""
from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from derrvos_core.store import CorrectionKind
from tests.helpers_browser import EXAMPLE_TITLE, T0, snap, wait_text

pytestmark = pytest.mark.browser

STEP_TIMEOUT_MS = 60_000
SEEN_JS = """sel => { window.pendingShown = 0;
    const e = document.querySelector(sel);
    new MutationObserver(() => {
        const w = e.querySelector('[data-testid=markdown-wrapper].pending');
        if (w && getComputedStyle(w).visibility === 'hidden' && w.textContent.includes('Ready'))
            window.pendingShown += 1;
    }).observe(e, {subtree: true, childList: true, characterData: true, attributes: true}); }"""


def shows(page, selector: str, text: str) -> None:
    """Wait until the element's text contains `text` (the page answered the step)."""
    wait_text(page, selector, text, STEP_TIMEOUT_MS)


def test_annotate_a_video_end_to_end_in_chromium(studio, page, tmp_path):
    service, url = studio
    start = T0[0] = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#load-example", timeout=STEP_TIMEOUT_MS)

    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("meeting notes, not a video\n" * 50, encoding="utf-8")
    page.locator("#video-upload input[type=file]").set_input_files(str(not_a_video))
    # the refusal shows in a toast and stays in the video line after the toast fades
    page.get_by_test_id("toast-text").get_by_text("notes.mp4 is not a video this studio can read").wait_for(
        timeout=STEP_TIMEOUT_MS)
    shows(page, "#video-info", "notes.mp4 is not a video this studio can read")
    snap(page, "00-bad-upload-refused")
    assert service.store.count("videos") == 0

    page.locator("#example-choice input").click()
    page.get_by_role("option", name=EXAMPLE_TITLE).click()
    page.click("#load-example")
    shows(page, "#video-info", "128×128, 41 frames")
    snap(page, "01-example-loaded")

    page.fill("#expression textarea", "the orange cross that appears later")
    snap(page, "02-expression-typed")
    assert "Ready" in page.locator("#run-status").inner_text()
    page.evaluate(SEEN_JS, "#run-status")
    page.click("#run")
    shows(page, "#run-status", "Run #")
    # while the run went, the bar showed alone: the "Ready" under it was hidden
    assert page.evaluate("() => window.pendingShown") > 0
    shows(page, "#trajectory-table", "score")
    snap(page, "03-run-finished")
    (run,) = service.store.runs()
    assert run.expression == "the orange cross that appears later" and run.crop_size == 36
    num_trajectories = len(service.store.load_run(run.id).trajectories)

    threshold = page.locator("#threshold input[type=number]")
    threshold.fill("0")
    threshold.press("Enter")
    shows(page, "#run-status", f"Threshold 0.00: {num_trajectories} of {num_trajectories}")
    snap(page, "04-threshold-moved")
    assert [c.threshold for c in service.store.corrections(run.id)] == [0.0]

    shows(page, "#correction-frame", "frame 0 of 41")
    page.click("#editor button[aria-label=Brush]")
    box = page.locator("#editor canvas").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.7
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + box["width"] * 0.3, y + box["height"] * 0.1, steps=3)
    page.mouse.up()
    snap(page, "05-correction-painted")

    page.click("#add-pixels")
    shows(page, "#correction-status", "pixels added to frame 0")
    shows(page, "#history", "\n1\n●")  # fixes 1, the drawing (a threshold is no fix): the last redraw
    page.wait_for_timeout(1500)  # the editor reloads its cleared canvas last
    snap(page, "06-correction-saved")
    draws = [c for c in service.store.corrections(run.id) if c.kind is CorrectionKind.DRAW]
    assert len(draws) == 1 and draws[0].frame == 0
    assert service.store.final_masks(run.id).masks[0].sum() >= 1

    page.locator("#export-format").get_by_text("COCO-RLE").click()
    page.click("#export")
    shows(page, "#history-status", "Exported COCO-RLE dataset")
    shows(page, "#export-file", ".zip")
    snap(page, "07-exported")
    (exported,) = sorted((Path(service.config.data_dir) / "exports").glob("*.zip"))
    assert "coco-rle" in exported.name and zipfile.ZipFile(exported).testzip() is None
    assert time.perf_counter() - start < 90
