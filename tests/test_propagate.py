"""Fix one frame, propagate: on synthetic clips whose per-frame truth is known by construction.

The clip: a textured disc (radius 20 px) translating 3 px a frame over a textured background, 160x120.
The level J >= 0.9: a mask one pixel too wide all round a 20 px disc scores (20/21)^2 = 0.907, so the
level asks that the boundary stays within about a pixel after 29 frames and 87 px of motion; the fixed
mask copied unchanged scores under 0.1 by then, so the level is not met by standing still.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from derrvos_core.annotation.mask_ops import mask_iou
from derrvos_core.annotation.propagate import (PropagationSettings, PropagationSummary, Proposal, StopReason,
                                               propagate_mask)
from derrvos_core.errors import InputError

HEIGHT, WIDTH, RADIUS, STEP, FRAMES = 120, 160, 20, 3, 30


def _texture(rng: np.random.Generator, height: int, width: int, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), sigma)


def make_clip(occluder: bool = False, vanish_at: int | None = None, seed: int = 0):
    """(frames uint8 [T, H, W, 3], truth bool [T, H, W]): the disc's visible pixels in every frame.

    `occluder`: a flat green bar sliding left over the disc, 6 px a frame against it (it is in front, so
    the truth loses what it covers). `vanish_at`: the disc is gone from that frame on.
    """
    rng = np.random.default_rng(seed)
    background = (_texture(rng, HEIGHT, WIDTH, 3) * 0.5 + 60).clip(0, 255)
    side = 2 * RADIUS + 1
    sprite = (_texture(rng, side, side, 1.5) * 0.8 + 40 + np.array([120, 20, 0])).clip(0, 255)
    yy, xx = np.mgrid[-RADIUS:RADIUS + 1, -RADIUS:RADIUS + 1]
    disc = xx ** 2 + yy ** 2 <= RADIUS ** 2
    frames, truth = [], []
    for t in range(FRAMES):
        frame, mask = background.copy(), np.zeros((HEIGHT, WIDTH), dtype=bool)
        cx, cy = WIDTH // 4 + STEP * t, HEIGHT // 2
        if vanish_at is None or t < vanish_at:
            window = (slice(cy - RADIUS, cy + RADIUS + 1), slice(cx - RADIUS, cx + RADIUS + 1))
            frame[window][disc] = sprite[disc]
            mask[window] = disc
        if occluder:
            left = WIDTH // 4 + 3 * RADIUS - 2 * STEP * t
            frame[:, max(0, left - RADIUS):max(0, left + RADIUS)] = (40, 200, 60)
            mask[:, max(0, left - RADIUS):max(0, left + RADIUS)] = False
        frames.append(frame.astype(np.uint8))
        truth.append(mask)
    return np.stack(frames), np.stack(truth)


def run(frames, source, mask, end, **kwargs) -> tuple[list[Proposal], PropagationSummary]:
    steps = list(propagate_mask(frames.__getitem__, source, mask, end, **kwargs))
    assert all(isinstance(s, Proposal) for s in steps[:-1]) and isinstance(steps[-1], PropagationSummary)
    return steps[:-1], steps[-1]


def test_forward_follows_a_translating_disc():
    frames, truth = make_clip()
    proposals, summary = run(frames, 0, truth[0], FRAMES - 1)
    assert [p.frame for p in proposals] == list(range(1, FRAMES))
    assert summary.reason is StopReason.END
    assert summary.last_frame == FRAMES - 1 and summary.frames == FRAMES - 1
    scores = [mask_iou(p.mask, truth[p.frame]) for p in proposals]
    assert min(scores) >= 0.9, scores
    assert mask_iou(truth[0], truth[-1]) < 0.1  # standing still would fail the level
    assert min(p.confidence for p in proposals) >= 0.9
    assert all(p.source_frame == 0 and p.guide_iou is None and not p.used_guide for p in proposals)


def test_backward_works_like_forward():
    frames, truth = make_clip()
    proposals, summary = run(frames, FRAMES - 1, truth[-1], 0)
    assert [p.frame for p in proposals] == list(range(FRAMES - 2, -1, -1))
    assert summary.reason is StopReason.END and summary.last_frame == 0
    assert min(mask_iou(p.mask, truth[p.frame]) for p in proposals) >= 0.9


def test_an_occluder_makes_confidence_fall_and_propagation_stop():
    frames, truth = make_clip(occluder=True)
    full_area = np.count_nonzero(truth[0])
    proposals, summary = run(frames, 0, truth[0], FRAMES - 1)
    assert summary.reason is StopReason.LOW_CONFIDENCE
    assert summary.stopped_at == summary.last_frame + 1 and summary.stop_confidence < 0.5
    # it stops once the bar hides a good part of the disc, and not before the bar reaches it
    assert np.count_nonzero(truth[summary.stopped_at]) < 0.75 * full_area
    assert proposals and proposals[0].confidence > proposals[-1].confidence
    # what it proposed before stopping follows the visible part
    assert min(mask_iou(p.mask, truth[p.frame]) for p in proposals) >= 0.85


def test_a_vanishing_object_stops_propagation_at_once():
    frames, truth = make_clip(vanish_at=10)
    proposals, summary = run(frames, 0, truth[0], FRAMES - 1)
    assert summary.reason in (StopReason.LOW_CONFIDENCE, StopReason.LOST)
    assert summary.stopped_at == 10 and summary.last_frame == 9 and len(proposals) == 9
    assert summary.stop_confidence < 0.2


def test_the_guide_snaps_an_imprecise_warp_back_and_a_wrong_guide_is_ignored():
    frames, truth = make_clip()
    too_wide = cv2.dilate(truth[0].astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    unguided, _ = run(frames, 0, too_wide, 15)
    snapping = PropagationSettings(snap_iou=0.6)  # the too-wide warp overlaps the truth by 0.62 at first
    guided, summary = run(frames, 0, too_wide, 15, guide=lambda t: truth[t], settings=snapping)
    j_unguided = np.mean([mask_iou(p.mask, truth[p.frame]) for p in unguided])
    j_guided = np.mean([mask_iou(p.mask, truth[p.frame]) for p in guided])
    assert j_unguided < 0.85 and j_guided > 0.97, (j_unguided, j_guided)
    assert summary.reason is StopReason.END and all(p.used_guide for p in guided)
    # a guide on another place (another object) disagrees: the warp is kept
    elsewhere = lambda t: np.roll(truth[t], 60, axis=0)  # noqa: E731
    kept, _ = run(frames, 0, truth[0], 15, guide=elsewhere)
    assert not any(p.used_guide for p in kept) and all(p.guide_iou == 0.0 for p in kept)
    assert min(mask_iou(p.mask, truth[p.frame]) for p in kept) >= 0.9
    # no guide mask on a frame (None) is the same as no guide there
    gaps, _ = run(frames, 0, truth[0], 6, guide=lambda t: truth[t] if t % 2 else None)
    assert [p.used_guide for p in gaps] == [t % 2 == 1 for t in range(1, 7)]


def test_frames_are_read_lazily_so_stopping_cancels():
    frames, truth = make_clip()
    asked = []

    def frame_at(index: int) -> np.ndarray:
        asked.append(index)
        return frames[index]

    steps = propagate_mask(frame_at, 5, truth[5], 25)
    assert asked == []  # nothing happens before the first step is asked for
    first_three = [next(steps) for _ in range(3)]
    assert [p.frame for p in first_three] == [6, 7, 8] and asked == [5, 6, 7, 8]
    steps.close()


def test_same_frame_and_bad_inputs():
    frames, truth = make_clip()
    proposals, summary = run(frames, 4, truth[4], 4)
    assert proposals == [] and summary.reason is StopReason.END and summary.last_frame is None
    with pytest.raises(InputError, match="empty"):
        propagate_mask(frames.__getitem__, 0, np.zeros_like(truth[0]), 5)
    with pytest.raises(InputError, match="bool"):
        propagate_mask(frames.__getitem__, 0, truth[0].astype(np.uint8), 5)
    with pytest.raises(InputError, match="min_confidence"):
        propagate_mask(frames.__getitem__, 0, truth[0], 5, min_confidence=1.5)
    with pytest.raises(InputError, match="end_frame"):
        propagate_mask(frames.__getitem__, 0, truth[0], -1)
    with pytest.raises(InputError, match="160x120"):
        list(propagate_mask(frames.__getitem__, 0, truth[0][:, :100], 5))
    with pytest.raises(InputError, match="preset"):
        PropagationSettings(flow_preset="x")


def test_a_mask_left_on_the_background_looks_unlike_the_object():
    from derrvos_core.annotation.appearance import AppearanceCheck

    frames, truth = make_clip()
    check = AppearanceCheck(frames[0], truth[0])
    assert check.score(frames[10], truth[10]) > 0.9  # the disc, moved on
    assert check.score(frames[10], truth[0]) < 0.5  # where the disc was: background now
    assert check.score(frames[10], np.zeros_like(truth[0])) == 0.0
