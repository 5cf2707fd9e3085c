"""Per-browser-session state of the studio: typed, owned by `StudioService`, never by the UI."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from derrvos_core.result import SegmentationResult
from derrvos_core.store import CorrectionRecord, VideoRecord
from derrvos_core.store.corrections import AnswerPlan
from derrvos_core.video import VideoInfo, VideoReader


@dataclass(frozen=True)
class ResultKey:
    """What a model result depends on: the same key gives the same trajectories and scores.

    The threshold is not part of it: a new threshold is a re-selection of the cached scores.
    """

    video_hash: str
    expression: str
    crop_size: int
    model_version: str
    link_crops: bool = False


@dataclass(frozen=True)
class LoadedVideo:
    """The video a session works on.

    Attributes:
        record: the store's row (its content hash keys every cache).
        info: fps, length, size and container format as read by `derrvos_core.video.probe`.
        path: where the studio keeps the file (uploads are copied under `data_dir`).
        name: what the page calls it (the uploaded file name or the example's title).
        file_name: the file's own name as uploaded (names exports and mask zips).
        suggested_expressions: example videos ship with a few expressions to try.
    """

    record: VideoRecord
    info: VideoInfo
    path: Path
    name: str
    file_name: str
    suggested_expressions: tuple[str, ...] = ()


@dataclass
class CurrentRun:
    """The run a session shows and corrects.

    Attributes:
        run_id: the run in the store; corrections are written against it.
        key: what its result depends on (video, expression, crop size, linking, the model's version).
        result: the model's answer as stored (trajectories, scores, the selection at the run's threshold).
        corrections: the run's stored corrections, in order, `active` marked (any session's).
        plan: `result` with those corrections replayed (what the viewer and exports show).
    """

    run_id: int
    key: ResultKey
    result: SegmentationResult
    corrections: list[CorrectionRecord]
    plan: AnswerPlan

    @property
    def threshold(self) -> float:
        """The threshold in force (the run's, or the latest threshold correction): the plan's."""
        return self.plan.threshold


@dataclass(frozen=True)
class UnsavedRun:
    """A model result the store refused to save (a full disk, a lost connection): kept in the session
    so that saving again needs no model call.

    Attributes:
        key: what the result depends on; result: the model's answer; seconds: how long the model took.
        user: who ran it (the run is theirs once saved); reason: the store's message, shown in the page.
    """

    key: ResultKey
    result: SegmentationResult
    seconds: float
    user: str
    reason: str


@dataclass
class StudioSession:
    """One browser tab (or one API call).

    Attributes:
        session_id: Gradio's session hash (or an API call's own id).
        model_key: the picked model (a `ModelShelf` key); runs of this tab use it.
        video: the loaded video, None until one is loaded.
        run: the run on screen, None until a run finishes or one is reloaded.
        unsaved: the last result the store refused to save (None once saved, or when another video or
            model is picked).
        undo_stack: ids of this session's corrections on `run`, newest last; Undo takes back the last
            (another annotator's corrections on the same run are not touched).
        cancel: set by Cancel; the run checks it between crops, and before a finished or cached result
            is stored.
        running: a run of this session was asked for and has not ended (`StudioService.segment`; it may
            not have reached the model yet): Cancel applies to it.
        reader: the open decoder of `video` (kept so that scrubbing forward continues decoding).
        reader_lock: a decoder is not thread-safe; two events of one tab may read at once.
        last_used: monotonic time of the last call, to drop idle sessions.
        viewer_frame: the frame the user last moved the viewer to (scrub, step, play, timeline), None
            until then and after another video: a redraw that an earlier event queued reads this rather
            than the frame it was sent, so it cannot put back a frame the user has left.
    """

    session_id: str
    model_key: str
    video: LoadedVideo | None = None
    run: CurrentRun | None = None
    unsaved: UnsavedRun | None = None
    undo_stack: list[int] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    running: bool = False
    reader: VideoReader | None = None
    reader_lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)
    viewer_frame: int | None = None
