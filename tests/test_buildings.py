"""Buildings: PLATEAU and OSM readers, household matching, classification."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from junkai_geo.buildings import (
    BUILDING_COLUMNS,
    PLATEAU_USAGE,
    BuildingParams,
    classify_buildings,
    match_households_to_buildings,
    read_osm_buildings,
    read_plateau_buildings,
)
from junkai_geo.errors import InputError, ParameterError
from junkai_geo.settings import load_params

ROOT = Path(__file__).resolve().parents[1]
YOKOSUKA = "plateau_52397519_bldg_6697_op.gml"
SAPPORO = "plateau_64413325_bldg_6697_op.gml"


@pytest.fixture(scope="module")
def yokosuka(fixtures_dir):
    return read_plateau_buildings(fixtures_dir / YOKOSUKA)


@pytest.fixture(scope="module")
def helsinki():
    return read_osm_buildings(ROOT / "data" / "osm" / "Helsinki.osm.pbf")


@pytest.fixture()
def small(fixtures_dir):
    b = gpd.read_file(fixtures_dir / "specialists_buildings_missing_sizes.geojson").to_crs(6675)
    h = gpd.read_file(fixtures_dir / "specialists_households_unlinked.geojson").to_crs(6675)
    return b, h


# ---------------------------------------------------------------- PLATEAU


def test_plateau_sample_is_read_with_storeys_height_and_usage(yokosuka):
    b = yokosuka.buildings
    assert list(b.columns[:-1]) == BUILDING_COLUMNS
    assert len(b) == 13
    assert b["height_m"].notna().all()
    # 11 buildings give storeys (one through its two BuildingParts), 2 only a height.
    assert (b["floors_source"] == "storeys").sum() == 11
    assert (b["floors_source"] == "height").sum() == 2
    assert set(b["usage_code"].dropna()) == {"402", "403", "411", "422", "451"}
    assert b.loc[b["usage_code"] == "411", "usage"].iloc[0] == PLATEAU_USAGE["411"]
    assert (b.loc[b["usage_code"] == "411", "kind"] == "detached").all()
    assert yokosuka.warnings == []
    assert b.crs == "EPSG:6675"
    # Footprints in Yokosuka (lon 139.737-139.741, lat 35.258-35.262).
    x0, y0, x1, y1 = b.to_crs(4326).total_bounds
    assert 139.73 < x0 < x1 < 139.75 and 35.25 < y0 < y1 < 35.27
    assert (b["footprint_m2"] > 0).all()


def test_building_parts_make_one_building(yokosuka):
    museum = yokosuka.buildings[yokosuka.buildings["name"] == "横須賀美術館"]
    # The museum appears twice: a plain building and one made of two parts.
    merged = museum[museum["height_m"] == 11.3]
    assert len(merged) == 1
    row = merged.iloc[0]
    assert row["floors"] == 2  # the larger of the parts' storeys (2 and 1)
    assert row["footprint_m2"] > 1000  # union of both parts' footprints


def test_floors_from_height_when_storeys_missing(fixtures_dir):
    layer = read_plateau_buildings(fixtures_dir / SAPPORO)
    b = layer.buildings
    assert len(b) == 25
    by_height = b[b["floors_source"] == "height"]
    assert len(by_height) == 22
    expected = np.maximum(1, np.round(by_height["height_m"] / 3.0)).astype(int)
    assert (by_height["floors"] == expected).all()
    defaults = b[b["floors_source"] == "default"]
    assert len(defaults) == 3 and (defaults["floors"] == 1).all()
    assert sorted(w.row for w in layer.warnings) == sorted(defaults["building_id"])
    assert {w.code for w in layer.warnings} == {"floors_default"}
    # A 21.8 m building is 7 floors: a high-rise when it holds several homes.
    assert by_height["floors"].max() == 7


def test_storey_height_is_a_parameter(fixtures_dir):
    layer = read_plateau_buildings(
        fixtures_dir / SAPPORO, params=BuildingParams(storey_height_m=4.0)
    )
    b = layer.buildings[layer.buildings["floors_source"] == "height"]
    assert (b["floors"] == np.maximum(1, np.round(b["height_m"] / 4.0))).all()


def test_unknown_usage_code_is_kept_with_a_warning(fixtures_dir):
    layer = read_plateau_buildings(fixtures_dir / "plateau_unknown_usage.gml")
    b = layer.buildings.set_index("building_id")
    assert b.loc["bldg_unknown_usage", "usage"] == "unknown code 999"
    assert pd.isna(b.loc["bldg_unknown_usage", "kind"])
    assert b.loc["bldg_ok_1", "kind"] == "highrise"  # 412 with 7 storeys
    assert [(w.row, w.code, w.found) for w in layer.warnings] == [
        ("bldg_unknown_usage", "unknown_usage", "'999'")
    ]


def test_building_without_storeys_or_height_gets_the_default(fixtures_dir):
    layer = read_plateau_buildings(
        fixtures_dir / "plateau_no_storeys.gml", params=BuildingParams(default_floors=2)
    )
    b = layer.buildings.set_index("building_id")
    assert b.loc["bldg_no_storeys", "floors"] == 2
    assert b.loc["bldg_no_storeys", "floors_source"] == "default"
    assert [w.code for w in layer.warnings] == ["floors_default"]


@pytest.mark.parametrize(
    ("name", "codes", "row"),
    [
        ("plateau_bad_storeys.gml", ["bad_storeys", "bad_height"], "bldg_bad_storeys"),
        ("plateau_no_geometry.gml", ["no_geometry"], "bldg_no_geometry"),
        ("plateau_odd_poslist.gml", ["bad_coordinates"], "bldg_odd"),
        ("plateau_bad_crs.gml", ["bad_crs"], None),
        ("plateau_not_citygml.gml", ["not_citygml"], None),
        ("plateau_truncated.gml", ["bad_xml"], "line 29"),
        ("plateau_missing.gml", ["missing"], None),
    ],
)
def test_bad_citygml_names_the_problem(fixtures_dir, name, codes, row):
    with pytest.raises(InputError) as info:
        read_plateau_buildings(fixtures_dir / name)
    problems = info.value.problems
    assert [p.code for p in problems] == codes
    assert all(p.row == row for p in problems)
    assert all(name in p.file for p in problems)
    assert name in str(info.value)


# ---------------------------------------------------------------- OSM


def test_osm_buildings_with_levels(helsinki):
    b = helsinki.buildings
    ways = b[b["building_id"].str.startswith("w")]
    assert len(ways) == 433
    assert (ways["floors_source"] == "levels").sum() == 144
    assert b["building_id"].is_unique
    assert b.crs == "EPSG:32635"  # UTM 35N for Helsinki
    assert b.geometry.notna().all()
    assert (b.geometry.area[b.geom_type != "Point"] > 0).all()
    assert helsinki.warnings == []
    assert any("cut by the extract" in n for n in helsinki.notes)


def test_osm_levels_round_up_and_kinds(helsinki):
    b = helsinki.buildings
    lv = b[b["floors_source"] == "levels"]
    assert lv["floors"].between(1, 13).all()
    apartments = b[b["usage"] == "apartments"]
    assert set(apartments["kind"]) <= {"apartment", "highrise"}
    assert (apartments.loc[apartments["kind"] == "highrise", "floors"] >= 6).all()
    assert b.loc[b["usage"] == "yes", "kind"].isna().all()


@pytest.mark.parametrize("name", ["network_truncated.osm.pbf", "network_corrupt.osm.pbf"])
def test_broken_osm_file_is_an_input_error(fixtures_dir, name):
    with pytest.raises(InputError, match=name) as info:
        read_osm_buildings(fixtures_dir / name)
    assert info.value.problems[0].code == "bad_osm"


def test_missing_osm_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_osm_buildings(tmp_path / "nothing.osm.pbf")


# ---------------------------------------------------------------- matching


def test_households_are_matched_by_location(small):
    b, h = small
    m = match_households_to_buildings(h, b)
    got = dict(zip(m.households["household_id"], m.households["building_id"], strict=True))
    assert got["h01"] == got["h02"] == got["h03"] == "A_height_only"
    assert got["h11"] == got["h12"] == "F_unknown_kind"
    assert m.unmatched == ["h13"]
    assert m.matched == 12 and m.already_linked == 0
    d = m.households.set_index("household_id")["match_distance_m"]
    assert d["h01"] == 0.0 and 4.0 < d["h03"] < 6.0 and math.isnan(d["h13"])


def test_match_distance_is_a_parameter(small):
    b, h = small
    m = match_households_to_buildings(h, b, params=BuildingParams(match_max_distance_m=2.0))
    assert "h03" in m.unmatched  # 5 m from its building
    m = match_households_to_buildings(h, b, params=BuildingParams(match_max_distance_m=1000.0))
    assert m.unmatched == []


def test_existing_links_are_kept_unless_relinked(small):
    b, h = small
    h = h.assign(building_id=["E_house"] + [None] * (len(h) - 1))
    m = match_households_to_buildings(h, b)
    assert m.households["building_id"].iloc[0] == "E_house"
    assert m.already_linked == 1
    m = match_households_to_buildings(h, b, relink=True)
    assert m.households["building_id"].iloc[0] == "A_height_only"


def test_matching_needs_a_metric_crs(small):
    b, h = small
    with pytest.raises(InputError, match="metric"):
        match_households_to_buildings(h.to_crs(4326), b)


@pytest.mark.parametrize("seed", range(5))
def test_each_household_goes_to_its_nearest_building(seed):
    rng = np.random.default_rng(seed)
    bxy = rng.uniform(0, 500, (40, 2))
    hxy = rng.uniform(-50, 550, (200, 2))
    b = gpd.GeoDataFrame(
        {"building_id": [f"B{i:02d}" for i in range(40)]},
        geometry=shapely.points(bxy),
        crs=6675,
    )
    h = gpd.GeoDataFrame(
        {"household_id": [f"H{i:03d}" for i in range(200)]}, geometry=shapely.points(hxy), crs=6675
    )
    limit = 40.0
    m = match_households_to_buildings(h, b, params=BuildingParams(match_max_distance_m=limit))
    d = np.hypot(hxy[:, None, 0] - bxy[None, :, 0], hxy[:, None, 1] - bxy[None, :, 1])
    nearest = d.min(axis=1)
    got = m.households["match_distance_m"].to_numpy()
    within = nearest <= limit
    assert np.allclose(got[within], nearest[within])
    assert np.isnan(got[~within]).all()
    ids = m.households["building_id"].to_numpy()
    for i in np.flatnonzero(within):
        assert d[i, int(ids[i][1:])] == pytest.approx(nearest[i])


# ---------------------------------------------------------------- classification


def test_classification_fills_sizes_and_reports_defaults(small):
    b, h = small
    m = match_households_to_buildings(h, b)
    c = classify_buildings(b, m.households)
    t = c.buildings.set_index("building_id")
    assert t.loc["A_height_only", "floors"] == 7  # 20 m / 3 m
    assert t.loc["A_height_only", "floors_source"] == "height"
    assert t.loc["A_height_only", "units"] == 3  # its households
    assert t.loc["A_height_only", "units_source"] == "households"
    assert t.loc["B_no_sizes", "floors_source"] == "default"
    assert t.loc["F_unknown_kind", "multi_unit"]  # unknown kind, two homes
    assert not t.loc["E_house", "multi_unit"]
    assert t.loc["C_empty_highrise", "households"] == 0
    assert not t.loc["C_empty_highrise", "difficult"]  # nobody to visit
    assert t.loc["C_empty_highrise", "reasons"] == "highrise;large"
    difficult = set(t.index[t["difficult"]])
    assert difficult == {"A_height_only", "D1", "D2", "D3"}
    assert t.loc["D1", "reasons"] == "complex"
    codes = sorted((w.row, w.code) for w in c.warnings)
    assert codes == [
        ("B_no_sizes", "floors_default"),
        ("C_empty_highrise", "no_households"),
        ("F_unknown_kind", "floors_default"),
    ]
    counts = c.counts()
    assert counts["no_households"] == 1 and counts["difficult"] == 4


def test_units_default_without_households(small):
    b, _ = small
    c = classify_buildings(b, None, params=BuildingParams(default_units=4))
    t = c.buildings.set_index("building_id")
    assert t.loc["B_no_sizes", "units"] == 4
    assert t.loc["B_no_sizes", "units_source"] == "default"
    assert {w.code for w in c.warnings} == {"floors_default", "units_default"}
    # Without households every flagged building counts (nothing says it is empty).
    assert t.loc["C_empty_highrise", "difficult"]


def test_thresholds_are_parameters(small):
    b, h = small
    m = match_households_to_buildings(h, b)
    strict = classify_buildings(
        b, m.households, params=BuildingParams(highrise_min_floors=8, complex_min_buildings=4)
    )
    assert not strict.buildings["difficult"].any()
    loose = classify_buildings(b, m.households, params=BuildingParams(large_min_units=3))
    t = loose.buildings.set_index("building_id")
    assert t.loc["B_no_sizes", "large"] and t.loc["B_no_sizes", "difficult"]


@pytest.mark.parametrize("seed", range(5))
def test_difficult_follows_the_rules(seed):
    rng = np.random.default_rng(seed)
    n = 300
    kinds = rng.choice(["detached", "apartment", "highrise", "danchi", "office"], n)
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i}" for i in range(n)],
            "kind": kinds,
            "floors": rng.integers(1, 15, n).astype(float),
            "units": rng.integers(1, 120, n).astype(float),
            "complex_id": rng.choice([None, "C1", "C2", "C3"], n, p=[0.97, 0.01, 0.01, 0.01]),
        },
        geometry=shapely.points(rng.uniform(0, 1000, (n, 2))),
        crs=6675,
    )
    p = BuildingParams()
    t = classify_buildings(b, None, params=p).buildings
    multi = np.isin(kinds, ["apartment", "highrise", "danchi"])
    sizes = b["complex_id"].value_counts()
    in_complex = b["complex_id"].map(sizes).fillna(0).to_numpy() >= p.complex_min_buildings
    expected = (
        multi & ((b["floors"] >= p.highrise_min_floors) | (b["units"] >= p.large_min_units))
    ).to_numpy() | in_complex
    assert (t["difficult"].to_numpy() == expected).all()


def test_bad_building_params():
    with pytest.raises(ParameterError, match="highrise_min_floors"):
        BuildingParams(highrise_min_floors=0)
    with pytest.raises(ParameterError, match="integer"):
        BuildingParams(large_min_units=50.5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="unknown"):
        load_params(BuildingParams, {"buildings": {"highrise_floors": 6}}, table="buildings")
    assert (
        load_params(
            BuildingParams, {"buildings": {"highrise_min_floors": 8}}, table="buildings"
        ).highrise_min_floors
        == 8
    )


def test_classification_needs_building_ids(small):
    b, h = small
    with pytest.raises(InputError, match="building_id"):
        classify_buildings(b.drop(columns="building_id"))
    with pytest.raises(InputError, match="building_id"):
        classify_buildings(b, h)  # households not matched yet
