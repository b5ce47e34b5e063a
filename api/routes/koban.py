from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from ..auth import Role
from ..deps import DB, AnyUser, ReadSession, json_response, not_found, on_db, rows_as_dicts
from ..models import KobanRow, OfficerRow
from ..schemas import KobanOut, OfficerOut

router = APIRouter(tags=["koban"])


def _out(k: KobanRow) -> KobanOut:
    return KobanOut(
        koban_id=k.koban_id, name=k.name, kind=k.kind, station=k.station, lon=k.lon, lat=k.lat
    )


#: The columns of a koban in lists, as :class:`KobanOut` names them.
KOBAN_COLUMNS = (
    KobanRow.koban_id,
    KobanRow.name,
    KobanRow.kind,
    KobanRow.station,
    KobanRow.lon,
    KobanRow.lat,
)


@router.get("/koban", response_model=list[KobanOut])
async def list_koban(who: AnyUser, db: DB, session: ReadSession) -> Response:
    """Koban and 駐在所 in the caller's scope."""
    stmt = select(*KOBAN_COLUMNS).order_by(KobanRow.koban_id)
    if who.koban_ids is not None:
        stmt = stmt.where(KobanRow.koban_id.in_(who.koban_ids))
    return json_response(await on_db(db, rows_as_dicts, session, stmt))


@router.get("/koban/{koban_id}", response_model=KobanOut)
def get_koban(koban_id: str, who: AnyUser, session: ReadSession) -> KobanOut:
    k = session.get(KobanRow, koban_id)
    if k is None or not who.can_koban(koban_id):
        raise not_found("koban")
    return _out(k)


@router.get("/officers", response_model=list[OfficerOut])
def list_officers(who: AnyUser, session: ReadSession) -> list[OfficerOut]:
    """Officers of the caller's koban (an officer sees only themself)."""
    stmt = select(OfficerRow).order_by(OfficerRow.officer_id)
    if who.role is Role.OFFICER:
        stmt = stmt.where(OfficerRow.officer_id == who.officer_id)
    elif who.koban_ids is not None:
        stmt = stmt.where(OfficerRow.koban_id.in_(who.koban_ids))
    return [
        OfficerOut(
            officer_id=o.officer_id,
            koban_id=o.koban_id,
            role=o.role,
            beat_id=o.beat_id,
            mode=o.mode,
            shift_pattern=o.shift_pattern,
        )
        for o in session.scalars(stmt)
    ]
