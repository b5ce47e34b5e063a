"""Tables of the pages (migrations 0007 and 0013; the day plans live in ``day_plans``, 0011)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, UTCDateTime


class PageBeatChange(Base):
    """A unit moved by the beat editor into a new beat version (the change map)."""

    __tablename__ = "page_beat_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[str] = mapped_column(String(64))
    from_beat: Mapped[str] = mapped_column(String(64))
    to_beat: Mapped[str] = mapped_column(String(64))


class PageStationMap(Base):
    """The beats map's figures of a station and beat version, as last computed.

    ``data`` is :func:`api.pages.manager.compute_beats_map` (beats with their
    simplified polygons and workload, 未把握 per 町丁目, labels, koban): area
    figures only, no household or person. ``koban_key`` names the koban the
    figures cover (a station gaining a koban is computed again).
    """

    __tablename__ = "page_station_maps"
    station: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    koban_key: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
