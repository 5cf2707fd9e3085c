"""Model versions (refit registers its models with their report), exports, and runs linked to a
registered model version.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("base_version", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("version", name="uq_model_versions_version"),
    )
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("out_path", sa.Text, nullable=False),
        sa.Column("video_ids", sa.JSON, nullable=False),
        sa.Column("run_ids", sa.JSON, nullable=False),
        sa.Column("num_expressions", sa.Integer, nullable=False),
        sa.Column("num_frames", sa.Integer, nullable=False),
        sa.Column("num_corrected_frames", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # On SQLite a batch rebuilds `runs` (migrate.upgrade switches foreign keys off around it).
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("model_version_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_runs_model_version_id_model_versions", "model_versions",
                                 ["model_version_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("fk_runs_model_version_id_model_versions", type_="foreignkey")
        batch.drop_column("model_version_id")
    op.drop_table("exports")
    op.drop_table("model_versions")
