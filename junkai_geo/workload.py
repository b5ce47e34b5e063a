"""The workload model: hours of patrol liaison per visiting cycle.

A visiting cycle is one attempt at every occupied household. Per household
(``household_workload_s``):

- service by kind and card status: a home without a card (未把握) takes
  ``service_new_card_s`` (a card is made), a home with a current or stale card
  ``service_update_s``, an office ``service_business_s``, a public building
  ``service_public_s``; moved-out and vacant households take nothing;
- in large buildings, ``per_floor_s`` per floor above the ground;
- one ``building_approach_s`` per building, shared by its households.

Per unit (``unit_workload_h``), on top of the households' sum:

- walking between buildings, estimated from their density: each building is
  reached over the expected nearest-neighbour distance ``0.5 / sqrt(density)``
  times ``detour_factor`` at ``walk_speed_mps``;
- one round trip between the koban and the unit at ``koban_trip_speed_mps``
  (straight line times ``detour_factor``), for units with households.

The koban of a unit is the one named in the unit's ``koban_id`` column when
present, else the nearest koban. All parameters live in
:class:`junkai_geo.settings.WorkloadParams`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem
from .settings import WorkloadParams
from .units import split_polygon, unit_of_points, weighted_kmeans

if TYPE_CHECKING:
    import geopandas as gpd

_STATUS_COLUMNS = ("status", "card_status")


def to_metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` in a metric CRS: unchanged when projected, else the local plane zone."""
    from .projection import metric_crs_for

    if gdf.crs is None:
        return gdf
    if gdf.crs.is_projected:
        return gdf
    x0, y0, x1, y1 = gdf.total_bounds
    return gdf.to_crs(metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2))


def card_status_of(households: pd.DataFrame, cards: Any) -> np.ndarray:
    """Card status (``none`` / ``current`` / ``stale``) per household.

    ``cards`` is a DataFrame with a ``status`` (or ``card_status``) column,
    indexed by ``household_id`` or with a ``household_id`` column, or a Series
    of statuses indexed by household id, or None. Households absent from
    ``cards`` have no card (未把握), as the card rules say.
    """
    n = len(households)
    if cards is None:
        return np.full(n, "none", dtype=object)
    if isinstance(cards, pd.Series):
        status = cards
    else:
        table = cards.set_index("household_id") if "household_id" in cards.columns else cards
        col = next((c for c in _STATUS_COLUMNS if c in table.columns), None)
        if col is None:
            raise InputError(
                Problem(
                    "cards",
                    None,
                    "status",
                    f"columns {list(table.columns)}",
                    "a 'status' or 'card_status' column",
                )
            )
        status = table[col]
    mapped = households["household_id"].map(status.astype(str))
    return mapped.fillna("none").to_numpy(dtype=object)


def occupied_of(households: pd.DataFrame, cards: Any) -> np.ndarray:
    """Whether each household is still to be visited (not moved out nor vacant)."""
    n = len(households)
    if cards is None or isinstance(cards, pd.Series):
        return np.ones(n, dtype=bool)
    table = cards.set_index("household_id") if "household_id" in cards.columns else cards
    if "occupancy" not in table.columns:
        return np.ones(n, dtype=bool)
    occ = households["household_id"].map(table["occupancy"].astype(str)).fillna("occupied")
    return (occ == "occupied").to_numpy()


def household_workload_s(
    households: pd.DataFrame,
    cards: Any = None,
    buildings: pd.DataFrame | None = None,
    params: WorkloadParams | None = None,
) -> np.ndarray:
    """Seconds per visiting cycle of each household (service, floors, approach).

    Parameters
    ----------
    households
        Table with ``household_id`` and ``kind``; ``floor`` and
        ``building_id`` when known.
    cards
        Card status per household (see :func:`card_status_of`).
    buildings
        Unused for the per-household figure except to know which
        ``building_id`` values are real buildings; may be None.
    params
        Workload parameters.
    """
    p = params or WorkloadParams()
    n = len(households)
    if n == 0:
        return np.zeros(0)
    kind = households["kind"].astype(str).to_numpy() if "kind" in households else np.full(n, "home")
    status = card_status_of(households, cards)
    floor = (
        pd.to_numeric(households["floor"], errors="coerce").fillna(1).to_numpy()
        if "floor" in households
        else np.ones(n)
    )
    service = household_service_s(
        kind, status == "none", floor, _building_share(households, buildings), p
    )
    return np.where(occupied_of(households, cards), service, 0.0)


def household_service_s(
    kind: np.ndarray,
    no_card: np.ndarray,
    floor: np.ndarray,
    building_share: np.ndarray,
    params: WorkloadParams | None = None,
) -> np.ndarray:
    """Seconds per visiting cycle of occupied households from their figures.

    ``kind`` (home / business / public), ``no_card`` (未把握), ``floor`` and
    ``building_share`` (households sharing the building's approach) per
    household, or per group of alike households (a database's grouped
    query: ``api.aggregates``).
    """
    p = params or WorkloadParams()
    service = np.where(no_card, p.service_new_card_s, p.service_update_s).astype(float)
    service = np.where(kind == "business", p.service_business_s, service)
    service = np.where(kind == "public", p.service_public_s, service)
    service = service + p.per_floor_s * np.clip(floor - 1, 0, None)
    return service + p.building_approach_s / building_share


def _building_ids(households: pd.DataFrame) -> pd.Series:
    """Building of each household; a household without one is its own building."""
    own = "hh:" + households["household_id"].astype(str)
    if "building_id" not in households:
        return own.reset_index(drop=True)
    b = households["building_id"]
    return b.astype(object).where(b.notna(), own).astype(str).reset_index(drop=True)


def _building_share(households: pd.DataFrame, buildings: pd.DataFrame | None) -> np.ndarray:
    ids = _building_ids(households)
    return ids.map(ids.value_counts()).to_numpy(dtype=float)


def _unit_index(units: gpd.GeoDataFrame, households: gpd.GeoDataFrame) -> np.ndarray:
    """Row of ``units`` holding each household (by ``unit_id``, else by location)."""
    if "unit_id" in households.columns and "unit_id" in units.columns:
        pos = pd.Series(np.arange(len(units)), index=units["unit_id"].astype(str))
        idx = households["unit_id"].astype(str).map(pos)
        if idx.notna().all():
            return idx.to_numpy(dtype=np.int64)
    hh = households.to_crs(units.crs) if households.crs != units.crs else households
    return unit_of_points(units.geometry.to_numpy(), hh.geometry.to_numpy())


def unit_workload_h(
    units: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    cards: Any = None,
    buildings: gpd.GeoDataFrame | None = None,
    koban: gpd.GeoDataFrame | None = None,
    params: WorkloadParams | None = None,
) -> pd.Series:
    """Hours per visiting cycle of each unit, indexed by ``unit_id``.

    Service and in-building time of its households, walking between its
    buildings from their density, and one round trip to its koban.
    """
    p = params or WorkloadParams()
    units_m = to_metric(units)
    n = len(units_m)
    hh_s = household_workload_s(households, cards, buildings, p)
    where = _unit_index(units_m, households) if len(households) else np.zeros(0, dtype=np.int64)
    service_s = np.bincount(where, weights=hh_s, minlength=n)
    active = hh_s > 0
    b_ids = _building_ids(households)[active].to_numpy()
    n_buildings = (
        pd.DataFrame({"u": where[active], "b": b_ids}).drop_duplicates().groupby("u").size()
    )
    nb = np.zeros(n)
    nb[n_buildings.index.to_numpy(dtype=np.int64)] = n_buildings.to_numpy()
    return unit_workload_from_totals(units_m, service_s, nb, koban, p)


def unit_workload_from_totals(
    units: gpd.GeoDataFrame,
    service_s: np.ndarray,
    n_buildings: np.ndarray,
    koban: gpd.GeoDataFrame | None = None,
    params: WorkloadParams | None = None,
) -> pd.Series:
    """Hours per visiting cycle of each unit from its households' totals.

    ``service_s`` is the sum of :func:`household_workload_s` over the unit's
    households and ``n_buildings`` the number of buildings with a household
    to visit, in the order of ``units``; the walk and the koban trip are
    added as :func:`unit_workload_h` says.
    """
    p = params or WorkloadParams()
    units_m = to_metric(units)
    n = len(units_m)
    ids = units_m["unit_id"].astype(str).to_numpy() if "unit_id" in units_m else np.arange(n)
    nb = np.asarray(n_buildings, dtype=float)
    area = units_m.geometry.area.to_numpy()
    # n buildings at density n / area, each reached over 0.5 / sqrt(density).
    walk_s = 0.5 * np.sqrt(nb * area) * p.detour_factor / p.walk_speed_mps
    trip_s = np.zeros(n)
    if koban is not None and len(koban):
        dist = unit_koban_distance_m(units_m, koban)
        trip_s = np.where(nb > 0, 2 * dist * p.detour_factor / p.koban_trip_speed_mps, 0.0)
    return pd.Series((service_s + walk_s + trip_s) / 3600.0, index=ids, name="workload_h")


def unit_koban_distance_m(units: gpd.GeoDataFrame, koban: gpd.GeoDataFrame) -> np.ndarray:
    """Distance from each unit's representative point to its koban, in metres.

    Its koban is the one in the unit's ``koban_id`` column when that names a
    known koban, else the nearest one.
    """
    units_m = to_metric(units)
    kob = koban.to_crs(units_m.crs) if koban.crs != units_m.crs else koban
    pts = units_m.geometry.representative_point()
    kx = kob.geometry.x.to_numpy()
    ky = kob.geometry.y.to_numpy()
    ux = pts.x.to_numpy()
    uy = pts.y.to_numpy()
    d_all = np.hypot(ux[:, None] - kx[None, :], uy[:, None] - ky[None, :])
    choice = np.argmin(d_all, axis=1)
    if "koban_id" in units_m.columns and "koban_id" in kob.columns:
        pos = pd.Series(np.arange(len(kob)), index=kob["koban_id"].astype(str))
        named = units_m["koban_id"].astype(str).map(pos)
        choice = np.where(named.notna(), named.fillna(0).to_numpy(dtype=np.int64), choice)
    return d_all[np.arange(len(units_m)), choice]


def beat_workload_h(
    units: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    cards: Any = None,
    buildings: gpd.GeoDataFrame | None = None,
    koban: gpd.GeoDataFrame | None = None,
    params: WorkloadParams | None = None,
    *,
    beat_column: str = "beat_id",
) -> pd.Series:
    """Hours per visiting cycle of each beat: the sum over its units."""
    per_unit = unit_workload_h(units, households, cards, buildings, koban, params)
    beats = units[beat_column].astype(str).to_numpy()
    return pd.Series(per_unit.to_numpy(), index=beats).groupby(level=0).sum().rename("workload_h")


#: Separator between a split unit's id and its sub-unit number (``<unit_id>#2``).
SUB_UNIT_SEPARATOR = "#"


@dataclass
class RefinedUnits:
    """Units with the heavy ones split into sub-units (block level, 番地).

    ``units`` lists every sub-unit and every unit left whole, with
    ``unit_id``, ``parent_unit_id`` (the unit's own id when not split),
    ``workload_h`` and the parent's other columns; ``split`` maps each split
    unit to its sub-unit ids. ``threshold_h`` is the workload above which a
    unit was split: ``split_share`` times the mean beat workload.
    """

    units: gpd.GeoDataFrame
    split: dict[str, list[str]] = field(default_factory=dict)
    split_share: float = 0.0
    threshold_h: float = math.inf
    mean_beat_workload_h: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "split_share": self.split_share,
            "threshold_h": round(self.threshold_h, 4) if math.isfinite(self.threshold_h) else None,
            "mean_beat_workload_h": round(self.mean_beat_workload_h, 4),
            "units_in": int(len(self.units) - sum(len(v) - 1 for v in self.split.values())),
            "units_out": int(len(self.units)),
            "split": self.split,
        }


def refine_units(
    units: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    cards: Any = None,
    buildings: gpd.GeoDataFrame | None = None,
    koban: gpd.GeoDataFrame | None = None,
    params: WorkloadParams | None = None,
    *,
    n_beats: int,
    split_share: float = 0.25,
    locked: Any = None,
    additive_columns: tuple[str, ...] = ("households", "population"),
    seed: int = 0,
) -> RefinedUnits:
    """Split units heavier than ``split_share`` of a mean beat into sub-units.

    Managers draw beats at block (番地) level inside large 町丁目; this does
    the same from the household points. A unit of workload ``w`` above
    ``split_share * total / n_beats`` becomes ``ceil(w / threshold)``
    sub-units: weighted k-means of its households (weight: each household's
    seconds per cycle, :func:`household_workload_s`), then the Voronoi cells
    of the cluster centres clipped to the unit polygon, so the sub-units tile
    the unit exactly. Sub-unit ``<unit_id>#k`` (k from 1) takes the service
    time of the households inside it plus a share of the unit's walking and
    koban-trip time in proportion to that service time, so the sub-units'
    workloads sum to the unit's. ``additive_columns`` (households,
    population) are shared in proportion to the household points; other
    columns are copied from the unit.

    Parameters
    ----------
    n_beats
        Beats the units will be shared among (sets the mean beat workload).
    split_share
        Share of the mean beat workload above which a unit is split; 0 splits
        nothing.
    locked
        Name of a true/false column, or a boolean array aligned with
        ``units``: locked units are never split.
    seed
        Seed of the k-means start; the same seed gives the same sub-units.
    """
    import geopandas as gpd

    if not isinstance(split_share, int | float) or split_share < 0:
        raise ParameterError(f"split_share: found {split_share!r}; expected a number >= 0")
    if not isinstance(n_beats, int | np.integer) or n_beats < 1:
        raise ParameterError(f"n_beats: found {n_beats!r}; expected an integer >= 1")
    p = params or WorkloadParams()
    hours = unit_workload_h(units, households, cards, buildings, koban, p).to_numpy()
    base = units.reset_index(drop=True).copy()
    ids = base["unit_id"].astype(str).to_numpy()
    base["parent_unit_id"] = ids
    base["workload_h"] = hours
    mean = float(hours.sum()) / int(n_beats)
    threshold = split_share * mean if split_share > 0 else math.inf
    lock = _lock_mask(base, locked)
    heavy = np.flatnonzero((hours > threshold) & ~lock)
    if len(heavy) == 0 or len(households) == 0:
        return RefinedUnits(base, {}, float(split_share), threshold, mean)

    units_m = to_metric(base)
    hh = households.reset_index(drop=True)
    hh_m = hh.to_crs(units_m.crs) if hh.crs != units_m.crs else hh
    hh_s = household_workload_s(hh, cards, buildings, p)
    where = _unit_index(units_m, hh_m)
    service_s = np.bincount(where, weights=hh_s, minlength=len(base))
    hx = hh_m.geometry.x.to_numpy()
    hy = hh_m.geometry.y.to_numpy()
    rows: list[pd.DataFrame] = []
    geoms: list[Any] = []
    split: dict[str, list[str]] = {}
    keep = np.ones(len(base), dtype=bool)
    for u in heavy.tolist():
        inside = np.flatnonzero(where == u)
        if len(inside) < 2:
            continue
        k = math.ceil(hours[u] / threshold)
        xy = np.column_stack([hx[inside], hy[inside]])
        centres = weighted_kmeans(xy, hh_s[inside], k, seed=seed)
        pieces = split_polygon(units_m.geometry.iloc[u], centres)
        if len(pieces) < 2:
            continue
        # Households by location among the pieces (nearest when just outside).
        sub = unit_of_points(np.asarray(pieces, dtype=object), shapely_points(xy))
        sub_s = np.bincount(sub, weights=hh_s[inside], minlength=len(pieces))
        count = np.bincount(sub, minlength=len(pieces)).astype(float)
        overhead_s = hours[u] * 3600.0 - service_s[u]
        if service_s[u] > 0:
            share = sub_s / service_s[u]
        else:
            area = np.array([g.area for g in pieces])
            share = area / area.sum()
        sub_h = (sub_s + overhead_s * share) / 3600.0
        frame = pd.DataFrame([base.drop(columns="geometry").iloc[u]] * len(pieces))
        sub_ids = [f"{ids[u]}{SUB_UNIT_SEPARATOR}{j + 1}" for j in range(len(pieces))]
        frame["unit_id"] = sub_ids
        frame["workload_h"] = sub_h
        hh_share = count / count.sum()
        for col in additive_columns:
            if col in frame.columns:
                val = pd.to_numeric(base[col], errors="coerce").iloc[u]
                frame[col] = np.nan_to_num(float(val)) * hh_share
        if "area_m2" in frame.columns:
            frame["area_m2"] = [g.area for g in pieces]
        rows.append(frame)
        geoms.extend(pieces)
        split[ids[u]] = sub_ids
        keep[u] = False
    if not split:
        return RefinedUnits(base, {}, float(split_share), threshold, mean)
    whole = units_m[keep]
    subs = gpd.GeoDataFrame(pd.concat(rows, ignore_index=True), geometry=geoms, crs=units_m.crs)
    out = gpd.GeoDataFrame(pd.concat([whole, subs], ignore_index=True), crs=units_m.crs)
    # Sub-units follow their parent's place in the list, as the input order.
    order = pd.Series(np.arange(len(base)), index=ids)
    out["_order"] = out["parent_unit_id"].map(order).to_numpy()
    out = out.sort_values(["_order", "unit_id"], kind="stable").drop(columns="_order")
    out = out.reset_index(drop=True)
    out = out.set_geometry(_node_pieces(out.geometry.to_numpy(), geoms), crs=units_m.crs)
    if units.crs is not None and out.crs != units.crs:
        out = out.to_crs(units.crs)
    return RefinedUnits(out, split, float(split_share), threshold, mean)


#: Distance within which a sub-unit vertex is inserted into a touching edge, metres.
NODE_SNAP_M = 1e-3


def _node_pieces(geoms: np.ndarray, pieces: list[Any]) -> np.ndarray:
    """``geoms`` with the sub-units' vertices inserted where they lie on an edge.

    A Voronoi edge meets the unit's boundary mid-segment; the neighbouring
    unit lacks that vertex, so tools that read adjacency from shared vertices
    (queen contiguity) or need a noded coverage (coverage union) would see a
    gap. Snapping every polygon near a sub-unit to the sub-units' vertices
    (within ``NODE_SNAP_M``) inserts them, without moving any edge.
    """
    import shapely

    out = np.asarray(geoms, dtype=object).copy()
    piece_arr = np.asarray(pieces, dtype=object)
    tree = shapely.STRtree(piece_arr)
    near_g, near_p = tree.query(out, predicate="dwithin", distance=NODE_SNAP_M)
    for g in np.unique(near_g).tolist():
        ref = shapely.multipoints(shapely.get_coordinates(piece_arr[near_p[near_g == g]]))
        out[g] = shapely.make_valid(shapely.snap(out[g], ref, NODE_SNAP_M))
    return out


def shapely_points(xy: np.ndarray) -> np.ndarray:
    """Shapely points from an ``(n, 2)`` array."""
    import shapely

    return np.asarray(shapely.points(np.asarray(xy, dtype=float)), dtype=object)


def _lock_mask(units: pd.DataFrame, locked: Any) -> np.ndarray:
    n = len(units)
    if locked is None:
        return np.zeros(n, dtype=bool)
    if isinstance(locked, str):
        if locked not in units.columns:
            raise ParameterError(f"locked: no column '{locked}' in the units")
        col = units[locked].astype(str).str.strip().str.lower()
        return col.isin(["1", "true", "yes", "y", "t", "locked"]).to_numpy()
    arr = np.asarray(locked, dtype=bool)
    if arr.shape != (n,):
        raise ParameterError(f"locked: found {arr.shape[0]} values; expected {n}, one per unit")
    return arr
