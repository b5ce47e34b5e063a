"""Solve a routing problem: the portfolio, the reasons for skips, the result."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from ortools.constraint_solver import routing_enums_pb2

from ..errors import ParameterError
from ..settings import check_positive
from .engine import improve_with_ortools
from .local import (
    Routes,
    fill_routes,
    iterated_local_search,
    relocate_descent,
    route_totals,
    ruin_and_recreate,
    schedule_route,
)
from .problem import RoutingData, alone_feasibility, read_problem

#: Why a visit was not served.
REASONS = ("no_time", "outside_window", "less_valuable", "unreachable", "over_capacity")


@dataclass(frozen=True)
class SolverParams:
    """Work budgets and safety margins of the solver.

    The search is stopped by a *work* budget proportional to the time limit
    (:class:`~.local.Work` units of the ILS, failures of OR-Tools), so the same seed and inputs give
    the same result; the wall-clock time limit is only a backstop, reached
    first only on a machine much slower than the one the rates were set on.
    """

    # Work units (reference ns) a second of time limit: the ILS is compiled
    # (kernels.py) and does a unit in about 0.4 ns, the ruin and recreate in
    # 0.65-0.85 ns (its regret greedy is still numpy); docs/solver.md.
    ils_work_per_s: float = 1.6e9  # of the iterated local search
    rr_work_per_s: float = 8e8  # of the ruin and recreate (every visit required)
    gls_failures_per_s: float = 100.0  # failures of OR-Tools' search
    ils_share: float = 0.95  # of the time limit, for problems with optional visits
    rr_share: float = 0.8  # of the time limit, ruin and recreate when every visit is required
    ils_noise: float = 0.2  # relative noise on the greedy score, for diversity
    margin_s: float = 0.15  # kept free for building the answer
    # OR-Tools' first solution when every visit is required (travel only):
    # Clarke-Wright savings started best on Solomon (R1/RC1 10.6 % -> 4.3 %
    # mean gap on the hardest instances, against parallel cheapest insertion).
    required_first_solution: str = "SAVINGS"
    ortools_lns: bool = True  # OR-Tools' heuristic ruin-and-recreate neighbourhoods
    ils_exchange_within: float = 0.9  # exchange sweep for results within this share of the best
    ils_sequence: bool = True  # 2-opt / or-opt of each route after each refill
    ils_relocate: bool = True  # moves of visits between routes (less travel) after each refill
    ils_swap: bool = True  # one-for-one swaps of a served for an unserved visit, in place
    # The ILS greedy's score, value**p / added time: p is one of these two for
    # each shake, drawn in proportion to the new bests each has found.
    ils_powers: tuple[float, float] = (1.0, 2.0)

    def __post_init__(self) -> None:
        check_positive(self, "ils_work_per_s", "rr_work_per_s", "gls_failures_per_s", "margin_s")
        names = routing_enums_pb2.FirstSolutionStrategy.Value.keys()
        if self.required_first_solution not in names:
            raise ParameterError(
                f"SolverParams.required_first_solution: found {self.required_first_solution!r}; "
                f"expected one of OR-Tools' first solution strategies {sorted(names)}"
            )
        powers = self.ils_powers
        if (
            not isinstance(powers, tuple | list)
            or len(powers) != 2
            or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in powers)
            or not 0 < powers[0] <= powers[1]
        ):
            raise ParameterError(
                f"SolverParams.ils_powers: found {powers!r}; expected two numbers 0 < low <= high"
            )
        for name in ("ils_share", "rr_share"):
            share = getattr(self, name)
            if not 0 <= share <= 1:
                raise ParameterError(f"SolverParams.{name}: found {share}; expected 0..1")


@dataclass
class Stop:
    visit: str
    arrival: int
    start: int
    end: int


@dataclass
class RouteResult:
    officer: str
    stops: list[Stop]
    travel: int
    start_time: int  # when the officer leaves the start point
    end_time: int  # when the officer is back at the end point
    value: int


@dataclass
class Unassigned:
    visit: str
    reason: str


@dataclass
class RoutingResult:
    """Routes, skipped visits with reasons, totals and how the search went."""

    routes: list[RouteResult]
    unassigned: list[Unassigned]
    value: int
    travel: int
    status: str  # optimal / feasible / infeasible
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_clock_backstop(clock_backstop: float) -> None:
    """A clock backstop must be a power of two >= 1 (so the budgets stay bit for bit)."""
    if not (
        isinstance(clock_backstop, int | float)
        and 1 <= clock_backstop < math.inf
        and math.frexp(clock_backstop)[0] == 0.5
    ):
        raise ParameterError(
            f"clock_backstop: found {clock_backstop!r}; expected a power of two >= 1 (1, 2, 4, ...)"
        )


def solve_problem(
    problem: dict[str, Any], *, params: SolverParams | None = None, clock_backstop: float = 1.0
) -> dict[str, Any]:
    """Solve a JSON routing problem (see ``docs/solver.md``) and return the solution dict.

    ``clock_backstop`` (a power of two, >= 1) multiplies the wall-clock
    backstop only: the time limit times k with every work rate over k gives
    the same work budgets bit for bit and a clock k times later, so with a
    large k the work budget alone ends the search and a loaded machine gives
    the result of an idle one (batch runs, and comparisons of the solver's
    own variants).
    """
    began = time.perf_counter()
    check_clock_backstop(clock_backstop)
    if clock_backstop != 1.0:
        base = params or SolverParams()
        rates = {
            f.name: getattr(base, f.name) / clock_backstop
            for f in fields(base)
            if f.name.endswith("_per_s")
        }
        params = replace(base, **rates)
        limit = problem.get("time_limit", 1.0)
        if isinstance(limit, int | float) and not isinstance(limit, bool):
            problem = {**problem, "time_limit": limit * clock_backstop}
        # (otherwise read_problem reports the bad time_limit as it is)
    data = read_problem(problem)
    return solve_routing(data, params=params, began=began).to_dict()


def solve_routing(
    data: RoutingData, *, params: SolverParams | None = None, began: float | None = None
) -> RoutingResult:
    """Solve a checked problem.

    Maximise the value collected, then minimise travel; every required visit
    must be served (``status`` is ``infeasible`` otherwise). ``began`` is when
    the caller's clock started (``time.perf_counter``) so that reading the
    problem counts against ``data.time_limit_s``.
    """
    params = params or SolverParams()
    began = time.perf_counter() if began is None else began
    limit = data.time_limit_s
    deadline = began + max(0.01, limit - params.margin_s)
    allowed, reachable, fits = alone_feasibility(data)
    empty: Routes = [[] for _ in range(data.n_officers)]
    has_optional = bool((~data.required & allowed.any(axis=1) & (data.value > 0)).any())

    best = fill_routes(data, empty, allowed, deadline=deadline)
    best_key = _rank(data, best)
    stats: dict[str, Any] = {"ils_iterations": 0, "ortools_failures": 0}
    # Whether the wall clock, not the work budget, ended a phase.
    clock_hit = time.perf_counter() >= deadline
    if has_optional and params.ils_share > 0:
        budget = max(1, math.ceil(params.ils_work_per_s * limit * params.ils_share))
        found, done, units = iterated_local_search(
            data,
            best,
            allowed,
            work_units=budget,
            deadline=deadline,
            seed=data.seed,
            noise=params.ils_noise,
            replace_within=params.ils_exchange_within,
            sequence=params.ils_sequence,
            relocate=params.ils_relocate,
            swap=params.ils_swap,
            powers=params.ils_powers,
        )
        stats["ils_iterations"] = done
        clock_hit |= units < budget
        key = _rank(data, found)
        if key > best_key:
            best, best_key = found, key

    remaining = deadline - time.perf_counter()
    if remaining <= 0.02:
        clock_hit = True
    elif data.n_visits:
        share = 1 - (params.ils_share if has_optional else params.rr_share)
        budget = max(1, math.ceil(params.gls_failures_per_s * limit * share))
        start: Routes | None = best
        if not has_optional:
            start = _required_start(data, allowed, params, deadline)
            if start is not None and params.rr_share > 0:
                budget_rr = max(1, math.ceil(params.rr_work_per_s * limit * params.rr_share))
                start, done, units = ruin_and_recreate(
                    data, start, allowed, work_units=budget_rr, deadline=deadline, seed=data.seed
                )
                stats["rr_iterations"] = done
                clock_hit |= units < budget_rr
            if start is not None and _rank(data, start) > best_key:
                best, best_key = start, _rank(data, start)
            remaining = deadline - time.perf_counter()
        found_or, solutions = improve_with_ortools(
            data,
            start,
            allowed,
            failure_limit=budget,
            time_limit_s=remaining,
            first_solution=(
                "PARALLEL_CHEAPEST_INSERTION" if has_optional else params.required_first_solution
            ),
            lns=params.ortools_lns,
        )
        stats["ortools_failures"] = solutions
        clock_hit |= solutions < budget and time.perf_counter() >= deadline - 0.01
        if found_or is not None:
            found_or = fill_routes(data, found_or, allowed, deadline=deadline + params.margin_s / 2)
            feasible = route_totals(data, found_or)[2]
            if feasible and _rank(data, found_or) > best_key:
                best, best_key = found_or, _rank(data, found_or)
    stats["stopped_by"] = "time_limit" if clock_hit else "work_budget"
    return _result(data, best, allowed, reachable, fits, stats)


def _rank(data: RoutingData, routes: Routes) -> tuple[int, int, int]:
    """Order of solutions: required visits served, then value, then least travel."""
    value, travel, _ = route_totals(data, routes)
    required = sum(int(data.required[r].sum()) for r in routes if r)
    return required, value, -travel


def _required_start(
    data: RoutingData, allowed: np.ndarray, params: SolverParams, deadline: float
) -> Routes | None:
    """A travel-minimising start when every visit is required.

    OR-Tools' own first solution (savings: measured better than the
    value-driven greedy on Solomon), then our numpy relocate descent, which
    makes in a few milliseconds the moves OR-Tools' first-improvement
    scans need seconds for. ``None`` (let OR-Tools start on its own) when
    that leaves a required visit out.
    """
    remaining = deadline - time.perf_counter()
    first, _ = improve_with_ortools(
        data,
        None,
        allowed,
        failure_limit=1,  # the first solution, not its local search
        time_limit_s=remaining / 4,
        first_solution=params.required_first_solution,
        lns=False,
    )
    if first is None:
        return None
    routes = fill_routes(data, first, allowed, deadline=deadline)
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    if (data.required & allowed.any(axis=1) & ~served).any():
        return None
    return relocate_descent(data, routes, allowed, deadline=deadline)


def _insertion_travel(data: RoutingData, routes: Routes, v: int) -> int:
    """Cheapest extra travel to fit visit ``v`` into any route, windows ignored."""
    t = data.durations
    loc = data.visit_location[v]
    best = None
    for k, r in enumerate(routes):
        path = [data.officer_start[k], *data.visit_location[r], data.officer_end[k]]
        p = np.array(path)
        extra = t[p[:-1], loc] + t[loc, p[1:]] - t[p[:-1], p[1:]]
        cost = int(extra.min())
        best = cost if best is None else min(best, cost)
    return max(0, best or 0)


def _result(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    reachable: np.ndarray,
    fits: np.ndarray,
    stats: dict[str, Any],
) -> RoutingResult:
    t = data.durations
    out_routes = []
    served = np.zeros(data.n_visits, dtype=bool)
    chosen_ratio: list[float] = []
    total_travel = 0
    for k, r in enumerate(routes):
        s = schedule_route(data, k, r)
        # Leave later instead of waiting at the first door: nothing else moves.
        delay = int(s.start[0] - s.arrival[0]) if r else 0
        arrival = s.arrival.copy()
        if r:
            arrival[0] += delay
        stops = [
            Stop(data.visit_ids[v], int(arrival[j]), int(s.start[j]), int(s.end[j]))
            for j, v in enumerate(r)
        ]
        locs = [
            int(data.officer_start[k]),
            *map(int, data.visit_location[r]),
            int(data.officer_end[k]),
        ]
        for j, v in enumerate(r):
            served[v] = True
            if not data.required[v]:
                saving = (
                    t[locs[j], locs[j + 1]] + t[locs[j + 1], locs[j + 2]] - t[locs[j], locs[j + 2]]
                )
                chosen_ratio.append(float(data.value[v] / max(1, data.service[v] + saving)))
        total_travel += s.travel
        out_routes.append(
            RouteResult(
                data.officer_ids[k],
                stops,
                s.travel,
                int(data.shift_start[k]) + delay,
                s.end_time,
                int(data.value[r].sum()) if r else 0,
            )
        )
    floor = min(chosen_ratio) if chosen_ratio else math.inf
    unassigned = []
    for v in map(int, np.flatnonzero(~served)):
        if not allowed[v].any():
            if not fits[v].any():
                reason = "over_capacity"
            elif not reachable[v].any():
                reason = "unreachable"
            else:
                reason = "outside_window"
        elif data.required[v]:
            reason = "no_time"
        elif data.value[v] == 0:
            reason = "less_valuable"
        else:
            ratio = data.value[v] / max(1, data.service[v] + _insertion_travel(data, routes, v))
            reason = "less_valuable" if ratio < floor else "no_time"
        unassigned.append(Unassigned(data.visit_ids[v], reason))
    value = int(data.value[served].sum())
    if (~served & data.required).any():
        status = "infeasible"
    elif served.all() and total_travel == 0:
        status = "optimal"  # every visit served with no travel at all: nothing to improve
    else:
        status = "feasible"
    return RoutingResult(out_routes, unassigned, value, total_travel, status, stats)
