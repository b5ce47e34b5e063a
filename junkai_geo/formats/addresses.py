"""Household lists by address (住所) without coordinates, located offline.

An address is normalised into a *key* with maintained libraries — ``jaconv``
for full / half width, ``kanjize`` for kanji numerals — and a few documented
spelling rules (hyphen variants, 丁目 / 番 / 番地 / 号, ``の`` between
numbers, ケ / ヶ, 大字 / 字). It is then matched, longest first, against the
names of a reference: prefecture (may be omitted), municipality (may be
omitted), 町字 (town or 丁目, optionally its 小字), then the block (街区) when
the reference has blocks.

References (:class:`AddressReference`):

* :meth:`AddressReference.bundled` — the 町字 representative points of the 19
  municipalities of Ishikawa bundled in ``data/ishikawa_machiaza.csv.gz``
  (Geolonia japanese-addresses, CC BY 4.0, based on MLIT 位置参照情報);
* :meth:`AddressReference.from_mlit` — the user's MLIT 位置参照情報 CSV files,
  大字・町丁目 level (``都道府県コード, 都道府県名, 市区町村コード, 市区町村名,
  大字町丁目コード, 大字町丁目名, 緯度, 経度, 原典資料コード,
  大字・字・丁目区分コード``) and / or 街区 level (``都道府県名, 市区町村名,
  大字・丁目名, 小字・通称名, 街区符号・地番, 座標系番号, Ｘ座標, Ｙ座標, 緯度,
  経度, 住居表示フラグ, 代表フラグ, 更新前履歴フラグ, 更新後履歴フラグ``), cp932
  as published (UTF-8 also read).

Each address gets a level: ``街区`` (the block's point), ``町字`` (the town's
point) or ``not found``. Nothing is guessed: an address whose town is not in
the reference is *not found*, one whose text fits towns of two
municipalities (the municipality left out) or two towns with the same key
is *ambiguous*; both are reported with what was tried.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import jaconv
import kanjize
import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .common import NationalRead, csv_header, read_csv_text

__all__ = [
    "BUNDLED_REFERENCE",
    "LEVEL_BLOCK",
    "LEVEL_NONE",
    "LEVEL_TOWN",
    "MLIT_BLOCK_COLUMNS",
    "MLIT_TOWN_COLUMNS",
    "AddressReference",
    "Located",
    "geocode_households",
    "is_address_list",
    "normalize_address",
]

FORMAT = "address_households"

LEVEL_BLOCK = "街区"
LEVEL_TOWN = "町字"
LEVEL_NONE = "not found"

#: The bundled 町字 points of Ishikawa (made by ``data/derive_machiaza.py``).
BUNDLED_REFERENCE = Path(__file__).resolve().parents[2] / "data" / "ishikawa_machiaza.csv.gz"

#: Published header of the MLIT 大字・町丁目レベル位置参照情報 CSV.
MLIT_TOWN_COLUMNS = (
    "都道府県コード",
    "都道府県名",
    "市区町村コード",
    "市区町村名",
    "大字町丁目コード",
    "大字町丁目名",
    "緯度",
    "経度",
    "原典資料コード",
    "大字・字・丁目区分コード",
)
#: Published header of the MLIT 街区レベル位置参照情報 CSV.
MLIT_BLOCK_COLUMNS = (
    "都道府県名",
    "市区町村名",
    "大字・丁目名",
    "小字・通称名",
    "街区符号・地番",
    "座標系番号",
    "Ｘ座標",
    "Ｙ座標",
    "緯度",
    "経度",
    "住居表示フラグ",
    "代表フラグ",
    "更新前履歴フラグ",
    "更新後履歴フラグ",
)

PREFECTURES = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
]

#: Column names read as the address / id / kind of a household list.
ADDRESS_COLUMNS = ("address", "住所", "所在地")
_COORD_COLUMNS = {"lon", "lng", "long", "longitude", "経度", "lat", "latitude", "緯度", "x", "y"}
_COORD_COLUMNS |= {"wkt", "geometry", "geom"}
_RENAMES = {"世帯id": "household_id", "世帯番号": "household_id", "種別": "kind"}

# --- normalisation ------------------------------------------------------------

_KANJI_NUM = re.compile(r"([〇一二三四五六七八九十百千]+)(?=丁目|丁|番|号|地割|条|線|の|-|$|\s)")
_HYPHENS = str.maketrans(dict.fromkeys("‐‑‒–—―−－﹣ｰ", "-"))
_LONG_VOWEL_BETWEEN_DIGITS = re.compile(r"(?<=\d)[ーｰ](?=\d)")
_NO_BETWEEN_DIGITS = re.compile(r"(?<=\d)(?:番地|番)?[のノ之](?=\d)")
_SPACES = re.compile(r"\s+")
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")
_HALF_KANA = re.compile("[\uff61-\uff9f]")
_AZA = re.compile(r"大字|字")
_CHOME = re.compile(r"^(.*\D)(\d+)丁目$")
_BLOCK = re.compile(r"^[\s-]*(\d+)")
_NUMBERS = re.compile(r"(?:^|-)\d+")
# After a town, only these may follow (a number, a hyphen, a space, イロハ 地番, the end).
_FOLLOW = re.compile(r"[\d\s\-ァ-ヺ番]")


def _kanji_to_arabic(match: re.Match[str]) -> str:
    text = match.group(1)
    try:
        return str(kanjize.kanji2number(text))
    except (ValueError, KeyError, IndexError):
        return text


def normalize_address(text: str) -> str:
    """The matching key of an address or a reference name.

    Full-width letters, digits and spaces become half-width and half-width
    katakana full-width (``jaconv``); kanji numerals before 丁目 / 番 / 号 /
    地割 / 条 / 線 / の / a hyphen / the end become arabic (``kanjize``); the
    hyphen variants (‐ ― − － ｰ, ー between digits) and ``の`` (or
    ``番地の``) between numbers become ``-``; ヶ / ヵ become ケ / カ, の / 之 in names ノ; 大字 and 字 are
    dropped; runs of spaces become one. Applied to the address and to the
    reference names alike, so that every spelling of one place gives one key.
    """
    s = str(text).strip()
    if _FULL_WIDTH.search(s):
        s = jaconv.z2h(s, kana=False, ascii=True, digit=True)
    if _HALF_KANA.search(s):
        s = jaconv.h2z(s, kana=True, ascii=False, digit=False)
    s = _SPACES.sub(" ", s)
    s = _LONG_VOWEL_BETWEEN_DIGITS.sub("-", s)
    s = s.translate(_HYPHENS)
    s = _KANJI_NUM.sub(_kanji_to_arabic, s)
    s = _NO_BETWEEN_DIGITS.sub("-", s)
    s = s.replace("ヶ", "ケ").replace("ヵ", "カ").replace("之", "ノ").replace("の", "ノ")
    return _AZA.sub("", s)


@lru_cache(maxsize=4096)
def _city_key(city: str) -> str:
    return normalize_address(city)


# --- the reference -------------------------------------------------------------


@dataclass
class _Town:
    prefecture: str
    city: str
    name: str  # as published, 小字 appended after a space
    lat: float | None
    lon: float | None
    blocks: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.prefecture}{self.city}{self.name}"


@dataclass(frozen=True)
class Located:
    """Where one address was located.

    ``level`` is ``街区``, ``町字`` or ``not found``; ``ambiguous`` is set
    (with ``level`` ``not found``) when the address fits several towns, named
    in ``candidates``. ``tried`` says what was matched and what was not.
    """

    address: str
    level: str
    lon: float | None = None
    lat: float | None = None
    match: str = ""
    tried: str = ""
    ambiguous: bool = False
    candidates: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.level != LEVEL_NONE


class AddressReference:
    """Names and points of prefectures, municipalities, 町字 and blocks."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._towns: list[_Town] = []
        self._by_key: dict[tuple[str, str, str], _Town] = {}
        # city alias key -> (prefecture, city); town key -> towns, per city and overall
        self._cities: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._city_towns: dict[tuple[str, str], dict[str, list[tuple[_Town, str]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self._all_towns: dict[str, list[tuple[_Town, str]]] = defaultdict(list)
        self._max_city = 0
        self._max_town = 0

    # construction

    def add_town(
        self,
        prefecture: str,
        city: str,
        town: str,
        lat: float | None,
        lon: float | None,
        koaza: str = "",
    ) -> _Town:
        """Add one 町字 (or 小字) point; the same name twice keeps the first point."""
        name = f"{town} {koaza}" if koaza else town
        tkey = normalize_address(town + koaza)
        if koaza and normalize_address(koaza).isdigit():
            # A 小字 named by a number only (一, 二): "宮坂1" is more likely block 1 of
            # 宮坂 than the 小字 一, so such 小字 are not told apart from their town.
            tkey = normalize_address(town)
            koaza = ""
            name = town
        key = (prefecture, city, tkey)
        found = self._by_key.get(key)
        if found is not None:
            if found.lat is None and lat is not None:
                found.lat, found.lon = lat, lon
            return found
        entry = _Town(prefecture, city, name, lat, lon)
        self._towns.append(entry)
        self._by_key[key] = entry
        ckey = _city_key(city)
        for alias in {ckey, re.sub(r"^.+?郡", "", ckey)}:
            self._cities[alias].add((prefecture, city))
            self._max_city = max(self._max_city, len(alias))
        index = self._city_towns[(prefecture, city)]
        aliases = [(tkey, "")]
        m = _CHOME.match(tkey)
        if m and not koaza:
            # 広坂2丁目 is also written 広坂2-3-4: the alias "広坂2-" (and "広坂2" at the end).
            aliases += [(f"{m.group(1)}{m.group(2)}-", "-"), (f"{m.group(1)}{m.group(2)}", "$")]
        for alias, kind in aliases:
            index[alias].append((entry, kind))
            self._all_towns[alias].append((entry, kind))
            self._max_town = max(self._max_town, len(alias))
        return entry

    @classmethod
    def bundled(cls) -> AddressReference:
        """The bundled 町字 points of Ishikawa (3,142 towns of 19 municipalities).

        One shared instance (loaded once, about 0.6 s): do not add to it.
        """
        return _bundled()

    @classmethod
    def from_mlit(
        cls, paths: Iterable[str | os.PathLike[str]], *, encoding: str | None = None
    ) -> AddressReference:
        """A reference from MLIT 位置参照情報 CSV files (大字・町丁目 and / or 街区 level).

        Raises :class:`InputError` naming the file and the expected header
        when a file is in neither format.
        """
        files = [Path(p) for p in paths]
        ref = cls("MLIT 位置参照情報: " + ", ".join(p.name for p in files))
        problems: list[Problem] = []
        frames: list[tuple[str, Path, pd.DataFrame]] = []
        for path in files:
            frame, _ = read_csv_text(path, encoding, problems)
            if frame is None:
                continue
            cols = set(frame.columns)
            if set(MLIT_TOWN_COLUMNS[:8]) <= cols:
                frames.append(("town", path, frame))
            elif {
                "都道府県名",
                "市区町村名",
                "大字・丁目名",
                "小字・通称名",
                "街区符号・地番",
                "緯度",
                "経度",
            } <= cols:
                frames.append(("block", path, frame))
            else:
                problems.append(
                    Problem(
                        path.name,
                        None,
                        None,
                        "columns " + ", ".join(map(str, frame.columns)),
                        "the published header of the 位置参照情報 大字・町丁目 level ("
                        + ", ".join(MLIT_TOWN_COLUMNS)
                        + ") or 街区 level ("
                        + ", ".join(MLIT_BLOCK_COLUMNS)
                        + ")",
                        "missing_column",
                    )
                )
        if problems:
            raise InputError(problems)
        # Towns first, so their own points are the 町字 points.
        for kind, path, frame in sorted(frames, key=lambda t: t[0] != "town"):
            lat = pd.to_numeric(frame["緯度"], errors="coerce").to_numpy(dtype=float)
            lon = pd.to_numeric(frame["経度"], errors="coerce").to_numpy(dtype=float)
            bad = ~(np.isfinite(lat) & np.isfinite(lon))
            for i in np.flatnonzero(bad).tolist():
                problems.append(
                    Problem(
                        path.name,
                        i + 1,
                        "緯度" if not np.isfinite(lat[i]) else "経度",
                        repr(
                            frame["緯度"].iloc[i]
                            if not np.isfinite(lat[i])
                            else frame["経度"].iloc[i]
                        ),
                        "a latitude / longitude in degrees",
                        "bad_number",
                    )
                )
            if kind == "town":
                for p, c, t, y, x in zip(
                    frame["都道府県名"],
                    frame["市区町村名"],
                    frame["大字町丁目名"],
                    lat,
                    lon,
                    strict=True,
                ):
                    ref.add_town(p, c, t, float(y), float(x))
                continue
            rep = (
                frame["代表フラグ"]
                if "代表フラグ" in frame.columns
                else pd.Series(["1"] * len(frame))
            )
            order = np.argsort((rep != "1").to_numpy(), kind="stable")  # representative rows first
            sums: dict[int, list[float]] = {}
            for i in order.tolist():
                if bad[i]:
                    continue
                town = ref.add_town(
                    frame["都道府県名"].iloc[i],
                    frame["市区町村名"].iloc[i],
                    frame["大字・丁目名"].iloc[i],
                    None,
                    None,
                    koaza=frame["小字・通称名"].iloc[i],
                )
                block = normalize_address(frame["街区符号・地番"].iloc[i])
                town.blocks.setdefault(block, (float(lat[i]), float(lon[i])))
                acc = sums.setdefault(id(town), [0.0, 0.0, 0.0])
                acc[0] += lat[i]
                acc[1] += lon[i]
                acc[2] += 1
            for town in ref._towns:
                got = sums.get(id(town))
                if town.lat is None and got:
                    # No 大字・町丁目 row for this town: its point is the mean of its blocks.
                    town.lat, town.lon = got[0] / got[2], got[1] / got[2]
        if problems:
            raise InputError(problems)
        return ref

    # look-up

    @property
    def towns(self) -> int:
        """How many 町字 and 小字 entries the reference holds."""
        return len(self._towns)

    def town_names(self) -> list[tuple[str, str, str]]:
        """(prefecture, municipality, 町字 name) of every town in the reference."""
        return [(t.prefecture, t.city, t.name) for t in self._towns]

    def locate(self, address: str) -> Located:
        """Locate one address (see the module's docstring)."""
        result = self._locate_key(normalize_address(address))
        return Located(address, *result)

    @lru_cache(maxsize=65536)  # noqa: B019 - one cache per reference object is intended
    def _locate_key(
        self, s: str
    ) -> tuple[str, float | None, float | None, str, str, bool, tuple[str, ...]]:
        tried: list[str] = []
        pref = next((p for p in PREFECTURES if s.startswith(p)), None)
        rest = s[len(pref) :] if pref else s
        tried.append(f"prefecture {pref}" if pref else "no prefecture")
        cities: set[tuple[str, str]] | None = None
        for n in range(min(self._max_city, len(rest)), 0, -1):
            named = self._cities.get(rest[:n])
            if named:
                kept = {c for c in named if pref is None or c[0] == pref}
                if kept:
                    cities, rest = kept, rest[n:]
                    break
        if cities:
            tried.append("municipality " + " / ".join(sorted(f"{p}{c}" for p, c in cities)))
        else:
            tried.append("no municipality of the reference" + (f" in {pref}" if pref else ""))
        rest = rest.lstrip(" ")
        # Towns: the longest name that the text starts with, per municipality.
        matches: dict[tuple[str, str], list[tuple[int, _Town, str]]] = defaultdict(list)
        for n in range(min(self._max_town, len(rest)), 0, -1):
            key = rest[:n]
            entries = (
                [e for pc in cities for e in self._city_towns[pc].get(key, ())]
                if cities
                else self._all_towns.get(key, ())
            )
            for town, kind in entries:
                if pref is not None and town.prefecture != pref:
                    continue
                if kind == "$" and n != len(rest):
                    continue
                if kind == "" and n < len(rest) and not _FOLLOW.match(rest[n]):
                    continue
                matches[(town.prefecture, town.city)].append((n, town, kind))
        best: dict[tuple[str, str], tuple[int, list[_Town]]] = {}
        for pc, hits in matches.items():
            n = hits[0][0]
            chosen = [t for m, t, _ in hits if m == n]
            if hits[0][2] in ("-", "$"):
                # 旭町3-4 reads as 旭町三丁目4番 and as 旭町3番4号 when the town has both
                # forms; three numbers (旭町3-3-4) can only be 丁目-番-号.
                plain = [(m, t) for m, t, kind in hits if kind == "" and m < n]
                if plain and len(_NUMBERS.findall(rest[plain[0][0] :])) < 3:
                    chosen += [plain[0][1]]
            best[pc] = (n, chosen)
        if not best:
            text = rest if len(rest) <= 20 else rest[:20] + "..."
            tried.append(f"no 町字 of the reference begins '{text}'")
            return (LEVEL_NONE, None, None, "", "; ".join(tried), False, ())
        towns = {id(t): t for _, chosen in best.values() for t in chosen}
        if len(towns) > 1:
            names = tuple(sorted(t.label for t in towns.values()))
            tried.append(f"{len(names)} towns match")
            return (LEVEL_NONE, None, None, "", "; ".join(tried), True, names)
        ((n, chosen),) = best.values()
        town = chosen[0]
        after = rest[n:]
        m = _BLOCK.match(after)
        if m and town.blocks:
            point = town.blocks.get(m.group(1))
            if point is not None:
                return (
                    LEVEL_BLOCK,
                    point[1],
                    point[0],
                    f"{town.label} {m.group(1)}",
                    "",
                    False,
                    (),
                )
            tried.append(f"block {m.group(1)} not in the reference, 町字 point used")
        if town.lat is None or town.lon is None:
            tried.append(f"{town.label} has no point in the reference")
            return (LEVEL_NONE, None, None, "", "; ".join(tried), False, ())
        return (LEVEL_TOWN, town.lon, town.lat, town.label, "; ".join(tried[2:]), False, ())


@lru_cache(maxsize=1)
def _bundled() -> AddressReference:
    ref = AddressReference("bundled 町字 points of Ishikawa (data/ishikawa_machiaza.csv.gz)")
    with gzip.open(BUNDLED_REFERENCE, "rt", encoding="utf-8") as f:
        frame = pd.read_csv(io.StringIO(f.read()), dtype=str, keep_default_na=False)
    lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(frame["lng"], errors="coerce").to_numpy(dtype=float)
    for p, c, t, k, y, x in zip(
        frame["prefecture"].tolist(),
        frame["city"].tolist(),
        frame["town"].tolist(),
        frame["koaza"].tolist(),
        lat.tolist(),
        lon.tolist(),
        strict=True,
    ):
        ok = bool(np.isfinite(y) and np.isfinite(x))
        ref.add_town(p, c, t, float(y) if ok else None, float(x) if ok else None, koaza=k)
    return ref


# --- household lists -------------------------------------------------------------


def _address_column(columns: Iterable[str]) -> str | None:
    lowered = {str(c).strip().lower(): str(c) for c in columns}
    return next((lowered[n] for n in ADDRESS_COLUMNS if n in lowered), None)


def is_address_list(path: str | os.PathLike[str]) -> bool:
    """A CSV with an address column (address / 住所 / 所在地) and no coordinates."""
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".txt") or not p.exists():
        return False
    header = csv_header(p)
    if _address_column(header) is None:
        return False
    return not any(c.strip().lower() in _COORD_COLUMNS for c in header)


def geocode_households(
    path: str | os.PathLike[str],
    reference: AddressReference | None = None,
    *,
    encoding: str | None = None,
) -> NationalRead:
    """Locate a household list by address as the ``households`` layer.

    The CSV (UTF-8, UTF-8 with BOM or cp932) needs ``household_id`` (or
    世帯ID / 世帯番号) and ``address`` (or 住所 / 所在地); ``kind`` (種別)
    defaults to ``home`` with a note when the column is absent. Every row is
    kept in order: located rows get a JGD2011 point (EPSG:6668) and
    ``geocode_level`` 街区 / 町字 with ``geocode_match`` (the reference name
    matched); the others have no point, ``geocode_level`` "not found", and a
    problem each (``address_not_found`` or ``address_ambiguous``).
    """
    path = Path(path)
    file = path.name
    reference = reference or AddressReference.bundled()
    problems: list[Problem] = []
    notes: list[str] = []
    frame, enc = read_csv_text(path, encoding, problems)
    if frame is None:
        empty = gpd.GeoDataFrame({"household_id": []}, geometry=gpd.GeoSeries([], crs="EPSG:6668"))
        return NationalRead(FORMAT, "households", empty, problems, notes, enc, table=True)
    rename = {c: _RENAMES[c.lower()] for c in frame.columns if c.lower() in _RENAMES}
    column = _address_column(frame.columns)
    if column is not None:
        rename[column] = "address"
    frame = frame.rename(columns=rename)
    if "address" not in frame.columns:
        problems.append(
            Problem(
                file,
                None,
                "address",
                "columns " + ", ".join(map(str, frame.columns)),
                "an address column (address, 住所 or 所在地)",
                "missing_column",
            )
        )
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), crs="EPSG:6668"))
        return NationalRead(FORMAT, "households", gdf, problems, notes, enc, table=True)
    if "kind" not in [c.lower() for c in frame.columns]:
        frame["kind"] = "home"
        notes.append(f"{file}: no kind (種別) column; every row taken as home (世帯)")
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    levels = np.full(len(frame), LEVEL_NONE, dtype=object)
    matches = np.full(len(frame), "", dtype=object)
    reported = np.zeros(len(frame), dtype=bool)
    counts = {LEVEL_BLOCK: 0, LEVEL_TOWN: 0, LEVEL_NONE: 0}
    for i, text in enumerate(frame["address"].tolist()):
        if not str(text).strip():
            reported[i] = True
            problems.append(
                Problem(
                    file,
                    i + 1,
                    "address",
                    "an empty value",
                    "the household's address",
                    "missing_value",
                )
            )
            counts[LEVEL_NONE] += 1
            continue
        loc = reference.locate(text)
        counts[loc.level] += 1
        if loc.found:
            lon[i], lat[i] = loc.lon, loc.lat
            levels[i], matches[i] = loc.level, loc.match
            continue
        reported[i] = True
        if loc.ambiguous:
            problems.append(
                Problem(
                    file,
                    i + 1,
                    "address",
                    f"'{text}', which matches {len(loc.candidates)} towns: "
                    + ", ".join(loc.candidates),
                    "an address that names one town (add the municipality, 市区町村)",
                    "address_ambiguous",
                )
            )
        else:
            problems.append(
                Problem(
                    file,
                    i + 1,
                    "address",
                    f"'{text}' (tried: {loc.tried})",
                    f"an address whose 町字 is in the reference ({reference.source})",
                    "address_not_found",
                )
            )
    frame["geocode_level"] = levels
    frame["geocode_match"] = matches
    geoms = gpd.points_from_xy(lon, lat, crs="EPSG:6668")
    geo = np.asarray(geoms, dtype=object)
    geo[reported] = None
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geo, crs="EPSG:6668"))
    notes.append(
        f"{file}: {counts[LEVEL_BLOCK]} address(es) located at 街区 level, {counts[LEVEL_TOWN]} at "
        f"町字 level, {counts[LEVEL_NONE]} not found ({reference.source})"
    )
    return NationalRead(
        FORMAT, "households", gdf, problems, notes, enc, table=True, reported=reported
    )
