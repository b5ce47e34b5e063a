"""Steps shared by the derivations of the bundled data (Kanazawa, Ishikawa).

``derive_kanazawa.py`` and ``derive_ishikawa.py`` read their own inputs and
call these steps: the Voronoi tessellation of the census points, koban
areas and beats grown over the unit adjacency graph, buildings and
households per census area, registration dates, visit histories, the
writers and the achieved rates. ``data/README.md`` documents every step.

The work is done in the metric CRS EPSG:6675 (JGD2011 / Japan Plane
Rectangular CS VII); spatial layers are stored in JGD2011 geographic
(EPSG:6668, longitude / latitude).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

# The checkout's junkai_geo (koban ids of the police list), also when run as a script
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AS_OF = date(2026, 11, 1)
HISTORY_START = date(2023, 11, 1)  # three years before AS_OF
DEFAULT_SEED = 20261101
CRS_METRIC = "EPSG:6675"
CRS_STORED = "EPSG:6668"
CRS_CENSUS = "EPSG:4612"  # JGD2000 geographic: the census X_CODE / Y_CODE


@dataclass(frozen=True)
class DerivationParams:
    """Every rate and size used by the derivation (documented in data/README.md)."""

    # Tessellation
    inner_margin_m: float = 2.0  # points keep this far from their unit's edge
    # Koban
    koban_dedup_m: float = 150.0
    # Beats
    households_per_beat: int = 2500  # a koban gets ceil(households / this) beats
    chuzaisho_handicap_m: float = 1500.0  # a 駐在所 claims a smaller area than a 交番
    beat_max_ratio: float = 5.0  # seeds are redrawn (<= 20 times) past this max/min
    # Buildings: share of homes in multi-unit buildings by density (hh/km2)
    multi_share_low: float = 0.15  # reached at apartment_from_density
    multi_share_mid: float = 0.70  # reached at highrise_from_density
    multi_share_max: float = 0.90  # reached at 2 x highrise_from_density
    apartment_from_density: float = 2000.0
    highrise_from_density: float = 5000.0
    highrise_share_of_multi: float = 0.40  # above highrise_from_density
    apartment_units_min: int = 6
    apartment_units_max: int = 40
    highrise_units_min: int = 50
    highrise_units_max: int = 150
    danchi_areas: int = 15  # densest areas (with >= danchi_min_homes) get a 団地
    danchi_min_homes: int = 300
    danchi_max_share: float = 0.5  # of the area's homes
    danchi_buildings_min: int = 4
    danchi_buildings_max: int = 10
    danchi_units_min: int = 30
    danchi_units_max: int = 80
    # Businesses and public facilities, extra to the census homes
    business_rate: float = 0.08  # of the homes count
    public_rate: float = 0.005
    business_ground_floor_share: float = 0.3  # on ground floors of multi-unit buildings
    # Registration (registered_on): share registered in the last 12 months and
    # mean tenure (years beyond the first) of the others, by building kind
    recent_share: tuple[tuple[str, float], ...] = (
        ("detached", 0.04),
        ("apartment", 0.22),
        ("highrise", 0.14),
        ("danchi", 0.10),
        ("office", 0.08),
        ("public", 0.01),
    )
    tenure_mean_years: tuple[tuple[str, float], ...] = (
        ("detached", 18.0),
        ("apartment", 4.0),
        ("highrise", 6.0),
        ("danchi", 10.0),
        ("office", 10.0),
        ("public", 25.0),
    )
    # Visits: hidden home pattern shares (day / mixed / away) by building kind
    pattern_shares: tuple[tuple[str, float, float, float], ...] = (
        ("detached", 0.50, 0.30, 0.20),
        ("apartment", 0.25, 0.35, 0.40),
        ("highrise", 0.20, 0.35, 0.45),
        ("danchi", 0.40, 0.30, 0.30),
    )
    # P(someone answers) on weekdays / weekends for each pattern
    p_home_day: tuple[float, float] = (0.80, 0.80)
    p_home_mixed: tuple[float, float] = (0.50, 0.60)
    p_home_away: tuple[float, float] = (0.08, 0.55)
    p_home_business: tuple[float, float] = (0.85, 0.30)
    # Auto-lock entrances and intercoms lower the reach in tall buildings
    reach_factor: tuple[tuple[str, float], ...] = (
        ("detached", 1.0),
        ("apartment", 1.0),
        ("highrise", 0.65),
        ("danchi", 0.5),
        ("office", 1.0),
        ("public", 1.0),
    )
    reluctant_share: float = 0.04  # households that often refuse
    p_refuse_reluctant: float = 0.5
    p_refuse_other: float = 0.01
    weekend_share: float = 0.12  # of first attempts
    weekend_share_after_absence: float = 0.50
    # Months from the start of the history (or registration) to the first
    # attempt: uniform in [0, cycle] for earlier residents, exponential with
    # this mean for those registered during the history
    cycle_months: tuple[tuple[str, float], ...] = (
        ("detached", 28.0),
        ("apartment", 32.0),
        ("highrise", 44.0),
        ("danchi", 40.0),
        ("office", 40.0),
        ("public", 40.0),
    )
    first_delay_months: tuple[tuple[str, float], ...] = (
        ("detached", 9.0),
        ("apartment", 14.0),
        ("highrise", 20.0),
        ("danchi", 18.0),
        ("office", 18.0),
        ("public", 18.0),
    )
    attempts_per_round: tuple[tuple[str, int], ...] = (
        ("detached", 2),
        ("apartment", 2),
        ("highrise", 2),
        ("danchi", 2),
        ("office", 1),
        ("public", 1),
    )
    retry_days: tuple[int, int] = (7, 60)  # after an absence, within a round
    revisit_months_after_met: tuple[float, float] = (20.0, 30.0)
    revisit_months_after_failed_round: tuple[float, float] = (12.0, 18.0)
    moved_out_share: float = 0.02  # of homes: last outcome moved_out
    vacant_share: float = 0.01  # of homes: last outcome vacant


# --------------------------------------------------------------------------
# Units: Voronoi cells of the census points, clipped to the outline


def separate_points(x: np.ndarray, y: np.ndarray, min_gap_m: float = 5.0) -> np.ndarray:
    """Copies of ``x, y`` where no two points are closer than ``min_gap_m``.

    Two census areas may share one representative point (or nearly); the
    later one (in row order) moves out along a fixed spiral, so that each
    keeps a Voronoi cell of its own. Returns the moved (x, y) as an array.
    """
    xy = np.c_[x, y].astype(float)
    for i in range(len(xy)):
        step = 0
        while True:
            d = np.hypot(xy[:i, 0] - xy[i, 0], xy[:i, 1] - xy[i, 1])
            if i == 0 or d.min() >= min_gap_m:
                break
            step += 1
            angle = step * 2.399963  # golden angle: a spiral that never repeats
            xy[i] = (
                x[i] + min_gap_m * math.sqrt(step) * math.cos(angle),
                y[i] + min_gap_m * math.sqrt(step) * math.sin(angle),
            )
    return xy


def tessellate_units(x: np.ndarray, y: np.ndarray, outline: shapely.Polygon) -> np.ndarray:
    """One polygon per point: its Voronoi cell within the outline.

    Clipping a cell to a concave outline can cut it in pieces; a piece that
    does not hold the point is given to the neighbour with which it shares
    the longest border, so that every unit is one connected area where the
    outline allows.
    """
    pts = np.asarray(shapely.points(x, y))
    if len(np.unique(np.c_[x, y], axis=0)) != len(x):
        raise ValueError("points coincide: separate them with separate_points() first")
    vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=outline.buffer(1000.0))
    cells = np.array(shapely.get_parts(vor))
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(pts, predicate="within")
    order = np.full(len(pts), -1)
    order[pi] = ci
    if (order < 0).any():
        raise ValueError("a census point has no Voronoi cell")
    clipped = shapely.intersection(cells[order], outline)
    pieces: list[list[shapely.Polygon]] = [list(shapely.get_parts(c)) for c in clipped]
    moves: list[tuple[int, shapely.Polygon]] = []
    for i, parts in enumerate(pieces):
        if len(parts) == 1:
            continue
        home = [q for q in parts if q.contains(pts[i])]
        stray = [q for q in parts if not q.contains(pts[i])]
        pieces[i] = home
        for q in stray:
            best, best_len = i, 0.0
            for j in tree.query(q, predicate="intersects"):
                j = int(np.nonzero(order == j)[0][0])
                if j == i:
                    continue
                shared = shapely.length(shapely.intersection(q.boundary, clipped[j].boundary))
                if shared > best_len:
                    best, best_len = j, shared
            moves.append((best, q))
    for j, q in moves:
        pieces[j].append(q)
    out = np.array([shapely.union_all(parts) if len(parts) > 1 else parts[0] for parts in pieces])
    out = shapely.normalize(out)
    if not all(shapely.is_valid(out)) or not shapely.coverage_is_valid(out):
        raise ValueError("the tessellation is not a valid coverage")
    return out


def unit_adjacency(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j), i < j, of units sharing a border, and the border length (m)."""
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="intersects")
    m = a < b
    a, b = a[m], b[m]
    length = shapely.length(
        shapely.intersection(shapely.boundary(polys[a]), shapely.boundary(polys[b]))
    )
    keep = length > 0.5
    return a[keep], b[keep], length[keep]


# --------------------------------------------------------------------------
# Koban areas and beats


def _graph(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> coo_matrix:
    return coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n)).tocsr()


def grow_regions(
    n: int,
    a: np.ndarray,
    b: np.ndarray,
    w: np.ndarray,
    seeds: list[int],
    offsets: list[float],
) -> np.ndarray:
    """Index of the seed nearest over the adjacency graph, for every node.

    Each region is connected: a node's shortest path from its seed runs
    through nodes of the same region. Unreachable nodes get -1.
    """
    k = len(seeds)
    src = np.arange(n, n + k)
    rows = np.r_[a, b, src]
    cols = np.r_[b, a, np.asarray(seeds)]
    vals = np.r_[w, w, np.asarray(offsets, dtype=float) + 1e-9]
    g = coo_matrix((vals, (rows, cols)), shape=(n + k, n + k)).tocsr()
    _, _, sources = dijkstra(g, directed=True, indices=src, min_only=True, return_predecessors=True)
    lab = sources[:n].astype(int) - n
    lab[sources[:n] < 0] = -1
    return lab


def assign_koban(
    units: pd.DataFrame, polys: np.ndarray, koban: gpd.GeoDataFrame, adj, p: DerivationParams
) -> np.ndarray:
    """Koban index of every unit: nearest koban over the unit adjacency graph.

    The graph's edges join units that share a border, weighted by the
    straight distance between their representative points; each koban starts
    from the unit holding it, a 駐在所 with a handicap (``chuzaisho_handicap_m``)
    since one resident officer serves a smaller community. Every koban's
    units are thus contiguous.
    """
    a, b, _ = adj
    ux, uy = units["x"].to_numpy(), units["y"].to_numpy()
    w = np.hypot(ux[a] - ux[b], uy[a] - uy[b])
    tree = shapely.STRtree(polys)
    seeds, offsets = [], []
    for kx, ky in zip(koban["x"], koban["y"], strict=True):
        hit = tree.query(shapely.Point(kx, ky), predicate="intersects")
        cand = sorted(int(h) for h in hit) or [int(np.argmin(np.hypot(ux - kx, uy - ky)))]
        s = next((c for c in cand if c not in seeds), None)
        if s is None:
            # Two boxes in one unit: the second starts from the nearest free neighbour
            nb = np.r_[b[a == cand[0]], a[b == cand[0]]]
            nb = [int(v) for v in nb if int(v) not in seeds]
            s = min(nb, key=lambda v: math.hypot(ux[v] - kx, uy[v] - ky))
        seeds.append(s)
        offsets.append(math.hypot(ux[s] - kx, uy[s] - ky))
    handicap = np.where(koban["kind"].to_numpy() == "chuzaisho", p.chuzaisho_handicap_m, 0.0)
    offsets = (np.asarray(offsets) + handicap).tolist()
    lab = grow_regions(len(units), a, b, w, seeds, offsets)
    # Units unreachable over the graph (islands) go to the nearest koban
    for i in np.nonzero(lab < 0)[0]:
        lab[i] = int(np.argmin(np.hypot(koban["x"] - ux[i], koban["y"] - uy[i])))
    return lab


def _beat_seeds(populated, ux, uy, hh, n_beats: int, rng, iterations: int = 2) -> list[int]:
    """Units to grow beats from: a short household-weighted k-means.

    k-means++ starts weighted by households, and only a couple of Lloyd steps
    follow, so the seeds sit among the homes but the beats stay uneven.
    """
    pts = np.c_[ux[populated], uy[populated]]
    w = hh[populated].astype(float)
    cent = [pts[rng.choice(len(pts), p=w / w.sum())]]
    while len(cent) < n_beats:
        d2 = np.min([((pts - c) ** 2).sum(axis=1) for c in cent], axis=0) * w
        cent.append(pts[rng.choice(len(pts), p=d2 / d2.sum())])
    c = np.array(cent)
    for _ in range(iterations):
        lab = np.argmin(((pts[:, None, :] - c[None, :, :]) ** 2).sum(axis=2), axis=1)
        for j in range(n_beats):
            if (lab == j).any():
                c[j] = np.average(pts[lab == j], axis=0, weights=w[lab == j])
    seeds: list[int] = []
    for j in range(n_beats):
        order = np.argsort(((pts - c[j]) ** 2).sum(axis=1), kind="stable")
        seeds.append(next(populated[int(o)] for o in order if populated[int(o)] not in seeds))
    return seeds


def split_beats(
    units: pd.DataFrame,
    koban: gpd.GeoDataFrame,
    koban_of: np.ndarray,
    adj,
    rng: np.random.Generator,
    p: DerivationParams,
) -> np.ndarray:
    """Beat id of every unit: each koban's area split into contiguous beats.

    A koban gets ceil(households / households_per_beat) beats (a 駐在所 one).
    Beat seeds come from a short household-weighted k-means, and each
    unit joins the nearest seed over the koban's own adjacency graph, so the
    beats are contiguous but keep uneven household counts, as real beats do.
    """
    a, b, _ = adj
    ux, uy = units["x"].to_numpy(), units["y"].to_numpy()
    hh = units["SETAI"].to_numpy()
    beat_of = np.empty(len(units), dtype=object)
    for k, row in koban.iterrows():
        members = np.nonzero(koban_of == k)[0]
        total = int(hh[members].sum())
        n_beats = (
            1 if row["kind"] == "chuzaisho" else max(1, math.ceil(total / p.households_per_beat))
        )
        populated = [int(i) for i in members if hh[i] > 0]
        n_beats = max(1, min(n_beats, len(populated)))
        if n_beats == 1:
            beat_of[members] = f"{row['koban_id']}-1"
            continue
        local = {int(g): i for i, g in enumerate(members)}
        m = np.array([int(x) in local and int(y) in local for x, y in zip(a, b, strict=True)], bool)
        la = np.array([local[int(v)] for v in a[m]], dtype=int)
        lb = np.array([local[int(v)] for v in b[m]], dtype=int)
        lw = np.hypot(ux[a[m]] - ux[b[m]], uy[a[m]] - uy[b[m]])
        best: tuple[float, np.ndarray] | None = None
        for _ in range(20):
            seeds = _beat_seeds(populated, ux, uy, hh, n_beats, rng)
            lab = grow_regions(len(members), la, lb, lw, [local[s] for s in seeds], [0.0] * n_beats)
            lab[lab < 0] = 0
            sums = np.bincount(lab, weights=hh[members], minlength=n_beats)
            ratio = sums.max() / max(sums.min(), 1.0)
            if best is None or ratio < best[0]:
                best = (ratio, lab)
            if ratio <= p.beat_max_ratio:
                break
        assert best is not None
        lab = best[1]
        for j, g in enumerate(members):
            beat_of[g] = f"{row['koban_id']}-{lab[j] + 1}"
    return beat_of


# --------------------------------------------------------------------------
# Buildings and households


def _per_kind(table: tuple[tuple[str, float], ...], kinds: np.ndarray) -> np.ndarray:
    """The value of a (kind, value) table for every element of ``kinds``."""
    return pd.Series(kinds).map(dict(table)).to_numpy(dtype=float)


def multi_share(d: float, p: DerivationParams) -> float:
    """Share of an area's homes in multi-unit buildings, by household density."""
    lo, hi = p.apartment_from_density, p.highrise_from_density
    if d < lo:
        return p.multi_share_low * d / lo
    if d < hi:
        return p.multi_share_low + (p.multi_share_mid - p.multi_share_low) * (d - lo) / (hi - lo)
    return min(
        p.multi_share_max,
        p.multi_share_mid + (p.multi_share_max - p.multi_share_mid) * (d - hi) / hi,
    )


def sample_in(poly, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in ``poly`` (rejection from its bounding box)."""
    if n == 0:
        return np.empty((0, 2))
    shapely.prepare(poly)
    x0, y0, x1, y1 = poly.bounds
    frac = max(poly.area / max((x1 - x0) * (y1 - y0), 1e-9), 0.01)
    out = []
    got = 0
    while got < n:
        m = int((n - got) / frac * 1.3) + 16
        xs = rng.uniform(x0, x1, m)
        ys = rng.uniform(y0, y1, m)
        ok = shapely.contains_xy(poly, xs, ys)
        pts = np.c_[xs[ok], ys[ok]]
        out.append(pts)
        got += len(pts)
    return np.concatenate(out)[:n]


def placement_region(cell, px: float, py: float, area_m2: float, p: DerivationParams):
    """Where an area's buildings go: its cell (kept off the edge) near its point.

    The census AREA gives the spread: a disk of radius sqrt(AREA / pi) around
    the representative point, intersected with the cell; when that leaves
    less than 30 % of the smaller of the two, the disk grows (x1.5, at most 5
    times) and finally the whole cell is used.
    """
    inner = cell.buffer(-p.inner_margin_m)
    for margin in (p.inner_margin_m / 4, p.inner_margin_m / 20):
        if inner.area > 1.0:
            break
        inner = cell.buffer(-margin)
    r = math.sqrt(max(area_m2, 100.0) / math.pi)
    for _ in range(6):
        region = inner.intersection(shapely.Point(px, py).buffer(r, 32))
        if region.area >= 0.3 * min(math.pi * r * r, inner.area):
            return region
        r *= 1.5
    return inner


@dataclass
class _Bldg:
    kind: str
    floors: int
    units: int  # homes planned; businesses added later
    complex_id: str = ""
    number: int = 0  # 号棟 in its complex


def plan_buildings(
    homes: int, d: float, danchi: tuple[int, list[int]] | None, rng, p
) -> list[_Bldg]:
    """The residential buildings of one area, holding exactly ``homes`` homes."""
    out: list[_Bldg] = []
    left = homes
    if danchi is not None:
        cid, sizes = danchi
        for k, u in enumerate(sizes):
            floors = max(4, math.ceil(u / rng.uniform(6, 10)))
            out.append(_Bldg("danchi", floors, u, f"C{cid:02d}", k + 1))
            left -= u
    multi = int(round(left * multi_share(d, p)))
    high = int(round(multi * p.highrise_share_of_multi)) if d >= p.highrise_from_density else 0
    while high >= p.highrise_units_min:
        u = int(rng.integers(p.highrise_units_min, p.highrise_units_max + 1))
        if high - u < p.highrise_units_min:
            u = high if high <= p.highrise_units_max else u
        u = min(u, high)
        floors = max(6, min(25, math.ceil(u / rng.uniform(4, 10))))
        out.append(_Bldg("highrise", floors, u))
        high -= u
        multi -= u
        left -= u
    apt = multi
    while apt >= p.apartment_units_min:
        u = int(rng.integers(p.apartment_units_min, p.apartment_units_max + 1))
        u = min(u, apt)
        floors = max(2, min(5, math.ceil(u / rng.uniform(3, 8))))
        out.append(_Bldg("apartment", floors, u))
        apt -= u
        left -= u
    out.extend(_Bldg("detached", 1 if rng.random() < 0.2 else 2, 1) for _ in range(left))
    return out


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to ``total``."""
    w = weights / weights.sum() * total
    base = np.floor(w).astype(int)
    rest = total - base.sum()
    order = np.lexsort((np.arange(len(w)), -(w - base)))
    base[order[:rest]] += 1
    return base


def build_households(units: pd.DataFrame, polys: np.ndarray, rng, p: DerivationParams):
    """Buildings and households (homes, businesses, public) of every unit."""
    hh = units["SETAI"].to_numpy()
    dens = units["setai_per_km2"].to_numpy()
    n_units = len(units)
    # 団地: the densest areas with enough homes
    cand = units[(units["SETAI"] >= p.danchi_min_homes)].sort_values(
        ["setai_per_km2", "unit_id"], ascending=[False, True]
    )
    danchi_of: dict[int, tuple[int, list[int]]] = {}
    for cid, i in enumerate(sorted(cand.index[: p.danchi_areas]), start=1):
        cap = int(hh[i] * p.danchi_max_share)
        nb = int(rng.integers(p.danchi_buildings_min, p.danchi_buildings_max + 1))
        sizes = [int(s) for s in rng.integers(p.danchi_units_min, p.danchi_units_max + 1, nb)]
        while sum(sizes) > cap and len(sizes) > p.danchi_buildings_min:
            sizes.pop()
        scale = min(1.0, cap / sum(sizes))
        sizes = [max(p.danchi_units_min, int(s * scale)) for s in sizes]
        if sum(sizes) <= cap:
            danchi_of[int(i)] = (cid, sizes)
    # Businesses and public facilities per unit
    nonres = (hh == 0) & (units["HCODE"].to_numpy() == 8101) & (units["AREA"].to_numpy() < 2e6)
    w_biz = hh * (0.5 + np.minimum(dens, 10000) / 4000) + 40.0 * nonres
    n_biz = largest_remainder(int(round(p.business_rate * hh.sum())), w_biz)
    n_pub = largest_remainder(int(round(p.public_rate * hh.sum())), hh.astype(float))

    b_rows: list[dict] = []
    h_rows: list[dict] = []
    for i in range(n_units):
        u = units.iloc[i]
        plan = plan_buildings(int(hh[i]), float(dens[i]), danchi_of.get(i), rng, p)
        multi_idx = [j for j, bl in enumerate(plan) if bl.kind in ("apartment", "highrise")]
        n_ground = min(int(rng.binomial(n_biz[i], p.business_ground_floor_share)), len(multi_idx))
        ground = sorted(rng.choice(multi_idx, n_ground, replace=False).tolist()) if n_ground else []
        n_office_biz = int(n_biz[i]) - n_ground
        offices: list[_Bldg] = []
        left = n_office_biz
        while left > 0:
            if dens[i] >= p.highrise_from_density:
                floors, cap = int(rng.integers(3, 11)), int(rng.integers(3, 21))
            elif dens[i] >= p.apartment_from_density:
                floors, cap = int(rng.integers(2, 6)), int(rng.integers(2, 11))
            else:
                floors, cap = int(rng.integers(1, 3)), int(rng.integers(1, 4))
            cap = min(cap, left)
            offices.append(_Bldg("office", floors, cap))
            left -= cap
        publics = [_Bldg("public", int(rng.integers(1, 5)), 1) for _ in range(int(n_pub[i]))]
        allb = plan + offices + publics
        if not allb:
            continue
        region = placement_region(polys[i], u["x"], u["y"], u["AREA"], p)
        xy = np.empty((len(allb), 2))
        free = [j for j, bl in enumerate(allb) if not bl.complex_id]
        xy[free] = sample_in(region, len(free), rng)
        # 団地 buildings stand together around the complex centre, >= 20 m apart
        comp = [j for j, bl in enumerate(allb) if bl.complex_id]
        if comp:
            centre = sample_in(region, 1, rng)[0]
            radius = 40.0 + 15.0 * len(comp)
            area = region.intersection(shapely.Point(*centre).buffer(radius, 32))
            placed: list[np.ndarray] = []
            for j in comp:
                for _ in range(200):
                    q = sample_in(area, 1, rng)[0]
                    if all(math.dist(q, r) >= 20.0 for r in placed):
                        break
                placed.append(q)
                xy[j] = q
        # Synthetic block-lot numbers: 60 m grid blocks, north to south, west to east
        gx = np.floor(xy[:, 0] / 60.0).astype(int)
        gy = np.floor(xy[:, 1] / 60.0).astype(int)
        keys = sorted(set(zip((-gy).tolist(), gx.tolist(), strict=True)))
        block_no = {k: n + 1 for n, k in enumerate(keys)}
        lots: dict[int, int] = {}
        name = u["MOJI"]
        base = re.sub(r"[０-９0-9]+丁目$", "", name)
        for j, bl in enumerate(allb):
            blk = block_no[(-int(gy[j]), int(gx[j]))]
            lots[blk] = lots.get(blk, 0) + 1
            addr = f"{name} {blk}-{lots[blk]}"
            bid = len(b_rows)
            homes = bl.units if bl.kind in ("detached", "apartment", "highrise", "danchi") else 0
            n_rec = 0
            if homes:
                per_floor = math.ceil(homes / bl.floors)
                for k in range(homes):
                    fl = k // per_floor + 1
                    room = fl * 100 + k % per_floor + 1
                    if bl.kind == "detached":
                        a = addr
                        fl = 1
                    elif bl.kind == "danchi":
                        a = f"{name} {base}団地 {bl.number}号棟 {room}"
                    else:
                        a = f"{addr} {room}号室"
                    h_rows.append(dict(b=bid, unit=i, kind="home", floor=fl, addr=a, bkind=bl.kind))
                n_rec += homes
            if bl.kind == "office":
                for k in range(bl.units):
                    fl = k % bl.floors + 1
                    a = f"{addr} {fl}F" if bl.floors > 1 else addr
                    if bl.units > bl.floors:
                        a = f"{a}-{k // bl.floors + 1}"
                    h_rows.append(
                        dict(b=bid, unit=i, kind="business", floor=fl, addr=a, bkind="office")
                    )
                n_rec += bl.units
            if bl.kind == "public":
                h_rows.append(
                    dict(b=bid, unit=i, kind="public", floor=1, addr=addr, bkind="public")
                )
                n_rec += 1
            if j in ground:
                h_rows.append(
                    dict(
                        b=bid,
                        unit=i,
                        kind="business",
                        floor=1,
                        addr=f"{addr} 1F店舗",
                        bkind="office",
                    )
                )
                n_rec += 1
            b_rows.append(
                dict(
                    kind=bl.kind,
                    floors=bl.floors,
                    units=n_rec,
                    complex_id=bl.complex_id,
                    unit=i,
                    x=xy[j, 0],
                    y=xy[j, 1],
                )
            )
    bdf = pd.DataFrame(b_rows)
    hdf = pd.DataFrame(h_rows)
    return bdf, hdf


def registration_dates(hdf: pd.DataFrame, rng, p: DerivationParams) -> np.ndarray:
    """``registered_on`` (days since epoch) of every household."""
    n = len(hdf)
    kind = hdf["bkind"].to_numpy()
    recent = _per_kind(p.recent_share, kind)
    tenure = _per_kind(p.tenure_mean_years, kind)
    as_of = (AS_OF - date(1970, 1, 1)).days
    is_recent = rng.random(n) < recent
    age_recent = rng.integers(1, 366, n)
    years = 1.0 + rng.exponential(1.0, n) * tenure
    age_old = np.minimum(years, 60.0) * 365.25
    age = np.where(is_recent, age_recent, np.maximum(366, age_old.astype(int)))
    return as_of - age


# --------------------------------------------------------------------------
# Visits


def simulate_visits(hdf: pd.DataFrame, reg_day: np.ndarray, rng, p: DerivationParams):
    """Visit history of every household over the three years before AS_OF.

    Each household has a hidden home pattern (at home on weekday daytimes /
    mixed / rarely home on weekday daytimes) that sets its chance of
    answering on weekdays and weekends; tall buildings lower the reach.
    Rounds of up to ``attempts_per_round`` attempts end at a contact or a
    refusal; after a contact the next round comes 20-30 months later, after
    a failed round 6-14 months later. Finally 2 % of homes get a last
    ``moved_out`` outcome and 1 % a last ``vacant``.
    """
    n = len(hdf)
    epoch = date(1970, 1, 1)
    d0 = (HISTORY_START - epoch).days
    d1 = (AS_OF - epoch).days - 1  # visits up to the day before AS_OF
    bkind = hdf["bkind"].to_numpy()
    hkind = hdf["kind"].to_numpy()
    month = 30.44

    # Hidden home pattern: 0 day, 1 mixed, 2 away, 3 business hours
    pattern = np.full(n, 3)
    u = rng.random(n)
    for kind, s_day, s_mixed, _ in p.pattern_shares:
        m = (bkind == kind) & (hkind == "home")
        pattern[m] = np.where(u[m] < s_day, 0, np.where(u[m] < s_day + s_mixed, 1, 2))
    p_wd = np.choose(
        pattern, [p.p_home_day[0], p.p_home_mixed[0], p.p_home_away[0], p.p_home_business[0]]
    )
    p_we = np.choose(
        pattern, [p.p_home_day[1], p.p_home_mixed[1], p.p_home_away[1], p.p_home_business[1]]
    )
    reach = _per_kind(p.reach_factor, bkind)
    p_wd, p_we = p_wd * reach, p_we * reach
    p_ref = np.where(rng.random(n) < p.reluctant_share, p.p_refuse_reluctant, p.p_refuse_other)
    cycle = _per_kind(p.cycle_months, bkind) * month
    delay = _per_kind(p.first_delay_months, bkind) * month
    max_att = _per_kind(p.attempts_per_round, bkind).astype(int)

    start = np.maximum(reg_day, d0)
    before = reg_day < d0
    first = np.where(
        before,
        start + rng.uniform(0, 1, n) * cycle,
        start + rng.exponential(1.0, n) * delay,
    )
    t = np.ceil(first).astype(int)
    att = np.zeros(n, dtype=int)  # attempts so far in this round
    absent_run = np.zeros(n, dtype=bool)
    rec_h, rec_d, rec_m, rec_o = [], [], [], []
    active = t <= d1
    while active.any():
        idx = np.nonzero(active)[0]
        day = t[idx].copy()
        # Weekend or weekday: move the day to the nearest day of the wanted kind
        share = np.where(absent_run[idx], p.weekend_share_after_absence, p.weekend_share)
        want_we = rng.random(len(idx)) < share
        dow = (day - 4) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        is_we = dow >= 5
        shift_to_we = np.where(dow < 5, 5 - dow, 0)
        shift_to_wd = np.where(dow == 5, 2, np.where(dow == 6, 1, 0))
        day = np.where(want_we & ~is_we, day + shift_to_we, day)
        day = np.where(~want_we & is_we, day + shift_to_wd, day)
        ok = (day <= d1) & (day >= start[idx])
        idx, day, want_we = idx[ok], day[ok], want_we[ok] | ((day[ok] - 4) % 7 >= 5)
        if len(idx) == 0:
            break
        lo = np.where(want_we, 10 * 60, 9 * 60)
        minute = lo + 5 * rng.integers(0, (17 * 60 - lo) // 5)
        # The 'away' pattern is a little likelier to answer late in the afternoon
        ph = np.where(want_we, p_we[idx], p_wd[idx])
        late = (minute >= 16 * 60) & (pattern[idx] == 2) & ~want_we
        ph = np.where(late, np.maximum(ph, 0.25 * reach[idx]), ph)
        home = rng.random(len(idx)) < ph
        refuse = home & (rng.random(len(idx)) < p_ref[idx])
        met = home & ~refuse
        outcome = np.where(met, "met", np.where(refuse, "refused", "absent"))
        rec_h.append(idx)
        rec_d.append(day)
        rec_m.append(minute)
        rec_o.append(outcome)
        att[idx] += 1
        round_over = met | refuse | (att[idx] >= max_att[idx])
        gap_retry = rng.integers(p.retry_days[0], p.retry_days[1] + 1, len(idx))
        gap_met = rng.uniform(*p.revisit_months_after_met, len(idx)) * month
        gap_fail = rng.uniform(*p.revisit_months_after_failed_round, len(idx)) * month
        nxt = np.where(
            ~round_over, day + gap_retry, np.where(met, day + gap_met, day + gap_fail).astype(int)
        )
        absent_run[idx] = ~round_over & ~met
        att[idx] = np.where(round_over, 0, att[idx])
        t[:] = d1 + 1
        t[idx] = nxt
        active = t <= d1
    vh = np.concatenate(rec_h)
    vd = np.concatenate(rec_d)
    vm = np.concatenate(rec_m)
    vo = np.concatenate(rec_o).astype(object)
    # Last outcomes moved_out / vacant, for homes registered > 6 months before
    last_day = np.full(n, -1)
    np.maximum.at(last_day, vh, vd)
    lo_day = np.maximum(np.maximum(last_day + 1, start), reg_day + 183)
    homes = np.nonzero((hkind == "home") & (lo_day < d1))[0]
    n_homes = int((hkind == "home").sum())
    weight = np.where(bkind[homes] == "detached", 1.0, 3.0)
    pick = rng.choice(
        homes,
        int(round((p.moved_out_share + p.vacant_share) * n_homes)),
        replace=False,
        p=weight / weight.sum(),
    )
    n_moved = int(round(p.moved_out_share * n_homes))
    extra_o = np.where(np.arange(len(pick)) < n_moved, "moved_out", "vacant").astype(object)
    extra_d = (lo_day[pick] + rng.uniform(0, 1, len(pick)) * (d1 - lo_day[pick])).astype(int)
    dow = (extra_d - 4) % 7
    extra_d = np.where(dow == 5, extra_d - 1, np.where(dow == 6, extra_d + 1, extra_d))
    extra_d = np.clip(extra_d, lo_day[pick], d1)
    extra_m = 9 * 60 + 5 * rng.integers(0, 96, len(pick))
    vh = np.r_[vh, pick]
    vd = np.r_[vd, extra_d]
    vm = np.r_[vm, extra_m]
    vo = np.r_[vo, extra_o]
    return vh, vd, vm, vo, pattern


# --------------------------------------------------------------------------
# Output


def _iso(days: np.ndarray) -> np.ndarray:
    """ISO dates 'YYYY-MM-DD' of day numbers since 1970-01-01."""
    return np.datetime_as_string(np.asarray(days, dtype="int64").astype("datetime64[D]"), unit="D")


def _hhmm(minutes: np.ndarray) -> np.ndarray:
    """'HH:MM' of minutes after midnight."""
    labels = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60)], dtype=object)
    return labels[minutes.astype(int)]


def _write_parquet(df: pd.DataFrame, path: Path, geo: bool) -> None:
    if geo:
        df.to_parquet(
            path, compression="zstd", index=False, row_group_size=1 << 20, schema_version="1.0.0"
        )
    else:
        table = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)


def summarise(hdf, reg, visits: pd.DataFrame, pattern, bdf) -> dict:
    """Achieved card rates (by the rules of junkai_geo.model.card_state)."""
    n = len(hdf)
    hid = pd.Index(hdf["household_id"])
    v = visits.assign(h=hid.get_indexer(visits["household_id"]))
    met_last = v[v["outcome"] == "met"].groupby("h")["visited_on"].max()
    last_out = v.sort_values(["visited_on", "time"]).groupby("h")["outcome"].last()
    has_met = np.zeros(n, bool)
    has_met[met_last.index.to_numpy()] = True
    stale_cut = date(AS_OF.year - 2, AS_OF.month, AS_OF.day).isoformat()
    stale = np.zeros(n, bool)
    stale[met_last.index.to_numpy()] = met_last.to_numpy() <= stale_cut
    as_of_days = (AS_OF - date(1970, 1, 1)).days
    recent = reg > as_of_days - 365
    homes = hdf["kind"].to_numpy() == "home"
    bk = hdf["bkind"].to_numpy()
    res: dict[str, object] = {}
    for k in ("detached", "apartment", "highrise", "danchi"):
        m = homes & (bk == k)
        res[f"unknown_share_{k}"] = round(float((~has_met[m]).mean()), 4)
        res[f"homes_in_{k}"] = int(m.sum())
    res["unknown_share_homes"] = round(float((~has_met[homes]).mean()), 4)
    res["unknown_share_recent_homes"] = round(float((~has_met[homes & recent]).mean()), 4)
    res["recent_share_homes"] = round(float(recent[homes].mean()), 4)
    res["stale_share_homes"] = round(float(stale[homes].mean()), 4)
    res["away_pattern_share_homes"] = round(float((pattern[homes] == 2).mean()), 4)
    lo = last_out.reindex(range(n)).to_numpy()
    res["last_moved_out_share_homes"] = round(float((lo[homes] == "moved_out").mean()), 4)
    res["last_vacant_share_homes"] = round(float((lo[homes] == "vacant").mean()), 4)
    res["never_visited_share"] = round(float(pd.isna(lo).mean()), 4)
    res["weekend_visit_share"] = round(
        float((pd.to_datetime(visits["visited_on"]).dt.day_of_week >= 5).mean()), 4
    )
    res["outcome_shares"] = {
        k: round(float(x), 4)
        for k, x in visits["outcome"].value_counts(normalize=True).sort_index().items()
    }
    return res


# --------------------------------------------------------------------------
# Census input and the layers built from it


def read_census(shared: Path, municipality: str | None = None) -> pd.DataFrame:
    """Census 町丁目 rows (of one municipality, ``GST_NAME``, or all), one ``unit_id`` each.

    A KEY_CODE that comes twice (a 町 in two separate parts) gives the
    larger part the KEY_CODE and the smaller ``KEY_CODE-2``. Representative
    points are projected to EPSG:6675 (columns ``x``, ``y``).
    """
    path = shared / "data/kanazawa/ishikawa_h27_chome_households.csv"
    df = pd.read_csv(path, dtype={"KEY_CODE": str}, encoding="utf-8")
    if municipality is not None:
        df = df[df["GST_NAME"] == municipality].copy()
    df = df.sort_values(["KEY_CODE", "AREA"], ascending=[True, False], kind="stable")
    rank = df.groupby("KEY_CODE").cumcount()
    df["unit_id"] = np.where(
        rank == 0, df["KEY_CODE"], df["KEY_CODE"] + "-" + (rank + 1).astype(str)
    )
    df = df.sort_values("unit_id", kind="stable").reset_index(drop=True)
    xy = gpd.GeoSeries(gpd.points_from_xy(df["X_CODE"], df["Y_CODE"]), crs=CRS_CENSUS)
    pts = xy.to_crs(CRS_METRIC)
    sep = separate_points(pts.x.to_numpy(), pts.y.to_numpy())
    df["x"], df["y"] = sep[:, 0], sep[:, 1]
    return df


POLICE_LIST = "data/police/koban_japan_2024-11-20.csv"
_POLICE_KINDS = {"交番": "koban", "駐在所": "chuzaisho"}


def read_police_list(
    shared: Path, prefecture: str, stations: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """交番 and 駐在所 of one prefecture from the 2024 police list, in the list's order.

    ``stations`` (names without 警察署) keeps only those stations' boxes.
    Columns: ``name`` (名称), ``kind`` (koban / chuzaisho), ``station``
    (警察署名称 without 警察署), ``st_order`` (the station's rank: its place
    in ``stations``, else its first appearance in the list), ``muni``
    (全国地方公共団体コード without its check digit), ``list_id`` (the
    list's stable id ``KB-…``, as ``junkai_geo.formats.police.koban_id``
    gives it), ``ilvl`` (the geocoder's match level), ``x`` / ``y``
    (EPSG:6675). A row without a position cannot seed an area: rows whose
    Longitude / Latitude are empty or whose iLvl is 0 are reported by name
    (ValueError) rather than left out silently.
    """
    from junkai_geo.formats.police import koban_id

    path = shared / POLICE_LIST
    raw = pd.read_csv(path, encoding="utf-8")
    raw = raw[raw["都道府県名"] == prefecture]
    if stations is not None:
        raw = raw[raw["警察署名称"].isin([f"{s}警察署" for s in stations])]
    raw = raw.reset_index(drop=True)
    bad = raw[raw["Longitude"].isna() | raw["Latitude"].isna() | (raw["iLvl"] <= 0)]
    if len(bad):
        names = ", ".join(bad["警察署名称"] + bad["名称"])
        raise ValueError(f"{path}: {len(bad)} boxes of {prefecture} not located: {names}")
    order = list(stations) if stations is not None else list(dict.fromkeys(raw["警察署名称"]))
    order = [s.removesuffix("警察署") for s in order]
    kb = pd.DataFrame(
        {
            "name": raw["名称"],
            "kind": raw["交番・駐在所の別"].map(_POLICE_KINDS),
            "station": raw["警察署名称"].str.removesuffix("警察署"),
            "muni": (raw["全国地方公共団体コード"].astype(int) // 10),
            "list_id": [
                koban_id(prefecture, st, nm)
                for st, nm in zip(raw["警察署名称"], raw["名称"], strict=True)
            ],
            "ilvl": raw["iLvl"].astype(int),
        }
    )
    kb["st_order"] = kb["station"].map({s: i for i, s in enumerate(order)})
    if kb["kind"].isna().any():
        raise ValueError(f"{path}: 交番・駐在所の別 other than 交番 / 駐在所")
    pts = gpd.GeoSeries(
        gpd.points_from_xy(raw["Longitude"], raw["Latitude"]), crs="EPSG:6668"
    ).to_crs(CRS_METRIC)
    kb["x"], kb["y"] = pts.x.to_numpy(), pts.y.to_numpy()
    return kb


def units_layer(units: pd.DataFrame, polys: np.ndarray) -> gpd.GeoDataFrame:
    """The units layer (EPSG:6675) of census rows that carry ``beat_id`` and ``koban_id``."""
    return gpd.GeoDataFrame(
        {
            "unit_id": units["unit_id"],
            "name": units["MOJI"],
            "households": units["SETAI"].astype("int64"),
            "population": units["JINKO"].astype("int64"),
            "area_m2": units["AREA"].astype(float),
            "density_per_km2": units["setai_per_km2"].astype(float),
            "beat_id": units["beat_id"].astype(str),
            "koban_id": units["koban_id"],
        },
        geometry=polys,
        crs=CRS_METRIC,
    )


def beats_layer(ugdf: gpd.GeoDataFrame, koban: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Beats dissolved from their units, named ``<koban name> 第N受持区``."""
    beats = []
    for beat_id, grp in ugdf.groupby("beat_id", sort=True):
        kid = grp["koban_id"].iloc[0]
        kname = koban.loc[koban["koban_id"] == kid, "name"].iloc[0]
        num = beat_id.rsplit("-", 1)[1]
        geom = shapely.normalize(shapely.coverage_union_all(grp.geometry.to_numpy()))
        beats.append(
            dict(
                beat_id=beat_id,
                koban_id=kid,
                name=f"{kname} 第{num}受持区",
                households=int(grp["households"].sum()),
                geometry=geom,
            )
        )
    return gpd.GeoDataFrame(beats, geometry="geometry", crs=CRS_METRIC)


def households_of_units(units: pd.DataFrame, polys: np.ndarray, rng, p: DerivationParams):
    """Buildings, households (with ids, unit and beat) and registration days."""
    bdf, hdf = build_households(units, polys, rng, p)
    bdf["building_id"] = [f"B{i + 1:06d}" for i in range(len(bdf))]
    hdf["building_id"] = bdf["building_id"].to_numpy()[hdf["b"].to_numpy()]
    hdf["unit_id"] = units["unit_id"].to_numpy()[hdf["unit"].to_numpy()]
    hdf["beat_id"] = units["beat_id"].to_numpy()[hdf["unit"].to_numpy()].astype(str)
    hdf["household_id"] = [f"H{i + 1:06d}" for i in range(len(hdf))]
    reg = registration_dates(hdf, rng, p)
    return bdf, hdf, reg


def visits_table(hdf: pd.DataFrame, vh, vd, vm, vo, officer_of) -> pd.DataFrame:
    """The visits layer, sorted by day, time and household.

    ``officer_of(h, d)`` gives the officer id of each visit from household
    row indices and day numbers (arrays).
    """
    vis = pd.DataFrame({"h": vh, "d": vd, "m": vm, "outcome": vo}).sort_values(
        ["d", "m", "h"], kind="stable"
    )
    vis = vis.reset_index(drop=True)
    return pd.DataFrame(
        {
            "visit_id": [f"V{i + 1:07d}" for i in range(len(vis))],
            "household_id": hdf["household_id"].to_numpy()[vis["h"].to_numpy()],
            "officer_id": officer_of(vis["h"].to_numpy(), vis["d"].to_numpy()),
            "visited_on": _iso(vis["d"].to_numpy()),
            "time": _hhmm(vis["m"].to_numpy()),
            "outcome": vis["outcome"].astype(str).to_numpy(),
        }
    )


def beat_officers(bgdf: gpd.GeoDataFrame, koban: gpd.GeoDataFrame, mode_of) -> list[dict]:
    """One beat officer per beat; 交番 beats take 3shift-A/B/C in turn, 駐在所 ``chuzaisho``.

    ``mode_of(households, area_km2)`` gives the travel mode of a beat.
    """
    officers = []
    for kid, grp in bgdf.groupby("koban_id", sort=True):
        kind = koban.loc[koban["koban_id"] == kid, "kind"].iloc[0]
        for j, row in enumerate(grp.itertuples()):
            officers.append(
                dict(
                    officer_id=f"{row.beat_id}-O",
                    koban_id=kid,
                    role="beat",
                    beat_id=row.beat_id,
                    mode=mode_of(row.households, row.geometry.area / 1e6),
                    shift_pattern="chuzaisho" if kind == "chuzaisho" else f"3shift-{'ABC'[j % 3]}",
                )
            )
    return officers


def specialist_officers(
    hdf: pd.DataFrame, units: pd.DataFrame, koban: gpd.GeoDataFrame, stations, *, any_box=False
) -> list[dict]:
    """Two 巡回連絡専従員 per station, at its two koban with most homes in multi-unit buildings.

    A station without a 交番 gets them at its 駐在所 when ``any_box`` is set
    (else none); a station with one 交番 gets both there.
    """
    multi_homes = (
        hdf[(hdf["kind"] == "home") & (hdf["bkind"] != "detached")]
        .merge(units[["unit_id", "koban_id"]], on="unit_id")
        .groupby("koban_id")
        .size()
    )
    officers = []
    for st in stations:
        ks = koban[(koban["station"] == st) & (koban["kind"] == "koban")]["koban_id"].tolist()
        if not ks and any_box:
            ks = koban[koban["station"] == st]["koban_id"].tolist()
        if not ks:
            continue
        ks = sorted(ks, key=lambda k: (-int(multi_homes.get(k, 0)), k))
        # Two per station, at its two busiest koban (both at one if it has one)
        posts = (ks * 2)[:2] if len(ks) < 2 else ks[:2]
        for n, kid in enumerate(posts):
            officers.append(
                dict(
                    officer_id=f"{kid}-S{posts[:n].count(kid) + 1}",
                    koban_id=kid,
                    role="specialist",
                    beat_id="",
                    mode="walk",
                    shift_pattern="day",
                )
            )
    return officers


def write_layers(
    out: Path,
    *,
    units: pd.DataFrame,
    ugdf: gpd.GeoDataFrame,
    bgdf: gpd.GeoDataFrame,
    koban: gpd.GeoDataFrame,
    odf: pd.DataFrame,
    bdf: pd.DataFrame,
    hdf: pd.DataFrame,
    reg: np.ndarray,
    visits: pd.DataFrame,
) -> dict[str, int]:
    """Write the seven layer files; returns the counts for meta.json."""
    ugdf.to_crs(CRS_STORED).pipe(_write_parquet, out / "units.parquet", True)
    bgdf.to_crs(CRS_STORED).pipe(_write_parquet, out / "beats.parquet", True)
    kcols = ["koban_id", "name", "kind", "station"] + (["list_id"] if "list_id" in koban else [])
    kout = koban[[*kcols, "geometry"]].to_crs(CRS_STORED)
    kpath = out / "koban.geojson"
    kpath.unlink(missing_ok=True)
    kout.to_file(kpath, driver="GeoJSON", COORDINATE_PRECISION=7, WRITE_NAME="NO")
    odf.to_csv(out / "officers.csv", index=False, lineterminator="\n", encoding="utf-8")
    bgeo = gpd.GeoDataFrame(
        {
            "building_id": bdf["building_id"],
            "kind": bdf["kind"],
            "floors": bdf["floors"].astype("int64"),
            "units": bdf["units"].astype("int64"),
            "complex_id": bdf["complex_id"].astype(str),
            "unit_id": units["unit_id"].to_numpy()[bdf["unit"].to_numpy()],
        },
        geometry=gpd.points_from_xy(bdf["x"], bdf["y"]),
        crs=CRS_METRIC,
    ).to_crs(CRS_STORED)
    _write_parquet(bgeo, out / "buildings.parquet", True)
    hgeo = gpd.GeoDataFrame(
        {
            "household_id": hdf["household_id"],
            "kind": hdf["kind"],
            "beat_id": hdf["beat_id"],
            "building_id": hdf["building_id"],
            "floor": hdf["floor"].astype("int64"),
            "address": hdf["addr"],
            "registered_on": _iso(reg),
            "unit_id": hdf["unit_id"],
        },
        geometry=bgeo.geometry.to_numpy()[hdf["b"].to_numpy()],
        crs=CRS_STORED,
    )
    _write_parquet(hgeo, out / "households.parquet", True)
    _write_parquet(visits, out / "visits.parquet", False)
    return {
        "units": len(ugdf),
        "koban": len(koban),
        "beats": len(bgdf),
        "officers": len(odf),
        "buildings": len(bgeo),
        "households": len(hgeo),
        "homes": int((hgeo["kind"] == "home").sum()),
        "businesses": int((hgeo["kind"] == "business").sum()),
        "public": int((hgeo["kind"] == "public").sum()),
        "visits": len(visits),
    }


def write_meta(out: Path, meta: dict) -> None:
    """``meta.json`` of a derivation: sorted keys, UTF-8, a newline at the end."""
    import json

    (out / "meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


def derivation_main(
    derive: Callable[..., dict], *, description: str, default_out: Path, argv: list[str] | None
) -> int:
    """The command line of a derivation script: --shared, --out, --seed, --quiet."""
    import argparse
    import json

    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "--shared", type=Path, default=repo.parent / "shared", help="the shared/ folder"
    )
    ap.add_argument("--out", type=Path, default=default_out, help="output folder")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    meta = derive(args.shared, args.out, args.seed, verbose=not args.quiet)
    if not args.quiet:
        print(
            json.dumps(
                {"counts": meta["counts"], "rates": meta["rates"]}, ensure_ascii=False, indent=1
            )
        )
    return 0
