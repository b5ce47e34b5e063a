from __future__ import annotations

import csv
import io
import math
import threading
import time
from collections import defaultdict
from datetime import date

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth import Principal, current_version
from ..db import Database
from ..deps import DB, AnyUser, ReadSession, Settings, forbidden, on_db
from ..heavy_reads import invalidate_heavy_reads
from ..models import BeatRow, HouseholdRow, KobanRow
from ..schemas import SurveyOut, SurveyRow
from ..store import status_case, today_local

router = APIRouter(prefix="/reports", tags=["reports"])

#: CSV columns: (field, header in Japanese Excel).
CSV_COLUMNS: list[tuple[str, str]] = [
    ("station", "警察署"),
    ("koban_id", "交番"),
    ("beat_id", "受持区"),
    ("households", "世帯等数"),
    ("buildings", "建物数"),
    ("books", "簿冊数"),
    ("cards", "カード数"),
    ("kind_home", "世帯"),
    ("kind_business", "事業所"),
    ("kind_public", "公共施設"),
    ("card_none", "未把握"),
    ("card_current", "カード現行"),
    ("card_stale", "カード要更新"),
    ("vacant", "空家"),
    ("moved_out", "転出"),
]


#: Survey answers are fresh this long per (scope, koban, day, version). The
#: survey groups every household of the scope (a station: tens of
#: thousands), the slowest read by far. Writes in this process (visits,
#: imports) clear the cache at once; writes through another worker process
#: show within this time plus one refresh.
SURVEY_CACHE_S = 10.0
#: A survey older than fresh but younger than this is answered at once while
#: a background thread computes the next one, so that a manager does not
#: wait for the aggregate every ten seconds; older answers are never given.
SURVEY_STALE_S = 60.0
_SURVEYS: dict[tuple[object, ...], tuple[float, SurveyOut]] = {}
_REFRESHING: set[tuple[object, ...]] = set()
_SURVEYS_LOCK = threading.Lock()


def invalidate_survey_cache() -> None:
    """Forget the cached surveys (after a write that changes households or cards)."""
    with _SURVEYS_LOCK:
        _SURVEYS.clear()
    invalidate_heavy_reads()  # /progress and /specialists read the same rows


async def cached_beat_survey(
    db: Database,
    session: Session,
    who: Principal,
    *,
    cards_per_book: int,
    koban_id: str | None = None,
) -> SurveyOut:
    """:func:`beat_survey`, answered from the cache while it is fresh or being refreshed.

    A cached answer costs one short query (the beat version), run like the
    other short reads (:func:`api.deps.on_db`); computing one runs in the
    thread pool.
    """
    today = today_local()
    key = (
        id(db),
        who.beat_ids,
        who.koban_ids,
        koban_id,
        cards_per_book,
        today,
        await on_db(db, current_version, session),
    )
    now = time.monotonic()
    with _SURVEYS_LOCK:
        hit = _SURVEYS.get(key)
        stale_ok = hit is not None and now < hit[0] - SURVEY_CACHE_S + SURVEY_STALE_S
        refresh = stale_ok and hit is not None and hit[0] <= now and key not in _REFRESHING
        if refresh:
            _REFRESHING.add(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    if hit is not None and stale_ok:
        if refresh:
            threading.Thread(
                target=_refresh,
                args=(db, key, who, cards_per_book, koban_id, today),
                name="survey-refresh",
                daemon=True,
            ).start()
        return hit[1]
    out = await run_in_threadpool(
        lambda: beat_survey(
            session, who, cards_per_book=cards_per_book, koban_id=koban_id, today=today
        )
    )
    _store_survey(key, out)
    return out


def _store_survey(key: tuple[object, ...], out: SurveyOut) -> None:
    # Fresh from when it was computed (as api.heavy_reads): counted from the
    # start, a survey slower than SURVEY_CACHE_S would never be fresh and
    # every request would start another refresh.
    with _SURVEYS_LOCK:
        if len(_SURVEYS) > 1000:
            _SURVEYS.clear()
        _SURVEYS[key] = (time.monotonic() + SURVEY_CACHE_S, out)


def _refresh(
    db: Database,
    key: tuple[object, ...],
    who: Principal,
    cards_per_book: int,
    koban_id: str | None,
    today: date,
) -> None:
    try:
        with db.read_session() as session:
            out = beat_survey(
                session, who, cards_per_book=cards_per_book, koban_id=koban_id, today=today
            )
        with _SURVEYS_LOCK:
            # A write cleared the cache meanwhile: this answer may predate it.
            stale = key not in _SURVEYS
        if not stale:
            _store_survey(key, out)
    finally:
        with _SURVEYS_LOCK:
            _REFRESHING.discard(key)


def beat_survey(
    session: Session,
    who: Principal,
    *,
    cards_per_book: int,
    koban_id: str | None = None,
    today: date | None = None,
) -> SurveyOut:
    """The April beat survey (受持区実態調査), per beat of the current version."""
    today = today or today_local()
    version = current_version(session)
    beats_stmt = (
        select(BeatRow.beat_id, BeatRow.koban_id, KobanRow.station)
        .outerjoin(KobanRow, KobanRow.koban_id == BeatRow.koban_id)
        .where(BeatRow.version == version)
    )
    if who.beat_ids is not None:
        beats_stmt = beats_stmt.where(BeatRow.beat_id.in_(who.beat_ids))
    if koban_id is not None:
        if not who.can_koban(koban_id):
            raise forbidden()
        beats_stmt = beats_stmt.where(BeatRow.koban_id == koban_id)
    beats = session.execute(beats_stmt.order_by(BeatRow.koban_id, BeatRow.beat_id)).all()
    ids = [b for b, _, _ in beats]
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    status = status_case(today).label("status")
    rows = session.execute(
        select(
            HouseholdRow.beat_id, HouseholdRow.kind, HouseholdRow.occupancy, status, func.count()
        )
        .where(HouseholdRow.beat_id.in_(ids))
        .group_by(HouseholdRow.beat_id, HouseholdRow.kind, HouseholdRow.occupancy, status)
    ).all()
    for beat_id, kind, occupancy, st, n in rows:
        c = counts[beat_id]
        if occupancy != "occupied":
            c[occupancy] += n
            continue
        c["households"] += n
        c[f"kind_{kind}"] += n
        c[f"card_{st}"] += n
    buildings = dict(
        session.execute(
            select(HouseholdRow.beat_id, func.count(func.distinct(HouseholdRow.building_id)))
            .where(HouseholdRow.beat_id.in_(ids), HouseholdRow.occupancy == "occupied")
            .group_by(HouseholdRow.beat_id)
        ).all()
    )
    out: list[SurveyRow] = []
    for beat_id, k_id, station in beats:
        c = counts[beat_id]
        cards = c["card_current"] + c["card_stale"]
        out.append(
            SurveyRow(
                beat_id=beat_id,
                koban_id=k_id,
                station=station or "",
                households=c["households"],
                buildings=int(buildings.get(beat_id, 0)),
                cards=cards,
                books=math.ceil(cards / cards_per_book),
                kind_home=c["kind_home"],
                kind_business=c["kind_business"],
                kind_public=c["kind_public"],
                card_none=c["card_none"],
                card_current=c["card_current"],
                card_stale=c["card_stale"],
                vacant=c["vacant"],
                moved_out=c["moved_out"],
            )
        )
    numeric = [f for f, _ in CSV_COLUMNS if f not in ("station", "koban_id", "beat_id")]
    totals = {f: sum(getattr(r, f) for r in out) for f in numeric}
    # Books are counted per beat (each beat keeps its own), so the total adds them up.
    total = SurveyRow(beat_id="合計", koban_id="", station="", **totals)
    return SurveyOut(
        as_of=today, version=version, cards_per_book=cards_per_book, beats=out, totals=total
    )


@router.get("/beat-survey", response_model=SurveyOut)
async def get_beat_survey(
    who: AnyUser,
    db: DB,
    session: ReadSession,
    settings: Settings,
    koban_id: str | None = Query(default=None, max_length=64),
) -> SurveyOut:
    """Per beat: households, buildings, books (簿冊) and make-up by kind and card."""
    return await cached_beat_survey(
        db, session, who, cards_per_book=settings.cards_per_book, koban_id=koban_id
    )


@router.get(
    "/beat-survey.csv",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": "UTF-8 with BOM, CRLF: opens in Japanese Excel",
        }
    },
)
async def get_beat_survey_csv(
    who: AnyUser,
    db: DB,
    session: ReadSession,
    settings: Settings,
    koban_id: str | None = Query(default=None, max_length=64),
) -> Response:
    """The beat survey as CSV for Excel: UTF-8 with a BOM, CRLF line ends."""
    survey = await cached_beat_survey(
        db, session, who, cards_per_book=settings.cards_per_book, koban_id=koban_id
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([h for _, h in CSV_COLUMNS])
    for row in [*survey.beats, survey.totals]:
        writer.writerow([getattr(row, f) for f, _ in CSV_COLUMNS])
    body = "\ufeff" + buf.getvalue()
    name = f"beat_survey_{survey.as_of.isoformat()}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
