"""What an export writes, gathered from the store: per video, each expression's final answer as RLE."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from derrvos_core.errors import DeRVOSError, VideoError
from derrvos_core.store.corrections import threshold_in_force
from derrvos_core.store.records import RunRecord, VideoRecord
from derrvos_core.store.rle import encode_rle
from derrvos_core.store.safe_names import unique_names


class ExportError(DeRVOSError):
    """An export could not be written; nothing was left in the output folder."""


@dataclass(frozen=True)
class ExpressionAnswer:
    """One expression's answer in an export.

    Attributes:
        export_id: the expression id in the exported dataset ("0", "1", ... per video).
        text: the expression as stored.
        run: the run that answers it (see `Store.answer_runs`).
        threshold: the threshold in force on the run (its own, or the latest threshold correction).
        rles: per frame, the final mask as RLE, None where empty.
        corrected: per frame, a human decision bears on it (else it is the model's mask).
        edited: per frame, pixels were drawn, erased or set on it.
    """

    export_id: str
    text: str
    run: RunRecord
    threshold: float
    rles: tuple
    corrected: tuple
    edited: tuple

    def mask(self, frame: int, height: int, width: int) -> np.ndarray:
        from derrvos_core.result import decode_rle
        rle = self.rles[frame]
        return np.zeros((height, width), dtype=bool) if rle is None else decode_rle(rle)


@dataclass(frozen=True)
class VideoExport:
    """One video of an export: `name` is the sanitised, unique folder name."""

    name: str
    video: VideoRecord
    expressions: tuple

    @property
    def frame_names(self) -> list[str]:
        # Index names: they sort in frame order, which MeViS and Ref-YouTube-VOS readers rely on.
        return [f"{i:05d}" for i in range(self.video.num_frames)]


def collect(store, video_ids: list[int] | None) -> list[VideoExport]:
    """Every (video, expression) answer in the store, or those of `video_ids` (unknown ids are an error)."""
    if video_ids is not None:
        known = {v.id for v in store.videos()}
        missing = sorted(set(video_ids) - known)
        if missing:
            raise ExportError(f"no video with id {missing} in the store")
    by_video: dict[int, list[RunRecord]] = {}
    for run in store.answer_runs(video_ids=video_ids):
        by_video.setdefault(run.video_id, []).append(run)
    if not by_video:
        raise ExportError("nothing to export: the store holds no runs" +
                          ("" if video_ids is None else f" for videos {sorted(video_ids)}"))
    videos = [store.get_video(v) for v in sorted(by_video)]
    names = unique_names([_stem(v.path) for v in videos], fallback_prefix="video")
    return [VideoExport(name=name, video=v, expressions=tuple(
                _answer(store, str(i), run) for i, run in enumerate(by_video[v.id])))
            for name, v in zip(names, videos)]


def _stem(path: str) -> str:
    p = Path(path)
    return p.name if p.is_dir() else p.stem


def _answer(store, export_id: str, run: RunRecord) -> ExpressionAnswer:
    rles, corrected, edited = [], [], []
    for answer in store.iter_final_masks(run.id):
        rles.append(encode_rle(answer.mask) if answer.mask.any() else None)
        corrected.append(answer.corrected)
        edited.append(answer.edited)
    threshold = threshold_in_force(run.threshold, store.corrections(run.id))
    return ExpressionAnswer(export_id=export_id, text=run.expression, run=run, threshold=threshold,
                            rles=tuple(rles), corrected=tuple(corrected), edited=tuple(edited))


def iter_frames(video: VideoRecord) -> Iterator[np.ndarray]:
    """The video's frames, uint8 [H, W, 3] RGB, streamed; checked against what the store recorded."""
    if not os.path.exists(video.path):
        raise ExportError(f"video {video.id}: its file {video.path} is gone; frames cannot be exported")
    count = 0
    for frame in _read_frames(video.path):
        if frame.shape[:2] != (video.height, video.width):
            raise ExportError(f"video {video.id} ({video.path}): frame {count} is {frame.shape[:2]}, "
                              f"the store recorded {(video.height, video.width)}")
        count += 1
        if count > video.num_frames:
            raise ExportError(f"video {video.id} ({video.path}) has more frames than the {video.num_frames} "
                              f"the store recorded: it changed since")
        yield frame
    if count != video.num_frames:
        raise ExportError(f"video {video.id} ({video.path}) has {count} frames, the store recorded "
                          f"{video.num_frames}: it changed since")


def _read_frames(path: str) -> Iterator[np.ndarray]:
    from derrvos_core.video import open_video  # PyAV is only needed when frames are written
    try:
        with open_video(path) as reader:
            yield from reader.frames()
    except VideoError as exc:
        raise ExportError(f"cannot read frames of {path}: {exc}") from exc
