"""Initial schema: videos, expressions, runs, trajectories, corrections.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("num_frames", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("frame_names", sa.JSON, nullable=False),
        _created_at(),
        sa.UniqueConstraint("content_hash", name="uq_videos_content_hash"),
    )
    op.create_table(
        "expressions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_hash", sa.String(64), nullable=False),
        _created_at(),
        sa.UniqueConstraint("video_id", "text_hash", name="uq_expressions_video_text"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("video_id", sa.Integer, sa.ForeignKey("videos.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expression_id", sa.Integer, sa.ForeignKey("expressions.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("crop_size", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("at_least_one", sa.Boolean, nullable=False),
        sa.Column("link_crops", sa.Boolean, nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("num_frames", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("expression_read", sa.Text, nullable=False),
        sa.Column("selected", sa.JSON, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("timings", sa.JSON, nullable=False),
        _created_at(),
    )
    op.create_index("ix_runs_video_expression", "runs", ["video_id", "expression_id"])
    op.create_table(
        "trajectories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("trajectory_index", sa.Integer, nullable=False),
        sa.Column("crop_index", sa.Integer, nullable=False),
        sa.Column("frame_start", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("rles", sa.JSON, nullable=False),
        sa.UniqueConstraint("run_id", "trajectory_index", name="uq_trajectories_run_index"),
    )
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        _created_at(),
        sa.Column("trajectory_index", sa.Integer, nullable=True),
        sa.Column("frame", sa.Integer, nullable=True),
        sa.Column("rle", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("result_rle", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("corrections.id", ondelete="CASCADE"),
                  nullable=True),
    )
    op.create_index("ix_corrections_run", "corrections", ["run_id", "id"])


def downgrade() -> None:
    for table in ("corrections", "trajectories", "runs", "expressions", "videos"):
        op.drop_table(table)
