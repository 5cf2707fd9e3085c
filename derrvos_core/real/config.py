"""Configuration of the `detector` trajectory branch (COCO detector + tracker + per-object masks)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from derrvos_core.errors import InputError

#: Where `scripts/convert_real_models.py` writes the converted parts by default.
DEFAULT_PARTS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models" / "derrvos-real"
#: The command that makes the model files; named in every missing-file error.
CONVERT_COMMAND = "python scripts/convert_real_models.py --out assets/models/derrvos-real"


@dataclass(frozen=True)
class TrackerConfig:
    """How per-frame detections are associated into trajectories (a ByteTrack-style two-stage match)."""

    #: Detections at or above this score are matched first and may start a new trajectory.
    high_score: float = 0.4
    #: Detections at or above this (but below `high_score`) only continue existing trajectories
    #: (ByteTrack's second stage: occluded objects score low but are still there).
    low_score: float = 0.2
    #: A detection starts a new trajectory only at or above this score.
    new_track_score: float = 0.45
    #: Frames a trajectory is kept without a matching detection before it ends (short occlusions and
    #: missed detections within this many frames keep the identity).
    max_age: int = 30
    #: Weight of the appearance similarity (colour statistics, see `features.py`) in the match score;
    #: the rest is motion (IoU with the predicted box, or nearness of centres for lost trajectories).
    appearance_weight: float = 0.35
    #: A pair is matched only when its motion similarity reaches this (appearance alone never links).
    min_motion: float = 0.05
    #: A pair is matched only when its combined similarity reaches this.
    min_similarity: float = 0.25
    #: Distance of box top centres, in box heights, at which the nearness term of the motion
    #: similarity is exp(-1) (used for identities missed on the previous frame).
    centre_scale: float = 0.6
    #: A detection matches an identity only if its height is within this factor of the identity's
    #: (partly hidden objects are shorter; fragments such as feet detected as skis are far shorter).
    min_height_ratio: float = 0.4
    #: A detection at least this fraction of the identity's height is a full view (it updates size,
    #: velocity and appearance); a shorter one is a partial view (position only).
    full_height: float = 0.8
    #: An unmatched detection whose box shares this fraction of the smaller area with an already matched
    #: box does not start an identity.
    duplicate_containment: float = 0.6
    #: Smoothing of the per-frame velocity estimate (0 = last displacement only, 1 = never updated).
    velocity_momentum: float = 0.7
    #: Smoothing of a trajectory's appearance and class statistics (exponential moving average).
    appearance_momentum: float = 0.8
    #: Gaps of missed detections up to this many frames, inside a crop, are filled: the box is
    #: interpolated and the nearest mask is moved into it (longer gaps stay empty: the object is hidden).
    fill_gaps: int = 4

    def __post_init__(self) -> None:
        if not 0.0 <= self.low_score <= self.high_score <= 1.0:
            raise InputError(f"tracker scores must satisfy 0 <= low_score <= high_score <= 1, got "
                             f"low_score={self.low_score}, high_score={self.high_score}")
        if self.max_age < 0 or self.fill_gaps < 0:
            raise InputError(f"max_age and fill_gaps must be >= 0, got {self.max_age}, {self.fill_gaps}")
        for name in ("appearance_weight", "velocity_momentum", "appearance_momentum", "min_motion",
                     "min_similarity", "min_height_ratio", "full_height", "duplicate_containment"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"tracker.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.min_height_ratio <= 0:
            raise InputError(f"tracker.min_height_ratio must be in (0, 1], got {self.min_height_ratio}")
        if self.centre_scale <= 0:
            raise InputError(f"tracker.centre_scale must be > 0, got {self.centre_scale}")


@dataclass(frozen=True)
class RealBranchConfig:
    """Everything the `detector` branch reads; saved as JSON beside the model's other parts."""

    #: Folder holding the detector's and the person segmenter's ONNX files (see its SOURCES.md); empty = the
    #: repository's `assets/models/derrvos-real`.
    parts_dir: str = ""
    #: Which COCO-80 detector: "nanodet" (NanoDet-g, Apache-2.0: the one that ships) or "centernet"
    #: (CenterNet-MobileNetV3: no upstream licence, for local comparison only).
    detector: str = "nanodet"
    #: Person segmentation file name inside `parts_dir`; empty = no person model (GrabCut for all).
    person_file: str = "selfie.onnx"
    #: onnxruntime intra-op threads for every part (the app's target machine has 2 cores).
    threads: int = 2
    #: Run the detector (and the masks) on video frames whose index is a multiple of this; frames
    #: between are filled from the detections on both sides (box interpolated, nearer mask moved into
    #: it). 1 = every frame.
    detector_stride: int = 1
    #: The person model and GrabCut run on video frames whose index is a multiple of this; on the
    #: others a trajectory's mask is its nearest segmented frame's, moved into the frame's own box
    #: (boxes and tracking still come from every detected frame). 1 = segment every frame.
    segment_every: int = 1
    #: Detections below this score are dropped before NMS (the tracker's `low_score` should not be lower).
    score_threshold: float = 0.2
    #: Same-class non-maximum suppression IoU.
    nms_iou: float = 0.6
    #: Detections of different classes overlapping at least this much are one object: the weaker is
    #: dropped and its class evidence merged into the stronger one's class distribution.
    cross_class_iou: float = 0.85
    #: Most detections kept per frame (best first) and most trajectories returned per crop.
    max_detections: int = 30
    top_k: int = 20
    #: Side of the box-relative square mask patch kept per detection (the cache holds these).
    patch_size: int = 48
    #: Masks are returned at 1/mask_stride of the video size (upsampled to the video size later).
    mask_stride: int = 4
    #: The crop around a box given to GrabCut is resized so its longer side is this many pixels.
    grabcut_size: int = 64
    #: GrabCut iterations per box (3 is OpenCV's usual; fewer is faster and coarser).
    grabcut_iterations: int = 2
    #: Margin around a person box, as a fraction of its longer side, given to the person segmenter.
    person_margin: float = 0.15
    #: People close together share one person-model call while the window's side stays within this
    #: many times the tallest box's height (1 = one call per person).
    person_window: float = 2.0
    #: Boxes shorter than this (video pixels) get the box's ellipse: the person model fails on them and at
    #: `mask_stride` 4 they are a few mask pixels tall.
    min_segment_height: int = 40
    #: People get the person model only at or above this score (else the box's ellipse).
    mask_min_score: float = 0.3
    #: Detections without a person mask get GrabCut only at or above this score (else the box's ellipse).
    grabcut_min_score: float = 0.4
    #: Side of the box-relative grid the colour statistics are computed on.
    colour_grid: int = 24
    #: A person mask covering less than this fraction of its box is not trusted (GrabCut is used).
    min_person_fill: float = 0.12
    #: A trajectory's presence factor reaches 1 once it is detected in this many frames of a crop.
    presence_frames: int = 3
    #: Trajectory association.
    tracker: TrackerConfig = field(default_factory=TrackerConfig)

    def __post_init__(self) -> None:
        if self.segment_every < 1:
            raise InputError(f"segment_every must be >= 1, got {self.segment_every}")
        if self.threads < 1 or self.detector_stride < 1 or self.mask_stride < 1:
            raise InputError(f"threads, detector_stride and mask_stride must be >= 1, got {self.threads}, "
                             f"{self.detector_stride}, {self.mask_stride}")
        if self.detector not in ("nanodet", "centernet"):
            raise InputError(f"detector must be 'nanodet' or 'centernet', got {self.detector!r}")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise InputError(f"score_threshold must be in [0, 1], got {self.score_threshold}")
        if not 0.0 < self.nms_iou <= 1.0 or not 0.0 < self.cross_class_iou <= 1.0:
            raise InputError(f"nms_iou and cross_class_iou must be in (0, 1], got {self.nms_iou}, "
                             f"{self.cross_class_iou}")
        if self.max_detections < 1 or self.top_k < 1 or self.presence_frames < 1:
            raise InputError(f"max_detections, top_k and presence_frames must be >= 1, got "
                             f"{self.max_detections}, {self.top_k}, {self.presence_frames}")
        if self.person_window < 1:
            raise InputError(f"person_window must be >= 1, got {self.person_window}")
        if self.patch_size < 8 or self.grabcut_size < 16 or self.grabcut_iterations < 1:
            raise InputError(f"patch_size >= 8, grabcut_size >= 16 and grabcut_iterations >= 1 needed, got "
                             f"{self.patch_size}, {self.grabcut_size}, {self.grabcut_iterations}")

    @property
    def parts_path(self) -> Path:
        return Path(self.parts_dir) if self.parts_dir else DEFAULT_PARTS_DIR

    @property
    def detector_path(self) -> Path:
        return self.parts_path / f"{self.detector}.onnx"

    @property
    def person_path(self) -> Path | None:
        return self.parts_path / self.person_file if self.person_file else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RealBranchConfig:
        data = dict(data)
        tracker = TrackerConfig(**data.pop("tracker", {}))
        return cls(tracker=tracker, **data)
