"""Stage 3: the temporal refiner, offline over clips, with the segmenter and tracker frozen.

Tiny: trained from scratch after stages 1-2. Full: start from the official DVIS++ weights
(`init_dvis`), which already hold a trained refiner.

Options:
    max_stride (1): largest frame stride of a clip.
    reverse_prob (0.5): chance of playing a clip backwards (DVIS++ REVERSE_AGU).
    guide_fraction (0.5): share of training whose matching uses the tracker's predictions.
    attribute_weight (0): weight of the training-only attribute heads on the refined embeddings of the
        matched trajectories, in every frame their object is in (`training/trainer/attributes.py`).
"""
from __future__ import annotations

import torch

from derrvos_core.trajectory.losses import refiner_loss, refiner_matches
from derrvos_core.trajectory.tracker import TrackerSession

from ..attributes import clip_matched_pairs
from ..instance_data import InstanceClip, InstanceClipDataset
from .common import export_trajectory, video_tracks
from .segmenter import TrajectoryStage, clip_targets
from .tracker import _accumulate


class RefinerStage(TrajectoryStage):
    name = "refiner"
    option_names = frozenset({"max_stride", "reverse_prob", "guide_fraction", "attribute_weight"})
    trained = ("trajectory.refiner.",)

    def attribute_width(self, cfg) -> int:
        return cfg.segmenter.embed_dim  # refined trajectories are query || re-id wide

    def build_dataset(self, cfg, model, ctx):
        return InstanceClipDataset(video_tracks(cfg), clip_length=cfg.data.clip_length,
                                   image_size=cfg.data.image_size, sampling="window",
                                   max_stride=int(self.options.get("max_stride", 1)), flip_prob=cfg.data.flip_prob,
                                   reverse_prob=float(self.options.get("reverse_prob", 0.5)))

    def loss(self, model, batch: list[InstanceClip]):
        gen = model.trajectory
        gen.segmenter.eval()
        gen.tracker.eval()  # frozen: no query noise, last-layer heads only
        guided = self.progress < float(self.options.get("guide_fraction", 0.5))
        total, logged = 0.0, {}
        for clip in batch:
            with torch.no_grad():
                seg = gen.segmenter(clip.frames)
                tracked = gen.tracker(seg, TrackerSession.new())
            out = gen.refiner(tracked.embeddings, seg.raw_embeddings, seg.mask_features)
            targets, guide = clip_targets(clip), tracked if guided else None
            taught = self.attribute_weight > 0
            indices = refiner_matches(out, targets, gen.cfg.segmenter, guide) if taught else None
            terms = refiner_loss(out, targets, gen.cfg.segmenter, guide=guide, indices=indices)
            if indices is not None:
                frames, queries, rows = clip_matched_pairs(*indices[0], targets.present)
                terms = self.with_attribute_loss(model, terms, out.embeddings[frames, queries], rows, clip)
            total = total + terms["loss"] / len(batch)
            _accumulate(logged, terms, len(batch))
        return total, logged

    def export(self, model, cfg, out_dir):
        return export_trajectory(model, out_dir)
