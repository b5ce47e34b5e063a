"""Officers' rosters (勤務表): who works which day, and when they may do liaison.

Shift patterns of the bundled data (``Officer.shift_pattern``):

``3shift-A`` / ``3shift-B`` / ``3shift-C``
    The koban three-shift rotation (三交替制) 当番 -> 非番 -> 日勤. Each group
    is one day behind the previous: on :attr:`RosterParams.rotation_epoch`
    group A is on 当番, B on 日勤 and C on 非番. A 当番 (24-hour duty) has
    daytime liaison windows and, with a manager's approval only, an evening
    window; 非番 (the day after) has none; a 日勤 on a Saturday, Sunday or
    public holiday becomes a weekly rest day (週休).
``chuzaisho``
    A 駐在所 officer: day duty on weekdays that are not public holidays.
``day``
    Day duty on weekdays that are not public holidays (巡回連絡専従員 and
    other day-shift staff), with longer liaison windows.

Leave days (休暇) remove a shift. Focus days (巡回連絡強化日) are designated
per officer or per koban; on a focus day an officer on duty gets the wider
``focus_windows`` and the calendar sends the households rarely home on
weekdays. Public holidays come from ``jpholiday`` (see
:func:`junkai_geo.priorities.is_holiday`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from .errors import InputError, ParameterError, Problem
from .priorities import is_holiday
from .routing import parse_window

#: Shift kinds of a roster day.
SHIFT_KINDS: tuple[str, ...] = (
    "toban",  # 当番: 24-hour duty
    "hiban",  # 非番: off after a 当番
    "nikkin",  # 日勤: day duty in the rotation
    "day",  # day duty of chuzaisho / day-shift officers
    "weekly_rest",  # 週休 (a 日勤 on a weekend or holiday)
    "holiday_rest",  # day-shift staff on a weekend or public holiday
    "leave",  # 休暇
)
#: Shift patterns understood by :func:`build_roster`.
SHIFT_PATTERNS: tuple[str, ...] = ("3shift-A", "3shift-B", "3shift-C", "chuzaisho", "day")
_ROTATION = ("toban", "hiban", "nikkin")  # A on 当番 at the epoch, B on 日勤, C on 非番
_GROUP_OFFSET = {"3shift-A": 0, "3shift-B": 1, "3shift-C": 2}


@dataclass(frozen=True)
class RosterParams:
    """Shift rotation and the liaison windows inside each shift.

    Attributes
    ----------
    rotation_epoch
        ``YYYY-MM-DD``: a day on which group A is on 当番 (B on 日勤, C on 非番).
    toban_windows, nikkin_windows, chuzaisho_windows, day_windows
        Daytime liaison windows (``HH:MM-HH:MM``) inside each kind of shift.
    toban_night_window
        The evening window a 当番 officer may use with a night approval.
    focus_windows
        Liaison windows of an officer on duty on a focus day (強化日).
    """

    rotation_epoch: str = "2026-01-01"
    toban_windows: tuple[str, ...] = ("10:00-12:00", "14:00-16:00")
    toban_night_window: str = "18:00-20:00"
    nikkin_windows: tuple[str, ...] = ("09:30-11:30", "13:30-16:00")
    chuzaisho_windows: tuple[str, ...] = ("09:30-11:30", "13:30-16:30")
    day_windows: tuple[str, ...] = ("09:30-12:00", "13:00-16:30")
    focus_windows: tuple[str, ...] = ("09:30-12:00", "13:00-17:00")

    def __post_init__(self) -> None:
        try:
            date.fromisoformat(str(self.rotation_epoch))
        except ValueError:
            raise ParameterError(
                f"RosterParams.rotation_epoch: found {self.rotation_epoch!r}; expected YYYY-MM-DD"
            ) from None
        for name in (
            "toban_windows",
            "nikkin_windows",
            "chuzaisho_windows",
            "day_windows",
            "focus_windows",
        ):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            for w in value:
                parse_window(w, f"RosterParams.{name}")
        parse_window(self.toban_night_window, "RosterParams.toban_night_window")

    @property
    def epoch(self) -> date:
        return date.fromisoformat(str(self.rotation_epoch))


@dataclass(frozen=True)
class Shift:
    """One officer's roster day.

    ``windows`` are the liaison windows (empty when off duty);
    ``night_window`` is the evening window usable with an approval (当番
    only); ``focus`` marks a designated focus day on duty.
    """

    officer_id: str
    date: date
    kind: str
    windows: tuple[str, ...] = ()
    night_window: str | None = None
    focus: bool = False
    holiday: bool = False

    @property
    def on_duty(self) -> bool:
        return bool(self.windows)

    @property
    def weekend_or_holiday(self) -> bool:
        return self.date.weekday() >= 5 or self.holiday

    def to_dict(self) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "date": self.date.isoformat(),
            "kind": self.kind,
            "windows": list(self.windows),
            "night_window": self.night_window,
            "focus": self.focus,
            "holiday": self.holiday,
        }


@dataclass
class Roster:
    """Shifts of several officers over consecutive days."""

    start: date
    days: int
    shifts: dict[tuple[str, date], Shift]
    officers: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def shift(self, officer_id: str, on: date) -> Shift:
        try:
            return self.shifts[(officer_id, on)]
        except KeyError:
            raise ParameterError(
                f"roster: no shift for officer {officer_id!r} on {on.isoformat()}; expected an "
                f"officer of {self.officers[:8]} and a day in {self.start.isoformat()} + "
                f"{self.days} days"
            ) from None

    def duty_days(self, officer_id: str) -> list[Shift]:
        """The officer's shifts with liaison windows, in date order."""
        return [s for d in self.dates if (s := self.shift(officer_id, d)).on_duty]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "days": self.days,
            "officers": {
                o: [self.shift(o, d).to_dict() for d in self.dates] for o in self.officers
            },
            "notes": list(self.notes),
        }


def shift_of(pattern: str, officer_id: str, on: date, params: RosterParams | None = None) -> Shift:
    """The shift of ``pattern`` on ``on`` before leave and focus days."""
    params = params or RosterParams()
    holiday = is_holiday(on)
    rest_day = on.weekday() >= 5 or holiday
    if pattern in _GROUP_OFFSET:
        kind = _ROTATION[((on - params.epoch).days - _GROUP_OFFSET[pattern]) % 3]
        if kind == "toban":
            return Shift(
                officer_id,
                on,
                "toban",
                params.toban_windows,
                params.toban_night_window,
                holiday=holiday,
            )
        if kind == "nikkin" and not rest_day:
            return Shift(officer_id, on, "nikkin", params.nikkin_windows, holiday=holiday)
        return Shift(officer_id, on, "hiban" if kind == "hiban" else "weekly_rest", holiday=holiday)
    if pattern in ("chuzaisho", "day"):
        if rest_day:
            return Shift(officer_id, on, "holiday_rest", holiday=holiday)
        windows = params.chuzaisho_windows if pattern == "chuzaisho" else params.day_windows
        return Shift(officer_id, on, "day", windows, holiday=holiday)
    raise ParameterError(
        f"shift_pattern of officer {officer_id!r}: found {pattern!r}; expected one of "
        f"{list(SHIFT_PATTERNS)}"
    )


def build_roster(
    officers: pd.DataFrame | Iterable[Mapping[str, Any]],
    start: date,
    days: int,
    *,
    params: RosterParams | None = None,
    leave: Mapping[str, Iterable[date]] | None = None,
    focus_days: Mapping[str, Iterable[date]] | None = None,
) -> Roster:
    """Shifts of ``officers`` for ``days`` days from ``start``.

    Parameters
    ----------
    officers
        Rows with ``officer_id``, ``shift_pattern`` and ``koban_id``.
    leave
        Leave days per officer id.
    focus_days
        Focus days (強化日) keyed by officer id or koban id (a koban's
        apply to each of its officers). A focus day on which an officer is
        off duty stays a day off (a note says so).
    """
    params = params or RosterParams()
    if not isinstance(days, int) or days <= 0:
        raise ParameterError(f"days: found {days!r}; expected a whole number of days > 0")
    rows: list[Mapping[str, Any]] = (
        [{str(k): v for k, v in r.items()} for r in officers.to_dict("records")]
        if isinstance(officers, pd.DataFrame)
        else list(officers)
    )
    problems = []
    for i, r in enumerate(rows, 1):
        pattern = str(r.get("shift_pattern") or "day")
        if pattern not in SHIFT_PATTERNS:
            problems.append(
                Problem(
                    "officers",
                    i,
                    "shift_pattern",
                    repr(pattern),
                    f"one of {list(SHIFT_PATTERNS)}",
                    "unknown_shift_pattern",
                )
            )
    if problems:
        raise InputError(problems)
    leave = {str(k): set(v) for k, v in (leave or {}).items()}
    focus = {str(k): set(v) for k, v in (focus_days or {}).items()}
    known = {str(r["officer_id"]) for r in rows} | {str(r.get("koban_id")) for r in rows}
    notes = [
        f"focus days for {k!r} ignored: not an officer or koban of this roster"
        for k in sorted(focus)
        if k not in known
    ]
    shifts: dict[tuple[str, date], Shift] = {}
    ids: list[str] = []
    for r in rows:
        oid = str(r["officer_id"])
        ids.append(oid)
        pattern = str(r.get("shift_pattern") or "day")
        mine = focus.get(oid, set()) | focus.get(str(r.get("koban_id")), set())
        for i in range(days):
            d = start + timedelta(days=i)
            s = shift_of(pattern, oid, d, params)
            if d in leave.get(oid, ()):
                s = Shift(oid, d, "leave", holiday=s.holiday)
            elif d in mine:
                if s.on_duty:
                    s = Shift(oid, d, s.kind, params.focus_windows, s.night_window, True, s.holiday)
                else:
                    notes.append(
                        f"focus day {d.isoformat()} of {oid}: off duty ({s.kind}); not used"
                    )
            shifts[(oid, d)] = s
    return Roster(start, days, shifts, ids, notes)


def suggest_focus_days(
    roster: Roster, officer_id: str, *, after: date | None = None, max_days: int = 4
) -> list[date]:
    """Weekends and public holidays on which the officer is on duty (強化日 candidates)."""
    out = []
    for s in roster.duty_days(officer_id):
        if (after is None or s.date > after) and s.weekend_or_holiday:
            out.append(s.date)
    return out[:max_days]
