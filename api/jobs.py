"""Background jobs (rebalancing, calendars): one runner, a child process per job.

Every kind of job runs the same way (:func:`run_job`): the child marks the
job running, reads its inputs, runs the planner in a thread while it polls the
job row, and stores the result, or marks the job cancelled (a cancel asked
from any server worker ends the child at once: the planner thread cannot be
interrupted otherwise) or failed (with the error). What differs per kind, the
table, the inputs and planner call, the one-line message and the time budget
that progress is measured against, is a :class:`JobKind` in ``JOB_KINDS``.
Jobs found running when the service starts were interrupted by a restart and
are marked failed.

The planners report no progress of their own, so a running job's progress is
the elapsed share of its time budget: the rebalancing time limit, or for a
calendar an estimate made when the job was created (officer-days times the
day time limit).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, update

from .db import Database, utcnow
from .models import BeatRow, CalendarJob, KobanRow, NightApproval, OfficerRow, RebalanceJob, UnitRow

POLL_S = 0.5
_children: dict[str, Any] = {}


def start_job(url: str, job_id: str, kind: str = "rebalance") -> None:
    """Run job ``job_id`` in a child process (spawned: no inherited connections)."""
    if kind not in JOB_KINDS:
        raise ValueError(f"kind: found {kind!r}; expected one of {sorted(JOB_KINDS)}")
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(
        target=_run_child,
        args=(url, job_id, kind, os.getpid()),
        name=f"{kind}-{job_id}",
        daemon=True,
    )
    proc.start()
    _children[job_id] = proc
    # Reap finished children so none lingers as a zombie.
    for jid, p in list(_children.items()):
        if not p.is_alive():
            p.join(timeout=0)
            _children.pop(jid, None)


def _run_child(url: str, job_id: str, kind: str, parent_pid: int) -> None:
    from .children import die_with_parent

    die_with_parent(parent_pid)
    run_job(url, job_id, kind)


def fail_interrupted(db: Database) -> None:
    with db.writing() as s:
        for model in (k.model for k in JOB_KINDS.values()):
            s.execute(
                update(model)
                .where(model.status.in_(("queued", "running")))
                .values(status="failed", message="interrupted by a restart of the service")
            )


def units_frame(session: Any, version: int, station: str | None) -> tuple[Any, Any, dict]:
    """Units, koban and beat -> koban of the current beats in ``station`` (all: None)."""
    import geopandas as gpd
    from shapely import wkb

    beats = session.execute(
        select(BeatRow.beat_id, BeatRow.koban_id, BeatRow.locked).where(BeatRow.version == version)
    ).all()
    koban = session.execute(
        select(KobanRow.koban_id, KobanRow.station, KobanRow.x, KobanRow.y)
    ).all()
    in_station = {k for k, st, _, _ in koban if station is None or st == station}
    beat_koban = {b: k for b, k, _ in beats if k in in_station}
    locked = [b for b, k, lk in beats if lk and k in in_station]
    units = session.execute(
        select(
            UnitRow.unit_id, UnitRow.households, UnitRow.area_m2, UnitRow.beat_id, UnitRow.geom_wkb
        ).where(UnitRow.beat_id.in_(list(beat_koban)))
    ).all()
    ugdf = gpd.GeoDataFrame(
        {
            "unit_id": [u[0] for u in units],
            "households": [u[1] for u in units],
            "area_m2": [u[2] for u in units],
            "beat_id": [u[3] for u in units],
        },
        geometry=[wkb.loads(u[4]) if u[4] else None for u in units],
        crs="EPSG:4326",
    )
    kgdf = gpd.GeoDataFrame(
        {"koban_id": [k for k, _, _, _ in koban if k in in_station]},
        geometry=gpd.points_from_xy(
            [x for k, _, x, _ in koban if k in in_station],
            [y for k, _, _, y in koban if k in in_station],
        ),
        crs="EPSG:6675",
    )
    return ugdf, kgdf, {"beat_koban": beat_koban, "locked_beats": locked}


def _rebalance_job(db: Database, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """Inputs of a rebalancing job (units of its station's current beats) and its planner call."""
    from junkai_geo.rebalance import RebalanceParams, rebalance_beats

    params = dict(job["params"] or {})
    with db.read_session() as s:
        units, koban, extra = units_frame(s, job["base_version"], job["station"])
    if units.empty:
        raise ValueError("no units with a current beat in this scope: import a units layer")
    p = RebalanceParams(
        mode=params.get("mode", "minimal-change"),
        time_limit_s=params["time_limit_s"],
        seed=params["seed"],
        tolerance=params["tolerance"],
    )

    def solve() -> dict[str, Any]:
        result = rebalance_beats(
            units,
            params=p,
            weight_column="households",
            current_column="beat_id",
            koban=koban,
            beat_koban=extra["beat_koban"],
            locked_beats=extra["locked_beats"],
            n_beats=params.get("n_beats"),
        )
        return result.to_dict(geometry=True)

    return solve


def _rebalance_message(result: dict[str, Any]) -> str:
    plan = result["plan"]
    return (
        f"{'feasible' if result['feasible'] else 'NOT feasible'}: "
        f"{len(result['moved_units'])} unit(s), {plan['households_moved']:,.0f} households "
        f"would move; largest deviation {plan['largest_deviation_after']:.1%}"
    )


def join_children(timeout_s: float = 30.0) -> None:
    """Wait for this process's job children to end; terminate those left."""
    deadline = time.monotonic() + timeout_s
    for jid, proc in list(_children.items()):
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        _children.pop(jid, None)


def _run_with_cancel(db: Database, model: Any, job_id: str, fn: Any) -> Any:
    """Run ``fn()`` in a thread; exit the process when the job is cancelled."""
    out: dict[str, Any] = {}

    def search() -> None:
        try:
            out["result"] = fn()
        except Exception as exc:  # reported on the job, not lost in the thread
            out["error"] = f"{type(exc).__name__}: {exc}"

    worker = threading.Thread(target=search, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(POLL_S)
        with db.read_session() as s:
            cancel = s.scalar(select(model.cancel_requested).where(model.id == job_id))
        if cancel:
            with db.writing() as s:
                s.execute(
                    update(model)
                    .where(model.id == job_id)
                    .values(status="cancelled", message="cancelled on request")
                )
            db.dispose()
            os._exit(0)  # the planner thread cannot be interrupted otherwise
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["result"]


def calendar_travel(session: Any, officers: Any, koban_id: str, beat_id: str | None) -> Any:
    """The workspace's street network a calendar job travels on, or None (straight line).

    The network of :func:`junkai_geo.calendar.travel_mode_of`'s mode, the
    rule the command line's calendar follows too; None when the workspace
    holds no street network of that mode.
    """
    from junkai_geo.calendar import travel_mode_of

    from .workspace import load_network

    return load_network(session, travel_mode_of(officers, koban_id, beat_id))


def calendar_inputs(
    session: Any, koban_id: str, start: Any, days: int, beat_id: str | None = None
) -> dict[str, Any]:
    """The koban's dataset (metric CRS), cards on ``start``, the night
    approvals on record for its officers within the horizon and the street
    network to travel on (:func:`calendar_travel`)."""
    from datetime import timedelta

    import pandas as pd

    from junkai_geo.cards import card_table
    from junkai_geo.routing import NightApproval as Approval

    from .auth import current_version
    from .store import dataset_from_db

    ds = dataset_from_db(session, frozenset({koban_id}), buildings=True)
    travel = calendar_travel(session, ds.officers, koban_id, beat_id)
    version = current_version(session)
    ds.beats = pd.DataFrame(
        session.execute(
            select(BeatRow.beat_id, BeatRow.koban_id).where(
                BeatRow.version == version, BeatRow.koban_id == koban_id
            )
        ).all(),
        columns=["beat_id", "koban_id"],
    )
    officers = list(
        session.scalars(select(OfficerRow.officer_id).where(OfficerRow.koban_id == koban_id))
    )
    rows = session.execute(
        select(
            NightApproval.officer_id, NightApproval.on_date, NightApproval.start, NightApproval.end
        )
        .where(
            NightApproval.officer_id.in_(officers),
            NightApproval.on_date >= start,
            NightApproval.on_date < start + timedelta(days=days),
            NightApproval.revoked_at.is_(None),
        )
        .order_by(NightApproval.on_date, NightApproval.start)
    ).all()
    assert ds.households is not None
    cards = card_table(ds.households, ds.visits, today=start)
    return {
        "dataset": ds,
        "cards": cards,
        "approvals": [Approval(o, d, f"{a}-{b}") for o, d, a, b in rows],
        "travel": travel,
    }


def _calendar_job(db: Database, job: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """Inputs of a calendar job (the koban's dataset, cards, night approvals) and its planner call."""
    from junkai_geo.calendar import (
        CalendarParams,
        CalendarRequest,
        NewOfficerParams,
        build_calendar_problem,
        plan_calendar,
        plan_new_officer,
        travel_source_of,
    )
    from junkai_geo.forecast import ForecastParams, forecast_coverage

    p = dict(job["params"] or {})
    kind, koban_id, beat_id, start = job["kind"], job["koban_id"], job["beat_id"], job["start"]
    days = 7 * int(p.get("weeks", 1))
    with db.read_session() as s:
        inputs = calendar_inputs(s, koban_id, start, days, beat_id)
    ds, cards, travel = inputs["dataset"], inputs["cards"], inputs["travel"]
    if ds.households is None or ds.households.empty:
        raise ValueError(f"koban {koban_id} has no households in its current beats")

    def plan() -> dict[str, Any]:
        if kind == "new_officer":
            newp = plan_new_officer(
                ds,
                cards,
                beat_id=str(beat_id),
                start=start,
                travel=travel,
                params=NewOfficerParams(
                    route_time_limit_s=float(p["day_time_limit_s"]),
                    max_weeks=int(p.get("max_weeks", 60)),
                ),
            )
            return {
                "new_officer": newp.to_dict(),
                "travel_source": travel_source_of([d.plan for d in newp.days], travel),
            }
        # Already a child process: the pools are planned here, one after another.
        request = CalendarRequest(
            koban_id=koban_id,
            start=start,
            days=days,
            focus_days={koban_id: [date.fromisoformat(d) for d in p.get("focus_days", [])]},
            night_approvals=tuple(inputs["approvals"]),
            params=CalendarParams(day_time_limit_s=float(p["day_time_limit_s"]), workers=1),
        )
        problem = build_calendar_problem(ds, request, cards=cards, travel=travel)
        cal = plan_calendar(problem, seed=int(p.get("seed", 0)))
        fc = forecast_coverage(
            cal,
            params=ForecastParams(
                runs=int(p.get("forecast_runs", 200)), seed=int(p.get("seed", 0))
            ),
        )
        return {
            "calendar": cal.to_dict(compact=True),
            "forecast": fc.to_dict(),
            "night_approvals_used": [
                {"officer_id": a.officer_id, "date": a.date.isoformat(), "window": a.window}
                for a in inputs["approvals"]
            ],
            "travel_source": travel_source_of(
                [d for days in cal.plans.values() for d in days], travel
            ),
        }

    return plan


def _calendar_message(result: dict[str, Any]) -> str:
    if "calendar" in result:
        t = result["calendar"]["totals"]
        return (
            f"{t['attempts']} visits on {t['officer_days']} officer-days, "
            f"未把握 attempted {t['unknown_attempted']}/{t['unknown']}"
        )
    else:
        n = result["new_officer"]
        return f"{n['covered']}/{n['households']} households in {n['duty_days']} duty days"


@dataclass(frozen=True)
class JobKind:
    """What differs between kinds of background job.

    ``prepare(db, job)`` reads the job's inputs (``job``: the row's columns)
    and returns the planner call, which returns the JSON result; ``message``
    says the result in one line; ``budget_key`` names the parameter holding
    the seconds that progress is measured against.
    """

    model: Any
    prepare: Callable[[Database, dict[str, Any]], Callable[[], dict[str, Any]]]
    message: Callable[[dict[str, Any]], str]
    budget_key: str


JOB_KINDS: dict[str, JobKind] = {
    "rebalance": JobKind(RebalanceJob, _rebalance_job, _rebalance_message, "time_limit_s"),
    "calendar": JobKind(CalendarJob, _calendar_job, _calendar_message, "estimate_s"),
}


def run_job(url: str, job_id: str, kind: str = "rebalance") -> None:
    """Child process body of every job: mark running, read, plan (cancellable), store."""
    spec = JOB_KINDS[kind]
    model = spec.model
    db = Database(url, pool_size=2, max_overflow=2)
    try:
        with db.writing() as s:
            job = s.get(model, job_id)
            if job is None or job.status != "queued":
                return
            job.status = "running"
            row = {a.key: getattr(job, a.key) for a in sa_inspect(model).column_attrs}
        solve = spec.prepare(db, row)
        result = _run_with_cancel(db, model, job_id, solve)
        with db.writing() as s:
            job = s.get(model, job_id)
            assert job is not None
            if job.cancel_requested:  # asked for while the last poll was pending
                job.status, job.message = "cancelled", "cancelled on request"
            else:
                job.status, job.progress, job.result = "done", 1.0, result
                job.message = spec.message(result)
    except Exception as exc:
        with db.writing() as s:
            s.execute(
                update(model)
                .where(model.id == job_id)
                .values(status="failed", message=(str(exc) or traceback.format_exc())[:500])
            )
    finally:
        db.dispose()


def job_progress(job: Any, kind: str = "rebalance") -> float:
    """Done 1; running the elapsed share of the job's time budget (< 1)."""
    if job.status in ("done", "accepted", "rejected"):
        return 1.0
    if job.status != "running":
        return float(job.progress)
    budget = float((job.params or {}).get(JOB_KINDS[kind].budget_key, 60.0)) or 1.0
    elapsed = (utcnow() - job.created_at).total_seconds()
    return round(min(0.99, max(0.0, elapsed / budget)), 3)


def progress_of(job: RebalanceJob) -> float:
    """Progress of a rebalancing job (see :func:`job_progress`)."""
    return job_progress(job, "rebalance")


def calendar_progress(job: CalendarJob) -> float:
    """Progress of a calendar job (see :func:`job_progress`)."""
    return job_progress(job, "calendar")
