"""The beat editor's server-side rules (no browser): scope, locks, CSRF, new version."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.auth import create_user
from api.db import Database
from api.main import create_app
from api.models import BeatRow, BeatVersion, HouseholdRow, UnitRow
from api.settings import ApiSettings
from api.store import load_dataset
from tests.api_tests.conftest import PASSWORD, USERS, small_dataset


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Database]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('editor') / 'editor.sqlite3'}"
    db = Database(url)
    db.migrate()
    with db.writing() as s:
        load_dataset(s, small_dataset(), source="test", today=date(2026, 11, 1))
        for name, (role, officer_id, station, _, _) in USERS.items():
            create_user(s, name, PASSWORD, role, officer_id=officer_id, station=station)
    app = create_app(ApiSettings(database_url=url, pages_prewarm=False, plan_processes=0), db=db)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, db
    db.dispose()


def login(c: TestClient, user: str) -> str:
    page = c.get("/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf_token": tok},
        follow_redirects=False,
    )
    assert r.status_code == 303
    editor = c.get("/station/editor")
    return re.search(r'name="csrf-token" content="([^"]+)"', editor.text).group(1)  # type: ignore[union-attr]


def post(c: TestClient, csrf: str, path: str, body: Any) -> Any:
    return c.post(path, json=body, headers={"X-CSRF-Token": csrf, "Accept": "application/json"})


def test_editor_data_is_the_station_only(client: Any) -> None:
    c, db = client
    login(c, "mgr_naka")
    d = c.get("/station/editor/data.json").json()
    assert {b["beat_id"] for b in d["beats"]} == {"BEAT-NAKA1", "BEAT-NAKA2"}
    assert {u["beat_id"] for u in d["units"]} == {"BEAT-NAKA1", "BEAT-NAKA2"}
    assert all(u["workload_h"] >= 0 for u in d["units"])
    # The two beats touch: some unit of one borders a unit of the other.
    beat = {u["i"]: u["beat_id"] for u in d["units"]}
    assert any(beat[a] != beat[b] for a, b in d["adjacency"])


def test_moves_are_checked_on_the_server(client: Any) -> None:
    c, db = client
    csrf = login(c, "mgr_naka")
    d = c.get("/station/editor/data.json").json()
    v = d["version"]
    # Without the CSRF header: refused, nothing written.
    r = c.post("/station/editor/accept", json={"version": v, "moves": []})
    assert r.status_code == 403
    # A unit of another station.
    r = post(
        c,
        csrf,
        "/station/editor/accept",
        {"version": v, "moves": [{"unit_id": "U-BEAT-HIGASHI1-0", "to_beat": "BEAT-NAKA1"}]},
    )
    assert r.status_code == 422 and "not in your station" in r.json()["detail"]
    # Into a beat of another station.
    r = post(
        c,
        csrf,
        "/station/editor/accept",
        {"version": v, "moves": [{"unit_id": "U-BEAT-NAKA1-1", "to_beat": "BEAT-HIGASHI1"}]},
    )
    assert r.status_code == 422
    # Into a locked beat.
    assert (
        post(c, csrf, "/station/editor/locks", {"locked_beats": ["BEAT-NAKA2"]}).status_code == 200
    )
    r = post(
        c,
        csrf,
        "/station/editor/accept",
        {"version": v, "moves": [{"unit_id": "U-BEAT-NAKA1-1", "to_beat": "BEAT-NAKA2"}]},
    )
    assert r.status_code == 422 and "locked" in r.json()["detail"]
    with db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(BeatVersion)) == 1
    # Unlocked: a new version; the unit and its households follow.
    assert post(c, csrf, "/station/editor/locks", {"locked_beats": []}).status_code == 200
    r = post(
        c,
        csrf,
        "/station/editor/accept",
        {"version": v, "moves": [{"unit_id": "U-BEAT-NAKA1-1", "to_beat": "BEAT-NAKA2"}]},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"new_version": v + 1, "units_moved": 1}
    with db.read_session() as s:
        assert s.get(UnitRow, "U-BEAT-NAKA1-1").beat_id == "BEAT-NAKA2"  # type: ignore[union-attr]
        hh = set(
            s.scalars(select(HouseholdRow.beat_id).where(HouseholdRow.unit_id == "U-BEAT-NAKA1-1"))
        )
        assert hh <= {"BEAT-NAKA2"}
        rows = s.scalars(select(BeatRow).where(BeatRow.version == v + 1)).all()
        assert {b.beat_id for b in rows} == {"BEAT-NAKA1", "BEAT-NAKA2", "BEAT-HIGASHI1"}
    # The editor opened on the old version is refused now.
    r = post(
        c,
        csrf,
        "/station/editor/accept",
        {"version": v, "moves": [{"unit_id": "U-BEAT-NAKA1-0", "to_beat": "BEAT-NAKA2"}]},
    )
    assert r.status_code == 409
    # The change map lists the move.
    page = c.get(f"/station/changes/{v + 1}")
    assert page.status_code == 200 and "U-BEAT-NAKA1-1" in page.text


def test_officers_cannot_edit(client: Any) -> None:
    c, db = client
    c.cookies.clear()
    page = c.get("/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    c.post("/login", data={"username": "off_naka1", "password": PASSWORD, "csrf_token": tok})
    assert (
        c.get("/station/editor/data.json", headers={"Accept": "application/json"}).status_code
        == 403
    )
