"""Between the library's data (Dataset, GeoDataFrames, card rules) and rows.

Everything here runs inside the caller's transaction, so a load either
commits whole or leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import math
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from junkai_geo.model import (
    PERSONAL_FIELDS,
    CardStatus,
    Dataset,
    Outcome,
    Visit,
    add_months,
    card_state,
)
from junkai_geo.settings import ISHIKAWA_CRS, CardParams

from .db import utcnow
from .models import (
    BeatRow,
    BeatVersion,
    BuildingRow,
    HouseholdRow,
    KobanRow,
    OfficerRow,
    UnitRow,
    VisitRow,
    WorkspaceMeta,
)

if TYPE_CHECKING:
    import geopandas as gpd

LOCAL_TZ = ZoneInfo("Asia/Tokyo")
CARD_PARAMS = CardParams()


def today_local() -> date:
    return datetime.now(LOCAL_TZ).date()


@lru_cache(maxsize=64)
def stale_cutoff(today: date, months: int = CARD_PARAMS.stale_after_months) -> date:
    """The latest contact date whose card is stale on ``today``.

    ``add_months(d, months) <= today`` is monotone in ``d``, so the cards with
    ``last_contact <= stale_cutoff(today)`` are exactly the stale ones.
    """
    d = add_months(today, -months)
    while add_months(d + timedelta(days=1), months) <= today:
        d += timedelta(days=1)
    while add_months(d, months) > today:
        d -= timedelta(days=1)
    return d


def card_status_of(last_contact: date | None, today: date) -> CardStatus:
    if last_contact is None:
        return CardStatus.NONE
    return CardStatus.STALE if last_contact <= stale_cutoff(today) else CardStatus.CURRENT


def status_filter(status: CardStatus, today: date) -> ColumnElement[bool]:
    cutoff = stale_cutoff(today)
    if status is CardStatus.NONE:
        return HouseholdRow.last_contact.is_(None)
    if status is CardStatus.STALE:
        return HouseholdRow.last_contact <= cutoff
    return HouseholdRow.last_contact > cutoff


def status_case(today: date) -> Any:
    """SQL expression of the card status (for GROUP BY in the survey)."""
    return case(
        (HouseholdRow.last_contact.is_(None), CardStatus.NONE.value),
        (HouseholdRow.last_contact <= stale_cutoff(today), CardStatus.STALE.value),
        else_=CardStatus.CURRENT.value,
    )


def refresh_card(session: Session, household: HouseholdRow, today: date) -> None:
    """Recompute the household's card fields from all of its visits."""
    rows = session.execute(
        select(
            VisitRow.visit_id,
            VisitRow.officer_id,
            VisitRow.visited_on,
            VisitRow.time,
            VisitRow.outcome,
        ).where(VisitRow.household_id == household.household_id)
    ).all()
    visits = [Visit(v, household.household_id, o, d, t, Outcome(out)) for v, o, d, t, out in rows]
    state = card_state(visits, today, stale_after_months=CARD_PARAMS.stale_after_months)
    household.occupancy = state.occupancy.value
    household.last_contact = state.last_contact
    household.absences = state.absences
    household.visit_count = state.visits


# --- the workspace's own settings -------------------------------------------

#: (engine id, url) -> metric CRS; the CRS is set once, by the first spatial import.
_CRS_CACHE: dict[tuple[int, str], str] = {}


def get_meta(session: Session, key: str) -> str | None:
    """A value of ``workspace_meta`` (None when unset)."""
    row = session.get(WorkspaceMeta, key)
    return None if row is None else row.value


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(WorkspaceMeta, key)
    if row is None:
        session.add(WorkspaceMeta(key=key, value=value))
    else:
        row.value = value
    session.flush()
    _CRS_CACHE.clear()


def workspace_crs(session: Session) -> str:
    """The metric CRS of the workspace's ``x`` / ``y`` (EPSG:6675 until data sets one)."""
    bind = session.get_bind()
    key = (id(bind), str(bind.engine.url))
    crs = _CRS_CACHE.get(key)
    if crs is None:
        crs = get_meta(session, "crs")
        if crs is None:
            return ISHIKAWA_CRS
        _CRS_CACHE[key] = crs
    return crs


def ensure_crs(session: Session, frame: Any) -> str:
    """The workspace's CRS, set from ``frame`` (a metric GeoDataFrame) when the
    workspace holds no point or polygon yet."""
    if get_meta(session, "crs") is None:
        empty = not any(
            session.scalar(select(model).limit(1)) is not None
            for model in (HouseholdRow, KobanRow, BuildingRow, BeatRow, UnitRow)
        )
        crs = getattr(frame, "crs", None)
        if empty and crs is not None and crs.is_projected:
            set_meta(session, "crs", crs.to_string())
        else:
            set_meta(session, "crs", ISHIKAWA_CRS)
        if session.get_bind().dialect.name == "postgresql":
            from .geom_srid import set_point_srid

            # PostGIS points carry the workspace's CRS (api/geom_srid.py).
            set_point_srid(session, workspace_crs(session))
    return workspace_crs(session)


# --- loading GeoDataFrames --------------------------------------------------


def _lonlat_xy(
    gdf: gpd.GeoDataFrame, crs: str = ISHIKAWA_CRS
) -> tuple[list[float], list[float], list[float], list[float]]:
    """(lon, lat, x, y) of point geometries (a polygon gives its representative point)."""
    geom = gdf.geometry
    if not all(geom.geom_type == "Point"):
        geom = geom.representative_point()
    metric = geom.to_crs(crs) if gdf.crs is not None else geom
    wgs = geom.to_crs("EPSG:4326") if gdf.crs is not None else geom
    return list(wgs.x), list(wgs.y), list(metric.x), list(metric.y)


def _clean(value: Any) -> Any:
    """NaN / NaT / numpy scalars to plain Python."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    try:
        if value is pd.NaT or (not isinstance(value, str | bytes) and pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _text(value: Any, default: str = "") -> str:
    value = _clean(value)
    return default if value is None else str(value)


def _opt_text(value: Any) -> str | None:
    value = _clean(value)
    return None if value is None or value == "" else str(value)


def _int(value: Any, default: int) -> int:
    value = _clean(value)
    return default if value is None else int(value)


def _date(value: Any) -> date | None:
    value = _clean(value)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


CHUNK = 5000


def _existing_ids(session: Session, column: Any, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(ids), CHUNK):
        found.update(session.scalars(select(column).where(column.in_(ids[i : i + CHUNK]))))
    return found


def _upsert(
    session: Session,
    model: Any,
    key: str,
    rows: list[dict[str, Any]],
    *,
    keep_on_update: tuple[str, ...] = (),
) -> int:
    """Insert new rows and update existing ones (by primary key), in bulk."""
    if not rows:
        return 0
    ids = [r[key] for r in rows]
    existing = _existing_ids(session, getattr(model, key), ids)
    fresh = [r for r in rows if r[key] not in existing]
    old = [
        {k: v for k, v in r.items() if k not in keep_on_update} for r in rows if r[key] in existing
    ]
    for i in range(0, len(fresh), CHUNK):
        session.execute(insert(model), fresh[i : i + CHUNK])
    for i in range(0, len(old), CHUNK):
        session.execute(update(model), old[i : i + CHUNK])
    return len(rows)


def _records(frame: Any) -> list[dict[str, Any]]:
    cols = [c for c in frame.columns if c != "geometry"]
    return [
        {c: _clean(v) for c, v in zip(cols, vals, strict=True)}
        for vals in frame[cols].itertuples(index=False, name=None)
    ]


def upsert_koban(session: Session, gdf: gpd.GeoDataFrame) -> int:
    lon, lat, x, y = _lonlat_xy(gdf, ensure_crs(session, gdf))
    rows = [
        {
            "koban_id": str(r["koban_id"]),
            "name": _text(r.get("name")),
            "kind": _text(r.get("kind"), "koban"),
            "station": _text(r.get("station")),
            "lon": lon[i],
            "lat": lat[i],
            "x": x[i],
            "y": y[i],
        }
        for i, r in enumerate(_records(gdf))
    ]
    return _upsert(session, KobanRow, "koban_id", rows)


def add_beat_version(
    session: Session,
    gdf: gpd.GeoDataFrame,
    *,
    source: str,
    job_id: str | None = None,
    note: str = "",
) -> int:
    """Store ``gdf`` as a new beat version (older versions are kept)."""
    ensure_crs(session, gdf)
    latest = session.scalar(select(func.max(BeatVersion.version))) or 0
    version = latest + 1
    session.add(
        BeatVersion(
            version=version, created_at=utcnow(), source=source, job_id=job_id, note=note[:512]
        )
    )
    session.flush()
    wgs = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    rows = []
    for rec, geom in zip(_records(gdf), wgs.geometry, strict=True):
        rows.append(
            {
                "version": version,
                "beat_id": str(rec["beat_id"]),
                "koban_id": _text(rec.get("koban_id")),
                "name": _text(rec.get("name")),
                "locked": bool(rec.get("locked") or False),
                "households": 0,
                "geom_wkb": None if geom is None or geom.is_empty else geom.wkb,
            }
        )
    session.execute(insert(BeatRow), rows)
    return version


def recount_beats(session: Session, version: int) -> None:
    """Occupied households per beat of ``version``, from the households' beat_id."""
    counts = dict(
        session.execute(
            select(HouseholdRow.beat_id, func.count())
            .where(HouseholdRow.occupancy == "occupied")
            .group_by(HouseholdRow.beat_id)
        ).all()
    )
    for beat in session.scalars(select(BeatRow).where(BeatRow.version == version)):
        beat.households = int(counts.get(beat.beat_id, 0))


def upsert_units(session: Session, gdf: gpd.GeoDataFrame) -> int:
    ensure_crs(session, gdf)
    wgs = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    rows = [
        {
            "unit_id": str(r["unit_id"]),
            "name": _text(r.get("name")),
            "households": float(r.get("households") or 0.0),
            "area_m2": float(r.get("area_m2") or 0.0),
            "beat_id": _opt_text(r.get("beat_id")),
            "koban_id": _opt_text(r.get("koban_id")),
            "geom_wkb": None if g is None or g.is_empty else g.wkb,
        }
        for r, g in zip(_records(gdf), wgs.geometry, strict=True)
    ]
    return _upsert(session, UnitRow, "unit_id", rows)


def upsert_officers(session: Session, df: Any) -> int:
    rows = [
        {
            "officer_id": str(r["officer_id"]),
            "koban_id": _text(r.get("koban_id")),
            "role": _text(r.get("role"), "beat"),
            "beat_id": _opt_text(r.get("beat_id")),
            "mode": _text(r.get("mode"), "walk"),
            "shift_pattern": _text(r.get("shift_pattern"), "day"),
        }
        for r in _records(df)
    ]
    return _upsert(session, OfficerRow, "officer_id", rows)


def upsert_buildings(session: Session, gdf: gpd.GeoDataFrame) -> int:
    lon, lat, x, y = _lonlat_xy(gdf, ensure_crs(session, gdf))
    rows = [
        {
            "building_id": str(r["building_id"]),
            "kind": _text(r.get("kind"), "detached"),
            "floors": _int(r.get("floors"), 1),
            "units": _int(r.get("units"), 1),
            "complex_id": _opt_text(r.get("complex_id")),
            "beat_id": _opt_text(r.get("beat_id")),
            "lon": lon[i],
            "lat": lat[i],
            "x": x[i],
            "y": y[i],
        }
        for i, r in enumerate(_records(gdf))
    ]
    return _upsert(session, BuildingRow, "building_id", rows)


def upsert_households(session: Session, gdf: gpd.GeoDataFrame) -> int:
    """Households added or updated by id; their card fields are left as they are."""
    lon, lat, x, y = _lonlat_xy(gdf, ensure_crs(session, gdf))
    rows = []
    for i, r in enumerate(_records(gdf)):
        personal = {c: r[c] for c in PERSONAL_FIELDS if r.get(c) is not None}
        rows.append(
            {
                "household_id": str(r["household_id"]),
                "kind": _text(r.get("kind"), "home"),
                "beat_id": _opt_text(r.get("beat_id")),
                "building_id": _opt_text(r.get("building_id")),
                "floor": _int(r.get("floor"), 1),
                "address": _text(r.get("address")),
                "registered_on": _date(r.get("registered_on")),
                "unit_id": _opt_text(r.get("unit_id")),
                "lon": lon[i],
                "lat": lat[i],
                "x": x[i],
                "y": y[i],
                "personal": personal or None,
                "occupancy": "occupied",
                "last_contact": None,
                "absences": 0,
                "visit_count": 0,
            }
        )
    return _upsert(
        session,
        HouseholdRow,
        "household_id",
        rows,
        keep_on_update=("occupancy", "last_contact", "absences", "visit_count"),
    )


def refresh_cards(session: Session, household_ids: list[str], today: date) -> None:
    """Recompute the card fields of many households from their visits, in bulk."""
    from junkai_geo.cards import card_table

    if not household_ids:
        return
    frames = []
    for i in range(0, len(household_ids), CHUNK):
        part = household_ids[i : i + CHUNK]
        frames.append(
            pd.DataFrame(
                session.execute(
                    select(
                        VisitRow.household_id, VisitRow.visited_on, VisitRow.time, VisitRow.outcome
                    ).where(VisitRow.household_id.in_(part))
                ).all(),
                columns=["household_id", "visited_on", "time", "outcome"],
            )
        )
    visits = pd.concat(frames, ignore_index=True)
    cards = card_table(
        pd.DataFrame({"household_id": household_ids}),
        visits,
        today=today,
        stale_after_months=CARD_PARAMS.stale_after_months,
    )
    last = pd.to_datetime(cards["last_contact"])
    rows = [
        {
            "household_id": hid,
            "occupancy": str(occ),
            "last_contact": None if pd.isna(lc) else lc.date(),
            "absences": int(ab),
            "visit_count": int(n),
        }
        for hid, occ, lc, ab, n in zip(
            cards.index, cards["occupancy"], last, cards["absences"], cards["visits"], strict=True
        )
    ]
    for i in range(0, len(rows), CHUNK):
        session.execute(update(HouseholdRow), rows[i : i + CHUNK])


def insert_visits(session: Session, df: Any, today: date) -> int:
    now = utcnow()
    rows = [
        {
            "visit_id": str(r["visit_id"]),
            "household_id": str(r["household_id"]),
            "officer_id": _text(r.get("officer_id")),
            "visited_on": _date(r["visited_on"]),
            "time": _text(r.get("time"), "10:00")[:5],
            "outcome": _text(r["outcome"]),
            "created_at": now,
        }
        for r in _records(df)
    ]
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(VisitRow), rows[i : i + CHUNK])
    refresh_cards(session, sorted({str(r["household_id"]) for r in rows}), today)
    return len(rows)


def load_dataset(
    session: Session, ds: Dataset, *, source: str, today: date | None = None, replace: bool = False
) -> dict[str, int]:
    """Load every layer of ``ds``; with ``replace`` the area's rows go first."""
    today = today or today_local()
    if replace:
        for model in (VisitRow, HouseholdRow, BuildingRow, OfficerRow, UnitRow, KobanRow):
            session.execute(delete(model))
    counts: dict[str, int] = {}
    if ds.koban is not None:
        counts["koban"] = upsert_koban(session, ds.koban)
    if ds.units is not None:
        counts["units"] = upsert_units(session, ds.units)
    if ds.officers is not None:
        counts["officers"] = upsert_officers(session, ds.officers)
    if ds.buildings is not None:
        counts["buildings"] = upsert_buildings(session, ds.buildings)
    if ds.households is not None:
        counts["households"] = upsert_households(session, ds.households)
    if ds.visits is not None and len(ds.visits):
        counts["visits"] = insert_visits(session, ds.visits, today)
    if ds.beats is not None:
        version = add_beat_version(session, ds.beats, source=source)
        counts["beats"] = len(ds.beats)
    else:
        version = session.scalar(select(func.max(BeatVersion.version))) or 0
    session.flush()
    recount_beats(session, version)
    refresh_statistics(session)
    return counts


def refresh_statistics(session: Session) -> None:
    """Let the query planner see the data just loaded (``ANALYZE``).

    Without statistics SQLite reads the 未把握 households near a point
    through the wrong index (every 未把握 household of a station instead of
    a strip around the point), and PostgreSQL underestimates how many
    households have no contact date until autovacuum comes round.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE households, buildings, visits, beats, units"))
    else:
        session.execute(text("ANALYZE"))


def bbox_filter(bbox: tuple[float, float, float, float]) -> ColumnElement[bool]:
    x0, y0, x1, y1 = bbox
    return and_(
        HouseholdRow.lon >= x0,
        HouseholdRow.lon <= x1,
        HouseholdRow.lat >= y0,
        HouseholdRow.lat <= y1,
    )


HOUSEHOLD_COLUMNS = (
    "household_id",
    "kind",
    "beat_id",
    "building_id",
    "floor",
    "address",
    "registered_on",
)
VISIT_COLUMNS = ("visit_id", "household_id", "officer_id", "visited_on", "time", "outcome")
BUILDING_COLUMNS = ("building_id", "kind", "floors", "units", "complex_id")


def _points(frame: pd.DataFrame, crs: str = ISHIKAWA_CRS) -> Any:
    """A GeoDataFrame in the metric CRS from a frame with ``x`` / ``y`` columns."""
    import geopandas as gpd

    return gpd.GeoDataFrame(
        frame.drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(frame["x"], frame["y"]),
        crs=crs,
    )


def _rows(session: Session, stmt: Any) -> list[Any]:
    """The rows of a column select, through Core (no ORM result processing)."""
    return list(session.connection().execute(stmt).fetchall())


def _frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    """``pd.DataFrame(rows, columns=columns)``, built column by column.

    The row-wise constructor inspects every row object (hundreds of
    thousands of visits: most of a report's time); transposing first gives
    the same frame (same values and dtypes) several times faster.
    """
    if not rows:
        return pd.DataFrame(rows, columns=columns)
    return pd.DataFrame(
        {c: list(v) for c, v in zip(columns, zip(*rows, strict=True), strict=True)},
        columns=columns,
    )


def households_of_beats(session: Session, beats: list[str]) -> Any:
    """The planning columns of the households of ``beats`` (no personal field)."""
    cols = [getattr(HouseholdRow, c) for c in HOUSEHOLD_COLUMNS]
    rows = _rows(
        session,
        select(*cols, HouseholdRow.x, HouseholdRow.y).where(HouseholdRow.beat_id.in_(beats)),
    )
    return _points(_frame(rows, [*HOUSEHOLD_COLUMNS, "x", "y"]), workspace_crs(session))


def visits_of_beats(session: Session, beats: list[str]) -> pd.DataFrame:
    """Every visit of the households of ``beats``."""
    rows = _rows(
        session,
        select(*(getattr(VisitRow, c) for c in VISIT_COLUMNS))
        .join(HouseholdRow, HouseholdRow.household_id == VisitRow.household_id)
        .where(HouseholdRow.beat_id.in_(beats)),
    )
    return _frame(rows, list(VISIT_COLUMNS))


def buildings_of_households(session: Session, households: pd.DataFrame) -> Any:
    """The buildings the households live in, read in chunks of ids."""
    ids = sorted({b for b in households["building_id"] if isinstance(b, str) and b})
    cols = [getattr(BuildingRow, c) for c in BUILDING_COLUMNS]
    rows: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        rows += _rows(
            session,
            select(*cols, BuildingRow.x, BuildingRow.y).where(
                BuildingRow.building_id.in_(ids[i : i + CHUNK])
            ),
        )
    return _points(_frame(rows, [*BUILDING_COLUMNS, "x", "y"]), workspace_crs(session))


def dataset_from_db(
    session: Session, koban_ids: frozenset[str] | None, *, buildings: bool = False
) -> Dataset:
    """Koban, officers, beats' households and their visits as a library Dataset.

    ``koban_ids`` limits it to those koban and their beats (None: everything);
    with ``buildings`` also the households' buildings and the beats' units.
    """

    from .auth import current_version

    version = current_version(session)
    kstmt = select(
        KobanRow.koban_id, KobanRow.name, KobanRow.kind, KobanRow.station, KobanRow.x, KobanRow.y
    )
    ostmt = select(
        OfficerRow.officer_id,
        OfficerRow.koban_id,
        OfficerRow.role,
        OfficerRow.beat_id,
        OfficerRow.mode,
        OfficerRow.shift_pattern,
    )
    bstmt = select(BeatRow.beat_id).where(BeatRow.version == version)
    if koban_ids is not None:
        kstmt = kstmt.where(KobanRow.koban_id.in_(koban_ids))
        ostmt = ostmt.where(OfficerRow.koban_id.in_(koban_ids))
        bstmt = bstmt.where(BeatRow.koban_id.in_(koban_ids))
    k = pd.DataFrame(
        session.execute(kstmt).all(), columns=["koban_id", "name", "kind", "station", "x", "y"]
    )
    crs = workspace_crs(session)
    koban = _points(k, crs)
    officers = pd.DataFrame(
        session.execute(ostmt).all(),
        columns=["officer_id", "koban_id", "role", "beat_id", "mode", "shift_pattern"],
    )
    beats = list(session.scalars(bstmt))
    households = households_of_beats(session, beats)
    visits = visits_of_beats(session, beats)
    ds = Dataset(crs=crs, koban=koban, officers=officers, households=households, visits=visits)
    if buildings:
        _add_buildings_and_units(session, ds, beats)
    return ds


def units_of_beats(session: Session, beats: Any, crs: Any) -> Any:
    """The units of ``beats`` (a list or a select of beat ids) in ``crs``, with
    their households per km² (``density_per_km2``; the stored area, else the
    polygon's)."""
    import geopandas as gpd
    from shapely import wkb

    u = session.execute(
        select(
            UnitRow.unit_id,
            UnitRow.name,
            UnitRow.households,
            UnitRow.area_m2,
            UnitRow.beat_id,
            UnitRow.koban_id,
            UnitRow.geom_wkb,
        ).where(UnitRow.beat_id.in_(beats))
    ).all()
    units = gpd.GeoDataFrame(
        {
            "unit_id": [r[0] for r in u],
            "name": [r[1] for r in u],
            "households": [r[2] for r in u],
            "area_m2": [r[3] for r in u],
            "beat_id": [r[4] for r in u],
            "koban_id": [r[5] for r in u],
        },
        geometry=[wkb.loads(r[6]) if r[6] else None for r in u],
        crs="EPSG:4326",
    ).to_crs(crs)
    area_km2 = units["area_m2"].where(units["area_m2"] > 0, units.geometry.area) / 1e6
    units["density_per_km2"] = units["households"] / area_km2.where(area_km2 > 0, 1.0)
    return units


def _add_buildings_and_units(session: Session, ds: Dataset, beats: list[str]) -> None:
    assert ds.households is not None
    ds.buildings = buildings_of_households(session, ds.households)
    ds.units = units_of_beats(session, beats, workspace_crs(session))
    unit_of = dict(
        session.execute(
            select(HouseholdRow.household_id, HouseholdRow.unit_id).where(
                HouseholdRow.beat_id.in_(beats)
            )
        ).all()
    )
    ds.households["unit_id"] = ds.households["household_id"].map(unit_of)


def workspace_dataset(session: Session) -> Dataset:
    """Every layer of the workspace as a library Dataset (current beat version).

    Households without a beat are included (``beat_id`` empty): the
    commands report them rather than lose them.
    """
    import geopandas as gpd
    from shapely import wkb

    from junkai_geo.validation import STR_DTYPE

    from .auth import current_version

    crs = workspace_crs(session)

    def frame(stmt: Any, columns: list[str]) -> pd.DataFrame:
        out = pd.DataFrame(session.execute(stmt).all(), columns=columns)
        # The dtypes the readers give (junkai_geo.ingest), so that a plan on
        # the workspace is the plan on the files it was imported from.
        for c in out.columns:
            if out[c].dtype == object and c != "geom_wkb":
                out[c] = out[c].astype(STR_DTYPE)
        return out

    def polygons(rows: pd.DataFrame) -> Any:
        geoms = [wkb.loads(g) if g else None for g in rows.pop("geom_wkb")]
        return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326").to_crs(crs)

    kcols = ["koban_id", "name", "kind", "station", "x", "y"]
    koban = _points(frame(select(*(getattr(KobanRow, c) for c in kcols)), kcols), crs)
    version = current_version(session)
    bcols = ["beat_id", "koban_id", "name", "locked", "households", "geom_wkb"]
    beats = polygons(
        frame(
            select(*(getattr(BeatRow, c) for c in bcols))
            .where(BeatRow.version == version)
            .order_by(BeatRow.beat_id),
            bcols,
        )
    )
    ucols = ["unit_id", "name", "households", "area_m2", "beat_id", "koban_id", "geom_wkb"]
    units = polygons(frame(select(*(getattr(UnitRow, c) for c in ucols)), ucols))
    if len(units):
        area_km2 = units["area_m2"].where(units["area_m2"] > 0, units.geometry.area) / 1e6
        units["density_per_km2"] = units["households"] / area_km2.where(area_km2 > 0, 1.0)
    ocols = ["officer_id", "koban_id", "role", "beat_id", "mode", "shift_pattern"]
    officers = frame(select(*(getattr(OfficerRow, c) for c in ocols)), ocols)
    bucols = [*BUILDING_COLUMNS, "beat_id", "x", "y"]
    buildings = _points(frame(select(*(getattr(BuildingRow, c) for c in bucols)), bucols), crs)
    hcols = [*HOUSEHOLD_COLUMNS, "unit_id", "x", "y"]
    households = _points(frame(select(*(getattr(HouseholdRow, c) for c in hcols)), hcols), crs)
    households["registered_on"] = pd.to_datetime(households["registered_on"]).astype(
        "datetime64[ns]"
    )
    visits = frame(select(*(getattr(VisitRow, c) for c in VISIT_COLUMNS)), list(VISIT_COLUMNS))
    visits["visited_on"] = pd.to_datetime(visits["visited_on"]).astype("datetime64[ns]")
    return Dataset(
        crs=crs,
        koban=koban,
        beats=beats,
        units=units,
        officers=officers,
        buildings=buildings,
        households=households,
        visits=visits,
    )
