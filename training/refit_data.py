"""What a refit trains and scores on: the store's corrected expressions, split by video, and the stage-4
machinery pointed at them.

The split is by video, not by expression: expressions of one video share its frames and its cached
trajectories, so holding out single expressions would let the held-out score see training videos.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from derrvos_core.datasets.types import RVOSSample
from derrvos_core.errors import InputError
from derrvos_core.tais.losses import trajectory_labels

from .trainer.referring_data import ReferringClipDataset
from .trainer.stages.common import train_only
from .trainer.stages.derrvos import DeRVOSStage, prebuild
from .trainer.trajectory_cache import CacheKey, TrajectoryCache, frozen_crop_trajectories


def held_out_videos(video_ids, holdout: float, seed: int) -> set[str]:
    """round(holdout x videos) of the distinct `video_ids`, at least one and all but one at most; the
    same ids, fraction and seed always give the same choice."""
    if not 0.0 < holdout < 1.0:
        raise InputError(f"--holdout must be a fraction in (0, 1), got {holdout}")
    videos = sorted({str(v) for v in video_ids}, key=lambda v: (len(v), v))  # store ids: numeric order
    if len(videos) < 2:
        raise InputError(f"the corrections cover {len(videos)} video(s) ({', '.join(videos) or 'none'}); "
                         f"refit holds out whole videos, so it needs corrected expressions on at least 2")
    count = min(max(1, round(holdout * len(videos))), len(videos) - 1)
    order = np.random.default_rng(seed).permutation(len(videos))
    return {videos[i] for i in order[:count]}


def split_by_video(samples: list[RVOSSample], holdout: float, seed: int
                   ) -> tuple[list[RVOSSample], list[RVOSSample]]:
    """(train, held_out) samples, whole videos held out as `held_out_videos` picks them."""
    if not samples:
        raise InputError("the store holds no corrected expressions: correct some runs in the app "
                         "(accept / reject a trajectory, draw, erase or set a mask) before refitting")
    held = held_out_videos([s.video_id for s in samples], holdout, seed)
    return ([s for s in samples if s.video_id not in held], [s for s in samples if s.video_id in held])


def share_frames(samples: list[RVOSSample], max_videos: int = 8) -> list[RVOSSample]:
    """The samples with frame loading through one small LRU: a store sample decodes its whole video on
    every call, and training and evaluation ask for the same few videos again and again."""
    memo: OrderedDict[str, np.ndarray] = OrderedDict()

    def loader(sample: RVOSSample):
        def load() -> np.ndarray:
            if sample.video_id in memo:
                memo.move_to_end(sample.video_id)
            else:
                memo[sample.video_id] = sample.load_frames()
                while len(memo) > max_videos:
                    memo.popitem(last=False)
            return memo[sample.video_id]
        return load

    return [dataclasses.replace(s, load_frames=loader(s)) for s in samples]


class RefitStage(DeRVOSStage):
    """Stage 4 on an already loaded model and a given list of samples.

    Everything else (frozen trajectory branch, cached crops, clips of T frames, flip with left/right
    swap, the selection loss, two lr groups) is stage 4's own. The crop size of the cache is the one
    inference will use (`options.crop_size`), so training sees the trajectories evaluation sees.
    """

    name = "refit"

    def __init__(self, model: torch.nn.Module, samples: list[RVOSSample]):
        if not samples:
            raise InputError("refit has no training expressions")
        self.model, self.samples = model, samples

    def build_model(self, cfg, ctx):
        train_only(self.model, self.trained)
        return self.model.train()

    def build_dataset(self, cfg, model, ctx):
        cache = TrajectoryCache(Path(cfg.data.cache_dir or cfg.out_dir / "cache"),
                                CacheKey.of(model, int(self.options["crop_size"])))
        dataset = ReferringClipDataset(self.samples, cache, frozen_crop_trajectories(model), model.trajectory.prepare,
                                       encode_text=model.multimodal.tokenizer.encode, labeler=trajectory_labels,
                                       clip_length=cfg.data.clip_length, flip_prob=cfg.data.flip_prob)
        prebuild(dataset, ctx)
        return dataset

    def export(self, model, cfg, out_dir: Path) -> Path:
        """Nothing yet: refit saves the model itself once the after-report (its model card) exists."""
        out_dir.mkdir(parents=True, exist_ok=True)
        return out_dir
