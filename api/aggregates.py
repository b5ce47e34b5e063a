"""The heavy reports' inputs as grouped queries, not every visit.

``GET /progress``, ``GET /specialists`` and the station's beats map used to
read every household and visit of the caller's scope into a library
:class:`~junkai_geo.model.Dataset` (on the bundled Kanazawa data 216,536
households and 397,522 visits: most of their first answer's time). They
need far less:

- progress (:func:`progress_report`): per beat, the occupied households and
  those without a card (未把握) at the start and the end of the period; per
  officer, the period's visits, contacts, cards made, households of his beat
  attempted and the same per week. One ``GROUP BY`` household inside a
  ``GROUP BY`` beat, and three ``GROUP BY`` officer over the period's visits,
  handed to :func:`junkai_geo.progress.progress_from_counts`;
- 専従員 (:func:`specialist_report`): the households' planning columns and
  their card fields, which the database keeps up to date on every write
  (``HouseholdRow.occupancy`` / ``last_contact`` / ``absences`` /
  ``visit_count``, see :func:`api.store.refresh_card`), and the absent and
  answered visits per household (one ``GROUP BY``) instead of the visits;
- the beats map's workload (:func:`unit_workloads`): per 町丁目 the
  households' service time grouped by kind, card, floor and building size,
  and the number of buildings to visit, handed to
  :func:`junkai_geo.workload.unit_workload_from_totals`.

The answers are those of the library on the whole dataset (tested on the
bundled data, SQLite and PostgreSQL: ``tests/api_tests/test_heavy_reads.py``).
Two documented limits of the grouped path: a household whose ``met`` and
``moved_out`` / ``vacant`` visits fall on the same day and minute counts as
not occupied at the period's start (the library takes the visits' input
order, which a database read does not fix; the bundled data has no such
tie); and when a household's 町丁目 is not one of its scope's (the library
then places every household by location) the beats map falls back to the
library on the whole dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Date, DateTime, String, and_, case, cast, distinct, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from junkai_geo.model import Dataset
from junkai_geo.progress import (
    OfficerStats,
    ProgressCounts,
    ProgressResult,
    check_period,
    officers_with_station,
    progress_from_counts,
)
from junkai_geo.settings import WorkloadParams
from junkai_geo.workload import household_service_s, unit_workload_from_totals

from .models import BeatRow, BuildingRow, HouseholdRow, KobanRow, OfficerRow, UnitRow, VisitRow
from .store import (
    BUILDING_COLUMNS,
    CARD_PARAMS,
    CHUNK,
    _frame,
    _points,
    _rows,
    stale_cutoff,
    units_of_beats,
    workspace_crs,
)

#: Outcomes that say whether a household is still there (card rules).
OCCUPANCY_EVENTS = ("met", "moved_out", "vacant")
GONE = ("moved_out", "vacant")


def _beats(session: Session, koban_ids: frozenset[str] | None) -> Any:
    """The current version's beats of the scope, as a sub-select."""
    from .auth import current_version

    stmt = select(BeatRow.beat_id).where(BeatRow.version == current_version(session))
    if koban_ids is not None:
        stmt = stmt.where(BeatRow.koban_id.in_(koban_ids))
    return stmt.scalar_subquery()


def _in_scope(session: Session, koban_ids: frozenset[str] | None) -> Any:
    return HouseholdRow.beat_id.in_(_beats(session, koban_ids))


def scope_layers(
    session: Session, koban_ids: frozenset[str] | None
) -> tuple[Any, pd.DataFrame, str]:
    """Koban (points in the workspace CRS) and officers of the scope, and the CRS."""
    kstmt = select(
        KobanRow.koban_id, KobanRow.name, KobanRow.kind, KobanRow.station, KobanRow.x, KobanRow.y
    )
    ocols = ["officer_id", "koban_id", "role", "beat_id", "mode", "shift_pattern"]
    ostmt = select(*(getattr(OfficerRow, c) for c in ocols))
    if koban_ids is not None:
        kstmt = kstmt.where(KobanRow.koban_id.in_(koban_ids))
        ostmt = ostmt.where(OfficerRow.koban_id.in_(koban_ids))
    crs = workspace_crs(session)
    koban = _points(
        pd.DataFrame(
            session.execute(kstmt).all(), columns=["koban_id", "name", "kind", "station", "x", "y"]
        ),
        crs,
    )
    officers = pd.DataFrame(session.execute(ostmt).all(), columns=ocols)
    return koban, officers, crs


# --- progress -----------------------------------------------------------------


def _week(session: Session) -> Any:
    """The Monday of a visit's week, in the database's own date functions."""
    if session.get_bind().dialect.name == "postgresql":
        # On a timestamp without time zone: the session's zone cannot shift the day.
        return cast(func.date_trunc("week", cast(VisitRow.visited_on, DateTime)), Date)
    return func.date(VisitRow.visited_on, "weekday 0", "-6 days")


def progress_counts(
    session: Session, koban_ids: frozenset[str] | None, start: date, end: date
) -> ProgressCounts:
    """:func:`junkai_geo.progress.progress_counts` of the scope, by grouped queries."""
    in_scope = _in_scope(session, koban_ids)
    beat_rows = session.execute(_beat_counts(in_scope, start, end)).all()

    # The period's visits of the scope's households, read from the visits'
    # day index (``beat_id || ''`` keeps SQLite from starting at the beat
    # index: every household of the scope); a contact makes a card when the
    # household had no contact on an earlier day.
    scoped = (HouseholdRow.beat_id + "").in_(_beats(session, koban_ids))
    earlier = aliased(VisitRow)
    met = VisitRow.outcome == "met"
    first_contact = ~exists().where(
        earlier.household_id == VisitRow.household_id,
        earlier.outcome == "met",
        earlier.visited_on < VisitRow.visited_on,
    )

    def period(*columns: Any) -> Any:
        return (
            select(*columns)
            .select_from(VisitRow)
            .join(HouseholdRow, HouseholdRow.household_id == VisitRow.household_id)
            .where(scoped, VisitRow.visited_on >= start, VisitRow.visited_on <= end)
        )

    week = _week(session)
    weeks = session.execute(
        period(
            VisitRow.officer_id,
            week,
            func.count(),
            func.sum(case((met, 1), else_=0)),
            func.sum(case((and_(met, first_contact), 1), else_=0)),
            func.count(distinct(VisitRow.household_id)),
        )
        .group_by(VisitRow.officer_id, week)
        .order_by(VisitRow.officer_id, week)
    ).all()
    own = period(VisitRow.officer_id, func.count(distinct(VisitRow.household_id))).join(
        OfficerRow,
        and_(
            OfficerRow.officer_id == VisitRow.officer_id,
            OfficerRow.beat_id == HouseholdRow.beat_id,
        ),
    )
    if koban_ids is not None:
        own = own.where(OfficerRow.koban_id.in_(koban_ids))
    attempted = session.execute(own.group_by(VisitRow.officer_id)).all()
    weekly: dict[str, list[dict[str, Any]]] = {}
    total: dict[str, list[int]] = {}
    for o, w, n, c, m, h in weeks:
        weekly.setdefault(str(o), []).append(
            {"week": str(w)[:10], "attempts": int(n), "contacts": int(c), "households": int(h)}
        )
        t = total.setdefault(str(o), [0, 0, 0])
        t[0], t[1], t[2] = t[0] + int(n), t[1] + int(c), t[2] + int(m)
    stats = OfficerStats(
        attempts={o: t[0] for o, t in total.items()},
        contacts={o: t[1] for o, t in total.items()},
        made={o: t[2] for o, t in total.items()},
        corrected={o: t[1] - t[2] for o, t in total.items()},
        attempted={str(o): int(n) for o, n in attempted},
        weekly=weekly,
    )
    return ProgressCounts(
        beat_total={str(b): int(n) for b, n, _, _ in beat_rows},
        unknown_start={str(b): int(n) for b, _, n, _ in beat_rows},
        unknown_end={str(b): int(n) for b, _, _, n in beat_rows},
        stats=stats,
        period_visits=sum(t[0] for t in total.values()),
    )


def _beat_counts(in_scope: Any, start: date, end: date) -> Any:
    """Per beat: occupied households at ``start``, and 未把握 at ``start`` and after ``end``.

    The stored card fields are the card rules on every visit of a household,
    so they are its state at ``start`` unless it has a visit on or after
    ``start``: only those households' states are worked out from their
    visits (a household is occupied unless its last met / moved_out / vacant
    visit is a moved_out or vacant one, and 未把握 while occupied exactly
    when it has none of them). The same after ``end``.
    """
    when = cast(VisitRow.visited_on, String) + VisitRow.time
    before = VisitRow.visited_on < start
    later = select(VisitRow.household_id).where(VisitRow.visited_on >= start)
    at_start = (
        select(
            VisitRow.household_id.label("h"),
            func.max(case((and_(before, VisitRow.outcome == "met"), when))).label("met"),
            func.max(case((and_(before, VisitRow.outcome.in_(GONE)), when))).label("gone"),
        )
        .where(VisitRow.household_id.in_(later))
        .group_by(VisitRow.household_id)
        .subquery()
    )
    after = select(VisitRow.household_id).where(VisitRow.visited_on > end)
    at_end = (
        select(
            VisitRow.household_id.label("h"),
            func.max(
                case((and_(VisitRow.visited_on <= end, VisitRow.outcome.in_(OCCUPANCY_EVENTS)), 1))
            ).label("event"),
        )
        .where(VisitRow.household_id.in_(after))
        .group_by(VisitRow.household_id)
        .subquery()
    )
    stored_occupied = HouseholdRow.occupancy == "occupied"
    stored_unknown = and_(stored_occupied, HouseholdRow.last_contact.is_(None))
    occupied = case(
        (at_start.c.h.is_(None), case((stored_occupied, 1), else_=0)),
        (or_(at_start.c.gone.is_(None), at_start.c.met > at_start.c.gone), 1),
        else_=0,
    )
    unknown_start = case(
        (at_start.c.h.is_(None), case((stored_unknown, 1), else_=0)),
        (and_(at_start.c.met.is_(None), at_start.c.gone.is_(None)), 1),
        else_=0,
    )
    unknown_end = case(
        (at_end.c.h.is_(None), case((stored_unknown, 1), else_=0)),
        (at_end.c.event.is_(None), 1),
        else_=0,
    )
    return (
        select(
            HouseholdRow.beat_id,
            func.sum(occupied),
            func.sum(unknown_start),
            func.sum(unknown_end),
        )
        .select_from(HouseholdRow)
        .outerjoin(at_start, at_start.c.h == HouseholdRow.household_id)
        .outerjoin(at_end, at_end.c.h == HouseholdRow.household_id)
        .where(in_scope)
        .group_by(HouseholdRow.beat_id)
    )


def progress_report(
    session: Session,
    koban_ids: frozenset[str] | None,
    *,
    start: date,
    end: date,
    station: str | None = None,
    koban_id: str | None = None,
) -> ProgressResult:
    """:func:`junkai_geo.progress.progress_report` of the scope, from grouped queries."""
    check_period(start, end)
    koban, officers, _ = scope_layers(session, koban_ids)
    officers = officers_with_station(officers, koban, station)
    counts = progress_counts(session, koban_ids, start, end)
    return progress_from_counts(
        officers, counts, start=start, end=end, station=station, koban_id=koban_id
    )


# --- 専従員 -------------------------------------------------------------------


def card_status(last_contact: pd.Series, today: date) -> np.ndarray:
    """Card status (none / stale / current) from the stored last contacts (datetime64)."""
    cutoff = np.datetime64(stale_cutoff(today, CARD_PARAMS.stale_after_months), "ns")
    last = last_contact.to_numpy("datetime64[ns]")
    known = ~np.isnat(last)
    return np.where(~known, "none", np.where(last <= cutoff, "stale", "current")).astype(object)


def specialist_inputs(
    session: Session, koban_ids: frozenset[str] | None, today: date
) -> tuple[Dataset, pd.DataFrame, Callable[[np.ndarray], pd.DataFrame]]:
    """What :func:`junkai_geo.specialists.recommend_for_dataset` reads, without the visits.

    A Dataset of koban, officers, households (planning columns and
    ``unit_id``, no positions), their buildings and the scope's units; the
    card table (status, occupancy, last contact) from the stored card
    fields; and a function counting the absent / answered visits of
    given households (asked for the districts' households only).
    """
    import geopandas as gpd

    koban, officers, crs = scope_layers(session, koban_ids)
    in_scope = _in_scope(session, koban_ids)
    hcols = ["household_id", "kind", "beat_id", "building_id", "floor", "unit_id"]
    rows = _rows(
        session,
        select(
            *(getattr(HouseholdRow, c) for c in hcols),
            HouseholdRow.occupancy,
            HouseholdRow.last_contact,
        ).where(in_scope),
    )
    frame = _frame(rows, [*hcols, "occupancy", "last_contact"])
    # No positions: the districts are placed by their buildings, and the
    # households' 町丁目 is their unit_id.
    households = gpd.GeoDataFrame(
        frame[hcols], geometry=gpd.GeoSeries([None] * len(frame), crs=crs), crs=crs
    )
    # The households' buildings in one query, in building_id order (the
    # order of api.store.buildings_of_households' sorted chunks).
    bcols = [*BUILDING_COLUMNS, "x", "y"]
    buildings = _points(
        _frame(
            _rows(
                session,
                select(*(getattr(BuildingRow, c) for c in bcols))
                .where(
                    BuildingRow.building_id.in_(
                        select(HouseholdRow.building_id).where(
                            in_scope, HouseholdRow.building_id.is_not(None)
                        )
                    )
                )
                .order_by(BuildingRow.building_id),
            ),
            bcols,
        ),
        crs,
    )
    units = units_of_beats(session, _beats(session, koban_ids), crs)
    last = pd.to_datetime(frame["last_contact"]).astype("datetime64[ns]")
    cards = pd.DataFrame(
        {
            "status": card_status(last, today),
            "occupancy": frame["occupancy"].astype(object).to_numpy(),
            "last_contact": last.to_numpy(),
        },
        index=pd.Index(frame["household_id"], name="household_id"),
    )
    absent = VisitRow.outcome == "absent"
    answered = VisitRow.outcome.in_(("met", "refused"))

    def visit_counts(ids: np.ndarray) -> pd.DataFrame:
        """Absent and answered visits of these households (the districts')."""
        rows: list[Any] = []
        wanted = sorted({str(i) for i in ids})
        for i in range(0, len(wanted), CHUNK):
            rows += session.execute(
                select(
                    VisitRow.household_id,
                    func.sum(case((absent, 1), else_=0)),
                    func.sum(case((answered, 1), else_=0)),
                )
                .where(VisitRow.household_id.in_(wanted[i : i + CHUNK]), or_(absent, answered))
                .group_by(VisitRow.household_id)
            ).all()
        return pd.DataFrame(
            {"absent": [int(r[1]) for r in rows], "answered": [int(r[2]) for r in rows]},
            index=pd.Index([r[0] for r in rows], dtype=object, name="household_id"),
        )

    ds = Dataset(
        crs=crs,
        koban=koban,
        officers=officers,
        households=households,
        buildings=buildings,
        units=units,
    )
    return ds, cards, visit_counts


def specialist_report(
    session: Session, koban_ids: frozenset[str] | None, *, today: date, top: int
) -> Any:
    """:func:`junkai_geo.specialists.recommend_for_dataset` (no rounds) of the scope."""
    from junkai_geo.specialists import recommend_for_dataset

    ds, cards, visit_counts = specialist_inputs(session, koban_ids, today)
    return recommend_for_dataset(
        ds, cards, today=today, top=top, rounds=False, visit_counts=visit_counts
    )


# --- the beats map's workload -------------------------------------------------


def scope_units(session: Session, koban_ids: frozenset[str] | None, crs: str) -> Any:
    """The scope's units (町丁目) in the workspace CRS, in the database's order."""
    import geopandas as gpd
    from shapely import wkb

    u = session.execute(
        select(
            UnitRow.unit_id, UnitRow.name, UnitRow.beat_id, UnitRow.koban_id, UnitRow.geom_wkb
        ).where(UnitRow.beat_id.in_(_beats(session, koban_ids)))
    ).all()
    return gpd.GeoDataFrame(
        {
            "unit_id": [r[0] for r in u],
            "name": [r[1] for r in u],
            "beat_id": [r[2] for r in u],
            "koban_id": [r[3] for r in u],
        },
        geometry=[wkb.loads(r[4]) if r[4] else None for r in u],
        crs="EPSG:4326",
    ).to_crs(crs)


def unit_workloads(
    session: Session,
    koban_ids: frozenset[str] | None,
    params: WorkloadParams | None = None,
) -> tuple[Any, pd.Series] | None:
    """The scope's units and their hours per visiting cycle (``unit_workload_h``).

    From the stored card fields (the workload counts a card as made or not,
    which does not depend on the day) and grouped queries. None when a
    household's unit is not one of the scope's: the caller then runs the
    library on the whole dataset.
    """
    koban, _, crs = scope_layers(session, koban_ids)
    units = scope_units(session, koban_ids, crs)
    in_scope = _in_scope(session, koban_ids)
    known = set(units["unit_id"].astype(str))
    seen = session.scalars(select(HouseholdRow.unit_id).where(in_scope).distinct()).all()
    if any(u is None or str(u) not in known for u in seen):
        return None
    share = (
        select(HouseholdRow.building_id.label("b"), func.count().label("n"))
        .where(in_scope, HouseholdRow.building_id.is_not(None))
        .group_by(HouseholdRow.building_id)
        .subquery()
    )
    occupied = HouseholdRow.occupancy == "occupied"
    no_card = case((HouseholdRow.last_contact.is_(None), 1), else_=0)
    n_share = func.coalesce(share.c.n, 1)
    groups = session.execute(
        select(
            HouseholdRow.unit_id,
            HouseholdRow.kind,
            no_card,
            HouseholdRow.floor,
            n_share,
            func.count(),
        )
        .select_from(HouseholdRow)
        .outerjoin(share, share.c.b == HouseholdRow.building_id)
        .where(in_scope, occupied)
        .group_by(HouseholdRow.unit_id, HouseholdRow.kind, no_card, HouseholdRow.floor, n_share)
    ).all()
    buildings = session.execute(
        select(
            HouseholdRow.unit_id,
            func.count(distinct(HouseholdRow.building_id)),
            func.sum(case((HouseholdRow.building_id.is_(None), 1), else_=0)),
        )
        .where(in_scope, occupied)
        .group_by(HouseholdRow.unit_id)
    ).all()
    pos = {u: i for i, u in enumerate(units["unit_id"].astype(str))}
    service_s: np.ndarray = np.zeros(len(units))
    if groups:
        g = pd.DataFrame(groups, columns=["unit", "kind", "none", "floor", "share", "n"])
        each = household_service_s(
            g["kind"].astype(str).to_numpy(),
            g["none"].to_numpy(int) == 1,
            pd.to_numeric(g["floor"], errors="coerce").fillna(1).to_numpy(),
            g["share"].to_numpy(float),
            params,
        )
        where = g["unit"].astype(str).map(pos).to_numpy(np.int64)
        service_s = np.bincount(where, weights=each * g["n"].to_numpy(float), minlength=len(units))
    n_buildings = np.zeros(len(units))
    for uid, distinct_b, alone in buildings:
        n_buildings[pos[str(uid)]] = int(distinct_b) + int(alone or 0)
    work = unit_workload_from_totals(units, service_s, n_buildings, koban, params)
    return units, work
