"""``junkai-geo import LAYER FILE...``: load a layer into the workspace, all or nothing.

Layers: koban, beats, units, officers, buildings, households, visits (the
columns of each are in ``docs/data_formats.md``), and ``network`` for an
OpenStreetMap extract (``.osm.pbf``), from which the walking and bicycle
graphs are built once, clipped to the workspace's beats with a margin, and
kept in the workspace for every plan.

Every file is checked completely, then against what the workspace holds;
any problem is printed (all of them) and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from junkai_geo.errors import InputError, JunkaiGeoError

from ..importer import LAYERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli import add_workspace_arguments

    parser.add_argument("layer", choices=[*LAYERS, "network"], help="what the files hold")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--crs", default=None, help="CRS of x/y columns or of a file without one, e.g. EPSG:6675"
    )
    national = parser.add_argument_group(
        "national formats (docs/data_formats_national.md)",
    )
    national.add_argument(
        "--prefecture",
        action="append",
        default=None,
        help="police list: keep this prefecture's rows, e.g. 石川県 (repeatable)",
    )
    national.add_argument(
        "--station",
        action="append",
        default=None,
        help="police list: keep this station's rows, e.g. 金沢中 (repeatable)",
    )
    national.add_argument(
        "--skip-unlocated",
        action="store_true",
        help="police list: leave out rows without a location (each noted) instead of failing",
    )
    national.add_argument(
        "--reference",
        action="append",
        type=Path,
        default=None,
        metavar="FILE",
        help="address list: MLIT 位置参照情報 CSV to locate addresses against (repeatable; "
        "default the bundled Ishikawa 町字 points)",
    )
    parser.add_argument(
        "--margin-m",
        type=float,
        default=None,
        help="network: metres of streets kept around the beats (default 500)",
    )
    add_workspace_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from junkai_geo.console import steps

    from ..workspace import describe, open_workspace, resolve_url

    url = resolve_url(args.workspace, args.database_url)
    if url is None:
        raise JunkaiGeoError(
            "no workspace chosen; expected --workspace PATH (an SQLite file, made on first "
            "import), --database-url URL, or the environment variable JUNKAI_WORKSPACE"
        )
    db = open_workspace(url)
    try:
        with steps(getattr(args, "quiet", False)) as progress:
            if args.layer == "network":
                if len(args.files) != 1:
                    raise JunkaiGeoError(
                        f"import network: found {len(args.files)} files; expected one .osm.pbf"
                    )
                lines = import_network(db, args.files[0], margin_m=args.margin_m, progress=progress)
            else:
                lines = import_files(
                    db,
                    args.layer,
                    args.files,
                    crs=args.crs,
                    progress=progress,
                    national=national_options(args),
                )
    except InputError as exc:
        print(
            f"junkai-geo import {args.layer}: {len(exc.problems)} problem(s); "
            f"nothing was imported into the {describe(url)}",
            file=sys.stderr,
        )
        for p in exc.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    for line in lines:
        print(line)
    return 0


def national_options(args: argparse.Namespace) -> Any:
    """The national-format options given on the command line (None: defaults)."""
    from junkai_geo.formats import NationalOptions

    if not (args.prefecture or args.station or args.skip_unlocated or args.reference):
        return None
    return NationalOptions(
        prefecture=tuple(args.prefecture) if args.prefecture else None,
        station=tuple(args.station) if args.station else None,
        skip_unlocated=args.skip_unlocated,
        reference=tuple(args.reference or ()),
    )


def import_files(
    db: Any,
    layer: str,
    files: list[Path],
    *,
    crs: str | None = None,
    progress: Any = None,
    national: Any = None,
) -> list[str]:
    """Read, check and store ``files`` as ``layer`` in one transaction.

    Returns the lines to print; raises InputError (nothing written) on any problem.
    """
    from ..importer import read_files, store_layer
    from ..routes.reports import invalidate_survey_cache
    from ..workspace import describe

    if progress is not None:
        progress.step(f"reading and checking {len(files)} {layer} file(s)")
    frame = read_files(layer, files, crs=crs, national=national)
    if progress is not None:
        progress.step(f"checking {len(frame):,} {layer} against the workspace and writing")
    with db.writing() as session:
        result = store_layer(session, layer, frame, frame.attrs.get("source", layer))
    invalidate_survey_cache()
    names = ", ".join(f.name for f in files)
    notes = [str(n) for n in frame.attrs.get("notes", [])][:20] + result.notes
    return [f"imported {result.rows:,} {layer} from {names} into the {describe(db.url)}"] + [
        f"note: {n}" for n in notes
    ]


def import_network(
    db: Any, path: Path, *, margin_m: float | None = None, progress: Any = None
) -> list[str]:
    """Build the walk and bicycle graphs of ``path`` around the beats; store them."""
    import geopandas as gpd
    import shapely
    from sqlalchemy import delete

    from junkai_geo.network import build_network, read_highways
    from junkai_geo.network_store import DEFAULT_MARGIN_M, clip_ways, network_to_bytes

    from ..db import utcnow
    from ..importer import current_beats
    from ..models import StreetNetworkRow
    from ..store import workspace_crs
    from ..workspace import describe

    margin = DEFAULT_MARGIN_M if margin_m is None else float(margin_m)
    with db.read_session() as session:
        crs = workspace_crs(session)
        _, geoms = current_beats(session, crs)
    if len(geoms) == 0:
        raise JunkaiGeoError(
            "import network: the workspace has no beats; import the beats first "
            "(the network is clipped to them)"
        )
    area = shapely.union_all(geoms).buffer(margin)
    area_lonlat = gpd.GeoSeries([area], crs=crs).to_crs("EPSG:4326").iloc[0]
    if progress is not None:
        progress.step(f"reading the streets of {path.name}")
    raw = clip_ways(read_highways(path), area_lonlat)
    rows = []
    lines = []
    for mode in ("walk", "bicycle"):
        if progress is not None:
            progress.step(f"building the {mode} network")
        net = build_network(raw, mode)
        summary = net.summary()
        rows.append(
            {
                "mode": mode,
                "source_file": path.name[:256],
                "file_sha256": net.file_sha256,
                "crs": net.crs,
                "created_at": utcnow(),
                "summary": {**summary, "source_file": path.name, "margin_m": margin},
                "data": network_to_bytes(net),
            }
        )
        lines.append(
            f"{mode} network: {net.n_vertices:,} vertices, {net.n_edges:,} edges, "
            f"{summary['length_km']:.1f} km of streets within {margin:g} m of the beats"
        )
    if progress is not None:
        progress.step("storing the networks in the workspace")
    with db.writing() as session:
        session.execute(delete(StreetNetworkRow))
        for row in rows:
            session.add(StreetNetworkRow(**row))
    return [
        f"imported the street network of {path.name} into the {describe(db.url)}",
        *lines,
        "plans, calendars, re-plans and sheets of this workspace now travel along these streets",
    ]
