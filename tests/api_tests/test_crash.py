"""Crash test: the server is SIGKILLed in the middle of 1,000 visit
registrations; after a restart every acknowledged visit is there exactly
once, and resending everything (same idempotency keys) adds nothing twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select

from api.db import Database
from api.models import User, VisitRow

from .conftest import PASSWORD, household_ids, seed

ROOT = Path(__file__).resolve().parents[2]
N_VISITS = 1000
KILL_AFTER_ACKS = 400
CLIENTS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JUNKAI_DATABASE_URL": url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not start within 60 s")


def test_sigkill_mid_registration_loses_and_duplicates_nothing(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    db.migrate()
    seed(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    homes = household_ids("BEAT-NAKA1")
    bodies = [
        {
            "household_id": homes[i % len(homes)],
            "visited_on": "2026-09-01",
            "time": f"{9 + i % 8:02d}:{i % 60:02d}",
            "outcome": "absent",
        }
        for i in range(N_VISITS)
    ]
    keys = [f"crash-{i:04d}" for i in range(N_VISITS)]
    acked: dict[str, str] = {}
    lock = threading.Lock()
    server = start_server(empty_database_url, port)
    try:
        token = httpx.post(
            f"{base}/auth/token", data={"username": "off_naka1", "password": PASSWORD}
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        def killer() -> None:
            while True:
                with lock:
                    if len(acked) >= KILL_AFTER_ACKS:
                        break
                time.sleep(0.001)
            server.send_signal(signal.SIGKILL)

        def send(client: httpx.Client, i: int) -> None:
            try:
                r = client.post(
                    f"{base}/visits",
                    json=bodies[i],
                    headers={**headers, "Idempotency-Key": keys[i]},
                )
            except httpx.HTTPError:
                return  # no answer: not acknowledged
            if r.status_code in (200, 201):
                with lock:
                    acked[keys[i]] = r.json()["visit_id"]

        threading.Thread(target=killer, daemon=True).start()
        with httpx.Client(timeout=10) as client, ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: send(client, i), range(N_VISITS)))
        server.wait(timeout=30)
        assert server.returncode == -signal.SIGKILL
        assert KILL_AFTER_ACKS <= len(acked) < N_VISITS, len(acked)

        server = start_server(empty_database_url, port)
        replies: dict[str, tuple[int, str]] = {}

        def resend(client: httpx.Client, i: int) -> tuple[str, httpx.Response]:
            r = client.post(
                f"{base}/visits", json=bodies[i], headers={**headers, "Idempotency-Key": keys[i]}
            )
            return keys[i], r

        # Resent by the same number of clients (one after another took most of the test).
        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(CLIENTS) as pool:
            for key, r in pool.map(lambda i: resend(client, i), range(N_VISITS)):
                assert r.status_code in (200, 201), r.text
                replies[key] = (r.status_code, r.json()["visit_id"])
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
    # Every acknowledged visit was durable: its resend is a replay of the same visit.
    for key, visit_id in acked.items():
        assert replies[key] == (200, visit_id), key
    with db.read_session() as s:
        user_id = s.scalar(select(User.id).where(User.username == "off_naka1"))
        stored = dict(
            s.execute(
                select(VisitRow.idempotency_key, func.count())
                .where(VisitRow.created_by == user_id, VisitRow.idempotency_key.like("crash-%"))
                .group_by(VisitRow.idempotency_key)
            ).all()
        )
        total = s.scalar(
            select(func.count())
            .select_from(VisitRow)
            .where(VisitRow.idempotency_key.like("crash-%"))
        )
    db.dispose()
    assert set(stored) == set(keys) and set(stored.values()) == {1}
    assert total == N_VISITS
