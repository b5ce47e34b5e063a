"""Rebalancing as background jobs: a child process per job.

The library's ``rebalance_beats`` runs to its time limit or until it
converges and reports no progress of its own, so a job's progress is the
share of its time budget used. The child runs the search in a thread and
polls the job row; when a cancel was requested (from any server worker) it
marks the job cancelled and exits at once. Jobs found running when the
service starts were interrupted by a restart and are marked failed.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import traceback
from typing import Any

from sqlalchemy import select, update

from .db import Database, utcnow
from .models import BeatRow, KobanRow, RebalanceJob, UnitRow

POLL_S = 0.5
_children: dict[str, Any] = {}


def start_job(url: str, job_id: str) -> None:
    """Run job ``job_id`` in a child process (spawned: no inherited connections)."""
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=run_job, args=(url, job_id), name=f"rebalance-{job_id}", daemon=True)
    proc.start()
    _children[job_id] = proc
    # Reap finished children so none lingers as a zombie.
    for jid, p in list(_children.items()):
        if not p.is_alive():
            p.join(timeout=0)
            _children.pop(jid, None)


def fail_interrupted(db: Database) -> None:
    with db.writing() as s:
        s.execute(
            update(RebalanceJob)
            .where(RebalanceJob.status.in_(("queued", "running")))
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


def run_job(url: str, job_id: str) -> None:
    """Child process body: build the problem, search, store the result."""
    from junkai_geo.rebalance import RebalanceParams, rebalance_beats

    db = Database(url, pool_size=2, max_overflow=2)
    try:
        with db.writing() as s:
            job = s.get(RebalanceJob, job_id)
            if job is None or job.status != "queued":
                return
            job.status = "running"
            params = dict(job.params or {})
            station, version = job.station, job.base_version
        with db.read_session() as s:
            units, koban, extra = units_frame(s, version, station)
        if units.empty:
            raise ValueError("no units with a current beat in this scope: import a units layer")
        p = RebalanceParams(
            time_limit_s=params["time_limit_s"], seed=params["seed"], tolerance=params["tolerance"]
        )
        out: dict[str, Any] = {}

        def search() -> None:
            try:
                out["result"] = rebalance_beats(
                    units,
                    params=p,
                    weight_column="households",
                    current_column="beat_id",
                    koban=koban,
                    beat_koban=extra["beat_koban"],
                    locked_beats=extra["locked_beats"],
                    n_beats=params.get("n_beats"),
                )
            except Exception as exc:  # reported on the job, not lost in the thread
                out["error"] = f"{type(exc).__name__}: {exc}"

        worker = threading.Thread(target=search, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(POLL_S)
            with db.read_session() as s:
                cancel = s.scalar(
                    select(RebalanceJob.cancel_requested).where(RebalanceJob.id == job_id)
                )
            if cancel:
                with db.writing() as s:
                    s.execute(
                        update(RebalanceJob)
                        .where(RebalanceJob.id == job_id)
                        .values(status="cancelled", message="cancelled on request")
                    )
                db.dispose()
                os._exit(0)  # the search thread cannot be interrupted otherwise
        if "error" in out:
            raise RuntimeError(out["error"])
        result = out["result"].to_dict(geometry=True)
        with db.writing() as s:
            job = s.get(RebalanceJob, job_id)
            assert job is not None
            if job.cancel_requested:  # asked for while the last poll was pending
                job.status, job.message = "cancelled", "cancelled on request"
            else:
                job.status, job.progress, job.result = "done", 1.0, result
                job.message = f"{len(result['moved_units'])} unit(s) would move"
    except Exception as exc:
        with db.writing() as s:
            s.execute(
                update(RebalanceJob)
                .where(RebalanceJob.id == job_id)
                .values(status="failed", message=(str(exc) or traceback.format_exc())[:500])
            )
    finally:
        db.dispose()


def progress_of(job: RebalanceJob) -> float:
    """Done jobs 1; running ones the share of the time budget used (< 1)."""
    if job.status in ("done", "accepted", "rejected"):
        return 1.0
    if job.status != "running":
        return float(job.progress)
    budget = float((job.params or {}).get("time_limit_s", 60.0)) or 1.0
    elapsed = (utcnow() - job.created_at).total_seconds()
    return round(min(0.99, max(0.0, elapsed / budget)), 3)


def join_children(timeout_s: float = 30.0) -> None:
    """Wait for this process's job children to end; terminate those left."""
    deadline = time.monotonic() + timeout_s
    for jid, proc in list(_children.items()):
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        _children.pop(jid, None)
