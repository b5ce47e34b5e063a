from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import delete, select, update

from .. import audit
from ..auth import (
    API_KEY_PREFIX,
    LoginCandidate,
    LoginLimits,
    clear_login_failures,
    hash_password,
    issue_api_key,
    issue_token,
    login_block_reason,
    login_candidate,
    record_login_failure,
    revoke_tokens,
    sha256_hex,
    verify_password,
)
from ..db import utcnow
from ..deps import (
    DB,
    MAX_INT,
    AnyUser,
    BearerToken,
    ClientIP,
    ReadSession,
    Settings,
    WriteSession,
    forget_principals,
)
from ..models import AccessToken, ApiKey, AuditEntry, User
from ..schemas import ApiKeyIn, ApiKeyInfo, ApiKeyOut, MeOut, PasswordChangeIn, TokenOut
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


class _BlockMemo:
    """Recent refusals, kept in the worker for ``BLOCK_MEMO_S`` seconds.

    A blocked address or account that keeps trying is answered 429 from
    memory, without a thread or a database read: a flood then costs the
    worker almost nothing. The database stays the authority; a memo only
    repeats a refusal it gave moments ago.
    """

    BLOCK_MEMO_S = 5.0
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._until: dict[tuple[object, ...], float] = {}

    def _keys(self, db_id: int, username: str, ip: str) -> list[tuple[object, ...]]:
        name = username[:64]
        return [(db_id, "address", ip), (db_id, "pair", name, ip), (db_id, "account", name, ip)]

    def blocked(self, db_id: int, username: str, ip: str) -> bool:
        now = time.monotonic()
        return any(self._until.get(k, 0.0) > now for k in self._keys(db_id, username, ip))

    def remember(self, db_id: int, reason: str, username: str, ip: str) -> None:
        if len(self._until) >= self.MAX_ENTRIES:
            now = time.monotonic()
            self._until = {k: t for k, t in self._until.items() if t > now}
            if len(self._until) >= self.MAX_ENTRIES:
                self._until.clear()
        name = username[:64]
        key: tuple[object, ...] = {
            "address": (db_id, "address", ip),
            "account_and_address": (db_id, "pair", name, ip),
        }.get(reason, (db_id, "account", name, ip))
        self._until[key] = time.monotonic() + self.BLOCK_MEMO_S


_BLOCKS = _BlockMemo()


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
    if _BLOCKS.blocked(id(db), username, ip):
        await asyncio.sleep(settings.login_refusal_delay_s)
        raise _too_many(settings, settings.login_window_s)

    def precheck() -> tuple[str | None, LoginCandidate | None]:
        with db.read_session() as session:
            reason = login_block_reason(session, username, ip, limits)
            return reason, (None if reason else login_candidate(session, username))

    reason, cand = await run_in_threadpool(precheck)
    if reason is not None:
        _BLOCKS.remember(id(db), reason, username, ip)
    if reason is not None or cand is None:
        await asyncio.sleep(settings.login_refusal_delay_s)
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
        # A wrong password is answered late (the event loop waits, no thread):
        # each connection of a flood can then try only so fast.
        await asyncio.sleep(settings.login_refusal_delay_s)
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
def create_api_key(
    body: ApiKeyIn, who: AnyUser, session: WriteSession, settings: Settings
) -> ApiKeyOut:
    """An API key for the caller, shown once; only its hash is kept. It
    expires after ``api_key_ttl_days`` and can be revoked at any time."""
    user = session.get(User, who.user_id)
    assert user is not None
    row, key = issue_api_key(session, user, body.label, ttl_days=settings.api_key_ttl_days)
    audit.record(session, who, "create", "api_key", str(row.id), detail={"label": body.label})
    session.commit()
    return ApiKeyOut(api_key=key, label=body.label, id=row.id, expires_at=row.expires_at)


@router.get("/api-keys", response_model=list[ApiKeyInfo])
def list_api_keys(who: AnyUser, session: ReadSession) -> list[ApiKeyInfo]:
    """The caller's API keys (never their secrets), newest first."""
    rows = session.scalars(
        select(ApiKey).where(ApiKey.user_id == who.user_id).order_by(ApiKey.id.desc())
    )
    return [
        ApiKeyInfo(
            id=r.id,
            label=r.label,
            created_at=r.created_at,
            expires_at=r.expires_at,
            revoked_at=r.revoked_at,
        )
        for r in rows
    ]


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyInfo,
    responses={404: {"description": "no such key of the caller's"}},
)
def revoke_api_key(
    key_id: Annotated[int, Path(ge=1, le=MAX_INT)], who: AnyUser, session: WriteSession
) -> ApiKeyInfo:
    """Revoke one of the caller's keys (an admin: anyone's); at once in this
    worker, within ``PRINCIPAL_CACHE_S`` in the others."""
    row = session.get(ApiKey, key_id)
    if row is None or (row.user_id != who.user_id and not who.is_admin):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, who, "revoke", "api_key", str(row.id))
    session.commit()
    forget_principals(user_id=row.user_id)
    return ApiKeyInfo(
        id=row.id,
        label=row.label,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


@router.post("/logout", status_code=204, response_class=Response)
def logout(who: AnyUser, token: BearerToken, session: WriteSession) -> Response:
    """End the bearer token of this request (an API key: revoke it)."""
    assert token is not None
    digest = sha256_hex(token)
    if token.startswith(API_KEY_PREFIX):
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    else:
        session.execute(delete(AccessToken).where(AccessToken.token_hash == digest))
    audit.record(session, who, "logout", "auth", str(who.user_id))
    session.commit()
    forget_principals(token=token)
    return Response(status_code=204)


@router.post(
    "/password",
    status_code=204,
    response_class=Response,
    responses={403: {"description": "the current password is wrong"}},
)
def change_password(
    body: PasswordChangeIn, who: AnyUser, token: BearerToken, session: WriteSession
) -> Response:
    """Change one's own password; every other bearer token of the user ends."""
    user = session.get(User, who.user_id)
    assert user is not None and token is not None
    if not verify_password(user.password_hash, body.current_password):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="the current password is wrong")
    user.password_hash = hash_password(body.new_password)
    revoke_tokens(session, user.id, except_hash=sha256_hex(token))
    audit.record(session, who, "password_change", "user", str(user.id))
    session.commit()
    forget_principals(user_id=user.id)
    return Response(status_code=204)
