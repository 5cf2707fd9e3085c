"""Generate a SynthRef split (MeViS layout) or its RefCOCO-layout image split, and print its statistics.

    python training/make_synthref.py --out data/synthref --split train --num-videos 600 --seed 0
    python training/make_synthref.py --out data/synthref --split ris --num-videos 2000 --seed 0
    python training/make_synthref.py --out data/synthref --split valid --num-videos 60 --seed 1 \
        --contact-sheet assets/synthref_contact_sheet.png

Default sizes used for the shipped model: train 600 videos (seed 0), valid 60 (seed 1), test 100 (seed 2),
long 20 (seed 3), ris 2000 images (seed 0).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derrvos_core.datasets.synthref import SPLITS, SynthRefConfig, generate_synthref  # noqa: E402
from derrvos_core.errors import DeRVOSError  # noqa: E402
from training.script import script_main  # noqa: E402


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True,
                        help="dataset root; the split is written to OUT/SPLIT (ris: OUT/ris)")
    parser.add_argument("--split", required=True, choices=SPLITS + ("ris",))
    parser.add_argument("--num-videos", type=int, required=True, help="videos (images for --split ris)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=128, help="frame width and height in pixels")
    parser.add_argument("--width", type=int, default=None, help="frame width (overrides --size)")
    parser.add_argument("--height", type=int, default=None, help="frame height (overrides --size)")
    parser.add_argument("--image-format", choices=("jpg", "png"), default="jpg",
                        help="jpg matches the official MeViS loaders; png is lossless")
    parser.add_argument("--workers", type=int, default=2, help="processes (the output does not depend on it)")
    parser.add_argument("--contact-sheet", default=None,
                        help="also render the split's first video to this PNG")


def run(args: argparse.Namespace) -> int:
    config = SynthRefConfig(width=args.width or args.size, height=args.height or args.size,
                            image_format=args.image_format)
    try:
        if args.split == "ris":
            from derrvos_core.datasets.synthref_ris import generate_synthref_ris

            stats = generate_synthref_ris(args.out, args.num_videos, args.seed, config)
        else:
            stats = generate_synthref(args.out, args.split, args.num_videos, args.seed, config,
                                      workers=args.workers, progress=_progress)
    except DeRVOSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(stats.format())
    if args.contact_sheet and args.split != "ris":
        from derrvos_core.datasets.contact_sheet import render_contact_sheet

        path = render_contact_sheet(Path(args.out) / args.split, args.contact_sheet)
        print(f"contact sheet: {path}")
    return 0


def _progress(done: int, total: int) -> None:
    if done == total or done % max(1, total // 10) == 0:
        print(f"  {done}/{total} videos", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    return script_main(__doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
