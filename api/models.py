"""The service's tables (SQLAlchemy 2 ORM).

Geometry, portable design: every point row holds ``lon`` / ``lat`` (WGS84,
for output and bbox queries) and ``x`` / ``y`` (metres in the project's metric
CRS of the workspace, ``workspace_meta.crs``, EPSG:6675 in Ishikawa, for
distances), with B-tree indexes on both pairs. Beat
polygons are WKB (WGS84) in ``geom_wkb``. On PostgreSQL the migration adds
PostGIS ``geom`` columns (GeoAlchemy2 types, GiST indexes) kept in step with
those columns by triggers, and the spatial queries use them; the point
columns carry the SRID of the workspace's CRS (``api/geom_srid.py``), beat
polygons SRID 4326; they are not
mapped here so that one ORM model serves both databases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # officer / manager / admin
    officer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    station: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: None for keys made before keys expired (migration 0008).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AccessToken(Base):
    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key", "username", "client_ip", "at"),
        Index("ix_login_failures_ip", "client_ip", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class KobanRow(Base):
    __tablename__ = "koban"
    koban_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    station: Mapped[str] = mapped_column(String(64), index=True, default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)


class BeatVersion(Base):
    __tablename__ = "beat_versions"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))  # import / demo / rebalance
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(String(512), default="")


class BeatRow(Base):
    __tablename__ = "beats"
    __table_args__ = (UniqueConstraint("version", "beat_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(ForeignKey("beat_versions.version"), index=True)
    beat_id: Mapped[str] = mapped_column(String(64), index=True)
    koban_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    households: Mapped[int] = mapped_column(Integer, default=0)
    geom_wkb: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class UnitRow(Base):
    """A census small area (町丁目): the building block of beats when rebalancing."""

    __tablename__ = "units"
    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    households: Mapped[float] = mapped_column(Float, default=0.0)
    area_m2: Mapped[float] = mapped_column(Float, default=0.0)
    beat_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    koban_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    geom_wkb: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class OfficerRow(Base):
    __tablename__ = "officers"
    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    koban_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16), default="beat")
    beat_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    mode: Mapped[str] = mapped_column(String(16), default="walk")
    shift_pattern: Mapped[str] = mapped_column(String(32), default="day")


class BuildingRow(Base):
    __tablename__ = "buildings"
    __table_args__ = (
        Index("ix_buildings_xy", "x", "y"),
        Index("ix_buildings_lonlat", "lon", "lat"),
        Index("ix_buildings_beat_id", "beat_id"),
    )
    building_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    floors: Mapped[int] = mapped_column(Integer, default=1)
    units: Mapped[int] = mapped_column(Integer, default=1)
    complex_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Given, or the beat whose polygon holds the building (api.importer).
    beat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)


class HouseholdRow(Base):
    """A household; its card fields are derived from its visits.

    ``occupancy``, ``last_contact``, ``absences`` and ``visit_count`` are what
    :func:`junkai_geo.model.card_state` says of the household's visits,
    recomputed in the same transaction as each visit; the card status itself
    depends on the day and is derived at read time from ``last_contact``.
    """

    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_xy", "x", "y"),
        Index("ix_households_lonlat", "lon", "lat"),
        # A beat's households in list order; partial indexes of the 未把握
        # (migration 0004, which also adds the dialect-specific ones by position).
        Index("ix_households_beat_household", "beat_id", "household_id"),
        # The heavy reports' grouped queries (migration 0012, api.aggregates).
        Index("ix_households_id_beat", "household_id", "beat_id"),
        Index(
            "ix_households_report",
            "beat_id",
            "unit_id",
            "occupancy",
            "last_contact",
            "kind",
            "floor",
            "building_id",
            "household_id",
        ),
        Index(
            "ix_households_unknown_beat",
            "beat_id",
            "household_id",
            sqlite_where=text("last_contact IS NULL"),
            postgresql_where=text("last_contact IS NULL"),
        ),
    )
    household_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    beat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    building_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    floor: Mapped[int] = mapped_column(Integer, default=1)
    address: Mapped[str] = mapped_column(String(256), default="")
    registered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    #: Personal fields (model.PERSONAL_FIELDS) only; null when none.
    personal: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The census small area (町丁目) the household lies in: rebalancing moves units.
    unit_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    occupancy: Mapped[str] = mapped_column(String(16), default="occupied")
    last_contact: Mapped[date | None] = mapped_column(Date, nullable=True)
    absences: Mapped[int] = mapped_column(Integer, default=0)
    visit_count: Mapped[int] = mapped_column(Integer, default=0)


class VisitRow(Base):
    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("created_by", "idempotency_key"),
        # The heavy reports' grouped queries (migration 0012, api.aggregates).
        Index("ix_visits_day_report", "visited_on", "household_id", "officer_id", "outcome"),
        Index("ix_visits_household_report", "household_id", "outcome", "visited_on", "time"),
    )
    visit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.household_id"), index=True)
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    visited_on: Mapped[date] = mapped_column(Date, index=True)
    time: Mapped[str] = mapped_column(String(5))
    outcome: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NightApproval(Base):
    __tablename__ = "night_approvals"
    __table_args__ = (UniqueConstraint("officer_id", "on_date", "start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    on_date: Mapped[date] = mapped_column(Date, index=True)
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    approved_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEntry(Base):
    """Append-only: triggers on both databases refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(128), default="")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ImportRecord(Base):
    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int] = mapped_column(Integer)
    layer: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # accepted / rejected
    rows: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)


class RebalanceJob(Base):
    __tablename__ = "rebalance_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    station: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(512), default="")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CalendarJob(Base):
    """A koban's multi-day calendar (or a new officer's beat plan) planned in
    the background; ``result`` holds the compact calendar and its forecast."""

    __tablename__ = "calendar_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # calendar / new_officer
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    koban_id: Mapped[str] = mapped_column(String(64), index=True)
    beat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    start: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(String(512), default="")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)


class WorkspaceMeta(Base):
    """What the workspace keeps about itself (``crs``: the metric CRS of x / y)."""

    __tablename__ = "workspace_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(512))


class StreetNetworkRow(Base):
    """The street network of one travel mode, built once by ``import network``.

    ``data`` is :func:`junkai_geo.network_store.network_to_bytes` of the
    graph (arrays in an npz, clipped to the workspace's beats and a margin).
    """

    __tablename__ = "street_networks"
    mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    source_file: Mapped[str] = mapped_column(String(256))
    file_sha256: Mapped[str] = mapped_column(String(64))
    crs: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DayPlanRow(Base):
    """A day plan (``DayPlan.to_dict()``), one per officer and day: made ahead by
    ``junkai-geo plan-all``, or by the route page when none was; replaced by a
    re-plan. GET /plans/{officer}/{day} and the route page serve it."""

    __tablename__ = "day_plans"
    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_date: Mapped[date] = mapped_column(Date, primary_key=True)
    station: Mapped[str] = mapped_column(String(64), default="")
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    households: Mapped[int] = mapped_column(Integer, default=0)
    unknown: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    time_limit_s: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Times the officer re-planned the rest of the day (the route page; migration 0011).
    replans: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
