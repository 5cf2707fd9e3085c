"""The image-guided mask upsampler: bilinear until trained, in the checkpoint only when configured,
used for the masks a run outputs, and trained (resumably) by training/train_upsampler.py."""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from derrvos_core.errors import CheckpointError
from derrvos_core.model import DeRVOS, DeRVOSConfig, SegmentCache, load_checkpoint
from derrvos_core.trajectory.config import UpsamplerConfig
from derrvos_core.trajectory.upsampler import MaskUpsampler
from derrvos_core.video import open_video
from training import train_upsampler

from .helpers_synthref import tiny_synthref
from .test_model_inference import moving_squares, write_mp4

pytestmark = pytest.mark.usefixtures("one_thread")


def with_upsampler(cfg: DeRVOSConfig, channels: int = 4) -> DeRVOSConfig:
    return dataclasses.replace(cfg, input_size=64, multimodal_image_size=64, trajectory=dataclasses.replace(
        cfg.trajectory, upsampler=UpsamplerConfig(channels=channels, dilations=(1, 2))))


def test_an_untrained_upsampler_is_the_bilinear_upsampling_and_leaves_uncovered_frames_empty():
    torch.manual_seed(0)
    net = MaskUpsampler(UpsamplerConfig(channels=4), [120.0] * 3, [60.0] * 3).eval()
    frames = torch.rand(3, 3, 64, 64) * 255
    logits = torch.randn(2, 3, 16, 16)
    logits[1, 2] = -torch.rand(16, 16) - 0.1  # trajectory 1 is absent from frame 2
    out = net.upsample(frames, logits, chunk=2)
    bilinear = F.interpolate(logits, size=(32, 32), mode="bilinear", align_corners=False)
    assert out.shape == (2, 3, 32, 32)
    torch.testing.assert_close(out, bilinear)
    with torch.no_grad():
        net.head.bias.fill_(50.0)  # a trained net may add anything; an absent object stays absent
    out = net.upsample(frames, logits)
    assert bool((out[0] > 0).all()) and not bool((out[1, 2] > 0).any())


def test_the_paper_config_has_no_upsampler_keys_and_a_configured_one_round_trips(tmp_path):
    assert not DeRVOSConfig.full().trajectory.upsampler.enabled
    plain = DeRVOS.from_config(DeRVOSConfig.tiny())
    assert not any(".upsampler." in k for k in plain.state_dict())
    torch.manual_seed(1)
    model = DeRVOS.from_config(with_upsampler(DeRVOSConfig.tiny()))
    keys = [k for k in model.state_dict() if k.startswith("trajectory.upsampler.")]
    assert keys and len(model.state_dict()) == len(plain.state_dict()) + len(keys)
    with torch.no_grad():
        model.trajectory.upsampler.head.weight.normal_()
    loaded = load_checkpoint(model.save(tmp_path / "m"))
    trained = model.trajectory.upsampler.state_dict()
    torch.testing.assert_close(loaded.trajectory.upsampler.state_dict(), trained)
    assert loaded.version == model.version


def test_a_config_naming_an_upsampler_the_weights_lack_is_refused_by_name(tmp_path):
    folder = DeRVOS.from_config(dataclasses.replace(DeRVOSConfig.tiny(), input_size=64,
                                                    multimodal_image_size=64)).save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    config["trajectory"]["upsampler"] = {"channels": 4, "scale": 2, "dilations": [1]}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="trajectory.upsampler.stem.weight"):
        load_checkpoint(folder)
    config["trajectory"]["upsampler"]["scale"] = 1000
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="scale must be in 1..8"):
        load_checkpoint(folder)


def test_a_run_outputs_the_upsampler_masks():
    torch.manual_seed(2)
    model = DeRVOS.from_config(with_upsampler(DeRVOSConfig.tiny())).eval()
    video = (np.random.default_rng(0).random((4, 64, 64, 3)) * 255).astype(np.uint8)
    before = model.segment(video, "the red circle")
    with torch.no_grad():
        model.trajectory.upsampler.head.bias.fill_(50.0)  # every refined mask-frame becomes the whole frame
    after = model.segment(video, "the red circle")
    from pycocotools import mask as mask_utils
    grown = 0
    for b, a in zip(before.trajectories, after.trajectories):
        for rb, ra in zip(b.rles, a.rles):
            assert (rb is None) == (ra is None)  # the same mask-frames are covered
            if ra is not None:
                assert mask_utils.area(ra) == 64 * 64
                grown += mask_utils.area(ra) > mask_utils.area(rb)
    assert grown > 0


def test_a_crop_size_change_with_the_cache_decodes_nothing_and_equals_an_uncached_run(tmp_path):
    torch.manual_seed(3)
    model = DeRVOS.from_config(with_upsampler(DeRVOSConfig.tiny())).eval()
    with torch.no_grad():
        model.trajectory.upsampler.head.weight.normal_(std=0.5)  # the upsampler changes the masks
    path = write_mp4(tmp_path / "clip.mp4", moving_squares(10, 48, 80))
    cache, reads = SegmentCache(), []
    with open_video(path) as reader:
        read = reader.read
        reader.read = lambda start, stop: reads.append((start, stop)) or read(start, stop)
        model.segment(reader, "the red square", model.defaults.settings(crop_size=5), cache=cache)
        cropped = model.segment(reader, "the red square", model.defaults.settings(crop_size=3), cache=cache)
    assert reads == [(0, 5), (5, 10)]  # the second run read no frame: the upsampler's come from the cache
    assert (cache.stats.guide_misses, cache.stats.guide_hits) == (10, 10)
    uncached = model.segment(path, "the red square", model.defaults.settings(crop_size=3))
    assert [t.rles for t in cropped.trajectories] == [t.rles for t in uncached.trajectories]
    bilinear = DeRVOS.from_config(with_upsampler(DeRVOSConfig.tiny()))
    bilinear.load_state_dict(model.state_dict())
    with torch.no_grad():
        bilinear.trajectory.upsampler.head.weight.zero_()
    plain = bilinear.eval().segment(path, "the red square", model.defaults.settings(crop_size=3))
    assert [t.rles for t in plain.trajectories] != [t.rles for t in uncached.trajectories]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("upsampler")
    tiny_synthref(root / "data", train=(2, 3), valid=(1, 4))
    torch.manual_seed(0)
    DeRVOS.from_config(dataclasses.replace(DeRVOSConfig.tiny(), input_size=64,
                                           multimodal_image_size=64)).save(root / "base")
    return root


def run_upsampler(root, capsys, checkpoint, work: str = "work", out: str | None = None, steps: int = 4,
                  extra: tuple[str, ...] = (), code: int = 0) -> str:
    argv = ["--checkpoint", str(checkpoint), "--root", str(root / "data"), "--videos", "2",
            "--valid-videos", "1", "--frames", "8", "--every", "2", "--channels", "4",
            "--steps", str(steps), "--batch", "4", "--save-every", "2", "--work", str(root / work),
            *(["--out", str(root / out)] if out else []), *extra]
    parser = argparse.ArgumentParser()
    train_upsampler.add_arguments(parser)
    assert train_upsampler.run(parser.parse_args(argv)) == code
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_training_writes_a_loadable_model_with_a_trained_upsampler_and_resumes(tiny_data, capsys):
    root = tiny_data

    def train(out: str, steps: int = 4) -> str:
        return run_upsampler(root, capsys, root / "base", out=out, steps=steps)

    first = train("out4")
    assert "step 4/4" in first and "valid mean IoU: bilinear" in first and "resumed" not in first
    model, base = load_checkpoint(root / "out4"), load_checkpoint(root / "base")
    assert model.cfg.trajectory.upsampler.channels == 4
    assert float(model.trajectory.upsampler.head.weight.detach().abs().sum()) > 0  # moved off its zero start
    torch.testing.assert_close(model.tais.state_dict(), base.tais.state_dict())
    assert "resumed" not in train("out6", steps=6)  # another schedule keeps its own state
    again = train("again")
    assert "resumed at step 4" in again and "step 4/4" not in again
    torch.testing.assert_close(load_checkpoint(root / "again").state_dict(), model.state_dict())


def test_a_small_mask_is_refined_in_a_window_around_it_and_a_large_one_whole():
    torch.manual_seed(0)
    net = MaskUpsampler(UpsamplerConfig(channels=4), [120.0] * 3, [60.0] * 3).eval()
    seen = []
    net.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[1].shape[-2:])))
    logits = torch.full((2, 1, 32, 32), -5.0)
    logits[0, 0, 2:4, 28:30] = 5.0  # a 2 x 2 speck near the top-right corner
    logits[1, 0, 4:28, 4:28] = 5.0  # most of the frame
    out = net.upsample(torch.rand(1, 3, 128, 128) * 255, logits)
    assert sorted(seen) == [(12, 12), (32, 32)]  # the speck's window: 2 + 2 x 3 margin -> 12 cells
    bilinear = F.interpolate(logits, size=(64, 64), mode="bilinear", align_corners=False)
    assert torch.equal(out > 0, bilinear > 0)  # untrained, the window path keeps the bilinear mask
    torch.testing.assert_close(out[0, 0, 24:, :40], bilinear[0, 0, 24:, :40])  # outside the window: as is


def test_the_branch_alone_trains_it_and_a_model_on_that_branch_takes_it(tiny_data, capsys):
    """Trained on a stage 1-3 output while stage 4 trains on the same branch, then attached: the same
    model as training it on the finished model directly. Another branch does not reuse the examples."""
    from training.trainer.stages.common import export_trajectory

    root = tiny_data
    export_trajectory(load_checkpoint(root / "base"), root / "branch")  # as stage 3 writes its branch
    assert "give --input-size" in run_upsampler(root, capsys, root / "branch", "work-branch", code=1)
    assert "no --out" in run_upsampler(root, capsys, root / "branch", "work-branch", out="x", code=1,
                                       extra=("--input-size", "64"))
    alone = run_upsampler(root, capsys, root / "branch", "work-branch", extra=("--input-size", "64"))
    assert "step 4/4" in alone and "trained in" in alone
    attached = run_upsampler(root, capsys, root / "base", "work-branch", out="attached")
    assert "resumed at step 4" in attached and "step 4/4" not in attached
    run_upsampler(root, capsys, root / "base", "work-direct", out="direct")
    torch.testing.assert_close(load_checkpoint(root / "attached").state_dict(),
                               load_checkpoint(root / "direct").state_dict())
    torch.manual_seed(1)
    DeRVOS.from_config(dataclasses.replace(DeRVOSConfig.tiny(), input_size=64,
                                           multimodal_image_size=64)).save(root / "other")
    other = run_upsampler(root, capsys, root / "other", "work-branch", out="other-up")
    assert "resumed" not in other and "step 4/4" in other
    assert "--out is needed" in run_upsampler(root, capsys, root / "base", "work-branch", code=1)
