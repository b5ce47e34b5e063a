"""Benchmark: a 4-week calendar for the bundled koban with the most households.

Prints a markdown table and writes it to benchmarks/results/calendar.md:
planning time (the acceptance bound is 60 s on 2 cores), coverage of the
未把握 households per beat, the forecast and the new officer plan, and a
comparison in the same run with a naive peer (per officer-day, walk to the
nearest 未把握 household not yet planned until the day's liaison time is
spent; no windows, no solver) as ratios.

    python benchmarks/bench_calendar.py [--weeks 4] [--time-limit 0.3] [--sequential]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from junkai_geo.bundled import as_of, load_kanazawa
from junkai_geo.calendar import (
    CalendarParams,
    CalendarRequest,
    build_calendar_problem,
    koban_households,
    plan_calendar,
    plan_new_officer,
)
from junkai_geo.cards import card_table
from junkai_geo.commands.calendar import largest_koban
from junkai_geo.forecast import ForecastParams, forecast_coverage
from junkai_geo.routing import RouteParams, parse_window
from junkai_geo.travel import TravelParams

OUT = Path(__file__).resolve().parent / "results" / "calendar.md"


def greedy_peer(ds, cards, cal, koban_id: str) -> int:
    """未把握 households a nearest-neighbour sweep attempts on the same roster."""
    hh = koban_households(ds, koban_id)
    ids = hh["household_id"].astype(str).to_numpy()
    status = cards.reindex(ids)
    unknown = (status["status"].to_numpy() == "none") & (
        status["occupancy"].to_numpy() == "occupied"
    )
    xy = np.column_stack([hh.geometry.x, hh.geometry.y])
    k = ds.koban[ds.koban.koban_id == koban_id].geometry.iloc[0]
    tp, rp = TravelParams(), RouteParams()
    pools = {o: np.isin(ids, members) for o, members in cal.unknown_by_officer.items()}
    done = np.zeros(len(ids), bool)
    for day in cal.dates:
        for o in sorted(cal.plans):
            shift = cal.roster.shift(o, day)
            if not shift.on_duty:
                continue
            mode = str(ds.officers.set_index("officer_id").loc[o, "mode"])
            speed, detour = tp.speed_mps(mode), tp.detour_factor(mode)
            left = float(sum(b - a for a, b in map(parse_window, shift.windows)))
            pos = np.array([k.x, k.y])
            cand = np.flatnonzero(pools[o] & unknown & ~done)
            while len(cand):
                d = np.hypot(*(xy[cand] - pos).T) * detour / speed
                j = int(np.argmin(d))
                cost = d[j] + rp.service_home_new_s
                if cost > left:
                    break
                left -= cost
                done[cand[j]] = True
                pos = xy[cand[j]]
                cand = np.delete(cand, j)
    return int(done.sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--time-limit", type=float, default=0.3)
    ap.add_argument("--sequential", action="store_true", help="also plan on one process")
    args = ap.parse_args()
    ds = load_kanazawa(validate=False)
    start = as_of() + timedelta(days=1)
    cards = card_table(ds.households, ds.visits, today=start)
    koban_id = largest_koban(ds)
    n_hh = len(koban_households(ds, koban_id))
    params = CalendarParams(day_time_limit_s=args.time_limit, workers=2)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    request = CalendarRequest(koban_id=koban_id, start=start, weeks=args.weeks, params=params)
    cal = plan_calendar(build_calendar_problem(ds, request, cards=cards))
    t_cal = time.perf_counter() - t0
    seq_s = None
    if args.sequential:
        t0 = time.perf_counter()
        plan_calendar(build_calendar_problem(ds, request, cards=cards), workers=1)
        seq_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = greedy_peer(ds, cards, cal, koban_id)
    t_peer = time.perf_counter() - t0
    t0 = time.perf_counter()
    fc = forecast_coverage(cal, params=ForecastParams(runs=300, extend_days=365))
    t_fc = time.perf_counter() - t0
    beat0 = sorted(cal.beats)[0]
    t0 = time.perf_counter()
    newp = plan_new_officer(ds, cards, beat_id=beat0, start=start, route=False)
    t_new = time.perf_counter() - t0

    tot = cal.totals()
    lines = [
        f"# Calendar benchmark: koban {koban_id} ({n_hh} households), {args.weeks} weeks "
        f"from {start.isoformat()}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at "
        f"start and {os.getloadavg()[0]:.1f} at the end (the machine is shared); day time "
        f"limit {args.time_limit} s, 2 workers.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| calendar planning time (s), bound 60 | {t_cal:.1f} |",
    ]
    if seq_s is not None:
        lines.append(f"| same on 1 process (s) / ratio | {seq_s:.1f} / {seq_s / t_cal:.2f} |")
    lines += [
        f"| officer-days planned | {tot['officer_days']} |",
        f"| visits planned | {tot['attempts']} |",
        f"| 未把握 attempted / total | {tot['unknown_attempted']} / {tot['unknown']} "
        f"({100 * tot['unknown_attempted_share']:.1f} %) |",
        f"| second attempts | {tot['second_attempts']} |",
        f"| hours missing to attempt every 未把握 | {tot['hours_missing_unknown']:.0f} |",
        f"| peer (nearest 未把握, no windows / solver): 未把握 attempted | {peer} "
        f"(ours / peer = {tot['unknown_attempted'] / max(peer, 1):.2f}; {t_peer:.1f} s) |",
        f"| forecast, 300 runs + 365 days extrapolated (s) | {t_fc:.2f} |",
        f"| new officer plan of {beat0} (unrouted): duty days / weeks / s | "
        f"{len(newp.days)} / {newp.weeks} / {t_new:.1f} |",
        "",
        "| beat | 未把握 | attempted | retries | h missing (未把握) | expected met by day "
        f"{cal.days} | days to 90 % attempted (mean, p10-p90) | days to 90 % met |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def spread(s) -> str:
        if s.mean is None:
            return "beyond the forecast"
        p = s.percentiles
        return f"{s.mean:.0f} ({p['p10']:.0f}-{p['p90']:.0f}, {100 * s.reached_share:.0f}% runs)"

    for b, cov in sorted(cal.beats.items()):
        f = fc.beats[b]
        lines.append(
            f"| {b} | {cov.unknown} | {cov.unknown_attempted} | {cov.second_attempts} | "
            f"{cov.hours_missing_unknown:.0f} | "
            f"{100 * f.expected_contact_coverage[cal.days - 1]:.1f} % | "
            f"{spread(f.days_to_attempt['0.9'])} | {spread(f.days_to_contact)} |"
        )
    if cal.notes:
        lines += ["", "Notes: " + "; ".join(cal.notes)]
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
