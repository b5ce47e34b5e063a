from __future__ import annotations

import functools
import math
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from junkai_geo.model import CardStatus
from junkai_geo.projection import in_japan

from .. import audit
from ..auth import Principal
from ..db import Database
from ..deps import (
    DB,
    MAX_INT,
    AnyUser,
    ReadSession,
    Settings,
    forbidden,
    json_response,
    not_found,
    on_db,
)
from ..models import HouseholdRow
from ..schemas import HouseholdDetail, HouseholdOut, NearHousehold
from ..store import bbox_filter, card_status_of, status_filter, today_local, workspace_crs

router = APIRouter(prefix="/households", tags=["households"])

_NUM = r"-?\d+(\.\d+)?"
BBox = Annotated[
    str | None,
    Query(
        pattern=rf"^{_NUM},{_NUM},{_NUM},{_NUM}$",
        description="lon_min,lat_min,lon_max,lat_max (WGS84)",
    ),
]


@functools.lru_cache(maxsize=8)
def to_metric(crs: str = "EPSG:6675") -> Any:
    """WGS84 -> the workspace's metric CRS (``store.workspace_crs``); made once
    per CRS (building a Transformer takes milliseconds).

    pyproj transformers may be shared between threads since pyproj 3.1.
    """
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def parse_bbox(bbox: str) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    if not (x0 <= x1 and y0 <= y1 and x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="bbox: expected lon_min<=lon_max and lat_min<=lat_max in WGS84 degrees",
        )
    return x0, y0, x1, y1


#: The columns of a household in lists: a household row without its personal
#: fields (a JSON document to decode) and without ORM identity tracking,
#: which under load cost more than the query itself.
LIST_COLUMNS = (
    HouseholdRow.household_id,
    HouseholdRow.kind,
    HouseholdRow.beat_id,
    HouseholdRow.building_id,
    HouseholdRow.floor,
    HouseholdRow.address,
    HouseholdRow.lon,
    HouseholdRow.lat,
    HouseholdRow.x,
    HouseholdRow.y,
    HouseholdRow.occupancy,
    HouseholdRow.last_contact,
    HouseholdRow.absences,
    HouseholdRow.visit_count,
)


def household_row(h: Any, today: date) -> dict[str, Any]:
    """A row of ``LIST_COLUMNS`` as the fields of :class:`HouseholdOut`."""
    return {
        "household_id": h.household_id,
        "kind": h.kind,
        "beat_id": h.beat_id,
        "building_id": h.building_id,
        "floor": h.floor,
        "address": h.address,
        "lon": h.lon,
        "lat": h.lat,
        "card_status": card_status_of(h.last_contact, today).value,
        "occupancy": h.occupancy,
        "last_contact": h.last_contact,
        "absences": h.absences,
        "visits": h.visit_count,
    }


def household_out(h: Any, today: date | None = None) -> HouseholdOut:
    """A household (ORM row, or a row of ``LIST_COLUMNS``) as a model."""
    return HouseholdOut(**household_row(h, today or today_local()))


def scoped(stmt: Any, who: Principal) -> Any:
    if who.beat_ids is not None:
        stmt = stmt.where(HouseholdRow.beat_id.in_(who.beat_ids))
    return stmt


def get_household_in_scope(session: Session, who: Principal, household_id: str) -> HouseholdRow:
    """The household, or 404 also when it exists outside the caller's scope."""
    h = session.get(HouseholdRow, household_id)
    if h is None or not who.can_beat(h.beat_id):
        raise not_found("household")
    return h


@router.get("", response_model=list[HouseholdOut])
async def list_households(
    who: AnyUser,
    db: DB,
    session: ReadSession,
    settings: Settings,
    beat_id: str | None = Query(default=None, max_length=64),
    bbox: BBox = None,
    card_status: Annotated[CardStatus | None, Query(alias="status")] = None,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0, le=MAX_INT),
) -> Response:
    """Households by beat, bbox and card status; no personal field."""
    stmt = scoped(select(*LIST_COLUMNS), who).order_by(HouseholdRow.household_id)
    if beat_id is not None:
        if not who.can_beat(beat_id):
            raise forbidden()
        stmt = stmt.where(HouseholdRow.beat_id == beat_id)
    if bbox is not None:
        stmt = stmt.where(bbox_filter(parse_bbox(bbox)))
    today = today_local()
    if card_status is not None:
        stmt = stmt.where(status_filter(card_status, today))
    stmt = stmt.limit(min(limit, settings.max_page_size)).offset(offset)
    return json_response(await on_db(db, _household_rows, session, stmt, today))


def _household_rows(session: Session, stmt: Any, today: date) -> list[dict[str, Any]]:
    return [household_row(h, today) for h in session.execute(stmt)]


@router.get("/near", response_model=list[NearHousehold])
async def near(
    who: AnyUser,
    db: DB,
    session: ReadSession,
    lon: float = Query(ge=-180, le=180),
    lat: float = Query(ge=-90, le=90),
    limit: int = Query(default=10, ge=1, le=100),
    radius_m: float = Query(default=2000, gt=0, le=20_000),
) -> Response:
    """Nearest occupied 未把握 households around a point, nearest first, in scope.

    For officers on other duties who carry blank cards (弾力的な実施).
    """
    if not in_japan(lon, lat):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="lon/lat: expected a point in Japan"
        )
    x, y = to_metric(workspace_crs(session)).transform(lon, lat)
    # The occupancy as a literal, not a bound value: so each database can see
    # that the partial index of occupied 未把握 households (migration 0004) applies.
    base = scoped(select(*LIST_COLUMNS), who).where(
        HouseholdRow.last_contact.is_(None), text("households.occupancy = 'occupied'")
    )
    found = await on_db(db, _nearest, session, base, x, y, limit, radius_m, not db.is_sqlite)
    today = today_local()
    return json_response([{**household_row(h, today), "distance_m": round(d, 1)} for d, h in found])


def _nearest(
    session: Session,
    base: Select[Any],
    x: float,
    y: float,
    limit: int,
    radius_m: float,
    postgis: bool,
) -> list[tuple[float, Any]]:
    """The ``limit`` nearest rows of ``base`` within ``radius_m`` of (x, y), nearest first.

    Searches a circle of 250 m, then twice as wide until ``limit`` rows lie
    inside it or the radius is reached: an officer's nearest 未把握 are
    usually within a few hundred metres, and a small circle is a few dozen
    rows of the partial index of occupied 未把握 households (migration
    0004), where a 2 km one is thousands. The database filters, sorts and
    cuts, so only the answer crosses into Python. SQLite searches a square
    of the (x, y) index and keeps the circle; PostgreSQL uses the GiST
    index on ``geom`` (``ST_DWithin``).
    """
    if postgis:
        from ..geom_srid import srid_of

        # (x, y) and households.geom are in the workspace's metric CRS.
        point = func.ST_SetSRID(func.ST_MakePoint(x, y), srid_of(workspace_crs(session)))
        dist: Any = func.ST_Distance(text("households.geom"), point)
    else:
        dist = (HouseholdRow.x - x) * (HouseholdRow.x - x) + (HouseholdRow.y - y) * (
            HouseholdRow.y - y
        )
    r = min(250.0, radius_m)
    while True:
        if postgis:
            inside: list[Any] = [func.ST_DWithin(text("households.geom"), point, r)]
        else:
            inside = [
                HouseholdRow.x.between(x - r, x + r),
                HouseholdRow.y.between(y - r, y + r),
                dist <= r * r,
            ]
        rows = session.execute(
            base.add_columns(dist.label("d"))
            .where(*inside)
            .order_by(dist, HouseholdRow.household_id)
            .limit(limit)
        ).all()
        if len(rows) >= limit or r >= radius_m:
            return [(float(row.d) if postgis else math.sqrt(row.d), row) for row in rows]
        r = min(r * 2, radius_m)


@router.get("/{household_id}", response_model=HouseholdDetail)
async def get_household(household_id: str, who: AnyUser, db: DB) -> HouseholdDetail:
    """One household with its card; personal fields only for the allowed roles.

    Every call is written to the audit trail before the data is returned:
    on SQLite inline when the write lock is free, else by the group commit
    (``api.audit``); on PostgreSQL in the same transaction as the read.
    """
    if db.is_sqlite:
        h = _household(db, household_id)
        action, detail = _audit_of(h, who)
        if not audit.try_record_inline(db, who, action, "household", household_id, detail=detail):
            await audit.read_writer(db).record(
                who, action, "household", household_id, detail=detail
            )
    else:
        h = await run_in_threadpool(_household_audited, db, who, household_id)
    if action_of(h, who) == "read_denied":
        # Denied and missing look the same to the caller; the trail tells them apart.
        raise not_found("household")
    assert h is not None
    personal = h.personal if who.sees_personal else None
    return HouseholdDetail(
        **household_out(h).model_dump(), registered_on=h.registered_on, personal=personal
    )


def action_of(h: HouseholdRow | None, who: Principal) -> str:
    return "read" if h is not None and who.can_beat(h.beat_id) else "read_denied"


def _audit_of(h: HouseholdRow | None, who: Principal) -> tuple[str, dict[str, Any]]:
    """The audit action and detail of a household read."""
    action = action_of(h, who)
    if action == "read_denied":
        return action, {"exists": h is not None}
    assert h is not None
    return action, {"personal": who.sees_personal and h.personal is not None}


def _household(db: Database, household_id: str) -> HouseholdRow | None:
    with db.read_session() as session:
        return session.get(HouseholdRow, household_id)


def _household_audited(db: Database, who: Principal, household_id: str) -> HouseholdRow | None:
    # PostgreSQL commits concurrent transactions together itself.
    with db.writing() as session:
        h = session.get(HouseholdRow, household_id)
        action, detail = _audit_of(h, who)
        audit.record(session, who, action, "household", household_id, detail=detail)
    return h
