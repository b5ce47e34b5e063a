from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..auth import create_user, hash_password, revoke_tokens, workspace_station
from ..deps import MAX_INT, Admin, ReadSession, WriteSession, forget_principals
from ..models import OfficerRow, User
from ..schemas import PasswordResetIn, UserIn, UserOut

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
    station = body.station
    if body.role == "manager" and body.station:
        station, stations = workspace_station(session, body.station)
        if station is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=f"station: found {body.station!r}, the station of no koban in the "
                f"workspace; expected one of {', '.join(stations) or 'none yet'}",
            )
    try:
        user = create_user(
            session,
            body.username,
            body.password,
            body.role,
            officer_id=body.officer_id,
            station=station,
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
    if user.role in ("officer", "manager"):
        # An admin does not see personal fields, but could make an account
        # that does: every such account is an alert for the audit review
        # (GET /audit?action=alert), naming who made it (docs/api.md).
        audit.record(
            session,
            who,
            "alert",
            "user",
            str(user.id),
            detail={
                "reason": "account that reads personal fields created by an admin",
                "username": user.username,
                "role": user.role,
                "station": user.station,
                "officer_id": user.officer_id,
            },
        )
    session.commit()
    return _out(user)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such user")
    return user


@router.post(
    "/{user_id}/disable", response_model=UserOut, responses={404: {"description": "no such user"}}
)
def disable_user(
    user_id: Annotated[int, Path(ge=1, le=MAX_INT)], who: Admin, session: WriteSession
) -> UserOut:
    """Disable a user: their tokens end and their API keys stop working
    (at once in this worker, within ``PRINCIPAL_CACHE_S`` in the others)."""
    user = _user(session, user_id)
    if user.id == who.user_id:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="an admin cannot disable themselves")
    user.active = False
    revoke_tokens(session, user.id)
    audit.record(session, who, "disable", "user", str(user.id))
    session.commit()
    forget_principals(user_id=user.id)
    return _out(user)


@router.post(
    "/{user_id}/enable", response_model=UserOut, responses={404: {"description": "no such user"}}
)
def enable_user(
    user_id: Annotated[int, Path(ge=1, le=MAX_INT)], who: Admin, session: WriteSession
) -> UserOut:
    user = _user(session, user_id)
    user.active = True
    audit.record(session, who, "enable", "user", str(user.id))
    session.commit()
    return _out(user)


@router.post(
    "/{user_id}/password",
    status_code=204,
    response_class=Response,
    responses={404: {"description": "no such user"}},
)
def reset_password(
    user_id: Annotated[int, Path(ge=1, le=MAX_INT)],
    body: PasswordResetIn,
    who: Admin,
    session: WriteSession,
) -> Response:
    """Set a user's password (a forgotten one); their tokens end."""
    user = _user(session, user_id)
    user.password_hash = hash_password(body.new_password)
    revoke_tokens(session, user.id)
    audit.record(session, who, "password_reset", "user", str(user.id))
    session.commit()
    forget_principals(user_id=user.id)
    return Response(status_code=204)
