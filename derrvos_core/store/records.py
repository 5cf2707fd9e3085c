"""What the store hands out: frozen records, detached from any database session."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np


class CorrectionKind(str, enum.Enum):
    """What a human did to a run's answer. Replayed in order over the model's selection."""

    ACCEPT = "accept"  # the trajectory belongs to the answer, whatever its score
    REJECT = "reject"  # the trajectory does not belong to the answer
    THRESHOLD = "threshold"  # the user re-selected at another confidence threshold
    DRAW = "draw"  # add the stroke's pixels to one frame's answer
    ERASE = "erase"  # remove the stroke's pixels from one frame's answer
    SET = "set"  # replace one frame's answer with the given mask
    UNDO = "undo"  # take back another correction (an undone undo is a redo)


@dataclass(frozen=True)
class RunContext:
    """Where a run happened, beyond its settings (which its `SegmentationResult` carries).

    Attributes:
        device: where the model ran ("cpu", "cuda:0").
        model_name: model name; empty = the model's version string.
    """

    device: str = "cpu"
    model_name: str = ""


@dataclass(frozen=True)
class VideoRecord:
    """A video known to the store, identified by the sha256 of its bytes (or of a frame folder's files)."""

    id: int
    content_hash: str
    path: str
    fps: float
    num_frames: int
    height: int
    width: int
    frame_names: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class ExpressionRecord:
    id: int
    video_id: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """One model run of one (video, expression). `timings` are seconds per stage."""

    id: int
    video_id: int
    expression_id: int
    expression: str
    model_name: str
    model_version: str
    model_version_id: int | None
    crop_size: int
    threshold: float
    at_least_one: bool
    link_crops: bool
    device: str
    num_frames: int
    height: int
    width: int
    timings: dict = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass(frozen=True)
class CorrectionRecord:
    """One stored correction. Fields that do not apply to its kind are None.

    Attributes:
        trajectory_id: ACCEPT / REJECT: the run's trajectory (TrajectoryResult.trajectory_id).
        frame: DRAW / ERASE / SET: the video frame.
        rle: DRAW / ERASE: the stroke; SET: the new mask (COCO RLE dicts).
        result_rle: DRAW / ERASE / SET: the frame's whole answer right after this correction.
        threshold: THRESHOLD: the new confidence threshold.
        target_id: UNDO: the correction taken back.
        object_id: DRAW / ERASE / SET: the object whose mask it edits; ACCEPT: the object the trajectory
            joins. None = the union (pixel kinds) or the trajectory's own object (ACCEPT); see
            `derrvos_core.objects` for the id ranges.
        source_frame: a propagated edit: the frame it was carried from; else None.
        propagated: made by propagating another frame's mask (not drawn on this frame by hand).
        group_id: corrections added together in one action (`Store.add_corrections`) share it (the id of
            the group's first correction); an undo of any of them takes back the whole group.
        active: False when an (active) undo has taken it back.
    """

    id: int
    run_id: int
    kind: CorrectionKind
    user: str
    created_at: datetime
    trajectory_id: int | None = None
    frame: int | None = None
    rle: dict | None = None
    result_rle: dict | None = None
    threshold: float | None = None
    target_id: int | None = None
    object_id: int | None = None
    source_frame: int | None = None
    propagated: bool = False
    group_id: int | None = None
    active: bool = True


@dataclass(frozen=True)
class CorrectionItem:
    """One correction of an action that adds several at once (`Store.add_corrections`): the arguments of
    `Store.add_correction` as a value. Fields that do not apply to `kind` stay None.

    Attributes:
        kind: any kind but UNDO (undo takes back a whole group by any of its members).
        trajectory_id: ACCEPT / REJECT.
        frame: DRAW / ERASE / SET.
        mask: DRAW / ERASE / SET: bool [H, W] or a COCO RLE dict.
        threshold: THRESHOLD.
        object_id, source_frame, propagated: as on `CorrectionRecord`.
    """

    kind: CorrectionKind | str
    trajectory_id: int | None = None
    frame: int | None = None
    mask: np.ndarray | dict | None = None
    threshold: float | None = None
    object_id: int | None = None
    source_frame: int | None = None
    propagated: bool = False


@dataclass(frozen=True)
class ModelVersionRecord:
    """A registered model: where its checkpoint is and the report that justified it (`metrics`)."""

    id: int
    name: str
    version: str
    path: str
    metrics: dict
    base_version: str | None
    created_at: datetime


@dataclass(frozen=True)
class ExportRecord:
    id: int
    format: str
    out_path: str
    video_ids: tuple[int, ...]
    run_ids: tuple[int, ...]
    num_expressions: int
    num_frames: int
    num_corrected_frames: int
    created_at: datetime


@dataclass(frozen=True)
class FrameAnswer:
    """The answer of one run at one frame after corrections.

    Attributes:
        frame: video frame index.
        mask: bool [H, W].
        corrected: a human decision bears on this frame (accept/reject of a trajectory present in its
            crop, a threshold change, or a pixel edit); False = the model's answer as it was.
        edited: pixels were drawn, erased or set on this very frame.
    """

    frame: int
    mask: np.ndarray
    corrected: bool
    edited: bool


@dataclass(frozen=True)
class FinalMasks:
    """Every frame's corrected answer of one run.

    Attributes:
        run_id: the run.
        masks: bool [T, H, W].
        corrected: bool [T], see `FrameAnswer.corrected`.
        edited: bool [T], see `FrameAnswer.edited`.
    """

    run_id: int
    masks: np.ndarray
    corrected: np.ndarray
    edited: np.ndarray


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment
