"""One store of day plans: the pages' ``page_plans`` folded into ``day_plans``.

The route page used to keep its own copy of the day's plan beside the
plans made ahead by ``junkai-geo plan-all``; now both read and write
``day_plans`` (one row per officer and day). ``day_plans`` gains
``replans`` (how often the officer re-planned the rest of that day). Each
``page_plans`` row is moved over unless ``day_plans`` already holds that
officer and day: a re-planned page plan (``replans > 0``) replaces it, since
it is the route the officer was following; an untouched page copy does not
(plan-all's row is the same plan or newer).

Revision ID: 0011_one_plan_store
Revises: 0009
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0011_one_plan_store"
down_revision = "0010_geom_srid"
branch_labels = None
depends_on = None


def _count(plan: dict, key: str) -> int:
    hh = [h for s in plan.get("stops", []) or [] for h in s.get("households", []) or []]
    if key == "unknown":
        return sum(1 for h in hh if h.get("card_status") == "none")
    return len(hh)


def upgrade() -> None:
    with op.batch_alter_table("day_plans") as batch:
        batch.add_column(sa.Column("replans", sa.Integer(), nullable=False, server_default="0"))
    bind = op.get_bind()
    page_plans = sa.table(
        "page_plans",
        sa.column("officer_id", sa.String),
        sa.column("on_date", sa.Date),
        sa.column("plan", sa.JSON),
        sa.column("replans", sa.Integer),
        sa.column("updated_at", sa.DateTime),
    )
    day_plans = sa.table(
        "day_plans",
        sa.column("officer_id", sa.String),
        sa.column("on_date", sa.Date),
        sa.column("station", sa.String),
        sa.column("plan", sa.JSON),
        sa.column("households", sa.Integer),
        sa.column("unknown", sa.Integer),
        sa.column("seed", sa.Integer),
        sa.column("time_limit_s", sa.Float),
        sa.column("seconds", sa.Float),
        sa.column("created_at", sa.DateTime),
        sa.column("replans", sa.Integer),
    )
    officers = sa.table(
        "officers", sa.column("officer_id", sa.String), sa.column("koban_id", sa.String)
    )
    koban = sa.table("koban", sa.column("koban_id", sa.String), sa.column("station", sa.String))
    station_of = dict(
        bind.execute(
            sa.select(officers.c.officer_id, koban.c.station).select_from(
                officers.join(koban, officers.c.koban_id == koban.c.koban_id)
            )
        ).all()
    )
    have = {
        (o, d): True
        for o, d in bind.execute(sa.select(day_plans.c.officer_id, day_plans.c.on_date)).all()
    }
    for row in bind.execute(sa.select(page_plans)).mappings().all():
        key = (row["officer_id"], row["on_date"])
        if key in have:
            if not row["replans"]:
                continue
            bind.execute(
                sa.delete(day_plans).where(
                    day_plans.c.officer_id == key[0], day_plans.c.on_date == key[1]
                )
            )
        plan = row["plan"] or {}
        bind.execute(
            sa.insert(day_plans).values(
                officer_id=key[0],
                on_date=key[1],
                station=station_of.get(key[0]) or "",
                plan=plan,
                households=_count(plan, "households"),
                unknown=_count(plan, "unknown"),
                seed=0,
                time_limit_s=0.0,
                seconds=0.0,
                created_at=row["updated_at"] or datetime.now(UTC).replace(tzinfo=None),
                replans=row["replans"] or 0,
            )
        )
    op.drop_index("ix_page_plans_officer_id", table_name="page_plans")
    op.drop_table("page_plans")


def downgrade() -> None:
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
    # The plans stay in day_plans (served by GET /plans); the page store starts empty.
    with op.batch_alter_table("day_plans") as batch:
        batch.drop_column("replans")
