"""``junkai-geo sheet PLAN.json --out sheet.pdf``: the printable A4 route sheet."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError, Problem
from ..render import read_plan, route_map, save_map
from ..settings import MAPS_DIR
from ..sheet import SheetParams, route_sheet_pdf


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "plan", type=Path, help="day plan JSON (DayPlan.to_dict(), see docs/plan_format.md)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="PDF to write (default maps/sheet_<officer>_<date>.pdf)",
    )
    parser.add_argument(
        "--beat", type=Path, default=None, help="GeoJSON (lon/lat) of the beat outline to draw"
    )
    parser.add_argument(
        "--tiles",
        action="store_true",
        help="draw 地理院タイル under the route on the sheet (needs internet)",
    )
    parser.add_argument(
        "--html", type=Path, default=None, help="also write the route as an HTML map here"
    )
    parser.add_argument(
        "--online",
        dest="offline",
        action="store_false",
        help="the HTML map loads Leaflet from CDNs and shows 地理院タイル "
        "(default: offline, Leaflet from local files, tiles only if configured; docs/maps.md)",
    )
    parser.add_argument(
        "--offline",
        dest="offline",
        action="store_true",
        default=True,
        help="the default; kept for older scripts",
    )


def run(args: argparse.Namespace) -> int:
    plan = read_plan(args.plan)
    beat = None
    if args.beat is not None:
        try:
            beat = json.loads(Path(args.beat).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(
                Problem(
                    str(args.beat), None, None, str(exc), "a GeoJSON file in lon/lat", "bad_geojson"
                )
            ) from exc
    out = args.out or MAPS_DIR / f"sheet_{plan['officer_id']}_{plan['date']}.pdf"
    path = route_sheet_pdf(
        plan, out, beat_geometry=beat, tile_background=args.tiles, params=SheetParams()
    )
    print(f"route sheet: {path}")
    if args.html is not None:
        html = save_map(route_map(plan, beat_geometry=beat, offline=args.offline), args.html)
        print(f"route map: {html}")
    return 0
