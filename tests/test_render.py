"""Folium maps, checked in headless Chromium (see tests/browser.py).

The browser tests fail, rather than skip, when Chromium or the offline
assets are missing: ``scripts/ci_system_packages.sh`` installs Chromium and
the tests install the Leaflet assets from the npm registry when absent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import launch, open_map, pixel_std, serve, synthetic_plan  # noqa: E402

from junkai_geo import offline  # noqa: E402
from junkai_geo.errors import InputError  # noqa: E402
from junkai_geo.model import PERSONAL_FIELDS  # noqa: E402
from junkai_geo.render import (  # noqa: E402
    REASON_JA,
    aggregate_unvisited,
    beats_map,
    check_plan,
    districts_map,
    read_plan,
    route_map,
    save_map,
)

SECRET = "SECRET-個人-42"  # a value that must never reach a shared map


@pytest.fixture(scope="module")
def assets() -> Path:
    """The offline Leaflet assets, installed from the npm registry if absent."""
    return offline.install_assets()


@pytest.fixture(scope="module")
def browser():
    with launch() as b:
        yield b


@pytest.fixture(scope="module")
def plan(fixtures_dir: Path) -> dict:
    return read_plan(fixtures_dir / "maps_plan_small.json")


@pytest.fixture(scope="module")
def beat(fixtures_dir: Path) -> dict:
    return json.loads((fixtures_dir / "maps_beat_k12b1.geojson").read_text(encoding="utf-8"))


def _grid_beats(n: int = 3) -> gpd.GeoDataFrame:
    """n x n square beats of 800 m in EPSG:6675 near Kanazawa station, with a personal column."""
    x0, y0 = -4000.0, 62000.0
    rows = []
    for i in range(n):
        for j in range(n):
            rows.append(
                {
                    "beat_id": f"B{i}{j}",
                    "koban_id": f"K{i}",
                    "households": 300 + 50 * i + 7 * j,
                    "workload_h": 100.0 + 30 * i + 5 * j,
                    "resident_name": SECRET,
                    "geometry": box(
                        x0 + 800 * i, y0 + 800 * j, x0 + 800 * (i + 1), y0 + 800 * (j + 1)
                    ),
                }
            )
    return gpd.GeoDataFrame(rows, crs="EPSG:6675")


def _koban() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"koban_id": ["K0", "K1"], "name": ["駅前交番", "広岡交番"]},
        geometry=[Point(-3600, 62400), Point(-2000, 63200)],
        crs="EPSG:6675",
    )


def _unvisited(seed: int = 1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    n = 120
    buildings = [f"BLD{int(k)}" for k in rng.integers(0, 25, n)]
    xs = np.array([hash(b) % 2000 for b in buildings], dtype=float) - 3900
    ys = np.array([hash(b + "y") % 2000 for b in buildings], dtype=float) + 62100
    return gpd.GeoDataFrame(
        {
            "household_id": [f"HID{SECRET}{k}" for k in range(n)],
            "building_id": buildings,
            "phone": SECRET,
        },
        geometry=[Point(x, y) for x, y in zip(xs, ys, strict=True)],
        crs="EPSG:6675",
    )


def _check_page(browser, directory: Path, name: str, tmp_path: Path):
    with serve(directory) as base:
        report = open_map(browser, f"{base}/{name}", screenshot_path=tmp_path / f"{name}.png")
    assert report.console_errors == [], report.console_errors
    assert report.page_errors == [], report.page_errors
    assert report.failed == [], report.failed
    assert report.foreign_hosts() == [], report.foreign_hosts()
    assert pixel_std(report.screenshot) > 8.0, "screenshot is blank"
    return report


# ---------------------------------------------------------------- route map


def test_route_map_offline_in_browser(browser, assets, plan, beat, tmp_path):
    save_map(route_map(plan, beat_geometry=beat, offline=True), tmp_path / "route.html")
    report = _check_page(browser, tmp_path, "route.html", tmp_path)
    assert report.stop_orders == [s["order"] for s in plan["stops"]]
    assert plan["officer_id"] in report.legend and "直線 (道路経路なし)" in report.legend
    # Only the local server was asked for anything, Leaflet among it.
    assert any(u.endswith("/assets/leaflet/leaflet.js") for u in report.requests)


@pytest.mark.parametrize("seed", [3, 11])
def test_route_map_markers_follow_visit_order(browser, assets, tmp_path, seed):
    plan = synthetic_plan(25, seed=seed, with_paths=seed % 2 == 0)
    save_map(route_map(plan, offline=True), tmp_path / "r.html")
    report = _check_page(browser, tmp_path, "r.html", tmp_path)
    assert report.stop_orders == list(range(1, 26))
    assert report.marker_count >= 26  # stops + koban (+ 町丁目 labels)


def test_route_map_file_url_needs_no_server(browser, assets, plan, tmp_path):
    """Opened straight from disk (a closed network's file share): still no error."""
    path = save_map(route_map(plan, offline=True), tmp_path / "sub" / "route.html")
    report = open_map(browser, path.as_uri())
    assert report.console_errors == [] and report.page_errors == []
    assert all(u.startswith("file://") or u.startswith("data:") for u in report.requests)
    assert report.stop_orders == [s["order"] for s in plan["stops"]]


def test_route_map_marks_straight_legs_and_street_paths(plan):
    html = route_map(plan).get_root().render()
    assert "直線 (道路経路なし)" in html and "道路経路<br>" in html
    no_paths = synthetic_plan(5, with_paths=False)
    html = route_map(no_paths).get_root().render()
    assert "直線 (道路経路なし)" in html and "道路経路<br>" not in html


def test_route_map_popups_show_address_status_reason_time_but_no_household_id(plan):
    html = route_map(plan).get_root().render()
    stop = plan["stops"][0]
    assert stop["address"] in html and stop["building_id"] in html
    assert "未把握" in html and "要更新" in html and REASON_JA["large_complex"] in html
    assert stop["arrival"][:5] in html
    for s in plan["stops"]:
        for h in s["households"]:
            assert h["household_id"] not in html


def test_online_route_map_uses_gsi_tiles_with_attribution(plan):
    html = route_map(plan, offline=False).get_root().render()
    assert "cyberjapandata.gsi.go.jp/xyz/std/" in html
    assert "maps.gsi.go.jp/development/ichiran.html" in html  # the attribution link


def test_offline_html_names_no_external_resource(plan, assets, tmp_path):
    path = save_map(route_map(plan, offline=True), tmp_path / "route.html")
    html = path.read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" not in html
    for needle in ('src="http', "src='http", 'href="http', 'src="//'):
        for chunk in html.split(needle)[1:]:
            # The only http links left are <a href> in attribution text, never loaded.
            assert needle.startswith("href") and "leaflet" in chunk[:40].lower(), chunk[:80]
    assert (tmp_path / "assets" / "leaflet" / "leaflet.js").is_file()


# ---------------------------------------------------------------- bad plans


@pytest.mark.parametrize(
    ("name", "field", "code"),
    [
        ("maps_plan_bad_order.json", "order", "bad_order"),
        ("maps_plan_swapped_lonlat.json", "lat", "bad_coordinate"),
        ("maps_plan_personal_field.json", "resident_name", "personal_field"),
        ("maps_plan_truncated.json", None, "bad_json"),
    ],
)
def test_bad_plan_files_name_the_problem(fixtures_dir, name, field, code):
    with pytest.raises(InputError) as info:
        read_plan(fixtures_dir / name)
    problems = info.value.problems
    assert any(p.code == code and p.field == field for p in problems), problems
    assert all(p.file.endswith(name) for p in problems)


def test_every_problem_of_a_plan_is_reported(fixtures_dir):
    with pytest.raises(InputError) as info:
        read_plan(fixtures_dir / "maps_plan_missing_officer_bad_path.json")
    fields = {(p.row, p.field) for p in info.value.problems}
    assert (None, "officer_id") in fields and ("stops[3]", "path") in fields


def test_swapped_coordinates_hint_at_the_swap(fixtures_dir):
    with pytest.raises(InputError, match="swapped"):
        read_plan(fixtures_dir / "maps_plan_swapped_lonlat.json")


def test_synthetic_plans_pass_the_check():
    for n in (0, 1, 40):
        check_plan(synthetic_plan(n, seed=n))


# ---------------------------------------------------------------- beats map


@pytest.mark.parametrize("style", ["cluster", "heat"])
def test_beats_map_in_browser_without_personal_data(browser, assets, tmp_path, style):
    m = beats_map(
        _grid_beats(),
        workload_col="workload_h",
        koban_gdf=_koban(),
        unvisited_points=_unvisited(),
        unvisited_style=style,
        offline=True,
    )
    path = save_map(m, tmp_path / "beats.html")
    html = path.read_text(encoding="utf-8")
    assert SECRET not in html and "HID" not in html
    for fld in PERSONAL_FIELDS:
        assert f'"{fld}"' not in html
    report = _check_page(browser, tmp_path, "beats.html", tmp_path)
    assert report.marker_count >= 2  # koban labels at least
    if style == "cluster":
        assert any("markercluster" in u for u in report.requests)


def test_beats_map_colours_follow_workload():
    beats = _grid_beats()
    html = beats_map(beats, workload_col="workload_h").get_root().render()
    # The heaviest beat gets the darkest colour of the scale, the lightest the palest.
    assert "#bd0026" in html.lower() and "#ffffcc" in html.lower()


def test_unvisited_counts_are_per_building_and_sum_to_households():
    pts = _unvisited(seed=5)
    counts = aggregate_unvisited(pts)
    assert sum(c for _, _, c in counts) == len(pts)
    assert len(counts) == pts["building_id"].nunique()


def test_beats_map_rejects_missing_column_and_crs():
    beats = _grid_beats()
    with pytest.raises(InputError, match="workload_h"):
        beats_map(beats.drop(columns=["workload_h"]), workload_col="workload_h")
    with pytest.raises(InputError, match="no CRS"):
        beats_map(beats.set_crs(None, allow_override=True), workload_col="workload_h")


# ---------------------------------------------------------------- rebalancing, districts


def test_districts_map_ranks_and_officers(browser, assets, tmp_path):
    d = _grid_beats(2)[["geometry"]].copy()
    d["name"] = ["北安江団地", "広岡高層", "本町", "此花"]
    d["rank"] = [2, 1, 4, 3]
    d["hours"] = [120.0, 200.0, 40.0, 60.0]
    d["officers"] = [["専従A"], ["専従B", "専従C"], [], ["専従A"]]
    pts = d.copy()
    pts["geometry"] = pts.geometry.centroid
    for frame, name in ((d, "districts.html"), (pts, "districts_pts.html")):
        path = save_map(districts_map(frame, offline=True), tmp_path / name)
        report = _check_page(browser, tmp_path, name, tmp_path)
        assert report.marker_count >= 4
        assert "専従B、専従C" in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- offline assets


def test_missing_assets_error_says_how_to_install(plan, tmp_path):
    empty = tmp_path / "no_assets"
    empty.mkdir()
    with pytest.raises(offline.OfflineAssetsError, match="python -m junkai_geo.offline install"):
        save_map(route_map(plan, offline=True), tmp_path / "x.html", assets_dir=empty)


def test_unknown_external_resource_is_refused():
    page = '<html><head><script src="https://cdn.example.org/other.js"></script></head></html>'
    with pytest.raises(offline.OfflineAssetsError, match="cdn.example.org"):
        offline.localize_html(page)


def test_install_assets_is_idempotent(assets):
    before = {p: p.stat().st_mtime for p in assets.rglob("*") if p.is_file()}
    assert offline.install_assets(assets) == assets
    after = {p: p.stat().st_mtime for p in assets.rglob("*") if p.is_file()}
    assert before == after


def test_reason_labels_cover_every_priority_reason():
    from junkai_geo.priorities import REASON_CODES

    assert set(REASON_CODES) <= set(REASON_JA)


def test_two_point_paths_of_a_straight_line_plan_are_not_streets():
    plan = synthetic_plan(6, with_paths=True)
    plan["travel_source"] = "straight_line"
    html = route_map(plan).get_root().render()
    assert "道路経路<br>" not in html and "直線 (道路経路なし)" in html


def test_beat_outlines_are_simplified_for_display():
    from shapely.geometry import Polygon

    # A square with 4,000 collinear vertices along its sides.
    t = np.linspace(0, 1, 1000, endpoint=False)
    ring = [(-4000 + 800 * u, 62000) for u in t] + [(-3200, 62000 + 800 * u) for u in t]
    ring += [(-3200 - 800 * u, 62800) for u in t] + [(-4000, 62800 - 800 * u) for u in t]
    beats = gpd.GeoDataFrame(
        {"beat_id": ["B1"], "w": [1.0]}, geometry=[Polygon(ring)], crs="EPSG:6675"
    )
    fine = beats_map(beats, workload_col="w", simplify_m=0).get_root().render()
    coarse = beats_map(beats, workload_col="w").get_root().render()
    assert len(coarse) < len(fine) / 5
    with pytest.raises(InputError, match="simplify_m"):
        beats_map(beats, workload_col="w", simplify_m=-1)


def test_route_map_one_badge_per_building_and_none_hidden(browser, assets, tmp_path):
    """Consecutive stops of one building share a badge; badges close together are moved apart."""
    plan = synthetic_plan(12, seed=5)
    stops = plan["stops"]
    stops[3]["building_id"] = stops[2]["building_id"]
    for k in range(6, 11):
        stops[k]["lon"] = stops[6]["lon"] + 0.00002 * k
        stops[k]["lat"] = stops[6]["lat"]
    save_map(route_map(plan, offline=True), tmp_path / "r.html")
    with serve(tmp_path) as base:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(f"{base}/r.html", wait_until="load")
        page.wait_for_selector(".junkai-stop")
        page.wait_for_timeout(300)
        for _zoom in range(3):  # at every zoom level the layout holds
            boxes = page.eval_on_selector_all(
                ".junkai-stop",
                "els => els.map(e => { const r = e.getBoundingClientRect();"
                " return [parseInt(e.dataset.order, 10), r.x + r.width / 2, r.y + r.height / 2, r.width]; })",
            )
            assert sorted(b[0] for b in boxes) == list(range(1, 12))
            closest = min(
                ((a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2) ** 0.5
                for i, a in enumerate(boxes)
                for b in boxes[i + 1 :]
            )
            assert closest >= boxes[0][3], (closest, boxes[0][3])
            page.evaluate(
                "() => { const m = Object.keys(window).filter(k => k.startsWith('map_'))"
                ".map(k => window[k])[0]; m.setZoom(m.getZoom() - 1, {animate: false}); }"
            )
            page.wait_for_timeout(200)
        page.close()
