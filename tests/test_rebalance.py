"""Beat rebalancing: properties checked independently of the algorithm."""

from __future__ import annotations

import json
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from junkai_geo.cli import main
from junkai_geo.errors import InputError, ParameterError, ProblemError
from junkai_geo.rebalance import BeatProblem, RebalanceParams, rebalance_beats

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "kanazawa"
FAST = RebalanceParams(mode="best-balance", moves_per_unit=300, time_limit_s=30)


def grid_units(n: int = 10, *, seed: int = 0, beats_per_side: int = 2) -> gpd.GeoDataFrame:
    """An n x n grid of 100 m squares with uneven weights and square current beats."""
    rng = np.random.default_rng(seed)
    boxes = [
        shapely.box(i * 100, j * 100, i * 100 + 100, j * 100 + 100)
        for i in range(n)
        for j in range(n)
    ]
    side = n // beats_per_side
    beat = [f"B{(i // side) * beats_per_side + j // side}" for i in range(n) for j in range(n)]
    # Left columns are heavy so the current beats are uneven.
    w = [float(rng.integers(5, 30) + (40 if i < n // 3 else 0)) for i in range(n) for _ in range(n)]
    return gpd.GeoDataFrame(
        {"unit_id": [f"U{k:03d}" for k in range(n * n)], "households": w, "beat": beat},
        geometry=boxes,
        crs="EPSG:6675",
    )


def geometric_graph(units: gpd.GeoDataFrame) -> nx.Graph:
    """Queen adjacency straight from the geometry, independent of junkai_geo.units."""
    g = nx.Graph()
    ids = units["unit_id"].tolist()
    g.add_nodes_from(ids)
    geoms = units.geometry.tolist()
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            if geoms[i].buffer(0.5).intersects(geoms[j]):
                g.add_edge(ids[i], ids[j])
    return g


def assert_partition(units: gpd.GeoDataFrame, assignment: dict[str, str], n_beats: int) -> None:
    g = geometric_graph(units)
    assert set(assignment) == set(units["unit_id"])  # every unit, once
    beats: dict[str, list[str]] = {}
    for u, b in assignment.items():
        beats.setdefault(b, []).append(u)
    assert len(beats) == n_beats
    for b, members in beats.items():
        assert nx.is_connected(g.subgraph(members)), f"beat {b} is not contiguous"


def test_rebalance_grid_is_contiguous_covering_and_balanced() -> None:
    units = grid_units()
    result = rebalance_beats(units, weight_column="households", current_column="beat", params=FAST)
    assert_partition(units, result.assignment, 4)
    assert result.before is not None
    assert result.after.largest_deviation < result.before.largest_deviation
    assert result.after.largest_deviation <= 0.03
    assert result.after.feasible
    # Polygons: valid, no overlap, together the units' union.
    polys = result.beats_after.geometry
    assert polys.is_valid.all()
    assert sum(p.area for p in polys) == pytest.approx(units.geometry.union_all().area, rel=1e-6)
    moved = {m.unit_id for m in result.moved_units}
    assert moved == {
        u
        for u in units["unit_id"]
        if result.assignment[u] != units.set_index("unit_id").at[u, "beat"]
    }
    json.dumps(result.to_dict())


@pytest.mark.parametrize("seed", [1, 2])
def test_from_scratch_without_kobans(seed: int) -> None:
    units = grid_units(12, seed=seed)
    result = rebalance_beats(
        units,
        weight_column="households",
        n_beats=6,
        params=RebalanceParams(mode="best-balance", moves_per_unit=300, seed=seed),
    )
    assert_partition(units, result.assignment, 6)
    assert result.before is None
    assert result.after.largest_deviation <= 0.05


def test_koban_rule_and_several_beats_per_koban() -> None:
    units = grid_units(10)
    kob = gpd.GeoDataFrame(
        {"koban_id": ["K1", "K2"]},
        geometry=[shapely.Point(250, 250), shapely.Point(750, 650)],
        crs="EPSG:6675",
    )
    result = rebalance_beats(units, weight_column="households", n_beats=5, koban=kob, params=FAST)
    assert_partition(units, result.assignment, 5)
    g = geometric_graph(units)
    koban_unit = {"K1": "U022", "K2": "U076"}  # unit ids of the squares holding the points
    for row in result.after.beats:
        assert row.koban_id in koban_unit
        near = {koban_unit[row.koban_id], *g.neighbors(koban_unit[row.koban_id])}
        members = {u for u, b in result.assignment.items() if b == row.beat_id}
        assert members & near, f"beat {row.beat_id} neither holds nor touches its koban"


def test_locked_units_and_beats_never_move() -> None:
    units = grid_units()
    units["locked"] = ["yes" if k % 7 == 0 else "no" for k in range(len(units))]
    result = rebalance_beats(
        units,
        weight_column="households",
        current_column="beat",
        lock_column="locked",
        locked_beats=["B3"],
        params=FAST,
    )
    cur = dict(zip(units["unit_id"], units["beat"], strict=True))
    for u, locked in zip(units["unit_id"], units["locked"], strict=True):
        if locked == "yes" or cur[u] == "B3":
            assert result.assignment[u] == cur[u]
    assert not [u for u, b in result.assignment.items() if b == "B3" and cur[u] != "B3"]
    assert_partition(units, result.assignment, 4)
    assert not result.after.lock_violations


def test_same_seed_same_plan() -> None:
    units = grid_units(seed=4)
    a = rebalance_beats(units, weight_column="households", current_column="beat", params=FAST)
    b = rebalance_beats(units, weight_column="households", current_column="beat", params=FAST)
    assert a.assignment == b.assignment
    assert a.stopped_by == "moves"


def test_island_gives_a_result_with_a_warning(fixtures_dir: Path) -> None:
    units = gpd.read_file(fixtures_dir / "rebalance_island.geojson")
    result = rebalance_beats(units, weight_column="households", current_column="beat", params=FAST)
    assert any("ISLAND" in w and "bridge" in w for w in result.warnings)
    assert set(result.assignment) == set(units["unit_id"])
    # Without the island, every beat is contiguous on the geometry alone.
    rest = units[units["unit_id"] != "ISLAND"]
    g = geometric_graph(rest)
    for b in set(result.assignment.values()):
        members = [u for u in rest["unit_id"] if result.assignment[u] == b]
        assert nx.is_connected(g.subgraph(members))


def test_beat_count_change_splits_and_merges() -> None:
    units = grid_units()
    more = rebalance_beats(
        units, weight_column="households", current_column="beat", n_beats=6, params=FAST
    )
    assert_partition(units, more.assignment, 6)
    fewer = rebalance_beats(
        units, weight_column="households", current_column="beat", n_beats=3, params=FAST
    )
    assert_partition(units, fewer.assignment, 3)
    assert fewer.after.households_moved > 0


def test_evaluate_reports_broken_contiguity_and_locks() -> None:
    units = grid_units()
    units["locked"] = [k == 0 for k in range(len(units))]
    problem = BeatProblem.from_geodataframe(
        units, weight_column="households", current_column="beat", lock_column="locked"
    )
    current = units["beat"].to_numpy().copy()
    assert problem.evaluate(current).feasible
    edited = current.copy()
    edited[0] = "B3"  # a corner unit jumps to the far beat: split and lock broken
    ev = problem.evaluate(edited)
    assert "B3" in ev.not_contiguous
    assert ev.lock_violations == ["U000"]
    assert ev.units_moved == 1
    with pytest.raises(ProblemError, match="unknown beat 'B9'"):
        problem.evaluate(["B9"] * len(units))


@pytest.mark.parametrize(
    ("fixture", "match"),
    [
        ("rebalance_no_geometry.geojson", r"row/feature U05, field 'geometry'.*no geometry"),
        ("rebalance_duplicate_ids.geojson", r"field 'unit_id'.*U03.*again"),
        ("rebalance_negative_weight.geojson", r"row/feature U02, field 'households'.*-4"),
        ("rebalance_text_weight.geojson", r"row/feature U09, field 'households'.*'many'"),
    ],
)
def test_bad_input_names_file_row_and_field(fixtures_dir: Path, fixture: str, match: str) -> None:
    units = gpd.read_file(fixtures_dir / fixture)
    with pytest.raises(InputError, match=match) as info:
        BeatProblem.from_geodataframe(
            units, weight_column="households", current_column="beat", source=fixture
        )
    assert all(p.file == fixture for p in info.value.problems)


def test_more_beats_than_units(fixtures_dir: Path) -> None:
    units = gpd.read_file(fixtures_dir / "rebalance_grid.geojson")
    with pytest.raises(
        ParameterError, match=r"n_beats: found 17; expected at most the number of units \(16 in"
    ):
        BeatProblem.from_geodataframe(units, weight_column="households", n_beats=17)


def test_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="tolerance"):
        RebalanceParams(tolerance=0)
    with pytest.raises(ParameterError, match="max_moved_share"):
        RebalanceParams(max_moved_share=1.5)


def test_moved_share_cap_is_kept() -> None:
    units = grid_units()
    result = rebalance_beats(
        units,
        weight_column="households",
        current_column="beat",
        params=RebalanceParams(mode="best-balance", moves_per_unit=300, max_moved_share=0.05),
    )
    assert result.after.moved_share <= 0.05 + 1e-9


def test_cli_writes_units_with_beats(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.geojson"
    code = main(
        [
            "rebalance",
            str(fixtures_dir / "rebalance_grid.geojson"),
            "--weight",
            "households",
            "--current",
            "beat",
            "--koban",
            str(fixtures_dir / "rebalance_koban.geojson"),
            "--time-limit",
            "20",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["plan"]["beats"] == 2
    written = gpd.read_file(out)
    assert set(written["beat"]) <= {"B1", "B2"}
    assert len(written) == 16


def test_cli_bad_file_exit_status(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "rebalance",
            str(fixtures_dir / "rebalance_text_weight.geojson"),
            "--weight",
            "households",
            "--beats",
            "2",
            "--out",
            str(tmp_path / "x.geojson"),
        ]
    )
    assert code == 1
    assert "'many'" in capsys.readouterr().err


@pytest.mark.skipif(not (BUNDLED / "units.parquet").exists(), reason="bundled data not built")
def test_evaluate_is_fast_on_bundled_units() -> None:
    units = gpd.read_parquet(BUNDLED / "units.parquet")
    kob = gpd.read_file(BUNDLED / "koban.geojson")
    problem = BeatProblem.from_geodataframe(
        units, weight_column="households", current_column="beat_id", koban=kob
    )
    labels = units["beat_id"].astype(str).to_numpy()
    problem.evaluate(labels)
    start = time.perf_counter()
    ev = problem.evaluate(labels)
    assert time.perf_counter() - start <= 0.2
    assert len(ev.beats) == units["beat_id"].nunique()
    assert not ev.not_contiguous


def test_rebalance_on_sub_units_keeps_locks_and_is_reproducible() -> None:
    # The same small town as the refinement tests (tests/ is on sys.path under pytest).
    from test_workload import town

    from junkai_geo.workload import refine_units

    units, hh = town(1)
    units["locked"] = ["yes" if u in ("U22", "U00") else "no" for u in units["unit_id"]]
    refined = refine_units(units, hh, n_beats=4, split_share=0.2, locked="locked", seed=0)
    sub = refined.units
    assert "U33" in refined.split and "U22" not in refined.split
    params = RebalanceParams(mode="best-balance", moves_per_unit=300, seed=2)
    runs = [
        rebalance_beats(
            sub,
            weight_column="workload_h",
            current_column="beat_id",
            lock_column="locked",
            params=params,
        )
        for _ in range(2)
    ]
    a, b = runs
    assert a.assignment == b.assignment  # same seed, same plan
    assert a.split_units == refined.split
    assert set(a.assignment) == set(sub["unit_id"])  # assigned per sub-unit
    assert_partition(sub, a.assignment, 4)
    cur = dict(zip(sub["unit_id"], sub["beat_id"], strict=True))
    assert a.assignment["U22"] == cur["U22"] and a.assignment["U00"] == cur["U00"]
    assert a.after.largest_deviation < a.before.largest_deviation if a.before else True
    problem = BeatProblem.from_geodataframe(
        sub, weight_column="workload_h", current_column="beat_id"
    )
    frame = a.units_frame(problem)
    parents = dict(zip(frame["unit_id"], frame["parent_unit_id"], strict=True))
    assert all(parents[s] == p for p, subs in refined.split.items() for s in subs)
    plan = a.to_dict(geometry=False)
    assert plan["split_units"] == refined.split and plan["plan"]["units_split"] == len(
        refined.split
    )


def test_cli_split_share_needs_the_household_model(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "rebalance",
            str(fixtures_dir / "rebalance_grid.geojson"),
            "--weight",
            "households",
            "--current",
            "beat",
            "--split-share",
            "0.2",
            "--out",
            str(tmp_path / "out.geojson"),
        ]
    )
    assert status != 0
    assert "--split-share" in capsys.readouterr().err


def test_cli_household_model_splits_heavy_units_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from junkai_geo.bundled import load_kanazawa

    ds = load_kanazawa(validate=False)
    assert ds.units is not None
    # Two kobans' beats of the bundled city, as a manager's layer.
    part = ds.units[ds.units["koban_id"].isin(["K19", "K31"])]
    src = tmp_path / "units.geojson"
    part.to_file(src, driver="GeoJSON")
    out = tmp_path / "out.geojson"
    code = main(["rebalance", str(src), "--current", "beat_id", "--out", str(out)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    split = report["split_units"]
    assert split and report["plan"]["units_split"] == len(split)
    written = gpd.read_file(out).to_crs(part.crs)
    assert set(written["parent_unit_id"]) == set(part["unit_id"])
    areas = written.assign(a=written.area).groupby("parent_unit_id")["a"].sum()
    assert np.allclose(areas[part["unit_id"]].to_numpy(), part.area.to_numpy(), rtol=1e-6)
    for parent, subs in split.items():
        assert set(written.loc[written["parent_unit_id"] == parent, "unit_id"]) == set(subs)
    assert_partition(
        written,
        dict(zip(written["unit_id"], written["beat"], strict=True)),
        part["beat_id"].nunique(),
    )
    # --split-share 0 keeps whole 町丁目.
    code = main(
        ["rebalance", str(src), "--current", "beat_id", "--split-share", "0", "--out", str(out)]
    )
    assert code == 0
    assert not json.loads(capsys.readouterr().out)["split_units"]
    assert len(gpd.read_file(out)) == len(part)
