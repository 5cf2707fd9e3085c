"""Ablations of the two inference settings on a SynthRef split: confidence threshold and crop size.

    python training/ablate.py --checkpoint assets/models/derrvos-tiny-synthref --root data/synthref \
        --split valid --out assets/models/derrvos-tiny-synthref [--limit 120]

Threshold sweep (0.1 ... 0.9): ONE model run per expression at crop size 36, then
`SegmentationResult.select(threshold)` re-selects from the cached scores (no model call).
Crop-size sweep (6, 12, 18, 24, 36, whole video): one run per expression and size at threshold 0.7.
Writes ablation<name>.json, .md and .png into --out (`--name long` for the long split's crop-size
sweep: `--split long --crop-sizes 6 12 18 24 36 48 72`), and refreshes the "Ablations" section of
--out/MODEL_CARD.md when that file exists (with the training ablations of training/ablate_train.py). `--recommend` writes the best threshold of the sweep into
the checkpoint folder's config.json as the model's recommended threshold (the default of inference,
the CLI and the app's slider). The seed paper's findings to compare with: J&F rises
then falls with the threshold, peaking around 0.7; larger crops are better (36 best of those tried).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from derrvos_core.datasets import open_dataset  # noqa: E402
from derrvos_core.evaluation.scoring import score_masks  # noqa: E402

THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))
CROP_SIZES = ("6", "12", "18", "24", "36", "whole")
SECTION = "## Ablations"
#: The ablation notes a model folder may hold, in the order the model card shows them.
CARD_PARTS = ("ablation.md", "ablation_long.md", "ablation_motion.md", "ablation_clip_length.md",
              "ablation_decoder_layers.md")


def sweep(model, samples, thresholds=THRESHOLDS, crop_sizes=CROP_SIZES, base_crop: int = 36,
          base_threshold: float = 0.7, progress=print) -> dict:
    """Mean J&F (and J, F) per threshold and per crop size over `samples`."""
    from derrvos_core.model import SegmentCache

    by_threshold = {t: [] for t in thresholds}
    by_crop = {c: [] for c in crop_sizes}
    start = time.perf_counter()
    # per-frame features and tokens are computed once per expression for every crop size (same numbers)
    cache = SegmentCache(max_bytes=2 << 30)
    for n, sample in enumerate(samples, 1):
        frames, gt = sample.load_frames(), np.asarray(sample.target_masks, dtype=bool)
        result = model.segment(frames, sample.expression,
                               model.defaults.settings(crop_size=base_crop, threshold=base_threshold), cache=cache)
        for t in thresholds:
            by_threshold[t].append(score_masks(gt, result.select(t).masks))
        for c in crop_sizes:
            size = len(frames) if c == "whole" else int(c)
            if size == base_crop:
                by_crop[c].append(by_threshold[base_threshold][-1] if base_threshold in by_threshold
                                  else score_masks(gt, result.masks))
                continue
            r = model.segment(frames, sample.expression,
                              model.defaults.settings(crop_size=size, threshold=base_threshold), cache=cache)
            by_crop[c].append(score_masks(gt, r.masks))
        if progress and (n % 20 == 0 or n == len(samples)):
            progress(f"  {n}/{len(samples)} expressions ({time.perf_counter() - start:.0f} s)")

    def mean(scores):
        return {k: float(np.mean([getattr(s, k) for s in scores])) for k in ("JF", "J", "F")}

    return {"threshold": {str(t): mean(v) for t, v in by_threshold.items()},
            "crop_size": {c: mean(v) for c, v in by_crop.items()},
            "expressions": len(samples), "base_crop": base_crop, "base_threshold": base_threshold,
            "seconds": time.perf_counter() - start}


def markdown(res: dict, split: str, name: str = "") -> str:
    lines = [f"### Inference settings on SynthRef {split}", "",
             f"SynthRef {split}, {res['expressions']} expressions (`training/ablate.py`); plot: `ablation{name}.png`.",
             "",
             f"Confidence threshold (crop size {res['base_crop']}; one model run per expression, "
             "then `select(threshold)`):", "", "| threshold | J&F | J | F |", "|---|---|---|---|"]
    lines += [f"| {t} | {v['JF']:.3f} | {v['J']:.3f} | {v['F']:.3f} |" for t, v in res["threshold"].items()]
    best_t = best_threshold(res)
    lines += ["", f"Best threshold here: {best_t} (the paper's default is 0.7)."]
    if res["crop_size"]:
        lines += ["", f"Inference crop size (threshold {res['base_threshold']}):", "",
                  "| crop size | J&F | J | F |", "|---|---|---|---|"]
        lines += [f"| {c} | {v['JF']:.3f} | {v['J']:.3f} | {v['F']:.3f} |" for c, v in res["crop_size"].items()]
        best_c = max(res["crop_size"], key=lambda c: res["crop_size"][c]["JF"])
        lines += ["", f"Best crop size here: {best_c} (the paper found larger crops better, 36 best of those "
                  "it tried)."]
    lines += [""]
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One J&F axis for both panels: a flat crop-size curve must look flat next to the threshold curve.
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    ts = list(res["threshold"])
    a.plot([float(t) for t in ts], [res["threshold"][t]["JF"] for t in ts], "o-")
    a.set_xlabel("confidence threshold")
    a.set_ylabel("J&F")
    a.axvline(0.7, ls="--", c="grey", lw=0.8)
    a.text(0.7, 0.02, " paper's 0.7", transform=a.get_xaxis_transform(), color="grey", fontsize=8)
    cs = list(res["crop_size"])
    if cs:
        b.plot(range(len(cs)), [res["crop_size"][c]["JF"] for c in cs], "o-")
        b.set_xticks(range(len(cs)), cs)
    b.set_xlabel("inference crop size (frames)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.suptitle(f"SynthRef ablations ({res['expressions']} expressions)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_card_section(card: Path, section: str) -> None:
    text = card.read_text()
    head = text.split(SECTION)[0].rstrip() + "\n\n"
    card.write_text(head + section)


def refresh_card_ablations(folder: Path) -> None:
    """The model card's Ablations section: every ablation note the folder holds, in CARD_PARTS order."""
    card = Path(folder) / "MODEL_CARD.md"
    parts = [(Path(folder) / name).read_text().strip() for name in CARD_PARTS if (Path(folder) / name).is_file()]
    if card.is_file() and parts:
        write_card_section(card, SECTION + "\n\n" + "\n\n".join(parts) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="synthref", help="the SynthRef model (default) or a DeRVOS folder")
    p.add_argument("--root", default="data/synthref")
    p.add_argument("--split", default="valid")
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int, default=None, help="first N expressions only")
    p.add_argument("--device", default="cpu")
    p.add_argument("--base-threshold", type=float, default=None,
                   help="threshold of the crop-size sweep (default: the model's recommended one)")
    p.add_argument("--crop-sizes", nargs="*", default=list(CROP_SIZES),
                   help="crop sizes to sweep (numbers or 'whole'; none: thresholds only)")
    p.add_argument("--name", default="", help="file suffix: ablation<name>.json/.md/.png (e.g. _long)")
    p.add_argument("--recommend", action="store_true",
                   help="write the best threshold into the checkpoint folder's config.json")
    args = p.parse_args(argv)
    from derrvos_core.model import load_model
    from derrvos_core.model.catalog import model_folder
    from training.trainer.fast_eval import memoize_trajectories

    # a video's trajectories per crop size are computed once for all its expressions (same numbers)
    # every crop of every swept size of one video stays memoized while its expressions run
    model = memoize_trajectories(load_model(args.checkpoint, device=args.device), max_crops=256)
    dataset = open_dataset("synthref", args.root, args.split)
    n = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    res = sweep(model, [dataset[i] for i in range(n)], crop_sizes=tuple(args.crop_sizes),
                base_threshold=model.defaults.threshold if args.base_threshold is None else args.base_threshold)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"ablation{args.name}.json").write_text(json.dumps(res, indent=2))
    section = markdown(res, args.split, args.name)
    (out / f"ablation{args.name}.md").write_text(section)
    plot(res, out / f"ablation{args.name}.png")
    refresh_card_ablations(out)
    print(section)
    if args.recommend:
        folder = model_folder(args.checkpoint)
        best = recommend_threshold(folder, res)
        print(f"recommended threshold {best} written to {folder / 'config.json'}")
    return 0


def best_threshold(res: dict) -> str:
    """The swept threshold with the highest J&F; the higher threshold on a tie (fewer false selections)."""
    return max(res["threshold"], key=lambda t: (round(res["threshold"][t]["JF"], 6), float(t)))


def recommend_threshold(folder: Path, res: dict) -> float:
    """Write the sweep's best threshold (highest J&F; the higher threshold on a tie) into the model
    folder's config.json; the weights, and so the model version, are unchanged."""
    from derrvos_core.errors import InputError

    config = folder / "config.json"
    if not config.is_file():
        raise InputError(f"--recommend needs a model folder with config.json, got {folder}")
    best = best_threshold(res)
    data = json.loads(config.read_text())
    data["threshold"] = float(best)
    config.write_text(json.dumps(data, indent=2))
    return float(best)


if __name__ == "__main__":
    sys.exit(main())
