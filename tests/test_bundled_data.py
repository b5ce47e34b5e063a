"""Properties of the bundled Kanazawa sample data (data/kanazawa/).

The layers are read with geopandas / pandas directly, so that these tests
check the files themselves, whatever the importer does with them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "kanazawa"
SCRIPT = ROOT / "data" / "derive_kanazawa.py"
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
CENSUS_HOMES = 199_572  # 2015 census households of 金沢市
OUTLINE_KM2 = 468.54  # the N03 outline without its bogus ring, in EPSG:6675


@pytest.fixture(scope="module")
def units() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "units.parquet")


@pytest.fixture(scope="module")
def beats() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "beats.parquet")


@pytest.fixture(scope="module")
def koban() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "koban.geojson")


@pytest.fixture(scope="module")
def officers() -> pd.DataFrame:
    return pd.read_csv(DATA / "officers.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def buildings() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "buildings.parquet")


@pytest.fixture(scope="module")
def households() -> gpd.GeoDataFrame:
    return gpd.read_parquet(DATA / "households.parquet")


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    return pd.read_parquet(DATA / "visits.parquet")


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((DATA / "meta.json").read_text(encoding="utf-8"))


def test_files_present_and_small() -> None:
    sizes = {f: (DATA / f).stat().st_size for f in FILES}
    assert sum(sizes.values()) < 25 * 2**20, sizes
    assert max(sizes.values()) < 5 * 2**20, sizes


def test_layers_are_stored_in_jgd2011_lonlat(units, beats, koban, buildings, households) -> None:
    for layer in (units, beats, koban, buildings, households):
        assert layer.crs.to_epsg() == 6668
        x0, y0, x1, y1 = layer.total_bounds
        # Kanazawa lies near 136.6 E, 36.5 N: longitude first
        assert 136.4 < x0 < x1 < 136.9 and 36.3 < y0 < y1 < 36.8


def test_ids_unique(units, beats, koban, officers, buildings, households, visits) -> None:
    for df, col in [
        (units, "unit_id"),
        (beats, "beat_id"),
        (koban, "koban_id"),
        (officers, "officer_id"),
        (buildings, "building_id"),
        (households, "household_id"),
        (visits, "visit_id"),
    ]:
        assert df[col].is_unique, col
        assert (df[col].astype(str).str.len() > 0).all(), col


def test_units_match_census_totals(units) -> None:
    assert len(units) == 914
    assert units["households"].sum() == CENSUS_HOMES
    assert units["population"].sum() == 465_699


def test_home_households_per_unit_equal_census(units, households, shared_dir) -> None:
    census = pd.read_csv(
        shared_dir / "data/kanazawa/ishikawa_h27_chome_households.csv", dtype={"KEY_CODE": str}
    )
    census = census[census["GST_NAME"] == "金沢市"]
    # Units are census rows; a KEY_CODE in two parts gives unit_id KEY_CODE and KEY_CODE-2
    key = units["unit_id"].str.split("-").str[0]
    by_key = units.groupby(key)["households"].sum().sort_index()
    expected = census.groupby("KEY_CODE")["SETAI"].sum().sort_index()
    pd.testing.assert_series_equal(by_key, expected, check_names=False)
    merged = units.merge(
        census, left_on=[key, "area_m2"], right_on=["KEY_CODE", "AREA"], how="left"
    )
    assert merged["SETAI"].notna().all()
    assert (merged["SETAI"] == merged["households"]).all()
    assert (merged["MOJI"] == merged["name"]).all()
    homes = households[households["kind"] == "home"].groupby("unit_id").size()
    homes = homes.reindex(units["unit_id"], fill_value=0)
    assert (homes.to_numpy() == units["households"].to_numpy()).all()
    assert homes.sum() == CENSUS_HOMES


def test_unit_polygons_form_a_coverage_of_the_city(units) -> None:
    geoms = units.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)
    metric = units.to_crs(METRIC)
    total = metric.area.sum() / 1e6
    assert abs(total - OUTLINE_KM2) / OUTLINE_KM2 < 0.01
    union = shapely.coverage_union_all(metric.geometry.to_numpy())
    assert abs(union.area / 1e6 - total) < 1e-3  # no overlaps
    assert all(len(p.interiors) == 0 for p in shapely.get_parts(union))  # no gaps


def test_units_cover_the_outline(units, shared_dir) -> None:
    outline = gpd.read_file(shared_dir / "data/kanazawa/kanazawa_city_outline_n03.geojson")
    shell = shapely.Polygon(outline.geometry.iloc[0].geoms[0].exterior)
    shell_km2 = gpd.GeoSeries([shell], crs=outline.crs).to_crs(METRIC).area.iloc[0] / 1e6
    assert abs(units.to_crs(METRIC).area.sum() / 1e6 - shell_km2) / shell_km2 < 0.01


def _inside(polys: gpd.GeoDataFrame, key: str, pts: gpd.GeoDataFrame) -> np.ndarray:
    index = pd.Index(polys[key])
    at = index.get_indexer(pts[key])
    assert (at >= 0).all(), f"unknown {key}"
    geoms = polys.geometry.to_numpy()
    shapely.prepare(geoms)
    return shapely.contains(geoms[at], pts.geometry.to_numpy())


def test_every_household_strictly_inside_its_unit_and_beat(units, beats, households) -> None:
    assert _inside(units, "unit_id", households).all()
    assert _inside(beats, "beat_id", households).all()
    unit_beat = units.set_index("unit_id")["beat_id"]
    assert (households["beat_id"].to_numpy() == unit_beat[households["unit_id"]].to_numpy()).all()


def test_buildings_inside_units_and_not_stacked(units, buildings) -> None:
    assert _inside(units, "unit_id", buildings).all()
    xy = np.c_[buildings.geometry.x, buildings.geometry.y]
    assert len(np.unique(xy, axis=0)) == len(buildings)


def test_households_sit_in_their_buildings(buildings, households) -> None:
    b = buildings.set_index("building_id")
    own = b.loc[households["building_id"]]
    assert (own["unit_id"].to_numpy() == households["unit_id"].to_numpy()).all()
    assert shapely.equals(own.geometry.to_numpy(), households.geometry.to_numpy()).all()
    held = households.groupby("building_id").size().reindex(b.index, fill_value=0)
    assert (held.to_numpy() == b["units"].to_numpy()).all()
    assert (households["floor"] >= 1).all()
    assert (households["floor"].to_numpy() <= own["floors"].to_numpy()).all()


def test_building_model(buildings, households, units) -> None:
    kinds = set(buildings["kind"])
    assert kinds == {"detached", "apartment", "highrise", "danchi", "office", "public"}
    det = buildings[buildings["kind"] == "detached"]
    assert (det["units"] == 1).all()
    apt = buildings[buildings["kind"] == "apartment"]
    assert apt["floors"].between(2, 5).all()
    high = buildings[buildings["kind"] == "highrise"]
    assert (high["floors"] >= 6).all()
    homes = households[households["kind"] == "home"].merge(
        buildings[["building_id", "kind"]].rename(columns={"kind": "bkind"}), on="building_id"
    )
    per_bldg = homes.groupby("building_id").size()
    assert per_bldg[apt["building_id"]].between(6, 40).all()
    assert (per_bldg[high["building_id"]] >= 50).all()
    danchi = buildings[buildings["kind"] == "danchi"]
    assert (danchi["complex_id"] != "").all()
    sizes = danchi.groupby("complex_id").size()
    assert sizes.between(4, 10).all() and 5 <= len(sizes) <= 15
    assert per_bldg[danchi["building_id"]].between(30, 80).all()
    assert (buildings.loc[buildings["kind"] != "danchi", "complex_id"] == "").all()
    # Denser areas hold a larger share of their homes in multi-unit buildings
    dens = units.set_index("unit_id")["density_per_km2"]
    homes["band"] = pd.cut(dens[homes["unit_id"]].to_numpy(), [0, 2000, 5000, 1e9], right=False)
    multi = (homes["bkind"] != "detached").groupby(homes["band"], observed=True).mean()
    assert multi.is_monotonic_increasing and multi.iloc[-1] > 0.6 and multi.iloc[0] < 0.15


def test_business_and_public_rates(households) -> None:
    counts = households["kind"].value_counts()
    assert counts["business"] == round(0.08 * CENSUS_HOMES)
    assert counts["public"] == round(0.005 * CENSUS_HOMES)
    assert households["address"].str.len().gt(0).all()


def test_beats_dissolve_from_their_units(units, beats, koban) -> None:
    geoms = beats.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)
    assert set(units["beat_id"]) == set(beats["beat_id"])
    m_units = units.to_crs(METRIC)
    m_beats = beats.to_crs(METRIC).set_index("beat_id")
    for beat_id, grp in m_units.groupby("beat_id"):
        union = shapely.coverage_union_all(grp.geometry.to_numpy())
        diff = union.symmetric_difference(m_beats.geometry[beat_id]).area
        assert diff < 1.0, beat_id  # m2
        assert grp["households"].sum() == m_beats.at[beat_id, "households"]
        assert (grp["koban_id"] == m_beats.at[beat_id, "koban_id"]).all()
    assert set(beats["koban_id"]) <= set(koban["koban_id"])
    assert all(
        b.startswith(f"{k}-") for b, k in zip(beats["beat_id"], beats["koban_id"], strict=True)
    )


def test_each_koban_area_is_contiguous(units) -> None:
    assert all(len(shapely.get_parts(g)) == 1 for g in units.geometry)
    for key in ("koban_id", "beat_id"):
        for kid, grp in units.groupby(key):
            union = shapely.coverage_union_all(grp.geometry.to_numpy())
            assert len(shapely.get_parts(union)) == 1, (key, kid)


def test_beats_keep_real_imbalance(beats) -> None:
    hh = beats["households"]
    assert hh.min() > 0
    assert hh.max() / hh.min() > 5  # not balanced: rebalancing is a feature


def test_koban_layer(koban) -> None:
    assert set(koban["kind"]) == {"koban", "chuzaisho"}
    assert not koban["name"].str.contains("警察署|本部").any()
    assert koban["name"].is_unique
    ends = np.where(koban["kind"] == "koban", "交番", "駐在所")
    assert all(n.endswith(e) for n, e in zip(koban["name"], ends, strict=True))
    assert set(koban["station"]) == {"金沢中", "金沢東", "金沢西"}
    m = koban.to_crs(METRIC).geometry
    d = np.hypot(m.x.to_numpy()[:, None] - m.x.to_numpy(), m.y.to_numpy()[:, None] - m.y.to_numpy())
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 150.0


def test_koban_are_the_2024_list_boxes_of_kanazawa(koban, meta, shared_dir) -> None:
    from junkai_geo.formats.police import koban_id

    raw = pd.read_csv(shared_dir / "data/police/koban_japan_2024-11-20.csv", encoding="utf-8")
    raw = raw[raw["市区町村"] == "金沢市"]
    assert len(raw) == len(koban) == 42
    assert sorted(koban["koban_id"]) == [f"K{i:02d}" for i in range(1, 43)]
    assert (koban["kind"] == "koban").sum() == 36 and (koban["kind"] == "chuzaisho").sum() == 6
    assert koban["station"].value_counts().to_dict() == {"金沢中": 19, "金沢東": 14, "金沢西": 9}
    listed = {
        koban_id("石川県", st, nm): (nm, st.removesuffix("警察署"), kind, lon, lat)
        for st, nm, kind, lon, lat in zip(
            raw["警察署名称"],
            raw["名称"],
            raw["交番・駐在所の別"],
            raw["Longitude"],
            raw["Latitude"],
            strict=True,
        )
    }
    kinds = {"交番": "koban", "駐在所": "chuzaisho"}
    for row in koban.itertuples():
        name, station, kind, lon, lat = listed[row.list_id]
        assert (row.name, row.station, row.kind) == (name, station, kinds[kind]), row.koban_id
        assert abs(row.geometry.x - lon) < 1e-6 and abs(row.geometry.y - lat) < 1e-6
    # The numbers are the 2014 boxes' (same name where the box kept it)
    numbered = {r["koban_id"]: r for r in meta["koban_source"]["numbered_as_2014"]}
    assert numbered["K11"]["name"] == numbered["K11"]["was"] == "暁町交番"
    assert numbered["K38"] == {
        "koban_id": "K38",
        "name": "安原交番",
        "was": "福増町駐在所",
        "moved_m": 16,
    }
    renamed = {k for k, r in numbered.items() if r["name"] != r["was"]}
    assert len(renamed) == 8


def test_koban_join_the_prefecture_bundle(koban) -> None:
    pref = gpd.read_file(ROOT / "data" / "ishikawa" / "koban.geojson")
    joined = koban.merge(pref, on="list_id", suffixes=("", "_pref"))
    assert len(joined) == 42
    assert (joined["name"] == joined["name_pref"]).all()
    here = joined.geometry.to_crs(METRIC)
    there = gpd.GeoSeries(joined["geometry_pref"], crs=pref.crs).to_crs(METRIC)
    assert (here.distance(there) < 0.05).all()  # m: both from the list, 7 decimals


def test_officers(officers, beats, koban) -> None:
    beat_off = officers[officers["role"] == "beat"]
    assert sorted(beat_off["beat_id"]) == sorted(beats["beat_id"])
    assert (beat_off["officer_id"] == beat_off["beat_id"] + "-O").all()
    kind = koban.set_index("koban_id")["kind"]
    is_chu = kind[beat_off["koban_id"]].to_numpy() == "chuzaisho"
    assert (beat_off.loc[is_chu, "shift_pattern"] == "chuzaisho").all()
    assert beat_off.loc[~is_chu, "shift_pattern"].isin(["3shift-A", "3shift-B", "3shift-C"]).all()
    assert set(officers["mode"]) <= {"walk", "bicycle"}
    spec = officers[officers["role"] == "specialist"]
    assert (spec["beat_id"] == "").all() and (spec["shift_pattern"] == "day").all()
    station = koban.set_index("koban_id")["station"]
    assert station[spec["koban_id"]].value_counts().to_dict() == {
        "金沢中": 2,
        "金沢東": 2,
        "金沢西": 2,
    }
    assert not ({"name", "resident_name"} & set(officers.columns))


def test_visits_within_history_and_after_registration(visits, households, officers) -> None:
    assert len(visits) <= 450_000
    assert visits["visited_on"].min() >= "2023-11-01"
    assert visits["visited_on"].max() <= "2026-11-01"
    reg = households.set_index("household_id")["registered_on"]
    assert (visits["visited_on"].to_numpy() >= reg[visits["household_id"]].to_numpy()).all()
    assert visits["time"].str.fullmatch(r"\d\d:\d\d").all()
    assert visits["time"].between("09:00", "17:00").all()
    assert set(visits["outcome"]) == {"met", "absent", "refused", "moved_out", "vacant"}
    beat_of = households.set_index("household_id")["beat_id"]
    assert (
        visits["officer_id"].to_numpy() == (beat_of[visits["household_id"]] + "-O").to_numpy()
    ).all()
    assert set(visits["officer_id"]) <= set(officers["officer_id"])
    weekend = pd.to_datetime(visits["visited_on"]).dt.day_of_week >= 5
    assert 0.05 < weekend.mean() < 0.3
    assert households["registered_on"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert households["registered_on"].max() < "2026-11-01"


def test_card_rates_follow_building_kind(visits, households, buildings) -> None:
    homes = households[households["kind"] == "home"].merge(
        buildings[["building_id", "kind"]].rename(columns={"kind": "bkind"}), on="building_id"
    )
    met = set(visits.loc[visits["outcome"] == "met", "household_id"])
    homes["unknown"] = ~homes["household_id"].isin(met)
    share = homes.groupby("bkind")["unknown"].mean()
    assert 0.10 < share["detached"] < 0.22
    assert 0.30 < share["apartment"] < 0.50
    assert share["highrise"] > 0.45 and share["danchi"] > 0.45
    recent = homes["registered_on"] >= "2025-11-01"
    assert homes.loc[recent, "unknown"].mean() > 0.65
    last = visits.sort_values(["visited_on", "time"]).groupby("household_id")["outcome"].last()
    last = last.reindex(homes["household_id"])
    assert 0.015 < (last == "moved_out").mean() < 0.025
    assert 0.005 < (last == "vacant").mean() < 0.015


def test_absence_history_is_informative(visits) -> None:
    # Households absent on weekdays are met more often at weekends
    v = visits[visits["outcome"].isin(["met", "absent"])].copy()
    v["weekend"] = pd.to_datetime(v["visited_on"]).dt.day_of_week >= 5
    absent_wd = set(v.loc[~v["weekend"] & (v["outcome"] == "absent"), "household_id"])
    later = v[v["household_id"].isin(absent_wd)]
    rate = later.groupby("weekend")["outcome"].apply(lambda s: (s == "met").mean())
    assert rate[True] > rate[False] + 0.1


def test_meta_counts(meta, units, beats, koban, officers, buildings, households, visits) -> None:
    assert meta["as_of"] == "2026-11-01"
    assert meta["crs_stored"] == "EPSG:6668" and meta["crs_metric"] == "EPSG:6675"
    c = meta["counts"]
    assert c["units"] == len(units) and c["beats"] == len(beats) and c["koban"] == len(koban)
    assert c["officers"] == len(officers) and c["buildings"] == len(buildings)
    assert c["households"] == len(households) and c["visits"] == len(visits)
    assert c["homes"] == CENSUS_HOMES


def test_no_personal_fields(units, beats, koban, officers, buildings, households, visits) -> None:
    banned = {
        "resident_name",
        "name_kana",
        "phone",
        "members",
        "family",
        "emergency_contact",
        "note",
    }
    for df in (units, beats, koban, officers, buildings, households, visits):
        assert not banned & set(df.columns)


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
        timeout=300,
    )
    for f in FILES:
        new, old = (tmp_path / f).read_bytes(), (DATA / f).read_bytes()
        if new == old:
            continue
        # Writers stamp their version into the files: where the libraries
        # differ from those that wrote the committed files, compare records.
        if f.endswith(".parquet"):
            a, b = pq.read_table(tmp_path / f), pq.read_table(DATA / f)
            assert a.equals(b), f
            assert _writer(tmp_path / f) != _writer(DATA / f), f"{f}: same writer, other bytes"
        elif f.endswith(".geojson"):
            a_js, b_js = json.loads(new), json.loads(old)
            assert a_js["features"] == b_js["features"], f
        else:
            raise AssertionError(f"{f} differs from the committed file")


def _writer(path: Path) -> tuple[str, str]:
    md = pq.read_metadata(path)
    geo = (md.metadata or {}).get(b"geo", b"{}")
    return md.created_by, json.loads(geo).get("creator", {}).get("version", "")


def _load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("derive_kanazawa", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["derive_kanazawa"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_coinciding_points_each_get_a_cell() -> None:
    mod = _load_script()
    x = np.array([0.0, 0.0, 0.0, 400.0, 200.0, 200.5])
    y = np.array([0.0, 0.0, 0.0, 0.0, 300.0, 300.0])
    xy = mod.separate_points(x, y, min_gap_m=5.0)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 5.0 - 1e-9
    assert np.allclose(xy[[0, 3, 4]], np.c_[x, y][[0, 3, 4]])  # first of each stays put
    outline = shapely.box(-500, -500, 900, 800)
    cells = mod.tessellate_units(xy[:, 0], xy[:, 1], outline)
    assert len(cells) == 6 and shapely.coverage_is_valid(cells)
    assert shapely.contains_xy(cells, xy[:, 0], xy[:, 1]).all()
    assert abs(sum(c.area for c in cells) - outline.area) < 1e-6
    with pytest.raises(ValueError, match="coincide"):
        mod.tessellate_units(x, y, outline)
