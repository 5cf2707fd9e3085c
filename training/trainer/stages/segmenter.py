"""Stage 1: the segmenter (Mask2Former + re-id), per frame, with the re-id term across a clip's frames.

Options (`options:` in the YAML):
    reid_weight (2.0), aux_reid_weight (3.0): weights of the re-id contrastive and cosine terms.
    attribute_weight (0): weight of the training-only attribute heads on the matched queries
        (`training/trainer/attributes.py`); 0 leaves them out.
"""
from __future__ import annotations

import torch

from derrvos_core.trajectory.losses import ClipTargets, frame_matches, segmenter_loss

from ..attributes import HEADS_LR_FACTOR, HEADS_NAME, AttributeHeads, attribute_loss, frame_matched_pairs
from ..instance_data import InstanceClip, InstanceClipDataset
from ..stage import Stage
from .common import build_trajectory_holder, export_trajectory, train_only, video_tracks


class TrajectoryStage(Stage):
    """A DVIS++ stage: the trajectory branch alone, with only the parameters under `trained` learning.

    With the option `attribute_weight` > 0 (stages that list it), the holder also carries the
    training-only `AttributeHeads`, which learn beside `trained` and are not exported.
    """

    trained: tuple[str, ...] = ()

    def attribute_width(self, cfg) -> int:
        """Width of the embeddings the attribute heads read (the segmenter's query half by default)."""
        return cfg.segmenter.hidden_dim

    @property
    def attribute_weight(self) -> float:
        return float(self.options.get("attribute_weight", 0.0))

    def build_model(self, cfg, ctx):
        holder = build_trajectory_holder(cfg)
        trained = self.trained
        if self.attribute_weight > 0:
            holder.add_module(HEADS_NAME, AttributeHeads(self.attribute_width(holder.trajectory.cfg)))
            trained = trained + (f"{HEADS_NAME}.",)
        train_only(holder, trained)
        return holder

    def param_groups(self, model, cfg):
        """The base groups, with the attribute heads in their own at HEADS_LR_FACTOR x lr."""
        groups = super().param_groups(model, cfg)
        if self.attribute_weight <= 0:
            return groups
        heads = {id(p) for p in getattr(model, HEADS_NAME).parameters()}
        for g in groups:
            g["params"] = [p for p in g["params"] if id(p) not in heads]
        return [g for g in groups if g["params"]] + [
            {"name": "attributes", "params": list(getattr(model, HEADS_NAME).parameters()),
             "lr": cfg.optim.lr * HEADS_LR_FACTOR}]

    def with_attribute_loss(self, model, terms: dict, embeddings: torch.Tensor, rows: torch.Tensor,
                            clip: InstanceClip) -> dict:
        """`terms` with `loss_attributes` added (embeddings [M, hidden] of the queries matched to the
        kept objects' rows `rows` [M] of `clip_targets(clip)`)."""
        ids = clip_attribute_ids(clip)[rows]
        term = self.attribute_weight * attribute_loss(getattr(model, HEADS_NAME), embeddings, ids)
        return {**terms, "loss_attributes": term, "loss": terms["loss"] + term}


class SegmenterStage(TrajectoryStage):
    name = "segmenter"
    trained = ("trajectory.segmenter.",)
    option_names = frozenset({"reid_weight", "aux_reid_weight", "attribute_weight"})

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
            indices = frame_matches(seg, out, targets) if self.attribute_weight > 0 else None
            terms = segmenter_loss(seg, out, targets, reid_weight=opts.get("reid_weight", 2.0),
                                   aux_reid_weight=opts.get("aux_reid_weight", 3.0), indices=indices)
            if indices is not None:
                frames, queries, rows = frame_matched_pairs(indices, targets.present)
                query = out.embeddings[frames, queries, :seg.cfg.hidden_dim]  # the LayerNorm'd query half
                terms = self.with_attribute_loss(model, terms, query, rows, clip)
            total = total + terms["loss"] / len(batch)
            for k in ("loss_cross_entropy", "loss_mask", "loss_dice", "loss_reid", "loss_attributes"):
                if k in terms:
                    logged[k] = logged.get(k, 0.0) + float(terms[k].detach()) / len(batch)
        return total, logged

    def export(self, model, cfg, out_dir):
        return export_trajectory(model, out_dir)


def clip_targets(clip: InstanceClip) -> ClipTargets:
    """The clip's objects that appear in at least one of its frames, as the trajectory losses want them."""
    keep = _kept(clip)
    return ClipTargets(masks=clip.masks[keep], class_ids=clip.class_ids[keep])


def clip_attribute_ids(clip: InstanceClip) -> torch.Tensor:
    """long [N, len(ATTRIBUTES)]: the attributes of `clip_targets(clip)`'s rows."""
    return clip.attribute_ids[_kept(clip)]


def _kept(clip: InstanceClip) -> torch.Tensor:
    return clip.masks.flatten(2).any(-1).any(-1)
