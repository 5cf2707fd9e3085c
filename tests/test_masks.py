"""derrvos_core.masks: RLE round trips, DAVIS palette and binary PNGs, overlays and colours."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from derrvos_core import result
from derrvos_core.errors import InputError
from derrvos_core.masks import (davis_palette, decode_rle, encode_rle, overlay_masks, read_binary_png,
                                read_palette_png, trajectory_colors, write_binary_png, write_palette_png)


@pytest.mark.parametrize("shape", [(61, 97), (1, 1), (48, 64)])
def test_rle_round_trip_is_json_friendly(shape):
    rng = np.random.default_rng(0)
    for mask in [rng.random(shape) < 0.4, np.zeros(shape, bool), np.ones(shape, bool)]:
        rle = encode_rle(mask)
        assert rle["size"] == list(shape) and isinstance(rle["counts"], str)
        again = json.loads(json.dumps(rle))
        assert np.array_equal(decode_rle(again), mask)
        assert np.array_equal(decode_rle({**rle, "counts": rle["counts"].encode()}), mask)  # bytes too
        assert np.array_equal(result.decode_rle(rle), decode_rle(rle))


def test_rle_known_counts_and_uncompressed_form():
    mask = np.zeros((3, 4), bool)
    mask[1, 1:3] = True  # column-major runs: 4 off, 1 on, 2 off, 1 on, 4 off
    assert decode_rle({"size": [3, 4], "counts": [4, 1, 2, 1, 4]}).tolist() == mask.tolist()
    assert np.array_equal(decode_rle(encode_rle(mask)), mask)
    with pytest.raises(InputError):
        decode_rle({"counts": "abc"})
    with pytest.raises(InputError):
        encode_rle(np.zeros((2, 3, 4), bool))


def test_palette_png_round_trip_keeps_ids_and_davis_colours(tmp_path):
    ids = np.zeros((61, 97), np.uint8)
    ids[5:20, 5:30], ids[30:50, 40:90], ids[0, 0] = 1, 2, 255
    path = write_palette_png(tmp_path / "a" / "00000.png", ids)
    with Image.open(path) as image:
        assert image.mode == "P"
        palette = np.array(image.getpalette()[:12]).reshape(4, 3)
    assert palette.tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert np.array_equal(read_palette_png(path), ids)
    assert davis_palette()[5].tolist() == [128, 0, 128]
    with pytest.raises(InputError, match="0..255"):
        write_palette_png(tmp_path / "bad.png", np.full((2, 2), 300))


def test_binary_png_is_0_and_255(tmp_path):
    mask = np.zeros((7, 9), bool)
    mask[2:5, 3:8] = True
    path = write_binary_png(tmp_path / "m.png", mask)
    raw = np.array(Image.open(path))
    assert raw.dtype == np.uint8 and set(np.unique(raw)) == {0, 255}
    assert np.array_equal(read_binary_png(path), mask)
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.stack([mask * 200, mask * 0, mask * 0], -1).astype(np.uint8)).save(rgb)
    assert np.array_equal(read_binary_png(rgb), mask)
    with pytest.raises(InputError, match="missing.png"):
        read_binary_png(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(InputError, match="junk.png"):
        read_palette_png(tmp_path / "junk.png")


def test_overlay_blends_outlines_and_skips_none():
    frame = np.full((10, 10, 3), 100, np.uint8)
    mask = np.zeros((10, 10), bool)
    mask[2:8, 2:8] = True
    out = overlay_masks(frame, [mask, None], [(200, 0, 0), (0, 255, 0)], alpha=0.5)
    assert out[4, 4].tolist() == [150, 50, 50]  # inside: half frame, half colour
    assert out[2, 4].tolist() == [200, 0, 0]  # outline: full colour
    assert out[0, 0].tolist() == [100, 100, 100]  # outside untouched
    with pytest.raises(InputError):
        overlay_masks(frame, [np.zeros((5, 5), bool)], [(1, 2, 3)])


def test_trajectory_colours_are_distinct_and_stable():
    colors = trajectory_colors(40)
    assert colors == trajectory_colors(40) and colors[:3] == trajectory_colors(3)
    arr = np.array(colors, dtype=float)
    gaps = np.abs(arr[:, None] - arr[None]).sum(-1) + np.eye(40) * 1e9
    assert gaps.min() > 20  # no two trajectories share a colour
    assert all(0 <= c <= 255 for rgb in colors for c in rgb)
