"""Fixtures of the API tests: a small three-beat area on SQLite and PostgreSQL.

The PostgreSQL runs need ``JUNKAI_TEST_POSTGRES_URL`` (``scripts/ci_postgres.sh``
prints one); each test session makes a fresh database of its own and drops
it at the end. Without the variable the PostgreSQL runs skip locally and
fail in CI (``CI`` set), so CI cannot pass without PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from api.auth import create_user
from api.db import Database
from api.jobs import join_children
from api.main import create_app
from api.settings import ApiSettings
from api.store import load_dataset
from junkai_geo.model import Dataset

POSTGRES_ENV = "JUNKAI_TEST_POSTGRES_URL"
PASSWORD = "correct-horse-battery"

#: (beat, koban, station, lon_min): three beats side by side in central Kanazawa.
BEATS = [
    ("BEAT-NAKA1", "K-NAKA1", "金沢中", 136.60),
    ("BEAT-NAKA2", "K-NAKA2", "金沢中", 136.62),
    ("BEAT-HIGASHI1", "K-HIGASHI1", "金沢東", 136.64),
]
LAT0, SIZE = 36.55, 0.02
HOUSEHOLDS_PER_BEAT = 8

#: user -> (role, officer_id, station, own beat, another beat outside the scope)
USERS: dict[str, tuple[str, str | None, str | None, str, str]] = {
    "off_naka1": ("officer", "O-NAKA1", None, "BEAT-NAKA1", "BEAT-NAKA2"),
    "off_naka2": ("officer", "O-NAKA2", None, "BEAT-NAKA2", "BEAT-NAKA1"),
    "off_higashi1": ("officer", "O-HIGASHI1", None, "BEAT-HIGASHI1", "BEAT-NAKA1"),
    "mgr_naka": ("manager", None, "金沢中", "BEAT-NAKA1", "BEAT-HIGASHI1"),
    "mgr_higashi": ("manager", None, "金沢東", "BEAT-HIGASHI1", "BEAT-NAKA1"),
    "admin": ("admin", None, None, "BEAT-NAKA1", ""),
}


def household_ids(beat: str) -> list[str]:
    return [f"H-{beat}-{i:02d}" for i in range(1, HOUSEHOLDS_PER_BEAT + 1)]


def personal_name(beat: str) -> str:
    return f"巡回太郎{beat}"


def small_dataset() -> Dataset:
    """Three beats, two stations, eight households a beat, a few visits."""
    koban, beats, officers, buildings, households, visits = [], [], [], [], [], []
    units = []
    for n, (beat, kid, station, lon0) in enumerate(BEATS):
        koban.append(
            {
                "koban_id": kid,
                "name": f"{kid}交番",
                "kind": "koban",
                "station": station,
                "geometry": Point(lon0 + 0.001, LAT0 + 0.001),
            }
        )
        beats.append(
            {
                "beat_id": beat,
                "koban_id": kid,
                "name": beat,
                "geometry": box(lon0, LAT0, lon0 + SIZE, LAT0 + SIZE),
            }
        )
        half = SIZE / 2
        for q in range(4):  # four census units (町丁目) per beat, 2 x 2
            ux, uy = lon0 + half * (q % 2), LAT0 + half * (q // 2)
            units.append(
                {
                    "unit_id": f"U-{beat}-{q}",
                    "name": f"{beat}-{q}",
                    "households": 0,
                    "area_m2": 0.0,
                    "beat_id": beat,
                    "koban_id": kid,
                    "geometry": box(ux, uy, ux + half, uy + half),
                }
            )
        officers.append(
            {
                "officer_id": f"O-{beat[5:]}",
                "koban_id": kid,
                "role": "beat",
                "beat_id": beat,
                "mode": "walk",
                "shift_pattern": "day",
            }
        )
        for j in range(4):
            buildings.append(
                {
                    "building_id": f"BL-{beat}-{j}",
                    "kind": "apartment",
                    "floors": 3,
                    "units": 6,
                    "complex_id": None,
                    "geometry": Point(lon0 + 0.004 * (j + 1), LAT0 + 0.01),
                }
            )
        for i, hid in enumerate(household_ids(beat)):
            row = {
                "household_id": hid,
                "kind": "business" if i == 7 else "home",
                "beat_id": beat,
                "building_id": f"BL-{beat}-{i % 4}",
                "floor": 1 + i % 3,
                "address": f"テスト町{n + 1}丁目 {i + 1}",
                "registered_on": date(2015, 4, 1),
                "resident_name": personal_name(beat) if i == 0 else None,
                "phone": "076-000-0000" if i == 0 else None,
                "geometry": Point(lon0 + 0.002 * (i + 1), LAT0 + 0.005 + 0.001 * i),
            }
            q = int(row["geometry"].x >= lon0 + SIZE / 2) + 2 * int(
                row["geometry"].y >= LAT0 + SIZE / 2
            )
            row["unit_id"] = f"U-{beat}-{q}"
            households.append(row)
        visits.append(
            {
                "visit_id": f"V-{beat}-1",
                "household_id": household_ids(beat)[1],
                "officer_id": f"O-{beat[5:]}",
                "visited_on": date(2025, 6, 1),
                "time": "10:30",
                "outcome": "met",
            }
        )
        visits.append(
            {
                "visit_id": f"V-{beat}-2",
                "household_id": household_ids(beat)[2],
                "officer_id": f"O-{beat[5:]}",
                "visited_on": date(2021, 1, 10),
                "time": "14:00",
                "outcome": "met",
            }
        )
    hh_per_unit = pd.Series([h["unit_id"] for h in households]).value_counts()
    for u in units:
        u["households"] = int(hh_per_unit.get(u["unit_id"], 0))
    return Dataset(
        crs="EPSG:6675",
        units=gpd.GeoDataFrame(units, crs="EPSG:4326"),
        koban=gpd.GeoDataFrame(koban, crs="EPSG:4326"),
        beats=gpd.GeoDataFrame(beats, crs="EPSG:4326"),
        officers=pd.DataFrame(officers),
        buildings=gpd.GeoDataFrame(buildings, crs="EPSG:4326"),
        households=gpd.GeoDataFrame(households, crs="EPSG:4326"),
        visits=pd.DataFrame(visits),
    )


def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(
                f"{POSTGRES_ENV} is not set: CI must start PostgreSQL "
                "(scripts/ci_postgres.sh) so the API runs on it too"
            )
        pytest.skip(
            f"{POSTGRES_ENV} is not set: run scripts/ci_postgres.sh and export it "
            "to run the API tests on PostgreSQL too"
        )
    return url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new database on the test cluster, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_admin_url())
    name = f"junkai_test_{uuid.uuid4().hex[:10]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this session on the test cluster, dropped at the end."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a database of its own for one test, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'junkai.sqlite3'}"
        return
    with fresh_postgres_database() as url:
        yield url


def new_database_url(backend: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'junkai.sqlite3'}"
    return str(request.getfixturevalue("postgres_database"))


@dataclass
class ApiEnv:
    backend: str
    url: str
    db: Database
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def seed(db: Database) -> None:
    with db.writing() as session:
        load_dataset(session, small_dataset(), source="test", today=date(2026, 11, 1))
        for name, (role, officer_id, station, _, _) in USERS.items():
            create_user(session, name, PASSWORD, role, officer_id=officer_id, station=station)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def api_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiEnv]:
    """The service on a seeded database, with a token for every test user."""
    backend = request.param
    url = new_database_url(backend, tmp_path_factory.mktemp(f"api_{backend}"), request)
    # A short planning budget: the test area is small and the suite must stay fast.
    # Every test here logs in from the one TestClient address, and the
    # schemathesis test tries many wrong credentials: the per-address and
    # per-account limits are lifted here (test_attacks.py tests them on
    # services of its own); the per (account, address) limit stays.
    settings = ApiSettings(
        database_url=url,
        plan_time_limit_s=0.4,
        max_rebalance_jobs=50,
        max_calendar_jobs=50,
        login_max_failures_per_address=10**9,
        login_max_failures_per_account=10**9,
    )
    db = Database(url, pool_size=5, max_overflow=10)
    app = create_app(settings, db=db)
    seed(db)
    client = TestClient(app)
    env = ApiEnv(backend, url, db, client)
    for name in USERS:
        r = client.post("/auth/token", data={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        env.tokens[name] = r.json()["access_token"]
    yield env
    join_children()  # rebalancing jobs must end before their database goes
    client.close()
    db.dispose()
