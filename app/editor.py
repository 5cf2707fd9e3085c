"""Corrections of the run a session shows: accept / reject a trajectory, draw / erase pixels, a new
threshold, undo.

Every correction is written to the store at once; the session's plan is then re-read from the store,
so the overlay, the table and every export show exactly what is stored.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.runs import load_plan
from app.session import CurrentRun, StudioSession
from derrvos_core.errors import InputError
from derrvos_core.store import CorrectionKind, CorrectionRecord, Store
from derrvos_core.validation import threshold_value


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
              user: str | None) -> CorrectionRecord:
        """Add (DRAW) or remove (ERASE) the pixels of `mask` (bool [H, W] at the video's size) at `frame`."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            verb = "add" if kind is CorrectionKind.DRAW else "remove"
            raise InputError(f"nothing painted: paint over the pixels to {verb} with the brush first")
        return self._correct(session, kind, user, frame=int(frame), mask=mask)

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
