"""Clip sampling, empty-clip filtering, flip text swap and resizing used by every training stage."""
from __future__ import annotations

import numpy as np
import torch

from training.trainer.clips import resize_masks, sample_clip, swap_left_right


def test_swap_left_right_whole_words_and_case():
    assert swap_left_right("the leftmost circle, right of the star") == "the rightmost circle, left of the star"
    assert swap_left_right("Left square moving RIGHT") == "Right square moving LEFT"
    assert swap_left_right("the left-most one moves rightwards") == "the right-most one moves leftwards"
    assert swap_left_right("bright upright leftover") == "bright upright leftover"
    assert swap_left_right(swap_left_right("left of the right one")) == "left of the right one"


def test_clips_are_sorted_distinct_and_avoid_empty_targets():
    rng = np.random.default_rng(0)
    present = np.zeros(40, dtype=bool)
    present[37] = True  # the target is visible in one frame only
    for _ in range(20):
        idx = sample_clip(40, 8, rng, present)
        assert len(idx) == 8 and np.all(np.diff(idx) > 0) and present[idx].any()
    short = sample_clip(3, 8, rng)  # fewer frames than T: frames repeat, still in order
    assert len(short) == 8 and np.all(np.diff(short) >= 0) and short.max() < 3
    nothing = sample_clip(10, 4, rng, np.zeros(10, dtype=bool))  # a no-target expression stays usable
    assert len(nothing) == 4


def test_resize_masks_keeps_majority_pixels():
    m = np.zeros((2, 8, 8), dtype=bool)
    m[0, :4, :4] = True
    out = resize_masks(m, 4)
    assert out.dtype == torch.bool and out.shape == (2, 4, 4)
    assert out[0, :2, :2].all() and not out[0, 2:, :].any() and not out[1].any()
