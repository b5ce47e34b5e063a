"""Covering indexes for the heavy reports' grouped queries (``api.aggregates``).

- ``visits (visited_on, household_id, officer_id, outcome)``: a period's
  visits per officer and week are read from the index alone;
- ``visits (household_id, outcome, visited_on, time)``: "had this household
  a contact on an earlier day" and a household's card state before a day
  are one seek each;
- ``households (household_id, beat_id)``: the beat of a visited household
  without reading the household's row (its address and personal fields);
- ``households (beat_id, unit_id, occupancy, last_contact, kind, floor,
  building_id, household_id)``: the per-beat and per-町丁目 counts of the progress report
  and the beats map's workload from the index alone.

Revision ID: 0012
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011_one_plan_store"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_visits_day_report": ("visits", ["visited_on", "household_id", "officer_id", "outcome"]),
    "ix_visits_household_report": ("visits", ["household_id", "outcome", "visited_on", "time"]),
    "ix_households_id_beat": ("households", ["household_id", "beat_id"]),
    "ix_households_report": (
        "households",
        [
            "beat_id",
            "unit_id",
            "occupancy",
            "last_contact",
            "kind",
            "floor",
            "building_id",
            "household_id",
        ],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    postgres = op.get_bind().dialect.name == "postgresql"
    # Statistics for the planner to choose these indexes (imports refresh them too).
    for statement in ("ANALYZE households", "ANALYZE visits") if postgres else ("ANALYZE",):
        op.execute(statement)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
