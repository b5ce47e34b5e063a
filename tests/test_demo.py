"""The demo on the bundled data, end to end, as a user runs it."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys


def test_demo_prints_summary_and_writes_maps(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "junkai_geo.cli", "demo", "--out", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["units"] == 914
    assert summary["homes"] == 199_572
    assert summary["beats"] > summary["koban"] > 30
    assert 0 < summary["unknown_households"] < summary["households"]
    assert summary["workload_h"]["beat_max"] > summary["workload_h"]["beat_min"] > 0
    beats_html = (tmp_path / "kanazawa_beats.html").read_text(encoding="utf-8")
    assert "leaflet" in beats_html.lower()
    # Offline-safe by default: every map loads its scripts and styles from assets/.
    assert (tmp_path / "assets" / "leaflet" / "leaflet.js").is_file()
    for name in ("kanazawa_beats.html", "specialist_districts.html", "rebalance.html"):
        html = (tmp_path / name).read_text(encoding="utf-8")
        loaded = re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", html)
        assert loaded and all(u.startswith("assets/") or u.startswith("data:") for u in loaded), (
            name,
            [u for u in loaded if not u.startswith("assets/")],
        )
    for key in ("route_plan", "route_map", "route_sheet"):
        path = summary["files"][key]
        assert path.startswith(str(tmp_path)), path
    plan = json.loads((tmp_path / summary["files"]["route_plan"].split("/")[-1]).read_text())
    assert plan["stops"], "the demo officer's day has no stop"
    assert plan["travel_source"] == "straight_line"
    assert (tmp_path / summary["files"]["route_sheet"].split("/")[-1]).read_bytes()[:5] == b"%PDF-"
    cal = summary["calendar"]["totals"]
    assert cal["officer_days"] > 0 and cal["attempts"] > 0
    assert (tmp_path / summary["files"]["calendar"].split("/")[-1]).is_file()
    spec = json.loads((tmp_path / "specialists.json").read_text(encoding="utf-8"))
    assert spec["districts"] and spec["recommendation"]
    assert (tmp_path / "specialist_districts.html").is_file()
    r = summary["rebalance"]
    # The default: the smallest change within ±10 %, every rule kept (issue 16).
    assert r["mode"] == "minimal-change" and r["feasible"], r["violations"]
    assert r["largest_deviation_before"] > 1.0 and r["largest_deviation_after"] <= 0.10
    assert r["all_contiguous"] and r["koban_rule_kept"]
    assert 0 < r["households_moved"] < 0.4 * summary["homes"]
    assert (tmp_path / "rebalance.html").is_file()
    _check_rebalance_geometry(tmp_path / "rebalance.json")


def _check_rebalance_geometry(path):
    """From the written polygons alone: each beat in one piece, next to its koban."""
    import geopandas as gpd

    from junkai_geo.bundled import load_kanazawa

    plan = json.loads(path.read_text(encoding="utf-8"))
    beats = gpd.GeoDataFrame.from_features(plan["beats_after"]["features"], crs="EPSG:4326")
    ds = load_kanazawa(validate=False)
    beats = beats.to_crs(ds.crs)
    assert (beats.geometry.geom_type == "Polygon").all()  # contiguous on the drawn map
    kob = ds.koban.set_index("koban_id").to_crs(ds.crs).geometry
    units = ds.units.to_crs(ds.crs)
    for beat_id, koban_id, geom in zip(
        beats["beat_id"], beats["koban_id"], beats.geometry, strict=True
    ):
        pt = kob[koban_id]
        home = units.geometry[units.geometry.contains(pt)]
        if home.empty:  # a koban standing just outside every 町丁目: its nearest one
            home = units.geometry[[units.geometry.distance(pt).idxmin()]]
        # The beat reaches the 町丁目 holding its koban (it holds or touches the block of it).
        assert home.distance(geom).min() <= 1.0, (beat_id, koban_id)


def test_demo_is_offline_by_default_and_online_only_when_asked() -> None:
    from junkai_geo.commands.demo import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).offline is True
    assert parser.parse_args(["--offline"]).offline is True
    assert parser.parse_args(["--online"]).offline is False


def test_demo_without_assets_or_registry_says_how_to_fix_it_in_japanese_first(tmp_path):
    """No Leaflet files, no npm program, registry unreachable: a clear error first, nothing written."""
    env = {
        **os.environ,
        "JUNKAI_GEO_ASSETS": str(tmp_path / "none"),
        "JUNKAI_NPM_REGISTRY": "http://127.0.0.1:9/",  # discard port: refused at once
        "PATH": str(tmp_path),
    }
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "junkai_geo.cli", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.index("オフライン地図に必要なファイル") < r.stderr.index("Offline map assets")
    for part in (
        "http://127.0.0.1:9/",
        "python -m junkai_geo.offline install",
        "JUNKAI_NPM_REGISTRY",
        "--online",
    ):
        assert part in r.stderr, part
    assert not out.exists()
    assert not (tmp_path / "none").exists()
