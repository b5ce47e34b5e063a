"""``junkai-geo plan-all``: the day's plan of every officer on duty, on Dask distributed.

Reads the workspace (the service's database: ``--workspace`` /
``--database-url``, else the environment as for every command), plans every officer on duty on ``--date`` (rosters,
holidays, focus days) as one Dask task each, and writes each plan to the
workspace's ``day_plans`` table as it finishes, where GET
/plans/{officer}/{day} serves it. ``--area`` plans a bundled area instead and
writes the plans as JSON files (``--plans-dir``). See docs/plan_all.md.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="YYYY-MM-DD")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler (default: a LocalCluster on this machine)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="LocalCluster worker processes (default: cores)"
    )
    parser.add_argument("--force", action="store_true", help="plan again plans already stored")
    parser.add_argument("--sheets", type=Path, default=None, help="write A4 sheets (PDF) here")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=2.0,
        help="plan time limit, seconds (default 2): the solver's work budget; a loaded "
        "machine's clock does not cut it short (the same plans at any load)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="report a task running longer as timed out"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--station", action="append", default=None, help="only these stations")
    parser.add_argument(
        "--area",
        choices=("kanazawa", "ishikawa"),
        default=None,
        help="plan a bundled area instead of the workspace (plans to --plans-dir)",
    )
    parser.add_argument("--plans-dir", type=Path, default=None, help="with --area: plan JSONs")
    parser.add_argument("--out", type=Path, default=None, help="write the run summary JSON here")
    from ..cli import add_workspace_arguments

    add_workspace_arguments(parser)


def _sheet_writer(directory: Path | None) -> Any:
    if directory is None:
        return None
    from junkai_geo.sheet import route_sheet_pdf

    directory.mkdir(parents=True, exist_ok=True)

    def write(result: Any) -> None:
        route_sheet_pdf(
            result.plan, directory / f"route_{result.officer_id}_{result.on.isoformat()}.pdf"
        )

    return write


def run(args: argparse.Namespace) -> int:
    from junkai_geo.errors import ParameterError
    from junkai_geo.plan_all import FolderSink, day_tasks, local_client, run_plan_all

    if args.area is not None:
        from junkai_geo.bundled import load_area

        if args.plans_dir is None:
            raise ParameterError("--area: expected --plans-dir DIR for the plans")
        dataset = load_area(args.area, validate=False)
        sink: Any = FolderSink(args.plans_dir)
        db = None
    else:
        from ..day_plans import DatabaseSink
        from ..store import dataset_from_db
        from ..workspace import open_workspace, resolve_url

        url = resolve_url(args.workspace, args.database_url)
        if url is None:
            raise ParameterError(
                "plan-all: found no workspace; expected --workspace PATH, --database-url URL "
                "(or JUNKAI_DATABASE_URL), or --area NAME with --plans-dir DIR"
            )
        db = open_workspace(url)
        with db.read_session() as session:
            dataset = dataset_from_db(session, None, buildings=True)
        sink = DatabaseSink(db, seed=args.seed, time_limit_s=args.time_limit)
    tasks = day_tasks(
        dataset, args.date, time_limit_s=args.time_limit, seed=args.seed, stations=args.station
    )
    print(
        f"junkai-geo plan-all {args.date.isoformat()}: {len(tasks)} officers on duty, "
        f"{len(tasks.off_duty)} off duty",
        flush=True,
    )
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    else:
        client = local_client(args.workers)
    try:
        result = run_plan_all(
            tasks,
            sink,
            client=client,
            force=args.force,
            off_duty=tasks.off_duty,
            timeout_s=args.timeout,
            on_result=_sheet_writer(args.sheets),
        )
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and not args.scheduler:
            cluster.close()
        if db is not None:
            db.dispose()
    print(result.summary())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return 1 if result.failures else 0
