"""``junkai-geo matrix``: travel-time and distance matrix for a set of points.

Examples::

    junkai-geo matrix data/osm/Helsinki.osm.pbf --mode walk --points pts.csv --out m.npz
    junkai-geo matrix --fallback --mode walk --points pts.geojson --out m.npz

The points file is a CSV with columns ``id,lon,lat`` (UTF-8 or cp932) or a
GeoJSON FeatureCollection of Points (id from the feature ``id`` or its
``id`` property). The ``.npz`` holds ``durations_s`` and ``distances_m``
(integers, rows and columns in input order), ``ids``, ``snap_m`` (metres to
the network, NaN for the fallback), ``source`` (``network`` or
``straight_line``), ``mode`` and ``meta_json`` (flags and notes).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ParameterError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "network_file",
        nargs="?",
        default=None,
        metavar="NETWORK_FILE",
        help="OpenStreetMap extract (.osm.pbf or .osm); omit or '-' with --fallback",
    )
    parser.add_argument("--mode", choices=["walk", "bicycle", "car"], default="walk")
    parser.add_argument(
        "--points", required=True, type=Path, help="CSV (id,lon,lat) or GeoJSON of points"
    )
    parser.add_argument("--out", required=True, type=Path, help="output .npz file")
    parser.add_argument(
        "--fallback",
        action="store_true",
        help="straight line x detour factor, without a street network",
    )
    parser.add_argument(
        "--params", type=Path, default=None, help="TOML file with a [travel] table of TravelParams"
    )
    parser.add_argument(
        "--max-snap-m", type=float, default=None, help="farther points are flagged (default 300)"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="matrix cache (default .junkai_cache)"
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def run(args: argparse.Namespace) -> int:
    from ..settings import load_params
    from ..travel import (
        UNREACHABLE_S,
        TravelParams,
        network_matrix,
        save_matrix_npz,
        travel_matrix,
    )

    overrides: dict[str, Any] = {}
    if args.max_snap_m is not None:
        overrides["max_snap_m"] = args.max_snap_m
    params = load_params(TravelParams, args.params, table="travel", **overrides)
    ids, lonlat = read_points(args.points)
    network_file = None if args.network_file in (None, "-") else Path(args.network_file)
    if args.fallback:
        if network_file is not None:
            print(f"note: --fallback given, {network_file} is not read")
        matrix = travel_matrix(lonlat, mode=args.mode, ids=ids, params=params)
    else:
        if network_file is None:
            raise ParameterError(
                "NETWORK_FILE: missing; expected an .osm.pbf / .osm file, or --fallback "
                "for straight-line travel times"
            )
        from ..network import read_network

        net = read_network(network_file, args.mode, params=params)
        matrix = network_matrix(
            net, lonlat, ids=ids, cache=not args.no_cache, cache_dir=args.cache_dir
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_matrix_npz(matrix, args.out)
    reach = matrix.durations_s[matrix.durations_s < UNREACHABLE_S]
    print(
        f"{matrix.n} points, {matrix.mode}, source={matrix.source}: "
        f"max {int(reach.max()) if reach.size else 0} s; written to {args.out}"
    )
    for note in matrix.notes:
        print(f"note: {note}")
    for flag in matrix.flagged[:20]:
        print(f"flagged {flag.get('id')}: {flag['code']}: {flag['message']}")
    if len(matrix.flagged) > 20:
        print(f"... and {len(matrix.flagged) - 20} more flagged")
    return 0


def read_points(path: Path) -> tuple[list[str], np.ndarray]:
    """Ids and ``(n, 2)`` lon/lat from a CSV (``id,lon,lat``) or GeoJSON file.

    Raises
    ------
    InputError
        Every bad row or feature, each naming the field and what was expected.
    """
    if not path.is_file():
        raise InputError(Problem(str(path), None, None, "no such file", "a CSV or GeoJSON file"))
    raw = path.read_bytes()
    if path.suffix.lower() in (".geojson", ".json"):
        return _read_geojson(path, raw)
    return _read_csv(path, raw)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp932")


def _read_csv(path: Path, raw: bytes) -> tuple[list[str], np.ndarray]:
    name = str(path)
    try:
        text = _decode(raw)
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(name, None, None, f"undecodable bytes ({exc.reason})", "UTF-8 or cp932 text")
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = [c for c in ("id", "lon", "lat") if c not in fields]
    if missing:
        raise InputError(
            Problem(name, None, ",".join(missing), f"columns {fields}", "columns id, lon, lat")
        )
    problems: list[Problem] = []
    ids: list[str] = []
    coords: list[tuple[float, float]] = []
    for row_no, row in enumerate(reader, start=1):
        rec = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        _collect(name, row_no, rec.get("id", ""), rec.get("lon"), rec.get("lat"), ids, coords, problems)  # fmt: skip
    return _finish(name, ids, coords, problems)


def _read_geojson(path: Path, raw: bytes) -> tuple[list[str], np.ndarray]:
    name = str(path)
    try:
        data = json.loads(_decode(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Problem(name, None, None, f"invalid JSON ({exc})", "GeoJSON")) from exc
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list):
        raise InputError(
            Problem(name, None, "features", "no features list", "a GeoJSON FeatureCollection")
        )
    problems: list[Problem] = []
    ids: list[str] = []
    coords: list[tuple[float, float]] = []
    for k, feat in enumerate(feats):
        props = feat.get("properties") or {} if isinstance(feat, dict) else {}
        fid = feat.get("id") if isinstance(feat, dict) else None
        if fid is None:
            fid = props.get("id", k)
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        if not isinstance(geom, dict) or geom.get("type") != "Point":
            found = geom.get("type") if isinstance(geom, dict) else repr(geom)
            problems.append(Problem(name, k, "geometry", f"{found}", "a Point"))
            continue
        xy = geom.get("coordinates") or [None, None]
        _collect(name, k, str(fid), xy[0] if len(xy) > 0 else None, xy[1] if len(xy) > 1 else None, ids, coords, problems)  # fmt: skip
    return _finish(name, ids, coords, problems)


def _collect(
    name: str,
    row: int,
    pid: str,
    lon: Any,
    lat: Any,
    ids: list[str],
    coords: list[tuple[float, float]],
    problems: list[Problem],
) -> None:
    ok = True
    if pid == "":
        problems.append(Problem(name, row, "id", "an empty id", "a non-empty id"))
        ok = False
    values: list[float] = []
    for field, value, lo, hi in (("lon", lon, -180, 180), ("lat", lat, -90, 90)):
        try:
            f = float(value)
        except (TypeError, ValueError):
            problems.append(Problem(name, row, field, repr(value), "a number in degrees"))
            ok = False
            continue
        if not math.isfinite(f) or not lo <= f <= hi:
            problems.append(Problem(name, row, field, repr(value), f"degrees in [{lo}, {hi}]"))
            ok = False
        values.append(f)
    if ok:
        ids.append(pid)
        coords.append((values[0], values[1]))


def _finish(
    name: str, ids: list[str], coords: list[tuple[float, float]], problems: list[Problem]
) -> tuple[list[str], np.ndarray]:
    seen: set[str] = set()
    for pid in ids:
        if pid in seen:
            problems.append(Problem(name, pid, "id", f"duplicate id {pid!r}", "unique ids", "duplicate"))  # fmt: skip
        seen.add(pid)
    if not ids and not problems:
        problems.append(Problem(name, None, None, "no points", "at least one point"))
    if problems:
        raise InputError(problems)
    return ids, np.asarray(coords, dtype=float).reshape(-1, 2)
