"""What a session's video and run hand out: the history of the video's runs, dataset exports, the overlay
MP4, the zip of mask PNGs and the scores JSON. Files are written under the data folder, named with the
store's sanitiser (`derrvos_core.store.safe_names.safe_name`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.config import StudioConfig
from app.editor import require_run, require_video
from app.outputs import scores_payload, write_masks_zip, write_overlay_mp4
from app.session import StudioSession
from derrvos_core.errors import InputError
from derrvos_core.store import RunRecord, Store
from derrvos_core.store.corrections import fixes_in_force, threshold_in_force
from derrvos_core.store.export import FORMATS, export_zip
from derrvos_core.store.safe_names import safe_name
from derrvos_core.video import open_video


@dataclass(frozen=True)
class HistoryRow:
    """An earlier run of the session's video, as the history table shows it.

    Attributes:
        run: the stored run.
        num_corrections: mask and selection corrections in force on it (threshold changes are in
            `threshold`, not counted).
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


class RunFiles:
    """Reads the store's runs of a session's video and writes the files the page and the API hand out."""

    def __init__(self, store: Store, config: StudioConfig):
        self.store = store
        self.config = config

    def history(self, session: StudioSession) -> list[HistoryRow]:
        """Runs of the session's video, newest first ([] before a video is loaded)."""
        if session.video is None:
            return []
        current = session.run.run_id if session.run else None
        rows = []
        for run in reversed(self.store.runs(video_id=session.video.record.id)):
            corrections = self.store.corrections(run.id)
            rows.append(HistoryRow(run=run, num_corrections=fixes_in_force(corrections),
                                   threshold=threshold_in_force(run.threshold, corrections),
                                   on_screen=run.id == current))
        return rows

    def export_zip(self, session: StudioSession, fmt: str, all_videos: bool = False) -> Path:
        """The corrected answers of this video (or of every video in the store) as a dataset zip."""
        if fmt not in FORMATS:
            raise InputError(f"unknown export format {fmt!r}; one of {list(FORMATS)}")
        video = require_video(session)
        stem = "all-videos" if all_videos else safe_name(Path(video.file_name).stem, "video")
        path = self._out_dir("exports") / f"{stem}-{fmt}-{_stamp()}.zip"
        return export_zip(self.store, fmt, path, video_ids=None if all_videos else [video.record.id])

    def overlay_video(self, session: StudioSession) -> Path:
        """MP4 of the session's video with the corrected answer overlaid."""
        run = require_run(session)
        path = self._out_dir("overlays") / f"run{run.run_id}-{_stamp()}.mp4"
        with open_video(session.video.path, name=session.video.name) as reader:
            return write_overlay_mp4(path, reader, run.plan)

    def masks_zip(self, session: StudioSession) -> Path:
        """A zip of the corrected answer as one 0/255 PNG per frame."""
        run = require_run(session)
        folder = safe_name(Path(session.video.file_name).stem, "video")
        path = self._out_dir("masks") / f"run{run.run_id}-{_stamp()}.zip"
        return write_masks_zip(path, run.plan, list(session.video.record.frame_names), folder)

    def scores(self, session: StudioSession) -> dict:
        run = require_run(session)
        return scores_payload(run.plan, run.run_id, run.key.model_version)

    def _out_dir(self, kind: str) -> Path:
        folder = (Path(self.config.data_dir) / kind).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _stamp() -> str:
    # Microseconds: two exports of one video in the same second must not share a file name.
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f") + f"-{time.monotonic_ns() % 1000:03d}"
