"""Initial schema: users, tokens, koban, beats (versioned), buildings, households,
visits, night approvals, append-only audit log, imports, rebalancing jobs.

On PostgreSQL also PostGIS point / polygon columns with GiST indexes, kept
in step with the portable lon/lat and WKB columns by triggers.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 15:50:03.753093
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=128), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_user_id"), ["user_id"], unique=False)

    op.create_table(
        "beat_versions",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "buildings",
        sa.Column("building_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("floors", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("complex_id", sa.String(length=64), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("building_id"),
    )
    with op.batch_alter_table("buildings", schema=None) as batch_op:
        batch_op.create_index("ix_buildings_lonlat", ["lon", "lat"], unique=False)
        batch_op.create_index("ix_buildings_xy", ["x", "y"], unique=False)

    op.create_table(
        "households",
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("beat_id", sa.String(length=64), nullable=True),
        sa.Column("building_id", sa.String(length=64), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("personal", sa.JSON(), nullable=True),
        sa.Column("occupancy", sa.String(length=16), nullable=False),
        sa.Column("last_contact", sa.Date(), nullable=True),
        sa.Column("absences", sa.Integer(), nullable=False),
        sa.Column("visit_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("household_id"),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_households_beat_id"), ["beat_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_households_building_id"), ["building_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_households_last_contact"), ["last_contact"], unique=False
        )
        batch_op.create_index("ix_households_lonlat", ["lon", "lat"], unique=False)
        batch_op.create_index("ix_households_xy", ["x", "y"], unique=False)

    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "koban",
        sa.Column("koban_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("koban_id"),
    )
    with op.batch_alter_table("koban", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_koban_station"), ["station"], unique=False)

    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_login_failures_key", ["username", "client_ip", "at"], unique=False
        )

    op.create_table(
        "night_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("start", sa.String(length=5), nullable=False),
        sa.Column("end", sa.String(length=5), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("officer_id", "on_date", "start"),
    )
    with op.batch_alter_table("night_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_night_approvals_officer_id"), ["officer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_night_approvals_on_date"), ["on_date"], unique=False)

    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("koban_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("beat_id", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("shift_pattern", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("officer_id"),
    )
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officers_beat_id"), ["beat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_officers_koban_id"), ["koban_id"], unique=False)

    op.create_table(
        "rebalance_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(length=512), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        sa.Column("station", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_tokens_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_access_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "beats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("beat_id", sa.String(length=64), nullable=False),
        sa.Column("koban_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("geom_wkb", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version"],
            ["beat_versions.version"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version", "beat_id"),
    )
    with op.batch_alter_table("beats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_beats_beat_id"), ["beat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_beats_koban_id"), ["koban_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_beats_version"), ["version"], unique=False)

    op.create_table(
        "visits",
        sa.Column("visit_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("time", sa.String(length=5), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
        ),
        sa.PrimaryKeyConstraint("visit_id"),
        sa.UniqueConstraint("created_by", "idempotency_key"),
    )
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visits_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visits_officer_id"), ["officer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visits_visited_on"), ["visited_on"], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _postgis_upgrade()
    # The audit log is append-only on every database: no UPDATE, no DELETE.
    if bind.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def _postgis_upgrade() -> None:
    """PostGIS columns, GiST indexes and the triggers that fill them.

    Points are in EPSG:6675 (metres, from x / y), so KNN ``<->`` orders by
    true planar distance; beat polygons stay in WGS84 as imported.
    """
    from geoalchemy2 import Geometry

    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for table in ("koban", "buildings", "households"):
        op.add_column(
            table,
            sa.Column("geom", Geometry("POINT", srid=6675, spatial_index=False), nullable=True),
        )
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
        op.execute(
            f"CREATE FUNCTION {table}_set_geom() RETURNS trigger AS $$ BEGIN "
            "NEW.geom := ST_SetSRID(ST_MakePoint(NEW.x, NEW.y), 6675); RETURN NEW; "
            "END $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {table}_set_geom BEFORE INSERT OR UPDATE OF x, y ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_set_geom()"
        )
    op.add_column(
        "beats",
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=True),
    )
    op.create_index("ix_beats_geom", "beats", ["geom"], postgresql_using="gist")
    op.execute(
        "CREATE FUNCTION beats_set_geom() RETURNS trigger AS $$ BEGIN "
        "NEW.geom := CASE WHEN NEW.geom_wkb IS NULL THEN NULL "
        "ELSE ST_SetSRID(ST_GeomFromWKB(NEW.geom_wkb), 4326) END; RETURN NEW; "
        "END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER beats_set_geom BEFORE INSERT OR UPDATE OF geom_wkb ON beats "
        "FOR EACH ROW EXECUTE FUNCTION beats_set_geom()"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
        for table in ("koban", "buildings", "households", "beats"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_set_geom ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {table}_set_geom()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_visited_on"))
        batch_op.drop_index(batch_op.f("ix_visits_officer_id"))
        batch_op.drop_index(batch_op.f("ix_visits_household_id"))

    op.drop_table("visits")
    with op.batch_alter_table("beats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_beats_version"))
        batch_op.drop_index(batch_op.f("ix_beats_koban_id"))
        batch_op.drop_index(batch_op.f("ix_beats_beat_id"))

    op.drop_table("beats")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_expires_at"))

    op.drop_table("access_tokens")
    op.drop_table("users")
    op.drop_table("rebalance_jobs")
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officers_koban_id"))
        batch_op.drop_index(batch_op.f("ix_officers_beat_id"))

    op.drop_table("officers")
    with op.batch_alter_table("night_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_night_approvals_on_date"))
        batch_op.drop_index(batch_op.f("ix_night_approvals_officer_id"))

    op.drop_table("night_approvals")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_key")

    op.drop_table("login_failures")
    with op.batch_alter_table("koban", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_koban_station"))

    op.drop_table("koban")
    op.drop_table("imports")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index("ix_households_xy")
        batch_op.drop_index("ix_households_lonlat")
        batch_op.drop_index(batch_op.f("ix_households_last_contact"))
        batch_op.drop_index(batch_op.f("ix_households_building_id"))
        batch_op.drop_index(batch_op.f("ix_households_beat_id"))

    op.drop_table("households")
    with op.batch_alter_table("buildings", schema=None) as batch_op:
        batch_op.drop_index("ix_buildings_xy")
        batch_op.drop_index("ix_buildings_lonlat")

    op.drop_table("buildings")
    op.drop_table("beat_versions")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
