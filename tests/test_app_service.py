"""StudioService with a tiny random DeRVOS and a real SQLite store: caching, corrections, bad input."""
from __future__ import annotations

import json
import threading
import time
import zipfile

import numpy as np
import pytest

from app.render import painted_mask
from app.service import BusyError
from derrvos_core.errors import InputError, VideoError
from derrvos_core.result import decode_rle
from derrvos_core.settings import ModelDefaults, SegmentSettings
from derrvos_core.store import CorrectionKind
from tests.helpers_app import CLIP_FRAMES, CROP, EXAMPLE, make_service, square

S = "tab-1"


@pytest.fixture
def service(tiny_model, tmp_path):
    return make_service(tiny_model, tmp_path)


@pytest.fixture
def segmented(service, clip, counter):
    service.open_video(S, clip)
    outcome = service.segment(S, "the orange cross", service.settings(CROP, 0.7))
    return service, outcome


def test_threshold_reselects_from_cache_without_model_call(segmented, counter):
    service, outcome = segmented
    result = outcome.run.result
    assert counter.calls == 1 and not outcome.cached
    assert (result.num_frames, result.height, result.width) == (CLIP_FRAMES, 128, 128)
    scores = sorted(t.score for t in result.trajectories)
    for threshold in (0.0, scores[len(scores) // 2], 1.0):
        start = time.perf_counter()
        run = service.reselect(S, threshold)
        took = time.perf_counter() - start
        expected = {t.trajectory_id for t in result.trajectories if t.score >= threshold}
        assert set(run.plan.selected) == expected
        assert took < 1.0
    assert counter.calls == 1
    # The store follows the threshold in force: exports show what the page shows.
    final = service.store.final_masks(outcome.run.run_id)
    want = result.select(1.0)
    assert all(np.array_equal(final.masks[t], want.frame_mask(t)) for t in range(CLIP_FRAMES))
    # Run again with the same key at another threshold: the cache answers, the same run is reused.
    again = service.segment(S, "the orange cross", service.settings(CROP, 0.0))
    assert again.cached and again.run.run_id == outcome.run.run_id and counter.calls == 1
    assert set(again.run.plan.selected) == {t.trajectory_id for t in result.trajectories}
    assert service.store.count("runs") == 1


def test_crop_size_change_runs_again_and_earlier_size_comes_from_cache(service, clip, counter):
    service.open_video(S, clip)
    steps = []
    first = service.segment(S, "the orange cross", service.settings(CROP, 0.7), progress=steps.append)
    assert [(p.crop_index, p.num_crops) for p in steps] == [(0, 2), (1, 2)]  # progress per crop
    assert steps[-1].frames_done == CLIP_FRAMES
    other = service.segment(S, "the orange cross", service.settings(CLIP_FRAMES, 0.7))
    assert counter.calls == 2 and not other.cached and other.run.result.crop_size == CLIP_FRAMES
    assert {t.crop_index for t in other.run.result.trajectories} == {0}
    assert {t.crop_index for t in first.run.result.trajectories} == {0, 1}
    if service.segment_cache is not None:  # the second crop size reused every frame's segmenter output
        assert service.segment_cache.stats.feature_hits >= CLIP_FRAMES
    back = service.segment(S, "the orange cross", service.settings(CROP, 0.7))
    assert back.cached and back.run.run_id == first.run.run_id and counter.calls == 2
    new_text = service.segment(S, "the white object", service.settings(CROP, 0.7))
    assert not new_text.cached and counter.calls == 3


def test_corrections_are_stored_at_once_reach_overlay_and_export_and_undo(segmented):
    service, outcome = segmented
    run_id = outcome.run.run_id
    result = outcome.run.result
    best = max(result.trajectories, key=lambda t: t.score)
    worst = min(result.trajectories, key=lambda t: t.score)
    with pytest.raises(InputError, match="nothing to undo"):
        service.undo(S)
    service.reject(S, best.trajectory_id)
    service.accept(S, worst.trajectory_id)
    drawn = square(128, 128, 10, 10, 12)
    service.draw(S, 3, drawn)
    erased = square(128, 128, 14, 14, 4)
    service.erase(S, 3, erased)
    kinds = [c.kind for c in service.store.corrections(run_id)]
    assert kinds == [CorrectionKind.REJECT, CorrectionKind.ACCEPT, CorrectionKind.DRAW, CorrectionKind.ERASE]
    plan = service.session(S).run.plan
    assert best.trajectory_id not in plan.selected and worst.trajectory_id in plan.selected
    answer = service.store.final_masks(run_id).masks[3]
    assert answer[drawn & ~erased].all() and not answer[erased].any()
    # The overlay shows the drawn pixels (white where no trajectory covers them), the erased ones bare.
    image = service.view(S, 3)
    scale = service.display_scale(S)
    assert image.shape == (128 * scale, 128 * scale, 3)
    frame = service.frame(S, 3)
    assert not np.array_equal(image[::scale, ::scale][drawn & ~erased], frame[drawn & ~erased])
    assert np.array_equal(image[::scale, ::scale][erased], frame[erased])
    # The dataset export carries the corrected frame.
    archive = zipfile.ZipFile(service.export_zip(S, "mevis"))
    mask_dict = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("mask_dict.json"))))
    (rles,) = mask_dict.values()
    assert np.array_equal(decode_rle(rles[3]), answer)
    # Undo takes back this tab's corrections, newest first; they stay in the store, marked undone.
    service.undo(S)
    service.undo(S)
    union = np.zeros((128, 128), dtype=bool)
    for t in result.trajectories:
        if t.trajectory_id in service.session(S).run.plan.selected:
            union |= t.mask(3, 128, 128)
    assert np.array_equal(service.store.final_masks(run_id).masks[3], union)
    kinds = [(c.kind, c.active) for c in service.store.corrections(run_id)]
    assert kinds[2:4] == [(CorrectionKind.DRAW, False), (CorrectionKind.ERASE, False)]
    plan = service.session(S).run.plan
    assert plan.edits == {} and worst.trajectory_id in plan.selected
    with pytest.raises(InputError, match="nothing painted"):
        service.draw(S, 2, np.zeros((128, 128), dtype=bool))
    with pytest.raises(InputError, match="pick a trajectory"):
        service.accept(S, None)



def test_a_question_already_stored_is_answered_from_the_store_after_a_restart(segmented, tiny_model, tmp_path,
                                                                              counter):
    service, outcome = segmented
    calls = counter.calls
    fresh = make_service(tiny_model, tmp_path)  # same database and data folder, empty caches
    fresh.open_video("tab-2", service.session(S).video.path)
    again = fresh.segment("tab-2", "the orange cross", fresh.settings(CROP, 0.5))
    assert again.cached and counter.calls == calls  # no model call
    stored, shown = outcome.run.result, again.run.result
    assert [(t.trajectory_id, t.rles) for t in shown.trajectories] == \
        [(t.trajectory_id, t.rles) for t in stored.trajectories]
    assert again.run.threshold == 0.5 and again.run.run_id != outcome.run.run_id  # a run of this tab's own
    other = fresh.segment("tab-2", "the orange cross", fresh.settings(CROP + 1, 0.5))
    assert not other.cached and counter.calls == calls + 1  # another crop size is another question


def test_a_restarted_studio_reloads_the_run_with_its_corrections(segmented, tiny_model, tmp_path, counter):
    service, outcome = segmented
    for threshold in (0.2, 0.1, 0.0):  # a slider dragged: one setting in force, not three fixes
        service.reselect(S, threshold)
    service.draw(S, 1, square(128, 128, 0, 0, 8))
    fresh = make_service(tiny_model, tmp_path)  # same database and data folder, empty caches
    fresh.open_video("tab-2", service.session(S).video.path)
    (row,) = fresh.history("tab-2")
    assert row.run.id == outcome.run.run_id and row.num_corrections == 1 and row.threshold == 0.0
    run, _ = fresh.reload_run("tab-2", row.run.id)
    assert run.threshold == 0.0 and run.plan.frame_answer(1).mask[:8, :8].all()
    calls = counter.calls
    assert fresh.segment("tab-2", "the orange cross", fresh.settings(CROP, 0.0)).cached and counter.calls == calls


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"this is a text file, not a video\n" * 20, "not a video"),
])
def test_a_file_that_is_not_a_video_is_refused_by_name(service, tmp_path, content, match):
    path = tmp_path / "holiday.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=f"holiday.mp4.*{match}|{match}.*holiday.mp4") as caught:
        service.open_video(S, path)
    assert service.store.count("videos") == 0
    assert str(caught.value).count("read") == 1  # "not a video this studio can read", said once


def test_a_truncated_video_is_refused_by_name(service, clip, tmp_path):
    data = clip.read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match="broken.mp4"):
        service.open_video(S, broken)


def test_an_upload_over_the_size_limit_is_refused_before_decoding(tiny_model, tmp_path, clip):
    small = make_service(tiny_model, tmp_path, max_upload_mb=0.001)
    with pytest.raises(InputError, match=r"up to 0.001 MB"):
        small.open_video(S, clip)


def test_bad_settings_are_named(service, clip):
    with pytest.raises(InputError, match="load a video first"):
        service.segment(S, "the cross", service.settings(CROP, 0.7))
    service.open_video(S, clip)
    with pytest.raises(InputError, match="type an expression"):
        service.segment(S, "   ", service.settings(CROP, 0.7))
    with pytest.raises(InputError, match="crop size"):
        service.segment(S, "the cross", service.settings(0, 0.7))
    with pytest.raises(InputError, match="threshold"):
        service.segment(S, "the cross", service.settings(CROP, 1.5))
    with pytest.raises(InputError, match="no run yet"):
        service.reselect(S, 0.5)


def test_a_second_run_while_one_runs_is_refused_clearly_then_works(service, clip, counter):
    service.open_video("a", clip)
    service.open_video("b", clip)
    inside, release = threading.Event(), threading.Event()

    def hold(step):
        inside.set()
        release.wait(30)

    first = threading.Thread(target=service.segment, args=("a", "the orange cross", service.settings(CROP, 0.7)),
                             kwargs={"progress": hold})
    first.start()
    assert inside.wait(60)
    with pytest.raises(BusyError, match="busy with another run"):
        service.segment("b", "the white object", service.settings(CROP, 0.7))
    release.set()
    first.join(60)
    assert service.segment("b", "the white object", service.settings(CROP, 0.7)).run is not None


def test_cancel_stops_after_the_current_crop_and_stores_nothing(service, clip, counter):
    service.open_video(S, clip)
    outcome = service.segment(S, "the orange cross", service.settings(CROP, 0.7),
                              progress=lambda step: service.cancel(S))
    assert outcome.cancelled and outcome.run is None
    assert service.store.count("runs") == 0
    assert not service.cancel(S)  # nothing runs any more, and the lock is free again:
    assert service.segment(S, "the orange cross", service.settings(CROP, 0.7)).run is not None


def test_a_cancel_before_the_run_reaches_the_model_is_not_lost(service, clip, counter, monkeypatch):
    """A Cancel while the run is asked for but not yet running (model lookup, result cache) used to find
    no run in progress; the run then went on and was stored."""
    service.open_video(S, clip)
    get = service.models.get
    monkeypatch.setattr(service.models, "get", lambda key: (service.cancel(S), get(key))[1])
    outcome = service.segment(S, "the orange cross", service.settings(CROP, 0.7))
    assert outcome.cancelled and outcome.run is None and service.store.count("runs") == 0
    assert counter.calls == 0  # the model never ran
    monkeypatch.setattr(service.models, "get", get)
    assert not service.cancel(S)  # nothing is asked for any more, and a stale Cancel stops nothing:
    assert service.segment(S, "the orange cross", service.settings(CROP, 0.7)).run is not None


def test_a_cancel_after_the_last_crop_still_stores_nothing(service, clip, counter):
    service.open_video(S, clip)
    seen = []

    def progress(step):
        seen.append(step.crop_index)
        if step.crop_index == step.num_crops - 1:
            service.cancel(S)  # the result is already made: the Cancel still holds

    outcome = service.segment(S, "the orange cross", service.settings(CROP, 0.7), progress=progress)
    assert outcome.cancelled and outcome.run is None and service.store.count("runs") == 0
    assert len(seen) > 1 and seen == list(range(len(seen)))  # every crop ran: the Cancel came at the end


def test_linking_crops_runs_through_the_service(service, clip, counter, tiny_model):
    service.open_video(S, clip)
    settings = service.settings(CROP, 0.7, link_crops=True)
    outcome = service.segment(S, "the orange cross", settings)
    linked = outcome.run.result
    assert counter.calls == 1 and linked.settings == settings
    direct = tiny_model.segment(str(clip), "the orange cross", settings)
    assert [(t.link_id, t.score, t.rles) for t in linked.trajectories] == \
        [(t.link_id, t.score, t.rles) for t in direct.trajectories]
    assert service.store.get_run(outcome.run.run_id).link_crops
    # the clip is two crops long and linking joined them: some identity spans both crops
    crops_of: dict[int, set[int]] = {}
    for t in linked.trajectories:
        crops_of.setdefault(t.link_id, set()).add(t.crop_index)
    assert linked.num_frames > CROP and any(len(crops) > 1 for crops in crops_of.values())
    plain = service.segment(S, "the orange cross", service.settings(CROP, 0.7)).run.result
    assert counter.calls == 2 and not plain.settings.link_crops  # another cache entry: linking is in the key
    assert [t.link_id for t in plain.trajectories] == [t.trajectory_id for t in plain.trajectories]


def test_painted_mask_reads_the_editor_layer_at_the_video_size():
    layer = np.zeros((512, 512, 4), dtype=np.uint8)
    layer[40:80, 100:140, 3] = 255  # painted at 4x: video pixels 10..19 x 25..34
    mask = painted_mask([layer], None, None, 128, 128)
    assert mask.shape == (128, 128) and mask.sum() == 100 and mask[10:20, 25:35].all()
    back = np.zeros((64, 64, 4), dtype=np.uint8)
    comp = back.copy()
    comp[5, 6, :3] = 255  # no layers: the composite's difference from the background is the paint
    assert painted_mask([], comp, back, 64, 64).sum() == 1


def test_examples_are_shipped_small_with_expressions():
    from app.config import EXAMPLES_DIR
    from app.examples import list_examples
    examples = list_examples(EXAMPLES_DIR)
    assert len(examples) >= 3 and EXAMPLE in [e.path for e in examples]
    assert all(e.path.stat().st_size < 1_000_000 and e.expressions for e in examples)
    assert sum(e.path.stat().st_size for e in examples) < 3_000_000


def test_settings_left_out_are_the_models_recommended_ones(service, clip, tiny_model, monkeypatch):
    assert service.defaults == tiny_model.defaults
    monkeypatch.setattr(tiny_model, "defaults", ModelDefaults(crop_size=CLIP_FRAMES, threshold=0.05))
    assert service.settings() == SegmentSettings(crop_size=CLIP_FRAMES, threshold=0.05)
    service.open_video(S, clip)
    run = service.segment(S, "the orange cross").run
    assert (run.result.crop_size, run.threshold) == (CLIP_FRAMES, 0.05)
