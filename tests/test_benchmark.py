"""training/benchmark.py: the time breakdown adds up on a tiny random model and a short video."""
from __future__ import annotations

import dataclasses

import torch

from derrvos_core.model import DeRVOS
from derrvos_core.trajectory.config import UpsamplerConfig
from derrvos_core.video import write_video
from training import benchmark

from .test_model import build_model, small_config


def test_component_times_add_up(tmp_path):
    cfg = small_config()
    trajectory = dataclasses.replace(cfg.trajectory, upsampler=UpsamplerConfig(4))
    cfg = dataclasses.replace(cfg, trajectory=trajectory)
    torch.manual_seed(3)
    model = DeRVOS.from_config(cfg).eval()  # every component, the mask upsampler too
    video = write_video(tmp_path / "v.mp4", benchmark.shape_frames(5, height=64, width=96), fps=25)
    rows = dict(benchmark.component_times(model, video, 5))
    labels = [label for label, _ in benchmark.COMPONENTS]
    assert list(rows)[:len(labels)] == labels
    assert "mask upsampler" not in dict(benchmark.component_times(build_model(seed=3), video, 5))
    assert all(rows[label] > 0 for label in labels)
    top = sum(rows[label] for label in labels if not label.startswith(" "))
    assert top <= rows["end to end"]  # the timed parts do not overlap or double-count
    parts = rows["  backbone"] + rows["  pixel decoder"] + rows["  transformer decoder"]
    assert parts <= rows["segmenter"]
    assert rows["    of it, deformable-attention layers"] <= rows["  pixel decoder"]
    for _, path in benchmark.COMPONENTS:  # the timing hooks are gone afterwards
        module = model.get_submodule(path)
        assert not module._forward_hooks and not module._forward_pre_hooks
