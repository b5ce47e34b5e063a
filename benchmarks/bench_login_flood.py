"""A flood of wrong passwords must not hold up the round (issue #17).

``--attackers`` clients (48) post wrong passwords to ``/auth/token`` as fast
as the server answers, for ``--seconds`` (30), while ``--officers`` clients
(8) register visit results as officers do after each door. Loopback only,
bounded in time. Three runs: the officers alone (the control), then with the flood:

- **default settings**: the flood comes from one address, so after
  ``login_max_failures_per_address`` failures it gets 429 without a password
  check;
- **unthrottled**: every limit raised out of reach, so every attempt costs an
  Argon2 check: this is the case of attackers spread over many addresses,
  and shows that checks on their own small thread pool (outside any
  transaction) leave the visits alone.

Target: visit registration p95 <= 200 ms and no 5xx, in both runs.
Run: ``python benchmarks/bench_login_flood.py`` (SQLite; the database is the
one bench_load.py prepares under ``.junkai_cache/``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import numpy as np
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_load import (  # noqa: E402
    free_port,
    prepare_database,
    setup_clients,
    start_server,
)

VISIT_P95_MS = 200.0
UNTHROTTLED = {
    "JUNKAI_LOGIN_MAX_FAILURES": "1000000000",
    "JUNKAI_LOGIN_MAX_FAILURES_PER_ADDRESS": "1000000000",
    "JUNKAI_LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000000",
}


async def attacker(base: str, stop: float, rng: random.Random, codes: Counter[int]) -> None:
    async with aiohttp.ClientSession(base) as c:
        while time.monotonic() < stop:
            # Unknown names and the station manager's (not used by the officers).
            name = rng.choice(["bench_manager_x", f"nobody{rng.randrange(1000)}"])
            async with c.post(
                "/auth/token", data={"username": name, "password": f"guess{rng.random()}"}
            ) as r:
                await r.read()
                codes[r.status] += 1


async def officer(
    base: str, p: dict, stop: float, rng: random.Random, lat: list[float], codes: Counter[int]
) -> None:
    outcomes = ["met", "absent", "absent", "refused"]
    async with aiohttp.ClientSession(base) as c:
        n = 0
        while time.monotonic() < stop:
            h = rng.choice(p["households"])
            n += 1
            body = {
                "household_id": h["household_id"],
                "visited_on": "2026-12-01",
                "time": "10:00",
                "outcome": rng.choice(outcomes),
                "idempotency_key": f"flood-{p['name']}-{time.time_ns()}-{n}",
            }
            t = time.perf_counter()
            async with c.post("/visits", json=body, headers=p["headers"]) as r:
                await r.read()
                codes[r.status] += 1
            lat.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(rng.uniform(0.05, 0.25))  # an officer's tablet, not a loop


async def run(base: str, attackers: int, officers: int, seconds: float) -> dict:
    profiles = [p for p in await setup_clients(base, officers + 1) if p["name"] != "bench_manager"]
    profiles = profiles[:officers]
    stop = time.monotonic() + seconds
    lat: list[float] = []
    visit_codes: Counter[int] = Counter()
    login_codes: Counter[int] = Counter()
    rng = random.Random(7)
    tasks = [
        attacker(base, stop, random.Random(rng.random()), login_codes) for _ in range(attackers)
    ]
    tasks += [
        officer(base, p, stop, random.Random(rng.random()), lat, visit_codes) for p in profiles
    ]
    await asyncio.gather(*tasks)
    a = np.asarray(lat)
    return {
        "visits": len(a),
        "p50": float(np.percentile(a, 50)) if len(a) else float("nan"),
        "p95": float(np.percentile(a, 95)) if len(a) else float("nan"),
        "max": float(a.max()) if len(a) else float("nan"),
        "visit_5xx": sum(v for k, v in visit_codes.items() if k >= 500),
        "visit_codes": dict(visit_codes),
        "login_codes": dict(login_codes),
        "login_5xx": sum(v for k, v in login_codes.items() if k >= 500),
    }


def forget_failures(url: str) -> None:
    """Each run starts with no failed login on record (the previous run's flood
    would otherwise still throttle the loopback address)."""
    from sqlalchemy import text

    from api.db import Database

    db = Database(url)
    with db.writing() as s:
        s.execute(text("DELETE FROM login_failures"))
    db.dispose()


def one_run(url: str, label: str, env: dict[str, str], args: argparse.Namespace) -> dict:
    forget_failures(url)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    port = free_port()
    proc = start_server(url, port, args.workers)
    try:
        res = uvloop.run(
            run(f"http://127.0.0.1:{port}", args.attackers, args.officers, args.seconds)
        )
    finally:
        proc.terminate()
        proc.wait(30)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    res["label"] = label
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attackers", type=int, default=48)
    ap.add_argument("--officers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/login_flood.md")
    args = ap.parse_args()
    cache = ROOT / ".junkai_cache"
    cache.mkdir(exist_ok=True)
    url = f"sqlite:///{cache / 'bench_load.sqlite3'}"
    prepare_database(url)
    load_before = os.getloadavg()
    control = argparse.Namespace(**{**vars(args), "attackers": 0})
    results = [
        one_run(url, "no flood (the same officers alone)", {}, control),
        one_run(url, "default settings", {}, args),
        one_run(url, "unthrottled (every attempt checked)", UNTHROTTLED, args),
    ]
    lines = [
        "# Login flood while officers register visits",
        "",
        f"`python benchmarks/bench_login_flood.py`: {args.attackers} clients post wrong "
        f"passwords for {args.seconds:.0f} s while {args.officers} officers register visits "
        f"(SQLite, `serve --workers {args.workers}`, loopback). Load average before: "
        f"{load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f} (2 shared cores).",
        "",
        "| run | visits | visit p50 ms | visit p95 ms | max ms | visit 5xx | logins by status | "
        "login 5xx | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ok = True
    for r in results:
        hit = r["p95"] <= VISIT_P95_MS and r["visit_5xx"] == 0 and r["login_5xx"] == 0
        if r is not results[0]:
            ok &= hit
        logins = ", ".join(f"{k}: {v:,}" for k, v in sorted(r["login_codes"].items()))
        lines.append(
            f"| {r['label']} | {r['visits']:,} | {r['p50']:.1f} | {r['p95']:.1f} | "
            f"{r['max']:.0f} | {r['visit_5xx']} | {logins} | {r['login_5xx']} | "
            f"{'met' if hit else 'MISSED'} |"
        )
    lines += ["", f"Target: visit p95 <= {VISIT_P95_MS:.0f} ms and no 5xx."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
