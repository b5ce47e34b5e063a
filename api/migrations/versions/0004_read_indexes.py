"""Indexes for the officers' reads: households of a beat in order, 未把握 near a point.

- ``(beat_id, household_id)`` replaces ``(beat_id)``: a beat's households
  come out of the index already in the order the list returns them, so a
  page of 100 reads 100 index entries instead of sorting the beat.
- A partial ``(beat_id, household_id)`` index of the households without a
  card (``last_contact IS NULL``): the 未把握 of a beat, in order.
- SQLite: the occupied households without a card by position, a partial
  B-tree on ``(x, y)`` (the growing-square search of ``households/near``
  reads a strip of it, y checked in the index). Before, SQLite went
  through every 未把握 household of the caller's scope. PostgreSQL
  combines its GiST index on ``geom`` with the partial beat index above.
- ``(last_contact)`` goes: no list reads it better than the indexes above,
  and SQLite's planner chose it for ``last_contact IS NULL`` (it cannot
  tell that over half the households have no contact date).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNKNOWN = sa.text("last_contact IS NULL")
UNKNOWN_OCCUPIED = sa.text("last_contact IS NULL AND occupancy = 'occupied'")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_households_beat_id", table_name="households")
    op.drop_index("ix_households_last_contact", table_name="households")
    op.create_index("ix_households_beat_household", "households", ["beat_id", "household_id"])
    op.create_index(
        "ix_households_unknown_beat",
        "households",
        ["beat_id", "household_id"],
        sqlite_where=UNKNOWN,
        postgresql_where=UNKNOWN,
    )
    if not postgres:
        op.create_index(
            "ix_households_unknown_xy", "households", ["x", "y"], sqlite_where=UNKNOWN_OCCUPIED
        )
    # Statistics for the planner to choose these indexes (imports refresh them too).
    op.execute("ANALYZE households" if postgres else "ANALYZE")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        op.drop_index("ix_households_unknown_xy", table_name="households")
    op.drop_index("ix_households_unknown_beat", table_name="households")
    op.drop_index("ix_households_beat_household", table_name="households")
    op.create_index("ix_households_beat_id", "households", ["beat_id"])
    op.create_index("ix_households_last_contact", "households", ["last_contact"])
