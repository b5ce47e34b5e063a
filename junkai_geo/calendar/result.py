"""A calendar's result and its figures: attempts, per-beat coverage, hours missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..roster import Roster
from ..routing import DayPlan, RouteParams, format_clock
from .params import CalendarParams


@dataclass(frozen=True)
class Attempt:
    """One planned visit of one household."""

    household_id: str
    officer_id: str
    beat_id: str
    date: date
    time: str  # HH:MM of the planned arrival
    slot: str
    day_type: str
    attempt: int  # 1 for the first attempt in the calendar
    p_contact: float
    expected_outcome: str  # met / absent (deterministic, see retry_if_p_below)
    card_status: str  # at the start of the calendar

    def to_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "officer_id": self.officer_id,
            "beat_id": self.beat_id,
            "date": self.date.isoformat(),
            "time": self.time,
            "slot": self.slot,
            "day_type": self.day_type,
            "attempt": self.attempt,
            "p_contact": round(self.p_contact, 4),
            "expected_outcome": self.expected_outcome,
            "card_status": self.card_status,
        }


@dataclass
class BeatCoverage:
    """What the calendar does for one beat."""

    beat_id: str
    households: int  # candidates (occupied, not met recently)
    unknown: int  # 未把握 among them
    attempted: int
    unknown_attempted: int
    second_attempts: int
    expected_unknown_contacts: float
    hours_missing_all: float
    hours_missing_unknown: float
    not_attempted: dict[str, int]  # reason -> households

    def to_dict(self) -> dict[str, Any]:
        return {
            "beat_id": self.beat_id,
            "households": self.households,
            "unknown": self.unknown,
            "attempted": self.attempted,
            "unknown_attempted": self.unknown_attempted,
            "unknown_attempted_share": round(self.unknown_attempted / self.unknown, 4)
            if self.unknown
            else 1.0,
            "second_attempts": self.second_attempts,
            "expected_unknown_contacts": round(self.expected_unknown_contacts, 2),
            "hours_missing_all": round(self.hours_missing_all, 1),
            "hours_missing_unknown": round(self.hours_missing_unknown, 1),
            "not_attempted": dict(sorted(self.not_attempted.items())),
        }


@dataclass
class CalendarResult:
    """Every officer's day plans over the horizon, with per-beat figures.

    ``plans`` maps officer id to the day plans of his duty days (DayPlan,
    JSON form in docs/plan_format.md); ``attempts`` lists every planned
    visit in date order; ``unknown_by_beat`` / ``unknown_by_officer`` hold
    the 未把握 household ids each beat and officer answers for (used by the
    forecast).
    """

    koban_id: str
    start: date
    days: int
    roster: Roster
    plans: dict[str, list[DayPlan]]
    attempts: list[Attempt]
    beats: dict[str, BeatCoverage]
    unknown_by_beat: dict[str, list[str]]
    unknown_by_officer: dict[str, list[str]]
    not_done: list[dict[str, Any]]
    notes: list[str]
    time_s: float
    params: CalendarParams = field(default_factory=CalendarParams)

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def totals(self) -> dict[str, Any]:
        unknown = sum(b.unknown for b in self.beats.values())
        done = sum(b.unknown_attempted for b in self.beats.values())
        return {
            "officer_days": sum(len(p) for p in self.plans.values()),
            "attempts": len(self.attempts),
            "households_attempted": len({a.household_id for a in self.attempts}),
            "unknown": unknown,
            "unknown_attempted": done,
            "unknown_attempted_share": round(done / unknown, 4) if unknown else 1.0,
            "second_attempts": sum(1 for a in self.attempts if a.attempt > 1),
            "hours_missing_unknown": round(
                sum(b.hours_missing_unknown for b in self.beats.values()), 1
            ),
            "time_s": round(self.time_s, 2),
        }

    def to_dict(self, *, compact: bool = True) -> dict[str, Any]:
        """JSON form; ``compact`` gives stop lists instead of whole DayPlan dicts."""

        def day(p: DayPlan) -> dict[str, Any]:
            if not compact:
                return p.to_dict()
            return {
                "date": p.date.isoformat(),
                "windows": [[format_clock(a)[:5], format_clock(b)[:5]] for a, b in p.windows],
                "stops": [
                    {
                        "building_id": s.building_id,
                        "arrival": format_clock(s.arrival_s)[:5],
                        "departure": format_clock(s.departure_s)[:5],
                        "households": [h.household_id for h in s.households],
                    }
                    for s in p.stops
                ],
                "totals": p.totals(),
            }

        return {
            "koban_id": self.koban_id,
            "start": self.start.isoformat(),
            "days": self.days,
            "totals": self.totals(),
            "beats": {k: v.to_dict() for k, v in sorted(self.beats.items())},
            "officers": {
                o: {
                    "shifts": [self.roster.shift(o, d).to_dict() for d in self.dates],
                    "days": [day(p) for p in plans],
                }
                for o, plans in sorted(self.plans.items())
            },
            "attempts": [a.to_dict() for a in self.attempts],
            "not_done": list(self.not_done),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """Readable lines for the command line."""
        t = self.totals()
        lines = [
            f"calendar {self.koban_id} {self.start.isoformat()} + {self.days} days: "
            f"{t['officer_days']} officer-days, {t['attempts']} visits planned, "
            f"未把握 attempted {t['unknown_attempted']}/{t['unknown']} "
            f"({100 * t['unknown_attempted_share']:.0f}%), {t['second_attempts']} retries, "
            f"planned in {t['time_s']:.1f} s",
        ]
        for b in sorted(self.beats.values(), key=lambda b: b.beat_id):
            lines.append(
                f"  {b.beat_id}: {b.attempted}/{b.households} households attempted, 未把握 "
                f"{b.unknown_attempted}/{b.unknown}, {b.second_attempts} retries, "
                f"{b.hours_missing_unknown:.0f} h missing for all 未把握 "
                f"({b.hours_missing_all:.0f} h for all)"
            )
        for o, plans in sorted(self.plans.items()):
            n = sum(len(p.household_ids) for p in plans)
            lines.append(f"  {o}: {len(plans)} duty days, {n} visits")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def travel_mode_of(officers: pd.DataFrame | None, koban_id: str, beat_id: str | None = None) -> str:
    """The travel mode whose street network a calendar travels on: ``walk`` or ``bicycle``.

    One travel source per calendar: the mode most of the koban's officers
    use (a tie: the first by name); for a new officer's plan of ``beat_id``,
    the mode of that beat's officers when it has any. The service's calendar
    jobs and the command line both choose by this rule.
    """
    mine = None
    if officers is not None:
        mine = officers[officers["koban_id"].astype(str) == str(koban_id)]
    modes = [] if mine is None else list(mine["mode"].astype(str))
    if beat_id is not None and mine is not None:
        of_beat = list(mine.loc[mine["beat_id"].astype(str) == str(beat_id), "mode"].astype(str))
        modes = of_beat or modes
    mode = max(sorted(set(modes)), key=modes.count) if modes else "walk"
    return mode if mode in ("walk", "bicycle") else "walk"


def travel_source_of(plans: list[DayPlan | None], travel: Any) -> str:
    """What a calendar's day plans travelled on: ``network`` or ``straight_line``.

    The plans' own ``travel_source`` when they agree; without plans (or when
    they differ) what the calendar was given (``travel`` None: straight line).
    The service's calendar jobs and the command line write it as
    ``travel_source`` next to the calendar.
    """
    sources = {p.travel_source for p in plans if p is not None}
    if len(sources) == 1:
        return str(sources.pop())
    return "straight_line" if travel is None else "network"


def beat_figures(
    hh: pd.DataFrame,
    cards: pd.DataFrame,
    flags: pd.DataFrame,
    attempts: list[Attempt],
    last_skip: dict[str, str],
    rp: RouteParams,
    travel_per_stop_s: float,
) -> tuple[dict[str, BeatCoverage], dict[str, list[str]], list[dict[str, Any]]]:
    ids = hh["household_id"].astype(str).to_numpy()
    beat = hh["beat_id"].astype(str).to_numpy()
    cand = flags["candidate"].to_numpy(bool)
    none = flags["card_status"].to_numpy() == "none"
    kinds = hh["kind"].astype(str).to_numpy() if "kind" in hh else np.full(len(hh), "home")
    bld = hh["building_id"].astype(str).to_numpy() if "building_id" in hh else ids.astype(object)
    by_h: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_h.setdefault(a.household_id, []).append(a)
    beats: dict[str, BeatCoverage] = {}
    unknown_by_beat: dict[str, list[str]] = {}
    not_done: list[dict[str, Any]] = []
    for b in sorted(set(beat)):
        m = (beat == b) & cand
        mu = m & none
        b_ids, u_ids = ids[m], ids[mu]
        unknown_by_beat[b] = sorted(u_ids.tolist())
        att = [h for h in b_ids if h in by_h]
        miss = m & ~np.isin(ids, list(by_h))
        miss_u = miss & none

        def hours(mask: np.ndarray) -> float:
            service = sum(
                rp.service_s(k, bool(n)) for k, n in zip(kinds[mask], none[mask], strict=True)
            )
            n_b = len(set(bld[mask]))
            return (service + n_b * (rp.building_approach_s + travel_per_stop_s)) / 3600

        reasons: dict[str, int] = {}
        for h in ids[miss]:
            r = last_skip.get(h, "not_considered")
            reasons[r] = reasons.get(r, 0) + 1
        beats[b] = BeatCoverage(
            beat_id=b,
            households=int(m.sum()),
            unknown=int(mu.sum()),
            attempted=len(att),
            unknown_attempted=int(sum(1 for h in u_ids if h in by_h)),
            second_attempts=sum(len(by_h[h]) - 1 for h in att),
            expected_unknown_contacts=float(
                sum(1 - np.prod([1 - a.p_contact for a in by_h[h]]) for h in u_ids if h in by_h)
            ),
            hours_missing_all=hours(miss),
            hours_missing_unknown=hours(miss_u),
            not_attempted=reasons,
        )
        if miss_u.any():
            not_done.append(
                {
                    "beat_id": b,
                    "unknown_not_attempted": int(miss_u.sum()),
                    "hours_missing": round(hours(miss_u), 1),
                    "why": {
                        r: int(
                            sum(1 for h in ids[miss_u] if last_skip.get(h, "not_considered") == r)
                        )
                        for r in sorted({last_skip.get(h, "not_considered") for h in ids[miss_u]})
                    },
                }
            )
    return beats, unknown_by_beat, not_done
