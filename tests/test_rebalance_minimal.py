"""Minimal-change rebalancing, the koban rule as a constraint, the problem as data.

Feasibility is recomputed from the geometry alone (shapely and networkx:
which polygon holds each koban, which polygons share a boundary), never from
the optimiser's own graph or figures, on layers of several kinds: a grid, an
irregular Voronoi layer with an enclave (a unit inside another) and an island.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from junkai_geo.cli import main
from junkai_geo.rebalance import (
    BeatProblem,
    ProblemOptions,
    RebalanceParams,
    check_koban_rule,
    rebalance_beats,
    sweep_tolerances,
)
from junkai_geo.rebalance.report import summary_lines, sweep_table

QUICK = RebalanceParams(moves_per_unit=300, time_limit_s=60)


# ---------------------------------------------------------------- layers


def grid_layer(n: int = 10, seed: int = 0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """n x n squares of 100 m, four square beats (two per koban), the left third heavy."""
    rng = np.random.default_rng(seed)
    rows = []
    half = n // 2
    for i in range(n):
        for j in range(n):
            beat = f"B{(i // half) * 2 + j // half}"
            rows.append(
                {
                    "unit_id": f"U{i:02d}{j:02d}",
                    "households": float(rng.integers(5, 30) + (45 if i < n // 3 else 0)),
                    "beat": beat,
                    "geometry": shapely.box(i * 100, j * 100, i * 100 + 100, j * 100 + 100),
                }
            )
    units = gpd.GeoDataFrame(rows, crs="EPSG:6675")
    # K1 sits where B0 and B1 meet; K2 at the corner of B2 and B3.
    kob = gpd.GeoDataFrame(
        {"koban_id": ["K1", "K2"]},
        geometry=[shapely.Point(250, 450), shapely.Point(750, 450)],
        crs="EPSG:6675",
    )
    units["koban_id"] = ["K1" if b in ("B0", "B1") else "K2" for b in units["beat"]]
    return units, kob


def irregular_layer(
    seed: int = 3,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, str]]:
    """Voronoi units in a 2 km square, one unit with an enclave inside it, and an island.

    Six current beats in vertical strips by x (uneven), four kobans: one in
    the enclave (its unit touches only the unit around it) with one beat, one
    on the island (which touches nothing) with one beat, two with two beats.
    """
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 2000, size=(70, 2))
    frame = shapely.box(0, 0, 2000, 2000)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=frame.buffer(500))
    )
    polys = [c.intersection(frame) for c in cells]
    # An enclave: a small square cut out of the cell at the centre becomes its own unit.
    centre = shapely.Point(1000, 1000)
    k = next(i for i, p in enumerate(polys) if p.contains(centre))
    hole = centre.buffer(60, cap_style="square")
    if not polys[k].contains(hole):
        hole = centre.buffer(20, cap_style="square")
    polys[k] = polys[k].difference(hole)
    polys.append(hole)
    # An island 300 m east of the mainland.
    polys.append(shapely.box(2300, 900, 2500, 1100))
    xs = np.array([p.representative_point().x for p in polys])
    households = rng.gamma(2.0, 40.0, size=len(polys)).round() + 5
    households[xs < 700] *= 2.5  # a heavy west
    strips = np.clip((xs / 2000 * 6).astype(int), 0, 5)
    units = gpd.GeoDataFrame(
        {
            "unit_id": [f"V{i:03d}" for i in range(len(polys))],
            "households": households,
            "beat": [f"S{s}" for s in strips],
        },
        geometry=polys,
        crs="EPSG:6675",
    )
    kob = gpd.GeoDataFrame(
        {"koban_id": ["KW", "KC", "KE", "KI"]},
        geometry=[
            shapely.Point(300, 1000),
            shapely.Point(1000, 1000),
            shapely.Point(1500, 700),
            shapely.Point(2400, 1000),
        ],
        crs="EPSG:6675",
    )
    beat_koban = {"S0": "KW", "S1": "KW", "S2": "KC", "S3": "KE", "S4": "KE", "S5": "KI"}
    return units, kob, beat_koban


# ---------------------------------------------------------------- independent checks


def rook_graph(units: gpd.GeoDataFrame, extra: list[tuple[str, str]] = ()) -> nx.Graph:
    """Units sharing more than 0.5 m of boundary (corners do not count), from geometry only."""
    g = nx.Graph()
    ids = units["unit_id"].astype(str).tolist()
    geoms = units.geometry.tolist()
    g.add_nodes_from(ids)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            shared = geoms[i].boundary.intersection(geoms[j].boundary).length
            if shared > 0.5:
                g.add_edge(ids[i], ids[j])
    g.add_edges_from(extra)
    return g


def check_plan(
    units: gpd.GeoDataFrame,
    kob: gpd.GeoDataFrame,
    assignment: dict[str, str],
    beat_koban: dict[str, str],
    tolerance: float,
    *,
    bridges: list[tuple[str, str]] = (),
) -> list[str]:
    """Every broken rule of a plan, recomputed from the polygons and the koban points."""
    g = rook_graph(units, list(bridges))
    broken = []
    beats: dict[str, list[str]] = {}
    for u, b in assignment.items():
        beats.setdefault(b, []).append(u)
    w = dict(zip(units["unit_id"], units["households"], strict=True))
    loads = {b: sum(w[u] for u in members) for b, members in beats.items()}
    mean = sum(loads.values()) / len(loads)
    for b, members in beats.items():
        if not nx.is_connected(g.subgraph(members)):
            broken.append(f"{b} split")
        if abs(loads[b] - mean) / mean > tolerance + 1e-9:
            broken.append(f"{b} off by {(loads[b] - mean) / mean:+.3f}")
        pt = kob.set_index("koban_id").geometry[beat_koban[b]]
        home = units.loc[units.geometry.contains(pt), "unit_id"].iloc[0]
        if not ({home, *g.neighbors(home)} & set(members)):
            broken.append(f"{b} away from koban {beat_koban[b]}")
    return broken


def bridges_of(problem: BeatProblem) -> list[tuple[str, str]]:
    return [(problem.unit_ids[i], problem.unit_ids[j]) for i, j, _ in problem.graph.bridges]


# ---------------------------------------------------------------- tests


def test_grid_minimal_change_is_feasible_and_moves_less_than_best_balance() -> None:
    units, kob = grid_layer()
    problem = BeatProblem.from_geodataframe(
        units, weight_column="households", current_column="beat", koban=kob
    )
    beat_koban = {"B0": "K1", "B1": "K1", "B2": "K2", "B3": "K2"}
    minimal = rebalance_beats(problem, tolerance=0.10, params=QUICK)
    best = rebalance_beats(problem, mode="best-balance", tolerance=0.10, params=QUICK)
    assert minimal.before is not None and minimal.before.largest_deviation > 0.3
    assert minimal.mode == "minimal-change" and minimal.feasible and not minimal.violations
    assert check_plan(units, kob, minimal.assignment, beat_koban, 0.10) == []
    assert check_plan(units, kob, best.assignment, beat_koban, 0.10) == []
    assert minimal.after.households_moved < best.after.households_moved
    # The JSON leads with feasibility and what is violated.
    d = minimal.to_dict(geometry=False)
    assert list(d)[:3] == ["feasible", "violations", "koban_issues"]
    assert list(d["plan"])[:2] == ["feasible", "violations"]
    assert d["plan"]["households_moved"] == pytest.approx(
        sum(m["households"] for m in d["moved_units"])
    )
    assert "households" in summary_lines(minimal)[2]


def test_koban_rule_is_a_constraint_when_the_current_beats_break_it() -> None:
    units, kob = grid_layer()
    # B3 today lies away from K2's unit: the rule must be met by the plan anyway.
    units.loc[units["beat"] == "B3", "koban_id"] = "K1"
    beat_koban = {"B0": "K1", "B1": "K1", "B2": "K2", "B3": "K1"}
    problem = BeatProblem.from_geodataframe(
        units, weight_column="households", current_column="beat", koban=kob
    )
    before = problem.evaluate(units["beat"].to_numpy())
    assert "B3" in before.koban_violations
    result = rebalance_beats(problem, tolerance=0.15, params=QUICK)
    assert result.feasible, result.violations
    assert check_plan(units, kob, result.assignment, beat_koban, 0.15) == []


def test_irregular_layer_with_enclave_and_island(tmp_path: Path) -> None:
    units, kob, beat_koban = irregular_layer()
    problem = BeatProblem.from_geodataframe(
        units, weight_column="households", current_column="beat", koban=kob, beat_koban=beat_koban
    )
    # The island is joined by a reported bridge; the koban on it is noted before solving.
    assert any("V071" in w and "bridge" in w for w in problem.warnings)
    issues = check_koban_rule(problem)
    assert [i.blocking for i in issues] == [False]
    assert "island" in issues[0].reason and issues[0].koban_id == "KI"
    result = rebalance_beats(problem, tolerance=0.15, params=QUICK)
    assert result.feasible, result.violations
    broken = check_plan(
        units, kob, result.assignment, beat_koban, 0.15, bridges=bridges_of(problem)
    )
    assert broken == []
    # The enclave (V070) shares its whole boundary with the unit around it: its
    # koban can anchor one beat, and two are refused before solving.
    g = rook_graph(units)
    assert len(list(g.neighbors("V070"))) == 1
    two = BeatProblem.from_geodataframe(
        units,
        weight_column="households",
        current_column="beat",
        koban=kob,
        beat_koban={**beat_koban, "S3": "KC"},
    )
    enclave = [i for i in check_koban_rule(two) if i.blocking]
    assert len(enclave) == 1 and enclave[0].koban_id == "KC" and enclave[0].unit_id == "V070"
    assert (
        "lies inside unit" in enclave[0].reason and "one beat, not 2 (S2, S3)" in enclave[0].reason
    )


def test_impossible_koban_rule_is_said_before_solving() -> None:
    units, kob = grid_layer()
    # Everything around K2's unit belongs to the locked beat B1 (of K1): B2 and B3 cannot touch it.
    kob = kob.set_geometry([shapely.Point(250, 450), shapely.Point(250, 850)])
    problem = BeatProblem.from_geodataframe(
        units,
        weight_column="households",
        current_column="beat",
        koban=kob,
        beat_koban={"B0": "K1", "B1": "K1", "B2": "K2", "B3": "K2"},
        locked_beats=["B1"],
    )
    issues = check_koban_rule(problem)
    blocking = [(i.beat_id, i.reason) for i in issues if i.blocking]
    assert {b for b, _ in blocking} == {"B2", "B3"}
    assert any("koban K2 has 2 beats (B2, B3) but only 0 unit(s)" in r for _, r in blocking)
    assert (
        "B2",
        "every way from the beat to its koban's unit crosses locked units or locked beats",
    ) in blocking
    result = rebalance_beats(problem, params=QUICK)
    assert not result.feasible
    assert any(
        "B2: neither holds nor touches the unit of its koban K2" in v for v in result.violations
    )
    assert {i.beat_id for i in result.koban_issues if i.blocking} >= {"B2", "B3"}


def test_problem_json_and_pickle_round_trip_give_the_same_plan() -> None:
    units, kob = grid_layer(seed=5)
    problem = BeatProblem.from_geodataframe(
        units,
        ProblemOptions(weight_column="households", current_column="beat"),
        koban=kob,
    )
    text = problem.to_json()
    again = BeatProblem.from_json(text)
    assert again.to_json() == text
    copy = pickle.loads(pickle.dumps(problem))
    runs = [
        rebalance_beats(p, seed=4, tolerance=0.10, params=QUICK) for p in (problem, again, copy)
    ]
    assert runs[0].assignment == runs[1].assignment == runs[2].assignment
    assert runs[0].after.households_moved == runs[1].after.households_moved
    with pytest.raises(AttributeError):
        problem.beat_ids = []  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown option"):
        BeatProblem.from_geodataframe(units, weight_colum="households")
    bad = json.loads(text)
    bad["format"] = "other"
    with pytest.raises(ValueError, match="format"):
        BeatProblem.from_dict(bad)


def test_sweep_moves_more_for_a_tighter_tolerance() -> None:
    units, kob = grid_layer(seed=2)
    problem = BeatProblem.from_geodataframe(
        units, weight_column="households", current_column="beat", koban=kob
    )
    results = sweep_tolerances(problem, (0.30, 0.10), params=RebalanceParams(moves_per_unit=300))
    loose, tight = results
    assert loose.feasible and tight.feasible
    assert loose.after.households_moved <= tight.after.households_moved
    table = sweep_table(results)
    assert "±30%" in table and "±10%" in table and table.count("\n") == 3


def test_cli_sweep_and_mode(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.geojson"
    args = [
        "rebalance",
        str(fixtures_dir / "rebalance_grid.geojson"),
        "--weight",
        "households",
        "--current",
        "beat",
        "--koban",
        str(fixtures_dir / "rebalance_koban.geojson"),
        "--out",
        str(out),
    ]
    assert main([*args, "--tolerance", "20,10%"]) == 0
    captured = capsys.readouterr()
    sweep = json.loads(captured.out)["sweep"]
    assert [s["tolerance"] for s in sweep] == [0.2, 0.1]
    assert "largest deviation" in captured.err and "±20%" in captured.err
    assert (tmp_path / "out_20pct.geojson").is_file() and (tmp_path / "out_10pct.geojson").is_file()
    assert main([*args, "--mode", "best-balance", "--tolerance", "0.05"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["plan"]["mode"] == "best-balance" and report["plan"]["tolerance"] == 0.05
    assert list(report)[0] == "feasible"
    assert "households" in captured.err
    assert main([*args, "--tolerance", "lots"]) == 1
    assert "--tolerance: found 'lots'" in capsys.readouterr().err
