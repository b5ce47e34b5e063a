"""Street networks from OSM extracts: profiles, graphs, components, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from junkai_geo.errors import NetworkError
from junkai_geo.network import (
    BICYCLE_PROFILE,
    CAR_PROFILE,
    PROFILES,
    WALK_PROFILE,
    read_highways,
    read_network,
    read_networks,
)
from junkai_geo.snapping import snap_points
from junkai_geo.travel import TravelParams

pytest.importorskip("osmium", reason="street networks need pyosmium (extra 'network')")

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "data" / "osm" / "Helsinki.osm.pbf"
TEST_PBF = ROOT / "data" / "osm" / "test.osm.pbf"


@pytest.fixture(scope="module")
def helsinki() -> dict:
    return read_networks(HELSINKI, ("walk", "bicycle", "car"))


# -- profiles ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "walk", "bicycle", "car"),
    [
        ({"highway": "residential"}, (True, True), (True, True), (True, True)),
        ({"highway": "motorway"}, (False, False), (False, False), (True, False)),
        ({"highway": "steps"}, (True, True), (False, False), (False, False)),
        ({"highway": "footway"}, (True, True), (False, False), (False, False)),
        ({"highway": "footway", "bicycle": "yes"}, (True, True), (True, True), (False, False)),
        ({"highway": "residential", "oneway": "yes"}, (True, True), (True, False), (True, False)),
        ({"highway": "residential", "oneway": "-1"}, (True, True), (False, True), (False, True)),
        (
            {"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"},
            (True, True),
            (True, True),
            (True, False),
        ),
        (
            {"highway": "primary", "junction": "roundabout"},
            (True, True),
            (True, False),
            (True, False),
        ),
        ({"highway": "service", "access": "private"}, (True, True), (True, True), (False, False)),
        ({"highway": "cycleway", "foot": "no"}, (False, False), (True, True), (False, False)),
        (
            {"highway": "pedestrian", "bicycle": "dismount"},
            (True, True),
            (False, False),
            (False, False),
        ),
        ({"building": "house"}, (False, False), (False, False), (False, False)),
    ],
)
def test_profiles_allow_the_documented_ways(tags, walk, bicycle, car) -> None:
    assert WALK_PROFILE.way_directions(tags) == walk
    assert BICYCLE_PROFILE.way_directions(tags) == bicycle
    assert CAR_PROFILE.way_directions(tags) == car


def test_profiles_are_named_and_serialisable() -> None:
    assert set(PROFILES) == {"walk", "bicycle", "car"}
    for mode, profile in PROFILES.items():
        d = profile.to_dict()
        assert d["mode"] == mode
        assert "motorway" not in d["highways"] or mode == "car"
    assert WALK_PROFILE.uniform_speed and BICYCLE_PROFILE.uniform_speed
    assert not CAR_PROFILE.uniform_speed


# -- graphs from the real extracts ------------------------------------------


@pytest.mark.parametrize("mode", ["walk", "bicycle", "car"])
def test_helsinki_graph_is_one_strong_component(helsinki, mode) -> None:
    net = helsinki[mode]
    assert net.crs == "EPSG:32635"  # UTM 35N for Helsinki
    assert net.n_vertices > 100 and net.n_edges > 100
    tail, head, w, _ = net.arcs()
    assert (w >= 0).all() and w.dtype.kind == "i"
    import scipy.sparse as sp

    adj = sp.csr_matrix((np.ones_like(tail), (tail, head)), shape=(net.n_vertices,) * 2)
    n_comp, _ = connected_components(adj, directed=True, connection="strong")
    assert n_comp == 1
    # What was dropped is reported, and adds up with what was kept.
    assert set(net.dropped) >= {"components", "vertices", "edges", "length_km"}
    assert 0.5 < net.dropped["kept_fraction_of_length"] <= 1.0
    # Vertices where only two like edges meet were merged away.
    deg = np.bincount(net.edge_u, minlength=net.n_vertices) + np.bincount(
        net.edge_v, minlength=net.n_vertices
    )
    assert (deg != 2).sum() > 0.5 * net.n_vertices
    # Geometry runs from u to v.
    for e in range(0, net.n_edges, max(1, net.n_edges // 50)):
        coords = net.edge_coords(e)
        assert np.allclose(coords[0], net.vertex_xy[net.edge_u[e]])
        assert np.allclose(coords[-1], net.vertex_xy[net.edge_v[e]])
        length = np.hypot(*np.diff(coords, axis=0).T).sum()
        # Merged edges add lengths rounded to the millimetre piece by piece.
        assert abs(length * 1000 - net.edge_length_mm[e]) <= 0.5 * len(coords)


def test_modes_differ_as_profiles_say(helsinki) -> None:
    walk, bike, car = helsinki["walk"], helsinki["bicycle"], helsinki["car"]
    assert walk.edge_length_mm.sum() > bike.edge_length_mm.sum() > car.edge_length_mm.sum()
    assert walk.edge_forward.all() and walk.edge_backward.all()  # walking ignores oneway
    assert not (car.edge_forward & car.edge_backward).all()  # Helsinki has one-way streets
    # Walking and cycling weigh in millimetres: the weight is the length.
    assert np.array_equal(walk.edge_weight, walk.edge_length_mm)
    assert walk.weight_unit == "mm" and car.weight_unit == "ms"
    speed = TravelParams().car_speed_mps
    slowest = min(CAR_PROFILE.speed_factors.values()) * speed
    fastest = max(CAR_PROFILE.speed_factors.values()) * speed
    big = car.edge_length_mm > 50_000
    implied = car.edge_length_mm[big] / car.edge_weight[big]  # mm per ms = m/s
    assert (implied > slowest * 0.99).all() and (implied < fastest * 1.01).all()


def test_params_change_the_graph_fingerprint(helsinki) -> None:
    other = read_network(HELSINKI, "walk", params=TravelParams(walk_speed_mps=1.1))
    assert other.fingerprint() != helsinki["walk"].fingerprint()
    assert helsinki["walk"].fingerprint() == read_network(HELSINKI, "walk").fingerprint()


def test_small_test_extract_reads() -> None:
    net = read_network(TEST_PBF, "walk")
    assert net.n_edges > 100
    assert net.summary()["length_km"] > 10


def test_ways_leaving_the_extract_are_cut_not_dropped() -> None:
    raw = read_highways(HELSINKI)
    assert np.isfinite(raw.lonlat).all()
    assert (np.diff(raw.offsets) >= 2).all()


# -- bad input ----------------------------------------------------------------


def test_truncated_pbf_names_the_file(fixtures_dir) -> None:
    path = fixtures_dir / "network_truncated.osm.pbf"
    with pytest.raises(NetworkError, match="network_truncated.osm.pbf.*cannot read"):
        read_network(path, "walk")


def test_corrupt_pbf_names_the_file(fixtures_dir) -> None:
    with pytest.raises(NetworkError, match="network_corrupt.osm.pbf"):
        read_network(fixtures_dir / "network_corrupt.osm.pbf", "walk")


def test_missing_file(tmp_path) -> None:
    with pytest.raises(NetworkError, match="not found"):
        read_network(tmp_path / "nowhere.osm.pbf", "walk")


@pytest.mark.parametrize("mode", ["walk", "bicycle", "car"])
def test_no_roads_names_mode_and_file(fixtures_dir, mode) -> None:
    with pytest.raises(
        NetworkError, match=f"network_no_roads.osm: no road usable for mode '{mode}'"
    ):
        read_network(fixtures_dir / "network_no_roads.osm", mode)


def test_island_is_dropped_and_reported(fixtures_dir) -> None:
    net = read_network(fixtures_dir / "network_island.osm", "walk")
    assert net.crs == "EPSG:6675"  # Kanazawa: Japan Plane Rectangular CS VII
    assert net.dropped["components"] == 1
    assert net.dropped["edges"] == 1
    assert 90 < net.dropped["length_km"] * 1000 < 110
    # The steps are a walking street; not for bicycles.
    bike = read_network(fixtures_dir / "network_island.osm", "bicycle")
    assert bike.edge_length_mm.sum() < net.edge_length_mm.sum()


def test_points_near_the_island_or_far_are_flagged(fixtures_dir) -> None:
    net = read_network(fixtures_dir / "network_island.osm", "walk")
    lon0, lat0, dx, dy = 136.65, 36.56, 0.0011, 0.0009
    pts = np.array(
        [
            [lon0 + dx * 0.5, lat0 + dy * 0.05],  # on the grid
            [lon0 + dx * 8.5, lat0 + dy * 1.05],  # on the island road
            [lon0 + dx * 2.3, lat0 + dy * 1.0],  # 33 m east of the grid, nearest road connected
            [lon0 + dx * 30, lat0 + dy * 30],  # far from everything
        ]
    )
    snap = snap_points(net, net.to_metric(pts))
    assert snap.ok.tolist() == [True, False, True, False]
    assert snap.snap_m[0] < 10 and 25 < snap.snap_m[2] < 40
    codes = {(f["index"], f["code"]) for f in snap.flagged}
    assert (1, "nearest_road_disconnected") in codes
    assert (1, "far_from_network") in codes  # the grid is 600 m away
    assert (3, "far_from_network") in codes
    assert not any(i in (0, 2) for i, _ in codes)
    # A larger snapping limit reaches the grid from the island point, flagged.
    snap2 = snap_points(net, net.to_metric(pts), max_snap_m=1000)
    assert snap2.ok[1]
    assert any(f["index"] == 1 and f["code"] == "nearest_road_disconnected" for f in snap2.flagged)
