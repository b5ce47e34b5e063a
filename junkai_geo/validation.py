"""Checks of imported layers: columns, values, geometries and cross-layer rules.

Every check is vectorised over the whole layer and only the offending rows
become :class:`~junkai_geo.errors.Problem` objects, so a clean layer of
200,000 households is checked in well under a second. Problem ``code`` values
are listed in :data:`PROBLEM_CODES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import shapely

from .errors import ParameterError, Problem
from .model import (
    BuildingKind,
    HouseholdKind,
    KobanKind,
    OfficerRole,
    Outcome,
    TravelMode,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from .model import Dataset

#: Every ``Problem.code`` this module and :mod:`junkai_geo.ingest` produce.
PROBLEM_CODES: dict[str, str] = {
    "unreadable": "the file cannot be opened or parsed",
    "ambiguous_layer": "a multi-layer file (GeoPackage) without one layer named for the layer",
    "duplicate_column": "two columns with the same name (ignoring case and spaces)",
    "encoding": "the text encoding is neither UTF-8 (with or without BOM) nor cp932",
    "missing_crs": "no coordinate reference system is declared",
    "unknown_crs": "the declared coordinate reference system is not known to PROJ",
    "not_degrees": "a geographic CRS is declared but the coordinates are not degrees",
    "outside_japan": "coordinates lie outside Japan although the CRS is Japanese",
    "swapped_lonlat": "longitude and latitude (or x and y) look swapped",
    "no_geometry": "a spatial layer without geometry or coordinate columns",
    "wrong_crs": "a CRS that cannot hold the coordinates (projected CRS for lon/lat columns)",
    "bad_wkt": "a WKT text that does not parse",
    "null_geometry": "a feature without geometry",
    "empty_geometry": "an empty geometry",
    "nan_coordinates": "a geometry with NaN coordinates",
    "invalid_geometry": "a geometry that is not valid (self-intersection ...)",
    "wrong_geometry_type": "a geometry type the layer does not accept",
    "missing_column": "a required column is absent",
    "missing_value": "a required value is empty",
    "duplicate_id": "an id used by more than one row",
    "unknown_enum": "a value outside the allowed set (kind, role, mode, outcome)",
    "bad_number": "a value that is not a number",
    "bad_integer": "a value that is not a whole number",
    "out_of_range": "a number below the allowed minimum (negative floors ...)",
    "bad_date": "a value that is not a date",
    "bad_time": "a value that is not a time HH:MM",
    "future_date": "a date after the import's reference day",
    "outside_beats": "a household outside every beat",
    "beats_overlap": "two beats overlapping by more than the tolerance",
    "unknown_reference": "a reference to an id missing from the other layer",
    "before_registered": "a visit dated before its household was registered",
    # National formats (junkai_geo.formats).
    "unlocated": "a police-list row without a location (no coordinates, or iLvl 0)",
    "filter_empty": "a prefecture / station filter that keeps no row",
    "duplicate_key_different": "parts of one e-Stat KEY_CODE with different attributes",
    "address_not_found": "an address whose 町字 is not in the reference",
    "address_ambiguous": "an address that matches more than one town",
}


@dataclass(frozen=True)
class IngestParams:
    """Tolerances of the cross-layer checks (TOML table ``[ingest]``).

    Beats made from the same tessellation share edges exactly, but beats
    drawn by hand or reprojected leave slivers; an overlap up to
    ``overlap_tolerance_m2`` is not reported.
    """

    overlap_tolerance_m2: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.overlap_tolerance_m2, int | float) or self.overlap_tolerance_m2 < 0:
            raise ParameterError(
                f"IngestParams.overlap_tolerance_m2: found {self.overlap_tolerance_m2!r}; "
                "expected a number >= 0"
            )


Kind = Literal["id", "str", "enum", "int", "float", "date", "time"]

#: Japanese labels accepted for enum values (cp932 files often use them).
ENUM_ALIASES: dict[str, str] = {
    "交番": "koban",
    "駐在所": "chuzaisho",
    "受持": "beat",
    "専従員": "specialist",
    "徒歩": "walk",
    "自転車": "bicycle",
    "世帯": "home",
    "事業所": "business",
    "公共": "public",
    "公共施設": "public",
    "戸建": "detached",
    "戸建て": "detached",
    "共同住宅": "apartment",
    "高層住宅": "highrise",
    "団地": "danchi",
    "事業所ビル": "office",
    "面接": "met",
    "不在": "absent",
    "拒否": "refused",
    "転出": "moved_out",
    "空家": "vacant",
}


@dataclass(frozen=True)
class ColumnSpec:
    """How one canonical column is read and checked.

    ``required`` columns must exist and hold a value in every row; other
    columns are filled with ``default`` when absent or empty (``None`` keeps
    them empty). ``minimum`` applies to numbers.
    """

    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    values: tuple[str, ...] = ()
    minimum: float | None = None


def _enum(cls: type) -> tuple[str, ...]:
    return tuple(m.value for m in cls)  # type: ignore[attr-defined]


LAYER_SPECS: dict[str, list[ColumnSpec]] = {
    "koban": [
        ColumnSpec("koban_id", "id", required=True),
        ColumnSpec("name", "str", required=True),
        ColumnSpec("kind", "enum", required=True, values=_enum(KobanKind)),
        ColumnSpec("station", "str", default=""),
    ],
    "beats": [
        ColumnSpec("beat_id", "id", required=True),
        ColumnSpec("koban_id", "str", required=True),
        ColumnSpec("name", "str", default=""),
    ],
    "units": [
        ColumnSpec("unit_id", "id", required=True),
        ColumnSpec("name", "str", default=""),
        ColumnSpec("households", "int", default=0, minimum=0),
        ColumnSpec("area_m2", "float", minimum=0),
        ColumnSpec("beat_id", "str"),
    ],
    "officers": [
        ColumnSpec("officer_id", "id", required=True),
        ColumnSpec("koban_id", "str", required=True),
        ColumnSpec("role", "enum", default="beat", values=_enum(OfficerRole)),
        ColumnSpec("beat_id", "str"),
        ColumnSpec("mode", "enum", default="walk", values=_enum(TravelMode)),
        ColumnSpec("shift_pattern", "str", default="day"),
    ],
    "buildings": [
        ColumnSpec("building_id", "id", required=True),
        ColumnSpec("kind", "enum", required=True, values=_enum(BuildingKind)),
        ColumnSpec("floors", "int", default=1, minimum=1),
        ColumnSpec("units", "int", default=1, minimum=1),
        ColumnSpec("complex_id", "str"),
        ColumnSpec("beat_id", "str"),
    ],
    "households": [
        ColumnSpec("household_id", "id", required=True),
        ColumnSpec("kind", "enum", required=True, values=_enum(HouseholdKind)),
        ColumnSpec("beat_id", "str"),
        ColumnSpec("building_id", "str"),
        ColumnSpec("floor", "int", default=1, minimum=1),
        ColumnSpec("address", "str", default=""),
        ColumnSpec("registered_on", "date"),
    ],
    "visits": [
        ColumnSpec("visit_id", "id", required=True),
        ColumnSpec("household_id", "str", required=True),
        ColumnSpec("officer_id", "str", required=True),
        ColumnSpec("visited_on", "date", required=True),
        ColumnSpec("time", "time", required=True),
        ColumnSpec("outcome", "enum", required=True, values=_enum(Outcome)),
    ],
}

#: Japanese column names accepted for each layer's canonical columns (as
#: offices keep them in Excel); a file may use either. Longitude / latitude
#: (経度 / 緯度) are read with the coordinates (:mod:`junkai_geo.ingest`).
COLUMN_ALIASES: dict[str, dict[str, str]] = {
    "koban": {
        "交番id": "koban_id",
        "交番コード": "koban_id",
        "交番名": "name",
        "名称": "name",
        "種別": "kind",
        "交番・駐在所の別": "kind",
        "警察署": "station",
        "警察署名": "station",
        "警察署名称": "station",
    },
    "beats": {
        "受持区id": "beat_id",
        "受持区": "beat_id",
        "交番id": "koban_id",
        "交番コード": "koban_id",
        "名称": "name",
        "受持区名": "name",
    },
    "units": {
        "町丁目コード": "unit_id",
        "key_code": "unit_id",
        "町丁目名": "name",
        "名称": "name",
        "世帯数": "households",
        "面積": "area_m2",
        "受持区id": "beat_id",
        "受持区": "beat_id",
    },
    "officers": {
        "警察官id": "officer_id",
        "職員番号": "officer_id",
        "交番id": "koban_id",
        "交番コード": "koban_id",
        "役割": "role",
        "受持区id": "beat_id",
        "受持区": "beat_id",
        "移動手段": "mode",
        "勤務": "shift_pattern",
        "勤務形態": "shift_pattern",
    },
    "buildings": {
        "建物id": "building_id",
        "種別": "kind",
        "階数": "floors",
        "戸数": "units",
        "団地id": "complex_id",
        "団地": "complex_id",
        "受持区id": "beat_id",
        "受持区": "beat_id",
    },
    "households": {
        "世帯id": "household_id",
        "家庭等id": "household_id",
        "種別": "kind",
        "受持区id": "beat_id",
        "受持区": "beat_id",
        "建物id": "building_id",
        "階": "floor",
        "住所": "address",
        "所在地": "address",
        "登録日": "registered_on",
    },
    "visits": {
        "実施id": "visit_id",
        "訪問id": "visit_id",
        "世帯id": "household_id",
        "家庭等id": "household_id",
        "警察官id": "officer_id",
        "実施日": "visited_on",
        "訪問日": "visited_on",
        "時刻": "time",
        "結果": "outcome",
        "実施結果": "outcome",
    },
}

#: Accepted geometry types of each spatial layer. Building footprints are
#: accepted and reduced to a point, as the model places a building at (x, y).
GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "koban": ("Point",),
    "households": ("Point",),
    "beats": ("Polygon", "MultiPolygon"),
    "units": ("Polygon", "MultiPolygon"),
    "buildings": ("Point", "Polygon", "MultiPolygon"),
}
SPATIAL_LAYERS = frozenset(GEOMETRY_TYPES)
LAYERS: tuple[str, ...] = tuple(LAYER_SPECS)
ID_COLUMN: dict[str, str] = {layer: specs[0].name for layer, specs in LAYER_SPECS.items()}

_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_TYPE_IDS = {v: k for k, v in _TYPE_NAMES.items()}
_TIME_RE = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d(?:\.\d+)?)?\s*$")


def _str_dtype() -> Any:
    # NaN-backed strings: comparisons give plain booleans, as with object
    # columns, while using pandas' fast string storage where available.
    try:
        return pd.StringDtype(na_value=np.nan)
    except TypeError:  # pandas < 2.3
        return object


STR_DTYPE = _str_dtype()


def show(value: Any) -> str:
    """A found value as shown in a problem message."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "an empty value"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


@dataclass
class LayerChecker:
    """Collects the problems of one layer, labelling rows the same way.

    ``labels`` holds, for each row, what a problem calls it: the 1-based data
    row for tables, the feature id (or 1-based index where the id is missing
    or repeated) for spatial layers.
    """

    file: str
    labels: np.ndarray
    problems: list[Problem]

    def add(
        self,
        mask: np.ndarray | pd.Series,
        field: str | None,
        found: Any,
        expected: str,
        code: str,
        fmt: Callable[[Any], str] = str,
    ) -> None:
        """Add one problem per True in ``mask``.

        ``found`` is one text for all rows or a sequence of per-row values,
        formatted with ``fmt`` only for the offending rows (formatting every
        row of a 200,000-row layer would cost more than checking it).
        """
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if idx.size == 0:
            return
        values = None if isinstance(found, str) else np.asarray(found, dtype=object)
        for i in idx:
            text = found if values is None else fmt(values[i])
            self.problems.append(
                Problem(self.file, _plain(self.labels[i]), field, text, expected, code)
            )


def _plain(label: Any) -> str | int:
    if isinstance(label, np.integer | int):
        return int(label)
    return str(label)


def row_labels(raw_ids: pd.Series | None, n: int, *, table: bool) -> np.ndarray:
    """Labels of rows for problems (see :class:`LayerChecker`)."""
    numbers = np.arange(1, n + 1, dtype=object)
    if table or raw_ids is None:
        return numbers
    ids = clean_str(raw_ids)
    ok = ids.notna().to_numpy(dtype=bool) & ~repeated(ids)
    return np.where(ok, ids.to_numpy(dtype=object), numbers)


def repeated(s: pd.Series) -> np.ndarray:
    """Rows whose non-missing value occurs more than once (``duplicated(keep=False)``)."""
    codes, _ = pd.factorize(s, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=1)
    return (codes >= 0) & (counts[np.maximum(codes, 0)] > 1)


def map_unique(s: pd.Series, func: Callable[[Any], Any], dtype: Any = object) -> pd.Series:
    """``s.map(func)`` computed once per distinct value (missing values stay missing).

    Columns such as kinds, outcomes, times and dates have few distinct values
    among hundreds of thousands of rows.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=s.index).astype(dtype)


def _text(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))  # ids stored as numbers by spreadsheets
    return str(v)


def clean_str(s: pd.Series) -> pd.Series:
    """Values as stripped strings; empty strings become missing.

    Whole floats (ids stored as numbers by spreadsheets) lose their ``.0``.
    """
    out = s if isinstance(s.dtype, pd.StringDtype) else map_unique(s, _text)
    out = out.astype(STR_DTYPE).str.strip()
    return out.where(out != "", np.nan).astype(STR_DTYPE)


def index_in(values: pd.Series, keys: Any) -> np.ndarray:
    """Position of each value among ``keys`` (first match), -1 when absent or missing.

    Hashed in Arrow: pandas' ``isin`` / ``map`` on Arrow-backed strings
    loop in Python, and 400,000 visit references would take seconds.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        v = pa.array(values.astype(STR_DTYPE), type=pa.large_string())
        k = pa.array(pd.Series(keys).astype(STR_DTYPE), type=pa.large_string())
    except (pa.ArrowException, TypeError, ValueError):
        index = pd.Index(np.asarray(keys, dtype=object))
        index = index[~index.duplicated()]
        pos = index.get_indexer(values.to_numpy(dtype=object))
        keep = pd.Index(np.asarray(keys, dtype=object)).get_indexer_for(index)
        return np.where(pos >= 0, np.asarray(keep)[np.maximum(pos, 0)], -1)
    at = pc.index_in(v, value_set=k, skip_nulls=True)
    return np.asarray(at.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def isin(values: pd.Series, allowed: Any) -> np.ndarray:
    """``values.isin(allowed)`` as a boolean array (see :func:`index_in`)."""
    return index_in(values, allowed) >= 0


def _missing(s: pd.Series) -> np.ndarray:
    """Missing or blank raw values."""
    miss = s.isna().to_numpy()
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        blank = s.astype(STR_DTYPE).str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        miss = miss | blank
    return miss


def convert_columns(
    frame: pd.DataFrame, layer: str, check: LayerChecker, *, today: date | None
) -> pd.DataFrame:
    """Canonical columns of ``layer`` with proper dtypes; problems go to ``check``.

    Columns keep their order: canonical first, then extra columns as found.
    ``today`` enables the future-date check of dates.
    """
    out: dict[str, Any] = {}
    n = len(frame)
    for spec in LAYER_SPECS[layer]:
        if spec.name not in frame.columns:
            if spec.required:
                have = ", ".join(str(c) for c in frame.columns if c != "geometry") or "none"
                check.problems.append(
                    Problem(
                        check.file,
                        None,
                        spec.name,
                        f"no column '{spec.name}' (columns: {have})",
                        f"a column '{spec.name}' ({_describe(spec)})",
                        "missing_column",
                    )
                )
            out[spec.name] = _empty_column(spec, n)
            continue
        out[spec.name] = _convert(frame[spec.name], spec, check, today=today)
    extras = [c for c in frame.columns if c not in out and c != "geometry"]
    result = pd.DataFrame(out, index=frame.index)
    for c in extras:
        result[c] = frame[c]
    return result


def _describe(spec: ColumnSpec) -> str:
    if spec.kind == "enum":
        return "one of " + ", ".join(spec.values)
    if spec.kind == "int":
        return (
            f"a whole number >= {spec.minimum:g}" if spec.minimum is not None else "a whole number"
        )
    if spec.kind == "float":
        return f"a number >= {spec.minimum:g}" if spec.minimum is not None else "a number"
    if spec.kind == "date":
        return "a date YYYY-MM-DD"
    if spec.kind == "time":
        return "a time HH:MM"
    if spec.kind == "id":
        return "a unique, non-empty id"
    return "a non-empty text" if spec.required else "a text"


def _empty_column(spec: ColumnSpec, n: int) -> pd.Series:
    if spec.kind == "int":
        return pd.Series(np.full(n, spec.default if spec.default is not None else 0), dtype="int64")
    if spec.kind == "float":
        return pd.Series(np.full(n, np.nan), dtype="float64")
    if spec.kind == "date":
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    return pd.Series([spec.default] * n, dtype=STR_DTYPE)


def _convert(
    raw: pd.Series, spec: ColumnSpec, check: LayerChecker, *, today: date | None
) -> pd.Series:
    raw = raw.reset_index(drop=True)
    missing = _missing(raw)
    if spec.required:
        check.add(missing, spec.name, "an empty value", _describe(spec), "missing_value")
    if spec.kind in ("id", "str", "enum"):
        s = clean_str(raw)
        if spec.kind == "id":
            dup = repeated(s)
            if dup.any():
                where = np.flatnonzero(dup)
                groups: dict[str, list[str]] = {}
                for i in where:
                    groups.setdefault(s.iloc[i], []).append(str(_plain(check.labels[i])))
                found = np.empty(len(s), dtype=object)
                for i in where:
                    found[i] = (
                        f"{s.iloc[i]!r}, used by rows/features {', '.join(groups[s.iloc[i]])}"
                    )
                check.add(dup, spec.name, found, "an id used by one row only", "duplicate_id")
        elif spec.kind == "enum":
            mapped = map_unique(s, lambda v: ENUM_ALIASES.get(v, v.lower()), STR_DTYPE)
            bad = mapped.notna().to_numpy() & ~isin(mapped, spec.values)
            check.add(bad, spec.name, s, _describe(spec), "unknown_enum", show)
            s = mapped.where(~bad, np.nan).astype(STR_DTYPE)
        if spec.default is not None:
            s = s.fillna(spec.default)
        return s
    if spec.kind in ("int", "float"):
        num = pd.to_numeric(raw.where(~missing, np.nan), errors="coerce").astype("float64")
        bad = ~missing & ~np.isfinite(num.to_numpy())
        check.add(bad, spec.name, raw, _describe(spec), "bad_number", show)
        ok = ~missing & ~bad
        if spec.kind == "int":
            frac = ok & (np.mod(np.where(ok, num.to_numpy(), 0), 1) != 0)
            check.add(frac, spec.name, raw, _describe(spec), "bad_integer", show)
            ok &= ~frac
        if spec.minimum is not None:
            low = ok & (num.to_numpy() < spec.minimum)
            check.add(low, spec.name, raw, _describe(spec), "out_of_range", show)
        if spec.kind == "int":
            fill = spec.default if spec.default is not None else 0
            return num.where(ok, fill).round().astype("int64")
        return num.where(ok, np.nan if spec.default is None else spec.default)
    if spec.kind == "date":
        dt = _to_dates(raw)
        bad = ~missing & dt.isna().to_numpy()
        check.add(bad, spec.name, raw, _describe(spec), "bad_date", show)
        if today is not None:
            late = (dt > pd.Timestamp(today)).fillna(False).to_numpy(dtype=bool)
            check.add(
                late,
                spec.name,
                dt,
                f"a date on or before {today.isoformat()}",
                "future_date",
                show,
            )
        return dt
    # time
    hhmm = map_unique(raw, _hhmm, STR_DTYPE)
    bad = ~missing & hhmm.isna().to_numpy()
    check.add(bad, spec.name, raw, _describe(spec), "bad_time", show)
    return hhmm


def _hhmm(v: Any) -> str | None:
    """A time of day as ``HH:MM``, or ``None`` when it is not one."""
    if hasattr(v, "strftime") and not isinstance(v, str):
        return str(v.strftime("%H:%M"))
    m = _TIME_RE.match(str(v))
    return f"{int(m.group(1)):02d}:{m.group(2)}" if m else None


def _to_dates(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        dt = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        return dt.dt.normalize().astype("datetime64[ns]")
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    values = np.array([u.strip() if isinstance(u, str) else u for u in uniques], dtype=object)
    try:
        parsed = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601", errors="coerce"))
        if parsed.tz is not None:
            parsed = parsed.tz_localize(None)
        days = parsed.normalize().to_numpy(dtype="datetime64[ns]")
    except (TypeError, ValueError, OverflowError):
        # Mixed values (date objects, numbers, text): one at a time.
        days = np.array([_date(v) for v in values], dtype="datetime64[ns]")
    days = np.append(days, np.datetime64("NaT", "ns"))
    return pd.Series(days[codes], index=raw.index)


def _date(v: Any) -> np.datetime64:
    """One value as a day (NaT when it is not a date)."""
    try:
        t = pd.to_datetime(v.strip() if isinstance(v, str) else v, format="ISO8601")
    except (TypeError, ValueError, OverflowError):
        return np.datetime64("NaT", "ns")
    if not isinstance(t, pd.Timestamp):
        return np.datetime64("NaT", "ns")
    day = t.tz_localize(None).normalize() if t.tz is not None else t.normalize()
    return day.to_datetime64()


# --- geometries ---------------------------------------------------------


def check_geometries(
    geoms: np.ndarray,
    layer: str,
    check: LayerChecker,
    *,
    repair: bool,
    skip: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Check the geometries of a spatial layer.

    Returns the (possibly repaired, 2-D) geometries, a mask of the usable
    ones and notes saying what was repaired or converted. Rows in ``skip``
    (their coordinates were already reported) are unusable without a new problem.
    """
    notes: list[str] = []
    geoms = np.asarray(geoms, dtype=object)
    allowed = GEOMETRY_TYPES[layer]
    expected = "a " + " or ".join(allowed)
    skipped = np.zeros(len(geoms), dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    null = shapely.is_missing(geoms)
    check.add(null & ~skipped, "geometry", "no geometry", expected, "null_geometry")
    geoms = np.array(geoms, dtype=object)
    if shapely.has_z(geoms).any():
        geoms = np.asarray(shapely.force_2d(geoms), dtype=object)
    geoms[null] = None
    types = shapely.get_type_id(geoms)
    empty = ~null & shapely.is_empty(geoms)
    check.add(
        empty,
        "geometry",
        types,
        expected,
        "empty_geometry",
        lambda t: f"an empty {_TYPE_NAMES.get(t, '?')}",
    )
    usable = ~null & ~empty & ~skipped
    coords, index = shapely.get_coordinates(geoms[usable], return_index=True)
    nan_rows = np.zeros(len(geoms), dtype=bool)
    if coords.size:
        bad_idx = np.unique(index[np.isnan(coords).any(axis=1)])
        nan_rows[np.flatnonzero(usable)[bad_idx]] = True
    check.add(
        nan_rows,
        "geometry",
        "NaN coordinates",
        f"{expected} with finite coordinates",
        "nan_coordinates",
    )
    usable &= ~nan_rows
    # A MultiPoint of one point is a point written by tools that always
    # write multi-types (Shapefile).
    if "Point" in allowed:
        single = (
            usable & (types == _TYPE_IDS["MultiPoint"]) & (shapely.get_num_geometries(geoms) == 1)
        )
        if single.any():
            geoms[single] = shapely.get_geometry(geoms[single], 0)
            types = np.where(single, _TYPE_IDS["Point"], types)
    wrong = usable & ~np.isin(types, [_TYPE_IDS[t] for t in allowed])
    check.add(
        wrong,
        "geometry",
        types,
        expected,
        "wrong_geometry_type",
        lambda t: f"a {_TYPE_NAMES.get(t, '?')}",
    )
    usable &= ~wrong
    area_like = usable & (types != _TYPE_IDS["Point"])
    if area_like.any():
        sub = geoms[area_like]
        valid = shapely.is_valid(sub)
        if not valid.all():
            where = np.flatnonzero(area_like)[~valid]
            reasons = shapely.is_valid_reason(geoms[where])
            if repair:
                fixed = _repair_polygons(geoms[where])
                for i, reason, g in zip(where, reasons, fixed, strict=True):
                    if g is None:
                        check.problems.append(
                            Problem(
                                check.file,
                                _plain(check.labels[i]),
                                "geometry",
                                f"an invalid {_TYPE_NAMES[int(types[i])]} ({reason}) that make_valid "
                                "reduces to no area",
                                expected,
                                "invalid_geometry",
                            )
                        )
                        usable[i] = False
                    else:
                        notes.append(
                            f"{check.file}, row/feature {_plain(check.labels[i])}: repaired "
                            f"invalid geometry ({reason}) with shapely.make_valid; now a "
                            f"{g.geom_type} of {shapely.get_num_geometries(g)} part(s)"
                        )
                        geoms[i] = g
            else:
                bad = np.zeros(len(geoms), dtype=bool)
                bad[where] = True
                found = np.empty(len(geoms), dtype=object)
                found[where] = [
                    f"an invalid {_TYPE_NAMES[int(types[i])]} ({r})"
                    for i, r in zip(where, reasons, strict=True)
                ]
                check.add(
                    bad,
                    "geometry",
                    found,
                    f"a valid {' or '.join(allowed)} (or pass repair=True / --repair)",
                    "invalid_geometry",
                )
                usable[where] = False
    if layer == "buildings":
        poly = usable & (types != _TYPE_IDS["Point"])
        if poly.any():
            geoms[poly] = shapely.point_on_surface(geoms[poly])
            notes.append(
                f"{check.file}: {int(poly.sum())} building footprint(s) reduced to a "
                "point on their surface"
            )
    return geoms, usable, notes


def _repair_polygons(geoms: np.ndarray) -> list[Any]:
    """``make_valid`` keeping only the polygonal parts (lines and points of a
    collapsed ring have no area to patrol)."""
    out: list[Any] = []
    for g in shapely.make_valid(geoms):
        parts = shapely.get_parts(g)
        polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
        polys = [q for p in polys for q in shapely.get_parts(p)]
        if not polys:
            out.append(None)
        elif len(polys) == 1:
            out.append(polys[0])
        else:
            out.append(shapely.MultiPolygon(polys))
    return out


# --- cross-layer checks --------------------------------------------------


def _source(frame: pd.DataFrame, layer: str) -> str:
    return str(frame.attrs.get("source", layer))


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _ref_check(
    problems: list[Problem],
    frame: pd.DataFrame,
    layer: str,
    column: str,
    target: pd.DataFrame | None,
    target_layer: str,
) -> None:
    """Values of ``frame[column]`` that are not ids of ``target``."""
    if target is None or column not in frame.columns:
        return
    ids = frame[column]
    bad = ids.notna().to_numpy(dtype=bool) & ~isin(ids, target[ID_COLUMN[target_layer]].dropna())
    if not bad.any():
        return
    file = _source(frame, layer)
    own = frame[ID_COLUMN[layer]].to_numpy(dtype=object)
    vals = ids.to_numpy(dtype=object)
    tfile = _source(target, target_layer)
    for i in np.flatnonzero(bad):
        problems.append(
            Problem(
                file,
                str(own[i]),
                column,
                f"{vals[i]!r}",
                f"{_article(ID_COLUMN[target_layer])} present in {tfile}",
                "unknown_reference",
            )
        )


def check_dataset(
    dataset: Dataset, *, today: date, params: IngestParams | None = None
) -> list[Problem]:
    """Cross-layer checks of already-loaded layers.

    Rules: every household lies in a beat; beats do not overlap by more than
    ``params.overlap_tolerance_m2``; references between layers (beat -> koban,
    household -> beat / building, officer -> koban / beat, unit -> beat,
    visit -> household / officer) resolve; visits are not after ``today``
    nor before their household's ``registered_on``. Layers must be in the
    same metric CRS (as :func:`junkai_geo.ingest.read_dataset` returns them).
    """
    problems: list[Problem] = []
    d = dataset
    if d.beats is not None:
        _ref_check(problems, d.beats, "beats", "koban_id", d.koban, "koban")
        problems += _beat_overlaps(d.beats, (params or IngestParams()).overlap_tolerance_m2)
    if d.units is not None:
        _ref_check(problems, d.units, "units", "beat_id", d.beats, "beats")
    if d.officers is not None:
        _ref_check(problems, d.officers, "officers", "koban_id", d.koban, "koban")
        _ref_check(problems, d.officers, "officers", "beat_id", d.beats, "beats")
    if d.households is not None:
        _ref_check(problems, d.households, "households", "beat_id", d.beats, "beats")
        _ref_check(problems, d.households, "households", "building_id", d.buildings, "buildings")
        if d.beats is not None:
            problems += _households_outside_beats(d.households, d.beats)
    if d.visits is not None:
        _ref_check(problems, d.visits, "visits", "household_id", d.households, "households")
        _ref_check(problems, d.visits, "visits", "officer_id", d.officers, "officers")
        problems += _visit_dates(d.visits, d.households, today)
    return problems


def _households_outside_beats(
    households: gpd.GeoDataFrame, beats: gpd.GeoDataFrame
) -> list[Problem]:
    geoms = households.geometry.to_numpy()
    beat_geoms = beats.geometry.to_numpy()
    beat_geoms = beat_geoms[~shapely.is_missing(beat_geoms) & shapely.is_valid(beat_geoms)]
    pts = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    hit = np.zeros(len(geoms), dtype=bool)
    if beat_geoms.size:
        # One prepared union answers 200,000 point-in-polygon tests in
        # milliseconds; points on its boundary are settled exactly below.
        area = shapely.union_all(beat_geoms)
        shapely.prepare(area)
        idx = np.flatnonzero(pts)
        xy = shapely.get_coordinates(geoms[idx])
        hit[idx] = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
        rest = np.flatnonzero(pts & ~hit)
        if rest.size:
            hit[rest] = shapely.intersects(area, geoms[rest])
    outside = pts & ~hit
    if not outside.any():
        return []
    file = _source(households, "households")
    ids = households["household_id"].to_numpy(dtype=object)
    xs, ys = shapely.get_x(geoms[outside]), shapely.get_y(geoms[outside])
    crs = households.crs.to_string() if households.crs is not None else "the metric CRS"
    return [
        Problem(
            file,
            str(i),
            "geometry",
            f"a point at x={x:.1f}, y={y:.1f} ({crs}) outside every beat",
            f"a point inside a beat of {_source(beats, 'beats')}",
            "outside_beats",
        )
        for i, x, y in zip(ids[outside], xs, ys, strict=True)
    ]


def _beat_overlaps(beats: gpd.GeoDataFrame, tolerance_m2: float) -> list[Problem]:
    geoms = beats.geometry.to_numpy()
    ok = np.flatnonzero(~shapely.is_missing(geoms) & shapely.is_valid(geoms))
    g = geoms[ok]
    tree = shapely.STRtree(g)
    left, right = tree.query(g, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if left.size == 0:
        return []
    # Neighbouring beats share edges; only interiors that meet can overlap.
    inner = shapely.relate_pattern(g[left], g[right], "T********")
    left, right = left[inner], right[inner]
    areas = shapely.area(shapely.intersection(g[left], g[right]))
    big = areas > tolerance_m2
    file = _source(beats, "beats")
    ids = beats["beat_id"].to_numpy(dtype=object)[ok]
    return [
        Problem(
            file,
            str(ids[a]),
            "geometry",
            f"an overlap of {area:.1f} m2 with beat {ids[b]!r}",
            f"beats that do not overlap (tolerance {tolerance_m2:g} m2)",
            "beats_overlap",
        )
        for a, b, area in zip(left[big], right[big], areas[big], strict=True)
    ]


def _visit_dates(
    visits: pd.DataFrame, households: pd.DataFrame | None, today: date
) -> list[Problem]:
    problems: list[Problem] = []
    file = _source(visits, "visits")
    ids = visits["visit_id"].to_numpy(dtype=object)
    when = pd.to_datetime(visits["visited_on"]).to_numpy(dtype="datetime64[ns]")
    late = when > np.datetime64(today, "ns")
    for i in np.flatnonzero(late):
        problems.append(
            Problem(
                file,
                str(ids[i]),
                "visited_on",
                show(pd.Timestamp(when[i])),
                f"a date on or before {today.isoformat()}",
                "future_date",
            )
        )
    if households is None or "registered_on" not in households.columns:
        return problems
    at = index_in(visits["household_id"], households["household_id"])
    reg = pd.to_datetime(households["registered_on"]).to_numpy(dtype="datetime64[ns]")
    since = np.where(at >= 0, reg[np.maximum(at, 0)], np.datetime64("NaT", "ns"))
    early = when < since  # NaT compares False
    for i in np.flatnonzero(early):
        problems.append(
            Problem(
                file,
                str(ids[i]),
                "visited_on",
                show(pd.Timestamp(when[i])),
                f"a date on or after {show(pd.Timestamp(since[i]))}, when household "
                f"{visits['household_id'].iloc[i]!r} was registered",
                "before_registered",
            )
        )
    return problems
