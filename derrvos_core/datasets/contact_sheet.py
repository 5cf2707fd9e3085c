"""A contact sheet of one MeViS-layout video: sampled frames, then one row per expression with its target."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from derrvos_core.result import decode_rle

_TARGET = np.array([255, 0, 170], dtype=np.float32)
_PAD, _LABEL_H = 6, 22


def render_contact_sheet(split_root, out_path, video_id: str | None = None, num_frames: int = 8) -> Path:
    """Write a PNG of `video_id` (default: the first video whose expressions span the most categories)."""
    root = Path(split_root)
    videos = json.loads((root / "meta_expressions.json").read_text())["videos"]
    masks = json.loads((root / "mask_dict.json").read_text())
    vid = video_id or _most_varied(videos)
    video = videos[vid]
    picks = np.linspace(0, len(video["frames"]) - 1, num_frames).round().astype(int)
    frames = [_load_frame(root / "JPEGImages" / vid, video["frames"][t]) for t in picks]
    h, w = frames[0].shape[:2]
    rows = [(f"video {vid}: {len(video['frames'])} frames (columns: frames {', '.join(map(str, picks))})",
             frames)]
    for exp_id, exp in video["expressions"].items():
        tinted = [_tint(frame, _target_mask(masks, exp["anno_id"], int(t), h, w))
                  for frame, t in zip(frames, picks)]
        n = len(exp["anno_id"])
        who = "no target" if n == 0 else f"{n} target{'s' if n > 1 else ''}"
        rows.append((f"[{exp.get('category', '?')}] \"{exp['exp']}\"  ({who})", tinted))
    sheet = _compose(rows, w, h, num_frames)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours keep the PNG small enough for a README
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


def _most_varied(videos: dict) -> str:
    def variety(vid):
        cats = {e.get("category") for e in videos[vid]["expressions"].values()}
        return (len(cats), -abs(len(videos[vid]["expressions"]) - 7))
    return max(list(videos)[:200], key=variety)


def _load_frame(folder: Path, name: str) -> np.ndarray:
    for ext in (".jpg", ".png", ".jpeg"):
        if (folder / (name + ext)).exists():
            return np.asarray(Image.open(folder / (name + ext)).convert("RGB"))
    raise FileNotFoundError(f"no frame {name} in {folder}")


def _target_mask(masks: dict, anno_ids: list, t: int, h: int, w: int) -> np.ndarray:
    out = np.zeros((h, w), dtype=bool)
    for a in anno_ids:
        rle = masks[str(a)][t]
        if rle:
            out |= decode_rle(rle)
    return out


def _tint(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Dim everything but the target and ring it in magenta, keeping its own colours readable."""
    out = frame.astype(np.float32) * 0.4
    out[mask] = frame[mask]
    padded = np.pad(mask, 2)
    h, w = mask.shape
    grown = np.zeros_like(mask)
    for dy in range(-2, 3):  # a 2-px ring; padding (not np.roll) so it never wraps to the far edge
        for dx in range(-2, 3):
            grown |= padded[2 + dy:2 + dy + h, 2 + dx:2 + dx + w]
    out[grown & ~mask] = _TARGET
    return out.clip(0, 255).astype(np.uint8)


def _compose(rows: list, w: int, h: int, n: int) -> Image.Image:
    scale = 1.5 if w <= 160 else 1.0  # small SynthRef frames are easier to read enlarged
    cw, ch = int(w * scale), int(h * scale)
    width = _PAD + n * (cw + _PAD)
    height = _PAD + len(rows) * (_LABEL_H + ch + _PAD)
    sheet = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=15)
    y = _PAD
    for label, frames in rows:
        draw.text((_PAD, y + 2), label, fill=(20, 20, 20), font=font)
        y += _LABEL_H
        for i, frame in enumerate(frames):
            tile = Image.fromarray(frame).resize((cw, ch), Image.NEAREST)
            sheet.paste(tile, (_PAD + i * (cw + _PAD), y))
        y += ch + _PAD
    return sheet
