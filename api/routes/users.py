from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..auth import create_user
from ..deps import Admin, ReadSession, WriteSession
from ..models import KobanRow, OfficerRow, User
from ..schemas import UserIn, UserOut

router = APIRouter(prefix="/users", tags=["users"])


def _out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        role=u.role,
        officer_id=u.officer_id,
        station=u.station,
        active=u.active,
    )


@router.get("", response_model=list[UserOut])
def list_users(who: Admin, session: ReadSession) -> list[UserOut]:
    return [_out(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("", response_model=UserOut, status_code=201)
def add_user(body: UserIn, who: Admin, session: WriteSession) -> UserOut:
    """Create a user (admin only); passwords are stored as Argon2id hashes.

    An officer user names an officer of the workspace, a manager a station
    of one of its koban.
    """
    if body.role == "officer" and body.officer_id and not session.get(OfficerRow, body.officer_id):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"officer_id: found {body.officer_id!r}, not an officer of the workspace; "
            "expected an officer_id of the officers layer",
        )
    if (
        body.role == "manager"
        and body.station
        and session.scalar(select(KobanRow.koban_id).where(KobanRow.station == body.station))
        is None
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"station: found {body.station!r}, the station of no koban in the workspace",
        )
    try:
        user = create_user(
            session,
            body.username,
            body.password,
            body.role,
            officer_id=body.officer_id,
            station=body.station,
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except IntegrityError as exc:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail="username taken") from exc
    audit.record(
        session,
        who,
        "create",
        "user",
        str(user.id),
        detail={"username": user.username, "role": user.role},
    )
    session.commit()
    return _out(user)
