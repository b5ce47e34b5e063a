"""Census small areas (units) for rebalancing; households know their unit.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("households", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("beat_id", sa.String(length=64), nullable=True),
        sa.Column("koban_id", sa.String(length=64), nullable=True),
        sa.Column("geom_wkb", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("unit_id"),
    )
    op.create_index("ix_units_beat_id", "units", ["beat_id"])
    with op.batch_alter_table("households") as batch:
        batch.add_column(sa.Column("unit_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_households_unit_id", ["unit_id"])


def downgrade() -> None:
    with op.batch_alter_table("households") as batch:
        batch.drop_index("ix_households_unit_id")
        batch.drop_column("unit_id")
    op.drop_index("ix_units_beat_id", table_name="units")
    op.drop_table("units")
