"""Derive the bundled Ishikawa (石川県) prefecture data from real open data.

Run from the repository root::

    python data/derive_ishikawa.py --shared ../shared --out data/ishikawa

Inputs (the workplace's ``shared/data``): the 2015 census small areas
(町丁目) of the whole prefecture with households and representative points,
the representative points of every 町字 (Geolonia japanese-addresses), the
2024 list of 交番 and 駐在所 with their police stations, and the Kanazawa
city outline (国土数値情報). The shared data has no outlines of the other
municipalities nor of the census areas: the prefecture's land is derived
from the points (see ``load_outline``) and the areas are Voronoi cells of the
census points within it. Everything finer is derived with the same steps as
the Kanazawa sample (``derive_common.py``), then officers' histories are
made to differ (officers behind their peers, a newly assigned officer, a
beat left unvisited for months). ``data/README.md`` documents every step.
The same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import date
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
    read_police_list,
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
PREFECTURE = "石川県"
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class PrefectureParams:
    """What the prefecture adds to :class:`DerivationParams` (documented in data/README.md)."""

    # Land outline from the census and 町字 points
    land_radius_m: float = 1500.0  # each point's disk
    land_closing_m: float = 1000.0  # closes gaps narrower than twice this
    land_simplify_m: float = 20.0
    # Travel mode of a beat by its household density (hh/km2)
    walk_from_density: float = 3000.0
    car_below_density: float = 150.0  # rural 駐在所 beats: long distances
    # Officers' histories
    behind_share: float = 0.06  # of beat officers: visits thinned in the recent months
    behind_keep: float = 0.3  # share of their recent visits kept
    recent_days: int = 183  # the recent months
    unvisited_days: int = 200  # one beat without any visit this long before as_of
    new_officer_on: str = "2026-10-01"  # one 交番 beat changes officer on this day


def load_census(shared: Path) -> pd.DataFrame:
    """Every 町丁目 of the prefecture (3,548 rows), with its municipality code ``muni``."""
    units = read_census(shared)
    units["muni"] = units["KEN"].astype(int) * 1000 + units["CITY"].astype(int)
    return units


def load_address_points(shared: Path) -> np.ndarray:
    """Representative points of every 町字 / 小字 (EPSG:6675), as an (n, 2) array.

    Records without coordinates (the source leaves a few empty) are skipped.
    """
    rows = []
    for path in sorted((shared / "data/kanazawa/addresses").glob("*.json")):
        for rec in json.loads(path.read_text(encoding="utf-8")):
            if rec.get("lng") is not None and rec.get("lat") is not None:
                rows.append((float(rec["lng"]), float(rec["lat"])))
    lon, lat = np.array(rows).T
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:6668").to_crs(CRS_METRIC)
    return np.c_[pts.x.to_numpy(), pts.y.to_numpy()]


def load_outline(shared: Path, units: pd.DataFrame, pp: PrefectureParams) -> shapely.Geometry:
    """The prefecture's land as far as the points tell (EPSG:6675).

    No outline of the prefecture is in the shared data. The land is taken as
    the union of disks (``land_radius_m``) around every census and 町字 point,
    closed (gaps narrower than ``2 * land_closing_m`` filled), without holes,
    plus the real outline of Kanazawa; it follows the coast within about a
    disk's radius and leaves out uninhabited mountains far from any 町字.
    """
    from derive_kanazawa import load_outline as kanazawa_outline

    xy = np.r_[units[["x", "y"]].to_numpy(), load_address_points(shared)]
    disks = shapely.buffer(shapely.points(xy), pp.land_radius_m, quad_segs=8)
    land = shapely.union_all(disks)
    land = land.buffer(pp.land_closing_m, quad_segs=8).buffer(-pp.land_closing_m, quad_segs=8)
    land = shapely.union(land, kanazawa_outline(shared))
    parts = [shapely.Polygon(g.exterior) for g in shapely.get_parts(land)]
    land = shapely.union_all(parts).simplify(pp.land_simplify_m)
    land = shapely.normalize(shapely.make_valid(land))
    if not land.is_valid:
        raise ValueError("the derived land outline is not valid")
    return land


def load_koban(shared: Path) -> gpd.GeoDataFrame:
    """The prefecture's 交番 and 駐在所 from the 2024 list, with station, municipality and list id."""
    kb = read_police_list(shared, PREFECTURE)
    kb = kb.sort_values(["st_order", "name"], kind="stable").reset_index(drop=True)
    kb["koban_id"] = [f"K{i + 1:03d}" for i in range(len(kb))]
    return gpd.GeoDataFrame(
        kb[["koban_id", "name", "kind", "station", "list_id", "muni", "x", "y"]],
        geometry=gpd.points_from_xy(kb["x"], kb["y"]),
        crs=CRS_METRIC,
    )


def assign_koban_by_municipality(units, polys, koban, adj, p: DerivationParams) -> np.ndarray:
    """Koban index of every unit: nearest koban of its own municipality over the graph.

    Jurisdictions follow municipal boundaries (each box's municipality is in
    the 2024 list), so the Kanazawa rule runs once per municipality on the
    units of that municipality and its boxes. Where the 駐在所 handicap would
    leave a box without any area (柴山駐在所 of 加賀市, whose unit is nearer
    to a 交番), the municipality is assigned without it.
    """
    a, b, w = adj
    lab = np.full(len(units), -1)
    muni = units["muni"].to_numpy()
    for m in sorted(set(muni)):
        members = np.nonzero(muni == m)[0]
        boxes = np.nonzero(koban["muni"].to_numpy() == m)[0]
        if len(boxes) == 0:
            raise ValueError(f"municipality {m}: no police box in the list")
        local = np.full(len(units), -1)
        local[members] = np.arange(len(members))
        keep = (local[a] >= 0) & (local[b] >= 0)
        sub_adj = (local[a[keep]], local[b[keep]], w[keep])
        sub_units = units.iloc[members].reset_index(drop=True)
        sub_koban = koban.iloc[boxes].reset_index(drop=True)
        got = assign_koban(sub_units, polys[members], sub_koban, sub_adj, p)
        if len(set(got.tolist())) < len(boxes):
            # The 駐在所 handicap left a box without any area: drop it here
            flat = replace(p, chuzaisho_handicap_m=0.0)
            got = assign_koban(sub_units, polys[members], sub_koban, sub_adj, flat)
        if len(set(got.tolist())) < len(boxes):
            raise ValueError(f"municipality {m}: a police box gets no census area")
        lab[members] = boxes[got]
    return lab


def vary_histories(vh, vd, vm, vo, hdf, odf, koban, rng, pp: PrefectureParams):
    """Make officers' recent histories differ as real stations' do.

    - ``behind_share`` of the beat officers keep only ``behind_keep`` of their
      visits of the last ``recent_days`` (chosen among beats with peers);
    - one 駐在所 beat has no visit in the last ``unvisited_days``;
    - one 交番 beat changed officer on ``new_officer_on``: the earlier
      visits carry the id of the former officer, who became the station's
      巡回連絡専従員 that day.

    Returns the kept visit arrays, the officer id of each kept visit, and
    what was done (for meta.json).
    """
    as_of = (AS_OF - EPOCH).days
    beat_of_h = hdf["beat_id"].to_numpy()
    beat_of_v = beat_of_h[vh]
    beats = odf[odf["role"] == "beat"]
    kind_of = koban.set_index("koban_id")["kind"]
    station_of = koban.set_index("koban_id")["station"]
    peers = beats.groupby("koban_id")["beat_id"].transform("size")
    koban_beats = beats[(kind_of[beats["koban_id"]].to_numpy() == "koban") & (peers >= 3)]
    chu_beats = beats[kind_of[beats["koban_id"]].to_numpy() == "chuzaisho"]
    n_behind = int(round(pp.behind_share * len(beats)))
    picks = rng.choice(len(koban_beats), n_behind + 1, replace=False)
    behind = sorted(koban_beats["beat_id"].iloc[picks[:n_behind]].tolist())
    new_beat = str(koban_beats["beat_id"].iloc[picks[n_behind]])
    unvisited = str(chu_beats["beat_id"].iloc[int(rng.integers(len(chu_beats)))])

    keep = np.ones(len(vh), dtype=bool)
    recent = vd >= as_of - pp.recent_days
    thin = np.isin(beat_of_v, behind) & recent
    keep[thin] = rng.random(int(thin.sum())) < pp.behind_keep
    keep[(beat_of_v == unvisited) & (vd >= as_of - pp.unvisited_days)] = False
    officer = (pd.Series(beat_of_v) + "-O").to_numpy(dtype=object)
    new_kid = str(beats.loc[beats["beat_id"] == new_beat, "koban_id"].iloc[0])
    spec = odf[
        (odf["role"] == "specialist")
        & (station_of[odf["koban_id"]].to_numpy() == station_of[new_kid])
    ]
    former = str(spec["officer_id"].iloc[0])
    switch = (date.fromisoformat(pp.new_officer_on) - EPOCH).days
    officer[(beat_of_v == new_beat) & (vd < switch)] = former
    done = {
        "behind": [f"{b}-O" for b in behind],
        "new_officer": {
            "officer_id": f"{new_beat}-O",
            "beat_id": new_beat,
            "since": pp.new_officer_on,
            "former_officer_id": former,
        },
        "unvisited_beat": {
            "beat_id": unvisited,
            "officer_id": f"{unvisited}-O",
            "no_visit_since": date.fromordinal(AS_OF.toordinal() - pp.unvisited_days).isoformat(),
        },
    }
    return vh[keep], vd[keep], vm[keep], vo[keep], officer[keep], done


def derive(shared: Path, out: Path, seed: int = DEFAULT_SEED, *, verbose: bool = True) -> dict:
    """Run every step and write the layers to ``out``; returns meta.json's content."""
    t0 = time.perf_counter()
    p = replace(DerivationParams(), danchi_areas=25)
    pp = PrefectureParams()
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        if verbose:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)

    units = load_census(shared)
    koban = load_koban(shared)
    outline = load_outline(shared, units, pp)
    log(f"read {len(units)} census areas, {len(koban)} koban; land {outline.area / 1e6:.0f} km2")
    polys = tessellate_units(units["x"].to_numpy(), units["y"].to_numpy(), outline)
    a, b, _ = unit_adjacency(polys)
    ux, uy = units["x"].to_numpy(), units["y"].to_numpy()
    adj = (a, b, np.hypot(ux[a] - ux[b], uy[a] - uy[b]))
    log(f"tessellated: {len(a)} adjacent pairs")
    koban_of = assign_koban_by_municipality(units, polys, koban, adj, p)
    beat_of = split_beats(units, koban, koban_of, adj, rng, p)
    units["beat_id"] = beat_of
    units["koban_id"] = koban["koban_id"].to_numpy()[koban_of]
    ugdf = units_layer(units, polys)
    bgdf = beats_layer(ugdf, koban)
    log(f"{len(bgdf)} beats")

    bdf, hdf, reg = households_of_units(units, polys, rng, p)
    log(f"{len(bdf)} buildings, {len(hdf)} households")

    def mode_of(households: int, area_km2: float) -> str:
        density = households / max(area_km2, 1e-9)
        if density >= pp.walk_from_density:
            return "walk"
        return "car" if density < pp.car_below_density else "bicycle"

    officers = beat_officers(bgdf, koban, mode_of)
    stations = list(dict.fromkeys(koban["station"]))
    officers += specialist_officers(hdf, units, koban, stations, any_box=True)
    odf = pd.DataFrame(officers).sort_values("officer_id", kind="stable").reset_index(drop=True)

    vh, vd, vm, vo, pattern = simulate_visits(hdf, reg, rng, p)
    vh, vd, vm, vo, officer_v, histories = vary_histories(vh, vd, vm, vo, hdf, odf, koban, rng, pp)
    order = pd.DataFrame({"h": vh, "d": vd, "m": vm}).sort_values(["d", "m", "h"], kind="stable")
    officer_sorted = officer_v[order.index.to_numpy()]
    visits = visits_table(hdf, vh, vd, vm, vo, lambda h, d: officer_sorted)
    log(f"{len(visits)} visits")

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
        "script": "data/derive_ishikawa.py",
        "script_version": SCRIPT_VERSION,
        "counts": counts,
        "stations": {
            st: {
                "koban": int(((koban["station"] == st) & (koban["kind"] == "koban")).sum()),
                "chuzaisho": int(((koban["station"] == st) & (koban["kind"] == "chuzaisho")).sum()),
            }
            for st in stations
        },
        "land_km2": round(outline.area / 1e6, 1),
        "officer_histories": histories,
        "rates": summarise(hdf, reg, visits, pattern, bdf),
        "params": asdict(p),
        "prefecture_params": asdict(pp),
    }
    write_meta(out, meta)
    log("written")
    return meta


def main(argv: list[str] | None = None) -> int:
    return derivation_main(
        derive,
        description=__doc__.splitlines()[0],
        default_out=REPO / "data" / "ishikawa",
        argv=argv,
    )


if __name__ == "__main__":
    raise SystemExit(main())
