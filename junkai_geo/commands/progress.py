"""``junkai-geo progress``: liaison progress per officer and lagging officers
(on the workspace, default the bundled data)."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

from ..errors import ParameterError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", default=None, help="only this station's officers (署名)")
    parser.add_argument("--koban", default=None, help="only this koban's officers")
    parser.add_argument(
        "--from",
        dest="start",
        type=date.fromisoformat,
        default=None,
        help="first day, YYYY-MM-DD (default: 13 weeks before --to)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=date.fromisoformat,
        default=None,
        help="last day, YYYY-MM-DD (default: the data's as_of day)",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    parser.add_argument(
        "--params", type=Path, default=None, help="TOML with [progress] and [roster] tables"
    )


def run(args: argparse.Namespace) -> int:
    from ..progress import ProgressParams, progress_report
    from ..roster import RosterParams
    from ..settings import load_params
    from ..source import source_of

    params = load_params(ProgressParams, args.params, table="progress")
    roster_params = load_params(RosterParams, args.params, table="roster")
    source = source_of(args)
    end = args.end or source.as_of()
    start = args.start or end - timedelta(weeks=13) + timedelta(days=1)
    if start > end:
        raise ParameterError(
            f"--from {start.isoformat()} is after --to {end.isoformat()}; expected from <= to"
        )
    ds = source.dataset()
    result = progress_report(
        ds,
        start=start,
        end=end,
        station=args.station,
        koban_id=args.koban,
        params=params,
        roster_params=roster_params,
    )
    summary = result.summary()
    print(summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n", "utf-8"
        )
        args.out.with_suffix(".txt").write_text(summary + "\n", encoding="utf-8")
        print(f"written to {args.out} and {args.out.with_suffix('.txt')}")
    return 0
