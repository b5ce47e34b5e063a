from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from shapely import wkb
from sqlalchemy import select
from sqlalchemy.orm import Session

from junkai_geo.errors import JunkaiGeoError
from junkai_geo.projection import in_japan
from junkai_geo.settings import ISHIKAWA_CRS

from ..auth import Principal, Role, current_version
from ..deps import DB, AnyUser, Settings, forbidden, not_found
from ..models import (
    BeatRow,
    KobanRow,
    NightApproval,
    OfficerRow,
)
from ..planner import PlanFailed, plan_day_in_pool
from ..schemas import PlanOut, ReplanIn
from ..store import buildings_of_households, households_of_beats, visits_of_beats

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


def _frames(session: Session, officer: OfficerRow) -> dict[str, Any]:
    """The planning inputs of one officer, from the database."""
    if officer.beat_id:
        beat_ids = [officer.beat_id]
    else:  # a specialist (専従員): the beats of the koban
        version = current_version(session)
        beat_ids = list(
            session.scalars(
                select(BeatRow.beat_id).where(
                    BeatRow.version == version, BeatRow.koban_id == officer.koban_id
                )
            )
        )
    households = households_of_beats(session, beat_ids)
    buildings = buildings_of_households(session, households)
    visits = visits_of_beats(session, beat_ids)
    koban = session.get(KobanRow, officer.koban_id)
    if koban is None:
        raise not_found("koban of the officer")
    beat_geom = None
    if officer.beat_id:
        g = session.scalar(
            select(BeatRow.geom_wkb).where(
                BeatRow.version == current_version(session), BeatRow.beat_id == officer.beat_id
            )
        )
        beat_geom = wkb.loads(g) if g else None
    return {
        "households": households,
        "buildings": buildings,
        "visits": visits,
        "koban": koban,
        "beat_geometry": beat_geom,
    }


def _plan(
    session: Session,
    who: Principal,
    officer_id: str,
    on: date,
    windows: list[str] | None,
    seed: int,
    time_limit_s: float,
    processes: int = 0,
) -> tuple[Any, dict[str, Any]]:
    from junkai_geo.cards import card_table
    from junkai_geo.routing import NightApproval as Approval

    for w in windows or []:
        import re

        if not re.match(WINDOW, w):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"window: found {w!r}; expected HH:MM-HH:MM",
            )
    officer = _officer_in_scope(session, who, officer_id)
    f = _frames(session, officer)
    approval_row = session.scalar(
        select(NightApproval)
        .where(
            NightApproval.officer_id == officer_id,
            NightApproval.on_date == on,
            NightApproval.revoked_at.is_(None),
        )
        .order_by(NightApproval.start)
    )
    # Plans use night windows only with an approval on record for that date.
    approval = (
        Approval(officer_id, on, f"{approval_row.start}-{approval_row.end}")
        if approval_row is not None
        else None
    )
    cards = card_table(f["households"], f["visits"], today=on)
    koban = f["koban"]
    try:
        plan = plan_day_in_pool(
            processes,
            officer={
                "officer_id": officer.officer_id,
                "koban_id": officer.koban_id,
                "beat_id": officer.beat_id,
                "mode": officer.mode,
            },
            on=on,
            windows=windows,
            households=f["households"],
            buildings=f["buildings"],
            cards=cards,
            visits=f["visits"],
            start_xy=(koban.x, koban.y),
            night_approval=approval,
            time_limit_s=time_limit_s,
            seed=seed,
            start_label=koban.name,
        )
    except PlanFailed as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)[:500]) from exc
    return plan, f


@router.get("/{officer_id}/{on}", response_model=PlanOut)
def get_plan(
    officer_id: str,
    on: date,
    who: AnyUser,
    db: DB,
    settings: Settings,
    window: Windows = None,
    seed: Seed = 0,
) -> Any:
    """The day's route of an officer (JSON, docs/plan_format.md)."""
    with db.read_session() as session:
        plan, _ = _plan(
            session,
            who,
            officer_id,
            on,
            window,
            seed,
            settings.plan_time_limit_s,
            settings.plan_processes,
        )
    return plan.to_dict()


@router.get(
    "/{officer_id}/{on}/map",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "Folium map"}},
)
def get_plan_map(
    officer_id: str,
    on: date,
    who: AnyUser,
    db: DB,
    settings: Settings,
    window: Windows = None,
    seed: Seed = 0,
) -> Response:
    """The day's route as an HTML map (self-contained, no personal field)."""
    from junkai_geo.render import route_map

    with db.read_session() as session:
        plan, f = _plan(
            session,
            who,
            officer_id,
            on,
            window,
            seed,
            settings.plan_time_limit_s,
            settings.plan_processes,
        )
    m = route_map(plan.to_dict(), beat_geometry=f["beat_geometry"], offline=True)
    return Response(m.get_root().render(), media_type="text/html; charset=utf-8")


@router.get(
    "/{officer_id}/{on}/sheet",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "A4 sheet"}},
)
def get_plan_sheet(
    officer_id: str,
    on: date,
    who: AnyUser,
    db: DB,
    settings: Settings,
    window: Windows = None,
    seed: Seed = 0,
) -> Response:
    """The day's route as a printable A4 route sheet (PDF)."""
    from junkai_geo.sheet import route_sheet_pdf

    with db.read_session() as session:
        plan, f = _plan(
            session,
            who,
            officer_id,
            on,
            window,
            seed,
            settings.plan_time_limit_s,
            settings.plan_processes,
        )
    with tempfile.TemporaryDirectory(prefix="junkai_sheet_") as tmp:
        path = route_sheet_pdf(
            plan.to_dict(), Path(tmp) / "sheet.pdf", beat_geometry=f["beat_geometry"]
        )
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
    on: date,
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
    from pyproj import Transformer

    from junkai_geo.routing import replan

    if not in_japan(body.lon, body.lat):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="lon/lat: expected a point in Japan"
        )
    with db.read_session() as session:
        plan, _ = _plan(
            session,
            who,
            officer_id,
            on,
            body.windows,
            seed,
            settings.plan_time_limit_s / 2,
            settings.plan_processes,
        )
    x, y = Transformer.from_crs("EPSG:4326", ISHIKAWA_CRS, always_xy=True).transform(
        body.lon, body.lat
    )
    try:
        fresh = replan(
            plan,
            now=body.now,
            position_xy=(x, y),
            done=body.done,
            time_limit_s=settings.plan_time_limit_s / 2,
            seed=seed,
        )
    except JunkaiGeoError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)[:500]) from exc
    return fresh.to_dict()
