"""SQLAlchemy tables of the store. The Alembic revisions in `migrations/versions` build exactly this.

Masks are COCO RLE dicts kept in JSON columns; a trajectory row holds the RLEs of every frame of
its crop, so loading a run is one query per table.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy import Text, UniqueConstraint, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Fixed constraint names, so migrations can name what they alter on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class VideoRow(Base):
    __tablename__ = "videos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the file bytes
    path: Mapped[str] = mapped_column(Text)
    fps: Mapped[float] = mapped_column(Float)
    num_frames: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    frame_names: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ExpressionRow(Base):
    __tablename__ = "expressions"
    __table_args__ = (UniqueConstraint("video_id", "text_hash", name="uq_expressions_video_text"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    # sha256 of the text: long sentences cannot sit in a unique btree index on PostgreSQL.
    text_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict] = mapped_column(JSON)  # the evaluation report (e.g. refit J&F before/after)
    base_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_video_expression", "video_id", "expression_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    video_id: Mapped[int] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"))
    expression_id: Mapped[int] = mapped_column(ForeignKey("expressions.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    crop_size: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    at_least_one: Mapped[bool] = mapped_column(Boolean)
    link_crops: Mapped[bool] = mapped_column(Boolean)
    device: Mapped[str] = mapped_column(String(64))
    num_frames: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    expression_read: Mapped[str] = mapped_column(Text)  # the expression after the model's truncation
    selected: Mapped[list] = mapped_column(JSON)  # trajectory indices the model selected
    warnings: Mapped[list] = mapped_column(JSON)
    timings: Mapped[dict] = mapped_column(JSON)  # seconds per stage
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # Added in revision 0002: the registered model version, when the run's model is one.
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL"), nullable=True)
    # Added in revision 0003: words of the expression the model could not use (SegmentationResult.ignored).
    ignored: Mapped[list] = mapped_column(JSON, server_default=text("'[]'"))


class TrajectoryRow(Base):
    __tablename__ = "trajectories"
    __table_args__ = (UniqueConstraint("run_id", "trajectory_index", name="uq_trajectories_run_index"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    trajectory_index: Mapped[int] = mapped_column(Integer)  # TrajectoryResult.trajectory_id
    crop_index: Mapped[int] = mapped_column(Integer)
    frame_start: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    link_id: Mapped[int] = mapped_column(Integer)
    rles: Mapped[list] = mapped_column(JSON)  # per frame of the crop: RLE dict or null


class CorrectionRow(Base):
    __tablename__ = "corrections"
    __table_args__ = (Index("ix_corrections_run", "run_id", "id"), Index("ix_corrections_group", "group_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # a CorrectionKind value
    user: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    trajectory_index: Mapped[int | None] = mapped_column(Integer, nullable=True)  # accept / reject
    frame: Mapped[int | None] = mapped_column(Integer, nullable=True)  # draw / erase / set
    # draw / erase: the stroke; set: the frame's new mask. result_rle: the frame's answer right after.
    rle: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    result_rle: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)  # threshold corrections
    target_id: Mapped[int | None] = mapped_column(  # undo: the correction it undoes
        ForeignKey("corrections.id", ondelete="CASCADE"), nullable=True)
    # Added in revision 0003 (see CorrectionRecord): the object a pixel edit or an accept is about (None:
    # the union), where a propagated edit came from, and the action (first correction's id) it belongs to.
    object_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source_frame: Mapped[int | None] = mapped_column(Integer, nullable=True)
    propagated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ExportRow(Base):
    __tablename__ = "exports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    format: Mapped[str] = mapped_column(String(32))
    out_path: Mapped[str] = mapped_column(Text)
    video_ids: Mapped[list] = mapped_column(JSON)
    run_ids: Mapped[list] = mapped_column(JSON)
    num_expressions: Mapped[int] = mapped_column(Integer)
    num_frames: Mapped[int] = mapped_column(Integer)
    num_corrected_frames: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
