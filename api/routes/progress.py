from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from junkai_geo.errors import JunkaiGeoError

from ..auth import Role, current_version
from ..deps import Manager, ReadSession, forbidden
from ..heavy_reads import cached_heavy_read
from ..schemas import Day, ProgressOut

router = APIRouter(prefix="/progress", tags=["progress"])


@router.get("", response_model=ProgressOut)
def get_progress(
    who: Manager,
    session: ReadSession,
    start: Day,
    end: Day,
    koban_id: str | None = Query(default=None, max_length=64),
) -> Any:
    """Progress per officer over ``[start, end]``: visits, contacts, cards,
    coverage, 未把握 counts, weekly trend; lagging officers flagged with
    suggested focus days (巡回連絡強化日). A manager sees their station.
    Computed from grouped queries (:mod:`api.aggregates`) and cached per
    scope, period and beat version (:mod:`api.heavy_reads`).
    """
    if (end - start).days > 366:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="period: expected at most 366 days"
        )
    if koban_id is not None and not who.can_koban(koban_id):
        raise forbidden()
    from ..aggregates import progress_report

    station = who.station if who.role is Role.MANAGER else None

    def compute(read: Session) -> dict[str, Any]:
        try:
            result = progress_report(
                read, who.koban_ids, start=start, end=end, koban_id=koban_id, station=station
            )
        except JunkaiGeoError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)[:500]
            ) from exc
        return result.to_dict()

    key = ("progress", who.koban_ids, station, start, end, koban_id)
    return cached_heavy_read(session, (*key, current_version(session)), compute)
