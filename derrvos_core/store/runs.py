"""Runs and their trajectories: SegmentationResult <-> rows, and rows -> records."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from derrvos_core.errors import InputError
from derrvos_core.result import SegmentationResult, TrajectoryResult
from derrvos_core.settings import SegmentSettings
from derrvos_core.store.records import (CorrectionKind, CorrectionRecord, ExpressionRecord, RunContext,
                                        RunRecord, VideoRecord, as_utc)
from derrvos_core.store.rle import json_rle
from derrvos_core.store.schema import CorrectionRow, ExpressionRow, RunRow, TrajectoryRow, VideoRow
from derrvos_core.validation import MAX_EXPRESSION_CHARS, check_text, finite_scores

#: Integer columns are 32-bit on PostgreSQL.
_INT_MAX = 2**31 - 1


def check_result(result: SegmentationResult, video: VideoRow) -> None:
    """Refuse a result that cannot belong to the video, before anything is written."""
    if (result.num_frames, result.height, result.width) != (video.num_frames, video.height, video.width):
        raise InputError(
            f"result is {result.num_frames} frames of {result.height}x{result.width} but video {video.id} "
            f"({video.path}) is {video.num_frames} frames of {video.height}x{video.width}")
    ids = [t.trajectory_id for t in result.trajectories]
    if len(set(ids)) != len(ids):
        raise InputError(f"result has repeated trajectory ids: {sorted(ids)}")
    for t in result.trajectories:
        if t.frame_start < 0 or t.frame_end > result.num_frames:
            raise InputError(f"trajectory {t.trajectory_id} covers frames {t.frame_start}.."
                             f"{t.frame_end - 1}, outside the video's {result.num_frames} frames")
    unknown = set(result.selected) - set(ids)
    if unknown:
        raise InputError(f"result selects trajectory ids that it does not hold: {sorted(unknown)}")


def check_result_values(result: SegmentationResult) -> None:
    """What a result's own values must be for the store to hold them: finite scores (ModelError: NaN
    weights give NaN scores, which SQLite stores as NULL and PostgreSQL's JSON refuses), sizes and ids
    within 32 bits, text without NUL. Checked before the transaction begins."""
    finite_scores((t.score for t in result.trajectories), where="the model")
    sizes = (("num_frames", result.num_frames), ("height", result.height), ("width", result.width))
    for name, value in sizes:
        if not 0 <= int(value) <= _INT_MAX:
            raise InputError(f"result {name} {value} is out of range")
    for t in result.trajectories:
        if not all(0 <= int(v) <= _INT_MAX for v in (t.trajectory_id, t.crop_index, t.frame_start)) or \
                not -1 <= int(t.link_id) <= _INT_MAX:
            raise InputError(f"trajectory {t.trajectory_id}: ids and frame indices must be 32-bit and >= 0")
    check_text(result.expression, "the expression as the model read it", max_chars=10 * MAX_EXPRESSION_CHARS)
    for warning in result.warnings:
        check_text(str(warning), "a run warning", max_chars=10 * MAX_EXPRESSION_CHARS)
    for word in result.ignored:
        check_text(str(word), "a word the model ignored", max_chars=10 * MAX_EXPRESSION_CHARS)


def run_row(result: SegmentationResult, video: VideoRow, expression: ExpressionRow, model_version: str,
            model_version_id: int | None, context: RunContext, timings: dict) -> RunRow:
    name = context.model_name or model_version
    settings = result.settings
    return RunRow(
        video_id=video.id, expression_id=expression.id, model_name=name, model_version=model_version,
        model_version_id=model_version_id, crop_size=settings.crop_size, threshold=settings.threshold,
        at_least_one=settings.at_least_one, link_crops=settings.link_crops,
        device=context.device, num_frames=result.num_frames, height=result.height, width=result.width,
        expression_read=result.expression or expression.text, selected=[int(i) for i in result.selected],
        warnings=[str(w) for w in result.warnings], ignored=[str(w) for w in result.ignored],
        timings={str(k): float(v) for k, v in dict(timings).items()})


def trajectory_rows(result: SegmentationResult, run_id: int) -> list[TrajectoryRow]:
    return [TrajectoryRow(run_id=run_id, trajectory_index=int(t.trajectory_id), crop_index=int(t.crop_index),
                          frame_start=int(t.frame_start), score=float(t.score), link_id=int(t.link_id),
                          rles=[json_rle(r) for r in t.rles])
            for t in result.trajectories]


def load_result(session: Session, run: RunRow) -> SegmentationResult:
    rows = session.scalars(select(TrajectoryRow).where(TrajectoryRow.run_id == run.id)
                           .order_by(TrajectoryRow.trajectory_index)).all()
    trajectories = tuple(
        TrajectoryResult(trajectory_id=r.trajectory_index, crop_index=r.crop_index, frame_start=r.frame_start,
                         score=r.score, rles=tuple(r.rles), link_id=r.link_id)
        for r in rows)
    return SegmentationResult(
        num_frames=run.num_frames, height=run.height, width=run.width, trajectories=trajectories,
        settings=SegmentSettings(crop_size=run.crop_size, threshold=run.threshold,
                                 at_least_one=run.at_least_one, link_crops=run.link_crops),
        selected=tuple(run.selected), expression=run.expression_read, ignored=tuple(run.ignored or ()),
        warnings=tuple(run.warnings))


def video_record(row: VideoRow) -> VideoRecord:
    return VideoRecord(id=row.id, content_hash=row.content_hash, path=row.path, fps=row.fps,
                       num_frames=row.num_frames, height=row.height, width=row.width,
                       frame_names=tuple(row.frame_names), created_at=as_utc(row.created_at))


def expression_record(row: ExpressionRow) -> ExpressionRecord:
    return ExpressionRecord(id=row.id, video_id=row.video_id, text=row.text,
                            created_at=as_utc(row.created_at))


def run_record(row: RunRow, expression_text: str) -> RunRecord:
    return RunRecord(
        id=row.id, video_id=row.video_id, expression_id=row.expression_id, expression=expression_text,
        model_name=row.model_name, model_version=row.model_version, model_version_id=row.model_version_id,
        crop_size=row.crop_size, threshold=row.threshold, at_least_one=row.at_least_one,
        link_crops=row.link_crops, device=row.device, num_frames=row.num_frames, height=row.height,
        width=row.width, timings=dict(row.timings), created_at=as_utc(row.created_at))


def correction_record(row: CorrectionRow) -> CorrectionRecord:
    return CorrectionRecord(
        id=row.id, run_id=row.run_id, kind=CorrectionKind(row.kind), user=row.user,
        created_at=as_utc(row.created_at), trajectory_id=row.trajectory_index, frame=row.frame, rle=row.rle,
        result_rle=row.result_rle, threshold=row.threshold, target_id=row.target_id, object_id=row.object_id,
        source_frame=row.source_frame, propagated=bool(row.propagated), group_id=row.group_id)
