from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..auth import Role, filters_in_scope
from ..db import utcnow
from ..deps import DB, MAX_INT, AnyUser, Manager, ReadSession, forbidden, not_found
from ..models import NightApproval, OfficerRow
from ..schemas import Day, NightApprovalIn, NightApprovalOut

router = APIRouter(prefix="/night-approvals", tags=["night approvals"])


def _out(a: NightApproval) -> NightApprovalOut:
    return NightApprovalOut(
        id=a.id,
        officer_id=a.officer_id,
        on_date=a.on_date,
        start=a.start,
        end=a.end,
        approved_by=a.approved_by,
        created_at=a.created_at,
        revoked_at=a.revoked_at,
    )


@router.post("", response_model=NightApprovalOut, status_code=201)
def approve(body: NightApprovalIn, who: Manager, db: DB) -> NightApprovalOut:
    """A manager approves an officer's evening slot on a date (夜間の巡回連絡).

    Plans use night windows only where such an approval is on record.
    """
    if body.start >= body.end:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="start: expected earlier than end"
        )
    try:
        with db.writing() as session:
            officer = session.get(OfficerRow, body.officer_id)
            if officer is None:
                raise not_found("officer")
            if not who.can_koban(officer.koban_id):
                raise forbidden()
            a = NightApproval(
                officer_id=body.officer_id,
                on_date=body.on_date,
                start=body.start,
                end=body.end,
                approved_by=who.user_id,
                created_at=utcnow(),
            )
            session.add(a)
            session.flush()
            audit.record(
                session,
                who,
                "create",
                "night_approval",
                str(a.id),
                detail=body.model_dump(mode="json"),
            )
            out = _out(a)
    except IntegrityError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="this slot is already on record"
        ) from exc
    return out


@router.get("", response_model=list[NightApprovalOut])
def list_approvals(
    who: AnyUser,
    session: ReadSession,
    officer_id: str | None = Query(default=None, max_length=64),
    on_date: Day | None = None,
) -> list[NightApprovalOut]:
    """Approvals in scope (an officer sees their own); an ``officer_id``
    filter outside the scope is 403."""
    if officer_id is not None and not filters_in_scope(session, who, officer_id=officer_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="the filter names an officer outside your scope"
        )
    stmt = select(NightApproval).order_by(NightApproval.on_date, NightApproval.start)
    if who.role is Role.OFFICER:
        stmt = stmt.where(NightApproval.officer_id == who.officer_id)
    elif who.koban_ids is not None:
        stmt = stmt.where(
            NightApproval.officer_id.in_(
                select(OfficerRow.officer_id).where(OfficerRow.koban_id.in_(who.koban_ids))
            )
        )
    if officer_id is not None:
        stmt = stmt.where(NightApproval.officer_id == officer_id)
    if on_date is not None:
        stmt = stmt.where(NightApproval.on_date == on_date)
    return [_out(a) for a in session.scalars(stmt)]


@router.post("/{approval_id}/revoke", response_model=NightApprovalOut)
def revoke(
    approval_id: Annotated[int, Path(ge=1, le=MAX_INT)], who: Manager, db: DB
) -> NightApprovalOut:
    """Withdraw an approval; the record stays, marked revoked."""
    with db.writing() as session:
        a = session.get(NightApproval, approval_id)
        officer = session.get(OfficerRow, a.officer_id) if a is not None else None
        if a is None or officer is None or not who.can_koban(officer.koban_id):
            raise not_found("night approval")
        if a.revoked_at is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail="already revoked")
        a.revoked_at = utcnow()
        audit.record(session, who, "revoke", "night_approval", str(a.id))
        out = _out(a)
    return out
