"""Behaviour of the service: visits and cards, idempotency, audit, survey, login."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from api.db import Database
from api.models import AuditEntry, HouseholdRow, VisitRow

from .conftest import PASSWORD, ApiEnv, household_ids


def visit(
    env: ApiEnv,
    user: str,
    household: str,
    outcome: str,
    *,
    key: str | None = None,
    day: str = "2026-10-02",
    time: str = "11:00",
    header: bool = True,
):
    key = key or uuid.uuid4().hex
    body = {"household_id": household, "visited_on": day, "time": time, "outcome": outcome}
    headers = env.auth(user)
    if header:
        headers["Idempotency-Key"] = key
    else:
        body["idempotency_key"] = key
    return env.client.post("/visits", json=body, headers=headers)


def test_health_needs_no_token(api_env: ApiEnv) -> None:
    r = api_env.client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] == {"sqlite": "sqlite", "postgres": "postgresql"}[api_env.backend]


def test_card_status_follows_visits(api_env: ApiEnv) -> None:
    hid = household_ids("BEAT-NAKA1")[3]
    before = api_env.client.get(f"/households/{hid}", headers=api_env.auth("off_naka1")).json()
    assert before["card_status"] == "none"
    r = visit(api_env, "off_naka1", hid, "absent")
    assert r.status_code == 201 and r.json()["card_status"] == "none"
    r = visit(api_env, "off_naka1", hid, "met", day="2026-10-03")
    assert r.status_code == 201 and r.json()["card_status"] == "current"
    h = api_env.client.get(f"/households/{hid}", headers=api_env.auth("off_naka1")).json()
    assert h["card_status"] == "current" and h["last_contact"] == "2026-10-03"
    assert h["absences"] == 0 and h["visits"] == before["visits"] + 2
    # No longer among the unvisited around that point.
    near = api_env.client.get(
        "/households/near",
        headers=api_env.auth("off_naka1"),
        params={"lon": h["lon"], "lat": h["lat"], "limit": 100},
    ).json()
    assert hid not in {n["household_id"] for n in near}
    assert all(n["card_status"] == "none" for n in near)
    dists = [n["distance_m"] for n in near]
    assert dists == sorted(dists)


def test_moved_out_household_leaves_the_candidates(api_env: ApiEnv) -> None:
    hid = household_ids("BEAT-NAKA2")[4]
    assert visit(api_env, "off_naka2", hid, "moved_out").status_code == 201
    listed = api_env.client.get(
        "/households",
        params={"status": "none", "beat_id": "BEAT-NAKA2"},
        headers=api_env.auth("off_naka2"),
    ).json()
    assert {h["household_id"]: h["occupancy"] for h in listed}[hid] == "moved_out"
    h = listed[0]
    near = api_env.client.get(
        "/households/near",
        headers=api_env.auth("off_naka2"),
        params={"lon": h["lon"], "lat": h["lat"], "limit": 100},
    ).json()
    assert hid not in {n["household_id"] for n in near}


@pytest.mark.parametrize("header", [True, False])
def test_visit_idempotency(api_env: ApiEnv, header: bool) -> None:
    hid = household_ids("BEAT-HIGASHI1")[6]
    key = uuid.uuid4().hex
    first = visit(api_env, "off_higashi1", hid, "absent", key=key, header=header)
    again = visit(api_env, "off_higashi1", hid, "absent", key=key, header=header)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["visit_id"] == first.json()["visit_id"] and again.json()["replayed"]
    with api_env.db.read_session() as s:
        n = s.scalar(
            select(func.count()).select_from(VisitRow).where(VisitRow.idempotency_key == key)
        )
    assert n == 1
    other = visit(api_env, "off_higashi1", hid, "met", key=key, header=header)
    assert other.status_code == 409


def test_visit_needs_a_key_and_a_sane_date(api_env: ApiEnv) -> None:
    hid = household_ids("BEAT-NAKA1")[4]
    r = api_env.client.post(
        "/visits",
        headers=api_env.auth("off_naka1"),
        json={"household_id": hid, "visited_on": "2026-10-01", "time": "10:00", "outcome": "met"},
    )
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]
    r = visit(api_env, "off_naka1", hid, "met", day="2999-01-01")
    assert r.status_code == 422 and "visited_on" in str(r.json()["detail"])
    r = visit(api_env, "off_naka1", hid, "met", time="25:00")
    assert r.status_code == 422


def test_officer_cannot_register_for_another_officer(api_env: ApiEnv) -> None:
    r = api_env.client.post(
        "/visits",
        headers={**api_env.auth("off_naka1"), "Idempotency-Key": uuid.uuid4().hex},
        json={
            "household_id": household_ids("BEAT-NAKA1")[4],
            "visited_on": "2026-10-01",
            "time": "10:00",
            "outcome": "met",
            "officer_id": "O-NAKA2",
        },
    )
    assert r.status_code == 403


def test_audit_trail_records_reads_and_writes(api_env: ApiEnv) -> None:
    hid = household_ids("BEAT-NAKA1")[5]
    api_env.client.get(f"/households/{hid}", headers=api_env.auth("mgr_naka"))
    api_env.client.get(f"/households/{hid}", headers=api_env.auth("off_naka2"))  # denied
    r = visit(api_env, "off_naka1", hid, "refused")
    vid = r.json()["visit_id"]
    rows = api_env.client.get(
        "/audit", params={"resource_id": hid, "limit": 50}, headers=api_env.auth("admin")
    ).json()
    seen = {(a["username"], a["action"]) for a in rows}
    assert ("mgr_naka", "read") in seen and ("off_naka2", "read_denied") in seen
    assert all(a["client_ip"] for a in rows)
    writes = api_env.client.get(
        "/audit", params={"resource_id": vid}, headers=api_env.auth("admin")
    ).json()
    assert [(a["username"], a["action"], a["resource"]) for a in writes] == [
        ("off_naka1", "create", "visit")
    ]


def test_audit_log_is_append_only_in_the_database(api_env: ApiEnv) -> None:
    for stmt in ("UPDATE audit_log SET username = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), api_env.db.writing() as s:
            s.execute(text(stmt))
    with api_env.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) > 0


def test_login_is_rate_limited_per_user_and_ip(api_env: ApiEnv) -> None:
    name = f"rl{uuid.uuid4().hex[:8]}"
    r = api_env.client.post(
        "/users",
        headers=api_env.auth("admin"),
        json={"username": name, "password": PASSWORD, "role": "admin"},
    )
    assert r.status_code == 201
    # An address of its own: other tests' failed logins do not count here.
    with TestClient(api_env.client.app, client=(f"10.99.{uuid.uuid4().int % 250}.1", 1)) as c:
        for _ in range(5):
            bad = c.post("/auth/token", data={"username": name, "password": "wrong"})
            assert bad.status_code == 401
        blocked = c.post("/auth/token", data={"username": name, "password": PASSWORD})
        assert blocked.status_code == 429 and "Retry-After" in blocked.headers
        # Another account from the same address is not blocked.
        ok = c.post("/auth/token", data={"username": "admin", "password": PASSWORD})
        assert ok.status_code == 200


def test_api_key_authenticates_and_is_stored_hashed(api_env: ApiEnv) -> None:
    r = api_env.client.post(
        "/auth/api-keys", json={"label": "tablet"}, headers=api_env.auth("off_naka1")
    )
    key = r.json()["api_key"]
    me = api_env.client.get("/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["username"] == "off_naka1"
    with api_env.db.read_session() as s:
        assert not s.execute(text("SELECT 1 FROM api_keys WHERE key_hash = :k"), {"k": key}).first()


def test_beat_survey_counts_and_excel_csv(api_env: ApiEnv) -> None:
    survey = api_env.client.get("/reports/beat-survey", headers=api_env.auth("admin")).json()
    rows = {r["beat_id"]: r for r in survey["beats"]}
    assert set(rows) == {"BEAT-NAKA1", "BEAT-NAKA2", "BEAT-HIGASHI1"}
    for r in rows.values():
        assert r["households"] == r["kind_home"] + r["kind_business"] + r["kind_public"]
        assert r["households"] == r["card_none"] + r["card_current"] + r["card_stale"]
        assert r["cards"] == r["card_current"] + r["card_stale"]
        assert r["books"] == -(-r["cards"] // survey["cards_per_book"])
        with api_env.db.read_session() as s:
            n = s.scalar(
                select(func.count())
                .select_from(HouseholdRow)
                .where(HouseholdRow.beat_id == r["beat_id"])
            )
        assert r["households"] + r["vacant"] + r["moved_out"] == n
        assert r["card_stale"] >= 1  # the 2021 contact is older than 24 months
    raw = api_env.client.get("/reports/beat-survey.csv", headers=api_env.auth("admin")).content
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:3] == ["警察署", "交番", "受持区"] and len(table) == 1 + 3 + 1
    # A station's manager sees only the station's beats.
    mine = api_env.client.get("/reports/beat-survey", headers=api_env.auth("mgr_higashi")).json()
    assert [r["beat_id"] for r in mine["beats"]] == ["BEAT-HIGASHI1"]


def test_night_approval_conflict_and_revoke(api_env: ApiEnv) -> None:
    body = {
        "officer_id": "O-NAKA1",
        "on_date": date(2030, 5, 1).isoformat(),
        "start": "18:00",
        "end": "20:00",
    }
    first = api_env.client.post("/night-approvals", json=body, headers=api_env.auth("mgr_naka"))
    assert first.status_code == 201
    assert (
        api_env.client.post(
            "/night-approvals", json=body, headers=api_env.auth("mgr_naka")
        ).status_code
        == 409
    )
    mine = api_env.client.get("/night-approvals", headers=api_env.auth("off_naka1")).json()
    assert first.json()["id"] in {a["id"] for a in mine}
    path = f"/night-approvals/{first.json()['id']}/revoke"
    assert api_env.client.post(path, headers=api_env.auth("mgr_higashi")).status_code == 404
    assert api_env.client.post(path, headers=api_env.auth("mgr_naka")).status_code == 200
    assert api_env.client.post(path, headers=api_env.auth("mgr_naka")).status_code == 409


def test_rebalancing_job_accepted_makes_a_new_beat_version(api_env: ApiEnv) -> None:
    from .test_access import wait_for_job

    h = api_env.auth("mgr_naka")
    r = api_env.client.post("/rebalance-jobs", headers=h, json={"time_limit_s": 5, "seed": 1})
    assert r.status_code == 202 and r.json()["station"] == "金沢中"
    job = wait_for_job(api_env, r.json()["id"])
    assert job["status"] == "done" and job["progress"] == 1.0
    assert job["result"]["plan"]["beats"] == 2 and job["result"]["plan"]["all_contiguous"]
    before = api_env.client.get("/beats/versions", headers=h).json()
    old = before[-1]["version"]
    accepted = api_env.client.post(f"/rebalance-jobs/{job['id']}/accept", headers=h)
    assert accepted.status_code == 200, accepted.text
    new = accepted.json()["new_version"]
    versions = api_env.client.get("/beats/versions", headers=h).json()
    assert [v["version"] for v in versions] == [v["version"] for v in before] + [new]
    assert versions[-1]["current"] and versions[-1]["job_id"] == job["id"]
    # The old version stays readable, and households follow their unit's new beat.
    assert api_env.client.get("/beats", params={"version": old}, headers=h).json()
    for unit, beat in job["result"]["assignment"].items():
        with api_env.db.read_session() as s:
            beats = set(s.scalars(select(HouseholdRow.beat_id).where(HouseholdRow.unit_id == unit)))
        assert beats <= {beat}, (unit, beats)
    again = api_env.client.post(f"/rebalance-jobs/{job['id']}/accept", headers=h)
    assert again.status_code == 409


def test_rebalancing_job_can_be_cancelled(api_env: ApiEnv) -> None:
    from .test_access import wait_for_job

    h = api_env.auth("mgr_higashi")
    r = api_env.client.post("/rebalance-jobs", headers=h, json={"time_limit_s": 300})
    c = api_env.client.post(f"/rebalance-jobs/{r.json()['id']}/cancel", headers=h)
    assert c.status_code == 200
    assert wait_for_job(api_env, r.json()["id"])["status"] == "cancelled"
    other = api_env.client.get(
        f"/rebalance-jobs/{r.json()['id']}", headers=api_env.auth("mgr_naka")
    )
    assert other.status_code == 404


def test_progress_of_a_station_and_its_officers(api_env: ApiEnv) -> None:
    params = {"start": "2025-01-01", "end": "2025-12-31"}
    mine = api_env.client.get("/progress", params=params, headers=api_env.auth("mgr_naka"))
    assert mine.status_code == 200
    rows = mine.json()["officers"]
    assert {r["officer_id"] for r in rows} == {"O-NAKA1", "O-NAKA2"}
    for r in rows:
        assert r["station"] == "金沢中" and r["contacts"] <= r["attempts"]
        assert r["unknown_end"] <= r["unknown_start"] <= r["beat_households"]
    everyone = api_env.client.get("/progress", params=params, headers=api_env.auth("admin"))
    assert {r["officer_id"] for r in everyone.json()["officers"]} >= {"O-HIGASHI1"}
    backwards = {"start": "2025-12-31", "end": "2025-01-01"}
    bad = api_env.client.get("/progress", params=backwards, headers=api_env.auth("admin"))
    assert bad.status_code == 422


def wait_for_calendar(env: ApiEnv, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = env.client.get(f"/calendars/{job_id}", headers=env.auth("admin")).json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.3)
    raise AssertionError(f"calendar job {job_id} still running after {timeout_s} s")


CALENDAR_START = "2026-11-02"  # a Monday


def _audit_count(env: ApiEnv, resource: str) -> int:
    with env.db.read_session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.resource == resource, AuditEntry.action == "read")
            )
            or 0
        )


def test_calendar_job_uses_approvals_and_officers_read_their_part(api_env: ApiEnv) -> None:
    h = api_env.auth("mgr_naka")
    # An approved evening on a duty day of the horizon; a revoked one is not used.
    for day, revoke in (("2026-11-03", False), ("2026-11-04", True)):
        a = api_env.client.post(
            "/night-approvals",
            headers=h,
            json={"officer_id": "O-NAKA1", "on_date": day, "start": "18:00", "end": "20:00"},
        )
        assert a.status_code == 201, a.text
        if revoke:
            path = f"/night-approvals/{a.json()['id']}/revoke"
            assert api_env.client.post(path, headers=h).status_code == 200
    body = {
        "koban_id": "K-NAKA1",
        "start": CALENDAR_START,
        "weeks": 1,
        "focus_days": ["2026-11-07"],
        "day_time_limit_s": 0.1,
        "forecast_runs": 20,
    }
    r = api_env.client.post("/calendars", headers=h, json=body)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and 0 <= r.json()["progress"] < 1
    job = wait_for_calendar(api_env, r.json()["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0
    cal, fc = job["result"]["calendar"], job["result"]["forecast"]
    assert cal["koban_id"] == "K-NAKA1" and cal["days"] == 7
    assert set(cal["officers"]) == {"O-NAKA1"}
    assert set(cal["beats"]) == {"BEAT-NAKA1"} and set(fc["beats"]) == {"BEAT-NAKA1"}
    # Other tests may have imported households into the beat: ask the database.
    with api_env.db.read_session() as s:
        ours = set(
            s.scalars(select(HouseholdRow.household_id).where(HouseholdRow.beat_id == "BEAT-NAKA1"))
        )
    assert cal["attempts"] and {a["household_id"] for a in cal["attempts"]} <= ours
    used = job["result"]["night_approvals_used"]
    assert used == [{"officer_id": "O-NAKA1", "date": "2026-11-03", "window": "18:00-20:00"}]
    # The officer of the beat reads it (audited); other scopes get 404.
    before = _audit_count(api_env, "calendar_job")
    mine = api_env.client.get(f"/calendars/{job['id']}", headers=api_env.auth("off_naka1"))
    assert mine.status_code == 200 and mine.json()["result"]["calendar"]["officers"]
    assert _audit_count(api_env, "calendar_job") == before + 1
    for user in ("off_naka2", "mgr_higashi", "off_higashi1"):
        assert (
            api_env.client.get(f"/calendars/{job['id']}", headers=api_env.auth(user)).status_code
            == 404
        )
    listed = api_env.client.get("/calendars", headers=api_env.auth("off_naka2")).json()
    assert job["id"] not in {j["id"] for j in listed}
    done = api_env.client.post(f"/calendars/{job['id']}/cancel", headers=h)
    assert done.status_code == 409


def test_calendar_job_refuses_bad_requests(api_env: ApiEnv) -> None:
    h = api_env.auth("mgr_naka")
    base = {"koban_id": "K-NAKA1", "start": CALENDAR_START, "weeks": 1}
    cases = [
        ({**base, "focus_days": ["2026-12-25"]}, 422),
        ({**base, "kind": "new_officer"}, 422),
        ({**base, "kind": "new_officer", "beat_id": "BEAT-NAKA2"}, 422),
        ({**base, "koban_id": "K-NOWHERE"}, 404),
        ({**base, "koban_id": "K-HIGASHI1"}, 403),
        ({**base, "weeks": 9}, 422),
    ]
    for body, expected in cases:
        r = api_env.client.post("/calendars", headers=h, json=body)
        assert r.status_code == expected, (body, r.status_code, r.text)


def test_new_officer_plan_job_covers_the_beat(api_env: ApiEnv) -> None:
    h = api_env.auth("admin")
    r = api_env.client.post(
        "/calendars",
        headers=h,
        json={
            "kind": "new_officer",
            "koban_id": "K-NAKA2",
            "beat_id": "BEAT-NAKA2",
            "start": CALENDAR_START,
            "day_time_limit_s": 0.1,
        },
    )
    assert r.status_code == 202, r.text
    job = wait_for_calendar(api_env, r.json()["id"])
    assert job["status"] == "done", job
    plan = job["result"]["new_officer"]
    assert plan["beat_id"] == "BEAT-NAKA2"
    days = [set(d["household_ids"]) for d in plan["days"]] if plan["days"] else []
    covered = set().union(*days) if days else set()
    with api_env.db.read_session() as s:
        beat = set(
            s.scalars(select(HouseholdRow.household_id).where(HouseholdRow.beat_id == "BEAT-NAKA2"))
        )
    assert covered and covered <= beat
    assert plan["covered"] + len(plan["not_covered"]) == plan["households"]


def test_calendar_job_can_be_cancelled(api_env: ApiEnv) -> None:
    h = api_env.auth("mgr_higashi")
    r = api_env.client.post(
        "/calendars",
        headers=h,
        json={"koban_id": "K-HIGASHI1", "start": CALENDAR_START, "weeks": 8, "day_time_limit_s": 5},
    )
    assert r.status_code == 202, r.text
    c = api_env.client.post(f"/calendars/{r.json()['id']}/cancel", headers=h)
    assert c.status_code == 200
    assert wait_for_calendar(api_env, r.json()["id"])["status"] == "cancelled"


def test_officer_view_keeps_only_own_days_and_beats() -> None:
    from api.routes.calendars import officer_view

    def att(h: str, o: str, b: str) -> dict[str, Any]:
        return {"household_id": h, "officer_id": o, "beat_id": b}

    result = {
        "calendar": {
            "koban_id": "K",
            "start": "2026-11-02",
            "days": 7,
            "beats": {"B1": {"x": 1}, "B2": {"x": 2}},
            "officers": {"O1": {"days": []}, "O2": {"days": []}, "S1": {"days": []}},
            "attempts": [att("h1", "O1", "B1"), att("h2", "O2", "B2"), att("h3", "S1", "B1")],
            "not_done": [{"beat_id": "B1"}, {"beat_id": "B2"}],
            "notes": ["O1 on leave", "O2 on leave"],
        },
        "forecast": {"beats": {"B1": {}, "B2": {}}, "officers": {"O1": {}, "O2": {}}, "runs": 5},
        "night_approvals_used": [{"officer_id": "O1"}, {"officer_id": "O2"}],
    }
    view = officer_view(result, "O1", frozenset({"B1"}))
    text = json.dumps(view)
    assert "O2" not in text and "B2" not in text and "h2" not in text
    assert set(view["calendar"]["officers"]) == {"O1"}
    assert {a["household_id"] for a in view["calendar"]["attempts"]} == {"h1", "h3"}
    assert view["forecast"]["runs"] == 5


@pytest.mark.parametrize("limit", [1, 3, 20])
@pytest.mark.parametrize("radius_m", [30.0, 400.0, 20_000.0])
def test_near_is_the_nearest_unvisited_in_scope(
    api_env: ApiEnv, limit: int, radius_m: float
) -> None:
    # The service widens its search circle step by step; the answer must be
    # what a search of every household gives: occupied, no contact, in the
    # caller's scope, within the radius, nearest first.
    import math

    from pyproj import Transformer

    from junkai_geo.settings import ISHIKAWA_CRS

    h = api_env.client.get(
        f"/households/{household_ids('BEAT-NAKA1')[0]}", headers=api_env.auth("mgr_naka")
    ).json()
    lon, lat = h["lon"] + 0.0004, h["lat"] - 0.0003
    got = api_env.client.get(
        "/households/near",
        headers=api_env.auth("mgr_naka"),
        params={"lon": lon, "lat": lat, "limit": limit, "radius_m": radius_m},
    )
    assert got.status_code == 200, got.text
    scope = {
        b["beat_id"] for b in api_env.client.get("/beats", headers=api_env.auth("mgr_naka")).json()
    }
    x, y = Transformer.from_crs("EPSG:4326", ISHIKAWA_CRS, always_xy=True).transform(lon, lat)
    with api_env.db.read_session() as s:
        rows = s.execute(
            select(HouseholdRow.household_id, HouseholdRow.x, HouseholdRow.y).where(
                HouseholdRow.last_contact.is_(None),
                HouseholdRow.occupancy == "occupied",
                HouseholdRow.beat_id.in_(scope),
            )
        ).all()
    ranked = sorted((math.hypot(r.x - x, r.y - y), r.household_id) for r in rows)
    expected = [(hid, round(d, 1)) for d, hid in ranked if d <= radius_m][:limit]
    assert [(n["household_id"], n["distance_m"]) for n in got.json()] == expected


@pytest.mark.parametrize(
    ("path", "params", "model"),
    [
        ("/households", {"beat_id": "BEAT-NAKA1"}, "HouseholdOut"),
        ("/households", {"beat_id": "BEAT-NAKA1", "status": "none"}, "HouseholdOut"),
        ("/households/near", {"lon": 136.655, "lat": 36.562, "radius_m": 20000}, "NearHousehold"),
        ("/koban", {}, "KobanOut"),
        ("/beats", {}, "BeatOut"),
    ],
)
def test_fast_lists_have_exactly_their_model_fields(
    api_env: ApiEnv, path: str, params: dict, model: str
) -> None:
    # These lists skip pydantic on the way out (api.deps.json_response):
    # every item must still be what the OpenAPI schema promises, no more.
    from api import schemas

    cls = getattr(schemas, model)
    r = api_env.client.get(path, params=params, headers=api_env.auth("mgr_naka"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    items = r.json()
    assert items
    for item in items:
        assert set(item) == set(cls.model_fields)
        assert cls.model_validate(item).model_dump(mode="json") == item


def test_stale_survey_is_answered_while_a_fresh_one_is_computed(
    api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write by another worker process does not clear this process's cache:
    # once the answer is past fresh, the stale one is given at once and the
    # next request gets the one computed meanwhile.
    from api.routes import reports

    hid = household_ids("BEAT-NAKA2")[7]

    def survey() -> dict:
        r = api_env.client.get("/reports/beat-survey", headers=api_env.auth("mgr_naka"))
        assert r.status_code == 200, r.text
        return r.json()["totals"]

    reports.invalidate_survey_cache()
    monkeypatch.setattr(reports, "SURVEY_CACHE_S", 0.0)  # every answer is past fresh
    before = survey()
    with api_env.db.writing() as s:  # as another worker would
        old = s.get(HouseholdRow, hid).occupancy
        s.get(HouseholdRow, hid).occupancy = "vacant"
    try:
        assert survey() == before  # stale, answered at once; a refresh starts
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            after = survey()
            if after != before:
                break
            time.sleep(0.05)
        assert after["vacant"] == before["vacant"] + 1
        monkeypatch.setattr(reports, "SURVEY_STALE_S", 0.0)
        assert survey()["vacant"] == before["vacant"] + 1  # too old: computed now
    finally:
        with api_env.db.writing() as s:
            s.get(HouseholdRow, hid).occupancy = old
        reports.invalidate_survey_cache()


def test_a_slow_survey_is_fresh_from_when_it_finished(
    api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A survey computed in longer than the fresh time is answered from the cache right after."""
    import threading

    from api.routes import reports

    calls: list[float] = []
    real = reports.beat_survey

    def slow(*args, **kwargs):
        calls.append(time.monotonic())
        time.sleep(1.3)  # longer than the fresh time below
        return real(*args, **kwargs)

    reports.invalidate_survey_cache()
    monkeypatch.setattr(reports, "SURVEY_CACHE_S", 1.0)
    monkeypatch.setattr(reports, "beat_survey", slow)
    try:
        for _ in range(2):
            r = api_env.client.get("/reports/beat-survey", headers=api_env.auth("mgr_naka"))
            assert r.status_code == 200, r.text
        assert len(calls) == 1
        assert not any(t.name == "survey-refresh" for t in threading.enumerate())
    finally:
        reports.invalidate_survey_cache()


# PostgreSQL only: SQLite has no server that could drop a connection.
@pytest.mark.parametrize("api_env", ["postgres"], indirect=True)
def test_service_recovers_after_postgres_drops_its_connections(api_env: ApiEnv) -> None:
    # Without pool pre-ping a dropped connection fails the one request that
    # holds it; the pool then discards the rest and the service goes on.
    h = api_env.auth("admin")
    for _ in range(3):
        assert api_env.client.get("/koban", headers=h).status_code == 200
    other = Database(api_env.url)  # not the service's pool
    try:
        with other.engine.connect() as conn:
            dropped = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        other.dispose()
    assert dropped
    codes = [api_env.client.get("/koban", headers=h).status_code for _ in range(6)]
    # The request on the dropped connection is told to retry; none after it.
    assert codes in ([200] * 6, [503] + [200] * 5)
    assert api_env.client.get("/koban", headers=h).status_code == 200
