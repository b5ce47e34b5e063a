"""Officer pages: the day's route, results, re-plan, sheet, 近くの未把握, progress.

Every page and action goes through the JSON API's own functions
(``api.routes.plans``, ``visits``, ``households``), called with the page
session's principal, so the scope rules are the API's, checked on the server.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from shapely import wkb
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from junkai_geo.model import Outcome
from junkai_geo.render import reason_label

from ..auth import Principal, Role, current_version
from ..day_plans import save_day_plan, stored_plan_and_replans
from ..models import BeatRow, KobanRow, OfficerRow, UnitRow, VisitRow
from ..routes import households as households_api
from ..routes import plans as plans_api
from ..routes import visits as visits_api
from ..schemas import ReplanIn, VisitIn
from ..store import LOCAL_TZ, today_local
from .web import CSRF, PageForbidden, PageUser, db_of, render, require_role, settings_of

router = APIRouter(include_in_schema=False)

OUTCOMES = [o.value for o in Outcome]  # met, absent, refused, moved_out, vacant


def parse_day(day: str) -> date:
    today = today_local()
    if day == "today":
        return today
    if day == "tomorrow":
        return today + timedelta(days=1)
    try:
        return date.fromisoformat(day)
    except ValueError as exc:
        raise HTTPException(404, detail="day: expected YYYY-MM-DD") from exc


def officer_in_scope(session: Session, who: Principal, officer_id: str) -> OfficerRow:
    """The API's check (plans._officer_in_scope), as a page answer."""
    try:
        return plans_api._officer_in_scope(session, who, officer_id)
    except HTTPException as exc:
        raise PageForbidden("officer") from exc


@router.get("/officer/{day}")
def my_day(request: Request, who: PageUser, day: str) -> Response:
    require_role(who, Role.OFFICER)
    if day not in ("today", "tomorrow"):
        raise PageForbidden("officer")
    on = parse_day(day)
    return RedirectResponse(f"/route/{who.officer_id}/{on.isoformat()}", status_code=303)


class PlanPending(Exception):
    """The day's plan is being made in the background (the page shows that it is)."""


#: Plans being made for the route page, per database, officer and day.
_making: dict[tuple[int, str, date], Future[None]] = {}
_making_lock = threading.RLock()  # the done-callback may run inside making()
_planners = ThreadPoolExecutor(max_workers=2, thread_name_prefix="route-plan")


def _make_plan(db: Any, settings: Any, who: Principal, officer_id: str, on: date) -> None:
    """Plan the day through the API's planner and store it in ``day_plans`` (once)."""
    t0 = time.perf_counter()
    plan, _ = plans_api._plan(
        db, settings, who, officer_id, on, None, 0, settings.plan_time_limit_s
    )
    with db.read_session() as session:
        officer = session.get(OfficerRow, officer_id)
        koban = session.get(KobanRow, officer.koban_id) if officer else None
    save_day_plan(
        db,
        officer_id,
        on,
        plan,
        station=koban.station if koban else "",
        replanned=False,
        seconds=time.perf_counter() - t0,
        time_limit_s=settings.plan_time_limit_s,
    )


def making(request: Request, who: Principal, officer_id: str, on: date) -> Future[None]:
    """The background plan of the officer's day: started now unless already under way."""
    db = db_of(request)
    key = (id(db), officer_id, on)
    with _making_lock:
        fut = _making.get(key)
        if fut is None or (fut.done() and fut.exception() is None):
            fut = _planners.submit(_make_plan, db, settings_of(request), who, officer_id, on)
            _making[key] = fut
            fut.add_done_callback(lambda f: _drop_if_stored(key, f))
    return fut


def _drop_if_stored(key: tuple[int, str, date], fut: Future[None]) -> None:
    """A plan stored is read from ``day_plans`` from now on; a failure stays until asked."""
    if fut.exception() is None:
        with _making_lock:
            if _making.get(key) is fut:
                del _making[key]


def _forget(request: Request, officer_id: str, on: date, fut: Future[None]) -> None:
    with _making_lock:
        if _making.get((id(db_of(request)), officer_id, on)) is fut:
            del _making[(id(db_of(request)), officer_id, on)]


def stored_plan(
    request: Request, who: Principal, officer_id: str, on: date, *, wait: bool = False
) -> tuple[dict[str, Any], int]:
    """The day's plan the officer works from (``day_plans``: one store with GET /plans).

    A plan made ahead by ``junkai-geo plan-all`` is served as stored. A day
    without one is planned once in the background and stored there too;
    meanwhile this raises :class:`PlanPending` (the page says the route is
    being made), or with ``wait`` (the PDF sheet) waits for it.
    """
    db = db_of(request)
    with db.read_session() as session:
        officer_in_scope(session, who, officer_id)
        found = stored_plan_and_replans(session, officer_id, on)
    if found is not None:
        return found
    fut = making(request, who, officer_id, on)
    if not wait and not fut.done():
        raise PlanPending
    try:
        fut.result()
    finally:
        _forget(request, officer_id, on, fut)
    with db.read_session() as session:
        found = stored_plan_and_replans(session, officer_id, on)
    if found is None:  # pragma: no cover - the plan was stored just above
        raise HTTPException(500, detail="the plan was not stored")
    return found


@router.get("/route/{officer_id}/{day}/plan-status")
def plan_status(request: Request, who: PageUser, officer_id: str, day: str) -> Response:
    """Whether the day's plan is stored yet (the route page asks until it is)."""
    on = parse_day(day)
    try:
        stored_plan(request, who, officer_id, on)
    except PlanPending:
        return JSONResponse({"ready": False}, headers={"Cache-Control": "no-store"})
    except HTTPException as exc:
        return JSONResponse(
            {"ready": False, "error": str(exc.detail)[:300]},
            status_code=200,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse({"ready": True}, headers={"Cache-Control": "no-store"})


def results_of_day(session: Session, officer_id: str, on: date) -> dict[str, str]:
    """household_id -> the last outcome recorded by the officer on that day."""
    rows = session.execute(
        select(VisitRow.household_id, VisitRow.outcome)
        .where(VisitRow.officer_id == officer_id, VisitRow.visited_on == on)
        .order_by(VisitRow.time, VisitRow.created_at)
    ).all()
    return {h: o for h, o in rows}


#: The route page's map layers per (database, beat version, beats): they
#: change with a beat version only, so they are simplified once, not on every
#: open; kept :data:`CONTEXT_TTL_S` seconds (a full reload of the data may
#: reuse a version number).
_contexts: dict[tuple[str, int, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
_contexts_lock = threading.Lock()
CONTEXT_TTL_S = 600.0


def beat_context(session: Session, officer: OfficerRow) -> dict[str, Any]:
    """The beat polygon, its units (町丁目 names) and the koban, for the map."""
    version = current_version(session)
    beat_ids = (
        [officer.beat_id]
        if officer.beat_id
        else list(
            session.scalars(
                select(BeatRow.beat_id).where(
                    BeatRow.version == version, BeatRow.koban_id == officer.koban_id
                )
            )
        )
    )
    key = (str(session.get_bind().engine.url), int(version or 0), tuple(sorted(beat_ids)))
    now = time.monotonic()
    with _contexts_lock:
        hit = _contexts.get(key)
    if hit is None or now - hit[0] > CONTEXT_TTL_S:
        hit = (now, _layers(session, version, beat_ids))
        with _contexts_lock:
            if len(_contexts) > 512:
                _contexts.clear()
            _contexts[key] = hit
    k = session.get(KobanRow, officer.koban_id)
    koban = None if k is None else {"name": k.name, "lon": k.lon, "lat": k.lat}
    return {**hit[1], "koban": koban}


def _layers(session: Session, version: int | None, beat_ids: list[str]) -> dict[str, Any]:
    beats = []
    for bid, name, g in session.execute(
        select(BeatRow.beat_id, BeatRow.name, BeatRow.geom_wkb).where(
            BeatRow.version == version, BeatRow.beat_id.in_(beat_ids)
        )
    ):
        if g:
            beats.append(
                {
                    "beat_id": bid,
                    "name": name or bid,
                    "geometry": simplified(g, 0.00005),
                    "label": label_point(g),
                }
            )
    units = [
        {"name": name, "geometry": simplified(g, 0.00008), "label": label_point(g)}
        for name, g in session.execute(
            select(UnitRow.name, UnitRow.geom_wkb).where(UnitRow.beat_id.in_(beat_ids))
        )
        if g
    ]
    return {"beats": beats, "units": units}


def label_point(geom_wkb: bytes) -> list[float]:
    """[lat, lon] of a point inside the polygon (where its label goes)."""
    p = wkb.loads(geom_wkb).representative_point()
    return [round(p.y, 6), round(p.x, 6)]


def simplified(geom_wkb: bytes, tolerance_deg: float) -> dict[str, Any]:
    g = wkb.loads(geom_wkb).simplify(tolerance_deg, preserve_topology=True)
    return _rounded(mapping(g))


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


def _hhmm(t: Any) -> str:
    return str(t or "")[:5]


def stop_rows(plan: dict[str, Any], results: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for s in plan.get("stops", []):
        households = [
            {
                "household_id": h["household_id"],
                "kind": h.get("kind", ""),
                "floor": h.get("floor"),
                "card_status": h.get("card_status", ""),
                "reasons": [reason_label(r) for r in h.get("reasons", [])],
                "result": results.get(h["household_id"], ""),
                "key": uuid.uuid4().hex,
            }
            for h in s.get("households", [])
        ]
        rows.append(
            {
                "order": s["order"],
                "building_id": s.get("building_id") or "",
                "address": s.get("address", ""),
                "arrival": _hhmm(s.get("arrival")),
                "departure": _hhmm(s.get("departure")),
                "lon": s["lon"],
                "lat": s["lat"],
                "households": households,
            }
        )
    return rows


@router.get("/route/{officer_id}/{day}")
def route_page(request: Request, who: PageUser, officer_id: str, day: str) -> Response:
    on = parse_day(day)
    pending = False
    try:
        plan, replans = stored_plan(request, who, officer_id, on)
    except PlanPending:
        # No plan made ahead for this day: the page comes now, the route when made.
        plan, replans, pending = {}, 0, True
    with db_of(request).read_session() as session:
        officer = officer_in_scope(session, who, officer_id)
        results = results_of_day(session, officer_id, on)
        context = beat_context(session, officer)
    stops = stop_rows(plan, results)
    today = today_local()
    data = {
        "officer_id": officer_id,
        "date": on.isoformat(),
        "pending": pending,
        "start": plan.get("start"),
        "stops": [
            {
                "order": s["order"],
                "lon": s["lon"],
                "lat": s["lat"],
                "address": s["address"],
                "arrival": s["arrival"],
                "path": p.get("path"),
            }
            for s, p in zip(stops, plan.get("stops", []), strict=True)
        ],
        **context,
    }
    return render(
        request,
        "route.html",
        who,
        data=data,
        plan=plan,
        stops=stops,
        on=on,
        officer_id=officer_id,
        today=today,
        can_record=on <= today,
        outcomes=OUTCOMES,
        replans=replans,
        pending=pending,
        now=datetime.now(LOCAL_TZ).strftime("%H:%M"),
        tomorrow=today + timedelta(days=1),
        done=sum(1 for s in stops for h in s["households"] if h["result"]),
        total=sum(len(s["households"]) for s in stops),
    )


@router.post("/route/{officer_id}/{day}/visits", dependencies=[CSRF])
def record_result(
    request: Request,
    who: PageUser,
    officer_id: str,
    day: str,
    household_id: Annotated[str, Form(max_length=64)],
    outcome: Annotated[str, Form(max_length=16)],
    key: Annotated[str, Form(max_length=128)],
) -> Response:
    """One result (面接 / 不在 / 拒否 / 転出 / 空家), through ``POST /visits``."""
    on = parse_day(day)
    now = datetime.now(LOCAL_TZ).strftime("%H:%M")
    try:
        body = VisitIn(
            household_id=household_id,
            visited_on=on,
            time=now,
            outcome=outcome,  # type: ignore[arg-type]
            officer_id=officer_id,
            idempotency_key=key,
        )
    except ValidationError as exc:
        raise HTTPException(422, detail="outcome: expected one of " + ", ".join(OUTCOMES)) from exc
    out = visits_api.register_visit(body, who, db_of(request), Response())
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {
                "household_id": out.household_id,
                "outcome": out.outcome.value,
                "replayed": out.replayed,
            }
        )
    return RedirectResponse(
        f"/route/{officer_id}/{on.isoformat()}#h-{household_id}", status_code=303
    )


@router.post("/route/{officer_id}/{day}/replan", dependencies=[CSRF])
def replan(
    request: Request,
    who: PageUser,
    officer_id: str,
    day: str,
    lon: Annotated[float, Form()],
    lat: Annotated[float, Form()],
    now: Annotated[str, Form(max_length=5)],
) -> Response:
    """The rest of the day from where the officer stands, through the API's re-plan."""
    on = parse_day(day)
    if not re.match(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", now):
        raise HTTPException(422, detail="now: expected HH:MM")
    db = db_of(request)
    with db.read_session() as session:
        officer_in_scope(session, who, officer_id)
        done = sorted(results_of_day(session, officer_id, on))
    body = ReplanIn(now=now, lon=lon, lat=lat, done=done[:500])
    plan = plans_api.replan_day(officer_id, on, body, who, db, settings_of(request))
    with db.read_session() as session:
        officer = officer_in_scope(session, who, officer_id)
        koban = session.get(KobanRow, officer.koban_id)
    save_day_plan(
        db,
        officer_id,
        on,
        plan,
        station=koban.station if koban else "",
        replanned=True,
        time_limit_s=settings_of(request).plan_time_limit_s / 2,
    )
    return RedirectResponse(f"/route/{officer_id}/{on.isoformat()}?replanned=1", status_code=303)


@router.get("/route/{officer_id}/{day}/sheet.pdf")
def sheet(request: Request, who: PageUser, officer_id: str, day: str) -> Response:
    """The A4 route sheet (junkai_geo.sheet) of the plan the officer works from."""
    from junkai_geo.sheet import route_sheet_pdf

    on = parse_day(day)
    plan, _ = stored_plan(request, who, officer_id, on, wait=True)
    with db_of(request).read_session() as session:
        officer = officer_in_scope(session, who, officer_id)
        g = None
        if officer.beat_id:
            g = session.scalar(
                select(BeatRow.geom_wkb).where(
                    BeatRow.version == current_version(session),
                    BeatRow.beat_id == officer.beat_id,
                )
            )
    with tempfile.TemporaryDirectory(prefix="junkai_sheet_") as tmp:
        path = route_sheet_pdf(
            plan, Path(tmp) / "sheet.pdf", beat_geometry=wkb.loads(g) if g else None
        )
        data = Path(path).read_bytes()
    name = f"route_{officer_id}_{on.isoformat()}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.get("/officer-near")
async def near_page(
    request: Request, who: PageUser, lon: float | None = None, lat: float | None = None
) -> Response:
    """近くの未把握: the nearest 未把握 households to where the officer stands."""
    found: list[dict[str, Any]] = []
    error = ""
    if lon is not None and lat is not None:
        db = db_of(request)
        with db.read_session() as session:
            try:
                resp = await households_api.near(
                    who, db, session, lon=lon, lat=lat, limit=20, radius_m=2000
                )
                found = orjson.loads(resp.body)
            except HTTPException:
                error = "outside"
    data = {"lon": lon, "lat": lat, "found": found}
    return render(request, "near.html", who, data=data, found=found, lon=lon, lat=lat, error=error)


@router.get("/officer-progress")
async def my_progress(request: Request, who: PageUser) -> Response:
    """My progress this month: visits, contacts, cards, coverage, 未把握."""
    require_role(who, Role.OFFICER)
    today = today_local()
    start = today.replace(day=1)
    row = await run_in_threadpool(_officer_progress, request, who, start, today)
    return render(request, "my_progress.html", who, row=row, start=start, end=today)


def _officer_progress(request: Request, who: Principal, start: date, end: date) -> Any:
    from junkai_geo.progress import progress_report

    from ..store import dataset_from_db

    with db_of(request).read_session() as session:
        ds = dataset_from_db(session, who.koban_ids)
    result = progress_report(ds, start=start, end=end)
    for o in result.officers:
        if o.officer_id == who.officer_id:
            return o.to_dict()
    return None
