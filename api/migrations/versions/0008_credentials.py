"""Credentials that can be withdrawn, and login throttling by address.

- ``api_keys.expires_at``: API keys expire (``api_key_ttl_days``); keys made
  before this migration get no expiry and can be listed and revoked.
- ``(client_ip, at)`` on ``login_failures``: the per-address count of failed
  logins (password spraying) reads an index range, not the table.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.create_index("ix_login_failures_ip", "login_failures", ["client_ip", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_ip", table_name="login_failures")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
