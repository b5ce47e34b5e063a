"""The domain model: koban, beats, officers, buildings, households, visits.

Names follow the users' terms (see ``docs/design.md``). Coordinates held in
these dataclasses are metres in the project's metric CRS (``x``, ``y``);
tables of many records are GeoDataFrames whose columns are listed in
``LAYER_COLUMNS``.

Card status (巡回連絡カード) is never stored: it follows from the visit
history by the rules in :func:`card_state`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd


class KobanKind(StrEnum):
    KOBAN = "koban"  # 交番
    CHUZAISHO = "chuzaisho"  # 駐在所


class OfficerRole(StrEnum):
    BEAT = "beat"  # 受持警察官
    SPECIALIST = "specialist"  # 巡回連絡専従員


class TravelMode(StrEnum):
    WALK = "walk"
    BICYCLE = "bicycle"
    CAR = "car"  # rural 駐在所 beats


class HouseholdKind(StrEnum):
    HOME = "home"  # 世帯
    BUSINESS = "business"  # 事業所
    PUBLIC = "public"  # 公共施設


class BuildingKind(StrEnum):
    DETACHED = "detached"  # 戸建て
    APARTMENT = "apartment"  # 共同住宅
    HIGHRISE = "highrise"  # 高層住宅 (>= highrise_min_floors)
    DANCHI = "danchi"  # 団地の棟
    OFFICE = "office"  # 事業所ビル・店舗
    PUBLIC = "public"  # 公共施設


class Outcome(StrEnum):
    MET = "met"  # 面接
    ABSENT = "absent"  # 不在 (受持カードを差し置く)
    REFUSED = "refused"  # 拒否
    MOVED_OUT = "moved_out"  # 転出
    VACANT = "vacant"  # 空家


class CardStatus(StrEnum):
    NONE = "none"  # 未把握
    CURRENT = "current"
    STALE = "stale"


class Occupancy(StrEnum):
    OCCUPIED = "occupied"
    MOVED_OUT = "moved_out"
    VACANT = "vacant"


@dataclass(frozen=True)
class Koban:
    koban_id: str
    name: str
    kind: KobanKind
    x: float
    y: float
    station: str = ""


@dataclass(frozen=True)
class Beat:
    beat_id: str
    koban_id: str
    name: str = ""
    locked: bool = False


@dataclass(frozen=True)
class Officer:
    officer_id: str
    koban_id: str
    role: OfficerRole = OfficerRole.BEAT
    beat_id: str | None = None
    mode: TravelMode = TravelMode.WALK
    shift_pattern: str = "day"


@dataclass(frozen=True)
class Building:
    building_id: str
    kind: BuildingKind
    x: float
    y: float
    floors: int = 1
    units: int = 1
    complex_id: str | None = None


@dataclass(frozen=True)
class Household:
    household_id: str
    kind: HouseholdKind
    x: float
    y: float
    beat_id: str | None = None
    building_id: str | None = None
    floor: int = 1
    address: str = ""
    registered_on: date | None = None


@dataclass(frozen=True)
class Visit:
    visit_id: str
    household_id: str
    officer_id: str
    visited_on: date
    time: str  # "HH:MM", local time
    outcome: Outcome


@dataclass(frozen=True)
class CardState:
    """What the visit history says about one household today."""

    status: CardStatus
    occupancy: Occupancy
    last_contact: date | None
    absences: int  # absent outcomes since the last contact
    visits: int

    @property
    def is_candidate(self) -> bool:
        """Whether the household can still be visited at all."""
        return self.occupancy is Occupancy.OCCUPIED


def add_months(d: date, months: int) -> date:
    """``d`` plus whole calendar months, clamped to the month's last day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def card_state(visits: list[Visit], today: date, *, stale_after_months: int = 24) -> CardState:
    """Card status of one household from its visits, by the documented rules.

    - no ``met`` visit ever: 未把握 (``none``);
    - ``met`` makes the card current as of that day; it turns ``stale`` once
      ``stale_after_months`` have passed without another contact;
    - ``moved_out`` removes the card and ends the household (never a
      candidate again; a new household record is made for new residents);
    - ``vacant`` marks it vacant until a later ``met``;
    - ``absent`` and ``refused`` leave the card as it was and count absences.
    """
    ordered = sorted(visits, key=lambda v: (v.visited_on, v.time))
    last_contact: date | None = None
    occupancy = Occupancy.OCCUPIED
    absences = 0
    for v in ordered:
        if v.outcome is Outcome.MET:
            last_contact, occupancy, absences = v.visited_on, Occupancy.OCCUPIED, 0
        elif v.outcome is Outcome.MOVED_OUT:
            last_contact, occupancy = None, Occupancy.MOVED_OUT
        elif v.outcome is Outcome.VACANT:
            occupancy = Occupancy.VACANT
        elif v.outcome is Outcome.ABSENT:
            absences += 1
    if last_contact is None:
        status = CardStatus.NONE
    elif add_months(last_contact, stale_after_months) <= today:
        status = CardStatus.STALE
    else:
        status = CardStatus.CURRENT
    return CardState(status, occupancy, last_contact, absences, len(ordered))


# Canonical columns of each layer after import (besides ``geometry``).
LAYER_COLUMNS: dict[str, list[str]] = {
    "koban": ["koban_id", "name", "kind", "station"],
    "beats": ["beat_id", "koban_id", "name"],
    "units": ["unit_id", "name", "households", "area_m2", "beat_id"],
    "officers": ["officer_id", "koban_id", "role", "beat_id", "mode", "shift_pattern"],
    "buildings": ["building_id", "kind", "floors", "units", "complex_id"],
    "households": [
        "household_id",
        "kind",
        "beat_id",
        "building_id",
        "floor",
        "address",
        "registered_on",
    ],
    "visits": ["visit_id", "household_id", "officer_id", "visited_on", "time", "outcome"],
}

# Fields that hold personal data (個人情報). None of the bundled layers has
# them; an import may carry them, and only roles listed in ``api`` may read
# them. They never go into shared maps or exports.
PERSONAL_FIELDS: frozenset[str] = frozenset(
    {"resident_name", "phone", "members", "emergency_contact", "note"}
)


@dataclass
class Dataset:
    """All layers of one area, in the metric CRS ``crs``.

    Layers are GeoDataFrames (``officers`` and ``visits`` are plain
    DataFrames) with at least the columns of ``LAYER_COLUMNS``.
    """

    crs: str
    koban: gpd.GeoDataFrame | None = None
    beats: gpd.GeoDataFrame | None = None
    units: gpd.GeoDataFrame | None = None
    officers: pd.DataFrame | None = None
    buildings: gpd.GeoDataFrame | None = None
    households: gpd.GeoDataFrame | None = None
    visits: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


#: The token that ends a building's part of an address: a block and house
#: number (``1-1``) or a building of a complex (``1号棟``).
_BUILDING_END_RE = re.compile(r"^(\d+-\d+|\d+号棟)$")


def split_address(address: object) -> tuple[str, str]:
    """(building part, door label) of a household address.

    ``"上柿木畠 1-1 401号室"`` -> ``("上柿木畠 1-1", "401号室")``;
    ``"長町３丁目 長町団地 1号棟 101"`` -> ``("長町３丁目 長町団地 1号棟", "101")``;
    a detached house's ``"暁町 21-9"`` has no door label (``""``).
    """
    tokens = str(address or "").split()
    for i, tok in enumerate(tokens):
        if _BUILDING_END_RE.match(tok):
            return " ".join(tokens[: i + 1]), " ".join(tokens[i + 1 :])
    return " ".join(tokens), ""
