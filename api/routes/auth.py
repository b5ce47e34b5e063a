from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm

from .. import audit
from ..auth import (
    LoginCandidate,
    LoginLimits,
    clear_login_failures,
    issue_api_key,
    issue_token,
    login_block_reason,
    login_candidate,
    record_login_failure,
    verify_password,
)
from ..deps import DB, AnyUser, ClientIP, Settings, WriteSession
from ..models import AuditEntry, User
from ..schemas import ApiKeyIn, ApiKeyOut, MeOut, TokenOut
from ..settings import ApiSettings

router = APIRouter(prefix="/auth", tags=["auth"])


class _Verifier:
    """Argon2 checks on a few threads of their own, with a bounded queue.

    A flood of wrong passwords then costs at most ``concurrency`` cores and
    never a thread of the request pool or a database lock: the round's
    visit registrations go on beside it.
    """

    def __init__(self, concurrency: int, queue_max: int) -> None:
        self.concurrency = max(1, concurrency)
        self.queue_max = max(0, queue_max)
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="login")
        self._waiting = 0
        self._sem: asyncio.Semaphore | None = None

    async def verify(self, password_hash: str, password: str) -> bool | None:
        """True / False, or None when too many checks are already waiting."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.concurrency)
        if self._waiting >= self.queue_max + self.concurrency:
            return None
        self._waiting += 1
        try:
            async with self._sem:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(
                    self._pool, verify_password, password_hash, password
                )
        finally:
            self._waiting -= 1


def _verifier(request: Request, settings: ApiSettings) -> _Verifier:
    v: _Verifier | None = getattr(request.app.state, "login_verifier", None)
    if v is None:
        v = _Verifier(settings.login_verify_concurrency, settings.login_queue_max)
        request.app.state.login_verifier = v
    return v


def _too_many(settings: ApiSettings, retry_after_s: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail="too many failed logins; try again later",
        headers={"Retry-After": str(retry_after_s)},
    )


@router.post(
    "/token",
    response_model=TokenOut,
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "throttled"},
    },
)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: DB,
    settings: Settings,
    ip: ClientIP,
) -> TokenOut:
    """OAuth2 password flow: a bearer token that expires after ``token_ttl_s``.

    Throttled per username and address, per address and per account
    (``LoginLimits``); the password is checked outside any transaction.
    """
    limits = LoginLimits(
        per_pair=settings.login_max_failures,
        per_address=settings.login_max_failures_per_address,
        per_account=settings.login_max_failures_per_account,
        window_s=settings.login_window_s,
        known_address_days=settings.login_known_address_days,
    )
    username = form.username

    def precheck() -> tuple[str | None, LoginCandidate | None]:
        with db.read_session() as session:
            reason = login_block_reason(session, username, ip, limits)
            return reason, (None if reason else login_candidate(session, username))

    reason, cand = await run_in_threadpool(precheck)
    if reason is not None or cand is None:
        raise _too_many(settings, settings.login_window_s)
    ok = await _verifier(request, settings).verify(cand.password_hash, form.password)
    if ok is None:
        raise _too_many(settings, 1)
    success = bool(ok and cand.user_id is not None and cand.active)

    def record() -> TokenOut | None:
        with db.writing() as session:
            if not success:
                record_login_failure(session, username, ip)
                audit.record(
                    session, None, "login_failed", "auth", client_ip=ip, username=username[:64]
                )
                return None
            user = session.get(User, cand.user_id)
            if user is None or not user.active:
                return None
            clear_login_failures(session, username, ip)
            token, ttl = issue_token(session, user, settings.token_ttl_s)
            # With the user's id, so that this address counts as known to the
            # account (LoginLimits.known_address_days).
            row = audit.audit_row(
                None, "login", "auth", str(user.id), client_ip=ip, username=user.username
            )
            session.add(AuditEntry(**{**row, "user_id": user.id}))
            return TokenOut(access_token=token, token_type="bearer", expires_in=ttl)

    out = await run_in_threadpool(record)
    if out is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return out


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
