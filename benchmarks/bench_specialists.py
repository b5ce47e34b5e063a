"""専従員 benchmarks: building readers, districts on the bundled data, the recommendation.

1. **Readers.** PLATEAU CityGML tiles (tests/fixtures, copies of the shared
   samples) with :func:`read_plateau_buildings`, against GeoPandas / pyogrio
   (GDAL's GML driver) on the same files; OSM buildings of
   data/osm/Helsinki.osm.pbf with :func:`read_osm_buildings`.
2. **Districts** on the bundled Kanazawa data: time of
   :func:`find_specialist_districts` and whether the top districts lie in
   areas of >= 5,000 households/km².
3. **Recommendation.** CP-SAT (:func:`recommend_specialists`) against a
   greedy peer (districts in rank order, nearest officers first, whole days
   until the demand is met) on random instances of realistic size, and
   against brute-force enumeration on small ones. Ratios are CP-SAT / peer.

Each time is the median of ``--repeat`` runs. Run:
``python benchmarks/bench_specialists.py`` (writes
benchmarks/results/specialists.md).
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """(last result, median seconds of ``repeat`` runs)."""
    runs = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return out, statistics.median(runs)


def greedy(districts: list[Any], officers: list[Any], p: Any) -> dict[tuple[str, str], int]:
    """Peer: rank order, nearest officer with days left, one day at a time."""
    left = {o.officer_id: o.days_per_week for o in officers}
    day_h = p.liaison_hours_per_day
    days: dict[tuple[str, str], int] = {}
    for d in sorted(districts, key=lambda d: d.rank):
        need = math.ceil(round(d.hours_per_week * 60) / round(day_h * 60) - 1e-9)
        near = sorted(
            (math.hypot(o.x - d.x, o.y - d.y), o.officer_id)
            for o in officers
            if math.hypot(o.x - d.x, o.y - d.y) <= p.max_officer_distance_m
        )
        for _, oid in near:
            while need > 0 and left[oid] > 0:
                days[(oid, d.district_id)] = days.get((oid, d.district_id), 0) + 1
                left[oid] -= 1
                need -= 1
    return days


def brute_force(districts: list[Any], officers: list[Any], p: Any) -> tuple[int, int]:
    from junkai_geo.specialists import assignment_objective

    per = []
    for o in officers:
        js = [
            j
            for j, d in enumerate(districts)
            if math.hypot(o.x - d.x, o.y - d.y) <= p.max_officer_distance_m
        ]
        opts = [
            v
            for v in itertools.product(range(o.days_per_week + 1), repeat=len(js))
            if sum(v) <= o.days_per_week
        ]
        per.append([dict(zip(js, v, strict=True)) for v in opts])
    best = (-1, 0)
    for combo in itertools.product(*per):
        days = {
            (officers[i].officer_id, districts[j].district_id): n
            for i, alloc in enumerate(combo)
            for j, n in alloc.items()
            if n
        }
        c, cost = assignment_objective(districts, officers, days, p)
        if (c, -cost) > (best[0], -best[1]):
            best = (c, cost)
    return best


def random_instance(rng: np.random.Generator, n_d: int, n_o: int, max_days: int) -> tuple:
    from junkai_geo.specialists import District, SpareOfficer

    districts = []
    for j in range(n_d):
        h = float(rng.gamma(2.0, 6.0))
        x, y = rng.uniform(0, 12_000, 2)
        districts.append(
            District(
                f"D{j + 1:02d}",
                j + 1,
                1.0 / (j + 1),
                f"d{j}",
                None,
                float(x),
                float(y),
                0.0,
                0.0,
                0.0,
                [],
                [],
                [],
                [],
                float("nan"),
                1,
                1,
                0,
                0,
                8,
                60,
                60,
                30,
                0,
                0,
                0.5,
                54,
                h * 13,
                h,
                math.ceil(h / 25),
                [],
            )  # fmt: skip
        )
    officers = [
        SpareOfficer(
            f"O{i}",
            "K",
            *map(float, rng.uniform(0, 12_000, 2)),
            days_per_week=int(rng.integers(1, max_days + 1)),
        )  # fmt: skip
        for i in range(n_o)
    ]
    return districts, officers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "specialists.md")
    args = ap.parse_args(argv)

    from junkai_geo.buildings import read_osm_buildings, read_plateau_buildings
    from junkai_geo.specialists import (
        SpecialistParams,
        assignment_objective,
        find_specialist_districts,
        recommend_specialists,
    )

    lines = ["# 専従員 benchmarks", ""]
    lines += ["## Building readers", ""]
    lines += [
        "| file | reader | time | buildings | floors from storeys / levels | from height "
        "| default | usage decoded |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("plateau_52397519_bldg_6697_op.gml", "plateau_64413325_bldg_6697_op.gml"):
        path = FIXTURES / name
        layer, t = timed(lambda path=path: read_plateau_buildings(path), args.repeat)
        b = layer.buildings
        src = b["floors_source"].value_counts()
        lines.append(
            f"| {name} | junkai_geo | {t * 1000:.0f} ms | {len(b)} | {src.get('storeys', 0)} "
            f"| {src.get('height', 0)} | {src.get('default', 0)} | {b['usage'].notna().sum()} |"
        )
        try:
            import shutil
            import tempfile

            import geopandas as gpd

            # GDAL writes a .gfs schema file next to the GML: read a copy.
            tmp = Path(tempfile.mkdtemp()) / name
            shutil.copy(path, tmp)
            g, tp = timed(lambda tmp=tmp: gpd.read_file(tmp), 1)
            lines.append(
                f"| {name} | geopandas (GDAL GML) | {tp * 1000:.0f} ms | {len(g)} | - | - | - | - |"
            )
        except Exception as exc:  # the peer's own failure is the result
            lines.append(
                f"| {name} | geopandas (GDAL GML) | - | fails: {str(exc)[:60]} | - | - | - | - |"
            )
    osm = ROOT / "data" / "osm" / "Helsinki.osm.pbf"
    layer, t = timed(lambda: read_osm_buildings(osm), args.repeat)
    b = layer.buildings
    ways = b[b["building_id"].str.startswith("w")]
    src = b["floors_source"].value_counts()
    lines.append(
        f"| Helsinki.osm.pbf | junkai_geo | {t * 1000:.0f} ms | {len(b)} ({len(ways)} ways, "
        f"{len(b) - len(ways)} multipolygons) | {src.get('levels', 0)} "
        f"({(ways['floors_source'] == 'levels').sum()} ways) | {src.get('height', 0)} "
        f"| {src.get('default', 0)} | - |"
    )

    lines += ["", "## Districts on the bundled Kanazawa data", ""]
    from junkai_geo.bundled import as_of, load_kanazawa
    from junkai_geo.cards import card_table

    ds = load_kanazawa(validate=False)
    cards = card_table(ds.households, ds.visits, today=as_of())
    search, t = timed(
        lambda: find_specialist_districts(
            ds.buildings, ds.households, cards, visits=ds.visits, units=ds.units, koban=ds.koban
        ),
        args.repeat,
    )
    counts = search.classification.counts()
    lines.append(
        f"{counts['buildings']:,} buildings, {counts['difficult']} difficult (high-rise "
        f"{counts['highrise']}, large {counts['large']}, in a complex {counts['in_complex']}) "
        f"in {len(search.districts)} districts; find_specialist_districts "
        f"{t:.2f} s (median of {args.repeat})."
    )
    lines += [
        "",
        "| rank | district | koban | buildings | households | 未把握 | absent | h needed | "
        "h/week | density /km² |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in search.districts[:10]:
        lines.append(
            f"| {d.rank} | {d.name} | {d.koban_id} | {d.buildings} | {d.households} | "
            f"{d.backlog} | {d.absence_rate:.0%} | {d.hours_needed:.0f} | "
            f"{d.hours_per_week:.1f} | {d.density_per_km2:,.0f} |"
        )

    lines += ["", "## Recommendation: CP-SAT against peers", ""]
    p = SpecialistParams()
    lines += [
        "| instances | districts x officers | CP-SAT covered | peer | covered ratio "
        "| distance cost ratio | CP-SAT proved optimal | CP-SAT time | peer time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(7)
    for n_d, n_o, max_days, n_inst, peer in (
        (3, 3, 3, 20, "brute force"),
        (10, 6, 5, 20, "greedy"),
        (36, 30, 5, 10, "greedy"),
        (100, 60, 5, 5, "greedy"),
    ):
        cov = []
        cost = []
        t_cp = []
        t_peer = []
        proved = 0
        for _ in range(n_inst):
            districts, officers = random_instance(rng, n_d, n_o, max_days)
            rec, tc = timed(
                lambda d=districts, o=officers: recommend_specialists(d, o, params=p), 1
            )
            if peer == "brute force":
                (pc, pcost), tp = timed(lambda d=districts, o=officers: brute_force(d, o, p), 1)
            else:
                alloc, tp = timed(lambda d=districts, o=officers: greedy(d, o, p), 1)
                pc, pcost = assignment_objective(districts, officers, alloc, p)
            proved += rec.status == "optimal"
            cov.append((rec.covered_min_per_week, pc))
            cost.append((rec.distance_cost, pcost))
            t_cp.append(tc)
            t_peer.append(tp)
        c_cp = sum(a for a, _ in cov) / 60
        c_peer = sum(b for _, b in cov) / 60
        cost_ratio = sum(a for a, _ in cost) / max(1, sum(b for _, b in cost))
        lines.append(
            f"| {n_inst} | {n_d} x {n_o} | {c_cp:.1f} h/week | {peer} {c_peer:.1f} h/week | "
            f"{c_cp / c_peer if c_peer else 1:.3f} | {cost_ratio:.3f} | {proved}/{n_inst} | "
            f"{statistics.median(t_cp) * 1000:.0f} ms | {statistics.median(t_peer) * 1000:.1f} ms |"
        )
    lines += [
        "",
        "Covered hours are summed over the instances; the distance cost is the sum of "
        "officer-days x (koban-district distance in 10 m steps + 1). Against brute force "
        "both ratios must be exactly 1 (the tests check it instance by instance).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
