"""Day plans computed in a separate, lower-priority process.

A day plan is CPU-bound: reading the beat's households, buildings and
visits (thousands of rows), the cards, the priorities and the solver. Run
in a thread of the server worker it holds that worker's GIL, and every read
the worker serves meanwhile waits for it: under load the reads' latency was
mostly that wait. So each server worker hands its plans to a small process
pool of its own (``JUNKAI_PLAN_PROCESSES``, default 1), started on the
first plan, whose processes run at a lower scheduling priority
(``JUNKAI_PLAN_NICE``) and read the planning inputs from the database themselves
(an engine per process): the worker only checks the caller's scope and
passes ids, and gets the plan back. A read wins the CPU over a plan, and a
plan still finishes within its wall-clock limit plus the wait.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from typing import Any

#: Default added to the planner processes' niceness (Linux: 0 normal, 19
#: lowest); the setting ``plan_nice`` (``JUNKAI_PLAN_NICE``) overrides it.
PLAN_NICE = 5

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_key = (0, 0)


class PlanFailed(Exception):
    """The library refused the inputs (a JunkaiGeoError in the planner)."""


@dataclass(frozen=True)
class PlanRequest:
    """What a planner process needs to plan (and optionally re-plan) one officer's day."""

    officer_id: str
    on: date
    windows: list[str] | None
    seed: int
    time_limit_s: float
    #: Re-plan from a position at a time (``junkai_geo.routing.replan``
    #: arguments ``now``, ``position_xy``, ``done``, ``time_limit_s``).
    replan: dict[str, Any] | None = None


@dataclass
class PlanResult:
    #: ``DayPlan.to_dict()`` (made in the planner process), None when the
    #: officer or their koban is gone.
    plan: dict[str, Any] | None
    beat_geometry: Any  # shapely geometry of the officer's beat, or None


def _init(nice: int, parent_pid: int | None = None) -> None:
    from .children import die_with_parent

    die_with_parent(parent_pid)
    # Where raising the niceness is not allowed, plan at normal priority.
    with contextlib.suppress(OSError):
        os.nice(nice)
    import junkai_geo.routing  # noqa: F401  (imported once, not per plan)
    import junkai_geo.solver  # noqa: F401  (its compiled loops load here, not in the first plan)


#: One engine per planner process and database URL.
_databases: dict[str, Any] = {}


def _database(url: str) -> Any:
    from .db import Database

    if url not in _databases:
        _databases[url] = Database(url, pool_size=1, max_overflow=1)
    return _databases[url]


def _run(url: str, request: PlanRequest) -> tuple[str, Any]:
    return _compute(_database(url), request)


def _compute(db: Any, request: PlanRequest) -> tuple[str, Any]:
    from junkai_geo.errors import JunkaiGeoError

    try:
        return "ok", plan_request(db, request)
    except JunkaiGeoError as exc:
        # Library errors carry structured arguments that need not pickle back.
        return "error", str(exc)


def plan_request(db: Any, request: PlanRequest) -> PlanResult:
    """Read the officer's planning inputs from ``db`` and plan the day."""
    from shapely import wkb
    from sqlalchemy import select

    from junkai_geo.cards import card_table
    from junkai_geo.routing import DayRequest, build_day_problem_from_frames, plan_day, replan
    from junkai_geo.routing import NightApproval as Approval

    from .auth import current_version
    from .models import BeatRow, KobanRow, NightApproval, OfficerRow
    from .store import buildings_of_households, households_of_beats, visits_of_beats
    from .workspace import load_network

    with db.read_session() as session:
        officer = session.get(OfficerRow, request.officer_id)
        if officer is None:
            return PlanResult(None, None)
        version = current_version(session)
        if officer.beat_id:
            beat_ids = [officer.beat_id]
        else:  # a specialist (専従員): the beats of the koban
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
        beat_geom = None
        if officer.beat_id:
            g = session.scalar(
                select(BeatRow.geom_wkb).where(
                    BeatRow.version == version, BeatRow.beat_id == officer.beat_id
                )
            )
            beat_geom = wkb.loads(g) if g else None
        approval_row = session.scalar(
            select(NightApproval)
            .where(
                NightApproval.officer_id == request.officer_id,
                NightApproval.on_date == request.on,
                NightApproval.revoked_at.is_(None),
            )
            .order_by(NightApproval.start)
        )
        officer_d = {
            "officer_id": officer.officer_id,
            "koban_id": officer.koban_id,
            "beat_id": officer.beat_id,
            "mode": officer.mode,
        }
        start = None if koban is None else ((koban.x, koban.y), koban.name)
        # The workspace's street network of the officer's mode, when imported
        # (decoded once per planner process).
        travel = load_network(
            session, officer.mode if officer.mode in ("walk", "bicycle") else "walk"
        )
    if start is None:
        return PlanResult(None, None)
    # Plans use night windows only with an approval on record for that date.
    approval = (
        Approval(request.officer_id, request.on, f"{approval_row.start}-{approval_row.end}")
        if approval_row is not None
        else None
    )
    problem = build_day_problem_from_frames(
        DayRequest(
            officer_id=request.officer_id,
            on=request.on,
            windows=None if request.windows is None else tuple(request.windows),
            night_approval=approval,
        ),
        officer=officer_d,
        households=households,
        buildings=buildings,
        cards=card_table(households, visits, today=request.on),
        visits=visits,
        start_xy=start[0],
        start_label=start[1],
        travel=travel,
    )
    plan = plan_day(problem, time_limit_s=request.time_limit_s, seed=request.seed)
    if request.replan is not None:
        plan = replan(plan, seed=request.seed, **request.replan)
    return PlanResult(plan.to_dict(), beat_geom)


def _get_pool(size: int, nice: int) -> ProcessPoolExecutor:
    global _pool, _pool_key
    with _lock:
        if _pool is None or _pool_key != (size, nice):
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(
                max_workers=size,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(nice, os.getpid()),
            )
            _pool_key = (size, nice)
        return _pool


def _drop(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def plan_in_pool(
    processes: int, db: Any, request: PlanRequest, nice: int = PLAN_NICE
) -> PlanResult:
    """:func:`plan_request` in the planner pool.

    ``processes`` 0, or an in-memory SQLite database (which another process
    cannot open), plans in the calling thread. A pool whose process died is
    replaced and the plan tried once more. Raises :class:`PlanFailed` with
    the library's message when it refused the inputs.
    """
    url = db.engine.url
    in_memory = db.is_sqlite and url.database in (None, "", ":memory:")
    if processes <= 0 or in_memory:
        status, value = _compute(db, request)
    else:
        for attempt in (1, 2):
            pool = _get_pool(processes, nice)
            try:
                status, value = pool.submit(
                    _run, url.render_as_string(hide_password=False), request
                ).result()
                break
            except BrokenProcessPool:
                _drop(pool)
                if attempt == 2:
                    raise
    if status == "error":
        raise PlanFailed(value)
    return value


def shutdown() -> None:
    """Stop this process's planner pool (at server shutdown)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
