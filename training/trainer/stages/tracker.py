"""Stage 2: the referring tracker, online over short clips, with the segmenter frozen.

As DVIS++: clips of a few nearby frames (window sampling), "weighted average" query noise on
(the tracker's own training mode), one consistent video-level matching per clip, and for the
first part of training the matching is guided by the segmenter's predictions.

Options:
    max_stride (2): largest frame stride of a clip (DVIS++ SAMPLING_FRAME_RANGE 2 with 5 frames).
    guide_fraction (0.5): share of training whose matching uses the segmenter's predictions.
    reid_weight (2.0): weight of the contrastive term on consecutive-frame references.
"""
from __future__ import annotations

import torch

from derrvos_core.trajectory.losses import tracker_loss
from derrvos_core.trajectory.tracker import TrackerSession

from ..instance_data import InstanceClip, InstanceClipDataset
from .common import export_trajectory, video_tracks
from .segmenter import TrajectoryStage, clip_targets

LOGGED = ("loss_cross_entropy", "loss_mask", "loss_dice", "loss_reid", "loss_attributes")


class TrackerStage(TrajectoryStage):
    name = "tracker"
    option_names = frozenset({"max_stride", "guide_fraction", "reid_weight"})
    trained = ("trajectory.tracker.",)

    def build_dataset(self, cfg, model, ctx):
        return InstanceClipDataset(video_tracks(cfg), clip_length=cfg.data.clip_length,
                                   image_size=cfg.data.image_size, sampling="window",
                                   max_stride=int(self.options.get("max_stride", 2)), flip_prob=cfg.data.flip_prob)

    def loss(self, model, batch: list[InstanceClip]):
        gen = model.trajectory
        gen.segmenter.eval()  # frozen: no dropout, and its outputs need no graph
        guided = self.progress < float(self.options.get("guide_fraction", 0.5))
        total, logged = 0.0, {}
        for clip in batch:
            with torch.no_grad():
                seg = gen.segmenter(clip.frames)
            out = gen.tracker(seg, TrackerSession.new())
            terms = tracker_loss(out, clip_targets(clip), gen.cfg.segmenter, guide=seg if guided else None,
                                 reid_weight=float(self.options.get("reid_weight", 2.0)))
            total = total + terms["loss"] / len(batch)
            _accumulate(logged, terms, len(batch))
        return total, logged

    def export(self, model, cfg, out_dir):
        return export_trajectory(model, out_dir)


def _accumulate(logged: dict, terms: dict, n: int) -> None:
    for k in LOGGED:
        if k in terms:
            logged[k] = logged.get(k, 0.0) + float(terms[k].detach()) / n
