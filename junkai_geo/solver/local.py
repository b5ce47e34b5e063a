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

from .problem import (
    NO_TIME,
    RoutingData,
    earliest_start,
    earliest_start_one,
    python_lists,
    visit_windows,
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


#: Routes at least this long are scheduled with array scans rather than a
#: Python loop (when every visit has one window): below it the loop is faster
#: (measured: the scan costs ~15 us whatever the length, the loop ~0.5 us a stop).
SCAN_FROM = 40


def _single_window(data: RoutingData) -> bool:
    return int(data.window_open.shape[1]) == 1


def _legs(data: RoutingData, k: int, route: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(route as an array, travel of the ``len(route) + 1`` legs from start to end)."""
    r = np.array(route, dtype=np.int64)
    path = np.empty(len(r) + 2, dtype=np.int64)
    path[0], path[-1] = data.officer_start[k], data.officer_end[k]
    path[1:-1] = data.visit_location[r]
    return r, data.durations[path[:-1], path[1:]]


def _schedule_scan(data: RoutingData, k: int, route: list[int]) -> Schedule:
    """:func:`schedule_route` for one window per visit, as array scans.

    With ``C[j]`` the arrival at stop ``j`` if nobody waited, the start is
    ``C[j]`` plus the waiting accumulated so far, ``max(0, max_{i <= j}
    (open_i - C[i]))``: one ``maximum.accumulate``. A stop reached after its
    window closes makes the route infeasible and keeps its arrival as start,
    as in the loop.
    """
    r, legs = _legs(data, k, route)
    svc = data.service[r]
    opening = data.window_open[r, 0]
    closing = data.window_close[r, 0]
    steps = legs[:-1].copy()
    steps[1:] += svc[:-1]
    c = int(data.shift_start[k]) + np.cumsum(steps)
    wait = np.maximum(np.maximum.accumulate(opening - c), 0)
    start = c + wait
    arrival = c.copy()
    arrival[1:] += wait[:-1]
    end = start + svc
    end_time = int(end[-1] + legs[-1])
    feasible = (
        bool((start <= closing).all())
        and end_time <= data.shift_end[k]
        and int(data.demand[r].sum()) <= data.capacity[k]
    )
    return Schedule(arrival, start, end, end_time, int(legs.sum()), feasible)


def schedule_route(
    data: RoutingData, k: int, route: list[int], work: Work | None = None
) -> Schedule:
    """Earliest schedule of officer ``k`` serving ``route`` in order."""
    if work is not None:
        work.units += SCHEDULE_NS
    if len(route) >= SCAN_FROM and _single_window(data):
        return _schedule_scan(data, k, route)
    location, service, demand = python_lists(data)
    leg_of = data.durations.item
    windows = visit_windows(data)
    m = len(route)
    arrival = [0] * m
    start = [0] * m
    end = [0] * m
    now = int(data.shift_start[k])
    prev = int(data.officer_start[k])
    travel = 0
    feasible = True
    load = 0
    no_time = int(NO_TIME)
    for j, v in enumerate(route):
        loc = location[v]
        leg = leg_of(prev, loc)
        travel += leg
        a = now + leg
        s = earliest_start_one(windows[v], a)
        if s >= no_time:
            feasible = False
            s = a
        arrival[j], start[j] = a, s
        now = s + service[v]
        end[j] = now
        prev = loc
        load += demand[v]
    home = int(data.officer_end[k])
    back = leg_of(prev, home)
    travel += back
    end_time = now + back
    feasible = feasible and end_time <= data.shift_end[k] and load <= data.capacity[k]
    return Schedule(
        np.array(arrival, dtype=np.int64),
        np.array(start, dtype=np.int64),
        np.array(end, dtype=np.int64),
        end_time,
        travel,
        bool(feasible),
    )


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
            self.work.units += REFRESH_NS + PAIR_NS * len(cand) * (len(route) + 1)
        t = data.durations
        sched = schedule_route(data, k, route, self.work)
        self.schedule = sched
        locs = data.visit_location[route] if route else np.zeros(0, dtype=np.int64)
        prev_loc = np.concatenate([[data.officer_start[k]], locs])
        next_loc = np.concatenate([locs, [data.officer_end[k]]])
        depart = np.concatenate([[data.shift_start[k]], sched.end])
        # Latest start at each stop keeping the rest feasible, then at the end point.
        latest = _latest_loop(data, k, route)
        self.latest, self.depart = latest, depart
        self.prev_loc, self.next_loc = prev_loc, next_loc
        self.load = int(data.demand[route].sum()) if route else 0
        big = np.int64(NO_TIME)
        self.pos_time = np.zeros(n, dtype=np.int64)
        self.best_time = np.full(n, big, dtype=np.int64)
        self.pos_travel = np.zeros(n, dtype=np.int64)
        self.best_travel = np.full(n, big, dtype=np.int64)
        if not len(cand):
            return
        cl = data.visit_location[cand]
        to_cand = t[prev_loc[None, :], cl[:, None]]  # (c, m + 1)
        from_cand = t[cl[:, None], next_loc[None, :]]
        arrive = depart[None, :] + to_cand
        if _single_window(data):
            start = np.maximum(arrive, data.window_open[cand, :1])
            ok = arrive <= data.window_close[cand, :1]
        else:
            start = earliest_start(data, cand[:, None], arrive)
            ok = start < NO_TIME
        arrive_next = start + from_cand
        arrive_next += data.service[cand][:, None]
        ok &= arrive_next <= latest[None, :]
        if data.has_capacity:
            ok &= (self.load + data.demand[cand] <= data.capacity[k])[:, None]
        skip = t[prev_loc, next_loc]
        arrive_next -= depart + skip  # the added time
        key_time = np.where(ok, arrive_next, big)
        rows = np.arange(len(cand))
        pos = key_time.argmin(axis=1)
        self.pos_time[cand] = pos
        self.best_time[cand] = key_time[rows, pos]
        if self.travel:
            key_travel = np.where(ok, to_cand + from_cand - skip[None, :], big)
            pos = key_travel.argmin(axis=1)
            self.pos_travel[cand] = pos
            self.best_travel[cand] = key_travel[rows, pos]


def _latest_loop(data: RoutingData, k: int, route: list[int]) -> np.ndarray:
    """Latest start of each stop (then of the return) that keeps the rest of the route feasible.

    Backwards from the end of the shift; a stop whose bound falls before
    every window opens gets -1, and so does every stop before it.
    """
    location, service, _ = python_lists(data)
    windows = visit_windows(data)
    leg = data.durations.item
    late = [0] * (len(route) + 1)
    late[-1] = after = int(data.shift_end[k])
    nxt = int(data.officer_end[k])
    for j in range(len(route) - 1, -1, -1):
        v = route[j]
        here = location[v]
        bound = after - leg(here, nxt) - service[v]
        best = -1
        for lo, hi in windows[v]:
            if lo <= bound:
                point = hi if hi < bound else bound
                if point > best:
                    best = point
        late[j] = after = best
        nxt = here
    return np.array(late, dtype=np.int64)


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
    while deadline is None or time.perf_counter() < deadline:
        open_ = ~served & allowed.any(axis=1)
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
            opt = open_ & ~data.required
            tm = np.stack(
                [np.where(allowed[:, k], c.best_time, big) for k, c in enumerate(caches)], axis=1
            )
            tm[~opt] = big
            best_k = tm.argmin(axis=1)
            best = tm[np.arange(len(tm)), best_k]
            feas = best < big
            if not feas.any():
                break
            score = np.where(feas, weighted / np.maximum(best, 1), -1.0)
            if rng is not None and noise > 0:
                score = np.where(feas, score * (1.0 + noise * rng.random(len(score))), -1.0)
            v = int(score.argmax())
            k = int(best_k[v])
            pos = int(caches[k].pos_time[v])
        routes[k].insert(pos, v)
        served[v] = True
        caches[k].route = routes[k]
        # An insertion only makes a route later and tighter: a visit that fitted
        # nowhere before it fits nowhere after it (on a matrix that keeps the
        # triangle inequality; elsewhere it waits for the next fill).
        caches[k].refresh(~served & (caches[k].best_time < big))
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
    t = data.durations
    value = data.value
    for k, r in enumerate(routes):
        if not r:
            continue
        for _ in range(max_rounds):
            open_ = ~served & allowed[:, k] & ~data.required
            cand = np.flatnonzero(open_)
            if not len(cand):
                break
            c = RouteCache(data, k, r, work, np.zeros(data.n_visits, dtype=bool), travel=False)
            if work is not None:
                work.units += PAIR_NS * len(cand) * len(r)
            m = len(r)
            cl = data.visit_location[cand]
            arrive = c.depart[None, :m] + t[c.prev_loc[None, :m], cl[:, None]]  # (u, j)
            start = earliest_start(data, cand[:, None], arrive)
            arrive_next = start + data.service[cand][:, None] + t[cl[:, None], c.next_loc[None, 1:]]
            ok = (start < NO_TIME) & (arrive_next <= c.latest[None, 1:])
            stops = np.array(r, dtype=np.int64)
            ok &= ~data.required[stops][None, :]
            load = c.load - data.demand[stops][None, :] + data.demand[cand][:, None]
            ok &= load <= data.capacity[k]
            now_next = c.depart[1:] + t[data.visit_location[stops], c.next_loc[1:]]
            gain_v = value[cand][:, None] - value[stops][None, :]
            saved = now_next[None, :] - arrive_next
            good = ok & ((gain_v > 0) | ((gain_v == 0) & (saved > 0)))
            if not good.any():
                break
            key = np.where(good, gain_v * np.int64(2**32) + saved, np.iinfo(np.int64).min)
            a, j = np.unravel_index(int(key.argmax()), key.shape)
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

    One window per visit. Removing stop ``j`` leaves the stops before it
    their departures and the stops after it their latest starts; the latest
    starts before ``j`` and the departures after it change, and are found
    for every ``j`` at once with prefix sums and running minima / maxima
    over the route (``L'[i] = G[i] + min(min_{i <= h < j} (close_h - G[h]),
    E[j])``, ``G`` the prefix sums of service + leg, ``E[j]`` the bound
    through the new leg that skips ``j``; the same with maxima of ``open_h -
    G[h]`` for the earliest starts after ``j``). Then every (candidate, stop
    removed, position) triple is checked as one array. Only a screen: the
    stop it returns is handled by :func:`_replace_one` (which makes the move
    only if it holds), so a non-metric matrix, where a removal can break
    the route, costs a refresh but never a wrong move.
    """
    t = data.durations
    m = len(r)
    ra = np.array(r, dtype=np.int64)
    movable = ~data.required[ra]
    movable[:first] = False
    if not movable.any():
        return None
    path = np.empty(m + 2, dtype=np.int64)
    path[0], path[-1] = data.officer_start[k], data.officer_end[k]
    path[1:-1] = data.visit_location[ra]
    legs = t[path[:-1], path[1:]]
    svc = data.service[ra]
    opening, closing = data.window_open[ra, 0], data.window_close[ra, 0]
    sched = schedule_route(data, k, r, work)
    depart = np.concatenate([[data.shift_start[k]], sched.end])
    latest = _latest_loop(data, k, r)
    g = svc + legs[1:]
    prefix = np.concatenate([[0], np.cumsum(g)])  # G, length m + 1
    big = np.int64(NO_TIME)
    h = np.arange(m)
    # low[i, x] = min_{i <= h <= x} (close_h - G[h]); high[a, x] = max_{a <= h <= x} (open_h - G[h]).
    low = np.minimum.accumulate(np.where(h[None, :] >= h[:, None], closing - prefix[:m], big), 1)
    high = np.maximum.accumulate(np.where(h[None, :] >= h[:, None], opening - prefix[:m], -big), 1)
    skip = t[path[:-2], path[2:]]  # (m,): leg from before stop j to after it
    # E[j]: bound on stop j - 1 through the new leg (j >= 1).
    e = np.full(m, big, dtype=np.int64)
    e[1:] = latest[2:] - skip[1:] - svc[:-1] - prefix[: m - 1]
    # F[j]: earliest start of stop j + 1 without waiting, minus G[j + 1] (j <= m - 2).
    f = np.full(m, -big, dtype=np.int64)
    f[: m - 1] = depart[: m - 1] + skip[: m - 1] - prefix[1:m]
    jj, qq = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")  # (stop removed, position)
    before, after = qq < jj, qq > jj
    prev_loc = np.where(after, path[np.minimum(qq + 1, m + 1)], path[qq])
    next_loc = np.where(
        before, path[qq + 1], np.where(after, path[np.minimum(qq + 2, m + 1)], path[jj + 2])
    )
    qc = np.minimum(qq, m - 1)
    jm = np.maximum(jj - 1, 0)
    late_before = prefix[qc] + np.minimum(low[qc, jm], e[jj])
    starts_after = prefix[qc] + np.maximum(high[np.minimum(jj + 1, m - 1), qc], f[jj])
    dep = np.where(after, starts_after + svc[qc], depart[np.minimum(qq, m)])
    late = np.where(before, late_before, latest[np.where(after, np.minimum(qq + 1, m), jj + 1)])
    old_next = dep + t[prev_loc, next_loc]
    open_ = ~served & allowed[:, k] & ~data.required
    load = int(data.demand[ra].sum())
    own = data.visit_location[ra]
    if work is not None:
        work.units += TABLE_NS + TABLE_CELL_NS * 4 * m * m
    # A few stops at a time, so that the first one with a move ends the scan early.
    for lo in range(first, m, TABLE_STOPS):
        hi = min(m, lo + TABLE_STOPS)
        if not movable[lo:hi].any():
            continue
        # The stop itself put back at its cheapest place: would the route end earlier?
        pl, nl, d_, lt = prev_loc[lo:hi], next_loc[lo:hi], dep[lo:hi], late[lo:hi]
        arrive = d_ + t[pl, own[lo:hi, None]]
        start = np.maximum(arrive, opening[lo:hi, None])
        arrive_next = start + svc[lo:hi, None] + t[own[lo:hi, None], nl]
        ok = (arrive <= closing[lo:hi, None]) & (arrive_next <= lt)
        added = np.where(ok, arrive_next - old_next[lo:hi], big)
        pos = added.argmin(axis=1)
        rows = np.arange(hi - lo)
        hit = (added[rows, pos] < big) & (pos != rows + lo)
        # Unserved visits worth more than the stop, at any place of the route without it.
        stops = ra[lo:hi]
        floor = int(data.value[stops[movable[lo:hi]]].min())
        cand = np.flatnonzero(open_ & (data.value > floor))
        if len(cand):
            cl = data.visit_location[cand]
            arrive = (
                d_.ravel()[None, :] + t[pl.ravel()[None, :], cl[:, None]]
            )  # (c, stops x positions)
            start = np.maximum(arrive, data.window_open[cand, 0][:, None])
            arrive_next = start + data.service[cand][:, None] + t[cl[:, None], nl.ravel()[None, :]]
            ok = (arrive <= data.window_close[cand, 0][:, None]) & (
                arrive_next <= lt.ravel()[None, :]
            )
            fit = ok.reshape(len(cand), hi - lo, m).any(axis=2)  # (c, stops)
            fit &= data.value[cand][:, None] > data.value[stops][None, :]
            fit &= (
                load - data.demand[stops][None, :] + data.demand[cand][:, None] <= data.capacity[k]
            )
            hit |= fit.any(axis=0)
            if work is not None:
                work.units += TABLE_CELL_NS * len(cand) * (hi - lo) * m
        found = np.flatnonzero(hit & movable[lo:hi])
        if len(found):
            return lo + int(found[0])
    return None


def _path(data: RoutingData, k: int, route: list[int]) -> np.ndarray:
    return np.array(
        [data.officer_start[k], *data.visit_location[route], data.officer_end[k]], dtype=np.int64
    )


def _two_opt_moves(t: np.ndarray, path: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every segment reversal of a route at once: (gain, first, last) by gain, gains > 0 only.

    Removing path edges ``x < y`` and reversing the stops between them
    (route indices ``x .. y - 1``); the matrix may be asymmetric, so the
    reversed segment's own edges are costed backwards (prefix sums).
    """
    fwd = t[path[:-1], path[1:]]
    bwd = t[path[1:], path[:-1]]
    cf = np.concatenate([[0], np.cumsum(fwd)])
    cb = np.concatenate([[0], np.cumsum(bwd)])
    e = len(fwd)
    x = np.arange(e)[:, None]
    y = np.arange(e)[None, :]
    gain = (
        fwd[x]
        + fwd[y]
        + (cf[y] - cf[x + 1])
        - t[path[x], path[y]]
        - t[path[x + 1], path[y + 1]]
        - (cb[y] - cb[x + 1])
    )
    gain = np.where(y >= x + 2, gain, 0)
    a, b = np.nonzero(gain > 0)
    g = gain[a, b]
    order = np.argsort(-g, kind="stable")
    return g[order], a[order], b[order] - 1


def _or_opt_moves(
    t: np.ndarray, path: np.ndarray, max_len: int = 3
) -> list[tuple[int, int, int, int]]:
    """Moves of a run of 1..``max_len`` stops elsewhere in its route, best first.

    Returns ``(gain, first, length, edge)``: take route[first:first+length] out
    and put it back between path[edge] and path[edge + 1] (edge counted on
    the path before removal, never touching the run), in the same order.
    """
    m = len(path) - 2
    out: list[tuple[int, int, int, int]] = []
    e = np.arange(m + 1)
    for length in range(1, min(max_len, m) + 1):
        s = np.arange(1, m - length + 2)  # path index of the run's first stop
        last = s + length - 1
        removal = t[path[s - 1], path[s]] + t[path[last], path[last + 1]]
        removal = removal - t[path[s - 1], path[last + 1]]
        insert = (
            t[path[e][None, :], path[s][:, None]]
            + t[path[last][:, None], path[e + 1][None, :]]
            - t[path[e], path[e + 1]][None, :]
        )
        gain = removal[:, None] - insert
        bad = (e[None, :] >= (s - 1)[:, None]) & (e[None, :] <= last[:, None])
        gain[bad] = 0
        a, b = np.nonzero(gain > 0)
        out += [
            (int(gain[x, y]), int(s[x] - 1), length, int(e[y])) for x, y in zip(a, b, strict=True)
        ]
    out.sort(key=lambda x: -x[0])
    return out


def improve_route(
    data: RoutingData,
    k: int,
    route: list[int],
    *,
    work: Work | None = None,
    max_checks: int = 8,
) -> list[int]:
    """Shorten one route by 2-opt and or-opt moves (best first) while they stay feasible.

    Every reversal and every move of a run of 1-3 stops is scored at once as
    arrays; the best ones are replayed (:func:`schedule_route`, windows and
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
        gains, firsts, lasts = _two_opt_moves(t, path)
        moves: list[tuple[int, list[int]]] = []
        for g, a, b in zip(
            gains[:max_checks].tolist(),
            firsts[:max_checks].tolist(),
            lasts[:max_checks].tolist(),
            strict=True,
        ):
            moves.append((g, r[:a] + r[a : b + 1][::-1] + r[b + 1 :]))
        for g, first, length, edge in _or_opt_moves(t, path)[:max_checks]:
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
