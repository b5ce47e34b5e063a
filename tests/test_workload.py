"""The workload model: service, floors, buildings, travel and koban trips."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from junkai_geo.errors import InputError
from junkai_geo.settings import WorkloadParams
from junkai_geo.units import build_unit_graph, household_block_units, unit_adjacency
from junkai_geo.workload import beat_workload_h, household_workload_s, unit_workload_h

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
