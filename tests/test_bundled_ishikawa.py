"""Properties of the bundled Ishikawa prefecture data (data/ishikawa/).

The layers are read with geopandas / pandas directly, so that these tests
check the files themselves; the loader and the progress report run on them
at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "ishikawa"
SCRIPT = ROOT / "data" / "derive_ishikawa.py"
METRIC = "EPSG:6675"
FILES = [
    "units.parquet",
    "koban.geojson",
    "beats.parquet",
    "officers.csv",
    "buildings.parquet",
    "households.parquet",
    "visits.parquet",
    "meta.json",
]
CENSUS_AREAS = 3_548  # 2015 census 町丁目 of Ishikawa
CENSUS_HOMES = 453_368
STATIONS = {  # 2024 list: station -> (交番, 駐在所)
    "金沢中": (16, 3),
    "金沢東": (12, 2),
    "金沢西": (8, 1),
    "大聖寺": (4, 7),
    "小松": (5, 8),
    "能美": (2, 4),
    "白山": (7, 10),
    "津幡": (4, 2),
    "羽咋": (2, 16),
    "七尾": (3, 17),
    "輪島": (2, 15),
    "珠洲": (0, 16),
}


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "units.parquet")


@pytest.fixture(scope="module")
def koban() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "koban.geojson")


@pytest.fixture(scope="module")
def beats() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "beats.parquet")


@pytest.fixture(scope="module")
def officers() -> pd.DataFrame:
    return pd.read_csv(DATA / "officers.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def households() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "households.parquet")


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((DATA / "meta.json").read_text(encoding="utf-8"))


def test_files_present_and_small() -> None:
    sizes = {f: (DATA / f).stat().st_size for f in FILES}
    assert sum(sizes.values()) < 30 * 2**20, sizes
    assert max(sizes.values()) < 10 * 2**20, sizes


def test_every_census_area_with_its_homes(units, households, shared_dir) -> None:
    assert len(units) == CENSUS_AREAS
    assert units["households"].sum() == CENSUS_HOMES
    census = pd.read_csv(
        shared_dir / "data/kanazawa/ishikawa_h27_chome_households.csv", dtype={"KEY_CODE": str}
    )
    key = units["unit_id"].str.split("-").str[0]
    merged = units.merge(
        census, left_on=[key, "area_m2"], right_on=["KEY_CODE", "AREA"], how="left"
    )
    assert merged["SETAI"].notna().all()
    assert (merged["SETAI"] == merged["households"]).all()
    # One area of かほく市 (no households) has no name in the census
    assert (merged["MOJI"].fillna("") == merged["name"].fillna("")).all()
    homes = households[households["kind"] == "home"].groupby("unit_id").size()
    homes = homes.reindex(units["unit_id"], fill_value=0)
    assert (homes.to_numpy() == units["households"].to_numpy()).all()
    counts = households["kind"].value_counts()
    assert counts["home"] == CENSUS_HOMES
    assert counts["business"] == round(0.08 * CENSUS_HOMES)
    assert counts["public"] == round(0.005 * CENSUS_HOMES)


def test_units_are_a_coverage_of_the_derived_land(units, meta) -> None:
    geoms = units.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)
    km2 = units.to_crs(METRIC).area.sum() / 1e6
    assert abs(km2 - meta["land_km2"]) < 1.0
    # Ishikawa's official area is 4,186 km2; the derived land follows it within 10 %
    assert abs(km2 - 4186) / 4186 < 0.1
    x0, y0, x1, y1 = units.total_bounds
    assert 136.2 < x0 < x1 < 137.4 and 36.0 < y0 < y1 < 37.9  # 舳倉島 at 37.85 N


def test_166_boxes_under_12_stations(koban, shared_dir) -> None:
    assert len(koban) == 166
    assert koban["koban_id"].is_unique and koban["name"].is_unique
    got = koban.groupby("station")["kind"].value_counts().unstack(fill_value=0)
    assert {st: (int(r.get("koban", 0)), int(r["chuzaisho"])) for st, r in got.iterrows()} == (
        STATIONS
    )
    ends = np.where(koban["kind"] == "koban", "交番", "駐在所")
    assert all(n.endswith(e) for n, e in zip(koban["name"], ends, strict=True))
    # Positions are the 2024 list's, within a centimetre
    raw = pd.read_csv(shared_dir / "data/police/koban_japan_2024-11-20.csv")
    raw = raw[raw["都道府県名"] == "石川県"].set_index("名称")
    at = raw.loc[koban["name"]]
    assert np.allclose(koban.geometry.x, at["Longitude"], atol=1e-7)
    assert np.allclose(koban.geometry.y, at["Latitude"], atol=1e-7)


def test_jurisdictions_follow_municipalities(units, koban, shared_dir) -> None:
    census = pd.read_csv(
        shared_dir / "data/kanazawa/ishikawa_h27_chome_households.csv", dtype={"KEY_CODE": str}
    )
    raw = pd.read_csv(shared_dir / "data/police/koban_japan_2024-11-20.csv")
    raw = raw[raw["都道府県名"] == "石川県"].set_index("名称")
    muni_of_box = (raw["全国地方公共団体コード"] // 10).astype(int)
    box_muni = koban.set_index("koban_id")["name"].map(muni_of_box)
    key = units["unit_id"].str.split("-").str[0]
    unit_muni = key.map(
        census.drop_duplicates("KEY_CODE").set_index("KEY_CODE").eval("KEN * 1000 + CITY")
    )
    assert (unit_muni.to_numpy() == box_muni[units["koban_id"]].to_numpy()).all()
    assert set(units["koban_id"]) == set(koban["koban_id"])  # every box has an area


def test_beats_officers_and_modes(units, beats, koban, officers) -> None:
    assert set(units["beat_id"]) == set(beats["beat_id"])
    hh = units.groupby("beat_id")["households"].sum()
    assert (hh.reindex(beats["beat_id"]).to_numpy() == beats["households"].to_numpy()).all()
    kind = koban.set_index("koban_id")["kind"]
    per_box = beats.groupby("koban_id").size()
    assert (per_box[kind[per_box.index] == "chuzaisho"] == 1).all()
    assert (per_box[kind[per_box.index] == "koban"] > 1).any()  # several officers at a 交番
    beat_off = officers[officers["role"] == "beat"]
    assert sorted(beat_off["beat_id"]) == sorted(beats["beat_id"])
    is_chu = kind[beat_off["koban_id"]].to_numpy() == "chuzaisho"
    assert (beat_off.loc[is_chu, "shift_pattern"] == "chuzaisho").all()
    assert beat_off.loc[~is_chu, "shift_pattern"].isin(["3shift-A", "3shift-B", "3shift-C"]).all()
    # Rural 駐在所 beats: few households, large areas, by car
    m_beats = beats.to_crs(METRIC).set_index("beat_id")
    density = m_beats["households"] / (m_beats.area / 1e6)
    mode = beat_off.set_index("beat_id")["mode"]
    assert set(mode) == {"walk", "bicycle", "car"}
    assert (density[mode[mode == "car"].index] < 150).all()
    chu_hh = m_beats.loc[beat_off.loc[is_chu, "beat_id"], "households"]
    assert chu_hh.median() < m_beats["households"].median()
    spec = officers[officers["role"] == "specialist"]
    assert len(spec) == 2 * len(STATIONS)


@pytest.mark.slow  # the progress report over the prefecture: about 20 s on an idle core
def test_histories_differ_by_officer(meta, officers) -> None:
    from junkai_geo.bundled import as_of, load_ishikawa
    from junkai_geo.progress import progress_report

    ds = load_ishikawa(validate=False)
    end = as_of("ishikawa")
    result = progress_report(ds, start=end - timedelta(weeks=13) + timedelta(days=1), end=end)
    flagged = {o.officer_id for o in result.flagged}
    story = meta["officer_histories"]
    # Most officers made to fall behind are flagged, and few others are
    behind = set(story["behind"])
    assert len(flagged & behind) >= 0.7 * len(behind)
    assert story["unvisited_beat"]["officer_id"] in flagged
    assert len(flagged - behind) <= 3
    visits = ds.visits
    beat = story["unvisited_beat"]["beat_id"]
    in_beat = visits["household_id"].isin(
        ds.households.loc[ds.households["beat_id"] == beat, "household_id"]
    )
    last = pd.to_datetime(visits.loc[in_beat, "visited_on"]).max()
    assert last.date() < pd.Timestamp(story["unvisited_beat"]["no_visit_since"]).date()
    new = story["new_officer"]
    own = pd.to_datetime(visits.loc[visits["officer_id"] == new["officer_id"], "visited_on"])
    assert own.min().date().isoformat() >= new["since"]
    former = visits.loc[visits["officer_id"] == new["former_officer_id"], "visited_on"]
    assert len(former) > 0
    assert pd.to_datetime(former).max() < pd.Timestamp(new["since"])
    assert new["former_officer_id"] in set(officers["officer_id"])


@pytest.mark.slow
def test_rerun_with_same_seed_is_identical(tmp_path, shared_dir, meta) -> None:
    subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--shared",
            str(shared_dir),
            "--out",
            str(tmp_path),
            "--seed",
            str(meta["seed"]),
            "--quiet",
        ],
        check=True,
        timeout=600,
    )
    for f in FILES:
        new, old = (tmp_path / f).read_bytes(), (DATA / f).read_bytes()
        if new == old:
            continue
        # Writers stamp their version into the files: where the libraries
        # differ from those that wrote the committed files, compare records.
        if f.endswith(".parquet"):
            assert pq.read_table(tmp_path / f).equals(pq.read_table(DATA / f)), f
            assert pq.read_metadata(tmp_path / f).created_by != pq.read_metadata(
                DATA / f
            ).created_by or json.loads(
                (pq.read_metadata(tmp_path / f).metadata or {}).get(b"geo", b"{}")
            ) != json.loads((pq.read_metadata(DATA / f).metadata or {}).get(b"geo", b"{}")), (
                f"{f}: same writer, other bytes"
            )
        elif f.endswith(".geojson"):
            assert json.loads(new)["features"] == json.loads(old)["features"], f
        else:
            raise AssertionError(f"{f} differs from the committed file")
