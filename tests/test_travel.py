"""Travel matrices: straight-line fallback, network matrices checked against
networkx, routes, cache and the ``matrix`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo import travel
from junkai_geo.cli import main
from junkai_geo.errors import NetworkError, ParameterError
from junkai_geo.settings import load_params
from junkai_geo.travel import (
    UNREACHABLE_M,
    UNREACHABLE_S,
    TravelMatrix,
    TravelParams,
    load_matrix_npz,
    network_matrix,
    route_path,
    route_paths,
    straight_line_matrix,
    travel_matrix,
)

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "data" / "osm" / "Helsinki.osm.pbf"


# -- straight line ------------------------------------------------------------

coords = st.floats(min_value=-5000, max_value=5000, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(coords, coords), min_size=1, max_size=12),
    st.sampled_from(["walk", "bicycle"]),
)
def test_straight_line_is_flagged_integer_and_symmetric(points, mode) -> None:
    xy = np.array(points, dtype=float)
    params = TravelParams()
    m = straight_line_matrix(xy, mode=mode, params=params)
    assert m.source == "straight_line" and m.mode == mode
    assert any("straight line" in n for n in m.notes)
    assert m.durations_s.dtype.kind == "i" and m.distances_m.dtype.kind == "i"
    assert (m.durations_s == m.durations_s.T).all()
    assert (np.diag(m.durations_s) == 0).all()
    euclid = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    detour = params.detour_factor(mode)
    expected = np.rint(euclid * detour / params.speed_mps(mode))
    assert np.array_equal(m.durations_s, expected.astype(int))
    assert np.array_equal(m.distances_m, np.rint(euclid * detour).astype(int))
    assert m.to_dict()["source"] == "straight_line"
    assert TravelMatrix.from_dict(m.to_dict()).to_dict() == m.to_dict()


def test_straight_line_default_walk_example() -> None:
    m = straight_line_matrix(np.array([[0.0, 0.0], [300.0, 400.0]]), ids=["a", "b"])
    # 500 m x 1.3 detour / 1.3 m/s = 500 s
    assert m.durations_s[0, 1] == 500 and m.distances_m[0, 1] == 650
    assert m.ids == ["a", "b"]


def test_travel_params_from_toml_and_checks(tmp_path) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text("[travel]\nwalk_speed_mps = 1.1\nmax_snap_m = 200\n")
    p = load_params(TravelParams, toml, table="travel")
    assert p.walk_speed_mps == 1.1 and p.max_snap_m == 200
    with pytest.raises(ParameterError, match="walk_speed_mps"):
        TravelParams(walk_speed_mps=0)
    with pytest.raises(ParameterError, match="walk_detour_factor.*>= 1"):
        TravelParams(walk_detour_factor=0.9)
    with pytest.raises(ParameterError, match="unknown"):
        load_params(TravelParams, {"walk_sped_mps": 1.0})
    with pytest.raises(ParameterError, match="mode"):
        straight_line_matrix(np.zeros((2, 2)), mode="horse")


def test_fallback_from_lonlat_projects_to_metres() -> None:
    # Two points 0.01 degree of latitude apart in Kanazawa: about 1,110 m.
    m = travel_matrix(np.array([[136.65, 36.56], [136.65, 36.57]]), mode="walk")
    assert m.source == "straight_line"
    assert abs(m.distances_m[0, 1] - 1110 * 1.3) < 10


# -- network matrices -------------------------------------------------------


@pytest.fixture(scope="module")
def nets() -> dict:
    pytest.importorskip("osmium", reason="network tests need pyosmium (extra 'network')")
    from junkai_geo.network import read_networks

    return read_networks(HELSINKI, ("walk", "bicycle", "car"))


def random_points(net, n: int, seed: int) -> np.ndarray:
    """Seeded random lon/lat points in the network's bounding box."""
    rng = np.random.default_rng(seed)
    ll = net.to_lonlat(net.vertex_xy)
    return rng.uniform(ll.min(axis=0), ll.max(axis=0), size=(n, 2))


def reference_costs(net, snap, which: str) -> np.ndarray:
    """Shortest-path costs between snapped points with networkx.

    Written apart from the library: the network's edges as arcs, each point
    a node splitting its edge, points on one edge chained by position;
    pieces of zero length (points at one spot) go both ways.
    """
    nx = pytest.importorskip("networkx")
    ew = net.edge_weight if which == "weight" else net.edge_length_mm
    g = nx.DiGraph()

    def add(a, b, w) -> None:
        if a == b:
            return
        if not g.has_edge(a, b) or g[a][b]["weight"] > w:
            g.add_edge(a, b, weight=int(w))

    for e in range(net.n_edges):
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        if net.edge_forward[e]:
            add(u, v, ew[e])
        if net.edge_backward[e]:
            add(v, u, ew[e])
    ok = np.flatnonzero(snap.ok)
    by_edge: dict[int, list[tuple[int, int]]] = {}
    for i in ok:
        e = int(snap.edge[i])
        off = int(snap.offset[i]) if which == "weight" else int(round(snap.fraction[i] * ew[e]))
        by_edge.setdefault(e, []).append((off, int(i)))
    for e, pts in by_edge.items():
        pts.sort()
        chain = [(0, int(net.edge_u[e]))] + [(o, ("p", i)) for o, i in pts]
        chain.append((int(ew[e]), int(net.edge_v[e])))
        for (o1, a), (o2, b) in zip(chain[:-1], chain[1:], strict=True):
            w = o2 - o1
            if net.edge_forward[e] or w == 0:
                add(a, b, w)
            if net.edge_backward[e] or w == 0:
                add(b, a, w)
    out = np.full((len(ok), len(ok)), np.inf)
    for r, i in enumerate(ok):
        lengths = nx.single_source_dijkstra_path_length(g, ("p", int(i)))
        for c, j in enumerate(ok):
            out[r, c] = lengths.get(("p", int(j)), np.inf)
    return out


@pytest.mark.parametrize("mode", ["walk", "bicycle", "car"])
def test_matrix_equals_networkx_reference(nets, mode, tmp_path) -> None:
    from junkai_geo.snapping import snap_points

    net = nets[mode]
    pts = random_points(net, 80, seed={"walk": 1, "bicycle": 2, "car": 3}[mode])
    m = network_matrix(net, pts, cache=False)
    snap = snap_points(net, net.to_metric(pts))
    ok = np.flatnonzero(snap.ok)
    assert ok.shape[0] >= 20
    ref = reference_costs(net, snap, "weight")
    assert np.isfinite(ref).all()  # one strong component: every pair reachable
    ref_i = ref.astype(np.int64)
    if net.profile.uniform_speed:
        want_dur = -(-ref_i // net.speed_mm_per_s)
        want_dist = -(-ref_i // 1000)
    else:
        want_dur = -(-ref_i // 1000)
        want_dist = -(-reference_costs(net, snap, "length").astype(np.int64) // 1000)
    assert np.array_equal(m.durations_s[np.ix_(ok, ok)], want_dur)
    assert np.array_equal(m.distances_m[np.ix_(ok, ok)], want_dist)
    # Points not snapped hold the sentinel, flagged, never inf or negative.
    far = np.flatnonzero(~snap.ok)
    for i in far:
        assert (np.delete(m.durations_s[i], i) == UNREACHABLE_S).all()
        assert any(f["index"] == i and f["code"] == "far_from_network" for f in m.flagged)
    assert (m.durations_s >= 0).all() and (m.distances_m >= 0).all()


@pytest.mark.parametrize("mode", ["walk", "bicycle", "car"])
def test_matrix_properties(nets, mode) -> None:
    net = nets[mode]
    m = network_matrix(net, random_points(net, 300, seed=7), cache=False)
    d, dist = m.durations_s, m.distances_m
    assert m.source == "network" and m.mode == mode
    assert d.dtype.kind == "i" and (d >= 0).all() and (np.diag(d) == 0).all()
    if mode == "walk":
        assert np.array_equal(d, d.T) and np.array_equal(dist, dist.T)
    # Triangle inequality over every triple: d[i, k] <= min_j d[i, j] + d[j, k].
    for mat in (d, dist):
        via = np.min(mat[:, :, None] + mat[None, :, :], axis=1)
        assert (mat <= via).all()
    # A network path is never shorter than the straight line.
    snap_xy = net.to_metric(random_points(net, 300, seed=7))
    euclid = np.hypot(*(snap_xy[:, None] - snap_xy[None, :]).transpose(2, 0, 1))
    snapped = m.snap_m
    assert snapped is not None
    ok = d < UNREACHABLE_S
    slack = snapped[:, None] + snapped[None, :] + 1
    assert (dist[ok] + slack[ok] >= euclid[ok]).all()


def test_route_matches_matrix_and_starts_at_the_points(nets) -> None:
    net = nets["bicycle"]
    pts = random_points(net, 40, seed=11)
    m = network_matrix(net, pts, cache=False)
    ok = np.flatnonzero(m.durations_s[0] < UNREACHABLE_S)
    for a, b in [(int(ok[0]), int(j)) for j in ok[1:6]] + [(int(ok[3]), int(ok[0]))]:
        r = route_path(net, tuple(pts[a]), tuple(pts[b]))
        assert r.duration_s == m.durations_s[a, b]
        assert r.distance_m == m.distances_m[a, b]
        xy = net.to_metric(np.array(r.lonlat))
        drawn = np.hypot(*np.diff(xy, axis=0).T).sum()
        assert abs(drawn - r.distance_m) <= 2
        start = net.to_metric(pts[a : a + 1])[0]
        assert np.hypot(*(xy[0] - start)) <= r.snap_m[0] + 0.01
        assert r.to_geojson()["geometry"]["type"] == "LineString"


def test_route_paths_draw_the_matrix_for_many_pairs_at_once(nets) -> None:
    net = nets["bicycle"]
    pts = random_points(net, 25, seed=11)
    m = network_matrix(net, pts, cache=False)
    paths = route_paths(net, pts)
    ok = m.durations_s < UNREACHABLE_S
    np.fill_diagonal(ok, False)
    assert set(paths) == {(int(a), int(b)) for a, b in zip(*np.nonzero(ok), strict=True)}
    for (a, b), lonlat in list(paths.items())[:40]:
        xy = net.to_metric(np.array(lonlat))
        drawn = np.hypot(*np.diff(xy, axis=0).T).sum()
        assert abs(drawn - m.distances_m[a, b]) <= 2, (a, b)
        one = route_path(net, tuple(pts[a]), tuple(pts[b]))
        assert np.allclose(lonlat[0], one.lonlat[0]) and np.allclose(lonlat[-1], one.lonlat[-1])
    assert route_paths(net, pts, pairs=[(0, 1), (2, 2)]).keys() <= {(0, 1)}


def test_route_far_point_is_an_error(nets) -> None:
    with pytest.raises(NetworkError, match="cannot route"):
        route_path(nets["walk"], (24.94, 60.17), (25.5, 60.5))


def test_limit_gives_flagged_sentinel(nets) -> None:
    net = nets["walk"]
    pts = random_points(net, 50, seed=5)
    m = network_matrix(net, pts, limit_s=300, cache=False)
    full = network_matrix(net, pts, cache=False)
    beyond = full.durations_s > 300
    assert beyond.any()
    assert (m.durations_s[beyond] == UNREACHABLE_S).all()
    assert (m.distances_m[beyond] == UNREACHABLE_M).all()
    assert np.array_equal(m.durations_s[~beyond], full.durations_s[~beyond])
    assert any(f["code"] == "beyond_limit" for f in m.flagged)


def test_island_fixture_matrix_is_finite_and_flagged(fixtures_dir) -> None:
    pytest.importorskip("osmium", reason="network tests need pyosmium (extra 'network')")
    from junkai_geo.network import read_network

    net = read_network(fixtures_dir / "network_island.osm", "walk")
    lon0, lat0, dx, dy = 136.65, 36.56, 0.0011, 0.0009
    pts = np.array(
        [[lon0, lat0 + dy * 0.5], [lon0 + 2 * dx, lat0 + dy * 1.5], [lon0 + 8.5 * dx, lat0 + dy]]
    )
    m = network_matrix(net, pts, ids=["grid1", "grid2", "island"], cache=False)
    assert 0 < m.durations_s[0, 1] < 1000
    assert m.durations_s[0, 2] == UNREACHABLE_S and m.durations_s[2, 2] == 0
    codes = {(f["id"], f["code"]) for f in m.flagged}
    assert ("island", "nearest_road_disconnected") in codes
    assert ("island", "far_from_network") in codes
    assert any("not snapped" in n for n in m.notes)


def test_cache_on_disk_and_in_memory(nets, tmp_path, monkeypatch) -> None:
    net = nets["walk"]
    pts = random_points(net, 30, seed=3)
    first = network_matrix(net, pts, cache_dir=tmp_path)
    files = list((tmp_path / "matrices").glob("*.npz"))
    assert len(files) == 1

    def fail(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(travel, "_compute_network_matrix", fail)
    again = network_matrix(net, pts, cache_dir=tmp_path)  # memory
    travel.clear_memory_cache()
    from_disk = network_matrix(net, pts, cache_dir=tmp_path)  # disk
    for m in (again, from_disk):
        assert m.to_dict() == first.to_dict()
    # Other points, mode or parameters are another key.
    with pytest.raises(AssertionError, match="recomputed"):
        network_matrix(net, pts[:-1], cache_dir=tmp_path)
    with pytest.raises(AssertionError, match="recomputed"):
        network_matrix(nets["bicycle"], pts, cache_dir=tmp_path)


def test_bad_points_are_parameter_errors(nets) -> None:
    net = nets["walk"]
    with pytest.raises(ParameterError, match="not finite"):
        network_matrix(net, np.array([[24.94, np.nan]]), cache=False)
    with pytest.raises(ParameterError, match="duplicates"):
        network_matrix(net, np.array([[24.94, 60.17]] * 2), ids=["a", "a"], cache=False)


def test_points_in_another_crs(nets) -> None:
    net = nets["walk"]
    pts = random_points(net, 10, seed=9)
    utm = net.to_metric(pts)
    a = network_matrix(net, pts, cache=False)
    b = network_matrix(net, utm, crs="EPSG:32635", cache=False)
    assert np.array_equal(a.durations_s, b.durations_s)


# -- command line -----------------------------------------------------------


def test_cli_network_matrix(tmp_path, fixtures_dir, capsys) -> None:
    pytest.importorskip("osmium", reason="network tests need pyosmium (extra 'network')")
    out = tmp_path / "m.npz"
    code = main(
        [
            "matrix",
            str(HELSINKI),
            "--mode",
            "walk",
            "--points",
            str(fixtures_dir / "travel_points.csv"),
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 0
    m = load_matrix_npz(out)
    with np.load(out) as z:
        assert set(z.files) >= {"durations_s", "distances_m", "ids", "snap_m", "source"}
    assert m.source == "network" and m.ids == ["h3", "h1", "h2", "far"]
    assert m.durations_s[0, 1] > 0 and m.durations_s[3, 0] == UNREACHABLE_S
    assert "far_from_network" in capsys.readouterr().out


def test_cli_fallback_needs_no_network(tmp_path, fixtures_dir) -> None:
    out = tmp_path / "m.npz"
    pts = fixtures_dir / "travel_points.geojson"
    assert main(["matrix", "--fallback", "--points", str(pts), "--out", str(out)]) == 0
    m = load_matrix_npz(out)
    assert m.source == "straight_line" and m.ids == ["a", "b"] and m.snap_m is None
    assert main(["matrix", "-", "--fallback", "--points", str(pts), "--out", str(out)]) == 0


def test_cli_errors(tmp_path, fixtures_dir, capsys) -> None:
    out = str(tmp_path / "m.npz")
    bad = str(fixtures_dir / "travel_points_bad.csv")
    assert main(["matrix", "--fallback", "--points", bad, "--out", out]) == 1
    err = capsys.readouterr().err
    assert "travel_points_bad.csv, row/feature 2, field 'lat'" in err
    assert "row/feature 3, field 'id'" in err
    assert "duplicate" in err
    good = str(fixtures_dir / "travel_points.csv")
    assert main(["matrix", "--points", good, "--out", out]) == 1
    assert "NETWORK_FILE: missing" in capsys.readouterr().err
    trunc = str(fixtures_dir / "network_truncated.osm.pbf")
    assert main(["matrix", trunc, "--points", good, "--out", out]) == 1
    assert "network_truncated.osm.pbf" in capsys.readouterr().err
