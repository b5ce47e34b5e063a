"""e-Stat small-area boundaries (国勢調査 町丁・字等別境界) as the ``units`` layer.

The published Shapefile has a cp932 ``.dbf`` (no ``.cpg``) with the fields
``KEY_CODE`` (small-area code), ``MOJI`` (町丁・字 name), ``HCODE`` (8101
ordinary area, 8154 water area), ``AREA`` (m²), ``JINKO`` (people), ``SETAI``
(households), ``KEN`` / ``CITY`` / ``KEN_NAME`` / ``GST_NAME`` /
``CSS_NAME`` and a ``.prj`` (JGD2000 or JGD2011 longitude / latitude).

* A 町丁目 in several parts (飛び地) has one record per part under the same
  ``KEY_CODE``; e-Stat puts its counts on one part and 0 on the others. The
  parts become one unit (a MultiPolygon): ``AREA``, ``JINKO`` and ``SETAI``
  are summed, and a note lists the merged codes. Parts that share a
  ``KEY_CODE`` but differ in ``MOJI``, ``HCODE`` or the municipality fields
  are a problem (two places under one code cannot be told apart).
* Water areas (``HCODE`` 8154) are left out, with a note.
* The ``.prj`` is required (or an explicit ``crs``): a missing one is a
  problem naming the file and the expected ``.prj``.
"""

from __future__ import annotations

import os
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ..errors import Problem
from .common import NationalRead

__all__ = ["ESTAT_FIELDS", "WATER_HCODE", "is_estat_boundary", "read_estat_boundaries"]

FORMAT = "estat_boundary"

#: Fields that identify the e-Stat layout.
ESTAT_FIELDS = ("KEY_CODE", "MOJI", "HCODE", "JINKO", "SETAI")
#: HCODE of water areas (水面調査区).
WATER_HCODE = 8154
#: Fields that must agree between the parts of one KEY_CODE.
IDENTITY_FIELDS = ("MOJI", "HCODE", "KEN", "CITY", "KEN_NAME", "GST_NAME", "CSS_NAME")
_SUMMED = ("AREA", "JINKO", "SETAI")
# GeoJSON is not looked into: GDAL parses a whole GeoJSON file to list its fields.
_SHAPE_SUFFIXES = {".shp", ".dbf", ".gpkg", ".zip"}


def _fields(path: Path) -> list[str]:
    try:
        info = pyogrio.read_info(path)
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return []
    return [str(f) for f in info["fields"]]


def is_estat_boundary(path: str | os.PathLike[str]) -> bool:
    """Whether a vector file has the e-Stat small-area fields."""
    p = Path(path)
    if p.suffix.lower() not in _SHAPE_SUFFIXES or not p.exists():
        return False
    fields = {f.upper() for f in _fields(p)}
    return all(f in fields for f in ESTAT_FIELDS)


def _text(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return unicodedata.normalize("NFC", str(v)).strip()


def _sidecars(path: Path) -> tuple[bool, bool, str]:
    """Whether a Shapefile (or a .zip of one) has its .prj and .cpg; the .prj's name."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                names = [n.lower() for n in z.namelist()]
        except (OSError, zipfile.BadZipFile):
            return True, True, ""  # let the reader report the file
        shp = next((n for n in names if n.endswith(".shp")), path.stem + ".shp")
        prj = shp[:-4] + ".prj"
        return prj in names, shp[:-4] + ".cpg" in names, f"{path.name}:{prj}"
    if suffix in (".shp", ".dbf"):
        return (
            path.with_suffix(".prj").exists(),
            path.with_suffix(".cpg").exists(),
            path.with_suffix(".prj").name,
        )
    return True, True, ""  # GeoPackage: CRS and encoding are in the file


def _merge(parts: list[Any]) -> Any:
    """The parts of one KEY_CODE as one MultiPolygon (dissolved where they overlap)."""
    polys: list[Any] = []
    for g in parts:
        if g is None or g.is_empty:
            continue
        polys.extend(getattr(g, "geoms", [g]))
    if not polys:
        return None
    if len(polys) == 1:
        return polys[0]
    if all(isinstance(p, shapely.Polygon) for p in polys):
        multi = shapely.MultiPolygon(polys)
        if multi.is_valid:
            return multi
    return shapely.union_all(np.asarray(polys, dtype=object))


def read_estat_boundaries(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    encoding: str | None = None,
) -> NationalRead:
    """Read an e-Stat 町丁・字等別境界 Shapefile as the ``units`` layer.

    Output columns: ``unit_id`` (KEY_CODE), ``name`` (MOJI),
    ``households`` (SETAI), ``area_m2`` (AREA), ``beat_id`` (empty), then
    ``population`` (JINKO), ``municipality`` (GST_NAME, else CITY_NAME),
    ``city_code`` (KEN + CITY), ``hcode``, ``parts``; geometry in the
    file's CRS. ``encoding`` defaults to the ``.cpg`` when there is one,
    else cp932 (as e-Stat publishes).
    """
    path = Path(path)
    file = path.name
    problems: list[Problem] = []
    notes: list[str] = []
    columns = ["unit_id", "name", "households", "area_m2", "beat_id"]
    empty = gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in columns}, geometry=gpd.GeoSeries([])
    )
    has_prj, has_cpg, prj_name = _sidecars(path)
    if crs is None and not has_prj:
        problems.append(
            Problem(
                file,
                None,
                "crs",
                f"no .prj file ({prj_name} is missing)",
                "the .prj published with the e-Stat boundary data (JGD2000 / JGD2011 "
                "longitude / latitude) beside the .shp, or an explicit CRS (--crs EPSG:4612)",
                "missing_crs",
            )
        )
        return NationalRead(FORMAT, "units", empty, problems, notes, None)
    if encoding is None and not has_cpg:
        encoding = "cp932"
    try:
        gdf = (
            pyogrio.read_dataframe(path, encoding=encoding)
            if encoding
            else pyogrio.read_dataframe(path)
        )
    except (
        OSError,
        ValueError,
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
    ) as exc:
        problems.append(
            Problem(
                file,
                None,
                None,
                f"a file that cannot be read ({type(exc).__name__}: {exc})",
                "an e-Stat boundary Shapefile (.shp, .shx, .dbf, .prj)",
                "unreadable",
            )
        )
        return NationalRead(FORMAT, "units", empty, problems, notes, encoding)
    if crs is not None:
        gdf = gdf.set_crs(crs, allow_override=True)
    gdf = gdf.rename(columns={c: str(c).upper() for c in gdf.columns if c != gdf.geometry.name})
    missing = [f for f in ESTAT_FIELDS if f not in gdf.columns]
    if missing:
        problems.append(
            Problem(
                file,
                None,
                ", ".join(missing),
                "fields " + ", ".join(c for c in gdf.columns if c != gdf.geometry.name),
                "the e-Stat fields " + ", ".join(ESTAT_FIELDS),
                "missing_column",
            )
        )
        return NationalRead(FORMAT, "units", empty, problems, notes, encoding)
    gdf["_feature"] = np.arange(1, len(gdf) + 1)
    gdf["KEY_CODE"] = gdf["KEY_CODE"].map(_text)
    hcode = pd.to_numeric(gdf["HCODE"], errors="coerce")
    water = (hcode == WATER_HCODE).to_numpy()
    if water.any():
        names = [
            f"{k} {m}" for k, m in zip(gdf["KEY_CODE"][water], gdf["MOJI"][water], strict=True)
        ]
        notes.append(
            f"{file}: {int(water.sum())} water area part(s) (HCODE {WATER_HCODE}) left out: "
            + ", ".join(names[:10])
            + (" ..." if len(names) > 10 else "")
        )
    gdf = gdf[~water].reset_index(drop=True)
    for i in np.flatnonzero((gdf["KEY_CODE"] == "").to_numpy()):
        problems.append(
            Problem(
                file,
                int(gdf["_feature"][i]),
                "KEY_CODE",
                "an empty value",
                "the small-area code",
                "missing_value",
            )
        )
    gdf = gdf[gdf["KEY_CODE"] != ""].reset_index(drop=True)
    identity = [f for f in IDENTITY_FIELDS if f in gdf.columns]
    for f in identity:
        gdf[f] = gdf[f].map(_text)
    for f in _SUMMED:
        gdf[f] = pd.to_numeric(gdf[f], errors="coerce").fillna(0) if f in gdf.columns else 0.0
    multi = gdf["KEY_CODE"].duplicated(keep=False).to_numpy()
    merged: list[str] = []
    geometry = gdf.geometry.to_numpy().copy()
    for key, group in gdf[multi].groupby("KEY_CODE", sort=False):
        for field in identity:
            values = list(group[field])
            if len(set(values)) > 1:
                feats = ", ".join(
                    f"feature {f} {field}={v!r}"
                    for f, v in zip(group["_feature"], values, strict=True)
                )
                problems.append(
                    Problem(
                        file,
                        str(key),
                        field,
                        f"{len(group)} parts of KEY_CODE {key} that differ: {feats}",
                        f"the same {field} in every part of one KEY_CODE (parts of one "
                        "町丁・字 differ only in geometry, AREA, JINKO and SETAI)",
                        "duplicate_key_different",
                    )
                )
        merged.append(f"{key} {group['MOJI'].iloc[0]} ({len(group)})")
        geometry[group.index[0]] = _merge(list(group.geometry))
    first = ~gdf["KEY_CODE"].duplicated(keep="first").to_numpy()
    sums = gdf.groupby("KEY_CODE", sort=False)[list(_SUMMED)].transform("sum")
    parts = gdf.groupby("KEY_CODE", sort=False)["KEY_CODE"].transform("size")
    muni = (
        gdf["GST_NAME"]
        if "GST_NAME" in gdf.columns
        else gdf.get("CITY_NAME", pd.Series([""] * len(gdf)))
    )
    code = (
        gdf["KEN"].astype(str) + gdf["CITY"].astype(str)
        if {"KEN", "CITY"} <= set(gdf.columns)
        else pd.Series([""] * len(gdf))
    )
    out = pd.DataFrame(
        {
            "unit_id": gdf["KEY_CODE"],
            "name": gdf["MOJI"].map(lambda v: unicodedata.normalize("NFKC", _text(v))),
            "households": sums["SETAI"].round().astype(int),
            "area_m2": sums["AREA"].astype(float),
            "beat_id": None,
            "population": sums["JINKO"].round().astype(int),
            "municipality": muni.map(_text),
            "city_code": code.map(_text),
            "hcode": gdf["HCODE"].map(_text),
            "parts": parts.astype(int),
        }
    )
    out = out[first].reset_index(drop=True)
    frame = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry[first], crs=gdf.crs))
    if merged:
        notes.append(
            f"{file}: {len(merged)} KEY_CODE(s) in several parts merged into one unit "
            "(MultiPolygon; AREA, JINKO, SETAI summed): "
            + ", ".join(merged[:10])
            + (" ..." if len(merged) > 10 else "")
        )
    return NationalRead(FORMAT, "units", frame, problems, notes, encoding)
