"""The studio on the real-video model and a real clip (a RealRef cut made from its frames at load): the
answer is checked against RealRef's ground truth, the ignored words and the empty answer are said. The
slow test re-checks every shipped real example against the ground truth with the current model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.config import EXAMPLES_DIR, REALREF_CLIPS
from app.examples import list_examples
from app.models import ModelShelf, shipped_choices
from app.realref_check import check_answer, expression_id
from derrvos_core.datasets.realref_format import load_annotation
from tests.helpers_app import make_service
ANNOTATIONS = Path(__file__).resolve().parent.parent / "assets" / "realref" / "annotations"
EXAMPLE = "real-vtest-street-b"
S = "tab-1"


def example_meta(name: str) -> dict:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text())


def require_clip(name: str) -> None:
    clip_id = example_meta(name)["realref"]["clip_id"]
    if not (REALREF_CLIPS / clip_id).is_dir():
        pytest.skip(f"RealRef clip {clip_id} is not set up (python training/realref_setup.py)")


@pytest.fixture(scope="module")
def real_model():
    from derrvos_core.model.catalog import load_model
    return load_model("real")


@pytest.fixture
def service(real_model, tmp_path):
    from derrvos_core.model.catalog import load_model
    shelf = ModelShelf(real_model, "real", shipped_choices("real"), load=load_model)
    return make_service(real_model, tmp_path, models=shelf)


def test_the_real_model_answers_a_real_example_right_and_says_what_it_ignored(service):
    require_clip(EXAMPLE)
    meta = example_meta(EXAMPLE)
    clip = load_annotation(ANNOTATIONS / f"{meta['realref']['clip_id']}.json")
    video, picked = service.open_example(S, EXAMPLE)
    assert picked.key == "real" and not picked.changed
    assert video.info.num_frames == meta["realref"]["num_frames"] and video.info.width == clip.width
    text = "the woman in the red jacket"
    assert text in video.suggested_expressions
    run = service.segment(S, text).run
    assert run.key.model_version.startswith("derrvos-real") and not run.result.ignored
    check = check_answer(lambda t: run.plan.frame_answer(t).mask, clip, expression_id(clip, text),
                         video.info.num_frames)
    assert check.passed, check
    assert service.answer(S).ignored_note == "" and service.answer(S).empty_note == ""
    # words it cannot use are named, and the answer is still hers
    extra = service.segment(S, f"{text} next to the lamp post").run
    assert service.answer(S).ignored_note == "ignored: 'next to the lamp post'"
    assert check_answer(lambda t: extra.plan.frame_answer(t).mask, clip, expression_id(clip, text),
                        video.info.num_frames).passed
    # nothing there: the page says so and names the best score
    service.segment(S, "the dog")
    answer = service.answer(S)
    assert answer.selected == () and answer.empty_note.startswith(
        f"No object reached the threshold {service.defaults.threshold:.2f}; the best scored ")


@pytest.mark.slow
def test_every_shipped_real_example_is_answered_right_by_the_current_model(service):
    examples = [e for e in list_examples(EXAMPLES_DIR, REALREF_CLIPS, Path(service.config.data_dir) / "examples")
                if e.clip is not None]
    assert examples
    for example in examples:
        require_clip(example.name)
        clip = load_annotation(ANNOTATIONS / f"{example.clip.clip_id}.json")
        service.open_example(S, example.name)
        for text in example.expressions:
            run = service.segment(S, text).run
            check = check_answer(lambda t, run=run: run.plan.frame_answer(t).mask, clip, expression_id(clip, text),
                                 example.clip.num_frames)
            assert check.passed, (example.name, check)
