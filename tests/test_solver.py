"""Tests of the routing solver: properties recomputed against the matrix."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from junkai_geo.cli import main as cli_main
from junkai_geo.errors import ParameterError, ProblemError
from junkai_geo.settings import load_params
from junkai_geo.solver import REASONS, SolverParams, alone_feasibility, read_problem, solve_problem
from junkai_geo.solver.local import (
    fill_routes,
    relocate_descent,
    replace_visits,
    route_totals,
    ruin_and_recreate,
    schedule_route,
)
from junkai_geo.solver.problem import NO_TIME, earliest_start

ROOT = Path(__file__).resolve().parents[1]


def check_solution(problem: dict, solution: dict) -> None:
    """Independent re-check of a solution against its problem."""
    if "durations" in problem:
        t = np.array(problem["durations"])
    else:
        xy = np.array(problem["locations"], dtype=float)
        t = np.rint(
            np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) * problem.get("scale", 1)
        )
    visits = {v["id"]: v for v in problem["visits"]}
    officers = {o["id"]: o for o in problem["officers"]}
    served: list[str] = []
    value = 0
    for route in solution["routes"]:
        o = officers[route["officer"]]
        now, here, travel, load = route["start_time"], o["start"], 0, 0
        assert now >= o["shift"][0]
        for stop in route["stops"]:
            v = visits[stop["visit"]]
            travel += t[here, v["location"]]
            assert stop["arrival"] == now + t[here, v["location"]]
            assert stop["start"] >= stop["arrival"]
            windows = v.get("time_windows", [[0, o["shift"][1]]])
            assert any(lo <= stop["start"] <= hi for lo, hi in windows), stop
            assert stop["end"] == stop["start"] + v.get("service", 0)
            now, here = stop["end"], v["location"]
            load += v.get("demand", 0)
            served.append(stop["visit"])
            value += v.get("value", 0)
        travel += t[here, o["end"]]
        assert route["end_time"] == now + t[here, o["end"]] <= o["shift"][1]
        assert route["travel"] == travel
        assert load <= o.get("capacity", load)
    assert len(served) == len(set(served)), "a visit served twice"
    skipped = [u["visit"] for u in solution["unassigned"]]
    assert sorted(served + skipped) == sorted(visits), "every visit served or explained"
    assert all(u["reason"] in REASONS for u in solution["unassigned"])
    assert solution["value"] == value
    required_skipped = any(visits[s].get("required") for s in skipped)
    assert (solution["status"] == "infeasible") == required_skipped


def load_fixture(fixtures_dir: Path, name: str) -> dict:
    return json.loads((fixtures_dir / f"solver_{name}.json").read_text())


def test_ok_small_is_served_and_feasible(fixtures_dir: Path) -> None:
    problem = load_fixture(fixtures_dir, "ok_small")
    solution = solve_problem(problem)
    check_solution(problem, solution)
    assert solution["value"] == 15 and not solution["unassigned"]
    assert solution["status"] == "feasible"


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("non_square", "durations[1]"),
        ("negative_time", "durations[0][2]"),
        ("unknown_location", "visits[1].location"),
        ("window_open_after_close", "visits[0].time_windows[0]"),
        ("negative_window", "visits[1].time_windows[1]"),
        ("required_infeasible", "visits[2]"),
        ("duplicate_id", "visits[1].id"),
        ("non_integer_service", "visits[0].service"),
        ("matrix_and_locations", "durations"),
        ("shift_reversed", "officers[0].shift"),
        ("unknown_field", "visits[0].valeu"),
        ("duplicate_officer", "officers[1].id"),
        ("bad_time_limit", "time_limit"),
    ],
)
def test_bad_problem_names_the_field(fixtures_dir: Path, name: str, field: str) -> None:
    with pytest.raises(ProblemError) as info:
        solve_problem(load_fixture(fixtures_dir, name))
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


def test_reasons_for_skipped_visits() -> None:
    problem = {
        "locations": [[0, 0], [10, 0], [0, 10], [500, 0], [10, 10]],
        "scale": 10,
        "visits": [
            {"id": "near", "location": 1, "service": 600, "value": 50},
            {"id": "far", "location": 3, "service": 60, "value": 99},  # 5000 s away
            {
                "id": "late",
                "location": 2,
                "service": 60,
                "value": 99,
                "time_windows": [[5000, 6000]],
            },
            {"id": "cheap", "location": 4, "service": 3000, "value": 1},
            {"id": "good", "location": 2, "service": 2800, "value": 40},
        ],
        "officers": [{"id": "o1", "start": 0, "end": 0, "shift": [0, 4000]}],
        "time_limit": 0.5,
    }
    solution = solve_problem(problem)
    check_solution(problem, solution)
    reasons = {u["visit"]: u["reason"] for u in solution["unassigned"]}
    assert reasons == {"far": "unreachable", "late": "outside_window", "cheap": "less_valuable"}
    assert solution["value"] == 90


def test_multiple_windows_wait_for_the_next_one() -> None:
    problem = {
        "durations": [[0, 100], [100, 0]],
        "visits": [
            {
                "id": "h",
                "location": 1,
                "service": 10,
                "value": 1,
                "time_windows": [[0, 50], [400, 500]],
            }
        ],
        "officers": [{"id": "o", "start": 0, "end": 0, "shift": [0, 1000]}],
        "time_limit": 0.3,
    }
    solution = solve_problem(problem)
    check_solution(problem, solution)
    (stop,) = solution["routes"][0]["stops"]
    assert stop["start"] == 400
    # The officer leaves late instead of waiting at the door.
    assert stop["arrival"] == 400 and solution["routes"][0]["start_time"] == 300


def test_officers_share_required_visits_with_capacity() -> None:
    rng = np.random.default_rng(1)
    xy = rng.integers(0, 100, size=(13, 2)).tolist()
    visits = [
        {"id": f"c{i}", "location": i, "service": 10, "demand": 3, "required": True}
        for i in range(1, 13)
    ]
    officers = [
        {"id": f"o{k}", "start": 0, "end": 0, "shift": [0, 10_000], "capacity": 12}
        for k in range(4)
    ]
    problem = {"locations": xy, "visits": visits, "officers": officers, "time_limit": 1}
    solution = solve_problem(problem)
    check_solution(problem, solution)
    assert solution["status"] == "feasible" and not solution["unassigned"]
    assert sum(1 for r in solution["routes"] if r["stops"]) >= 3  # 36 units, 12 per officer


def test_required_visits_that_do_not_fit_together_are_reported() -> None:
    # Each fits alone; both need the same 100 s slot.
    problem = {
        "durations": [[0, 10, 10], [10, 0, 10], [10, 10, 0]],
        "visits": [
            {
                "id": f"r{i}",
                "location": i,
                "service": 100,
                "required": True,
                "time_windows": [[20, 20]],
            }
            for i in (1, 2)
        ],
        "officers": [{"id": "o", "start": 0, "end": 0, "shift": [0, 500]}],
        "time_limit": 0.3,
    }
    solution = solve_problem(problem)
    check_solution(problem, solution)
    assert solution["status"] == "infeasible"
    assert [u["reason"] for u in solution["unassigned"]] == ["no_time"]


def random_problem(seed: int, n_visits: int, n_officers: int, required_share: float) -> dict:
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 60, size=(n_visits + 1, 2)).tolist()
    visits = []
    for i in range(n_visits):
        lo = int(rng.integers(0, 400))
        windows = [[lo, lo + int(rng.integers(0, 200))]]
        if rng.random() < 0.3:
            windows.append([lo + 300, lo + 500])
        visits.append(
            {
                "id": f"v{i}",
                "location": i + 1,
                "service": int(rng.integers(0, 60)),
                "value": int(rng.integers(0, 20)),
                "time_windows": windows,
                "required": bool(rng.random() < required_share),
            }
        )
    officers = [{"id": f"o{k}", "start": 0, "end": 0, "shift": [0, 700]} for k in range(n_officers)]
    return {
        "locations": xy,
        "scale": 2,
        "visits": visits,
        "officers": officers,
        "time_limit": 0.3,
        "seed": seed,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_visits=st.integers(0, 9),
    n_officers=st.integers(1, 3),
    required_share=st.sampled_from([0.0, 0.2]),
)
def test_random_problems_give_feasible_explained_routes(
    seed: int, n_visits: int, n_officers: int, required_share: float
) -> None:
    problem = random_problem(seed, n_visits, n_officers, required_share)
    try:
        solution = solve_problem(problem)
    except ProblemError as exc:  # only a required visit impossible alone may be refused
        assert exc.field.startswith("visits[") and "required" in str(exc)
        return
    check_solution(problem, solution)


def test_same_seed_same_solution() -> None:
    problem = random_problem(7, 40, 2, 0.1)
    problem["time_limit"] = 1.0
    for v in problem["visits"]:
        v["required"] = False
    # Budgets with head-room for a machine shared with other jobs: the
    # property holds whenever the work budget, not the clock, stops the search.
    params = SolverParams(ils_work_per_s=5e5, gls_failures_per_s=150)
    first = solve_problem(problem, params=params)
    second = solve_problem(problem, params=params)
    assert first["stats"]["stopped_by"] == "work_budget"
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_clock_backstop_keeps_the_budget_and_widens_the_clock() -> None:
    # Limit x 64 with every rate / 64: the same work budgets bit for bit and
    # a clock 64 times later, so the routes of a run the clock did not cut
    # (what plan-all and `bench_optw.py --work-only` rely on).
    problem = random_problem(11, 30, 2, 0.0)
    problem["time_limit"] = 0.05
    params = SolverParams(ils_work_per_s=4e8, gls_failures_per_s=100)
    wide = solve_problem(problem, params=params, clock_backstop=64)
    assert wide["stats"]["stopped_by"] == "work_budget"
    slow = SolverParams(ils_work_per_s=4e8 / 64, gls_failures_per_s=100 / 64)
    same = solve_problem({**problem, "time_limit": 0.05 * 64}, params=slow)
    assert json.dumps(wide, sort_keys=True) == json.dumps(same, sort_keys=True)
    with pytest.raises(ParameterError, match=r"clock_backstop: found 3; expected a power of two"):
        solve_problem(problem, clock_backstop=3)
    # A bad time limit is still the problem's error, not a TypeError.
    with pytest.raises(ProblemError, match=r"time_limit: found 'soon'; expected seconds > 0"):
        solve_problem({**problem, "time_limit": "soon"}, clock_backstop=64)


def test_time_limit_is_honoured() -> None:
    problem = random_problem(3, 200, 3, 0.0)
    for o in problem["officers"]:
        o["shift"] = [0, 3000]
    problem["time_limit"] = 1.0
    began = time.perf_counter()
    solution = solve_problem(
        problem, params=SolverParams(ils_work_per_s=1e12, gls_failures_per_s=1e9)
    )
    assert time.perf_counter() - began <= 1.5
    assert solution["stats"]["stopped_by"] == "time_limit"
    check_solution(problem, solution)


def test_params_from_toml_and_bad_params(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("[solver]\nils_share = 0.5\n")
    assert load_params(SolverParams, path, table="solver").ils_share == 0.5
    with pytest.raises(ParameterError, match="ils_share"):
        SolverParams(ils_share=2)


def test_read_problem_arrays() -> None:
    data = read_problem(json.loads((ROOT / "examples" / "problem.json").read_text()))
    assert data.durations.shape == (5, 5) and data.n_visits == 6
    assert data.window_open.shape == (6, 2)


def test_cli_solves_the_readme_example(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "solution.json"
    assert cli_main(["solve", str(ROOT / "examples" / "problem.json"), "--out", str(out)]) == 0
    solution = json.loads(out.read_text())
    check_solution(json.loads((ROOT / "examples" / "problem.json").read_text()), solution)
    assert solution["status"] == "feasible" and solution["value"] > 0
    assert cli_main(["solve", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err


def required_problem(seed: int, n_visits: int, n_officers: int) -> dict:
    """Every visit required, capacities, wide windows: always feasible."""
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 100, size=(n_visits + 1, 2)).tolist()
    visits = [
        {
            "id": f"c{i}",
            "location": i,
            "service": 5,
            "demand": 1,
            "required": True,
            "time_windows": [[int(lo), int(lo) + 2000]],
        }
        for i, lo in enumerate(rng.integers(0, 1000, size=n_visits), start=1)
    ]
    cap = -(-n_visits // n_officers) + 2
    officers = [
        {"id": f"o{k}", "start": 0, "end": 0, "shift": [0, 20_000], "capacity": cap}
        for k in range(n_officers)
    ]
    return {"locations": xy, "visits": visits, "officers": officers, "seed": seed}


def test_required_only_same_seed_same_solution() -> None:
    problem = required_problem(5, 30, 4)
    problem["time_limit"] = 2.0
    params = SolverParams(rr_work_per_s=1e6, gls_failures_per_s=20)
    first = solve_problem(problem, params=params)
    second = solve_problem(problem, params=params)
    check_solution(problem, first)
    assert first["status"] == "feasible" and first["stats"]["rr_iterations"] > 0
    assert first["stats"]["stopped_by"] == "work_budget"
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), n_officers=st.integers(2, 4))
def test_ruin_and_recreate_keeps_every_visit_and_never_worsens(seed: int, n_officers: int) -> None:
    data = read_problem(required_problem(seed, 20, n_officers))
    allowed = alone_feasibility(data)[0]
    start = fill_routes(data, [[] for _ in range(n_officers)], allowed)
    before = route_totals(data, start)
    routes, done, units = ruin_and_recreate(
        data, start, allowed, work_units=300_000, deadline=time.perf_counter() + 5, seed=seed
    )
    value, travel, feasible = route_totals(data, routes)
    assert feasible and travel <= before[1] and done > 0 and units >= 300_000
    assert sorted(v for r in routes for v in r) == list(range(data.n_visits))


def test_relocate_descent_moves_a_visit_to_the_nearer_officer() -> None:
    # Officer 0 lives at 0, officer 1 at 100; each visit starts on the far one.
    problem = {
        "durations": [[0, 100, 1, 99], [100, 0, 99, 1], [1, 99, 0, 98], [99, 1, 98, 0]],
        "visits": [{"id": "a", "location": 2}, {"id": "b", "location": 3}],
        "officers": [
            {"id": "o0", "start": 0, "end": 0, "shift": [0, 1000]},
            {"id": "o1", "start": 1, "end": 1, "shift": [0, 1000]},
        ],
    }
    data = read_problem(problem)
    allowed = alone_feasibility(data)[0]
    assert relocate_descent(data, [[1], [0]], allowed) == [[0], [1]]


def test_exchange_puts_a_more_valuable_visit_in_place_of_a_served_one() -> None:
    # Room for one visit only: the low-value one is served, the better one waits.
    problem = {
        "durations": [[0, 10, 10], [10, 0, 10], [10, 10, 0]],
        "visits": [
            {"id": "low", "location": 1, "service": 50, "value": 1},
            {"id": "high", "location": 2, "service": 50, "value": 9},
        ],
        "officers": [{"id": "o", "start": 0, "end": 0, "shift": [0, 80]}],
    }
    data = read_problem(problem)
    allowed = alone_feasibility(data)[0]
    routes, changed = replace_visits(data, [[0]], allowed)
    assert changed and routes == [[1]]
    assert replace_visits(data, routes, allowed) == ([[1]], False)


def test_exchange_moves_a_stop_to_where_the_route_ends_earlier() -> None:
    # Stops on a line, served out of order; no unserved visit is worth more,
    # so the sweep re-places stops in time instead, keeping the value.
    xs = [0, 10, 20, 30, 40]
    problem = {
        "durations": [[abs(a - b) for b in xs] for a in xs],
        "visits": [{"id": f"v{i}", "location": i, "value": 1} for i in (1, 2, 3)],
        "officers": [{"id": "o", "start": 0, "end": 4, "shift": [0, 1000]}],
    }
    data = read_problem(problem)
    allowed = alone_feasibility(data)[0]
    before = route_totals(data, [[0, 2, 1]])
    routes, changed = replace_visits(data, [[0, 2, 1]], allowed)
    after = route_totals(data, routes)
    assert changed and sorted(routes[0]) == [0, 1, 2]
    assert after[0] == before[0] and after[2]
    assert after[1] < before[1] and after[1] == 40


def test_bad_first_solution_strategy_is_refused() -> None:
    with pytest.raises(ParameterError, match="required_first_solution"):
        SolverParams(required_first_solution="FASTEST")


def reference_schedule(
    data, k: int, route: list[int]
) -> tuple[list[int], list[int], int, int, bool]:
    """The schedule of a route computed with the array form of ``earliest_start``."""
    t = data.durations
    now, prev, travel, load, feasible = (
        int(data.shift_start[k]),
        int(data.officer_start[k]),
        0,
        0,
        True,
    )
    arrival, start = [], []
    for v in route:
        loc = int(data.visit_location[v])
        travel += int(t[prev, loc])
        a = now + int(t[prev, loc])
        s = int(earliest_start(data, np.array([v]), np.array([a]))[0])
        if s >= NO_TIME:
            feasible, s = False, a
        arrival.append(a)
        start.append(s)
        now = s + int(data.service[v])
        prev = loc
        load += int(data.demand[v])
    back = int(t[prev, data.officer_end[k]])
    feasible = feasible and now + back <= data.shift_end[k] and load <= data.capacity[k]
    return arrival, start, now + back, travel + back, feasible


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_visits=st.integers(1, 12), data_seed=st.integers(0, 99))
def test_route_schedule_matches_the_array_form(seed: int, n_visits: int, data_seed: int) -> None:
    # schedule_route reads windows as Python ints one visit at a time (for
    # speed); it must agree with the vectorised earliest_start, padding
    # windows and all, on feasible and infeasible routes alike.
    data = read_problem(random_problem(data_seed, n_visits, 2, 0.0))
    rng = np.random.default_rng(seed)
    route = [int(v) for v in rng.permutation(n_visits)[: rng.integers(0, n_visits + 1)]]
    k = int(rng.integers(0, 2))
    got = schedule_route(data, k, route)
    arrival, start, end_time, travel, feasible = reference_schedule(data, k, route)
    assert got.arrival.tolist() == arrival
    assert got.start.tolist() == start
    assert (got.end_time, got.travel, got.feasible) == (end_time, travel, feasible)


def test_one_visit_earliest_start_matches_the_array_form_at_every_second() -> None:
    # Every arrival second from before the first window to after the last,
    # so each window's open and close are hit exactly.
    # (The compiled one-visit form, padding windows included, against the array form.)
    from junkai_geo.solver.kernels import _start_at

    data = read_problem(random_problem(7, 12, 1, 0.0))
    w_open, w_close = data.window_open, data.window_close
    arrivals = np.arange(0, 1000)
    for v in range(data.n_visits):
        expected = earliest_start(data, np.full_like(arrivals, v), arrivals).tolist()
        assert [_start_at(w_open, w_close, v, int(a)) for a in arrivals] == expected


def team_problem(
    seed: int, n_visits: int, n_officers: int, windows: bool, shifts: tuple[int, int] = (150, 600)
) -> dict:
    """Several officers sharing one pool of optional visits (team orienteering), own ends.

    At most one window a visit; each officer's shift ends at a random second in ``shifts``.
    """
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 80, size=(n_visits + 2, 2)).tolist()
    visits = []
    for i in range(n_visits):
        visit = {
            "id": f"v{i}",
            "location": i + 2,
            "service": int(rng.integers(0, 30)),
            "value": int(rng.integers(1, 20)),
        }
        if windows and rng.random() < 0.7:
            lo = int(rng.integers(0, 500))
            visit["time_windows"] = [[lo, lo + int(rng.integers(20, 300))]]
        visits.append(visit)
    officers = [
        {"id": f"o{k}", "start": 0, "end": 1, "shift": [0, int(rng.integers(*shifts))]}
        for k in range(n_officers)
    ]
    return {"locations": xy, "scale": 1, "visits": visits, "officers": officers, "seed": seed}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_visits=st.integers(5, 40),
    n_officers=st.integers(2, 4),
    windows=st.booleans(),
)
def test_several_routes_share_visits_feasibly_and_repeat_with_the_seed(
    seed: int, n_visits: int, n_officers: int, windows: bool
) -> None:
    # Each visit at most once across all routes, every route feasible when
    # replayed against the matrix (check_solution), and with a work budget
    # that ends the search before the clock, the same seed gives the same plan.
    problem = team_problem(seed, n_visits, n_officers, windows)
    problem["time_limit"] = 2.0
    params = SolverParams(ils_work_per_s=2e5, gls_failures_per_s=20)
    first = solve_problem(problem, params=params)
    check_solution(problem, first)
    assert len(first["routes"]) == n_officers
    assert first["stats"]["stopped_by"] == "work_budget"
    second = solve_problem(problem, params=params)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_visits=st.integers(2, 25), windows=st.booleans())
def test_route_improvement_keeps_the_visits_and_never_lengthens(
    seed: int, n_visits: int, windows: bool
) -> None:
    from junkai_geo.solver.local import improve_route

    problem = team_problem(seed, n_visits, 1, windows)
    problem["officers"][0]["shift"] = [0, 100_000]
    if windows:  # windows wide enough that the random order is feasible
        for v in problem["visits"]:
            v["time_windows"] = [[0, 100_000]] if seed % 2 else [[0, 50_000], [60_000, 90_000]]
    data = read_problem(problem)
    rng = np.random.default_rng(seed)
    route = [int(v) for v in rng.permutation(n_visits)]
    before = schedule_route(data, 0, route)
    assert before.feasible
    better = improve_route(data, 0, route)
    after = schedule_route(data, 0, better)
    assert sorted(better) == sorted(route)
    assert after.feasible
    assert after.travel <= before.travel
    if n_visits >= 8:
        assert after.travel < before.travel  # a random order of 8+ points is never 2-optimal


def test_swap_puts_a_more_valuable_visit_in_the_place_of_a_served_one() -> None:
    from junkai_geo.solver.local import swap_visits

    # The officer can serve one of the visits at 5 (value 1) or 5 (value 9),
    # both at the same place: the swap takes the more valuable one.
    problem = {
        "durations": [[0, 5], [5, 0]],
        "visits": [
            {"id": "cheap", "location": 1, "value": 1, "service": 10},
            {"id": "dear", "location": 1, "value": 9, "service": 10},
        ],
        "officers": [{"id": "o", "start": 0, "end": 0, "shift": [0, 20]}],
    }
    data = read_problem(problem)
    allowed = alone_feasibility(data)[0]
    assert swap_visits(data, [[0]], allowed) == [[1]]
    assert swap_visits(data, [[1]], allowed) == [[1]]


def test_moves_between_routes_shorten_the_total() -> None:
    # Two officers from the same point; visits on the left and the right,
    # given crossed (84 travel): the descent undoes the crossing (44: each
    # officer his side, or one officer both, the same travel on a line).
    problem = {
        "locations": [[0, 0], [-10, 0], [-11, 0], [10, 0], [11, 0]],
        "visits": [{"id": f"v{i}", "location": i, "value": 1} for i in range(1, 5)],
        "officers": [{"id": f"o{k}", "start": 0, "end": 0, "shift": [0, 100]} for k in range(2)],
    }
    data = read_problem(problem)
    allowed = alone_feasibility(data)[0]
    crossed = [[0, 2], [1, 3]]
    assert route_totals(data, crossed)[1] == 84
    moved = relocate_descent(data, crossed, allowed)
    assert route_totals(data, moved) == (4, 44, True)
    assert sorted(v for r in moved for v in r) == [0, 1, 2, 3]


def test_greedy_weighs_value_by_the_chosen_power() -> None:
    from junkai_geo.solver.local import fill_routes

    # A 100 s shift, travel free: one long visit worth 10 or two short ones
    # worth 6 each. Value squared per second takes the long one (1.0 against
    # 0.72 a second), value per second the two short ones (0.12 against 0.1):
    # the ILS draws both, and a day filled by service is a knapsack.
    problem = {
        "durations": [[0]],
        "visits": [
            {"id": "long", "location": 0, "service": 100, "value": 10},
            {"id": "short1", "location": 0, "service": 50, "value": 6},
            {"id": "short2", "location": 0, "service": 50, "value": 6},
        ],
        "officers": [{"id": "o", "start": 0, "end": 0, "shift": [0, 100]}],
    }
    data = read_problem(problem)
    allowed = alone_feasibility(data)[0]
    assert fill_routes(data, [[]], allowed, power=2.0) == [[0]]
    assert sorted(fill_routes(data, [[]], allowed, power=1.0)[0]) == [1, 2]
    assert solve_problem({**problem, "time_limit": 1.0})["value"] == 12
    with pytest.raises(ParameterError, match="ils_powers"):
        SolverParams(ils_powers=(2.0, 1.0))
