"""Pick by click in Debian's chromium: after a run with nothing selected, a click on an object in the frame
selects it (its row in the objects table and the overlay's colour under the pointer change, the store has
its accepts), and → / Shift+→ step the frame. Screenshots go to test-artifacts/browser/ (pick-*.png)."""
from __future__ import annotations

import io
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from app.render import display_scale, object_colours
from derrvos_core.objects import trajectory_object_id
from derrvos_core.store import CorrectionKind
from tests.helpers_browser import (T0, load_example, run_expression, screen_point, select_nothing, snap,
                                   wait_text)

pytestmark = pytest.mark.browser

STEP_TIMEOUT_MS = 90_000


def shows(page, selector: str, text: str) -> None:
    wait_text(page, selector, text, STEP_TIMEOUT_MS)


def frame_number(page) -> int:
    return int(float(page.locator("#frame input[type=number]").input_value()))


def at_frame(page, index: int) -> None:
    page.wait_for_function("(i) => document.querySelector('#frame input[type=number]').value == String(i)",
                           arg=index)


def smallest_object_at(result, index: int):
    """The trajectory with the smallest mask on frame `index` and a pixel deep inside it (x, y)."""
    masks = [(t, t.mask(index, result.height, result.width)) for t in result.trajectories]
    t, mask = min(((t, m) for t, m in masks if m.any()), key=lambda tm: tm[1].sum())
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return t, int(x), int(y)


def pixel_on_screen(page, point: tuple[float, float]) -> np.ndarray:
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB")).astype(int)
    return shot[int(point[1]), int(point[0])]


def test_a_click_on_an_object_selects_it_and_arrow_keys_step_the_frame(studio, page):
    service, url = studio
    T0[0] = time.perf_counter()
    page.goto(url)
    load_example(page, STEP_TIMEOUT_MS)
    run_expression(page, "the orange cross that appears later", STEP_TIMEOUT_MS)
    select_nothing(page, STEP_TIMEOUT_MS)
    (run,) = service.store.runs()
    result = service.store.load_run(run.id)
    index = frame_number(page)
    chosen, x, y = smallest_object_at(result, index)
    object_id = trajectory_object_id(chosen)
    scale = display_scale(result.height, result.width, service.config.display_size)
    point = screen_point(page, x, y, scale)
    row = f"#trajectory-table tr[data-object='{object_id}']"
    assert "unsel" in page.locator(row).get_attribute("class")
    before = pixel_on_screen(page, point)
    snap(page, "pick-01-nothing-selected")

    page.mouse.click(*point)
    shows(page, "#viewer-status", f"Object {object_id} selected over the whole video")
    page.wait_for_function("(s) => document.querySelector(s)?.className === 'sel'", arg=row)
    page.wait_for_timeout(1000)  # the overlay image is replaced last
    after = pixel_on_screen(page, point)
    snap(page, "pick-02-object-picked")
    members = {t.trajectory_id for t in result.trajectories if trajectory_object_id(t) == object_id}
    accepts = [c for c in service.store.corrections(run.id) if c.kind is CorrectionKind.ACCEPT]
    assert {c.trajectory_id for c in accepts} == members and len({c.group_id for c in accepts}) == 1
    colour = np.array(object_colours(service.store.answer_plan(run.id))[object_id])
    # the pixel under the pointer took on the object's colour (half-blended at the default opacity)
    assert np.abs(after - colour).sum() < np.abs(before - colour).sum()

    page.click("#answer-note")  # focus leaves every text box
    page.keyboard.press("ArrowRight")
    at_frame(page, index + 1)
    page.keyboard.press("Shift+ArrowRight")
    at_frame(page, index + 11)
    page.keyboard.press("ArrowLeft")
    at_frame(page, index + 10)
    snap(page, "pick-03-stepped-by-keys")

    strip = page.locator("#timeline img").bounding_box()
    page.mouse.click(strip["x"] + strip["width"] * (20.5 / 41), strip["y"] + strip["height"] / 2)
    at_frame(page, 20)
    page.click("#play")
    page.wait_for_function("() => Number(document.querySelector('#frame input[type=number]').value) >= 23")
    page.click("#play")  # pause
    shows(page, "#play", "Play")
    page.wait_for_timeout(1000)
    paused = frame_number(page)
    page.wait_for_timeout(1000)
    assert frame_number(page) == paused < 41
    snap(page, "pick-04-timeline-and-play")
