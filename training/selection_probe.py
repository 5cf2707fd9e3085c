"""Can a model's own trajectories answer SynthRef's expressions? A word-by-feature probe, scored like the model.

    python training/selection_probe.py --checkpoint assets/models/derrvos-tiny-synthref \
        --train-root data/synthref --root data/synthref-fresh --split test --limit 142 --out runs/probe

TAIS reads a trajectory's appearance (its embeddings), place and path (mask kinematics and, with
`motion_summary`, a crop summary) and has to bind them to the expression's words. This probe removes the
learning problem of TAIS and BEiT-3 and keeps the information: per trajectory and crop, a fixed feature
vector (mean embedding, mean kinematic state, the crop's path summary and its branch score, each also
relative to the crop's other trajectories), scored against the expression by one vector per word and
word pair (`WordFeatureScorer`: score = sum over the expression's terms of u_term . h(features)). It is fit
on the training split's cached crops with the stage-4 labels, then put in the model's place and scored by
the same evaluation (`derrvos_core.evaluation`): same trajectories, same crops, same J&F, same baselines.

`--features` names the groups the probe sees (`appearance`, `place`, `path`, `score`, and two measured
beside them, `colour` and `truth`, see EXTRA_GROUPS): the drop when `path` is left out is how much the
path itself can answer, independent of TAIS. If the probe with `path` beats the model on motion
expressions, the information is in the trajectories and TAIS fails to bind it to the words; if it does
not, the trajectories (or labels) are what fall short.

`--accuracy` asks where: per category, how often the probe's best-scored trajectory of a crop is a
positive, on the model's trajectories and, with the same probe fit on the ground-truth objects as
trajectories (`ground_truth_crops`: the generator's masks and attributes), on perfect ones:

    python training/selection_probe.py --accuracy --features truth,place,path,score --out runs/probe/acc-truth

`--duplicates ignore|soft` fits the probe with the labels of `trajectory_labels(duplicates=...)`: a
trajectory that overlaps a target without being its match (a fragment, a duplicate) is left out of the
loss or given its IoU, instead of counting as a negative.

The fitted examples of the training split are kept in the cache folder (`probe-examples-*.pt`), so a
second probe skips the ~6 min of reading them.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import NamedTuple

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from derrvos_core.model import load_model  # noqa: E402
from derrvos_core.tais.losses import clip_ious, labels_from_ious  # noqa: E402
from derrvos_core.tais.motion import kinematic_features, motion_summary  # noqa: E402
from derrvos_core.trajectory.types import Trajectories  # noqa: E402

FEATURE_GROUPS = ("appearance", "place", "path", "score")
#: Stage 4's labels (the shipped config's label_iou and label_best_match_iou).
STAGE4_LABELS = {"iou": 0.5, "best_match_iou": 0.2}
#: Groups measured beside them (not seen by default): "colour", the mean and spread of the frame's pixels
#: under each trajectory's masks; "truth", the generator's attributes (shape, colour, size, texture) of
#: the ground-truth object a trajectory overlaps most (none below clip IoU 0.1): perfect appearance on the
#: model's own masks and paths.
EXTRA_GROUPS = ("colour", "truth")


class Example(NamedTuple):
    """One expression and crop the probe is fit or tested on."""

    groups: dict[str, torch.Tensor]  # feature groups {name: [N, f]} of the crop's trajectories
    text: str
    labels: torch.Tensor  # float [N]: stage 4's labels (1 for the targets on ground-truth objects)
    category: str
    ious: torch.Tensor | None = None  # float [N, K]: clip IoU with each target object (the model's trajectories)


def feature_groups(traj: Trajectories) -> dict[str, torch.Tensor]:
    """Each group's float [N, f] for the trajectories of one crop, over the whole crop."""
    present = (traj.areas > 0).float()  # [N, T]
    count = present.sum(1, keepdim=True).clamp_min(1.0)
    emb = (traj.embeddings.float() * present.unsqueeze(-1)).sum(1) / count
    state = kinematic_features(traj)[..., :9]  # present, centroid, box, area, sqrt(area)
    return {"appearance": nn.functional.normalize(emb, dim=-1),
            "place": (state * present.unsqueeze(-1)).sum(1) / count,
            "path": motion_summary(traj),
            "score": traj.scores.float().reshape(-1, 1)}


def colour_features(traj: Trajectories, frames: np.ndarray) -> torch.Tensor:
    """float [N, 6]: mean and standard deviation (0..1) of the RGB pixels under each trajectory's masks
    over the crop (frames uint8 [T, H, W, 3] pooled to the mask size)."""
    h, w = traj.mask_logits.shape[-2:]
    rgb = torch.from_numpy(np.ascontiguousarray(frames)).float().permute(0, 3, 1, 2) / 255.0
    rgb = nn.functional.interpolate(rgb, size=(h, w), mode="area")  # [T, 3, h, w]
    m = (traj.mask_logits > 0).float().unsqueeze(2)  # [N, T, 1, h, w]
    mass = m.sum(dim=(1, 3, 4)).clamp_min(1.0)  # [N, 1]
    mean = (m * rgb).sum(dim=(1, 3, 4)) / mass
    var = (m * (rgb - mean[:, None, :, None, None]) ** 2).sum(dim=(1, 3, 4)) / mass
    return torch.cat([mean, var.sqrt()], dim=1)


def truth_features(traj: Trajectories, truth: Trajectories) -> torch.Tensor:
    """float [N, A]: the one-hot attributes (`truth.embeddings`) of the ground-truth object each trajectory
    overlaps most over the crop, zeros where its best clip IoU is under 0.1."""
    best, which = clip_ious(traj.mask_logits > 0, truth.mask_logits > 0).max(dim=1)
    return truth.embeddings[which, 0] * (best >= 0.1).float().unsqueeze(1)


def trajectory_features(groups: dict[str, torch.Tensor], names=FEATURE_GROUPS) -> torch.Tensor:
    """float [N, F]: the named groups side by side, then the same minus the crop's mean over its
    trajectories (so "the leftmost" and "the faster one" are one product away)."""
    own = torch.cat([groups[g] for g in names], dim=1)
    return torch.cat([own, own - own.mean(0, keepdim=True)], dim=1)


def expression_terms(text: str, pairs: bool = True) -> list[str]:
    """Lower-case words and, with `pairs`, adjacent word pairs ("moving left" is not "on the left")."""
    words = re.findall(r"[a-z]+", text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])] if pairs else words


class WordFeatureScorer(nn.Module):
    """logit(n) = b + sum_terms (c_term + u_term . h(x_n)) / sqrt(#terms); h = a 2-layer MLP of the
    standardised features. Unknown terms are skipped."""

    def __init__(self, vocab: list[str], num_features: int, mean: torch.Tensor, std: torch.Tensor,
                 hidden: int = 64, pairs: bool = True):
        super().__init__()
        self.vocab = {t: i for i, t in enumerate(vocab)}
        self.pairs = pairs
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.h = nn.Sequential(nn.Linear(num_features, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.u = nn.Embedding(len(vocab), hidden)
        self.c = nn.Embedding(len(vocab), 1)
        self.bias = nn.Parameter(torch.zeros(()))
        nn.init.normal_(self.u.weight, std=0.1)
        nn.init.zeros_(self.c.weight)

    def term_ids(self, text: str) -> torch.Tensor:
        return torch.tensor([self.vocab[t] for t in expression_terms(text, self.pairs)
                             if t in self.vocab], dtype=torch.long)

    def forward(self, features: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        h = self.h((features - self.mean) / self.std)  # [N, H]
        if ids.numel() == 0:
            return self.bias.expand(features.shape[0])
        scale = ids.numel() ** -0.5
        return self.bias + (h @ self.u(ids).sum(0) + self.c(ids).sum()) * scale


class ProbeSelector(nn.Module):
    """The model's `Selector` seam (`scores(trajectories, tokens, expression)`) backed by a fitted probe."""

    def __init__(self, scorer: WordFeatureScorer, groups):
        super().__init__()
        self.scorer, self.groups = scorer, tuple(groups)

    @torch.no_grad()
    def scores(self, trajectories: Trajectories, tokens, expression) -> torch.Tensor:
        text = getattr(expression, "text", expression)
        logits = self.scorer(trajectory_features(feature_groups(trajectories), self.groups),
                             self.scorer.term_ids(text))
        return logits.sigmoid()


def training_examples(model, root: str, split: str, cache_dir: str, crop_size: int, limit_videos=None):
    """An `Example` per expression and crop where its target is visible (one crop for an expression without
    a target), from the stage-4 trajectory cache (built for missing videos). The groups include EXTRA_GROUPS."""
    from derrvos_core.datasets import open_dataset
    from derrvos_core.video import resize_mask_logits
    from training.trainer.referring_data import label_targets
    from training.trainer.trajectory_cache import CacheKey, TrajectoryCache, frozen_crop_trajectories

    samples = open_dataset("synthref", root, split)
    truth_of = ground_truth_crops(root, split, crop_size, mask_size=model.trajectory.input_size // 4)
    cache = TrajectoryCache(Path(cache_dir), CacheKey.of(model, crop_size))
    build = frozen_crop_trajectories(model)
    videos = sorted({e.video_id for e in samples.entries})
    keep = set(videos[:limit_videos]) if limit_videos else set(videos)
    examples, start = [], time.perf_counter()
    crops_of, feats_of = {}, {}
    for i, entry in enumerate(samples.entries):
        if entry.video_id not in keep:
            continue
        sample = samples[i]
        if entry.video_id not in crops_of:
            if not cache.has(sample.video_id):
                cache.build(build, sample.video_id, sample.load_frames())
            crops_of = {entry.video_id: cache.get(sample.video_id)}  # one video at a time: entries are grouped
            feats_of = {}
        crops = crops_of[entry.video_id]
        present = sample.target_masks.reshape(sample.target_masks.shape[0], -1).any(axis=1)
        chosen = [c for c, (s, t) in enumerate(crops) if present[s:s + t.num_frames].any()] or [0]
        for c in chosen:
            s, traj = crops[c]
            if c not in feats_of:
                feats_of[c] = feature_groups(traj)
                video = sample.load_frames()
                feats_of[c]["colour"] = colour_features(traj, video[s:s + traj.num_frames])
                feats_of[c]["truth"] = truth_features(traj, truth_of[entry.video_id][c][2])
            frames = np.arange(s, s + traj.num_frames)
            objects = label_targets(sample, frames, traj.mask_logits.shape[-2:])
            masks = resize_mask_logits(traj.mask_logits, objects.shape[-2:]) > 0
            ious = clip_ious(masks, objects)
            examples.append(Example(feats_of[c], entry.expression, labels_from_ious(ious, **STAGE4_LABELS),
                                    entry.category, ious))
        if (i + 1) % 500 == 0:
            print(f"  {split}: {i + 1}/{len(samples.entries)} expressions ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    return examples


ATTRIBUTES = ("shape", "colour", "size", "texture")


def ground_truth_crops(root: str, split: str, crop_size: int = 36, mask_size: int = 32):
    """{video_id: [(start, obj_ids, Trajectories)]}: every object of every video as a perfect trajectory,
    cut into the crops inference cuts (masks at the tiny branch's mask size; embeddings = one-hot
    attributes from the generator's meta, i.e. perfect appearance)."""
    from pycocotools import mask as mask_utils

    folder = Path(root) / split
    meta = json.loads((folder / "synthref_meta.json").read_text())["videos"]
    rles = json.loads((folder / "mask_dict.json").read_text())
    values = {a: sorted({o[a] for v in meta.values() for o in v["objects"]}) for a in ATTRIBUTES}
    out = {}
    for vid, video in sorted(meta.items()):
        objects = video["objects"]
        masks = []
        for obj in objects:
            frames = []
            for rle in rles[str(obj["anno_id"])]:
                m = np.zeros((1, 1), np.uint8) if rle is None else mask_utils.decode(rle)
                frames.append(torch.from_numpy(m).float())
            size = next(f.shape for f in frames if f.shape != (1, 1)) if any(f.shape != (1, 1) for f in frames) \
                else (mask_size, mask_size)
            full = torch.stack([f if f.shape == size else torch.zeros(size) for f in frames])
            masks.append(nn.functional.interpolate(full[None], size=(mask_size, mask_size), mode="area")[0])
        masks = torch.stack(masks)  # [K, T, h, w] coverage in [0, 1]
        onehot = torch.zeros(len(objects), sum(len(v) for v in values.values()))
        for k, obj in enumerate(objects):
            offset = 0
            for a in ATTRIBUTES:
                onehot[k, offset + values[a].index(obj[a])] = 1.0
                offset += len(values[a])
        crops = []
        for start in range(0, masks.shape[1], crop_size):
            m = masks[:, start:start + crop_size]
            fg = m >= 0.5
            areas = fg.float().mean(dim=(-1, -2))
            ys, xs = torch.linspace(0, 1, mask_size + 1)[:-1], torch.linspace(0, 1, mask_size + 1)[:-1]
            any_x, any_y = fg.any(-2), fg.any(-1)  # [K, T, w], [K, T, h]
            big = torch.tensor(2.0)
            x0 = torch.where(any_x, xs, big).amin(-1)
            x1 = torch.where(any_x, xs + 1 / mask_size, -big).amax(-1)
            y0 = torch.where(any_y, ys, big).amin(-1)
            y1 = torch.where(any_y, ys + 1 / mask_size, -big).amax(-1)
            boxes = torch.stack([x0, y0, x1, y1], -1) * (areas > 0).unsqueeze(-1)
            traj = Trajectories(embeddings=onehot[:, None].expand(-1, m.shape[1], -1).contiguous(),
                                mask_logits=torch.where(fg, 10.0, -10.0), scores=torch.ones(len(objects)),
                                class_logits=torch.zeros(len(objects), 2), boxes=boxes, areas=areas)
            crops.append((start, [o["obj_id"] for o in objects], traj))
        out[vid] = crops
    return out


def ground_truth_examples(root: str, split: str, crop_size: int = 36):
    """Like `training_examples`, with the ground-truth objects as trajectories: labels 1 for the targets."""
    from derrvos_core.datasets import open_dataset

    folder = Path(root) / split
    expressions = json.loads((folder / "meta_expressions.json").read_text())["videos"]
    crops_of = ground_truth_crops(root, split, crop_size)
    samples = open_dataset("synthref", root, split)
    first = {}
    for i, entry in enumerate(samples.entries):
        first.setdefault(entry.video_id, i)
    examples = []
    for vid in sorted(expressions):
        video = samples[first[vid]].load_frames()
        groups_of = []
        for start, _, traj in crops_of[vid]:
            groups = feature_groups(traj)
            groups["truth"] = traj.embeddings[:, 0]
            groups["colour"] = colour_features(traj, video[start:start + traj.num_frames])
            groups_of.append(groups)
        for exp_id, exp in expressions[vid]["expressions"].items():
            targets = set(exp["obj_id"])
            visible = [(ids, g) for (_, ids, t), g in zip(crops_of[vid], groups_of)
                       if any(t.areas[k].gt(0).any() for k, o in enumerate(ids) if o in targets)]
            for ids, groups in (visible or [(crops_of[vid][0][1], groups_of[0])]):
                labels = torch.tensor([float(o in targets) for o in ids])
                examples.append(Example(groups, exp["exp"], labels, exp["category"]))
    return examples


def selection_accuracy(scorer: WordFeatureScorer, examples, groups) -> dict[str, dict[str, float]]:
    """Per category, over crops: top-1 (the best-scored trajectory is a positive; crops with a positive)
    and exact (the trajectories at >= 0.5 are exactly the positives)."""
    stats: dict[str, list[list[float]]] = {}
    with torch.no_grad():
        for groups_of, text, labels, category, _ in examples:
            prob = scorer(trajectory_features(groups_of, groups), scorer.term_ids(text)).sigmoid()
            row = stats.setdefault(category, [[], []])
            if labels.sum() > 0:
                row[0].append(float(labels[int(prob.argmax())] > 0))
            row[1].append(float(bool(((prob >= 0.5).float() == labels).all())))
    out = {c: {"top1": float(np.mean(t)) if t else float("nan"), "exact": float(np.mean(e)), "crops": len(e)}
           for c, (t, e) in sorted(stats.items())}
    every = [x for t, _ in stats.values() for x in t], [x for _, e in stats.values() for x in e]
    out["all"] = {"top1": float(np.mean(every[0])), "exact": float(np.mean(every[1])), "crops": len(every[1])}
    return out


def duplicate_labels(example: Example, duplicates: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels, loss weights) of one example under stage 4's `label_duplicates` rule `duplicates`
    (`labels_from_ious`): an ignored trajectory gets weight 0."""
    if duplicates == "negative":
        return example.labels, torch.ones_like(example.labels)
    if example.ious is None:
        raise ValueError("these examples keep no IoU (ground-truth objects): duplicates can only be 'negative'")
    labels = labels_from_ious(example.ious, **STAGE4_LABELS, duplicates=duplicates)
    return labels.clamp_min(0.0), (labels >= 0).float()


def fit(examples, groups, epochs: int, seed: int, hidden: int = 64, batch: int = 16,
        lr: float = 2e-3, pairs: bool = True, duplicates: str = "negative") -> WordFeatureScorer:
    """AdamW on the mean BCE over trajectories of `batch` crops per step, lr decayed to 0 (cosine).

    `duplicates`: what a negative that overlaps a target (clip IoU >= 0.2, not its best match) is to the
    loss: "negative" (stage 4's labels), "ignore" (left out of the loss) or "soft" (its IoU as the label).
    """
    torch.manual_seed(seed)
    counts: dict[str, int] = {}
    for example in examples:
        for t in set(expression_terms(example.text, pairs)):
            counts[t] = counts.get(t, 0) + 1
    vocab = sorted(t for t, n in counts.items() if n >= 3)
    feats = [trajectory_features(e.groups, groups) for e in examples]
    stacked = torch.cat(feats)
    mean, std = stacked.mean(0), stacked.std(0).clamp_min(1e-4)
    scorer = WordFeatureScorer(vocab, stacked.shape[1], mean, std, hidden, pairs)
    ids = [scorer.term_ids(e.text) for e in examples]
    opt = torch.optim.AdamW(scorer.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * -(-len(examples) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + np.cos(np.pi * min(k / steps, 1.0))))
    rng = np.random.default_rng(seed)
    targets, weights = zip(*(duplicate_labels(e, duplicates) for e in examples))
    for epoch in range(epochs):
        total = 0.0
        order = rng.permutation(len(examples))
        for b in range(0, len(order), batch):
            loss = sum(nn.functional.binary_cross_entropy_with_logits(scorer(feats[j], ids[j]), targets[j],
                                                                      weight=weights[j])
                       for j in order[b:b + batch]) / len(order[b:b + batch])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(order[b:b + batch])
        print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(examples):.4f}", flush=True)
    return scorer.eval()


def evaluate_probe(checkpoint: str, scorer: WordFeatureScorer, groups, root: str, split: str, out: Path,
                   threshold: float, limit: int | None):
    """The model's evaluation with the probe in TAIS's place (BEiT-3 is not run: the probe reads no tokens)."""
    from derrvos_core.datasets import open_dataset
    from derrvos_core.evaluation import EvalSettings, write_report
    from derrvos_core.evaluation.runner import build_report, evaluate_sample, model_segmenter
    from training.trainer.fast_eval import memoize_trajectories

    model = memoize_trajectories(load_model(checkpoint))
    model.tais = ProbeSelector(scorer, groups)
    model.multimodal.frame_tokens = lambda frames, text: None
    settings = EvalSettings(crop_size=36, threshold=threshold, limit=limit, write_annotations=False
                            ).for_model(model.defaults)
    dataset = open_dataset("synthref", root, split)
    total = len(dataset) if limit is None else min(limit, len(dataset))
    segment = model_segmenter(model, settings)
    start = time.perf_counter()
    records = [evaluate_sample(segment, dataset[i], out, settings) for i in range(total)]
    report = build_report(dataset.name, dataset.split, settings, records, time.perf_counter() - start)
    report.info = {"checkpoint": checkpoint, "probe_features": list(groups),
                   "evaluated_by": "training/selection_probe.py (the probe in TAIS's place)"}
    write_report(report, out)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="assets/models/derrvos-tiny-synthref")
    p.add_argument("--train-root", default="data/synthref")
    p.add_argument("--cache-dir", default="runs/branch-cache", help="the stage-4 trajectory cache (shared)")
    p.add_argument("--root", default="data/synthref-fresh")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=142)
    p.add_argument("--features", default=",".join(FEATURE_GROUPS))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--words-only", action="store_true", help="terms are single words (no adjacent pairs)")
    p.add_argument("--duplicates", choices=("negative", "ignore", "soft"), default="negative",
                   help="labels of trajectories that overlap a target but are not its best match (see fit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--thresholds", default="0.3,0.5")
    p.add_argument("--limit-videos", type=int, default=None, help="fit on the first N training videos only")
    p.add_argument("--accuracy", action="store_true",
                   help="instead of J&F: per-category selection accuracy of the probe fit on the model's "
                        "trajectories and, beside it, of the probe fit on the ground-truth objects")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    from derrvos_core.evaluation import format_summary

    torch.set_num_threads(1)
    groups = tuple(g for g in args.features.split(",") if g)
    unknown = set(groups) - set(FEATURE_GROUPS) - set(EXTRA_GROUPS)
    if unknown:
        p.error(f"unknown feature groups {sorted(unknown)}; choose from {FEATURE_GROUPS + EXTRA_GROUPS}")
    if set(groups) & set(EXTRA_GROUPS) and not args.accuracy:
        p.error(f"{', '.join(EXTRA_GROUPS)} are measured with --accuracy only (J&F runs the model's own crops)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.checkpoint)
    start = time.perf_counter()
    saved = Path(args.cache_dir) / f"probe-examples-v4-{model.version}-{args.limit_videos or 'all'}.pt"
    if saved.is_file():
        examples = torch.load(saved, weights_only=False)
    else:
        examples = training_examples(model, args.train_root, "train", args.cache_dir, 36, args.limit_videos)
        torch.save(examples, saved)
    print(f"{len(examples)} training crops ({time.perf_counter() - start:.0f} s)", flush=True)
    scorer = fit(examples, groups, args.epochs, args.seed, pairs=not args.words_only, duplicates=args.duplicates)
    if args.accuracy:
        return accuracy_report(args, model, scorer, groups, out)
    summary = {}
    for threshold in (float(t) for t in args.thresholds.split(",")):
        report = evaluate_probe(args.checkpoint, scorer, groups, args.root, args.split, out / f"thr{threshold:g}",
                                threshold, args.limit)
        print(f"## threshold {threshold:g}\n" + format_summary(report), flush=True)
        summary[f"{threshold:g}"] = str(out / f"thr{threshold:g}")
    (out / "probe.json").write_text(json.dumps({"features": groups, "epochs": args.epochs, "seed": args.seed,
                                                "duplicates": args.duplicates,
                                                "pairs": not args.words_only,
                                                "reports": summary}, indent=2))
    return 0


def crop_coverage(traj: Trajectories, truth: Trajectories) -> list[tuple[float, float, int, int]]:
    """Per ground-truth object seen in the crop: (best trajectory's clip IoU, share of the object's visible
    frames that trajectory overlaps it in, trajectories at clip IoU >= 0.2, trajectories at >= 0.5)."""
    iou = clip_ious(traj.mask_logits > 0, truth.mask_logits > 0)
    rows = []
    for k in torch.nonzero((truth.mask_logits > 0).flatten(1).any(1)).flatten().tolist():
        b = int(iou[:, k].argmax())
        seen = (truth.mask_logits[k] > 0).flatten(1).any(1)
        hit = ((traj.mask_logits[b] > 0) & (truth.mask_logits[k] > 0)).flatten(1).any(1)
        rows.append((float(iou[b, k]), float(hit[seen].float().mean()), int((iou[:, k] >= 0.2).sum()),
                     int((iou[:, k] >= 0.5).sum())))
    return rows


def trajectory_coverage(model, root: str, split: str, cache_dir: str, crop_size: int = 36) -> dict[str, float]:
    """How the model's trajectories cover the ground-truth objects, per object and crop where it is seen:
    the best trajectory's clip IoU, the share of the object's visible frames that trajectory overlaps it
    in, and how many trajectories reach clip IoU 0.2 (duplicates and fragments) and 0.5."""
    from training.trainer.trajectory_cache import CacheKey, TrajectoryCache

    cache = TrajectoryCache(Path(cache_dir), CacheKey.of(model, crop_size))
    best, frames, near, good = [], [], [], []
    for vid, crops in ground_truth_crops(root, split, crop_size, model.trajectory.input_size // 4).items():
        for (start, _, truth), (start_model, traj) in zip(crops, cache.get(vid)):
            if start != start_model:
                raise ValueError(f"{vid}: the cached crops do not start where the ground truth's do")
            for b_iou, b_frames, n_near, n_good in crop_coverage(traj, truth):
                best.append(b_iou)
                frames.append(b_frames)
                near.append(n_near)
                good.append(n_good)
    near_arr = np.array(near)
    return {"objects_x_crops": len(best), "best_iou_median": float(np.median(best)),
            "best_iou_mean": float(np.mean(best)), "best_frames_overlapped": float(np.mean(frames)),
            "trajectories_iou_0.2": float(near_arr.mean()), "share_two_or_more_at_0.2": float((near_arr >= 2).mean()),
            "trajectories_iou_0.5": float(np.mean(good))}


def accuracy_report(args, model, scorer, groups, out: Path) -> int:
    """Selection accuracy on the evaluation split's crops: the probe on the model's trajectories, and the
    same probe fit and tested on the ground-truth objects (what perfect trajectories would allow)."""
    # evaluation videos may share ids with another split's: their own cache folder
    cache_dir = Path(args.cache_dir) / f"eval-{Path(args.root).name}-{args.split}"
    tested = training_examples(model, args.root, args.split, str(cache_dir), 36)
    on_model = selection_accuracy(scorer, tested, groups)
    truth = fit(ground_truth_examples(args.train_root, "train"), groups, args.epochs, args.seed,
                pairs=not args.words_only)
    on_truth = selection_accuracy(truth, ground_truth_examples(args.root, args.split), groups)
    lines = ["| category | crops | model's trajectories: top-1 | exact | ground-truth objects: top-1 | exact |",
             "|---|---|---|---|---|---|"]
    for c in on_truth:
        a, b = on_model.get(c, {}), on_truth[c]
        lines.append(f"| {c} | {a.get('crops', 0)} / {b['crops']} | {a.get('top1', float('nan')):.3f} | "
                     f"{a.get('exact', float('nan')):.3f} | {b['top1']:.3f} | {b['exact']:.3f} |")
    coverage = trajectory_coverage(model, args.root, args.split, str(cache_dir))
    lines += ["", "How the model's trajectories cover the objects (per object and crop where it is seen): "
              + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in coverage.items())]
    table = "\n".join(lines)
    print(table, flush=True)
    (out / "accuracy.md").write_text(table + "\n")
    (out / "accuracy.json").write_text(json.dumps({"features": groups, "model": on_model, "ground_truth": on_truth,
                                                   "coverage": coverage}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
