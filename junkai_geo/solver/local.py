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


def schedule_route(data: RoutingData, k: int, route: list[int]) -> Schedule:
    """Earliest schedule of officer ``k`` serving ``route`` in order."""
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


def _latest_window_point(data: RoutingData, v: int, bound: int) -> int:
    best = -1
    for lo, hi in visit_windows(data)[v]:
        if lo <= bound:
            best = max(best, min(hi, bound))
    return best


#: Work of one route refresh that does not depend on its size, in the units of
#: :class:`Work` (one unit ~ one (visit, position) pair evaluated).
REFRESH_OVERHEAD = 3000


class Work:
    """A deterministic measure of the search effort spent, used as its stopping rule."""

    def __init__(self) -> None:
        self.units = 0


class RouteCache:
    """Best insertion of every visit into one route, kept up to date."""

    def __init__(
        self, data: RoutingData, k: int, route: list[int], work: Work | None = None
    ) -> None:
        self.data, self.k, self.route, self.work = data, k, route, work
        self.refresh()

    def refresh(self) -> None:
        data, k, route = self.data, self.k, self.route
        if self.work is not None:
            self.work.units += REFRESH_OVERHEAD + data.n_visits * (len(route) + 1)
        t = data.durations
        sched = schedule_route(data, k, route)
        self.schedule = sched
        locs = data.visit_location[route] if route else np.zeros(0, dtype=np.int64)
        prev_loc = np.concatenate([[data.officer_start[k]], locs])
        next_loc = np.concatenate([locs, [data.officer_end[k]]])
        depart = np.concatenate([[data.shift_start[k]], sched.end])
        # Latest start at each stop keeping the rest feasible, then at the end point.
        latest = np.empty(len(route) + 1, dtype=np.int64)
        latest[-1] = data.shift_end[k]
        for j in range(len(route) - 1, -1, -1):
            v = route[j]
            bound = int(latest[j + 1] - t[locs[j], next_loc[j + 1]] - data.service[v])
            latest[j] = _latest_window_point(data, v, bound)
        self.load = int(data.demand[route].sum()) if route else 0
        n = data.n_visits
        cand = np.arange(n)
        cl = data.visit_location
        arrive = depart[None, :] + t[prev_loc][:, cl].T  # (n, m + 1)
        start = earliest_start(data, cand[:, None], arrive)
        finish = start + data.service[:, None]
        arrive_next = finish + t[cl][:, next_loc]
        ok = (start < NO_TIME) & (arrive_next <= latest[None, :])
        ok &= (self.load + data.demand <= data.capacity[k])[:, None]
        old_next = depart + t[prev_loc, next_loc]
        added_time = arrive_next - old_next[None, :]
        added_travel = t[prev_loc][:, cl].T + t[cl][:, next_loc] - t[prev_loc, next_loc][None, :]
        big = np.int64(NO_TIME)
        key_time = np.where(ok, added_time, big)
        key_travel = np.where(ok, added_travel, big)
        self.pos_time = key_time.argmin(axis=1)
        self.best_time = key_time[cand, self.pos_time]
        self.pos_travel = key_travel.argmin(axis=1)
        self.best_travel = key_travel[cand, self.pos_travel]


def fill_routes(
    data: RoutingData,
    routes: Routes,
    allowed: np.ndarray,
    *,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
    work: Work | None = None,
    deadline: float | None = None,
) -> Routes:
    """Insert unserved visits greedily until nothing more fits.

    Required visits first, by regret of their cheapest travel insertion;
    then optional ones by ``value**2 / added time`` (with optional
    multiplicative noise for diversity). Stops early at ``deadline`` (a
    ``time.perf_counter`` value), the routes staying feasible.
    """
    routes = [list(r) for r in routes]
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    caches = [RouteCache(data, k, r, work) for k, r in enumerate(routes)]
    big = np.int64(NO_TIME)
    value_sq = data.value.astype(np.float64) ** 2
    while deadline is None or time.perf_counter() < deadline:
        open_ = ~served & allowed.any(axis=1)
        if not open_.any():
            break
        req = open_ & data.required
        travel = np.stack(
            [np.where(allowed[:, k], c.best_travel, big) for k, c in enumerate(caches)], axis=1
        )
        if req.any() and (travel[req] < big).any():
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
            score = np.where(feas, value_sq / np.maximum(best, 1), -1.0)
            if rng is not None and noise > 0:
                score = np.where(feas, score * (1.0 + noise * rng.random(len(score))), -1.0)
            v = int(score.argmax())
            k = int(best_k[v])
            pos = int(caches[k].pos_time[v])
        routes[k].insert(pos, v)
        served[v] = True
        caches[k].route = routes[k]
        caches[k].refresh()
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
    visits rarely finds such an exchange. First improvement, one sweep.
    Returns the new routes and whether anything changed.
    """
    routes = [list(r) for r in routes]
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    changed = False
    value = data.value
    for k, r in enumerate(routes):
        j = 0
        while j < len(r):
            if deadline is not None and time.perf_counter() >= deadline:
                return routes, changed
            s = r[j]
            if data.required[s]:
                j += 1
                continue
            trial = r[:j] + r[j + 1 :]
            cache = RouteCache(data, k, trial, work)
            cand = ~served & allowed[:, k] & ~data.required & (cache.best_time < NO_TIME)
            cand &= value > value[s]
            if not cand.any():
                # No better visit fits: still move ``s`` to its cheapest place
                # in time when that ends the route earlier, so that the refill
                # finds more room (an in-route relocate, free of extra refreshes).
                if cache.best_time[s] < NO_TIME:
                    moved = trial[:]
                    moved.insert(int(cache.pos_time[s]), s)
                    if moved != r:
                        new = schedule_route(data, k, moved)
                        if new.feasible and new.end_time < schedule_route(data, k, r).end_time:
                            routes[k] = r = moved
                            changed = True
                j += 1
                continue
            # Highest value first, then the least added time.
            key = np.where(cand, value * np.int64(2**32) - cache.best_time, np.iinfo(np.int64).min)
            u = int(key.argmax())
            trial.insert(int(cache.pos_time[u]), u)
            served[s], served[u] = False, True
            routes[k] = r = trial
            changed = True
    return routes, changed


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
    caches = [RouteCache(data, k, r, work) for k, r in enumerate(routes)]
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
        if not schedule_route(data, a, shorter).feasible:
            banned[v, b] = True  # removal breaks a window (non-metric matrix)
            continue
        routes[b].insert(int(caches[b].pos_travel[v]), v)
        routes[a] = shorter
        for k in (a, b):
            caches[k].route = routes[k]
            caches[k].refresh()
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
        travel = route_totals(data, new)[1]
        left = max(0.0, 1.0 - work.units / max(1, work_units))
        if travel <= current_travel * (1.0 + threshold * left):
            current, current_travel = new, travel
            if travel < best_travel:
                best, best_travel = new, travel
    return best, done, work.units


def route_totals(data: RoutingData, routes: Routes) -> tuple[int, int, bool]:
    """(value, travel, feasible) of a set of routes."""
    value = travel = 0
    feasible = True
    for k, r in enumerate(routes):
        s = schedule_route(data, k, r)
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
    replace_within: float = 0.97,
) -> tuple[Routes, int, int]:
    """Improve collected value by shake-and-refill.

    Returns the best routes, the iterations run and the work units spent.

    Stops once ``work_units`` of :class:`Work` are spent (deterministic) or
    at ``deadline`` (a ``time.perf_counter`` value), whichever comes first.
    """
    rng = np.random.default_rng(seed)
    work = Work()
    best = fill_routes(data, routes, allowed, work=work)
    best_key = route_totals(data, best)[:2]
    current = [list(r) for r in best]
    size, pos, stale = 1, 0, 0
    done = 0
    while work.units < work_units and time.perf_counter() < deadline:
        done += 1
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
        current = fill_routes(
            data, shaken, allowed & ~removed[:, None], rng=rng, noise=noise, work=work
        )
        current = fill_routes(data, current, allowed, rng=rng, noise=noise, work=work)
        key = route_totals(data, current)[:2]
        # Exchanges are costly (one route refresh per stop): only near the best.
        if key[0] >= replace_within * best_key[0]:
            for _ in range(3):
                current, changed = replace_visits(
                    data, current, allowed, work=work, deadline=deadline
                )
                if not changed:
                    break
                current = fill_routes(data, current, allowed, rng=rng, noise=noise, work=work)
            key = route_totals(data, current)[:2]
        if better(key, best_key):
            best, best_key = [list(r) for r in current], key
            size, stale = 1, 0
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
