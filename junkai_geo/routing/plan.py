"""Solve a :class:`DayProblem`: the route of most expected contacts, and why not the others.

:func:`plan_day` gives the problem's nodes to the solver
(:func:`junkai_geo.solver.solve_problem`), turns its route into stops and
gives every candidate left out a reason. :func:`replan` plans the rest of a
day from the officer's position after an incident.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import time
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError
from ..model import split_address
from ..travel import UNREACHABLE_S
from .clock import format_clock, parse_clock
from .inputs import TravelSource
from .nodes import solver_windows
from .problem import DayProblem, rebuild_day_problem
from .result import DayPlan, PlannedHousehold, Stop

if TYPE_CHECKING:
    from ..priorities import WindowNote


def plan_day(
    problem: DayProblem, *, time_limit_s: float = 2.0, seed: int = 0, clock_backstop: float = 1.0
) -> DayPlan:
    """Plan one officer's liaison route for the day of ``problem``.

    Parameters
    ----------
    problem
        From :func:`~junkai_geo.routing.build_day_problem` (or its JSON).
    time_limit_s
        Wall-clock budget; the solver gets ``params.solver_time_share`` of it.
    seed
        Same problem and seed, same plan.
    clock_backstop
        The solver's search ends at its work budget (set by ``time_limit_s``)
        or, as a backstop, at its share of ``time_limit_s`` of wall clock,
        whichever comes first; ``clock_backstop`` (a power of two, >= 1)
        multiplies that wall clock only. Batch runs (plan-all) pass a large
        one so that a loaded machine gives the same plans as an idle one;
        their per-task timeout is the guard.
    """
    from ..solver.core import check_clock_backstop, solve_problem

    check_clock_backstop(clock_backstop)
    if not isinstance(problem, DayProblem):
        raise ParameterError(
            f"problem: found {type(problem).__name__}; expected a DayProblem "
            "(build_day_problem(dataset, DayRequest(...)))"
        )
    if not time_limit_s > 0:
        raise ParameterError(f"time_limit_s: found {time_limit_s!r}; expected seconds > 0")
    params, kept, wins, shift = problem.params, problem.nodes, problem.windows, problem.shift
    matrix = problem.matrix
    notes = list(problem.notes)
    reason_of_row: dict[int, str] = dict(problem.skipped)
    # On a network some nodes cannot be reached at all (cut off, or too far
    # from any road): they never go to the solver.
    d = matrix.durations_s
    cut_off = {
        i for i in range(len(kept)) if d[0, i + 2] >= UNREACHABLE_S or d[i + 2, 1] >= UNREACHABLE_S
    }
    chosen: list[dict[str, Any]] = []
    route_travel = 0
    status_txt = "empty"
    if kept and wins:
        visits_json = [
            {
                "id": str(i),
                "location": i + 2,
                "service": int(n.service_s),
                "value": int(round(n.value * params.value_scale)),
                "time_windows": solver_windows(n, shift),
                "required": False,
            }
            for i, n in enumerate(kept)
        ]
        # The solver gets a fixed share of the limit, not what is left after
        # preparation: its work budget (and so the plan) follows the limit
        # it is given, and the same problem must give the same plan.
        solver_limit = time_limit_s * params.solver_time_share
        solution = solve_problem(
            {
                "durations": matrix.durations_s.astype("int64").tolist(),
                "visits": visits_json,
                "officers": [
                    {
                        "id": problem.officer_id,
                        "start": 0,
                        "end": 1,
                        "shift": [int(shift[0]), int(shift[1])],
                    }
                ],
                "time_limit": max(solver_limit, 0.05),
                "seed": int(seed),
            },
            clock_backstop=clock_backstop,
        )
        status_txt = str(solution.get("status", ""))
        route: dict[str, Any] = (
            solution["routes"][0] if solution.get("routes") else {"stops": [], "travel": 0}
        )
        chosen = list(route["stops"])
        route_travel = int(route.get("travel", 0))
        unassigned = {
            str(u["visit"]): str(u.get("reason", "")) for u in solution.get("unassigned", [])
        }
        chosen_values = [kept[int(s["visit"])].value for s in chosen]
        floor_value = min(chosen_values) if chosen_values else float("inf")
        served = {int(s["visit"]) for s in chosen}
        for i, n in enumerate(kept):
            if i in served:
                continue
            why = "unreachable" if i in cut_off else unassigned.get(str(i), "")
            if why == "unreachable" or not n.windows:
                reason = "unreachable" if why == "unreachable" else "outside_window"
            elif n.value >= floor_value:
                reason = "no_time"
            else:
                reason = "less_valuable"
            reason_of_row.update({int(r): reason for r in n.rows})
    else:
        for n in kept:
            reason_of_row.update(
                {int(r): "outside_window" if not wins else "no_time" for r in n.rows}
            )
        if not wins:
            notes.append("no liaison window is left on this day")

    # Stops, in the solver's order.
    cands = problem.candidates
    lonlat = problem.lonlat
    stops: list[Stop] = []
    prev = 0
    for order, s in enumerate(chosen, 1):
        i = int(s["visit"])
        n = kept[i]
        loc = i + 2
        win_i = next((k for k, (a, b) in enumerate(wins) if a <= int(s["start"]) < b), 0)
        slot_col = _slot_index(problem.slots[win_i])
        members = [
            PlannedHousehold(
                household_id=cands.household_id[r],
                kind=cands.kind[r],
                floor=cands.floor[r],
                card_status=cands.card_status[r],
                reasons=list(cands.reasons[r]),
                expected_contact=float(cands.p_slot[r][slot_col]),
                value=float(cands.value[r]),
                unit=split_address(cands.address[r])[1] if cands.address else "",
            )
            for r in n.rows
        ]
        path = problem.leg_paths.get(f"{prev}-{loc}")
        stops.append(
            Stop(
                order=order,
                building_id=n.building_id,
                address=n.address,
                lon=lonlat[loc][0],
                lat=lonlat[loc][1],
                arrival_s=int(s["start"]),
                departure_s=int(s["end"]),
                households=members,
                path=[list(p) for p in path]
                if path is not None
                else [list(lonlat[prev]), list(lonlat[loc])],
                x=n.x,
                y=n.y,
                travel_s=int(matrix.durations_s[prev, loc]),
                location=loc,
            )
        )
        prev = loc
    skipped = [
        {"household_id": cands.household_id[r], "reason": reason}
        for r, reason in sorted(reason_of_row.items())
    ]
    night = unused_night_windows(problem, stops)
    notes.extend(f"{w.text_ja} / {w.text}" for w in night)
    return DayPlan(
        officer_id=problem.officer_id,
        koban_id=problem.koban_id,
        beat_id=problem.beat_id,
        date=problem.on,
        start=problem.start,
        end=problem.end,
        windows=list(wins),
        travel_source=matrix.source,
        travel_mode=matrix.mode,
        stops=stops,
        skipped=skipped,
        travel_s=route_travel,
        notes=notes,
        night_windows=[w.to_dict() for w in night],
        status=status_txt,
        matrix=matrix,
        problem=problem,
    )


def unused_night_windows(problem: DayProblem, stops: Sequence[Stop]) -> list[WindowNote]:
    """Why each approved night window of the day has no visit (Japanese first).

    The same window rule as the problem's (``RouteParams.min_p_contact_window``
    and its companions) is applied again to the candidates, so the note says
    whether nobody was likely enough to be met then, whether such households
    were left out before routing, or whether the other windows simply gave
    more (:func:`junkai_geo.priorities.explain_unused_window`).
    """
    import numpy as np

    from ..priorities import SLOTS, explain_unused_window
    from .windows import _is_night

    params, wins, cands = problem.params, problem.windows, problem.candidates
    if problem.night_approval is None or not wins:
        return []
    n = len(cands.household_id)
    cols = [SLOTS.index(s) for s in problem.slots]
    p_win = np.asarray(cands.p_slot, float).reshape(n, len(SLOTS))[:, cols]
    prior = np.asarray(cands.prior_slot, float).reshape(n, len(SLOTS))[:, cols]
    best = p_win.max(axis=1) if n else np.zeros(0)
    allowed = (
        (p_win >= params.min_p_contact_window)
        & (p_win >= params.window_p_tolerance * best[:, None])
        & (p_win >= params.window_p_prior_ratio * prior)
    )
    out: list[WindowNote] = []
    for i, (a, b) in enumerate(wins):
        if not _is_night((a, b), params) or any(a <= s.arrival_s < b for s in stops):
            continue
        kept_allowed = sum(1 for nd in problem.nodes if (a, b) in nd.windows)
        note = explain_unused_window(
            f"{format_clock(a)[:5]}-{format_clock(b)[:5]}",
            p_contact=p_win[:, i],
            allowed=allowed[:, i],
            kept_allowed=kept_allowed,
            threshold_p_contact=params.min_p_contact_window,
        )
        out.append(note)
    return out


def _slot_index(slot: str) -> int:
    from ..priorities import SLOTS

    return SLOTS.index(slot)


def replan(
    plan: DayPlan | DayProblem,
    *,
    now: time | str | int,
    position_xy: tuple[float, float],
    done: Sequence[str],
    time_limit_s: float = 2.0,
    seed: int = 0,
    position_label: str = "current position",
    travel: TravelSource = None,
) -> DayPlan:
    """Plan the rest of the day from ``position_xy`` at ``now``.

    The stops of ``plan`` whose households are in ``done`` are kept (with
    only the done households); the other candidates, including those of the
    old plan not yet visited, are planned again in the windows left after
    ``now`` (:func:`~junkai_geo.routing.problem.rebuild_day_problem`). Given
    a problem instead of a plan, nothing is kept. ``travel`` is needed only
    when the problem was built on a street network or a callable.
    """
    problem = plan.problem if isinstance(plan, DayPlan) else plan
    if not isinstance(problem, DayProblem):
        raise ParameterError("plan: has no problem; expected a DayPlan made by plan_day")
    now_s = parse_clock(now, "now")
    done_set = {str(h) for h in done}
    old_stops = plan.stops if isinstance(plan, DayPlan) else []
    planned = {h.household_id for s in old_stops for h in s.households}
    unknown = sorted(done_set - planned)
    fresh_problem = rebuild_day_problem(
        problem,
        start_xy=position_xy,
        start_label=position_label,
        start_time_s=now_s,
        exclude=sorted(done_set),
        travel=travel,
    )
    fresh = plan_day(fresh_problem, time_limit_s=time_limit_s, seed=seed)
    kept: list[Stop] = []
    kept_travel = 0
    for s in old_stops:
        members = [h for h in s.households if h.household_id in done_set]
        if not members:
            continue
        # A stop interrupted part-way ends at ``now`` at the latest.
        departure = min(s.departure_s, max(now_s, s.arrival_s))
        kept.append(
            dataclasses.replace(
                s, households=members, done=True, departure_s=departure, location=-1
            )
        )
        kept_travel += s.travel_s
    for i, s in enumerate(kept + fresh.stops, 1):
        s.order = i
    fresh.stops = kept + fresh.stops
    fresh.travel_s += kept_travel
    fresh.notes.insert(
        0,
        f"re-planned at {format_clock(now_s)} from ({position_xy[0]:.0f}, {position_xy[1]:.0f}); "
        f"{len(done_set)} household(s) done kept as the first {len(kept)} stop(s)",
    )
    if unknown:
        fresh.notes.append(f"done households not in the earlier plan: {', '.join(unknown[:10])}")
    return fresh
