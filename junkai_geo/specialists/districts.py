"""Difficult districts: clusters of high-rise, large or complex buildings, ranked with reasons."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..buildings import BuildingClassification, BuildingParams, classify_buildings
from ..errors import InputError, Problem
from ..settings import WorkloadParams

if TYPE_CHECKING:
    import geopandas as gpd

    from .assignment import Recommendation

from .params import SpecialistParams

#: Absent / answered visits per household: a table, or a function of the ids.
VisitCounts = pd.DataFrame | Callable[[np.ndarray], pd.DataFrame]


@dataclass
class District:
    """A cluster of difficult buildings, its figures and why it ranks where it does.

    Figures count households, not buildings: ``households`` are the occupied
    ones (not moved out nor vacant), ``backlog`` those among them without a
    card (未把握), ``current`` those with a current card. ``hours_needed``
    is the liaison time to reach ``target_coverage`` (see
    docs/specialists.md), ``hours_per_week`` that spread over the period.
    """

    district_id: str
    rank: int
    score: float
    name: str
    koban_id: str | None
    x: float
    y: float
    lon: float
    lat: float
    radius_m: float
    building_ids: list[str]
    complex_ids: list[str]
    unit_ids: list[str]
    unit_names: list[str]
    density_per_km2: float
    buildings: int
    highrise_buildings: int
    large_buildings: int
    complex_buildings: int
    max_floors: int
    dwellings: int
    households: int
    backlog: int
    stale: int
    current: int
    absence_rate: float
    contacts_needed: int
    hours_needed: float
    hours_per_week: float
    officers_needed: int
    reasons: list[dict[str, Any]]
    geometry: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("geometry")
        for key in ("x", "y", "radius_m", "density_per_km2"):
            out[key] = round(float(out[key]), 1)
        out["lon"], out["lat"] = round(self.lon, 7), round(self.lat, 7)
        out["score"] = round(self.score, 4)
        out["absence_rate"] = round(self.absence_rate, 4)
        out["hours_needed"] = round(self.hours_needed, 1)
        out["hours_per_week"] = round(self.hours_per_week, 2)
        return out


@dataclass
class DistrictSearch:
    """Every difficult district, ranked, and the building classification behind it."""

    districts: list[District]
    classification: BuildingClassification
    params: SpecialistParams
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "districts": [d.to_dict() for d in self.districts],
            "buildings": self.classification.to_dict(),
            "notes": list(self.notes),
        }


def _xy(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Representative point of each geometry (the point itself for points)."""
    geom = frame.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    return np.column_stack([pts.x.to_numpy(float), pts.y.to_numpy(float)])


def cluster_buildings(
    xy: np.ndarray, distance_m: float, complex_ids: Sequence[Any] | None = None
) -> np.ndarray:
    """District label of each point: connected components within ``distance_m``.

    Points of one non-empty ``complex_id`` are always joined. Labels are
    0..k-1 in order of each component's first point.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(xy)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pairs = cKDTree(xy).query_pairs(r=distance_m, output_type="ndarray")
    a, b = [pairs[:, 0]], [pairs[:, 1]]
    if complex_ids is not None:
        cid = pd.Series(list(complex_ids), dtype=object)
        valid = cid.notna() & (cid.astype(str).str.strip() != "") & (cid.astype(str) != "nan")
        for _, idx in cid[valid].groupby(cid[valid].astype(str)).groups.items():
            rows = np.asarray(idx, dtype=np.int64)
            a.append(rows[:-1])
            b.append(rows[1:])
    i, j = np.concatenate(a), np.concatenate(b)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Renumber by first occurrence, so labels do not depend on scipy's order.
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    return remap[labels].astype(np.int64)


def _absence_by_household(
    ids: np.ndarray,
    visits: pd.DataFrame | None,
    cards: pd.DataFrame,
    counts: VisitCounts | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Absent and answered attempts per household (from the counts, the visits, else the cards)."""
    if counts is not None:
        table = counts(ids) if callable(counts) else counts
        c = table.reindex(pd.Index(ids))
        return (
            c["absent"].fillna(0).to_numpy(float),
            c["answered"].fillna(0).to_numpy(float),
        )
    if visits is not None and len(visits):
        v = visits[visits["household_id"].astype(str).isin(set(ids.tolist()))]
        outcome = v["outcome"].astype(str)
        hid = v["household_id"].astype(str)
        n_absent = hid[outcome == "absent"].value_counts()
        n_answered = hid[outcome.isin(["met", "refused"])].value_counts()
        idx = pd.Index(ids)
        return (
            n_absent.reindex(idx).fillna(0).to_numpy(float),
            n_answered.reindex(idx).fillna(0).to_numpy(float),
        )
    # Without visits the card table's counts are what is left: absences since
    # the last contact against the other visits.
    c = cards.reindex(pd.Index(ids))
    n = len(ids)
    absent = np.zeros(n)
    total = np.zeros(n)
    if "absences" in c.columns:
        absent = pd.to_numeric(c["absences"], errors="coerce").fillna(0).to_numpy(float)
    if "visits" in c.columns:
        total = pd.to_numeric(c["visits"], errors="coerce").fillna(0).to_numpy(float)
    return absent, np.maximum(total - absent, 0.0)


def _cards_by_id(cards: pd.DataFrame) -> pd.DataFrame:
    if "household_id" in cards.columns:
        cards = cards.set_index("household_id")
    out = cards.copy()
    out.index = out.index.astype(str)
    if "status" not in out.columns:
        raise InputError(
            Problem("cards", None, "status", f"columns {list(out.columns)}",
                    "the card table of junkai_geo.cards.card_table", "missing_column")
        )  # fmt: skip
    if "occupancy" not in out.columns:
        out["occupancy"] = "occupied"
    return out


def find_specialist_districts(
    buildings: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    cards: pd.DataFrame,
    *,
    visits: pd.DataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    koban: gpd.GeoDataFrame | None = None,
    params: SpecialistParams | None = None,
    building_params: BuildingParams | None = None,
    workload_params: WorkloadParams | None = None,
    visit_counts: VisitCounts | None = None,
) -> DistrictSearch:
    """Find and rank the districts of high-rise, large and complex buildings.

    Parameters
    ----------
    buildings, households
        Layers in one metric CRS; households carry ``building_id`` (use
        :func:`junkai_geo.buildings.match_households_to_buildings` first
        when they do not) and, when known, ``unit_id``.
    cards
        Card table (:func:`junkai_geo.cards.card_table`), indexed by
        ``household_id``.
    visits
        Visit history, for absence rates; without it the card table's
        ``absences`` and ``visits`` counts are used.
    visit_counts
        Instead of ``visits``: the ``absent`` and ``answered`` (met or
        refused) visits per household, indexed by ``household_id``, or a
        function giving that table for an array of household ids (only the
        districts' households are asked for: what a database counts with a
        grouped query).
    units
        Census areas (``unit_id``, ``name``, ``density_per_km2``,
        ``koban_id``) to name districts and find their koban.
    koban
        Koban points: a district without a unit koban gets the nearest.

    Returns
    -------
    DistrictSearch with the districts ranked (``rank`` 1 is the most
    difficult; ``district_id`` ``D01`` is rank 1).
    """
    import shapely

    from ..workload import household_workload_s

    p = params or SpecialistParams()
    wp = workload_params or WorkloadParams()
    for name, frame in (("buildings", buildings), ("households", households)):
        if frame.crs is None or not frame.crs.is_projected:
            raise InputError(
                Problem(name, None, "geometry", f"CRS {frame.crs}",
                        "a metric (projected) CRS, for example EPSG:6675", "bad_crs")
            )  # fmt: skip
    crs = buildings.crs
    if households.crs != crs:
        households = households.to_crs(crs)
    card_ix = _cards_by_id(cards)
    hh_ids = households["household_id"].astype(str)
    occupancy = hh_ids.map(card_ix["occupancy"].astype(str)).fillna("occupied").to_numpy()
    # Only households that can still be visited make a building difficult.
    live = households[occupancy == "occupied"]
    cls = classify_buildings(buildings, live, params=building_params)
    b = cls.buildings
    diff = b[b["difficult"].to_numpy(bool)].reset_index(drop=True)
    notes: list[str] = []
    if diff.empty:
        notes.append("no high-rise, large or complex building with households")
        return DistrictSearch([], cls, p, notes)
    xy = _xy(diff)
    labels = cluster_buildings(
        xy, p.cluster_distance_m, diff["complex_id"].tolist() if "complex_id" in diff else None
    )
    diff["district"] = labels
    bid_to_d = pd.Series(labels, index=diff["building_id"].astype(str))
    hb = households["building_id"].astype(str)
    d_of_hh = hb.map(bid_to_d)
    in_d = d_of_hh.notna().to_numpy()
    hh = households[in_d].copy()
    hh["_d"] = d_of_hh[in_d].astype(np.int64).to_numpy()
    hid = hh["household_id"].astype(str).to_numpy()
    status = pd.Series(hid).map(card_ix["status"].astype(str)).fillna("none").to_numpy()
    occ = pd.Series(hid).map(card_ix["occupancy"].astype(str)).fillna("occupied").to_numpy()
    occupied = occ == "occupied"
    work_s = household_workload_s(hh, card_ix.reset_index(names="household_id"), None, wp)
    absent, answered = _absence_by_household(hid, visits, card_ix, visit_counts)
    unit_info = _unit_table(units)
    unit_of = (
        hh["unit_id"].astype(str).to_numpy()
        if "unit_id" in hh.columns
        else _units_by_location(hh, units)
    )
    n_d = int(labels.max()) + 1
    rows: list[dict[str, Any]] = []
    to_lonlat = _lonlat_transformer(str(crs))
    for k in range(n_d):
        members = diff[labels == k]
        m = hh["_d"].to_numpy() == k
        occ_k = occupied[m]
        n_occ = int(occ_k.sum())
        st = status[m][occ_k]
        backlog = int((st == "none").sum())
        stale = int((st == "stale").sum())
        current = int((st == "current").sum())
        tries = absent[m].sum() + answered[m].sum()
        absence_rate = float(absent[m].sum() / tries) if tries > 0 else 0.0
        need = max(0, math.ceil(p.target_coverage * n_occ - 1e-9) - current)
        open_ = occ_k & (status[m] != "current")
        mean_s = float(work_s[m][open_].mean()) if open_.any() else 0.0
        p_contact = max(p.min_p_contact, 1.0 - absence_rate)
        per_contact_s = mean_s + (1.0 / p_contact - 1.0) * p.absent_attempt_s
        hours = need * per_contact_s / 3600.0
        pts = _xy(members)
        cx, cy = pts.mean(axis=0)
        radius = float(np.hypot(pts[:, 0] - cx, pts[:, 1] - cy).max())
        units_k = pd.Series(unit_of[m]).value_counts()
        unit_ids = [str(u) for u in units_k.index if str(u) not in ("", "nan", "None")]
        names = [str(unit_info["name"].get(u, u)) for u in unit_ids]
        dens = [float(unit_info["density"].get(u, np.nan)) for u in unit_ids]
        weights = units_k.reindex(unit_ids).to_numpy(float)
        finite = np.isfinite(dens)
        density = (
            float(np.average(np.asarray(dens)[finite], weights=weights[finite]))
            if finite.any()
            else float("nan")
        )
        koban_votes = [unit_info["koban"].get(u) for u in unit_ids]
        koban_id = next((kb for kb in koban_votes if kb), None) or _nearest_koban(koban, cx, cy)
        complexes = sorted(
            {str(c) for c in members.get("complex_id", pd.Series(dtype=object)).dropna()}
            - {"", "nan", "None"}
        )
        hull = shapely.convex_hull(shapely.MultiPoint(pts)).buffer(25.0)
        lon, lat = to_lonlat.transform(cx, cy)
        rows.append(
            {
                "k": k,
                "name": (names[0] if names else f"({cx:.0f}, {cy:.0f})")
                + (f" {'/'.join(complexes)}団地" if complexes else ""),
                "koban_id": koban_id,
                "x": float(cx),
                "y": float(cy),
                "lon": float(lon),
                "lat": float(lat),
                "radius_m": radius,
                "building_ids": sorted(members["building_id"].astype(str)),
                "complex_ids": complexes,
                "unit_ids": unit_ids,
                "unit_names": names,
                "density_per_km2": density,
                "buildings": len(members),
                "highrise_buildings": int(members["highrise"].sum()),
                "large_buildings": int(members["large"].sum()),
                "complex_buildings": int(members["in_complex"].sum()),
                "max_floors": int(members["floors"].max()),
                "dwellings": int(members["units"].sum()),
                "households": n_occ,
                "backlog": backlog,
                "stale": stale,
                "current": current,
                "absence_rate": absence_rate,
                "contacts_needed": need,
                "hours_needed": hours,
                "hours_per_week": hours / p.period_weeks,
                "officers_needed": math.ceil(
                    hours / p.period_weeks / (p.full_time_days_per_week * p.liaison_hours_per_day)
                    - 1e-9
                ),
                "geometry": hull,
            }
        )
    table = pd.DataFrame(rows)
    score = np.zeros(len(table))
    for col, w in (
        ("backlog", p.weight_backlog),
        ("absence_rate", p.weight_absence),
        ("hours_needed", p.weight_hours),
    ):
        top = float(table[col].max())
        if top > 0:
            score += w * table[col].to_numpy(float) / top
    table["score"] = score / (p.weight_backlog + p.weight_absence + p.weight_hours)
    # Ties: more households first, then the first-found cluster.
    table = table.sort_values(["score", "households", "k"], ascending=[False, False, True])
    districts: list[District] = []
    for rank, record in enumerate(table.to_dict("records"), start=1):
        row = {str(key): value for key, value in record.items() if key != "k"}
        d = District(district_id=f"D{rank:02d}", rank=rank, reasons=[], **row)
        d.reasons = _reasons(d, p, cls.params)
        districts.append(d)
    notes.append(
        f"{len(diff)} difficult buildings in {len(districts)} districts "
        f"(linked within {p.cluster_distance_m:g} m)"
    )
    return DistrictSearch(districts, cls, p, notes)


def _reasons(d: District, p: SpecialistParams, bp: BuildingParams) -> list[dict[str, Any]]:
    """Why a district is difficult, as codes with values and a sentence each."""
    out: list[dict[str, Any]] = []
    share = d.backlog / d.households if d.households else 0.0
    out.append(
        {
            "code": "backlog",
            "value": d.backlog,
            "text": f"{d.backlog} 未把握 of {d.households} occupied households ({share:.0%})",
        }
    )
    out.append(
        {
            "code": "absence",
            "value": round(d.absence_rate, 4),
            "text": f"{d.absence_rate:.0%} of visits found nobody home (不在)",
        }
    )
    out.append(
        {
            "code": "hours",
            "value": round(d.hours_needed, 1),
            "text": f"{d.hours_needed:.0f} h ({d.contacts_needed} contacts) to reach "
            f"{p.target_coverage:.0%} current cards in {p.period_weeks} weeks: "
            f"{d.hours_per_week:.1f} h/week",
        }
    )
    if d.highrise_buildings:
        out.append(
            {
                "code": "highrise",
                "value": d.highrise_buildings,
                "text": f"{d.highrise_buildings} building(s) of >= {bp.highrise_min_floors} "
                f"floors (up to {d.max_floors})",
            }
        )
    if d.large_buildings:
        out.append(
            {
                "code": "large",
                "value": d.large_buildings,
                "text": f"{d.large_buildings} building(s) of >= {bp.large_min_units} dwellings",
            }
        )
    if d.complex_buildings:
        out.append(
            {
                "code": "complex",
                "value": d.complex_buildings,
                "text": f"{d.complex_buildings} building(s) of 団地 {', '.join(d.complex_ids)}",
            }
        )
    if math.isfinite(d.density_per_km2):
        out.append(
            {
                "code": "density",
                "value": round(d.density_per_km2, 1),
                "text": f"{d.density_per_km2:,.0f} households/km² in its census areas",
            }
        )
    return out


def _unit_table(units: gpd.GeoDataFrame | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"name": {}, "density": {}, "koban": {}}
    if units is None or "unit_id" not in units.columns:
        return out
    ids = units["unit_id"].astype(str)
    if "name" in units.columns:
        out["name"] = dict(zip(ids, units["name"].astype(str), strict=True))
    if "density_per_km2" in units.columns:
        out["density"] = dict(
            zip(ids, pd.to_numeric(units["density_per_km2"], errors="coerce"), strict=True)
        )
    if "koban_id" in units.columns:
        kb = units["koban_id"].astype(object).where(units["koban_id"].notna(), None)
        out["koban"] = {
            i: (str(k) if k is not None else None) for i, k in zip(ids, kb, strict=True)
        }
    return out


def _units_by_location(hh: gpd.GeoDataFrame, units: gpd.GeoDataFrame | None) -> np.ndarray:
    if units is None or "unit_id" not in units.columns or hh.empty:
        return np.full(len(hh), "", dtype=object)
    from ..units import unit_of_points

    u = units.to_crs(hh.crs) if units.crs != hh.crs else units
    idx = unit_of_points(u.geometry.to_numpy(), hh.geometry.to_numpy())
    ids = u["unit_id"].astype(str).to_numpy()
    return np.where(idx >= 0, ids[np.maximum(idx, 0)], "")


def _nearest_koban(koban: gpd.GeoDataFrame | None, x: float, y: float) -> str | None:
    if koban is None or koban.empty or "koban_id" not in koban.columns:
        return None
    d = np.hypot(koban.geometry.x.to_numpy() - x, koban.geometry.y.to_numpy() - y)
    return str(koban["koban_id"].iloc[int(np.argmin(d))])


def _lonlat_transformer(crs: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def districts_frame(
    districts: Sequence[District],
    crs: Any,
    recommendation: Recommendation | None = None,
) -> gpd.GeoDataFrame:
    """Districts as polygons (hull of their buildings + 25 m) for maps.

    Columns ``rank``, ``district_id``, ``name``, ``hours`` (per week),
    ``backlog``, ``households`` and ``officers`` (assigned ids, from
    ``recommendation``), ready for :func:`junkai_geo.render.districts_map`.
    """
    import geopandas as gpd

    assigned: dict[str, list[str]] = {}
    if recommendation is not None:
        for a in recommendation.assignments:
            assigned.setdefault(a.district_id, []).append(f"{a.officer_id} ({a.days_per_week} d)")
    return gpd.GeoDataFrame(
        {
            "rank": [d.rank for d in districts],
            "district_id": [d.district_id for d in districts],
            "name": [d.name for d in districts],
            "hours": [round(d.hours_per_week, 1) for d in districts],
            "backlog": [d.backlog for d in districts],
            "households": [d.households for d in districts],
            "officers": [", ".join(assigned.get(d.district_id, [])) or "-" for d in districts],
        },
        geometry=[d.geometry for d in districts],
        crs=crs,
    )
