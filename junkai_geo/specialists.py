"""巡回連絡専従員: difficult districts, how many officers each needs and who, their rounds.

Where large 団地 or high-rise housing make patrol liaison "significantly
difficult", the manager designates dedicated officers (専従員) or several
officers. This module:

1. finds the **difficult districts** (:func:`find_specialist_districts`):
   buildings that are high-rise, large or part of a complex
   (:func:`junkai_geo.buildings.classify_buildings`) are joined into one
   district when they stand within ``cluster_distance_m`` of each other
   (connected components of the "closer than" graph, single linkage, as
   DBSCAN with ``min_samples = 1``; buildings of one complex always share a
   district). Each district is ranked by its backlog (未把握 households), its
   contact difficulty (share of absent visits) and the hours needed to bring
   it to ``target_coverage`` within ``period_weeks``, with reasons;
2. **recommends** officers (:func:`recommend_specialists`): officer-days per
   week from the officers that can be spared, found with OR-Tools CP-SAT,
   first covering as many district hours as possible, then preferring
   officers close to the district; several officers share a district larger
   than one officer's capacity; no officer exceeds his days. What stays
   uncovered is reported per district with its reason;
3. plans **specialist rounds** (:func:`plan_specialist_rounds`): day plans
   inside a district (building by building, floor by floor: one routing node
   per building and floor chunk) with :func:`junkai_geo.routing.plan_day`, on
   weekends and holidays first, and in the evening on weekdays with a night
   approval.

:func:`recommend_for_dataset` runs the whole chain on a :class:`Dataset`.
docs/specialists.md gives the model and every default.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .buildings import BuildingClassification, BuildingParams, classify_buildings
from .errors import InputError, ParameterError, Problem, SolverError
from .settings import WorkloadParams, check_positive

if TYPE_CHECKING:
    import geopandas as gpd

    from .model import Dataset
    from .routing import DayPlan, NightApproval


@dataclass(frozen=True)
class SpecialistParams:
    """Every number of the 専従員 model, with units in the names.

    Attributes
    ----------
    cluster_distance_m
        Difficult buildings closer than this are one district.
    target_coverage
        Share of a district's occupied households that should hold a
        current card at the end of the period.
    period_weeks
        The period in which the target should be reached.
    absent_attempt_s
        Time of a failed attempt (ringing, leaving a 受持カード).
    min_p_contact
        Floor of the chance of contact per attempt (1 - absence rate).
    liaison_hours_per_day
        Hours of liaison in one officer-day inside a district.
    full_time_days_per_week
        Days per week of a full-time 専従員 (to say how many a district needs).
    default_days_per_week
        Days per week of a spared officer when none is given.
    max_officer_distance_m
        Officers whose koban is farther than this from a district are not
        assigned to it.
    weight_backlog, weight_absence, weight_hours
        Weights of the three ranking criteria, each scaled to [0, 1] by its
        largest value among the districts.
    solver_time_limit_s
        CP-SAT time limit of each of the two solver phases.
    weekend_windows, weekday_windows, evening_window
        Windows of specialist rounds: weekends and holidays, weekdays, and
        the evening window used on a weekday with a night approval.
    walk_max_distance_m
        An officer whose koban is farther from the district rides a bicycle
        on his rounds (its speed is then used inside the district too: a
        small optimism, the buildings being close together).
    round_search_days
        Round days are picked in this many days from the start, weekends
        and holidays first.
    round_time_limit_s
        :func:`plan_day` time limit of each round day.
    """

    cluster_distance_m: float = 150.0
    target_coverage: float = 0.9
    period_weeks: int = 13
    absent_attempt_s: int = 180
    min_p_contact: float = 0.2
    liaison_hours_per_day: float = 5.0
    full_time_days_per_week: int = 5
    default_days_per_week: int = 5
    max_officer_distance_m: float = 8000.0
    weight_backlog: float = 0.4
    weight_absence: float = 0.2
    weight_hours: float = 0.4
    solver_time_limit_s: float = 10.0
    weekend_windows: tuple[str, ...] = ("10:00-12:00", "13:00-17:00")
    weekday_windows: tuple[str, ...] = ("14:00-17:00",)
    evening_window: str = "18:00-20:00"
    walk_max_distance_m: float = 1500.0
    round_search_days: int = 14
    round_time_limit_s: float = 2.0

    def __post_init__(self) -> None:
        check_positive(
            self,
            "cluster_distance_m",
            "target_coverage",
            "period_weeks",
            "absent_attempt_s",
            "min_p_contact",
            "liaison_hours_per_day",
            "full_time_days_per_week",
            "default_days_per_week",
            "max_officer_distance_m",
            "solver_time_limit_s",
            "walk_max_distance_m",
            "round_search_days",
            "round_time_limit_s",
        )
        for name in ("target_coverage", "min_p_contact"):
            if getattr(self, name) > 1:
                raise ParameterError(
                    f"SpecialistParams.{name}: found {getattr(self, name)!r}; "
                    "expected a share in (0, 1]"
                )
        if self.liaison_hours_per_day > 24:
            raise ParameterError(
                f"SpecialistParams.liaison_hours_per_day: found {self.liaison_hours_per_day!r}; "
                "expected hours in (0, 24]"
            )
        for name in ("full_time_days_per_week", "default_days_per_week"):
            value = getattr(self, name)
            if not isinstance(value, int) or value > 7:
                raise ParameterError(
                    f"SpecialistParams.{name}: found {value!r}; expected whole days in 1..7"
                )
        weights = (self.weight_backlog, self.weight_absence, self.weight_hours)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ParameterError(
                f"SpecialistParams weights: found {weights!r}; expected numbers >= 0, not all 0"
            )
        from .routing import parse_window

        object.__setattr__(self, "weekend_windows", tuple(self.weekend_windows))
        object.__setattr__(self, "weekday_windows", tuple(self.weekday_windows))
        for name in ("weekend_windows", "weekday_windows"):
            for w in getattr(self, name):
                parse_window(w, f"SpecialistParams.{name}")
        parse_window(self.evening_window, "SpecialistParams.evening_window")


# ----------------------------------------------------------------------------
# districts


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
    ids: np.ndarray, visits: pd.DataFrame | None, cards: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Absent and answered attempts per household (from visits, else from cards)."""
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

    from .workload import household_workload_s

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
    absent, answered = _absence_by_household(hid, visits, card_ix)
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
    from .units import unit_of_points

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


# ----------------------------------------------------------------------------
# recommendation


@dataclass(frozen=True)
class SpareOfficer:
    """An officer who can be spared for district work, from his koban."""

    officer_id: str
    koban_id: str
    x: float
    y: float
    days_per_week: int

    def __post_init__(self) -> None:
        if not isinstance(self.days_per_week, int) or not 0 <= self.days_per_week <= 7:
            raise ParameterError(
                f"officer {self.officer_id}: days_per_week found {self.days_per_week!r}; "
                "expected whole days in 0..7"
            )


@dataclass(frozen=True)
class Assignment:
    """``officer_id`` works ``days_per_week`` days a week in ``district_id``."""

    officer_id: str
    district_id: str
    days_per_week: int
    hours_per_week: float
    distance_m: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "district_id": self.district_id,
            "days_per_week": self.days_per_week,
            "hours_per_week": round(float(self.hours_per_week), 2),
            "distance_m": round(float(self.distance_m), 1),
        }


@dataclass
class DistrictCoverage:
    """What the recommendation does for one district."""

    district_id: str
    rank: int
    demand_h_per_week: float
    covered_h_per_week: float
    uncovered_h_per_week: float
    officers_needed: int
    officers: list[str]
    reason_uncovered: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "district_id": self.district_id,
            "rank": self.rank,
            "demand_h_per_week": round(self.demand_h_per_week, 2),
            "covered_h_per_week": round(self.covered_h_per_week, 2),
            "uncovered_h_per_week": round(self.uncovered_h_per_week, 2),
            "officers_needed": self.officers_needed,
            "officers": list(self.officers),
            "reason_uncovered": self.reason_uncovered,
        }


@dataclass
class Recommendation:
    """Officer-days per week per district, and what stays uncovered.

    ``status`` is ``optimal`` when CP-SAT proved both phases optimal,
    ``feasible`` when a time limit stopped it first (then ``notes`` say so).
    """

    assignments: list[Assignment]
    districts: list[DistrictCoverage]
    idle_days: dict[str, int]
    status: str
    covered_min_per_week: int
    distance_cost: int
    notes: list[str]
    time_s: float

    def totals(self) -> dict[str, Any]:
        demand = sum(d.demand_h_per_week for d in self.districts)
        covered = sum(d.covered_h_per_week for d in self.districts)
        return {
            "demand_h_per_week": round(demand, 2),
            "covered_h_per_week": round(covered, 2),
            "uncovered_h_per_week": round(demand - covered, 2),
            "covered_share": round(covered / demand, 4) if demand else 1.0,
            "assigned_officer_days": sum(a.days_per_week for a in self.assignments),
            "idle_officer_days": sum(self.idle_days.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "totals": self.totals(),
            "assignments": [a.to_dict() for a in self.assignments],
            "districts": [d.to_dict() for d in self.districts],
            "idle_days": dict(sorted(self.idle_days.items())),
            "notes": list(self.notes),
            "time_s": round(self.time_s, 3),
        }


def _minutes(hours: float) -> int:
    return int(round(hours * 60))


def assignment_objective(
    districts: Sequence[District],
    officers: Sequence[SpareOfficer],
    days: Mapping[tuple[str, str], int],
    params: SpecialistParams | None = None,
) -> tuple[int, int]:
    """(covered minutes per week, distance cost) of an allocation of officer-days.

    The two objectives :func:`recommend_specialists` optimises in order:
    covered minutes (larger is better), then the distance cost (smaller):
    per officer-day, the koban-to-district distance in 10 m steps plus 1
    (so a day that covers nothing is never given).
    """
    p = params or SpecialistParams()
    day_min = _minutes(p.liaison_hours_per_day)
    covered = 0
    cost = 0
    by_id = {o.officer_id: o for o in officers}
    for d in districts:
        given = sum(v for (o, k), v in days.items() if k == d.district_id)
        covered += min(_minutes(d.hours_per_week), day_min * given)
    for (o, k), v in days.items():
        dist = next(x for x in districts if x.district_id == k)
        cost += v * _cost(by_id[o], dist)
    return covered, cost


def _distance(o: SpareOfficer, d: District) -> float:
    return float(math.hypot(o.x - d.x, o.y - d.y))


def _cost(o: SpareOfficer, d: District) -> int:
    return int(round(_distance(o, d) / 10.0)) + 1


def recommend_specialists(
    districts: Sequence[District],
    officers: Sequence[SpareOfficer],
    *,
    params: SpecialistParams | None = None,
    workers: int = 1,
) -> Recommendation:
    """Officer-days per week for each district, with CP-SAT.

    Model: integer ``x[o, d]`` days per week officer ``o`` gives district
    ``d`` (only when his koban is within ``max_officer_distance_m``);
    ``sum_d x[o, d] <= days_per_week[o]``. With ``n_d = sum_o x[o, d]`` and
    the demand ``full_d`` whole days plus ``rem_d`` minutes, a district is
    covered ``day * n_d - (day - rem_d) * y_d`` minutes under ``n_d <=
    full_d + y_d`` (``y_d`` in {0, 1}: a last, partial day is given).
    Phase 1 maximises the covered minutes; phase 2 keeps them and minimises
    the distance cost of :func:`assignment_objective`.

    Raises
    ------
    ProblemError
        Duplicate officer or district ids.
    SolverError
        CP-SAT found no solution (it always should: nothing assigned is one).
    """
    from ortools.sat.python import cp_model

    from .errors import ProblemError

    t0 = time.perf_counter()
    p = params or SpecialistParams()
    if len({o.officer_id for o in officers}) != len(officers):
        raise ProblemError("officers", "officer ids repeat; expected each officer once")
    if len({d.district_id for d in districts}) != len(districts):
        raise ProblemError("districts", "district ids repeat; expected each district once")
    day_min = _minutes(p.liaison_hours_per_day)
    demand = [_minutes(d.hours_per_week) for d in districts]
    notes: list[str] = []
    pairs: dict[tuple[int, int], Any] = {}

    def build() -> tuple[Any, dict[tuple[int, int], Any], list[Any]]:
        model = cp_model.CpModel()
        x: dict[tuple[int, int], Any] = {}
        for i, o in enumerate(officers):
            for j, d in enumerate(districts):
                if o.days_per_week == 0 or demand[j] == 0:
                    continue
                if _distance(o, d) > p.max_officer_distance_m:
                    continue
                # More days than the district can use never help.
                ub = min(o.days_per_week, math.ceil(demand[j] / day_min))
                x[(i, j)] = model.new_int_var(0, ub, f"x_{i}_{j}")
        # Covered minutes of district j with n_j days: day_min * min(n_j, full_j)
        # plus rem_j when a last, partial day is given (y_j). Written linearly:
        # n_j <= full_j + y_j and cover = day_min * n_j - (day_min - rem_j) * y_j.
        cov: list[Any] = []
        for j in range(len(districts)):
            given = [x[(i, jj)] for (i, jj) in x if jj == j]
            if not given:
                continue
            n_j = sum(given)
            full, rem = divmod(demand[j], day_min)
            if rem == 0:
                model.add(n_j <= full)
                cov.append(day_min * n_j)
            else:
                y = model.new_bool_var(f"y_{j}")
                model.add(n_j <= full + y)
                cov.append(day_min * n_j - (day_min - rem) * y)
        for i, o in enumerate(officers):
            mine = [x[(ii, j)] for (ii, j) in x if ii == i]
            if mine:
                model.add(sum(mine) <= o.days_per_week)
        return model, x, cov

    def solve(model: Any) -> tuple[Any, Any]:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = p.solver_time_limit_s
        solver.parameters.num_workers = max(1, int(workers))
        solver.parameters.random_seed = 0
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise SolverError(f"CP-SAT: status {solver.status_name(status)}; expected a solution")
        return solver, status

    model, x, cov = build()
    model.maximize(sum(cov))
    s1, st1 = solve(model)
    best = int(round(s1.objective_value))
    model2, x2, cov2 = build()
    model2.add(sum(cov2) >= best)
    model2.minimize(sum(v * _cost(officers[i], districts[j]) for (i, j), v in x2.items()))
    # Start phase 2 from phase 1's answer, which meets its coverage constraint.
    for key, v in x2.items():
        model2.add_hint(v, int(s1.value(x[key])))
    s2, st2 = solve(model2)
    pairs = x2
    optimal = st1 == cp_model.OPTIMAL and st2 == cp_model.OPTIMAL
    if not optimal:
        notes.append(
            f"CP-SAT stopped at the {p.solver_time_limit_s:g} s limit before proving optimality"
        )
    assignments: list[Assignment] = []
    given_days = np.zeros(len(districts), dtype=np.int64)
    used = np.zeros(len(officers), dtype=np.int64)
    for (i, j), v in sorted(pairs.items()):
        days = int(s2.value(v))
        if days <= 0:
            continue
        o, d = officers[i], districts[j]
        given_days[j] += days
        used[i] += days
        share = min(days * day_min, demand[j]) / 60.0
        assignments.append(Assignment(o.officer_id, d.district_id, days, share, _distance(o, d)))
    coverage: list[DistrictCoverage] = []
    reachable = {j for (_, j) in pairs}
    for j, d in enumerate(districts):
        # From the days given, so a time-limited answer is reported as it is.
        covered_min = min(demand[j], day_min * int(given_days[j]))
        gap = demand[j] - covered_min
        reason = None
        if gap > 0:
            reason = (
                f"no spare officer's koban within {p.max_officer_distance_m:g} m"
                if j not in reachable
                else "spare officers' days are used up (or closer to other districts)"
            )
        # Hours per assignment: split the district's covered time by days.
        for k, a in enumerate(assignments):
            if a.district_id == d.district_id and given_days[j]:
                assignments[k] = Assignment(
                    a.officer_id,
                    a.district_id,
                    a.days_per_week,
                    covered_min / 60.0 * a.days_per_week / given_days[j],
                    a.distance_m,
                )
        coverage.append(
            DistrictCoverage(
                district_id=d.district_id,
                rank=d.rank,
                demand_h_per_week=demand[j] / 60.0,
                covered_h_per_week=covered_min / 60.0,
                uncovered_h_per_week=gap / 60.0,
                officers_needed=d.officers_needed,
                officers=[a.officer_id for a in assignments if a.district_id == d.district_id],
                reason_uncovered=reason,
            )
        )
    idle = {o.officer_id: int(o.days_per_week - used[i]) for i, o in enumerate(officers)}
    far = [o.officer_id for i, o in enumerate(officers) if not any(ii == i for ii, _ in pairs)]
    if far:
        notes.append(
            f"officer(s) {', '.join(far)} have no district within "
            f"{p.max_officer_distance_m:g} m of their koban"
        )
    return Recommendation(
        assignments=assignments,
        districts=coverage,
        idle_days=idle,
        status="optimal" if optimal else "feasible",
        covered_min_per_week=int(
            sum(min(dm, day_min * int(g)) for dm, g in zip(demand, given_days, strict=True))
        ),
        distance_cost=int(round(s2.objective_value)),
        notes=notes,
        time_s=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------
# specialist rounds


def round_days(
    start: date,
    n_days: int,
    *,
    params: SpecialistParams | None = None,
    focus_days: Iterable[date] = (),
    evening_days: Iterable[date] = (),
) -> list[date]:
    """The ``n_days`` days of rounds from ``start``: when residents are home.

    Within ``round_search_days`` days: weekends, public holidays and focus
    days (巡回連絡強化日) first, then weekdays with an evening approval,
    then other weekdays; returned in date order.
    """
    from .priorities import day_type

    p = params or SpecialistParams()
    focus = frozenset(focus_days)
    evening = frozenset(evening_days)
    cands = [start + timedelta(days=i) for i in range(p.round_search_days)]

    def key(d: date) -> tuple[int, date]:
        if day_type(d, focus_days=focus) == "weekend_or_holiday":
            return 0, d
        return (1 if d in evening else 2), d

    return sorted(sorted(cands, key=key)[: max(0, int(n_days))])


def plan_specialist_rounds(
    district: District,
    officer: SpareOfficer,
    *,
    households: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    cards: pd.DataFrame,
    visits: pd.DataFrame | None,
    start: date,
    days: int = 1,
    night_approvals: Sequence[NightApproval] = (),
    focus_days: Iterable[date] = (),
    params: SpecialistParams | None = None,
    route_params: Any = None,
    seed: int = 0,
    exclude: Sequence[str] = (),
) -> list[DayPlan]:
    """Day plans of one officer inside one district, on the days residents are home.

    Days come from :func:`round_days`. On weekends and holidays the plan
    uses ``weekend_windows``; on weekdays ``weekday_windows`` plus
    ``evening_window`` when ``night_approvals`` holds an approval for the
    officer and day. Only the district's households are candidates; each
    routing node is a building (split by floors when large), so the route
    goes building by building and, inside, floor by floor. A household
    planned on one day is not planned again on a later one, nor are the
    ``exclude`` households (for example those of another officer's round).
    """
    from .routing import DayRequest, RouteParams, build_day_problem_from_frames, plan_day

    p = params or SpecialistParams()
    focus = tuple(focus_days)
    approvals = {a.date: a for a in night_approvals if a.officer_id == officer.officer_id}
    ids = set(district.building_ids)
    mine = households[households["building_id"].astype(str).isin(ids)]
    blds = (
        buildings[buildings["building_id"].astype(str).isin(ids)] if buildings is not None else None
    )
    hv = (
        visits[visits["household_id"].astype(str).isin(set(mine["household_id"].astype(str)))]
        if visits is not None
        else None
    )
    plans: list[DayPlan] = []
    done: list[str] = list(exclude)
    mode = "walk" if _distance(officer, district) <= p.walk_max_distance_m else "bicycle"
    from .priorities import day_type

    for on in round_days(start, days, params=p, focus_days=focus, evening_days=approvals):
        weekend = day_type(on, focus_days=focus) == "weekend_or_holiday"
        approval = approvals.get(on)
        windows = list(p.weekend_windows if weekend else p.weekday_windows)
        if approval is not None and not weekend:
            windows.append(p.evening_window)
        problem = build_day_problem_from_frames(
            DayRequest(
                officer_id=officer.officer_id,
                on=on,
                windows=tuple(windows),
                night_approval=approval,
                exclude=tuple(done),
                focus_days=focus,
                params=route_params or RouteParams(),
            ),
            officer={"officer_id": officer.officer_id, "koban_id": officer.koban_id, "mode": mode},
            households=mine,
            buildings=blds,
            cards=cards,
            visits=hv,
            start_xy=(officer.x, officer.y),
            start_label=f"koban {officer.koban_id}",
        )
        plan = plan_day(problem, time_limit_s=p.round_time_limit_s, seed=seed)
        plan.notes.append(
            f"specialist round in {district.district_id} {district.name} "
            f"({'weekend/holiday' if weekend else 'weekday'})"
        )
        done.extend(plan.household_ids)
        plans.append(plan)
    return plans


# ----------------------------------------------------------------------------
# the whole chain on a dataset


@dataclass
class SpecialistReport:
    """Top districts, the recommended officers, and sample specialist rounds."""

    today: date
    districts: list[District]
    districts_total: int
    buildings: dict[str, Any]
    officers: list[SpareOfficer]
    recommendation: Recommendation
    rounds: list[DayPlan]
    params: SpecialistParams
    notes: list[str]
    time_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "districts_total": self.districts_total,
            "districts": [d.to_dict() for d in self.districts],
            "buildings": self.buildings,
            "officers": [
                asdict(o) | {"x": round(o.x, 1), "y": round(o.y, 1)} for o in self.officers
            ],
            "recommendation": self.recommendation.to_dict(),
            "rounds": [r.to_dict() for r in self.rounds],
            "params": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.params).items()
            },
            "notes": list(self.notes),
            "time_s": round(self.time_s, 2),
        }

    def summary(self) -> str:
        """Readable lines for the command line."""
        p = self.params
        lines = [
            f"専従員 districts as of {self.today.isoformat()}: top {len(self.districts)} of "
            f"{self.districts_total} (target {p.target_coverage:.0%} current cards in "
            f"{p.period_weeks} weeks, {p.liaison_hours_per_day:g} h of liaison per officer-day)",
            f"{'rank':>4} {'id':<4} {'name':<22} {'koban':<5} {'bldg':>4} {'hh':>5} "
            f"{'未把握':>5} {'absent':>6} {'h/week':>7} {'need':>4}",
        ]
        for d in self.districts:
            lines.append(
                f"{d.rank:>4} {d.district_id:<4} {d.name[:22]:<22} {d.koban_id or '-':<5} "
                f"{d.buildings:>4} {d.households:>5} {d.backlog:>7} {d.absence_rate:>6.0%} "
                f"{d.hours_per_week:>7.1f} {d.officers_needed:>4}"
            )
            lines.append("       " + "; ".join(r["text"] for r in d.reasons[3:]))
        rec = self.recommendation
        t = rec.totals()
        lines.append(
            f"recommendation ({rec.status}): {t['covered_h_per_week']:.1f} of "
            f"{t['demand_h_per_week']:.1f} h/week covered, {t['uncovered_h_per_week']:.1f} "
            f"uncovered; {t['assigned_officer_days']} officer-days assigned, "
            f"{t['idle_officer_days']} idle"
        )
        for c in rec.districts:
            who = ", ".join(
                f"{a.officer_id} {a.days_per_week} d ({a.distance_m / 1000:.1f} km)"
                for a in rec.assignments
                if a.district_id == c.district_id
            )
            lines.append(
                f"  {c.district_id}: {who or 'nobody'}"
                + (
                    f"; uncovered {c.uncovered_h_per_week:.1f} h/week: {c.reason_uncovered}"
                    if c.reason_uncovered
                    else ""
                )
            )
        for plan in self.rounds:
            lines.append(plan.summary())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def spare_officers(
    dataset: Dataset,
    days: Mapping[str, int] | None = None,
    *,
    params: SpecialistParams | None = None,
) -> list[SpareOfficer]:
    """Officers that can be spared, placed at their koban.

    ``days`` maps officer ids to days per week; without it every officer of
    role ``specialist`` gets ``default_days_per_week``.

    Raises
    ------
    InputError
        An unknown officer id, or an officer whose koban is not in the data.
    """
    p = params or SpecialistParams()
    officers = dataset.officers
    koban = dataset.koban
    if officers is None or koban is None:
        raise InputError(
            Problem("dataset", None, "officers/koban", "missing layer",
                    "officers and koban layers", "missing_layer")
        )  # fmt: skip
    by_id = officers.set_index(officers["officer_id"].astype(str))
    if days is None:
        chosen = by_id[by_id["role"].astype(str) == "specialist"].index.tolist()
        days = dict.fromkeys(chosen, p.default_days_per_week)
    kxy = {
        str(k): (float(g.x), float(g.y))
        for k, g in zip(koban["koban_id"], koban.geometry, strict=True)
    }
    problems: list[Problem] = []
    out: list[SpareOfficer] = []
    for oid, n in days.items():
        if oid not in by_id.index:
            problems.append(
                Problem("officers", None, "officer_id", repr(oid),
                        f"one of the {len(by_id)} officers of the data", "unknown_officer")
            )  # fmt: skip
            continue
        kid = str(by_id.loc[oid, "koban_id"])
        if kid not in kxy:
            problems.append(
                Problem("officers", oid, "koban_id", repr(kid), "a koban of the data", "unknown_koban")
            )  # fmt: skip
            continue
        try:
            out.append(SpareOfficer(oid, kid, *kxy[kid], days_per_week=n))
        except ParameterError as exc:
            problems.append(
                Problem("officers", oid, "days_per_week", repr(n), str(exc), "bad_days")
            )
    if problems:
        raise InputError(problems)
    return out


def recommend_for_dataset(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    today: date,
    top: int = 5,
    officers: Sequence[SpareOfficer] | Mapping[str, int] | None = None,
    params: SpecialistParams | None = None,
    building_params: BuildingParams | None = None,
    workload_params: WorkloadParams | None = None,
    rounds: bool = True,
    round_days_per_officer: int = 1,
    night_approvals: Sequence[NightApproval] = (),
    seed: int = 0,
) -> SpecialistReport:
    """Districts, recommendation and rounds on a whole dataset.

    Parameters
    ----------
    dataset
        Layers in a metric CRS (buildings, households, units, koban,
        officers, visits), for example :func:`junkai_geo.bundled.load_kanazawa`.
    cards
        :func:`junkai_geo.cards.card_table` of the households at ``today``.
    top
        Districts reported and staffed (the most difficult ``top``).
    officers
        Spared officers (or a mapping officer id -> days per week); default
        the dataset's specialists at ``default_days_per_week``.
    rounds
        Plan ``round_days_per_officer`` day(s) of rounds for each officer
        assigned to the rank-1 district, starting the day after ``today``.
    """
    t0 = time.perf_counter()
    p = params or SpecialistParams()
    if not isinstance(top, int) or top <= 0:
        raise ParameterError(f"top: found {top!r}; expected a number of districts > 0")
    if dataset.buildings is None or dataset.households is None:
        raise InputError(
            Problem("dataset", None, "buildings/households", "missing layer",
                    "buildings and households layers", "missing_layer")
        )  # fmt: skip
    search = find_specialist_districts(
        dataset.buildings,
        dataset.households,
        cards,
        visits=dataset.visits,
        units=dataset.units,
        koban=dataset.koban,
        params=p,
        building_params=building_params,
        workload_params=workload_params,
    )
    chosen = search.districts[:top]
    spare = (
        list(officers)
        if officers is not None and not isinstance(officers, Mapping)
        else spare_officers(dataset, officers, params=p)
    )
    rec = recommend_specialists(chosen, spare, params=p)
    plans: list[DayPlan] = []
    if rounds and chosen:
        first = chosen[0]
        by_id = {o.officer_id: o for o in spare}
        # Officers sharing a district share its households, not visit them twice.
        taken: list[str] = []
        for a in rec.assignments:
            if a.district_id != first.district_id:
                continue
            plans.extend(
                plan_specialist_rounds(
                    first,
                    by_id[a.officer_id],
                    households=dataset.households,
                    buildings=dataset.buildings,
                    cards=cards,
                    visits=dataset.visits,
                    start=today + timedelta(days=1),
                    days=round_days_per_officer,
                    night_approvals=night_approvals,
                    params=p,
                    seed=seed,
                    exclude=taken,
                )
            )
            taken = [h for plan in plans for h in plan.household_ids]
    return SpecialistReport(
        today=today,
        districts=chosen,
        districts_total=len(search.districts),
        buildings=search.classification.to_dict(),
        officers=spare,
        recommendation=rec,
        rounds=plans,
        params=p,
        notes=search.notes + rec.notes,
        time_s=time.perf_counter() - t0,
    )
