"""Pages: the day's route an officer works from; units moved by the beat editor.

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("replans", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("officer_id", "on_date"),
    )
    op.create_index("ix_page_plans_officer_id", "page_plans", ["officer_id"])
    op.create_table(
        "page_beat_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("from_beat", sa.String(length=64), nullable=False),
        sa.Column("to_beat", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_page_beat_changes_version", "page_beat_changes", ["version"])


def downgrade() -> None:
    op.drop_index("ix_page_beat_changes_version", table_name="page_beat_changes")
    op.drop_table("page_beat_changes")
    op.drop_index("ix_page_plans_officer_id", table_name="page_plans")
    op.drop_table("page_plans")
