"""Corrections of the run a session shows: accept / reject a trajectory, draw / erase pixels, a new
threshold, undo.

Every correction is written to the store at once; the session's plan is then re-read from the store,
so the overlay, the table and every export show exactly what is stored.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.runs import load_plan
from app.session import CurrentRun, StudioSession
from derrvos_core.errors import InputError
from derrvos_core.store import CorrectionItem, CorrectionKind, CorrectionRecord, Store
from derrvos_core.validation import threshold_value


@dataclass(frozen=True)
class EditTarget:
    """What the correction editor shows, set in the event that sets its background and read back by Add
    and Remove: a stroke lands on the frame it was drawn on, however far the viewer moved since.

    Attributes:
        video_id: the store's video the background is a frame of.
        run_id: the run on screen then (None before a run).
        frame: the frame index the background shows.
    """

    video_id: int
    run_id: int | None
    frame: int


def edit_target(session: StudioSession, index: int) -> EditTarget:
    """The target of the editor when it shows frame `index` (clipped) of the session's video."""
    video = require_video(session)
    index = int(np.clip(index, 0, video.info.num_frames - 1))
    return EditTarget(video.record.id, None if session.run is None else session.run.run_id, index)


def target_frame(session: StudioSession, target: EditTarget | None) -> int:
    """The frame a stroke drawn on `target` edits; InputError when the editor shows another video's or
    run's frame (the page changed under it) or no frame yet."""
    video = require_video(session)
    run = require_run(session)
    if target is None:
        raise InputError("the editor shows no frame yet: wait for the frame to appear, then paint")
    if target.video_id != video.record.id or target.run_id != run.run_id:
        raise InputError(f"the editor still shows frame {target.frame} of an earlier "
                         f"{'video' if target.video_id != video.record.id else 'run'}: nothing was saved. "
                         "Wait for the editor to show the current frame, then paint again")
    return target.frame


class Editor:
    """Writes a session's corrections to `store`; `user(name)` is who they are recorded under (the
    signed-in user, else the studio's default annotator)."""

    def __init__(self, store: Store, user: Callable[[str | None], str]):
        self.store = store
        self._user = user

    def accept(self, session: StudioSession, trajectory_id, user: str | None) -> CorrectionRecord:
        """Put a trajectory into the answer whatever its score (all frames of its crop)."""
        return self._correct(session, CorrectionKind.ACCEPT, user, trajectory_id=_trajectory(trajectory_id))

    def reject(self, session: StudioSession, trajectory_id, user: str | None) -> CorrectionRecord:
        """Take a trajectory out of the answer whatever its score."""
        return self._correct(session, CorrectionKind.REJECT, user, trajectory_id=_trajectory(trajectory_id))

    def paint(self, session: StudioSession, kind: CorrectionKind, frame: int, mask: np.ndarray,
              user: str | None, object_id: int | None = None) -> CorrectionRecord:
        """Add (DRAW) or remove (ERASE) the pixels of `mask` (bool [H, W] at the video's size) at `frame`;
        `object_id` edits that object only (None: the answer's union)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            verb = "add" if kind is CorrectionKind.DRAW else "remove"
            raise InputError(f"nothing painted: paint over the pixels to {verb} with the brush first")
        return self._correct(session, kind, user, frame=int(frame), mask=mask, object_id=object_id)

    def add_group(self, session: StudioSession, items: Sequence[CorrectionItem],
                  user: str | None) -> list[CorrectionRecord]:
        """Store `items` as one action (one transaction, one group): one Undo takes them all back."""
        run = require_run(session)
        records = self.store.add_corrections(run.run_id, list(items), self._user(user))
        session.undo_stack.append(records[0].id)  # an undo of one member undoes the group
        session.run = load_plan(self.store, run.run_id, run.key, run.result)
        return records

    def reselect(self, session: StudioSession, threshold: float, user: str | None) -> CurrentRun:
        """Select again at `threshold` from the run's scores (no model call); stored as a correction
        so that exports follow what the page shows."""
        run = require_run(session)
        threshold = threshold_value(threshold)
        if abs(threshold - run.threshold) > 1e-9:
            self.store.set_threshold(run.run_id, threshold, self._user(user))
            session.run = load_plan(self.store, run.run_id, run.key, run.result)
        return session.run

    def undo(self, session: StudioSession, user: str | None) -> CorrectionRecord:
        """Take back this tab's last correction on the run (it stays in the store, marked undone)."""
        run = require_run(session)
        if not session.undo_stack:
            raise InputError("nothing to undo: this tab has made no correction on this run")
        record = self.store.undo(session.undo_stack[-1], self._user(user))
        session.undo_stack.pop()
        session.run = load_plan(self.store, run.run_id, run.key, run.result)
        return record

    def _correct(self, session: StudioSession, kind: CorrectionKind, user: str | None,
                 **fields) -> CorrectionRecord:
        run = require_run(session)
        record = self.store.add_correction(run.run_id, kind, user=self._user(user), **fields)
        session.undo_stack.append(record.id)
        session.run = load_plan(self.store, run.run_id, run.key, run.result)
        return record


def require_video(session: StudioSession):
    if session.video is None:
        raise InputError("load a video first (upload one or pick a shipped example)")
    return session.video


def require_run(session: StudioSession) -> CurrentRun:
    require_video(session)
    if session.run is None:
        raise InputError("no run yet: type an expression and press Run (or reload one from the history)")
    return session.run


def decisions(run: CurrentRun) -> dict[int, str]:
    """trajectory_id -> "accepted"/"rejected" from the latest active decision on it."""
    out: dict[int, str] = {}
    for c in run.corrections:
        if c.active and c.kind in (CorrectionKind.ACCEPT, CorrectionKind.REJECT):
            out[c.trajectory_id] = "accepted" if c.kind is CorrectionKind.ACCEPT else "rejected"
    return out


def _trajectory(trajectory_id) -> int:
    try:
        return int(trajectory_id)
    except (TypeError, ValueError):
        raise InputError("pick a trajectory first (the list shows those on the current frame)") from None
