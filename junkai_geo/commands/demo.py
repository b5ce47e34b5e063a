"""``junkai-geo demo``: the whole chain on the bundled Kanazawa data.

Loads and validates the bundled data, prints a summary per koban and beat
(households, buildings, 未把握, workload), writes an overview map of the beats,
plans one officer's day (route map and A4 sheet), and writes everything under
``maps/``. Each later feature adds its step here.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import JunkaiGeoError
from ..model import Dataset
from ..settings import MAPS_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=MAPS_DIR, help="output folder (maps/)")
    parser.add_argument(
        "--online",
        dest="offline",
        action="store_false",
        help="HTML maps that load Leaflet from CDNs and 地理院タイル from the internet "
        "(default: offline-safe maps with local Leaflet files, installed from the npm "
        "registry into the user cache on first use; a background only when "
        "JUNKAI_GEO_TILE_URL / JUNKAI_GEO_TILE_PATH is set; see docs/maps.md)",
    )
    parser.add_argument(
        "--offline",
        dest="offline",
        action="store_true",
        help="offline-safe maps (the default; kept for existing scripts)",
    )
    parser.set_defaults(offline=True)
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="day to plan, YYYY-MM-DD (default: the first weekday after the data's as_of day)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--area",
        choices=("kanazawa", "ishikawa"),
        default="kanazawa",
        help="bundled data: kanazawa (one city, quick; default) or ishikawa (the prefecture)",
    )


class _Clock:
    def __init__(self, progress: Any = None) -> None:
        self.t0 = time.perf_counter()
        self.steps: list[tuple[str, float]] = []
        self.progress = progress

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps.append((name, now - self.t0))
        self.t0 = now
        if self.progress is not None:
            self.progress.done(f"{name} ({self.steps[-1][1]:.1f} s)")


def beat_summary(ds: Any, cards: pd.DataFrame, workload_h: pd.Series) -> pd.DataFrame:
    """One row per beat: koban, households by kind, buildings, 未把握, workload."""
    hh = ds.households
    occupied = cards["occupancy"].reindex(hh["household_id"]).to_numpy() == "occupied"
    status = cards["status"].reindex(hh["household_id"]).to_numpy()
    frame = pd.DataFrame(
        {
            "beat_id": hh["beat_id"].astype(str).to_numpy(),
            "home": (hh["kind"] == "home").to_numpy() & occupied,
            "other": (hh["kind"] != "home").to_numpy() & occupied,
            "unknown": occupied & (status == "none"),
            "stale": occupied & (status == "stale"),
            "building_id": hh["building_id"].astype(str).to_numpy(),
        }
    )
    g = frame.groupby("beat_id")
    table = pd.DataFrame(
        {
            "homes": g["home"].sum(),
            "business_public": g["other"].sum(),
            "buildings": g["building_id"].nunique(),
            "unknown": g["unknown"].sum(),
            "stale": g["stale"].sum(),
        }
    )
    beats = ds.beats.set_index(ds.beats["beat_id"].astype(str))
    koban = ds.koban.set_index(ds.koban["koban_id"].astype(str))
    table = table.reindex(beats.index, fill_value=0)
    table.insert(0, "koban_id", beats["koban_id"].astype(str))
    table.insert(1, "koban", table["koban_id"].map(koban["name"]))
    table.insert(2, "station", table["koban_id"].map(koban["station"]))
    table["workload_h"] = workload_h.reindex(table.index).fillna(0.0).round(1)
    table["unknown_share"] = (
        table["unknown"] / (table["homes"] + table["business_public"]).clip(lower=1)
    ).round(3)
    table.index.name = "beat_id"
    return table.reset_index()


def _require_layers(ds: Dataset) -> None:
    missing = [
        name
        for name in ("koban", "beats", "units", "officers", "buildings", "households", "visits")
        if getattr(ds, name) is None
    ]
    if missing:
        raise JunkaiGeoError(f"bundled data: layer(s) {missing} missing; expected all layers")


def first_weekday_after(day: date) -> date:
    from ..priorities import is_holiday

    d = day + timedelta(days=1)
    while d.weekday() >= 5 or is_holiday(d):
        d += timedelta(days=1)
    return d


def run(args: argparse.Namespace) -> int:
    from ..bundled import as_of, load_area
    from ..cards import card_table
    from ..console import progress_of
    from ..render import beats_map, route_map, save_map
    from ..source import BundledSource, source_of
    from ..workload import beat_workload_h

    clock = _Clock(progress_of(args))
    clock.progress.step("…")
    out: Path = args.out
    if args.offline:
        from ..offline import ensure_assets

        # Before any work: a missing npm says so at once, not after the plans.
        ensure_assets()
    out.mkdir(parents=True, exist_ok=True)
    source = source_of(args)
    # The bundle is validated as any import is; a workspace was at its import.
    if isinstance(source, BundledSource):
        today = as_of(args.area)
        loaded = load_area(args.area, validate=True)
    else:
        today = source.as_of()
        loaded = source.dataset()
    _require_layers(loaded)
    ds: Any = loaded  # every layer present, checked above
    clock.lap(f"load + validate {source.label}")
    cards = card_table(ds.households, ds.visits, today=today)
    clock.lap("card status from visit histories")
    workload = beat_workload_h(ds.units, ds.households, cards, ds.buildings, ds.koban)
    clock.lap("workload model")

    table = beat_summary(ds, cards, workload)
    by_koban = (
        table.groupby(["station", "koban_id", "koban"], sort=True)[
            ["homes", "business_public", "buildings", "unknown", "workload_h"]
        ]
        .sum()
        .reset_index()
    )
    by_koban.insert(
        3, "beats", table.groupby("koban_id").size().reindex(by_koban["koban_id"]).to_numpy()
    )

    # Beat outlines simplified to 5 m: the map is an overview, and full
    # vertex detail would make the page tens of megabytes.
    beats = ds.beats.merge(table.drop(columns=["koban_id"]), on="beat_id", how="left")
    beats["geometry"] = beats.geometry.simplify(5.0)
    unknown_points = ds.households[
        ds.households["household_id"].map(cards["status"]).eq("none").to_numpy()
        & ds.households["household_id"].map(cards["occupancy"]).eq("occupied").to_numpy()
    ]
    m = beats_map(
        beats[["beat_id", "koban", "homes", "buildings", "unknown", "workload_h", "geometry"]],
        workload_col="workload_h",
        koban_gdf=ds.koban,
        unvisited_points=unknown_points[["building_id", "geometry"]],
        offline=args.offline,
    )
    beats_html = save_map(m, out / "kanazawa_beats.html")
    clock.lap("beats overview map")

    # One officer's day: the beat officer of the beat with the most 未把握.
    route_files, route = _plan_one_day(ds, cards, table, args, out, today, route_map, save_map)
    clock.lap("one officer's day: route, map, sheet")

    calendar = _calendar_week(ds, cards, route["koban_id"], route["date"], out)
    clock.lap("one week's calendar for the koban")

    specialists = _specialists(ds, cards, today, out, args.offline, save_map)
    clock.lap("専従員 districts, recommendation and rounds")

    rebalance = _rebalance(ds, cards, out, args.offline, save_map)
    clock.lap("beat rebalancing (受持区の調整)")

    summary = {
        "as_of": today.isoformat(),
        "source": source.label,
        "koban": int(len(ds.koban)),
        "beats": int(len(ds.beats)),
        "units": int(len(ds.units)),
        "households": int(len(ds.households)),
        "homes": int((ds.households["kind"] == "home").sum()),
        "buildings": int(len(ds.buildings)),
        "unknown_households": int(table["unknown"].sum()),
        "workload_h": {
            "total": round(float(table["workload_h"].sum()), 1),
            "beat_min": round(float(table["workload_h"].min()), 1),
            "beat_max": round(float(table["workload_h"].max()), 1),
            "max_over_mean": round(
                float(table["workload_h"].max() / table["workload_h"].mean()), 2
            ),
        },
        "route": route,
        "calendar": calendar,
        "specialists": specialists,
        "rebalance": rebalance["plan"],
        "files": {
            "beats_map": str(beats_html),
            **route_files,
            "calendar": calendar["file"],
            "specialists": specialists["file"],
            "specialists_map": specialists["map"],
            "rebalance": rebalance["file"],
            "rebalance_map": rebalance["map"],
        },
        "timings_s": {name: round(t, 2) for name, t in clock.steps},
        "notes": ds.notes,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    _print_text(summary, by_koban, table)
    return 0


def _plan_one_day(
    ds, cards, table, args, out, today, route_map, save_map
) -> tuple[dict[str, str], dict[str, Any]]:
    from ..routing import DayRequest, build_day_problem_from_frames, plan_day
    from ..sheet import FontNotFoundError, route_sheet_pdf
    from ..source import officer_network, source_of

    beat_id = str(
        table.sort_values(["unknown", "beat_id"], ascending=[False, True])["beat_id"].iloc[0]
    )
    officers = ds.officers[
        (ds.officers["beat_id"].astype(str) == beat_id) & (ds.officers["role"] == "beat")
    ]
    officer = {str(k): v for k, v in officers.iloc[0].to_dict().items()}
    koban = ds.koban[ds.koban["koban_id"].astype(str) == str(officer["koban_id"])]
    start = koban.geometry.iloc[0]
    hh = ds.households[ds.households["beat_id"].astype(str) == beat_id]
    visits = ds.visits[ds.visits["household_id"].isin(hh["household_id"])]
    on = args.date or first_weekday_after(today)
    problem = build_day_problem_from_frames(
        DayRequest(officer_id=str(officer["officer_id"]), on=on),
        officer=officer,
        households=hh,
        buildings=ds.buildings,
        cards=cards.reindex(hh["household_id"]),
        visits=visits,
        start_xy=(start.x, start.y),
        start_label=str(koban["name"].iloc[0]),
        travel=officer_network(source_of(args), ds, str(officer["officer_id"])),
    )
    plan = plan_day(problem, time_limit_s=2.0, seed=0).to_dict()
    stem = f"route_{officer['officer_id']}_{on.isoformat()}"
    plan_json = out / f"{stem}.json"
    plan_json.write_text(json.dumps(plan, ensure_ascii=False, indent=1), encoding="utf-8")
    beat_geom = (
        ds.beats[ds.beats["beat_id"].astype(str) == beat_id].to_crs("EPSG:4326").geometry.iloc[0]
    )
    html = save_map(
        route_map(plan, beat_geometry=beat_geom, offline=args.offline), out / f"{stem}.html"
    )
    files = {"route_plan": str(plan_json), "route_map": str(html)}
    try:
        files["route_sheet"] = str(
            route_sheet_pdf(plan, out / f"{stem}.pdf", beat_geometry=beat_geom)
        )
    except FontNotFoundError as exc:
        files["route_sheet"] = f"not written: {exc}"
    t = plan["totals"]
    summary = (
        f"{officer['officer_id']} on {on.isoformat()} in beat {beat_id}: {t['stops']} stops, "
        f"{t['households']} households, {t['expected_contacts']:.1f} expected contacts, "
        f"travel {t['travel_s'] // 60} min"
    )
    return files, {
        "summary": summary,
        "notes": plan.get("notes", []),
        "koban_id": str(officer["koban_id"]),
        "date": on.isoformat(),
    }


def _specialists(
    ds: Any, cards: pd.DataFrame, today: date, out: Path, offline: bool, save_map: Any
) -> dict:
    """Difficult 団地 / high-rise districts, who should be 専従員 there, one round each."""
    from ..render import districts_map
    from ..specialists import districts_frame, recommend_for_dataset

    report = recommend_for_dataset(ds, cards, today=today, top=5)
    path = out / "specialists.json"
    path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    frame = districts_frame(report.districts, ds.crs, report.recommendation)
    m = districts_map(frame, beats_gdf=ds.beats, koban_gdf=ds.koban, offline=offline)
    html = save_map(m, out / "specialist_districts.html")
    return {"file": str(path), "map": str(html), "summary": report.summary()}


def _rebalance(ds: Any, cards: pd.DataFrame, out: Path, offline: bool, save_map: Any) -> dict:
    """The smallest change that brings every beat within ±10 % (heavy 町丁目 split into blocks)."""
    from ..rebalance import BeatProblem, RebalanceParams, rebalance_beats
    from ..rebalance.map import rebalance_map
    from ..workload import refine_units

    params = RebalanceParams()
    n_beats = len(ds.beats)
    refined = refine_units(
        ds.units,
        ds.households,
        cards,
        ds.buildings,
        ds.koban,
        n_beats=n_beats,
        split_share=params.split_unit_share,
        seed=params.seed,
    )
    problem = BeatProblem.from_geodataframe(
        refined.units,
        weight_column="workload_h",
        current_column="beat_id",
        koban=ds.koban,
        n_beats=n_beats,
        source="bundled units",
    )
    result = rebalance_beats(problem, params=params)
    full = result.to_dict(geometry=False)
    plan = {
        **full["plan"],
        "units_split": len(refined.split),
        "warnings": full["warnings"],
    }
    path = out / "rebalance.json"
    path.write_text(
        json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    frame = result.units_frame(problem).rename(columns={"beat": "beat_after"})
    html = save_map(
        rebalance_map(frame, koban_gdf=ds.koban, offline=offline), out / "rebalance.html"
    )
    return {"file": str(path), "map": str(html), "plan": plan}


def _calendar_week(ds: Any, cards: pd.DataFrame, koban_id: str, start: str, out: Path) -> dict:
    """One week of every officer of the demo koban (shifts, holidays, 未把握 first)."""
    from ..calendar import demo_calendar

    result = demo_calendar(ds, cards, koban_id=koban_id, start=date.fromisoformat(start), weeks=1)
    path = out / f"calendar_{koban_id}_{start}.json"
    path.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return {"file": str(path), "totals": result.totals(), "summary": result.summary()}


def _print_text(summary: dict, by_koban: pd.DataFrame, table: pd.DataFrame) -> None:
    print(f"junkai-geo demo — {summary.get('source', 'bundled data')} as of {summary['as_of']}")
    print(
        f"{summary['koban']} koban/chuzaisho, {summary['beats']} beats, {summary['units']} 町丁目, "
        f"{summary['homes']:,} homes + {summary['households'] - summary['homes']:,} businesses/public, "
        f"{summary['buildings']:,} buildings, {summary['unknown_households']:,} 未把握"
    )
    print()
    print("Per koban (交番・駐在所):")
    print(by_koban.to_string(index=False))
    print()
    print("Per beat (受持区), workload = hours for one visit to every household:")
    cols = [
        "beat_id",
        "koban",
        "homes",
        "business_public",
        "buildings",
        "unknown",
        "stale",
        "workload_h",
    ]
    print(table[cols].to_string(index=False))
    w = summary["workload_h"]
    print()
    print(
        f"Workload: {w['total']:,} h in all; beats from {w['beat_min']} h to {w['beat_max']} h "
        f"(largest = {w['max_over_mean']} x mean): see `junkai-geo rebalance`."
    )
    print()
    print("One officer's day: " + summary["route"]["summary"])
    for note in summary["route"]["notes"]:
        print(f"  note: {note}")
    print()
    print("One week's calendar (shifts, holidays, 未把握 first):")
    print(summary["calendar"]["summary"])
    print()
    print(summary["specialists"]["summary"])
    print()
    r = summary["rebalance"]
    print(
        f"Rebalanced beats (受持区の調整, the smallest change within ±{r['tolerance']:.0%}): "
        + ("実行可能 feasible" if r["feasible"] else "実行不可 NOT feasible")
        + f"; largest deviation from the mean workload {r['largest_deviation_before']:.1%} -> "
        f"{r['largest_deviation_after']:.1%}; {r['households_moved']:,.0f} households "
        f"({r['moved_share']:.1%}) in {r['units_moved']} units change beat; every beat "
        f"contiguous: {r['all_contiguous']}, holds or touches its koban's unit: "
        f"{r['koban_rule_kept']} ({r['units_split']} heavy 町丁目 split into blocks), "
        f"{r['time_s']:.1f} s"
    )
    for v in r["violations"][:10]:
        print(f"  violation: {v}")
    print()
    print("Files written:")
    for name, path in summary["files"].items():
        print(f"  {name}: {path}")
    print("Timings (s): " + ", ".join(f"{k} {v}" for k, v in summary["timings_s"].items()))
