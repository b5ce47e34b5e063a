"""``junkai-geo calendar``: a koban's multi-week visit calendar on the workspace
(default the bundled data); with a street network in the workspace, along the streets."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ..errors import ParameterError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--koban", default=None, help="koban_id (default: the koban with the most households)"
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=None,
        help="first day, YYYY-MM-DD (default: the day after the data's as_of day)",
    )
    parser.add_argument("--weeks", type=int, default=4, help="horizon in weeks (default 4)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="seconds per officer-day (default 0.3)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default: up to 2 cores)"
    )
    parser.add_argument(
        "--focus-day",
        action="append",
        default=[],
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="a focus day (強化日) of the koban; repeatable",
    )
    parser.add_argument(
        "--night",
        action="append",
        default=[],
        metavar="OFFICER,YYYY-MM-DD[,HH:MM-HH:MM]",
        help="a night approval for an officer and day (window default 18:00-20:00); repeatable",
    )
    parser.add_argument(
        "--forecast-runs",
        type=int,
        default=300,
        help="Monte Carlo runs of the coverage forecast (0: none; default 300)",
    )
    parser.add_argument("--full", action="store_true", help="whole DayPlan dicts in the JSON")
    parser.add_argument(
        "--new-officer",
        metavar="BEAT",
        default=None,
        help="instead: plan a newly assigned officer's coverage of this beat",
    )
    parser.add_argument(
        "--params",
        type=Path,
        default=None,
        help="TOML with [calendar], [roster], [routing], [priorities], [forecast], [new_officer]",
    )


def parse_night(text: str) -> Any:
    """``OFFICER,YYYY-MM-DD[,HH:MM-HH:MM]`` as a NightApproval."""
    from ..routing import NightApproval, parse_window

    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (2, 3) or not parts[0]:
        raise ParameterError(
            f"--night: found {text!r}; expected OFFICER,YYYY-MM-DD or OFFICER,YYYY-MM-DD,HH:MM-HH:MM"
        )
    try:
        on = date.fromisoformat(parts[1])
    except ValueError:
        raise ParameterError(f"--night: found date {parts[1]!r}; expected YYYY-MM-DD") from None
    window = parts[2] if len(parts) == 3 else "18:00-20:00"
    parse_window(window, "--night window")
    return NightApproval(parts[0], on, window)


def largest_koban(dataset: Any) -> str:
    """The koban whose beats hold the most households."""
    b2k = dataset.beats.set_index(dataset.beats["beat_id"].astype(str))["koban_id"].astype(str)
    counts = dataset.households["beat_id"].astype(str).map(b2k).value_counts()
    return str(counts.index[0])


def koban_network(source: Any, ds: Any, koban_id: str, beat_id: str | None = None) -> Any:
    """The source's street network a calendar travels on, or None (straight line).

    As the service's calendar jobs (:func:`~junkai_geo.calendar.travel_mode_of`):
    the mode most of the koban's officers use; for a new officer's plan of
    ``beat_id``, the mode of the beat's officer.
    """
    from ..calendar import travel_mode_of

    return source.network(travel_mode_of(ds.officers, koban_id, beat_id))


def beat_koban(ds: Any, beat_id: str) -> str | None:
    """The koban of ``beat_id``, or None for a beat the dataset does not hold."""
    beats = ds.beats[ds.beats["beat_id"].astype(str) == beat_id] if ds.beats is not None else None
    return None if beats is None or beats.empty else str(beats["koban_id"].iloc[0])


def run(args: argparse.Namespace) -> int:
    from ..calendar import (
        CalendarParams,
        CalendarRequest,
        NewOfficerParams,
        build_calendar_problem,
        plan_calendar,
        plan_new_officer,
        travel_source_of,
    )
    from ..cards import card_table
    from ..forecast import ForecastParams, forecast_coverage
    from ..priorities import PriorityParams
    from ..roster import RosterParams
    from ..routing import RouteParams
    from ..settings import load_params
    from ..source import source_of

    if args.weeks <= 0:
        raise ParameterError(f"--weeks: found {args.weeks}; expected a number of weeks > 0")
    overrides: dict[str, Any] = {}
    if args.time_limit is not None:
        overrides["day_time_limit_s"] = args.time_limit
    if args.workers is not None:
        overrides["workers"] = args.workers
    cparams = load_params(CalendarParams, args.params, table="calendar", **overrides)
    roster_params = load_params(RosterParams, args.params, table="roster")
    rparams = load_params(RouteParams, args.params, table="routing")
    pparams = load_params(PriorityParams, args.params, table="priorities")
    approvals = [parse_night(t) for t in args.night]
    from ..console import progress_of

    progress = progress_of(args)
    source = source_of(args)
    progress.step(f"reading the {source.label}")
    ds = source.dataset()
    if ds.households is None:
        raise ParameterError(f"{source.label}: the households layer is missing")
    today = source.as_of()
    start = args.start or today + timedelta(days=1)
    cards = card_table(
        ds.households, ds.visits, today=start, stale_after_months=pparams.stale_after_months
    )
    if args.new_officer:
        progress.step(f"planning the beat {args.new_officer} for a new officer")
        nparams = load_params(NewOfficerParams, args.params, table="new_officer")
        # An unknown beat: no network; plan_new_officer names the beats there are.
        koban_of_beat = beat_koban(ds, args.new_officer)
        travel = (
            None
            if koban_of_beat is None
            else koban_network(source, ds, koban_of_beat, args.new_officer)
        )
        plan = plan_new_officer(
            ds,
            cards,
            beat_id=args.new_officer,
            start=start,
            travel=travel,
            params=nparams,
            route_params=rparams,
            priority_params=pparams,
            roster_params=roster_params,
        )
        summary = plan.summary()
        data: dict[str, Any] = {
            "new_officer": plan.to_dict(full=args.full),
            # As the service's calendar jobs: what the day plans travelled on.
            "travel_source": travel_source_of([d.plan for d in plan.days], travel),
        }
    else:
        koban_id = args.koban or largest_koban(ds)
        progress.step(f"planning {args.weeks} week(s) of koban {koban_id}")
        request = CalendarRequest(
            koban_id=koban_id,
            start=start,
            weeks=args.weeks,
            focus_days={koban_id: args.focus_day} if args.focus_day else None,
            night_approvals=tuple(approvals),
            params=cparams,
            route_params=rparams,
            priority_params=pparams,
            roster_params=roster_params,
        )
        travel = koban_network(source, ds, koban_id)
        problem = build_calendar_problem(ds, request, cards=cards, travel=travel)
        cal = plan_calendar(problem)
        summary = cal.summary()
        data = {
            "calendar": cal.to_dict(compact=not args.full),
            "travel_source": travel_source_of(
                [d for days in cal.plans.values() for d in days], travel
            ),
        }
        if args.forecast_runs > 0:
            fparams = load_params(
                ForecastParams, args.params, table="forecast", runs=args.forecast_runs
            )
            progress.step(f"coverage forecast ({args.forecast_runs} runs)")
            forecast = forecast_coverage(cal, params=fparams)
            summary += "\n" + forecast.summary()
            data["forecast"] = forecast.to_dict()
    print(summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", "utf-8")
        args.out.with_suffix(".txt").write_text(summary + "\n", encoding="utf-8")
        print(f"written to {args.out} and {args.out.with_suffix('.txt')}")
    return 0
