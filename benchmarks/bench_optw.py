"""Orienteering families: junkai_geo against PyVRP, same matrix, same run.

Families (instances in ``../shared/bench/``):

* ``top2`` / ``top3`` / ``top4``: team orienteering (Chao, Golden and Wasil,
  set 4, ``top/p4.M.L.txt``): M routes from a start to an end point, a
  route-length limit, no windows; best known scores in ``top/BKS.json``;
* ``optw``: the Solomon-based 1-series (``optw/c1*, r1*, rc1*``, Righini and
  Salani), one route, time windows;
* ``pr``: Cordeau's ``optw/pr11``–``pr20`` (48–288 visits, long horizons),
  one route.

Both solvers get the same integer matrix: Euclidean distance x ``--scale``
(default 100), rounded; service times, windows and route limits are scaled
the same way. PyVRP gets clients with ``required=False`` and prize
``score * W`` with ``W`` larger than any total travel, and the officers as
one vehicle type (``num_available`` = routes, start and end depots, the
shift as ``tw_early``/``tw_late``), distance cost 1: the same lexicographic
objective (score first, then distance) as ours. For each instance and time
limit ours runs first, then PyVRP, back to back, so that both see the same
machine load. Every one of our solutions is re-checked here against the
matrix, independently of the solver's own code.

Usage::

    python benchmarks/bench_optw.py [--families top2 optw] [--instances c101 p4.2.a]
        [--time-limits 1 5] [--seeds 0 1 2] [--hold-out odd|even] [--out FILE] [--json FILE]

``--seeds`` runs both solvers with each seed (default: seed 0 only) and
compares the means: one seed of either solver can land far from its usual
value (PyVRP's own pr15 at 5 s: 605-694 over seeds 0-3 in one session).

``--hold-out even`` keeps only the instances at odd positions of each
family's sorted list (and ``odd`` the others): develop on one half, check
on the other. Needs the ``bench`` extra (``pip install pyvrp``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from junkai_geo.solver import solve_problem

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
RESULTS = ROOT / "benchmarks" / "results" / "optw.md"
#: Published best scores for the OPTW 1-series with m = 1 (Labadie et al. 2012).
PUBLISHED = {"c101": 320, "r101": 198, "rc101": 219}
FAMILIES = ("top2", "top3", "top4", "optw", "pr", "danchi")
#: The Kanazawa 団地 case: 3 officers sharing the largest 団地 of the bundled data.
DANCHI = "kanazawa-danchi-3"


def family_of(name: str) -> str:
    if name == DANCHI:
        return "danchi"
    if name.startswith("p4."):
        return f"top{name.split('.')[1]}"
    return "pr" if name.startswith("pr") else "optw"


def instance_names(families: list[str]) -> list[str]:
    names = [p.stem for p in sorted((BENCH / "top").glob("p4.*.txt"))]
    names += [p.stem for p in sorted((BENCH / "optw").glob("*.txt"))]
    names.append(DANCHI)
    return [n for n in names if family_of(n) in families]


def half_names(names: list[str], keep: int) -> list[str]:
    """The instances at even (``keep`` 0) or odd (1) positions of each family's sorted list."""
    by_fam: dict[str, list[str]] = {}
    for n in instance_names(list(FAMILIES)):
        by_fam.setdefault(family_of(n), []).append(n)
    chosen = {n for ns in by_fam.values() for i, n in enumerate(ns) if i % 2 == keep}
    return [n for n in names if n in chosen]


def best_known(name: str) -> int | None:
    if name.startswith("p4."):
        bks = json.loads((BENCH / "top" / "BKS.json").read_text())
        return round(bks[name]) if name in bks else None
    return PUBLISHED.get(name)


def _matrix(xy: np.ndarray, scale: int) -> list[list[int]]:
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    return np.rint(dist * scale).astype(int).tolist()


def read_optw(path: Path, scale: int) -> dict:
    """One OPTW file (1-series or pr) -> our JSON problem (the depot is location 0)."""
    lines = path.read_text().splitlines()
    n = int(lines[0].split()[2])
    rows = [lines[2 + i].split() for i in range(n + 1)]
    xy = np.array([[float(r[1]), float(r[2])] for r in rows])
    close = round(float(rows[0][-1]) * scale)
    visits = []
    for i, r in enumerate(rows[1:], start=1):
        visits.append(
            {
                "id": f"v{i}",
                "location": i,
                "service": round(float(r[3]) * scale),
                "value": round(float(r[4])),
                "time_windows": [[round(float(r[-2]) * scale), round(float(r[-1]) * scale)]],
            }
        )
    return {
        "durations": _matrix(xy, scale),
        "visits": visits,
        "officers": [{"id": "o1", "start": 0, "end": 0, "shift": [0, close]}],
        "seed": 0,
    }


def _top_points(path: Path) -> tuple[int, float, np.ndarray]:
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    n, m = int(lines[0][1]), int(lines[1][1])
    return m, float(lines[2][1]), np.array([[float(x) for x in ln[:3]] for ln in lines[3 : 3 + n]])


def read_top(path: Path, scale: int) -> dict:
    """One Chao-Golden-Wasil TOP file -> our JSON problem (first point start, last end).

    27 of the 30 files in ``../shared/bench/top/`` lack their last point (``n 99``,
    the last line a customer with a score): the end point, the same in every
    set-4 instance. It is taken from a complete file of the same directory
    (``n 100``, last point with score 0); without it the best known scores
    cannot be reached or are exceeded (p4.2.a: 270 against 206).
    """
    m, tmax, pts = _top_points(path)
    if pts[-1, 2] != 0:
        for other in sorted(path.parent.glob("p4.*.txt")):
            _, _, full = _top_points(other)
            if len(full) == len(pts) + 1 and full[-1, 2] == 0 and (full[:-1] == pts).all():
                pts = full
                break
        else:
            raise ValueError(f"{path}: the end point is missing and no complete file has it")
    n = len(pts)
    limit = int(np.floor(tmax * scale + 1e-9))
    visits = [{"id": f"v{i}", "location": i, "value": round(pts[i, 2])} for i in range(1, n - 1)]
    officers = [
        {"id": f"o{k + 1}", "start": 0, "end": n - 1, "shift": [0, limit]} for k in range(m)
    ]
    return {"durations": _matrix(pts[:, :2], scale), "visits": visits, "officers": officers}


_DANCHI_CACHE: dict[str, dict] = {}


def read_danchi(officers: int = 3) -> dict:
    """3 officers sharing the largest 団地 of the bundled Kanazawa data (複数指定, §9-2).

    The 団地 with the most households (buildings of kind ``danchi`` grouped by
    ``complex_id``); one visit per household, 5 minutes each; value 3 for a
    household never met (未把握), 2 when last met more than a year before
    the data's as-of day, 1 otherwise. Travel on foot: straight line x 1.3
    at 1.2 m/s between buildings, 15 s per floor up or down (to the ground
    floor and back up between buildings). The officers start and end at
    the beat's koban, with a 3-hour shift, no windows.
    """
    if DANCHI in _DANCHI_CACHE:
        return _DANCHI_CACHE[DANCHI]
    import pandas as pd

    from junkai_geo.bundled import as_of, load_kanazawa

    ds = load_kanazawa(validate=False)
    assert ds.buildings is not None and ds.households is not None
    assert ds.officers is not None and ds.koban is not None
    b = ds.buildings[ds.buildings["kind"] == "danchi"]
    hh = ds.households.merge(b[["building_id", "complex_id"]], on="building_id")
    complex_id = hh.groupby("complex_id").size().idxmax()
    hh = hh[hh["complex_id"] == complex_id].sort_values("household_id")
    beat = hh["beat_id"].mode().iloc[0]
    koban_id = ds.officers[ds.officers["beat_id"] == beat]["koban_id"].iloc[0]
    koban = ds.koban[ds.koban["koban_id"] == koban_id].geometry.iloc[0]
    met = ds.visits[ds.visits["outcome"] == "met"]
    last_met = pd.to_datetime(met.groupby("household_id")["visited_on"].max())
    day = pd.Timestamp(as_of())
    xy = np.concatenate([[[koban.x, koban.y]], np.c_[hh.geometry.x, hh.geometry.y]])
    floor = np.concatenate([[1], hh["floor"].fillna(1).astype(int).to_numpy()])
    building = np.concatenate([["koban"], hh["building_id"].to_numpy()])
    flat = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * 1.3 / 1.2
    same = building[:, None] == building[None, :]
    climb = np.where(
        same, np.abs(floor[:, None] - floor[None, :]), (floor[:, None] - 1) + (floor[None, :] - 1)
    )
    durations = np.rint(flat + 15 * climb).astype(int)
    visits = []
    for i, h in enumerate(hh["household_id"], start=1):
        seen = last_met.get(h)
        value = 3 if seen is None else (2 if (day - seen).days > 365 else 1)
        visits.append({"id": h, "location": i, "service": 300, "value": value})
    problem = {
        "durations": durations.tolist(),
        "visits": visits,
        "officers": [
            {"id": f"{beat}-{k + 1}", "start": 0, "end": 0, "shift": [0, 3 * 3600]}
            for k in range(officers)
        ],
        "seed": 0,
    }
    _DANCHI_CACHE[DANCHI] = problem
    print(
        f"{DANCHI}: 団地 {complex_id} of beat {beat}, {len(visits)} households, koban {koban_id}",
        flush=True,
    )
    return problem


def read_instance(name: str, scale: int) -> dict:
    if name == DANCHI:
        return dict(read_danchi())
    if name.startswith("p4."):
        return read_top(BENCH / "top" / f"{name}.txt", scale)
    return read_optw(BENCH / "optw" / f"{name}.txt", scale)


def check_ours(problem: dict, solution: dict) -> int:
    """Recompute every route's times from the matrix; return the value collected."""
    t = problem["durations"]
    visits = {v["id"]: v for v in problem["visits"]}
    seen: set[str] = set()
    value = 0
    for route in solution["routes"]:
        if not route["stops"]:
            continue  # an officer with nothing to do does not go out
        officer = next(o for o in problem["officers"] if o["id"] == route["officer"])
        now, here = officer["shift"][0], officer["start"]
        for stop in route["stops"]:
            v = visits[stop["visit"]]
            assert stop["visit"] not in seen, f"{stop['visit']} served twice"
            seen.add(stop["visit"])
            now += t[here][v["location"]]
            assert stop["arrival"] >= now, f"{stop['visit']}: arrival too early"
            start = stop["start"]
            assert start >= stop["arrival"]
            windows = v.get("time_windows", [officer["shift"]])
            assert any(lo <= start <= hi for lo, hi in windows), "outside window"
            assert stop["end"] == start + v.get("service", 0)
            now, here = stop["end"], v["location"]
            value += v["value"]
        now += t[here][officer["end"]]
        assert now <= officer["shift"][1], f"route back at {now} > {officer['shift'][1]}"
    assert value == solution["value"]
    return value


def solve_pyvrp(problem: dict, time_limit: float, seed: int = 0) -> int:
    """The same problem with PyVRP; returns the value of its best feasible solution."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    t = np.array(problem["durations"])
    officers = problem["officers"]
    o = officers[0]
    assert all(
        (x["start"], x["end"], x["shift"]) == (o["start"], o["end"], o["shift"]) for x in officers
    ), "one vehicle type: same start, end and shift"
    weight = sum(x["shift"][1] - x["shift"][0] for x in officers) + 1  # > any total travel
    m = Model()
    locs = [m.add_location(x=0, y=0) for _ in range(len(t))]
    lo, hi = o["shift"]
    start = m.add_depot(locs[o["start"]], tw_early=lo, tw_late=hi)
    end = start if o["end"] == o["start"] else m.add_depot(locs[o["end"]], tw_early=lo, tw_late=hi)
    m.add_vehicle_type(
        num_available=len(officers), start_depot=start, end_depot=end, tw_early=lo, tw_late=hi
    )
    for v in problem["visits"]:
        ((w_lo, w_hi),) = v.get("time_windows", [[lo, hi]])
        m.add_client(
            locs[v["location"]],
            service_duration=v.get("service", 0),
            tw_early=w_lo,
            tw_late=w_hi,
            prize=v["value"] * weight,
            required=False,
        )
    for i in range(len(t)):
        for j in range(len(t)):
            m.add_edge(locs[i], locs[j], distance=int(t[i, j]), duration=int(t[i, j]))
    res = m.solve(stop=MaxRuntime(time_limit), seed=seed, display=False, collect_stats=False)
    best = res.best
    if not best.is_feasible():
        return 0
    return int(best.prizes() // weight)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def num(x: float, sign: str = "") -> str:
    """A value as the tables print it: whole numbers plain, means of seeds with one decimal."""
    return f"{x:{sign}.0f}" if abs(x - round(x)) < 1e-6 else f"{x:{sign}.1f}"


def summary(rows: list[dict], limit: float, families: list[str]) -> list[str]:
    out = [
        f"### Summary at {limit:g} s",
        "",
        "| family | instances | ours | PyVRP | ours - PyVRP | ours / PyVRP | worst instance | "
        "mean gap to best known | ours ahead / level / behind |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    groups = list(families)
    if sum(f.startswith("top") for f in families) > 1:
        groups.append("top (all)")
    for fam in [*groups, "all"]:
        rs = [
            r
            for r in rows
            if r["limit"] == limit
            and (
                fam == "all"
                or r["family"] == fam
                or (fam == "top (all)" and r["family"].startswith("top"))
            )
        ]
        if not rs:
            continue
        ours = sum(r["ours"] for r in rs)
        peer = sum(r["pyvrp"] for r in rs)
        worst = min(rs, key=lambda r: r["ratio"])
        gaps = [r["gap"] for r in rs if r["gap"] is not None]
        gap = f"{100 * sum(gaps) / len(gaps):.2f} % ({len(gaps)})" if gaps else ""
        ahead = sum(r["ours"] > r["pyvrp"] for r in rs)
        behind = sum(r["ours"] < r["pyvrp"] for r in rs)
        out.append(
            f"| {fam} | {len(rs)} | {num(ours)} | {num(peer)} | {num(ours - peer, '+')} | "
            f"{ours / max(1, peer):.4f} | "
            f"{worst['instance']} {worst['ratio']:.3f} | {gap} | "
            f"{ahead} / {len(rs) - ahead - behind} / {behind} |"
        )
    # The halves of each family (sorted names, even / odd positions): the
    # solver was developed on the even half; the odd half is the check.
    halves = []
    for half, keep in (("tuned (even positions)", 0), ("held out (odd positions)", 1)):
        names = {n for n in half_names([r["instance"] for r in rows], keep)}
        rs = [r for r in rows if r["limit"] == limit and r["instance"] in names]
        rs = [r for r in rs if r["family"].startswith("top")]
        if not rs:
            continue
        gaps = [r["gap"] for r in rs if r["gap"] is not None]
        ours, peer = sum(r["ours"] for r in rs), sum(r["pyvrp"] for r in rs)
        worst = min(rs, key=lambda r: r["ratio"])
        halves.append(
            f"| top, {half} | {len(rs)} | {num(ours)} | {num(peer)} | {ours / max(1, peer):.4f} | "
            f"{worst['instance']} {worst['ratio']:.3f} | "
            + (f"{100 * sum(gaps) / len(gaps):.2f} % ({len(gaps)})" if gaps else "")
            + " |"
        )
    if halves:
        out += [
            "",
            "| half | instances | ours | PyVRP | ours / PyVRP | worst instance | "
            "mean gap to best known |",
            "|---|---:|---:|---:|---:|---|---:|",
            *halves,
        ]
    below = [r for r in rows if r["limit"] == limit and r["ratio"] < 0.98]
    out += [
        "",
        f"Instances below 0.98 of PyVRP: {len(below)}"
        + (": " + ", ".join(f"{r['instance']} {r['ratio']:.3f}" for r in below) if below else "")
        + ".",
    ]
    return out + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--instances", nargs="*", help="instance names (default: every one)")
    ap.add_argument("--time-limits", nargs="*", type=float, default=[1.0, 5.0])
    ap.add_argument("--hold-out", choices=["odd", "even"], help="keep one half of each family")
    ap.add_argument("--no-pyvrp", action="store_true", help="ours only (development)")
    ap.add_argument(
        "--work-only",
        action="store_true",
        help="ours only, ended by its work budget alone (clock backstop 64): the same "
        "results at any load, for comparing variants of our solver over seeds",
    )
    ap.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=[0],
        help="seeds run by both solvers; an instance's value is the mean over them",
    )
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--json", type=Path, help="also write the rows as JSON")
    ap.add_argument(
        "--summary-from", type=Path, help="print only the per-family summary of a --json file"
    )
    args = ap.parse_args(argv)
    backstop = 64.0 if args.work_only else 1.0
    args.no_pyvrp = args.no_pyvrp or args.work_only
    if args.summary_from:
        rows = json.loads(args.summary_from.read_text())
        fams = [f for f in FAMILIES if any(r["family"] == f for r in rows)]
        for limit in sorted({r["limit"] for r in rows}):
            print("\n".join(summary(rows, limit, fams)))
        return 0
    names = args.instances or instance_names(args.families)
    if args.hold_out:
        names = half_names(names, 1 if args.hold_out == "even" else 0)
    families = [f for f in FAMILIES if any(family_of(n) == f for n in names)]
    load_start = uptime()
    rows: list[dict] = []
    lines = [
        "# Orienteering families: junkai_geo vs PyVRP 0.14 (same run)",
        "",
        f"Same integer matrix (Euclidean x {args.scale}, rounded) and time limit for both, "
        f"seeds {', '.join(map(str, args.seeds))} (an instance's value is the mean over them); "
        "for each instance and seed ours ran first, then PyVRP, back to back. "
        "`ratio` = ours / PyVRP. `best known`: `top/BKS.json` for team orienteering, the "
        "published m = 1 scores (Labadie et al. 2012) for c101/r101/rc101; `gap` = "
        "(best known - ours) / best known, over the instances with a best known > 0. "
        "Each of our solutions was re-checked against the matrix. `stop`: what ended "
        "our search (`work` budget or the `clock`).",
        "",
        f"Machine at the start: `{load_start}` (2 cores shared with other jobs).",
        "",
    ]
    if args.work_only:
        lines[-1:-1] = [
            "**Work budget only** (`--work-only`): our search ended by its work budget, "
            "the clock 64 times later (`clock_backstop`), so these values do not depend on "
            "the load; PyVRP was not run (its column is 0) and times are not comparable.",
            "",
        ]
    for limit in args.time_limits:
        lines += [f"## {limit:g} s per instance", ""]
        lines += [
            "| instance | family | ours | PyVRP | ratio | best known | gap | our time s | stop | "
            "load 1 min |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for name in names:
            problem = read_instance(name, args.scale)
            problem["time_limit"] = limit
            ours_by_seed, peer_by_seed, took = [], [], 0.0
            for seed in args.seeds:
                problem["seed"] = seed
                began = time.perf_counter()
                solution = solve_problem(problem, clock_backstop=backstop)
                took += (time.perf_counter() - began) / len(args.seeds)
                ours_by_seed.append(check_ours(problem, solution))
                peer_by_seed.append(0 if args.no_pyvrp else solve_pyvrp(problem, limit, seed))
            ours = sum(ours_by_seed) / len(ours_by_seed)
            peer = sum(peer_by_seed) / len(peer_by_seed)
            if len(args.seeds) == 1:
                ours, peer = ours_by_seed[0], peer_by_seed[0]
            load1 = os.getloadavg()[0]
            ratio = ours / peer if peer else (1.0 if ours == 0 else float("inf"))
            bk = best_known(name)
            gap = (bk - ours) / bk if bk else None
            stop = "work" if solution["stats"].get("stopped_by") == "work_budget" else "clock"
            rows.append(
                {
                    "instance": name,
                    "family": family_of(name),
                    "limit": limit,
                    "ours": ours,
                    "pyvrp": peer,
                    "ours_seeds": ours_by_seed,
                    "pyvrp_seeds": peer_by_seed,
                    "ratio": ratio,
                    "best_known": bk,
                    "gap": gap,
                    "time": took,
                    "stop": stop,
                    "load": load1,
                }
            )
            row = (
                f"| {name} | {family_of(name)} | {num(ours)} | {num(peer)} | {ratio:.3f} | "
                f"{'' if bk is None else bk} | {'' if gap is None else f'{100 * gap:.1f} %'} | "
                f"{took:.2f} | {stop} | {load1:.1f} |"
            )
            lines.append(row)
            print(row, flush=True)
        lines += [""]
    lines += ["## Per family", ""]
    for limit in args.time_limits:
        lines += summary(rows, limit, families)
    lines += [f"Machine at the end: `{uptime()}` (2 cores shared with other jobs).", ""]
    text = "\n".join(lines)
    print("\n".join(lines[lines.index("## Per family") :]))
    args.out.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
