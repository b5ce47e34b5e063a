"""The compiled loops (junkai_geo.solver.kernels) against the numpy code they replaced.

Each reference below is the array form the solver used before the loops
were compiled; the kernels must make exactly its choices (first position
on ties), so that a seed keeps giving the same plan. Problems are random,
with several windows per visit, capacities and an asymmetric matrix that
breaks the triangle inequality.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from junkai_geo.solver import alone_feasibility, kernels, read_problem
from junkai_geo.solver.local import (
    RouteCache,
    fill_routes,
    improve_route,
    schedule_route,
    swap_visits,
)
from junkai_geo.solver.problem import NO_TIME, earliest_start


def skewed_problem(seed: int, n_visits: int, n_officers: int, multi: bool) -> dict:
    """Optional visits, 1-3 windows each, demands and capacities, an asymmetric matrix."""
    rng = np.random.default_rng(seed)
    n = n_visits + 2
    durations = rng.integers(1, 120, size=(n, n))
    np.fill_diagonal(durations, 0)
    visits = []
    for i in range(n_visits):
        lo = int(rng.integers(0, 500))
        windows = [[lo, lo + int(rng.integers(0, 250))]]
        if multi and rng.random() < 0.5:
            windows.append([lo + 400, lo + 450 + int(rng.integers(0, 200))])
        visits.append(
            {
                "id": f"v{i}",
                "location": i + 2,
                "service": int(rng.integers(0, 40)),
                "value": int(rng.integers(1, 6)),
                "time_windows": windows,
                "demand": int(rng.integers(0, 4)),
            }
        )
    officers = [
        {"id": f"o{k}", "start": k % 2, "end": 0, "shift": [0, 1200], "capacity": 12}
        for k in range(n_officers)
    ]
    return {"durations": durations.tolist(), "visits": visits, "officers": officers, "seed": seed}


def some_route(data, rng, greedy: bool, k: int = 0) -> list[int]:
    if greedy:
        allowed = alone_feasibility(data)[0]
        return fill_routes(data, [[] for _ in range(data.n_officers)], allowed)[k]
    n = data.n_visits
    return [int(v) for v in rng.permutation(n)[: rng.integers(0, n + 1)]]


def reference_latest(data, k: int, route: list[int]) -> list[int]:
    late = [0] * (len(route) + 1)
    late[-1] = after = int(data.shift_end[k])
    nxt = int(data.officer_end[k])
    for j in range(len(route) - 1, -1, -1):
        v = route[j]
        here = int(data.visit_location[v])
        bound = after - int(data.durations[here, nxt]) - int(data.service[v])
        best = -1
        for lo, hi in zip(data.window_open[v], data.window_close[v], strict=True):
            if lo <= hi and lo <= bound:
                best = max(best, int(min(hi, bound)))
        late[j] = after = best
        nxt = here
    return late


def reference_insertions(data, k: int, cache: RouteCache, cand: np.ndarray):
    """The array form of a route refresh: (pos_time, best_time, pos_travel, best_travel) of cand."""
    t = data.durations
    big = np.int64(NO_TIME)
    cl = data.visit_location[cand]
    to_cand = t[cache.prev_loc[None, :], cl[:, None]]
    from_cand = t[cl[:, None], cache.next_loc[None, :]]
    arrive = cache.depart[None, :] + to_cand
    start = earliest_start(data, cand[:, None], arrive)
    ok = start < NO_TIME
    arrive_next = start + from_cand + data.service[cand][:, None]
    ok &= arrive_next <= cache.latest[None, :]
    ok &= (cache.load + data.demand[cand] <= data.capacity[k])[:, None]
    skip = t[cache.prev_loc, cache.next_loc]
    key_time = np.where(ok, arrive_next - (cache.depart + skip), big)
    key_travel = np.where(ok, to_cand + from_cand - skip[None, :], big)
    rows = np.arange(len(cand))
    pt, pv = key_time.argmin(axis=1), key_travel.argmin(axis=1)
    return pt, key_time[rows, pt], pv, key_travel[rows, pv]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_visits=st.integers(1, 30),
    multi=st.booleans(),
    greedy=st.booleans(),
)
def test_route_state_and_insertions_match_the_array_form(
    seed: int, n_visits: int, multi: bool, greedy: bool
) -> None:
    # Greedy routes are feasible; random orders are mostly not (latest
    # starts of -1, late arrivals): both must agree.
    data = read_problem(skewed_problem(seed, n_visits, 2, multi))
    rng = np.random.default_rng(seed)
    k = int(rng.integers(0, 2))
    route = some_route(data, rng, greedy, k)
    cache = RouteCache(data, k, route)
    assert cache.latest.tolist() == reference_latest(data, k, route)
    sched = schedule_route(data, k, route)
    assert cache.depart.tolist() == [int(data.shift_start[k]), *sched.end.tolist()]
    assert cache.load == int(data.demand[route].sum())
    cand = np.arange(data.n_visits)
    want = reference_insertions(data, k, cache, cand)
    got = (cache.pos_time, cache.best_time, cache.pos_travel, cache.best_travel)
    for g, w in zip(got, want, strict=True):
        assert g.tolist() == w.tolist()


def reference_swap(data, k: int, r: list[int], served: np.ndarray, allowed: np.ndarray):
    """The array form of one round of in-place swaps: (unserved visit, stop index) or None."""
    t = data.durations
    cand = np.flatnonzero(~served & allowed[:, k] & ~data.required)
    if not len(cand):
        return None
    c = RouteCache(data, k, r, None, np.zeros(data.n_visits, dtype=bool), travel=False)
    m = len(r)
    cl = data.visit_location[cand]
    arrive = c.depart[None, :m] + t[c.prev_loc[None, :m], cl[:, None]]
    start = earliest_start(data, cand[:, None], arrive)
    arrive_next = start + data.service[cand][:, None] + t[cl[:, None], c.next_loc[None, 1:]]
    ok = (start < NO_TIME) & (arrive_next <= c.latest[None, 1:])
    stops = np.array(r, dtype=np.int64)
    ok &= ~data.required[stops][None, :]
    load = c.load - data.demand[stops][None, :] + data.demand[cand][:, None]
    ok &= load <= data.capacity[k]
    now_next = c.depart[1:] + t[data.visit_location[stops], c.next_loc[1:]]
    gain_v = data.value[cand][:, None] - data.value[stops][None, :]
    saved = now_next[None, :] - arrive_next
    good = ok & ((gain_v > 0) | ((gain_v == 0) & (saved > 0)))
    if not good.any():
        return None
    key = np.where(good, gain_v * np.int64(2**32) + saved, np.iinfo(np.int64).min)
    a, j = np.unravel_index(int(key.argmax()), key.shape)
    return int(cand[a]), int(j)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n_visits=st.integers(2, 30), multi=st.booleans())
def test_swaps_match_the_array_form(seed: int, n_visits: int, multi: bool) -> None:
    data = read_problem(skewed_problem(seed, n_visits, 1, multi))
    allowed = alone_feasibility(data)[0]
    rng = np.random.default_rng(seed)
    # Withhold some visits from the greedy so that better ones are left over.
    withheld = allowed & (rng.random(allowed.shape) < 0.5)
    route = fill_routes(data, [[]], withheld, rng=rng, noise=0.5)[0]
    served = np.zeros(data.n_visits, dtype=bool)
    served[route] = True
    want = reference_swap(data, 0, route, served, allowed)
    got = swap_visits(data, [route], allowed, max_rounds=1)[0]
    if want is None:
        assert got == route
    else:
        u, j = want
        assert got == route[:j] + [u] + route[j + 1 :]


def reference_two_opt(t, path):
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
    return [(int(g[i]), int(a[i]), int(b[i] - 1)) for i in order]


def reference_or_opt(t, path, max_len=3):
    m = len(path) - 2
    out = []
    e = np.arange(m + 1)
    for length in range(1, min(max_len, m) + 1):
        s = np.arange(1, m - length + 2)
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


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), n_stops=st.integers(0, 25), keep=st.integers(1, 9))
def test_sequence_moves_match_the_array_form(seed: int, n_stops: int, keep: int) -> None:
    # Small integer legs on an asymmetric matrix: many equal gains, so the
    # order of ties is tested too.
    rng = np.random.default_rng(seed)
    n = n_stops + 2
    t = rng.integers(0, 6, size=(n, n)).astype(np.int64)
    path = np.array([0, *rng.permutation(np.arange(2, n)), 1], dtype=np.int64)
    two, orr = kernels.sequence_moves(t, path, keep, 3)
    assert [tuple(row) for row in two.tolist()] == reference_two_opt(t, path)[:keep]
    assert [tuple(row) for row in orr.tolist()] == reference_or_opt(t, path)[:keep]


def test_route_improvement_still_shortens_a_crossed_route() -> None:
    # Four corners visited crosswise: one reversal uncrosses them.
    problem = {
        "locations": [[0, 0], [0, 10], [10, 10], [10, 0], [0, 5]],
        "scale": 1,
        "visits": [
            {"id": f"v{i}", "location": loc, "value": 1} for i, loc in enumerate([1, 3, 2, 4])
        ],
        "officers": [{"id": "o", "start": 0, "end": 0, "shift": [0, 1000]}],
    }
    data = read_problem(problem)
    before = schedule_route(data, 0, [0, 1, 2, 3]).travel
    better = improve_route(data, 0, [0, 1, 2, 3])
    assert sorted(better) == [0, 1, 2, 3]
    assert schedule_route(data, 0, better).travel < before


def test_a_search_uses_only_the_warmed_up_kernels() -> None:
    # Every kernel is compiled (or loaded) at import for the types the
    # solver passes; a search that passed another type (a float for an
    # int, a read-only array) would compile a second version in the middle
    # of a plan, taking its time limit.
    from junkai_geo.solver import solve_problem

    # The kernels the solver calls from Python (helpers compiled into them,
    # such as _keep_best, get their own versions at compile time, not at a call).
    dispatchers = {
        name: f
        for name, f in vars(kernels).items()
        if hasattr(f, "signatures") and not name.startswith("_")
    }
    assert set(dispatchers) >= {
        "route_state",
        "best_insertions",
        "exchange_screen",
        "best_swap",
        "sequence_moves",
        "pick_optional",
    }
    for multi in (False, True):
        problem = skewed_problem(3, 25, 2, multi)
        problem["time_limit"] = 0.3
        solve_problem(problem)
    assert {name: len(f.signatures) for name, f in dispatchers.items()} == dict.fromkeys(
        dispatchers, 1
    )
