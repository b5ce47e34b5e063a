"""National formats as published: e-Stat boundaries, police lists of 交番・駐在所.

Fixtures are written by ``tests/fixtures/make_national_fixtures.py``; the
larger files are built here from the real tables in ``../shared``.
"""

from __future__ import annotations

import csv
import importlib.util
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import shapely

from junkai_geo.errors import InputError, Problem
from junkai_geo.formats import (
    NationalOptions,
    detect_format,
    koban_id,
    read_estat_boundaries,
    read_police_boxes,
)
from junkai_geo.ingest import inspect_layer, read_dataset, read_layer, validate_layer
from junkai_geo.validation import PROBLEM_CODES

F = Path(__file__).resolve().parent / "fixtures"
TODAY = date(2026, 11, 1)

_spec = importlib.util.spec_from_file_location(
    "make_national_fixtures", F / "make_national_fixtures.py"
)
assert _spec is not None and _spec.loader is not None
mk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mk)


def problems(name: str, layer: str, **kw: object) -> list[Problem]:
    """The problems ``read_layer`` raises for fixture ``name`` (it must raise)."""
    with pytest.raises(InputError) as info:
        read_layer(F / name, layer, today=TODAY, **kw)  # type: ignore[arg-type]
    found = info.value.problems
    assert validate_layer(F / name, layer, today=TODAY, **kw) == found  # type: ignore[arg-type]
    assert all(p.code in PROBLEM_CODES for p in found)
    return found


# --- e-Stat small-area boundaries ------------------------------------------------


def test_estat_detected_from_its_fields() -> None:
    assert detect_format(F / "estat_ok.shp") == "estat_boundary"
    assert detect_format(F / "estat_ok.shp", "units") == "estat_boundary"
    assert detect_format(F / "estat_ok.shp", "koban") is None
    assert detect_format(F / "beats_ok.shp") is None
    assert not (F / "estat_ok.cpg").exists()  # published without .cpg: cp932 by default


def test_estat_parts_merged_and_water_left_out() -> None:
    units = read_layer(F / "estat_ok.shp", "units", today=TODAY)
    assert units.crs.to_epsg() == 6675
    assert list(units.columns[:5]) == ["unit_id", "name", "households", "area_m2", "beat_id"]
    by_id = units.set_index("unit_id")
    # 8 records: 俵町 in two parts -> one unit, 金沢港 (HCODE 8154) left out.
    assert len(units) == 6
    assert "172017660" not in by_id.index
    tawara = by_id.loc["172016810"]
    assert tawara["name"] == "俵町"
    assert tawara.geometry.geom_type == "MultiPolygon"
    assert len(tawara.geometry.geoms) == 2
    assert tawara["households"] == 28 and tawara["population"] == 189
    assert tawara["area_m2"] == pytest.approx(1573613.492 + 926982.892)
    # cp932 names decoded, widths normalised.
    assert by_id.loc["17201134003", "name"] == "増泉3丁目"
    assert by_id.loc["17201516001", "households"] == 936
    notes = units.attrs["notes"]
    assert "estat_ok.shp: 1 water area part(s) (HCODE 8154) left out: 172017660 金沢港" in notes
    assert (
        "estat_ok.shp: 1 KEY_CODE(s) in several parts merged into one unit "
        "(MultiPolygon; AREA, JINKO, SETAI summed): 172016810 俵町 (2)" in notes
    )
    # The areas of the square parts are those of the census table.
    assert tawara.geometry.area == pytest.approx(1573613.492 + 926982.892, rel=2e-3)


def test_estat_missing_prj() -> None:
    assert problems("estat_no_prj.shp", "units") == [
        Problem(
            "estat_no_prj.shp",
            None,
            "crs",
            "no .prj file (estat_no_prj.prj is missing)",
            "the .prj published with the e-Stat boundary data (JGD2000 / JGD2011 "
            "longitude / latitude) beside the .shp, or an explicit CRS (--crs EPSG:4612)",
            "missing_crs",
        )
    ]
    # With the CRS given, the same file reads.
    units = read_layer(F / "estat_no_prj.shp", "units", crs="EPSG:4612", today=TODAY)
    assert sorted(units["unit_id"]) == ["172010780", "17201134003", "172016810"]


def test_estat_zip_as_downloaded(tmp_path: Path) -> None:
    """e-Stat serves a .zip of the Shapefile (no .cpg): read as it is."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "A002005212015DDSWC17201.zip", "w") as z:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            z.write(F / f"estat_ok{suffix}", f"h27ka17201{suffix}")
    units = read_layer(tmp_path / "A002005212015DDSWC17201.zip", "units", today=TODAY)
    assert len(units) == 6 and "増泉3丁目" in set(units["name"])
    with zipfile.ZipFile(tmp_path / "no_prj.zip", "w") as z:
        for suffix in (".shp", ".shx", ".dbf"):
            z.write(F / f"estat_ok{suffix}", f"h27ka17201{suffix}")
    (p,) = validate_layer(tmp_path / "no_prj.zip", "units", today=TODAY)
    assert (p.code, p.found) == (
        "missing_crs",
        "no .prj file (no_prj.zip:h27ka17201.prj is missing)",
    )


def test_estat_duplicate_key_code_with_different_attributes() -> None:
    assert problems("estat_duplicate_key_code.shp", "units") == [
        Problem(
            "estat_duplicate_key_code.shp",
            "172016810",
            "MOJI",
            "2 parts of KEY_CODE 172016810 that differ: feature 3 MOJI='俵町', "
            "feature 4 MOJI='俵町２丁目'",
            "the same MOJI in every part of one KEY_CODE (parts of one 町丁・字 differ only "
            "in geometry, AREA, JINKO and SETAI)",
            "duplicate_key_different",
        )
    ]


def test_estat_all_ishikawa_from_the_census_table(tmp_path: Path, shared_dir: Path) -> None:
    """Every real row of the 2015 table of Ishikawa, as e-Stat would publish it."""
    with (shared_dir / "data/kanazawa/ishikawa_h27_chome_households.csv").open(
        encoding="utf-8"
    ) as f:
        rows = list(csv.DictReader(f))
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
    path = mk.write_estat_shapefile(tmp_path / "h27ka17.shp", records)
    read = read_estat_boundaries(path)
    assert read.problems == []
    land = {r["KEY_CODE"] for r in rows if r["HCODE"] != "8154"}
    # 3,379 codes; 金沢港 is water only, 鵜浦町 has a land part and a water part.
    assert len(read.frame) == len(land) == 3379 - 1
    assert (
        "2 water area part(s) (HCODE 8154) left out: 172017660 金沢港, 172021060 鵜浦町"
        in read.notes[0]
    )
    assert read.frame["households"].sum() == sum(
        int(r["SETAI"]) for r in rows if r["HCODE"] != "8154"
    )
    multi = read.frame[read.frame["parts"] > 1]
    assert len(multi) == 116 - 1  # 116 codes in parts; 鵜浦町 has one land part left
    # Separate parts make a MultiPolygon; these squares overlap now and then, and are dissolved.
    assert (multi.geometry.geom_type == "MultiPolygon").sum() == 104
    assert multi.geometry.is_valid.all()
    kanazawa = read.frame[read.frame["municipality"] == "金沢市"]
    assert kanazawa["households"].sum() == 199572
    # The generic import reads the same file.
    units = read_layer(path, "units", today=TODAY)
    assert len(units) == len(read.frame)


# --- police lists of 交番・駐在所 -------------------------------------------------


def test_koban_id_is_stable_and_documented() -> None:
    import hashlib

    expected = "KB-" + hashlib.sha256("石川県/金沢中警察署/暁町交番".encode()).hexdigest()[:10]
    assert koban_id("石川県", "金沢中警察署", "暁町交番") == expected == "KB-96c955abbe"
    # Full-width / half-width spelling does not change the id.
    assert koban_id("石川県 ", "金沢中警察署", "暁町交番") == expected


@pytest.mark.parametrize("name", ["koban_police_list_ok.csv", "koban_police_list_ok_cp932.csv"])
def test_police_list_as_koban_layer(name: str) -> None:
    assert detect_format(F / name) == "police_koban"
    report = inspect_layer(F / name, "koban", today=TODAY)
    assert report.problems == []
    assert report.encoding == ("cp932" if "cp932" in name else "utf-8")
    koban = read_layer(F / name, "koban", today=TODAY)
    assert koban.crs.to_epsg() == 6675
    assert list(koban["name"]) == ["暁町交番", "香林坊交番", "末駐在所", "金沢駅前交番"]
    assert list(koban["kind"]) == ["koban", "koban", "chuzaisho", "koban"]
    assert list(koban["station"]) == ["金沢中警察署"] * 3 + ["金沢東警察署"]
    assert koban["koban_id"].iloc[0] == koban_id("石川県", "金沢中警察署", "暁町交番")
    assert koban["address"].iloc[1] == "金沢市広坂2-2-21"


def test_koban_row_without_coordinates() -> None:
    assert problems("koban_unlocated.csv", "koban") == [
        Problem(
            "koban_unlocated.csv",
            5,
            "Longitude",
            "an empty value for 金沢東警察署 元車交番 (金沢市長土塀2-1-1)",
            "a longitude and latitude in degrees",
            "unlocated",
        )
    ]
    # Skipping the unlocated rows is explicit, and noted.
    opts = NationalOptions(skip_unlocated=True)
    koban = read_layer(F / "koban_unlocated.csv", "koban", today=TODAY, national=opts)
    assert len(koban) == 4
    assert (
        "koban_unlocated.csv, row 5: 金沢東警察署 元車交番 (金沢市長土塀2-1-1) left out: "
        "Longitude an empty value" in koban.attrs["notes"]
    )


def test_police_filter_that_keeps_nothing() -> None:
    read = read_police_boxes(F / "koban_police_list_ok.csv", station="金沢西")
    assert [str(p) for p in read.problems] == [
        "koban_police_list_ok.csv, field '警察署名称': found no row of station 金沢西; "
        "expected a station named in the file (e.g. 金沢中警察署) [filter_empty]"
    ]


def test_police_list_of_japan_filtered(shared_dir: Path) -> None:
    path = shared_dir / "data/police/koban_japan_2024-11-20.csv"
    ishikawa = read_police_boxes(path, prefecture="石川県")
    assert ishikawa.problems == []
    assert len(ishikawa.frame) == 166
    assert ishikawa.frame["kind"].value_counts().to_dict() == {"chuzaisho": 101, "koban": 65}
    assert ishikawa.frame["station"].nunique() == 12
    opts = NationalOptions(prefecture=("石川",), station=("金沢中", "金沢東", "金沢西警察署"))
    kanazawa = read_layer(path, "koban", today=TODAY, national=opts)
    assert kanazawa["station"].value_counts().to_dict() == {
        "金沢中警察署": 19,
        "金沢東警察署": 14,
        "金沢西警察署": 9,
    }
    assert kanazawa["koban_id"].is_unique
    # The whole list: its 31 rows the geocoder did not locate are reported, with row numbers.
    whole = read_police_boxes(path)
    assert len(whole.problems) == 31
    assert {p.code for p in whole.problems} == {"unlocated"}
    assert {p.field for p in whole.problems} == {"iLvl"}
    first = whole.problems[0]
    assert first.row == 30 and "南九条交番" in first.found
    # Ids are unique across Japan (湯河原交番 and 湯河原駐在所 share a head name).
    assert whole.frame["koban_id"].is_unique
    assert len(whole.frame) == 12138 - 31
    # The box whose kind is empty takes it from its name, with a note.
    assert (
        "koban_japan_2024-11-20.csv, row 9087: 交番・駐在所の別 empty; '交番' taken from the name 根来交番"
        in whole.notes
    )


def test_national_layers_in_one_dataset() -> None:
    """The three national formats as one dataset, with the cross-layer checks."""
    ds = read_dataset(
        {
            "units": F / "estat_ok.shp",
            "koban": F / "koban_police_list_ok.csv",
            "households": F / "households_by_address_ok.csv",
        },
        today=TODAY,
    )
    assert ds.crs == "EPSG:6675"
    assert ds.units is not None and ds.koban is not None and ds.households is not None
    assert (len(ds.units), len(ds.koban), len(ds.households)) == (6, 4, 6)
    assert np.isfinite(shapely.get_x(ds.koban.geometry.to_numpy())).all()
    assert "koban_police_list_ok.csv: read as police_koban" in ds.notes


def test_options_take_one_name_or_several() -> None:
    assert NationalOptions(prefecture="石川県").prefecture == ("石川県",)
    assert NationalOptions(station=["金沢中", "金沢東"]).station == ("金沢中", "金沢東")
    koban = read_layer(
        F / "koban_police_list_ok.csv",
        "koban",
        today=TODAY,
        national=NationalOptions(prefecture="石川県", station="金沢東"),
    )
    assert list(koban["name"]) == ["金沢駅前交番"]


# --- rebalance on a raw e-Stat file ------------------------------------------------


def test_rebalance_reads_a_raw_estat_file_as_the_importer_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Parts of one KEY_CODE become one unit, water areas are left out, cp932 names read."""
    import json

    import geopandas as gpd

    from junkai_geo.cli import main

    out = tmp_path / "beats.geojson"
    argv = ["rebalance", str(F / "estat_ok.shp"), "--weight", "households", "--beats", "2"]
    assert main([*argv, "--time-limit", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["plan"]["beats"] == 2
    assert "注意 note: estat_ok.shp: 1 water area part(s) (HCODE 8154) left out" in captured.err
    assert "172016810 俵町 (2)" in captured.err
    written = gpd.read_file(out)
    expected = set(read_layer(F / "estat_ok.shp", "units", today=TODAY)["unit_id"])
    assert sorted(written["unit_id"]) == sorted(expected)  # each KEY_CODE once, no 金沢港
    assert len(written) == 6 and "172017660" not in set(written["unit_id"])
    weights = dict(zip(written["unit_id"], written["households"], strict=True))
    assert weights["172016810"] == 28  # 0 + 28: the counts of both parts
    assert set(written["beat"]) == {"B001", "B002"}
    # The e-Stat name of the id column names the same ids.
    assert main([*argv, "--id", "KEY_CODE", "--time-limit", "0.5", "--out", str(out)]) == 0
    assert sorted(gpd.read_file(out)["unit_id"]) == sorted(expected)


def test_rebalance_refuses_estat_parts_that_differ(capsys: pytest.CaptureFixture[str]) -> None:
    from junkai_geo.cli import main

    argv = ["rebalance", str(F / "estat_duplicate_key_code.shp"), "--weight", "households"]
    assert main([*argv, "--beats", "2", "--out", "unused.geojson"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "junkai-geo rebalance: error: 1 problem(s) in input:",
        "  - estat_duplicate_key_code.shp, row/feature 172016810, field 'MOJI': found 2 parts "
        "of KEY_CODE 172016810 that differ: feature 3 MOJI='俵町', feature 4 MOJI='俵町２丁目'; "
        "expected the same MOJI in every part of one KEY_CODE (parts of one 町丁・字 differ only "
        "in geometry, AREA, JINKO and SETAI) [duplicate_key_different]",
    ]
