"""Stage 1: the segmenter (Mask2Former + re-id), per frame, with the re-id term across a clip's frames.

Options (`options:` in the YAML):
    reid_weight (2.0), aux_reid_weight (3.0): weights of the re-id contrastive and cosine terms.
"""
from __future__ import annotations

from derrvos_core.trajectory.losses import ClipTargets, segmenter_loss

from ..instance_data import InstanceClip, InstanceClipDataset
from ..stage import Stage
from .common import build_trajectory_holder, export_trajectory, train_only, video_tracks


class TrajectoryStage(Stage):
    """A DVIS++ stage: the trajectory branch alone, with only the parameters under `trained` learning."""

    trained: tuple[str, ...] = ()

    def build_model(self, cfg, ctx):
        holder = build_trajectory_holder(cfg)
        train_only(holder, self.trained)
        return holder


class SegmenterStage(TrajectoryStage):
    name = "segmenter"
    trained = ("trajectory.segmenter.",)
    option_names = frozenset({"reid_weight", "aux_reid_weight"})

    def build_dataset(self, cfg, model, ctx):
        return InstanceClipDataset(video_tracks(cfg), clip_length=cfg.data.clip_length,
                                   image_size=cfg.data.image_size, sampling="random",
                                   flip_prob=cfg.data.flip_prob)

    def loss(self, model, batch: list[InstanceClip]):
        seg = model.trajectory.segmenter
        opts = self.options
        total, logged = 0.0, {}
        for clip in batch:
            targets = clip_targets(clip)
            out = seg(clip.frames, with_aux=True)
            terms = segmenter_loss(seg, out, targets, reid_weight=opts.get("reid_weight", 2.0),
                                   aux_reid_weight=opts.get("aux_reid_weight", 3.0))
            total = total + terms["loss"] / len(batch)
            for k in ("loss_cross_entropy", "loss_mask", "loss_dice", "loss_reid"):
                logged[k] = logged.get(k, 0.0) + float(terms[k].detach()) / len(batch)
        return total, logged

    def export(self, model, cfg, out_dir):
        return export_trajectory(model, out_dir)


def clip_targets(clip: InstanceClip) -> ClipTargets:
    """The clip's objects that appear in at least one of its frames, as the trajectory losses want them."""
    keep = clip.masks.flatten(2).any(-1).any(-1)
    return ClipTargets(masks=clip.masks[keep], class_ids=clip.class_ids[keep])
