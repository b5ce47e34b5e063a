"""``junkai-geo validate FILE --layer LAYER``: check a data file before importing it.

Prints every problem found (or a JSON list of them with ``--json``); the exit
status is 0 for a clean file and 1 when there are problems.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from ..validation import LAYERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", metavar="FILE", help="GeoJSON, GeoPackage, Shapefile, GeoParquet or CSV file"
    )
    parser.add_argument("--layer", required=True, choices=LAYERS, help="what the file holds")
    parser.add_argument(
        "--crs", default=None, help="CRS of x/y columns or of a file without one, e.g. EPSG:6675"
    )
    parser.add_argument(
        "--encoding",
        default=None,
        help="text encoding of a CSV (default: detect UTF-8, UTF-8 BOM, cp932)",
    )
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="reference day for future dates, YYYY-MM-DD (default: today)",
    )
    parser.add_argument(
        "--repair",
        action="store_true",
        help="repair invalid polygons with make_valid and report the repairs",
    )
    parser.add_argument("--json", action="store_true", help="print the problems as a JSON list")


def run(args: argparse.Namespace) -> int:
    from ..ingest import inspect_layer

    report = inspect_layer(
        args.file,
        args.layer,
        crs=args.crs,
        encoding=args.encoding,
        repair=args.repair,
        today=args.today,
    )
    if args.json:
        json.dump([p.to_dict() for p in report.problems], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 1 if report.problems else 0
    crs = report.source_crs or "no CRS"
    if report.crs:
        crs += f" -> {report.crs}"
    details = [f"{report.rows} row(s)", f"CRS {crs}"]
    if report.encoding:
        details.append(f"encoding {report.encoding}")
    print(f"{report.file} (layer {report.layer}): {', '.join(details)}")
    for note in report.notes:
        print(f"note: {note}")
    if not report.problems:
        print("OK: no problems found")
        return 0
    print(f"{len(report.problems)} problem(s):")
    for p in report.problems:
        print(f"  - {p}")
    return 1
