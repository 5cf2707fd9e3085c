"""Pick by click on the viewer's frame: select or deselect the object under the pointer for the whole
video, or make a new object from positive and negative clicks where no trajectory covers it.

A pick is one action in the store (`Editor.add_group`): accepting or rejecting every trajectory of the
object, so one Undo takes it back. The clicks of a new object are a `ClickDraft` the page keeps between
clicks (a `gr.State`); nothing is stored until Accept object, which stores one DRAW with a fresh
user-made object id on the clicks' frame.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import numpy as np

from app.editor import Editor, require_run, require_video
from app.render import OverlayStyle
from app.session import StudioSession
from app.sessions import SessionRegistry
from app.views import ClickMarks, PageViews, ViewerView
from derrvos_core.annotation import mask_from_clicks, object_at
from derrvos_core.errors import InputError
from derrvos_core.store import CorrectionItem, CorrectionKind, CorrectionRecord

NEAR_PX = 2.0
"""A click this close (video pixels) to an object's edge still picks it."""


class ClickMode(str, Enum):
    """What a click on the frame does."""

    PICK = "pick / unpick"
    POSITIVE = "new object: +"
    NEGATIVE = "new object: −"


@dataclass(frozen=True)
class ClickDraft:
    """The clicks of a new object not yet accepted, as the page keeps them between clicks.

    Attributes:
        video_id, run_id: the store's video and run they were made on (a draft of another run is void).
        marks: the clicks, their frame and the mask they make so far.
    """

    video_id: int
    run_id: int
    marks: ClickMarks


@dataclass(frozen=True)
class PickOutcome:
    """What a pick did.

    Attributes:
        object_id: the object under the click.
        selected: whether it is in the answer now.
        trajectory_ids: its trajectories, each accepted or rejected by the pick.
        records: the stored corrections (one action).
    """

    object_id: int
    selected: bool
    trajectory_ids: tuple[int, ...]
    records: tuple[CorrectionRecord, ...]


class Picker:
    """The viewer's side of the service: its view with style and clicks, picks, and new objects."""

    def __init__(self, sessions: SessionRegistry, editor: Editor, views: PageViews):
        self.sessions = sessions
        self.editor = editor
        self.views = views

    def viewer_view(self, session_id: str, index: int, style: OverlayStyle = OverlayStyle(),
                    draft: ClickDraft | None = None) -> ViewerView:
        """The viewer at frame `index` in `style`, with `draft`'s clicks when they belong to the run."""
        session = self.sessions.get(session_id)
        marks = draft.marks if draft is not None and self._current(session, draft) else None
        return self.views.viewer(session, index, style, marks)

    def video_point(self, session_id: str, x: float, y: float) -> tuple[int, int]:
        """A click at display pixel (x, y) of the viewer's image as (x, y) in video pixels."""
        session = self.sessions.get(session_id)
        info = require_video(session).info
        scale = self.views.scale(session)
        return (int(np.clip(int(x) // scale, 0, info.width - 1)),
                int(np.clip(int(y) // scale, 0, info.height - 1)))

    def object_masks(self, session: StudioSession, index: int) -> dict[int, np.ndarray]:
        """object id -> bool [H, W] at frame `index`: the union of its trajectories' masks, selected or
        not (objects with no pixel there are left out)."""
        run = require_run(session)
        result = run.result
        masks: dict[int, np.ndarray] = {}
        for t in result.trajectories:
            if t.frame_start <= index < t.frame_end and t.rles[index - t.frame_start] is not None:
                obj = run.plan.object_of(t.trajectory_id)
                mask = t.mask(index, result.height, result.width)
                masks[obj] = masks[obj] | mask if obj in masks else mask
        return masks

    def pick(self, session_id: str, index: int, x: int, y: int, user: str | None = None) -> PickOutcome:
        """Select (accept all its trajectories) or deselect (reject them) the object under video pixel
        (x, y) of frame `index`, for the whole video, as one action."""
        session = self.sessions.get(session_id)
        run = require_run(session)
        index = int(np.clip(index, 0, run.result.num_frames - 1))
        object_id = object_at(self.object_masks(session, index), x, y, near_px=NEAR_PX)
        if object_id is None:
            raise InputError(f"no object of the model lies under the click at ({x}, {y}) on frame {index}: "
                             "click inside a coloured or outlined object, or switch the click mode to "
                             "\"new object: +\" to make one")
        members = tuple(sorted(t.trajectory_id for t in run.result.trajectories
                               if run.plan.object_of(t.trajectory_id) == object_id))
        selecting = not any(tid in run.plan.selected for tid in members)
        kind = CorrectionKind.ACCEPT if selecting else CorrectionKind.REJECT
        # An accepted trajectory keeps the object it was put into (an ACCEPT without one would undo that).
        items = [CorrectionItem(kind=kind, trajectory_id=tid,
                                object_id=run.plan.assigned.get(tid) if selecting else None)
                 for tid in members]
        records = self.editor.add_group(session, items, user)
        return PickOutcome(object_id, selecting, members, tuple(records))

    def click(self, session_id: str, draft: ClickDraft | None, index: int, x: int, y: int,
              positive: bool) -> ClickDraft:
        """Add a click at video pixel (x, y) of frame `index` to the new object's clicks (a draft of another
        frame or run starts over) and remake its mask (`mask_from_clicks`; the proposals are the run's
        objects on that frame, selected or not)."""
        session = self.sessions.get(session_id)
        run = require_run(session)
        index = int(np.clip(index, 0, run.result.num_frames - 1))
        if draft is None or not self._current(session, draft) or draft.marks.frame != index:
            draft = ClickDraft(session.video.record.id, run.run_id, ClickMarks(index, (), (), None))
        marks = draft.marks
        point = (int(x), int(y))
        positives = marks.positives + ((point,) if positive else ())
        negatives = marks.negatives + (() if positive else (point,))
        proposal = None
        if positives:
            made = mask_from_clicks(self.views.videos.frame(session, index), positives, negatives,
                                    proposals=self.object_masks(session, index))
            proposal = made.mask
        return replace(draft, marks=ClickMarks(index, positives, negatives, proposal))

    def accept_object(self, session_id: str, draft: ClickDraft | None,
                      user: str | None = None) -> tuple[int, CorrectionRecord]:
        """Store the draft's mask as a new user-made object on its frame (one DRAW, one action): the
        object's id and the stored correction."""
        session = self.sessions.get(session_id)
        run = require_run(session)
        if draft is None or draft.marks.proposal is None or not draft.marks.proposal.any():
            raise InputError("no new object to accept: set the click mode to \"new object: +\" and click "
                             "on the object in the frame first")
        if not self._current(session, draft):
            raise InputError("the clicks were made on an earlier run or video: nothing was saved. Click "
                             "the object again")
        object_id = self.editor.store.new_object_id(run.run_id)
        (record,) = self.editor.add_group(session, [CorrectionItem(
            kind=CorrectionKind.DRAW, frame=draft.marks.frame, mask=draft.marks.proposal,
            object_id=object_id)], user)
        return object_id, record

    @staticmethod
    def _current(session: StudioSession, draft: ClickDraft) -> bool:
        return (session.video is not None and session.run is not None
                and draft.video_id == session.video.record.id and draft.run_id == session.run.run_id)
