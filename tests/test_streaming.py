"""Streaming inference: crop-by-crop decoding, RLE-only results, memory flat in video length."""
from __future__ import annotations

import sys
import tracemalloc

import pytest
import torch

from derrvos_core.masks import encode_rle
from derrvos_core.model import rle as rle_module
from derrvos_core.model.rle import trajectory_rles
from derrvos_core.video import open_video, resize_mask_logits

from .test_model import build_model
from .test_model_inference import moving_squares, write_mp4

EXPRESSION = "the red square moving right"


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return build_model(seed=3)


@pytest.mark.parametrize("size", [(48, 64), (37, 101), (9, 7), (240, 427), (1, 50)])
def test_trajectory_rles_equal_upsample_then_encode(size, monkeypatch):
    """Same RLEs as thresholding `resize_mask_logits` (torch's bilinear) frame by frame, though only
    the boxes around positive logits are upsampled and blocks of frames are encoded at once (a small
    block forces several blocks)."""
    torch.manual_seed(0)
    logits = torch.randn(5, 6, 16, 16) * 3
    logits[1] = -1.0  # an empty trajectory
    logits[2, 3] = -0.5  # an empty frame
    logits[3, :, 5, 5] = 50.0
    logits[3, :, :5] = -50.0  # one positive pixel, which may vanish when downsampling to 9 x 7
    monkeypatch.setattr(rle_module, "BLOCK_BYTES", 3 * size[0] * size[1])
    expected = [tuple(encode_rle(m) if m.any() else None
                      for m in (resize_mask_logits(traj, size) > 0).numpy()) for traj in logits]
    assert trajectory_rles(logits, size) == expected
    assert all(r is None for r in expected[1]) and expected[2][3] is None


def test_result_holds_only_rle(model):
    result = model.segment(moving_squares(8), EXPRESSION, model.defaults.settings(crop_size=4, threshold=0.0))
    for t in result.trajectories:
        assert isinstance(t.rles, tuple)
        for r in t.rles:
            assert r is None or (set(r) == {"size", "counts"} and isinstance(r["counts"], str))
    assert any(r is not None for t in result.trajectories for r in t.rles)


def test_frames_are_read_crop_by_crop(model, tmp_path):
    path = write_mp4(tmp_path / "clip.mp4", moving_squares(11))
    with open_video(path) as reader:
        reads = []
        read = reader.read
        reader.read = lambda start, stop: reads.append((start, stop)) or read(start, stop)
        model.segment(reader, EXPRESSION, model.defaults.settings(crop_size=4))
    assert reads == [(0, 4), (4, 8), (8, 11)]


def _peak_python_bytes(model, path) -> tuple[int, int]:
    """(peak bytes traced by tracemalloc (numpy frames and masks, Python objects), RLE bytes kept)."""
    tracemalloc.start()
    try:
        result = model.segment(path, EXPRESSION, model.defaults.settings(crop_size=4, threshold=0.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = sum(sys.getsizeof(r) + sys.getsizeof(r["counts"]) + sys.getsizeof(r["size"])
               for t in result.trajectories for r in t.rles if r is not None)
    return peak, kept


def test_peak_memory_grows_only_by_the_rles(model, tmp_path):
    height, width = 120, 160
    short = write_mp4(tmp_path / "short.mp4", moving_squares(16, height, width))
    long = write_mp4(tmp_path / "long.mp4", moving_squares(64, height, width))
    _peak_python_bytes(model, short)  # warm-up: first-call allocations are not the video's
    peak_short, rle_short = _peak_python_bytes(model, short)
    peak_long, rle_long = _peak_python_bytes(model, long)
    extra_frames = 48 * height * width * 3  # what holding the video's frames would add
    growth = peak_long - peak_short
    assert growth < (rle_long - rle_short) + extra_frames // 4, (peak_short, peak_long, rle_short, rle_long)


def test_a_crop_with_no_trajectories_gives_no_rles():
    """A crop where the branch found nothing (the real model on an empty scene) is not a crash."""
    import torch

    from derrvos_core.model.rle import trajectory_rles

    assert trajectory_rles(torch.zeros(0, 5, 4, 4), (16, 16)) == []
