"""The solver's array shortcuts against the one-stop-at-a-time code they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_solver import team_problem

from junkai_geo.solver import alone_feasibility, read_problem
from junkai_geo.solver.local import (
    _replace_one,
    fill_routes,
    replace_visits,
)


def one_window_problem(seed: int, n_visits: int, n_officers: int, windows: bool) -> dict:
    """Optional visits with at most one window each (the case the array scans cover)."""
    return team_problem(seed, n_visits, n_officers, windows, shifts=(300, 900))


def replace_stop_by_stop(data, routes, allowed):
    """The exchange sweep made one route refresh per stop (the reference)."""
    routes = [list(r) for r in routes]
    served = np.zeros(data.n_visits, dtype=bool)
    for r in routes:
        served[r] = True
    changed = False
    for k, r in enumerate(routes):
        j = 0
        while j < len(r):
            new = _replace_one(data, k, r, j, served, allowed, None)
            if new is not None:
                routes[k] = r = new
                changed = True
            j += 1
    return routes, changed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_visits=st.integers(2, 45),
    n_officers=st.integers(1, 3),
    windows=st.booleans(),
)
def test_exchange_table_makes_the_moves_of_the_stop_by_stop_sweep(
    seed: int, n_visits: int, n_officers: int, windows: bool
) -> None:
    # Greedy routes built with some visits withheld, so that better visits
    # are left over: the table screen must find every stop where the sweep
    # moves something, in the same order, giving the same routes.
    data = read_problem(one_window_problem(seed, n_visits, n_officers, windows))
    allowed = alone_feasibility(data)[0]
    rng = np.random.default_rng(seed)
    withheld = allowed & (rng.random(allowed.shape) < 0.6)
    routes = fill_routes(data, [[] for _ in range(n_officers)], withheld, rng=rng, noise=0.5)
    assert replace_visits(data, routes, allowed) == replace_stop_by_stop(data, routes, allowed)
