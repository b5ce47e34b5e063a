from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from ..deps import MAX_INT, AnyUser, ReadSession, Settings, forbidden, not_found
from ..models import BuildingRow, HouseholdRow
from ..schemas import BuildingOut
from .households import BBox, parse_bbox

router = APIRouter(prefix="/buildings", tags=["buildings"])


def _out(b: BuildingRow) -> BuildingOut:
    return BuildingOut(
        building_id=b.building_id,
        kind=b.kind,
        floors=b.floors,
        units=b.units,
        complex_id=b.complex_id,
        lon=b.lon,
        lat=b.lat,
    )


def _in_scope(who: AnyUser) -> object:
    """Buildings with at least one household of the caller's beats."""
    return BuildingRow.building_id.in_(
        select(HouseholdRow.building_id).where(HouseholdRow.beat_id.in_(who.beat_ids or ()))
    )


@router.get("", response_model=list[BuildingOut])
def list_buildings(
    who: AnyUser,
    session: ReadSession,
    settings: Settings,
    beat_id: str | None = Query(default=None, max_length=64),
    bbox: BBox = None,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0, le=MAX_INT),
) -> list[BuildingOut]:
    """Buildings by beat and / or bbox ``lon0,lat0,lon1,lat1``, within scope."""
    stmt = select(BuildingRow).order_by(BuildingRow.building_id)
    if beat_id is not None:
        if not who.can_beat(beat_id):
            raise forbidden()
        stmt = stmt.where(
            BuildingRow.building_id.in_(
                select(HouseholdRow.building_id).where(HouseholdRow.beat_id == beat_id)
            )
        )
    if who.beat_ids is not None:
        stmt = stmt.where(_in_scope(who))  # type: ignore[arg-type]
    if bbox is not None:
        x0, y0, x1, y1 = parse_bbox(bbox)
        stmt = stmt.where(BuildingRow.lon.between(x0, x1), BuildingRow.lat.between(y0, y1))
    stmt = stmt.limit(min(limit, settings.max_page_size)).offset(offset)
    return [_out(b) for b in session.scalars(stmt)]


@router.get("/{building_id}", response_model=BuildingOut)
def get_building(building_id: str, who: AnyUser, session: ReadSession) -> BuildingOut:
    b = session.get(BuildingRow, building_id)
    if b is None:
        raise not_found("building")
    if (
        who.beat_ids is not None
        and session.scalar(
            select(HouseholdRow.household_id)
            .where(HouseholdRow.building_id == building_id, HouseholdRow.beat_id.in_(who.beat_ids))
            .limit(1)
        )
        is None
    ):
        raise not_found("building")
    return _out(b)
