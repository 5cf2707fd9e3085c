"""Fix one frame, propagate: paint an object on frame t, carry its corrected mask to frame N with
`derrvos_core.annotation.propagate_mask`, look at the proposals, and accept them in one action (one Undo
takes them all back) or discard them.

Proposals wait per session, for the run they were made on: another run or video on screen makes them
stale (Accept refuses, the editor stops outlining them). No guide is passed to `propagate_mask`: the
module's tuning found the warp alone as good as a coarse model mask (see `PropagationSettings.snap_iou`).
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from app.editor import EditTarget, Editor, edit_target, require_run, target_frame
from app.sessions import SessionRegistry
from app.session import StudioSession
from app.videos import VideoLibrary
from derrvos_core.annotation import PropagationSummary, Proposal, StopReason, propagate_mask
from derrvos_core.errors import InputError
from derrvos_core.objects import object_label
from derrvos_core.store import CorrectionItem, CorrectionKind, CorrectionRecord, Store

NEW_OBJECT = "new"
"""The object choice that makes a new user-made object with the first stroke."""
DEFAULT_SPAN = 30
"""Frames the end frame control starts ahead of the corrected frame (clipped to the video)."""


@dataclass(frozen=True)
class ObjectChoice:
    """An object of the answer on a frame, as the correction panel lists it.

    Attributes:
        object_id: its id in the answer (`derrvos_core.objects`); pixels: its mask's area on the frame.
        user_made: made by a person rather than by the model; trajectory_ids: the trajectories making it.
    """

    object_id: int
    pixels: int
    user_made: bool
    trajectory_ids: tuple[int, ...]

    @property
    def label(self) -> str:
        what = "drawn object" if self.user_made or not self.trajectory_ids else \
            "trajector" + ("y #" if len(self.trajectory_ids) == 1 else "ies #") + \
            ", #".join(str(t) for t in self.trajectory_ids)
        return f"object {object_label(self.object_id)} · {what} · {self.pixels} px"


@dataclass(frozen=True)
class PropagationStep:
    """Progress of a propagation: `done` of `total` frames, the last one `frame` at `confidence`."""

    done: int
    total: int
    frame: int
    confidence: float


@dataclass(frozen=True)
class PropagationView:
    """What a finished (or cancelled) propagation proposes.

    Attributes:
        object_id: the object carried; source_frame: the corrected frame; end_frame: where it was asked to go.
        frames: the proposed frames in propagation order; stopped_at: the first frame not proposed (None:
            it reached `end_frame`); reason: why it stopped; cancelled: Cancel stopped it.
    """

    object_id: int
    source_frame: int
    end_frame: int
    frames: tuple[int, ...]
    stopped_at: int | None
    reason: StopReason | None
    cancelled: bool

    @property
    def line(self) -> str:
        """One status line: "12 frames proposed, stopped at frame 53: low confidence"."""
        count = f"{len(self.frames)} frame{'s' if len(self.frames) != 1 else ''} proposed"
        if self.cancelled:
            return f"{count}, cancelled before frame {self.stopped_at}" if self.stopped_at is not None \
                else f"{count}, cancelled"
        if self.stopped_at is None or self.reason is StopReason.END:
            return f"{count}, frames {self.source_frame}→{self.end_frame} reached"
        why = {StopReason.LOW_CONFIDENCE: "low confidence", StopReason.LOST: "the object was lost"}
        return f"{count}, stopped at frame {self.stopped_at}: {why.get(self.reason, self.reason.value)}"


@dataclass
class _Pending:
    """Proposals waiting for Accept or Discard (one per session)."""

    run_id: int
    view: PropagationView
    masks: dict[int, np.ndarray]


class Propagation:
    """Painting per object, propagating, accepting and discarding, for the sessions of `sessions`.

    Args:
        sessions: the studio's sessions (by tab id); videos: frames from the shared cache.
        editor: writes corrections (and keeps the tab's undo stack); store: new object ids.
    """

    def __init__(self, sessions: SessionRegistry, videos: VideoLibrary, editor: Editor, store: Store):
        self._sessions = sessions
        self._videos = videos
        self._editor = editor
        self._store = store
        self._pending: dict[str, _Pending] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    # -- one frame ------------------------------------------------------------------------------
    def target(self, session_id: str, frame: int) -> EditTarget:
        """What the editor shows when it shows frame `frame`: kept with its content, given back to `paint`."""
        return edit_target(self._sessions.get(session_id), frame)

    def objects(self, session_id: str, frame: int) -> tuple[ObjectChoice, ...]:
        """The answer's objects with pixels on `frame` (() before a run)."""
        session = self._sessions.get(session_id)
        if session.run is None or session.video is None:
            return ()
        plan = session.run.plan
        frame = int(np.clip(frame, 0, session.video.info.num_frames - 1))
        masks = plan.frame_objects(frame)
        return tuple(ObjectChoice(o.object_id, int(masks[o.object_id].sum()), o.user_made, o.trajectory_ids)
                     for o in plan.objects if masks[o.object_id].any())

    def object_ids(self, session_id: str) -> tuple[int, ...]:
        """Every object of the answer, on any frame (() before a run)."""
        session = self._sessions.get(session_id)
        return () if session.run is None else tuple(o.object_id for o in session.run.plan.objects)

    def paint(self, session_id: str, kind: CorrectionKind, target: EditTarget | None, mask: np.ndarray,
              object_choice: int | str | None, user: str | None) -> CorrectionRecord:
        """Add (DRAW) or remove (ERASE) `mask` on the frame the editor showed (`target`), for one object
        (`NEW_OBJECT`: a new user-made one) or, with `object_choice` None, for the answer's union."""
        session = self._sessions.get(session_id)
        frame = target_frame(session, target)
        object_id = self._object_id(session, kind, object_choice)
        return self._editor.paint(session, kind, frame, mask, user, object_id)

    def _object_id(self, session: StudioSession, kind: CorrectionKind,
                   choice: int | str | None) -> int | None:
        if choice is None or choice == "":
            return None
        if choice == NEW_OBJECT:
            if kind is CorrectionKind.ERASE:
                raise InputError("a new object has no pixels to remove yet: paint it and press Add first")
            return self._store.new_object_id(require_run(session).run_id)
        try:
            return int(choice)
        except (TypeError, ValueError):
            raise InputError("pick an object first (the list shows those on this frame)") from None

    # -- propagation ----------------------------------------------------------------------------
    def default_end(self, session_id: str, frame: int) -> int:
        """Where the end frame control starts: `DEFAULT_SPAN` frames ahead, clipped to the video."""
        video = self._sessions.get(session_id).video
        return 0 if video is None else int(min(int(frame) + DEFAULT_SPAN, video.info.num_frames - 1))

    def propagate(self, session_id: str, object_choice: int | str | None, source_frame: int,
                  end_frame: int) -> Iterator[PropagationStep | PropagationView]:
        """Carry the object's corrected mask on `source_frame` to `end_frame` (either side), yielding a
        `PropagationStep` per frame and last a `PropagationView`; the proposals then wait for `accept`.
        `cancel` stops it after the frame in progress (the frames proposed so far are kept)."""
        session = self._sessions.get(session_id)
        run = require_run(session)
        num_frames = session.video.info.num_frames
        source, end = _frame(source_frame, num_frames), _frame(end_frame, num_frames)
        object_id = self._propagated_object(object_choice)
        mask = run.plan.frame_objects(source).get(object_id)
        if mask is None or not mask.any():
            raise InputError(f"object {object_id} has no pixels on frame {source}: paint it there first")
        if end == source:
            raise InputError(f"the end frame is the corrected frame ({source}): pick another frame to "
                             "propagate to")
        cancel = self._cancel_event(session_id)
        masks: dict[int, np.ndarray] = {}
        summary: PropagationSummary | None = None
        steps = propagate_mask(lambda i: self._videos.frame(session, i), source, mask, end)
        total = abs(end - source)
        try:
            for step in steps:
                if isinstance(step, Proposal):
                    masks[step.frame] = step.mask
                    yield PropagationStep(len(masks), total, step.frame, step.confidence)
                    if cancel.is_set():
                        break
                else:
                    summary = step
        finally:
            steps.close()
        view = _view(object_id, source, end, masks, summary)
        with self._lock:
            self._pending[session_id] = _Pending(run.run_id, view, masks)
        yield view

    def _propagated_object(self, choice: int | str | None) -> int:
        if choice is None or choice == "" or choice == NEW_OBJECT:
            raise InputError("pick the object to propagate (a new object: paint it and press Add first)")
        try:
            return int(choice)
        except (TypeError, ValueError):
            raise InputError("pick the object to propagate from the list") from None

    def _cancel_event(self, session_id: str) -> threading.Event:
        with self._lock:
            event = self._cancels[session_id] = threading.Event()
        return event

    def cancel(self, session_id: str) -> bool:
        """Ask the session's propagation to stop after the frame in progress; False if none runs."""
        with self._lock:
            event = self._cancels.get(session_id)
        if event is None or event.is_set():
            return False
        event.set()
        return True

    # -- proposals ------------------------------------------------------------------------------
    def pending(self, session_id: str) -> PropagationView | None:
        """The proposals waiting for Accept or Discard on the run on screen (None: none)."""
        pending = self._current(session_id)
        return None if pending is None else pending.view

    def proposal(self, session_id: str, frame: int) -> np.ndarray | None:
        """bool [H, W] proposed for `frame` (None: no proposal there)."""
        pending = self._current(session_id)
        return None if pending is None else pending.masks.get(int(frame))

    def accept(self, session_id: str, user: str | None) -> list[CorrectionRecord]:
        """Store the proposals in one action: per frame a SET of the object's mask, `propagated`, with its
        `source_frame` (one Undo takes them all back)."""
        session = self._sessions.get(session_id)
        run = require_run(session)
        with self._lock:
            pending = self._pending.get(session_id)
        if pending is None or not pending.masks:
            raise InputError("no propagated frames to accept: press Propagate first")
        if pending.run_id != run.run_id:
            raise InputError(f"the propagated frames were made on run #{pending.run_id}, not on the run on "
                             "screen: propagate again")
        view = pending.view
        items = [CorrectionItem(kind=CorrectionKind.SET, frame=f, mask=pending.masks[f],
                                object_id=view.object_id, source_frame=view.source_frame, propagated=True)
                 for f in view.frames]
        records = self._editor.add_group(session, items, user)
        with self._lock:
            self._pending.pop(session_id, None)
        return records

    def discard(self, session_id: str) -> int:
        """Drop the session's proposals; returns how many frames were dropped."""
        with self._lock:
            pending = self._pending.pop(session_id, None)
        return 0 if pending is None else len(pending.masks)

    def forget(self, session_id: str) -> None:
        """The session ended: its proposals go."""
        with self._lock:
            self._pending.pop(session_id, None)
            self._cancels.pop(session_id, None)

    def _current(self, session_id: str) -> _Pending | None:
        run = self._sessions.get(session_id).run
        with self._lock:
            pending = self._pending.get(session_id)
        return pending if pending is not None and run is not None and pending.run_id == run.run_id else None


def _frame(index, num_frames: int) -> int:
    try:
        return int(np.clip(int(index), 0, num_frames - 1))
    except (TypeError, ValueError):
        raise InputError("give the frame to propagate to as a number") from None


def _view(object_id: int, source: int, end: int, masks: dict[int, np.ndarray],
          summary: PropagationSummary | None) -> PropagationView:
    frames = tuple(masks)
    if summary is None:  # cancelled
        step = 1 if end > source else -1
        last = frames[-1] if frames else source
        nxt = last + step
        return PropagationView(object_id, source, end, frames, nxt if nxt != end + step else None, None, True)
    return PropagationView(object_id, source, end, frames, summary.stopped_at, summary.reason, False)
