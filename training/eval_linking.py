"""Cross-crop linking on SynthRef's long split: J&F, tIoU and vIoU with and without linking.

    python training/eval_linking.py --checkpoint synthref --videos 4 --thresholds 0.7 0.2
    python training/benchmark.py --linking ...            # the same

The long split (300-400 frames a video) is generated under --root when missing. Every (crop size,
linking) setting runs on the same expressions through `derrvos_core.evaluation`; one `SegmentCache`
serves them all, so the segmenter and BEiT-3 run once per video and expression. "identities" is the
mean number of distinct objects (link ids; trajectory ids without linking) in a selection.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from derrvos_core.datasets import open_dataset  # noqa: E402
from derrvos_core.datasets.synthref import SynthRefConfig, generate_synthref  # noqa: E402
from derrvos_core.errors import DeRVOSError  # noqa: E402
from derrvos_core.evaluation import EvalSettings, evaluate  # noqa: E402
from derrvos_core.model import DeRVOS, DeRVOSConfig, SegmentCache, load_model  # noqa: E402
from training.script import script_main  # noqa: E402

METRICS = ("JF", "J", "F", "tIoU", "vIoU")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="synthref",
                        help="'synthref' (the SynthRef model, default), a model folder or name, or 'random' "
                             "(tiny config, random weights: a smoke run)")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "synthref_long",
                        help="SynthRef root; ROOT/long is generated when missing")
    parser.add_argument("--videos", type=int, default=4, help="long videos to generate")
    parser.add_argument("--seed", type=int, default=3, help="generation seed (the shipped long split: 3)")
    parser.add_argument("--frames", type=int, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="video length range when generating (default: the long split's 300-400)")
    parser.add_argument("--size", type=int, default=128, help="frame side when generating")
    parser.add_argument("--limit", type=int, default=None, help="first N expressions only")
    parser.add_argument("--crop-sizes", type=int, nargs="+", default=[18, 36])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.7],
                        help="selection thresholds (each is a row set; the model runs once per crop size)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--changes", type=int, default=0, metavar="N",
                        help="also list, per threshold and crop size, the N expressions whose J&F linking "
                             "changes most")


def ensure_long_split(args: argparse.Namespace) -> None:
    if (args.root / "long" / "meta_expressions.json").is_file():
        return
    config = SynthRefConfig(width=args.size, height=args.size)
    if args.frames is not None:
        config = SynthRefConfig(width=args.size, height=args.size, long_min_frames=args.frames[0],
                                long_max_frames=args.frames[1])
    stats = generate_synthref(args.root, "long", args.videos, args.seed, config)
    print(f"generated {stats}", file=sys.stderr)


def build_model(checkpoint: str, device: str) -> tuple[DeRVOS, str]:
    if checkpoint == "random":
        torch.manual_seed(0)
        model = DeRVOS.from_config(DeRVOSConfig.tiny()).eval().to(device)
        return model, f"random tiny ({model.version}): numbers mean nothing, the pipeline is checked"
    model = load_model(checkpoint, device=device)
    return model, f"{checkpoint} ({model.version})"


def run_setting(model, dataset, cache: SegmentCache, crop_size: int, link: bool, threshold: float,
                args) -> dict:
    """Overall metrics of one (crop size, linking) setting, plus mean identities per selection."""
    identities: list[int] = []

    def segment(frames, expression):
        result = model.segment(frames, expression,
                               model.defaults.settings(crop_size=crop_size, threshold=threshold, link_crops=link),
                               cache=cache)
        chosen = set(result.selected)
        identities.append(len({t.link_id if link else t.trajectory_id
                               for t in result.trajectories if t.trajectory_id in chosen}))
        return result

    settings = EvalSettings(crop_size=crop_size, threshold=threshold, limit=args.limit, baselines=False,
                            write_annotations=False)
    report = evaluate(segment, dataset, tempfile.mkdtemp(prefix="derrvos_link_"), settings)
    overall = report.overall["model"]
    per_expression = {(r.video_id, r.expression_id): (r.expression, r.scores["model"].JF)
                      for r in report.records if r.scores}
    return {"threshold": threshold, "crop_size": crop_size, "linked": link, "count": overall["count"],
            **{m: overall[m] for m in METRICS}, "identities": sum(identities) / max(1, len(identities)),
            "per_expression": per_expression}


def largest_changes(off: dict, on: dict, n: int) -> list[tuple[float, float, str]]:
    """(J&F off, J&F on, expression) of the n expressions linking moves most, largest move first."""
    pairs = [(off[k][1], on[k][1], off[k][0]) for k in off if k in on]
    return sorted(pairs, key=lambda p: -abs(p[1] - p[0]))[:n]


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    try:
        ensure_long_split(args)
        model, which = build_model(args.checkpoint, args.device)
        dataset = open_dataset("synthref", args.root, "long")
        cache = SegmentCache(max_bytes=2 << 30)
        rows = [run_setting(model, dataset, cache, crop, link, threshold, args)
                for threshold in args.thresholds for crop in args.crop_sizes for link in (False, True)]
    except DeRVOSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"SynthRef long ({args.root / 'long'}), model {which}, {rows[0]['count']} expressions\n")
    print("| threshold | crop | linking | J&F | J | F | tIoU | vIoU | identities |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threshold']} | {r['crop_size']} | {'on' if r['linked'] else 'off'} | " +
              " | ".join(f"{100 * r[m]:.1f}" for m in METRICS) + f" | {r['identities']:.2f} |")
    if args.changes > 0:
        for off, on in zip(rows[0::2], rows[1::2]):
            print(f"\nthreshold {off['threshold']}, crop {off['crop_size']}: largest J&F changes (off -> on)")
            for before, after, text in largest_changes(off["per_expression"], on["per_expression"],
                                                       args.changes):
                print(f"  {100 * before:5.1f} -> {100 * after:5.1f} ({100 * (after - before):+6.1f})  {text}")
    if args.json is not None:
        public = [{k: v for k, v in r.items() if k != "per_expression"} for r in rows]
        args.json.write_text(json.dumps({"model": which, "rows": public}, indent=2))
    return 0


def main(argv=None) -> int:
    return script_main(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
