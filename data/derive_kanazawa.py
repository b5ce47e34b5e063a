"""Derive the bundled Kanazawa (金沢市) sample data from real open data.

Run from the repository root::

    /work/venv/bin/python data/derive_kanazawa.py --shared ../shared --out data/kanazawa

Inputs (the workplace's ``shared/data/kanazawa``): the 2015 census small
areas (町丁目) with households and representative points, the OSM police
points of Ishikawa, and the city outline (国土数値情報). Everything else
(unit polygons, beats, buildings, household points, visit histories) is
derived here, step by step, from those inputs and a seeded random generator;
``data/README.md`` documents every step and rate. The same seed gives
byte-identical files.

The work is done in the metric CRS EPSG:6675 (JGD2011 / Japan Plane
Rectangular CS VII); spatial layers are stored in JGD2011 geographic
(EPSG:6668, longitude / latitude).
"""

from __future__ import annotations

import math
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))  # derive_common, also when imported

from derive_common import (  # noqa: E402
    AS_OF,
    CRS_METRIC,
    CRS_STORED,
    DEFAULT_SEED,
    HISTORY_START,
    DerivationParams,
    assign_koban,
    beat_officers,
    beats_layer,
    derivation_main,
    households_of_units,
    read_census,
    separate_points,  # noqa: F401  (tests call it from here)
    simulate_visits,
    specialist_officers,
    split_beats,
    summarise,
    tessellate_units,
    unit_adjacency,
    units_layer,
    visits_table,
    write_layers,
    write_meta,
)

SCRIPT_VERSION = "1.0"
REPO = Path(__file__).resolve().parents[1]
STATIONS = ("金沢中", "金沢東", "金沢西")
_STATION_PREFIX = re.compile(r"^(金沢[中東西])警察署(.+)$")

# --------------------------------------------------------------------------
# Inputs


def load_census(shared: Path) -> pd.DataFrame:
    """The 914 町丁目 of Kanazawa, one row each, with a unique ``unit_id``.

    32 KEY_CODEs come twice (a 町 in two separate parts); the larger part keeps
    the KEY_CODE, the smaller gets ``KEY_CODE-2``.
    """
    return read_census(shared, "金沢市")


def load_outline(shared: Path) -> shapely.Polygon:
    """The city outline in EPSG:6675, without its bogus second ring.

    The source stores a thin strip (0.03 km2) as a hole that lies outside the
    shell; it is not part of the city's territory, so only the shell is kept.
    """
    path = shared / "data/kanazawa/kanazawa_city_outline_n03.geojson"
    gdf = gpd.read_file(path)
    geom = gdf.geometry.iloc[0]
    polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    shell = shapely.Polygon(polys[0].exterior)
    for ring in polys[0].interiors:
        if shapely.Polygon(ring).within(shell):
            raise ValueError(f"{path}: a genuine hole inside the outline; this script expects none")
    return gpd.GeoSeries([shell], crs=gdf.crs).to_crs(CRS_METRIC).iloc[0]


def load_koban(shared: Path, outline: shapely.Polygon, p: DerivationParams) -> gpd.GeoDataFrame:
    """Koban and 駐在所 of Kanazawa from the OSM police points, deduplicated."""
    path = shared / "data/kanazawa/police_boxes_ishikawa_osm2014.geojson"
    raw = gpd.read_file(path)
    raw = raw[raw["nearest_municipality_h27"] == "金沢市"].to_crs(CRS_METRIC).reset_index(drop=True)
    stations: dict[str, tuple[float, float]] = {}
    rows = []
    for name, pt in zip(raw["name"], raw.geometry, strict=True):
        m = _STATION_PREFIX.match(name)
        if name.endswith("本部"):
            continue
        if name.endswith("警察署"):
            stations[name.removesuffix("警察署")] = (pt.x, pt.y)
            continue
        rows.append(
            {
                "raw": name,
                "name": m.group(2) if m else name,
                "station": m.group(1) if m else "",
                "x": pt.x,
                "y": pt.y,
            }
        )
    boxes = pd.DataFrame(rows)
    # Group duplicates: within koban_dedup_m or same name (union-find)
    n = len(boxes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    xy = boxes[["x", "y"]].to_numpy()
    for i in range(n):
        for j in range(i + 1, n):
            close = math.dist(xy[i], xy[j]) < p.koban_dedup_m
            if close or boxes["name"][i] == boxes["name"][j]:
                parent[find(i)] = find(j)
    keep = []
    for root in sorted({find(i) for i in range(n)}):
        members = [i for i in range(n) if find(i) == root]
        # Prefer the record that names its station, then a Japanese name
        best = min(
            members,
            key=lambda i: (
                boxes["station"][i] == "",
                not boxes["name"][i].endswith(("交番", "駐在所")),
                boxes["raw"][i],
            ),
        )
        keep.append(best)
    kb = boxes.loc[sorted(keep)].reset_index(drop=True)
    kb = kb[kb["name"].str.endswith(("交番", "駐在所"))].reset_index(drop=True)
    kb["kind"] = np.where(kb["name"].str.endswith("交番"), "koban", "chuzaisho")
    # A box without a station prefix takes the station of the nearest prefixed box
    named = kb[kb["station"] != ""]
    nx, ny = named["x"].to_numpy(), named["y"].to_numpy()
    kx, ky = kb["x"].to_numpy(), kb["y"].to_numpy()
    station = kb["station"].to_numpy(dtype=object)
    for r in np.nonzero(station == "")[0]:
        d = np.hypot(nx - kx[r], ny - ky[r])
        station[r] = named["station"].iloc[int(np.argmin(d))]
    kb["station"] = station
    inside = shapely.contains_xy(outline, kb["x"].to_numpy(), kb["y"].to_numpy())
    kb = kb[inside].copy()
    kb["st_order"] = kb["station"].map({s: i for i, s in enumerate(STATIONS)})
    kb = kb.sort_values(["st_order", "name"], kind="stable").reset_index(drop=True)
    kb["koban_id"] = [f"K{i + 1:02d}" for i in range(len(kb))]
    geom = gpd.points_from_xy(kb["x"], kb["y"])
    return gpd.GeoDataFrame(
        kb[["koban_id", "name", "kind", "station", "x", "y"]], geometry=geom, crs=CRS_METRIC
    )


def derive(shared: Path, out: Path, seed: int = DEFAULT_SEED, *, verbose: bool = True) -> dict:
    """Run every step and write the layers to ``out``; returns meta.json's content."""
    t0 = time.perf_counter()
    p = DerivationParams()
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        if verbose:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)

    units = load_census(shared)
    outline = load_outline(shared)
    koban = load_koban(shared, outline, p)
    log(f"read {len(units)} census areas, {len(koban)} koban")
    polys = tessellate_units(units["x"].to_numpy(), units["y"].to_numpy(), outline)
    adj = unit_adjacency(polys)
    log(f"tessellated: {len(adj[0])} adjacent pairs")
    koban_of = assign_koban(units, polys, koban, adj, p)
    beat_of = split_beats(units, koban, koban_of, adj, rng, p)
    units["beat_id"] = beat_of
    units["koban_id"] = koban["koban_id"].to_numpy()[koban_of]
    ugdf = units_layer(units, polys)
    bgdf = beats_layer(ugdf, koban)
    log(f"{len(bgdf)} beats")

    bdf, hdf, reg = households_of_units(units, polys, rng, p)
    log(f"{len(bdf)} buildings, {len(hdf)} households")

    vh, vd, vm, vo, pattern = simulate_visits(hdf, reg, rng, p)
    beat_of_h = hdf["beat_id"].to_numpy()
    visits = visits_table(
        hdf, vh, vd, vm, vo, lambda h, d: (pd.Series(beat_of_h[h]) + "-O").to_numpy()
    )
    log(f"{len(visits)} visits")

    def mode_of(households: int, area_km2: float) -> str:
        return "walk" if households / max(area_km2, 1e-9) >= 3000 else "bicycle"

    officers = beat_officers(bgdf, koban, mode_of)
    officers += specialist_officers(hdf, units, koban, STATIONS)
    odf = pd.DataFrame(officers).sort_values("officer_id", kind="stable").reset_index(drop=True)

    counts = write_layers(
        out,
        units=units,
        ugdf=ugdf,
        bgdf=bgdf,
        koban=koban,
        odf=odf,
        bdf=bdf,
        hdf=hdf,
        reg=reg,
        visits=visits,
    )
    meta = {
        "as_of": AS_OF.isoformat(),
        "history_start": HISTORY_START.isoformat(),
        "seed": seed,
        "crs_stored": CRS_STORED,
        "crs_metric": CRS_METRIC,
        "script": "data/derive_kanazawa.py",
        "script_version": SCRIPT_VERSION,
        "counts": counts,
        "rates": summarise(hdf, reg, visits, pattern, bdf),
        "params": {k: v for k, v in asdict(p).items()},
    }
    write_meta(out, meta)
    log("written")
    return meta


def main(argv: list[str] | None = None) -> int:
    return derivation_main(
        derive,
        description=__doc__.splitlines()[0],
        default_out=REPO / "data" / "kanazawa",
        argv=argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
