"""Admin pages: imports with the validation report in the page, users, audit trail.

They call the JSON API's own functions (``api.routes.imports``, ``users``,
``audit_log``) with the page session's principal.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, cast

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from ..auth import Role
from ..routes import audit_log as audit_api
from ..routes import imports as imports_api
from ..routes import users as users_api
from ..schemas import UserIn
from .web import CSRF, PageUser, db_of, render, require_role, settings_of

router = APIRouter(include_in_schema=False)

LAYERS = ["koban", "beats", "units", "officers", "buildings", "households", "visits"]


def _history(request: Request, who: Any) -> list[Any]:
    with db_of(request).read_session() as session:
        return list(reversed(imports_api.list_imports(who, session)))[:50]


@router.get("/admin/imports")
def imports_page(request: Request, who: PageUser) -> Response:
    require_role(who, Role.ADMIN)
    return render(
        request, "imports.html", who, layers=LAYERS, history=_history(request, who), report=None
    )


@router.post("/admin/imports", dependencies=[CSRF])
def import_file(
    request: Request,
    who: PageUser,
    layer: Annotated[str, Form(max_length=32)],
    file: Annotated[UploadFile, File()],
    crs: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """One layer through ``POST /imports``: the report of every problem, or the rows stored."""
    require_role(who, Role.ADMIN)
    if layer not in LAYERS:
        raise HTTPException(422, detail=f"layer: expected one of {', '.join(LAYERS)}")
    out = imports_api.import_layer(
        who,
        db_of(request),
        settings_of(request),
        cast(Any, layer),  # checked against LAYERS above
        file,
        crs or None,
    )
    report: dict[str, Any]
    status = 200
    if isinstance(out, JSONResponse):
        report = {"ok": False, **json.loads(bytes(out.body))}
        status = out.status_code
    else:
        report = {"ok": True, "rows": out.rows, "file": out.filename, "layer": out.layer}
    return render(
        request,
        "imports.html",
        who,
        status_code=status,
        layers=LAYERS,
        history=_history(request, who),
        report=report,
    )


@router.get("/admin/users")
def users_page(request: Request, who: PageUser, error: str = "") -> Response:
    require_role(who, Role.ADMIN)
    with db_of(request).read_session() as session:
        users = users_api.list_users(who, session)
    return render(request, "users.html", who, users=users, error=error)


@router.post("/admin/users", dependencies=[CSRF])
def add_user(
    request: Request,
    who: PageUser,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    role: Annotated[str, Form(max_length=16)],
    officer_id: Annotated[str, Form(max_length=64)] = "",
    station: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    require_role(who, Role.ADMIN)
    try:
        body = UserIn(
            username=username,
            password=password,
            role=role,  # type: ignore[arg-type]
            officer_id=officer_id or None,
            station=station or None,
        )
        with db_of(request).write_session() as session:
            users_api.add_user(body, who, session)
    except ValidationError as exc:
        msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return RedirectResponse(f"/admin/users?error={msg[:200]}", status_code=303)
    except HTTPException as exc:
        return RedirectResponse(f"/admin/users?error={str(exc.detail)[:200]}", status_code=303)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/audit")
def audit_page(request: Request, who: PageUser, username: str | None = None) -> Response:
    require_role(who, Role.ADMIN)
    with db_of(request).read_session() as session:
        rows = audit_api.list_audit(
            who,
            session,
            resource=None,
            resource_id=None,
            username=username or None,
            action=None,
            since=None,
            limit=200,
            offset=0,
        )
    return render(request, "audit.html", who, rows=rows, username=username or "")
