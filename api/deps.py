"""Dependencies of the routes, as ``Annotated`` aliases.

``ReadSession`` is a plain session; ``WriteSession`` takes the write lock
when it starts (SQLite ``BEGIN IMMEDIATE``). Routes that write commit
explicitly before they answer, so an acknowledged write is durable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from .auth import Principal, Role, principal_for, user_for_secret
from .db import Database
from .settings import ApiSettings

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings_dep(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _read_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.read_session() as session:
        yield session


def _write_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
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


def get_principal(
    request: Request, db: DB, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """The caller, from ``Authorization: Bearer <token or API key>``."""
    if not token:
        raise _UNAUTHORIZED
    # A short read transaction of its own: the route's session may be a
    # write session that should not hold the lock during the lookup.
    with db.read_session() as session:
        user = user_for_secret(session, token)
        if user is None:
            raise _UNAUTHORIZED
        return principal_for(session, user, client_ip(request))


CurrentUser = Annotated[Principal, Depends(get_principal)]


class RoleGate:
    """Allow only the given roles; the access tests read ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def __call__(self, who: CurrentUser) -> Principal:
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
