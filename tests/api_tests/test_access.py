"""Who may call what: every route, every role, allowed and forbidden.

The cases come from the application's route table: each route must have a
request builder below (a new route without one fails ``test_every_route_has_a_case``),
its allowed roles are read from its ``RoleGate`` dependency, and each caller
is tried on their own beat (allowed roles: success; others: 403) and on a
beat outside their scope (403 / 404, or an answer that holds none of that
beat's data).
"""

from __future__ import annotations

import functools
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.auth import current_version, hash_password
from api.db import utcnow
from api.deps import RoleGate
from api.main import ROUTERS, create_app
from api.models import CalendarJob, RebalanceJob, User
from api.settings import ApiSettings

from .conftest import BEATS, PASSWORD, USERS, ApiEnv, household_ids, personal_name

PUBLIC = {("GET", "/health"), ("POST", "/auth/token")}
_counter = itertools.count(1)


@dataclass
class Req:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    ok: tuple[int, ...] = (200,)
    after: Callable[[], None] | None = None  # clean-up once the request was sent


def beat_info(beat: str) -> dict[str, Any]:
    for b, kid, station, lon0 in BEATS:
        if b == beat:
            return {
                "beat": b,
                "koban": kid,
                "station": station,
                "officer": f"O-{b[5:]}",
                "household": household_ids(b)[0],
                "building": f"BL-{b}-0",
                "visit": f"V-{b}-1",
                "lon": lon0 + 0.004,
                "lat": 36.556,
            }
    raise KeyError(beat)


def new_approval(env: ApiEnv, officer: str) -> int:
    """An approval made by the admin, for routes that act on one."""
    day = date(2027, 1, 1) + timedelta(days=next(_counter))
    r = env.client.post(
        "/night-approvals",
        headers=env.auth("admin"),
        json={"officer_id": officer, "on_date": day.isoformat(), "start": "18:00", "end": "20:00"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def koban_geojson(n: int) -> bytes:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "koban_id": f"K-NEW{n}",
                    "name": f"新交番{n}",
                    "kind": "koban",
                    "station": "金沢中",
                },
                "geometry": {"type": "Point", "coordinates": [136.63, 36.57]},
            }
        ],
    }
    return json.dumps(fc, ensure_ascii=False).encode("utf-8")


_JOB_RESULTS: dict[tuple[str, str], Any] = {}


def finished_result(env: ApiEnv, station: str) -> Any:
    """The result of a real rebalancing of ``station``, run once per database."""
    key = (env.backend, station)
    if key not in _JOB_RESULTS:
        r = env.client.post(
            "/rebalance-jobs",
            headers=env.auth("admin"),
            json={"station": station, "time_limit_s": 5},
        )
        assert r.status_code == 202, r.text
        job = wait_for_job(env, r.json()["id"])
        assert job["status"] == "done", job
        with env.db.read_session() as s:
            row = s.get(RebalanceJob, job["id"])
            assert row is not None
            _JOB_RESULTS[key] = row.result
    return _JOB_RESULTS[key]


def wait_for_job(env: ApiEnv, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = env.client.get(f"/rebalance-jobs/{job_id}", headers=env.auth("admin")).json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still running after {timeout_s} s")


def job_row(env: ApiEnv, station: str, status: str) -> str:
    """A job of ``station`` in ``status`` (a done one carries a real result)."""
    result = finished_result(env, station) if status == "done" else None
    with env.db.writing() as s:
        job = RebalanceJob(
            id=uuid.uuid4().hex,
            created_by=1,
            created_at=utcnow(),
            station=station,
            base_version=current_version(s) or 1,
            status=status,
            progress=0.0,
            message="",
            params={"time_limit_s": 5.0, "seed": 0, "tolerance": 0.03, "n_beats": None},
            result=result,
            cancel_requested=False,
        )
        s.add(job)
    return job.id


def cancel_request(env: ApiEnv, station: str) -> Req:
    """Cancel of a queued job; a job left queued is closed afterwards, so that
    it does not count against the limit of running jobs."""
    job_id = job_row(env, station, "queued")

    def close() -> None:
        with env.db.writing() as s:
            job = s.get(RebalanceJob, job_id)
            if job is not None and job.status == "queued":
                job.status = "failed"

    return Req("POST", f"/rebalance-jobs/{job_id}/cancel", after=close)


CALENDAR_BODY = {"start": "2026-11-02", "weeks": 1, "day_time_limit_s": 0.05, "forecast_runs": 5}
_CALENDARS: dict[tuple[str, str], str] = {}


def done_calendar(env: ApiEnv, koban: str) -> str:
    """A real one-week calendar of ``koban``, planned once per database."""
    key = (env.backend, koban)
    if key not in _CALENDARS:
        r = env.client.post(
            "/calendars", headers=env.auth("admin"), json={**CALENDAR_BODY, "koban_id": koban}
        )
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 120
        while True:
            job = env.client.get(f"/calendars/{r.json()['id']}", headers=env.auth("admin")).json()
            if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert job["status"] == "done", job
        _CALENDARS[key] = job["id"]
    return _CALENDARS[key]


def calendar_cancel_request(env: ApiEnv, koban: str) -> Req:
    """Cancel of a queued calendar job, closed afterwards if still queued."""
    with env.db.writing() as s:
        job = CalendarJob(
            id=uuid.uuid4().hex,
            kind="calendar",
            created_by=1,
            created_at=utcnow(),
            koban_id=koban,
            beat_id=None,
            start=date(2026, 11, 2),
            status="queued",
            progress=0.0,
            message="",
            params={**CALENDAR_BODY, "estimate_s": 10.0},
            cancel_requested=False,
        )
        s.add(job)
    job_id = job.id

    def close() -> None:
        with env.db.writing() as s:
            row = s.get(CalendarJob, job_id)
            if row is not None and row.status == "queued":
                row.status = "failed"

    return Req("POST", f"/calendars/{job_id}/cancel", after=close)


def fresh_token(env: ApiEnv, user: str) -> dict[str, str]:
    """A bearer token of ``user`` besides the shared one (for logout)."""
    r = env.client.post("/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def own_api_key(env: ApiEnv, user: str) -> int:
    r = env.client.post("/auth/api-keys", json={"label": "acc"}, headers=env.auth(user))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@functools.cache
def _password_hash() -> str:
    """One real Argon2 hash of PASSWORD for every throwaway user (hashing it
    again for each of them took most of these tests' time)."""
    return hash_password(PASSWORD)


def throwaway_user(env: ApiEnv) -> int:
    with env.db.writing() as s:
        user = User(
            username=f"tmp{next(_counter)}x{uuid.uuid4().hex[:6]}",
            password_hash=_password_hash(),
            role="admin",
            active=True,
            created_at=utcnow(),
        )
        s.add(user)
        s.flush()
        return user.id


Builder = Callable[[ApiEnv, str, dict[str, Any]], Req]

BUILDERS: dict[tuple[str, str], Builder] = {
    ("GET", "/health"): lambda e, u, b: Req("GET", "/health"),
    ("POST", "/auth/token"): lambda e, u, b: Req("POST", "/auth/token"),
    ("GET", "/auth/me"): lambda e, u, b: Req("GET", "/auth/me"),
    ("POST", "/auth/api-keys"): lambda e, u, b: Req(
        "POST", "/auth/api-keys", json={"label": "t"}, ok=(201,)
    ),
    ("GET", "/auth/api-keys"): lambda e, u, b: Req("GET", "/auth/api-keys"),
    ("POST", "/auth/api-keys/{key_id}/revoke"): lambda e, u, b: Req(
        "POST", f"/auth/api-keys/{own_api_key(e, u)}/revoke"
    ),
    ("POST", "/auth/logout"): lambda e, u, b: Req(
        "POST", "/auth/logout", headers=fresh_token(e, u), ok=(204,)
    ),
    ("POST", "/auth/password"): lambda e, u, b: Req(
        "POST",
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD},
        ok=(204,),
    ),
    ("GET", "/users"): lambda e, u, b: Req("GET", "/users"),
    ("POST", "/users/{user_id}/disable"): lambda e, u, b: Req(
        "POST", f"/users/{throwaway_user(e)}/disable"
    ),
    ("POST", "/users/{user_id}/enable"): lambda e, u, b: Req(
        "POST", f"/users/{throwaway_user(e)}/enable"
    ),
    ("POST", "/users/{user_id}/password"): lambda e, u, b: Req(
        "POST",
        f"/users/{throwaway_user(e)}/password",
        json={"new_password": "another-pass-1"},
        ok=(204,),
    ),
    ("POST", "/users"): lambda e, u, b: Req(
        "POST",
        "/users",
        ok=(201,),
        json={
            "username": f"new{next(_counter)}",
            "password": "longenough1",
            "role": "manager",
            "station": "金沢中",
        },
    ),
    ("GET", "/koban"): lambda e, u, b: Req("GET", "/koban"),
    ("GET", "/koban/{koban_id}"): lambda e, u, b: Req("GET", f"/koban/{b['koban']}"),
    ("GET", "/officers"): lambda e, u, b: Req("GET", "/officers"),
    ("GET", "/beats/versions"): lambda e, u, b: Req("GET", "/beats/versions"),
    ("GET", "/beats"): lambda e, u, b: Req("GET", "/beats"),
    ("GET", "/beats/{beat_id}"): lambda e, u, b: Req("GET", f"/beats/{b['beat']}"),
    ("GET", "/buildings"): lambda e, u, b: Req("GET", "/buildings", params={"beat_id": b["beat"]}),
    ("GET", "/buildings/{building_id}"): lambda e, u, b: Req("GET", f"/buildings/{b['building']}"),
    ("GET", "/households"): lambda e, u, b: Req(
        "GET", "/households", params={"beat_id": b["beat"]}
    ),
    ("GET", "/households/near"): lambda e, u, b: Req(
        "GET", "/households/near", params={"lon": b["lon"], "lat": b["lat"], "limit": 50}
    ),
    ("GET", "/households/{household_id}"): lambda e, u, b: Req(
        "GET", f"/households/{b['household']}"
    ),
    ("POST", "/visits"): lambda e, u, b: Req(
        "POST",
        "/visits",
        ok=(201,),
        headers={"Idempotency-Key": f"acc-{next(_counter)}"},
        json={
            "household_id": household_ids(b["beat"])[5],
            "visited_on": "2026-10-01",
            "time": "10:00",
            "outcome": "absent",
            "officer_id": b["officer"],
        },
    ),
    ("GET", "/visits"): lambda e, u, b: Req(
        "GET", "/visits", params={"household_id": household_ids(b["beat"])[1]}
    ),
    ("GET", "/visits/{visit_id}"): lambda e, u, b: Req("GET", f"/visits/{b['visit']}"),
    ("POST", "/night-approvals"): lambda e, u, b: Req(
        "POST",
        "/night-approvals",
        ok=(201,),
        json={
            "officer_id": b["officer"],
            "on_date": (date(2028, 1, 1) + timedelta(days=next(_counter))).isoformat(),
            "start": "18:00",
            "end": "20:00",
        },
    ),
    ("GET", "/night-approvals"): lambda e, u, b: Req(
        "GET", "/night-approvals", params={"officer_id": b["officer"]}
    ),
    ("POST", "/night-approvals/{approval_id}/revoke"): lambda e, u, b: Req(
        "POST", f"/night-approvals/{new_approval(e, b['officer'])}/revoke"
    ),
    ("GET", "/reports/beat-survey"): lambda e, u, b: Req(
        "GET", "/reports/beat-survey", params={"koban_id": b["koban"]}
    ),
    ("GET", "/reports/beat-survey.csv"): lambda e, u, b: Req(
        "GET", "/reports/beat-survey.csv", params={"koban_id": b["koban"]}
    ),
    ("GET", "/audit"): lambda e, u, b: Req("GET", "/audit", params={"limit": 5}),
    ("POST", "/imports"): lambda e, u, b: Req(
        "POST",
        "/imports",
        ok=(201,),
        data={"layer": "koban"},
        files={
            "file": (
                f"koban{(n := next(_counter))}.geojson",
                koban_geojson(n),
                "application/geo+json",
            )
        },
    ),
    ("GET", "/imports"): lambda e, u, b: Req("GET", "/imports"),
    ("GET", "/plans/{officer_id}/{on}"): lambda e, u, b: Req(
        "GET", f"/plans/{b['officer']}/2026-12-01"
    ),
    ("GET", "/plans/{officer_id}/{on}/map"): lambda e, u, b: Req(
        "GET", f"/plans/{b['officer']}/2026-12-01/map"
    ),
    ("GET", "/plans/{officer_id}/{on}/sheet"): lambda e, u, b: Req(
        "GET", f"/plans/{b['officer']}/2026-12-01/sheet"
    ),
    ("GET", "/specialists"): lambda e, u, b: Req("GET", "/specialists", params={"top": 3}),
    ("GET", "/progress"): lambda e, u, b: Req(
        "GET",
        "/progress",
        params={"start": "2025-01-01", "end": "2025-12-31", "koban_id": b["koban"]},
    ),
    ("POST", "/rebalance-jobs"): lambda e, u, b: Req(
        "POST", "/rebalance-jobs", ok=(202,), json={"station": b["station"], "time_limit_s": 2}
    ),
    ("GET", "/rebalance-jobs"): lambda e, u, b: Req("GET", "/rebalance-jobs"),
    ("GET", "/rebalance-jobs/{job_id}"): lambda e, u, b: Req(
        "GET", f"/rebalance-jobs/{job_row(e, b['station'], 'done')}"
    ),
    ("POST", "/rebalance-jobs/{job_id}/cancel"): lambda e, u, b: Req(
        "POST", f"/rebalance-jobs/{job_row(e, b['station'], 'running')}/cancel"
    ),
    ("POST", "/rebalance-jobs/{job_id}/reject"): lambda e, u, b: Req(
        "POST", f"/rebalance-jobs/{job_row(e, b['station'], 'done')}/reject"
    ),
    ("POST", "/rebalance-jobs/{job_id}/accept"): lambda e, u, b: Req(
        "POST", f"/rebalance-jobs/{job_row(e, b['station'], 'done')}/accept"
    ),
    ("POST", "/calendars"): lambda e, u, b: Req(
        "POST", "/calendars", ok=(202,), json={**CALENDAR_BODY, "koban_id": b["koban"]}
    ),
    ("GET", "/calendars"): lambda e, u, b: Req("GET", "/calendars"),
    ("GET", "/calendars/{job_id}"): lambda e, u, b: Req(
        "GET", f"/calendars/{done_calendar(e, b['koban'])}"
    ),
    ("POST", "/calendars/{job_id}/cancel"): lambda e, u, b: calendar_cancel_request(e, b["koban"]),
    ("POST", "/plans/{officer_id}/{on}/replan"): lambda e, u, b: Req(
        "POST",
        f"/plans/{b['officer']}/2026-12-01/replan",
        json={"now": "14:30", "lon": b["lon"], "lat": b["lat"], "done": []},
    ),
}


APP = create_app(ApiSettings(database_url="sqlite:///:memory:"))
#: (method, path) of every operation the application documents.
CASES = sorted((m.upper(), p) for p, ops in APP.openapi()["paths"].items() for m in ops)
ROUTES = [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def gate_of(route: APIRoute) -> frozenset[str] | None:
    """The roles a route allows (from its RoleGate), None for public routes."""
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, RoleGate):
            return frozenset(r.value for r in dep.call.roles)
        stack.extend(dep.dependencies)
    return None


PRIVATE = [c for c in CASES if c not in PUBLIC]
GATES = {(m, r.path): gate_of(r) for r in ROUTES for m in r.methods}


def send(env: ApiEnv, req: Req, user: str | None) -> Any:
    headers = dict(req.headers)
    if user is not None and "Authorization" not in headers:
        headers.update(env.auth(user))
    try:
        return env.client.request(
            req.method,
            req.path,
            params=req.params,
            json=req.json,
            data=req.data,
            files=req.files,
            headers=headers,
        )
    finally:
        if req.after is not None:
            req.after()


def forbidden_tokens(beat: str) -> list[str]:
    """Strings of a beat's data that must never reach a caller without scope."""
    info = beat_info(beat)
    return [
        beat,
        info["koban"],
        info["officer"],
        personal_name(beat),
        f"BL-{beat}-",
        *household_ids(beat),
    ]


def test_every_route_has_a_case() -> None:
    missing = [c for c in CASES if c not in BUILDERS]
    assert not missing, f"routes without an access case in test_access.BUILDERS: {missing}"


def test_every_private_route_has_a_role_gate() -> None:
    assert set(CASES) <= set(GATES), "routes mounted outside api.main.ROUTERS"
    ungated = [c for c in CASES if c not in PUBLIC and GATES[c] is None]
    assert not ungated, f"routes that would answer any token holder unchecked: {ungated}"


@pytest.mark.parametrize("case", PRIVATE, ids=[f"{m} {p}" for m, p in PRIVATE])
def test_no_token_is_401(api_env: ApiEnv, case: tuple[str, str]) -> None:
    req = BUILDERS[case](api_env, "admin", beat_info("BEAT-NAKA1"))
    req.headers.pop("Authorization", None)
    assert send(api_env, req, None).status_code == 401
    req.headers["Authorization"] = "Bearer not-a-token"
    assert send(api_env, req, None).status_code == 401


@pytest.mark.parametrize("user", sorted(USERS))
@pytest.mark.parametrize("case", PRIVATE, ids=[f"{m} {p}" for m, p in PRIVATE])
def test_role_on_own_scope(api_env: ApiEnv, case: tuple[str, str], user: str) -> None:
    own = USERS[user][3]
    req = BUILDERS[case](api_env, user, beat_info(own))
    r = send(api_env, req, user)
    if USERS[user][0] in GATES[case]:  # type: ignore[operator]
        assert r.status_code in req.ok, (r.status_code, r.text[:300])
    else:
        assert r.status_code == 403, (r.status_code, r.text[:300])


CROSS_USERS = sorted(u for u, spec in USERS.items() if spec[4])


@pytest.mark.parametrize("user", CROSS_USERS)
@pytest.mark.parametrize("case", PRIVATE, ids=[f"{m} {p}" for m, p in PRIVATE])
def test_other_scope_never_gets_data(api_env: ApiEnv, case: tuple[str, str], user: str) -> None:
    other = USERS[user][4]
    req = BUILDERS[case](api_env, user, beat_info(other))
    r = send(api_env, req, user)
    if r.status_code in (403, 404):
        return
    assert r.status_code < 300, (r.status_code, r.text[:300])
    text = r.content.decode("utf-8", "replace")
    leaked = [t for t in forbidden_tokens(other) if t in text]
    assert not leaked, f"{user} got data of {other}: {leaked}"


def test_personal_fields_only_for_beat_officer_and_station_manager(api_env: ApiEnv) -> None:
    hid = household_ids("BEAT-NAKA1")[0]
    for user, expected in [("off_naka1", True), ("mgr_naka", True), ("admin", False)]:
        r = api_env.client.get(f"/households/{hid}", headers=api_env.auth(user))
        assert r.status_code == 200
        personal = r.json()["personal"]
        assert (
            personal is not None and personal["resident_name"] == personal_name("BEAT-NAKA1")
        ) is expected, (user, personal)
    # Lists never carry personal fields, whoever asks.
    for user in ("off_naka1", "mgr_naka", "admin"):
        r = api_env.client.get("/households", headers=api_env.auth(user))
        assert personal_name("BEAT-NAKA1") not in r.text
