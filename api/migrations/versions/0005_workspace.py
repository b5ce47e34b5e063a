"""The workspace: its own settings (metric CRS, reference day) and street networks.

- ``workspace_meta``: key / value pairs the workspace keeps about itself.
  ``crs`` is the metric CRS of the ``x`` / ``y`` columns; a database that
  already holds households was made in Ishikawa's EPSG:6675 and gets it.
- ``street_networks``: one routable graph per travel mode (walk, bicycle),
  built once by ``junkai-geo import network`` and read by every plan.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "workspace_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "street_networks",
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("source_file", sa.String(length=256), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("crs", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("mode"),
    )
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM households LIMIT 1")).first() is not None:
        op.bulk_insert(meta, [{"key": "crs", "value": "EPSG:6675"}])


def downgrade() -> None:
    op.drop_table("street_networks")
    op.drop_table("workspace_meta")
