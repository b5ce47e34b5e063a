"""The rebalancing map in headless Chromium: layers, labels, neighbour colours, moves list."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import launch, open_map, pixel_std, serve  # noqa: E402

from junkai_geo import offline  # noqa: E402
from junkai_geo.rebalance.map import (  # noqa: E402
    beat_adjacency,
    beat_fill_colours,
    colour_beats,
    rebalance_map,
)
from junkai_geo.render import save_map  # noqa: E402

SECRET = "SECRET-個人-42"  # a value that must never reach a shared map


@pytest.fixture(scope="module")
def assets() -> Path:
    return offline.install_assets()


@pytest.fixture(scope="module")
def browser():
    with launch() as b:
        yield b


def _units(n: int = 4) -> gpd.GeoDataFrame:
    """n x n squares of 400 m near Kanazawa station; beats are columns of squares."""
    x0, y0 = -4000.0, 62000.0
    rows = []
    for i in range(n):
        for j in range(n):
            rows.append(
                {
                    "unit_id": f"U{i}{j}",
                    "name": f"町{i}-{j}",
                    "households": 100 + 10 * i + j,
                    "resident_name": SECRET,
                    "beat_before": f"B{i}",
                    "geometry": box(
                        x0 + 400 * i, y0 + 400 * j, x0 + 400 * (i + 1), y0 + 400 * (j + 1)
                    ),
                }
            )
    gdf = gpd.GeoDataFrame(rows, crs="EPSG:6675")
    gdf["beat_after"] = gdf["beat_before"]
    return gdf


def test_neighbouring_beats_never_share_a_colour() -> None:
    units = _units(6)
    # Stripes and a checkerboard-like layout: many neighbours per beat.
    units["beat_after"] = [f"C{(k // 6) // 2}{(k % 6) // 2}" for k in range(len(units))]
    adj = beat_adjacency(units, "beat_after")
    assert "C01" in adj["C00"] and "C11" in adj["C00"]  # corners count as neighbours
    colours = beat_fill_colours(units, "beat_after")
    for b, nbrs in adj.items():
        for c in nbrs:
            assert colours[b] != colours[c], (b, c)
    # A wheel (one centre touching a ring of five) needs four colours; greedy finds them.
    wheel = {"H": {"1", "2", "3", "4", "5"}, "1": {"2", "5"}, "2": {"3"}, "3": {"4"}, "4": {"5"}}
    idx = colour_beats(wheel)
    assert all(idx[a] != idx[b] for a, ns in wheel.items() for b in ns)
    assert max(idx.values()) <= 3


def test_rebalance_map_layers_labels_and_moves(browser, assets, tmp_path) -> None:
    units = _units()
    units.loc[[1, 5], "beat_after"] = "B2"  # two units of B0 / B1 move to B2
    m = rebalance_map(units, offline=True)
    path = save_map(m, tmp_path / "rebalance.html")
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    with serve(tmp_path) as base:
        report = open_map(browser, f"{base}/rebalance.html", screenshot_path=tmp_path / "r.png")
    assert report.console_errors == [] and report.page_errors == [] and report.failed == []
    assert report.foreign_hosts() == []
    assert pixel_std(report.screenshot) > 8.0
    assert report.base_layers == ["調整前 Before", "調整後 After"]
    assert "移動 Moved units (2)" in report.overlays
    assert "moved: 2 / 16" in report.legend
    # The list of moves: unit, from -> to, households; largest first.
    assert report.legend.index("U11 町1-1") < report.legend.index("U01 町0-1")
    assert "B1 → B2" in report.legend and "111" in report.legend
    # Beat labels in the map (in Leaflet's escaped DivIcon HTML).
    for b in ("B0", "B1", "B2", "B3"):
        assert f'junkai-beat-label\\"\\u003e{b}\\u003c/div' in text


def test_rebalance_map_with_koban_and_no_moves(tmp_path) -> None:
    units = _units(3)
    kob = gpd.GeoDataFrame({"koban_id": ["K1"]}, geometry=[Point(-3800, 62200)], crs="EPSG:6675")
    path = save_map(rebalance_map(units, koban_gdf=kob, offline=True), tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    assert "moved: 0 / 9" in text and "Moved units" not in text
