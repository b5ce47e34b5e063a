"""Day plans made ahead for every officer on duty (``junkai-geo plan-all``).

One row per officer and day (primary key), so a plan is stored once however
often a task runs; GET /plans/{officer}/{day} serves it when present.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "day_plans",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("unknown", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("officer_id", "on_date"),
    )
    op.create_index("ix_day_plans_on_date", "day_plans", ["on_date"])


def downgrade() -> None:
    op.drop_index("ix_day_plans_on_date", table_name="day_plans")
    op.drop_table("day_plans")
