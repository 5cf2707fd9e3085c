"""Whole-video inference on a tiny random model: sizes, crops, re-selection, progress and bad input."""
from __future__ import annotations

import av
import numpy as np
import pytest
import torch

from derrvos_core.errors import InputError, VideoError
from derrvos_core.model import SegmentProgress, load_model
from derrvos_core.result import SegmentationResult
from derrvos_core.video import open_video

from .test_model import build_model

T, H, W, CROP = 14, 48, 64, 5
EXPRESSION = "the red square moving right"


def moving_squares(num_frames: int = T, height: int = H, width: int = W) -> np.ndarray:
    """uint8 [T, H, W, 3]: a red square moving right and a blue one moving down on grey."""
    frames = np.full((num_frames, height, width, 3), 90, dtype=np.uint8)
    for t in range(num_frames):
        x, y = 2 + 3 * t, 4 + 2 * t
        frames[t, 8:20, x % (width - 12):x % (width - 12) + 12] = (220, 30, 30)
        frames[t, y % (height - 10):y % (height - 10) + 10, 40:50] = (30, 30, 220)
    return frames


def score_crop(model, frames: np.ndarray, expression: str):
    """One crop on its own, through the model's two seams (a fresh tracker session): (top-K trajectories,
    confidences [K]); what inference must give for that crop."""
    from derrvos_core.model.branches import crop_trajectories

    text = model.multimodal.read(expression)
    prepared, traj = crop_trajectories(model.trajectory, frames)
    return traj, model.selector.scores(traj, model.multimodal.frame_tokens(prepared, text), text)


def write_mp4(path, frames: np.ndarray, fps: int = 10):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = build_model(seed=3).save(tmp_path_factory.mktemp("model") / "tiny")
    return load_model(folder)


@pytest.fixture(scope="module")
def frames():
    return moving_squares()


@pytest.fixture(scope="module")
def result(model, frames) -> SegmentationResult:
    return model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=CROP, threshold=0.0))


def test_result_covers_the_video_at_its_size(model, result):
    assert (result.num_frames, result.height, result.width) == (T, H, W)
    masks = result.masks
    assert masks.shape == (T, H, W) and masks.dtype == bool
    per_crop = min(model.cfg.top_k, model.cfg.trajectory.segmenter.num_queries)
    assert len(result.trajectories) == 3 * per_crop
    assert [t.trajectory_id for t in result.trajectories] == list(range(3 * per_crop))
    assert sorted({(t.crop_index, t.frame_start, len(t.rles)) for t in result.trajectories}) == \
        [(0, 0, 5), (1, 5, 5), (2, 10, 4)]
    for t in result.trajectories:
        assert 0.0 <= t.score <= 1.0 and t.link_id == t.trajectory_id
        assert all(r is None or r["size"] == [H, W] for r in t.rles)
    # threshold 0 selects everything: the answer is the union of all trajectory masks
    assert result.selected == tuple(range(len(result.trajectories)))
    union = np.zeros((H, W), dtype=bool)
    for t in result.trajectories:
        union |= t.mask(7, H, W)
    assert np.array_equal(masks[7], union)
    assert result.expression == EXPRESSION and result.warnings == ()


def test_masks_follow_the_model_upsampled(model, frames, result):
    """The RLE of a trajectory equals the model's own mask logits upsampled to the video size, > 0."""
    with torch.inference_mode():
        traj, scores = score_crop(model, frames[5:10], EXPRESSION)
    logits = torch.nn.functional.interpolate(traj.mask_logits[0][:, None], size=(H, W), mode="bilinear",
                                             align_corners=False)
    first = next(t for t in result.trajectories if t.crop_index == 1)
    assert first.score == pytest.approx(float(scores[0]), abs=1e-6)
    for i in range(5):
        assert np.array_equal(first.mask(5 + i, H, W), (logits[i, 0] > 0).numpy())


def test_select_equals_a_fresh_run(model, frames, result):
    scores = sorted(t.score for t in result.trajectories)
    threshold = (scores[len(scores) // 2] + scores[len(scores) // 2 + 1]) / 2
    fresh = model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=CROP, threshold=threshold))
    again = result.select(threshold)
    assert 0 < len(again.selected) < len(result.trajectories)
    assert again.selected == fresh.selected
    assert np.array_equal(again.masks, fresh.masks)
    assert [t.score for t in fresh.trajectories] == [t.score for t in result.trajectories]
    nothing = result.select(1.0)
    assert nothing.selected == () and not nothing.masks.any()
    best = result.select(1.0, at_least_one=True)
    assert len(best.selected) == 3  # each crop keeps its best trajectory
    assert {result.trajectories[i].crop_index for i in best.selected} == {0, 1, 2}


def test_crops_are_independent(model, frames, result):
    changed = frames.copy()
    changed[10:] = 255 - changed[10:]  # only the third crop's frames differ
    other = model.segment(changed, EXPRESSION, model.defaults.settings(crop_size=CROP, threshold=0.0))
    same = [t for t in result.trajectories if t.crop_index < 2]
    assert [t for t in other.trajectories if t.crop_index < 2] == same
    third = [(t.score, t.rles) for t in result.trajectories if t.crop_index == 2]
    assert [(t.score, t.rles) for t in other.trajectories if t.crop_index == 2] != third


def test_mp4_and_reader_give_masks_of_the_video_size(model, frames, tmp_path):
    path = write_mp4(tmp_path / "clip.mp4", frames)
    by_path = model.segment(path, EXPRESSION, model.defaults.settings(crop_size=8))
    assert by_path.masks.shape == (T, H, W) and len(by_path.trajectories) == 2 * 16
    with open_video(path) as reader:
        by_reader = model.segment(reader, EXPRESSION, model.defaults.settings(crop_size=8))
        assert reader.read(0, 1).shape == (1, H, W, 3)  # a reader passed in stays open
    assert [t.score for t in by_reader.trajectories] == [t.score for t in by_path.trajectories]


def test_segment_iter_progress_and_cancel(model, frames):
    steps = list(model.segment_iter(frames, EXPRESSION, model.defaults.settings(crop_size=6)))
    assert steps[:-1] == [SegmentProgress(0, 3, 6, T), SegmentProgress(1, 3, 12, T),
                          SegmentProgress(2, 3, T, T)]
    assert isinstance(steps[-1], SegmentationResult) and steps[-1].crop_size == 6
    calls = []
    model.segment(frames[:4], EXPRESSION, model.defaults.settings(crop_size=2),
                  progress=lambda step: calls.append((step.crop_index + 1, step.num_crops)))
    assert calls == [(1, 2), (2, 2)]
    model.train()
    gen = model.segment_iter(frames, EXPRESSION, model.defaults.settings(crop_size=6))
    assert isinstance(next(gen), SegmentProgress)
    assert not torch.is_inference_mode_enabled()  # the caller runs outside inference mode between crops
    gen.close()  # cancel
    assert model.training  # the caller's mode is restored
    model.eval()


def test_long_expression_is_truncated_with_a_warning(model, frames):
    words = " ".join(["the red square moving right"] * 20)
    out = model.segment(frames[:3], words, model.defaults.settings(crop_size=3))
    assert len(out.warnings) == 1 and "cut to" in out.warnings[0]
    assert words.startswith(out.expression) and len(out.expression.encode()) == model.cfg.max_text_len - 2


@pytest.mark.parametrize("video, expression, kwargs, error, message", [
    ("frames", "", {}, InputError, "expression is empty"),
    ("frames", "  \t\n", {}, InputError, "expression is empty"),
    ("missing.mp4", EXPRESSION, {}, VideoError, "no such video"),
    ("float", EXPRESSION, {}, InputError, "uint8"),
    ("empty", EXPRESSION, {}, InputError, "no pixels"),
    ("frames", EXPRESSION, {"crop_size": 0}, InputError, "crop size"),
    ("frames", EXPRESSION, {"threshold": 1.5}, InputError, "threshold"),
])
def test_bad_input_fails_at_the_call(model, frames, tmp_path, video, expression, kwargs, error, message):
    videos = {"frames": frames, "missing.mp4": tmp_path / "missing.mp4", "float": frames.astype(np.float32),
              "empty": frames[:0]}
    with pytest.raises(error, match=message):
        model.segment_iter(videos[video], expression, model.defaults.settings(**kwargs))  # before any step
    with pytest.raises(error, match=message):
        model.segment(videos[video], expression, model.defaults.settings(**kwargs))
