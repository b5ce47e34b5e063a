from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from junkai_geo.model import Outcome

from .. import audit
from ..auth import Principal, Role, filters_in_scope
from ..db import utcnow
from ..deps import DB, MAX_INT, AnyUser, ReadSession, Settings, forbidden, not_found, on_db
from ..models import HouseholdRow, OfficerRow, VisitRow
from ..schemas import Day, VisitIn, VisitOut
from ..store import card_status_of, refresh_card, today_local
from .reports import invalidate_survey_cache

router = APIRouter(prefix="/visits", tags=["visits"])


def _out(v: VisitRow, h: Any, *, replayed: bool = False) -> VisitOut:
    """``h``: the household, or a row with its ``last_contact`` and ``occupancy``."""
    return VisitOut(
        visit_id=v.visit_id,
        household_id=v.household_id,
        officer_id=v.officer_id,
        visited_on=v.visited_on,
        time=v.time,
        outcome=Outcome(v.outcome),
        created_at=v.created_at,
        replayed=replayed,
        card_status=card_status_of(h.last_contact, today_local()),
        occupancy=h.occupancy,
    )


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _check_officer(session: Session, who: Principal, officer_id: str) -> None:
    if who.role is Role.OFFICER:
        if officer_id != who.officer_id:
            raise forbidden("an officer registers only their own visits")
        return
    officer = session.get(OfficerRow, officer_id)
    if officer is None:
        raise not_found("officer")
    if not who.can_koban(officer.koban_id):
        raise forbidden()


def _replay(session: Session, who: Principal, key: str, digest: str) -> VisitOut | None:
    v = session.scalar(
        select(VisitRow).where(VisitRow.created_by == who.user_id, VisitRow.idempotency_key == key)
    )
    if v is None:
        return None
    if v.request_hash != digest:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="idempotency key already used for a different visit"
        )
    h = session.get(HouseholdRow, v.household_id)
    assert h is not None
    return _out(v, h, replayed=True)


@router.post(
    "",
    response_model=VisitOut,
    status_code=201,
    responses={200: {"model": VisitOut, "description": "replay of an earlier request"}},
)
def register_visit(
    body: VisitIn,
    who: AnyUser,
    db: DB,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
) -> VisitOut:
    """Register one visit outcome; the household's card follows the card rules.

    Needs an idempotency key (``Idempotency-Key`` header or ``idempotency_key``
    field), scoped to the caller: resending the same request returns the
    visit registered the first time (200, ``replayed``), so a client that
    lost the answer can retry safely; the same key with another body is 409.
    The answer is sent only after the commit is on disk.
    """
    if idempotency_key and body.idempotency_key and idempotency_key != body.idempotency_key:
        raise _unprocessable("Idempotency-Key header and idempotency_key field differ")
    key = idempotency_key or body.idempotency_key
    if not key:
        raise _unprocessable("an Idempotency-Key header or idempotency_key field is required")
    officer_id = body.officer_id or who.officer_id
    if not officer_id:
        raise _unprocessable("officer_id: required when the caller is not an officer")
    today = today_local()
    if body.visited_on > today:
        raise _unprocessable(f"visited_on: found {body.visited_on}; expected a date up to {today}")
    digest = hashlib.sha256(
        json.dumps(
            [
                body.household_id,
                officer_id,
                body.visited_on.isoformat(),
                body.time,
                body.outcome.value,
            ]
        ).encode()
    ).hexdigest()
    try:
        with db.writing() as session:
            replay = _replay(session, who, key, digest)
            if replay is not None:
                response.status_code = status.HTTP_200_OK
                return replay
            _check_officer(session, who, officer_id)
            h = session.get(HouseholdRow, body.household_id)
            if h is None or not who.can_beat(h.beat_id):
                raise not_found("household")
            v = VisitRow(
                visit_id=uuid.uuid4().hex,
                household_id=h.household_id,
                officer_id=officer_id,
                visited_on=body.visited_on,
                time=body.time,
                outcome=body.outcome.value,
                idempotency_key=key,
                request_hash=digest,
                created_by=who.user_id,
                created_at=utcnow(),
            )
            session.add(v)
            session.flush()
            refresh_card(session, h, today)
            audit.record(
                session,
                who,
                "create",
                "visit",
                v.visit_id,
                detail={"household_id": h.household_id, "outcome": v.outcome},
            )
            out = _out(v, h)
    except IntegrityError:
        # A concurrent request with the same key won the race: answer as a replay.
        with db.read_session() as session:
            replay = _replay(session, who, key, digest)
        if replay is None:
            raise
        response.status_code = status.HTTP_200_OK
        return replay
    invalidate_survey_cache()
    return out


@router.get("", response_model=list[VisitOut])
async def list_visits(
    who: AnyUser,
    db: DB,
    session: ReadSession,
    settings: Settings,
    household_id: str | None = Query(default=None, max_length=64),
    officer_id: str | None = Query(default=None, max_length=64),
    date_from: Day | None = None,
    date_to: Day | None = None,
    limit: int = Query(default=500, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0, le=MAX_INT),
) -> list[VisitOut]:
    """Visits of households in the caller's scope, newest first; a
    ``household_id`` or ``officer_id`` filter outside the scope is 403."""
    if (household_id is not None or officer_id is not None) and not await on_db(
        db, _filters_ok, session, who, household_id, officer_id
    ):
        raise forbidden("the filter names a household or officer outside your scope")
    # The household's card columns only: the whole row would decode its
    # personal JSON for every visit listed.
    stmt = select(VisitRow, HouseholdRow.last_contact, HouseholdRow.occupancy).join(
        HouseholdRow, HouseholdRow.household_id == VisitRow.household_id
    )
    if who.beat_ids is not None:
        stmt = stmt.where(HouseholdRow.beat_id.in_(who.beat_ids))
    if household_id is not None:
        stmt = stmt.where(VisitRow.household_id == household_id)
    if officer_id is not None:
        stmt = stmt.where(VisitRow.officer_id == officer_id)
    if date_from is not None:
        stmt = stmt.where(VisitRow.visited_on >= date_from)
    if date_to is not None:
        stmt = stmt.where(VisitRow.visited_on <= date_to)
    stmt = stmt.order_by(VisitRow.visited_on.desc(), VisitRow.time.desc(), VisitRow.visit_id)
    stmt = stmt.limit(min(limit, settings.max_page_size)).offset(offset)
    return await on_db(db, _visit_rows, session, stmt)


def _filters_ok(
    session: Session, who: Principal, household_id: str | None, officer_id: str | None
) -> bool:
    return filters_in_scope(session, who, household_id=household_id, officer_id=officer_id)


def _visit_rows(session: Session, stmt: Any) -> list[VisitOut]:
    return [_out(row[0], row) for row in session.execute(stmt).all()]


@router.get("/{visit_id}", response_model=VisitOut)
def get_visit(visit_id: str, who: AnyUser, session: ReadSession) -> VisitOut:
    v = session.get(VisitRow, visit_id)
    h = session.get(HouseholdRow, v.household_id) if v is not None else None
    if v is None or h is None or not who.can_beat(h.beat_id):
        raise not_found("visit")
    return _out(v, h)
