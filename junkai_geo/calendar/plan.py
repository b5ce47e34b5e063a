"""Plan a :class:`CalendarProblem`: every pool's officer-days, in parallel processes.

The rules each pool follows are listed in :mod:`junkai_geo.calendar`
(docs/calendar.md).
"""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..priorities import PriorityParams, contact_probabilities, day_type, score_households, slot_of
from ..roster import Shift
from ..routing import (
    DayPlan,
    DayRequest,
    NightApproval,
    RouteParams,
    build_day_problem_from_frames,
    format_clock,
    parse_window,
    plan_day,
)
from .params import CAPACITY_REASONS, CalendarParams
from .problem import CalendarProblem
from .result import Attempt, CalendarResult, beat_figures


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


def plan_calendar(
    problem: CalendarProblem,
    *,
    time_limit_s: float | None = None,
    seed: int = 0,
    workers: int | None = None,
) -> CalendarResult:
    """Plan the liaison routes of a koban's officers over the problem's horizon.

    Parameters
    ----------
    problem
        From :func:`~junkai_geo.calendar.build_calendar_problem` (or its JSON).
    time_limit_s
        Time limit of each officer-day's :func:`~junkai_geo.routing.plan_day`
        (default ``problem.params.day_time_limit_s``).
    seed
        Same problem and seed, same calendar (as long as the solver stops on
        its work budget, not on the clock).
    workers
        Processes planning pools in parallel (default
        ``problem.params.workers``; 0: up to 2, 1: in this process).
    """
    if not isinstance(problem, CalendarProblem):
        raise ParameterError(
            f"problem: found {type(problem).__name__}; expected a CalendarProblem "
            "(build_calendar_problem(dataset, CalendarRequest(...)))"
        )
    t0 = time.perf_counter()
    params = problem.params
    if time_limit_s is not None:
        params = dataclasses.replace(params, day_time_limit_s=time_limit_s)
    if workers is not None:
        params = dataclasses.replace(params, workers=workers)
    rp, pp = problem.route_params, problem.priority_params
    hh = problem.households
    notes = list(problem.notes)
    pools = [
        _Pool(
            name=spec.name,
            officers=[dict(o) for o in spec.officers],
            shifts={
                str(o["officer_id"]): problem.roster.duty_days(str(o["officer_id"]))
                for o in spec.officers
            },
            households=hh.iloc[list(spec.rows)],
            buildings=problem.buildings,
            cards=problem.cards,
            visits=problem.visits,
            start_xy=problem.start_xy,
            start_label=problem.start_label,
            approvals={
                (a.officer_id, a.date): a
                for a in problem.night_approvals
                if a.officer_id in {str(o["officer_id"]) for o in spec.officers}
            },
            travel=problem.travel,
            params=params,
            route_params=rp,
            priority_params=pp,
            seed=seed,
        )
        for spec in problem.pools
    ]
    visits = problem.visits
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
    flags = score_households(
        hh, problem.cards, problem.buildings, None, on=problem.start, slot="morning", params=pp
    )
    beats, unknown_by_beat, not_done = beat_figures(
        hh,
        problem.cards,
        flags,
        attempts,
        last_skip,
        rp,
        float(np.mean(per_stop)) if per_stop else 0.0,
    )
    unknown_by_officer: dict[str, list[str]] = {}
    unk_ids = (
        flags["household_id"]
        .astype(str)
        .to_numpy()[(flags["card_status"].to_numpy() == "none") & flags["candidate"].to_numpy(bool)]
    )
    unk = set(unk_ids)
    for spec in problem.pools:
        pool_ids = set(hh["household_id"].astype(str).to_numpy()[list(spec.rows)])
        pool_unknown = sorted(pool_ids & unk)
        for o in spec.officers:
            unknown_by_officer[str(o["officer_id"])] = pool_unknown
    return CalendarResult(
        koban_id=problem.koban_id,
        start=problem.start,
        days=problem.days,
        roster=problem.roster,
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


def demo_calendar(
    dataset: Any,
    cards: pd.DataFrame,
    *,
    koban_id: str,
    start: date,
    weeks: int = 1,
    time_limit_s: float = 0.3,
    workers: int = 0,
) -> CalendarResult:
    """A short calendar for the demo: ``weeks`` weeks of one koban, small time limits."""
    from .problem import CalendarRequest, build_calendar_problem

    problem = build_calendar_problem(
        dataset,
        CalendarRequest(
            koban_id=koban_id,
            start=start,
            weeks=weeks,
            params=CalendarParams(day_time_limit_s=time_limit_s, workers=workers),
        ),
        cards=cards,
    )
    return plan_calendar(problem)
