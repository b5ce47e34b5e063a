"""The station beats map's figures, stored when computed (``page_station_maps``).

The beats map (``/station/beats``) summarises every household of a station
(workload per 町丁目 from grouped queries, 未把握 per 町丁目, the beats'
simplified polygons): about a second of database and CPU time, several on a
loaded machine. Its answer is kept here per station and beat version, so a
manager's open, also the first after the service starts, reads one row; the
service recomputes it in the background when it is older than
``api.pages.manager.MAP_FRESH_S`` and at start (``JUNKAI_PAGES_PREWARM``).

Revision ID: 0013_page_station_maps
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_page_station_maps"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_station_maps",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("koban_key", sa.String(64), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("page_station_maps")
