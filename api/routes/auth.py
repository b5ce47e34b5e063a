from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from .. import audit
from ..auth import authenticate, issue_api_key, issue_token, login_blocked
from ..deps import DB, AnyUser, ClientIP, Settings, WriteSession
from ..models import User
from ..schemas import ApiKeyIn, ApiKeyOut, MeOut, TokenOut

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DB, settings: Settings, ip: ClientIP
) -> TokenOut:
    """OAuth2 password flow: a bearer token that expires after ``token_ttl_s``."""
    with db.writing() as session:
        if login_blocked(
            session,
            form.username,
            ip,
            max_failures=settings.login_max_failures,
            window_s=settings.login_window_s,
        ):
            blocked = True
        else:
            blocked = False
            user = authenticate(session, form.username, form.password, ip)
            if user is not None:
                token, ttl = issue_token(session, user, settings.token_ttl_s)
                audit.record(
                    session,
                    None,
                    "login",
                    "auth",
                    str(user.id),
                    client_ip=ip,
                    username=user.username,
                )
                return TokenOut(access_token=token, token_type="bearer", expires_in=ttl)
            audit.record(
                session, None, "login_failed", "auth", client_ip=ip, username=form.username
            )
    if blocked:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many failed logins; try again later",
            headers={"Retry-After": str(settings.login_window_s)},
        )
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="wrong username or password",
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.get("/me", response_model=MeOut)
def me(who: AnyUser) -> MeOut:
    """The caller's role and scope."""
    return MeOut(
        username=who.username,
        role=who.role.value,
        officer_id=who.officer_id,
        station=who.station,
        beat_ids=None if who.beat_ids is None else sorted(who.beat_ids),
        koban_ids=None if who.koban_ids is None else sorted(who.koban_ids),
        sees_personal=who.sees_personal,
    )


@router.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_api_key(body: ApiKeyIn, who: AnyUser, session: WriteSession) -> ApiKeyOut:
    """A long-lived API key for the caller, shown once; only its hash is kept."""
    user = session.get(User, who.user_id)
    assert user is not None
    key = issue_api_key(session, user, body.label)
    audit.record(session, who, "create", "api_key", detail={"label": body.label})
    session.commit()
    return ApiKeyOut(api_key=key, label=body.label)
