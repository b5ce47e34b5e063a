"""Between the library's data (Dataset, GeoDataFrames, card rules) and rows.

Everything here runs inside the caller's transaction, so a load either
commits whole or leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import math
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, delete, func, select
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
    VisitRow,
)

if TYPE_CHECKING:
    import geopandas as gpd

LOCAL_TZ = ZoneInfo("Asia/Tokyo")
CARD_PARAMS = CardParams()


def today_local() -> date:
    return datetime.now(LOCAL_TZ).date()


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


# --- loading GeoDataFrames --------------------------------------------------


def _lonlat_xy(gdf: gpd.GeoDataFrame) -> tuple[list[float], list[float], list[float], list[float]]:
    """(lon, lat, x, y) of point geometries (a polygon gives its representative point)."""
    geom = gdf.geometry
    if not all(geom.geom_type == "Point"):
        geom = geom.representative_point()
    metric = geom.to_crs(ISHIKAWA_CRS) if gdf.crs is not None else geom
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
        import pandas as pd

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


def upsert_koban(session: Session, gdf: gpd.GeoDataFrame) -> int:
    lon, lat, x, y = _lonlat_xy(gdf)
    for i, rec in enumerate(gdf.itertuples(index=False)):
        session.merge(
            KobanRow(
                koban_id=str(rec.koban_id),
                name=_text(rec.name),
                kind=_text(rec.kind, "koban"),
                station=_text(getattr(rec, "station", "")),
                lon=lon[i],
                lat=lat[i],
                x=x[i],
                y=y[i],
            )
        )
    return len(gdf)


def add_beat_version(
    session: Session,
    gdf: gpd.GeoDataFrame,
    *,
    source: str,
    job_id: str | None = None,
    note: str = "",
) -> int:
    """Store ``gdf`` as a new beat version (older versions are kept)."""
    latest = session.scalar(select(func.max(BeatVersion.version))) or 0
    version = latest + 1
    session.add(
        BeatVersion(
            version=version, created_at=utcnow(), source=source, job_id=job_id, note=note[:512]
        )
    )
    session.flush()
    wgs = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    for rec, geom in zip(gdf.itertuples(index=False), wgs.geometry, strict=True):
        session.add(
            BeatRow(
                version=version,
                beat_id=str(rec.beat_id),
                koban_id=_text(rec.koban_id),
                name=_text(getattr(rec, "name", "")),
                locked=bool(_clean(getattr(rec, "locked", False)) or False),
                geom_wkb=None if geom is None or geom.is_empty else geom.wkb,
            )
        )
    session.flush()
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


def upsert_officers(session: Session, df: Any) -> int:
    for rec in df.itertuples(index=False):
        session.merge(
            OfficerRow(
                officer_id=str(rec.officer_id),
                koban_id=_text(rec.koban_id),
                role=_text(getattr(rec, "role", "beat"), "beat"),
                beat_id=_opt_text(getattr(rec, "beat_id", None)),
                mode=_text(getattr(rec, "mode", "walk"), "walk"),
                shift_pattern=_text(getattr(rec, "shift_pattern", "day"), "day"),
            )
        )
    return len(df)


def upsert_buildings(session: Session, gdf: gpd.GeoDataFrame) -> int:
    lon, lat, x, y = _lonlat_xy(gdf)
    for i, rec in enumerate(gdf.itertuples(index=False)):
        session.merge(
            BuildingRow(
                building_id=str(rec.building_id),
                kind=_text(rec.kind, "detached"),
                floors=_int(getattr(rec, "floors", 1), 1),
                units=_int(getattr(rec, "units", 1), 1),
                complex_id=_opt_text(getattr(rec, "complex_id", None)),
                lon=lon[i],
                lat=lat[i],
                x=x[i],
                y=y[i],
            )
        )
    return len(gdf)


def upsert_households(session: Session, gdf: gpd.GeoDataFrame) -> int:
    lon, lat, x, y = _lonlat_xy(gdf)
    personal_cols = [c for c in gdf.columns if c in PERSONAL_FIELDS]
    for i, rec in enumerate(gdf.to_dict("records")):
        personal = {c: _clean(rec[c]) for c in personal_cols if _clean(rec[c]) is not None}
        existing = session.get(HouseholdRow, str(rec["household_id"]))
        row = existing or HouseholdRow(
            household_id=str(rec["household_id"]), occupancy="occupied", absences=0, visit_count=0
        )
        row.kind = _text(rec.get("kind"), "home")
        row.beat_id = _opt_text(rec.get("beat_id"))
        row.building_id = _opt_text(rec.get("building_id"))
        row.floor = _int(rec.get("floor"), 1)
        row.address = _text(rec.get("address"))
        row.registered_on = _date(rec.get("registered_on"))
        row.lon, row.lat, row.x, row.y = lon[i], lat[i], x[i], y[i]
        row.personal = personal or None
        if existing is None:
            session.add(row)
    return len(gdf)


def insert_visits(session: Session, df: Any, today: date) -> int:
    touched: set[str] = set()
    now = utcnow()
    for rec in df.to_dict("records"):
        session.merge(
            VisitRow(
                visit_id=str(rec["visit_id"]),
                household_id=str(rec["household_id"]),
                officer_id=_text(rec.get("officer_id")),
                visited_on=_date(rec["visited_on"]),
                time=_text(rec.get("time"), "10:00")[:5],
                outcome=_text(rec["outcome"]),
                created_at=now,
            )
        )
        touched.add(str(rec["household_id"]))
    session.flush()
    for hid in touched:
        row = session.get(HouseholdRow, hid)
        if row is not None:
            refresh_card(session, row, today)
    return len(df)


def load_dataset(
    session: Session, ds: Dataset, *, source: str, today: date | None = None, replace: bool = False
) -> dict[str, int]:
    """Load every layer of ``ds``; with ``replace`` the area's rows go first."""
    today = today or today_local()
    if replace:
        for model in (VisitRow, HouseholdRow, BuildingRow, OfficerRow, KobanRow):
            session.execute(delete(model))
    counts: dict[str, int] = {}
    if ds.koban is not None:
        counts["koban"] = upsert_koban(session, ds.koban)
    if ds.officers is not None:
        counts["officers"] = upsert_officers(session, ds.officers)
    if ds.buildings is not None:
        counts["buildings"] = upsert_buildings(session, ds.buildings)
    if ds.households is not None:
        counts["households"] = upsert_households(session, ds.households)
    session.flush()
    if ds.visits is not None and len(ds.visits):
        counts["visits"] = insert_visits(session, ds.visits, today)
    if ds.beats is not None:
        version = add_beat_version(session, ds.beats, source=source)
        counts["beats"] = len(ds.beats)
    else:
        version = session.scalar(select(func.max(BeatVersion.version))) or 0
    session.flush()
    recount_beats(session, version)
    return counts


def bbox_filter(bbox: tuple[float, float, float, float]) -> ColumnElement[bool]:
    x0, y0, x1, y1 = bbox
    return and_(
        HouseholdRow.lon >= x0,
        HouseholdRow.lon <= x1,
        HouseholdRow.lat >= y0,
        HouseholdRow.lat <= y1,
    )
