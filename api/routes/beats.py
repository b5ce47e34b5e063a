from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from shapely import wkb
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import Principal, current_version
from ..deps import DB, MAX_INT, AnyUser, ReadSession, json_response, not_found, on_db, rows_as_dicts
from ..models import BeatRow, BeatVersion
from ..schemas import BeatDetail, BeatOut, BeatVersionOut

router = APIRouter(prefix="/beats", tags=["beats"])

Version = Annotated[
    int | None, Query(ge=1, le=MAX_INT, description="beat version; default: current")
]


def _out(b: BeatRow) -> BeatOut:
    return BeatOut(
        beat_id=b.beat_id,
        koban_id=b.koban_id,
        name=b.name,
        locked=b.locked,
        version=b.version,
        households=b.households,
    )


@router.get("/versions", response_model=list[BeatVersionOut])
def list_versions(who: AnyUser, session: ReadSession) -> list[BeatVersionOut]:
    """Every beat version; an accepted rebalancing adds one, none is deleted."""
    latest = current_version(session)
    return [
        BeatVersionOut(
            version=v.version,
            created_at=v.created_at,
            source=v.source,
            job_id=v.job_id,
            note=v.note,
            current=v.version == latest,
        )
        for v in session.scalars(select(BeatVersion).order_by(BeatVersion.version))
    ]


#: The columns of a beat in lists, as :class:`BeatOut` names them (no polygon).
BEAT_COLUMNS = (
    BeatRow.beat_id,
    BeatRow.koban_id,
    BeatRow.name,
    BeatRow.locked,
    BeatRow.version,
    BeatRow.households,
)


@router.get("", response_model=list[BeatOut])
async def list_beats(
    who: AnyUser, db: DB, session: ReadSession, version: Version = None
) -> Response:
    """Beats of a version in the caller's scope."""
    return json_response(await on_db(db, _beat_rows, session, who, version))


def _beat_rows(session: Session, who: Principal, version: int | None) -> list[dict[str, Any]]:
    v = version or current_version(session)
    stmt = select(*BEAT_COLUMNS).where(BeatRow.version == v).order_by(BeatRow.beat_id)
    if who.koban_ids is not None:
        # Scope of a beat is its koban for old versions as well.
        stmt = stmt.where(BeatRow.koban_id.in_(who.koban_ids))
        if who.beat_ids is not None and who.role.value == "officer":
            stmt = stmt.where(BeatRow.beat_id.in_(who.beat_ids))
    return rows_as_dicts(session, stmt)


@router.get("/{beat_id}", response_model=BeatDetail)
def get_beat(
    beat_id: str, who: AnyUser, session: ReadSession, version: Version = None
) -> BeatDetail:
    """One beat with its polygon (GeoJSON, WGS84)."""
    v = version or current_version(session)
    b = session.scalar(select(BeatRow).where(BeatRow.version == v, BeatRow.beat_id == beat_id))
    if b is None or not who.can_koban(b.koban_id):
        raise not_found("beat")
    if who.role.value == "officer" and not who.can_beat(beat_id):
        raise not_found("beat")
    geometry = mapping(wkb.loads(b.geom_wkb)) if b.geom_wkb else None
    return BeatDetail(**_out(b).model_dump(), geometry=geometry)
