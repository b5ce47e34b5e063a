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
    url: str, officer: str, on: date, calendar: dict | None = None
) -> tuple[dict, dict]:
    """The service's plan of ``officer`` and, with ``calendar`` (a POST /calendars
    body without ``start``), that calendar job (done)."""
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
        if calendar is not None:
            r = client.post("/calendars", headers=h, json={**calendar, "start": on.isoformat()})
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


def helsinki_workspace(tmp_path: Path) -> Path:
    """A workspace with the Helsinki files' layers imported (no street network yet)."""
    helsinki_files(tmp_path)
    ws = tmp_path / "helsinki.sqlite3"
    for layer, name in (
        ("koban", "koban.geojson"),
        ("beats", "beats.geojson"),
        ("officers", "officers.csv"),
        ("households", "households.geojson"),
    ):
        cli("import", layer, str(tmp_path / name), "--workspace", str(ws))
    return ws


@pytest.mark.skipif(not HELSINKI.is_file(), reason=f"{HELSINKI} is not there (../shared)")
def test_a_workspace_with_streets_plans_along_them(tmp_path: Path) -> None:
    ws = helsinki_workspace(tmp_path)
    where = ["--workspace", str(ws)]
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
    koban_calendar = {"koban_id": "HK1", "weeks": 1, "forecast_runs": 1}
    served, job = served_plan_and_calendar(f"sqlite:///{ws}", "HO1", ON, koban_calendar)
    assert served["travel_source"] == "network" and served["stops"]
    assert max(len(s["path"]) for s in served["stops"]) > 2
    # The service's calendar job travels on the same streets and says so.
    assert job["result"]["travel_source"] == "network", job["message"]
    assert job["result"]["calendar"]["attempts"]
    # So does the command line's calendar (the same field).
    cal = tmp_path / "calendar.json"
    cli("calendar", "--koban", "HK1", "--start", ON.isoformat(), "--weeks", "1", "--forecast-runs", "0", "--time-limit", "0.3", "--out", str(cal), *where)  # fmt: skip
    data = json.loads(cal.read_text(encoding="utf-8"))
    assert data["travel_source"] == "network" and data["calendar"]["attempts"]


def new_officer_calendar(beat: str, where: list[str], out: Path) -> tuple[dict, list[dict]]:
    """The command line's ``calendar --new-officer`` JSON and its day plans."""
    cli("calendar", "--new-officer", beat, "--start", ON.isoformat(), "--time-limit", "0.3", "--full", "--out", str(out), *where)  # fmt: skip
    data = json.loads(out.read_text(encoding="utf-8"))
    plans = [d["plan"] for d in data["new_officer"]["days"] if "plan" in d]
    assert plans, data["new_officer"]["notes"]
    return data, plans


@pytest.mark.skipif(not HELSINKI.is_file(), reason=f"{HELSINKI} is not there (../shared)")
def test_a_new_officers_calendar_says_what_it_travelled_on(tmp_path: Path) -> None:
    """``calendar --new-officer`` writes ``travel_source`` by the rule the
    service's jobs use: straight line without streets; with them, the network
    of the beat's officer's mode, as the service's new-officer job."""
    import pandas as pd

    from junkai_geo.calendar import travel_mode_of

    ws = helsinki_workspace(tmp_path)
    where = ["--workspace", str(ws)]
    data, plans = new_officer_calendar("HB1", where, tmp_path / "before.json")
    assert data["travel_source"] == "straight_line"
    assert {p["travel_source"] for p in plans} == {"straight_line"}
    cli("import", "network", str(HELSINKI), *where)
    officers = pd.read_csv(tmp_path / "officers.csv")
    # HB1's officer walks; the koban's tie (one walks, one rides) goes to bicycle.
    assert travel_mode_of(officers, "HK1") == "bicycle"
    written = {}
    for beat, mode in (("HB1", "walk"), ("HB2", "bicycle")):
        assert travel_mode_of(officers, "HK1", beat) == mode
        data, plans = new_officer_calendar(beat, where, tmp_path / f"{beat}.json")
        written[beat] = data
        assert data["travel_source"] == "network", beat
        assert {(p["travel_source"], p["travel_mode"]) for p in plans} == {("network", mode)}
        assert max(len(s["path"]) for p in plans for s in p["stops"]) > 2  # along the streets
    # The service's new-officer job for the same beat says the same.
    body = {"kind": "new_officer", "koban_id": "HK1", "beat_id": "HB1"}
    _, job = served_plan_and_calendar(f"sqlite:///{ws}", "HO1", ON, body)
    assert job["result"]["travel_source"] == "network", job["message"]
    assert job["result"]["new_officer"]["covered"] == written["HB1"]["new_officer"]["covered"]


SHARED = ROOT.parent / "shared" / "data"
POLICE = SHARED / "police" / "koban_japan_2024-11-20.csv"
CENSUS = SHARED / "kanazawa" / "ishikawa_h27_chome_households.csv"


def readme_sequence() -> tuple[str, list[list[str]]]:
    """The README's "Your own data" commands: the workspace variable and each command line."""
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own data") :]
    block = section[
        section.index("```bash\n") + 8 : section.index("```\n", section.index("```bash"))
    ]
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    export = lines[0]
    assert export.startswith("export JUNKAI_WORKSPACE="), export
    commands = [shlex.split(line)[1:] for line in lines[1:] if line.startswith("junkai-geo ")]
    return export, commands


def readme_users() -> list[list[str]]:
    """The README's ``users add`` lines of "Your own data" (after ``JUNKAI_NEW_PASSWORD=...``)."""
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own data") : text.index("### The solver's JSON interface")]
    return [
        shlex.split(line.split("junkai-geo ", 1)[1].split("  #")[0])
        for line in section.splitlines()
        if "junkai-geo users add" in line
    ]


def estat_zip(path: Path) -> int:
    """金沢市's 2015 census small areas as e-Stat serves them (a .zip of a cp932
    Shapefile, parts of one KEY_CODE and water areas included); the polygons are
    the Voronoi cells of the representative points (e-Stat's are not in ../shared).
    Returns the number of land KEY_CODEs."""
    import csv
    import importlib.util
    import zipfile

    import shapely

    spec = importlib.util.spec_from_file_location(
        "mk", ROOT / "tests" / "fixtures" / "make_national_fixtures.py"
    )
    assert spec is not None and spec.loader is not None
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)
    with CENSUS.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["GST_NAME"] == "金沢市"]
    records = [
        mk.estat_record(
            r["KEY_CODE"],
            r["MOJI"],
            int(r["HCODE"]),
            float(r["AREA"]),
            int(r["JINKO"]),
            int(r["SETAI"]),
            float(r["X_CODE"]),
            float(r["Y_CODE"]),
            city=r["CITY"],
            gst=r["GST_NAME"],
        )  # fmt: skip
        for r in rows
    ]
    pts = gpd.GeoSeries(
        gpd.points_from_xy([r["X_CODE"] for r in records], [r["Y_CODE"] for r in records]),
        crs="EPSG:4612",
    ).to_crs(6675)
    hull = shapely.MultiPoint(list(pts)).convex_hull.buffer(500)
    cells = gpd.GeoSeries(
        list(shapely.voronoi_polygons(shapely.MultiPoint(list(pts)), extend_to=hull).geoms),
        crs=6675,
    ).intersection(hull)
    # Each point's own cell (parts of one 町丁目 have points of their own).
    pi, ci = shapely.STRtree(cells.to_numpy()).query(pts.to_numpy(), predicate="within")
    cell_of = dict(zip(pi.tolist(), ci.tolist(), strict=True))
    geoms = gpd.GeoSeries([cells.iloc[cell_of[i]] for i in range(len(pts))], crs=6675)
    shp = path.parent / "h27ka17201.shp"
    mk.write_estat_shapefile(shp, records, geometries=list(geoms.to_crs("EPSG:4612")))
    with zipfile.ZipFile(path, "w") as z:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            z.write(shp.with_suffix(suffix), f"h27ka17201{suffix}")
    return len({r["KEY_CODE"] for r in rows if r["HCODE"] != "8154"})


def national_files(out: Path) -> dict[str, Path | int]:
    """The files of the README's sequence, in the national formats, from ../shared.

    The police list as published (金沢東's 14 located boxes are kept by the
    import); beats: each box's Voronoi cell (受持区 named after the box); the
    e-Stat boundaries of 金沢市 as downloaded; one officer per beat; households
    listed by address only (住所, cp932), as a ward office keeps them; their
    visit history.
    """
    import shapely

    from junkai_geo.formats import read_police_boxes
    from junkai_geo.ingest import read_layer

    koban = read_police_boxes(POLICE, prefecture="石川県", station="金沢東", skip_unlocated=True)
    k = koban.frame.to_crs(6675)
    area = shapely.MultiPoint(list(k.geometry)).convex_hull.buffer(1500)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(list(k.geometry)), extend_to=area)
    beat_ids = [str(n).removesuffix("交番").removesuffix("駐在所") for n in k["name"]]
    beats = gpd.GeoDataFrame(
        {"beat_id": beat_ids, "koban_id": k["koban_id"], "name": k["name"]},
        geometry=[
            next(c for c in cells.geoms if c.contains(p)).intersection(area) for p in k.geometry
        ],
        crs=6675,
    ).to_crs("EPSG:4326")
    beats.to_file(out / "beats.geojson")
    pd.DataFrame(
        {
            "officer_id": [f"O-{b}" for b in beat_ids],
            "koban_id": k["koban_id"],
            "role": "beat",
            "beat_id": beat_ids,
            "mode": "walk",
        }
    ).to_csv(out / "officers.csv", index=False, encoding="utf-8-sig")
    units = estat_zip(out / "h27ka17201.zip")
    # Households near each box (40 each), by address only.
    hh = gpd.read_parquet(BUNDLE / "households.parquet").to_crs(6675)
    tree = shapely.STRtree(hh.geometry.to_numpy())
    near = sorted({int(i) for p in k.geometry for i in tree.query(p.buffer(400))[:40]})
    hh = hh.iloc[near]
    listed = pd.DataFrame(
        {
            "世帯ID": hh["household_id"].to_numpy(),
            "住所": ("石川県金沢市" + hh["address"]).to_numpy(),
            "種別": hh["kind"].map({"home": "世帯", "business": "事業所", "public": "公共"}),
            "階": hh["floor"].to_numpy(),
        }
    )
    listed.to_csv(out / "all.csv", index=False, encoding="cp932")
    # Keep the rows the 町字 points locate inside the beats (a real list would
    # be the station's own area).
    located = read_layer(out / "all.csv", "households").to_crs("EPSG:4326")
    inside = set(located[located.within(beats.union_all())]["household_id"])
    listed = listed[listed["世帯ID"].isin(inside)]
    listed.to_csv(out / "households.csv", index=False, encoding="cp932")
    visits = pd.read_parquet(BUNDLE / "visits.parquet")
    visits[visits["household_id"].isin(inside)].to_csv(
        out / "visits.csv", index=False, encoding="utf-8-sig"
    )
    return {
        "koban_japan_2024-11-20.csv": POLICE,
        "beats.geojson": out / "beats.geojson",
        "h27ka17201.zip": out / "h27ka17201.zip",
        "officers.csv": out / "officers.csv",
        "households.csv": out / "households.csv",
        "visits.csv": out / "visits.csv",
        "_land_units": units,
        "_households": len(listed),
    }


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | int]:
    if not (POLICE.is_file() and CENSUS.is_file()):
        pytest.skip(f"{POLICE.parent.parent} is not there (../shared)")
    return national_files(tmp_path_factory.mktemp("national"))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_readme_sequence_in_the_national_formats(
    backend: str,
    national: dict[str, Path | int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's "Your own data" commands, as written, on files in the national
    formats: the police list, e-Stat boundaries as downloaded, households by
    address (located on the bundled 町字 points, beats by location), to a plan
    and its PDF sheet; on SQLite and on PostgreSQL."""
    from contextlib import ExitStack

    from sqlalchemy import create_engine, text

    export, commands = readme_sequence()
    for name in ("JUNKAI_DATABASE_URL", "DATABASE_URL", "JUNKAI_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # plan.json and sheet.pdf are written here
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'ishikawa.sqlite3'}"
            monkeypatch.setenv("JUNKAI_WORKSPACE", str(tmp_path / "ishikawa.sqlite3"))
        else:
            from tests.api_tests.conftest import fresh_postgres_database

            url = stack.enter_context(fresh_postgres_database())
            monkeypatch.setenv("JUNKAI_DATABASE_URL", url)  # the alternative the README names
        for argv in commands:
            cli(*[str(national.get(a, a)) for a in argv])
        out = capsys.readouterr().out
        engine = create_engine(url)
        with engine.connect() as conn:
            n = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("koban", "beats", "units", "officers", "households", "visits")
            }
            no_beat = conn.execute(text("SELECT count(*) FROM households WHERE beat_id IS NULL"))
            assert no_beat.scalar() == 0
            tawara = conn.execute(text("SELECT count(*) FROM units WHERE unit_id = '172016810'"))
            assert tawara.scalar() == 1  # 俵町: two parts, one unit
            if backend == "postgres":
                srid = conn.execute(text("SELECT DISTINCT ST_SRID(geom) FROM households"))
                assert srid.scalars().all() == [6675]
        engine.dispose()
    assert n["koban"] == n["beats"] == n["officers"] == 14
    assert n["units"] == national["_land_units"]  # water areas (金沢港) left out
    assert n["households"] == national["_households"] >= 200 and n["visits"] > 0
    assert "households without a beat: 0" in out
    plan_path = next(
        Path(a) for argv in commands if argv[0] == "plan" for a in argv if a.endswith(".json")
    )
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    assert plan["stops"], plan["notes"]
    sheet = next(
        Path(a) for argv in commands if argv[0] == "sheet" for a in argv if a.endswith(".pdf")
    )
    assert sheet.read_bytes().startswith(b"%PDF")
    assert_sheet(sheet, plan)
    if backend == "sqlite":
        # How to log in on that workspace: the README's users, an officer and a manager.
        monkeypatch.setenv("JUNKAI_NEW_PASSWORD", "correct-horse-battery")
        users = readme_users()
        assert [u[:3] for u in users] == [["users", "add", "tanaka"], ["users", "add", "sato"]]
        for argv in users:
            assert main(argv) == 0, argv
