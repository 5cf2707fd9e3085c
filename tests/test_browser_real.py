"""The studio on the real-video model in Debian's chromium: load a real clip (a RealRef cut), type an
expression, run, and check what the page highlights against RealRef's ground truth — the overlay's
coloured pixels inside the woman's box, and the exported masks' boxes on every keyframe; then the ignored
words, the empty answer, the model picker and an example that switches the model. Screenshots go to
test-artifacts/browser/."""
from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.config import EXAMPLES_DIR, REALREF_CLIPS
from app.models import ModelShelf, shipped_choices
from app.realref_check import check_answer, expression_id
from derrvos_core.datasets.realref_format import load_annotation
from derrvos_core.result import decode_rle
from derrvos_core.video import open_video
from tests.helpers_app import make_service
from tests.helpers_browser import T0, chromium_page, served, snap, wait_text

pytestmark = pytest.mark.browser

EXAMPLE = "real-vtest-street-b"
EXPRESSION = "the woman in the red jacket"
FRAME = 30  # a keyframe where she walks on the square
STEP_TIMEOUT_MS = 180_000  # the first expression loads the language parts (10-20 s), then the clip runs
ANNOTATIONS = Path(__file__).resolve().parent.parent / "assets" / "realref" / "annotations"


@pytest.fixture
def studio(tmp_path):
    meta = json.loads((EXAMPLES_DIR / f"{EXAMPLE}.json").read_text())
    if not (REALREF_CLIPS / meta["realref"]["clip_id"]).is_dir():
        pytest.skip("RealRef clips are not set up (python training/realref_setup.py)")
    from derrvos_core.model.catalog import load_model
    model = load_model("real")
    service = make_service(model, tmp_path, models=ModelShelf(model, "real", shipped_choices("real"), load=load_model))
    with served(service) as url:
        yield service, url, meta


@pytest.fixture
def page():
    with chromium_page(STEP_TIMEOUT_MS, height=2200) as opened:
        yield opened


def wait(page, selector: str, text: str) -> None:
    wait_text(page, selector, text, STEP_TIMEOUT_MS)


def pick(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option).click()


def overlay_image(page, previous: str | None = None, settle_ms: int = 1500) -> tuple[str, np.ndarray]:
    """The viewer's image as the browser got it: one other than `previous`, once it has stayed the same
    for `settle_ms` (an event that finished just before may still be swapping its image in)."""
    page.wait_for_function("p => { const i = document.querySelector('#overlay img'); "
                           "return i && i.complete && i.naturalWidth > 0 && i.src !== p; }",
                           arg=previous or "", timeout=STEP_TIMEOUT_MS)
    src, since = page.locator("#overlay img").get_attribute("src"), time.perf_counter()
    deadline = since + STEP_TIMEOUT_MS / 1000
    while (time.perf_counter() - since) * 1000 < settle_ms and time.perf_counter() < deadline:
        page.wait_for_timeout(250)
        now = page.locator("#overlay img").get_attribute("src")
        if now != src:
            src, since = now, time.perf_counter()
    page.wait_for_function("() => { const i = document.querySelector('#overlay img'); "
                           "return i && i.complete && i.naturalWidth > 0; }", timeout=STEP_TIMEOUT_MS)
    body = page.request.get(src).body()
    return src, np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def test_a_real_clip_the_right_woman_highlighted_and_ignored_words_shown(studio, page):
    service, url, meta = studio
    clip = load_annotation(ANNOTATIONS / f"{meta['realref']['clip_id']}.json")
    exp_id = expression_id(clip, EXPRESSION)
    (target,) = clip.expressions[exp_id].obj_ids
    T0[0] = time.perf_counter()  # snap() prints the time since
    page.goto(url)
    wait(page, "#model-choice", "")
    assert page.locator("#model-choice input").input_value() == "Real videos (default)"

    pick(page, "#example-choice", meta["title"])
    page.click("#load-example")
    wait(page, "#video-info", f"{clip.width}×{clip.height}, {meta['realref']['num_frames']} frames")
    assert EXPRESSION in page.locator("#video-info").inner_text()  # offered: the model answers it right
    snap(page, "real-01-clip-loaded")

    page.fill("#expression textarea", EXPRESSION)
    page.click("#run")
    wait(page, "#run-status", "Run #")
    wait(page, "#answer-note", "selected")
    assert "ignored" not in page.locator("#answer-note").inner_text()
    snap(page, "real-02-answered")

    # what the viewer shows: her pixels coloured, inside her ground-truth box
    src, _ = overlay_image(page)
    scrubber = page.locator("#frame input[type=number]")
    scrubber.fill(str(FRAME))
    scrubber.press("Enter")
    wait(page, "#correction-frame", f"frame {FRAME}")
    _, shown = overlay_image(page, src)
    with open_video(service.examples()[0].path) as reader:
        raw = reader.read(FRAME, FRAME + 1)[0]
    assert shown.shape == raw.shape
    coloured = np.abs(shown.astype(int) - raw.astype(int)).max(axis=2) > 24
    x0, y0, x1, y1 = (round(v) for v in clip.objects[target].boxes[FRAME])
    inside = np.zeros_like(coloured)
    inside[max(0, y0 - 6):y1 + 6, max(0, x0 - 6):x1 + 6] = True
    assert coloured.sum() > 0.25 * (x1 - x0) * (y1 - y0)  # she is highlighted...
    assert coloured[inside].sum() >= 0.9 * coloured.sum()  # ...and nobody else
    page.evaluate("window.scrollTo(0, 0)")
    snap(page, f"real-03-frame-{FRAME}")

    # what the store holds: the exported masks against her boxes on every keyframe of the cut
    page.locator("#export-format").get_by_text("MeViS").click()
    page.click("#export")
    wait(page, "#history-status", "Exported MeViS dataset")
    (exported,) = sorted((Path(service.config.data_dir) / "exports").glob("*.zip"))
    with zipfile.ZipFile(exported) as archive:
        mask_dict = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("mask_dict.json"))))
    (rles,) = mask_dict.values()
    blank = np.zeros((clip.height, clip.width), dtype=bool)
    check = check_answer(lambda t: blank if rles[t] is None else decode_rle(rles[t]), clip, exp_id, len(rles))
    assert check.passed and len(check.frames) >= 6, check

    # words the model cannot use are shown next to the answer
    page.fill("#expression textarea", f"{EXPRESSION} next to the lamp post")
    page.click("#run")
    wait(page, "#answer-note", "ignored: 'next to the lamp post'")
    page.evaluate("window.scrollTo(0, 0)")
    snap(page, "real-04-ignored-words")

    # nothing to select: said plainly, with the best score
    page.fill("#expression textarea", "the dog")
    page.click("#run")
    wait(page, "#answer-note", "nothing selected")
    note = page.locator("#answer-note").inner_text()
    assert f"No object reached the threshold {service.defaults.threshold:.2f}; the best scored" in note
    snap(page, "real-05-nothing-selected")

    # the picker: the SynthRef model with its own recommended settings
    synthref = service.models.get("synthref")
    pick(page, "#model-choice", "SynthRef shapes")
    wait(page, "#run-status", "Model: SynthRef shapes")
    page.wait_for_function(
        "v => document.querySelector('#threshold input[type=number]').value == v",
        arg=str(synthref.defaults.threshold), timeout=STEP_TIMEOUT_MS)
    assert page.locator("#crop-size input[type=number]").input_value() == str(synthref.defaults.crop_size)
    page.wait_for_function("() => document.querySelector('#answer-note').innerText.trim() === ''",
                           timeout=STEP_TIMEOUT_MS)  # the real model's run was put away
    snap(page, "real-06-synthref-picked")

    # a real example switches back to the real model
    pick(page, "#example-choice", meta["title"])
    page.click("#load-example")
    wait(page, "#run-status", "This example is for another model: Model: Real videos (default)")
    assert page.locator("#model-choice input").input_value() == "Real videos (default)"
    wait(page, "#threshold", "")
    page.wait_for_function(
        "v => document.querySelector('#threshold input[type=number]').value == v",
        arg=str(service.defaults.threshold), timeout=STEP_TIMEOUT_MS)
    snap(page, "real-07-real-example-switches-back")
    runs = service.store.runs()
    assert {r.model_version for r in runs} == {str(service.model.version)} and len(runs) == 3
