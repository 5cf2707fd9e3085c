"""`StudioService` methods for looking at and correcting the session's run (mixed into the service).

Every correction is written to the store at once; the session's plan is then re-read from the store,
so the overlay, the table and every export show exactly what is stored.
"""
from __future__ import annotations

import numpy as np

from app.render import (
    AnswerSummary,
    TrajectoryRow,
    answer_summary,
    display_scale,
    frame_overlay,
    painted_mask,
    trajectory_rows,
    upscale,
)
from derrvos_core.errors import InputError
from derrvos_core.store import CorrectionKind, CorrectionRecord


class EditMethods:
    """Relies on the service's `session`, `frame`, `store`, `config`, `_require_run`, `_load_plan` and
    `_user`."""

    def view(self, session_id: str, index: int) -> np.ndarray:
        """uint8 image of frame `index` with the corrected answer overlaid, upscaled for display."""
        session = self.session(session_id)
        video = self._require_video(session)
        index = int(np.clip(index, 0, video.info.num_frames - 1))
        frame = self.frame(session_id, index)
        if session.run is not None:
            frame = frame_overlay(frame, session.run.plan, index)
        return upscale(frame, self.display_scale(session_id))

    def display_scale(self, session_id: str) -> int:
        info = self._require_video(self.session(session_id)).info
        return display_scale(info.height, info.width, self.config.display_size)

    def trajectory_table(self, session_id: str) -> list[TrajectoryRow]:
        session = self.session(session_id)
        if session.run is None:
            return []
        return trajectory_rows(session.run.plan, _decisions(session.run.corrections))

    def answer(self, session_id: str) -> AnswerSummary | None:
        """What the session's answer is (selected trajectories, ignored words, why it is empty); None
        before a run."""
        session = self.session(session_id)
        return None if session.run is None else answer_summary(session.run.plan)

    def accept(self, session_id: str, trajectory_id: int, user: str | None = None) -> CorrectionRecord:
        """Put a trajectory into the answer whatever its score (all frames of its crop)."""
        return self._correct(session_id, CorrectionKind.ACCEPT, user,
                             trajectory_id=_trajectory(trajectory_id))

    def reject(self, session_id: str, trajectory_id: int, user: str | None = None) -> CorrectionRecord:
        """Take a trajectory out of the answer whatever its score."""
        return self._correct(session_id, CorrectionKind.REJECT, user,
                             trajectory_id=_trajectory(trajectory_id))

    def draw(self, session_id: str, frame: int, mask: np.ndarray,
             user: str | None = None) -> CorrectionRecord:
        """Add the pixels of `mask` (bool [H, W] at the video's size) to frame `frame`'s answer."""
        return self._pixels(session_id, CorrectionKind.DRAW, frame, mask, user)

    def erase(self, session_id: str, frame: int, mask: np.ndarray,
              user: str | None = None) -> CorrectionRecord:
        """Remove the pixels of `mask` from frame `frame`'s answer."""
        return self._pixels(session_id, CorrectionKind.ERASE, frame, mask, user)

    def painted(self, session_id: str, editor_value: dict | None) -> np.ndarray:
        """bool [H, W] at the video's size from a `gr.ImageEditor` value (numpy layers)."""
        info = self._require_video(self.session(session_id)).info
        value = editor_value or {}
        return painted_mask(value.get("layers") or [], value.get("composite"), value.get("background"),
                            info.height, info.width)

    def undo(self, session_id: str, user: str | None = None) -> CorrectionRecord:
        """Take back this tab's last correction on the run (it stays in the store, marked undone)."""
        session = self.session(session_id)
        run = self._require_run(session)
        if not session.undo_stack:
            raise InputError("nothing to undo: this tab has made no correction on this run")
        record = self.store.undo(session.undo_stack[-1], self._user(user))
        session.undo_stack.pop()
        session.run = self._load_plan(run.run_id, run.key, run.result)
        return record

    def _pixels(self, session_id: str, kind: CorrectionKind, frame: int, mask: np.ndarray,
                user: str | None) -> CorrectionRecord:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            verb = "add" if kind is CorrectionKind.DRAW else "remove"
            raise InputError(f"nothing painted: paint over the pixels to {verb} with the brush first")
        return self._correct(session_id, kind, user, frame=int(frame), mask=mask)

    def _correct(self, session_id: str, kind: CorrectionKind, user: str | None, **fields) -> CorrectionRecord:
        session = self.session(session_id)
        run = self._require_run(session)
        record = self.store.add_correction(run.run_id, kind, user=self._user(user), **fields)
        session.undo_stack.append(record.id)
        session.run = self._load_plan(run.run_id, run.key, run.result)
        return record


def _decisions(corrections: list[CorrectionRecord]) -> dict[int, str]:
    """trajectory_id -> "accepted"/"rejected" from the latest active decision on it."""
    out: dict[int, str] = {}
    for c in corrections:
        if c.active and c.kind in (CorrectionKind.ACCEPT, CorrectionKind.REJECT):
            out[c.trajectory_id] = "accepted" if c.kind is CorrectionKind.ACCEPT else "rejected"
    return out


def _trajectory(trajectory_id) -> int:
    try:
        return int(trajectory_id)
    except (TypeError, ValueError):
        raise InputError("pick a trajectory first (the list shows those on the current frame)") from None
