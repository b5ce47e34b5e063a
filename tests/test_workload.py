"""The workload model: service, floors, buildings, travel and koban trips."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from junkai_geo.errors import InputError, ParameterError
from junkai_geo.settings import WorkloadParams
from junkai_geo.units import (
    build_unit_graph,
    household_block_units,
    split_polygon,
    unit_adjacency,
    weighted_kmeans,
)
from junkai_geo.workload import (
    beat_workload_h,
    household_workload_s,
    refine_units,
    unit_workload_h,
)

P = WorkloadParams()


def households_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4", "H5"],
            "kind": ["home", "home", "business", "public", "home"],
            "building_id": ["B1", "B1", "B2", None, "B3"],
            "floor": [1, 5, 1, 1, 1],
            "unit_id": ["U1", "U1", "U1", "U2", "U2"],
        },
        geometry=[
            shapely.Point(10, 10),
            shapely.Point(10, 10),
            shapely.Point(50, 50),
            shapely.Point(150, 50),
            shapely.Point(160, 60),
        ],
        crs="EPSG:6675",
    )


def units_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"unit_id": ["U1", "U2"], "beat_id": ["A", "A"], "koban_id": ["K1", "K1"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
        crs="EPSG:6675",
    )


def test_household_seconds_follow_kind_status_floor_and_building() -> None:
    hh = households_frame()
    cards = pd.DataFrame(
        {
            "status": ["current", "none", "stale", "none", "current"],
            "occupancy": ["occupied"] * 4 + ["moved_out"],
        },
        index=pd.Index(["H1", "H2", "H3", "H4", "H5"], name="household_id"),
    )
    s = household_workload_s(hh, cards, None, P)
    half = P.building_approach_s / 2  # B1 holds two households
    assert s[0] == pytest.approx(P.service_update_s + half)
    assert s[1] == pytest.approx(P.service_new_card_s + 4 * P.per_floor_s + half)
    assert s[2] == pytest.approx(P.service_business_s + P.building_approach_s)
    assert s[3] == pytest.approx(P.service_public_s + P.building_approach_s)
    assert s[4] == 0.0  # moved out: not visited


def test_households_without_a_card_row_have_none() -> None:
    s = household_workload_s(households_frame(), None, None, P)
    assert s[0] == pytest.approx(P.service_new_card_s + P.building_approach_s / 2)


def test_cards_without_status_column_is_an_input_error() -> None:
    with pytest.raises(InputError, match="'status'"):
        household_workload_s(households_frame(), pd.DataFrame({"x": [1]}), None, P)


def test_unit_hours_add_walking_and_koban_trip() -> None:
    hh, units = households_frame(), units_frame()
    kob = gpd.GeoDataFrame({"koban_id": ["K1"]}, geometry=[shapely.Point(0, 0)], crs="EPSG:6675")
    base = unit_workload_h(units, hh, None, None, None, P)
    with_trip = unit_workload_h(units, hh, None, None, kob, P)
    service_u1 = household_workload_s(hh, None, None, P)[:3].sum() / 3600
    walk_u1 = 0.5 * np.sqrt(2 * 100 * 100) * P.detour_factor / P.walk_speed_mps / 3600
    assert base["U1"] == pytest.approx(service_u1 + walk_u1)
    assert (with_trip > base).all()  # the far unit pays a longer round trip
    assert with_trip["U2"] - base["U2"] > with_trip["U1"] - base["U1"]
    beats = beat_workload_h(units, hh, None, None, kob, P)
    assert beats["A"] == pytest.approx(with_trip.sum())


def test_households_located_by_geometry_without_unit_id() -> None:
    hh = households_frame().drop(columns="unit_id")
    by_id = unit_workload_h(units_frame(), households_frame(), None, None, None, P)
    by_place = unit_workload_h(units_frame(), hh, None, None, None, P)
    assert by_place.to_dict() == pytest.approx(by_id.to_dict())


def test_adjacency_ignores_corners_and_bridges_islands() -> None:
    boxes = [
        shapely.box(0, 0, 1, 1),
        shapely.box(1, 0, 2, 1),
        shapely.box(2, 1, 3, 2),
        shapely.box(10, 10, 11, 11),
    ]
    scaled = [shapely.affinity.scale(b, 100, 100, origin=(0, 0)) for b in boxes]
    nb = unit_adjacency(scaled)
    assert nb[0] == [1] and nb[1] == [0]  # box 2 touches box 1 only at a corner
    graph = build_unit_graph(scaled)
    assert len(graph.bridges) == 2  # corner box and far island each joined once


def test_household_blocks_cover_every_household() -> None:
    hh = households_frame()
    blocks = household_block_units(hh, cell_m=100)
    assert blocks["households"].sum() == len(hh)
    assert all(any(b.covers(p) for b in blocks.geometry) for p in hh.geometry)


# ---------------------------------------------------------------- refinement


def town(seed: int = 0, n: int = 6) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """An n x n grid of 100 m units with households; the two central units are dense."""
    rng = np.random.default_rng(seed)
    boxes, ids, beats, rows = [], [], [], []
    for i in range(n):
        for j in range(n):
            uid = f"U{i}{j}"
            box = shapely.box(i * 100, j * 100, i * 100 + 100, j * 100 + 100)
            # An L-shaped (concave) heavy unit tests that pieces stay in one part.
            if (i, j) == (2, 2):
                box = box.difference(shapely.box(250, 250, 300, 300))
            boxes.append(box)
            ids.append(uid)
            beats.append(f"B{(i * 2) // n}{(j * 2) // n}")
            count = 120 if (i, j) in ((2, 2), (3, 3)) else int(rng.integers(3, 12))
            pts = shapely.points(rng.uniform(0, 100, size=(count * 2, 2)) + [i * 100, j * 100])
            pts = [p for p in pts if box.contains(p)][:count]
            for k, pt in enumerate(pts):
                rows.append((f"{uid}-{k}", uid, pt, "home" if k % 5 else "business"))
    units = gpd.GeoDataFrame(
        {"unit_id": ids, "beat_id": beats, "households": 0}, geometry=boxes, crs="EPSG:6675"
    )
    hh = gpd.GeoDataFrame(
        {
            "household_id": [r[0] for r in rows],
            "unit_id": [r[1] for r in rows],
            "kind": [r[3] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs="EPSG:6675",
    )
    units["households"] = units["unit_id"].map(hh["unit_id"].value_counts()).fillna(0)
    return units, hh


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refined_sub_units_tile_their_parent_and_keep_its_workload(seed: int) -> None:
    units, hh = town(seed)
    kob = gpd.GeoDataFrame({"koban_id": ["K1"]}, geometry=[shapely.Point(10, 10)], crs=units.crs)
    whole = unit_workload_h(units, hh, koban=kob)
    refined = refine_units(units, hh, koban=kob, n_beats=4, split_share=0.25, seed=seed)
    out = refined.units
    assert refined.split, "the dense units are heavier than a quarter of a beat"
    assert {"U22", "U33"} <= set(refined.split)
    assert out["unit_id"].is_unique
    for parent, subs in refined.split.items():
        assert subs == [f"{parent}#{k + 1}" for k in range(len(subs))]
        pieces = out[out["unit_id"].isin(subs)]
        assert (pieces["parent_unit_id"] == parent).all()
        geom = units.set_index("unit_id").geometry[parent]
        # Exact tiling: areas add up, the union is the parent, no overlaps.
        assert pieces.area.sum() == pytest.approx(geom.area, rel=1e-9)
        assert shapely.union_all(pieces.geometry.to_numpy()).symmetric_difference(
            geom
        ).area == pytest.approx(0, abs=1e-6)
        g = pieces.geometry.tolist()
        for a in range(len(g)):
            assert g[a].geom_type == "Polygon"  # one part each, even in the L-shaped unit
            for b in range(a + 1, len(g)):
                assert g[a].intersection(g[b]).area == pytest.approx(0, abs=1e-6)
        assert pieces["workload_h"].sum() == pytest.approx(whole[parent], rel=1e-9)
        assert pieces["households"].sum() == pytest.approx(
            units.set_index("unit_id").at[parent, "households"]
        )
    # Units left whole keep their id, workload and geometry.
    kept = out[out["unit_id"] == out["parent_unit_id"]].set_index("unit_id")
    assert np.allclose(kept["workload_h"], whole[kept.index])
    assert out["workload_h"].sum() == pytest.approx(whole.sum(), rel=1e-9)
    # Noded: the sub-units' vertices are in the neighbouring units too, so the
    # layer is a valid coverage and vertex-based (queen) adjacency sees them.
    assert shapely.coverage_is_valid(out.geometry.to_numpy())
    # Every sub-unit is within the threshold's reach: split into ceil(w / t) parts.
    for parent, subs in refined.split.items():
        assert len(subs) <= int(np.ceil(whole[parent] / refined.threshold_h))


def test_refinement_is_reproducible_and_respects_locks_and_zero_share() -> None:
    units, hh = town(3)
    a = refine_units(units, hh, n_beats=4, split_share=0.2, seed=5)
    b = refine_units(units, hh, n_beats=4, split_share=0.2, seed=5)
    assert a.split == b.split
    assert all(
        x.equals_exact(y, 1e-9) for x, y in zip(a.units.geometry, b.units.geometry, strict=True)
    )
    units["locked"] = ["yes" if u == "U22" else "no" for u in units["unit_id"]]
    locked = refine_units(units, hh, n_beats=4, split_share=0.2, locked="locked")
    assert "U22" not in locked.split and "U22" in set(locked.units["unit_id"])
    assert "U33" in locked.split
    off = refine_units(units, hh, n_beats=4, split_share=0.0)
    assert not off.split and len(off.units) == len(units)
    with pytest.raises(ParameterError, match="split_share"):
        refine_units(units, hh, n_beats=4, split_share=-1)


def test_split_polygon_tiles_concave_polygons() -> None:
    poly = shapely.Polygon(
        [(0, 0), (90, 0), (90, 90), (60, 90), (60, 20), (30, 20), (30, 90), (0, 90)]
    )
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 90, size=(300, 2))
    pts = pts[shapely.contains_xy(poly, pts[:, 0], pts[:, 1])]
    centres = weighted_kmeans(pts, np.ones(len(pts)), 5, seed=0)
    pieces = split_polygon(poly, centres)
    assert len(pieces) >= 2
    assert sum(p.area for p in pieces) == pytest.approx(poly.area, rel=1e-9)
    assert shapely.union_all(pieces).symmetric_difference(poly).area == pytest.approx(0, abs=1e-6)


def test_unit_with_all_households_in_one_building_stays_whole() -> None:
    units, hh = town(0)
    # Every household of the heavy U22 in one tower: there is nothing to cut.
    hh.loc[hh["unit_id"] == "U22", "geometry"] = shapely.Point(220, 220)
    refined = refine_units(units, hh, n_beats=4, split_share=0.25)
    assert "U22" not in refined.split and "U33" in refined.split
    assert "U22" in set(refined.units["unit_id"])
