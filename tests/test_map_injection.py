"""Data never runs as script in a map (issue 17, item 1).

Every text that comes from imported data (addresses, koban, beat and district
names, officer ids) is fed with attack strings; the maps are opened in the
real headless Chromium, every tooltip and popup is opened, and the page must
not have run any of them: no global flag set, no page error, the texts shown
as text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import launch, serve, synthetic_plan  # noqa: E402

from junkai_geo import offline  # noqa: E402
from junkai_geo.render import beats_map, districts_map, route_map, save_map  # noqa: E402

#: Each sets a global flag if it ever runs; each must appear as text instead.
ATTACKS: tuple[str, ...] = (
    "`+(globalThis.PWNED='script ran')+`",
    "${globalThis.PWNED2='template ran'}",
    "</script><script>globalThis.PWNED3='tag ran'</script>",
    "<img src=x onerror=\"globalThis.PWNED4='img ran'\">",
    "'\"><svg onload=globalThis.PWNED5=1>",
    "\\`;globalThis.PWNED6=1;//",
)
FLAGS = ("PWNED", "PWNED2", "PWNED3", "PWNED4", "PWNED5", "PWNED6")

_OPEN_ALL = """() => {
  const maps = Object.keys(window).filter(k => k.startsWith('map_')).map(k => window[k]);
  const shown = [];
  const keep = t => { const el = t && t.getElement && t.getElement(); if (el) shown.push(el.innerText); };
  for (const m of maps) {
    m.eachLayer(l => {
      const tip = l.getTooltip && l.getTooltip();
      if (tip && l.eachLayer && typeof tip._content === 'function') {
        // A GeoJson layer's tooltip is a function of the feature: build each one.
        l.eachLayer(s => {
          const el = tip._content(s);
          const box = document.createElement('div');
          if (typeof el === 'string') box.innerHTML = el; else box.appendChild(el);
          document.body.appendChild(box);
          shown.push(box.innerText);
        });
      } else if (tip) {
        try { l.openTooltip(); keep(tip); } catch (e) {}
      }
      if (l.getPopup && l.getPopup()) {
        try { l.openPopup(); keep(l.getPopup()); } catch (e) {}
      }
    });
  }
  return shown;
}"""


@pytest.fixture(scope="module")
def assets() -> Path:
    return offline.install_assets()


@pytest.fixture(scope="module")
def browser():
    with launch() as b:
        yield b


def _hostile_plan() -> dict:
    plan = synthetic_plan(len(ATTACKS), seed=7)
    plan["start"]["label"] = ATTACKS[0]
    plan["officer_id"] = ATTACKS[3]
    plan["beat_id"] = ATTACKS[2]
    for stop, attack in zip(plan["stops"], ATTACKS, strict=True):  # type: ignore[arg-type]
        stop["address"] = attack
        stop["building_id"] = attack
        for h in stop["households"]:
            h["unit"] = attack
            h["reasons"] = [attack]
    return plan


def _open(browser, directory: Path, name: str) -> tuple[dict, list[str], str, int]:
    errors: list[str] = []
    with serve(directory) as base:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/{name}", wait_until="load")
        page.wait_for_selector(".leaflet-container", timeout=10_000)
        shown = page.evaluate(_OPEN_ALL)
        page.wait_for_timeout(200)
        flags = page.evaluate(
            f"() => {list(FLAGS)!r}.map(f => globalThis[f] === undefined ? null : f)"
        )
        page.close()
    return dict(zip(FLAGS, flags, strict=True)), errors, "\n".join(shown), len(shown)


def test_route_map_shows_hostile_addresses_as_text(browser, assets, tmp_path):
    save_map(route_map(_hostile_plan(), offline=True), tmp_path / "route.html")
    flags, errors, text, opened = _open(browser, tmp_path, "route.html")
    assert all(v is None for v in flags.values()), flags
    assert errors == [], errors
    assert opened >= len(ATTACKS)
    # What the attacker wrote is shown, not run (popups and tooltips are open).
    assert "globalThis.PWNED='script ran'" in text
    assert "<img src=x onerror=" in text


def _hostile_beats() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "beat_id": list(ATTACKS[:4]),
            "name": list(ATTACKS[2:6]),
            "workload_h": [10.0, 20.0, 30.0, 40.0],
        },
        geometry=[box(-4000 + 800 * i, 62000, -3200 + 800 * i, 62800) for i in range(4)],
        crs="EPSG:6675",
    )


def _hostile_koban() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"koban_id": list(ATTACKS[:3]), "name": list(ATTACKS[3:6])},
        geometry=[Point(-3600 + 800 * i, 62400) for i in range(3)],
        crs="EPSG:6675",
    )


def test_beats_map_shows_hostile_names_as_text(browser, assets, tmp_path):
    m = beats_map(
        _hostile_beats(), workload_col="workload_h", koban_gdf=_hostile_koban(), offline=True
    )
    save_map(m, tmp_path / "beats.html")
    flags, errors, text, opened = _open(browser, tmp_path, "beats.html")
    assert all(v is None for v in flags.values()), flags
    assert errors == [], errors
    assert opened >= 7
    assert "globalThis.PWNED4='img ran'" in text


def test_districts_map_shows_hostile_names_as_text(browser, assets, tmp_path):
    d = _hostile_beats()[["geometry"]].copy()
    d["name"] = list(ATTACKS[:4])
    d["rank"] = [1, 2, 3, 4]
    d["hours"] = [1.0, 2.0, 3.0, 4.0]
    d["officers"] = [[ATTACKS[4]], [ATTACKS[5]], [], [ATTACKS[0]]]
    pts = d.copy()
    pts["geometry"] = pts.geometry.centroid
    for frame, name in ((d, "d.html"), (pts, "dp.html")):
        save_map(districts_map(frame, koban_gdf=_hostile_koban(), offline=True), tmp_path / name)
        flags, errors, _text, _n = _open(browser, tmp_path, name)
        assert all(v is None for v in flags.values()), (name, flags)
        assert errors == [], errors


def test_the_reported_address_alone_does_not_run(browser, assets, tmp_path):
    """Issue 17's exact address, alone (the page still loads, so the flag is what fails)."""
    plan = synthetic_plan(2, seed=1)
    plan["stops"][0]["address"] = ATTACKS[0]  # type: ignore[index]
    save_map(route_map(plan, offline=True), tmp_path / "r.html")
    flags, errors, text, _n = _open(browser, tmp_path, "r.html")
    assert flags["PWNED"] is None, "the address ran as script"
    assert ATTACKS[0] in text
