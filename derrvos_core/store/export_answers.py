"""What an export writes, gathered from the store: per video, each expression's final answer as RLE,
as a whole (the union) and per object (`derrvos_core.objects`), and the video's instances: identical
object tracks numbered once per video."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from derrvos_core.errors import DeRVOSError, VideoError
from derrvos_core.store.records import RunRecord, VideoRecord
from derrvos_core.store.rle import encode_rle
from derrvos_core.store.safe_names import unique_names


class ExportError(DeRVOSError):
    """An export could not be written; nothing was left in the output folder."""


@dataclass(frozen=True)
class ObjectTrack:
    """One object of an expression's answer.

    Attributes:
        object_id: its id in the store (`derrvos_core.objects`: link, own-trajectory or user-made range).
        rles: per frame, the object's final mask as RLE, None where it is absent.
    """

    object_id: int
    rles: tuple


@dataclass(frozen=True)
class ExpressionAnswer:
    """One expression's answer in an export.

    Attributes:
        export_id: the expression id in the exported dataset ("0", "1", ... per video).
        text: the expression as stored.
        run: the run that answers it (see `Store.answer_runs`).
        threshold: the threshold in force on the run (its own, or the latest threshold correction).
        rles: per frame, the final mask (the union of `objects`) as RLE, None where empty.
        objects: the answer's objects in id order, those empty on every frame left out (a no-target
            answer has none).
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
    objects: tuple


@dataclass(frozen=True)
class VideoInstances:
    """A video's instances: its expressions' object tracks, identical tracks counted once, numbered 1..K.

    Two expressions answering the same object (the same mask on every frame) share its instance, as
    several Ref-YouTube-VOS expressions share an object.

    Attributes:
        tracks: K per-frame RLE tracks (None where absent); instance k is `tracks[k - 1]`.
        object_instances: per expression (in `VideoExport.expressions` order), the instance id of each
            of its `objects`, aligned with them.
    """

    tracks: tuple
    object_instances: tuple

    @property
    def count(self) -> int:
        return len(self.tracks)

    @property
    def per_expression(self) -> tuple:
        """Per expression, its instance ids in object order, each once (empty for a no-target answer)."""
        return tuple(tuple(dict.fromkeys(ids)) for ids in self.object_instances)


def video_instances(expressions: tuple) -> VideoInstances:
    """Per-video dedup of identical object tracks (compared by their RLE counts per frame)."""
    seen: dict[tuple, int] = {}
    tracks, object_instances = [], []
    for answer in expressions:
        ids = []
        for track in answer.objects:
            key = tuple(None if r is None else r["counts"] for r in track.rles)
            if key not in seen:
                tracks.append(track.rles)
                seen[key] = len(tracks)
            ids.append(seen[key])
        object_instances.append(tuple(ids))
    return VideoInstances(tracks=tuple(tracks), object_instances=tuple(object_instances))


@dataclass(frozen=True)
class VideoExport:
    """One video of an export.

    Attributes:
        name: the sanitised, unique folder name.
        video: the stored video.
        expressions: its ExpressionAnswers, export ids "0", "1", ...
        instances: the objects of all its expressions, numbered per video (`video_instances`).
    """

    name: str
    video: VideoRecord
    expressions: tuple
    instances: VideoInstances

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
    out = []
    for name, v in zip(names, videos):
        answers = tuple(_answer(store, str(i), run) for i, run in enumerate(by_video[v.id]))
        out.append(VideoExport(name=name, video=v, expressions=answers, instances=video_instances(answers)))
    return out


def _stem(path: str) -> str:
    p = Path(path)
    return p.name if p.is_dir() else p.stem


def _answer(store, export_id: str, run: RunRecord) -> ExpressionAnswer:
    """The run's corrected answer, decoded and re-encoded one frame at a time (memory stays one frame)."""
    plan = store.answer_plan(run.id)
    rles, corrected, edited = [], [], []
    per_object: dict[int, list] = {o.object_id: [] for o in plan.objects}
    for frame in range(plan.result.num_frames):
        answer = plan.frame_answer(frame)
        rles.append(_rle_or_none(answer.mask))
        corrected.append(answer.corrected)
        edited.append(answer.edited)
        for object_id, mask in plan.frame_objects(frame).items():
            per_object[object_id].append(_rle_or_none(mask))
    objects = tuple(ObjectTrack(object_id=o, rles=tuple(track)) for o, track in per_object.items()
                    if any(r is not None for r in track))
    return ExpressionAnswer(export_id=export_id, text=run.expression, run=run, threshold=plan.threshold,
                            rles=tuple(rles), corrected=tuple(corrected), edited=tuple(edited),
                            objects=objects)


def _rle_or_none(mask: np.ndarray):
    return encode_rle(mask) if mask.any() else None


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
