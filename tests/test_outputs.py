"""One way to make each output: the CLI and `/segment` give the same masks and the same scores schema.

Threshold 0: the random tiny model's answer is all its trajectories, so the masks are not empty."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from derrvos_core.__main__ import main
from derrvos_core.masks import read_binary_png
from tests.helpers_app import make_service

EXPRESSION = "the orange cross"


def shape_of(value):
    """The JSON schema of a value: keys and value types, lists by their first item."""
    if isinstance(value, dict):
        return {k: shape_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape_of(value[0])] if value else []
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return "number" if numeric else type(value).__name__



def test_cli_and_segment_api_write_the_same_answer(tiny_model, tiny_model_dir, clip, tmp_path, one_thread):
    out = tmp_path / "cli"
    assert main(["segment", "--video", str(clip), "--expression", EXPRESSION, "--out", str(out),
                 "--checkpoint", str(tiny_model_dir), "--crop-size", "4", "--threshold", "0.0"]) == 0
    cli_scores = json.loads((out / "scores.json").read_text())
    api = make_service(tiny_model, tmp_path).api_segment(clip, EXPRESSION, 4, 0.0, name=clip.name)

    assert shape_of(cli_scores) == shape_of(api.scores) | {"run_id": "NoneType"}
    assert api.scores["run_id"] == api.run_id and cli_scores["run_id"] is None
    assert [t["score"] for t in cli_scores["trajectories"]] == \
        pytest.approx([t["score"] for t in api.scores["trajectories"]], abs=1e-6)
    assert cli_scores["selected"] == api.scores["selected"] and cli_scores["selected"]
    painted = 0
    with zipfile.ZipFile(api.masks_zip) as archive:
        pngs = sorted(n for n in archive.namelist() if n.endswith(".png"))
        assert [n.rsplit("/", 1)[1] for n in pngs] == sorted(p.name for p in (out / "masks").iterdir())
        for name in pngs:
            from_api = np.asarray(Image.open(io.BytesIO(archive.read(name)))) > 0
            assert np.array_equal(from_api, read_binary_png(out / "masks" / name.rsplit("/", 1)[1])), name
            painted += int(from_api.any())
    assert painted > 0  # the answer is not empty everywhere: the comparison has something to compare


def test_identity_colours_follow_the_object_not_its_place():
    from derrvos_core.masks import trajectory_colors
    from derrvos_core.outputs import identity_colours
    from derrvos_core.result import SegmentationResult, TrajectoryResult
    from derrvos_core.settings import SegmentSettings

    def traj(tid: int, crop: int, link: int) -> TrajectoryResult:
        return TrajectoryResult(trajectory_id=tid, crop_index=crop, frame_start=4 * crop, score=0.5,
                                rles=(None,) * 4, link_id=link)

    # crop 0: trajectories 0, 1; crop 1: 2 continues 0 (link 0), 3 is new (link 3); 4 is unlinked (-1)
    result = SegmentationResult(8, 16, 16, (traj(0, 0, 0), traj(1, 0, 1), traj(2, 1, 0), traj(3, 1, 3),
                                            traj(4, 1, -1)), SegmentSettings(crop_size=4, threshold=0.5))
    colours = identity_colours(result)
    assert colours[0] == colours[2]  # one object across crops, one colour
    assert len({colours[t] for t in (0, 1, 3, 4)}) == 4
    assert set(colours.values()) == set(trajectory_colors(4))
    assert identity_colours(result) == colours  # the same for the same result
