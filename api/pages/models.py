"""Tables of the pages (migration 0007; the day plans live in ``day_plans``, 0011)."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base


class PageBeatChange(Base):
    """A unit moved by the beat editor into a new beat version (the change map)."""

    __tablename__ = "page_beat_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    from_beat: Mapped[str] = mapped_column(String(64))
    to_beat: Mapped[str] = mapped_column(String(64))
