"""Load benchmark of the web service on the bundled Kanazawa data.

Loopback only and bounded: the server (uvicorn, ``--workers`` processes)
listens on 127.0.0.1; ``--clients`` concurrent clients (aiohttp on uvloop,
one connection each, like one tablet each) send requests for ``--seconds``
and stop. The client library matters on 2 shared cores: httpx spent about
1.2 ms of CPU per request, a third of a core at 300 requests/s, taken from
the server it measures; aiohttp spends a fraction of that. Each client is one officer (or the
station manager) working in their own scope: reads of their beat's
households, the unvisited households near a point, household details
(audited), visits, beats, koban, the beat survey; two of the clients fetch
day plans. Figures per endpoint: count, errors, p50 / p95 / max latency.
Targets: no errors; read endpoints p95 <= 100 ms; plan p95 <= 3 s.

Run: ``python benchmarks/bench_load.py`` (SQLite, plus PostgreSQL when
``JUNKAI_TEST_POSTGRES_URL`` or ``--postgres URL`` names a server). The
databases are loaded once and kept under ``.junkai_cache/``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-password-1"
PLAN_DATE = "2026-12-01"
READ_P95_MS = 100.0
PLAN_P95_MS = 3000.0


def prepare_database(url: str) -> None:
    """Migrate and load the bundled data and the benchmark users, once."""
    from sqlalchemy import func, select

    from api.auth import create_user
    from api.db import Database
    from api.models import HouseholdRow, OfficerRow, User
    from api.store import load_dataset
    from junkai_geo.bundled import load_kanazawa

    db = Database(url)
    db.migrate()
    with db.writing() as s:
        if not s.scalar(select(func.count()).select_from(HouseholdRow)):
            t = time.perf_counter()
            load_dataset(s, load_kanazawa(validate=False), source="demo")
            print(f"loaded the bundled data in {time.perf_counter() - t:.0f} s", flush=True)
        if not s.scalar(select(func.count()).select_from(User)):
            officers = s.execute(
                select(OfficerRow.officer_id)
                .where(OfficerRow.beat_id.is_not(None))
                .order_by(OfficerRow.officer_id)
            ).scalars()
            for oid in list(officers)[:40]:
                create_user(s, f"bench_{oid}", PASSWORD, "officer", officer_id=oid)
            create_user(s, "bench_manager", PASSWORD, "manager", station="金沢中")
    db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JUNKAI_DATABASE_URL": url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--database-url",
            url,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


async def setup_clients(base: str, n: int) -> list[dict]:
    """Tokens and own-scope ids for ``n`` officers (and the manager)."""
    async with aiohttp.ClientSession(base) as c:
        users = [f"bench_{o}" for o in await officer_ids(c)]
        profiles = []
        for name in users[: max(1, n - 1)] + ["bench_manager"]:
            h = await login(c, name)
            async with c.get("/auth/me", headers=h) as r:
                me = await r.json()
            beat = sorted(me["beat_ids"])[0]
            async with c.get(
                "/households", params={"beat_id": beat, "limit": 1000}, headers=h
            ) as r:
                hh = await r.json()
            profiles.append(
                {
                    "name": name,
                    "headers": h,
                    "officer": me["officer_id"],
                    "beat": beat,
                    "households": hh,
                }
            )
        return profiles


async def login(c: aiohttp.ClientSession, name: str) -> dict[str, str]:
    async with c.post("/auth/token", data={"username": name, "password": PASSWORD}) as r:
        tok = await r.json()
    return {"Authorization": f"Bearer {tok['access_token']}"}


async def officer_ids(c: aiohttp.ClientSession) -> list[str]:
    # Officers are listed by the station's manager; benchmark users exist for them.
    h = await login(c, "bench_manager")
    async with c.get("/officers", headers=h) as r:
        offs = await r.json()
    return [o["officer_id"] for o in offs if o["beat_id"]]


def read_ops(p: dict, rng: random.Random) -> tuple[str, str, dict]:
    hh = p["households"]
    h = rng.choice(hh)
    ops = [
        ("households by beat", "/households", {"beat_id": p["beat"], "limit": 100}),
        (
            "households by status",
            "/households",
            {"beat_id": p["beat"], "status": "none", "limit": 100},
        ),
        (
            "households/near",
            "/households/near",
            {
                "lon": h["lon"] + rng.uniform(-0.002, 0.002),
                "lat": h["lat"] + rng.uniform(-0.002, 0.002),
                "limit": 10,
            },
        ),
        ("household detail", f"/households/{h['household_id']}", {}),
        ("visits of a household", "/visits", {"household_id": h["household_id"]}),
        ("beats", "/beats", {}),
        ("koban", "/koban", {}),
    ]
    return rng.choice(ops)


async def client_loop(
    base: str,
    p: dict,
    plan: bool,
    until: float,
    seed: int,
    results: dict[str, list[float]],
    errors: dict[str, int],
    think_s: float,
) -> None:
    rng = random.Random(seed)
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(base, timeout=timeout, connector=connector) as c:
        while time.monotonic() < until:
            if plan:
                name, path, params = (
                    "plan (JSON)",
                    f"/plans/{p['officer']}/{PLAN_DATE}",
                    {"seed": rng.randrange(1000)},
                )
            elif p["officer"] is None:
                name, path, params = rng.choice(
                    [
                        ("beat survey", "/reports/beat-survey", {}),
                        ("beats", "/beats", {}),
                        ("koban", "/koban", {}),
                    ]
                )
            else:
                name, path, params = read_ops(p, rng)
            t = time.perf_counter()
            try:
                async with c.get(path, params=params, headers=p["headers"]) as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            results[name].append((time.perf_counter() - t) * 1000)
            if not ok:
                errors[name] += 1
            if think_s:
                # Exponential pauses: the clients do not march in step.
                await asyncio.sleep(rng.expovariate(1 / think_s))


async def run_load(
    base: str, clients: int, plan_clients: int, seconds: float, think_s: float
) -> tuple[dict[str, list[float]], dict[str, int]]:
    profiles = await setup_clients(base, clients)
    results: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    until = time.monotonic() + seconds
    tasks = []
    officers = [p for p in profiles if p["officer"]]
    for i in range(clients):
        plan = i < plan_clients
        p = officers[i % len(officers)] if plan or i < clients - 1 else profiles[-1]
        tasks.append(client_loop(base, p, plan, until, i, results, errors, think_s))
    await asyncio.gather(*tasks)
    return results, errors


def table(
    backend: str, results: dict[str, list[float]], errors: dict[str, int], seconds: float
) -> list[str]:
    rows = []
    for name in sorted(results, key=lambda n: (n.startswith("plan"), n)):
        a = np.asarray(results[name])
        target = PLAN_P95_MS if name.startswith("plan") else READ_P95_MS
        p95 = float(np.percentile(a, 95))
        rows.append(
            f"| {backend} | {name} | {len(a)} | {errors.get(name, 0)} | "
            f"{np.percentile(a, 50):.1f} | {p95:.1f} | {a.max():.1f} | "
            f"{'ok' if p95 <= target and not errors.get(name) else 'MISSED'} "
            f"(<= {target:.0f}) |"
        )
    reads = np.concatenate([np.asarray(v) for k, v in results.items() if not k.startswith("plan")])
    total = sum(len(v) for v in results.values())
    rows.append(
        f"| {backend} | **all reads** | {len(reads)} | "
        f"{sum(v for k, v in errors.items() if not k.startswith('plan'))} | "
        f"{np.percentile(reads, 50):.1f} | {np.percentile(reads, 95):.1f} | "
        f"{reads.max():.1f} | {total / seconds:.0f} req/s overall |"
    )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--plan-clients", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--think-ms",
        type=float,
        action="append",
        default=None,
        help="mean pause of a client between requests; repeat for several runs "
        "(default: 0 = saturation, and 250)",
    )
    ap.add_argument("--postgres", default=os.environ.get("JUNKAI_TEST_POSTGRES_URL"))
    ap.add_argument(
        "--sqlite-path", type=Path, default=ROOT / ".junkai_cache" / "bench_load.sqlite3"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.md")
    args = ap.parse_args()
    args.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    backends = [("SQLite", f"sqlite:///{args.sqlite_path}")]
    if args.postgres:
        backends.append(("PostgreSQL", args.postgres))
    else:
        print("no PostgreSQL URL (--postgres or JUNKAI_TEST_POSTGRES_URL): SQLite only")
    lines = [
        "| database | endpoint | requests | errors | p50 ms | p95 ms | max ms | target |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    thinks = args.think_ms or [0.0, 250.0]
    # The machine is shared: the load average before and after each run says
    # how much of it the benchmark had.
    loads: list[str] = []
    for backend, url in backends:
        prepare_database(url)
        port = free_port()
        server = start_server(url, port, args.workers)
        try:
            for think in thinks:
                before = os.getloadavg()
                cpu_before = time.process_time()
                results, errors = uvloop.run(
                    run_load(
                        f"http://127.0.0.1:{port}",
                        args.clients,
                        args.plan_clients,
                        args.seconds,
                        think / 1000,
                    )
                )
                after = os.getloadavg()
                generator_cpu = (time.process_time() - cpu_before) / args.seconds
                name = f"{backend}, think {think:.0f} ms"
                lines += table(name, results, errors, args.seconds)
                loads.append(
                    f"| {name} | {before[0]:.2f} / {before[1]:.2f} / {before[2]:.2f} | "
                    f"{after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f} | "
                    f"{generator_cpu:.0%} |"
                )
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    head = (
        f"# Load benchmark\n\n{args.clients} concurrent clients ({args.plan_clients} "
        f"fetching day plans, the others reading in their own scope) for "
        f"{args.seconds:.0f} s against `junkai-geo serve --workers {args.workers}` on 127.0.0.1, "
        "bundled Kanazawa data (216,536 households, 397,522 visits). Machine: 2 cores "
        "shared with the load generator and with other jobs. `think 0` is saturation "
        "(each client sends its next request at once, so the latency is mostly queueing); "
        "`think 250` gives each client a mean pause of 250 ms between requests, still "
        f"{args.clients} sessions at once, closer to officers on tablets.\n\n"
    )
    load_table = [
        "",
        "Load average of the machine (1 / 5 / 15 min; 2 cores) before and after each run, "
        "and the CPU the load generator itself used (share of one core, setup included):",
        "",
        "| run | before | after | load generator CPU |",
        "|---|---|---|---:|",
        *loads,
    ]
    text = head + "\n".join(lines + load_table) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
