"""SIGKILL campaign (issue #17): visits lost or duplicated, household reads without audit.

``--runs`` (10) times, on a fresh SQLite database (``--backend postgres``:
a fresh PostgreSQL database from ``JUNKAI_TEST_POSTGRES_URL``) seeded with
the API tests' three-beat area, a ``uvicorn`` server process is started and:

- ``--clients`` (4) officers' clients register ``--visits`` (1,000) visit
  results, each with its own ``Idempotency-Key``;
- one reader reads household details (``GET /households/{id}``, which the
  audit trail records) one after the other;
- the server gets SIGKILL after a random number of acknowledged visits
  (between 20 % and 80 % of them);
- the server is started again, every visit is sent again with its key, and
  the reader reads ``--reads-after`` (50) more households.

Counted per run: **lost** (acknowledged visits absent after the restart or
replayed under another id), **duplicated** (keys stored more than once,
or more than ``--visits`` rows), and **audit**: the audit rows of the
reader's household reads against its acknowledged reads (each acknowledged
read has exactly one row; the read in flight at the kill may have left one).
Long (about a minute a run): not in the test suite, where
``tests/api_tests/test_crash.py`` runs one kill.

Run: ``python benchmarks/bench_sigkill.py`` (writes benchmarks/results/sigkill.md).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "sigkill.md"

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from api.db import Database  # noqa: E402
from api.models import AuditEntry, User, VisitRow  # noqa: E402
from tests.api_tests.conftest import (  # noqa: E402
    PASSWORD,
    fresh_postgres_database,
    household_ids,
    seed,
)
from tests.api_tests.test_crash import free_port  # noqa: E402

#: Seconds a server may take to start (imports on a loaded machine).
START_TIMEOUT_S = 600.0
READER = "mgr_naka"  # the station manager reads household details of his beats
WRITER = "off_naka1"


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """``uvicorn`` on ``url`` at ``port``, once its /health answers."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "JUNKAI_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start within {START_TIMEOUT_S:.0f} s")


def one_run(
    url: str, n_visits: int, clients: int, reads_after: int, rng: random.Random
) -> dict[str, Any]:
    db = Database(url)
    db.migrate()
    seed(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    homes = household_ids("BEAT-NAKA1") + household_ids("BEAT-NAKA2")
    visit_homes = household_ids("BEAT-NAKA1")
    bodies = [
        {
            "household_id": visit_homes[i % len(visit_homes)],
            "visited_on": "2026-09-01",
            "time": f"{9 + i % 8:02d}:{i % 60:02d}",
            "outcome": "absent",
        }
        for i in range(n_visits)
    ]
    tag = f"kill{rng.randrange(10**6):06d}"
    keys = [f"{tag}-{i:04d}" for i in range(n_visits)]
    kill_after = rng.randint(n_visits // 5, 4 * n_visits // 5)
    acked: dict[str, str] = {}
    reads = {"acked": 0, "sent": 0}
    lock = threading.Lock()
    stop = threading.Event()
    server = start_server(url, port)
    t0 = time.perf_counter()
    try:

        def token(user: str) -> dict[str, str]:
            r = httpx.post(f"{base}/auth/token", data={"username": user, "password": PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        writer, reader = token(WRITER), token(READER)

        def killer() -> None:
            while not stop.is_set():
                with lock:
                    if len(acked) >= kill_after:
                        break
                time.sleep(0.001)
            server.send_signal(signal.SIGKILL)

        def read_loop() -> None:
            with httpx.Client(timeout=10) as c:
                i = 0
                while not stop.is_set():
                    reads["sent"] += 1
                    try:
                        r = c.get(f"{base}/households/{homes[i % len(homes)]}", headers=reader)
                    except httpx.HTTPError:
                        return  # the server is gone: this read was not answered
                    assert r.status_code == 200, r.text
                    reads["acked"] += 1
                    i += 1

        def send(client: httpx.Client, i: int) -> None:
            try:
                r = client.post(
                    f"{base}/visits", json=bodies[i], headers={**writer, "Idempotency-Key": keys[i]}
                )
            except httpx.HTTPError:
                return  # no answer: not acknowledged
            if r.status_code in (200, 201):
                with lock:
                    acked[keys[i]] = r.json()["visit_id"]

        threading.Thread(target=killer, daemon=True).start()
        reader_thread = threading.Thread(target=read_loop, daemon=True)
        reader_thread.start()
        with httpx.Client(timeout=10) as client, ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda i: send(client, i), range(n_visits)))
        server.wait(timeout=60)
        killed = server.returncode == -signal.SIGKILL
        reader_thread.join(timeout=30)
        before_restart = dict(reads)

        server = start_server(url, port)
        replies: dict[str, tuple[int, str]] = {}
        with httpx.Client(timeout=30) as client:
            for i in range(n_visits):
                r = client.post(
                    f"{base}/visits", json=bodies[i], headers={**writer, "Idempotency-Key": keys[i]}
                )
                replies[keys[i]] = (r.status_code, r.json().get("visit_id", ""))
            for i in range(reads_after):
                r = client.get(f"{base}/households/{homes[i % len(homes)]}", headers=reader)
                assert r.status_code == 200, r.text
    finally:
        stop.set()
        if server.poll() is None:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
    with db.read_session() as s:
        writer_id = s.scalar(select(User.id).where(User.username == WRITER))
        stored = dict(
            s.execute(
                select(VisitRow.idempotency_key, func.count())
                .where(VisitRow.created_by == writer_id, VisitRow.idempotency_key.like(f"{tag}-%"))
                .group_by(VisitRow.idempotency_key)
            ).all()
        )
        total = s.scalar(
            select(func.count())
            .select_from(VisitRow)
            .where(VisitRow.idempotency_key.like(f"{tag}-%"))
        )
        audit_rows = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.username == READER, AuditEntry.resource == "household")
        )
    db.dispose()
    lost = len(
        {k for k, vid in acked.items() if replies.get(k) != (200, vid)}
        | {k for k in keys if k not in stored}
    )
    duplicated = sum(n - 1 for n in stored.values() if n > 1) + max(0, (total or 0) - n_visits)
    acked_reads = before_restart["acked"] + reads_after
    in_flight = before_restart["sent"] - before_restart["acked"]
    audit_ok = acked_reads <= (audit_rows or 0) <= acked_reads + in_flight
    return {
        "killed": killed,
        "kill_after": kill_after,
        "acked": len(acked),
        "lost": lost,
        "duplicated": duplicated,
        "stored": total,
        "reads": acked_reads,
        "audit_rows": audit_rows,
        "in_flight": in_flight,
        "audit_ok": audit_ok,
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--visits", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--reads-after", type=int, default=50)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    rng = random.Random(args.seed)
    load_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results = []
    for run in range(1, args.runs + 1):
        with ExitStack() as stack:
            if args.backend == "sqlite":
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = f"sqlite:///{tmp / 'junkai.sqlite3'}"
            else:
                url = stack.enter_context(fresh_postgres_database())
            r = one_run(url, args.visits, args.clients, args.reads_after, rng)
        results.append(r)
        print(f"run {run}: {r}", flush=True)
    load_after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lost = sum(r["lost"] for r in results)
    dup = sum(r["duplicated"] for r in results)
    audit_bad = sum(1 for r in results if not r["audit_ok"])
    lines = [
        f"# SIGKILL campaign (`benchmarks/bench_sigkill.py`, {args.backend})",
        "",
        f"{args.runs} runs × {args.visits:,} visit registrations ({args.clients} clients, one",
        "Idempotency-Key each) with SIGKILL of the `uvicorn` server after a random number of",
        "acknowledged visits, a restart and every visit sent again; a manager reads household",
        "details one after the other throughout (audited reads).",
        "",
        f"Machine load before: `{load_before}`; after: `{load_after}`.",
        "",
        "| run | killed after (acks) | acknowledged | stored | lost | duplicated |"
        " household reads answered | audit rows | read in flight at the kill | audit exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {i} | {r['kill_after']} | {r['acked']} | {r['stored']} | {r['lost']} | "
            f"{r['duplicated']} | {r['reads']} | {r['audit_rows']} | {r['in_flight']} | "
            f"{'yes' if r['audit_ok'] else 'NO'} |"
            for i, r in enumerate(results, start=1)
        ),
        "",
        f"**Total: lost {lost}, duplicated {dup}; runs where an answered household read has no"
        f" audit row or a read has two: {audit_bad}.** Every run killed by SIGKILL: "
        f"{all(r['killed'] for r in results)}.",
        "",
        "Audit rule: the rows of the reader equal its answered reads, plus at most the one",
        "read in flight when the server was killed (the row is written before the data",
        "leaves the service, so a read can be recorded and not answered, never answered",
        "and not recorded).",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    if lost or dup or audit_bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
