"""The model picker, the examples that name a model, the real-video examples cut from RealRef clips, and
the note beside the answer (what was ignored, why nothing is selected), with tiny DeRVOS models."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from app.examples import REALREF_SETUP, list_examples
from app.models import ModelChoice, ModelShelf, shipped_choices
from app.panels.viewer import answer_note
from app.render import answer_summary
from derrvos_core.answer_notes import best_score, ignored_note, nothing_selected_note
from derrvos_core.errors import InputError
from derrvos_core.settings import ModelDefaults
from derrvos_core.store.corrections import plan_answer
from tests.helpers_app import CROP, EXAMPLE, make_service

S = "tab-1"


@pytest.fixture(scope="module")
def other_model():
    """A second tiny DeRVOS (other weights, so another version) with other recommended settings."""
    import torch

    from derrvos_core.model import DeRVOS, DeRVOSConfig
    torch.manual_seed(1)
    model = DeRVOS.from_config(DeRVOSConfig.tiny()).eval()
    model.defaults = ModelDefaults(crop_size=3, threshold=0.05, link_crops=True)
    return model


@pytest.fixture
def loads():
    return []


@pytest.fixture
def shelf(tiny_model, other_model, loads):
    def load(key):
        loads.append(key)
        return other_model
    choices = (ModelChoice("real", "Real videos (default)"), ModelChoice("synthref", "SynthRef shapes"))
    return ModelShelf(tiny_model, "real", choices, load=load)


@pytest.fixture
def service(tiny_model, shelf, tmp_path):
    return make_service(tiny_model, tmp_path, models=shelf)


def test_picking_a_model_loads_it_once_jumps_to_its_defaults_and_stores_runs_under_it(
        service, tiny_model, other_model, loads, clip):
    assert service.picked(S).key == "real" and loads == []  # the other model is not loaded at start
    service.open_video(S, clip)
    first = service.segment(S, "the orange cross", service.settings(CROP, 0.7, session_id=S)).run
    picked = service.choose_model(S, "synthref")
    assert picked.changed and picked.label == "SynthRef shapes" and picked.defaults == other_model.defaults
    assert picked.version == str(other_model.version) != str(tiny_model.version)
    assert service.session(S).run is None  # the first model's run is put away (it stays in the history)
    assert service.settings(session_id=S) == other_model.defaults.settings()
    second = service.segment(S, "the orange cross").run  # the picked model's recommended settings
    assert (second.result.crop_size, second.threshold, second.result.settings.link_crops) == (3, 0.05, True)
    versions = {r.id: r.model_version for r in service.store.runs()}
    assert versions == {first.run_id: str(tiny_model.version), second.run_id: str(other_model.version)}
    assert service.scores(S)["model_version"] == str(other_model.version)
    # another tab still runs the first model; picking the other there loads nothing again
    assert service.picked("tab-2").key == "real"
    service.choose_model("tab-2", "synthref")
    assert loads == ["synthref"]
    # back to the first model: the same expression and crop size come from the cache of that model
    service.choose_model(S, "real")
    back = service.segment(S, "the orange cross", service.settings(CROP, 0.7, session_id=S))
    assert back.cached and back.run.run_id == first.run_id
    with pytest.raises(InputError, match="no model 'nope'"):
        service.choose_model(S, "nope")


def test_picking_the_same_model_keeps_the_run(service, clip):
    service.open_video(S, clip)
    service.segment(S, "the orange cross", service.settings(CROP, 0.7, session_id=S))
    assert not service.choose_model(S, "real").changed and service.session(S).run is not None


def test_shipped_choices_put_a_checkpoint_folder_first():
    assert [c.key for c in shipped_choices("real")] == ["real", "synthref"]
    assert [c.label for c in shipped_choices("synthref")] == ["Real videos (default)", "SynthRef shapes"]
    folder = shipped_choices("/models/mine")
    assert [c.key for c in folder] == ["/models/mine", "real", "synthref"] and "mine" in folder[0].label
    with pytest.raises(ValueError, match="loader"):
        ModelShelf(object(), "real", shipped_choices("real"))


def fake_clip(root, clip_id: str, frames: int, size=(48, 64), start: int = 0):
    """RealRef-like frames 00000.jpg ... of a red square moving right (frames start..frames-1)."""
    folder = root / clip_id
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(start, frames):
        image = np.zeros((*size, 3), dtype=np.uint8)
        image[10:20, 4 + t:14 + t] = (200, 40, 40)
        Image.fromarray(image).save(folder / f"{t:05d}.jpg", quality=95)
    return folder


def real_example_dir(tmp_path, model="real", num_frames=6):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "real-demo.json").write_text(json.dumps({
        "title": "Real: demo", "order": 0, "model": model, "expressions": ["the red square"],
        "realref": {"clip_id": "demo-clip", "num_frames": num_frames, "fps": 10.0}}))
    return examples


def test_a_realref_example_is_listed_with_the_set_up_command_until_its_frames_exist(
        tiny_model, shelf, tmp_path, clip):
    examples = real_example_dir(tmp_path)
    clips = tmp_path / "realref-clips"
    service = make_service(tiny_model, tmp_path, models=shelf, examples_dir=examples, realref_clips=clips)
    (listed,) = service.examples()
    assert listed.missing and REALREF_SETUP in listed.missing and listed.model == "real"
    with pytest.raises(InputError, match="realref_setup.py"):
        service.open_example(S, "real-demo")
    fake_clip(clips, "demo-clip", 4)  # too short for the cut: still missing
    assert service.examples()[0].missing
    fake_clip(clips, "demo-clip", 8, start=4)
    (ready,) = service.examples()
    assert not ready.missing
    video, picked = service.open_example(S, "real-demo")
    assert video.info.num_frames == 6 and (video.info.height, video.info.width) == (48, 64)
    assert video.path == tmp_path / "data" / "examples" / "real-demo.mp4" and video.path.is_file()
    assert video.suggested_expressions == ("the red square",) and not picked.changed
    stamp = video.path.stat().st_mtime_ns
    service.open_example("tab-2", "real-demo")  # made once, then reused
    assert video.path.stat().st_mtime_ns == stamp
    assert service.store.count("videos") == 1 and not (tmp_path / "data" / "videos").exists()


def test_a_sidecar_cannot_point_a_cut_outside_the_clips_folder(tmp_path):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "evil.json").write_text(json.dumps({"realref": {"clip_id": "../../etc", "num_frames": 1,
                                                                "fps": 1}}))
    (examples / "broken.json").write_text(json.dumps({"realref": {"clip_id": "x"}}))
    assert list_examples(examples, tmp_path / "clips", tmp_path / "made") == []


def test_an_example_for_another_model_switches_the_tab_to_it(tiny_model, shelf, other_model, tmp_path, clip):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "shapes.mp4").write_bytes(EXAMPLE.read_bytes())
    (examples / "shapes.json").write_text(json.dumps({"title": "Shapes", "model": "synthref"}))
    (examples / "any.mp4").write_bytes(EXAMPLE.read_bytes())
    service = make_service(tiny_model, tmp_path, models=shelf, examples_dir=examples)
    _, picked = service.open_example(S, "shapes")
    assert picked.changed and picked.key == "synthref" and service.picked(S).defaults == other_model.defaults
    _, kept = service.open_example(S, "any")  # names no model: the tab keeps its own
    assert not kept.changed and kept.key == "synthref"


def test_the_shipped_examples_name_their_model_and_real_ones_their_check():
    from app.config import EXAMPLES_DIR
    sidecars = {p.stem: json.loads(p.read_text()) for p in EXAMPLES_DIR.glob("*.json")}
    synthref = {k: v for k, v in sidecars.items() if k.startswith("synthref-")}
    real = {k: v for k, v in sidecars.items() if "realref" in v}
    assert len(synthref) == 3 and all(v["model"] == "synthref" for v in synthref.values())
    assert real and all(v["model"] == "real" for v in real.values())
    for meta in real.values():  # every expression offered was checked right against the ground truth
        passed = {c["expression"] for c in meta["checked"]["expressions"] if c["passed"]}
        assert meta["expressions"] and set(meta["expressions"]) <= passed
        assert all(c["box_iou"] >= 0.5 for c in meta["checked"]["expressions"] if c["passed"])
        assert meta["checked"]["model"].startswith("derrvos-real")
    # the real examples come first: the studio opens on the real model
    assert max(v["order"] for v in real.values()) < min(v["order"] for v in synthref.values())


def test_the_answer_note_names_what_was_ignored_and_the_best_score_when_nothing_is_selected(
        tiny_model, clip):
    result = tiny_model.segment(str(clip), "the orange cross", tiny_model.defaults.settings(crop_size=CROP))
    best = max(t.score for t in result.trajectories)
    nothing = replace(result.select(min(1.0, best + 0.01)), ignored=("carrying a bag",))
    summary = answer_summary(plan_answer(nothing, []))
    assert summary.selected == () and summary.ignored_note == "ignored: 'carrying a bag'"
    shown = int(best * 100) / 100
    assert summary.empty_note == (f"No object reached the threshold {min(1.0, best + 0.01):.2f}; the best "
                                  f"scored {shown:.2f} — lower the threshold to see it.")
    note = answer_note(summary)
    assert "nothing selected" in note and "ignored: 'carrying a bag'" in note
    # lowering the threshold to the number shown selects it
    assert result.select(shown).selected
    some = answer_summary(plan_answer(result.select(0.0), []))
    assert len(some.selected) == len(result.trajectories) and some.empty_note == "" and some.ignored_note == ""
    assert "ignored" not in answer_note(some) and "selected" in answer_note(some)
    assert nothing_selected_note((), 0.5) == "No object was found in the video, so there is nothing to select."
    assert nothing_selected_note(result.trajectories, 0.0).startswith("Nothing is selected")
    assert ignored_note(()) == "" and ignored_note(["road", "on his own"]) == "ignored: 'road', 'on his own'"
    assert best_score(()) is None


def test_linked_objects_are_scored_as_the_selection_scores_them(tiny_model, clip):
    settings = tiny_model.defaults.settings(crop_size=CROP, link_crops=True)
    result = tiny_model.segment(str(clip), "the orange cross", settings)
    best = best_score(result.trajectories)
    assert any(t.link_id != t.trajectory_id for t in result.trajectories)  # something was linked
    assert result.select(best).selected
    assert best >= 1.0 or not result.select(best + 1e-6).selected
