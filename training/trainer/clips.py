"""Clip sampling and augmentation shared by the stages.

- Clips are T randomly sampled frames, kept in temporal order (the paper's T = 8).
- A clip whose target is empty in every sampled frame is rejected and redrawn (the paper filters
  such clips); an expression with no target anywhere stays a valid negative when asked for
  (MeViS and SynthRef have "no target" expressions, and "none" must be learnable).
- The horizontal flip mirrors frames and masks and swaps left/right in the expression.
"""
from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F

_LEFT_RIGHT = re.compile(r"(?<![A-Za-z])(left|right)(?=(most|ward|wards|-most|-hand|hand)?(?![A-Za-z]))",
                         re.IGNORECASE)


def swap_left_right(text: str) -> str:
    """'the leftmost circle, right of the star' -> 'the rightmost circle, left of the star'.

    Whole words (and -most/-ward/-hand forms) only, so 'bright' or 'upright' stay as they are.
    """
    def swap(m: re.Match) -> str:
        word = m.group(1)
        new = "right" if word.lower() == "left" else "left"
        if word.isupper():
            return new.upper()
        return new.capitalize() if word[0].isupper() else new

    return _LEFT_RIGHT.sub(swap, text)


def sample_clip(num_frames: int, length: int, rng: np.random.Generator,
                present: np.ndarray | None = None, tries: int = 20) -> np.ndarray:
    """Sorted frame indices of a T-frame clip.

    Args:
        num_frames: frames available.
        length: T; with fewer frames than T, frames repeat (still in order).
        present: bool [num_frames], where the target is visible; when given and not all False,
            clips with no visible target are redrawn (up to `tries`, then one present frame is forced in).
    """
    if num_frames <= 0:
        raise ValueError("cannot sample a clip from zero frames")
    for _ in range(tries):
        idx = _draw(num_frames, length, rng)
        if present is None or not present.any() or present[idx].any():
            return idx
    idx = _draw(num_frames, length, rng)
    idx[rng.integers(len(idx))] = rng.choice(np.flatnonzero(present))
    return np.sort(idx)


def _draw(num_frames: int, length: int, rng: np.random.Generator) -> np.ndarray:
    if num_frames >= length:
        return np.sort(rng.choice(num_frames, size=length, replace=False))
    return np.sort(rng.integers(0, num_frames, size=length))


def resize_frames(frames: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [T, H, W, 3] -> float [T, 3, size, size] in 0..255 (bilinear, antialiased)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def resize_masks(masks: np.ndarray | torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """bool [..., H, W] -> bool [..., h, w]: a pixel is on when at least half its area is covered."""
    m = torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks).float()
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if m.shape[-2:] == hw:
        return m > 0.5
    lead = m.shape[:-2]
    m = m.reshape(-1, 1, *m.shape[-2:])
    out = F.interpolate(m, size=hw, mode="area") if hw[0] <= m.shape[-2] else \
        F.interpolate(m, size=hw, mode="nearest")
    return (out >= 0.5).reshape(*lead, *hw)
