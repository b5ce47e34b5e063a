"""Calendars (multi-day routes of a koban, with a coverage forecast) and new
officers' beat plans, planned as background jobs.

Who may do what: the station's manager and the admin start, list, read and
cancel the jobs of their koban. An officer may list and read the jobs of
their own koban, and gets only their own part: their own duty days, the
attempts, figures and forecast of their own beat(s), and a new officer's
plan only for their own beat. Every read of a finished job's result (it
names households) is written to the audit trail.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..auth import Principal, Role, current_version
from ..db import utcnow
from ..deps import DB, AnyUser, Manager, ReadSession, Settings, forbidden, not_found
from ..jobs import calendar_progress, start_job
from ..models import BeatRow, CalendarJob, KobanRow, OfficerRow
from ..schemas import CalendarIn, CalendarJobOut

router = APIRouter(prefix="/calendars", tags=["calendars"])
JobId = Annotated[str, Path(min_length=1, max_length=64)]

#: Rough cost of one officer-day beyond its route's time limit (retry
#: re-plans, history updates), as a multiple of that limit; for progress only.
DAY_COST_FACTOR = 2.0
#: Fixed part of the estimate: loading the koban, the forecast, storing.
FIXED_ESTIMATE_S = 5.0


def officer_view(result: dict[str, Any], officer_id: str | None, beats: frozenset[str]) -> dict:
    """The part of a calendar result an officer may see: their own days,
    their beats' attempts, figures and forecast, notes naming them."""
    out: dict[str, Any] = {}
    cal = result.get("calendar")
    if cal is not None:
        mine = officer_id or ""
        out["calendar"] = {
            **{k: cal[k] for k in ("koban_id", "start", "days") if k in cal},
            "beats": {b: v for b, v in cal.get("beats", {}).items() if b in beats},
            "officers": {o: v for o, v in cal.get("officers", {}).items() if o == mine},
            "attempts": [a for a in cal.get("attempts", []) if a.get("beat_id") in beats],
            "not_done": [n for n in cal.get("not_done", []) if n.get("beat_id") in beats],
            "notes": [n for n in cal.get("notes", []) if mine and mine in n],
        }
        fc = result.get("forecast") or {}
        out["forecast"] = {
            **{k: v for k, v in fc.items() if k not in ("beats", "officers", "notes")},
            "beats": {b: v for b, v in fc.get("beats", {}).items() if b in beats},
            "officers": {o: v for o, v in fc.get("officers", {}).items() if o == mine},
            "notes": [n for n in fc.get("notes", []) if mine and mine in n],
        }
        out["night_approvals_used"] = [
            a for a in result.get("night_approvals_used", []) if a.get("officer_id") == mine
        ]
    if "new_officer" in result:
        out["new_officer"] = result["new_officer"]
    if "travel_source" in result:
        out["travel_source"] = result["travel_source"]
    return out


def _households_in(result: dict[str, Any]) -> int:
    if "calendar" in result:
        return len({a["household_id"] for a in result["calendar"].get("attempts", [])})
    n = result.get("new_officer", {})
    return int(n.get("households", 0))


def _out(job: CalendarJob, result: dict[str, Any] | None = None) -> CalendarJobOut:
    return CalendarJobOut(
        id=job.id,
        kind=job.kind,  # type: ignore[arg-type]
        status=job.status,  # type: ignore[arg-type]
        progress=calendar_progress(job),
        message=job.message,
        koban_id=job.koban_id,
        beat_id=job.beat_id,
        start=job.start,
        created_at=job.created_at,
        params=job.params,
        result=result,
    )


def _job_in_scope(session: Session, who: Principal, job_id: str) -> CalendarJob:
    job = session.get(CalendarJob, job_id)
    if job is None or not who.can_koban(job.koban_id):
        raise not_found("calendar job")
    if who.role is Role.OFFICER and job.kind == "new_officer" and not who.can_beat(job.beat_id):
        raise not_found("calendar job")
    return job


@router.post("", response_model=CalendarJobOut, status_code=202)
def start(body: CalendarIn, who: Manager, db: DB, settings: Settings) -> CalendarJobOut:
    """Plan a koban's calendar (or a new officer's beat plan) in the background.

    The calendar plans every officer's routes for every duty day of
    ``weeks`` weeks from ``start`` (docs/calendar.md), using the night
    approvals on record and the koban's focus days, then forecasts the
    coverage of its 未把握 households. Poll ``GET /calendars/{id}``.
    """
    end = body.start + timedelta(days=7 * body.weeks)
    outside = [d.isoformat() for d in body.focus_days if not body.start <= d < end]
    if outside:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"focus_days: found {outside[:5]}; expected dates from "
            f"{body.start.isoformat()} to {(end - timedelta(days=1)).isoformat()}",
        )
    if body.kind == "new_officer" and body.beat_id is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="beat_id: expected the beat to cover"
        )
    with db.writing() as session:
        if session.get(KobanRow, body.koban_id) is None:
            raise not_found("koban")
        if not who.can_koban(body.koban_id):
            raise forbidden()
        if body.beat_id is not None:
            beat_koban = session.scalar(
                select(BeatRow.koban_id).where(
                    BeatRow.version == current_version(session), BeatRow.beat_id == body.beat_id
                )
            )
            if beat_koban != body.koban_id:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    detail=f"beat_id: found {body.beat_id!r}; expected a current beat of "
                    f"koban {body.koban_id}",
                )
        busy = session.scalar(
            select(func.count())
            .select_from(CalendarJob)
            .where(CalendarJob.status.in_(("queued", "running")))
        )
        if busy and busy >= settings.max_calendar_jobs:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail=f"{busy} calendar job(s) running; try again later"
            )
        officers = session.scalar(
            select(func.count()).select_from(OfficerRow).where(OfficerRow.koban_id == body.koban_id)
        )
        per_officer = 1 if body.kind == "new_officer" else max(1, officers or 0)
        params = body.model_dump(mode="json", exclude={"kind", "koban_id", "beat_id", "start"})
        params["estimate_s"] = round(
            FIXED_ESTIMATE_S
            + per_officer * 7 * body.weeks * body.day_time_limit_s * DAY_COST_FACTOR,
            1,
        )
        job = CalendarJob(
            id=uuid.uuid4().hex,
            kind=body.kind,
            created_by=who.user_id,
            created_at=utcnow(),
            koban_id=body.koban_id,
            beat_id=body.beat_id,
            start=body.start,
            status="queued",
            progress=0.0,
            message="",
            params=params,
            cancel_requested=False,
        )
        session.add(job)
        audit.record(
            session,
            who,
            "create",
            "calendar_job",
            job.id,
            detail={"kind": body.kind, "koban_id": body.koban_id, "beat_id": body.beat_id},
        )
        out = _out(job)
    start_job(db.url, job.id, kind="calendar")
    return out


@router.get("", response_model=list[CalendarJobOut])
def list_jobs(who: AnyUser, session: ReadSession) -> list[CalendarJobOut]:
    """The newest 100 jobs in scope, without their results."""
    stmt = select(CalendarJob).order_by(CalendarJob.created_at.desc())
    if who.koban_ids is not None:
        stmt = stmt.where(CalendarJob.koban_id.in_(who.koban_ids))
    jobs = [
        j
        for j in session.scalars(stmt.limit(100))
        if not (
            who.role is Role.OFFICER and j.kind == "new_officer" and not who.can_beat(j.beat_id)
        )
    ]
    return [_out(j) for j in jobs]


@router.get("/{job_id}", response_model=CalendarJobOut)
def get_job(job_id: JobId, who: AnyUser, db: DB) -> CalendarJobOut:
    """A job with its progress; when done, the calendar and its forecast
    (an officer: their own part). The read of a result is audited."""
    with db.writing() as session:
        job = _job_in_scope(session, who, job_id)
        result = job.result
        if result is not None:
            if who.role is Role.OFFICER:
                result = officer_view(result, who.officer_id, who.beat_ids or frozenset())
            audit.record(
                session,
                who,
                "read",
                "calendar_job",
                job_id,
                detail={"households": _households_in(result)},
            )
        out = _out(job, result)
    return out


@router.post("/{job_id}/cancel", response_model=CalendarJobOut)
def cancel(job_id: JobId, who: Manager, db: DB) -> CalendarJobOut:
    with db.writing() as session:
        job = _job_in_scope(session, who, job_id)
        if job.status not in ("queued", "running"):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"job is {job.status}")
        job.cancel_requested = True
        if job.status == "queued":
            job.status, job.message = "cancelled", "cancelled before it started"
        audit.record(session, who, "cancel", "calendar_job", job_id)
        out = _out(job)
    return out
