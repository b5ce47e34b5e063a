"""Validated import: one named fixture per bad-input kind, each mapped to its exact problem.

Fixtures are written by ``tests/fixtures/make_ingest_fixtures.py``.
"""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo.errors import InputError, ParameterError, Problem
from junkai_geo.ingest import (
    IngestParams,
    check_dataset,
    inspect_layer,
    read_dataset,
    read_layer,
    validate_layer,
)
from junkai_geo.model import LAYER_COLUMNS, Dataset
from junkai_geo.settings import load_params
from junkai_geo.validation import PROBLEM_CODES

TODAY = date(2026, 11, 1)
F = Path(__file__).resolve().parent / "fixtures"

OK = {
    "koban": F / "koban_ok.geojson",
    "beats": F / "beats_ok.geojson",
    "units": F / "units_ok.geojson",
    "buildings": F / "buildings_ok.geojson",
    "households": F / "households_ok.csv",
    "officers": F / "officers_ok.csv",
    "visits": F / "visits_ok.csv",
}
JAPAN = (
    "a place in Japan (lon 122 to 154, lat 20 to 46), as the CRS EPSG:6668 (JGD2011) is Japanese"
)


def problems(name: str, layer: str, **kw: object) -> list[Problem]:
    """The problems ``read_layer`` raises for fixture ``name`` (it must raise)."""
    with pytest.raises(InputError) as info:
        read_layer(F / name, layer, today=TODAY, **kw)  # type: ignore[arg-type]
    found = info.value.problems
    # validate_layer reports the same problems without raising.
    assert validate_layer(F / name, layer, today=TODAY, **kw) == found  # type: ignore[arg-type]
    assert all(p.code in PROBLEM_CODES for p in found)
    assert str(info.value).count("\n") == len(found)
    return found


def dataset_problems(**replace: str) -> list[Problem]:
    paths = {**OK, **{layer: F / name for layer, name in replace.items()}}
    with pytest.raises(InputError) as info:
        read_dataset(paths, today=TODAY)
    return info.value.problems


# --- clean files in every format --------------------------------------------


@pytest.mark.parametrize("name", ["beats_ok.geojson", "beats_ok.gpkg", "beats_ok.shp"])
def test_beats_read_from_geojson_geopackage_shapefile(name: str) -> None:
    beats = read_layer(F / name, "beats", today=TODAY)
    assert isinstance(beats, gpd.GeoDataFrame)
    assert beats.crs.to_epsg() == 6675
    assert list(beats.columns[:3]) == LAYER_COLUMNS["beats"]
    assert beats["beat_id"].tolist() == ["B1", "B2"]
    assert beats["name"].tolist() == ["香林坊", "東山"]
    # Two 0.06 x 0.06 degree squares at 36.56 N: about 5.4 km x 6.7 km each.
    assert np.allclose(beats.area, beats.area.iloc[0], rtol=1e-3)
    assert 3.4e7 < beats.area.iloc[0] < 3.8e7


def test_geoparquet_round_trip(tmp_path: Path) -> None:
    src = read_layer(F / "households_ok.csv", "households", today=TODAY)
    src.to_crs("EPSG:6668").to_parquet(tmp_path / "households.parquet")
    back = read_layer(tmp_path / "households.parquet", "households", today=TODAY)
    assert back.crs.to_epsg() == 6675
    assert back["household_id"].tolist() == src["household_id"].tolist()
    assert np.allclose(back.geometry.x, src.geometry.x, atol=1e-3)


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("households_ok.csv", "utf-8"),
        ("households_utf8bom.csv", "utf-8-sig"),
        ("households_cp932.csv", "cp932"),
    ],
)
def test_csv_encodings_detected_with_japanese_text(name: str, encoding: str) -> None:
    report = inspect_layer(F / name, "households", today=TODAY)
    assert report.encoding == encoding and report.ok
    h = read_layer(F / name, "households", today=TODAY)
    assert list(h.columns[: len(LAYER_COLUMNS["households"])]) == LAYER_COLUMNS["households"]
    assert h["household_id"].tolist() == ["H1", "H2", "H3", "H4"]  # BOM not in the header
    assert h["address"].iloc[0] == "香林坊１丁目 1-1"
    assert h["floor"].dtype == np.int64 and h["floor"].tolist() == [1, 3, 1, 1]
    assert pd.api.types.is_datetime64_any_dtype(h["registered_on"])
    assert pd.isna(h["registered_on"].iloc[2]) and pd.isna(h["building_id"].iloc[2])


def test_cp932_read_as_utf8_is_an_encoding_problem() -> None:
    [p] = validate_layer(F / "households_cp932.csv", "households", encoding="utf-8")
    assert (p.file, p.row, p.field, p.code) == ("households_cp932.csv", 1, None, "encoding")
    assert p.found.startswith("bytes b'") and p.found.endswith("that are not utf-8")


def test_xy_columns_with_crs_land_where_lonlat_does() -> None:
    xy = read_layer(F / "households_xy.csv", "households", crs="EPSG:6675", today=TODAY)
    ll = read_layer(F / "households_ok.csv", "households", today=TODAY)
    assert np.allclose(xy.geometry.x, ll.geometry.x[:2], atol=0.2)
    assert np.allclose(xy.geometry.y, ll.geometry.y[:2], atol=0.2)


def test_geopackage_with_several_layers(tmp_path: Path) -> None:
    beats = gpd.read_file(F / "beats_ok.gpkg")
    koban = gpd.read_file(F / "koban_ok.geojson")
    path = tmp_path / "kanazawa.gpkg"
    beats.to_file(path, layer="beats")
    koban.to_file(path, layer="koban")
    assert read_layer(path, "koban", today=TODAY)["koban_id"].tolist() == ["K1", "K2"]
    assert read_layer(path, "beats", today=TODAY)["beat_id"].tolist() == ["B1", "B2"]
    assert validate_layer(path, "households") == [
        Problem(
            "kanazawa.gpkg",
            None,
            None,
            "2 layers (beats, koban)",
            "a single layer or one named 'households'",
            "ambiguous_layer",
        )
    ]


def test_non_spatial_layers_are_plain_dataframes() -> None:
    officers = read_layer(OK["officers"], "officers", today=TODAY)
    visits = read_layer(OK["visits"], "visits", today=TODAY)
    assert not isinstance(officers, gpd.GeoDataFrame) and not isinstance(visits, gpd.GeoDataFrame)
    assert list(officers.columns) == LAYER_COLUMNS["officers"]
    assert pd.isna(officers["beat_id"].iloc[1])
    assert visits["time"].tolist() == ["10:30", "11:00", "14:00", "09:05"]
    assert visits["visited_on"].iloc[0] == pd.Timestamp("2024-05-01")


def test_extra_and_personal_columns_are_kept_only_if_present(tmp_path: Path) -> None:
    text = (F / "households_ok.csv").read_text(encoding="utf-8").splitlines()
    rows = [text[0] + ",resident_name,colour"] + [r + ",山田,red" for r in text[1:]]
    (tmp_path / "h.csv").write_text("\n".join(rows), encoding="utf-8")
    h = read_layer(tmp_path / "h.csv", "households", today=TODAY)
    assert h["resident_name"].iloc[0] == "山田" and h["colour"].iloc[0] == "red"
    plain = read_layer(OK["households"], "households", today=TODAY)
    assert "resident_name" not in plain.columns


def test_japanese_enum_labels_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text(
        "visit_id,household_id,officer_id,visited_on,time,outcome\nV1,H1,O1,2024/05/01,10:00,面接\n",
        encoding="utf-8",
    )
    v = read_layer(tmp_path / "v.csv", "visits", today=TODAY)
    assert v["outcome"].tolist() == ["met"]


# --- CRS -------------------------------------------------------------------


def test_shapefile_without_prj_is_missing_crs() -> None:
    assert problems("beats_no_crs.shp", "beats") == [
        Problem(
            "beats_no_crs.shp",
            None,
            "crs",
            "no .prj file",
            "a declared CRS (or pass --crs, e.g. EPSG:6675)",
            "missing_crs",
        )
    ]
    # The CRS given by the user fixes it.
    beats = read_layer(F / "beats_no_crs.shp", "beats", crs="EPSG:6675")
    assert beats.crs.to_epsg() == 6675 and len(beats) == 2


def test_geojson_with_metres_and_no_crs_is_missing_crs() -> None:
    [p] = problems("beats_no_crs.geojson", "beats")
    assert (p.file, p.row, p.field, p.code) == ("beats_no_crs.geojson", None, "crs", "missing_crs")
    assert p.found.startswith("2 feature(s) with coordinates that are not degrees, e.g. x -4")
    assert p.found.endswith("and no CRS")
    assert p.expected == "the CRS the coordinates are in (declare it or pass --crs)"


def test_unknown_crs_in_geojson() -> None:
    assert problems("beats_unknown_crs.geojson", "beats") == [
        Problem(
            "beats_unknown_crs.geojson",
            None,
            "crs",
            "crs 'urn:ogc:def:crs:EPSG::999999', unknown to PROJ",
            "a known CRS, e.g. urn:ogc:def:crs:EPSG::6668, or none (WGS84)",
            "unknown_crs",
        )
    ]


def test_unknown_crs_in_shapefile_prj() -> None:
    assert problems("beats_bad_prj.shp", "beats") == [
        Problem(
            "beats_bad_prj.shp",
            None,
            "crs",
            "a CRS that PROJ cannot read ('PROJCS[\"Kanazawa local\",UNKNOWN]')",
            "a known CRS (a valid .prj, or leave the .prj out and pass --crs)",
            "unknown_crs",
        )
    ]


def test_truncated_file_is_unreadable() -> None:
    [p] = problems("beats_truncated.geojson", "beats")
    assert (p.file, p.row, p.field, p.code) == ("beats_truncated.geojson", None, None, "unreadable")
    assert p.found.startswith("a file that cannot be read (DataSourceError: ")
    assert p.expected == "a readable GeoJSON, GeoPackage, Shapefile, GeoParquet or CSV file"


def test_unknown_crs_given_by_user() -> None:
    assert problems("households_xy.csv", "households", crs="EPSG:99999") == [
        Problem(
            "households_xy.csv",
            None,
            "crs",
            "crs 'EPSG:99999', unknown to PROJ",
            "a known CRS such as EPSG:6668 or EPSG:6675",
            "unknown_crs",
        )
    ]


def test_xy_columns_without_crs() -> None:
    assert problems("households_xy_no_crs.csv", "households") == [
        Problem(
            "households_xy_no_crs.csv",
            None,
            "crs",
            "x/y columns 'x', 'y' without a CRS",
            "the CRS of x/y given with --crs (crs=...), e.g. EPSG:6675",
            "missing_crs",
        )
    ]


def test_coordinates_outside_japan() -> None:
    assert problems("households_outside_japan.csv", "households") == [
        Problem(
            "households_outside_japan.csv",
            2,
            "geometry",
            "lon 2.352200, lat 48.856600 (outside Japan)",
            JAPAN,
            "outside_japan",
        )
    ]


def test_lonlat_swapped() -> None:
    assert problems("households_swapped_latlon.csv", "households") == [
        Problem(
            "households_swapped_latlon.csv",
            2,
            "geometry",
            "lon 36.550000, lat 136.630000 (outside Japan)",
            "coordinates in Japan; lon/lat look swapped",
            "swapped_lonlat",
        )
    ]


def test_projected_japanese_xy_outside_japan(tmp_path: Path) -> None:
    (tmp_path / "k.csv").write_text(
        "koban_id,name,kind,x,y\nK1,a,koban,-46248.6,62258.0\nK2,b,koban,9000000,9000000\n",
        encoding="utf-8",
    )
    [p] = validate_layer(tmp_path / "k.csv", "koban", crs="EPSG:6675")
    assert (p.row, p.field, p.code) == (2, "geometry", "outside_japan")
    assert p.found.startswith("x 9000000.0, y 9000000.0 = lon ")


def test_projected_crs_for_lonlat_columns() -> None:
    assert problems("households_ok.csv", "households", crs="EPSG:6675") == [
        Problem(
            "households_ok.csv",
            None,
            "crs",
            "EPSG:6675 (JGD2011 / Japan Plane Rectangular CS VII), a projected CRS, for the "
            "longitude/latitude columns 'lon', 'lat'",
            "a geographic CRS such as EPSG:6668, or x/y columns",
            "wrong_crs",
        )
    ]


def test_metres_under_a_declared_geographic_crs(tmp_path: Path) -> None:
    text = (F / "beats_no_crs.geojson").read_text(encoding="utf-8")
    declared = text.replace(
        '"type": "FeatureCollection",',
        '"type": "FeatureCollection", '
        '"crs": {"type": "name", "properties": '
        '{"name": "urn:ogc:def:crs:EPSG::6668"}},',
        1,
    )
    (tmp_path / "beats.geojson").write_text(declared, encoding="utf-8")
    [p] = validate_layer(tmp_path / "beats.geojson", "beats")
    assert (p.row, p.field, p.code) == (None, "crs", "not_degrees")
    assert p.found.endswith("and the geographic CRS EPSG:6668 (JGD2011)")


def test_wkt_column_with_crs(tmp_path: Path) -> None:
    (tmp_path / "beats.csv").write_text(
        "beat_id,koban_id,wkt\n"
        'B1,K1,"POLYGON ((136.60 36.53, 136.66 36.53, 136.66 36.59, 136.60 36.59, 136.60 36.53))"\n'
        "B2,K2,POLYGON ((broken\n",
        encoding="utf-8",
    )
    [p] = validate_layer(tmp_path / "beats.csv", "beats", crs="EPSG:6668")
    assert (p.row, p.field, p.code) == (2, "wkt", "bad_wkt")
    assert p.found == "'POLYGON ((broken'"


# --- geometries --------------------------------------------------------------


def test_empty_geometry() -> None:
    assert problems("beats_empty_geometry.geojson", "beats") == [
        Problem(
            "beats_empty_geometry.geojson",
            "B2",
            "geometry",
            "an empty Polygon",
            "a Polygon or MultiPolygon",
            "empty_geometry",
        )
    ]


def test_null_geometry() -> None:
    assert problems("beats_null_geometry.geojson", "beats") == [
        Problem(
            "beats_null_geometry.geojson",
            "B2",
            "geometry",
            "no geometry",
            "a Polygon or MultiPolygon",
            "null_geometry",
        )
    ]


def test_nan_coordinates() -> None:
    assert problems("households_nan_coordinates.csv", "households") == [
        Problem(
            "households_nan_coordinates.csv",
            2,
            "geometry",
            "NaN coordinates",
            "a Point with finite coordinates",
            "nan_coordinates",
        )
    ]


def test_bad_and_empty_coordinates() -> None:
    assert problems("households_bad_coordinates.csv", "households") == [
        Problem(
            "households_bad_coordinates.csv",
            2,
            "lon",
            "'136.63E'",
            "a number (decimal degrees or metres)",
            "bad_number",
        ),
        Problem(
            "households_bad_coordinates.csv",
            3,
            "geometry",
            "no geometry",
            "a Point",
            "null_geometry",
        ),
    ]


def test_self_intersection_is_reported_then_repaired_on_request() -> None:
    assert problems("beats_self_intersection.geojson", "beats") == [
        Problem(
            "beats_self_intersection.geojson",
            "B2",
            "geometry",
            "an invalid Polygon (Self-intersection[136.69 36.56])",
            "a valid Polygon or MultiPolygon (or pass repair=True / --repair)",
            "invalid_geometry",
        )
    ]
    beats = read_layer(F / "beats_self_intersection.geojson", "beats", repair=True)
    assert beats.geometry.is_valid.all()
    assert beats.geometry.iloc[1].geom_type == "MultiPolygon"
    [note] = beats.attrs["notes"]
    assert note == (
        "beats_self_intersection.geojson, row/feature B2: repaired invalid geometry "
        "(Self-intersection[136.69 36.56]) with shapely.make_valid; now a MultiPolygon of 2 part(s)"
    )


def test_points_in_beats_are_the_wrong_type() -> None:
    assert problems("beats_points.geojson", "beats") == [
        Problem(
            "beats_points.geojson",
            "B2",
            "geometry",
            "a Point",
            "a Polygon or MultiPolygon",
            "wrong_geometry_type",
        )
    ]


def test_csv_without_coordinates(tmp_path: Path) -> None:
    # Without coordinates but with an address, a household list is located by its
    # address (junkai_geo.formats.addresses; tests/test_addresses.py): 香林坊 alone
    # names no one 町字 (there are 香林坊一丁目 and 二丁目), so it is not found.
    assert [p.code for p in problems("households_no_coordinates.csv", "households")] == [
        "address_not_found"
    ]
    path = tmp_path / "households_no_coordinates.csv"
    path.write_text("household_id,kind,beat_id\nH1,home,B1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_layer(path, "households", today=TODAY)
    assert info.value.problems == [
        Problem(
            "households_no_coordinates.csv",
            None,
            "geometry",
            "no coordinate columns (columns: household_id, kind, beat_id)",
            "columns lon/lng/longitude and lat/latitude, or x and y, or wkt",
            "no_geometry",
        )
    ]


def test_building_footprints_become_points(tmp_path: Path) -> None:
    poly = shapely.box(136.650, 36.560, 136.651, 36.561)
    gpd.GeoDataFrame(
        {"building_id": ["BL1"], "kind": ["office"]}, geometry=[poly], crs="EPSG:6668"
    ).to_file(tmp_path / "b.gpkg")
    b = read_layer(tmp_path / "b.gpkg", "buildings")
    assert b.geometry.iloc[0].geom_type == "Point"
    assert b["floors"].tolist() == [1] and b["units"].tolist() == [1]


# --- attributes --------------------------------------------------------------


def test_missing_required_column() -> None:
    assert problems("households_missing_column.csv", "households") == [
        Problem(
            "households_missing_column.csv",
            None,
            "kind",
            "no column 'kind' (columns: household_id, beat_id)",
            "a column 'kind' (one of home, business, public)",
            "missing_column",
        )
    ]


def test_duplicate_ids() -> None:
    found = "'K2', used by rows/features 2, 3"
    assert problems("koban_duplicate_id.geojson", "koban") == [
        Problem(
            "koban_duplicate_id.geojson",
            2,
            "koban_id",
            found,
            "an id used by one row only",
            "duplicate_id",
        ),
        Problem(
            "koban_duplicate_id.geojson",
            3,
            "koban_id",
            found,
            "an id used by one row only",
            "duplicate_id",
        ),
    ]


def test_unknown_kind() -> None:
    assert problems("koban_unknown_kind.geojson", "koban") == [
        Problem(
            "koban_unknown_kind.geojson",
            "K2",
            "kind",
            "'police_box'",
            "one of koban, chuzaisho",
            "unknown_enum",
        )
    ]


def test_unknown_role_and_mode() -> None:
    assert problems("officers_unknown_role.csv", "officers") == [
        Problem(
            "officers_unknown_role.csv",
            2,
            "role",
            "'chief'",
            "one of beat, specialist",
            "unknown_enum",
        ),
        Problem(
            "officers_unknown_role.csv",
            2,
            "mode",
            "'horse'",
            "one of walk, bicycle, car",
            "unknown_enum",
        ),
    ]


def test_unknown_outcome() -> None:
    assert problems("visits_unknown_outcome.csv", "visits") == [
        Problem(
            "visits_unknown_outcome.csv",
            2,
            "outcome",
            "'out'",
            "one of met, absent, refused, moved_out, vacant",
            "unknown_enum",
        )
    ]


def test_bad_date_and_time() -> None:
    assert problems("visits_bad_date.csv", "visits") == [
        Problem(
            "visits_bad_date.csv", 2, "visited_on", "'2024-02-30'", "a date YYYY-MM-DD", "bad_date"
        ),
        Problem("visits_bad_date.csv", 3, "time", "'25:10'", "a time HH:MM", "bad_time"),
    ]


def test_future_visit_date() -> None:
    assert problems("visits_future_date.csv", "visits") == [
        Problem(
            "visits_future_date.csv",
            2,
            "visited_on",
            "2031-04-01",
            "a date on or before 2026-11-01",
            "future_date",
        )
    ]
    # The same file is fine on a later reference day.
    assert validate_layer(F / "visits_future_date.csv", "visits", today=date(2031, 4, 1)) == []


def test_negative_and_non_integer_floors_units() -> None:
    assert problems("buildings_bad_floors.csv", "buildings") == [
        Problem(
            "buildings_bad_floors.csv", 3, "floors", "'many'", "a whole number >= 1", "bad_number"
        ),
        Problem(
            "buildings_bad_floors.csv", 2, "floors", "'-3'", "a whole number >= 1", "out_of_range"
        ),
        Problem(
            "buildings_bad_floors.csv", 2, "units", "'2.5'", "a whole number >= 1", "bad_integer"
        ),
    ]


def test_missing_file_and_unknown_layer(tmp_path: Path) -> None:
    [p] = validate_layer(tmp_path / "nope.csv", "visits")
    assert (p.file, p.code) == ("nope.csv", "unreadable")
    with pytest.raises(ParameterError, match="layer: found 'streets'"):
        validate_layer(OK["visits"], "streets")


def test_every_problem_of_a_file_is_collected(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text(
        "visit_id,household_id,officer_id,visited_on,time,outcome\n"
        "V1,H1,O1,2024-13-01,10:00,met\n"
        "V1,,O1,2024-01-01,noon,gone\n",
        encoding="utf-8",
    )
    codes = sorted((p.row, p.field, p.code) for p in validate_layer(tmp_path / "v.csv", "visits"))
    assert codes == [
        (1, "visit_id", "duplicate_id"),
        (1, "visited_on", "bad_date"),
        (2, "household_id", "missing_value"),
        (2, "outcome", "unknown_enum"),
        (2, "time", "bad_time"),
        (2, "visit_id", "duplicate_id"),
    ]


# --- datasets and cross-layer checks -----------------------------------------


def test_clean_dataset_in_one_metric_crs() -> None:
    ds = read_dataset(OK, today=TODAY)
    assert ds.crs == "EPSG:6675"
    for layer in ("koban", "beats", "units", "buildings", "households"):
        frame = getattr(ds, layer)
        assert frame.crs.to_epsg() == 6675, layer
        assert list(frame.columns[: len(LAYER_COLUMNS[layer])]) == LAYER_COLUMNS[layer]
    assert ds.units["area_m2"].gt(3e7).all()  # filled from the geometry
    assert check_dataset(ds, today=TODAY) == []


def test_household_outside_every_beat() -> None:
    [p] = dataset_problems(households="households_outside_beats.csv")
    assert (p.file, p.row, p.field, p.code) == (
        "households_outside_beats.csv",
        "H5",
        "geometry",
        "outside_beats",
    )
    assert p.found.endswith("(EPSG:6675) outside every beat")
    assert p.expected == "a point inside a beat of beats_ok.geojson"


def test_overlapping_beats() -> None:
    [p] = dataset_problems(beats="beats_overlap.geojson")
    assert (p.file, p.row, p.field, p.code) == (
        "beats_overlap.geojson",
        "B1",
        "geometry",
        "beats_overlap",
    )
    # 0.01 degrees of longitude by 0.06 of latitude at 36.56 N: about 5.96 km2.
    area = float(p.found.split()[3])
    assert 5.8e6 < area < 6.1e6 and p.found.endswith("m2 with beat 'B2'")
    assert p.expected == "beats that do not overlap (tolerance 1 m2)"


def test_overlap_tolerance_is_a_parameter() -> None:
    paths = {**OK, "beats": F / "beats_overlap.geojson"}
    params = load_params(IngestParams, {"ingest": {"overlap_tolerance_m2": 1e7}}, table="ingest")
    assert len(read_dataset(paths, today=TODAY, params=params).beats) == 2
    with pytest.raises(ParameterError, match="overlap_tolerance_m2: found -1"):
        IngestParams(overlap_tolerance_m2=-1)


def test_unknown_references() -> None:
    assert dataset_problems(beats="beats_unknown_koban.geojson") == [
        Problem(
            "beats_unknown_koban.geojson",
            "B2",
            "koban_id",
            "'K7'",
            "a koban_id present in koban_ok.geojson",
            "unknown_reference",
        )
    ]
    assert dataset_problems(households="households_unknown_beat.csv") == [
        Problem(
            "households_unknown_beat.csv",
            "H5",
            "beat_id",
            "'B9'",
            "a beat_id present in beats_ok.geojson",
            "unknown_reference",
        ),
        Problem(
            "households_unknown_beat.csv",
            "H5",
            "building_id",
            "'BL7'",
            "a building_id present in buildings_ok.geojson",
            "unknown_reference",
        ),
    ]
    assert dataset_problems(visits="visits_unknown_household.csv") == [
        Problem(
            "visits_unknown_household.csv",
            "V2",
            "household_id",
            "'H99'",
            "a household_id present in households_ok.csv",
            "unknown_reference",
        ),
        Problem(
            "visits_unknown_household.csv",
            "V3",
            "officer_id",
            "'O9'",
            "an officer_id present in officers_ok.csv",
            "unknown_reference",
        ),
    ]


def test_visit_dates_against_today_and_registration() -> None:
    assert dataset_problems(visits="visits_before_registered.csv") == [
        Problem(
            "visits_before_registered.csv",
            "V2",
            "visited_on",
            "2019-01-10",
            "a date on or after 2020-06-15, when household 'H2' was registered",
            "before_registered",
        )
    ]
    assert dataset_problems(visits="visits_future_date.csv") == [
        Problem(
            "visits_future_date.csv",
            "V2",
            "visited_on",
            "2031-04-01",
            "a date on or before 2026-11-01",
            "future_date",
        )
    ]


def test_layer_without_crs_in_a_dataset_is_reported_not_raised() -> None:
    found = dataset_problems(households="households_xy_no_crs.csv")
    assert [(p.file, p.code) for p in found] == [("households_xy_no_crs.csv", "missing_crs")] + [
        ("visits_ok.csv", "unknown_reference")
    ] * 3


def test_duplicate_column_names(tmp_path: Path) -> None:
    (tmp_path / "o.csv").write_text("officer_id,koban_id,Koban_ID\nO1,K1,K2\n", encoding="utf-8")
    assert validate_layer(tmp_path / "o.csv", "officers") == [
        Problem(
            "o.csv",
            None,
            "koban_id",
            "2 columns named 'koban_id' (ignoring case and spaces)",
            "one column of each name",
            "duplicate_column",
        )
    ]


def test_problems_across_files_are_reported_together() -> None:
    found = dataset_problems(
        koban="koban_unknown_kind.geojson",
        visits="visits_before_registered.csv",
        households="households_outside_beats.csv",
    )
    assert {(p.file, p.code) for p in found} == {
        ("koban_unknown_kind.geojson", "unknown_enum"),
        ("visits_before_registered.csv", "before_registered"),
        ("households_outside_beats.csv", "outside_beats"),
    }


def _digest(paths: dict[str, Path]) -> dict[str, str]:
    return {k: hashlib.sha256(Path(p).read_bytes()).hexdigest() for k, p in paths.items()}


def test_failed_import_returns_nothing_and_changes_nothing() -> None:
    """A caller (the API's database loader) gets either a whole Dataset or an
    exception: no partial result escapes and the input files are untouched."""
    paths = {**OK, "visits": F / "visits_unknown_household.csv"}
    before = _digest(paths)
    result: list[Dataset] = []
    with pytest.raises(InputError):
        result.append(read_dataset(paths, today=TODAY))
    assert result == []
    assert _digest(paths) == before
    # A clean import after the failed one is complete.
    assert len(read_dataset(OK, today=TODAY).households) == 4


def test_unknown_layer_name_in_dataset() -> None:
    with pytest.raises(ParameterError, match="unknown layer"):
        read_dataset({"roads": OK["beats"]})


def test_check_dataset_is_vectorised_on_many_households() -> None:
    """200,000 households against 100 beats in well under the import budget."""
    import time

    rng = np.random.default_rng(1)
    cells = [
        shapely.box(i * 1000.0, j * 1000.0, (i + 1) * 1000.0, (j + 1) * 1000.0)
        for i in range(10)
        for j in range(10)
    ]
    beats = gpd.GeoDataFrame(
        {"beat_id": [f"B{i}" for i in range(100)], "koban_id": "K1"},
        geometry=cells,
        crs="EPSG:6675",
    )
    n = 200_000
    xy = rng.uniform(0, 10_000, size=(n, 2))
    xy[:3] = [[-5.0, 5.0], [20_000.0, 1.0], [5.0, -1.0]]
    households = gpd.GeoDataFrame(
        {"household_id": [f"H{i}" for i in range(n)], "beat_id": "B0", "registered_on": pd.NaT},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs="EPSG:6675",
    )
    t0 = time.perf_counter()
    found = check_dataset(Dataset(crs="EPSG:6675", beats=beats, households=households), today=TODAY)
    elapsed = time.perf_counter() - t0
    assert [p.row for p in found] == ["H0", "H1", "H2"]
    assert elapsed < 5.0


# --- properties ----------------------------------------------------------------

_CORRUPTIONS = {
    # field: (bad value, problem code)
    "kind": ("house", "unknown_enum"),
    "floor": ("-2", "out_of_range"),
    "registered_on": ("2021-02-29", "bad_date"),
    "lat": ("136.6", "swapped_lonlat"),
    "household_id": ("", "missing_value"),
}


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 30),
    data=st.data(),
)
def test_one_bad_cell_gives_one_problem_on_its_row(n: int, data: st.DataObject) -> None:
    """Whatever the table, one corrupted cell is reported once, on its row and field."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    rows = [
        {
            "household_id": f"H{i}",
            "kind": rng.choice(["home", "business", "public"]),
            "floor": str(rng.integers(1, 15)),
            "registered_on": "2020-01-01",
            "lon": f"{136.60 + rng.random() * 0.1:.6f}",
            "lat": f"{36.53 + rng.random() * 0.05:.6f}",
        }
        for i in range(n)
    ]
    bad_row = data.draw(st.integers(0, n - 1))
    field = data.draw(st.sampled_from(sorted(_CORRUPTIONS)))
    value, code = _CORRUPTIONS[field]
    if field == "lat":  # a swap needs both coordinates exchanged
        rows[bad_row]["lat"], rows[bad_row]["lon"] = rows[bad_row]["lon"], rows[bad_row]["lat"]
    else:
        rows[bad_row][field] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "households.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        found = validate_layer(path, "households", today=TODAY)
    [p] = found
    assert (p.file, p.row, p.code) == ("households.csv", bad_row + 1, code)
    assert p.field == ("geometry" if field == "lat" else field)


_cell = st.one_of(
    st.sampled_from(
        [
            "",
            "nan",
            "NaN",
            "-1",
            "0",
            "2.5",
            "1e400",
            "2024-02-30",
            "25:00",
            "home",
            "met",
            "136.65",
            "36.56",
            "H1",
            "面接",
            " ",
            "None",
        ]
    ),
    st.text(alphabet="0123456789.-:/ Ha金沢", max_size=8),
)


@pytest.mark.parametrize("layer", ["households", "visits", "buildings", "officers", "koban"])
@settings(max_examples=20, deadline=None)
@given(cells=st.lists(st.lists(_cell, min_size=9, max_size=9), min_size=1, max_size=6))
def test_validate_layer_never_raises_on_garbage(layer: str, cells: list[list[str]]) -> None:
    """Any cell content becomes problems, never an exception."""
    columns = {
        "households": [
            "household_id",
            "kind",
            "beat_id",
            "building_id",
            "floor",
            "address",
            "registered_on",
            "lon",
            "lat",
        ],
        "visits": [
            "visit_id",
            "household_id",
            "officer_id",
            "visited_on",
            "time",
            "outcome",
            "x1",
            "x2",
            "x3",
        ],
        "buildings": [
            "building_id",
            "kind",
            "floors",
            "units",
            "complex_id",
            "lon",
            "lat",
            "x1",
            "x2",
        ],
        "officers": [
            "officer_id",
            "koban_id",
            "role",
            "beat_id",
            "mode",
            "shift_pattern",
            "x1",
            "x2",
            "x3",
        ],
        "koban": ["koban_id", "name", "kind", "station", "lon", "lat", "x1", "x2", "x3"],
    }[layer]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}.csv"
        pd.DataFrame(cells, columns=columns).to_csv(path, index=False)
        found = validate_layer(path, layer, today=TODAY)
    assert all(isinstance(p, Problem) and p.file == f"{layer}.csv" for p in found)
    assert all(p.code in PROBLEM_CODES for p in found)
