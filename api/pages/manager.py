"""Manager pages: beats map, progress, night approvals, 専従員, the April survey.

Each calls the JSON API's own function with the page session's principal
(``api.routes.progress``, ``night_approvals``, ``specialists``,
``reports``), so a manager sees their station and nothing else.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from datetime import date, datetime, timedelta
from typing import Annotated, Any

# Imported with the service, not on the first open of a beats map (a second
# of imports: pandas, GeoPandas, SciPy through the workload model).
import geopandas as gpd
import numpy as np
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from shapely import wkb
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from starlette.background import BackgroundTask

from ..aggregates import unit_workloads
from ..auth import Principal, Role, current_version
from ..db import utcnow
from ..models import BeatRow, HouseholdRow, KobanRow, OfficerRow, UnitRow
from ..routes import night_approvals as night_api
from ..routes import progress as progress_api
from ..routes import reports as reports_api
from ..routes import specialists as specialists_api
from ..routes.reports import CSV_COLUMNS
from ..schemas import NightApprovalIn
from ..store import LOCAL_TZ, today_local
from . import editor
from .editor import editor_data
from .models import PageStationMap
from .officer import _rounded, label_point, simplified
from .web import CSRF, PageUser, db_of, render, require_role, settings_of

router = APIRouter(include_in_schema=False)

#: Workload classes of the beats map (colour i: below the bound i, hours per cycle).
CLASS_COLOURS = 5


def _manager(who: Principal) -> str:
    require_role(who, Role.MANAGER)
    assert who.station is not None
    return who.station


#: Seconds the stored beats map is served as it is. Older, it is still
#: served at once (the page shows when it was computed) and recomputed after
#: the answer, in the background; visits and imports change it little.
MAP_FRESH_S = 30.0
_map_lock = threading.Lock()
_map_refreshing: set[tuple[str, str, int]] = set()


def koban_key(koban_ids: frozenset[str] | None) -> str:
    """A short name of the koban a stored map covers."""
    return hashlib.sha1(",".join(sorted(koban_ids or [])).encode()).hexdigest()[:40]


def beats_map_data(db: Any, who: Principal) -> tuple[dict[str, Any], bool]:
    """The station's beats map (:func:`compute_beats_map`), as stored.

    Read from ``page_station_maps`` (one row per station and beat version:
    the first open after the service starts reads it too); computed and
    stored when there is none. The second value says whether the stored
    answer is older than :data:`MAP_FRESH_S` (the caller then has it
    recomputed after answering: :func:`refresh_beats_map`).
    """
    station, kids = who.station or "", who.koban_ids or frozenset()
    key = koban_key(kids)
    with db.read_session() as session:
        version = int(current_version(session) or 0)
        row = session.get(PageStationMap, (station, version))
        stored = (row.data, row.computed_at) if row is not None and row.koban_key == key else None
    stale = False
    if stored is None:
        data, computed_at = compute_beats_map(db, kids), utcnow()
        save_beats_map(db, station, version, key, data, computed_at)
    else:
        data, computed_at = stored
        stale = (utcnow() - computed_at).total_seconds() > MAP_FRESH_S
    as_of = computed_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    return {**data, "as_of": as_of}, stale


def save_beats_map(
    db: Any, station: str, version: int, key: str, data: dict[str, Any], at: datetime
) -> None:
    """Store (or replace) a station's beats map; a concurrent writer's row is kept."""
    try:
        with db.writing() as session:
            row = session.get(PageStationMap, (station, version))
            if row is None:
                session.add(
                    PageStationMap(
                        station=station, version=version, koban_key=key, computed_at=at, data=data
                    )
                )
            else:
                row.koban_key, row.computed_at, row.data = key, at, data
    except IntegrityError:  # another worker stored it at the same moment
        pass


def refresh_beats_map(db: Any, station: str, koban_ids: frozenset[str]) -> None:
    """Compute and store the station's beats map again (once at a time per station)."""
    with db.read_session() as session:
        version = int(current_version(session) or 0)
    flag = (str(db.engine.url), station, version)
    with _map_lock:
        if flag in _map_refreshing:
            return
        _map_refreshing.add(flag)
    try:
        data = compute_beats_map(db, koban_ids)
        save_beats_map(db, station, version, koban_key(koban_ids), data, utcnow())
    except Exception:  # noqa: BLE001 - the stored answer stays; the next open tries again
        logging.getLogger("api.pages").exception("beats map of %s not refreshed", station)
    finally:
        with _map_lock:
            _map_refreshing.discard(flag)


def prewarm(db: Any) -> None:
    """At start, in a background thread: each station's beats map when not
    stored fresh, then the beat editor's figures (:func:`api.pages.editor.prewarm_now`)."""
    url = db.engine.url
    if db.is_sqlite and url.database in (None, "", ":memory:"):
        return

    def run() -> None:
        try:
            with db.read_session() as session:
                version = int(current_version(session) or 0)
                stations: dict[str, set[str]] = {}
                for kid, st in session.execute(select(KobanRow.koban_id, KobanRow.station)):
                    stations.setdefault(st or "", set()).add(kid)
                stored = {
                    r.station: r
                    for r in session.scalars(
                        select(PageStationMap).where(PageStationMap.version == version)
                    )
                }
            for st, kids in sorted(stations.items()):
                row = stored.get(st)
                fresh = (
                    row is not None
                    and row.koban_key == koban_key(frozenset(kids))
                    and (utcnow() - row.computed_at).total_seconds() <= MAP_FRESH_S
                )
                if not fresh:
                    refresh_beats_map(db, st, frozenset(kids))
        except Exception:  # noqa: BLE001 - a database gone or empty: pages compute on demand
            pass
        editor.prewarm_now(db)

    threading.Thread(target=run, name="junkai-pages-prewarm", daemon=True).start()


def compute_beats_map(db: Any, koban_ids: frozenset[str]) -> dict[str, Any]:
    """Beats (polygon, label point, workload, households, 未把握) and 未把握 per 町丁目.

    The workload per 町丁目 comes from grouped queries on the stored card
    fields (:func:`api.aggregates.unit_workloads`: the beat editor's figures,
    without reading every household and visit of the station); the editor's
    model only when the grouped path cannot place a household.
    """
    editor_units = _map_units(db, koban_ids)
    work: dict[str, float] = {}
    for u in editor_units["units"]:
        work[u["beat_id"]] = work.get(u["beat_id"], 0.0) + u["workload_h"]
    with db.read_session() as session:
        version = current_version(session)
        beats = session.execute(
            select(
                BeatRow.beat_id,
                BeatRow.name,
                BeatRow.koban_id,
                BeatRow.households,
                BeatRow.geom_wkb,
            )
            .where(BeatRow.version == version, BeatRow.koban_id.in_(koban_ids or []))
            .order_by(BeatRow.beat_id)
        ).all()
        beat_ids = [b[0] for b in beats]
        # 未把握 (occupied, never contacted) per unit: the partial index of migration 0004.
        unknown = session.execute(
            select(HouseholdRow.unit_id, HouseholdRow.beat_id, func.count())
            .where(
                HouseholdRow.beat_id.in_(beat_ids),
                HouseholdRow.last_contact.is_(None),
                text("households.occupancy = 'occupied'"),
            )
            .group_by(HouseholdRow.unit_id, HouseholdRow.beat_id)
        ).all()
        names = dict(
            session.execute(
                select(UnitRow.unit_id, UnitRow.name).where(UnitRow.beat_id.in_(beat_ids))
            ).all()
        )
    label = {u["unit_id"]: u["label"] for u in editor_units["units"]}
    unknown_beat: dict[str, int] = {}
    points = []
    for uid, bid, n in unknown:
        unknown_beat[bid] = unknown_beat.get(bid, 0) + int(n)
        if uid in label:
            points.append(
                {
                    "name": names.get(uid, ""),
                    "n": int(n),
                    "lat": label[uid][0],
                    "lon": label[uid][1],
                }
            )
    values = sorted(work.values())
    bounds = (
        [
            values[min(len(values) - 1, (len(values) * (i + 1)) // CLASS_COLOURS)]
            for i in range(CLASS_COLOURS - 1)
        ]
        if values
        else []
    )
    rows = []
    for bid, name, kid, hh, g in beats:
        w = work.get(bid, 0.0)
        cls = sum(1 for b in bounds if w > b)
        rows.append(
            {
                "beat_id": bid,
                "name": name or bid,
                "koban_id": kid,
                "households": hh,
                "workload_h": round(w, 1),
                "unknown": unknown_beat.get(bid, 0),
                "cls": cls,
                "geometry": simplified(g, 0.00005) if g else None,
                "label": label_point(g) if g else None,
            }
        )
    return {
        "beats": rows,
        "bounds": [round(b, 1) for b in bounds],
        "unknown_points": points,
        "koban": editor_units["koban"],
        "units": [
            {
                "name": u["name"],
                "geometry": {"type": "Point", "coordinates": [u["label"][1], u["label"][0]]},
            }
            for u in editor_units["units"]
        ],
    }


def _map_units(db: Any, scope: frozenset[str] | Principal) -> dict[str, Any]:
    """The station's 町丁目 (name, beat, workload, label point) and koban, as
    :func:`api.pages.editor.editor_data` gives them, from grouped queries.

    ``scope``: the koban ids, or a principal whose koban ids are read
    (``benchmarks/bench_heavy_reads.py`` passes one)."""
    koban_ids = scope if isinstance(scope, frozenset) else (scope.koban_ids or frozenset())
    with db.read_session() as session:
        found = unit_workloads(session, koban_ids)
        koban = session.execute(
            select(KobanRow.koban_id, KobanRow.name, KobanRow.lon, KobanRow.lat, KobanRow.station)
            .where(KobanRow.koban_id.in_(koban_ids or []))
            .order_by(KobanRow.koban_id)
        ).all()
    if found is None:
        station = koban[0][4] if koban else ""
        return editor_data(db, station, koban_ids)
    units, work = found
    kgdf = gpd.GeoDataFrame(
        {"koban_id": [k[0] for k in koban]},
        geometry=gpd.points_from_xy([k[2] for k in koban], [k[3] for k in koban]),
        crs="EPSG:4326",
    ).to_crs(units.crs)
    koban_unit = {}
    for kid, pt in zip(kgdf["koban_id"], kgdf.geometry, strict=True):
        d = units.geometry.distance(pt).to_numpy()
        koban_unit[kid] = int(np.argmin(d)) if len(d) else -1
    wgs = units.to_crs("EPSG:4326")
    rows = []
    for i, (uid, name, beat, geom) in enumerate(
        zip(wgs["unit_id"], wgs["name"], wgs["beat_id"], wgs.geometry, strict=True)
    ):
        p = geom.representative_point()
        rows.append(
            {
                "unit_id": str(uid),
                "name": str(name or ""),
                "beat_id": str(beat),
                "workload_h": round(float(work.iloc[i]), 3),
                "label": [round(p.y, 6), round(p.x, 6)],
            }
        )
    return {
        "units": rows,
        "koban": [
            {"koban_id": k, "name": n, "lon": lon, "lat": lat, "unit": koban_unit.get(k, -1)}
            for k, n, lon, lat, _ in koban
        ],
    }


@router.get("/station/beats")
async def beats_page(request: Request, who: PageUser) -> Response:
    _manager(who)
    db = db_of(request)
    data, stale = await run_in_threadpool(beats_map_data, db, who)
    response = render(
        request,
        "beats.html",
        who,
        data=data,
        beats=data["beats"],
        bounds=data["bounds"],
        as_of=data["as_of"],
    )
    if stale:  # recomputed after the answer is sent
        response.background = BackgroundTask(
            refresh_beats_map, db, who.station or "", who.koban_ids or frozenset()
        )
    return response


@router.get("/station/progress")
async def progress_page(
    request: Request, who: PageUser, start: date | None = None, end: date | None = None
) -> Response:
    _manager(who)
    end = end or today_local()
    start = start or end.replace(day=1)
    if start > end:
        start, end = end, start
    result = await run_in_threadpool(_progress, request, who, start, end)
    return render(request, "progress.html", who, result=result, start=start, end=end)


def _progress(request: Request, who: Principal, start: date, end: date) -> dict[str, Any]:
    with db_of(request).read_session() as session:
        out: dict[str, Any] = progress_api.get_progress(who, session, start, end, None)
    return out


def _officers(request: Request, who: Principal) -> list[str]:
    with db_of(request).read_session() as session:
        return list(
            session.scalars(
                select(OfficerRow.officer_id)
                .where(OfficerRow.koban_id.in_(who.koban_ids or []))
                .order_by(OfficerRow.officer_id)
            )
        )


@router.get("/station/night")
def night_page(request: Request, who: PageUser, error: str = "") -> Response:
    _manager(who)
    with db_of(request).read_session() as session:
        approvals = night_api.list_approvals(who, session, None, None)
    return render(
        request,
        "night.html",
        who,
        approvals=approvals,
        officers=_officers(request, who),
        tomorrow=today_local() + timedelta(days=1),
        error=error,
    )


@router.post("/station/night", dependencies=[CSRF])
def approve_night(
    request: Request,
    who: PageUser,
    officer_id: Annotated[str, Form(max_length=64)],
    on_date: Annotated[date, Form()],
    start: Annotated[str, Form(max_length=5)],
    end: Annotated[str, Form(max_length=5)],
) -> Response:
    _manager(who)
    try:
        body = NightApprovalIn(officer_id=officer_id, on_date=on_date, start=start, end=end)
        night_api.approve(body, who, db_of(request))
    except (HTTPException, ValueError) as exc:
        detail = getattr(exc, "detail", None) or "start/end: expected HH:MM"
        return RedirectResponse(f"/station/night?error={str(detail)[:200]}", status_code=303)
    return RedirectResponse("/station/night", status_code=303)


@router.post("/station/night/{approval_id}/revoke", dependencies=[CSRF])
def revoke_night(request: Request, who: PageUser, approval_id: int) -> Response:
    _manager(who)
    night_api.revoke(approval_id, who, db_of(request))
    return RedirectResponse("/station/night", status_code=303)


@router.get("/station/specialists")
async def specialists_page(request: Request, who: PageUser) -> Response:
    _manager(who)
    report = await run_in_threadpool(_specialists, request, who)
    data = await run_in_threadpool(specialists_map_data, db_of(request), who, report)
    return render(request, "specialists.html", who, report=report, data=data)


def specialists_map_data(db: Any, who: Principal, report: dict[str, Any] | None) -> dict[str, Any]:
    """The 専従員 districts outlined (their 町丁目 merged) with the assignment, for the map.

    Only area figures and staff ids: no household, address or person of the
    public (the district rows hold counts, the assignment officer ids).
    """
    from shapely import union_all
    from shapely.geometry import mapping

    districts: list[dict[str, Any]] = []
    with db.read_session() as session:
        version = current_version(session)
        beats = [
            {"name": name or bid, "geometry": simplified(g, 0.00005)}
            for bid, name, g in session.execute(
                select(BeatRow.beat_id, BeatRow.name, BeatRow.geom_wkb).where(
                    BeatRow.version == version, BeatRow.koban_id.in_(who.koban_ids or [])
                )
            )
            if g
        ]
        koban = [
            {"name": k.name, "lon": k.lon, "lat": k.lat}
            for k in session.scalars(
                select(KobanRow).where(KobanRow.koban_id.in_(who.koban_ids or []))
            )
        ]
        if report:
            officers: dict[str, list[str]] = {}
            for a in report.get("recommendation", {}).get("assignments", []):
                officers.setdefault(str(a["district_id"]), []).append(str(a["officer_id"]))
            wanted = {u for d in report.get("districts", []) for u in d.get("unit_ids", [])}
            geoms = {
                uid: wkb.loads(g)
                for uid, g in session.execute(
                    select(UnitRow.unit_id, UnitRow.geom_wkb).where(UnitRow.unit_id.in_(wanted))
                )
                if g
            }
            for d in report.get("districts", []):
                parts = [geoms[u] for u in d.get("unit_ids", []) if u in geoms]
                shape = (
                    union_all(parts).simplify(0.00005, preserve_topology=True) if parts else None
                )
                districts.append(
                    {
                        "district_id": str(d["district_id"]),
                        "name": str(d.get("name") or ""),
                        "lon": d["lon"],
                        "lat": d["lat"],
                        "households": int(d["households"]),
                        "backlog": int(d["backlog"]),
                        "officers": officers.get(str(d["district_id"]), []),
                        "geometry": _rounded(mapping(shape)) if shape is not None else None,
                    }
                )
    return {"beats": beats, "koban": koban, "districts": districts}


def _specialists(request: Request, who: Principal) -> dict[str, Any] | None:
    with db_of(request).read_session() as session:
        try:
            out: dict[str, Any] = specialists_api.get_specialists(who, session, top=5)
        except HTTPException:
            return None
    return out


async def _survey(request: Request, who: Principal) -> Any:
    db = db_of(request)
    with db.read_session() as session:
        return await reports_api.cached_beat_survey(
            db, session, who, cards_per_book=settings_of(request).cards_per_book
        )


@router.get("/station/survey")
async def survey_page(request: Request, who: PageUser) -> Response:
    _manager(who)
    survey = await _survey(request, who)
    return render(request, "survey.html", who, survey=survey, columns=CSV_COLUMNS)


@router.get("/station/survey.xlsx")
async def survey_xlsx(request: Request, who: PageUser) -> Response:
    """The April beat survey (受持区実態調査) as an Excel workbook (xlsxwriter)."""
    _manager(who)
    survey = await _survey(request, who)
    return Response(
        survey_workbook(survey, who.station or ""),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="beat_survey_{survey.as_of.isoformat()}.xlsx"'
        },
    )


def survey_workbook(survey: Any, station: str) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("受持区実態調査")
    bold = wb.add_format({"bold": True, "bg_color": "#D9E6FF", "border": 1})
    num = wb.add_format({"num_format": "#,##0", "border": 1})
    txt = wb.add_format({"border": 1})
    ws.write(
        0,
        0,
        f"受持区実態調査 {station}（{survey.as_of.isoformat()} 現在、受持区版 {survey.version}）",
    )
    ws.write(1, 0, f"簿冊は {survey.cards_per_book} 枚で1冊")
    for c, (_, head) in enumerate(CSV_COLUMNS):
        ws.write(3, c, head, bold)
    for r, row in enumerate([*survey.beats, survey.totals], start=4):
        for c, (f, _) in enumerate(CSV_COLUMNS):
            v = getattr(row, f)
            if isinstance(v, int):
                ws.write_number(r, c, v, num)
            else:
                ws.write_string(r, c, str(v), txt)
    ws.set_column(0, 2, 12)
    ws.set_column(3, len(CSV_COLUMNS) - 1, 10)
    ws.freeze_panes(4, 3)
    wb.close()
    return buf.getvalue()
