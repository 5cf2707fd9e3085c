"""The seams: a model with no torch parameters and no nn.Module runs through inference, cache and linking."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from derrvos_core.model import ModelDefaults, SegmentationModel, SegmentCache
from derrvos_core.model.branches import MultimodalBranch, Selector, TrajectoryBranch
from derrvos_core.model.inference import segment
from derrvos_core.trajectory.types import Trajectories, mask_kinematics

from .test_model_inference import moving_squares


@dataclass
class ChannelMasks:
    """Per frame, one mask per colour channel (the toy branch's 'detections')."""

    masks: np.ndarray  # bool [t, 3, h, w]

    def frame(self, index: int) -> ChannelMasks:
        return ChannelMasks(self.masks[index:index + 1].copy())

    @staticmethod
    def concat(parts: list[ChannelMasks]) -> ChannelMasks:
        return ChannelMasks(np.concatenate([p.masks for p in parts]))

    @property
    def nbytes(self) -> int:
        return self.masks.nbytes


class ChannelBranch:
    """Three trajectories per crop: where each colour channel dominates."""

    key = "channels/4"
    calls = 0

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        return frames[:, ::4, ::4]

    def frame_features(self, prepared: np.ndarray) -> ChannelMasks:
        ChannelBranch.calls += 1
        return ChannelMasks(np.moveaxis(prepared > 128, -1, 1))

    def new_session(self) -> list:
        return []

    def trajectories(self, features: ChannelMasks, session: list) -> tuple[Trajectories, torch.Tensor]:
        session.append(len(features.masks))
        masks = torch.from_numpy(features.masks).transpose(0, 1).float()  # [3, t, h, w]
        boxes, areas = mask_kinematics(masks > 0)
        n, t = masks.shape[:2]
        traj = Trajectories(embeddings=torch.eye(n)[:, None].expand(n, t, n).contiguous(),
                            mask_logits=masks * 2 - 1, scores=torch.ones(n), class_logits=torch.zeros(n, 2),
                            boxes=boxes, areas=areas)
        return traj, torch.arange(n)


@dataclass(frozen=True)
class Query:
    text: str
    truncated: bool = False
    ignored: tuple[str, ...] = ()


class ColourReader:
    key = "words"

    def read(self, text: str) -> Query:
        words = text.split()
        return Query(" ".join(w for w in words if w in ("red", "green", "blue")),
                     ignored=tuple(w for w in words if w not in ("red", "green", "blue")))

    def frame_tokens(self, prepared, expression):
        return None


class ColourSelector:
    def scores(self, trajectories, tokens, expression) -> torch.Tensor:
        return torch.tensor([float(c in expression.text) for c in ("red", "green", "blue")])


class RuleModel:
    """A `SegmentationModel` made of plain objects: no parameters, no device of its own."""

    def __init__(self):
        self.trajectory, self.multimodal, self.selector = ChannelBranch(), ColourReader(), ColourSelector()
        self.defaults, self.version = ModelDefaults(crop_size=4, threshold=0.5), "rules-1"
        self.device = torch.device("cpu")

    def evaluating(self):
        return contextlib.nullcontext()


def test_a_model_without_parameters_plugs_into_inference_cache_and_linking():
    model = RuleModel()
    assert isinstance(model, SegmentationModel) and isinstance(model.trajectory, TrajectoryBranch)
    assert isinstance(model.multimodal, MultimodalBranch) and isinstance(model.selector, Selector)
    frames, cache = moving_squares(10), SegmentCache()
    result = segment(model, frames, "the red square", cache=cache)
    assert result.ignored == ("the", "square") and result.expression == "red"
    assert result.crop_size == 4 and len(result.trajectories) == 9 and len(result.selected) == 3
    assert result.frame_mask(0).any()
    calls = ChannelBranch.calls
    linked = segment(model, frames, "the red square",
                     model.defaults.settings(crop_size=5, link_crops=True), cache=cache)
    assert ChannelBranch.calls == calls  # every frame's features came from the cache
    assert cache.stats.feature_hits == 10 and cache.stats.token_hits == 10
    assert sorted({t.link_id for t in linked.trajectories}) == [0, 1, 2]  # one identity per channel
    assert np.array_equal(linked.masks, segment(model, frames, "red",
                                                model.defaults.settings(crop_size=5, link_crops=True)).masks)
