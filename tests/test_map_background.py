"""Backgrounds, scale bar, labels and colours of the maps (issues 15 item 6, 16 part 4).

Each map is opened in the real headless Chromium and every request is
recorded: with no tile source configured nothing goes to another host.
"""

from __future__ import annotations

import io
import sqlite3
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import launch, serve, synthetic_plan  # noqa: E402

from junkai_geo import offline  # noqa: E402
from junkai_geo.errors import InputError  # noqa: E402
from junkai_geo.render import (  # noqa: E402
    GSI_TILE_URL,
    NO_BACKGROUND_JA,
    TILE_URL_ENV,
    Background,
    adjacent_colours,
    beats_map,
    route_map,
    save_map,
)

_LAYOUT = """() => {
  const rect = s => { const e = document.querySelector(s); if (!e) return null;
    const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    scales: [...document.querySelectorAll('.leaflet-control-scale-line')].map(e => e.textContent),
    scale: rect('.leaflet-control-scale'),
    legend: rect('.junkai-legend'),
    notice: [...document.querySelectorAll('.junkai-notice')].map(e => e.textContent),
    labels: [...document.querySelectorAll('.junkai-label')].map(e => e.textContent),
    koban: [...document.querySelectorAll('.junkai-koban-name')].map(e => e.textContent),
    tiles: [...document.querySelectorAll('img.leaflet-tile-loaded')].length,
  };
}"""


@pytest.fixture(scope="module")
def assets() -> Path:
    return offline.install_assets()


@pytest.fixture(scope="module")
def browser():
    with launch() as b:
        yield b


def _open(browser, directory: Path, name: str) -> tuple[dict, list[str], list[str]]:
    requests: list[str] = []
    failed: list[str] = []
    with serve(directory) as base:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.on("request", lambda r: requests.append(r.url))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto(f"{base}/{name}", wait_until="load")
        page.wait_for_selector(".leaflet-container", timeout=10_000)
        page.wait_for_timeout(500)
        layout = page.evaluate(_LAYOUT)
        page.close()
    return layout, requests, failed


def _foreign(requests: list[str]) -> list[str]:
    return [
        u
        for u in requests
        if not u.startswith(("http://127.0.0.1", "data:", "blob:", "about:", "file:"))
    ]


def _overlap(a: list[float], b: list[float]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def test_maps_are_offline_by_default_and_say_there_is_no_background(
    browser, assets, tmp_path, monkeypatch
):
    monkeypatch.delenv(TILE_URL_ENV, raising=False)
    save_map(route_map(synthetic_plan(8, seed=3)), tmp_path / "route.html")
    layout, requests, failed = _open(browser, tmp_path, "route.html")
    assert _foreign(requests) == [] and failed == []
    assert layout["notice"] == [NO_BACKGROUND_JA]
    # 町丁目 names from the plan's addresses help the reader orient.
    assert any("丁目" in t for t in layout["labels"])
    # One metric scale bar, clear of the legend.
    assert len(layout["scales"]) == 1 and layout["scales"][0].strip().endswith("m")
    assert not _overlap(layout["scale"], layout["legend"])


class _Tiles:
    """A PNG tile of one colour."""

    @staticmethod
    def png() -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (256, 256), (200, 220, 240)).save(buf, format="PNG")
        return buf.getvalue()


def test_a_configured_tile_url_is_the_only_other_host(browser, assets, tmp_path):
    tiles = tmp_path / "tileserver"
    for z in range(12, 19):
        (tiles / str(z)).mkdir(parents=True)
    # The tile server is "localhost", the page 127.0.0.1: both local, told apart by name.
    with serve(tiles) as tile_base:
        url = tile_base.replace("127.0.0.1", "localhost") + "/{z}/{x}/{y}.png"
        bg = Background(tile_url=url, attribution="試験タイル")
        save_map(route_map(synthetic_plan(5, seed=1), background=bg), tmp_path / "r.html")
        _layout, requests, _failed = _open(browser, tmp_path, "r.html")
    foreign = _foreign(requests)
    assert foreign and all(
        u.startswith(tile_base.replace("127.0.0.1", "localhost")) for u in foreign
    )


def _mbtiles(path: Path, plan: dict, zooms: range) -> int:
    """An MBTiles file (TMS rows) covering the plan's area at ``zooms``."""
    from junkai_geo.render import _tile_range

    lons = [s["lon"] for s in plan["stops"]] + [plan["start"]["lon"]]
    lats = [s["lat"] for s in plan["stops"]] + [plan["start"]["lat"]]
    bounds = (min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01)
    png = _Tiles.png()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name text, value text)")
    con.execute(
        "CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)"
    )
    n = 0
    for z in zooms:
        xs, ys = _tile_range(bounds, z)
        for x in xs:
            for y in ys:
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2**z - 1 - y, png))
                n += 1
    con.commit()
    con.close()
    return n


def test_local_mbtiles_are_exported_beside_the_map(browser, assets, tmp_path):
    plan = synthetic_plan(6, seed=2)
    mb = tmp_path / "area.mbtiles"
    assert _mbtiles(mb, plan, range(13, 18)) > 0
    bg = Background(tile_path=mb, attribution="ローカル地図", min_zoom=13, max_zoom=17)
    out = tmp_path / "site"
    save_map(route_map(plan, background=bg), out / "route.html")
    assert any((out / "tiles").rglob("*.png"))
    layout, requests, failed = _open(browser, out, "route.html")
    assert _foreign(requests) == [] and failed == []
    assert layout["tiles"] > 0 and layout["notice"] == []


def test_local_pmtiles_are_exported_beside_the_map(tmp_path):
    """The command line's maps read a PMTiles file as they read MBTiles (same setting)."""
    from tests.pmtiles_fixture import area_tiles, tile_png, write_pmtiles

    plan = synthetic_plan(6, seed=2)
    lons = [s["lon"] for s in plan["stops"]] + [plan["start"]["lon"]]
    lats = [s["lat"] for s in plan["stops"]] + [plan["start"]["lat"]]
    bounds = (min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01)
    png = tile_png()
    tiles = area_tiles(bounds, range(13, 16), png)
    pm = write_pmtiles(tmp_path / "area.pmtiles", tiles)
    bg = Background(tile_path=pm, min_zoom=13, max_zoom=15)
    out = tmp_path / "site"
    html = save_map(route_map(plan, background=bg), out / "route.html").read_text("utf-8")
    written = sorted((out / "tiles").rglob("*.png"))
    assert written and all(p.read_bytes() == png for p in written)
    assert "tiles/{z}/{x}/{y}.png" in html and "http" not in html.split("tiles/{z}")[0][-40:]


def test_local_xyz_folder_and_bad_settings(tmp_path):
    with pytest.raises(InputError, match="tile_path"):
        Background(tile_path=tmp_path / "missing.mbtiles")
    with pytest.raises(InputError, match=r"\{z\}"):
        Background(tile_url="https://example.org/tiles.png")
    assert Background.gsi().tile_url == GSI_TILE_URL
    assert "地理院タイル" in Background.gsi().attribution


def test_env_setting_names_the_gsi_default(monkeypatch):
    monkeypatch.setenv(TILE_URL_ENV, "gsi")
    assert Background.from_env() == Background.gsi()
    monkeypatch.delenv(TILE_URL_ENV)
    assert not Background.from_env().configured


def _beats(n: int = 4) -> gpd.GeoDataFrame:
    rows = [
        {
            "beat_id": f"B{i}{j}",
            "name": f"第{i}{j}受持区",
            "households": 100 * (i + 1),
            "workload_h": 50.0 + 40 * i + 7 * j,
            "geometry": box(-4000 + 800 * i, 62000 + 800 * j, -3200 + 800 * i, 62800 + 800 * j),
        }
        for i in range(n)
        for j in range(n)
    ]
    return gpd.GeoDataFrame(rows, crs="EPSG:6675")


def test_neighbouring_beats_get_different_colours():
    beats = _beats(4)
    colours = adjacent_colours(beats, "beat_id")
    geoms = dict(zip(beats["beat_id"], beats.geometry, strict=True))
    pairs = [
        (a, b) for a in geoms for b in geoms if a < b and geoms[a].buffer(1).intersects(geoms[b])
    ]
    assert len(pairs) == 42  # 24 edges + 18 corners of a 4 x 4 grid
    assert all(colours[a] != colours[b] for a, b in pairs)
    assert len(set(colours.values())) <= 5


def test_beats_map_labels_units_and_legend(browser, assets, tmp_path):
    units = _beats(4).rename(columns={"beat_id": "unit_id"})[["unit_id", "geometry"]]
    units["name"] = [f"本町{k}丁目" for k in range(len(units))]
    koban = gpd.GeoDataFrame(
        {"koban_id": ["K0"], "name": ["駅前交番"]},
        geometry=[Point(-3600, 62400)],
        crs="EPSG:6675",
    )
    m = beats_map(_beats(4), workload_col="workload_h", koban_gdf=koban, units_gdf=units)
    save_map(m, tmp_path / "beats.html")
    layout, requests, _failed = _open(browser, tmp_path, "beats.html")
    assert _foreign(requests) == []
    assert {f"B{i}{j}" for i in range(4) for j in range(4)} <= set(layout["labels"])
    html = (tmp_path / "beats.html").read_text(encoding="utf-8")
    assert "時間" in html and "業務量 (時間 / 1巡)" in html
    assert len(layout["scales"]) == 1 and not _overlap(layout["scale"], layout["legend"])
    distinct = beats_map(_beats(3), workload_col="workload_h", colour_by="beat")
    assert "隣り合う受持区は別の色" in distinct.get_root().render()
