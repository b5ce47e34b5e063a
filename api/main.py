"""Build the FastAPI application.

``create_app()`` reads the settings from the environment, migrates the
database (creating the SQLite file on first start) and mounts one router per
resource. ``junkai-geo serve`` runs it with uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError

from . import audit, pages, planner
from .db import Database
from .jobs import fail_interrupted, join_children
from .routes import (
    audit_log,
    auth,
    beats,
    buildings,
    calendars,
    health,
    households,
    imports,
    koban,
    night_approvals,
    plans,
    progress,
    rebalance,
    reports,
    specialists,
    users,
    visits,
)
from .schemas import ErrorOut
from .security import GuardMiddleware, HeadersMiddleware
from .settings import ApiSettings, get_settings

ROUTERS = [
    health.router,
    auth.router,
    users.router,
    koban.router,
    beats.router,
    buildings.router,
    households.router,
    visits.router,
    night_approvals.router,
    reports.router,
    imports.router,
    plans.router,
    rebalance.router,
    calendars.router,
    progress.router,
    specialists.router,
    audit_log.router,
]


#: The error answers any route may give, documented on every operation so
#: that the OpenAPI document lists every status code the service sends.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "a body that cannot be parsed"},
    401: {"model": ErrorOut, "description": "no, an invalid or an expired credential"},
    403: {"model": ErrorOut, "description": "a role or a scope that may not do this"},
    404: {"model": ErrorOut, "description": "not found (or outside the scope)"},
    409: {"model": ErrorOut, "description": "conflicts with the current state"},
    413: {"model": ErrorOut, "description": "body larger than allowed"},
    422: {"model": ErrorOut, "description": "a value outside what the route accepts"},
    503: {"model": ErrorOut, "description": "the database connection was reset; retry"},
}


def create_app(settings: ApiSettings | None = None, *, db: Database | None = None) -> FastAPI:
    """The service, on ``db`` or on the database named by ``settings``."""
    settings = settings or get_settings()
    database = db or Database(
        settings.url(),
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
    )
    database.migrate()
    fail_interrupted(database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # A job still running when the service stops is marked failed at the next start.
        join_children(timeout_s=0)
        audit.read_writer(database).close()
        planner.shutdown()
        if db is None:
            database.dispose()

    app = FastAPI(
        title="junkai_geo",
        summary="Beat planning for patrol liaison (巡回連絡)",
        description=(
            "Every route but /health needs a bearer token from /auth/token or an API key. "
            "Officers reach their beats, managers their station, admins the prefecture."
        ),
        version="0.1.0",
        lifespan=lifespan,
        # /docs is served by api.pages from the service's own Swagger UI files.
        docs_url=None,
    )
    app.state.db = database
    app.state.settings = settings
    # The last added is the outermost: headers on every answer, the guard's too;
    # the guard answers before anything reads a body.
    app.add_middleware(GuardMiddleware, settings=settings)
    app.add_middleware(HeadersMiddleware)
    for router in ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    pages.mount(app)

    @app.exception_handler(DBAPIError)
    async def connection_lost(request: Request, exc: DBAPIError) -> JSONResponse:
        # A connection the database server dropped (a restart): the pool has
        # discarded it and its elders, so a retry reconnects. Anything else
        # is a server error as before.
        if not exc.connection_invalidated:
            raise exc
        return JSONResponse(
            status_code=503,
            content={"detail": "the database connection was reset; retry"},
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes each bad input back, and an input that
        # is NaN or holds a lone surrogate cannot be written as JSON (a 500
        # instead of the 422). Where and why is enough; the input stays out.
        detail = [
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": str(err.get("msg", "")).encode("utf-8", "replace").decode("utf-8"),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(DataError)
    async def data_error(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schema let through (a NUL byte in
        # text on PostgreSQL, a number out of a column's range): the client's input.
        return JSONResponse(
            status_code=422,
            content={"detail": "a value holds characters or a size the database does not accept"},
        )

    return app
