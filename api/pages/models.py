"""Tables of the pages (migration 0007)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, UTCDateTime


class PagePlan(Base):
    """The day's route an officer works from.

    Made when the route page is first opened for that day (through the
    API's planner) and replaced by a re-plan; recording results does not
    change it, so the list an officer follows stays put during the round.
    """

    __tablename__ = "page_plans"
    __table_args__ = (UniqueConstraint("officer_id", "on_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    on_date: Mapped[date] = mapped_column(Date)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    replans: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PageBeatChange(Base):
    """A unit moved by the beat editor into a new beat version (the change map)."""

    __tablename__ = "page_beat_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    from_beat: Mapped[str] = mapped_column(String(64))
    to_beat: Mapped[str] = mapped_column(String(64))
