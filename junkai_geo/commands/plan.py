"""``junkai-geo plan``: one officer's day on the bundled Kanazawa data."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--officer", required=True, help="officer_id, for example K01-1-O")
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="day to plan, YYYY-MM-DD (default: the day after the data's as_of day)",
    )
    parser.add_argument(
        "--window",
        action="append",
        default=None,
        metavar="HH:MM-HH:MM",
        help="liaison window; repeat for several (default 10:00-12:00 and 14:00-16:00)",
    )
    parser.add_argument(
        "--break",
        dest="breaks",
        action="append",
        default=[],
        metavar="HH:MM-HH:MM",
        help="interval without visits; repeatable",
    )
    parser.add_argument(
        "--night-approved",
        metavar="HH:MM-HH:MM",
        default=None,
        help="a manager approved night visits for this officer and date in this window",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the plan JSON here")
    parser.add_argument("--time-limit", type=float, default=2.0, help="seconds (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-candidates", type=int, default=None, help="building nodes given to the solver"
    )
    parser.add_argument(
        "--params",
        type=Path,
        default=None,
        help="TOML file with [priorities] and [routing] tables (see examples/priorities.toml)",
    )


def run(args: argparse.Namespace) -> int:
    from ..bundled import as_of, load_kanazawa
    from ..priorities import PriorityParams
    from ..routing import DayRequest, NightApproval, RouteParams, build_day_problem, plan_day
    from ..settings import load_params

    pparams = load_params(PriorityParams, args.params, table="priorities")
    rparams = load_params(RouteParams, args.params, table="routing")
    ds = load_kanazawa(validate=False)
    on = args.date or date.fromordinal(as_of().toordinal() + 1)
    approval = NightApproval(args.officer, on, args.night_approved) if args.night_approved else None
    request = DayRequest(
        officer_id=args.officer,
        on=on,
        windows=args.window,
        breaks=args.breaks,
        night_approval=approval,
        params=rparams,
        priority_params=pparams,
        max_candidates=args.max_candidates,
    )
    problem = build_day_problem(ds, request)
    plan = plan_day(problem, time_limit_s=args.time_limit, seed=args.seed)
    print(plan.summary())
    text = json.dumps(plan.to_dict(), ensure_ascii=False, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"plan written to {args.out}")
    return 0
