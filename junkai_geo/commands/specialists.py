"""``junkai-geo specialists``: 専従員 districts, officers and rounds on the bundled data."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from ..errors import InputError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--top", type=int, default=5, help="districts reported and staffed (default 5)"
    )
    parser.add_argument(
        "--officers",
        default=None,
        metavar="ID[:DAYS],...",
        help="officers that can be spared, with days per week (default: the data's "
        "specialists, 5 days each), for example K17-S1:3,K23-1-O:1",
    )
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        help="reference day YYYY-MM-DD of card status (default: the data's as_of day)",
    )
    parser.add_argument(
        "--round-days",
        type=int,
        default=1,
        help="days of rounds planned per officer of the rank-1 district (0: none)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report JSON here")
    parser.add_argument(
        "--map", type=Path, default=None, help="write an HTML map of the districts here"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON instead of a summary")
    parser.add_argument(
        "--params",
        type=Path,
        default=None,
        help="TOML file with [specialists] and [buildings] tables (see docs/specialists.md)",
    )


def parse_officers(text: str, default_days: int) -> dict[str, int]:
    """``"K17-S1:3,K23-1-O"`` -> ``{"K17-S1": 3, "K23-1-O": default_days}``."""
    out: dict[str, int] = {}
    problems: list[Problem] = []
    for i, item in enumerate(p.strip() for p in text.split(",")):
        if not item:
            continue
        oid, _, days = item.partition(":")
        try:
            n = int(days) if days else default_days
            if not 0 <= n <= 7:
                raise ValueError
        except ValueError:
            problems.append(
                Problem("--officers", i + 1, "days", repr(days), "whole days 0..7", "bad_days")
            )
            continue
        out[oid.strip()] = n
    if problems:
        raise InputError(problems)
    if not out:
        raise InputError(
            Problem("--officers", None, None, repr(text), "ID[:DAYS],...", "no_officers")
        )
    return out


def run(args: argparse.Namespace) -> int:
    from ..buildings import BuildingParams
    from ..cards import card_table
    from ..settings import load_params
    from ..source import source_of
    from ..specialists import SpecialistParams, districts_frame, recommend_for_dataset

    params = load_params(SpecialistParams, args.params, table="specialists")
    bparams = load_params(BuildingParams, args.params, table="buildings")
    # Bad arguments fail before the data is loaded.
    officers = (
        parse_officers(args.officers, params.default_days_per_week) if args.officers else None
    )
    source = source_of(args)
    ds = source.dataset()
    today = args.date or source.as_of()
    if ds.households is None:
        raise InputError(Problem(source.label, None, "households", "missing", "a layer"))
    cards = card_table(ds.households, ds.visits, today=today)
    report = recommend_for_dataset(
        ds,
        cards,
        today=today,
        top=args.top,
        officers=officers,
        params=params,
        building_params=bparams,
        rounds=args.round_days > 0,
        round_days_per_officer=max(args.round_days, 0),
    )
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=1)
    print(text if args.json else report.summary())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        if not args.json:
            print(f"report written to {args.out}")
    if args.map:
        from ..render import districts_map

        frame = districts_frame(report.districts, ds.crs, report.recommendation)
        args.map.parent.mkdir(parents=True, exist_ok=True)
        districts_map(frame).save(str(args.map))
        if not args.json:
            print(f"map written to {args.map}")
    return 0
