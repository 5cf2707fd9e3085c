"""derrvos_core.metrics: hand-computed cases for every metric, the official empty-frame rules, and a
dense per-frame reference of the DAVIS F (dilation with a disk) on random masks."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from derrvos_core.errors import InputError
from derrvos_core.metrics import (boundary_f, j_and_f, mean_iou, mean_j_and_f, overall_iou, region_similarity,
                                  temporal_iou, video_iou)


def square(size=(100, 100), rows=(20, 40), cols=(20, 40)) -> np.ndarray:
    mask = np.zeros(size, bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    return mask


def test_j_of_shifted_squares():
    gt = square((50, 50), (10, 20), (10, 20))
    pred = square((50, 50), (10, 20), (15, 25))  # 5 px right: I = 10*5, U = 100 + 100 - 50
    assert region_similarity(gt, pred) == pytest.approx([50 / 150])
    big = square()
    assert region_similarity(big, np.roll(big, 3, axis=1)) == pytest.approx([340 / 460])


def test_boundary_f_of_shifted_squares_by_hand():
    # 100x100 frame: tolerance ceil(0.008 * hypot(100, 100)) = 2 px. A 20x20 square's boundary map is
    # the 21x21 ring (80 px) from its top-left outer corner. Shifted 3 px right, 44 of the 80 ring pixels
    # of each lie within 2 px of the other ring (20 on the top row, 20 on the bottom row, 2 + 2 on the
    # near side, none on the far side), so precision = recall = F = 44/80.
    gt = square()
    pred = np.roll(gt, 3, axis=1)
    assert boundary_f(gt, pred) == pytest.approx([0.55])
    assert boundary_f(gt, gt) == pytest.approx([1.0])


def test_thin_one_pixel_shapes():
    gt = np.zeros((40, 40), bool)
    gt[10, 5:25] = True
    below = np.roll(gt, 1, axis=0)
    # Disjoint lines: J = 0. Their boundary maps (rows 9-10 and 10-11) are within the 1 px tolerance
    # (ceil(0.008 * 56.6) = 1) of each other everywhere, so F = 1.
    assert region_similarity(gt, below) == pytest.approx([0.0])
    assert boundary_f(gt, below) == pytest.approx([1.0])
    far = np.roll(gt, 5, axis=0)
    assert boundary_f(gt, far) == pytest.approx([0.0])
    column = np.zeros((40, 40), bool)
    column[3:30, 17] = True
    assert region_similarity(column, column) == pytest.approx([1.0])
    assert boundary_f(column, column) == pytest.approx([1.0])


def test_empty_cases_follow_the_official_rules():
    empty, obj = np.zeros((30, 30), bool), square((30, 30), (5, 15), (5, 15))
    assert region_similarity(empty, obj)[0] == 0.0 and boundary_f(empty, obj)[0] == 0.0  # empty GT
    assert region_similarity(obj, empty)[0] == 0.0 and boundary_f(obj, empty)[0] == 0.0  # empty prediction
    assert region_similarity(empty, empty)[0] == 1.0 and boundary_f(empty, empty)[0] == 1.0  # both empty


def test_j_and_f_averages_over_frames_including_empty_ones():
    gt = np.stack([square(), square(), np.zeros((100, 100), bool), np.zeros((100, 100), bool)])
    pred = np.stack([square(), np.roll(square(), 3, axis=1), np.zeros((100, 100), bool), square()])
    scores = j_and_f(gt, pred)
    j = (1 + 340 / 460 + 1 + 0) / 4
    f = (1 + 0.55 + 1 + 0) / 4
    assert scores == pytest.approx({"J": j, "F": f, "JF": (j + f) / 2})
    assert mean_j_and_f([scores, {"J": 0.0, "F": 1.0, "JF": 0.5}]) == pytest.approx(
        {"J": j / 2, "F": (f + 1) / 2, "JF": (j / 2 + (f + 1) / 2) / 2})


def test_temporal_and_video_iou():
    on, shifted, off = square(), np.roll(square(), 10, axis=1), np.zeros((100, 100), bool)
    gt = np.stack([on, on, on, off])
    pred = np.stack([off, on, shifted, on])
    # frames with GT {0,1,2}, with prediction {1,2,3}: union 4, both {1,2}
    assert temporal_iou(gt, pred) == pytest.approx(2 / 4)
    assert video_iou(gt, pred) == pytest.approx((1 + 200 / 600) / 4)
    nothing = np.zeros((3, 8, 8), bool)
    assert temporal_iou(nothing, nothing) == 1.0 and video_iou(nothing, nothing) == 1.0
    assert temporal_iou(nothing, nothing | True) == 0.0
    # present in disjoint frames (never together): vIoU is 0, not an error
    assert video_iou(np.stack([on, off]), np.stack([off, on])) == 0.0


def test_mean_and_overall_iou():
    a, b = square((50, 50), (10, 20), (10, 20)), square((50, 50), (10, 20), (15, 25))
    tiny = np.zeros((50, 50), bool)
    tiny[0, 0:10] = True
    empty = np.zeros((50, 50), bool)
    pairs = [(a, b), (tiny, tiny), (empty, empty)]  # I/U: 50/150, 10/10, 0/0
    assert mean_iou(pairs) == pytest.approx((50 / 150 + 1 + 1) / 3)
    assert overall_iou(pairs) == pytest.approx(60 / 160)
    assert overall_iou([(empty, empty)]) == 1.0
    with pytest.raises(InputError):
        mean_iou([])


def test_bad_shapes_raise_input_error():
    with pytest.raises(InputError, match="differ in shape"):
        region_similarity(np.zeros((2, 4, 4), bool), np.zeros((2, 4, 5), bool))
    with pytest.raises(InputError, match="differ in shape"):
        j_and_f(np.zeros((3, 4, 4), bool), np.zeros((2, 4, 4), bool))
    with pytest.raises(InputError):
        boundary_f(np.zeros(4, bool), np.zeros(4, bool))
    with pytest.raises(InputError, match="sample 1"):
        overall_iou([(np.zeros((2, 2)), np.zeros((2, 2))), (np.zeros((2, 2)), np.zeros((3, 2)))])


def reference_boundary_f(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The DAVIS definition frame by frame, densely: seg2bmap with explicit neighbours, disk dilation."""
    out = []
    for g, p in zip(gt, pred):
        height, width = g.shape
        radius = math.ceil(0.008 * math.hypot(height, width))
        yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        disk = xx ** 2 + yy ** 2 <= radius ** 2
        bounds = [_seg2bmap_loops(m) for m in (p, g)]
        dilated = [ndimage.binary_dilation(b, structure=disk) for b in bounds]
        n_p, n_g = bounds[0].sum(), bounds[1].sum()
        if n_p == 0 or n_g == 0:
            out.append(1.0 if n_p == n_g else 0.0)
            continue
        precision = (bounds[0] & dilated[1]).sum() / n_p
        recall = (bounds[1] & dilated[0]).sum() / n_g
        out.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return np.array(out)


def _seg2bmap_loops(seg: np.ndarray) -> np.ndarray:
    height, width = seg.shape
    at = lambda y, x: bool(seg[y, x]) if y < height and x < width else False  # noqa: E731
    b = np.zeros_like(seg)
    for y in range(height):
        for x in range(width):
            if y == height - 1 and x == width - 1:
                continue
            if x == width - 1:
                b[y, x] = at(y, x) != at(y + 1, x)
            elif y == height - 1:
                b[y, x] = at(y, x) != at(y, x + 1)
            else:
                b[y, x] = at(y, x) != at(y, x + 1) or at(y, x) != at(y + 1, x) or at(y, x) != at(y + 1, x + 1)
    return b


def test_boundary_f_matches_dense_reference_on_random_masks():
    rng = np.random.default_rng(7)
    for _ in range(25):
        height, width, frames = int(rng.integers(1, 70)), int(rng.integers(1, 70)), int(rng.integers(1, 4))
        gt = ndimage.binary_opening(rng.random((frames, height, width)) < 0.5, np.ones((1, 2, 2)))
        pred = rng.random((frames, height, width)) < rng.uniform(0, 0.5)
        pred[rng.random(frames) < 0.2] = False
        assert np.allclose(boundary_f(gt, pred), reference_boundary_f(gt, pred), rtol=0, atol=1e-12)
