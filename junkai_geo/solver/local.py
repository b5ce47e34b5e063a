"""Fast route construction and iterated local search in numpy.

Routes are lists of visit indices, one list per officer. The schedule of a
route is the earliest one: leave at the start of the shift, start each visit
as soon as one of its windows allows, wait otherwise. Feasibility of an
insertion is checked in O(1) per (visit, position) pair with the latest start
of every stop that keeps the rest of the route feasible, computed backwards;
all pairs of a route are evaluated at once as numpy arrays.

The iterated local search follows Vansteenwegen et al. (2009), "Iterated
local search for the team orienteering problem with time windows": greedy
insertion by value^2 / added time, then a shake that removes a run of
consecutive visits from each route, with run length and position that grow
while no better solution is found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import kernels
from .problem import (
    NO_TIME,
    RoutingData,
)

Routes = list[list[int]]


@dataclass
class Schedule:
    """Earliest schedule of one route."""

    arrival: np.ndarray
    start: np.ndarray
    end: np.ndarray
    end_time: int  # arrival back at the officer's end point
    travel: int
    feasible: bool


def _single_window(data: RoutingData) -> bool:
    return int(data.window_open.shape[1]) == 1


def _route_args(data: RoutingData, k: int, route: list[int], *, shift_end: bool = False) -> tuple:
    """The arguments the route kernels share: the problem's arrays, the route, officer k's
    start and end points and shift start (and shift end with ``shift_end``)."""
    args = (
        data.durations,
        data.visit_location,
        data.service,
        data.demand,
        data.window_open,
        data.window_close,
        np.array(route, dtype=np.int64),
        int(data.officer_start[k]),
        int(data.officer_end[k]),
        int(data.shift_start[k]),
    )
    return (*args, int(data.shift_end[k])) if shift_end else args


def schedule_route(
    data: RoutingData, k: int, route: list[int], work: Work | None = None
) -> Schedule:
    """Earliest schedule of officer ``k`` serving ``route`` in order."""
    if work is not None:
        work.units += SCHEDULE_NS
    arrival, start, end, end_time, travel, ok, load = kernels.schedule(*_route_args(data, k, route))
    feasible = ok and end_time <= data.shift_end[k] and load <= data.capacity[k]
    return Schedule(arrival, start, end, int(end_time), int(travel), bool(feasible))


def _route_state(data: RoutingData, k: int, route: list[int]) -> tuple:
    """:func:`.kernels.route_state` of officer ``k``'s route, its feasibility judged.

    (schedule, latest, prev_loc, next_loc, depart, load): the latest starts
    and the three arrays over the ``len(route) + 1`` insertion positions.
    """
    arrival, start, end, end_time, travel, ok, load, latest, prev_loc, next_loc, depart = (
        kernels.route_state(*_route_args(data, k, route, shift_end=True))
    )
    feasible = ok and end_time <= data.shift_end[k] and load <= data.capacity[k]
    schedule = Schedule(arrival, start, end, int(end_time), int(travel), bool(feasible))
    return schedule, latest, prev_loc, next_loc, depart, int(load)


#: The work model: what each step costs, in nanoseconds of the machine the
#: solver's rates were set on (:class:`Work`). Least squares over 18 searches
#: of different shapes (orienteering with one long route, team orienteering
#: with 2-4 routes, Solomon 1-series windows, Kanazawa days of 60 to 2,218
#: candidate visits): every search's time predicted within 12 %. Counting
#: pairs alone overcounted long single routes 2.4x and undercounted large
#: candidate sets 4.6x (docs/solver.md).
REFRESH_NS = 71_000  # one route refresh (its schedule and latest starts), plus
PAIR_NS = 28  # each (candidate visit, position) pair evaluated
TABLE_NS = 86_000  # one exchange screen, plus
TABLE_CELL_NS = 13  # each cell of its tables
SEQUENCE_NS = 215_000  # one 2-opt / or-opt round, plus
SEQUENCE_CELL_NS = 20  # each (edge, edge) pair of its 4 tables
SCHEDULE_NS = 19_000  # one route replayed (windows, shift, capacity)


class Work:
    """A deterministic measure of the search effort spent, used as its stopping rule.

    Units are nanoseconds of the reference machine (:data:`REFRESH_NS` ...);
    the same inputs always spend the same units, whatever the load.
    """

    def __init__(self) -> None:
        self.units = 0


class RouteCache:
    """Best insertion of every visit (or of the ``candidates``) into one route, kept up to date.

    With ``candidates`` (a boolean mask over visits) only those are
    evaluated; the others get no feasible insertion (``NO_TIME``).
    """

    def __init__(
        self,
        data: RoutingData,
        k: int,
        route: list[int],
        work: Work | None = None,
        candidates: np.ndarray | None = None,
        *,
        travel: bool = True,
    ) -> None:
        self.data, self.k, self.route, self.work = data, k, route, work
        self.travel = travel  # also the cheapest insertion by travel (pos_travel, best_travel)
        self.refresh(candidates)

    def refresh(self, candidates: np.ndarray | None = None) -> None:
        data, k, route = self.data, self.k, self.route
        n = data.n_visits
        cand = np.arange(n) if candidates is None else np.flatnonzero(candidates)
        if self.work is not None:
            # The refresh, its pairs and the route's schedule.
            self.work.units += REFRESH_NS + PAIR_NS * len(cand) * (len(route) + 1) + SCHEDULE_NS
        # Latest start at each stop keeping the rest feasible, then at the end point.
        self.schedule, self.latest, self.prev_loc, self.next_loc, self.depart, self.load = (
            _route_state(data, k, route)
        )
        big = np.int64(NO_TIME)
        self.pos_time = np.zeros(n, dtype=np.int64)
        self.best_time = np.full(n, big, dtype=np.int64)
        self.pos_travel = np.zeros(n, dtype=np.int64)
        self.best_travel = np.full(n, big, dtype=np.int64)
        if not len(cand):
            return
        room = int(data.capacity[k]) - self.load if data.has_capacity else int(NO_TIME)
        kernels.best_insertions(
            data.durations,
            data.visit_location,
            data.service,
            data.demand,
            data.window_open,
            data.window_close,
            cand,
            self.prev_loc,
            self.next_loc,
            self.depart,
            self.latest,
            room,
            self.pos_time,
            self.best_time,
            self.pos_travel,
            self.best_travel,
            self.travel,
        )


def fill_routes(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
    work: Work | None = None,
    deadline: float | None = None,
    power: float = 2.0,
) -> Routes:
    """Insert unserved visits greedily until nothing more fits.

    Required visits first, by regret of their cheapest travel insertion;
    then optional ones by ``value**power / added time`` (with optional
    multiplicative noise for diversity): the square favours valuable visits,
    the first power value per second (the better when service times fill
    the shift, a knapsack). Stops early at ``deadline`` (a
    ``time.perf_counter`` value), the routes staying feasible.
    """
    routes = [list(r) for r in routes]
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    any_required = bool(data.required.any())
    caches = [
        RouteCache(data, k, r, work, ~served & allowed[:, k], travel=any_required)
        for k, r in enumerate(routes)
    ]
    big = np.int64(NO_TIME)
    weighted = data.value.astype(np.float64) ** power
    allowed_any = allowed.any(axis=1)
    optional = ~data.required
    no_draws = np.zeros(0)
    # Least added time of each visit on each officer (NO_TIME where not allowed).
    bt = np.stack([np.where(allowed[:, k], c.best_time, big) for k, c in enumerate(caches)])
    while deadline is None or time.perf_counter() < deadline:
        open_ = ~served & allowed_any
        if not open_.any():
            break
        req = open_ & data.required
        if any_required and req.any():
            travel = np.stack(
                [np.where(allowed[:, k], c.best_travel, big) for k, c in enumerate(caches)], axis=1
            )
        if any_required and req.any() and (travel[req] < big).any():
            tr = travel.copy()
            tr[~req] = big
            order = np.sort(tr, axis=1)
            second = order[:, 1] if order.shape[1] > 1 else np.full(len(tr), big)
            regret = np.where(order[:, 0] < big, np.minimum(second, big) - order[:, 0], -1)
            v = int(np.lexsort((order[:, 0], -regret))[0])
            k = int(tr[v].argmin())
            pos = int(caches[k].pos_travel[v])
        else:
            pickable = open_ & optional
            v, k = kernels.pick_optional(bt, pickable, weighted, no_draws, float(noise))
            if v < 0:
                break  # (before drawing: the draws of a seed stay those of the numpy greedy)
            if rng is not None and noise > 0:
                draws = rng.random(len(open_))
                v, k = kernels.pick_optional(bt, pickable, weighted, draws, float(noise))
            pos = int(caches[k].pos_time[v])
        routes[k].insert(pos, v)
        served[v] = True
        caches[k].route = routes[k]
        # An insertion only makes a route later and tighter: a visit that fitted
        # nowhere before it fits nowhere after it (on a matrix that keeps the
        # triangle inequality; elsewhere it waits for the next fill).
        caches[k].refresh(~served & (caches[k].best_time < big))
        bt[k] = np.where(allowed[:, k], caches[k].best_time, big)
    return routes


def swap_visits(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    work: Work | None = None,
    max_rounds: int = 50,
) -> Routes:
    """Put an unserved visit in the very place of a served one when it is worth more.

    Each (stop, unserved visit) pair of a route is checked at once as arrays:
    the stops before it keep their times and the stops after it their latest
    starts, so the swap is feasible iff the next stop is reached by its
    latest start (and capacity holds). The best swap by value gained, then by
    time saved (an equal value that arrives earlier at the next stop also
    counts, leaving room for the refill), is made and the route refreshed,
    until no swap gains. Far cheaper than :func:`replace_visits` (one route
    refresh per swap made rather than one per stop tried), at the price of
    keeping the new visit in the old one's place.
    """
    routes = [list(r) for r in routes]
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    value = data.value
    for k, r in enumerate(routes):
        if not r:
            continue
        for _ in range(max_rounds):
            open_ = ~served & allowed[:, k] & ~data.required
            cand = np.flatnonzero(open_)
            if not len(cand):
                break
            if work is not None:
                # A route refresh with no candidates, then every (stop, visit) pair.
                work.units += REFRESH_NS + SCHEDULE_NS + PAIR_NS * len(cand) * len(r)
            _, latest, prev_loc, next_loc, depart, load = _route_state(data, k, r)
            a, j = kernels.best_swap(
                data.durations,
                data.visit_location,
                data.service,
                data.demand,
                value,
                data.required,
                data.window_open,
                data.window_close,
                np.array(r, dtype=np.int64),
                cand,
                prev_loc,
                next_loc,
                depart,
                latest,
                int(data.capacity[k]) - load,
            )
            if a < 0:
                break
            u = int(cand[a])
            served[r[j]], served[u] = False, True
            r[j] = u
    return routes


def replace_visits(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    work: Work | None = None,
    deadline: float | None = None,
) -> tuple[Routes, bool]:
    """Swap served optional visits for more valuable unserved ones that fit in their place.

    For each stop in turn: take it out, and put in instead the unserved
    visit of the highest value that now fits (at its cheapest place in
    time), when that value is higher. The freed time often lets the greedy
    refill add more visits after it; a shake that removes consecutive
    visits rarely finds such an exchange. When no more valuable visit fits,
    the stop is moved to its cheapest place in time if the route then ends
    earlier. First improvement, one sweep. Returns the new routes and
    whether anything changed.

    With one window per visit every stop's removal is evaluated at once
    (:func:`_replace_table`, one array pass per change made instead of one
    route refresh per stop); otherwise stop by stop (:func:`_replace_one`).
    Both make the same moves.
    """
    routes = [list(r) for r in routes]
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    changed = False
    scan = _single_window(data)
    for k, r in enumerate(routes):
        j = 0
        while j < len(r):
            if deadline is not None and time.perf_counter() >= deadline:
                return routes, changed
            if scan:
                found = _replace_table(data, k, r, j, served, allowed, work)
                if found is None:
                    break
                j = found
            new = _replace_one(data, k, r, j, served, allowed, work)
            if new is not None:
                routes[k] = r = new
                changed = True
            j += 1
    return routes, changed


def _replace_one(
    data: RoutingData,
    k: int,
    r: list[int],
    j: int,
    served: np.ndarray,
    allowed: np.ndarray,
    work: Work | None,
) -> list[int] | None:
    """The move of :func:`replace_visits` for stop ``j`` of route ``r`` (``served`` updated)."""
    value = data.value
    s = r[j]
    if data.required[s]:
        return None
    trial = r[:j] + r[j + 1 :]
    wanted = ~served & allowed[:, k] & ~data.required & (value > value[s])
    wanted[s] = True
    cache = RouteCache(data, k, trial, work, wanted, travel=False)
    cand = wanted & (cache.best_time < NO_TIME)
    cand[s] = False
    if not cand.any():
        # No better visit fits: still move ``s`` to its cheapest place in time
        # when that ends the route earlier, so that the refill finds more room.
        if cache.best_time[s] < NO_TIME:
            moved = trial[:]
            moved.insert(int(cache.pos_time[s]), s)
            if moved != r:
                new = schedule_route(data, k, moved, work)
                if new.feasible and new.end_time < schedule_route(data, k, r, work).end_time:
                    return moved
        return None
    # Highest value first, then the least added time.
    key = np.where(cand, value * np.int64(2**32) - cache.best_time, np.iinfo(np.int64).min)
    u = int(key.argmax())
    trial.insert(int(cache.pos_time[u]), u)
    served[s], served[u] = False, True
    return trial


#: Stops removed per array pass of :func:`_replace_table`.
TABLE_STOPS = 6


def _replace_table(
    data: RoutingData,
    k: int,
    r: list[int],
    first: int,
    served: np.ndarray,
    allowed: np.ndarray,
    work: Work | None,
) -> int | None:
    """The first stop ``j >= first`` where :func:`_replace_one` may move something, or None.

    For each stop the route without it is rebuilt in compiled code
    (:func:`.kernels.exchange_screen`: the stops before it keep their
    departures and the stops after it their latest starts; the others are
    recomputed), and the stop is a hit when it has a cheapest place other
    than its own or when an unserved visit worth more fits in the route
    without it. Only a screen: the stop it returns is handled by
    :func:`_replace_one`, which makes the move only if it holds, so the
    moves are those of the stop-by-stop sweep (a property test compares
    both) with one route refresh per hit instead of one per stop.
    """
    m = len(r)
    ra = np.array(r, dtype=np.int64)
    movable = ~data.required[ra]
    movable[:first] = False
    if not movable.any():
        return None
    if work is not None:
        work.units += SCHEDULE_NS  # the route's schedule
    _, latest, _, _, depart, load = _route_state(data, k, r)
    open_ = np.flatnonzero(~served & allowed[:, k] & ~data.required)
    found, cells = kernels.exchange_screen(
        data.durations,
        data.visit_location,
        data.service,
        data.demand,
        data.value,
        data.window_open,
        data.window_close,
        ra,
        movable,
        depart,
        latest,
        open_,
        int(data.officer_start[k]),
        int(data.officer_end[k]),
        int(data.capacity[k]) - load,
        first,
        TABLE_STOPS,
    )
    if work is not None:
        # The work model of the array screen this replaced (same units, same budgets).
        work.units += TABLE_NS + TABLE_CELL_NS * (4 * m * m + int(cells))
    return None if found < 0 else int(found)


def _path(data: RoutingData, k: int, route: list[int]) -> np.ndarray:
    return np.array(
        [data.officer_start[k], *data.visit_location[route], data.officer_end[k]], dtype=np.int64
    )


def improve_route(
    data: RoutingData,
    k: int,
    route: list[int],
    *,
    work: Work | None = None,
    max_checks: int = 8,
) -> list[int]:
    """Shorten one route by 2-opt and or-opt moves (best first) while they stay feasible.

    Every reversal and every move of a run of 1-3 stops is scored
    (:func:`.kernels.sequence_moves`; the reversed stretch's legs costed
    backwards, for asymmetric matrices); the best ones are replayed (:func:`schedule_route`, windows and
    shift) until one is feasible, at most ``max_checks`` per round. The
    route keeps its visits: only their order changes, for less travel, which
    leaves room for more visits.
    """
    t = data.durations
    r = list(route)
    if len(r) < 2:
        return r
    while True:
        path = _path(data, k, r)
        if work is not None:
            work.units += SEQUENCE_NS + SEQUENCE_CELL_NS * 4 * len(path) ** 2
        two, orr = kernels.sequence_moves(t, path, max_checks, 3)
        moves: list[tuple[int, list[int]]] = []
        for g, a, b in two.tolist():
            moves.append((g, r[:a] + r[a : b + 1][::-1] + r[b + 1 :]))
        for g, first, length, edge in orr.tolist():
            run = r[first : first + length]
            rest = r[:first] + r[first + length :]
            at = edge if edge < first else edge - length
            moves.append((g, rest[:at] + run + rest[at:]))
        moves.sort(key=lambda x: -x[0])
        for _, trial in moves[:max_checks]:
            if schedule_route(data, k, trial, work).feasible:
                r = trial
                break
        else:
            return r


def relocate_descent(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    work: Work | None = None,
    deadline: float | None = None,
) -> Routes:
    """Move single visits to another route while that saves travel (best move first).

    Every (visit, other route) pair is scored at once: the travel its removal
    saves minus its cheapest feasible insertion elsewhere (windows and
    capacity checked by :class:`RouteCache`). Ends at a local optimum, or at
    ``deadline``. Meant as a fast descent before OR-Tools' slower one: its
    first-improvement scans need thousands of moves from a savings start.
    """
    routes = [list(r) for r in routes]
    if len(routes) < 2:
        return routes
    t = data.durations
    n = data.n_visits
    in_routes = np.zeros(n, dtype=bool)
    for r in routes:
        in_routes[r] = True
    caches = [RouteCache(data, k, r, work, in_routes) for k, r in enumerate(routes)]
    big = np.int64(NO_TIME)
    banned = np.zeros((n, len(routes)), dtype=bool)
    while deadline is None or time.perf_counter() < deadline:
        route_of = np.full(n, -1, dtype=np.int64)
        saving = np.zeros(n, dtype=np.int64)
        for k, r in enumerate(routes):
            if not r:
                continue
            path = np.array(
                [data.officer_start[k], *data.visit_location[r], data.officer_end[k]],
                dtype=np.int64,
            )
            saving[r] = t[path[:-2], path[1:-1]] + t[path[1:-1], path[2:]] - t[path[:-2], path[2:]]
            route_of[r] = k
        cost = np.stack(
            [np.where(allowed[:, k], c.best_travel, big) for k, c in enumerate(caches)], axis=1
        )
        served = route_of >= 0
        cost[served, route_of[served]] = big
        cost[~served] = big
        cost[banned] = big
        gain = np.where(cost < big, saving[:, None] - cost, -1)
        flat = int(gain.argmax())
        v, b = divmod(flat, len(routes))
        if gain[v, b] <= 0:
            break
        a = int(route_of[v])
        shorter = [x for x in routes[a] if x != v]
        if not schedule_route(data, a, shorter, work).feasible:
            banned[v, b] = True  # removal breaks a window (non-metric matrix)
            continue
        routes[b].insert(int(caches[b].pos_travel[v]), v)
        routes[a] = shorter
        for k in (a, b):
            caches[k].route = routes[k]
            caches[k].refresh(in_routes)
        banned[:] = False
    return routes


def ruin_and_recreate(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    work_units: int,
    deadline: float,
    seed: int,
    min_removed: int = 5,
    max_removed: int = 15,
    threshold: float = 0.01,
    strings: bool = True,
) -> tuple[Routes, int, int]:
    """Travel-minimising search when every visit must be served.

    Each iteration removes a visit and its nearest served neighbours (a
    spatial ruin, as in Christiaens & Vanden Berghe's SISR), puts them back
    by regret insertion (:func:`fill_routes`), then runs
    :func:`relocate_descent`. A result is accepted when within a threshold
    above the current travel that falls linearly to zero over the budget.
    Returns the best routes, the iterations run and the work units spent.
    """
    rng = np.random.default_rng(seed)
    work = Work()
    t = data.durations
    loc = data.visit_location
    best = [list(r) for r in routes]
    best_travel = route_totals(data, best)[1]
    current, current_travel = best, best_travel
    done = 0
    while work.units < work_units and time.perf_counter() < deadline:
        done += 1
        served = np.array([v for r in current for v in r], dtype=np.int64)
        if len(served) < 2:
            break
        centre = int(served[rng.integers(len(served))])
        q = int(rng.integers(min_removed, max_removed + 1))
        near = served[np.argsort(t[loc[centre], loc[served]], kind="stable")[:q]]
        removed = set(map(int, near))
        if strings:
            # Widen to strings: in each route, everything between the first
            # and last removed stop goes too, so the recreate can re-sequence
            # a stretch of a long route, not only re-place single visits.
            for r in current:
                hit = [j for j, v in enumerate(r) if v in removed]
                if len(hit) > 1 and hit[-1] - hit[0] < 2 * max_removed:
                    removed.update(r[hit[0] : hit[-1] + 1])
        shaken = [[v for v in r if v not in removed] for r in current]
        new = fill_routes(data, shaken, allowed, work=work, deadline=deadline)
        if sum(map(len, new)) < len(served):
            continue  # could not put everything back: reject
        new = relocate_descent(data, new, allowed, work=work, deadline=deadline)
        travel = route_totals(data, new, work)[1]
        left = max(0.0, 1.0 - work.units / max(1, work_units))
        if travel <= current_travel * (1.0 + threshold * left):
            current, current_travel = new, travel
            if travel < best_travel:
                best, best_travel = new, travel
    return best, done, work.units


def route_totals(
    data: RoutingData, routes: Routes, work: Work | None = None
) -> tuple[int, int, bool]:
    """(value, travel, feasible) of a set of routes."""
    value = travel = 0
    feasible = True
    for k, r in enumerate(routes):
        s = schedule_route(data, k, r, work)
        value += int(data.value[r].sum()) if r else 0
        travel += s.travel
        feasible &= s.feasible
    return value, travel, feasible


def better(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Is (value, travel) ``a`` strictly better than ``b``: more value, then less travel."""
    return a[0] > b[0] or (a[0] == b[0] and a[1] < b[1])


def iterated_local_search(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    work_units: int,
    deadline: float,
    seed: int,
    noise: float = 0.1,
    restart_after: int = 30,
    replace_within: float = 0.9,
    sequence: bool = True,
    relocate: bool = True,
    swap: bool = True,
    powers: tuple[float, float] = (1.0, 2.0),
) -> tuple[Routes, int, int]:
    """Improve collected value by shake-and-refill.

    Returns the best routes, the iterations run and the work units spent.

    Stops once ``work_units`` of :class:`Work` are spent (deterministic) or
    at ``deadline`` (a ``time.perf_counter`` value), whichever comes first.
    """
    rng = np.random.default_rng(seed)
    work = Work()
    best = fill_routes(data, routes, allowed, work=work, deadline=deadline, power=powers[1])
    best_key = route_totals(data, best)[:2]
    # The greedy's weight on value: value squared per second, or value per
    # second (better when service times fill the shift, a knapsack). Each
    # shake draws one, in proportion to the new bests each has found.
    wins = [1, 1]
    if powers[0] != powers[1]:
        other = fill_routes(data, routes, allowed, work=work, deadline=deadline, power=powers[0])
        if better(route_totals(data, other)[:2], best_key):
            best, best_key = other, route_totals(data, other)[:2]
            wins[0] += 1
    current = [list(r) for r in best]
    size, pos, stale = 1, 0, 0
    done = 0

    def refill(routes: Routes, mask: np.ndarray, power: float) -> Routes:
        """The shake's refill: the greedy with this search's noise, work and deadline."""
        return fill_routes(
            data, routes, mask, rng=rng, noise=noise, work=work, deadline=deadline, power=power
        )

    while work.units < work_units and time.perf_counter() < deadline:
        done += 1
        arm = 1
        if powers[0] != powers[1]:
            share = min(0.9, max(0.1, wins[0] / (wins[0] + wins[1])))
            arm = 0 if rng.random() < share else 1
        power = powers[arm]
        shaken: Routes = []
        removed = np.zeros(data.n_visits, dtype=bool)
        for r in current:
            if not r:
                shaken.append([])
                continue
            start = (pos + int(rng.integers(0, 2))) % len(r)
            cut = set(range(start, start + size))
            keep = [v for j, v in enumerate(r) if j not in cut or data.required[v]]
            removed[[v for v in r if v not in keep]] = True
            shaken.append(keep)

        # Refill first without what was just removed, so that the search moves
        # elsewhere instead of rebuilding the same routes, then with everything.
        current = refill(shaken, allowed & ~removed[:, None], power)
        if not (sequence or relocate or swap):
            current = refill(current, allowed, power)
        if relocate and len(current) > 1:
            current = relocate_descent(data, current, allowed, work=work, deadline=deadline)
        if sequence:
            current = [improve_route(data, k, r, work=work) for k, r in enumerate(current)]
        if swap:
            current = swap_visits(data, current, allowed, work=work)
        if sequence or relocate or swap:
            current = refill(current, allowed, power)
        key = route_totals(data, current, work)[:2]
        # Exchanges are costly (one route refresh per stop): only near the best.
        if key[0] >= replace_within * best_key[0]:
            for _ in range(3):
                current, changed = replace_visits(
                    data, current, allowed, work=work, deadline=deadline
                )
                if not changed:
                    break
                current = refill(current, allowed, power)
            key = route_totals(data, current, work)[:2]
        if better(key, best_key):
            best, best_key = [list(r) for r in current], key
            size, stale = 1, 0
            wins[arm] += 1
        else:
            size += 1
            stale += 1
        pos += size
        longest = max((len(r) for r in current), default=1)
        if size > max(1, longest // 2):
            size = 1
        if stale >= restart_after:
            current = [list(r) for r in best]
            stale = 0
            pos = int(rng.integers(0, max(1, longest)))
    return best, done, work.units
