"""``junkai-geo rebalance``: rebalance beats built from any polygon layer of units.

Writes every unit with its new ``beat`` (and ``beat_before``, ``moved``) to
``--out`` and prints the plan's figures as JSON. Without ``--weight`` the
workload of each unit comes from the household model
(:mod:`junkai_geo.workload`) on the bundled Kanazawa households, cards and
buildings; the units file must then use the bundled unit ids, and units
heavier than ``--split-share`` of a mean beat are first split into sub-units
(``<unit_id>#k``, with ``parent_unit_id``) from the household points, as beats
are drawn at block level inside large 町丁目 (``--split-share 0`` keeps whole
units).

``--mode minimal-change`` (default) moves the fewest households that bring
every beat within ``--tolerance``; ``--mode best-balance`` makes the beats as
even as it can. Several tolerances (``--tolerance 20,15,10,5``, in % or as
fractions) run a sweep: a table of largest deviation, households and units
moved and compactness per tolerance, and one unit layer per tolerance.
Beats that cannot hold or touch their koban's unit are named on stderr before
the search.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError, ParameterError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "units_file",
        metavar="UNITS_FILE",
        help="polygon layer of units (GeoJSON, GeoPackage, Shapefile, Parquet)",
    )
    parser.add_argument(
        "--weight",
        metavar="COLUMN",
        help="numeric column with each unit's workload; default: the "
        "household model on the bundled Kanazawa data",
    )
    parser.add_argument(
        "--beats", type=int, metavar="K", help="number of beats (default: as many as in --current)"
    )
    parser.add_argument(
        "--koban",
        metavar="KOBAN_FILE",
        help="koban points with koban_id; each beat must hold or touch its koban's unit",
    )
    parser.add_argument("--current", metavar="COLUMN", help="column with each unit's current beat")
    parser.add_argument(
        "--lock", metavar="COLUMN", help="true/false column: locked units keep their current beat"
    )
    parser.add_argument(
        "--locked-beats",
        metavar="IDS",
        default="",
        help="comma-separated beat ids that keep all their units",
    )
    parser.add_argument(
        "--id",
        dest="id_column",
        default="unit_id",
        metavar="COLUMN",
        help="unit id column (default unit_id)",
    )
    parser.add_argument("--time-limit", type=float, metavar="S", help="seconds (default 60)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument(
        "--mode",
        choices=["minimal-change", "best-balance"],
        help="minimal-change (default): fewest households moved within the tolerance; "
        "best-balance: the most even beats",
    )
    parser.add_argument(
        "--tolerance",
        metavar="T[,T...]",
        help="largest accepted deviation from the mean workload, as a fraction or in %% "
        "(0.1, 10 or 10%%; default 10%% minimal-change, 3%% best-balance); several values "
        "(20,15,10,5) run a sweep",
    )
    parser.add_argument(
        "--split-share",
        type=float,
        metavar="SHARE",
        help="with the household model: split units heavier than SHARE of a mean beat "
        "into sub-units (default 0.15; 0 keeps whole units)",
    )
    parser.add_argument(
        "--params", metavar="TOML", help="TOML file with a [rebalance] table of RebalanceParams"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="OUT.geojson",
        help="where to write the units with their beat",
    )


def _read_units(path: Path, id_column: str) -> Any:
    """The units layer; an e-Stat boundary file is read as the importer reads it.

    e-Stat 町丁・字等別境界 files (detected from their fields) have their
    parts merged into one unit per ``KEY_CODE``, water areas (HCODE 8154)
    left out and the cp932 ``.dbf`` decoded (:func:`junkai_geo.formats.
    read_estat_boundaries`); the notes go to stderr. Their ids are
    ``unit_id`` (``--id KEY_CODE`` names the same), the households
    ``households`` (SETAI).
    """
    import geopandas as gpd

    from ..formats import detect_format, read_estat_boundaries

    if not path.exists():
        raise InputError(
            Problem(
                str(path), None, None, "no such file", "a readable polygon layer", "missing_file"
            )
        )
    if detect_format(path, "units") == "estat_boundary":
        read = read_estat_boundaries(path)
        units = read.raise_for_problems()
        for note in read.notes:
            print(f"注意 note: {note}", file=sys.stderr)
        if id_column not in units.columns and id_column.upper() == "KEY_CODE":
            units[id_column] = units["unit_id"]
        return units
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        return gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file to the user
        raise InputError(
            Problem(
                str(path),
                None,
                None,
                f"an unreadable file ({exc})",
                "a polygon layer GeoPandas can read",
                "unreadable",
            )
        ) from exc


def _read_koban(path: Path) -> Any:
    import geopandas as gpd

    if not path.exists():
        raise InputError(
            Problem(str(path), None, None, "no such file", "a koban point layer", "missing_file")
        )
    try:
        kob = gpd.read_file(path)
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            Problem(
                str(path),
                None,
                None,
                f"an unreadable file ({exc})",
                "a koban point layer",
                "unreadable",
            )
        ) from exc
    if "koban_id" not in kob.columns:
        raise InputError(
            Problem(
                str(path),
                None,
                "koban_id",
                f"columns {list(kob.columns)}",
                "a 'koban_id' column",
                "missing_column",
            )
        )
    return kob


def bundled_weights(units: Any, source: str, data: Any = None) -> Any:
    """Workload hours per unit from the household model on the workspace's data
    (``data``, a :class:`~junkai_geo.source.DataSource`; default the bundle)."""
    from ..cards import card_table
    from ..source import BundledSource
    from ..workload import unit_workload_h

    data = data or BundledSource()
    ds = data.dataset()
    assert ds.units is not None and ds.households is not None
    cards = card_table(ds.households, ds.visits, today=data.as_of())
    per_unit = unit_workload_h(ds.units, ds.households, cards, ds.buildings, ds.koban)
    ids = units["unit_id"].astype(str) if "unit_id" in units.columns else None
    if ids is None:
        raise InputError(
            Problem(
                source,
                None,
                "unit_id",
                "no unit_id column",
                "bundled unit ids when --weight is not given",
                "missing_column",
            )
        )
    weights = ids.map(per_unit)
    unknown = ids[weights.isna()]
    if len(unknown):
        raise InputError(
            [
                Problem(
                    source,
                    u,
                    "unit_id",
                    f"'{u}', not a bundled unit",
                    "a bundled Kanazawa unit id (or pass --weight COLUMN)",
                    "unknown_unit",
                )
                for u in unknown.tolist()
            ]
        )
    return weights.to_numpy(dtype=float)


def refined_units(units: Any, args: argparse.Namespace, split_share: float) -> Any:
    """Units with household-model ``workload_h``, heavy ones split into sub-units."""
    from ..cards import card_table
    from ..source import source_of
    from ..workload import refine_units

    source = source_of(args)
    ds = source.dataset()
    assert ds.households is not None
    cards = card_table(ds.households, ds.visits, today=source.as_of())
    n_beats = args.beats
    if n_beats is None and args.current and args.current in units.columns:
        n_beats = int(units[args.current].dropna().astype(str).nunique())
    ids = set(units["unit_id"].astype(str))
    # Only the households of the given units (a layer may hold a part of the city).
    hh = ds.households[ds.households["unit_id"].astype(str).isin(ids)]
    refined = refine_units(
        units,
        hh,
        cards,
        ds.buildings,
        ds.koban,
        n_beats=max(int(n_beats or 1), 1),
        split_share=split_share if n_beats else 0.0,
        locked=args.lock,
        seed=0 if args.seed is None else args.seed,
    )
    return refined.units


def parse_tolerances(text: str | None) -> list[float]:
    """``"20,15,10,5"``, ``"10%"`` or ``"0.1"`` -> fractions; values above 1 are percent."""
    if text is None:
        return []
    out = []
    for part in str(text).split(","):
        raw = part.strip()
        try:
            value = float(raw.rstrip("%"))
        except ValueError:
            raise ParameterError(
                f"--tolerance: found {raw!r}; expected numbers such as 0.1, 10 or 10%"
            ) from None
        if raw.endswith("%") or value > 1:
            value /= 100
        if not 0 < value <= 1:
            raise ParameterError(f"--tolerance: found {raw!r}; expected a share in (0, 100 %]")
        out.append(value)
    return out


def run(args: argparse.Namespace) -> int:
    from ..rebalance import BeatProblem, RebalanceParams, check_koban_rule, rebalance_beats
    from ..rebalance.report import summary_lines, sweep_rows, sweep_table
    from ..settings import load_params
    from ..source import source_of

    tolerances = parse_tolerances(args.tolerance)
    overrides = {
        name: value
        for name, value in (
            ("time_limit_s", args.time_limit),
            ("seed", args.seed),
            ("tolerance", tolerances[0] if len(tolerances) == 1 else None),
            ("split_unit_share", args.split_share),
            ("mode", args.mode),
        )
        if value is not None
    }
    from ..console import progress_of

    progress = progress_of(args)
    params = load_params(RebalanceParams, args.params, table="rebalance", **overrides)
    path = Path(args.units_file)
    progress.step(f"reading {path.name}")
    units = _read_units(path, args.id_column)
    koban = _read_koban(Path(args.koban)) if args.koban else None
    if args.beats is not None and args.beats < 1:
        raise ParameterError(f"--beats: found {args.beats}; expected an integer >= 1")
    build: dict[str, Any] = {
        "id_column": args.id_column,
        "current_column": args.current,
        "lock_column": args.lock,
        "locked_beats": [b for b in args.locked_beats.split(",") if b] or None,
        "n_beats": args.beats,
        "source": str(path),
    }
    if args.weight:
        if args.split_share:
            raise ParameterError(
                "--split-share: needs the household model (no --weight); a weight column "
                "cannot be shared among sub-units"
            )
        build["weight_column"] = args.weight
    else:
        progress.step("workload of the units from the household model")
        bundled_weights(units, str(path), source_of(args))  # checks the ids
        units = refined_units(units, args, params.split_unit_share)
        build["weight_column"] = "workload_h"
    problem = BeatProblem.from_geodataframe(units, koban=koban, **build)
    # Said before the search: beats that cannot hold or touch their koban's unit.
    for issue in check_koban_rule(problem):
        kind = "交番条件 koban rule" if issue.blocking else "注意 note"
        print(f"{kind}: {issue}", file=sys.stderr)
    progress.step(f"rebalancing {len(units):,} units (up to {params.time_limit_s:g} s)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(tolerances) > 1:
        results = [rebalance_beats(problem, params=params, tolerance=t) for t in tolerances]
        plans = []
        for t, result in zip(tolerances, results, strict=True):
            path_t = out.with_name(f"{out.stem}_{round(t * 100):d}pct{out.suffix}")
            result.units_frame(problem).to_file(path_t, driver="GeoJSON")
            plans.append({**sweep_rows([result])[0], "out": str(path_t)})
        print(sweep_table(results), file=sys.stderr)
        json.dump({"sweep": plans}, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 0
    result = rebalance_beats(problem, params=params)
    frame = result.units_frame(problem)
    frame.to_file(out, driver="GeoJSON")
    for line in summary_lines(result):
        print(line, file=sys.stderr)
    report = {**result.to_dict(geometry=False), "out": str(out)}
    report.pop("assignment")
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0
