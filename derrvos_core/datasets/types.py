"""The one sample type every dataset reader yields."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass
class RVOSSample:
    """One referring expression over one video (T = 1 for image datasets such as RefCOCO).

    Attributes:
        dataset: reader name ("mevis", "refytvos", "davis", "refcoco", "longrvos", "synthref").
        video_id: video (or image) identifier in the dataset.
        expression_id: expression identifier, unique within the video.
        expression: the referring sentence.
        frame_names: T frame names (file stems), in order.
        load_frames: returns uint8 [T, H, W, 3] RGB frames when called (frames are read lazily).
        target_masks: bool [T, H, W]; the union of every target object's mask (all False: no target).
        object_ids: the target object ids (empty for a no-target expression).
        category: expression category where the dataset has one (SynthRef), else None.
        extra: anything else a reader keeps (annotator id, split, ...).
        load_object_masks: where a reader keeps target objects apart (MeViS layout), returns bool
            [K, T, H, W], one mask track per target object (K = 0 for no target), when called; None
            where only the union is known. Training labels use it: with the union alone, one of
            three target objects never overlaps "the three white shapes" enough to count as a match.
    """

    dataset: str
    video_id: str
    expression_id: str
    expression: str
    frame_names: Sequence[str]
    load_frames: Callable[[], np.ndarray]
    target_masks: np.ndarray
    object_ids: Sequence[int] = ()
    category: str | None = None
    extra: dict = field(default_factory=dict)
    load_object_masks: Callable[[], np.ndarray] | None = None

    @property
    def num_frames(self) -> int:
        return len(self.frame_names)
