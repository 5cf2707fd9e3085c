"""What a video reader accepts (pixels a frame, frames) and the size of the frames it hands out."""
from __future__ import annotations

from dataclasses import dataclass

from derrvos_core.errors import InputError, VideoError
from derrvos_core.validation import DEFAULT_MAX_PIXELS

#: Frames a reader accepts by default (over 9 hours at 30 fps). A container may promise any count in a
#: few bytes; per-frame lists (names, RLEs) are sized from it.
DEFAULT_MAX_FRAMES = 1_000_000


@dataclass(frozen=True)
class FrameLimits:
    """What a reader accepts and what it hands out; the caller sizes it (the app, the CLI, inference)."""

    #: Most pixels (width x height) per frame; a larger video is refused with a VideoError naming the
    #: file and its size when it is opened. None: no budget (only for trusted files).
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    #: Longest side of the frames handed out: larger frames are downscaled while decoding, aspect kept.
    #: None: the video's own size.
    max_side: int | None = None
    #: Most frames; a longer video (as its container declares it) is refused. None: no limit.
    max_frames: int | None = DEFAULT_MAX_FRAMES

    def __post_init__(self) -> None:
        for name, value in (("max_pixels", self.max_pixels), ("max_side", self.max_side),
                            ("max_frames", self.max_frames)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"FrameLimits.{name} must be a whole number >= 1 or None, got {value!r}")

    def frame_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the frames handed out for a video of height x width."""
        longest = max(height, width)
        if self.max_side is None or longest <= self.max_side:
            return height, width
        scale = self.max_side / longest
        return max(1, round(height * scale)), max(1, round(width * scale))

    def check(self, label: str, height: int, width: int, num_frames: int | None = None) -> None:
        """VideoError naming `label` when a height x width video (of num_frames) is over the limits."""
        if self.max_pixels is not None and height * width > self.max_pixels:
            raise VideoError(
                f"{label}: the video is {width}x{height} ({height * width / 1e6:.1f} megapixels a frame); "
                f"at most {self.max_pixels / 1e6:.1f} megapixels are accepted "
                f"({_budget_example(self.max_pixels)}). Downscale it first, e.g. "
                f"ffmpeg -i INPUT -vf scale=-2:1080 OUTPUT.mp4")
        if self.max_frames is not None and num_frames is not None and num_frames > self.max_frames:
            raise VideoError(f"{label}: the video declares {num_frames} frames; at most {self.max_frames} "
                             f"are accepted. Cut it into parts first")


def _budget_example(max_pixels: int) -> str:
    return "3840x2160" if max_pixels == DEFAULT_MAX_PIXELS else f"max_pixels={max_pixels}"
