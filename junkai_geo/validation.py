"""Checks of imported layers: columns, values, geometries and cross-layer rules.

Every check is vectorised over the whole layer and only the offending rows
become :class:`~junkai_geo.errors.Problem` objects, so a clean layer of
200,000 households is checked in well under a second. Problem ``code`` values
are listed in :data:`PROBLEM_CODES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import shapely

from .errors import Problem
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
}

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
        self, mask: np.ndarray | pd.Series, field: str | None, found: Any, expected: str, code: str
    ) -> None:
        """Add one problem per True in ``mask``; ``found`` is a sequence or a str."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if idx.size == 0:
            return
        values = np.asarray(found, dtype=object) if not isinstance(found, str) else None
        for i in idx:
            text = found if values is None else values[i]
            self.problems.append(
                Problem(self.file, _plain(self.labels[i]), field, str(text), expected, code)
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
    ok = ids.notna() & ~ids.duplicated(keep=False)
    return np.where(ok.to_numpy(), ids.to_numpy(dtype=object), numbers)


def clean_str(s: pd.Series) -> pd.Series:
    """Values as stripped strings; empty strings become missing.

    Whole floats (ids stored as numbers by spreadsheets) lose their ``.0``.
    """
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_integer_dtype(s):
        out = s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))
    elif pd.api.types.is_float_dtype(s):
        out = s.map(
            lambda v: None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v))
        )
    elif isinstance(s.dtype, pd.StringDtype):
        out = s
    else:
        out = s.map(
            lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        )
    out = out.astype(STR_DTYPE).str.strip()
    return out.where(out != "", np.nan).astype(STR_DTYPE)


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
            dup = (s.duplicated(keep=False) & s.notna()).to_numpy()
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
            mapped = s.map(lambda v: ENUM_ALIASES.get(v, v.lower()) if isinstance(v, str) else v)
            mapped = mapped.astype(STR_DTYPE)
            bad = (mapped.notna() & ~mapped.isin(spec.values)).to_numpy()
            check.add(bad, spec.name, s.map(show), _describe(spec), "unknown_enum")
            s = mapped.where(~bad, np.nan).astype(STR_DTYPE)
        if spec.default is not None:
            s = s.fillna(spec.default)
        return s
    if spec.kind in ("int", "float"):
        num = pd.to_numeric(raw.where(~missing, np.nan), errors="coerce").astype("float64")
        bad = ~missing & num.isna().to_numpy()
        shown = raw.map(show)
        check.add(bad, spec.name, shown, _describe(spec), "bad_number")
        ok = ~missing & ~bad
        if spec.kind == "int":
            frac = ok & (np.mod(num.to_numpy(), 1) != 0)
            check.add(frac, spec.name, shown, _describe(spec), "bad_integer")
            ok &= ~frac
        if spec.minimum is not None:
            low = ok & (num.to_numpy() < spec.minimum)
            check.add(low, spec.name, shown, _describe(spec), "out_of_range")
        if spec.kind == "int":
            fill = spec.default if spec.default is not None else 0
            return num.where(ok, fill).round().astype("int64")
        return num.where(ok, np.nan if spec.default is None else spec.default)
    if spec.kind == "date":
        dt = _to_dates(raw)
        bad = ~missing & dt.isna().to_numpy()
        check.add(bad, spec.name, raw.map(show), _describe(spec), "bad_date")
        if today is not None:
            late = (dt > pd.Timestamp(today)).fillna(False).to_numpy(dtype=bool)
            check.add(
                late,
                spec.name,
                dt.map(show),
                f"a date on or before {today.isoformat()}",
                "future_date",
            )
        return dt
    # time
    text = raw.map(_time_text).astype(STR_DTYPE)
    parts = text.str.extract(_TIME_RE)
    bad = ~missing & parts[0].isna().to_numpy()
    check.add(bad, spec.name, raw.map(show), _describe(spec), "bad_time")
    hhmm = parts[0].str.zfill(2) + ":" + parts[1]
    return hhmm.astype(STR_DTYPE)


def _time_text(v: Any) -> Any:
    if hasattr(v, "strftime") and not isinstance(v, str):
        return v.strftime("%H:%M")
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def _to_dates(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        dt = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        return dt.dt.normalize().astype("datetime64[ns]")
    values = raw.map(lambda v: v if not isinstance(v, str) else v.strip())
    try:
        dt = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except (TypeError, ValueError):
        dt = pd.to_datetime(values.map(str), format="ISO8601", errors="coerce")
    if getattr(dt.dt, "tz", None) is not None:
        dt = dt.dt.tz_localize(None)
    return dt.dt.normalize().astype("datetime64[ns]")


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
    geoms = np.asarray(shapely.force_2d(geoms), dtype=object)
    geoms[null] = None
    types = shapely.get_type_id(geoms)
    empty = ~null & shapely.is_empty(geoms)
    check.add(
        empty,
        "geometry",
        [f"an empty {_TYPE_NAMES.get(t, '?')}" for t in types],
        expected,
        "empty_geometry",
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
        [f"a {_TYPE_NAMES.get(t, '?')}" for t in types],
        expected,
        "wrong_geometry_type",
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
    known = pd.Index(target[ID_COLUMN[target_layer]].dropna().unique())
    bad = (ids.notna() & ~ids.isin(known)).to_numpy(dtype=bool)
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
    dataset: Dataset, *, today: date, overlap_tolerance_m2: float = 1.0
) -> list[Problem]:
    """Cross-layer checks of already-loaded layers.

    Rules: every household lies in a beat; beats do not overlap by more than
    ``overlap_tolerance_m2``; references between layers (beat -> koban,
    household -> beat / building, officer -> koban / beat, unit -> beat,
    visit -> household / officer) resolve; visits are not after ``today``
    nor before their household's ``registered_on``. Layers must be in the
    same metric CRS (as :func:`junkai_geo.ingest.read_dataset` returns them).
    """
    problems: list[Problem] = []
    d = dataset
    if d.beats is not None:
        _ref_check(problems, d.beats, "beats", "koban_id", d.koban, "koban")
        problems += _beat_overlaps(d.beats, overlap_tolerance_m2)
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
    ok = ~shapely.is_missing(beat_geoms)
    tree = shapely.STRtree(beat_geoms[ok])
    pts = ~shapely.is_missing(geoms)
    hit = np.zeros(len(geoms), dtype=bool)
    idx = np.flatnonzero(pts)
    pairs = tree.query(geoms[idx], predicate="intersects")
    hit[idx[np.unique(pairs[0])]] = True
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
    when = pd.to_datetime(visits["visited_on"])
    late = (when > pd.Timestamp(today)).to_numpy(dtype=bool)
    for i in np.flatnonzero(late):
        problems.append(
            Problem(
                file,
                str(ids[i]),
                "visited_on",
                show(when.iloc[i]),
                f"a date on or before {today.isoformat()}",
                "future_date",
            )
        )
    if households is None or "registered_on" not in households.columns:
        return problems
    reg = households.set_index("household_id")["registered_on"]
    reg = reg[~reg.index.duplicated()]
    since = pd.to_datetime(visits["household_id"].map(reg))
    early = (when < since).fillna(False).to_numpy(dtype=bool)
    for i in np.flatnonzero(early):
        problems.append(
            Problem(
                file,
                str(ids[i]),
                "visited_on",
                show(when.iloc[i]),
                f"a date on or after {show(since.iloc[i])}, when household "
                f"{visits['household_id'].iloc[i]!r} was registered",
                "before_registered",
            )
        )
    return problems
