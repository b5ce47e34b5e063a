"""Point geometries labelled with the workspace's own CRS; buildings know their beat.

- PostgreSQL / PostGIS: the ``geom`` point columns of koban, buildings and
  households were declared SRID 6675 (Ishikawa's plane rectangular zone VII)
  in every workspace, while their (x, y) are in the workspace's metric CRS
  (``workspace_meta.crs``, e.g. the UTM zone of a workspace in Helsinki).
  They are now declared with that CRS's EPSG code, and the triggers that
  fill them use it (``api/geom_srid.py``); a workspace without a CRS yet
  keeps 6675, which is what it gets when nothing else is imported.
- ``buildings.beat_id``: the beat of a building (given, or placed by
  location on import like households), reported by ``junkai-geo status``.

Revision ID: 0010_geom_srid
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_geom_srid"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_SRID = "EPSG:6675"


def upgrade() -> None:
    with op.batch_alter_table("buildings") as batch:
        batch.add_column(sa.Column("beat_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_buildings_beat_id", ["beat_id"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from api.geom_srid import set_point_srid

        crs = bind.execute(sa.text("SELECT value FROM workspace_meta WHERE key = 'crs'")).scalar()
        if crs:
            set_point_srid(bind, str(crs))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from api.geom_srid import set_point_srid

        set_point_srid(bind, OLD_SRID)
    with op.batch_alter_table("buildings") as batch:
        batch.drop_index("ix_buildings_beat_id")
        batch.drop_column("beat_id")
