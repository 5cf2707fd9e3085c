"""Instance clips for the trajectory-branch stages: frames plus every object's mask per frame."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .attributes import ATTRIBUTES
from .clips import resize_frames, resize_masks, sample_clip
from .instances import VideoTracks


@dataclass
class InstanceClip:
    """T frames of one video with all its objects.

    Attributes:
        frames: float [T, 3, S, S] RGB in 0..255 (S = image size).
        masks: bool [O, T, S, S]; object o's mask in each frame (all False where it is not visible).
        class_ids: long [O].
        object_ids: long [O]; identity of each object within its video (for re-id / video matching).
        video_id: the source video.
        frame_index: long [T]; frame numbers in the source video.
        attribute_ids: long [O, len(attributes.ATTRIBUTES)]; -1 where the dataset does not say.
    """

    frames: torch.Tensor
    masks: torch.Tensor
    class_ids: torch.Tensor
    object_ids: torch.Tensor
    video_id: str
    frame_index: torch.Tensor
    attribute_ids: torch.Tensor


class InstanceClipDataset:
    """Map-style dataset over videos, indexed by (index, seed) keys from ResumableSampler.

    Args:
        videos: object tracks of each video.
        clip_length: T frames per clip.
        image_size: frames and masks are resized to this square side.
        sampling: "random" (T distinct frames anywhere, in order) or "window" (T frames at a random
            stride in 1..max_stride starting at a random frame, like DVIS++'s SAMPLING_FRAME_RANGE).
        max_stride: largest frame stride for "window".
        flip_prob: horizontal flip probability.
        reverse_prob: probability of playing the clip backwards (DVIS++ refiner REVERSE_AGU).
    """

    def __init__(self, videos: list[VideoTracks], clip_length: int, image_size: int, sampling: str = "random",
                 max_stride: int = 1, flip_prob: float = 0.5, reverse_prob: float = 0.0):
        if sampling not in ("random", "window"):
            raise ValueError(f"sampling must be 'random' or 'window', got {sampling!r}")
        self.videos = [v for v in videos if v.anno_ids]
        self.clip_length = clip_length
        self.image_size = image_size
        self.sampling = sampling
        self.max_stride = max_stride
        self.flip_prob = flip_prob
        self.reverse_prob = reverse_prob

    def __len__(self) -> int:
        return len(self.videos)

    def _indices(self, video: VideoTracks, rng: np.random.Generator) -> np.ndarray:
        n, t = video.num_frames, self.clip_length
        present = video.visible().any(axis=0)
        if self.sampling == "random":
            return sample_clip(n, t, rng, present)
        stride = int(rng.integers(1, self.max_stride + 1))
        while stride > 1 and (t - 1) * stride >= n:
            stride -= 1
        span = (t - 1) * stride
        start = int(rng.integers(0, max(n - span, 1)))
        return np.minimum(start + stride * np.arange(t), n - 1)

    def __getitem__(self, key) -> InstanceClip:
        index, seed = key
        rng = np.random.default_rng(seed)
        video = self.videos[index]
        idx = self._indices(video, rng)
        if rng.random() < self.reverse_prob:
            idx = idx[::-1].copy()
        raw = video.load_frames(idx)
        frames = resize_frames(raw, self.image_size)
        masks = resize_masks(video.load_masks(idx, raw.shape[1], raw.shape[2]), self.image_size)
        if rng.random() < self.flip_prob:
            frames, masks = frames.flip(-1), masks.flip(-1)
        return InstanceClip(frames=frames, masks=masks, class_ids=torch.tensor(video.class_ids, dtype=torch.long),
                            object_ids=torch.arange(len(video.anno_ids)), video_id=video.video_id,
                            frame_index=torch.as_tensor(idx, dtype=torch.long),
                            attribute_ids=_attribute_ids(video))


def _attribute_ids(video: VideoTracks) -> torch.Tensor:
    if not video.attribute_ids:
        return torch.full((len(video.anno_ids), len(ATTRIBUTES)), -1, dtype=torch.long)
    return torch.tensor(video.attribute_ids, dtype=torch.long).reshape(len(video.anno_ids), len(ATTRIBUTES))
