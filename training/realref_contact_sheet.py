"""Contact sheets of RealRef ground truth, one JPEG per clip: keyframes with every object's box and id,
drawn masks tinted, and the clip's expressions listed with their targets.

    python training/realref_contact_sheet.py                       # every clip in data/realref
    python training/realref_contact_sheet.py --clips vtest-a vtest-b --out assets/realref/contact_sheets

Reads frames from the set-up's output (python training/realref_setup.py first).
"""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from derrvos_core.datasets.common import find_frame  # noqa: E402
from derrvos_core.datasets.realref_format import RealRefClip, load_annotations  # noqa: E402
from derrvos_core.errors import DeRVOSError  # noqa: E402
from derrvos_core.masks import overlay_masks, trajectory_colors  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHEET_WIDTH = 1500
COLUMNS = 3


def pick_frames(clip: RealRefClip, count: int = 6) -> list[int]:
    """Up to `count` keyframes: every masked one first (up to count), the rest spread over the clip."""
    masked = sorted({t for frames in clip.masks.values() for t in frames})
    keys = clip.keyframes() or list(range(clip.num_frames))
    picks = masked[:count]
    spread = [keys[i] for i in np.linspace(0, len(keys) - 1, count).round().astype(int)]
    for t in spread:
        if len(picks) >= count:
            break
        if t not in picks:
            picks.append(t)
    return sorted(picks)


def render_frame(clip: RealRefClip, frame: np.ndarray, t: int, font) -> Image.Image:
    """One keyframe: mask tints, then boxes with object ids, then the frame number."""
    ids = sorted(clip.objects, key=int)
    colors = dict(zip(ids, trajectory_colors(len(ids))))
    masks = [clip.object_mask(o, t) for o in ids]
    image = Image.fromarray(overlay_masks(frame, masks, [colors[o] for o in ids], alpha=0.45))
    draw = ImageDraw.Draw(image)
    for o in ids:
        box = clip.objects[o].boxes.get(t)
        if box is not None:
            draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], outline=colors[o], width=3)
            draw.rectangle([box[0], max(0, box[1] - 18), box[0] + 10 + 9 * len(o), max(18, box[1])],
                           fill=colors[o])
            draw.text((box[0] + 3, max(0, box[1] - 18)), o, fill=(0, 0, 0), font=font)
    draw.rectangle([0, 0, 150, 22], fill=(0, 0, 0))
    marked = " mask" if any(m is not None for m in masks) else ""
    draw.text((4, 2), f"frame {t}{marked}", fill=(255, 255, 0), font=font)
    return image


def legend_lines(clip: RealRefClip, width_chars: int) -> list[str]:
    last = clip.start_frame + clip.num_frames - 1
    lines = [f"{clip.clip_id}  ({clip.source.file} frames {clip.start_frame}-{last}, split {clip.split})"]
    for o in sorted(clip.objects, key=int):
        obj = clip.objects[o]
        lines += textwrap.wrap(f"object {o} ({obj.label}): {obj.description}", width_chars)
    for e, exp in clip.expressions.items():
        targets = ", ".join(exp.obj_ids) or "nothing"
        lines += textwrap.wrap(f"[{e}] {exp.category}: \"{exp.text}\" -> {targets}", width_chars)
    return lines


def render_sheet(clip: RealRefClip, clips_dir: Path) -> Image.Image:
    """The whole sheet for one clip, frames scaled to SHEET_WIDTH / COLUMNS each."""
    font = ImageFont.load_default(size=16)
    picks = pick_frames(clip)
    folder = clips_dir / clip.clip_id
    tiles = [render_frame(clip, np.asarray(Image.open(find_frame(folder, f"{t:05d}")).convert("RGB")), t, font)
             for t in picks]
    tile_w = SHEET_WIDTH // COLUMNS
    tile_h = round(clip.height * tile_w / clip.width)
    rows = -(-len(tiles) // COLUMNS)
    small = ImageFont.load_default(size=15)
    lines = legend_lines(clip, width_chars=170)
    sheet = Image.new("RGB", (tile_w * COLUMNS, rows * tile_h + 19 * len(lines) + 10), (255, 255, 255))
    for k, tile in enumerate(tiles):
        sheet.paste(tile.resize((tile_w, tile_h), Image.LANCZOS), ((k % COLUMNS) * tile_w, (k // COLUMNS) * tile_h))
    draw = ImageDraw.Draw(sheet)
    for i, line in enumerate(lines):
        draw.text((6, rows * tile_h + 5 + 19 * i), line, fill=(0, 0, 0), font=small)
    return sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO / "data" / "realref", help="the set-up's output")
    parser.add_argument("--annotations", type=Path, default=REPO / "assets" / "realref" / "annotations")
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "realref" / "contact_sheets")
    parser.add_argument("--clips", nargs="*", help="clip ids (default: every clip)")
    args = parser.parse_args(argv)
    try:
        clips = [c for c in load_annotations(args.annotations) if not args.clips or c.clip_id in args.clips]
        args.out.mkdir(parents=True, exist_ok=True)
        for clip in clips:
            path = args.out / f"{clip.clip_id}.jpg"
            render_sheet(clip, args.root / "clips").save(path, quality=80, optimize=True)
            print(f"{path} ({path.stat().st_size // 1024} KB)")
    except DeRVOSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
