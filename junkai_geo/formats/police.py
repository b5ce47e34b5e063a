"""The prefectural police lists of 交番・駐在所 as the ``koban`` layer.

The layout is that of ``koban_japan_2024-11-20.csv`` (compiled from the
prefectural police lists): columns 都道府県名, 警察署名称, 交番・駐在所頭名,
交番・駐在所の別, 名称, 電話番号, 郵便番号, 市区町村, 全体表記, Longitude,
Latitude, iLvl (the geocoder's match level; 0 = not located), UTF-8 or cp932.

Koban ids
    ``KB-`` followed by the first 10 hex digits of the SHA-256 of
    ``都道府県名/警察署名称/名称`` (NFKC-normalised, UTF-8), for example
    ``石川県/金沢中警察署/暁町交番``. The id depends only on the prefecture,
    station and box names, not on the row order, the file or the other rows,
    so the same box keeps its id across lists and years; the name (名称,
    e.g. 湯河原交番 vs 湯河原駐在所) is used rather than the head name
    (交番・駐在所頭名), which two boxes of one station may share. Two rows
    that give the same id are a reported problem (a box listed twice).

Rows without a location
    A row whose Longitude / Latitude is empty or not a number, or whose
    ``iLvl`` is 0 (the compiler's geocoder did not locate it), is a
    problem naming its data row (1-based, in the whole file), box and field:
    the import fails, as every import is all or nothing. With
    ``skip_unlocated=True`` such rows are left out instead and each is
    listed in the notes.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import ParameterError, Problem
from .common import NationalRead, csv_header, read_csv_text

__all__ = ["POLICE_COLUMNS", "is_police_list", "koban_id", "read_police_boxes", "station_key"]

FORMAT = "police_koban"

#: Columns that identify the layout (all must be present).
POLICE_COLUMNS = ("都道府県名", "警察署名称", "交番・駐在所の別", "名称", "Longitude", "Latitude")

_KINDS = {"交番": "koban", "駐在所": "chuzaisho"}
_KEEP = {
    "都道府県名": "prefecture",
    "交番・駐在所頭名": "head_name",
    "電話番号": "phone_number",
    "郵便番号": "postal_code",
    "市区町村": "municipality",
    "全国地方公共団体コード": "municipality_code",
    "全体表記": "address",
    "iLvl": "ilvl",
}


def koban_id(prefecture: str, station: str, name: str) -> str:
    """The stable id of a box: ``KB-`` + 10 hex digits of SHA-256("県/署/名称")."""
    key = "/".join(unicodedata.normalize("NFKC", s).strip() for s in (prefecture, station, name))
    return "KB-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


def is_police_list(path: str | os.PathLike[str]) -> bool:
    """Whether a CSV has the police list's columns."""
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".txt"):
        return False
    header = set(csv_header(p))
    return all(c in header for c in POLICE_COLUMNS)


def _pref_key(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    if name != "北海道" and name[-1:] in ("都", "府", "県"):
        return name[:-1]
    return name


def station_key(name: str) -> str:
    """A police station's name for comparison: NFKC (full / half width), no 警察署 suffix.

    ``station_key("金沢東警察署") == station_key("金沢東署") == station_key("金沢東")
    == "金沢東"``.
    """
    name = unicodedata.normalize("NFKC", name).strip()
    for suffix in ("警察署", "署"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def read_police_boxes(
    path: str | os.PathLike[str],
    *,
    prefecture: str | list[str] | None = None,
    station: str | list[str] | None = None,
    skip_unlocated: bool = False,
    encoding: str | None = None,
) -> NationalRead:
    """Read a police list of 交番・駐在所 as the ``koban`` layer.

    ``prefecture`` (石川県 or 石川) and ``station`` (金沢中警察署 or 金沢中)
    keep only the rows of those prefectures / stations (a list keeps any of
    them); a filter that keeps no row is a problem. Output columns:
    ``koban_id, name, kind, station`` then ``prefecture, head_name,
    phone_number, postal_code, municipality, municipality_code, address,
    ilvl, source_row``; points in JGD2011 (EPSG:6668).
    """
    path = Path(path)
    file = path.name
    problems: list[Problem] = []
    notes: list[str] = []
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in ("koban_id", "name", "kind", "station")},
        geometry=gpd.GeoSeries([], crs="EPSG:6668"),
    )
    frame, enc = read_csv_text(path, encoding, problems)
    if frame is None:
        return NationalRead(FORMAT, "koban", empty, problems, notes, enc)
    missing = [c for c in POLICE_COLUMNS if c not in frame.columns]
    if missing:
        problems.append(
            Problem(
                file,
                None,
                ", ".join(missing),
                f"columns {', '.join(map(str, frame.columns))}",
                "the police list's columns " + ", ".join(POLICE_COLUMNS),
                "missing_column",
            )
        )
        return NationalRead(FORMAT, "koban", empty, problems, notes, enc)
    frame = frame.map(lambda v: unicodedata.normalize("NFKC", v).strip())
    frame["source_row"] = np.arange(1, len(frame) + 1)
    keep = np.ones(len(frame), dtype=bool)
    for column, wanted, key, what in (
        ("都道府県名", prefecture, _pref_key, "prefecture"),
        ("警察署名称", station, station_key, "station"),
    ):
        if wanted is None:
            continue
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        if not values:
            raise ParameterError(f"{what}: found an empty list; expected one or more names")
        keys = {key(v) for v in values}
        match = frame[column].map(key).isin(keys).to_numpy()
        if not (match & keep).any():
            problems.append(
                Problem(
                    file,
                    None,
                    column,
                    f"no row of {what} {', '.join(values)}"
                    + (
                        " among the rows kept by the other filter"
                        if keep.sum() < len(frame)
                        else ""
                    ),
                    f"a {what} named in the file (e.g. {frame[column].iloc[0] if len(frame) else '-'})",
                    "filter_empty",
                )
            )
        keep &= match
    rows = frame[keep].reset_index(drop=True)
    if len(frame) and keep.sum() < len(frame):
        notes.append(f"{file}: {int(keep.sum())} of {len(frame)} rows kept by the filter")

    # Kind: 交番 / 駐在所, or (empty) read from the end of the name.
    kinds = rows["交番・駐在所の別"].map(_KINDS)
    from_name = kinds.isna() & (rows["交番・駐在所の別"] == "")
    for suffix, kind in _KINDS.items():
        fill = from_name & rows["名称"].str.endswith(suffix)
        kinds[fill] = kind
        for i in np.flatnonzero(fill.to_numpy()).tolist():
            notes.append(
                f"{file}, row {rows['source_row'][i]}: 交番・駐在所の別 empty; "
                f"'{suffix}' taken from the name {rows['名称'][i]}"
            )
    bad: set[int] = set()
    for i in np.flatnonzero(kinds.isna().to_numpy()).tolist():
        bad.add(i)
        problems.append(
            Problem(
                file,
                int(rows["source_row"][i]),
                "交番・駐在所の別",
                f"{rows['交番・駐在所の別'][i]!r} for {rows['名称'][i]}",
                "交番 or 駐在所 (or empty with a name ending in 交番 / 駐在所)",
                "unknown_enum",
            )
        )
    for column in ("名称", "警察署名称", "都道府県名"):
        for i in np.flatnonzero((rows[column] == "").to_numpy()).tolist():
            bad.add(i)
            problems.append(
                Problem(
                    file,
                    int(rows["source_row"][i]),
                    column,
                    "an empty value",
                    "the box's "
                    + {"名称": "name", "警察署名称": "station", "都道府県名": "prefecture"}[column],
                    "missing_value",
                )
            )

    # Location.
    lon = pd.to_numeric(rows["Longitude"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(rows["Latitude"], errors="coerce").to_numpy(dtype=float)
    level = rows["iLvl"] if "iLvl" in rows.columns else pd.Series([""] * len(rows))
    unlocated: list[tuple[int, str, str, str]] = []
    for i in range(len(rows)):
        if not (np.isfinite(lon[i]) and np.isfinite(lat[i])):
            field = "Longitude" if not np.isfinite(lon[i]) else "Latitude"
            raw = rows[field][i]
            unlocated.append(
                (
                    i,
                    field,
                    f"{raw!r}" if raw else "an empty value",
                    "a longitude and latitude in degrees",
                )
            )
        elif level[i] == "0":
            unlocated.append(
                (
                    i,
                    "iLvl",
                    f"0 (not located by the geocoder; Longitude {rows['Longitude'][i]}, "
                    f"Latitude {rows['Latitude'][i]} are not the box's place)",
                    "a located row (iLvl 1-7), or leave the box out with skip_unlocated",
                )
            )
    skipped: set[int] = set()
    for i, field, found, expected in unlocated:
        where = f"{rows['警察署名称'][i]} {rows['名称'][i]} ({rows['全体表記'][i] if '全体表記' in rows.columns else ''})"
        if skip_unlocated:
            skipped.add(i)
            notes.append(f"{file}, row {rows['source_row'][i]}: {where} left out: {field} {found}")
        else:
            bad.add(i)
            problems.append(
                Problem(
                    file,
                    int(rows["source_row"][i]),
                    field,
                    f"{found} for {where}",
                    expected,
                    "unlocated",
                )
            )

    ids = [
        koban_id(p, s, n)
        for p, s, n in zip(rows["都道府県名"], rows["警察署名称"], rows["名称"], strict=True)
    ]
    out = pd.DataFrame(
        {
            "koban_id": ids,
            "name": rows["名称"],
            "kind": kinds,
            "station": rows["警察署名称"],
        }
    )
    for src, dst in _KEEP.items():
        if src in rows.columns:
            out[dst] = rows[src]
    out["source_row"] = rows["source_row"]
    twice = out["koban_id"].duplicated(keep=False).to_numpy()
    for i in np.flatnonzero(twice).tolist():
        first = int(np.flatnonzero((out["koban_id"] == out["koban_id"][i]).to_numpy())[0])
        if first == i:
            continue
        bad.add(i)
        problems.append(
            Problem(
                file,
                int(rows["source_row"][i]),
                "名称",
                f"{rows['警察署名称'][i]} {rows['名称'][i]} listed again (first at row {rows['source_row'][first]})",
                "each box once per station",
                "duplicate_id",
            )
        )
    drop = sorted(bad | skipped)
    geoms = gpd.points_from_xy(lon, lat, crs="EPSG:6668")
    gdf = gpd.GeoDataFrame(out, geometry=geoms)
    gdf = gdf.drop(index=drop).reset_index(drop=True)
    if skipped:
        notes.append(f"{file}: {len(skipped)} unlocated row(s) left out (skip_unlocated)")
    return NationalRead(FORMAT, "koban", gdf, problems, notes, enc)
