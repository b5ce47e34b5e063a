"""Building a :class:`BeatProblem`'s fields from a unit layer: checks, adjacency, kobans.

Every bad unit is reported at once (file, feature, field, found, expected);
nothing is built from a layer with problems. See :class:`ProblemOptions`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, ParameterError, Problem
from ..units import build_unit_graph, unit_of_points
from .params import ProblemOptions

if TYPE_CHECKING:
    import geopandas as gpd

#: A koban point farther than this from every unit is reported (its nearest unit is used).
KOBAN_OUTSIDE_M = 50.0


def build_fields(
    units: gpd.GeoDataFrame,
    opts: ProblemOptions,
    *,
    weights: Sequence[float] | np.ndarray | pd.Series | None = None,
    koban: gpd.GeoDataFrame | None = None,
    beat_koban: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Check a unit layer; the fields of its problem (see :meth:`BeatProblem.from_geodataframe`)."""
    from ..workload import to_metric

    weight_column, id_column = opts.weight_column, opts.id_column
    current_column, households_column = opts.current_column, opts.households_column
    lock_column, parent_column, source = opts.lock_column, opts.parent_column, opts.source
    locked_units, locked_beats, n_beats = opts.locked_units, opts.locked_beats, opts.n_beats
    problems: list[Problem] = []
    if id_column not in units.columns:
        raise InputError(
            _problem(
                source,
                None,
                id_column,
                f"columns {list(units.columns)}",
                f"a unit id column '{id_column}'",
                "missing_column",
            )
        )
    ids = units[id_column]
    id_str = ids.astype(str).to_numpy()
    for pos, value in enumerate(ids.tolist()):
        if (
            value is None
            or (isinstance(value, float) and math.isnan(value))
            or str(value).strip() == ""
        ):
            problems.append(
                _problem(source, pos + 1, id_column, "an empty id", "a unit id", "missing_value")
            )
    dup = pd.Series(id_str).duplicated(keep="first").to_numpy()
    for pos in np.flatnonzero(dup).tolist():
        problems.append(
            _problem(
                source,
                id_str[pos],
                id_column,
                f"id '{id_str[pos]}' again (row {pos + 1})",
                "unique unit ids",
                "duplicate_id",
            )
        )
    geom = units.geometry
    missing = geom.isna().to_numpy() | geom.is_empty.to_numpy()
    for pos in np.flatnonzero(missing).tolist():
        problems.append(
            _problem(
                source, id_str[pos], "geometry", "no geometry", "a polygon", "missing_geometry"
            )
        )
    ok_geom = ~missing
    if ok_geom.any():
        types = geom[ok_geom].geom_type.to_numpy()
        for pos, t in zip(np.flatnonzero(ok_geom).tolist(), types, strict=True):
            if t not in ("Polygon", "MultiPolygon"):
                problems.append(
                    _problem(
                        source, id_str[pos], "geometry", f"a {t}", "a polygon", "wrong_geometry"
                    )
                )
    w = _weights(units, id_str, weight_column, weights, source, problems)
    hh = np.zeros(len(units))
    if households_column and households_column in units.columns:
        hh_col = pd.to_numeric(units[households_column], errors="coerce")
        hh = hh_col.fillna(0).clip(lower=0).to_numpy(dtype=float)
    elif weight_column is not None:
        hh = w.copy()
    locks = np.zeros(len(units), dtype=bool)
    if lock_column is not None:
        locks = _bool_column(units, lock_column, id_str, source, problems)
    if problems:
        raise InputError(problems)
    if len(units) == 0:
        raise InputError(_problem(source, None, None, "no units", "at least one unit", "empty"))
    if locked_units is not None:
        want = {str(u) for u in locked_units}
        unknown = sorted(want - set(id_str))
        if unknown:
            raise ParameterError(f"locked_units: unknown unit id(s) {unknown[:10]}")
        locks |= np.isin(id_str, list(want))

    metric = to_metric(units)
    warnings: list[str] = []
    if units.crs is None:
        warnings.append(f"{source}: no CRS; coordinates taken as metres")
    geoms = shapely.make_valid(metric.geometry.to_numpy())
    graph = build_unit_graph(geoms, snap_m=opts.snap_m, min_shared_m=opts.min_shared_boundary_m)
    for i, j, d in graph.bridges:
        warnings.append(
            f"unit {id_str[i]} and unit {id_str[j]} do not touch the rest of their part "
            f"of the map; joined by a bridge of {d:.0f} m so that beats stay contiguous"
        )
    pts = shapely.point_on_surface(geoms)
    x = shapely.get_x(pts)
    y = shapely.get_y(pts)
    area = shapely.area(geoms)

    # Current beats.
    reference = np.full(len(units), -1, dtype=np.int64)
    beat_ids: list[str] = []
    if current_column is not None:
        if current_column not in units.columns:
            raise InputError(
                _problem(
                    source,
                    None,
                    current_column,
                    f"columns {list(units.columns)}",
                    "a column with each unit's current beat",
                    "missing_column",
                )
            )
        cur = units[current_column]
        has = cur.notna().to_numpy() & (cur.astype(str).str.strip() != "").to_numpy()
        labels = cur.astype(str).to_numpy()
        beat_ids = sorted(set(labels[has].tolist()))
        pos_of = {b: k for k, b in enumerate(beat_ids)}
        reference[has] = [pos_of[b] for b in labels[has]]
        if (locks & ~has).any():
            bad = id_str[locks & ~has][:10].tolist()
            raise ParameterError(f"locked units without a current beat: {bad}")
    elif locks.any() or locked_beats:
        raise ParameterError("locks need the current beats (current_column)")
    if n_beats is None:
        if not beat_ids:
            raise ParameterError("n_beats: needed when there are no current beats")
        n_beats = len(beat_ids)
    if not isinstance(n_beats, int | np.integer) or n_beats < 1:
        raise ParameterError(f"n_beats: found {n_beats!r}; expected an integer >= 1")
    if n_beats > len(units):
        raise ParameterError(
            f"n_beats: found {n_beats}; expected at most the number of units "
            f"({len(units)} in {source})"
        )
    lb = np.zeros(max(len(beat_ids), 1), dtype=bool)[: len(beat_ids)]
    if locked_beats:
        unknown = sorted({str(b) for b in locked_beats} - set(beat_ids))
        if unknown:
            raise ParameterError(
                f"locked_beats: unknown beat id(s) {unknown}; current beats are {beat_ids[:20]}"
            )
        lb = np.isin(np.asarray(beat_ids, dtype=object), [str(b) for b in locked_beats])

    prob = dict(
        unit_ids=id_str,
        weights=w,
        households=hh,
        area_m2=area,
        x=x,
        y=y,
        graph=graph,
        beat_ids=list(beat_ids),
        reference=reference,
        locked_units=locks,
        locked_beats=np.asarray(lb, dtype=bool),
        geometries=geoms,
        crs=metric.crs,
        warnings=warnings,
        source=source,
        wanted_beats=int(n_beats),
        parent_ids=(
            units[parent_column].astype(str).to_numpy()
            if parent_column and parent_column in units.columns
            else None
        ),
    )

    if koban is not None and len(koban):
        prob = _attach_koban(prob, koban, beat_koban, units, current_column)
    return prob


def _attach_koban(
    prob: dict[str, Any],
    koban: gpd.GeoDataFrame,
    beat_koban: Mapping[str, str] | None,
    units: gpd.GeoDataFrame,
    current_column: str | None,
) -> dict[str, Any]:
    """The fields with the kobans, each beat's koban and each koban's unit."""
    if "koban_id" not in koban.columns:
        raise InputError(
            _problem(
                "koban",
                None,
                "koban_id",
                f"columns {list(koban.columns)}",
                "a 'koban_id' column",
                "missing_column",
            )
        )
    kob = koban
    if prob["crs"] is not None and kob.crs is not None and kob.crs != prob["crs"]:
        kob = kob.to_crs(prob["crs"])
    pts = shapely.point_on_surface(kob.geometry.to_numpy())
    koban_ids = kob["koban_id"].astype(str).tolist()
    koban_xy = np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])
    assert prob["geometries"] is not None
    koban_unit = unit_of_points(prob["geometries"], pts)
    kpos = {k: m for m, k in enumerate(koban_ids)}
    bk = np.full(len(prob["beat_ids"]), -1, dtype=np.int64)
    if beat_koban is not None:
        for k, b in enumerate(prob["beat_ids"]):
            if b in beat_koban and str(beat_koban[b]) in kpos:
                bk[k] = kpos[str(beat_koban[b])]
    if "koban_id" in units.columns and current_column is not None:
        col = units["koban_id"].astype(str).to_numpy()
        for k in np.flatnonzero(bk < 0).tolist():
            vals = [c for c in col[prob["reference"] == k] if c in kpos]
            if vals:
                bk[k] = kpos[pd.Series(vals).mode().sort_values().iloc[0]]
    for k in np.flatnonzero(bk < 0).tolist():
        members = np.flatnonzero(prob["reference"] == k)
        inside = [m for m in range(len(koban_ids)) if prob["reference"][koban_unit[m]] == k]
        if inside:
            bk[k] = inside[0]
        elif len(members):
            cx, cy = prob["x"][members].mean(), prob["y"][members].mean()
            bk[k] = int(np.argmin(np.hypot(koban_xy[:, 0] - cx, koban_xy[:, 1] - cy)))
    warnings = list(prob["warnings"])
    gap = shapely.distance(prob["geometries"][koban_unit], pts)
    for m in np.flatnonzero(gap > KOBAN_OUTSIDE_M).tolist():
        warnings.append(
            f"koban {koban_ids[m]} lies {gap[m]:.0f} m outside every unit; its nearest unit "
            f"{prob['unit_ids'][koban_unit[m]]} is taken as its unit"
        )
    return {
        **prob,
        "koban_ids": koban_ids,
        "koban_xy": koban_xy,
        "koban_unit": np.asarray(koban_unit, dtype=np.int64),
        "beat_koban": bk,
        "warnings": warnings,
    }


def _problem(
    file: str, row: Any, fld: str | None, found: str, expected: str, code: str = "invalid"
) -> Problem:
    return Problem(file, row, fld, found, expected, code)


def _weights(
    units: gpd.GeoDataFrame,
    ids: np.ndarray,
    column: str | None,
    values: Any,
    source: str,
    problems: list[Problem],
) -> np.ndarray:
    n = len(units)
    if column is None and values is None:
        raise ParameterError("weights: give a weight column or weight values")
    if column is not None:
        if column not in units.columns:
            problems.append(
                _problem(
                    source,
                    None,
                    column,
                    f"columns {list(units.columns)}",
                    f"a numeric weight column '{column}'",
                    "missing_column",
                )
            )
            return np.zeros(n)
        raw = units[column]
        fld = column
    else:
        if isinstance(values, pd.Series) and not values.index.equals(pd.RangeIndex(n)):
            raw = pd.Series(ids).map(values.rename(index=str))
        else:
            raw = pd.Series(np.asarray(values, dtype=object))
        if len(raw) != n:
            raise ParameterError(f"weights: found {len(raw)} values; expected {n}, one per unit")
        fld = "weight"
    num = pd.to_numeric(raw, errors="coerce")
    arr = num.to_numpy(dtype=float)
    for pos in np.flatnonzero(~np.isfinite(arr)):
        found = raw.iloc[pos]
        problems.append(
            _problem(
                source, ids[pos], fld, f"{found!r}", "a number >= 0 (workload)", "not_a_number"
            )
        )
    for pos in np.flatnonzero(np.isfinite(arr) & (arr < 0)):
        problems.append(
            _problem(source, ids[pos], fld, f"{arr[pos]:g}", "a number >= 0 (workload)", "negative")
        )
    return np.where(np.isfinite(arr), arr, 0.0)


_TRUE = {"1", "true", "yes", "y", "t", "locked"}
_FALSE = {"0", "false", "no", "n", "f", "", "nan", "none"}


def _bool_column(
    units: gpd.GeoDataFrame, column: str, ids: np.ndarray, source: str, problems: list[Problem]
) -> np.ndarray:
    if column not in units.columns:
        problems.append(
            _problem(
                source,
                None,
                column,
                f"columns {list(units.columns)}",
                f"a lock column '{column}'",
                "missing_column",
            )
        )
        return np.zeros(len(units), dtype=bool)
    out = np.zeros(len(units), dtype=bool)
    for pos, v in enumerate(units[column].tolist()):
        s = str(v).strip().lower()
        if s in _TRUE:
            out[pos] = True
        elif s not in _FALSE:
            problems.append(
                _problem(
                    source, ids[pos], column, repr(v), "true/false, 1/0 or yes/no", "not_a_boolean"
                )
            )
    return out
