"""`python -m derrvos_core segment --video V --expression "..." --out DIR [--checkpoint default|real|synthref|DIR]
[--crop-size N] [--threshold X] [--device D] [--at-least-one] [--[no-]link-crops]`.

The default model is the real-video one; `--checkpoint synthref` runs the tiny DeRVOS trained on SynthRef.
What the model could not use of the expression, and why nothing was selected, are printed as notes.

Writes DIR/masks/<frame>.png (0/255, the answer per frame), DIR/overlay.mp4 (the selected
trajectories in colour) and DIR/scores.json (`derrvos_core.outputs.scores_json`, the schema `/segment`
returns too).

`--out` is checked before the model loads (a folder or a path that can become one, writable, with room
for about a quarter of a byte per video pixel: the masks and the overlay), so a bad `--out` costs no run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from derrvos_core.errors import DeRVOSError, InputError

#: Bytes of output reserved per video pixel (masks PNGs and the overlay MP4, generously), and at least.
OUT_BYTES_PER_PIXEL = 0.25
OUT_MIN_BYTES = 1 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--video", required=True, help="video file or folder of frames")
    parser.add_argument("--expression", required=True,
                        help="what to segment, e.g. 'the red car turning left'")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    parser.add_argument("--checkpoint", default="default",
                        help="'default' or 'real' (the real-video model), 'synthref' (the tiny DeRVOS trained "
                             "on SynthRef shapes), or a model folder")
    parser.add_argument("--crop-size", type=int, default=None,
                        help="frames per independent crop (default: the model's recommended one)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="confidence to select (default: the model's recommended one; 0.7, the paper's, "
                             "for a checkpoint that names none)")
    parser.add_argument("--at-least-one", action="store_true",
                        help="keep each crop's best trajectory when none reaches the threshold")
    parser.add_argument("--link-crops", action=argparse.BooleanOptionalAction, default=None,
                        help="link trajectories across crops so each object keeps one identity and one "
                             "score over the video (beyond the paper; default: the model's recommendation, "
                             "on for the real-video model); --no-link-crops runs each crop on its own")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")


def run(args: argparse.Namespace) -> int:
    try:
        from derrvos_core.model.catalog import load_model
        from derrvos_core.model.frames import open_frames

        with open_frames(args.video) as (_, num_frames, height, width):  # as inference opens it
            check_out(args.out, int(OUT_BYTES_PER_PIXEL * num_frames * height * width))
        model = load_model(args.checkpoint, device=args.device)
        result = _segment_with_progress(model, args)
        _write_outputs(result, args, model.version)
    except DeRVOSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from derrvos_core.answer_notes import ignored_note, nothing_selected_note

    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.ignored:
        print(f"note: {ignored_note(result.ignored)}", file=sys.stderr)
    if not result.selected:
        print(f"note: {nothing_selected_note(result.trajectories, result.threshold)}", file=sys.stderr)
    print(f"{len(result.selected)} of {len(result.trajectories)} trajectories selected; wrote "
          f"{args.out / 'masks'}, {args.out / 'overlay.mp4'}, {args.out / 'scores.json'}")
    return 0


def check_out(out: Path, needed: int) -> None:
    """Make `out` a folder the outputs can be written to, or InputError saying why not: a file where the
    folder should be (or above it), a folder that refuses writing, or less than `needed` bytes free."""
    existing = next(p for p in (out, *out.parents) if p.exists())  # "." or "/" at the latest
    if not existing.is_dir():
        where = "is a file" if existing == out else f"lies under {existing}, which is a file"
        raise InputError(f"--out {out} {where}; give a folder (it is created if missing)")
    free = shutil.disk_usage(existing).free
    if free < max(needed, OUT_MIN_BYTES):
        raise InputError(f"--out {out}: {free / 2**20:.1f} MiB free there, and this video's masks and overlay "
                         f"need about {max(needed, OUT_MIN_BYTES) / 2**20:.1f} MiB; free some space or choose "
                         f"another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise InputError(f"--out {out} cannot be written ({os.strerror(err.errno) if err.errno else err}); "
                         f"choose a folder you can write to") from err


def _segment_with_progress(model, args: argparse.Namespace):
    from tqdm import tqdm

    from derrvos_core.result import SegmentationResult

    settings = model.defaults.settings(crop_size=args.crop_size, threshold=args.threshold,
                                       at_least_one=args.at_least_one, link_crops=args.link_crops)
    steps = model.segment_iter(args.video, args.expression, settings)
    bar = None
    try:
        for step in steps:
            if isinstance(step, SegmentationResult):
                return step
            if bar is None:
                bar = tqdm(total=step.num_crops, unit="crop", desc="segment", file=sys.stderr)
            bar.update(1)
            bar.set_postfix_str(f"{step.frames_done}/{step.num_frames} frames")
    finally:
        if bar is not None:
            bar.close()
    raise RuntimeError("the model finished without a result")


def _write_outputs(result, args: argparse.Namespace, version: str) -> None:
    from derrvos_core.masks import write_binary_png
    from derrvos_core.outputs import identity_colours, scores_json
    from derrvos_core.video import open_video, write_overlay_video

    out: Path = args.out
    (out / "masks").mkdir(parents=True, exist_ok=True)
    chosen = [t for t in result.trajectories if t.trajectory_id in set(result.selected)]
    with open_video(args.video) as reader:
        names = reader.frame_names
        for frame in range(result.num_frames):
            write_binary_png(out / "masks" / f"{names[frame]}.png", result.frame_mask(frame))
        per_frame = ([t.mask(f, result.height, result.width) if t.frame_start <= f < t.frame_end else None
                      for t in chosen] for f in range(result.num_frames))
        labels = [f"#{t.trajectory_id} {t.score:.2f}" for t in chosen]
        colours = identity_colours(result)  # the palette the app and /segment draw with
        audio = args.video if Path(args.video).is_file() else None
        write_overlay_video(out / "overlay.mp4", reader.frames(), per_frame, labels, reader.info.fps,
                            colors=[colours[t.trajectory_id] for t in chosen], audio_from=audio)
    (out / "scores.json").write_text(json.dumps(scores_json(result, version), indent=2))
