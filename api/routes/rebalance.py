from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..auth import Principal, Role, current_version
from ..db import utcnow
from ..deps import DB, Manager, ReadSession, Settings, forbidden, not_found
from ..jobs import progress_of, start_job
from ..models import BeatRow, BeatVersion, HouseholdRow, RebalanceJob, UnitRow
from ..schemas import RebalanceIn, RebalanceJobOut
from ..store import recount_beats

router = APIRouter(prefix="/rebalance-jobs", tags=["rebalancing"])
JobId = Annotated[str, Path(min_length=1, max_length=64)]


def _out(job: RebalanceJob, new_version: int | None = None) -> RebalanceJobOut:
    result = None
    if job.result:
        result = {k: v for k, v in job.result.items() if k not in ("beats_after", "beats_before")}
    return RebalanceJobOut(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        progress=progress_of(job),
        message=job.message,
        station=job.station,
        base_version=job.base_version,
        created_at=job.created_at,
        params=job.params,
        result=result,
        new_version=new_version,
    )


def _job_in_scope(session: Session, who: Principal, job_id: str) -> RebalanceJob:
    job = session.get(RebalanceJob, job_id)
    if job is None or (who.role is Role.MANAGER and job.station != who.station):
        raise not_found("rebalancing job")
    return job


@router.post("", response_model=RebalanceJobOut, status_code=202)
def start(body: RebalanceIn, who: Manager, db: DB, settings: Settings) -> RebalanceJobOut:
    """Start rebalancing the beats of a station (受持区の調整) in the background.

    The smallest change (fewest households moved) that brings every beat's
    households within ``tolerance`` of the mean, each beat contiguous and
    holding or touching its koban's unit, locked beats kept. The result leads
    with ``feasible`` and ``violations`` (what the plan could not keep) and
    lists the moves. Poll the job; accept it to make a new beat version.
    """
    station = body.station
    if who.role is Role.MANAGER:
        if station not in (None, who.station):
            raise forbidden()
        station = who.station
    with db.writing() as session:
        version = current_version(session)
        if version is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="no beats imported yet")
        busy = session.scalar(
            select(func.count())
            .select_from(RebalanceJob)
            .where(RebalanceJob.status.in_(("queued", "running")))
        )
        if busy and busy >= settings.max_rebalance_jobs:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"{busy} rebalancing job(s) running; try again later",
            )
        job = RebalanceJob(
            id=uuid.uuid4().hex,
            created_by=who.user_id,
            created_at=utcnow(),
            station=station,
            base_version=version,
            status="queued",
            progress=0.0,
            message="",
            params=body.model_dump(exclude={"station"}),
            cancel_requested=False,
        )
        session.add(job)
        audit.record(
            session,
            who,
            "create",
            "rebalance_job",
            job.id,
            detail={"station": station, **body.model_dump(exclude={"station"})},
        )
        out = _out(job)
    start_job(db.url, job.id)
    return out


@router.get("", response_model=list[RebalanceJobOut])
def list_jobs(who: Manager, session: ReadSession) -> list[RebalanceJobOut]:
    stmt = select(RebalanceJob).order_by(RebalanceJob.created_at.desc())
    if who.role is Role.MANAGER:
        stmt = stmt.where(RebalanceJob.station == who.station)
    return [_out(j) for j in session.scalars(stmt.limit(100))]


@router.get("/{job_id}", response_model=RebalanceJobOut)
def get_job(job_id: JobId, who: Manager, session: ReadSession) -> RebalanceJobOut:
    """A job with its progress; when done, the figures and the moved units."""
    return _out(_job_in_scope(session, who, job_id))


@router.post("/{job_id}/cancel", response_model=RebalanceJobOut)
def cancel(job_id: JobId, who: Manager, db: DB) -> RebalanceJobOut:
    with db.writing() as session:
        job = _job_in_scope(session, who, job_id)
        if job.status not in ("queued", "running"):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job is {job.status}")
        job.cancel_requested = True
        if job.status == "queued":
            job.status, job.message = "cancelled", "cancelled before it started"
        audit.record(session, who, "cancel", "rebalance_job", job_id)
        out = _out(job)
    return out


@router.post("/{job_id}/reject", response_model=RebalanceJobOut)
def reject(job_id: JobId, who: Manager, db: DB) -> RebalanceJobOut:
    with db.writing() as session:
        job = _job_in_scope(session, who, job_id)
        if job.status != "done":
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job is {job.status}")
        job.status, job.decided_by, job.decided_at = "rejected", who.user_id, utcnow()
        audit.record(session, who, "reject", "rebalance_job", job_id)
        out = _out(job)
    return out


@router.post("/{job_id}/accept", response_model=RebalanceJobOut)
def accept(job_id: JobId, who: Manager, db: DB) -> RebalanceJobOut:
    """Adopt the proposal: a new beat version; units and households follow.

    The old versions stay. Refused (409) when the beats changed since the
    job started.
    """
    from shapely.geometry import shape

    with db.writing() as session:
        job = _job_in_scope(session, who, job_id)
        if job.status != "done" or not job.result:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job is {job.status}")
        version = current_version(session)
        if version != job.base_version:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail="the beats changed since this job started; run it again",
            )
        proposed = {
            str(f["properties"]["beat_id"]): f["geometry"]
            for f in job.result["beats_after"]["features"]
        }
        new_version = version + 1
        session.add(
            BeatVersion(
                version=new_version,
                created_at=utcnow(),
                source="rebalance",
                job_id=job.id,
                note=f"station {job.station or 'all'}",
            )
        )
        session.flush()
        for b in session.scalars(select(BeatRow).where(BeatRow.version == version)).all():
            geom = proposed.get(b.beat_id)
            session.add(
                BeatRow(
                    version=new_version,
                    beat_id=b.beat_id,
                    koban_id=b.koban_id,
                    name=b.name,
                    locked=b.locked,
                    households=0,
                    geom_wkb=shape(geom).wkb if geom else b.geom_wkb,
                )
            )
        moved = job.result["moved_units"]
        for m in moved:
            session.execute(
                update(UnitRow).where(UnitRow.unit_id == m["unit_id"]).values(beat_id=m["to_beat"])
            )
            session.execute(
                update(HouseholdRow)
                .where(HouseholdRow.unit_id == m["unit_id"])
                .values(beat_id=m["to_beat"])
            )
        session.flush()
        recount_beats(session, new_version)
        job.status, job.decided_by, job.decided_at = "accepted", who.user_id, utcnow()
        audit.record(
            session,
            who,
            "accept",
            "rebalance_job",
            job_id,
            detail={"new_version": new_version, "units_moved": len(moved)},
        )
        out = _out(job, new_version)
    return out
