"""Attacks on the service (issue #17), each reproduced before its fix.

Every test here builds its own small service on a fresh SQLite file, so the
failed logins and limits of one attack do not leak into the shared fixtures.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.auth import create_user
from api.db import Database, utcnow
from api.main import create_app
from api.models import AuditEntry, User
from api.settings import ApiSettings

from .test_crash import ROOT, free_port

PASSWORD = "correct-horse-battery"


class Service:
    def __init__(self, tmp: Path, **settings: object) -> None:
        self.settings = ApiSettings(sqlite_path=tmp / "attack.sqlite3", **settings)  # type: ignore[arg-type]
        self.db = Database(self.settings.url())
        self.app = create_app(self.settings, db=self.db)
        with self.db.writing() as s:
            create_user(s, "user00", PASSWORD, "admin")
            # The other 29 share user00's Argon2 hash (one salt): hashing each
            # again took most of every attack test's setup; logins still verify
            # a real hash per account.
            first = s.scalar(select(User.password_hash).where(User.username == "user00"))
            for i in range(1, 30):
                s.add(
                    User(
                        username=f"user{i:02d}",
                        password_hash=first,
                        role="admin",
                        active=True,
                        created_at=utcnow(),
                    )
                )

    def client(self, ip: str) -> TestClient:
        return TestClient(self.app, client=(ip, 40000))

    def login(self, ip: str, username: str, password: str) -> int:
        with self.client(ip) as c:
            return c.post(
                "/auth/token", data={"username": username, "password": password}
            ).status_code


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    yield svc
    svc.db.dispose()


def test_one_password_sprayed_over_many_accounts_is_throttled(service: Service) -> None:
    # Each account sees one failure only; the address is what gives it away.
    codes = [service.login("10.9.0.1", f"user{i:02d}", "Winter2026!") for i in range(25)]
    assert codes[:20] == [401] * 20
    assert set(codes[20:]) == {429}
    # Another address is not affected, and neither is the real password from it.
    assert service.login("10.9.0.2", "user00", PASSWORD) == 200


def test_an_account_guessed_from_many_addresses_stays_open_to_its_known_address(
    service: Service,
) -> None:
    assert service.login("10.1.1.1", "user05", PASSWORD) == 200  # the officer's own tablet
    for n in range(20):  # 20 addresses, one guess each: no (user, address) limit reached
        assert service.login(f"10.2.0.{n}", "user05", f"guess{n}") == 401
    # The account is now closed to new addresses ...
    assert service.login("10.3.0.1", "user05", PASSWORD) == 429
    # ... but the address the user logged in from before still opens it.
    assert service.login("10.1.1.1", "user05", PASSWORD) == 200


def test_a_wrong_password_never_holds_the_write_lock(service: Service) -> None:
    """The password is checked before any transaction: while a check runs,
    another writer gets the SQLite write lock at once."""
    import threading

    from api import auth as auth_mod

    entered, release = threading.Event(), threading.Event()
    real = auth_mod.verify_password

    def slow_verify(password_hash: str, password: str) -> bool:
        entered.set()
        release.wait(10)
        return real(password_hash, password)

    import api.routes.auth as route_mod

    route_mod.verify_password = slow_verify  # type: ignore[assignment]
    try:
        t = threading.Thread(target=service.login, args=("10.4.0.1", "user01", "wrong"))
        t.start()
        assert entered.wait(10)
        started = time.monotonic()
        with service.db.writing() as s:  # BEGIN IMMEDIATE on SQLite
            s.execute(select(AuditEntry.id).limit(1))
        waited = time.monotonic() - started
        release.set()
        t.join(10)
    finally:
        route_mod.verify_password = real  # type: ignore[assignment]
        release.set()
    assert waited < 1.0


@contextmanager
def serving(sqlite: Path) -> Iterator[str]:
    """``junkai-geo serve`` on a new SQLite file with one admin, ``admin1``."""
    db = Database(f"sqlite:///{sqlite}")
    db.migrate()
    with db.writing() as s:
        create_user(s, "admin1", PASSWORD, "admin")
    db.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JUNKAI_DATABASE_URL")}
    env.pop("JUNKAI_TRUSTED_PROXIES", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--sqlite-path", str(sqlite)]
        + ["--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def test_forwarded_for_is_not_believed_unless_a_proxy_is_configured(tmp_path: Path) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; the service does not."""
    sqlite = tmp_path / "junkai.sqlite3"
    with serving(sqlite) as base:
        codes = []
        for n in range(8):  # a new forged address each time: throttled all the same
            r = httpx.post(
                f"{base}/auth/token",
                data={"username": "admin1", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
                timeout=10,
            )
            codes.append(r.status_code)
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    db = Database(f"sqlite:///{sqlite}")
    with db.read_session() as s:
        ips = set(s.scalars(select(AuditEntry.client_ip)))
    db.dispose()
    assert ips == {"127.0.0.1"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("live") / "junkai.sqlite3") as base:
        yield base


class Counter:
    """A request body of ``total`` bytes that counts what the server pulled."""

    def __init__(self, total: int, chunk: int = 1 << 20) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self.total:
            self.sent += self.chunk
            yield b"[" + b" " * (self.chunk - 1)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/visits", {}),  # no credentials: 401 before the body
        ("/visits", {"Authorization": "Bearer not-a-token"}),  # a bad token: the size limit
        ("/imports", {"Authorization": "Bearer not-a-token"}),
    ],
)
def test_huge_bodies_are_refused_before_they_are_read(
    live: str, path: str, headers: dict[str, str]
) -> None:
    body = Counter(300 << 20)
    started = time.monotonic()
    try:
        r = httpx.post(
            f"{live}{path}",
            content=iter(body),
            headers={"Content-Type": "application/json", **headers},
            timeout=30,
        )
        status = r.status_code
    except httpx.HTTPError:  # the server closed the connection after answering
        status = None
    elapsed = time.monotonic() - started
    assert status in (None, 401, 413)
    assert body.sent <= 64 << 20 and elapsed < 10
    # A declared size over the limit is refused without reading a byte.
    host, port = live.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {300 << 20}\r\n{extra}\r\n"
            ).encode()
        )
        answer = sock.recv(4096).decode("latin-1")
    assert answer.split()[1] in ("401", "413")


def test_security_headers(live: str) -> None:
    token = httpx.post(
        f"{live}/auth/token", data={"username": "admin1", "password": PASSWORD}, timeout=10
    )
    assert token.status_code == 200
    for r in (token, httpx.get(f"{live}/health", timeout=5)):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-frame-options"] == "DENY"
    docs = httpx.get(f"{live}/docs", timeout=5)
    assert "default-src 'self'" in docs.headers["content-security-policy"]


#: Bad values that used to reach the planner or the database (500s):
#: (method, path, user, JSON text of the body or None).
BAD_VALUES = [
    ("GET", "/plans/O-NAKA1/0001-01-01", "off_naka1", None),
    ("GET", "/plans/O-NAKA1/9999-12-31", "off_naka1", None),
    ("GET", "/progress?start=0001-01-01&end=9999-12-31", "admin", None),
    ("GET", "/visits?date_from=0001-01-01", "admin", None),
    ("GET", "/night-approvals?on_date=0001-01-01", "mgr_naka", None),
    (
        "POST",
        "/plans/O-NAKA1/2026-11-04/replan",
        "off_naka1",
        '{"now": "10:00", "lon": NaN, "lat": 36.55}',
    ),
    (
        "POST",
        "/plans/O-NAKA1/2026-11-04/replan",
        "off_naka1",
        '{"now": "10:00", "lon": 136.6, "lat": Infinity}',
    ),
    ("POST", "/rebalance-jobs", "admin", '{"tolerance": NaN}'),
    ("POST", "/rebalance-jobs", "admin", '{"time_limit_s": -Infinity}'),
    (
        "POST",
        "/visits",
        "off_naka1",
        '{"household_id": "H-BEAT-NAKA1-01\\ud800", "visited_on": "2026-11-04",'
        ' "time": "10:00", "outcome": "met", "idempotency_key": "k1"}',
    ),
    (
        "POST",
        "/visits",
        "off_naka1",
        '{"household_id": "H-BEAT-NAKA1-01", "visited_on": "0001-01-01",'
        ' "time": "10:00", "outcome": "met", "idempotency_key": "k2"}',
    ),
    (
        "POST",
        "/night-approvals",
        "mgr_naka",
        '{"officer_id": "O-NAKA1", "on_date": "9999-12-31", "start": "18:00", "end": "20:00"}',
    ),
    ("POST", "/auth/api-keys", "off_naka1", '{"label": "\\udfff"}'),
]


@pytest.mark.parametrize(("method", "path", "user", "body"), BAD_VALUES)
def test_bad_values_get_422_not_500(
    api_env: Any, method: str, path: str, user: str, body: str | None
) -> None:
    headers = api_env.auth(user)
    if body is not None:
        headers = {**headers, "Content-Type": "application/json"}
    r = api_env.client.request(method, path, content=body, headers=headers)
    assert r.status_code == 422, (r.status_code, r.text[:300])


def test_credentials_can_be_withdrawn(service: Service) -> None:
    """API keys expire and can be revoked; logout ends a token; a disabled user
    and a changed password end every token at once."""
    with service.client("10.5.0.1") as c:
        token = c.post("/auth/token", data={"username": "user10", "password": PASSWORD}).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        key = c.post("/auth/api-keys", json={"label": "tablet"}, headers=bearer).json()
        assert key["expires_at"] is not None
        by_key = {"Authorization": f"Bearer {key['api_key']}"}
        assert c.get("/auth/me", headers=by_key).status_code == 200
        listed = c.get("/auth/api-keys", headers=bearer).json()
        assert [k["id"] for k in listed] == [key["id"]] and "api_key" not in listed[0]
        assert c.post(f"/auth/api-keys/{key['id']}/revoke", headers=bearer).status_code == 200
        assert c.get("/auth/me", headers=by_key).status_code == 401
        # Logout ends this token only.
        other = c.post("/auth/token", data={"username": "user10", "password": PASSWORD}).json()
        other_bearer = {"Authorization": f"Bearer {other['access_token']}"}
        assert c.post("/auth/logout", headers=other_bearer).status_code == 204
        assert c.get("/auth/me", headers=other_bearer).status_code == 401
        assert c.get("/auth/me", headers=bearer).status_code == 200
        # A password change needs the current one and ends the other tokens.
        third = c.post("/auth/token", data={"username": "user10", "password": PASSWORD}).json()
        third_bearer = {"Authorization": f"Bearer {third['access_token']}"}
        wrong = {"current_password": "nope", "new_password": "brand-new-pass"}
        assert c.post("/auth/password", json=wrong, headers=bearer).status_code == 403
        right = {"current_password": PASSWORD, "new_password": "brand-new-pass"}
        assert c.post("/auth/password", json=right, headers=bearer).status_code == 204
        assert c.get("/auth/me", headers=third_bearer).status_code == 401
        assert c.get("/auth/me", headers=bearer).status_code == 200
        # An admin disables the user: their last token ends too.
        admin = c.post("/auth/token", data={"username": "user11", "password": PASSWORD}).json()
        admin_bearer = {"Authorization": f"Bearer {admin['access_token']}"}
        me = c.get("/auth/me", headers=bearer).json()
        users = {u["username"]: u["id"] for u in c.get("/users", headers=admin_bearer).json()}
        assert me["username"] == "user10"
        r = c.post(f"/users/{users['user10']}/disable", headers=admin_bearer)
        assert r.status_code == 200 and r.json()["active"] is False
        assert c.get("/auth/me", headers=bearer).status_code == 401
        login = c.post("/auth/token", data={"username": "user10", "password": "brand-new-pass"})
        assert login.status_code == 401


def test_an_expired_api_key_is_refused(service: Service) -> None:
    from datetime import timedelta

    from api.db import utcnow
    from api.models import ApiKey

    with service.client("10.6.0.1") as c:
        token = c.post("/auth/token", data={"username": "user12", "password": PASSWORD}).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        key = c.post("/auth/api-keys", json={"label": "old"}, headers=bearer).json()
        with service.db.writing() as s:
            s.get(ApiKey, key["id"]).expires_at = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
        from api.deps import forget_principals

        forget_principals(token=key["api_key"])
        r = c.get("/auth/me", headers={"Authorization": f"Bearer {key['api_key']}"})
        assert r.status_code == 401


CHILDREN_SCRIPT = """
import os, sys, time
from api import planner
pool = planner._get_pool(2, 0)
pids = sorted({pool.submit(os.getpid).result() for _ in range(8)})
print(" ".join(map(str, pids)), flush=True)
time.sleep(120)
"""


def kill_and_wait(worker: subprocess.Popen, children: list[int]) -> list[int]:
    """SIGKILL ``worker``; the ``children`` still alive 15 s later."""
    import signal

    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    deadline = time.monotonic() + 15
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and not _zombie(p)]
    return alive


def test_planner_processes_die_with_their_worker() -> None:
    """A worker killed with SIGKILL leaves no planner process behind."""

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILDREN_SCRIPT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip(), proc.stderr.read()[-2000:]  # type: ignore[union-attr]
        pids = [int(p) for p in line.split()]
        assert pids and proc.pid not in pids
        alive = kill_and_wait(proc, pids)
        assert not alive, f"planner processes outlived their worker: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()


READER_SCRIPT = """
import os, sys, time
from datetime import date
from api.import_sandbox import ImportLimits, _child, reader_context
ctx = reader_context()
end, child_end = ctx.Pipe(duplex=False)
# A named pipe no one writes to: the reader waits on it for ever.
proc = ctx.Process(target=_child, args=(sys.argv[1], "households.csv", "households", None,
                                        date(2026, 11, 1), ImportLimits(), child_end))
proc.start()
print(proc.pid, flush=True)
time.sleep(120)
"""


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_upload_readers_die_with_their_worker(tmp_path: Path) -> None:
    """A worker killed with SIGKILL leaves no upload reader (nor its fork server) behind."""
    import signal

    fifo = tmp_path / "households.csv"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(fifo)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    alive: list[int] = []
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip(), proc.stderr.read()[-2000:]  # type: ignore[union-attr]
        reader = int(line)
        server = _parent_of(reader)  # the fork server, a child of the worker
        alive = [reader, server]
        assert server != proc.pid and _parent_of(server) == proc.pid
        alive = kill_and_wait(proc, alive)
        assert not alive, f"upload readers outlived their worker: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in alive:  # a failed run leaves nothing behind either
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


ATTACKS = ROOT / "tests" / "fixtures" / "attacks"


@pytest.mark.parametrize(
    ("name", "layer", "code"),
    [
        ("innocent.geojson", "koban", "format_mismatch"),  # an OGR VRT reading /etc/passwd
        ("vsicurl.geojson", "koban", "format_mismatch"),  # a VRT sending an HTTP request
        ("spin.geojson", "koban", "format_mismatch"),  # SQLite with a recursive view
        ("spin.gpkg", "koban", "format_mismatch"),  # a GeoPackage whose layer is that view
        ("bomb.parquet", "koban", "too_large"),  # 3 million rows in 19 KB
    ],
)
def test_hostile_uploads_are_refused_without_being_opened(
    api_env: Any, name: str, layer: str, code: str
) -> None:
    path = ATTACKS / name
    started = time.monotonic()
    r = api_env.client.post(
        "/imports",
        data={"layer": layer},
        files={"file": (name, path.read_bytes(), "application/octet-stream")},
        headers=api_env.auth("admin"),
    )
    assert r.status_code == 422, r.text[:300]
    assert [p["code"] for p in r.json()["problems"]] == [code]
    assert "root:" not in r.text and "/bin/" not in r.text
    assert time.monotonic() - started < 60


def test_gdal_in_the_reader_follows_no_vrt_and_no_url(tmp_path: Path) -> None:
    """Defence in depth: even a file that got past the format check could not
    make GDAL read another file in the reading process."""
    vrt = tmp_path / "layer.vrt"
    vrt.write_text((ATTACKS / "innocent.geojson").read_text(), encoding="utf-8")
    code = (
        "import os, sys\n"
        "from api.import_sandbox import GDAL_SANDBOX_ENV\n"
        "os.environ.update(GDAL_SANDBOX_ENV)\n"
        "import pyogrio\n"
        "try:\n"
        f"    df = pyogrio.read_dataframe({str(vrt)!r}, read_geometry=False)\n"
        "    print('READ', len(df))\n"
        "except Exception as exc:\n"
        "    print('REFUSED', type(exc).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.startswith("REFUSED"), out.stdout + out.stderr[-1000:]


def test_the_upload_reader_itself_follows_no_vrt() -> None:
    """The reading process the service starts (a fork of its fork server,
    which loaded GDAL) has no VRT driver either: given the VRT that reads
    /etc/passwd past the format check, it reports the file unreadable."""
    from datetime import date

    import pyogrio

    from api.import_sandbox import ImportLimits, _child, reader_context

    attack = ATTACKS / "innocent.geojson"
    # Without the sandbox, GDAL would read the password file through it.
    assert "root:" in pyogrio.read_dataframe(attack, read_geometry=False).to_string()
    ctx = reader_context()
    end, child_end = ctx.Pipe(duplex=False)
    limits = ImportLimits()
    proc = ctx.Process(
        target=_child,
        args=(str(attack), attack.name, "koban", None, date(2026, 11, 1), limits, child_end),
    )
    proc.start()
    child_end.close()
    try:
        assert end.poll(60), "the reader did not answer"
        kind, payload, _ = end.recv()
    finally:
        proc.join(10)
    assert kind == "problems", (kind, payload)
    assert "root:" not in repr(payload) and "/bin/" not in repr(payload)


@functools.cache
def million_vertices_geojson() -> bytes:
    """A beat whose ring has a million vertices (a circle of 1 km, about 6 mm
    apart, 8 decimals: no two alike), made once for both databases."""
    import json

    import numpy as np

    n = 1_000_000
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    xy = np.column_stack([136.6 + 0.01 * np.cos(a), 36.55 + 0.01 * np.sin(a)])
    ring = ",".join(f"[{x:.8f},{y:.8f}]" for x, y in xy.tolist())
    ring += f",[{xy[0, 0]:.8f},{xy[0, 1]:.8f}]"  # closed
    properties = json.dumps({"beat_id": "B-HUGE", "koban_id": "K-NAKA1", "name": "huge"})
    return (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        f'{properties}, "geometry": {{"type": "Polygon", "coordinates": [[{ring}]]}}}}]}}'
    ).encode()


def test_a_polygon_with_a_million_vertices_is_refused(api_env: Any) -> None:
    body = million_vertices_geojson()
    r = api_env.client.post(
        "/imports",
        data={"layer": "beats"},
        files={"file": ("beats_million_vertices.geojson", body, "application/geo+json")},
        headers=api_env.auth("admin"),
    )
    assert r.status_code == 422, r.text[:300]
    assert "too_many_vertices" in {p["code"] for p in r.json()["problems"]}


def test_a_file_with_many_problems_gets_a_bounded_answer(api_env: Any, tmp_path: Path) -> None:
    path = tmp_path / "households_many_problems.csv"
    rows = ["household_id,beat_id,kind,lon,lat"]
    rows += [f"H{i},BEAT-NAKA1,castle,999,999" for i in range(3000)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    r = api_env.client.post(
        "/imports",
        data={"layer": "households"},
        files={"file": (path.name, path.read_bytes(), "text/csv")},
        headers=api_env.auth("admin"),
    )
    assert r.status_code == 422
    body = r.json()
    assert body["problem_count"] >= 3000  # at least one problem on every row
    assert len(body["problems"]) == 1000
    assert f"the first 1,000 of {body['problem_count']:,}" in body["detail"]


@pytest.mark.parametrize(
    ("user", "path", "params"),
    [
        ("off_naka1", "/visits", {"household_id": "H-BEAT-NAKA2-01"}),
        ("off_naka1", "/visits", {"officer_id": "O-NAKA2"}),
        ("mgr_naka", "/visits", {"household_id": "H-BEAT-HIGASHI1-01"}),
        ("mgr_naka", "/visits", {"officer_id": "O-HIGASHI1"}),
        ("mgr_naka", "/night-approvals", {"officer_id": "O-HIGASHI1"}),
        ("off_naka1", "/night-approvals", {"officer_id": "O-NAKA2"}),
        ("off_naka1", "/visits", {"household_id": "no-such-household"}),
    ],
)
def test_list_filters_outside_the_scope_are_403(
    api_env: Any, user: str, path: str, params: dict[str, str]
) -> None:
    r = api_env.client.get(path, params=params, headers=api_env.auth(user))
    assert r.status_code == 403, r.text[:200]


def test_an_admin_making_an_account_that_reads_personal_fields_raises_an_alert(
    api_env: Any,
) -> None:
    import uuid

    name = f"mgr{uuid.uuid4().hex[:8]}"
    r = api_env.client.post(
        "/users",
        json={"username": name, "password": PASSWORD, "role": "manager", "station": "金沢中"},
        headers=api_env.auth("admin"),
    )
    assert r.status_code == 201
    alerts = api_env.client.get(
        "/audit", params={"action": "alert", "resource": "user"}, headers=api_env.auth("admin")
    ).json()
    assert any(a["detail"]["username"] == name and a["username"] == "admin" for a in alerts)


def test_a_refused_login_is_answered_late_without_holding_a_thread(tmp_path: Path) -> None:
    svc = Service(tmp_path, login_refusal_delay_s=0.5)
    try:
        started = time.monotonic()
        assert svc.login("10.7.0.1", "user20", "wrong") == 401
        assert time.monotonic() - started >= 0.5
        started = time.monotonic()
        assert svc.login("10.7.0.1", "user20", PASSWORD) == 200
        assert time.monotonic() - started < 5
    finally:
        svc.db.dispose()
