from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from sqlalchemy import select

from ..deps import MAX_INT, Admin, ReadSession
from ..models import AuditEntry
from ..schemas import AuditOut

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def list_audit(
    who: Admin,
    session: ReadSession,
    resource: str | None = Query(default=None, max_length=64),
    resource_id: str | None = Query(default=None, max_length=128),
    username: str | None = Query(default=None, max_length=64),
    action: str | None = Query(default=None, max_length=32, description="e.g. alert, login"),
    since: datetime | None = None,
    limit: int = Query(default=200, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_INT),
) -> list[AuditOut]:
    """The audit trail, newest first (read only: it has no write endpoint)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if resource is not None:
        stmt = stmt.where(AuditEntry.resource == resource)
    if resource_id is not None:
        stmt = stmt.where(AuditEntry.resource_id == resource_id)
    if username is not None:
        stmt = stmt.where(AuditEntry.username == username)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    return [
        AuditOut(
            id=a.id,
            at=a.at,
            user_id=a.user_id,
            username=a.username,
            role=a.role,
            action=a.action,
            resource=a.resource,
            resource_id=a.resource_id,
            client_ip=a.client_ip,
            detail=a.detail,
        )
        for a in session.scalars(stmt.limit(limit).offset(offset))
    ]
