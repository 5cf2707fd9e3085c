"""`python -m derrvos_core segment`: masks, overlay and scores written; bad input is one line and exit 2;
the shipped models by name (default = the real-video model), with what it ignored and why nothing was
selected as notes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from derrvos_core.__main__ import main
from derrvos_core.masks import read_binary_png
from derrvos_core.model import catalog, checkpoint
from derrvos_core.video import probe

from .test_model import build_model
from .test_model_inference import EXPRESSION, moving_squares, write_mp4


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model_dir = build_model(seed=5).save(root / "model")
    video = write_mp4(root / "clip.mp4", moving_squares(9, 48, 64))
    return model_dir, video


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reference(setup):
    """The same run in-process, to check what the CLI wrote."""
    model_dir, video = setup
    model = checkpoint.load_checkpoint(model_dir)
    return model.segment(video, EXPRESSION, model.defaults.settings(crop_size=4, threshold=0.5))


def test_writes_masks_overlay_and_scores(setup, reference, tmp_path, capsys):
    model_dir, video = setup
    out = tmp_path / "out"
    code = main(["segment", "--video", str(video), "--expression", EXPRESSION, "--out", str(out),
                 "--checkpoint", str(model_dir), "--crop-size", "4", "--threshold", "0.5"])
    assert code == 0
    err = capsys.readouterr().err
    assert "3/3" in err  # the progress bar reached the last crop
    scores = json.loads((out / "scores.json").read_text())
    assert scores["crop_size"] == 4 and scores["threshold"] == 0.5 and scores["num_frames"] == 9
    assert scores["model_version"].startswith("derrvos-tiny-")
    assert [t["crop_index"] for t in scores["trajectories"]] == [0] * 16 + [1] * 16 + [2] * 16
    assert all(set(t) >= {"trajectory_id", "score", "crop_index", "frames", "selected"}
               for t in scores["trajectories"])
    selected = [t for t in scores["trajectories"] if t["selected"]]
    assert selected == [t for t in scores["trajectories"] if t["score"] >= 0.5]
    assert [t["score"] for t in scores["trajectories"]] == [t.score for t in reference.trajectories]
    pngs = sorted(p.name for p in (out / "masks").iterdir())
    assert pngs == [f"{i:05d}.png" for i in range(9)]
    for frame in range(9):
        mask = read_binary_png(out / "masks" / f"{frame:05d}.png")
        expected = np.zeros((48, 64), dtype=bool)
        for t in selected:
            if frame in t["frames"]:
                expected |= reference.trajectories[t["trajectory_id"]].mask(frame, 48, 64)
        assert mask.shape == (48, 64)
        assert np.array_equal(mask, expected)
    info = probe(out / "overlay.mp4")
    assert info.num_frames == 9 and (info.height, info.width) == (48, 64)


@pytest.mark.parametrize("args, message", [
    (["--expression", " "], "expression is empty"),
    (["--video", "nowhere.mp4"], "no such video"),
    (["--checkpoint", "no_such_model"], "no such model folder; use a folder, or one of default, real, synthref"),
    (["--crop-size", "0"], "crop size"),
    (["--device", "abacus"], "device 'abacus' is not a device"),
])
def test_bad_input_is_one_line_and_exit_2(setup, tmp_path, capsys, args, message):
    model_dir, video = setup
    base = {"--video": str(video), "--expression": EXPRESSION, "--out": str(tmp_path / "o"),
            "--checkpoint": str(model_dir)}
    base.update(dict(zip(args[::2], args[1::2])))
    code = main(["segment", *[x for kv in base.items() for x in kv]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err and err.startswith("error:")
    assert not (tmp_path / "o" / "scores.json").exists()


def _no_model(*args, **kwargs):
    raise AssertionError("the model was loaded before --out was checked")


@pytest.mark.parametrize("make_out, message", [
    (lambda d: _touch(d / "taken"), "taken is a file; give a folder"),
    (lambda d: _touch(d / "taken") / "sub" / "dir", "lies under"),
])
def test_a_bad_out_fails_before_the_model_loads(setup, tmp_path, capsys, monkeypatch, make_out, message):
    _, video = setup
    monkeypatch.setattr(catalog, "load_model", _no_model)
    out = make_out(tmp_path)
    code = main(["segment", "--video", str(video), "--expression", EXPRESSION, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: --out") and message in err
    assert "Traceback" not in err


def test_out_without_room_fails_before_the_model_loads(setup, tmp_path, capsys, monkeypatch):
    import collections
    import shutil

    _, video = setup
    monkeypatch.setattr(catalog, "load_model", _no_model)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 20, (10 << 20) - 4096, 4096))
    code = main(["segment", "--video", str(video), "--expression", EXPRESSION, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "0.0 MiB free there" in err and "need about" in err
    assert not (tmp_path / "o").exists()


def _touch(path: Path) -> Path:
    path.write_text("not a folder")
    return path


REALREF_B = Path(__file__).resolve().parent.parent / "data" / "realref" / "clips" / "vtest-b"


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory):
    """The first 12 frames of RealRef's vtest-b (people on a square) as a frame folder."""
    if not (REALREF_B / "00011.jpg").is_file():
        pytest.skip(f"{REALREF_B} is not set up (python training/realref_setup.py)")
    folder = tmp_path_factory.mktemp("vtest-b-12")
    for t in range(12):
        (folder / f"{t:05d}.jpg").symlink_to(REALREF_B / f"{t:05d}.jpg")
    return folder


def test_the_default_model_is_the_real_one_and_notes_say_what_it_ignored(real_clip, tmp_path, capsys):
    import derrvos_core

    out = tmp_path / "out"
    code = main(["segment", "--video", str(real_clip), "--expression",
                 "the woman in the red jacket next to the lamp post", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    scores = json.loads((out / "scores.json").read_text())
    model = derrvos_core.load_model()  # the package's load_model names the same default
    assert scores["model_version"] == model.version and model.version.startswith("derrvos-real")
    assert (scores["crop_size"], scores["threshold"]) == (model.defaults.crop_size, model.defaults.threshold)
    assert scores["link_crops"] == model.defaults.link_crops
    assert "note: ignored: 'next to the lamp post'" in err
    assert scores["ignored"] == ["next to the lamp post"]
    code = main(["segment", "--video", str(real_clip), "--expression", "the dog", "--out", str(tmp_path / "dog"),
                 "--checkpoint", "real"])
    captured = capsys.readouterr()
    err = captured.err
    assert code == 0 and captured.out.startswith("0 of ")
    assert "note: No object reached the threshold" in err and "the best scored" in err


def test_checkpoint_synthref_runs_the_synthref_model(setup, tmp_path, capsys):
    _, video = setup
    out = tmp_path / "out"
    assert main(["segment", "--video", str(video), "--expression", EXPRESSION, "--out", str(out),
                 "--checkpoint", "synthref", "--crop-size", "9"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["model_version"] == checkpoint.load_checkpoint(catalog.SYNTHREF_MODEL).version
