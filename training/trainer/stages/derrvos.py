"""Stage 4: DeRVOS. The trajectory branch is frozen; BEiT-3 (low lr) and TAIS are trained.

Each item is one expression: a crop of cached trajectories, T = clip_length frames sampled in it,
the frames through BEiT-3 with the expression, TAIS scores the trajectories, and the selection loss
(deep supervision over the N_d layers) is taken against labels from clip mask IoU >= 0.5.

Options:
    crop_size (36): frames per cached crop (as inference cuts videos).
    (Trajectories per crop passed to TAIS: the model's `top_k`, the same as inference; not an option.)
    loss_kind ("bce"): "bce" keeps confidences calibrated for the 0.7 threshold; "focal" as DETR.
    prebuild_cache (true): fill the trajectory cache before the first step (else on first use).
    label_iou (0.5): clip mask IoU with the target that makes a trajectory positive (DESIGN default).
    motion_from_crop (true): TAIS reads motion over the whole cached crop (consecutive frames, as at
        inference) rather than over the T sampled frames only (the first default's way; kept to measure it).
    label_best_match_iou (none): also make each target object's best trajectory positive when its
        IoU reaches this (see `trajectory_labels`; the tiny SynthRef default uses 0.2, model card).
    label_duplicates ("negative"): what a trajectory overlapping a target (clip IoU >= 0.2) without being
        positive is to the loss: "negative", "soft" (its IoU) or "ignore" (`trajectory_labels`).
    max_videos (all): train on the expressions of the first N videos only (bounds the cache cost).
    tokenizer_vocab (1000): pieces of the sentencepiece model trained when `tokenizer` is null.
"""
from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from derrvos_core.datasets import open_dataset
from derrvos_core.tais.losses import selection_loss, trajectory_labels

from ..referring_data import ReferringClip, ReferringClipDataset
from ..stage import Stage
from ..trajectory_cache import CacheKey, TrajectoryCache, frozen_crop_trajectories
from .common import train_only
from .derrvos_model import build_selection_model, export_selection_model, tokenizer_for


class DeRVOSStage(Stage):
    name = "derrvos"
    option_names = frozenset({"crop_size", "loss_kind", "prebuild_cache", "label_iou", "label_best_match_iou",
                              "max_videos", "tokenizer", "tokenizer_vocab", "motion_from_crop",
                              "label_duplicates"})
    trained = ("multimodal.", "tais.")

    def build_model(self, cfg, ctx):
        model = build_selection_model(cfg, tokenizer_for(cfg, ctx))
        train_only(model, self.trained)
        return model

    def build_dataset(self, cfg, model, ctx):
        samples = limit_samples(open_dataset(cfg.data.dataset, cfg.data.root, cfg.data.split),
                                self.options.get("max_videos"), cfg.data.max_samples)
        # The cache holds what inference computes: the model's own input size and top-K.
        cache = TrajectoryCache(Path(cfg.data.cache_dir or cfg.out_dir / "cache"),
                                CacheKey.of(model, int(self.options.get("crop_size", 36))))
        labeler = partial(trajectory_labels, iou=float(self.options.get("label_iou", 0.5)),
                          best_match_iou=_optional_float(self.options.get("label_best_match_iou")),
                          duplicates=str(self.options.get("label_duplicates", "negative")))
        dataset = ReferringClipDataset(samples, cache, frozen_crop_trajectories(model), model.trajectory.prepare,
                                       encode_text=model.multimodal.tokenizer.encode, labeler=labeler,
                                       clip_length=cfg.data.clip_length, flip_prob=cfg.data.flip_prob)
        if self.options.get("prebuild_cache", True):
            prebuild(dataset, ctx)
        return dataset

    def collate(self, items: list[ReferringClip]) -> list[ReferringClip]:
        return items

    def loss(self, model, batch: list[ReferringClip]):
        model.trajectory.eval()  # frozen and cached; kept in eval for any direct use
        kind = str(self.options.get("loss_kind", "bce"))
        from_crop = bool(self.options.get("motion_from_crop", True))
        total, hits, positives = 0.0, 0.0, 0.0
        for clip in batch:
            tokens = model.multimodal.encode(clip.frames, clip.text_ids, clip.text_padding_mask)
            out = model.tais(clip.trajectories, tokens, crop=clip.crop if from_crop else None,
                             frame_index=clip.frame_index if from_crop else None)
            total = total + selection_loss(out.layer_logits, clip.labels, kind=kind) / len(batch)
            chosen = out.logits.detach().float().sigmoid() >= 0.5
            counted = clip.labels >= 0  # IGNORE'd trajectories are neither right nor wrong
            hits += float((chosen[counted] == (clip.labels[counted] >= 0.5)).all())
            positives += float((clip.labels >= 0.5).sum())
        return total, {"exact_selection": hits / len(batch), "positives": positives / len(batch)}

    def export(self, model, cfg, out_dir):
        return export_selection_model(model, cfg, out_dir)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def entry_video_id(entry) -> str:
    """The video (image) id of a reader's light entry without decoding the sample."""
    if hasattr(entry, "video_id"):
        return entry.video_id
    return str(entry.image["id"])  # RefCOCO-layout entries


def entry_expression(entry) -> str:
    return entry.expression if hasattr(entry, "expression") else entry.sentence["sent"]


class SampleSubset:
    """Some samples of a lazy dataset, still lazy (keeps `entries` for the cache's video list)."""

    def __init__(self, samples, indices: list[int]):
        self.samples, self.indices = samples, list(indices)
        entries = getattr(samples, "entries", None)
        self.entries = [entries[i] for i in self.indices] if entries is not None else []

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        return self.samples[self.indices[i]]


def limit_samples(samples, max_videos: int | None, max_samples: int | None):
    """The expressions of the first `max_videos` videos (sorted ids), then the first `max_samples`."""
    indices = list(range(len(samples)))
    entries = getattr(samples, "entries", None)
    if max_videos and entries is not None:
        keep = set(sorted({entry_video_id(e) for e in entries})[: int(max_videos)])
        indices = [i for i in indices if entry_video_id(entries[i]) in keep]
    if max_samples:
        indices = indices[: int(max_samples)]
    return samples if len(indices) == len(samples) else SampleSubset(samples, indices)


def prebuild(dataset: ReferringClipDataset, ctx) -> None:
    """Fill the cache for every video of the dataset (each rank its share), with a progress line."""
    first = {}
    for i, entry in enumerate(getattr(dataset.samples, "entries", [])):
        first.setdefault(entry_video_id(entry), i)
    if not first:  # not an RVOSDataset: visit samples to find their videos
        first = {dataset.samples[i].video_id: i for i in reversed(range(len(dataset.samples)))}
    videos = sorted(first)[ctx.rank::ctx.world_size]
    todo = [v for v in videos if not dataset.cache.has(v)]
    start = time.perf_counter()
    for n, vid in enumerate(todo, 1):
        dataset.crops(dataset.samples[first[vid]])
        if ctx.is_main and (n % 25 == 0 or n == len(todo)):
            print(f"trajectory cache: {n}/{len(todo)} videos ({time.perf_counter() - start:.0f} s)", flush=True)
    ctx.barrier()
