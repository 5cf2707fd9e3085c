"""What the panels render, as frozen values the service hands them: the panels never read session state.

Each view says everything its panel shows after an event; `None`/empty fields mean "nothing loaded yet".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.editor import decisions, require_video
from app.object_table import ObjectRow, object_rows
from app.render import AnswerSummary, OverlayStyle, TrajectoryRow, answer_summary, display_scale, \
    draw_clicks, frame_overlay, trajectory_rows, upscale
from app.timeline import Timeline, presence, timeline
from app.session import CurrentRun, StudioSession
from app.videos import VideoLibrary
from derrvos_core.store.corrections import AnswerPlan, fixes_in_force


@dataclass(frozen=True)
class RunSummary:
    """The run on screen in a few numbers (status lines, the settings panel after a reload).

    Attributes:
        run_id: the stored run; expression, crop_size, link_crops: what it answered and how.
        threshold: the threshold in force; num_selected of num_trajectories trajectories are selected.
        num_frames: the video's length; num_fixes: mask and selection corrections in force on the run
            (any session's; `fixes_in_force`, the history table's count); model_version: the model that ran it; warnings: what the model warned about.
    """

    run_id: int
    expression: str
    crop_size: int
    link_crops: bool
    threshold: float
    num_selected: int
    num_trajectories: int
    num_frames: int
    num_fixes: int
    model_version: str
    warnings: tuple[str, ...]


def run_summary(run: CurrentRun) -> RunSummary:
    result = run.result
    return RunSummary(run_id=run.run_id, expression=run.key.expression, crop_size=run.key.crop_size,
                      link_crops=run.key.link_crops, threshold=run.threshold,
                      num_selected=len(run.plan.selected),
                      num_trajectories=len(result.trajectories), num_frames=result.num_frames,
                      num_fixes=fixes_in_force(run.corrections), model_version=run.key.model_version,
                      warnings=tuple(str(w) for w in result.warnings))


@dataclass(frozen=True)
class ClickMarks:
    """Clicks of a new object drawn over the overlay: where they are and the mask they make so far.

    Attributes:
        frame: the frame they were made on (they show there only).
        positives, negatives: (x, y) clicks in video pixels.
        proposal: bool [H, W] at the video's size, the mask they make (None: none yet).
    """

    frame: int
    positives: tuple[tuple[int, int], ...]
    negatives: tuple[tuple[int, int], ...]
    proposal: np.ndarray | None


@dataclass(frozen=True)
class ViewerView:
    """The viewer after an event.

    Attributes:
        num_frames: frames of the video on screen (0: none loaded); index: the frame shown (clipped).
        image: uint8 [H', W', 3], the frame with the answer overlaid, upscaled for display (None: no video).
        answer: what the answer is (None before a run); rows: the trajectory table, best score first.
        objects: the objects table, best score first then the user-made objects.
        timeline: the strip of object presence and weak frames (None before a run).
        first_frame: the first frame where a selected object is present (0 when none is).
        scale: the display upscale factor of `image` (a click at display (x, y) is video (x, y) // scale).
    """

    num_frames: int
    index: int
    image: np.ndarray | None
    answer: AnswerSummary | None
    rows: tuple[TrajectoryRow, ...]
    objects: tuple[ObjectRow, ...] = ()
    timeline: Timeline | None = None
    first_frame: int = 0
    scale: int = 1


@dataclass(frozen=True)
class TrajectoryChoice:
    """A trajectory on the frame being corrected, as the picker lists it."""

    trajectory_id: int
    score: float
    selected: bool


@dataclass(frozen=True)
class CorrectionView:
    """The correction panel after an event.

    Attributes:
        num_frames: frames of the video (0: none loaded); index: the frame being corrected (clipped).
        has_run: a run is on screen (corrections apply to it).
        background: the frame with the answer overlaid, as the editor shows it (None: no video).
        choices: trajectories whose crop covers `index` and whose mask is not empty everywhere, best first.
    """

    num_frames: int
    index: int
    has_run: bool
    background: np.ndarray | None
    choices: tuple[TrajectoryChoice, ...]


def trajectory_choices(run: CurrentRun | None, rows: list[TrajectoryRow],
                       index: int) -> tuple[TrajectoryChoice, ...]:
    """The rows of trajectories whose crop covers frame `index` (their mask may be empty there)."""
    if run is None:
        return ()
    spans = {t.trajectory_id: (t.frame_start, t.frame_end) for t in run.result.trajectories}
    return tuple(TrajectoryChoice(r.trajectory_id, r.score, r.selected) for r in rows
                 if r.frames_present and spans[r.trajectory_id][0] <= index < spans[r.trajectory_id][1])


def first_present_frame(plan: AnswerPlan) -> int:
    """The first frame where a selected object of the answer is present (0 when none is)."""
    firsts = [int(np.argmax(row)) for row in presence(plan).values() if row.any()]
    return min(firsts, default=0)


class PageViews:
    """Makes the views of a session: frames come from `videos`, small videos are upscaled to about
    `display_size` pixels on their long side."""

    def __init__(self, videos: VideoLibrary, display_size: int):
        self.videos = videos
        self.display_size = display_size

    def image(self, session: StudioSession, index: int, style: OverlayStyle = OverlayStyle(),
              clicks: ClickMarks | None = None) -> np.ndarray:
        """uint8 image of frame `index` with the corrected answer overlaid in `style`, upscaled for
        display, with `clicks` drawn when they were made on this frame."""
        info = require_video(session).info
        index = int(np.clip(index, 0, info.num_frames - 1))
        frame = self.videos.frame(session, index)
        if session.run is not None:
            frame = frame_overlay(frame, session.run.plan, index, style)
        image = upscale(frame, self.scale(session))
        if clicks is not None and clicks.frame == index:
            image = draw_clicks(image, self.scale(session), clicks.proposal, clicks.positives,
                                clicks.negatives)
        return image

    def scale(self, session: StudioSession) -> int:
        info = require_video(session).info
        return display_scale(info.height, info.width, self.display_size)

    @staticmethod
    def rows(session: StudioSession) -> list[TrajectoryRow]:
        run = session.run
        return [] if run is None else trajectory_rows(run.plan, decisions(run))

    @staticmethod
    def answer(session: StudioSession) -> AnswerSummary | None:
        return None if session.run is None else answer_summary(session.run.plan)

    def viewer(self, session: StudioSession, index: int, style: OverlayStyle = OverlayStyle(),
               clicks: ClickMarks | None = None) -> ViewerView:
        if session.video is None:
            return ViewerView(0, 0, None, None, ())
        index = int(np.clip(index, 0, session.video.info.num_frames - 1))
        run = session.run
        objects = () if run is None else tuple(object_rows(run.plan, decisions(run)))
        strip = None if run is None else timeline(run.plan, index)
        return ViewerView(session.video.info.num_frames, index, self.image(session, index, style, clicks),
                          self.answer(session), tuple(self.rows(session)), objects, strip,
                          first_frame=0 if run is None else first_present_frame(run.plan),
                          scale=self.scale(session))

    def correction(self, session: StudioSession, index: int) -> CorrectionView:
        if session.video is None:
            return CorrectionView(0, 0, False, None, ())
        index = int(np.clip(index, 0, session.video.info.num_frames - 1))
        choices = trajectory_choices(session.run, self.rows(session), index)
        return CorrectionView(session.video.info.num_frames, index, session.run is not None,
                              self.image(session, index), choices)


@dataclass(frozen=True)
class RunOutcome:
    """What `segment` (or `save_unsaved`) did.

    Attributes:
        run: the run now on screen (None when cancelled or not saved).
        cached: the result came from the cache (no model call).
        cancelled: Cancel stopped the run; nothing was stored.
        seconds: wall time of the call.
        summary: `run` in a few numbers for the page (None with `run`).
    """

    run: CurrentRun | None
    cached: bool
    cancelled: bool
    seconds: float

    @property
    def summary(self) -> RunSummary | None:
        return None if self.run is None else run_summary(self.run)
