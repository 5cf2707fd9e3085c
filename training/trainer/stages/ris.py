"""Stage 5, referring image segmentation (T = 1): only the DVIS++ refiner is fine-tuned.

The segmenter, tracker, BEiT-3 and TAIS are frozen; the refiner's trajectories go through the
frozen TAIS, so the selection loss teaches the refiner embeddings TAIS can pick from, and a mask
loss (BCE + dice) on the trajectories labelled positive sharpens their masks on image data.

Options:
    (Trajectories passed to TAIS: the model's `top_k`, as inference passes them; not an option.)
    mask_weight (1.0): weight of the mask loss.
    loss_kind ("bce"): selection loss kind.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from derrvos_core.datasets import open_dataset
from derrvos_core.tais.losses import selection_loss, trajectory_labels
from derrvos_core.trajectory.tracker import TrackerSession

from ..clips import resize_masks, swap_left_right
from ..referring_data import trim_padding
from ..stage import Stage
from .common import train_only
from .derrvos import limit_samples
from .derrvos_model import build_selection_model, export_selection_model, tokenizer_for


@dataclass
class ImageExample:
    """frames float [1, 3, S, S]; target bool [1, S/4, S/4]; text ids / padding [L]."""

    frames: torch.Tensor
    target: torch.Tensor
    text_ids: torch.Tensor
    text_padding_mask: torch.Tensor


class ImageReferringDataset:
    """One item per referring expression of an image dataset (first frame only), with flip + text swap."""

    def __init__(self, samples, encode_text, prepare, image_size: int, flip_prob: float):
        self.samples, self.encode_text, self.prepare = samples, encode_text, prepare
        self.image_size, self.flip_prob = image_size, flip_prob

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key) -> ImageExample:
        index, seed = key
        rng = np.random.default_rng(seed)
        sample = self.samples[index]
        frames = self.prepare(sample.load_frames()[:1]).cpu()
        target = resize_masks(sample.target_masks[:1], -(-self.image_size // 4))
        text = sample.expression
        if rng.random() < self.flip_prob:
            frames, target, text = frames.flip(-1), target.flip(-1), swap_left_right(text)
        ids, pad = trim_padding(*self.encode_text(text)[:2])
        return ImageExample(frames=frames, target=target, text_ids=ids, text_padding_mask=pad)


class RISStage(Stage):
    name = "ris"
    option_names = frozenset({"loss_kind", "mask_weight", "tokenizer", "tokenizer_vocab"})
    trained = ("trajectory.refiner.",)

    def build_model(self, cfg, ctx):
        model = build_selection_model(cfg, tokenizer_for(cfg, ctx))
        train_only(model, self.trained)
        return model

    def build_dataset(self, cfg, model, ctx):
        samples = limit_samples(open_dataset(cfg.data.dataset, cfg.data.root, cfg.data.split), None,
                                cfg.data.max_samples)
        return ImageReferringDataset(samples, model.multimodal.tokenizer.encode, model.trajectory.prepare,
                                     model.trajectory.input_size,
                                     cfg.data.flip_prob)

    def loss(self, model, batch: list[ImageExample]):
        gen = model.trajectory
        for frozen in (gen.segmenter, gen.tracker, model.multimodal, model.tais):
            frozen.eval()
        top_k = gen.top_k_trajectories
        total, sel_sum, mask_sum = 0.0, 0.0, 0.0
        for ex in batch:
            with torch.no_grad():
                seg = gen.segment_frames(ex.frames)
                tracked = gen.track(seg, TrackerSession.new())
                tokens = model.multimodal.encode(ex.frames, ex.text_ids, ex.text_padding_mask)
            traj = gen.refine(seg, tracked).top_k(top_k)
            labels = trajectory_labels(traj.mask_logits.detach() > 0, ex.target)
            sel = selection_loss(model.tais(traj, tokens).layer_logits, labels,
                                 kind=str(self.options.get("loss_kind", "bce")))
            masks = _mask_loss(traj.mask_logits, ex.target, labels)
            total = total + (sel + float(self.options.get("mask_weight", 1.0)) * masks) / len(batch)
            sel_sum, mask_sum = sel_sum + float(sel.detach()), mask_sum + float(masks.detach())
        return total, {"loss_selection": sel_sum / len(batch), "loss_mask": mask_sum / len(batch)}

    def export(self, model, cfg, out_dir):
        return export_selection_model(model, cfg, out_dir)


def _mask_loss(mask_logits: torch.Tensor, target: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE + dice of the positive trajectories' masks [P, T, h, w] against the target [T, h, w]."""
    pos = labels.bool()
    if not pos.any():
        return mask_logits.sum() * 0.0
    logits = mask_logits[pos].flatten(1)
    gt = target.to(logits).flatten().expand_as(logits)
    bce = F.binary_cross_entropy_with_logits(logits, gt)
    prob = logits.sigmoid()
    dice = 1 - (2 * (prob * gt).sum(1) + 1) / (prob.sum(1) + gt.sum(1) + 1)
    return bce + dice.mean()
