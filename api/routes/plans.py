from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy.orm import Session

from junkai_geo.projection import in_japan

from ..auth import Principal, Role
from ..db import Database
from ..deps import DB, AnyUser, Settings, forbidden, not_found
from ..models import OfficerRow
from ..planner import PlanFailed, PlanRequest, plan_in_pool
from ..schemas import Day, PlanOut, ReplanIn
from ..settings import ApiSettings
from ..store import workspace_crs
from .households import to_metric

router = APIRouter(prefix="/plans", tags=["plans"])

WINDOW = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"
Windows = Annotated[
    list[str] | None,
    Query(max_length=6, description="liaison windows HH:MM-HH:MM (default: the day windows)"),
]
Seed = Annotated[int, Query(ge=0, le=2**31 - 1)]


def _officer_in_scope(session: Session, who: Principal, officer_id: str) -> OfficerRow:
    officer = session.get(OfficerRow, officer_id)
    if officer is None:
        raise not_found("officer")
    if who.role is Role.OFFICER and officer_id != who.officer_id:
        raise forbidden("an officer fetches only their own plan")
    if not who.can_koban(officer.koban_id):
        raise forbidden()
    return officer


def _plan(
    db: Database,
    settings: ApiSettings,
    who: Principal,
    officer_id: str,
    on: Day,
    windows: list[str] | None,
    seed: int,
    time_limit_s: float,
    replan: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """The officer's day plan, computed in the planner pool (api/planner.py).

    The caller's scope is checked here; the planner process reads the
    planning inputs from the database itself. Returns ``DayPlan.to_dict()``
    and the officer's beat polygon (None for a specialist).
    """
    import re

    for w in windows or []:
        if not re.match(WINDOW, w):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"window: found {w!r}; expected HH:MM-HH:MM",
            )
    with db.read_session() as session:
        _officer_in_scope(session, who, officer_id)
    request = PlanRequest(officer_id, on, windows, seed, time_limit_s, replan)
    try:
        result = plan_in_pool(settings.plan_processes, db, request, settings.plan_nice)
    except PlanFailed as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)[:500]) from exc
    if result.plan is None:
        raise not_found("officer or koban of the officer")
    return result.plan, result.beat_geometry


@router.get("/{officer_id}/{on}", response_model=PlanOut)
def get_plan(
    officer_id: str,
    on: Day,
    who: AnyUser,
    db: DB,
    settings: Settings,
    window: Windows = None,
    seed: Seed = 0,
) -> Any:
    """The day's route of an officer (JSON, docs/plan_format.md)."""
    plan, _ = _plan(db, settings, who, officer_id, on, window, seed, settings.plan_time_limit_s)
    return plan


@router.get(
    "/{officer_id}/{on}/map",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "Folium map"}},
)
def get_plan_map(
    officer_id: str,
    on: Day,
    who: AnyUser,
    db: DB,
    settings: Settings,
    window: Windows = None,
    seed: Seed = 0,
) -> Response:
    """The day's route as an HTML map (self-contained, no personal field)."""
    from junkai_geo.render import route_map

    plan, beat_geometry = _plan(
        db, settings, who, officer_id, on, window, seed, settings.plan_time_limit_s
    )
    m = route_map(plan, beat_geometry=beat_geometry, offline=True)
    return Response(m.get_root().render(), media_type="text/html; charset=utf-8")


@router.get(
    "/{officer_id}/{on}/sheet",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "A4 sheet"}},
)
def get_plan_sheet(
    officer_id: str,
    on: Day,
    who: AnyUser,
    db: DB,
    settings: Settings,
    window: Windows = None,
    seed: Seed = 0,
) -> Response:
    """The day's route as a printable A4 route sheet (PDF)."""
    from junkai_geo.sheet import route_sheet_pdf

    plan, beat_geometry = _plan(
        db, settings, who, officer_id, on, window, seed, settings.plan_time_limit_s
    )
    with tempfile.TemporaryDirectory(prefix="junkai_sheet_") as tmp:
        path = route_sheet_pdf(plan, Path(tmp) / "sheet.pdf", beat_geometry=beat_geometry)
        data = Path(path).read_bytes()
    name = f"route_{officer_id}_{on.isoformat()}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.post("/{officer_id}/{on}/replan", response_model=PlanOut)
def replan_day(
    officer_id: str,
    on: Day,
    body: ReplanIn,
    who: AnyUser,
    db: DB,
    settings: Settings,
    seed: Seed = 0,
) -> Any:
    """Plan the rest of the day from the officer's position at ``now``.

    For when an incident interrupted the round: the households in ``done``
    stay done, the rest is planned again in the time left.
    """
    if not in_japan(body.lon, body.lat):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="lon/lat: expected a point in Japan"
        )
    with db.read_session() as session:
        crs = workspace_crs(session)
    x, y = to_metric(crs).transform(body.lon, body.lat)
    half = settings.plan_time_limit_s / 2
    plan, _ = _plan(
        db,
        settings,
        who,
        officer_id,
        on,
        body.windows,
        seed,
        half,
        replan={"now": body.now, "position_xy": (x, y), "done": body.done, "time_limit_s": half},
    )
    return plan
