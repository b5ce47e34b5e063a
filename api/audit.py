"""The append-only audit trail: who did what, when, from where.

Every read of household details and every write adds one row, in the same
transaction as the write (so a write without its audit row cannot commit)
and before the data of a read leaves the service. Nothing in the service
updates or deletes these rows, and triggers on both databases refuse it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .auth import Principal
from .db import utcnow
from .models import AuditEntry


def record(
    session: Session,
    who: Principal | None,
    action: str,
    resource: str,
    resource_id: str = "",
    *,
    client_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
) -> None:
    """Add one audit row to ``session``'s transaction."""
    session.add(
        AuditEntry(
            at=utcnow(),
            user_id=who.user_id if who else None,
            username=(who.username if who else username or "")[:64],
            role=who.role.value if who else "",
            action=action,
            resource=resource,
            resource_id=str(resource_id)[:128],
            client_ip=(client_ip if client_ip is not None else who.client_ip if who else "")[:64],
            detail=detail,
        )
    )
