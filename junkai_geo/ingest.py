"""Validated import of koban, beats, units, buildings, households, officers, visits.

Files may be GeoJSON, GeoPackage, Shapefile, GeoParquet or CSV. A CSV (or a
plain Parquet table) places its rows with longitude / latitude columns
(``lon``/``lng``/``longitude`` and ``lat``/``latitude``, read as JGD2011,
EPSG:6668, unless ``crs`` says otherwise), with ``x``/``y`` columns in the
CRS given by ``crs``, or with a ``wkt`` column. CSV text may be UTF-8, UTF-8
with BOM or cp932 (Shift_JIS); the encoding is detected.

Spatial layers come out in a metric CRS: the Japan Plane Rectangular CS zone
of the data (EPSG:6675 in Ishikawa), elsewhere the UTM zone
(:func:`junkai_geo.projection.metric_crs_for`). Every problem of a file is
collected and raised together as one :class:`~junkai_geo.errors.InputError`;
an import is all or nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from pyproj.exceptions import CRSError

from .errors import InputError, ParameterError, Problem, ProblemList
from .formats import NationalOptions, detect_format, read_national
from .model import Dataset
from .projection import JAPAN_BOUNDS, metric_crs_for
from .validation import (
    COLUMN_ALIASES,
    ID_COLUMN,
    LAYERS,
    SPATIAL_LAYERS,
    IngestParams,
    LayerChecker,
    check_dataset,
    check_geometries,
    convert_columns,
    row_labels,
)

__all__ = [
    "IngestParams",
    "LayerReport",
    "check_dataset",
    "inspect_layer",
    "read_dataset",
    "read_layer",
    "validate_layer",
]

PathLike = str | os.PathLike[str]

#: CRS of longitude / latitude columns when none is given: JGD2011.
DEFAULT_LONLAT_CRS = "EPSG:6668"

_LON_NAMES = ("lon", "lng", "long", "longitude", "経度")
_LAT_NAMES = ("lat", "latitude", "緯度")
_WKT_NAMES = ("wkt", "geometry", "geom")
_TABLE_SUFFIXES = {".csv", ".txt", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".geoparquet"}
_GEOJSON_CRS_RE = re.compile(r'"crs"\s*:\s*\{.*?"name"\s*:\s*"([^"]*)"', re.S)


@dataclass
class LayerReport:
    """What importing one file found: problems, notes, CRS and size."""

    file: str
    layer: str
    rows: int = 0
    source_crs: str | None = None
    crs: str | None = None
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=ProblemList)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["problems"] = [p.to_dict() for p in self.problems]
        return d


@dataclass
class _Raw:
    frame: pd.DataFrame
    geoms: np.ndarray | None
    crs: pyproj.CRS | None
    implicit_crs: bool  # the CRS is a format default, not declared
    table: bool  # rows are numbered lines (CSV), not features
    reported: np.ndarray | None = None  # rows whose coordinates were already reported


# --- public API ---------------------------------------------------------


def read_layer(
    path: PathLike,
    layer: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    repair: bool = False,
    today: date | None = None,
    national: NationalOptions | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read, check and normalise one layer file.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile, (Geo)Parquet or CSV file.
    layer
        One of ``koban, beats, units, buildings, households, officers, visits``.
    crs
        CRS of the coordinates when the file does not declare one (x/y
        columns), or to override the file's.
    encoding
        Text encoding of a CSV; detected when ``None``.
    repair
        Repair invalid polygons with ``shapely.make_valid`` (noted in
        ``frame.attrs["notes"]``) instead of reporting them.
    today
        Dates after this day are errors; defaults to the current date.
    national
        Options of the national formats (police-list filters, address
        reference files: :class:`junkai_geo.formats.NationalOptions`).

    Returns
    -------
    GeoDataFrame in the metric CRS for spatial layers, DataFrame for
    ``officers`` and ``visits``; canonical columns first, extra columns kept.

    Raises
    ------
    InputError
        With every problem of the file.
    """
    report, frame = _load_layer(
        path,
        layer,
        crs=crs,
        encoding=encoding,
        repair=repair,
        today=today or date.today(),
        national=national,
    )
    if report.problems:
        raise InputError(report.problems)
    assert frame is not None
    return frame


def validate_layer(
    path: PathLike,
    layer: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    repair: bool = False,
    today: date | None = None,
    national: NationalOptions | None = None,
) -> list[Problem]:
    """Every problem of one layer file (empty when clean); never raises for bad data."""
    return inspect_layer(
        path, layer, crs=crs, encoding=encoding, repair=repair, today=today, national=national
    ).problems


def inspect_layer(
    path: PathLike,
    layer: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    repair: bool = False,
    today: date | None = None,
    national: NationalOptions | None = None,
) -> LayerReport:
    """Import report of one layer file: problems, repairs, CRS, encoding, rows."""
    report, _ = _load_layer(
        path,
        layer,
        crs=crs,
        encoding=encoding,
        repair=repair,
        today=today or date.today(),
        national=national,
    )
    return report


def read_dataset(
    paths: dict[str, PathLike],
    *,
    crs: str | None = None,
    today: date | None = None,
    repair: bool = False,
    validate: bool = True,
    params: IngestParams | None = None,
    national: NationalOptions | None = None,
) -> Dataset:
    """Read several layers as one dataset, all or nothing.

    ``paths`` maps layer names to files. Each layer is checked alone, then
    the layers together (:func:`check_dataset`); every problem across the
    files is raised in one :class:`InputError` and nothing is returned. All
    spatial layers share the metric CRS of the first spatial layer read
    (beats, households, units, koban, buildings in that order).
    ``validate=False`` skips the cross-layer checks (for trusted data);
    ``params`` sets their tolerances; ``national`` the options of the
    national formats.
    """
    unknown = sorted(set(paths) - set(LAYERS))
    if unknown:
        raise ParameterError(
            f"read_dataset: unknown layer(s) {unknown}; expected some of {list(LAYERS)}"
        )
    today = today or date.today()
    order = [
        name
        for name in ("beats", "households", "units", "koban", "buildings", "officers", "visits")
        if name in paths
    ]
    problems: list[Problem] = []
    notes: list[str] = []
    layers: dict[str, Any] = {}
    target: str | None = None
    for name in order:
        # Visit dates are checked against ``today`` by check_dataset, with ids.
        report, frame = _load_layer(
            paths[name],
            name,
            crs=crs,
            encoding=None,
            repair=repair,
            today=None if name == "visits" else today,
            target_crs=target,
            national=national,
        )
        problems += report.problems
        notes += report.notes
        layers[name] = frame
        if target is None and report.crs is not None and name in SPATIAL_LAYERS:
            target = report.crs
    dataset = Dataset(crs=target or "", notes=notes, **layers)
    if validate:
        problems += check_dataset(dataset, today=today, params=params)
    if problems:
        raise InputError(problems)
    return dataset


# --- loading --------------------------------------------------------------


def _load_layer(
    path: PathLike,
    layer: str,
    *,
    crs: str | None,
    encoding: str | None,
    repair: bool,
    today: date | None,
    target_crs: str | None = None,
    national: NationalOptions | None = None,
) -> tuple[LayerReport, Any]:
    if layer not in LAYERS:
        raise ParameterError(f"layer: found {layer!r}; expected one of {', '.join(LAYERS)}")
    path = Path(path)
    report = LayerReport(file=path.name, layer=layer)
    raw = _read_raw(path, layer, crs=crs, encoding=encoding, report=report, national=national)
    if raw is None:
        return report, None
    frame = raw.frame
    names = pd.Index([str(c).strip().lstrip("\ufeff").lower() for c in frame.columns])
    twice = names.duplicated()
    for name in sorted(set(names[twice])):
        report.problems.append(
            Problem(
                report.file,
                None,
                name,
                f"{int((names == name).sum())} columns named '{name}' (ignoring case and spaces)",
                "one column of each name",
                "duplicate_column",
            )
        )
    frame = frame.loc[:, ~twice]
    frame.columns = _canonical_names(names[~twice], layer, report)
    frame = frame.reset_index(drop=True)
    report.rows = len(frame)
    report.source_crs = raw.crs.to_string() if raw.crs is not None else None
    id_col = ID_COLUMN[layer]
    labels = row_labels(
        frame[id_col] if id_col in frame.columns else None, len(frame), table=raw.table
    )
    check = LayerChecker(report.file, labels, report.problems)
    attrs = convert_columns(frame, layer, check, today=today)
    if layer not in SPATIAL_LAYERS:
        attrs.attrs["source"] = report.file
        attrs.attrs["notes"] = report.notes
        return report, attrs
    geoms = np.full(len(frame), None, dtype=object)
    metric: str | None = target_crs
    if raw.geoms is not None:
        geoms, usable, notes = check_geometries(
            raw.geoms, layer, check, repair=repair, skip=raw.reported
        )
        report.notes += notes
        if raw.crs is not None:
            usable, lon, lat = _check_location(geoms, usable, raw.crs, raw.implicit_crs, check)
            if metric is None and lon.size:
                metric = metric_crs_for(float(np.median(lon)), float(np.median(lat)))
        else:
            usable[:] = False
        geoms = np.asarray(geoms, dtype=object)
        geoms[~usable] = None
    if metric is None or raw.crs is None:
        # Without a source CRS no geometry is usable (all None): label the
        # empty column with the dataset's CRS so the cross-layer checks run.
        out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs=metric))
    else:
        out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs=raw.crs)).to_crs(metric)
    if layer == "units" and "area_m2" in out.columns and metric is not None:
        out["area_m2"] = out["area_m2"].fillna(out.geometry.area)
    report.crs = metric
    out.attrs["source"] = report.file
    out.attrs["notes"] = report.notes
    return report, out


def _canonical_names(names: pd.Index, layer: str, report: LayerReport) -> pd.Index:
    """Japanese column names (``COLUMN_ALIASES``) to the canonical ones.

    A Japanese name is used only when the canonical column is absent, so a
    file with both keeps the canonical one.
    """
    aliases = COLUMN_ALIASES.get(layer, {})
    present = set(names)
    out = []
    for n in names:
        canonical = aliases.get(n)
        if canonical is not None and canonical not in present:
            present.add(canonical)
            report.notes.append(f"{report.file}: column '{n}' read as '{canonical}'")
            out.append(canonical)
        else:
            out.append(n)
    return pd.Index(out)


def _read_raw(
    path: Path,
    layer: str,
    *,
    crs: str | None,
    encoding: str | None,
    report: LayerReport,
    national: NationalOptions | None = None,
) -> _Raw | None:
    problems = report.problems
    given: pyproj.CRS | None = None
    if crs is not None:
        try:
            given = pyproj.CRS.from_user_input(crs)
        except CRSError:
            problems.append(
                Problem(
                    report.file,
                    None,
                    "crs",
                    f"crs {crs!r}, unknown to PROJ",
                    "a known CRS such as EPSG:6668 or EPSG:6675",
                    "unknown_crs",
                )
            )
            return None
    if not path.exists():
        problems.append(
            Problem(report.file, None, None, f"no file at {path}", "an existing file", "unreadable")
        )
        return None
    if detect_format(path, layer) is not None:
        return _read_national(path, layer, crs, encoding, report, national)
    suffix = path.suffix.lower()
    spatial = layer in SPATIAL_LAYERS
    if suffix in _TABLE_SUFFIXES:
        frame = _read_csv(path, encoding, report)
        if frame is None:
            return None
        return _table_geometry(frame, spatial, given, report)
    if suffix in _PARQUET_SUFFIXES:
        return _read_parquet(path, spatial, given, report)
    return _read_ogr(path, layer, spatial, given, report)


def _read_national(
    path: Path,
    layer: str,
    crs: str | None,
    encoding: str | None,
    report: LayerReport,
    national: NationalOptions | None,
) -> _Raw | None:
    """A file in a national format (e-Stat, police list, address list): see ``formats``."""
    read = read_national(path, layer, options=national, crs=crs, encoding=encoding)
    report.problems += read.problems
    report.notes.append(f"{report.file}: read as {read.format}")
    report.notes += read.notes
    report.encoding = read.encoding
    frame = read.frame
    if frame.crs is None:
        return None if read.problems else _Raw(pd.DataFrame(frame), None, None, False, read.table)
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return _Raw(attrs, frame.geometry.to_numpy(), frame.crs, False, read.table, read.reported)


# Errors that libraries raise for a file they cannot parse (only the reading
# calls are guarded, so a bug here is not reported as a bad file).
_READ_ERRORS = (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError)


def _unreadable(report: LayerReport, exc: Exception) -> None:
    if isinstance(exc, MemoryError):
        # Arrow's ArrowMemoryError is also an ArrowException: running out of
        # memory is the reader's budget (api/import_sandbox.py), not the file
        # being unreadable, so it is not reported as such.
        raise exc
    report.problems.append(
        Problem(
            report.file,
            None,
            None,
            f"a file that cannot be read ({type(exc).__name__}: {exc})",
            "a readable GeoJSON, GeoPackage, Shapefile, GeoParquet or CSV file",
            "unreadable",
        )
    )


def _decode(data: bytes, encoding: str | None, report: LayerReport) -> str | None:
    if encoding is not None:
        try:
            report.encoding = encoding
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n")
            report.problems.append(
                Problem(
                    report.file,
                    line if line > 0 else None,
                    None,
                    f"bytes {data[exc.start : exc.end]!r} that are not {encoding}",
                    f"text in {encoding} (or leave the encoding out to detect it)",
                    "encoding",
                )
            )
            return None
        except LookupError:
            raise ParameterError(
                f"encoding: found {encoding!r}; expected a Python codec name "
                "such as utf-8, utf-8-sig or cp932"
            ) from None
    # UTF-8 first (with or without BOM): cp932 decodes much UTF-8 as mojibake.
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        report.encoding = (
            "utf-8-sig"
            if enc == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf")
            else ("utf-8" if enc == "utf-8-sig" else enc)
        )
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding:
        report.encoding = best.encoding
        report.notes.append(f"{report.file}: text read as {best.encoding} (detected)")
        return str(best)
    report.problems.append(
        Problem(
            report.file,
            None,
            None,
            "text in an unknown encoding",
            "UTF-8, UTF-8 with BOM or cp932 (Shift_JIS)",
            "encoding",
        )
    )
    return None


def _read_csv(path: Path, encoding: str | None, report: LayerReport) -> pd.DataFrame | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        _unreadable(report, exc)
        return None
    text = _decode(data, encoding, report)
    if text is None:
        return None
    first = text.split("\n", 1)[0]
    sep = "\t" if first.count("\t") > first.count(",") else ","
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        report.problems.append(
            Problem(
                report.file,
                None,
                None,
                f"text that is not CSV ({exc})",
                "a CSV table with a header row",
                "unreadable",
            )
        )
        return None


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {str(c).strip().lstrip("\ufeff").lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _table_geometry(
    frame: pd.DataFrame, spatial: bool, given: pyproj.CRS | None, report: LayerReport
) -> _Raw:
    """Geometry of a table from lon/lat, x/y or WKT columns."""
    if not spatial:
        return _Raw(frame, None, None, False, table=True)
    cols = list(frame.columns)
    lon, lat = _find(cols, _LON_NAMES), _find(cols, _LAT_NAMES)
    x, y = _find(cols, ("x",)), _find(cols, ("y",))
    wkt = _find(cols, _WKT_NAMES)
    file = report.file
    labels = np.arange(1, len(frame) + 1, dtype=object)
    check = LayerChecker(file, labels, report.problems)
    crs: pyproj.CRS | None = given
    implicit = False
    if lon is not None and lat is not None:
        if given is None:
            crs, implicit = pyproj.CRS.from_user_input(DEFAULT_LONLAT_CRS), True
        elif not given.is_geographic:
            report.problems.append(
                Problem(
                    file,
                    None,
                    "crs",
                    f"{given.to_string()} ({given.name}), a projected CRS, "
                    f"for the longitude/latitude columns '{lon}', '{lat}'",
                    "a geographic CRS such as EPSG:6668, or x/y columns",
                    "wrong_crs",
                )
            )
            crs = None
        (xs, bx), (ys, by) = _numbers(frame[lon], lon, check), _numbers(frame[lat], lat, check)
        geoms, reported = _points(xs, ys, bx, by)
        used = [lon, lat]
    elif x is not None and y is not None:
        (xs, bx), (ys, by) = _numbers(frame[x], x, check), _numbers(frame[y], y, check)
        geoms, reported = _points(xs, ys, bx, by)
        used = [x, y]
        if given is None:
            report.problems.append(
                Problem(
                    file,
                    None,
                    "crs",
                    f"x/y columns '{x}', '{y}' without a CRS",
                    "the CRS of x/y given with --crs (crs=...), e.g. EPSG:6675",
                    "missing_crs",
                )
            )
    elif wkt is not None:
        text = frame[wkt].astype(object).where(frame[wkt].astype(str).str.strip() != "", None)
        geoms = shapely.from_wkt(text.to_numpy(dtype=object), on_invalid="ignore")
        bad = text.notna().to_numpy() & shapely.is_missing(geoms)
        check.add(bad, wkt, text.map(lambda v: repr(str(v)[:40])), "a WKT geometry", "bad_wkt")
        reported = bad
        used = [wkt]
        if given is None:
            report.problems.append(
                Problem(
                    file,
                    None,
                    "crs",
                    f"a WKT column '{wkt}' without a CRS",
                    "the CRS of the WKT given with --crs (crs=...), e.g. EPSG:6668",
                    "missing_crs",
                )
            )
    else:
        report.problems.append(
            Problem(
                file,
                None,
                "geometry",
                f"no coordinate columns (columns: {', '.join(map(str, cols))})",
                "columns lon/lng/longitude and lat/latitude, or x and y, or wkt",
                "no_geometry",
            )
        )
        return _Raw(frame, None, None, False, table=True)
    # A point whose coordinate is "nan" stays a NaN point, reported as such.
    return _Raw(
        frame.drop(columns=used), np.asarray(geoms, dtype=object), crs, implicit, True, reported
    )


def _points(
    xs: np.ndarray, ys: np.ndarray, bad_x: np.ndarray, bad_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points from coordinate arrays; a row with an empty coordinate has none."""
    empty = np.isinf(xs) | np.isinf(ys)
    geoms = np.asarray(shapely.points(np.where(empty, 0, xs), np.where(empty, 0, ys)), dtype=object)
    geoms[empty] = None
    return geoms, bad_x | bad_y


def _numbers(raw: pd.Series, column: str, check: LayerChecker) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates as floats (inf where empty or bad) and the mask of bad ones."""
    text = raw.astype(str).str.strip()
    num = np.array(pd.to_numeric(text.where(text != "", np.nan), errors="coerce"), dtype=float)
    bad = (text != "").to_numpy() & np.isnan(num) & (text.str.lower() != "nan").to_numpy()
    check.add(
        bad,
        column,
        raw.map(lambda v: repr(v)),
        "a number (decimal degrees or metres)",
        "bad_number",
    )
    # Empty coordinates make a missing point, reported as a null geometry.
    empty = (text == "").to_numpy() | bad
    num[empty] = np.inf
    return num, bad


def _read_parquet(
    path: Path, spatial: bool, given: pyproj.CRS | None, report: LayerReport
) -> _Raw | None:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        if b"geo" not in meta:
            frame = pd.read_parquet(path)
            return _table_geometry(frame, spatial, given, report)
        gdf = gpd.read_parquet(path)
    except (*_READ_ERRORS, pyarrow.ArrowException) as exc:
        _unreadable(report, exc)
        return None
    return _from_gdf(gdf, spatial, given, report, implicit=False, table=False)


def _read_ogr(
    path: Path, layer: str, spatial: bool, given: pyproj.CRS | None, report: LayerReport
) -> _Raw | None:
    try:
        names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    except _READ_ERRORS as exc:
        _unreadable(report, exc)
        return None
    chosen: str | None = None
    if len(names) > 1:
        chosen = next((n for n in names if n.lower() == layer), None)
        if chosen is None:
            report.problems.append(
                Problem(
                    report.file,
                    None,
                    None,
                    f"{len(names)} layers ({', '.join(names)})",
                    f"a single layer or one named '{layer}'",
                    "ambiguous_layer",
                )
            )
            return None
    try:
        gdf = pyogrio.read_dataframe(path, layer=chosen, read_geometry=spatial, use_arrow=True)
    except pyogrio.errors.CRSError as exc:
        prj = path.with_suffix(".prj")
        text = prj.read_text(errors="replace").strip()[:60] if prj.exists() else str(exc)
        report.problems.append(
            Problem(
                report.file,
                None,
                "crs",
                f"a CRS that PROJ cannot read ({text!r})",
                "a known CRS (a valid .prj, or leave the .prj out and pass --crs)",
                "unknown_crs",
            )
        )
        return None
    except _READ_ERRORS as exc:
        _unreadable(report, exc)
        return None
    implicit = False
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        declared = _geojson_crs(path)
        if declared is None:
            implicit = True  # RFC 7946: no crs member means WGS84 lon/lat
        elif given is None:
            try:
                pyproj.CRS.from_user_input(declared)
            except CRSError:
                report.problems.append(
                    Problem(
                        report.file,
                        None,
                        "crs",
                        f"crs {declared!r}, unknown to PROJ",
                        "a known CRS, e.g. urn:ogc:def:crs:EPSG::6668, or none (WGS84)",
                        "unknown_crs",
                    )
                )
                return _Raw(
                    pd.DataFrame(gdf.drop(columns="geometry", errors="ignore")),
                    None,
                    None,
                    False,
                    table=False,
                )
    if spatial and isinstance(gdf, gpd.GeoDataFrame) and gdf.crs is None and given is None:
        prj = path.with_suffix(".prj")
        if suffix == ".shp" and prj.exists():
            text = prj.read_text(errors="replace").strip()
            report.problems.append(
                Problem(
                    report.file,
                    None,
                    "crs",
                    f"a .prj that PROJ cannot read ({text[:60]!r})",
                    "a .prj with a known CRS, or --crs",
                    "unknown_crs",
                )
            )
        else:
            where = "no .prj file" if suffix == ".shp" else "no CRS"
            report.problems.append(
                Problem(
                    report.file,
                    None,
                    "crs",
                    where,
                    "a declared CRS (or pass --crs, e.g. EPSG:6675)",
                    "missing_crs",
                )
            )
    return _from_gdf(gdf, spatial, given, report, implicit=implicit, table=False)


def _from_gdf(
    gdf: pd.DataFrame,
    spatial: bool,
    given: pyproj.CRS | None,
    report: LayerReport,
    *,
    implicit: bool,
    table: bool,
) -> _Raw:
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        if spatial:
            return _table_geometry(pd.DataFrame(gdf), spatial, given, report)
        return _Raw(pd.DataFrame(gdf), None, None, False, table=table)
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    if not spatial:
        return _Raw(attrs, None, None, False, table=table)
    crs = gdf.crs
    if given is not None:
        if crs is not None and not crs.equals(given):
            report.notes.append(
                f"{report.file}: declared CRS {crs.to_string()} overridden by {given.to_string()}"
            )
        crs, implicit = given, False
    if crs is not None and not (crs.is_geographic or crs.is_projected):
        report.problems.append(
            Problem(
                report.file,
                None,
                "crs",
                f"{crs.name}, neither geographic nor projected",
                "a geographic or projected CRS",
                "unknown_crs",
            )
        )
        crs = None
    return _Raw(attrs, gdf.geometry.to_numpy(), crs, implicit, table)


def _geojson_crs(path: Path) -> str | None:
    """The ``crs`` member of a GeoJSON file, or ``None`` (GDAL ignores an unknown one)."""
    with path.open("rb") as f:
        head = f.read(65536).decode("utf-8", errors="replace")
    m = _GEOJSON_CRS_RE.search(head)
    if m:
        return m.group(1)
    if '"crs"' in head:
        try:
            crs = json.loads(path.read_text(encoding="utf-8")).get("crs")
        except (ValueError, AttributeError):
            return None
        return json.dumps(crs) if crs else None
    return None


# --- location checks --------------------------------------------------------


def _is_japanese(crs: pyproj.CRS) -> bool:
    geodetic = crs.geodetic_crs
    datum = geodetic.datum.name if geodetic is not None and geodetic.datum is not None else ""
    return "Japanese Geodetic Datum" in datum or datum == "Tokyo" or "JGD" in crs.name


def _in_japan(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = JAPAN_BOUNDS
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _check_location(
    geoms: np.ndarray, usable: np.ndarray, crs: pyproj.CRS, implicit: bool, check: LayerChecker
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catch coordinates that are not where the CRS says: outside Japan for a
    Japanese CRS, lon/lat swapped, or no degrees in a geographic CRS.

    Returns the usable mask and the lon/lat of usable features' box centres.
    """
    idx = np.flatnonzero(usable)
    if idx.size == 0:
        return usable, np.empty(0), np.empty(0)
    b = shapely.bounds(geoms[idx])
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    if crs.is_geographic:
        lon, lat = cx, cy
        swl, swt = cy, cx
        degrees = (np.abs(cx) <= 180) & (np.abs(cy) <= 90)
    else:
        tr = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon, lat = tr.transform(cx, cy, errcheck=False)
        swl, swt = tr.transform(cy, cx, errcheck=False)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        swl, swt = np.asarray(swl, dtype=float), np.asarray(swt, dtype=float)
        degrees = np.isfinite(lon) & np.isfinite(lat)
    japanese = _is_japanese(crs)
    inside = _in_japan(lon, lat)
    swapped = ~inside & _in_japan(swl, swt) & (japanese | bool(crs.is_geographic))
    name = f"{crs.to_string()} ({crs.name})"
    kind = "lon/lat" if crs.is_geographic else "x/y"
    bad = np.zeros(len(geoms), dtype=bool)
    n = len(geoms)

    def spread(mask: np.ndarray, values: list[str]) -> tuple[np.ndarray, np.ndarray]:
        full = np.zeros(n, dtype=bool)
        full[idx[mask]] = True
        found = np.empty(n, dtype=object)
        found[idx[mask]] = values
        return full, found

    def coords(i: Any) -> str:
        if crs.is_geographic:
            return f"lon {cx[i]:.6f}, lat {cy[i]:.6f}"
        return f"x {cx[i]:.1f}, y {cy[i]:.1f}"

    sel = np.flatnonzero(swapped)
    m, f = spread(swapped, [f"{coords(i)} (outside Japan)" for i in sel])
    check.add(m, "geometry", f, f"coordinates in Japan; {kind} look swapped", "swapped_lonlat")
    bad |= m
    not_deg = ~degrees & ~swapped
    if crs.is_geographic and not_deg.sum() > 0:
        first = int(np.flatnonzero(not_deg)[0])
        if implicit or not_deg.mean() > 0.5:
            # The whole layer is in some projected CRS: one problem, not one per feature.
            found = (
                f"{int(not_deg.sum())} feature(s) with coordinates that are not degrees, "
                f"e.g. x {cx[first]:.1f}, y {cy[first]:.1f}, and "
                + ("no CRS" if implicit else f"the geographic CRS {name}")
            )
            code = "missing_crs" if implicit else "not_degrees"
            check.problems.append(
                Problem(
                    check.file,
                    None,
                    "crs",
                    found,
                    "the CRS the coordinates are in (declare it or pass --crs)",
                    code,
                )
            )
            m = np.zeros(n, dtype=bool)
            m[idx[not_deg]] = True
        else:
            sel = np.flatnonzero(not_deg)
            m, f = spread(not_deg, [coords(i) for i in sel])
            check.add(m, "geometry", f, f"longitude/latitude in degrees ({name})", "not_degrees")
        bad |= m
    elif not crs.is_geographic and (~degrees & ~swapped).any():
        sel = np.flatnonzero(~degrees & ~swapped)
        m, f = spread(~degrees & ~swapped, [coords(i) for i in sel])
        check.add(m, "geometry", f, f"coordinates within the area of {name}", "outside_japan")
        bad |= m
    if japanese:
        out = ~inside & ~swapped & degrees
        sel = np.flatnonzero(out)
        m, f = spread(
            out,
            [
                f"{coords(i)} = lon {lon[i]:.4f}, lat {lat[i]:.4f} (outside Japan)"
                if not crs.is_geographic
                else f"{coords(i)} (outside Japan)"
                for i in sel
            ],
        )
        x0, y0, x1, y1 = JAPAN_BOUNDS
        check.add(
            m,
            "geometry",
            f,
            f"a place in Japan (lon {x0:g} to {x1:g}, lat {y0:g} to {y1:g}), as the CRS "
            f"{name} is Japanese",
            "outside_japan",
        )
        bad |= m
    usable = usable & ~bad
    good = ~bad[idx]
    return usable, lon[good], lat[good]
