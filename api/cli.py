"""The ``junkai-geo`` console script: the library's commands and the workspace's.

The library's commands live in ``junkai_geo.commands`` (they read a
:class:`junkai_geo.source.DataSource` and never import ``api``); the
commands that write the workspace or run the service live here, in
``api.commands``. Every command takes ``--workspace PATH`` /
``--database-url URL`` (see :mod:`api.workspace`) and ``--quiet``; the
chosen workspace is opened once and handed to the library's commands as
``args.source``. ``python -m junkai_geo.cli`` still runs the library's
commands on the bundled data.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from junkai_geo.cli import COMMANDS as LIBRARY_COMMANDS
from junkai_geo.errors import JunkaiGeoError

#: Commands of the service and the workspace (module in ``api.commands``).
API_COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("import_layer", "Import a layer (or a street network) into the workspace"),
    "serve": ("serve", "Run the web service (FastAPI) on the workspace"),
    "users": ("users", "Add or list users of the web service"),
    "plan-all": (
        "plan_all",
        "Plan the day of every officer on duty (Dask distributed) into the workspace",
    ),
}

#: Every command: name -> (module path, help).
COMMANDS: dict[str, tuple[str, str]] = {
    **{name: (f"junkai_geo.commands.{name}", text) for name, text in LIBRARY_COMMANDS.items()},
    **{name: (f"api.commands.{mod}", text) for name, (mod, text) in API_COMMANDS.items()},
}

#: Commands that read data and get ``args.source`` (the others open the workspace themselves).
READS_DATA = frozenset(
    {"demo", "plan", "calendar", "progress", "specialists", "rebalance", "status", "sheet"}
)


def add_workspace_arguments(parser: argparse.ArgumentParser) -> None:
    from junkai_geo.console import add_quiet_argument

    group = parser.add_argument_group("workspace")
    group.add_argument(
        "--workspace",
        metavar="PATH",
        default=None,
        help="the workspace's SQLite file (created on first import); "
        "default: JUNKAI_DATABASE_URL, DATABASE_URL, JUNKAI_WORKSPACE, else the bundled data",
    )
    group.add_argument(
        "--database-url",
        metavar="URL",
        default=None,
        help="the workspace as a database URL, e.g. postgresql+psycopg://user:pw@host/db",
    )
    add_quiet_argument(group)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="junkai-geo", description="Beat planning for patrol liaison (巡回連絡)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_path, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_path)
            module.add_arguments(p)
            if not any("--workspace" in a.option_strings for a in p._actions):
                add_workspace_arguments(p)
            p.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    source = None
    try:
        if args.command in READS_DATA:
            from .workspace import source_for

            source = source_for(args.workspace, args.database_url)
            args.source = source
        if args.command in API_COMMANDS:  # they show their own progress (serve must stop it)
            return int(args._run(args))
        from junkai_geo.console import steps

        with steps(getattr(args, "quiet", False)) as progress:
            args.progress = progress
            return int(args._run(args))
    except JunkaiGeoError as exc:
        print(f"junkai-geo {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if source is not None:
            source.close()


if __name__ == "__main__":
    sys.exit(main())
