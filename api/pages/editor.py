"""The beat editor (受持区の調整) of a station's manager.

The page gets every unit (町丁目) of the station once: its polygon, its
workload in hours per visiting cycle (``junkai_geo.workload.unit_workload_h``
on the households, cards, buildings and koban), its neighbours and whether
it holds or touches its koban. A move then changes the figures of two beats
only, which the browser recomputes at once (sums, deviation from the mean,
connected parts by a search over the neighbours, the koban's unit): no round
trip per move. Accepting sends the moves; the server checks them (scope,
locks) and writes a new beat version whose polygons are the union of their
units, as an accepted rebalancing does. The rebalancer itself runs through
the API's rebalancing jobs (``api.routes.rebalance``) on the current version
with its locked beats.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal, cast

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from shapely import union_all, wkb
from shapely.geometry import mapping
from sqlalchemy import select, update

from .. import audit
from ..auth import Principal, Role, current_version
from ..db import utcnow
from ..models import BeatRow, BeatVersion, HouseholdRow, KobanRow, RebalanceJob, UnitRow
from ..routes import rebalance as rebalance_api
from ..schemas import RebalanceIn
from ..store import recount_beats, today_local
from .models import PageBeatChange
from .officer import _rounded
from .web import CSRF, PageForbidden, PageUser, db_of, render, require_role, settings_of

router = APIRouter(include_in_schema=False)

#: (database, beat version, station) -> (computed at, data). The workload
#: model reads every household, visit and building of the station (seconds
#: for 金沢中's 100,000 households), so its answer is kept per beat version
#: and refreshed in the background after ``REFRESH_S`` (cards change with
#: visits; the figures are hours per visiting cycle, not a live count).
_cache: dict[tuple[str, int, str], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()
_refreshing: set[tuple[str, int, str]] = set()
_inflight: dict[tuple[str, int, str], threading.Event] = {}
REFRESH_S = 3600.0


def editor_data(db: Any, station: str, koban_ids: frozenset[str] | None) -> dict[str, Any]:
    """Units, beats, koban, workloads and adjacency of the station's current beats."""
    with db.read_session() as session:
        version = current_version(session)
    key = (str(db.engine.url), int(version or 0), station)
    with _cache_lock:
        hit = _cache.get(key)
        stale = hit is not None and time.monotonic() - hit[0] > REFRESH_S
        if stale and key not in _refreshing:
            _refreshing.add(key)
            threading.Thread(
                target=_refresh, args=(db, key, version, koban_ids), daemon=True
            ).start()
        running = _inflight.get(key) if hit is None else None
        if hit is None and running is None:
            _inflight[key] = threading.Event()
    if hit is not None:
        return hit[1]
    if running is not None:
        # Another request (or the prewarm) is computing it: wait for that one.
        running.wait(600)
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit[1]
        return _compute(db, version, koban_ids)
    try:
        out = _compute(db, version, koban_ids)
        _store(key, out)
        return out
    finally:
        with _cache_lock:
            done = _inflight.pop(key, None)
        if done is not None:
            done.set()


def _store(key: tuple[str, int, str], out: dict[str, Any]) -> None:
    with _cache_lock:
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = (time.monotonic(), out)


def _refresh(db: Any, key: tuple[str, int, str], version: Any, koban_ids: Any) -> None:
    try:
        _store(key, _compute(db, version, koban_ids))
    except Exception:  # the stale answer stays; the next request tries again
        pass
    finally:
        with _cache_lock:
            _refreshing.discard(key)


def prewarm_now(db: Any) -> None:
    """Compute every station's figures once (the service's start-up thread:
    :func:`api.pages.manager.prewarm`), so the first manager to open the
    editor does not wait for the workload model. Skipped for an in-memory
    SQLite database (one connection shared by the whole process)."""
    url = db.engine.url
    if db.is_sqlite and url.database in (None, "", ":memory:"):
        return
    try:
        with db.read_session() as session:
            stations: dict[str, set[str]] = {}
            for kid, st in session.execute(select(KobanRow.koban_id, KobanRow.station)):
                stations.setdefault(st or "", set()).add(kid)
        for st, kids in sorted(stations.items()):
            editor_data(db, st, frozenset(kids))
    except Exception:  # a database gone or empty: the pages compute on demand
        pass


def _compute(db: Any, version: int | None, koban_ids: frozenset[str] | None) -> dict[str, Any]:
    import geopandas as gpd
    import numpy as np

    from junkai_geo.cards import card_table
    from junkai_geo.workload import unit_workload_h

    from ..store import dataset_from_db

    with db.read_session() as session:
        ds = dataset_from_db(session, koban_ids, buildings=True)
        beats = session.execute(
            select(BeatRow.beat_id, BeatRow.koban_id, BeatRow.name, BeatRow.locked).where(
                BeatRow.version == version, BeatRow.koban_id.in_(koban_ids or [])
            )
        ).all()
        koban = session.execute(
            select(KobanRow.koban_id, KobanRow.name, KobanRow.lon, KobanRow.lat).where(
                KobanRow.koban_id.in_(koban_ids or [])
            )
        ).all()
    units = ds.units
    assert units is not None and ds.households is not None
    units = units.reset_index(drop=True)
    cards = card_table(ds.households, ds.visits, today=today_local())
    work = unit_workload_h(units, ds.households, cards, ds.buildings, ds.koban)
    # Neighbours: units whose polygons touch (1 m tolerance in the metric CRS).
    buffered = gpd.GeoDataFrame(geometry=units.geometry.buffer(1.0), crs=units.crs)
    pairs = gpd.sjoin(buffered, buffered, predicate="intersects")
    left = pairs.index.to_numpy()
    right = pairs["index_right"].to_numpy()
    keep = left < right
    adjacency = np.stack([left[keep], right[keep]], axis=1).tolist()
    # The unit each koban stands in (or the nearest one).
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
    unit_rows = []
    for i, (uid, name, beat, geom) in enumerate(
        zip(wgs["unit_id"], wgs["name"], wgs["beat_id"], wgs.geometry, strict=True)
    ):
        g = geom.simplify(0.00004, preserve_topology=True)
        p = geom.representative_point()
        unit_rows.append(
            {
                "i": i,
                "unit_id": str(uid),
                "name": str(name or ""),
                "beat_id": str(beat),
                "workload_h": round(float(work.iloc[i]), 3),
                "households": int(units["households"].iloc[i] or 0),
                "label": [round(p.y, 6), round(p.x, 6)],
                "geometry": _rounded(mapping(g)),
            }
        )
    return {
        "version": version,
        "units": unit_rows,
        "beats": [
            {"beat_id": b, "koban_id": k, "name": n or b, "locked": bool(lk)}
            for b, k, n, lk in sorted(beats)
        ],
        "koban": [
            {"koban_id": k, "name": n, "lon": lon, "lat": lat, "unit": koban_unit.get(k, -1)}
            for k, n, lon, lat in koban
        ],
        "adjacency": adjacency,
    }


def carry_over(db: Any, old: int, new: int, moved: dict[str, str], locked: set[str]) -> None:
    """The figures of a new version from the old one's: a unit's workload does
    not depend on its beat (its koban trip is to the unit's own koban), so
    only the moved units' beats change."""
    import copy

    with _cache_lock:
        for (url, version, station), (_, data) in list(_cache.items()):
            if url != str(db.engine.url) or version != old:
                continue
            fresh = copy.deepcopy(data)
            fresh["version"] = new
            for u in fresh["units"]:
                u["beat_id"] = moved.get(u["unit_id"], u["beat_id"])
            for b in fresh["beats"]:
                b["locked"] = b["locked"] or b["beat_id"] in locked
            _cache[(url, new, station)] = (time.monotonic(), fresh)


def _manager(who: Principal) -> str:
    require_role(who, Role.MANAGER)
    assert who.station is not None
    return who.station


@router.get("/station/editor")
def editor_page(request: Request, who: PageUser) -> Response:
    _manager(who)
    return render(request, "editor.html", who)


@router.get("/station/editor/data.json")
async def editor_json(request: Request, who: PageUser) -> Response:
    station = _manager(who)
    data = await run_in_threadpool(editor_data, db_of(request), station, who.koban_ids)
    return JSONResponse(data)


class Move(BaseModel):
    unit_id: str = Field(max_length=64)
    to_beat: str = Field(max_length=64)


class AcceptIn(BaseModel):
    version: int
    moves: list[Move] = Field(max_length=5000)
    locked_beats: list[str] = Field(default_factory=list, max_length=1000)
    note: str = Field(default="", max_length=200)


class LocksIn(BaseModel):
    locked_beats: list[str] = Field(max_length=1000)


@router.post("/station/editor/locks", dependencies=[CSRF])
def save_locks(request: Request, who: PageUser, body: LocksIn) -> Response:
    """Lock beats of the current version (the rebalancer keeps them)."""
    _manager(who)
    db = db_of(request)
    with db.writing() as session:
        version = current_version(session)
        for b in session.scalars(
            select(BeatRow).where(
                BeatRow.version == version, BeatRow.koban_id.in_(who.koban_ids or [])
            )
        ):
            b.locked = b.beat_id in set(body.locked_beats)
        audit.record(session, who, "lock", "beats", detail={"locked": body.locked_beats[:50]})
    # The cached figures stay valid: only the flags change.
    locked = set(body.locked_beats)
    with _cache_lock:
        for _, data in _cache.values():
            for b in data["beats"]:
                if who.can_koban(b["koban_id"]):
                    b["locked"] = b["beat_id"] in locked
    return JSONResponse({"locked_beats": sorted(body.locked_beats)})


@router.post("/station/editor/accept", dependencies=[CSRF])
def accept(request: Request, who: PageUser, body: AcceptIn) -> Response:
    """The editor's moves as a new beat version (polygons: union of their units)."""
    _manager(who)
    db = db_of(request)
    if not body.moves:
        raise HTTPException(422, detail="moves: expected at least one moved unit")
    with db.writing() as session:
        version = current_version(session)
        if version != body.version:
            raise HTTPException(409, detail="the beats changed since the editor opened; reload")
        beats = {
            b.beat_id: b for b in session.scalars(select(BeatRow).where(BeatRow.version == version))
        }
        mine = {b for b, row in beats.items() if who.can_koban(row.koban_id)}
        locked = {b for b in mine if beats[b].locked} | set(body.locked_beats)
        units = {
            u.unit_id: u for u in session.scalars(select(UnitRow).where(UnitRow.beat_id.in_(mine)))
        }
        moves = []
        for m in body.moves:
            u = units.get(m.unit_id)
            if u is None:
                raise HTTPException(422, detail=f"unit {m.unit_id}: not in your station's beats")
            if m.to_beat not in mine:
                raise HTTPException(422, detail=f"to_beat {m.to_beat}: not a beat of your station")
            if u.beat_id in locked or m.to_beat in locked:
                raise HTTPException(422, detail=f"unit {m.unit_id}: its beat is locked")
            if u.beat_id != m.to_beat:
                moves.append((u, str(u.beat_id), m.to_beat))
        if not moves:
            raise HTTPException(422, detail="moves: no unit changes beat")
        new_version = version + 1
        session.add(
            BeatVersion(
                version=new_version,
                created_at=utcnow(),
                source="editor",
                job_id=None,
                note=(body.note or f"beat editor, station {who.station}")[:500],
            )
        )
        session.flush()
        for u, _, to in moves:
            u.beat_id = to
        session.flush()
        changed = {b for _, a, c in moves for b in (a, c)}
        geoms: dict[str, list[Any]] = {b: [] for b in changed}
        for u in units.values():
            if u.beat_id in changed and u.geom_wkb:
                geoms[str(u.beat_id)].append(wkb.loads(u.geom_wkb))
        for b in beats.values():
            geom = b.geom_wkb
            if b.beat_id in changed and geoms[b.beat_id]:
                geom = union_all(geoms[b.beat_id]).wkb
            session.add(
                BeatRow(
                    version=new_version,
                    beat_id=b.beat_id,
                    koban_id=b.koban_id,
                    name=b.name,
                    locked=b.beat_id in locked or b.locked,
                    households=0,
                    geom_wkb=geom,
                )
            )
        for u, a, c in moves:
            session.execute(
                update(HouseholdRow).where(HouseholdRow.unit_id == u.unit_id).values(beat_id=c)
            )
            session.add(
                PageBeatChange(version=new_version, unit_id=u.unit_id, from_beat=a, to_beat=c)
            )
        session.flush()
        recount_beats(session, new_version)
        audit.record(
            session,
            who,
            "accept",
            "beat_version",
            str(new_version),
            detail={"source": "editor", "units_moved": len(moves)},
        )
    carry_over(db, version, new_version, {u.unit_id: c for u, _, c in moves}, locked)
    return JSONResponse({"new_version": new_version, "units_moved": len(moves)})


class RebalanceChoice(BaseModel):
    """What the manager chose in the page (the API's defaults otherwise)."""

    mode: Literal["minimal-change", "best-balance"] = "minimal-change"
    tolerance: float = Field(default=0.10, ge=0.01, le=0.5)


@router.post("/station/editor/rebalance", dependencies=[CSRF])
def run_rebalancer(
    request: Request, who: PageUser, choice: RebalanceChoice | None = None
) -> Response:
    """A rebalancing job of the station through the API (current version, locked beats)."""
    _manager(who)
    choice = choice or RebalanceChoice()
    body = RebalanceIn(
        station=who.station, time_limit_s=20.0, mode=choice.mode, tolerance=choice.tolerance
    )
    out = rebalance_api.start(body, who, db_of(request), settings_of(request))
    return JSONResponse(out.model_dump(mode="json"))


@router.get("/station/editor/jobs/{job_id}")
def job(request: Request, who: PageUser, job_id: str) -> Response:
    _manager(who)
    with db_of(request).read_session() as session:
        try:
            out = rebalance_api.get_job(job_id, who, session)
        except HTTPException as exc:
            raise PageForbidden("role") from exc
    return JSONResponse(out.model_dump(mode="json"))


@router.post("/station/editor/jobs/{job_id}/{decision}", dependencies=[CSRF])
def decide(request: Request, who: PageUser, job_id: str, decision: str) -> Response:
    _manager(who)
    db = db_of(request)
    if decision == "accept":
        out = rebalance_api.accept(job_id, who, db)
        _record_job_changes(db, job_id, out.new_version)
    elif decision == "reject":
        out = rebalance_api.reject(job_id, who, db)
    else:
        raise HTTPException(404, detail="decision: expected accept or reject")
    return JSONResponse(out.model_dump(mode="json"))


def _record_job_changes(db: Any, job_id: str, version: int | None) -> None:
    if version is None:
        return
    with db.writing() as session:
        job = session.get(RebalanceJob, job_id)
        for m in (job.result or {}).get("moved_units", []) if job else []:
            session.add(
                PageBeatChange(
                    version=version,
                    unit_id=str(m["unit_id"]),
                    from_beat=str(m.get("from_beat", "")),
                    to_beat=str(m["to_beat"]),
                )
            )


@router.get("/station/changes/{version}")
def change_map(request: Request, who: PageUser, version: int) -> Response:
    """A printable map of what a beat version changed."""
    _manager(who)
    with db_of(request).read_session() as session:
        moves = session.execute(
            select(PageBeatChange.unit_id, PageBeatChange.from_beat, PageBeatChange.to_beat).where(
                PageBeatChange.version == version
            )
        ).all()
        v = session.get(BeatVersion, version)
        units = {
            uid: (name, g)
            for uid, name, g in session.execute(
                select(UnitRow.unit_id, UnitRow.name, UnitRow.geom_wkb).where(
                    UnitRow.unit_id.in_([m[0] for m in moves])
                )
            )
        }
        beats = [
            {"beat_id": b, "geometry": _rounded(mapping(wkb.loads(g).simplify(0.00004)))}
            for b, g, k in session.execute(
                select(BeatRow.beat_id, BeatRow.geom_wkb, BeatRow.koban_id).where(
                    BeatRow.version == version
                )
            )
            if g and who.can_koban(k)
        ]
    if v is None:
        raise HTTPException(404, detail="beat version not found")
    rows = [
        {
            "unit_id": uid,
            "name": units.get(uid, ("", None))[0],
            "from_beat": a,
            "to_beat": c,
            "geometry": _rounded(mapping(wkb.loads(cast(bytes, units[uid][1]))))
            if units.get(uid, ("", None))[1]
            else None,
        }
        for uid, a, c in moves
    ]
    return render(
        request,
        "changes.html",
        who,
        data={"moves": rows, "beats": beats},
        moves=rows,
        version=v,
    )
