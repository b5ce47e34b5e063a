"""Login, logout, language and the start page of each role."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import update

from .. import audit
from ..auth import Role, authenticate, issue_token, login_blocked, sha256_hex
from ..db import utcnow
from ..models import AccessToken
from .i18n import LANGS
from .web import (
    CSRF,
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    PageUser,
    csrf_token,
    db_of,
    new_pre_session,
    page_user,
    render,
    safe_next,
    set_cookie,
    settings_of,
)

router = APIRouter(include_in_schema=False)


def home_of(role: Role, officer_id: str | None) -> str:
    if role is Role.OFFICER:
        return "/officer/today"
    if role is Role.MANAGER:
        return "/station/beats"
    return "/admin/imports"


@router.get("/")
async def start(request: Request) -> Response:
    try:
        who = await page_user(request)
    except Exception:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(who.role, who.officer_id), status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    pre = request.cookies.get(PRE_COOKIE) or new_pre_session()
    request.state.csrf = csrf_token(pre, "login")
    response = render(request, "login.html", None, next=safe_next(next), error="")
    set_cookie(response, request, PRE_COOKIE, pre, 3600)
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token_: Annotated[str, Form(alias="csrf_token", max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or ""
    expected = csrf_token(pre, "login") if pre else ""
    if not expected or not hmac.compare_digest(csrf_token_, expected):
        request.state.csrf = expected
        return render(
            request, "login.html", None, status_code=403, next=safe_next(next), error="csrf"
        )
    settings = settings_of(request)
    ip = request.client.host if request.client else ""
    error = ""
    with db_of(request).writing() as session:
        if login_blocked(
            session,
            username,
            ip,
            max_failures=settings.login_max_failures,
            window_s=settings.login_window_s,
        ):
            error = "blocked"
        else:
            user = authenticate(session, username, password, ip)
            if user is None:
                audit.record(session, None, "login_failed", "auth", client_ip=ip, username=username)
                error = "wrong"
            else:
                token, ttl = issue_token(session, user, settings.token_ttl_s)
                audit.record(
                    session,
                    None,
                    "login",
                    "page_session",
                    str(user.id),
                    client_ip=ip,
                    username=user.username,
                )
                role = Role(user.role)
                officer_id = user.officer_id
    if error:
        request.state.csrf = expected
        code = 429 if error == "blocked" else 401
        return render(
            request, "login.html", None, status_code=code, next=safe_next(next), error=error
        )
    target = safe_next(next)
    if target == "/":
        target = home_of(role, officer_id)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, ttl)
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/logout", dependencies=[CSRF])
async def logout(request: Request, who: PageUser) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(_end_session, request, token, who)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _end_session(request: Request, token: str, who: object) -> None:
    with db_of(request).writing() as session:
        session.execute(
            update(AccessToken)
            .where(AccessToken.token_hash == sha256_hex(token))
            .values(expires_at=utcnow())
        )
        audit.record(session, who, "logout", "page_session")  # type: ignore[arg-type]


@router.get("/lang/{code}")
def set_lang(request: Request, code: str, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response
