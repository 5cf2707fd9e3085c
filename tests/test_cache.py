"""SegmentCache: per-frame work is done once per video, model and expression; results do not change."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from derrvos_core.errors import InputError
from derrvos_core.model import SegmentCache
from derrvos_core.video import open_video

from .test_model import build_model
from .test_model_inference import moving_squares, write_mp4

EXPRESSION = "the red square moving right"


class Counted:
    """Counts calls of the branches' per-crop steps (instance attributes shadow the methods)."""

    STEPS = (("trajectory", "prepare"), ("trajectory", "frame_features"), ("trajectory", "trajectories"),
             ("multimodal", "frame_tokens"), ("tais", "scores"))

    def __init__(self, model):
        self.model, self.calls = model, dict.fromkeys((name for _, name in self.STEPS), 0)
        for part, name in self.STEPS:
            branch = getattr(model, part)
            setattr(branch, name, self._wrap(name, getattr(branch, name)))

    def _wrap(self, name, method):
        def counted(*args, **kwargs):
            self.calls[name] += 1
            return method(*args, **kwargs)
        return counted

    def take(self) -> dict:
        calls, self.calls = self.calls, dict.fromkeys(self.calls, 0)
        return calls

    def restore(self):
        for part, name in self.STEPS:
            delattr(getattr(self.model, part), name)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return build_model(seed=3)


@pytest.fixture()
def counted(model):
    counter = Counted(model)
    yield counter
    counter.restore()


def same(a, b) -> bool:
    return [(t.trajectory_id, t.crop_index, t.rles, t.link_id) for t in a.trajectories] == \
        [(t.trajectory_id, t.crop_index, t.rles, t.link_id) for t in b.trajectories] and \
        np.allclose([t.score for t in a.trajectories], [t.score for t in b.trajectories], atol=1e-6)


def test_second_run_threshold_and_crop_size_reuse_the_cache(model, counted):
    frames, cache = moving_squares(12), SegmentCache()
    first = model.segment(frames, EXPRESSION,
                          model.defaults.settings(crop_size=4, threshold=0.3), cache=cache)
    assert counted.take() == {"frame_features": 3, "frame_tokens": 3, "trajectories": 3,
                              "scores": 3, "prepare": 3}
    assert (cache.stats.feature_misses, cache.stats.token_misses) == (12, 12)
    # a new threshold: no model at all
    reselected = first.select(0.31)
    assert sum(counted.take().values()) == 0 and reselected.threshold == 0.31
    # the same query again: only tracker, refiner and TAIS run; frames are not even resized
    again = model.segment(frames, EXPRESSION,
                          model.defaults.settings(crop_size=4, threshold=0.3), cache=cache)
    assert counted.take() == {"frame_features": 0, "frame_tokens": 0, "trajectories": 3,
                              "scores": 3, "prepare": 0}
    assert same(first, again)
    # a new crop size: per-frame outputs reused, tracker/refiner/TAIS on the new crops
    cropped = model.segment(frames, EXPRESSION,
                            model.defaults.settings(crop_size=6, threshold=0.3), cache=cache)
    assert counted.take() == {"frame_features": 0, "frame_tokens": 0, "trajectories": 2,
                              "scores": 2, "prepare": 0}
    assert cache.stats.feature_hits == 24 and cache.stats.token_hits == 24
    assert same(cropped, model.segment(frames, EXPRESSION,
                                       model.defaults.settings(crop_size=6, threshold=0.3)))
    counted.take()
    # a new expression: BEiT-3 runs, the segmenter does not
    other = model.segment(frames, "the blue square",
                          model.defaults.settings(crop_size=6, threshold=0.3), cache=cache)
    calls = counted.take()
    assert calls["frame_features"] == 0 and calls["frame_tokens"] == 2
    assert same(other, model.segment(frames, "the blue square",
                                     model.defaults.settings(crop_size=6, threshold=0.3)))


def test_cached_linked_run_equals_uncached(model):
    frames, cache = moving_squares(12), SegmentCache()
    model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=3), cache=cache)
    linked = model.segment(frames, EXPRESSION,
                           model.defaults.settings(crop_size=4, threshold=0.3, link_crops=True), cache=cache)
    assert cache.stats.feature_misses == 12 and cache.stats.feature_hits == 12
    assert same(linked, model.segment(frames, EXPRESSION,
                                      model.defaults.settings(crop_size=4, threshold=0.3, link_crops=True)))


def test_keyed_by_content_and_model(model):
    frames, cache = moving_squares(8), SegmentCache()
    model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=4), cache=cache)
    model.segment(frames.copy(), EXPRESSION,
                  model.defaults.settings(crop_size=4), cache=cache)  # another array, same pixels
    assert cache.stats.feature_misses == 8 and cache.stats.feature_hits == 8
    changed = frames.copy()
    changed[5, 0, 0] = 255
    model.segment(changed, EXPRESSION, model.defaults.settings(crop_size=4), cache=cache)
    assert cache.stats.feature_misses == 16
    other_weights = build_model(seed=4)
    other_weights.segment(frames, EXPRESSION, other_weights.defaults.settings(crop_size=4), cache=cache)
    assert cache.stats.feature_misses == 24


def test_cached_crops_are_not_decoded(model, tmp_path):
    path = write_mp4(tmp_path / "clip.mp4", moving_squares(10))
    cache = SegmentCache()
    reads = []
    with open_video(path) as reader:
        read = reader.read
        reader.read = lambda start, stop: reads.append((start, stop)) or read(start, stop)
        first = model.segment(reader, EXPRESSION, model.defaults.settings(crop_size=5), cache=cache)
        assert reads == [(0, 5), (5, 10)]
        second = model.segment(reader, EXPRESSION, model.defaults.settings(crop_size=2), cache=cache)
        assert reads == [(0, 5), (5, 10)]  # every frame was cached: nothing decoded
    assert same(second, model.segment(path, EXPRESSION, model.defaults.settings(crop_size=2)))
    assert cache.video_key(path) == cache.video_key(str(path))
    assert len(first.trajectories) > 0


def test_bounded_in_bytes_with_lru_eviction(model):
    frames = moving_squares(12)
    probe = SegmentCache()
    model.segment(frames[:4], EXPRESSION, model.defaults.settings(crop_size=4), cache=probe)
    per_frame = probe.nbytes // 4
    cache = SegmentCache(max_bytes=5 * per_frame)
    result = model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=4), cache=cache)
    assert 0 < cache.nbytes <= 5 * per_frame and cache.stats.evictions > 0
    assert same(result, model.segment(frames, EXPRESSION, model.defaults.settings(crop_size=4)))
    with pytest.raises(InputError, match="SegmentCache"):
        model.segment(frames, EXPRESSION, cache={})
    with pytest.raises(InputError, match="max_bytes"):
        SegmentCache(max_bytes=-1)
