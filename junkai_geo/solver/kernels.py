"""The solver's innermost loops, compiled with Numba.

A route's earliest schedule, its latest starts and the best insertion of
every candidate visit into it are loops over a few dozen stops and a few
hundred candidates, run hundreds of thousands of times a search. As
Python loops or as numpy expressions over small arrays they cost mostly
interpreter and call overhead; compiled they cost the arithmetic. Each
kernel makes exactly the choices of the numpy code it replaced (the first
position on ties, as ``argmin``), so a seed gives the same plan as before,
only sooner (docs/solver.md, "Compiled loops").

Compiled once per machine: ``cache=True`` keeps the machine code next to
this file (or in Numba's user cache directory when that is read-only), so
only the very first search after an install pays the compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Same as :data:`.problem.NO_TIME` (repeated: a compiled function reads module constants once).
NO_TIME = 2**53


@njit(cache=True, nogil=True)
def _start_at(w_open: np.ndarray, w_close: np.ndarray, v: int, arrival: int) -> int:
    """Earliest start of visit ``v`` at or after ``arrival`` in one of its windows, or NO_TIME."""
    best = NO_TIME
    for w in range(w_open.shape[1]):
        if arrival <= w_close[v, w]:
            lo = w_open[v, w]
            cand = arrival if arrival > lo else lo
            if cand < best:
                best = cand
    return best


@njit(cache=True, nogil=True)
def schedule(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    demand: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    route: np.ndarray,
    start_loc: int,
    end_loc: int,
    shift_start: int,
):
    """Earliest schedule: (arrival, start, end, end_time, travel, windows_ok, load).

    A stop reached after all its windows close makes ``windows_ok`` false
    and keeps its arrival as start.
    """
    m = len(route)
    arrival = np.empty(m, dtype=np.int64)
    start = np.empty(m, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    now = shift_start
    prev = start_loc
    travel = 0
    ok = True
    load = 0
    for j in range(m):
        v = route[j]
        loc = location[v]
        leg = durations[prev, loc]
        travel += leg
        a = now + leg
        s = _start_at(w_open, w_close, v, a)
        if s >= NO_TIME:
            ok = False
            s = a
        arrival[j] = a
        start[j] = s
        now = s + service[v]
        end[j] = now
        prev = loc
        load += demand[v]
    back = durations[prev, end_loc]
    travel += back
    return arrival, start, end, now + back, travel, ok, load


@njit(cache=True, nogil=True)
def latest_starts(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    route: np.ndarray,
    end_loc: int,
    shift_end: int,
) -> np.ndarray:
    """Latest start of each stop (then of the return) keeping the rest of the route feasible.

    Backwards from the end of the shift; a stop whose bound falls before
    every window opens gets -1, and so does every stop before it.
    """
    m = len(route)
    late = np.empty(m + 1, dtype=np.int64)
    late[m] = shift_end
    _fill_latest(durations, location, service, w_open, w_close, route, late, m, shift_end, end_loc)
    return late


@njit(cache=True, nogil=True)
def _fill_latest(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    route: np.ndarray,
    late: np.ndarray,
    upto: int,
    after: int,
    nxt: int,
) -> None:
    """``late[j]`` for the stops ``route[j]``, ``j < upto``, backwards from a stop at ``nxt``
    whose latest start is ``after``."""
    for j in range(upto - 1, -1, -1):
        v = route[j]
        here = location[v]
        bound = after - durations[here, nxt] - service[v]
        best = -1
        for w in range(w_open.shape[1]):
            lo = w_open[v, w]
            if lo <= bound:
                hi = w_close[v, w]
                point = hi if hi < bound else bound
                if point > best:
                    best = point
        late[j] = after = best
        nxt = here


@njit(cache=True, nogil=True)
def best_insertions(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    demand: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    cand: np.ndarray,
    prev_loc: np.ndarray,
    next_loc: np.ndarray,
    depart: np.ndarray,
    latest: np.ndarray,
    room: int,
    pos_time: np.ndarray,
    best_time: np.ndarray,
    pos_travel: np.ndarray,
    best_travel: np.ndarray,
    travel: bool,
) -> None:
    """Cheapest feasible insertion of each candidate, by added time and by travel.

    For candidate ``c`` between ``prev_loc[p]`` and ``next_loc[p]``: it
    starts at the earliest window time after ``depart[p]`` plus the leg,
    and the next stop must still be reached by ``latest[p]``; ``room`` is
    the load the route can still take. Writes the first best position and
    its cost into the four arrays (``NO_TIME`` when none is feasible).
    """
    positions = len(depart)
    for i in range(len(cand)):
        c = cand[i]
        cl = location[c]
        svc = service[c]
        bt = NO_TIME
        bp = 0
        tt = NO_TIME
        tp = 0
        if demand[c] <= room:
            for p in range(positions):
                pl = prev_loc[p]
                nl = next_loc[p]
                to = durations[pl, cl]
                s = _start_at(w_open, w_close, c, depart[p] + to)
                if s >= NO_TIME:
                    continue
                fr = durations[cl, nl]
                arrive_next = s + svc + fr
                if arrive_next > latest[p]:
                    continue
                skip = durations[pl, nl]
                added = arrive_next - depart[p] - skip
                if added < bt:
                    bt = added
                    bp = p
                if travel:
                    extra = to + fr - skip
                    if extra < tt:
                        tt = extra
                        tp = p
        pos_time[c] = bp
        best_time[c] = bt
        if travel:
            pos_travel[c] = tp
            best_travel[c] = tt


@njit(cache=True, nogil=True)
def exchange_screen(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    demand: np.ndarray,
    value: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    route: np.ndarray,
    movable: np.ndarray,
    depart: np.ndarray,
    latest: np.ndarray,
    open_visits: np.ndarray,
    start_loc: int,
    end_loc: int,
    room: int,
    first: int,
    block: int,
):
    """The first stop ``j >= first`` where the exchange sweep may move something, or -1.

    For each movable stop: the route without it (departures recomputed
    forwards after it, latest starts backwards before it, the rest kept),
    then a hit when the stop itself has a cheapest feasible place other than
    its own, or an unserved visit worth more fits somewhere (``room`` plus
    the stop's demand left for its load). Stops are screened ``block`` at a
    time; also returns the (candidate, stop, position) cells of the blocks
    screened, which the work model counts.
    """
    m = len(route)
    dep = np.empty(m, dtype=np.int64)
    late = np.empty(m, dtype=np.int64)
    prev_loc = np.empty(m, dtype=np.int64)
    next_loc = np.empty(m, dtype=np.int64)
    cells = 0
    for lo in range(first, m, block):
        hi = min(m, lo + block)
        floor = NO_TIME
        for j in range(lo, hi):
            if movable[j] and value[route[j]] < floor:
                floor = value[route[j]]
        if floor == NO_TIME:
            continue
        n_cand = 0
        for i in range(len(open_visits)):
            if value[open_visits[i]] > floor:
                n_cand += 1
        cells += n_cand * (hi - lo) * m
        for j in range(lo, hi):
            if not movable[j]:
                continue
            s = route[j]
            # The route without stop j: positions 0..m-1 between its m - 1 stops.
            for p in range(m):
                stop_before = p - 1 if p <= j else p
                stop_after = p if p < j else p + 1
                prev_loc[p] = start_loc if stop_before < 0 else location[route[stop_before]]
                next_loc[p] = end_loc if stop_after >= m else location[route[stop_after]]
            for p in range(j + 1):
                dep[p] = depart[p]
            now = depart[j]
            prev = prev_loc[j]
            for p in range(j + 1, m):
                v = route[p]
                a = now + durations[prev, location[v]]
                prev = location[v]
                st = _start_at(w_open, w_close, v, a)
                if st >= NO_TIME:
                    st = a
                now = st + service[v]
                dep[p] = now
            for p in range(j, m):
                late[p] = latest[p + 1]
            _fill_latest(
                durations, location, service, w_open, w_close, route, late, j, late[j], next_loc[j]
            )
            # The stop itself at its cheapest place in time: elsewhere?
            sl = location[s]
            best_added = NO_TIME
            best_p = 0
            for p in range(m):
                st = _start_at(w_open, w_close, s, dep[p] + durations[prev_loc[p], sl])
                if st >= NO_TIME:
                    continue
                arrive_next = st + service[s] + durations[sl, next_loc[p]]
                if arrive_next > late[p]:
                    continue
                added = arrive_next - dep[p] - durations[prev_loc[p], next_loc[p]]
                if added < best_added:
                    best_added = added
                    best_p = p
            if best_added < NO_TIME and best_p != j:
                return j, cells
            # An unserved visit worth more that fits in its place.
            for i in range(len(open_visits)):
                c = open_visits[i]
                if value[c] <= value[s] or demand[c] > room + demand[s]:
                    continue
                cl = location[c]
                for p in range(m):
                    st = _start_at(w_open, w_close, c, dep[p] + durations[prev_loc[p], cl])
                    if st < NO_TIME and st + service[c] + durations[cl, next_loc[p]] <= late[p]:
                        return j, cells
    return -1, cells


@njit(cache=True, nogil=True)
def best_swap(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    demand: np.ndarray,
    value: np.ndarray,
    required: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    route: np.ndarray,
    cand: np.ndarray,
    prev_loc: np.ndarray,
    next_loc: np.ndarray,
    depart: np.ndarray,
    latest: np.ndarray,
    room: int,
):
    """The best swap of an unserved ``cand`` for a stop of ``route``, in the stop's place.

    The stops before keep their times and the ones after their latest
    starts, so a swap is feasible iff the next stop is still reached by its
    latest start (and ``room`` plus the stop's demand takes the new visit).
    Best by value gained, then by how much earlier the next stop is
    reached; only swaps that gain one or the other. Returns (candidate
    index, stop index), or (-1, -1); the first best in (candidate, stop)
    order.
    """
    best_key = -(2**62)
    best_a = -1
    best_j = -1
    m = len(route)
    for a in range(len(cand)):
        u = cand[a]
        ul = location[u]
        for j in range(m):
            s = route[j]
            if required[s]:
                continue
            st = _start_at(w_open, w_close, u, depart[j] + durations[prev_loc[j], ul])
            if st >= NO_TIME:
                continue
            arrive_next = st + service[u] + durations[ul, next_loc[j + 1]]
            if arrive_next > latest[j + 1]:
                continue
            if demand[u] > room + demand[s]:
                continue
            gain = value[u] - value[s]
            saved = depart[j + 1] + durations[location[s], next_loc[j + 1]] - arrive_next
            if gain > 0 or (gain == 0 and saved > 0):
                key = gain * 2**32 + saved
                if key > best_key:
                    best_key = key
                    best_a = a
                    best_j = j
    return best_a, best_j


@njit(cache=True, nogil=True)
def route_state(
    durations: np.ndarray,
    location: np.ndarray,
    service: np.ndarray,
    demand: np.ndarray,
    w_open: np.ndarray,
    w_close: np.ndarray,
    route: np.ndarray,
    start_loc: int,
    end_loc: int,
    shift_start: int,
    shift_end: int,
):
    """A route's schedule, latest starts and the stops around each insertion position.

    Returns (arrival, start, end, end_time, travel, windows_ok, load,
    latest, prev_loc, next_loc, depart), the last four over the
    ``len(route) + 1`` positions (before the first stop ... after the last).
    """
    arrival, start, end, end_time, travel, ok, load = schedule(
        durations,
        location,
        service,
        demand,
        w_open,
        w_close,
        route,
        start_loc,
        end_loc,
        shift_start,
    )
    latest = latest_starts(durations, location, service, w_open, w_close, route, end_loc, shift_end)
    m = len(route)
    prev_loc = np.empty(m + 1, dtype=np.int64)
    next_loc = np.empty(m + 1, dtype=np.int64)
    depart = np.empty(m + 1, dtype=np.int64)
    prev_loc[0] = start_loc
    next_loc[m] = end_loc
    depart[0] = shift_start
    for j in range(m):
        loc = location[route[j]]
        prev_loc[j + 1] = loc
        next_loc[j] = loc
        depart[j + 1] = end[j]
    return arrival, start, end, end_time, travel, ok, load, latest, prev_loc, next_loc, depart


@njit(cache=True, nogil=True)
def _keep_best(top: np.ndarray, count: int, row: np.ndarray) -> int:
    """Insert ``row`` (gain first) into the ``count`` best rows of ``top``, stable by gain."""
    size = top.shape[0]
    at = count
    while at > 0 and top[at - 1, 0] < row[0]:
        at -= 1
    if at >= size:
        return count
    last = min(count, size - 1)
    for i in range(last, at, -1):
        top[i, :] = top[i - 1, :]
    top[at, :] = row
    return min(count + 1, size)


@njit(cache=True, nogil=True)
def sequence_moves(durations: np.ndarray, path: np.ndarray, keep: int, max_len: int):
    """The ``keep`` best 2-opt and or-opt moves of one route by travel saved (gains > 0).

    2-opt rows are (gain, first, last): reverse route[first..last] (the
    legs of the reversed stretch costed backwards, for asymmetric
    matrices). Or-opt rows are (gain, first, length, edge): move
    route[first:first + length] (1..``max_len`` stops), in order, between
    path[edge] and path[edge + 1] (an edge of the path before removal,
    not touching the run). Ties keep the enumeration order (first, then
    last; length, first, edge), as a stable sort would.
    """
    e = len(path) - 1
    m = len(path) - 2
    cf = np.zeros(e + 1, dtype=np.int64)
    cb = np.zeros(e + 1, dtype=np.int64)
    for i in range(e):
        cf[i + 1] = cf[i] + durations[path[i], path[i + 1]]
        cb[i + 1] = cb[i] + durations[path[i + 1], path[i]]
    two = np.zeros((keep, 3), dtype=np.int64)
    n_two = 0
    row3 = np.zeros(3, dtype=np.int64)
    for x in range(e):
        for y in range(x + 2, e):
            gain = (
                durations[path[x], path[x + 1]]
                + durations[path[y], path[y + 1]]
                + (cf[y] - cf[x + 1])
                - durations[path[x], path[y]]
                - durations[path[x + 1], path[y + 1]]
                - (cb[y] - cb[x + 1])
            )
            if gain > 0:
                row3[0] = gain
                row3[1] = x
                row3[2] = y - 1
                n_two = _keep_best(two, n_two, row3)
    orr = np.zeros((keep, 4), dtype=np.int64)
    n_or = 0
    row4 = np.zeros(4, dtype=np.int64)
    for length in range(1, min(max_len, m) + 1):
        for s in range(1, m - length + 2):
            last = s + length - 1
            removal = (
                durations[path[s - 1], path[s]]
                + durations[path[last], path[last + 1]]
                - durations[path[s - 1], path[last + 1]]
            )
            for edge in range(m + 1):
                if s - 1 <= edge <= last:
                    continue
                insert = (
                    durations[path[edge], path[s]]
                    + durations[path[last], path[edge + 1]]
                    - durations[path[edge], path[edge + 1]]
                )
                gain = removal - insert
                if gain > 0:
                    row4[0] = gain
                    row4[1] = s - 1
                    row4[2] = length
                    row4[3] = edge
                    n_or = _keep_best(orr, n_or, row4)
    return two[:n_two], orr[:n_or]


@njit(cache=True, nogil=True)
def pick_optional(
    best_time: np.ndarray,
    open_visits: np.ndarray,
    weighted: np.ndarray,
    noise_draws: np.ndarray,
    noise: float,
):
    """The greedy's next optional visit: (visit, officer), or (-1, -1) when none fits.

    ``best_time[k, v]`` is the least added time of visit ``v`` on officer
    ``k`` (``NO_TIME`` when it does not fit or is not allowed); a visit's
    score is ``weighted[v] / max(1, least added time)``, times ``1 + noise
    x draw`` when ``noise_draws`` is not empty. The first best score wins,
    and the first officer among equal times.
    """
    best_score = -1.0
    pick_v = -1
    pick_k = -1
    for v in range(best_time.shape[1]):
        if not open_visits[v]:
            continue
        bk = 0
        bt = best_time[0, v]
        for k in range(1, best_time.shape[0]):
            if best_time[k, v] < bt:
                bt = best_time[k, v]
                bk = k
        if bt >= NO_TIME:
            continue
        score = weighted[v] / float(bt if bt > 1 else 1)
        if len(noise_draws):
            score = score * (1.0 + noise * noise_draws[v])
        if score > best_score:
            best_score = score
            pick_v = v
            pick_k = bk
    return pick_v, pick_k


def warm_up() -> None:
    """Load (or, after an install, compile) every kernel for the types the solver passes.

    Called at import: the first search of a process then keeps its whole
    time limit, where loading the machine code at the first call would take
    a short plan's budget (0.3 s measured for a 0.5 s plan).
    """
    i64 = np.int64
    one = np.zeros(1, dtype=i64)
    route = np.zeros(1, dtype=i64)
    matrix = np.zeros((1, 1), dtype=i64)
    windows = np.zeros((1, 1), dtype=i64)
    flags = np.zeros(1, dtype=bool)
    two = np.zeros(2, dtype=i64)
    state = route_state(matrix, one, one, one, windows, windows, route, 0, 0, 0, 0)
    schedule(matrix, one, one, one, windows, windows, route, 0, 0, 0)
    latest_starts(matrix, one, one, windows, windows, route, 0, 0)
    best_insertions(
        matrix,
        one,
        one,
        one,
        windows,
        windows,
        one,
        two,
        two,
        two,
        two,
        0,
        one.copy(),
        one.copy(),
        one.copy(),
        one.copy(),
        True,
    )
    exchange_screen(
        matrix, one, one, one, one, windows, windows, route, flags, two, two, one, 0, 0, 0, 0, 6
    )
    best_swap(
        matrix, one, one, one, one, flags, windows, windows, route, one, two, two, two, two, 0
    )
    sequence_moves(matrix, np.zeros(3, dtype=i64), 8, 3)
    pick_optional(np.zeros((1, 1), dtype=i64), flags, np.zeros(1), np.zeros(0), 0.2)
    del state


warm_up()
