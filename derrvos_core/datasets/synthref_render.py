"""SynthRef pixels: textured backgrounds, textured shape sprites, frames and visible masks.

Masks are exact: an object's ground truth in a frame is its sprite minus every sprite drawn
above it (z-order), clipped to the frame, so occlusion and leaving the frame are handled
by construction.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw

from derrvos_core.datasets.synthref_vocab import COLOURS

_SUPERSAMPLE = 4


def shape_mask(shape: str, size: int) -> np.ndarray:
    """bool [size, size]: the silhouette of `shape`, drawn at 4x and box-downsampled for clean edges."""
    s = size * _SUPERSAMPLE
    img = Image.new("L", (s, s), 0)
    draw = ImageDraw.Draw(img)
    m = s - 1
    if shape == "square":
        draw.rectangle([s * 0.06, s * 0.06, m - s * 0.06, m - s * 0.06], fill=255)
    elif shape == "circle":
        draw.ellipse([0, 0, m, m], fill=255)
    elif shape == "cross":
        a, b = s * 0.33, s * 0.67
        draw.rectangle([a, 0, b, m], fill=255)
        draw.rectangle([0, a, m, b], fill=255)
    else:
        draw.polygon(shape_polygon(shape, s), fill=255)
    small = img.resize((size, size), Image.BOX)
    return np.asarray(small) >= 128


def shape_polygon(shape: str, s: float) -> list:
    """[(x, y)] outline of a polygonal shape inside a box of side s (not square, circle or cross)."""
    c, r = (s - 1) / 2.0, (s - 1) / 2.0
    if shape == "triangle":
        return [(c, 0), (s - 1, s - 1), (0, s - 1)]
    if shape == "diamond":
        return [(c, 0), (s - 1, c), (c, s - 1), (0, c)]
    if shape == "hexagon":
        return [(c + r * math.cos(a), c + r * math.sin(a)) for a in np.arange(6) * math.pi / 3]
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((c + rad * math.cos(a), c + 0.08 * s + rad * math.sin(a)))
        return pts
    raise ValueError(f"unknown shape {shape!r}")


def make_sprite(shape: str, colour: str, texture: str, size: int) -> tuple:
    """(rgb uint8 [size, size, 3], mask bool [size, size]) with texture and a dark outline."""
    mask = shape_mask(shape, size)
    return paint(mask, colour, texture), mask


def paint(mask: np.ndarray, colour: str, texture: str) -> np.ndarray:
    """uint8 [h, w, 3]: the colour and texture of an object over the box of `mask` (outline darkened)."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.broadcast_to(np.array(COLOURS[colour], dtype=np.float32), (h, w, 3)).copy()
    if texture == "striped":
        rgb[((xx + yy) // 3) % 2 == 1] *= 0.72  # light enough that the hue still reads as the colour
    elif texture == "dotted":
        dot = (xx % 5 == 2) & (yy % 5 == 2)
        rgb[dot | ((xx % 5 == 2) & (yy % 5 == 3)) | ((xx % 5 == 3) & (yy % 5 == 2))] *= 0.6
    rgb[_outline(mask)] *= 0.45  # keeps same-coloured neighbours apart where they touch
    return rgb.clip(0, 255).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def make_background(seed: int, width: int, height: int) -> np.ndarray:
    """uint8 [H, W, 3]: a muted, low-contrast texture (noise, checks, stripes or a gradient)."""
    rng = np.random.default_rng(seed)
    tint = rng.uniform(60, 130) + rng.uniform(-18, 18, size=3)
    kind = int(rng.integers(4))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:
        cells = rng.uniform(-1, 1, size=(max(2, height // 16), max(2, width // 16))).astype(np.float32)
        noise = np.asarray(Image.fromarray(cells, mode="F").resize((width, height), Image.BICUBIC))
        pattern = noise * 22
    elif kind == 1:
        cell = int(rng.integers(8, 20))
        pattern = (((xx // cell) + (yy // cell)) % 2 - 0.5) * 24
    elif kind == 2:
        period, angle = rng.uniform(6, 16), rng.uniform(0, math.pi)
        pattern = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period) * 12
    else:
        angle = rng.uniform(0, 2 * math.pi)
        pattern = ((xx * math.cos(angle) + yy * math.sin(angle)) / max(width, height)) * 50
    grain = rng.normal(0, 4, size=(height, width)).astype(np.float32)
    img = tint[None, None, :] + (pattern + grain)[:, :, None]
    return img.clip(0, 255).astype(np.uint8)


def render_frames(scene) -> Iterator[tuple]:
    """Yield (frame uint8 [H, W, 3], visible masks bool [N, H, W] in obj_id order) for each frame."""
    background = make_background(scene.background_seed, scene.width, scene.height)
    sprites = [make_sprite(o.shape, o.colour, o.texture, o.size_px) for o in scene.objects]
    order = sorted(range(len(scene.objects)), key=lambda i: scene.objects[i].z)
    for t in range(scene.num_frames):
        frame = background.copy()
        full = np.zeros((len(scene.objects), scene.height, scene.width), dtype=bool)
        for i in order:  # bottom to top, so later sprites overwrite earlier ones
            _paste(frame, full[i], sprites[i], scene.objects[i].positions[t])
        visible = full.copy()
        covered = np.zeros((scene.height, scene.width), dtype=bool)
        for i in reversed(order):  # top to bottom: what lies above hides what lies below
            visible[i] &= ~covered
            covered |= full[i]
        yield frame, visible


def _paste(frame: np.ndarray, mask_out: np.ndarray, sprite: tuple, centre: np.ndarray) -> None:
    rgb, mask = sprite
    size = mask.shape[0]
    x0 = int(round(centre[0] - size / 2.0))
    y0 = int(round(centre[1] - size / 2.0))
    h, w = mask_out.shape
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1, sy1 = min(size, w - x0), min(size, h - y0)
    if sx0 >= sx1 or sy0 >= sy1:
        return  # entirely outside the frame
    sub = mask[sy0:sy1, sx0:sx1]
    region = frame[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
    region[sub] = rgb[sy0:sy1, sx0:sx1][sub]
    mask_out[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1] = sub
