"""Vehicle routing with time windows, every visit required: travel against best known.

Instances: ``../shared/bench/solomon/`` (Solomon 1987, 100 customers,
capacity and time windows). Each visit is ``required`` with its ``demand``;
each of the instance's vehicles is an officer with ``capacity``; all may be
used. Travel times are Euclidean distance x ``--scale`` (default 100),
rounded; the distance reported is recomputed in real numbers along our
routes and compared with the best-known distance (``X_distance`` keys of
``BKS.json``, which rank distance first). Our routes are re-checked here
against the matrix (windows, capacity, return time).

Usage: ``python benchmarks/bench_solomon.py [--instances C101 R101] [--time-limit 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from junkai_geo.solver import solve_problem

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench" / "solomon"
RESULTS = ROOT / "benchmarks" / "results" / "solomon.md"


def read_instance(path: Path, scale: int) -> tuple[dict, np.ndarray]:
    """One Solomon file -> (our JSON problem, real coordinates)."""
    lines = path.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.strip().startswith("NUMBER"))
    n_vehicles, capacity = (int(x) for x in lines[head + 1].split())
    rows = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    rows = [r for r in rows if len(r) == 7]
    xy = np.array([[float(r[1]), float(r[2])] for r in rows])
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    close = int(rows[0][5]) * scale
    visits = [
        {
            "id": f"c{r[0]}",
            "location": i,
            "service": int(r[6]) * scale,
            "value": 0,
            "demand": int(r[3]),
            "time_windows": [[int(r[4]) * scale, int(r[5]) * scale]],
            "required": True,
        }
        for i, r in enumerate(rows[1:], start=1)
    ]
    officers = [
        {"id": f"v{k}", "start": 0, "end": 0, "shift": [0, close], "capacity": capacity}
        for k in range(n_vehicles)
    ]
    problem = {
        "durations": np.rint(dist * scale).astype(int).tolist(),
        "visits": visits,
        "officers": officers,
        "seed": 0,
    }
    return problem, xy


def check_and_measure(problem: dict, solution: dict, xy: np.ndarray) -> tuple[float, int]:
    """Re-check every route; return (real Euclidean distance, routes used)."""
    t = problem["durations"]
    visits = {v["id"]: v for v in problem["visits"]}
    served: set[str] = set()
    total = 0.0
    used = 0
    for route in solution["routes"]:
        if not route["stops"]:
            continue
        used += 1
        officer = next(o for o in problem["officers"] if o["id"] == route["officer"])
        now, here, load = officer["shift"][0], 0, 0
        for stop in route["stops"]:
            v = visits[stop["visit"]]
            assert stop["visit"] not in served
            served.add(stop["visit"])
            now = max(now + t[here][v["location"]], v["time_windows"][0][0])
            assert now <= v["time_windows"][0][1], f"{stop['visit']} late"
            total += float(np.hypot(*(xy[here] - xy[v["location"]])))
            now += v["service"]
            load += v["demand"]
            here = v["location"]
        total += float(np.hypot(*(xy[here] - xy[0])))
        assert now + t[here][0] <= officer["shift"][1]
        assert load <= officer["capacity"]
    assert served == set(visits), f"{len(visits) - len(served)} visits not served"
    return total, used


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="*", help="instance names such as C101 (default: all)")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    bks = json.loads((BENCH / "BKS.json").read_text())
    names = args.instances or sorted(p.stem for p in BENCH.glob("*.txt") if p.stem[0] in "CR")
    lines = [
        f"# Solomon VRPTW, every visit required, {args.time_limit:g} s per instance",
        "",
        "Distance recomputed in real numbers along our routes; best known from "
        "`BKS.json` (`X_distance`). Integer matrix: Euclidean x "
        f"{args.scale}, rounded. Each solution re-checked against the matrix.",
        "",
        "| instance | ours | routes | best known | BKS routes | gap | time s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    gaps = []
    for name in names:
        problem, xy = read_instance(BENCH / f"{name}.txt", args.scale)
        problem["time_limit"] = args.time_limit
        began = time.perf_counter()
        solution = solve_problem(problem)
        took = time.perf_counter() - began
        if solution["status"] == "infeasible":
            row = f"| {name} | infeasible | | | | | {took:.1f} |"
        else:
            dist, used = check_and_measure(problem, solution, xy)
            best = bks[f"{name}_distance"]
            gap = 100 * (dist - best["best_known_cost"]) / best["best_known_cost"]
            gaps.append(gap)
            row = (
                f"| {name} | {dist:.2f} | {used} | {best['best_known_cost']:.2f} | "
                f"{best['solved_with_vehicles']} | {gap:.2f} % | {took:.1f} |"
            )
        lines.append(row)
        print(row, flush=True)
    mean = sum(gaps) / max(1, len(gaps))
    tail = [
        "",
        f"Mean gap over {len(gaps)} instances: **{mean:.2f} %**; "
        f"infeasible: {len(names) - len(gaps)}.",
        "",
        "Load average (1 / 5 / 15 min) at the end of the run: "
        + " / ".join(f"{x:.1f}" for x in os.getloadavg())
        + f", on {os.cpu_count()} cores shared with other jobs.",
    ]
    lines += tail
    print("\n".join(tail))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
