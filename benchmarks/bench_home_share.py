"""Share of homes and of 未把握 homes among planned visits, per day type.

Plans one day for the beat officer of several beats of the bundled
Kanazawa data on a weekday, a weekend day and a focus day (巡回連絡強化日,
a weekday declared as one), with the priority rule for 未把握 homes on
(``PriorityParams.min_unknown_home_share``, default) and off (0), and
counts the planned households by kind and card status. The beats' own
shares are given for comparison.

    python benchmarks/bench_home_share.py [--beats 6] [--time-limit 2]

Writes benchmarks/results/home_share.md (quoted in docs/routing.md).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from junkai_geo.bundled import as_of, load_kanazawa
from junkai_geo.cards import card_table
from junkai_geo.priorities import PriorityParams, is_holiday
from junkai_geo.routing import DayRequest, build_day_problem, plan_day

RESULTS = Path(__file__).resolve().parent / "results" / "home_share.md"


def _next(d: date, weekday: int) -> date:
    """The first such weekday after ``d`` that is not a public holiday."""
    d = d + timedelta(days=(weekday - d.weekday()) % 7 or 7)
    while is_holiday(d):
        d += timedelta(days=7)
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--beats", type=int, default=6, help="beats planned (largest share of businesses first)"
    )
    ap.add_argument("--beat", action="append", default=None, help="plan this beat (repeatable)")
    ap.add_argument("--time-limit", type=float, default=2.0)
    args = ap.parse_args(argv)

    ds = load_kanazawa(validate=False)
    assert ds.households is not None and ds.officers is not None and ds.koban is not None
    today = as_of()
    tuesday = _next(today, 1)
    days = {
        "weekday": (tuesday, ()),
        "weekend": (_next(today, 5), ()),
        "focus day": (_next(today, 3), (_next(today, 3),)),
    }
    beat_officers = ds.officers[ds.officers["role"] == "beat"]
    # Beats with the most businesses: where homes could vanish from weekday plans.
    share = (ds.households["kind"] == "business").groupby(ds.households["beat_id"]).mean()
    share = share.sort_values(ascending=False, kind="stable")
    ids = set(beat_officers["beat_id"].astype(str))
    beats = args.beat or ["K01-1"]  # K01-1: the beat of issue 16's weekday plan
    beats += [b for b in share.index if b in ids and b not in beats][: args.beats]
    rows = []
    beat_rows = []
    t0 = time.perf_counter()
    for beat in beats:
        officer = beat_officers[beat_officers["beat_id"].astype(str) == beat].iloc[0].to_dict()
        hh = ds.households[ds.households["beat_id"].astype(str) == beat]
        visits = ds.visits[ds.visits["household_id"].isin(hh["household_id"])]
        for label, (on, focus) in days.items():
            cards = card_table(hh, visits, today=on)
            occupied = cards["occupancy"].reindex(hh["household_id"]).to_numpy() == "occupied"
            status = cards["status"].reindex(hh["household_id"]).to_numpy()
            if label == "weekday":
                beat_rows.append(
                    {
                        "beat": beat,
                        "households": int(occupied.sum()),
                        "home": float(((hh["kind"] == "home").to_numpy() & occupied).mean()),
                        "unknown_home": float(
                            (
                                (hh["kind"] == "home").to_numpy() & occupied & (status == "none")
                            ).mean()
                        ),
                    }
                )
            for rule, pp in (
                ("on", PriorityParams()),
                ("off", replace(PriorityParams(), min_unknown_home_share=0.0)),
            ):
                request = DayRequest(
                    str(officer["officer_id"]), on, focus_days=focus, priority_params=pp
                )
                plan = plan_day(
                    build_day_problem(ds, request), time_limit_s=args.time_limit, seed=0
                )
                planned = [h for s in plan.stops for h in s.households]
                rows.append(
                    {
                        "beat": beat,
                        "day": label,
                        "rule": rule,
                        "visits": len(planned),
                        "home": sum(h.kind == "home" for h in planned),
                        "unknown_home": sum(
                            h.kind == "home" and h.card_status == "none" for h in planned
                        ),
                    }
                )
                print(beat, label, rule, rows[-1], flush=True)
    elapsed = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    agg = df.groupby(["day", "rule"], sort=False)[["visits", "home", "unknown_home"]].sum()
    lines = [
        "# Homes and 未把握 homes among planned visits",
        "",
        f"`python benchmarks/bench_home_share.py --beats {args.beats} --time-limit "
        f"{args.time_limit}`: the beat officer of K01-1 (issue 16) and the {len(beats) - 1} beats with the largest share of businesses in the "
        f"bundled data ({', '.join(beats)}), one day each: weekday {days['weekday'][0]}, "
        f"weekend {days['weekend'][0]}, focus day {days['focus day'][0]} (a Thursday declared "
        "巡回連絡強化日), default windows 10:00-12:00 and 14:00-16:00. Rule `on`: "
        f"`min_unknown_home_share = {PriorityParams().min_unknown_home_share}` among the top "
        f"{PriorityParams().share_top_n} candidates by expected value per second of service (default); `off`: 0.",
        "",
        "| day | rule | planned households | homes | share of homes | 未把握 homes | share of 未把握 homes |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (day, rule), r in agg.iterrows():
        v = max(int(r["visits"]), 1)
        lines.append(
            f"| {day} | {rule} | {int(r['visits'])} | {int(r['home'])} | {r['home'] / v:.0%} | "
            f"{int(r['unknown_home'])} | {r['unknown_home'] / v:.0%} |"
        )
    b = pd.DataFrame(beat_rows)
    w = b["households"] / b["households"].sum()
    lines += [
        "",
        f"In these beats (occupied households, weighted): homes {float((b['home'] * w).sum()):.0%}, "
        f"未把握 homes {float((b['unknown_home'] * w).sum()):.0%}.",
        "",
        "Per beat and day:",
        "",
        "| beat | day | rule | planned | homes | 未把握 homes |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['beat']} | {r['day']} | {r['rule']} | {r['visits']} | {r['home']} | "
            f"{r['unknown_home']} |"
        )
    load = os.getloadavg()
    lines += [
        "",
        f"Run time {elapsed:.0f} s; machine load {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1 / 5 / 15 min) on {os.cpu_count()} cores.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
