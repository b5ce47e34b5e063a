"""Acceptance: the README's "Your own data" sequence, from an empty workspace
to a printed route sheet, on SQLite and on PostgreSQL; and a workspace with
a street network (a small area of the Helsinki extract) whose plans, the
service's plan and the sheet travel along the streets."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from api.auth import create_user
from api.cli import main
from api.db import Database
from api.main import create_app
from api.settings import ApiSettings

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "data" / "kanazawa"
HELSINKI = ROOT.parent / "shared" / "data" / "osm" / "Helsinki.osm.pbf"
ON = date(2026, 11, 2)  # a Monday after the bundle's visits


def cli(*argv: str) -> None:
    code = main([*argv, "--quiet"])
    assert code == 0, argv


def kanazawa_files(out: Path) -> str:
    """One koban's data written as an office keeps it; returns its beat officer's id.

    Koban and households in cp932 with Japanese column names, beats as
    GeoJSON, buildings as GeoPackage, officers and visits as CSV in UTF-8
    with BOM; households without beat_id (they are placed by location).
    """
    koban = gpd.read_file(BUNDLE / "koban.geojson")
    beats = gpd.read_parquet(BUNDLE / "beats.parquet")
    hh = gpd.read_parquet(BUNDLE / "households.parquet")
    officers = pd.read_csv(BUNDLE / "officers.csv", dtype=str)
    per_koban = hh.merge(beats[["beat_id", "koban_id"]], on="beat_id")["koban_id"].value_counts()
    kid = str(per_koban.index[-1])  # the smallest koban (a 駐在所)
    k = koban[koban["koban_id"] == kid].to_crs("EPSG:4326")
    b = beats[beats["koban_id"] == kid].to_crs("EPSG:4326")
    h = hh[hh["beat_id"].isin(b["beat_id"])].to_crs("EPSG:4326")
    kind_ja = {"koban": "交番", "chuzaisho": "駐在所"}
    pd.DataFrame(
        {
            "交番ID": k["koban_id"],
            "交番名": k["name"],
            "種別": k["kind"].map(kind_ja),
            "警察署": k["station"],
            "経度": k.geometry.x,
            "緯度": k.geometry.y,
        }
    ).to_csv(out / "koban.csv", index=False, encoding="cp932")
    b[["beat_id", "koban_id", "name", "geometry"]].to_file(out / "beats.geojson")
    o = officers[officers["koban_id"] == kid]
    o.to_csv(out / "officers.csv", index=False, encoding="utf-8-sig")
    bl = gpd.read_parquet(BUNDLE / "buildings.parquet")
    bl = bl[bl["building_id"].isin(h["building_id"])].to_crs("EPSG:6668")
    bl[["building_id", "kind", "floors", "units", "complex_id", "geometry"]].to_file(
        out / "buildings.gpkg", driver="GPKG"
    )
    kind_hh = {"home": "世帯", "business": "事業所", "public": "公共"}
    pd.DataFrame(
        {
            "世帯ID": h["household_id"],
            "種別": h["kind"].map(kind_hh),
            "建物ID": h["building_id"],
            "階": h["floor"],
            "住所": h["address"],
            "登録日": pd.to_datetime(h["registered_on"]).dt.strftime("%Y-%m-%d"),
            "経度": h.geometry.x.round(7),
            "緯度": h.geometry.y.round(7),
        }
    ).to_csv(out / "households.csv", index=False, encoding="cp932")
    v = pd.read_parquet(BUNDLE / "visits.parquet")
    v = v[v["household_id"].isin(h["household_id"])]
    v.to_csv(out / "visits.csv", index=False, encoding="utf-8-sig")
    return str(o[o["role"] == "beat"]["officer_id"].iloc[0])


@pytest.fixture(scope="module")
def own_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The files are made once (reading the bundle is the slow part) for both databases."""
    tmp = tmp_path_factory.mktemp("own_data")
    return tmp, kanazawa_files(tmp)


def own_data_sequence(files: tuple[Path, str], out: Path, where: list[str]) -> tuple[dict, Path]:
    tmp, officer = files
    cli("import", "koban", str(tmp / "koban.csv"), *where)
    cli("import", "beats", str(tmp / "beats.geojson"), *where)
    cli("import", "officers", str(tmp / "officers.csv"), *where)
    cli("import", "buildings", str(tmp / "buildings.gpkg"), *where)
    cli("import", "households", str(tmp / "households.csv"), *where)
    cli("import", "visits", str(tmp / "visits.csv"), *where)
    cli("status", *where)
    plan_path, sheet = out / "plan.json", out / "sheet.pdf"
    cli("plan", "--officer", officer, "--date", ON.isoformat(), "--time-limit", "1", "--out", str(plan_path), *where)  # fmt: skip
    cli("sheet", str(plan_path), "--out", str(sheet), *where)
    return json.loads(plan_path.read_text(encoding="utf-8")), sheet


def assert_sheet(path: Path, plan: dict, travel: str = "直線距離") -> None:
    from pypdf import PdfReader

    text = "".join(page.extract_text() or "" for page in PdfReader(path).pages)
    assert plan["officer_id"] in text
    assert travel in text  # the sheet says which travel it used


def served_plan_and_calendar(
    url: str, officer: str, on: date, calendar_koban: str | None = None
) -> tuple[dict, dict]:
    """The service's plan of ``officer`` and, with ``calendar_koban``, its calendar job (done)."""
    import time

    db = Database(url)
    db.migrate()
    with db.writing() as session:
        create_user(session, "admin-test", "correct-horse-battery", "admin")
    app = create_app(ApiSettings(database_url=url, plan_processes=0, plan_time_limit_s=0.5), db=db)
    job: dict = {}
    with TestClient(app) as client:
        r = client.post(
            "/auth/token", data={"username": "admin-test", "password": "correct-horse-battery"}
        )
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = client.get(f"/plans/{officer}/{on}", headers=h)
        assert r.status_code == 200, r.text
        plan = r.json()
        if calendar_koban is not None:
            body = {"koban_id": calendar_koban, "start": on.isoformat(), "weeks": 1}
            r = client.post("/calendars", headers=h, json={**body, "forecast_runs": 1})
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                job = client.get(f"/calendars/{r.json()['id']}", headers=h).json()
                if job["status"] not in ("queued", "running"):
                    break
                time.sleep(0.3)
            assert job["status"] == "done", job
    db.dispose()
    return dict(plan), job


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_own_data_from_an_empty_workspace_to_a_route_sheet(
    backend: str, tmp_path: Path, own_files: tuple[Path, str]
) -> None:
    if backend == "sqlite":
        where = ["--workspace", str(tmp_path / "workspace.sqlite3")]
        plan, sheet = own_data_sequence(own_files, tmp_path, where)
    else:
        from tests.api_tests.conftest import fresh_postgres_database

        with fresh_postgres_database() as url:
            plan, sheet = own_data_sequence(own_files, tmp_path, ["--database-url", url])
    assert plan["stops"], plan["notes"]
    assert plan["travel_source"] == "straight_line"
    assert sheet.read_bytes().startswith(b"%PDF")
    assert_sheet(sheet, plan)
    if backend == "sqlite":
        # The other commands read the same workspace.
        where = ["--workspace", str(tmp_path / "workspace.sqlite3")]
        koban = str(plan["koban_id"])
        cal = tmp_path / "calendar.json"
        cli("calendar", "--koban", koban, "--start", ON.isoformat(), "--weeks", "1", "--forecast-runs", "0", "--time-limit", "0.3", "--out", str(cal), *where)  # fmt: skip
        assert json.loads(cal.read_text(encoding="utf-8"))["calendar"]
        prog = tmp_path / "progress.json"
        cli("progress", "--koban", koban, "--to", "2026-10-31", "--out", str(prog), *where)
        assert json.loads(prog.read_text(encoding="utf-8"))
        cli("specialists", "--top", "1", "--round-days", "0", "--date", ON.isoformat(), *where)


def helsinki_files(out: Path) -> None:
    """Two beats, a koban and 60 households in central Helsinki (no beat_id)."""
    west, east = box(24.938, 60.166, 24.944, 60.176), box(24.944, 60.166, 24.950, 60.176)
    gpd.GeoDataFrame(
        {"beat_id": ["HB1", "HB2"], "koban_id": ["HK1", "HK1"], "name": ["west", "east"]},
        geometry=[west, east],
        crs="EPSG:4326",
    ).to_file(out / "beats.geojson")
    gpd.GeoDataFrame(
        {"koban_id": ["HK1"], "name": ["Kamppi"], "kind": ["koban"], "station": ["Helsinki"]},
        geometry=[Point(24.944, 60.171)],
        crs="EPSG:4326",
    ).to_file(out / "koban.geojson")
    pd.DataFrame(
        {
            "officer_id": ["HO1", "HO2"],
            "koban_id": ["HK1", "HK1"],
            "role": ["beat", "beat"],
            "beat_id": ["HB1", "HB2"],
            "mode": ["walk", "bicycle"],
        }
    ).to_csv(out / "officers.csv", index=False)
    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(24.9385, 24.9435, 30), rng.uniform(24.9445, 24.9495, 30)])
    lat = rng.uniform(60.1665, 60.1755, 60)
    gpd.GeoDataFrame(
        {
            "household_id": [f"HH{i:03d}" for i in range(60)],
            "kind": "home",
            "address": [f"Katu {i}" for i in range(60)],
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
    ).to_file(out / "households.geojson")


@pytest.mark.skipif(not HELSINKI.is_file(), reason=f"{HELSINKI} is not there (../shared)")
def test_a_workspace_with_streets_plans_along_them(tmp_path: Path) -> None:
    helsinki_files(tmp_path)
    ws = tmp_path / "helsinki.sqlite3"
    where = ["--workspace", str(ws)]
    for layer, name in (
        ("koban", "koban.geojson"),
        ("beats", "beats.geojson"),
        ("officers", "officers.csv"),
        ("households", "households.geojson"),
    ):
        cli("import", layer, str(tmp_path / name), *where)
    cli("import", "network", str(HELSINKI), *where)
    for officer, mode in (("HO1", "walk"), ("HO2", "bicycle")):
        out = tmp_path / f"{officer}.json"
        cli("plan", "--officer", officer, "--date", ON.isoformat(), "--time-limit", "1", "--out", str(out), *where)  # fmt: skip
        plan = json.loads(out.read_text(encoding="utf-8"))
        assert plan["travel_source"] == "network" and plan["travel_mode"] == mode
        assert plan["stops"]
        # The legs follow the streets: more points than the straight segment.
        assert max(len(s["path"]) for s in plan["stops"]) > 2
        sheet = tmp_path / f"{officer}.pdf"
        cli("sheet", str(out), "--out", str(sheet))
        assert_sheet(sheet, plan, "道路網")
    served, job = served_plan_and_calendar(f"sqlite:///{ws}", "HO1", ON, calendar_koban="HK1")
    assert served["travel_source"] == "network" and served["stops"]
    assert max(len(s["path"]) for s in served["stops"]) > 2
    # The service's calendar job travels on the same streets and says so.
    assert job["result"]["travel_source"] == "network", job["message"]
    assert job["result"]["calendar"]["attempts"]


POLICE = ROOT.parent / "shared" / "data" / "police" / "koban_japan_2024-11-20.csv"


@pytest.mark.skipif(not POLICE.is_file(), reason=f"{POLICE} is not there (../shared)")
def test_own_data_in_the_national_formats(tmp_path: Path) -> None:
    """The police list as published (filtered to one station), households
    listed by address only (located on the bundled Ishikawa 町字 points and
    placed in beats by location), to a plan and its sheet."""
    import sqlite3

    import shapely

    from junkai_geo.ingest import read_layer

    ws = tmp_path / "ishikawa.sqlite3"
    where = ["--workspace", str(ws)]
    cli("import", "koban", str(POLICE), "--prefecture", "石川県", "--station", "金沢東", "--skip-unlocated", *where)  # fmt: skip
    con = sqlite3.connect(ws)
    koban = con.execute("SELECT koban_id, lon, lat FROM koban ORDER BY koban_id").fetchall()
    con.close()
    assert len(koban) >= 10 and all(k.startswith("KB-") for k, _, _ in koban)
    # Beats: the koban's Voronoi cells in the area they serve.
    pts = gpd.GeoSeries([Point(lon, lat) for _, lon, lat in koban], crs="EPSG:4326").to_crs(6675)
    area = shapely.MultiPoint(list(pts)).convex_hull.buffer(1500)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(list(pts)), extend_to=area)
    beats = []
    for (kid, _, _), p in zip(koban, pts, strict=True):
        cell = next(c for c in cells.geoms if c.contains(p)).intersection(area)
        beats.append({"beat_id": f"B-{kid[3:]}", "koban_id": kid, "geometry": cell})
    beats_gdf = gpd.GeoDataFrame(beats, crs=6675).to_crs("EPSG:4326")
    beats_gdf.to_file(tmp_path / "beats.geojson")
    pd.DataFrame(
        {
            "officer_id": [f"O-{b['beat_id']}" for b in beats],
            "koban_id": [b["koban_id"] for b in beats],
            "beat_id": [b["beat_id"] for b in beats],
        }
    ).to_csv(tmp_path / "officers.csv", index=False)
    # Households by address only (住所, no coordinates), as a ward office keeps them.
    hh = gpd.read_parquet(BUNDLE / "households.parquet").to_crs(6675)
    hh = hh[hh.within(shapely.union_all(pts.buffer(700).to_numpy()))].head(400)
    listed = pd.DataFrame(
        {
            "世帯ID": hh["household_id"].to_numpy(),
            "住所": ("石川県金沢市" + hh["address"]).to_numpy(),
            "種別": hh["kind"]
            .map({"home": "世帯", "business": "事業所", "public": "公共"})
            .to_numpy(),
            "階": hh["floor"].to_numpy(),
        }
    )
    listed.to_csv(tmp_path / "all.csv", index=False, encoding="cp932")
    # Keep the rows the bundled 町字 points locate inside the beats (a real list
    # would be the station's own area).
    located = read_layer(tmp_path / "all.csv", "households").to_crs("EPSG:4326")
    inside = located[located.within(beats_gdf.union_all())]["household_id"]
    assert len(inside) >= 50
    listed[listed["世帯ID"].isin(inside)].to_csv(
        tmp_path / "households.csv", index=False, encoding="cp932"
    )
    cli("import", "beats", str(tmp_path / "beats.geojson"), *where)
    cli("import", "officers", str(tmp_path / "officers.csv"), *where)
    cli("import", "households", str(tmp_path / "households.csv"), *where)
    con = sqlite3.connect(ws)
    busiest = con.execute(
        "SELECT beat_id FROM households GROUP BY beat_id ORDER BY count(*) DESC, beat_id LIMIT 1"
    ).fetchone()[0]
    assert con.execute("SELECT count(*) FROM households WHERE beat_id IS NULL").fetchone()[0] == 0
    con.close()
    out, sheet = tmp_path / "plan.json", tmp_path / "sheet.pdf"
    cli("plan", "--officer", f"O-{busiest}", "--date", ON.isoformat(), "--time-limit", "1", "--out", str(out), *where)  # fmt: skip
    cli("sheet", str(out), "--out", str(sheet))
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["stops"], plan["notes"]
    assert_sheet(sheet, plan)
