"""Day plans in the workspace's ``day_plans`` table: made ahead (``junkai-geo
plan-all``), or by the route page for an officer and day plan-all did not plan,
and replaced by a re-plan of the rest of the day. One store: GET /plans and the
route page serve the same row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from junkai_geo.plan_all import OfficerDayResult

from .db import Database, utcnow
from .models import DayPlanRow


def stored_plan(session: Session, officer_id: str, on: date) -> dict[str, Any] | None:
    """The stored plan of the officer and day (``DayPlan.to_dict()``), or None."""
    row = session.get(DayPlanRow, (officer_id, on))
    return None if row is None else dict(row.plan)


def stored_plan_and_replans(
    session: Session, officer_id: str, on: date
) -> tuple[dict[str, Any], int] | None:
    """The stored plan of the officer and day and its re-plan count, or None."""
    row = session.get(DayPlanRow, (officer_id, on))
    return None if row is None else (dict(row.plan), int(row.replans or 0))


def _counts(plan: dict[str, Any]) -> tuple[int, int]:
    hh = [h for s in plan.get("stops", []) for h in s.get("households", [])]
    return len(hh), sum(1 for h in hh if h.get("card_status") == "none")


def save_day_plan(
    db: Database,
    officer_id: str,
    on: date,
    plan: dict[str, Any],
    *,
    station: str,
    replanned: bool,
    seconds: float = 0.0,
    time_limit_s: float = 0.0,
) -> None:
    """Store a plan made outside plan-all (the route page, a re-plan).

    A first plan is added only when the day has none (a plan plan-all stored
    meanwhile wins; two server workers planning the same day store one row).
    A re-plan replaces the row and counts one more re-plan.
    """
    households, unknown = _counts(plan)
    try:
        with db.writing() as session:
            row = session.get(DayPlanRow, (officer_id, on))
            if row is not None and not replanned:
                return
            if row is not None:
                row.plan, row.households, row.unknown = plan, households, unknown
                row.seconds, row.time_limit_s, row.created_at = seconds, time_limit_s, utcnow()
                row.replans = int(row.replans or 0) + 1
                return
            session.add(
                DayPlanRow(
                    officer_id=officer_id,
                    on_date=on,
                    station=station,
                    plan=plan,
                    households=households,
                    unknown=unknown,
                    seed=0,
                    time_limit_s=time_limit_s,
                    seconds=seconds,
                    created_at=utcnow(),
                    replans=1 if replanned else 0,
                )
            )
    except IntegrityError:
        if replanned:  # another worker added the day's first plan meanwhile
            save_day_plan(
                db, officer_id, on, plan, station=station, replanned=True, seconds=seconds
            )


class DatabaseSink:
    """The :class:`junkai_geo.plan_all.PlanSink` of a workspace database.

    ``save`` replaces the row of the officer and day in one transaction, so a
    plan is present exactly once whatever the retries; the row's ``replans``
    (re-plans of the day by the officer) is kept.
    """

    def __init__(self, db: Database, *, seed: int, time_limit_s: float) -> None:
        self.db = db
        self.seed = seed
        self.time_limit_s = time_limit_s

    def done(self, on: date) -> set[str]:
        with self.db.read_session() as session:
            return set(
                session.scalars(select(DayPlanRow.officer_id).where(DayPlanRow.on_date == on))
            )

    def save(self, result: OfficerDayResult) -> None:
        with self.db.writing() as session:
            # A rerun with --force replaces the plan but keeps the day's
            # re-plan count: it is what the officer did that day, not a
            # property of the plan (docs/plan_all.md).
            replans = session.scalar(
                select(DayPlanRow.replans).where(
                    DayPlanRow.officer_id == result.officer_id, DayPlanRow.on_date == result.on
                )
            )
            session.execute(
                delete(DayPlanRow).where(
                    DayPlanRow.officer_id == result.officer_id, DayPlanRow.on_date == result.on
                )
            )
            session.add(
                DayPlanRow(
                    officer_id=result.officer_id,
                    on_date=result.on,
                    station=result.station,
                    plan=result.plan,
                    households=result.households,
                    unknown=result.unknown,
                    seed=self.seed,
                    time_limit_s=self.time_limit_s,
                    seconds=result.seconds,
                    created_at=utcnow(),
                    replans=int(replans or 0),
                )
            )
