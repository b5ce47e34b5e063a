"""Daily routes: feasibility against the matrix, windows, reasons, re-planning."""

from __future__ import annotations

import json
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo.errors import InputError, ParameterError
from junkai_geo.routing import (
    SKIP_REASONS,
    DayPlan,
    DayProblem,
    DayRequest,
    NightApproval,
    RouteParams,
    build_day_problem,
    build_day_problem_from_frames,
    parse_window,
    plan_day,
    replan,
    resolve_windows,
)
from junkai_geo.settings import load_params

ON = date(2026, 11, 25)  # Wednesday
X0, Y0 = -46400.0, 64100.0  # near Kanazawa station in EPSG:6675
OFFICER = {"officer_id": "O1", "koban_id": "K1", "beat_id": "K1-B1", "mode": "walk"}


def problem_frames(
    officer,
    on,
    *,
    households,
    buildings,
    cards,
    visits,
    start_xy,
    end_xy=None,
    travel=None,
    start_label="",
    end_label=None,
    **request,
) -> DayProblem:
    """The day's problem from tables (the request's options as keywords)."""
    officer_id = officer if isinstance(officer, str) else officer["officer_id"]
    return build_day_problem_from_frames(
        DayRequest(officer_id=officer_id, on=on, **request),
        officer=officer,
        households=households,
        buildings=buildings,
        cards=cards,
        visits=visits,
        start_xy=start_xy,
        end_xy=end_xy,
        start_label=start_label,
        end_label=end_label,
        travel=travel,
    )


def plan_frames(officer, on, *, time_limit_s=2.0, seed=0, **kwargs) -> DayPlan:
    """Build the problem (``problem_frames``) and plan it."""
    return plan_day(problem_frames(officer, on, **kwargs), time_limit_s=time_limit_s, seed=seed)


def grid_instance(n_buildings: int = 40, seed: int = 1, spread_m: float = 500.0):
    """Named instance ``plan_grid``: detached houses and a few apartment blocks."""
    rng = np.random.default_rng(seed)
    bx = rng.uniform(-spread_m, spread_m, n_buildings)
    by = rng.uniform(-spread_m, spread_m, n_buildings)
    rows, brows = [], []
    for b in range(n_buildings):
        block = b % 6 == 0
        units = 10 if block else 1
        brows.append(
            {
                "building_id": f"B{b:03d}",
                "kind": "apartment" if block else "detached",
                "floors": 4 if block else 1,
                "units": units,
                "complex_id": None,
            }
        )
        for j in range(units):
            rows.append(
                {
                    "household_id": f"H{b:03d}{j:02d}",
                    "kind": "business" if (not block and b % 7 == 3) else "home",
                    "building_id": f"B{b:03d}",
                    "floor": 1 + j // 3,
                    "address": f"町{b}",
                    "x": X0 + bx[b] + j * 0.5,
                    "y": Y0 + by[b],
                }
            )
    hh = pd.DataFrame(rows)
    hh = gpd.GeoDataFrame(
        hh.drop(columns=["x", "y"]), geometry=gpd.points_from_xy(hh.x, hh.y), crs="EPSG:6675"
    )
    status = rng.choice(
        ["none", "stale", "current", "recent", "moved"], len(hh), p=[0.3, 0.3, 0.2, 0.1, 0.1]
    )
    last = {
        "none": pd.NaT,
        "stale": pd.Timestamp("2023-06-01"),
        "current": pd.Timestamp("2026-01-10"),
        "recent": pd.Timestamp("2026-10-01"),
        "moved": pd.NaT,
    }
    cards = pd.DataFrame(
        {
            "household_id": hh["household_id"],
            "status": [
                "current" if s == "recent" else ("none" if s == "moved" else s) for s in status
            ],
            "occupancy": ["moved_out" if s == "moved" else "occupied" for s in status],
            "last_contact": [last[s] for s in status],
        }
    )
    return hh, pd.DataFrame(brows), cards


@pytest.fixture(scope="module")
def grid():
    return grid_instance()


@pytest.fixture(scope="module")
def grid_plan(grid) -> DayPlan:
    hh, b, cards = grid
    return plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.5,
        seed=0,
    )


def service_of(stop, params: RouteParams) -> int:
    top = max(h.floor for h in stop.households)
    return (
        params.building_approach_s
        + sum(params.service_s(h.kind, h.card_status == "none") for h in stop.households)
        + params.per_floor_s * (top - 1)
    )


def assert_feasible(plan: DayPlan, params: RouteParams, *, shift_start: int) -> None:
    """Recompute every time of the route from the plan's matrix."""
    d = plan.matrix.durations_s
    prev_loc, clock = 0, shift_start
    travel = 0
    for s in plan.stops:
        if s.done:
            continue
        assert s.location >= 2
        clock += int(d[prev_loc, s.location])
        travel += int(d[prev_loc, s.location])
        assert s.arrival_s >= clock, f"stop {s.order} starts before the officer can arrive"
        assert s.departure_s - s.arrival_s == service_of(s, params)
        assert any(a <= s.arrival_s and s.departure_s <= b for a, b in plan.windows), (
            f"stop {s.order} {s.arrival_s}-{s.departure_s} is outside the windows {plan.windows}"
        )
        clock, prev_loc = s.departure_s, s.location
    back = clock + int(d[prev_loc, 1])
    assert back <= plan.windows[-1][1] + params.return_after_s
    travel += int(d[prev_loc, 1])
    assert plan.to_dict()["totals"]["travel_s"] == travel + sum(
        s.travel_s for s in plan.stops if s.done
    )


def candidates(hh, cards):
    c = cards.set_index("household_id")
    recent = c["last_contact"] > pd.Timestamp(ON) - pd.Timedelta(days=180)
    ok = (c["occupancy"] == "occupied") & ~recent
    return set(c.index[ok])


def test_route_is_feasible_against_the_matrix(grid_plan):
    assert grid_plan.stops, "the plan should visit somebody"
    params = RouteParams()
    assert_feasible(grid_plan, params, shift_start=grid_plan.windows[0][0] - params.leave_before_s)


def test_each_household_once_and_every_candidate_explained(grid, grid_plan):
    hh, _, cards = grid
    chosen = grid_plan.household_ids
    assert len(chosen) == len(set(chosen))
    skipped = {s["household_id"]: s["reason"] for s in grid_plan.skipped}
    assert not set(chosen) & set(skipped)
    assert set(chosen) | set(skipped) == candidates(hh, cards)
    assert set(skipped.values()) <= set(SKIP_REASONS)
    assert "no_time" in skipped.values()


def test_plan_json_follows_the_format(grid_plan):
    d = json.loads(json.dumps(grid_plan.to_dict()))
    assert set(d) == {
        "officer_id",
        "koban_id",
        "beat_id",
        "date",
        "start",
        "end",
        "windows",
        "travel_source",
        "travel_mode",
        "stops",
        "skipped",
        "totals",
        "notes",
        "night_windows",
    }
    assert d["travel_source"] == "straight_line"
    assert any("straight line" in n for n in d["notes"])
    assert d["windows"] == [["10:00:00", "12:00:00"], ["14:00:00", "16:00:00"]]
    stop = d["stops"][0]
    assert set(stop) == {
        "order",
        "building_id",
        "address",
        "lon",
        "lat",
        "arrival",
        "departure",
        "households",
        "path",
    }
    assert 136.5 < stop["lon"] < 136.8 and 36.4 < stop["lat"] < 36.7  # Kanazawa, WGS84
    assert set(stop["households"][0]) == {
        "household_id",
        "kind",
        "floor",
        "unit",
        "card_status",
        "reasons",
        "expected_contact",
    }
    assert set(d["totals"]) == {
        "stops",
        "households",
        "expected_contacts",
        "travel_s",
        "service_s",
        "value",
    }
    assert d["totals"]["households"] == sum(len(s["households"]) for s in d["stops"])


def test_same_seed_same_plan(slow_clock):
    # A small instance and a generous limit: the solver stops on its work
    # budget, not on the wall clock, even on a busy machine.
    hh, b, cards = grid_instance(n_buildings=15, seed=4)
    plans = [
        plan_frames(
            OFFICER,
            ON,
            households=hh,
            buildings=b,
            cards=cards,
            visits=None,
            start_xy=(X0, Y0),
            time_limit_s=1.5,
            seed=7,
        ).to_dict()
        for _ in range(2)
    ]
    assert plans[0]["stops"] and plans[0] == plans[1]


def test_large_complex_is_few_nodes():
    """A 団地 of 300 households becomes a handful of nodes, split by floor."""
    hh = pd.DataFrame(
        {
            "household_id": [f"D{i:03d}" for i in range(300)],
            "kind": "home",
            "building_id": "DANCHI",
            "floor": [1 + i // 20 for i in range(300)],
            "x": X0 + 100.0,
            "y": Y0,
        }
    )
    b = pd.DataFrame(
        {
            "building_id": ["DANCHI"],
            "kind": ["danchi"],
            "floors": [15],
            "units": [300],
            "complex_id": ["C"],
        }
    )
    cards = pd.DataFrame(
        {
            "household_id": hh["household_id"],
            "status": "none",
            "occupancy": "occupied",
            "last_contact": pd.NaT,
        }
    )
    plan = plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.5,
    )
    # 4 h of windows in chunks of at most node_max_service_s: a handful of nodes.
    params = RouteParams()
    assert plan.matrix is not None
    assert plan.matrix.n <= 2 + 4 * 3600 // (params.node_max_service_s - 1200) + 1
    assert {s["reason"] for s in plan.skipped} == {"no_time"}
    assert all(s.building_id == "DANCHI" for s in plan.stops)
    assert all("large_complex" in h.reasons for s in plan.stops for h in s.households)
    params = RouteParams()
    assert_feasible(plan, params, shift_start=plan.windows[0][0] - params.leave_before_s)
    floors = [h.floor for s in plan.stops for h in s.households]
    assert floors == sorted(floors) or len(plan.stops) > 1


def tie_instance(first_status: str, second_status: str):
    """Named instance ``plan_tie``: two homes at the same distance, time for one."""
    hh = pd.DataFrame(
        {
            "household_id": ["A", "B"],
            "kind": "home",
            "building_id": [None, None],
            "floor": 1,
            "x": [X0 + 300.0, X0 - 300.0],
            "y": [Y0, Y0],
        }
    )
    cards = pd.DataFrame(
        {
            "household_id": ["A", "B"],
            "status": [first_status, second_status],
            "occupancy": "occupied",
            "last_contact": [
                pd.Timestamp("2023-01-01") if s == "stale" else pd.NaT
                for s in (first_status, second_status)
            ],
        }
    )
    return hh, cards


@pytest.mark.parametrize("order", [("none", "stale"), ("stale", "none")])
def test_equal_cost_no_card_before_stale(order):
    hh, cards = tie_instance(*order)
    # Equal service times: only the card status differs. One 20-minute window
    # holds one visit and its walk, not two.
    params = RouteParams(
        service_home_new_s=600, service_home_update_s=600, leave_before_s=0, return_after_s=600
    )
    plan = plan_frames(
        OFFICER,
        ON,
        windows=["10:00-10:20"],
        households=hh,
        buildings=None,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        params=params,
        time_limit_s=0.3,
    )
    assert [h.card_status for s in plan.stops for h in s.households] == ["none"]
    assert [s["reason"] for s in plan.skipped] == ["less_valuable"]


def test_night_window_needs_approval(grid):
    hh, b, cards = grid
    asked = ["10:00-12:00", "18:00-20:00"]
    plain = plan_frames(
        OFFICER,
        ON,
        windows=asked,
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
    )
    assert plain.windows == [(36000, 43200)]
    assert any("without an approval" in n for n in plain.notes)
    assert all(s.departure_s <= 18 * 3600 for s in plain.stops)
    other_day = NightApproval("O1", date(2026, 11, 26), "18:00-20:00")
    wrong = plan_frames(
        OFFICER,
        ON,
        windows=["18:00-20:00"],
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        night_approval=other_day,
        time_limit_s=0.3,
    )
    assert wrong.stops == [] and any("does not apply" in n for n in wrong.notes)
    ok = plan_frames(
        OFFICER,
        ON,
        windows=["18:00-20:00"],
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        night_approval=NightApproval("O1", ON, "18:00-20:00"),
        time_limit_s=0.3,
    )
    assert ok.windows == [(18 * 3600, 20 * 3600)]
    assert ok.stops and all(
        s.arrival_s >= 18 * 3600 and s.departure_s <= 20 * 3600 for s in ok.stops
    )
    # Businesses close in the evening: none is visited at night.
    assert all(h.kind == "home" for s in ok.stops for h in s.households)


def test_breaks_are_cut_out():
    wins, _ = resolve_windows("O1", ON, ["09:00-13:00"], breaks=["11:00-11:30"])
    assert wins == [(9 * 3600, 11 * 3600), (11 * 3600 + 1800, 13 * 3600)]


def test_absent_in_mornings_goes_to_the_afternoon():
    hh = pd.DataFrame(
        {
            "household_id": ["A"],
            "kind": "home",
            "building_id": [None],
            "floor": 1,
            "x": [X0 + 50.0],
            "y": [Y0],
        }
    )
    cards = pd.DataFrame(
        {"household_id": ["A"], "status": "none", "occupancy": "occupied", "last_contact": pd.NaT}
    )
    visits = pd.DataFrame(
        {
            "visit_id": [f"v{k}" for k in range(5)],
            "household_id": "A",
            "officer_id": "O1",
            "visited_on": [date(2026, 10, 7 + k) for k in range(5)],  # weekdays
            "time": "10:30",
            "outcome": "absent",
        }
    )
    plan = plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=None,
        cards=cards,
        visits=visits,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
    )
    assert len(plan.stops) == 1 and plan.stops[0].arrival_s >= 14 * 3600
    assert "absent_history" in plan.stops[0].households[0].reasons
    only_morning = plan_frames(
        OFFICER,
        ON,
        windows=["10:00-12:00"],
        households=hh,
        buildings=None,
        cards=cards,
        visits=visits,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
    )
    assert only_morning.stops == []
    assert only_morning.skipped == [{"household_id": "A", "reason": "outside_window"}]


def test_far_household_is_unreachable():
    hh = pd.DataFrame(
        {
            "household_id": ["near", "far"],
            "kind": "home",
            "building_id": [None, None],
            "floor": 1,
            "x": [X0 + 100.0, X0 + 40000.0],
            "y": [Y0, Y0],
        }
    )
    cards = pd.DataFrame(
        {
            "household_id": ["near", "far"],
            "status": "none",
            "occupancy": "occupied",
            "last_contact": pd.NaT,
        }
    )
    plan = plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=None,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
    )
    assert plan.household_ids == ["near"]
    assert plan.skipped == [{"household_id": "far", "reason": "unreachable"}]


def test_pruning_keeps_max_candidates(grid):
    hh, b, cards = grid
    plan = plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
        max_candidates=5,
    )
    assert plan.matrix is not None and plan.matrix.n == 2 + 5
    assert "less_valuable" in {s["reason"] for s in plan.skipped}
    assert any("max_candidates 5" in n for n in plan.notes)


def test_replan_keeps_done_and_starts_at_position(grid, grid_plan):
    hh, b, cards = grid
    done = grid_plan.household_ids[:3]
    pos = (X0 + 250.0, Y0 - 120.0)
    now = 11 * 3600 + 15 * 60
    again = replan(grid_plan, now="11:15", position_xy=pos, done=done, time_limit_s=0.5)
    kept = [h.household_id for s in again.stops if s.done for h in s.households]
    assert kept == done
    assert all(s.departure_s <= now for s in again.stops if s.done)
    fresh = [s for s in again.stops if not s.done]
    assert fresh, "time is left after 11:15"
    assert not set(done) & {h.household_id for s in fresh for h in s.households}
    assert again.start.x == pos[0] and again.start.y == pos[1]
    first = fresh[0]
    assert first.arrival_s >= now + int(again.matrix.durations_s[0, first.location])
    assert again.windows[0][0] >= now
    params = RouteParams()
    assert_feasible(again, params, shift_start=now)
    chosen = again.household_ids
    assert len(chosen) == len(set(chosen))
    skipped = {s["household_id"] for s in again.skipped}
    assert set(chosen) | skipped == candidates(hh, cards)
    assert [s.order for s in again.stops] == list(range(1, len(again.stops) + 1))


def test_example_params_are_the_defaults():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "priorities.toml"
    assert load_params(RouteParams, example, table="routing") == RouteParams()


def test_route_params_from_toml(fixtures_dir):
    p = load_params(RouteParams, fixtures_dir / "plan_params.toml", table="routing")
    assert p.service_home_new_s == 1200 and p.day_windows == ("09:30-11:30",)
    with pytest.raises(ParameterError, match="unknown parameter.*service_new_s"):
        load_params(RouteParams, fixtures_dir / "plan_params_typo.toml", table="routing")


@pytest.mark.parametrize(
    ("window", "match"),
    [
        ("10:00", "expected HH:MM-HH:MM"),
        ("12:00-10:00", "start before the end"),
        ("10:00-25:00", "expected HH:MM or HH:MM:SS"),
    ],
)
def test_bad_windows(window, match):
    with pytest.raises(ParameterError, match=match):
        parse_window(window)


def test_households_without_points(fixtures_dir):
    hh = pd.read_csv(fixtures_dir / "plan_households_no_xy.csv")
    cards = pd.DataFrame(
        {
            "household_id": hh["household_id"],
            "status": "none",
            "occupancy": "occupied",
            "last_contact": pd.NaT,
        }
    )
    with pytest.raises(InputError, match="households.*field 'geometry'.*expected point geometry"):
        plan_frames(
            OFFICER,
            ON,
            households=hh,
            buildings=None,
            cards=cards,
            visits=None,
            start_xy=(X0, Y0),
            time_limit_s=0.3,
        )


def test_plan_command_on_bundled_data(tmp_path, capsys):
    from junkai_geo.bundled import data_dir
    from junkai_geo.cli import main

    if not (data_dir() / "households.parquet").is_file():
        pytest.fail(f"bundled data missing in {data_dir()}: the checkout should carry it")
    officers = pd.read_csv(data_dir() / "officers.csv")
    officer = str(officers["officer_id"].iloc[0])
    out = tmp_path / "plan.json"
    code = main(
        [
            "plan",
            "--officer",
            officer,
            "--date",
            "2026-11-04",
            "--window",
            "10:00-11:00",
            "--out",
            str(out),
            "--time-limit",
            "0.5",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert officer in text and "plan written to" in text
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["officer_id"] == officer and d["windows"] == [["10:00:00", "11:00:00"]]
    assert all(s["arrival"] >= "10:00:00" and s["departure"] <= "11:00:00" for s in d["stops"])
    assert main(["plan", "--officer", "NOBODY", "--date", "2026-11-04"]) == 1
    assert "unknown_officer" in capsys.readouterr().err


def test_plan_on_a_street_network(fixtures_dir, tmp_path, monkeypatch):
    """A small street grid with a detached island (``network_island.osm``)."""
    from pyproj import Transformer

    monkeypatch.setenv("JUNKAI_CACHE_DIR", str(tmp_path))  # keep the checkout clean
    from junkai_geo.network import read_network

    net = read_network(fixtures_dir / "network_island.osm", "walk")
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:6675", always_xy=True)
    lonlat = [(136.6505, 36.5601), (136.6516, 36.5610), (136.6521, 36.5617), (136.6593, 36.5609)]
    x, y = to_m.transform([p[0] for p in lonlat], [p[1] for p in lonlat])
    hh = pd.DataFrame(
        {
            "household_id": ["a", "b", "c", "island"],
            "kind": "home",
            "building_id": [None] * 4,
            "floor": 1,
            "x": x,
            "y": y,
        }
    )
    cards = pd.DataFrame(
        {
            "household_id": hh["household_id"],
            "status": "none",
            "occupancy": "occupied",
            "last_contact": pd.NaT,
        }
    )
    sx, sy = to_m.transform(136.6500, 36.5600)
    plan = plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=None,
        cards=cards,
        visits=None,
        start_xy=(sx, sy),
        travel=net,
        time_limit_s=0.5,
    )
    assert plan.travel_source == "network"
    assert sorted(plan.household_ids) == ["a", "b", "c"]
    assert plan.skipped == [{"household_id": "island", "reason": "unreachable"}]
    params = RouteParams()
    assert_feasible(plan, params, shift_start=plan.windows[0][0] - params.leave_before_s)
    # Street paths follow the grid: more than the two end points somewhere.
    assert any(len(s.path) > 2 for s in plan.stops)
    # The problem carries the street paths: its JSON draws the same route
    # without the network.
    problem = plan.problem
    assert problem is not None and problem.travel_source == "network" and problem.leg_paths
    back = DayProblem.from_json(problem.to_json())
    assert plan_day(back, time_limit_s=0.5).to_dict() == plan.to_dict()
    with pytest.raises(ParameterError, match="travel: found None; expected the network"):
        replan(plan, now="10:30", position_xy=(sx, sy), done=[], time_limit_s=0.3)
    again = replan(plan, now="10:30", position_xy=(sx, sy), done=[], time_limit_s=0.3, travel=net)
    assert again.travel_source == "network"


def test_households_in_degrees_are_refused(grid):
    hh, b, cards = grid
    with pytest.raises(InputError, match=r"households.*geometry.*degrees.*metric CRS"):
        plan_frames(
            OFFICER,
            ON,
            households=hh.to_crs("EPSG:4326"),
            buildings=b,
            cards=cards,
            visits=None,
            start_xy=(X0, Y0),
            time_limit_s=0.3,
        )


@settings(max_examples=6, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_buildings=st.integers(1, 30),
    spread_m=st.sampled_from([100.0, 800.0, 3000.0]),
    windows=st.sampled_from([None, ["09:00-10:30"], ["10:00-11:00", "13:30-15:00"]]),
)
def test_random_days_are_feasible_and_explained(seed, n_buildings, spread_m, windows):
    hh, b, cards = grid_instance(n_buildings=n_buildings, seed=seed, spread_m=spread_m)
    plan = plan_frames(
        OFFICER,
        ON,
        windows=windows,
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
        seed=seed,
    )
    params = RouteParams()
    if plan.stops:
        assert_feasible(plan, params, shift_start=plan.windows[0][0] - params.leave_before_s)
    chosen = plan.household_ids
    skipped = {s["household_id"]: s["reason"] for s in plan.skipped}
    assert len(chosen) == len(set(chosen)) and not set(chosen) & set(skipped)
    assert set(chosen) | set(skipped) == candidates(hh, cards)
    assert set(skipped.values()) <= set(SKIP_REASONS)


# ----------------------------------------------------------------------------
# the problem object


@pytest.fixture(scope="module")
def small_problem() -> DayProblem:
    """Named instance ``plan_grid_small``: 15 buildings, a morning and an afternoon window."""
    hh, b, cards = grid_instance(n_buildings=15, seed=4)
    return problem_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        start_label="交番",
        breaks=["11:00-11:15"],
        night_approval=NightApproval("O1", ON, "18:00-19:00"),
        windows=["10:00-12:00", "18:00-19:00"],
        focus_days=(ON,),
    )


def test_problem_json_round_trip_gives_the_same_plan(small_problem, slow_clock):
    text = small_problem.to_json()
    back = DayProblem.from_json(text)
    assert back == small_problem
    assert DayProblem.from_dict(json.loads(text)) == small_problem
    assert back.to_json() == text
    assert back.focus_day and back.night_approval == small_problem.night_approval
    assert back.breaks == ("11:00-11:15",)
    a = plan_day(small_problem, time_limit_s=1.5, seed=3).to_dict()
    b = plan_day(back, time_limit_s=1.5, seed=3).to_dict()
    assert a["stops"] and a == b


def test_problem_pickles_and_is_frozen(small_problem):
    import dataclasses
    import pickle

    again = pickle.loads(pickle.dumps(small_problem))
    assert again == small_problem
    with pytest.raises(dataclasses.FrozenInstanceError):
        small_problem.seed = 1  # type: ignore[misc]


def test_problem_is_self_contained(small_problem):
    p = small_problem
    n = len(p.nodes)
    assert p.matrix.n == n + 2 and len(p.lonlat) == n + 2
    assert p.travel_source == "straight_line" and p.leg_paths == {}
    assert p.windows == (
        (10 * 3600, 11 * 3600),
        (11 * 3600 + 900, 12 * 3600),
        (18 * 3600, 19 * 3600),
    )
    assert p.slots == ("morning", "morning", "evening")
    rows = {r for node in p.nodes for r in node.rows} | {r for r, _ in p.skipped}
    assert rows == set(range(len(p.candidates)))
    assert p.start.label == p.end.label == "交番"


def test_plan_day_takes_a_problem():
    with pytest.raises(ParameterError, match="problem: found dict; expected a DayProblem"):
        plan_day({"officer_id": "O1"})  # type: ignore[arg-type]


def test_bad_problem_format(small_problem):
    d = small_problem.to_dict()
    d["format"] = 99
    with pytest.raises(ParameterError, match=r"DayProblem.format: found 99; expected 1"):
        DayProblem.from_dict(d)


def test_no_candidate_is_explained():
    hh, b, cards = grid_instance(n_buildings=4, seed=2)
    recent = cards.assign(status="current", occupancy="occupied", last_contact=pd.Timestamp(ON))
    plan = plan_frames(
        OFFICER,
        ON,
        households=hh,
        buildings=b,
        cards=recent,
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
    )
    assert plan.stops == [] and plan.status == "empty"
    assert any(n.startswith("no_candidates: 本日訪問が必要な世帯がありません") for n in plan.notes)
    none = plan_frames(
        OFFICER,
        ON,
        households=hh.iloc[:0],
        buildings=b,
        cards=cards.iloc[:0],
        visits=None,
        start_xy=(X0, Y0),
        time_limit_s=0.3,
    )
    assert any(n.startswith("no_households: 受持区に世帯がありません") for n in none.notes)


def test_request_checks_itself():
    with pytest.raises(ParameterError, match="max_candidates: found 0; expected an integer > 0"):
        DayRequest(officer_id="O1", on=ON, max_candidates=0)
    r = DayRequest(officer_id="O1", on=ON, windows=["10:00-11:00"], exclude=["b", "a"])
    assert r.windows == ("10:00-11:00",) and r.exclude == ("b", "a")


def test_replan_from_a_problem_in_json(grid_plan):
    problem = DayProblem.from_json(grid_plan.problem.to_json())
    again = replan(problem, now="13:00", position_xy=(X0, Y0), done=[], time_limit_s=0.3)
    assert again.windows[0][0] >= 13 * 3600
    assert not any(s.done for s in again.stops)


def test_build_day_problem_from_the_bundled_dataset():
    from junkai_geo.bundled import load_kanazawa

    ds = load_kanazawa(validate=False)
    officer = ds.officers[ds.officers["role"] == "beat"].iloc[0]
    request = DayRequest(officer_id=str(officer["officer_id"]), on=date(2026, 11, 4))
    problem = build_day_problem(ds, request)
    assert problem.beat_id == str(officer["beat_id"]) and problem.koban_id == officer["koban_id"]
    beat_hh = set(ds.households.loc[ds.households["beat_id"] == officer["beat_id"], "household_id"])
    assert set(problem.candidates.household_id) <= beat_hh and len(problem.candidates)
    koban = ds.koban[ds.koban["koban_id"] == officer["koban_id"]]
    assert problem.start.label == str(koban["name"].iloc[0])
    assert (problem.start.x, problem.start.y) == (
        koban.geometry.x.iloc[0],
        koban.geometry.y.iloc[0],
    )
    plan = plan_day(problem, time_limit_s=0.5)
    assert plan.stops and plan.problem is problem
    with pytest.raises(InputError, match=r"officers, field 'officer_id': found 'NOBODY'"):
        build_day_problem(ds, DayRequest(officer_id="NOBODY", on=date(2026, 11, 4)))


def test_each_household_carries_its_door() -> None:
    from junkai_geo.model import split_address

    assert split_address("上柿木畠 1-1 401号室") == ("上柿木畠 1-1", "401号室")
    assert split_address("長町３丁目 長町団地 1号棟 101") == ("長町３丁目 長町団地 1号棟", "101")
    assert split_address("暁町 21-9") == ("暁町 21-9", "")


def test_an_approved_night_window_left_unused_is_explained(grid):
    hh, b, cards = grid
    # Nobody may be met in a window at a probability of 0.99 or more, so the
    # approved evening stays empty: the plan says why, in Japanese first.
    plan = plan_frames(
        OFFICER,
        ON,
        windows=["10:00-12:00", "18:00-20:00"],
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        night_approval=NightApproval("O1", ON, "18:00-20:00"),
        params=RouteParams(min_p_contact_window=0.99),
        time_limit_s=0.3,
    )
    assert not any(s.arrival_s >= 18 * 3600 for s in plan.stops)
    notes = [n for n in plan.notes if n.startswith("夜間 18:00-20:00 は未使用")]
    assert len(notes) == 1 and "0.99" in notes[0], plan.notes
    assert [w["code"] for w in plan.to_dict()["night_windows"]] == ["no_candidate"]
    from junkai_geo.sheet import sheet_notes

    on_sheet = [n for n in sheet_notes(plan.to_dict()) if n.startswith("夜間 18:00–20:00")]
    assert len(on_sheet) == 1 and "未使用" in on_sheet[0], on_sheet
    # With the window used, no such note.
    used = plan_frames(
        OFFICER,
        ON,
        windows=["18:00-20:00"],
        households=hh,
        buildings=b,
        cards=cards,
        visits=None,
        start_xy=(X0, Y0),
        night_approval=NightApproval("O1", ON, "18:00-20:00"),
        time_limit_s=0.3,
    )
    assert used.stops and not any("未使用" in n for n in used.notes)
