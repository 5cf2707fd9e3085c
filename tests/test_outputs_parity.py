"""The CLI (`python -m derrvos_core segment`, in its own process) and the app's `/segment`
(`StudioService.api_segment`) give the same outputs for the same video, expression and settings with the
same model: the same mask per frame, and the same scores JSON (keys and types everywhere; values too,
but for run_id: the API stores a run and names it, the CLI stores none and writes null)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from derrvos_core.masks import read_binary_png
from derrvos_core.model import load_checkpoint

from tests.helpers_app import make_service
from .test_model import build_model
from .test_model_inference import EXPRESSION, moving_squares, write_mp4

REPO = Path(__file__).resolve().parents[1]
CROP = 4

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    model_dir = build_model(seed=7).save(root / "model")
    video = write_mp4(root / "clip.mp4", moving_squares(9, 48, 64))
    model = load_checkpoint(model_dir)
    scores = sorted(t.score for t in model.segment(str(video), EXPRESSION,
                                                   model.defaults.settings(crop_size=CROP)).trajectories)
    threshold = round(scores[len(scores) // 2], 4)  # about half selected: an answer worth comparing
    return model, model_dir, video, threshold


def _cli(model_dir: Path, video: Path, threshold: float, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "derrvos_core", "segment", "--video", str(video), "--expression",
                           EXPRESSION, "--out", str(out), "--checkpoint", str(model_dir), "--crop-size", str(CROP),
                           "--threshold", str(threshold)], capture_output=True, text=True, env=env, timeout=600,
                          cwd=REPO)


def _schema(value):
    """The shape of a JSON value: dict keys with their schemas, list items' schemas, leaf types."""
    if isinstance(value, dict):
        return {k: _schema(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_schema(v) for v in value]
    return type(value).__name__


def test_cli_and_api_segment_give_the_same_masks_and_scores(setup, tmp_path):
    model, model_dir, video, threshold = setup
    done = _cli(model_dir, video, threshold, tmp_path / "cli")
    assert done.returncode == 0, done.stderr
    cli_scores = json.loads((tmp_path / "cli" / "scores.json").read_text())

    service = make_service(model, tmp_path)
    api = service.api_segment(video, EXPRESSION, crop_size=CROP, threshold=threshold)
    api_scores = json.loads(json.dumps(api.scores))  # as /segment sends it

    assert isinstance(api_scores["run_id"], int) and cli_scores["run_id"] is None
    assert _schema({**api_scores, "run_id": None}) == _schema(cli_scores)
    assert {**api_scores, "run_id": None} == cli_scores
    assert 0 < len(cli_scores["selected"]) < len(cli_scores["trajectories"])

    with zipfile.ZipFile(api.masks_zip) as archive:
        api_masks = {Path(n).stem: np.asarray(Image.open(io.BytesIO(archive.read(n)))) > 127
                     for n in archive.namelist()}
    cli_masks = {p.stem: read_binary_png(p) for p in (tmp_path / "cli" / "masks").glob("*.png")}
    assert sorted(api_masks) == sorted(cli_masks) and len(cli_masks) == 9
    for name, mask in cli_masks.items():
        assert np.array_equal(api_masks[name], mask), name
    assert any(mask.any() for mask in cli_masks.values())
