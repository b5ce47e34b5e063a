"""What every page shares: templates, language, the session cookie, CSRF, CSP.

Login sessions reuse the API's access tokens (``api.auth.issue_token``):
the page login issues one and keeps it in an HttpOnly cookie, so a page
request resolves to the same :class:`~api.auth.Principal` with the same
scope as a bearer request, expires with the token (``JUNKAI_TOKEN_TTL_S``)
and ends at logout (the token's expiry is set to now).

CSRF: every form and every state-changing ``fetch`` carries a token that is
an HMAC of the session secret (before login: of a random pre-session
cookie). Another site can neither read the cookie nor compute the token, so
a forged form is refused (403) even though the browser sends the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlparse

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..auth import Principal, Role, principal_for, user_for_secret
from ..db import Database
from ..settings import ApiSettings
from .i18n import LANGS, translator

API_DIR = Path(__file__).resolve().parents[1]
TEMPLATES = Jinja2Templates(directory=str(API_DIR / "templates"))

SESSION_COOKIE = "junkai_session"
PRE_COOKIE = "junkai_pre"
LANG_COOKIE = "junkai_lang"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """No valid session: pages redirect to the login page, fetches get 401."""


class PageForbidden(Exception):
    """Outside the caller's scope (a page answer in the caller's language)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings_of(request: Request) -> ApiSettings:
    s: ApiSettings = request.app.state.settings
    return s


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "ja")
    return lang if lang in LANGS else "ja"


def csrf_token(secret: str, purpose: str = "session") -> str:
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:40]


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=is_tls(request),
        samesite="lax",
        path="/",
    )


def _lookup(db: Database, token: str, ip: str) -> Principal | None:
    with db.read_session() as session:
        user = user_for_secret(session, token)
        if user is None:
            return None
        return principal_for(session, user, ip)


async def page_user(request: Request) -> Principal:
    """The logged-in caller (cookie session), checked on every request."""
    token = request.cookies.get(SESSION_COOKIE)
    # API keys never become page sessions.
    if not token or token.startswith("jk_"):
        raise LoginRequired()
    ip = request.client.host if request.client else ""
    who = await run_in_threadpool(_lookup, db_of(request), token, ip)
    if who is None:
        raise LoginRequired()
    request.state.csrf = csrf_token(token)
    return who


PageUser = Annotated[Principal, Depends(page_user)]


def require_role(who: Principal, *roles: Role) -> None:
    if who.role not in roles:
        raise PageForbidden("role")


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request without the session's CSRF token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    token = request.cookies.get(SESSION_COOKIE) or ""
    expected = csrf_token(token) if token else ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="CSRF token missing or wrong")


CSRF = Depends(check_csrf)


def safe_next(target: str | None) -> str:
    """Only paths on this service (no scheme, no host) as redirect targets."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


def tile_config(settings: ApiSettings) -> dict[str, Any]:
    """What the maps draw under their layers (none, a local file or a URL)."""
    if settings.tile_file:
        return {
            "url": "/tiles/{z}/{x}/{y}",
            "attribution": settings.tile_attribution or "",
            "kind": "local",
        }
    if settings.tile_url:
        return {
            "url": settings.tile_url,
            "attribution": settings.tile_attribution_html(),
            "kind": "url",
        }
    return {"url": "", "attribution": "", "kind": "none"}


def tile_host(settings: ApiSettings) -> str:
    """The origin of the configured web tiles ("" when none or local)."""
    if settings.tile_file or not settings.tile_url:
        return ""
    p = urlparse(settings.tile_url.replace("{", "").replace("}", ""))
    return f"{p.scheme}://{p.netloc}" if p.scheme and p.netloc else ""


def content_security_policy(settings: ApiSettings, *, docs: bool = False) -> str:
    """Only this service, plus the tile host when one is configured."""
    host = tile_host(settings)
    img = "'self' data:" + (f" {host}" if host else "")
    # Swagger UI's page starts itself with an inline script (FastAPI's).
    script = "'self' 'unsafe-inline'" if docs else "'self'"
    style = "'self' 'unsafe-inline'" if docs else "'self'"
    return (
        f"default-src 'self'; img-src {img}; script-src {script}; style-src {style}; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def render(
    request: Request,
    template: str,
    who: Principal | None,
    *,
    status_code: int = 200,
    data: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page in the caller's language; ``data`` goes to the page's script as JSON."""
    lang = lang_of(request)
    settings = settings_of(request)
    ctx = {
        "request": request,
        "who": who,
        "lang": lang,
        "t": translator(lang),
        "csrf": getattr(request.state, "csrf", ""),
        "tiles": tile_config(settings),
        "page_data": json.dumps(data or {}, ensure_ascii=False, default=_json_default).replace(
            "</", "<\\/"
        ),
        "path": request.url.path,
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status_code)
    secure_headers(response, settings)
    return response


def secure_headers(response: Response, settings: ApiSettings, *, docs: bool = False) -> None:
    response.headers["Content-Security-Policy"] = content_security_policy(settings, docs=docs)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def _json_default(v: Any) -> Any:
    if isinstance(v, date):
        return v.isoformat()
    raise TypeError(type(v).__name__)


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)
