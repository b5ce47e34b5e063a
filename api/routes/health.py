from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from ..deps import ReadSession
from ..schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(session: ReadSession) -> Health:
    """Liveness and database reachability; the only route without a token."""
    version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return Health(status="ok", database=session.get_bind().dialect.name, schema_version=version)
