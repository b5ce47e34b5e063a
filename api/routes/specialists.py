from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy.orm import Session

from junkai_geo.errors import JunkaiGeoError

from ..auth import current_version
from ..deps import Manager, ReadSession
from ..heavy_reads import cached_heavy_read
from ..schemas import SpecialistReportOut
from ..store import today_local

router = APIRouter(prefix="/specialists", tags=["specialists"])

#: Most districts one request may ask for (``top``): each is staffed by CP-SAT.
MAX_TOP = 50


@router.get("", response_model=SpecialistReportOut)
def get_specialists(
    who: Manager,
    session: ReadSession,
    top: int = Query(default=5, ge=1, le=MAX_TOP),
) -> Any:
    """専従員 recommendations in the caller's scope.

    The most difficult districts of high-rise, large and complex buildings
    (団地), their workload, and how many dedicated officers (and who) the
    district needs to reach the coverage target. Read with grouped queries
    and the stored card fields (:mod:`api.aggregates`); answers are cached
    per scope, ``top``, day and beat version (:mod:`api.heavy_reads`).
    """
    from junkai_geo.specialists import recommend_for_dataset

    from ..aggregates import specialist_inputs

    today = today_local()

    def compute(read: Session) -> dict[str, Any]:
        ds, cards, visit_counts = specialist_inputs(read, who.koban_ids, today)
        if ds.households is None or not len(ds.households):
            raise HTTPException(status.HTTP_409_CONFLICT, detail="no households in your scope")
        try:
            report = recommend_for_dataset(
                ds, cards, today=today, top=top, rounds=False, visit_counts=visit_counts
            )
        except JunkaiGeoError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)[:500]
            ) from exc
        return report.to_dict()

    key = ("specialists", who.koban_ids, top, today, current_version(session))
    return cached_heavy_read(session, key, compute)
