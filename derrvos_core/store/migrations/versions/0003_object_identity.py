"""Object identity in corrections (object_id, source_frame, propagated, group_id) and the words a run's
model ignored (runs.ignored).

Existing rows keep their meaning: corrections get object_id NULL (they edit the union, as before),
propagated false and no group; runs get an empty ignored list (what they were shown before: nothing).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        # BIGINT: user-made object ids start at 2**32 (derrvos_core.objects).
        batch.add_column(sa.Column("object_id", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("source_frame", sa.Integer, nullable=True))
        batch.add_column(sa.Column("propagated", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("group_id", sa.Integer, nullable=True))
    op.create_index("ix_corrections_group", "corrections", ["group_id"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("ignored", sa.JSON, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("ignored")
    op.drop_index("ix_corrections_group", table_name="corrections")
    with op.batch_alter_table("corrections") as batch:
        for column in ("group_id", "propagated", "source_frame", "object_id"):
            batch.drop_column(column)
