"""Day plans made ahead (``junkai-geo plan-all``) in the workspace's ``day_plans`` table."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from junkai_geo.plan_all import OfficerDayResult

from .db import Database, utcnow
from .models import DayPlanRow


def stored_plan(session: Session, officer_id: str, on: date) -> dict[str, Any] | None:
    """The stored plan of the officer and day (``DayPlan.to_dict()``), or None."""
    row = session.get(DayPlanRow, (officer_id, on))
    return None if row is None else dict(row.plan)


class DatabaseSink:
    """The :class:`junkai_geo.plan_all.PlanSink` of a workspace database.

    ``save`` replaces the row of the officer and day in one transaction, so a
    plan is present exactly once whatever the retries.
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
                )
            )
