"""The ``junkai-geo`` command line.

Each sub-command lives in ``junkai_geo.commands.<name>`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int``; they are imported only
when used, so ``junkai-geo --help`` stays fast.

These are the library's commands, on the bundled data unless a caller puts
a :class:`junkai_geo.source.DataSource` on ``args.source``. The installed
``junkai-geo`` script is ``api.cli:main``: the same commands plus those of
the workspace and the service (``import``, ``serve``, ``users``), and
``--workspace`` / ``--database-url`` on every command.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import JunkaiGeoError

COMMANDS: dict[str, str] = {
    "demo": "Load the bundled Kanazawa data, validate it, summarise beats, write maps",
    "validate": "Check a data file and print every problem found",
    "matrix": "Travel-time and distance matrix for a set of points",
    "solve": "Solve a routing problem given as JSON (see README)",
    "plan": "Plan one officer's day on the bundled or imported data",
    "rebalance": "Rebalance beats built from a polygon layer of units",
    "sheet": "Print a day plan as an A4 route sheet (PDF) and optionally an HTML map",
    "specialists": "Find 専従員 districts (団地, high-rise), recommend officers, plan their rounds",
    "calendar": "Plan a koban's multi-week visit calendar with a coverage forecast",
    "progress": "Liaison progress per officer and beat; flag lagging officers",
    "status": "What the data holds: counts per layer, 未把握, beats without officers",
    "template": "Write an empty file of a layer with its columns (CSV or GeoPackage)",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="junkai-geo", description="Beat planning for patrol liaison (巡回連絡)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen command's module is imported.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(f"junkai_geo.commands.{name.replace('-', '_')}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except JunkaiGeoError as exc:
        print(f"junkai-geo {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
