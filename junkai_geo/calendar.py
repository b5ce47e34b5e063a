"""Multi-day visit calendars of a koban, and the new officer's beat plan.

:func:`plan_calendar` plans every officer's liaison route for every roster
day of a horizon (for example 4 weeks) with :func:`junkai_geo.routing.plan_day`
and returns a :class:`CalendarResult`. The rules (docs/calendar.md):

- each officer plans from a *pool*: a beat officer his beat, a specialist
  (巡回連絡専従員) the koban's households in large complexes and high-rise
  buildings (then taken out of the beat officers' pools);
- days share no household, except a retry after a failed first attempt;
- outcomes are simulated deterministically with expected values: an attempt
  whose contact probability is below ``retry_if_p_below`` counts as absent
  (不在) and is written to the history the next days are planned from;
- a retry (second attempt) is planned only when no 未把握 household of the
  pool waits that the day could reach (the day is first planned without
  retries; retries join only if that plan left no waiting 未把握 household
  out for lack of time or value), and only on a day type and in slots
  different from every failed attempt;
- while at least ``unknown_first_min`` 未把握 households of a pool wait, the
  pool's days attempt only 未把握 households (card updates wait);
- on a focus day (強化日) the households rarely home on weekdays go first;
- a night window appears only with a :class:`~junkai_geo.routing.NightApproval`
  for that officer and day, on a shift that has an evening window.

Pools are independent, so they are planned in parallel processes.
:func:`plan_new_officer` covers a whole beat area by area for a newly
assigned officer (新たに受持区の担当を命ぜられた場合).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem
from .model import Dataset
from .priorities import PriorityParams, contact_probabilities, day_type, score_households, slot_of
from .roster import Roster, RosterParams, Shift, build_roster
from .routing import (
    DayPlan,
    DayRequest,
    NightApproval,
    RouteParams,
    build_day_problem_from_frames,
    format_clock,
    parse_window,
    plan_day,
)
from .settings import check_positive

#: Skip reasons that mean "the day had no room for it" (as opposed to "the day
#: could not reach it"): a waiting 未把握 household skipped for one of these
#: blocks retries on that day.
CAPACITY_REASONS: frozenset[str] = frozenset({"no_time", "less_valuable"})


@dataclass(frozen=True)
class CalendarParams:
    """Settings of the calendar planner.

    Attributes
    ----------
    day_time_limit_s
        Time limit of each officer-day's :func:`plan_day` call.
    max_candidate_nodes
        Building nodes given to the solver per officer-day.
    retry_if_p_below
        Deterministic outcome: an attempt with a contact probability below
        this counts as absent (retried later), at or above as met.
    max_attempts
        Attempts per household within the horizon.
    focus_weekday_p_max
        On focus days, households whose best weekday contact probability is
        below this (or found absent on a weekday in the calendar) go first.
    focus_min_households
        The focus-day restriction applies only when at least this many such
        households wait (else the day takes everyone, so it is not wasted).
    workers
        Processes planning pools in parallel (0: the machine's cores, at most 2).
    unknown_first_min
        While at least this many 未把握 households of a pool wait, its days
        plan first attempts of 未把握 households only (stale and old cards
        wait); 0 lets the priority values alone decide.
    specialist_min_units
        In a koban without large complexes or high-rises, the specialists
        take the households of buildings of at least this many units.
    """

    day_time_limit_s: float = 0.3
    max_candidate_nodes: int = 40
    retry_if_p_below: float = 0.5
    max_attempts: int = 3
    focus_weekday_p_max: float = 0.4
    focus_min_households: int = 20
    unknown_first_min: int = 30
    workers: int = 0
    specialist_min_units: int = 8

    def __post_init__(self) -> None:
        check_positive(
            self,
            "day_time_limit_s",
            "max_candidate_nodes",
            "retry_if_p_below",
            "max_attempts",
            "focus_weekday_p_max",
            "focus_min_households",
            "specialist_min_units",
        )
        if self.retry_if_p_below > 1:
            raise ParameterError(
                f"CalendarParams.retry_if_p_below: found {self.retry_if_p_below!r}; "
                "expected a probability in (0, 1]"
            )
        if not isinstance(self.unknown_first_min, int) or self.unknown_first_min < 0:
            raise ParameterError(
                f"CalendarParams.unknown_first_min: found {self.unknown_first_min!r}; "
                "expected an integer >= 0"
            )
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ParameterError(
                f"CalendarParams.workers: found {self.workers!r}; expected an integer >= 0"
            )


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


# ----------------------------------------------------------------------------
# pools


@dataclass
class _Pool:
    """The planning job of officers who share households (pickled to a worker)."""

    name: str
    officers: list[dict[str, Any]]
    shifts: dict[str, list[Shift]]
    households: pd.DataFrame
    buildings: pd.DataFrame | None
    cards: pd.DataFrame
    visits: pd.DataFrame | None
    start_xy: tuple[float, float]
    start_label: str
    approvals: dict[tuple[str, date], NightApproval]
    travel: Any
    params: CalendarParams
    route_params: RouteParams
    priority_params: PriorityParams
    seed: int


@dataclass
class _PoolResult:
    plans: dict[str, list[DayPlan]]
    attempts: list[Attempt]
    last_skip: dict[str, str]
    travel_per_stop_s: float
    notes: list[str]


def _slot_at(seconds: int, pp: PriorityParams) -> str:
    return slot_of(format_clock(seconds)[:5], pp)


def _plan_one(
    pool: _Pool,
    off: dict[str, Any],
    on: date,
    shift: Shift,
    approval: NightApproval | None,
    visits: pd.DataFrame | None,
    visit_hh: np.ndarray,
    focus: tuple[date, ...],
    ids: np.ndarray,
    pos: dict[str, int],
    exclude: set[str],
) -> DayPlan:
    # Excluded households are left out of the tables rather than passed as
    # ``exclude``: scoring and the visit counts then cost only what is left.
    keep = np.ones(len(ids), bool)
    keep[[pos[h] for h in exclude if h in pos]] = False
    hh = pool.households[keep]
    if visits is not None:
        visits = visits[keep[visit_hh]]
    request = DayRequest(
        officer_id=str(off["officer_id"]),
        on=on,
        windows=tuple(shift.windows),
        night_approval=approval,
        focus_days=focus,
        params=pool.route_params,
        priority_params=pool.priority_params,
        max_candidates=pool.params.max_candidate_nodes,
    )
    problem = build_day_problem_from_frames(
        request,
        officer=off,
        households=hh,
        buildings=pool.buildings,
        cards=pool.cards,
        visits=visits,
        start_xy=pool.start_xy,
        start_label=pool.start_label,
        travel=pool.travel,
    )
    return plan_day(problem, time_limit_s=pool.params.day_time_limit_s, seed=pool.seed)


def _plan_pool(pool: _Pool) -> _PoolResult:
    """Plan a pool's officer-days in date order, officers in a fixed order."""
    p, pp = pool.params, pool.priority_params
    hh = pool.households
    ids = hh["household_id"].astype(str).to_numpy()
    beat_of = dict(zip(ids, hh["beat_id"].astype(str), strict=True))
    dates = sorted({s.date for ss in pool.shifts.values() for s in ss})
    notes: list[str] = []
    if not dates or len(hh) == 0:
        return _PoolResult({o["officer_id"]: [] for o in pool.officers}, [], {}, 0.0, notes)
    ref = score_households(
        hh, pool.cards, pool.buildings, pool.visits, on=dates[0], slot="morning", params=pp
    )
    # Only the candidates of the first day are planned (a card that turns
    # old enough within the horizon waits for the next calendar).
    candidate = ref["candidate"].to_numpy(bool)
    status = dict(zip(ids, ref["card_status"].astype(str), strict=True))
    unknown = {h for h, c in zip(ids, candidate, strict=True) if c and status[h] == "none"}
    hh, ids, ref = hh[candidate], ids[candidate], ref[candidate]
    pool.households = hh
    candidate = np.ones(len(hh), bool)
    pos = {h: i for i, h in enumerate(ids)}
    known = set(ids) - unknown
    # Weekday contact chance from the history, for the focus-day rule: the
    # next weekday that is not a holiday is a representative day.
    wd = dates[0]
    while day_type(wd) != "weekday":
        wd += timedelta(days=1)
    pw = contact_probabilities(
        hh, pool.visits, on=wd, slots=("morning", "afternoon"), params=pp
    ).max(axis=1)
    weekday_rare = set(ids[(pw.to_numpy(float) < p.focus_weekday_p_max) & candidate])

    attempts: list[Attempt] = []
    tries: dict[str, list[Attempt]] = {}
    met: set[str] = set()
    sim_rows: list[dict[str, Any]] = []
    last_skip: dict[str, str] = {}
    plans: dict[str, list[DayPlan]] = {o["officer_id"]: [] for o in pool.officers}
    travel_total = stops_total = 0
    base_cols = ["household_id", "visited_on", "time", "outcome"]
    history = None
    if pool.visits is not None:
        history = pool.visits[base_cols]
        history = history[history["household_id"].astype(str).isin(set(ids))]

    for on in dates:
        for off in pool.officers:
            oid = off["officer_id"]
            shift = next((s for s in pool.shifts[oid] if s.date == on), None)
            if shift is None or not shift.on_duty:
                continue
            approval = pool.approvals.get((oid, on))
            if approval is not None and shift.night_window is None:
                notes.append(
                    f"night approval of {oid} on {on.isoformat()} not used: the {shift.kind} "
                    "shift has no evening hours"
                )
                approval = None
            focus = (on,) if shift.focus else ()
            dt = day_type(on, focus_days=focus)
            wins = [parse_window(w) for w in shift.windows]
            if approval is not None:
                wins.append(approval.seconds())
            day_cells = {(dt, _slot_at((a + b) // 2, pp)) for a, b in wins} | {
                (dt, _slot_at(a, pp)) for a, b in wins
            }
            attempted = set(tries)
            waiting = unknown - attempted
            retry_ok = {
                h
                for h, ts in tries.items()
                if h not in met
                and len(ts) < p.max_attempts
                and not ({(t.day_type, t.slot) for t in ts} & day_cells)
            }
            held_back: set[str] = set()
            if shift.focus:
                failed_weekday = {
                    h for h, ts in tries.items() if any(t.day_type == "weekday" for t in ts)
                }
                rare = weekday_rare | failed_weekday
                firsts = {h for h in ids if h not in attempted} & set(ids[candidate])
                if len(firsts & rare) >= p.focus_min_households:
                    held_back = firsts - rare
            if p.unknown_first_min and len(waiting - held_back) >= p.unknown_first_min:
                # 未把握 first: while many of them wait, the day's first
                # attempts go to them and card updates wait.
                held_back |= known - attempted
            visits = history
            if sim_rows:
                sim = pd.DataFrame(sim_rows)
                visits = sim if history is None else pd.concat([history, sim], ignore_index=True)
            visit_hh = (
                visits["household_id"].astype(str).map(pos).to_numpy(np.int64)
                if visits is not None
                else np.empty(0, np.int64)
            )
            args = (pool, off, on, shift, approval, visits, visit_hh, focus, ids, pos)
            plan = _plan_one(*args, attempted | held_back)
            blocked = bool(waiting & held_back) or any(
                s["reason"] in CAPACITY_REASONS and s["household_id"] in waiting
                for s in plan.skipped
            )
            if retry_ok and not blocked:
                again = _plan_one(*args, (attempted - retry_ok) | held_back)
                if not any(
                    s["reason"] in CAPACITY_REASONS and s["household_id"] in waiting
                    for s in again.skipped
                ):
                    plan = again
            for s in plan.skipped:
                last_skip[s["household_id"]] = s["reason"]
            for stop in plan.stops:
                t = format_clock(stop.arrival_s)[:5]
                slot = _slot_at(stop.arrival_s, pp)
                for h in stop.households:
                    hid = h.household_id
                    outcome = "met" if h.expected_contact >= p.retry_if_p_below else "absent"
                    a = Attempt(
                        hid,
                        oid,
                        beat_of.get(hid, ""),
                        on,
                        t,
                        slot,
                        dt,
                        len(tries.get(hid, [])) + 1,
                        float(h.expected_contact),
                        outcome,
                        status.get(hid, ""),
                    )
                    attempts.append(a)
                    tries.setdefault(hid, []).append(a)
                    last_skip.pop(hid, None)
                    if outcome == "met":
                        met.add(hid)
                    else:
                        sim_rows.append(
                            {
                                "household_id": hid,
                                "visited_on": pd.Timestamp(on),
                                "time": t,
                                "outcome": "absent",
                            }
                        )
            travel_total += plan.travel_s
            stops_total += len(plan.stops)
            # The worker returns plans without their planning context (it
            # holds the whole pool's tables).
            plan.problem = None
            plans[oid].append(plan)
    per_stop = travel_total / stops_total if stops_total else 0.0
    return _PoolResult(plans, attempts, last_skip, per_stop, notes)


# ----------------------------------------------------------------------------
# the calendar


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def _koban_xy(dataset: Dataset, koban_id: str) -> tuple[tuple[float, float], str]:
    if dataset.koban is None:
        raise InputError(
            Problem("koban", None, None, "no koban layer", "a koban layer", "missing_layer")
        )
    rows = dataset.koban[dataset.koban["koban_id"].astype(str) == koban_id]
    if rows.empty:
        known = sorted(dataset.koban["koban_id"].astype(str))
        raise InputError(
            Problem(
                "koban",
                None,
                "koban_id",
                repr(koban_id),
                f"one of {known[:12]}{' ...' if len(known) > 12 else ''}",
                "unknown_koban",
            )
        )
    g = rows.geometry.iloc[0]
    return (float(g.x), float(g.y)), str(rows["name"].iloc[0]) if "name" in rows else koban_id


def koban_households(
    dataset: Dataset, koban_id: str, *, unit_beats: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The households of a koban's beats; ``unit_beats`` (unit id -> beat id,
    as :class:`~junkai_geo.rebalance.RebalanceResult.assignment`) re-assigns
    them to other beats first."""
    if dataset.households is None or dataset.beats is None:
        raise InputError(
            Problem(
                "dataset",
                None,
                None,
                "no households or beats layer",
                "both layers",
                "missing_layer",
            )
        )
    hh = dataset.households
    beats = dataset.beats
    mine = set(beats.loc[beats["koban_id"].astype(str) == koban_id, "beat_id"].astype(str))
    if unit_beats is not None:
        if "unit_id" not in hh.columns:
            raise InputError(
                Problem(
                    "households",
                    None,
                    "unit_id",
                    "no such column",
                    "the unit of each household, to apply a units -> beat mapping",
                    "missing_column",
                )
            )
        mapping = {str(k): str(v) for k, v in unit_beats.items()}
        new = hh["unit_id"].astype(str).map(mapping)
        hh = hh.assign(beat_id=new.fillna(hh["beat_id"].astype(str)).to_numpy())
        mine |= {v for v in mapping.values() if v in mine or v.startswith(f"{koban_id}-")}
    out = hh[hh["beat_id"].astype(str).isin(mine)]
    return out


def plan_calendar(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    koban_id: str,
    start: date,
    weeks: int = 4,
    days: int | None = None,
    roster: Roster | None = None,
    officer_ids: Sequence[str] | None = None,
    unit_beats: Mapping[str, str] | None = None,
    leave: Mapping[str, Iterable[date]] | None = None,
    focus_days: Mapping[str, Iterable[date]] | None = None,
    night_approvals: Sequence[NightApproval] = (),
    travel: Any = None,
    params: CalendarParams | None = None,
    route_params: RouteParams | None = None,
    priority_params: PriorityParams | None = None,
    roster_params: RosterParams | None = None,
    seed: int = 0,
) -> CalendarResult:
    """Plan the liaison routes of a koban's officers over a horizon.

    Parameters
    ----------
    dataset
        Layers in a metric CRS (koban, beats, officers, buildings,
        households, visits).
    cards
        Card table of the households (:func:`junkai_geo.cards.card_table`).
    koban_id, start, weeks, days
        The koban and the horizon (``days`` overrides ``weeks``).
    roster
        Shifts to use; default :func:`build_roster` of the koban's officers
        with ``leave``, ``focus_days`` and ``roster_params``.
    officer_ids
        Plan only these officers (default all of the koban).
    unit_beats
        Another beat assignment (unit id -> beat id) to plan on.
    night_approvals
        Approved night windows per officer and day.
    travel
        As for :func:`plan_day` (``None``: straight line).
    """
    t0 = time.perf_counter()
    params = params or CalendarParams()
    rp = route_params or RouteParams()
    pp = priority_params or PriorityParams()
    n_days = days if days is not None else 7 * weeks
    if not isinstance(n_days, int) or n_days <= 0:
        raise ParameterError(f"weeks / days: found {n_days!r} days; expected a horizon > 0 days")
    start_xy, label = _koban_xy(dataset, koban_id)
    if dataset.officers is None:
        raise InputError(
            Problem("officers", None, None, "no officers layer", "officers", "missing_layer")
        )
    officers = dataset.officers[dataset.officers["koban_id"].astype(str) == koban_id]
    if officer_ids is not None:
        officers = officers[officers["officer_id"].astype(str).isin(set(officer_ids))]
    if officers.empty:
        raise InputError(
            Problem(
                "officers",
                None,
                "koban_id",
                f"no officer of koban {koban_id!r}",
                "at least one officer to plan",
                "no_officer",
            )
        )
    if roster is None:
        roster = build_roster(
            officers, start, n_days, params=roster_params, leave=leave, focus_days=focus_days
        )
    notes = list(roster.notes)
    hh = koban_households(dataset, koban_id, unit_beats=unit_beats)
    hh_ids = set(hh["household_id"].astype(str))
    card_rows = cards.loc[cards.index.astype(str).isin(hh_ids)] if len(cards) else cards
    visits = dataset.visits
    if visits is not None:
        visits = visits[visits["household_id"].astype(str).isin(hh_ids)]
    buildings = dataset.buildings
    if buildings is not None and "building_id" in hh:
        buildings = buildings[buildings["building_id"].isin(set(hh["building_id"].dropna()))]
    approvals = {(a.officer_id, a.date): a for a in night_approvals}

    # Pools: specialists take the large complexes and high-rises.
    recs = _records(officers)
    specialists = [r for r in recs if str(r.get("role")) == "specialist" or not _has(r, "beat_id")]
    beat_officers = [r for r in recs if r not in specialists]
    flags = score_households(hh, card_rows, buildings, None, on=start, slot="morning", params=pp)
    complex_mask: np.ndarray = (
        flags["reasons"].map(lambda r: "large_complex" in r or "highrise" in r).to_numpy(bool)
    )
    if specialists and not complex_mask.any():
        complex_mask = _units_of(hh, buildings) >= params.specialist_min_units
        notes.append(
            "no large complex or high-rise: the specialists take the households of "
            f"buildings of at least {params.specialist_min_units} units "
            f"({int(complex_mask.sum())} households)"
        )
    if specialists and not complex_mask.any():
        notes.append(
            "specialists "
            + ", ".join(str(r["officer_id"]) for r in specialists)
            + ": no household in a multi-unit building; not planned"
        )
        specialists = []
    groups: dict[str, tuple[list[dict[str, Any]], np.ndarray]] = {}
    beat_col = hh["beat_id"].astype(str).to_numpy()
    rest = ~complex_mask if specialists else np.ones(len(hh), bool)
    for r in beat_officers:
        b = str(r["beat_id"])
        if b not in groups:
            groups[b] = ([], (beat_col == b) & rest)
        groups[b][0].append(r)
    if specialists:
        groups["specialists"] = (specialists, complex_mask)
    for b in sorted(set(beat_col) - set(groups)):
        notes.append(f"beat {b}: no officer of this koban is assigned; not planned")
    for b, (offs, _mask) in groups.items():
        if b != "specialists" and b not in set(beat_col):
            notes.append(f"beat {b} of {offs[0]['officer_id']}: no household; nothing to plan")

    pools = [
        _Pool(
            name=name,
            officers=[
                {
                    "officer_id": str(r["officer_id"]),
                    "koban_id": koban_id,
                    "beat_id": None if not _has(r, "beat_id") else str(r["beat_id"]),
                    "mode": str(r["mode"]) if _has(r, "mode") else "walk",
                }
                for r in offs
            ],
            shifts={str(r["officer_id"]): roster.duty_days(str(r["officer_id"])) for r in offs},
            households=hh[mask],
            buildings=buildings,
            cards=card_rows,
            visits=visits,
            start_xy=start_xy,
            start_label=label,
            approvals={
                k: v for k, v in approvals.items() if k[0] in {str(r["officer_id"]) for r in offs}
            },
            travel=travel,
            params=params,
            route_params=rp,
            priority_params=pp,
            seed=seed,
        )
        for name, (offs, mask) in groups.items()
    ]
    in_horizon = set(roster.dates)
    for a in night_approvals:
        if a.officer_id not in set(roster.officers):
            notes.append(f"night approval for {a.officer_id}: not an officer of this calendar")
        elif a.date not in in_horizon:
            notes.append(
                f"night approval of {a.officer_id} on {a.date.isoformat()}: outside the horizon"
            )
        elif not roster.shift(a.officer_id, a.date).on_duty:
            kind = roster.shift(a.officer_id, a.date).kind
            notes.append(
                f"night approval of {a.officer_id} on {a.date.isoformat()} not used: "
                f"off duty ({kind})"
            )
    if visits is not None and len(visits):
        # Warm the holiday cache before the workers fork, so that each does
        # not look up the history's dates again.
        for d in pd.to_datetime(visits["visited_on"]).dt.date.unique():
            day_type(d)
    results = _run_pools(pools, params.workers)

    plans: dict[str, list[DayPlan]] = {}
    attempts: list[Attempt] = []
    last_skip: dict[str, str] = {}
    per_stop: list[float] = []
    for res in results:
        plans.update(res.plans)
        attempts += res.attempts
        last_skip.update(res.last_skip)
        notes += res.notes
        if res.travel_per_stop_s:
            per_stop.append(res.travel_per_stop_s)
    attempts.sort(key=lambda a: (a.date, a.officer_id, a.time, a.household_id))
    beats, unknown_by_beat, not_done = _beat_figures(
        hh, card_rows, flags, attempts, last_skip, rp, float(np.mean(per_stop)) if per_stop else 0.0
    )
    unknown_by_officer: dict[str, list[str]] = {}
    unk_ids = (
        flags["household_id"]
        .astype(str)
        .to_numpy()[(flags["card_status"].to_numpy() == "none") & flags["candidate"].to_numpy(bool)]
    )
    unk = set(unk_ids)
    for pool in pools:
        pool_unknown = sorted(set(pool.households["household_id"].astype(str)) & unk)
        for o in pool.officers:
            unknown_by_officer[o["officer_id"]] = pool_unknown
    return CalendarResult(
        koban_id=koban_id,
        start=start,
        days=n_days,
        roster=roster,
        plans=plans,
        attempts=attempts,
        beats=beats,
        unknown_by_beat=unknown_by_beat,
        unknown_by_officer=unknown_by_officer,
        not_done=not_done,
        notes=notes,
        time_s=time.perf_counter() - t0,
        params=params,
    )


def _units_of(hh: pd.DataFrame, buildings: pd.DataFrame | None) -> np.ndarray:
    """Units of each household's building (1 when unknown)."""
    if buildings is None or "units" not in buildings or "building_id" not in hh:
        return np.ones(len(hh))
    units = pd.to_numeric(buildings["units"], errors="coerce")
    by_id = pd.Series(units.to_numpy(), index=buildings["building_id"].astype(str))
    by_id = by_id[~by_id.index.duplicated(keep="last")]
    return hh["building_id"].astype(str).map(by_id).fillna(1).to_numpy(float)


def _has(r: Mapping[str, Any], key: str) -> bool:
    v = r.get(key)
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v) != ""


def _run_pools(pools: list[_Pool], workers: int) -> list[_PoolResult]:
    n = workers or min(2, os.cpu_count() or 1)
    n = min(n, len(pools))
    if n <= 1:
        return [_plan_pool(p) for p in pools]
    # Largest pools first so that the last one to finish is small.
    order = sorted(range(len(pools)), key=lambda i: -len(pools[i].households))
    with ProcessPoolExecutor(max_workers=n) as ex:
        done = dict(zip(order, ex.map(_plan_pool, [pools[i] for i in order]), strict=True))
    return [done[i] for i in range(len(pools))]


def _beat_figures(
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


def demo_calendar(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    koban_id: str,
    start: date,
    weeks: int = 1,
    time_limit_s: float = 0.3,
    workers: int = 0,
) -> CalendarResult:
    """A short calendar for the demo: ``weeks`` weeks of one koban, small time limits."""
    return plan_calendar(
        dataset,
        cards,
        koban_id=koban_id,
        start=start,
        weeks=weeks,
        params=CalendarParams(day_time_limit_s=time_limit_s, workers=workers),
    )


# ----------------------------------------------------------------------------
# a newly assigned officer


@dataclass(frozen=True)
class NewOfficerParams:
    """Settings of the new officer's plan.

    Attributes
    ----------
    day_utilisation
        Share of a day's liaison windows planned as door time when cutting
        areas; the rest is left for walking between buildings.
    max_weeks
        The plan stops after so many weeks even if the beat is not covered.
    route_time_limit_s
        Time limit of each day's route (``route=True``).
    max_carry
        A household left out of its day's route is carried to the next day
        at most so many times, then reported as not covered.
    """

    day_utilisation: float = 0.75
    max_weeks: int = 60
    route_time_limit_s: float = 0.3
    max_carry: int = 3

    def __post_init__(self) -> None:
        check_positive(self, "day_utilisation", "max_weeks", "route_time_limit_s", "max_carry")
        if self.day_utilisation > 1:
            raise ParameterError(
                f"NewOfficerParams.day_utilisation: found {self.day_utilisation!r}; "
                "expected a share in (0, 1]"
            )


@dataclass
class AreaDay:
    """One duty day of the new officer's plan: a compact area of the beat."""

    date: date
    area: int
    household_ids: list[str]
    workload_s: int
    centre_xy: tuple[float, float]
    radius_m: float
    carried_in: int = 0
    plan: DayPlan | None = None

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "date": self.date.isoformat(),
            "area": self.area,
            "households": len(self.household_ids),
            "household_ids": list(self.household_ids),
            "workload_h": round(self.workload_s / 3600, 2),
            "centre_xy": [round(self.centre_xy[0], 1), round(self.centre_xy[1], 1)],
            "radius_m": round(self.radius_m, 1),
            "carried_in": self.carried_in,
        }
        if self.plan is not None:
            out["visited"] = len(self.plan.household_ids)
            out["plan"] = self.plan.to_dict() if full else {"totals": self.plan.totals()}
        return out


@dataclass
class NewOfficerPlan:
    """Area-by-area coverage of a whole beat (新たに受持区の担当を命ぜられた場合)."""

    officer_id: str
    beat_id: str
    start: date
    days: list[AreaDay]
    households: int
    covered: int
    weeks: int
    not_covered: dict[str, str]  # household id -> reason
    notes: list[str]

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "beat_id": self.beat_id,
            "start": self.start.isoformat(),
            "households": self.households,
            "covered": self.covered,
            "weeks": self.weeks,
            "duty_days": len(self.days),
            "days": [d.to_dict(full=full) for d in self.days],
            "not_covered": dict(sorted(self.not_covered.items())),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lines = [
            f"new officer {self.officer_id} on beat {self.beat_id} from "
            f"{self.start.isoformat()}: {self.covered}/{self.households} households in "
            f"{len(self.days)} duty days ({self.weeks} weeks)"
        ]
        for d in self.days[:10]:
            lines.append(
                f"  {d.date.isoformat()} area {d.area}: {len(d.household_ids)} households, "
                f"{d.workload_s / 3600:.1f} h, radius {d.radius_m:.0f} m"
            )
        if len(self.days) > 10:
            lines.append(f"  ... {len(self.days) - 10} more days")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def hilbert_index(xy: np.ndarray, *, order: int = 12) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding square.

    Consecutive positions are close in space, so consecutive runs of points
    form compact areas.
    """
    n = 1 << order
    lo = xy.min(axis=0)
    span = float(max((xy.max(axis=0) - lo).max(), 1e-9))
    g = np.clip(((xy - lo) / span * (n - 1)).round().astype(np.int64), 0, n - 1)
    x, y = g[:, 0].copy(), g[:, 1].copy()
    d = np.zeros(len(xy), np.int64)
    s = n // 2
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        # Rotate the quadrant so that the curve stays continuous.
        flip = ry == 0
        swap_x = flip & (rx == 1)
        x = np.where(swap_x, n - 1 - x, x)
        y = np.where(swap_x, n - 1 - y, y)
        x, y = np.where(flip, y, x), np.where(flip, x, y)
        s //= 2
    return d


def plan_new_officer(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    beat_id: str,
    start: date,
    officer: Mapping[str, Any] | str | None = None,
    route: bool = True,
    travel: Any = None,
    params: NewOfficerParams | None = None,
    route_params: RouteParams | None = None,
    priority_params: PriorityParams | None = None,
    roster_params: RosterParams | None = None,
    leave: Iterable[date] = (),
) -> NewOfficerPlan:
    """Cover a whole beat, area by area, in the fewest weeks the roster allows.

    Every occupied household of the beat is visited once. Buildings are
    ordered along a Hilbert curve and cut into consecutive runs, one per
    duty day, each as large as the day's windows allow (times
    ``day_utilisation``): so each day's area is compact and no duty day is
    left empty. With ``route``, each day is routed with :func:`plan_day`
    and what it leaves out is carried to the next day.

    ``officer`` is the beat's officer (default the koban's officer of the
    beat) as a row or id, or a mapping for a new officer with
    ``officer_id``, ``shift_pattern`` and ``mode``.
    """
    p = params or NewOfficerParams()
    rp = route_params or RouteParams()
    if dataset.beats is None or dataset.households is None or dataset.officers is None:
        raise InputError(
            Problem(
                "dataset",
                None,
                None,
                "no beats, households or officers",
                "the three layers",
                "missing_layer",
            )
        )
    beats = dataset.beats[dataset.beats["beat_id"].astype(str) == beat_id]
    if beats.empty:
        known = sorted(dataset.beats["beat_id"].astype(str))
        raise InputError(
            Problem(
                "beats",
                None,
                "beat_id",
                repr(beat_id),
                f"one of {known[:12]}{' ...' if len(known) > 12 else ''}",
                "unknown_beat",
            )
        )
    koban_id = str(beats["koban_id"].iloc[0])
    off = _new_officer_row(dataset.officers, beat_id, koban_id, officer)
    start_xy, label = _koban_xy(dataset, koban_id)
    hh = dataset.households[dataset.households["beat_id"].astype(str) == beat_id]
    ids = hh["household_id"].astype(str).to_numpy()
    card = cards.reindex(pd.Index(ids))
    occupied = card["occupancy"].astype(str).to_numpy() == "occupied"
    hh, ids = hh[occupied], ids[occupied]
    new_card = card["status"].astype(str).to_numpy()[occupied] == "none"
    kinds = hh["kind"].astype(str).to_numpy() if "kind" in hh else np.full(len(hh), "home")
    service = np.array(
        [rp.service_s(k, bool(n)) for k, n in zip(kinds, new_card, strict=True)], np.int64
    )
    xy = np.column_stack([hh.geometry.x.to_numpy(float), hh.geometry.y.to_numpy(float)])
    floors = (
        pd.to_numeric(hh["floor"], errors="coerce").fillna(1).to_numpy(float)
        if "floor" in hh
        else np.ones(len(hh))
    )
    bkey = (
        hh["building_id"]
        .astype(str)
        .where(hh["building_id"].notna(), pd.Series(ids, index=hh.index))
        if "building_id" in hh
        else pd.Series(ids, index=hh.index)
    ).to_numpy()
    _, bcode = np.unique(bkey, return_inverse=True)
    n_b = int(bcode.max()) + 1 if len(bcode) else 0
    b_work = np.bincount(bcode, weights=service, minlength=n_b) + rp.building_approach_s
    b_top = np.zeros(n_b)
    np.maximum.at(b_top, bcode, floors)
    b_work += rp.per_floor_s * np.maximum(b_top - 1, 0)
    b_xy = (
        np.column_stack(
            [
                np.bincount(bcode, weights=xy[:, 0], minlength=n_b),
                np.bincount(bcode, weights=xy[:, 1], minlength=n_b),
            ]
        )
        / np.maximum(np.bincount(bcode, minlength=n_b), 1)[:, None]
    )
    order = np.argsort(hilbert_index(b_xy), kind="stable") if n_b else np.empty(0, np.int64)
    members: list[list[int]] = [[] for _ in range(n_b)]
    for row, b in enumerate(bcode.tolist()):
        members[b].append(row)

    roster = build_roster(
        [off], start, 7 * p.max_weeks, params=roster_params, leave={off["officer_id"]: leave}
    )
    duty = roster.duty_days(off["officer_id"])
    notes = list(roster.notes)
    days: list[AreaDay] = []
    carried: list[int] = []
    carry_count: dict[int, int] = {}
    not_covered: dict[str, str] = {}
    covered: set[int] = set()
    pos = 0
    for shift in duty:
        if pos >= n_b and not carried:
            break
        cap = p.day_utilisation * sum(b - a for a, b in (parse_window(w) for w in shift.windows))
        cap -= sum(int(service[r]) for r in carried)
        rows: list[int] = []
        work = 0.0
        while pos < n_b:
            b = int(order[pos])
            # At least one building a day unless carried households fill it.
            if work + b_work[b] > cap and (rows or carried):
                break
            rows += members[b]
            work += float(b_work[b])
            pos += 1
        all_rows = carried + rows
        pts = xy[rows] if rows else xy[all_rows]
        centre = pts.mean(axis=0) if len(pts) else np.array(start_xy)
        radius = float(np.hypot(*(pts - centre).T).max()) if len(pts) else 0.0
        day = AreaDay(
            date=shift.date,
            area=len(days) + 1,
            household_ids=[str(ids[r]) for r in all_rows],
            workload_s=int(work + sum(int(service[r]) for r in carried)),
            centre_xy=(float(centre[0]), float(centre[1])),
            radius_m=radius,
            carried_in=len(carried),
        )
        carried = []
        if route and all_rows:
            sub = hh.iloc[all_rows]
            problem = build_day_problem_from_frames(
                DayRequest(
                    officer_id=str(off["officer_id"]),
                    on=shift.date,
                    windows=tuple(shift.windows),
                    params=rp,
                    priority_params=priority_params or PriorityParams(),
                ),
                officer=off,
                households=sub,
                buildings=dataset.buildings,
                cards=cards.reindex(pd.Index(ids[all_rows])).assign(
                    # A new officer visits every household once, also those
                    # met recently: treat every card as due for an update.
                    last_contact=np.full(len(all_rows), np.datetime64("NaT"), "datetime64[ns]"),
                    status=np.where(new_card[all_rows], "none", "stale"),
                ),
                visits=None,
                start_xy=start_xy,
                start_label=label,
                travel=travel,
            )
            plan = plan_day(problem, time_limit_s=p.route_time_limit_s)
            plan.problem = None
            day.plan = plan
            done = set(plan.household_ids)
            reason = {s["household_id"]: s["reason"] for s in plan.skipped}
            for r in all_rows:
                h = str(ids[r])
                if h in done:
                    covered.add(r)
                    continue
                carry_count[r] = carry_count.get(r, 0) + 1
                if carry_count[r] > p.max_carry:
                    not_covered[h] = reason.get(h, "not_routed")
                else:
                    carried.append(r)
        else:
            covered.update(all_rows)
        days.append(day)
    for r in carried:
        not_covered[str(ids[r])] = "horizon_ended"
    for b in order[pos:]:
        for r in members[int(b)]:
            not_covered[str(ids[r])] = "horizon_ended"
    if any(v == "horizon_ended" for v in not_covered.values()):
        notes.append(f"the beat is not covered within max_weeks = {p.max_weeks}")
    last = days[-1].date if days else start
    return NewOfficerPlan(
        officer_id=off["officer_id"],
        beat_id=beat_id,
        start=start,
        days=days,
        households=len(ids),
        covered=len(covered),
        weeks=(last - start).days // 7 + 1,
        not_covered=not_covered,
        notes=notes,
    )


def _new_officer_row(
    officers: pd.DataFrame, beat_id: str, koban_id: str, officer: Mapping[str, Any] | str | None
) -> dict[str, Any]:
    if isinstance(officer, Mapping):
        row = {str(k): v for k, v in officer.items()}
        if not row.get("officer_id"):
            raise ParameterError(f"officer: found {row!r}; expected an officer_id")
    else:
        rows = officers[officers["beat_id"].astype(str) == beat_id]
        if officer is not None:
            rows = officers[officers["officer_id"].astype(str) == str(officer)]
        if rows.empty:
            raise InputError(
                Problem(
                    "officers",
                    None,
                    "officer_id" if officer is not None else "beat_id",
                    repr(officer if officer is not None else beat_id),
                    "an officer of the beat, or a mapping describing the new officer",
                    "unknown_officer",
                )
            )
        row = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
    row.setdefault("shift_pattern", "day")
    row.setdefault("mode", "walk")
    row["officer_id"] = str(row["officer_id"])
    row["koban_id"] = koban_id
    row["beat_id"] = beat_id
    return row
