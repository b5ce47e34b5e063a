"""The demo on the bundled data, end to end, as a user runs it."""

from __future__ import annotations

import json
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
    assert r["largest_deviation_after"] < r["largest_deviation_before"]
    assert r["all_contiguous"]
    assert (tmp_path / "rebalance.html").is_file()
