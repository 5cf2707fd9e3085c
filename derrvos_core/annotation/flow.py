"""Dense optical flow between neighbouring frames, and what a mask needs of it: warping and checks.

Flow is OpenCV's DIS (`cv2.DISOpticalFlow_create`) on a downscaled grayscale copy of each frame:
measured at 768x576 on these machines (one thread, frames halved to 384x288) DIS costs 1.8 ms a flow
at its FAST preset and 9.0 ms at MEDIUM, Farneback (pyramid 3, window 15) 21.8 ms, for the same
3 px shift recovered (`training/propagation_eval.py --flow-bench` prints the numbers again).
Masks are warped at the frame's own size with the flow upsampled; the checks (forward-backward
consistency, photometric agreement) run at the flow's size, where they are cheap.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from derrvos_core.errors import InputError

PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
"""DIS presets by name (OpenCV's: more patches and iterations from ultrafast to medium)."""


@dataclass(frozen=True)
class FlowFrame:
    """One frame as the flow reads it.

    Attributes:
        gray: uint8 [h, w]: the frame in grayscale, scaled so its longer side is at most `max_side`
            (downscaled) and at least `min_side` (upscaled).
        smooth: float32 [h, w]: `gray` lightly blurred, for photometric checks (texture finer than a
            pixel of `gray` would fail them at any sub-pixel misalignment).
        scale: h / H, the factor from frame pixels to flow pixels (1.0 when not downscaled).
        size: (H, W) of the frame itself.
    """

    gray: np.ndarray
    smooth: np.ndarray
    scale: float
    size: tuple[int, int]


class DenseFlow:
    """DIS flow on downscaled grayscale copies. Holds an OpenCV object: one per propagation or thread."""

    def __init__(self, *, max_side: int = 384, min_side: int = 256, preset: str = "medium"):
        if preset not in PRESETS:
            raise InputError(f"flow preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        if int(max_side) < 16:
            raise InputError(f"flow max_side must be at least 16 pixels, got {max_side}")
        if int(min_side) > int(max_side):
            raise InputError(f"flow min_side ({min_side}) must not exceed max_side ({max_side})")
        self.max_side, self.min_side = int(max_side), int(min_side)
        self._dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def prepare(self, frame: np.ndarray) -> FlowFrame:
        """A uint8 [H, W, 3] RGB frame as `FlowFrame`."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(f"a frame must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
        height, width = frame.shape[:2]
        longer = max(height, width)
        scale = max(self.min_side / longer, min(1.0, self.max_side / longer))
        gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 1.0)
        return FlowFrame(gray=gray, smooth=smooth, scale=gray.shape[0] / height, size=(height, width))

    def flow(self, source: FlowFrame, target: FlowFrame) -> np.ndarray:
        """float32 [h, w, 2] (dx, dy) in flow pixels: where each pixel of `source` moves to in `target`."""
        return self._dis.calc(source.gray, target.gray, None)


def sample_at(image: np.ndarray, flow: np.ndarray, border: float = 0.0) -> np.ndarray:
    """`image` read at each pixel's position plus `flow` (bilinear); `border` outside the image."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def warp_mask(mask: np.ndarray, flow_back: np.ndarray, scale: float) -> np.ndarray:
    """bool [H, W]: `mask` (of the previous frame) carried into the next one.

    `flow_back` is the next frame's flow to the previous one, at flow size (scale = flow px / frame px);
    it is upsampled to the mask's size, so the mask keeps its own resolution.
    """
    height, width = mask.shape
    if scale != 1.0:
        flow_back = cv2.resize(flow_back, (width, height), interpolation=cv2.INTER_LINEAR) / scale
    return sample_at(mask.astype(np.float32), flow_back) >= 0.5


def round_trip_error(flow_there: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """float32 [h, w]: per pixel p, |flow_there(p) + flow_back(p + flow_there(p))| (0 for a perfect pair)."""
    back = np.stack([sample_at(np.ascontiguousarray(flow_back[..., k]), flow_there, border=1e4)
                     for k in range(2)], axis=-1)
    return np.linalg.norm(flow_there + back, axis=-1)


def photometric_error(source: FlowFrame, target: FlowFrame, flow: np.ndarray) -> np.ndarray:
    """float32 [h, w]: |source(p) - target(p + flow(p))| on the smoothed grayscale, in grey levels."""
    return np.abs(source.smooth - sample_at(target.smooth, flow, border=-1e4))


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """bool mask resized to (h, w) by area (a pixel is in when at least half of what it covers is)."""
    if mask.shape == tuple(size):
        return mask
    return cv2.resize(mask.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA) >= 0.5
