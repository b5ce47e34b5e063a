"""Derive the bundled Kanazawa (金沢市) sample data from real open data.

Run from the repository root::

    /work/venv/bin/python data/derive_kanazawa.py --shared ../shared --out data/kanazawa

Inputs (the workplace's ``shared/data``): the 2015 census small areas
(町丁目) with households and representative points, the 2024 list of 交番
and 駐在所 (``police/koban_japan_2024-11-20.csv``; the 2014 OSM police
points only to keep the first bundle's box numbers), and the city outline
(国土数値情報). Everything else
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
import unicodedata
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
    POLICE_LIST,
    DerivationParams,
    assign_koban,
    beat_officers,
    beats_layer,
    derivation_main,
    grow_regions,
    households_of_units,
    read_census,
    read_police_list,
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

SCRIPT_VERSION = "2.0"  # 2.0: boxes from the 2024 police list
REPO = Path(__file__).resolve().parents[1]
STATIONS = ("金沢中", "金沢東", "金沢西")
PREFECTURE = "石川県"
KANAZAWA_CODE = 17201  # 全国地方公共団体コード of 金沢市 without its check digit
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


def load_koban_osm2014(
    shared: Path, outline: shapely.Polygon, p: DerivationParams
) -> gpd.GeoDataFrame:
    """The 2014 OSM police boxes of Kanazawa, deduplicated, numbered as the first bundle did.

    Only their ids and positions are used (``load_koban`` gives each 2024 box
    the number of the 2014 box it replaces), so that ``K01`` … keep meaning
    the same place as in the bundles derived before the 2024 list.
    """
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


def load_koban(shared: Path, outline: shapely.Polygon, old: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 42 交番 and 駐在所 of 金沢中 / 金沢東 / 金沢西 from the 2024 list, numbered K01..K42.

    Names, kinds, stations, positions and the list's stable id (``list_id``)
    come from the list. The numbers are those of the 2014 boxes they replace
    (``load_koban_osm2014``), so the bundle's public ids keep meaning the same
    place: within each station, a 2024 box whose name is a 2014 box's (after
    NFKC and ケ = ヶ) takes its number, the others are paired with the
    remaining 2014 boxes of the station by the assignment of least total
    distance (Hungarian method, ``scipy.optimize.linear_sum_assignment``).
    """
    from scipy.optimize import linear_sum_assignment

    path = shared / POLICE_LIST
    kb = read_police_list(shared, PREFECTURE, STATIONS)
    if (kb["muni"] != KANAZAWA_CODE).any():
        raise ValueError(f"{path}: a box of {STATIONS} outside 金沢市: {kb['name'].tolist()}")
    inside = shapely.contains_xy(outline, kb["x"].to_numpy(), kb["y"].to_numpy())
    if not inside.all():
        raise ValueError(f"{path}: boxes outside the city outline: {kb['name'][~inside].tolist()}")
    if (
        len(old) != len(kb)
        or (
            old["station"].value_counts().sort_index() != kb["station"].value_counts().sort_index()
        ).any()
    ):
        raise ValueError("the 2024 list and the 2014 boxes differ in boxes per station")

    def norm(name: str) -> str:
        return unicodedata.normalize("NFKC", name).replace("ケ", "ヶ")

    dist = np.hypot(
        kb["x"].to_numpy()[:, None] - old["x"].to_numpy()[None, :],
        kb["y"].to_numpy()[:, None] - old["y"].to_numpy()[None, :],
    )
    same_name = np.equal.outer(kb["name"].map(norm).to_numpy(), old["name"].map(norm).to_numpy())
    other_station = np.not_equal.outer(
        kb["station"].to_numpy(dtype=object), old["station"].to_numpy(dtype=object)
    )
    cost = np.where(same_name, -1e9, dist) + np.where(other_station, 1e12, 0.0)
    rows, cols = linear_sum_assignment(cost)
    if other_station[rows, cols].any():
        raise ValueError("a 2024 box was paired with a 2014 box of another station")
    kb.loc[rows, "koban_id"] = old["koban_id"].to_numpy()[cols]
    kb.loc[rows, "old_name"] = old["name"].to_numpy()[cols]
    kb.loc[rows, "moved_m"] = dist[rows, cols].round(0)
    kb = kb.sort_values("koban_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(
        kb[
            [
                "koban_id",
                "name",
                "kind",
                "station",
                "list_id",
                "ilvl",
                "old_name",
                "moved_m",
                "x",
                "y",
            ]
        ],
        geometry=gpd.points_from_xy(kb["x"], kb["y"]),
        crs=CRS_METRIC,
    )


def carry_beats(
    units: pd.DataFrame,
    koban: gpd.GeoDataFrame,
    koban_of: np.ndarray,
    old_koban: gpd.GeoDataFrame,
    old_koban_of: np.ndarray,
    old_beat_of: np.ndarray,
    adj,
    rng: np.random.Generator,
    p: DerivationParams,
) -> tuple[np.ndarray, dict[str, str]]:
    """Beat ids of the 2024 boxes' areas, keeping the 2014 beats where they still fit.

    For each box, with n its number of beats by the rule of
    :func:`split_beats` (a 駐在所 one, a 交番 ceil(households / 2,500)):

    - *kept*: its area (set of census units) and kind are those of the 2014
      box with its number: that box's beats, unchanged;
    - *carried*: the 2014 box with its number had n beats and each still has
      a populated unit in the area: the units the 2014 beats keep stay in
      them, every other unit joins the nearest of them over the area's
      adjacency graph; taken when every beat is contiguous and the largest
      has at most ``beat_max_ratio`` times the homes of the smallest;
    - *split*: otherwise the area is split afresh by :func:`split_beats`
      (with ``rng``), and beat j gets the number whose 2014 beat shares the
      most homes with it (assignment of greatest total overlap; numbers stay
      1..n).

    Returns the beat id of every unit and, per box, how it was derived.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b, w = adj
    hh = units["SETAI"].to_numpy()
    old_index = {k: i for i, k in enumerate(old_koban["koban_id"])}
    fresh_of = koban_of.copy()
    beat_of = np.empty(len(units), dtype=object)
    how: dict[str, str] = {}
    for k, (kid, kind) in enumerate(zip(koban["koban_id"], koban["kind"], strict=True)):
        members = np.nonzero(koban_of == k)[0]
        if len(members) == 0:
            raise ValueError(f"{kid}: the box gets no census area")
        o = old_index[kid]
        if np.array_equal(koban_of == k, old_koban_of == o) and kind == old_koban["kind"].iloc[o]:
            beat_of[members] = old_beat_of[members]
            fresh_of[members] = -1
            how[str(kid)] = "kept"
            continue
        populated = int((hh[members] > 0).sum())
        n = (
            1
            if kind == "chuzaisho"
            else max(1, math.ceil(hh[members].sum() / p.households_per_beat))
        )
        n = max(1, min(n, populated))
        n_old = len(set(old_beat_of[old_koban_of == o]))
        stay = [
            members[(old_beat_of[members] == f"{kid}-{j + 1}") & (hh[members] > 0)]
            for j in range(n)
        ]
        if n != n_old or any(len(s_) == 0 for s_ in stay):
            continue
        local = np.full(len(units), -1)
        local[members] = np.arange(len(members))
        m = (local[a] >= 0) & (local[b] >= 0)
        la, lb, lw = local[a[m]], local[b[m]], w[m]
        seeds = [int(local[u]) for s_ in stay for u in s_]
        label_of_seed = np.array([j for j, s_ in enumerate(stay) for _ in s_])
        got = grow_regions(len(members), la, lb, lw, seeds, [0.0] * len(seeds))
        if (got < 0).any():
            continue
        lab = label_of_seed[got]
        sums = np.bincount(lab, weights=hh[members], minlength=n)
        contiguous = True
        for j in range(n):
            inside = lab == j
            keep = inside[la] & inside[lb]
            g = coo_matrix(
                (np.ones(int(keep.sum())), (la[keep], lb[keep])), shape=(len(members),) * 2
            )
            _, comp = connected_components(g, directed=False)
            contiguous &= len(set(comp[inside].tolist())) == 1
        if contiguous and sums.max() / max(sums.min(), 1.0) <= p.beat_max_ratio:
            beat_of[members] = [f"{kid}-{j + 1}" for j in lab]
            fresh_of[members] = -1
            how[str(kid)] = "carried"
    fresh = split_beats(units, koban, fresh_of, adj, rng, p)
    for k, kid in enumerate(koban["koban_id"]):
        members = np.nonzero(fresh_of == k)[0]
        if len(members) == 0:
            continue
        how[str(kid)] = "split"
        labels = sorted(set(fresh[members]), key=lambda b: int(b.rsplit("-", 1)[1]))
        n = len(labels)
        overlap = np.zeros((n, n))
        for i, lab in enumerate(labels):
            here = members[fresh[members] == lab]
            for j in range(n):
                overlap[i, j] = hh[here[old_beat_of[here] == f"{kid}-{j + 1}"]].sum()
        rows, cols = linear_sum_assignment(-overlap)
        number = dict(zip(rows.tolist(), cols.tolist(), strict=True))
        for i, lab in enumerate(labels):
            beat_of[members[fresh[members] == lab]] = f"{kid}-{number[i] + 1}"
    return beat_of, how


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
    old_koban = load_koban_osm2014(shared, outline, p)
    koban = load_koban(shared, outline, old_koban)
    log(f"read {len(units)} census areas, {len(koban)} koban")
    polys = tessellate_units(units["x"].to_numpy(), units["y"].to_numpy(), outline)
    adj = unit_adjacency(polys)
    log(f"tessellated: {len(adj[0])} adjacent pairs")
    # The 2014 boxes' areas and beats, exactly as the bundles before the 2024
    # list derived them (same seed, same draws): the reference the new beats
    # are numbered after. They take the first draws of ``rng``, as they did,
    # so buildings, households and visits below come out as before.
    old_koban_of = assign_koban(units, polys, old_koban, adj, p)
    old_beat_of = split_beats(units, old_koban, old_koban_of, adj, rng, p)
    koban_of = assign_koban(units, polys, koban, adj, p)
    beat_rng = np.random.default_rng([seed, 2024])  # the fresh splits of changed areas
    beat_of, how = carry_beats(
        units, koban, koban_of, old_koban, old_koban_of, old_beat_of, adj, beat_rng, p
    )
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
        "koban_source": {
            "list": POLICE_LIST,
            "boxes": len(koban),
            "koban": int((koban["kind"] == "koban").sum()),
            "chuzaisho": int((koban["kind"] == "chuzaisho").sum()),
            "stations": {st: int((koban["station"] == st).sum()) for st in STATIONS},
            "unlocated": 0,  # read_police_list raises on a row without a position
            "ilvl": {str(k): int(v) for k, v in koban["ilvl"].value_counts().sort_index().items()},
            "beats_from_2014": {
                h: sorted(k for k, v in how.items() if v == h) for h in ("kept", "carried", "split")
            },
            "numbered_as_2014": [
                {"koban_id": k, "name": n, "was": o, "moved_m": int(m)}
                for k, n, o, m in zip(
                    koban["koban_id"],
                    koban["name"],
                    koban["old_name"],
                    koban["moved_m"],
                    strict=True,
                )
            ],
        },
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
