"""``junkai-geo plan``: one officer's day on the workspace (default the bundled data).

With a street network in the workspace the route follows the streets
(``travel_source`` in the plan says which travel was used)."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import InputError, ParameterError, Problem


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


def _officer_row(dataset: Any, officer_id: str) -> dict[str, Any]:
    officers = dataset.officers
    rows = officers[officers["officer_id"].astype(str) == officer_id]
    if rows.empty:
        known = sorted(officers["officer_id"].astype(str))
        raise InputError(
            Problem(
                "officers.csv",
                None,
                "officer_id",
                repr(officer_id),
                f"one of {known[:12]}{' ...' if len(known) > 12 else ''}",
                "unknown_officer",
            )
        )
    return {str(k): v for k, v in rows.iloc[0].to_dict().items()}


def run(args: argparse.Namespace) -> int:
    from ..cards import card_table
    from ..priorities import PriorityParams
    from ..routing import NightApproval, RouteParams, plan_day
    from ..settings import load_params
    from ..source import source_of
    from ..status import empty_plan_note

    pparams = load_params(PriorityParams, args.params, table="priorities")
    rparams = load_params(RouteParams, args.params, table="routing")
    source = source_of(args)
    ds = source.dataset()
    if ds.households is None or ds.officers is None or ds.koban is None:
        raise ParameterError(f"{source.label}: households, officers or koban layer missing")
    on = args.date or date.fromordinal(source.as_of().toordinal() + 1)
    officer = _officer_row(ds, args.officer)
    hh = ds.households
    if officer.get("beat_id") and str(officer["beat_id"]) != "nan":
        hh = hh[hh["beat_id"].astype(str) == str(officer["beat_id"])]
    elif ds.beats is not None:
        # A specialist (専従員) without a beat: the beats of the koban.
        beats = ds.beats[ds.beats["koban_id"].astype(str) == str(officer["koban_id"])]
        hh = hh[hh["beat_id"].astype(str).isin(beats["beat_id"].astype(str))]
    koban = ds.koban[ds.koban["koban_id"].astype(str) == str(officer["koban_id"])]
    if koban.empty:
        raise InputError(
            Problem(
                "koban",
                None,
                "koban_id",
                repr(officer["koban_id"]),
                "the koban of the officer",
                "unknown_koban",
            )
        )
    point = koban.geometry.iloc[0]
    label = str(koban["name"].iloc[0]) if "name" in koban else str(officer["koban_id"])
    visits = ds.visits
    if visits is not None:
        visits = visits[visits["household_id"].isin(hh["household_id"])]
    cards = card_table(hh, visits, today=on, stale_after_months=pparams.stale_after_months)
    approval = NightApproval(args.officer, on, args.night_approved) if args.night_approved else None
    mode = str(officer.get("mode") or "walk")
    travel = source.network(mode if mode in ("walk", "bicycle") else "walk")
    plan = plan_day(
        officer,
        on,
        windows=args.window,
        households=hh,
        buildings=ds.buildings,
        cards=cards,
        visits=visits,
        start_xy=(point.x, point.y),
        travel=travel,
        breaks=args.breaks,
        night_approval=approval,
        params=rparams,
        priority_params=pparams,
        time_limit_s=args.time_limit,
        seed=args.seed,
        max_candidates=args.max_candidates,
        start_label=label,
    )
    note = empty_plan_note(officer, hh, cards, plan)
    if note:
        plan.notes.append(note)
    print(plan.summary())
    text = json.dumps(plan.to_dict(), ensure_ascii=False, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"plan written to {args.out}")
    return 0
