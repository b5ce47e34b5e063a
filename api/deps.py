"""Dependencies of the routes, as ``Annotated`` aliases.

``ReadSession`` is a plain session; ``WriteSession`` takes the write lock
when it starts (SQLite ``BEGIN IMMEDIATE``). Routes that write commit
explicitly before they answer, so an acknowledged write is durable.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from .auth import Principal, Role, principal_for, sha256_hex, user_for_secret
from .db import Database
from .settings import ApiSettings

T = TypeVar("T")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings_dep(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# Async generators: a Session connects lazily (on its first query, in the
# route's thread), so opening it costs nothing and closing it only returns
# the connection to the pool. A sync generator would cost two extra trips
# through the thread pool per request, which under load is much of the time.
async def _read_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[Session]:
    with db.read_session() as session:
        yield session


async def _write_session(db: Annotated[Database, Depends(get_db)]) -> AsyncIterator[Session]:
    with db.write_session() as session:
        yield session


DB = Annotated[Database, Depends(get_db)]
Settings = Annotated[ApiSettings, Depends(get_settings_dep)]
ClientIP = Annotated[str, Depends(client_ip)]
ReadSession = Annotated[Session, Depends(_read_session)]
WriteSession = Annotated[Session, Depends(_write_session)]

_UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    detail="missing, invalid or expired token",
    headers={"WWW-Authenticate": "Bearer"},
)


#: Principals resolved from a token, kept for ``PRINCIPAL_CACHE_S`` seconds so
#: that a burst of requests does not look the token and the scope up each
#: time. Token expiry is still checked on every request; a change of a
#: user's role or scope takes effect within this many seconds.
PRINCIPAL_CACHE_S = 10.0
_PRINCIPALS: dict[str, tuple[float, float, Principal]] = {}
_PRINCIPALS_MAX = 10_000


async def get_principal(
    request: Request, db: DB, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The caller, from ``Authorization: Bearer <token or API key>``.

    Async so that a cached principal costs no thread hop; a lookup runs in
    the thread pool.
    """
    if not token:
        raise _UNAUTHORIZED
    ip = request.client.host if request.client else ""
    now = time.monotonic()
    key = f"{id(db)}:{sha256_hex(token)}"
    hit = _PRINCIPALS.get(key)
    if hit is not None and hit[0] > now and hit[1] > time.time():
        return replace(hit[2], client_ip=ip)
    found = await run_in_threadpool(_lookup, db, token, ip)
    if found is None:
        _PRINCIPALS.pop(key, None)
        raise _UNAUTHORIZED
    who, expires = found
    if len(_PRINCIPALS) >= _PRINCIPALS_MAX:
        _PRINCIPALS.clear()
    _PRINCIPALS[key] = (now + PRINCIPAL_CACHE_S, expires, who)
    return who


def forget_principals(user_id: int | None = None, token: str | None = None) -> None:
    """Drop cached principals of a user or a token in this process (logout,
    revocation, disable); other worker processes drop theirs within
    ``PRINCIPAL_CACHE_S``."""
    digest = sha256_hex(token) if token else None
    for key, (_, _, who) in list(_PRINCIPALS.items()):
        if (user_id is not None and who.user_id == user_id) or (
            digest is not None and key.endswith(":" + digest)
        ):
            _PRINCIPALS.pop(key, None)


BearerToken = Annotated[str | None, Depends(oauth2_scheme)]


def _lookup(db: Database, token: str, ip: str) -> tuple[Principal, float] | None:
    # A short read transaction of its own: the route's session may be a
    # write session that should not hold the lock during the lookup.
    with db.read_session() as session:
        found = user_for_secret(session, token, with_expiry=True)
        if found is None:
            return None
        user, expires = found
        return principal_for(session, user, ip), expires


CurrentUser = Annotated[Principal, Depends(get_principal)]


class RoleGate:
    """Allow only the given roles; the access tests read ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, who: CurrentUser) -> Principal:
        if who.role not in self.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="role not allowed here")
        return who


ALL_ROLES = RoleGate(Role.OFFICER, Role.MANAGER, Role.ADMIN)
MANAGERS = RoleGate(Role.MANAGER, Role.ADMIN)
ADMINS = RoleGate(Role.ADMIN)

AnyUser = Annotated[Principal, Depends(ALL_ROLES)]
Manager = Annotated[Principal, Depends(MANAGERS)]
Admin = Annotated[Principal, Depends(ADMINS)]


def forbidden(detail: str = "outside your scope") -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


#: Upper bound of integer parameters (ids, offsets): what every database column holds.
MAX_INT = 2**31 - 1


def json_response(content: Any) -> Response:
    """``content`` (plain dicts and lists, dates, enums) as a JSON response.

    For the busiest lists: their rows are built as dicts of exactly the
    fields of their response model and written by orjson, skipping the
    pydantic model per row and FastAPI's second validation of the list,
    which under load cost more than the query. The route keeps its
    ``response_model`` for the OpenAPI schema.
    """
    return Response(orjson.dumps(content), media_type="application/json")


async def on_db(db: Database, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``: inline on SQLite, in the thread pool on PostgreSQL.

    For short, bounded reads (a page of a list). SQLite answers them in the
    process in a fraction of a millisecond, less than handing the call to a
    pool thread and back, which under load took a sixth of a worker's GIL
    time; PostgreSQL's answer crosses a socket, during which the worker
    should serve others.
    """
    if db.is_sqlite:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def rows_as_dicts(session: Session, stmt: Any) -> list[dict[str, Any]]:
    """The rows of a column select as dicts keyed by column name."""
    return [row._asdict() for row in session.execute(stmt)]
