"""Rendering times: A4 route sheets and Folium maps.

Plans are synthetic day plans in the ``DayPlan.to_dict()`` format around
Kanazawa station (tests/browser.py ``synthetic_plan``) with realistic sizes
(12-80 stops); beats are a grid of square beats with 未把握 points. Each
figure is the median of ``--repeat`` warm runs; the first (cold) run of the
process, which pays for imports and font parsing, is reported apart. The
peer is plain folium (default markers, one polyline) on the same stops, so
the route map's cost is read as a ratio to it; the sheet is compared with
its 2 s budget.

The bundled Kanazawa data is measured too: the day plan of the officer of
the beat with the most 未把握 (as in ``junkai-geo demo``), drawn as a sheet
and as a map, and the beats map of the whole city (103 beats, every 未把握
household aggregated per building).

Run: ``python benchmarks/bench_render.py`` (writes benchmarks/results/render.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import synthetic_plan  # noqa: E402

SHEET_BUDGET_S = 2.0


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(first run, median of ``repeat`` further runs) in seconds."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return first, statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "render.md")
    args = ap.parse_args(argv)

    load_start = os.getloadavg()
    t_import = time.perf_counter()
    import folium
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import Point, box

    from junkai_geo import offline
    from junkai_geo.render import beats_map, route_map, save_map
    from junkai_geo.sheet import route_sheet_pdf

    import_s = time.perf_counter() - t_import
    offline.install_assets()
    tmp = Path(tempfile.mkdtemp(prefix="bench_render_"))
    rows: list[tuple[str, int, float, float, str]] = []

    for n in (12, 40, 80):
        plan = synthetic_plan(n, seed=n)
        first, med = timed(
            lambda plan=plan, n=n: route_sheet_pdf(plan, tmp / f"sheet{n}.pdf"), args.repeat
        )
        pages = _pages(tmp / f"sheet{n}.pdf")
        rows.append(
            (
                f"A4 route sheet ({pages} page(s))",
                n,
                first,
                med,
                f"{med / SHEET_BUDGET_S:.2f} of the 2 s budget",
            )
        )

    for n in (12, 40, 80):
        plan = synthetic_plan(n, seed=n)

        def peer(plan: dict = plan, n: int = n) -> None:
            m = folium.Map(location=(plan["start"]["lat"], plan["start"]["lon"]), zoom_start=15)
            folium.PolyLine([(s["lat"], s["lon"]) for s in plan["stops"]]).add_to(m)
            for s in plan["stops"]:
                folium.Marker((s["lat"], s["lon"]), popup=s["address"]).add_to(m)
            m.save(str(tmp / f"peer{n}.html"))

        _, peer_med = timed(peer, args.repeat)
        for mode in (False, True):
            first, med = timed(
                lambda plan=plan, n=n, mode=mode: save_map(
                    route_map(plan, offline=mode), tmp / f"route{n}_{mode}.html"
                ),
                args.repeat,
            )
            label = "route map, offline" if mode else "route map, online"
            rows.append(
                (
                    label,
                    n,
                    first,
                    med,
                    f"{med / peer_med:.2f} x plain folium ({peer_med * 1000:.0f} ms)",
                )
            )

    rng = np.random.default_rng(0)
    side = 8
    beats = gpd.GeoDataFrame(
        [
            {
                "beat_id": f"B{i:02d}{j:02d}",
                "households": int(rng.integers(500, 3000)),
                "workload_h": float(rng.uniform(100, 600)),
                "geometry": box(-6000 + 700 * i, 60000 + 700 * j, -5300 + 700 * i, 60700 + 700 * j),
            }
            for i in range(side)
            for j in range(side)
        ],
        crs="EPSG:6675",
    )
    n_pts = 5000
    pts = gpd.GeoDataFrame(
        {"building_id": [f"BL{k}" for k in rng.integers(0, 1500, n_pts)]},
        geometry=[
            Point(x, y)
            for x, y in zip(
                rng.uniform(-6000, -400, n_pts), rng.uniform(60000, 65600, n_pts), strict=True
            )
        ],
        crs="EPSG:6675",
    )
    for style in ("cluster", "heat"):
        first, med = timed(
            lambda style=style: save_map(
                beats_map(
                    beats,
                    workload_col="workload_h",
                    unvisited_points=pts,
                    unvisited_style=style,
                    offline=True,
                ),
                tmp / f"beats_{style}.html",
            ),
            args.repeat,
        )
        rows.append(
            (f"beats map, {len(beats)} beats, {n_pts} 未把握 ({style})", n_pts, first, med, "")
        )

    rows = _bundled_rows(args.repeat, tmp) + rows

    lines = [
        "# Rendering times",
        "",
        "Bundled Kanazawa data (first rows) and synthetic plans and beats (see "
        f"benchmarks/bench_render.py); median of {args.repeat} warm runs; "
        f"'first' is the first call of the process (imports done: {import_s:.2f} s before it).",
        "",
        "| what | stops / points | first (s) | median (s) | compared |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| {w} | {n} | {f:.3f} | {m:.3f} | {c} |" for w, n, f, m, c in rows]
    load_end = os.getloadavg()
    lines += [
        "",
        f"Machine: {os.cpu_count()} cores shared with other work; load average (1 / 5 / 15 min) "
        + " / ".join(f"{x:.1f}" for x in load_start)
        + " at the start, "
        + " / ".join(f"{x:.1f}" for x in load_end)
        + " at the end. Compare the ratios of the same run, not the absolute times.",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table, encoding="utf-8")
    return 0


def _bundled_rows(repeat: int, tmp: Path) -> list[tuple[str, int, float, float, str]]:
    """Sheet, route map and beats map made from the bundled Kanazawa data."""
    from junkai_geo.bundled import as_of, load_kanazawa
    from junkai_geo.cards import card_table
    from junkai_geo.commands.demo import beat_summary, first_weekday_after
    from junkai_geo.render import beats_map, route_map, save_map
    from junkai_geo.routing import DayRequest, build_day_problem_from_frames, plan_day
    from junkai_geo.sheet import route_sheet_pdf
    from junkai_geo.workload import beat_workload_h

    ds = load_kanazawa(validate=False)
    today = as_of()
    cards = card_table(ds.households, ds.visits, today=today)
    table = beat_summary(
        ds, cards, beat_workload_h(ds.units, ds.households, cards, ds.buildings, ds.koban)
    )
    beat_id = str(table.sort_values("unknown", ascending=False)["beat_id"].iloc[0])
    officer = ds.officers[ds.officers["beat_id"].astype(str) == beat_id].iloc[0].to_dict()
    start = ds.koban[ds.koban["koban_id"] == officer["koban_id"]].geometry.iloc[0]
    hh = ds.households[ds.households["beat_id"].astype(str) == beat_id]
    problem = build_day_problem_from_frames(
        DayRequest(officer_id=str(officer["officer_id"]), on=first_weekday_after(today)),
        officer=officer,
        households=hh,
        buildings=ds.buildings,
        cards=cards.reindex(hh["household_id"]),
        visits=ds.visits[ds.visits["household_id"].isin(hh["household_id"])],
        start_xy=(start.x, start.y),
    )
    plan = plan_day(problem).to_dict()
    beat = ds.beats[ds.beats["beat_id"] == beat_id].to_crs("EPSG:4326").geometry.iloc[0]
    n_stops = len(plan["stops"])
    rows: list[tuple[str, int, float, float, str]] = []
    first, med = timed(
        lambda: route_sheet_pdf(plan, tmp / "kanazawa.pdf", beat_geometry=beat), repeat
    )
    rows.append(
        (
            f"Kanazawa: A4 route sheet of {officer['officer_id']} ({_pages(tmp / 'kanazawa.pdf')} page(s))",
            n_stops,
            first,
            med,
            f"{med / SHEET_BUDGET_S:.2f} of the 2 s budget",
        )
    )
    for mode in (False, True):
        first, med = timed(
            lambda mode=mode: save_map(
                route_map(plan, beat_geometry=beat, offline=mode), tmp / f"kanazawa_{mode}.html"
            ),
            repeat,
        )
        rows.append(
            (f"Kanazawa: route map, {'offline' if mode else 'online'}", n_stops, first, med, "")
        )
    beats = ds.beats.merge(table.drop(columns=["koban_id"]), on="beat_id")
    unknown = ds.households[
        ds.households["household_id"].map(cards["status"]).eq("none").to_numpy()
    ][["building_id", "geometry"]]
    first, med = timed(
        lambda: save_map(
            beats_map(
                beats[["beat_id", "koban", "homes", "unknown", "workload_h", "geometry"]],
                workload_col="workload_h",
                koban_gdf=ds.koban,
                unvisited_points=unknown,
            ),
            tmp / "kanazawa_beats.html",
        ),
        max(1, repeat // 2),
    )
    rows.append(
        (
            f"Kanazawa: beats map, {len(beats)} beats, 未把握 per building",
            len(unknown),
            first,
            med,
            "",
        )
    )
    return rows


def _pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


if __name__ == "__main__":
    sys.exit(main())
