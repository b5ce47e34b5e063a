"""Household lists by address, located offline (bundled Ishikawa 町字, MLIT 位置参照情報).

Fixtures are written by ``tests/fixtures/make_national_fixtures.py``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import date
from pathlib import Path

import jaconv
import kanjize
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo.errors import InputError, Problem
from junkai_geo.formats import NationalOptions, detect_format
from junkai_geo.formats.addresses import (
    BUNDLED_REFERENCE,
    LEVEL_BLOCK,
    LEVEL_NONE,
    LEVEL_TOWN,
    AddressReference,
    geocode_households,
    normalize_address,
)
from junkai_geo.ingest import inspect_layer, read_layer, validate_layer
from junkai_geo.validation import PROBLEM_CODES

F = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 1)
BUNDLED = "an address whose 町字 is in the reference (bundled 町字 points of Ishikawa (data/ishikawa_machiaza.csv.gz))"
MLIT = (F / "mlit_town_level.csv", F / "mlit_block_level.csv")


@pytest.fixture(scope="module")
def ishikawa() -> AddressReference:
    return AddressReference.bundled()


def problems(name: str, **kw: object) -> list[Problem]:
    with pytest.raises(InputError) as info:
        read_layer(F / name, "households", today=TODAY, **kw)  # type: ignore[arg-type]
    found = info.value.problems
    assert validate_layer(F / name, "households", today=TODAY, **kw) == found  # type: ignore[arg-type]
    assert all(p.code in PROBLEM_CODES for p in found)
    return found


# --- normalisation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("石川県金沢市広坂２丁目３番４号", "石川県金沢市広坂2丁目3番4号"),
        ("石川県金沢市広坂二丁目三番四号", "石川県金沢市広坂2丁目3番4号"),
        ("金沢市広坂２－３－４", "金沢市広坂2-3-4"),
        ("金沢市広坂2ー3ー4", "金沢市広坂2-3-4"),
        ("金沢市広坂2‐3−4", "金沢市広坂2-3-4"),
        ("金沢市末町２０番地の３", "金沢市末町20-3"),
        ("金沢市四十万町二十一番地", "金沢市四十万町21番地"),
        ("河北郡内灘町字宮坂", "河北郡内灘町宮坂"),
        ("金沢市　ﾋﾛｻｶ 2-3", "金沢市 ヒロサカ 2-3"),
        ("金沢市木の新保町", "金沢市木ノ新保町"),
        ("金沢市光ヶ丘", "金沢市光ケ丘"),
    ],
)
def test_normalize_address(text: str, key: str) -> None:
    assert normalize_address(text) == key


# --- the bundled Ishikawa 町字 list ------------------------------------------------


def _styles(prefecture: str, city: str, name: str, block: int, go: int) -> list[str]:
    """One address in five styles: full-width, kanji numerals, without prefecture,
    with prefecture (番地), hyphens."""
    k_block, k_go = kanjize.number2kanji(block), kanjize.number2kanji(go)
    wide = lambda n: jaconv.h2z(str(n), digit=True)  # noqa: E731
    m = re.match(r"^(.*?)([一二三四五六七八九十]+)丁目$", name)
    if m:
        base, chome = m.group(1), kanjize.kanji2number(m.group(2))
        return [
            f"{prefecture}{city}{base}{wide(chome)}丁目{wide(block)}番{wide(go)}号",
            f"{prefecture}{city}{base}{m.group(2)}丁目{k_block}番{k_go}号",
            f"{city}{base}{chome}丁目{block}番{go}号",
            f"{prefecture}{city}{base}{chome}丁目{block}番地{go}",
            f"{city}{base}{chome}-{block}-{go}",
        ]
    return [
        f"{prefecture}{city}{name}{wide(block)}番{wide(go)}号",
        f"{prefecture}{city}{name}{k_block}番{k_go}号",
        f"{city}{name}{block}番{go}号",
        f"{prefecture}{city}{name}{block}番地{go}",
        f"{city}{name}{block}-{go}",
    ]


def test_every_ishikawa_town_in_five_styles(ishikawa: AddressReference) -> None:
    """Every 町字 of the bundled list, in five styles, resolves to its own point."""
    towns = [t for t in ishikawa.town_names() if " " not in t[2]]  # 小字 apart
    assert len(towns) == 3142
    # No town has a 十二丁目, so block 12 cannot be read as a 丁目 (see the next test).
    assert not any(name.endswith("十二丁目") for _, _, name in towns)
    same = 0
    unlocated = []
    for prefecture, city, name in towns:
        found = [ishikawa.locate(a) for a in _styles(prefecture, city, name, 12, 7)]
        if not found[0].found:
            unlocated.append(name)
            assert {f.level for f in found} == {LEVEL_NONE}
            assert all("has no point in the reference" in f.tried for f in found)
            continue
        assert {f.level for f in found} == {LEVEL_TOWN}, [(f.address, f.tried) for f in found]
        assert {f.match for f in found} == {f"{prefecture}{city}{name}"}
        assert len({(f.lon, f.lat) for f in found}) == 1
        same += 1
    # The two towns the source gives no coordinates are reported, not guessed.
    assert sorted(unlocated) == ["いなほ三丁目", "金石上越前町"]
    assert same == 3140


def test_hyphens_that_read_two_ways_are_ambiguous(ishikawa: AddressReference) -> None:
    """旭町 and 旭町三丁目 both exist: 旭町3-4 is 旭町三丁目4番 or 旭町3番4号."""
    two = ishikawa.locate("金沢市旭町3-4")
    assert not two.found and two.ambiguous
    assert two.candidates == ("石川県金沢市旭町", "石川県金沢市旭町三丁目")
    assert ishikawa.locate("金沢市旭町3番4号").match == "石川県金沢市旭町"
    assert ishikawa.locate("金沢市旭町3-3-4").match == "石川県金沢市旭町三丁目"
    assert ishikawa.locate("金沢市旭町三丁目3-4").match == "石川県金沢市旭町三丁目"


def test_koaza_and_buildings(ishikawa: AddressReference) -> None:
    assert ishikawa.locate("金沢市武蔵町 1-1 508号室").match == "石川県金沢市武蔵町"
    # イロハ 地番 after a town
    assert ishikawa.locate("金沢市末町ヲ45").match == "石川県金沢市末町"
    # A 小字 of the list, with or without 字
    a = ishikawa.locate("河北郡内灘町字宮坂")
    b = ishikawa.locate("内灘町宮坂")
    assert a.match == b.match == "石川県河北郡内灘町字宮坂"


def test_bundled_reference_is_derived_from_shared(tmp_path: Path, shared_dir: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "derive_machiaza", ROOT / "data" / "derive_machiaza.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["derive_machiaza"] = mod
    spec.loader.exec_module(mod)
    out = tmp_path / "m.csv.gz"
    mod.write(mod.derive(shared_dir), out)
    assert out.read_bytes() == BUNDLED_REFERENCE.read_bytes()


# --- household lists ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["households_by_address_ok.csv", "households_by_address_ok_cp932.csv"]
)
def test_household_list_by_address(name: str) -> None:
    assert detect_format(F / name) == "address_households"
    assert detect_format(F / "households_ok.csv") is None  # has coordinates
    report = inspect_layer(F / name, "households", today=TODAY)
    assert report.problems == []
    assert report.encoding == ("cp932" if "cp932" in name else "utf-8")
    h = read_layer(F / name, "households", today=TODAY)
    assert h.crs.to_epsg() == 6675
    assert list(h["geocode_level"]) == [LEVEL_TOWN] * 6
    assert list(h["geocode_match"]) == [
        "石川県金沢市広坂二丁目",
        "石川県金沢市広坂二丁目",
        "石川県金沢市長町一丁目",
        "石川県金沢市暁町",
        "石川県金沢市武蔵町",
        "石川県かほく市内日角",
    ]
    assert list(h["kind"]) == ["home", "home", "home", "business", "home", "home"]
    assert h.geometry.iloc[0].equals(h.geometry.iloc[1])
    assert h["address"].iloc[0] == "石川県金沢市広坂２丁目２番２１号"  # kept as written
    assert (
        f"{name}: 0 address(es) located at 街区 level, 6 at 町字 level, 0 not found "
        "(bundled 町字 points of Ishikawa (data/ishikawa_machiaza.csv.gz))" in h.attrs["notes"]
    )


def test_address_that_matches_nothing() -> None:
    assert problems("households_address_not_found.csv") == [
        Problem(
            "households_address_not_found.csv",
            2,
            "address",
            "'石川県金沢市香林坊9丁目1-1' (tried: prefecture 石川県; municipality 石川県金沢市; "
            "no 町字 of the reference begins '香林坊9丁目1-1')",
            BUNDLED,
            "address_not_found",
        )
    ]


def test_address_that_matches_two_towns() -> None:
    assert problems("households_address_ambiguous.csv") == [
        Problem(
            "households_address_ambiguous.csv",
            1,
            "address",
            "'本町1-2', which matches 4 towns: 石川県小松市本町一丁目, 石川県羽咋市本町, "
            "石川県野々市市本町一丁目, 石川県金沢市本町一丁目",
            "an address that names one town (add the municipality, 市区町村)",
            "address_ambiguous",
        )
    ]


# --- MLIT 位置参照情報 -----------------------------------------------------------------


def test_mlit_reference_block_and_town_levels() -> None:
    ref = AddressReference.from_mlit(MLIT)
    block = ref.locate("金沢市広坂2-2-21")
    assert (block.level, block.lon, block.lat) == (LEVEL_BLOCK, 136.65579, 36.56255)
    assert block.match == "石川県金沢市広坂二丁目 2"
    assert ref.locate("石川県金沢市広坂二丁目二番二十一号").lon == 136.65579
    # A block the reference does not have: the 町字 point, saying so.
    town = ref.locate("金沢市長町1-9-5")
    assert (town.level, town.lon, town.lat) == (LEVEL_TOWN, 136.650714, 36.565193)
    assert town.tried == "block 9 not in the reference, 町字 point used"
    # A town only in the 街区 file would take the mean of its blocks; one in neither is not found.
    assert not ref.locate("金沢市香林坊1-1-1").found


def test_households_against_a_mlit_reference() -> None:
    opts = NationalOptions(reference=tuple(str(p) for p in MLIT))
    found = problems("households_by_address_ok.csv", national=opts)
    assert [(p.row, p.code) for p in found] == [(6, "address_not_found")]
    assert found[0].found == (
        "'かほく市内日角3番地' (tried: no prefecture; no municipality of the reference; "
        "no 町字 of the reference begins 'かほく市内日角3番地')"
    )
    read = geocode_households(F / "households_by_address_ok.csv", AddressReference.from_mlit(MLIT))
    assert list(read.frame["geocode_level"]) == [
        LEVEL_BLOCK,
        LEVEL_BLOCK,
        LEVEL_BLOCK,
        LEVEL_TOWN,
        LEVEL_TOWN,
        LEVEL_NONE,
    ]
    assert read.frame.geometry.iloc[5] is None


def test_mlit_file_with_another_header() -> None:
    with pytest.raises(InputError) as info:
        AddressReference.from_mlit([F / "mlit_wrong_header.csv"])
    (p,) = info.value.problems
    assert p.file == "mlit_wrong_header.csv"
    assert p.found == "columns 都道府県名, 市区町村名, 町名, 緯度, 経度"
    assert p.expected.startswith(
        "the published header of the 位置参照情報 大字・町丁目 level (都道府県コード, 都道府県名, "
    )
    assert p.code == "missing_column"


def test_bad_reference_reported_by_the_import() -> None:
    """A reference file in another layout is a problem of the import, not a crash."""
    opts = NationalOptions(reference=F / "mlit_wrong_header.csv")  # one path, not a tuple
    (p,) = validate_layer(F / "households_by_address_ok.csv", "households", national=opts)
    assert (p.file, p.code) == ("mlit_wrong_header.csv", "missing_column")


_TOWNS = sorted(
    (c, n)
    for p, c, n in AddressReference.bundled().town_names()
    if " " not in n and n not in ("いなほ三丁目", "金石上越前町")
)


@settings(max_examples=200, deadline=None)
@given(
    town=st.sampled_from(_TOWNS),
    # From 11: no town of Ishikawa has an 十一丁目, so a block is never read as a 丁目.
    block=st.integers(min_value=11, max_value=99),
    go=st.integers(min_value=1, max_value=40),
    prefecture=st.booleans(),
    numerals=st.sampled_from(["half", "full", "kanji"]),
    separator=st.sampled_from(["番号", "番地", "hyphen", "の"]),
    room=st.sampled_from(["", " 101号室", "　ハイツ広坂２０３"]),
)
def test_any_mix_of_spellings_finds_the_town(
    town: tuple[str, str],
    block: int,
    go: int,
    prefecture: bool,
    numerals: str,
    separator: str,
    room: str,
) -> None:
    city, name = town
    num = {
        "half": str,
        "full": lambda v: jaconv.h2z(str(v), digit=True),
        "kanji": kanjize.number2kanji,
    }[numerals]
    m = re.match(r"^(.*?)([一二三四五六七八九十]+)丁目$", name)
    if m:
        chome = kanjize.kanji2number(m.group(2))
        head = f"{m.group(1)}{num(chome)}丁目" if separator != "hyphen" else f"{m.group(1)}{chome}-"
    else:
        head = name
    tail = {
        "番号": f"{num(block)}番{num(go)}号",
        "番地": f"{num(block)}番地{num(go)}",
        "hyphen": f"{block}-{go}",
        "の": f"{num(block)}番地の{num(go)}",
    }[separator]
    address = ("石川県" if prefecture else "") + city + head + tail + room
    found = AddressReference.bundled().locate(address)
    assert found.match == f"石川県{city}{name}", (address, found)
