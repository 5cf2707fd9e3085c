"""Image-guided mask upsampling: a trajectory's 1/4-resolution logits made sharper from the frame.

The trajectory branch predicts masks at 1/4 of its input (32 x 32 at 128 px) and the video's masks
are those logits upsampled bilinearly. Even a perfect 32 x 32 mask loses small objects that way
(`training/mask_ceiling.py`: mean IoU 0.857, 0.679 under 100 px, on SynthRef). `MaskUpsampler` is a
small dilated-convolution net that reads the frame (area-resized to `scale` x the mask side) beside
the bilinearly upsampled logits and adds a residual to them; its last layer starts at zero, so an
untrained one returns the bilinear upsampling itself. It is not part of the paper's model: the
`full` config has none (`channels` 0) and loads the official weights key for key; the SynthRef model
trains one on its own trajectories (`training/train_upsampler.py`).

Only mask-frames with a positive logit are refined (a frame the trajectory does not cover stays
empty), each in a window around what it covers (`WINDOW_SIDES`), `chunk` at a time, so the cost
follows what the trajectories cover. Weights and activations
are channels-last: CPU convolutions this narrow run 1.5-4x faster that way, in batches of a few
mask-frames (measured on 2 cores; `training/benchmark.py --breakdown` times the upsampler in a run).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import UpsamplerConfig

#: A mask-frame is refined in a square window around its positive cells, this many mask cells wider on
#: each side, of the first of WINDOW_SIDES (mask cells) that holds it; larger masks are refined whole.
#: On the SynthRef model's valid examples windows give mean IoU 0.5956 against 0.5959 on whole frames,
#: in 1.5 s against 5.6 s (most objects are small; the report of `training/train_upsampler.py`).
WINDOW_MARGIN = 3
WINDOW_SIDES = (12, 16, 24)
#: Logits are clamped to +-LOGIT_CLAMP and divided by it as an input channel (the net sees shape, not
#: how sure the head was far from the edge).
LOGIT_CLAMP = 10.0


@dataclass
class GuideFrames:
    """A crop's frames as the upsampler reads them: float [T, 3, s, s] in 0..255, s = `scale` x the mask
    side (48 kB a frame at s = 64), each frame on its own: the per-frame cache keeps them beside the
    features (`FrameFeatures`)."""

    images: torch.Tensor

    def frame(self, index: int) -> GuideFrames:
        return GuideFrames(self.images[index:index + 1].clone())

    @staticmethod
    def concat(parts: list[GuideFrames]) -> GuideFrames:
        return GuideFrames(torch.cat([part.images for part in parts]))

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size()


class MaskUpsampler(nn.Module):
    """frames [B, 3, H, W] in 0..255 + coarse logits [B, h, w] -> logits [B, scale * h, scale * w]."""

    def __init__(self, cfg: UpsamplerConfig, pixel_mean, pixel_std):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std, dtype=torch.float32).view(1, 3, 1, 1),
                             persistent=False)
        width = cfg.channels
        self.stem = nn.Conv2d(5, width, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(width, width, 3, padding=d, dilation=d) for d in cfg.dilations)
        self.head = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.to(memory_format=torch.channels_last)  # loading copies into these strides; values are the same

    def forward(self, frames: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        h, w = logits.shape[-2:]
        size = (h * self.cfg.scale, w * self.cfg.scale)
        image = (F.interpolate(frames.float(), size=size, mode="area") - self.pixel_mean) / self.pixel_std
        coarse = F.interpolate(logits[:, None].float(), size=size, mode="bilinear", align_corners=False)
        shape = coarse.clamp(-LOGIT_CLAMP, LOGIT_CLAMP) / LOGIT_CLAMP
        x = torch.cat([image, shape, torch.sigmoid(coarse)], dim=1)
        x = x.contiguous(memory_format=torch.channels_last)
        x = F.relu(self.stem(x))
        for block in self.blocks:
            x = x + F.relu(block(x))
        return (coarse + self.head(x))[:, 0]

    def guide(self, frames: torch.Tensor, mask_side: int) -> GuideFrames:
        """`frames` (float [T, 3, H, W] in 0..255, as the branch prepared them) area-resized once to
        the size `upsample` reads for masks of `mask_side` cells."""
        side = mask_side * self.cfg.scale
        return GuideFrames(F.interpolate(frames.float(), size=(side, side), mode="area"))

    def upsample(self, frames: torch.Tensor, mask_logits: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        """A crop's trajectories at `scale` x their resolution.

        Args:
            frames: float [T, 3, H, W] in 0..255, the crop's frames as the branch prepared them.
            mask_logits: float [N, T, h, w], the trajectories' logits.
        Returns:
            float [N, T, scale * h, scale * w]; a mask-frame with no positive logit is the bilinear
            upsampling of its logits (empty), the others are refined.
        """
        h, w = mask_logits.shape[-2:]
        scale = self.cfg.scale
        size = (h * scale, w * scale)
        out = F.interpolate(mask_logits.float(), size=size, mode="bilinear", align_corners=False)
        # each frame resized once for all its mask-frames (a no-op on `guide` frames; `forward` leaves
        # an image at its size as is)
        if tuple(frames.shape[-2:]) != size:
            frames = F.interpolate(frames.float(), size=size, mode="area")
        for side, items in _windows(mask_logits > 0).items():
            for start in range(0, len(items), chunk):
                part = items[start:start + chunk]
                if side is None:  # the whole frame
                    ids = torch.tensor([(q, f) for q, f, _, _ in part])
                    out[ids[:, 0], ids[:, 1]] = self(frames[ids[:, 1]], mask_logits[ids[:, 0], ids[:, 1]])
                    continue
                images = torch.stack([frames[f, :, y * scale:(y + side) * scale, x * scale:(x + side) * scale]
                                      for _, f, y, x in part])
                logits = torch.stack([mask_logits[q, f, y:y + side, x:x + side] for q, f, y, x in part])
                for (q, f, y, x), refined in zip(part, self(images, logits)):
                    out[q, f, y * scale:(y + side) * scale, x * scale:(x + side) * scale] = refined
        return out


def _windows(positive: torch.Tensor) -> dict[int | None, list[tuple[int, int, int, int]]]:
    """Mask-frames with a positive logit, grouped by the side (in mask cells) of the square window that
    holds their positive cells with WINDOW_MARGIN cells to spare: {side: [(trajectory, frame, top,
    left)]}; side None (top and left 0) where no side of WINDOW_SIDES is enough, or the mask is smaller."""
    h, w = positive.shape[-2:]
    rows, cols = positive.any(-1), positive.any(-2)  # [N, T, h], [N, T, w]
    groups: dict[int | None, list] = {}
    for q, f in torch.nonzero(rows.any(-1)).tolist():
        r, c = torch.nonzero(rows[q, f]).flatten(), torch.nonzero(cols[q, f]).flatten()
        r0, r1, c0, c1 = int(r[0]), int(r[-1]), int(c[0]), int(c[-1])
        need = max(r1 - r0, c1 - c0) + 1 + 2 * WINDOW_MARGIN
        side = next((s for s in WINDOW_SIDES if need <= s <= min(h, w)), None)
        if side is None:
            groups.setdefault(None, []).append((q, f, 0, 0))
            continue
        top = min(max((r0 + r1 + 1) // 2 - side // 2, 0), h - side)
        left = min(max((c0 + c1 + 1) // 2 - side // 2, 0), w - side)
        groups.setdefault(side, []).append((q, f, top, left))
    return groups
