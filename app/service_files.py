"""`StudioService` methods for the history of a video and the files it hands out (mixed into the service):
earlier runs and their reload, dataset exports, the overlay MP4, mask zips and the `/segment` API."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.cache import CachedResult
from app.config import EXPORT_FORMATS
from app.outputs import scores_payload, write_masks_zip, write_overlay_mp4
from app.session import ResultKey
from derrvos_core.errors import InputError
from derrvos_core.store import CorrectionKind, RunRecord
from derrvos_core.store.corrections import threshold_in_force
from derrvos_core.store.export import export_zip
from derrvos_core.video import open_video


@dataclass(frozen=True)
class HistoryRow:
    """An earlier run of the session's video, as the history table shows it.

    Attributes:
        run: the stored run.
        num_corrections: corrections in force on it.
        threshold: the threshold in force (the run's, or its latest threshold correction).
        on_screen: it is the session's current run.
    """

    run: RunRecord
    num_corrections: int
    threshold: float
    on_screen: bool


@dataclass(frozen=True)
class ApiOutput:
    """What `/segment` returns: the overlay MP4, a zip of PNG masks, and the scores."""

    overlay_video: Path
    masks_zip: Path
    scores: dict
    run_id: int


class FileMethods:
    """Relies on the service's `session`, `session_model`, `store`, `config`, `_results`, `_require_*`."""

    def history(self, session_id: str) -> list[HistoryRow]:
        """Runs of the session's video, newest first."""
        session = self.session(session_id)
        video = self._require_video(session)
        current = session.run.run_id if session.run else None
        rows = []
        for run in reversed(self.store.runs(video_id=video.record.id)):
            corrections = [c for c in self.store.corrections(run.id) if c.active]
            counted = sum(c.kind is not CorrectionKind.UNDO for c in corrections)
            rows.append(HistoryRow(run=run, num_corrections=counted,
                                   threshold=threshold_in_force(run.threshold, corrections),
                                   on_screen=run.id == current))
        return rows

    def reload_run(self, session_id: str, run_id: int):
        """Show an earlier run of this video again, with its corrections (no model call)."""
        session = self.session(session_id)
        video = self._require_video(session)
        try:
            record = self.store.get_run(int(run_id))
        except (TypeError, ValueError):
            raise InputError("pick a run from the history first") from None
        if record.video_id != video.record.id:
            raise InputError(f"run {record.id} belongs to another video (video {record.video_id})")
        result = self.store.load_run(record.id)
        key = ResultKey(video.record.content_hash, record.expression, record.crop_size, record.model_version,
                        record.link_crops)
        same_model = record.model_version == str(self.session_model(session_id).version)
        if same_model and self._results.get(key) is None:
            self._results.put(key, CachedResult(result, record.id))  # Run with these settings reuses it
        return self._show_run(session, record.id, key, result, None, None), record

    def export_zip(self, session_id: str, fmt: str, all_videos: bool = False) -> Path:
        """The corrected answers of this video (or of every video in the store) as a dataset zip."""
        if fmt not in EXPORT_FORMATS:
            raise InputError(f"unknown export format {fmt!r}; one of {list(EXPORT_FORMATS)}")
        session = self.session(session_id)
        video = self._require_video(session)
        stem = "all-videos" if all_videos else _safe(Path(video.file_name).stem)
        path = self._out_dir("exports") / f"{stem}-{fmt}-{_stamp()}.zip"
        return export_zip(self.store, fmt, path, video_ids=None if all_videos else [video.record.id])

    def overlay_video(self, session_id: str) -> Path:
        """MP4 of the session's video with the corrected answer overlaid."""
        session = self.session(session_id)
        run = self._require_run(session)
        path = self._out_dir("overlays") / f"run{run.run_id}-{_stamp()}.mp4"
        with open_video(session.video.path) as reader:
            return write_overlay_mp4(path, reader, run.plan)

    def masks_zip(self, session_id: str) -> Path:
        """A zip of the corrected answer as one 0/255 PNG per frame."""
        session = self.session(session_id)
        run = self._require_run(session)
        folder = _safe(Path(session.video.file_name).stem)
        path = self._out_dir("masks") / f"run{run.run_id}-{_stamp()}.zip"
        return write_masks_zip(path, run.plan, list(session.video.record.frame_names), folder)

    def scores(self, session_id: str) -> dict:
        run = self._require_run(self.session(session_id))
        return scores_payload(run.plan, run.run_id, run.key.model_version)

    def api_segment(self, video_path: str | Path, expression: str, crop_size: int | None = None,
                    threshold: float | None = None, user: str | None = None, name: str | None = None
                    ) -> ApiOutput:
        """One call for scripts: load, segment (stored as a run), and write the three outputs."""
        session_id = self.new_api_session()
        try:
            self.open_video(session_id, video_path, name=name, file_name=name)
            outcome = self.segment(session_id, expression, self.settings(crop_size, threshold), user=user)
            return ApiOutput(overlay_video=self.overlay_video(session_id),
                             masks_zip=self.masks_zip(session_id), scores=self.scores(session_id),
                             run_id=outcome.run.run_id)
        finally:
            self.close_session(session_id)

    def _out_dir(self, kind: str) -> Path:
        folder = (Path(self.config.data_dir) / kind).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "video"


def _stamp() -> str:
    # Microseconds: two exports of one video in the same second must not share a file name.
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f") + f"-{time.monotonic_ns() % 1000:03d}"
