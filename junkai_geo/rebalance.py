"""Beat rebalancing (受持区の調整): even workloads, contiguous compact beats.

Units (町丁目 or household blocks) are assigned to beats so that

- every beat is contiguous in the unit graph (hard; islands are joined to
  their nearest unit by a reported bridge, see :mod:`junkai_geo.units`);
- every beat contains its koban's unit or a unit next to it (hard once met;
  a koban may own several beats);
- the largest relative deviation of a beat's workload from the mean is within
  ``RebalanceParams.tolerance``;
- beats are compact and few households change beat;
- locked units and locked beats keep what they have.

The problem is built once (:meth:`BeatProblem.from_geodataframe`): adjacency,
weights, areas, points, kobans. :meth:`BeatProblem.evaluate` gives the
figures of any assignment in milliseconds (what-if editing). :func:`rebalance_beats` starts from the current beats
(after repairing split beats, and splitting or merging beats when the count
changes; from region growing around the kobans, or recursive bisection without
kobans, when there are no current beats) and improves them by simulated
annealing over single boundary-unit moves, recombinations of two neighbouring
beats (the union cut anew along a random spanning tree) and chains of such
steps along a path of beats, which carry load across the map. Every step keeps
each beat connected and the koban rule. The run is deterministic for a given
seed: it stops after a number of moves, not after a time, unless the time
limit is hit first (then it says so). See ``docs/rebalancing.md``.

Compactness of a beat (reported, ``compactness``): the workload-weighted mean
distance from its koban to its units (unit representative points), divided by
the same mean for a disc of the beat's area with the koban at its centre,
``(2/3) * sqrt(area / pi)``. About 1 for a round beat around its koban,
larger for long or off-centre beats. Without kobans the distance is taken
from the beat's workload centroid.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .errors import InputError, ParameterError, Problem, ProblemError, SolverError
from .settings import check_positive
from .units import UnitGraph, build_unit_graph, unit_of_points

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "BeatEvaluation",
    "BeatFigures",
    "BeatProblem",
    "RebalanceParams",
    "RebalanceResult",
    "evaluate_beats",
    "rebalance_beats",
]


@dataclass(frozen=True)
class RebalanceParams:
    """Targets and search settings of beat rebalancing.

    ``tolerance`` is the largest relative deviation of a beat's workload from
    the mean that the manager accepts (0.03 = 3 %). The search aims at
    ``aim_share_of_tolerance * tolerance`` for a margin. ``compactness_weight``
    and ``moved_weight`` trade compactness (mean score, see the module) and the
    share of households that change beat against each other once workloads are
    within the aim; ``max_moved_share`` is a hard cap on that share.
    """

    tolerance: float = 0.03
    aim_share_of_tolerance: float = 0.6
    time_limit_s: float = 60.0
    seed: int = 0
    moves_per_unit: int = 1200  # move attempts per unit in one run
    compactness_weight: float = 1.0
    moved_weight: float = 1.0
    max_moved_share: float = 1.0
    balance_weight: float = 2000.0  # penalty per squared deviation above the aim
    evenness_weight: float = 1.0  # small pull towards even loads within the aim
    start_temperature: float = 0.5
    end_temperature: float = 1e-5
    snap_m: float = 1.0  # gap between polygons still counted as touching
    min_shared_boundary_m: float = 1.0  # a shorter contact (a corner) is not adjacency
    # Refinement before the search (junkai_geo.workload.refine_units, used by
    # the CLI and the benchmark when household points are known): units above
    # this share of the mean beat workload are split into sub-units; 0 = off.
    split_unit_share: float = 0.15

    def __post_init__(self) -> None:
        check_positive(
            self,
            "tolerance",
            "aim_share_of_tolerance",
            "time_limit_s",
            "moves_per_unit",
            "max_moved_share",
            "balance_weight",
            "start_temperature",
            "end_temperature",
        )
        for name in (
            "compactness_weight",
            "moved_weight",
            "evenness_weight",
            "snap_m",
            "min_shared_boundary_m",
            "split_unit_share",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ParameterError(
                    f"RebalanceParams.{name}: found {value!r}; expected a number >= 0"
                )
        if self.aim_share_of_tolerance > 1:
            raise ParameterError(
                f"RebalanceParams.aim_share_of_tolerance: found {self.aim_share_of_tolerance}; "
                "expected a number in (0, 1]"
            )
        if self.max_moved_share > 1:
            raise ParameterError(
                f"RebalanceParams.max_moved_share: found {self.max_moved_share}; "
                "expected a number in (0, 1]"
            )


@dataclass
class BeatFigures:
    """One row of the before / after table."""

    beat_id: str
    koban_id: str | None
    units: int
    households: float
    workload_h: float
    deviation: float  # relative to the mean workload
    area_km2: float
    compactness: float
    koban_distance_m: float  # workload-weighted mean distance koban -> units
    contiguous: bool
    parts: int
    touches_koban: bool | None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("households", "workload_h", "area_km2", "compactness", "koban_distance_m"):
            d[k] = round(float(d[k]), 4) if math.isfinite(d[k]) else None
        d["deviation"] = round(float(d["deviation"]), 5)
        return d


@dataclass
class BeatEvaluation:
    """Figures of one assignment, and what in it breaks the rules."""

    beats: list[BeatFigures]
    mean_workload_h: float
    largest_deviation: float
    mean_compactness: float
    households_moved: float
    units_moved: int
    moved_share: float
    not_contiguous: list[str]  # beats in more than one part
    lock_violations: list[str]  # unit ids moved although locked, or into a locked beat
    koban_violations: list[str]  # beats neither holding nor touching their koban's unit
    empty_beats: list[str]

    @property
    def feasible(self) -> bool:
        """True when no beat is split or empty and no lock or koban rule is broken."""
        return not (
            self.not_contiguous or self.lock_violations or self.koban_violations or self.empty_beats
        )

    def summary(self) -> dict[str, Any]:
        return {
            "largest_deviation": round(self.largest_deviation, 5),
            "mean_workload_h": round(self.mean_workload_h, 4),
            "mean_compactness": round(self.mean_compactness, 4),
            "households_moved": round(self.households_moved, 2),
            "units_moved": self.units_moved,
            "moved_share": round(self.moved_share, 5),
            "beats": len(self.beats),
            "not_contiguous": self.not_contiguous,
            "lock_violations": self.lock_violations,
            "koban_violations": self.koban_violations,
            "empty_beats": self.empty_beats,
            "feasible": self.feasible,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "table": [b.to_dict() for b in self.beats]}


def _problem(
    file: str, row: Any, fld: str | None, found: str, expected: str, code: str = "invalid"
) -> Problem:
    return Problem(file, row, fld, found, expected, code)


@dataclass
class BeatProblem:
    """The numeric rebalancing problem, built once from a unit layer.

    Arrays are aligned with ``unit_ids``; ``reference`` holds the beat index
    of each unit in the current beats (-1 when a unit has none).
    """

    unit_ids: np.ndarray
    weights: np.ndarray  # workload per unit (hours, or any non-negative measure)
    households: np.ndarray
    area_m2: np.ndarray
    x: np.ndarray
    y: np.ndarray
    graph: UnitGraph
    beat_ids: list[str]
    reference: np.ndarray
    locked_units: np.ndarray
    locked_beats: np.ndarray
    koban_ids: list[str] = field(default_factory=list)
    koban_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    koban_unit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    beat_koban: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    geometries: np.ndarray | None = None
    crs: Any = None
    warnings: list[str] = field(default_factory=list)
    source: str = "units"
    wanted_beats: int = 0  # beats asked for; 0 means as many as now
    reference_labels: np.ndarray | None = None  # current beat id per unit (None: none)
    parent_ids: np.ndarray | None = None  # unit each sub-unit was cut from (None: no split)

    def __post_init__(self) -> None:
        edges = self.graph.edges
        self._edges = edges
        self._beat_pos = {b: k for k, b in enumerate(self.beat_ids)}
        if self.reference_labels is None:
            self.reference_labels = np.array(
                [self.beat_ids[r] if r >= 0 else None for r in self.reference], dtype=object
            )

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_beats(self) -> int:
        return len(self.beat_ids)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_geodataframe(
        cls,
        units: gpd.GeoDataFrame,
        *,
        weight_column: str | None = None,
        weights: Sequence[float] | np.ndarray | pd.Series | None = None,
        id_column: str = "unit_id",
        current_column: str | None = None,
        households_column: str | None = "households",
        koban: gpd.GeoDataFrame | None = None,
        beat_koban: Mapping[str, str] | None = None,
        lock_column: str | None = None,
        locked_units: Sequence[str] | None = None,
        locked_beats: Sequence[str] | None = None,
        n_beats: int | None = None,
        params: RebalanceParams | None = None,
        source: str = "units",
        parent_column: str | None = "parent_unit_id",
    ) -> BeatProblem:
        """Check a unit layer and build the problem from it.

        Parameters
        ----------
        units
            Polygons with ``id_column``; any CRS (projected to metres here).
        weight_column, weights
            Workload per unit: a numeric column, or values aligned with
            ``units`` (a Series indexed by unit id is aligned by id). One of
            them is required.
        current_column
            Column with each unit's current beat; empty values mean none.
        koban
            Koban points with ``koban_id``. Each beat's koban comes from
            ``beat_koban``, else the units' ``koban_id`` column (most common
            per beat), else the koban lying in the beat, else the nearest.
        lock_column, locked_units, locked_beats
            Units that keep their current beat, and beats that keep all their
            units and take no other.
        n_beats
            Number of beats wanted; defaults to the number of current beats.
        parent_column
            Column naming the unit each sub-unit was cut from (see
            :func:`junkai_geo.workload.refine_units`); used when present.
        """
        from .workload import to_metric

        p = params or RebalanceParams()
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
                    _problem(
                        source, pos + 1, id_column, "an empty id", "a unit id", "missing_value"
                    )
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
        graph = build_unit_graph(geoms, snap_m=p.snap_m, min_shared_m=p.min_shared_boundary_m)
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

        prob = cls(
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
            prob._attach_koban(koban, beat_koban, units, current_column)
        return prob

    def _attach_koban(
        self,
        koban: gpd.GeoDataFrame,
        beat_koban: Mapping[str, str] | None,
        units: gpd.GeoDataFrame,
        current_column: str | None,
    ) -> None:
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
        if self.crs is not None and kob.crs is not None and kob.crs != self.crs:
            kob = kob.to_crs(self.crs)
        pts = shapely.point_on_surface(kob.geometry.to_numpy())
        self.koban_ids = kob["koban_id"].astype(str).tolist()
        self.koban_xy = np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])
        assert self.geometries is not None
        self.koban_unit = unit_of_points(self.geometries, pts)
        kpos = {k: m for m, k in enumerate(self.koban_ids)}
        bk = np.full(len(self.beat_ids), -1, dtype=np.int64)
        if beat_koban is not None:
            for k, b in enumerate(self.beat_ids):
                if b in beat_koban and str(beat_koban[b]) in kpos:
                    bk[k] = kpos[str(beat_koban[b])]
        if "koban_id" in units.columns and current_column is not None:
            col = units["koban_id"].astype(str).to_numpy()
            for k in np.flatnonzero(bk < 0).tolist():
                vals = [c for c in col[self.reference == k] if c in kpos]
                if vals:
                    bk[k] = kpos[pd.Series(vals).mode().sort_values().iloc[0]]
        for k in np.flatnonzero(bk < 0).tolist():
            members = np.flatnonzero(self.reference == k)
            inside = [
                m for m in range(len(self.koban_ids)) if self.reference[self.koban_unit[m]] == k
            ]
            if inside:
                bk[k] = inside[0]
            elif len(members):
                cx, cy = self.x[members].mean(), self.y[members].mean()
                bk[k] = int(np.argmin(np.hypot(self.koban_xy[:, 0] - cx, self.koban_xy[:, 1] - cy)))
        self.beat_koban = bk

    # ------------------------------------------------------------- evaluate
    def labels_to_index(self, assignment: Any, *, name: str = "assignment") -> np.ndarray:
        """Beat index per unit from labels (sequence aligned with units, or a mapping)."""
        if isinstance(assignment, Mapping):
            missing = [u for u in self.unit_ids if u not in assignment]
            if missing:
                raise ProblemError(name, f"no beat for unit(s) {missing[:10]}")
            labels = [str(assignment[u]) for u in self.unit_ids]
        else:
            arr = np.asarray(assignment)
            if arr.shape != (self.n_units,):
                raise ProblemError(
                    name,
                    f"found {arr.shape[0] if arr.ndim else 0} values; "
                    f"expected one per unit ({self.n_units})",
                )
            if np.issubdtype(arr.dtype, np.integer):
                if arr.min() < 0 or arr.max() >= self.n_beats:
                    raise ProblemError(name, f"beat index out of range 0..{self.n_beats - 1}")
                return arr.astype(np.int64)
            labels = [str(v) for v in arr.tolist()]
        out = np.empty(self.n_units, dtype=np.int64)
        for i, lab in enumerate(labels):
            k = self._beat_pos.get(lab)
            if k is None:
                raise ProblemError(
                    f"{name}[{self.unit_ids[i]}]",
                    f"unknown beat '{lab}'; expected one of {self.beat_ids[:20]}",
                )
            out[i] = k
        return out

    def evaluate(self, assignment: Any) -> BeatEvaluation:
        """Figures of an assignment (labels or indices), and what breaks the rules."""
        a = self.labels_to_index(assignment)
        return self._evaluate_index(a)

    def _evaluate_index(self, a: np.ndarray) -> BeatEvaluation:
        k = self.n_beats
        w = self.weights
        W = np.bincount(a, weights=w, minlength=k)
        H = np.bincount(a, weights=self.households, minlength=k)
        A = np.bincount(a, weights=self.area_m2, minlength=k)
        cnt = np.bincount(a, minlength=k)
        mean = float(W.sum() / k) if k else 0.0
        dev = (W - mean) / mean if mean > 0 else np.zeros(k)
        # Anchor of each beat: its koban, else its workload centroid.
        ax, ay = self._anchors(a, W)
        d = np.hypot(self.x - ax[a], self.y - ay[a])
        D = np.bincount(a, weights=w * d, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            kd = np.where(W > 0, D / W, np.nan)
            disc = (2.0 / 3.0) * np.sqrt(A / math.pi)
            comp = np.where((W > 0) & (disc > 0), kd / disc, np.nan)
        parts = self._parts(a)
        touches = self._touches_koban(a)
        ref = self.reference
        labels = self.reference_labels
        assert labels is not None
        has_ref = np.array([x is not None for x in labels], dtype=bool)
        new_labels = np.asarray(self.beat_ids, dtype=object)[a]
        moved = has_ref & (new_labels != labels)
        hh_moved = float(self.households[moved].sum())
        total_hh = float(self.households[has_ref].sum())
        lock_bad = self.locked_units & (a != ref)
        if self.locked_beats.any():
            lb = self.locked_beats
            was_locked = (ref >= 0) & lb[np.where(ref >= 0, ref, 0)]
            lock_bad |= was_locked & (a != ref)
            lock_bad |= lb[a] & (a != ref)
        rows = []
        for b in range(k):
            kid = self.koban_ids[self.beat_koban[b]] if self._has_koban(b) else None
            rows.append(
                BeatFigures(
                    beat_id=self.beat_ids[b],
                    koban_id=kid,
                    units=int(cnt[b]),
                    households=float(H[b]),
                    workload_h=float(W[b]),
                    deviation=float(dev[b]),
                    area_km2=float(A[b] / 1e6),
                    compactness=float(comp[b]),
                    koban_distance_m=float(kd[b]) if kid is not None else float("nan"),
                    contiguous=bool(parts[b] <= 1),
                    parts=int(parts[b]),
                    touches_koban=None if touches[b] is None else bool(touches[b]),
                )
            )
        finite = comp[np.isfinite(comp)]
        return BeatEvaluation(
            beats=rows,
            mean_workload_h=mean,
            largest_deviation=float(np.abs(dev).max()) if k else 0.0,
            mean_compactness=float(finite.mean()) if len(finite) else float("nan"),
            households_moved=hh_moved,
            units_moved=int(moved.sum()),
            moved_share=hh_moved / total_hh if total_hh > 0 else 0.0,
            not_contiguous=[self.beat_ids[b] for b in range(k) if parts[b] > 1],
            lock_violations=self.unit_ids[lock_bad].tolist(),
            koban_violations=[self.beat_ids[b] for b in range(k) if touches[b] is False],
            empty_beats=[self.beat_ids[b] for b in range(k) if cnt[b] == 0],
        )

    def _has_koban(self, b: int) -> bool:
        return len(self.beat_koban) > b and self.beat_koban[b] >= 0

    def _anchors(self, a: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.n_beats
        w = self.weights
        Wx = np.bincount(a, weights=w * self.x, minlength=k)
        Wy = np.bincount(a, weights=w * self.y, minlength=k)
        cnt = np.bincount(a, minlength=k).astype(float)
        Sx = np.bincount(a, weights=self.x, minlength=k)
        Sy = np.bincount(a, weights=self.y, minlength=k)
        with np.errstate(divide="ignore", invalid="ignore"):
            ax = np.where(W > 0, Wx / W, Sx / np.maximum(cnt, 1))
            ay = np.where(W > 0, Wy / W, Sy / np.maximum(cnt, 1))
        for b in range(k):
            if self._has_koban(b):
                ax[b], ay[b] = self.koban_xy[self.beat_koban[b]]
        return ax, ay

    def _parts(self, a: np.ndarray) -> np.ndarray:
        """Number of connected parts of each beat."""
        e = self._edges
        same = a[e[:, 0]] == a[e[:, 1]]
        rows, cols = e[same, 0], e[same, 1]
        n = self.n_units
        g = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
        _, comp = connected_components(g, directed=False)
        pairs = np.unique(np.column_stack([a, comp]), axis=0)
        return np.bincount(pairs[:, 0], minlength=self.n_beats)

    def _touches_koban(self, a: np.ndarray) -> list[bool | None]:
        out: list[bool | None] = []
        for b in range(self.n_beats):
            if not self._has_koban(b):
                out.append(None)
                continue
            u = int(self.koban_unit[self.beat_koban[b]])
            near = [u, *self.graph.neighbours[u]]
            out.append(bool((a[near] == b).any()))
        return out


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


# ---------------------------------------------------------------------------
# Results


@dataclass
class MovedUnit:
    unit_id: str
    from_beat: str | None
    to_beat: str
    households: float
    workload_h: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "from_beat": self.from_beat,
            "to_beat": self.to_beat,
            "households": round(self.households, 2),
            "workload_h": round(self.workload_h, 4),
        }


@dataclass
class RebalanceResult:
    """A new beat plan with its before / after figures.

    ``assignment`` maps each unit id to its new beat; ``before`` is None when
    there were no current beats. ``beats_after`` / ``beats_before`` hold the
    dissolved beat polygons (columns ``beat_id``, ``koban_id``, ``geometry``,
    metric CRS). ``stopped_by`` is ``"moves"`` (the deterministic budget),
    ``"converged"`` or ``"time_limit"`` (then a rerun may differ).
    ``split_units`` maps each unit cut into sub-units (refinement) to the
    sub-unit ids the assignment uses; empty when nothing was split.
    """

    assignment: dict[str, str]
    before: BeatEvaluation | None
    after: BeatEvaluation
    moved_units: list[MovedUnit]
    beats_after: gpd.GeoDataFrame
    beats_before: gpd.GeoDataFrame | None
    warnings: list[str]
    tolerance: float
    seed: int
    moves_tried: int
    moves_made: int
    time_s: float
    stopped_by: str
    split_units: dict[str, list[str]] = field(default_factory=dict)  # unit -> its sub-units

    @property
    def within_tolerance(self) -> bool:
        return self.after.largest_deviation <= self.tolerance + 1e-12

    def units_frame(self, problem: BeatProblem) -> gpd.GeoDataFrame:
        """Every unit with ``beat_before``, ``beat`` and ``moved``, in WGS84."""
        import geopandas as gpd

        assert problem.reference_labels is not None
        before = problem.reference_labels.tolist()
        after = [self.assignment[u] for u in problem.unit_ids]
        gdf = gpd.GeoDataFrame(
            {
                "unit_id": problem.unit_ids,
                "beat_before": before,
                "beat": after,
                "moved": [b is not None and b != c for b, c in zip(before, after, strict=True)],
                "weight": problem.weights,
                "households": problem.households,
                "parent_unit_id": (
                    problem.parent_ids if problem.parent_ids is not None else problem.unit_ids
                ),
            },
            geometry=problem.geometries,
            crs=problem.crs,
        )
        return gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf

    def to_dict(self, *, geometry: bool = True) -> dict[str, Any]:
        """JSON-ready plan: figures, tables, moved units, beat polygons (WGS84)."""
        plan = {
            "within_tolerance": self.within_tolerance,
            "tolerance": self.tolerance,
            "largest_deviation_before": (
                round(self.before.largest_deviation, 5) if self.before else None
            ),
            "largest_deviation_after": round(self.after.largest_deviation, 5),
            "mean_compactness_before": (
                round(self.before.mean_compactness, 4) if self.before else None
            ),
            "mean_compactness_after": round(self.after.mean_compactness, 4),
            "households_moved": round(self.after.households_moved, 2),
            "units_moved": self.after.units_moved,
            "moved_share": round(self.after.moved_share, 5),
            "beats": len(self.after.beats),
            "all_contiguous": not self.after.not_contiguous,
            "feasible": self.after.feasible,
            "seed": self.seed,
            "moves_tried": self.moves_tried,
            "moves_made": self.moves_made,
            "time_s": round(self.time_s, 3),
            "stopped_by": self.stopped_by,
            "units_split": len(self.split_units),
        }
        out: dict[str, Any] = {
            "plan": plan,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict(),
            "moved_units": [m.to_dict() for m in self.moved_units],
            "assignment": self.assignment,
            "warnings": list(self.warnings),
            "split_units": self.split_units,
        }
        if geometry:
            out["beats_after"] = _geojson(self.beats_after)
            out["beats_before"] = (
                _geojson(self.beats_before) if self.beats_before is not None else None
            )
        return out


def _geojson(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    g = gdf.to_crs("EPSG:4326") if gdf.crs is not None else gdf
    return dict(g.__geo_interface__)


def dissolve_beats(problem: BeatProblem, a: np.ndarray) -> gpd.GeoDataFrame:
    """Beat polygons dissolved from their units (valid; no gaps the units lack)."""
    import geopandas as gpd

    assert problem.geometries is not None
    polys = []
    for b in range(problem.n_beats):
        members = problem.geometries[a == b]
        try:
            geom = shapely.coverage_union_all(members) if len(members) else shapely.Polygon()
        except shapely.errors.GEOSException:
            # Sub-units cut inside a unit add vertices on its edge that the
            # neighbouring unit lacks; the overlay union copes with that.
            geom = shapely.union_all(members)
        if not shapely.is_valid(geom):
            geom = shapely.union_all(shapely.make_valid(members))
        polys.append(shapely.make_valid(geom))
    kob = [
        problem.koban_ids[problem.beat_koban[b]] if problem._has_koban(b) else None
        for b in range(problem.n_beats)
    ]
    return gpd.GeoDataFrame(
        {"beat_id": problem.beat_ids, "koban_id": kob}, geometry=polys, crs=problem.crs
    )


def evaluate_beats(problem: BeatProblem, assignment: Any) -> BeatEvaluation:
    """Figures of any assignment on a built problem (see :meth:`BeatProblem.evaluate`)."""
    return problem.evaluate(assignment)


# ---------------------------------------------------------------------------
# Solver


def _random_spanning_tree(
    m: int, edges: list[tuple[int, int]], rng: random.Random
) -> list[list[int]] | None:
    """Adjacency lists of a random spanning tree (Kruskal on random weights)."""
    order = edges[:]
    rng.shuffle(order)
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tree: list[list[int]] = [[] for _ in range(m)]
    joined = 0
    for u, v in order:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[ru] = rv
            tree[u].append(v)
            tree[v].append(u)
            joined += 1
            if joined == m - 1:
                break
    return tree if joined == m - 1 else None


def _tree_cuts(
    m: int,
    tree: list[list[int]],
    w: list[float],
    total: float,
    mean: float,
    goal: float | None,
    keep: int,
) -> tuple[list[int], list[tuple[float, int, int]]]:
    """The ``keep`` best tree edges to cut.

    With ``goal`` None a cut is as good as the larger relative deviation of
    its two parts from ``mean``; else as near as one part (the subtree, or the
    rest when ``flip`` is 1) comes to ``goal``. Returns the tree's parent
    array (rooted at 0) and ``(score, node below the cut edge, flip)``.
    """
    parent = [-1] * m
    order = [0]
    parent[0] = 0
    for u in order:
        for v in tree[u]:
            if parent[v] < 0:
                parent[v] = u
                order.append(v)
    sub = w[:]
    for u in reversed(order[1:]):
        sub[parent[u]] += sub[u]
    scale = mean if mean > 0 else 1.0
    found: list[tuple[float, int, int]] = []
    for u in order[1:]:
        if goal is None:
            found.append((max(abs(sub[u] - mean), abs(total - sub[u] - mean)) / scale, u, 0))
        else:
            found.append((abs(sub[u] - goal) / scale, u, 0))
            found.append((abs(total - sub[u] - goal) / scale, u, 1))
    found.sort()
    return parent, found[:keep]


def _subtree_flags(m: int, tree: list[list[int]], parent: list[int], node: int) -> list[int]:
    """1 for the nodes of the subtree below ``node`` (the tree rooted at 0)."""
    side = [0] * m
    stack = [node]
    side[node] = 1
    while stack:
        u = stack.pop()
        for v in tree[u]:
            if v != parent[u] and not side[v]:
                side[v] = 1
                stack.append(v)
    return side


def rebalance_beats(
    problem: BeatProblem | gpd.GeoDataFrame,
    *,
    params: RebalanceParams | None = None,
    **build: Any,
) -> RebalanceResult:
    """Rebalance beats: contiguous, koban-anchored, even and compact, few moves.

    Parameters
    ----------
    problem
        A built :class:`BeatProblem`, or a unit GeoDataFrame; then ``build``
        holds the keyword arguments of :meth:`BeatProblem.from_geodataframe`
        (``weight_column`` or ``weights``, ``n_beats``, ``current_column``,
        ``koban``, ``lock_column``, ``locked_beats`` ...).
    params
        Targets and search settings; the seed makes the plan reproducible.
    """
    p = params or RebalanceParams()
    t0 = time.perf_counter()
    if not isinstance(problem, BeatProblem):
        problem = BeatProblem.from_geodataframe(problem, params=p, **build)
    elif build:
        raise ParameterError(f"unexpected arguments with a built problem: {sorted(build)}")
    warnings = list(problem.warnings)
    before = (
        problem._evaluate_index(problem.reference)
        if (problem.reference >= 0).all() and problem.n_beats
        else None
    )
    beats_before = dissolve_beats(problem, problem.reference) if before is not None else None
    if before is None and (problem.reference >= 0).any():
        warnings.append("some units have no current beat: no 'before' figures")
    start = _initial_assignment(problem, problem.wanted_beats or problem.n_beats, p, warnings)
    search = _Search(problem, start, p, warnings)
    search.run(t0)
    a = np.asarray(search.best, dtype=np.int64)
    after = problem._evaluate_index(a)
    if after.largest_deviation > p.tolerance:
        warnings.append(
            f"largest deviation {after.largest_deviation:.1%} is above the tolerance "
            f"{p.tolerance:.1%}: " + _why_not(problem, a, p)
        )
    labels = problem.reference_labels
    assert labels is not None
    moved = [
        MovedUnit(
            problem.unit_ids[i],
            labels[i],
            problem.beat_ids[a[i]],
            float(problem.households[i]),
            float(problem.weights[i]),
        )
        for i in range(problem.n_units)
        if labels[i] is not None and labels[i] != problem.beat_ids[a[i]]
    ]
    return RebalanceResult(
        assignment={u: problem.beat_ids[b] for u, b in zip(problem.unit_ids, a, strict=True)},
        before=before,
        after=after,
        moved_units=moved,
        beats_after=dissolve_beats(problem, a),
        beats_before=beats_before,
        warnings=warnings,
        tolerance=p.tolerance,
        seed=p.seed,
        moves_tried=search.tried,
        moves_made=search.made,
        time_s=time.perf_counter() - t0,
        stopped_by=search.stopped_by,
        split_units=_split_units(problem),
    )


def _split_units(problem: BeatProblem) -> dict[str, list[str]]:
    """Units cut into sub-units: parent id -> sub-unit ids, in unit order."""
    if problem.parent_ids is None:
        return {}
    out: dict[str, list[str]] = {}
    for uid, parent in zip(problem.unit_ids.tolist(), problem.parent_ids.tolist(), strict=True):
        if uid != parent:
            out.setdefault(parent, []).append(uid)
    return out


def _why_not(problem: BeatProblem, a: np.ndarray, p: RebalanceParams) -> str:
    mean = problem.weights.sum() / problem.n_beats
    big = np.flatnonzero(problem.weights > mean * (1 + p.tolerance))
    if len(big):
        names = ", ".join(problem.unit_ids[big][:5])
        return (
            f"unit(s) {names} alone weigh more than the mean beat plus the tolerance; "
            "split them into smaller units"
        )
    if problem.locked_units.any() or problem.locked_beats.any():
        return "locks, the koban rule or the moved-households cap leave too little freedom"
    return "the units are too coarse or the search budget too small (raise moves_per_unit)"


def _initial_assignment(
    problem: BeatProblem, wanted: int, p: RebalanceParams, warnings: list[str]
) -> np.ndarray:
    """A contiguous start: the current beats repaired, split or merged to ``wanted``."""
    rng = np.random.default_rng(p.seed)
    a = problem.reference.copy()
    if problem.n_beats == 0:
        return _grow_from_scratch(problem, wanted, rng, warnings)
    _repair_contiguity(problem, a, warnings)
    _fill_unassigned(problem, a)
    while problem.n_beats < wanted:
        _split_largest(problem, a, warnings)
    while problem.n_beats > wanted:
        _merge_smallest(problem, a, warnings)
    return a


def _beat_parts(problem: BeatProblem, a: np.ndarray, b: int) -> list[list[int]]:
    members = set(np.flatnonzero(a == b).tolist())
    parts: list[list[int]] = []
    seen: set[int] = set()
    nb = problem.graph.neighbours
    for s in sorted(members):
        if s in seen:
            continue
        comp = [s]
        seen.add(s)
        stack = [s]
        while stack:
            u = stack.pop()
            for v in nb[u]:
                if v in members and v not in seen:
                    seen.add(v)
                    comp.append(v)
                    stack.append(v)
        parts.append(comp)
    return parts


def _repair_contiguity(problem: BeatProblem, a: np.ndarray, warnings: list[str]) -> None:
    """Give stray parts of split current beats to a neighbouring beat."""
    nb = problem.graph.neighbours
    for _ in range(problem.n_units):
        changed = False
        for b in range(problem.n_beats):
            parts = _beat_parts(problem, a, b)
            if len(parts) <= 1:
                continue
            keep = max(
                parts,
                key=lambda c: (
                    _holds_koban(problem, b, c),
                    float(problem.weights[c].sum()),
                    len(c),
                ),
            )
            for comp in parts:
                if comp is keep or problem.locked_units[comp].any() or problem.locked_beats[b]:
                    continue
                counts: dict[int, int] = {}
                for u in comp:
                    for v in nb[u]:
                        if a[v] != b and a[v] >= 0 and not problem.locked_beats[a[v]]:
                            counts[a[v]] = counts.get(a[v], 0) + 1
                if not counts:
                    continue
                to = max(sorted(counts), key=lambda k: counts[k])
                a[comp] = to
                changed = True
                warnings.append(
                    f"beat {problem.beat_ids[b]} was in {len(parts)} parts; "
                    f"{len(comp)} unit(s) given to beat {problem.beat_ids[to]} before rebalancing"
                )
        if not changed:
            return


def _holds_koban(problem: BeatProblem, b: int, comp: list[int]) -> bool:
    if not problem._has_koban(b):
        return False
    u = int(problem.koban_unit[problem.beat_koban[b]])
    near = {u, *problem.graph.neighbours[u]}
    return any(c in near for c in comp)


def _fill_unassigned(problem: BeatProblem, a: np.ndarray) -> None:
    """Units without a current beat join the lightest neighbouring beat."""
    nb = problem.graph.neighbours
    W = np.bincount(a[a >= 0], weights=problem.weights[a >= 0], minlength=problem.n_beats)
    while (a < 0).any():
        progress = False
        for i in np.flatnonzero(a < 0):
            cands = [a[j] for j in nb[i] if a[j] >= 0 and not problem.locked_beats[a[j]]]
            if cands:
                b = min(cands, key=lambda k: (W[k], k))
                a[i] = b
                W[b] += problem.weights[i]
                progress = True
        if not progress:
            # A part of the map with no beat at all: it can only be reached by
            # the bridges, which always exist, so this only happens when every
            # neighbouring beat is locked.
            raise SolverError(
                "units "
                f"{problem.unit_ids[a < 0][:5].tolist()} have no beat and only locked neighbours"
            )


def _grow(
    problem: BeatProblem,
    a: np.ndarray,
    seeds: list[int],
    anchors: np.ndarray,
    allowed: np.ndarray,
    first: int,
) -> None:
    """Grow regions ``first..`` from ``seeds`` over ``allowed`` units, lightest first."""
    nb = problem.graph.neighbours
    w = problem.weights
    k = len(seeds)
    load = np.zeros(k)
    frontier: list[set[int]] = [set() for _ in range(k)]
    for r, s in enumerate(seeds):
        a[s] = first + r
        load[r] = w[s]
        allowed[s] = False
    for r, s in enumerate(seeds):
        frontier[r].update(v for v in nb[s] if allowed[v])
    remaining = int(allowed.sum())
    while remaining > 0:
        order = np.argsort(load, kind="stable")
        grown = False
        for r in order:
            fr = frontier[r]
            fr.difference_update([v for v in fr if not allowed[v]])
            if not fr:
                continue
            ax, ay = anchors[r]
            u = min(fr, key=lambda v: (math.hypot(problem.x[v] - ax, problem.y[v] - ay), v))
            fr.discard(u)
            a[u] = first + r
            allowed[u] = False
            load[r] += w[u]
            fr.update(v for v in nb[u] if allowed[v])
            remaining -= 1
            grown = True
            break
        if not grown:
            return


def _grow_from_scratch(
    problem: BeatProblem, k: int, rng: np.random.Generator, warnings: list[str]
) -> np.ndarray:
    """Beats grown from seeds next to the kobans (or spread seeds without kobans)."""
    n = problem.n_units
    a = np.full(n, -1, dtype=np.int64)
    nb = problem.graph.neighbours
    beat_koban: list[int] = []
    seeds: list[int] = []
    if len(problem.koban_ids):
        m = len(problem.koban_ids)
        d = np.hypot(
            problem.x[:, None] - problem.koban_xy[None, :, 0],
            problem.y[:, None] - problem.koban_xy[None, :, 1],
        )
        share = np.bincount(np.argmin(d, axis=1), weights=problem.weights, minlength=m)
        counts = _apportion(share, k)
        for kob in np.argsort(-share, kind="stable"):
            c = int(counts[kob])
            if c == 0:
                continue
            u = int(problem.koban_unit[kob])
            ring = [
                u,
                *sorted(
                    nb[u],
                    key=lambda v: math.atan2(
                        problem.y[v] - problem.y[u], problem.x[v] - problem.x[u]
                    ),
                ),
            ]
            ring = [v for v in ring if v not in seeds]
            if len(ring) < c:
                warnings.append(
                    f"koban {problem.koban_ids[kob]} gets {c} beats but its unit "
                    f"has only {len(ring)} free neighbours: some cannot touch it"
                )
                extra = [
                    v
                    for v in np.argsort(d[:, kob], kind="stable").tolist()
                    if v not in seeds and v not in ring
                ]
                ring += extra[: c - len(ring)]
            step = max(len(ring) - 1, 1) / max(c - 1, 1) if c > 1 else 1
            picks = (
                [ring[0]]
                + [ring[1 + int(round(j * step)) % max(len(ring) - 1, 1)] for j in range(c - 1)]
                if len(ring) > 1
                else ring[:c]
            )
            chosen: list[int] = []
            for v in picks + ring:
                if v not in chosen and len(chosen) < c:
                    chosen.append(v)
            seeds += chosen
            beat_koban += [int(kob)] * c
        anchors = problem.koban_xy[np.asarray(beat_koban)]
        allowed = np.ones(n, dtype=bool)
        _grow(problem, a, seeds, anchors, allowed, 0)
    else:
        # Without kobans: recursive bisection by workload along the longer
        # side gives near-even, compact, mostly connected beats to start from.
        _bisect(problem, np.arange(n), k, a, 0)
    problem.beat_ids = [f"B{j + 1:03d}" for j in range(k)]
    problem._beat_pos = {b: j for j, b in enumerate(problem.beat_ids)}
    problem.locked_beats = np.zeros(k, dtype=bool)
    problem.beat_koban = (
        np.asarray(beat_koban, dtype=np.int64) if beat_koban else np.full(k, -1, dtype=np.int64)
    )
    if not len(problem.koban_ids):
        _repair_contiguity(problem, a, [])
    return a


def _bisect(problem: BeatProblem, idx: np.ndarray, k: int, out: np.ndarray, first: int) -> None:
    """Split units ``idx`` into ``k`` groups of even workload by coordinate cuts."""
    if k == 1 or len(idx) <= 1:
        out[idx] = first
        return
    k1 = k // 2
    xs, ys = problem.x[idx], problem.y[idx]
    coord = xs if np.ptp(xs) >= np.ptp(ys) else ys
    order = idx[np.argsort(coord, kind="stable")]
    cum = np.cumsum(problem.weights[order])
    goal = cum[-1] * k1 / k
    cut = int(np.searchsorted(cum, goal)) + 1
    # Each side keeps at least as many units as beats it gets.
    cut = min(max(cut, k1), len(order) - (k - k1))
    _bisect(problem, order[:cut], k1, out, first)
    _bisect(problem, order[cut:], k - k1, out, first + k1)


def _apportion(share: np.ndarray, k: int) -> np.ndarray:
    """Integer counts summing to ``k`` proportional to ``share`` (largest remainder)."""
    m = len(share)
    total = share.sum()
    if total <= 0:
        share = np.ones(m)
        total = float(m)
    if k >= m:
        base = np.ones(m, dtype=np.int64)
        rest = k - m
    else:
        base = np.zeros(m, dtype=np.int64)
        rest = k
    quota = share / total * (k if k >= m else rest)
    extra = np.floor(np.maximum(quota - base, 0)).astype(np.int64)
    extra = np.minimum(extra, rest)
    while extra.sum() > rest:
        extra[np.argmax(extra)] -= 1
    left = rest - int(extra.sum())
    rem = quota - base - extra
    for j in np.argsort(-rem, kind="stable")[:left]:
        extra[j] += 1
    return base + extra


def _split_largest(problem: BeatProblem, a: np.ndarray, warnings: list[str]) -> None:
    """Split the heaviest unlocked beat in two, both next to its koban."""
    W = np.bincount(a, weights=problem.weights, minlength=problem.n_beats)
    cnt = np.bincount(a, minlength=problem.n_beats)
    order = [
        b
        for b in np.argsort(-W, kind="stable")
        if cnt[b] >= 2 and not problem.locked_beats[b] and not problem.locked_units[a == b].any()
    ]
    if not order:
        raise ParameterError("n_beats: cannot add beats: every beat with two units is locked")
    b = int(order[0])
    members = np.flatnonzero(a == b)
    if problem._has_koban(b):
        u = int(problem.koban_unit[problem.beat_koban[b]])
        near = [v for v in [u, *problem.graph.neighbours[u]] if a[v] == b]
        ax, ay = problem.koban_xy[problem.beat_koban[b]]
    else:
        near = []
        ax, ay = problem.x[members].mean(), problem.y[members].mean()
    far = members[
        np.argsort(-np.hypot(problem.x[members] - ax, problem.y[members] - ay), kind="stable")
    ]
    s1 = int(near[0]) if near else int(far[0])
    s2_cands = [v for v in near[1:]] if len(near) >= 2 else [v for v in far if v != s1]
    # The second seed lies opposite the first around the anchor.
    s2 = int(
        max(
            s2_cands,
            key=lambda v: math.hypot(problem.x[v] - problem.x[s1], problem.y[v] - problem.y[s1]),
        )
    )
    new = problem.n_beats
    allowed = np.zeros(problem.n_units, dtype=bool)
    allowed[members] = True
    a[members] = -1
    anchors = np.array([[problem.x[s1], problem.y[s1]], [problem.x[s2], problem.y[s2]]])
    tmp = a.copy()
    _grow(problem, tmp, [s1, s2], anchors, allowed, new)
    tmp[tmp == new] = b
    tmp[tmp == new + 1] = new
    a[:] = tmp
    old = problem.beat_ids[b]
    name = f"{old}-2"
    while name in problem._beat_pos:
        name += "b"
    problem.beat_ids.append(name)
    problem._beat_pos[name] = new
    problem.locked_beats = np.append(problem.locked_beats, False)
    if len(problem.beat_koban):
        problem.beat_koban = np.append(problem.beat_koban, problem.beat_koban[b])
    warnings.append(f"beat {old} split in two to reach the beat count: new beat {name}")


def _merge_smallest(problem: BeatProblem, a: np.ndarray, warnings: list[str]) -> None:
    """Merge the lightest unlocked beat into its lightest unlocked neighbour."""
    W = np.bincount(a, weights=problem.weights, minlength=problem.n_beats)
    nb = problem.graph.neighbours
    for b in np.argsort(W, kind="stable"):
        b = int(b)
        if problem.locked_beats[b] or problem.locked_units[a == b].any():
            continue
        adj = sorted({int(a[v]) for u in np.flatnonzero(a == b) for v in nb[u]} - {b})
        adj = [c for c in adj if not problem.locked_beats[c]]
        if not adj:
            continue
        to = min(adj, key=lambda c: (W[c], c))
        a[a == b] = to
        last = problem.n_beats - 1
        warnings.append(
            f"beat {problem.beat_ids[b]} merged into beat "
            f"{problem.beat_ids[to]} to reach the beat count"
        )
        # Keep indices dense: the last beat takes the freed index.
        if b != last:
            a[a == last] = b
            problem.beat_ids[b] = problem.beat_ids[last]
            problem.locked_beats[b] = problem.locked_beats[last]
            if len(problem.beat_koban):
                problem.beat_koban[b] = problem.beat_koban[last]
            # -2: the unit's current beat is gone, so it moves whatever happens.
            problem.reference = np.where(problem.reference == b, -2, problem.reference)
            problem.reference = np.where(problem.reference == last, b, problem.reference)
        else:
            problem.reference = np.where(problem.reference == b, -2, problem.reference)
        problem.beat_ids.pop()
        problem.locked_beats = problem.locked_beats[:-1]
        if len(problem.beat_koban):
            problem.beat_koban = problem.beat_koban[:-1]
        problem._beat_pos = {x: j for j, x in enumerate(problem.beat_ids)}
        return
    raise ParameterError("n_beats: cannot remove beats: no unlocked beat has an unlocked neighbour")


class _Search:
    """Simulated annealing over single boundary-unit moves (pure Python, O(1) deltas)."""

    def __init__(
        self, problem: BeatProblem, start: np.ndarray, p: RebalanceParams, warnings: list[str]
    ) -> None:
        self.pr = problem
        self.p = p
        self.warnings = warnings
        n, k = problem.n_units, problem.n_beats
        self.k = k
        self.assign: list[int] = start.tolist()
        self.best: list[int] = list(self.assign)
        self.nb: list[list[int]] = problem.graph.neighbours
        self.w: list[float] = problem.weights.tolist()
        self.hh: list[float] = problem.households.tolist()
        self.ar: list[float] = problem.area_m2.tolist()
        # Centred coordinates in km keep the sums of squares well conditioned.
        cx, cy = float(problem.x.mean()), float(problem.y.mean())
        self.px: list[float] = ((problem.x - cx) / 1000).tolist()
        self.py: list[float] = ((problem.y - cy) / 1000).tolist()
        self.ref: list[int] = problem.reference.tolist()
        self.locked_unit = problem.locked_units.tolist()
        self.locked_beat = problem.locked_beats.tolist()
        has_k = [problem._has_koban(b) for b in range(k)]
        self.kx = [0.0] * k
        self.ky = [0.0] * k
        self.kset: list[frozenset[int] | None] = [None] * k
        for b in range(k):
            if has_k[b]:
                m = int(problem.beat_koban[b])
                self.kx[b] = (problem.koban_xy[m, 0] - cx) / 1000
                self.ky[b] = (problem.koban_xy[m, 1] - cy) / 1000
                u = int(problem.koban_unit[m])
                self.kset[b] = frozenset([u, *self.nb[u]])
        self.has_k = has_k
        total_w = float(problem.weights.sum())
        self.mean = total_w / k if k else 0.0
        total_hh = float(problem.households[problem.reference != -1].sum())
        self.total_hh = total_hh if total_hh > 0 else 1.0
        self.aim = p.tolerance * p.aim_share_of_tolerance
        # Per-beat sums.
        self.W = [0.0] * k
        self.A = [0.0] * k
        self.D = [0.0] * k  # sum w * distance to koban (km)
        self.Sx = [0.0] * k  # area-weighted coordinate sums for the inertia term
        self.Sy = [0.0] * k
        self.Sq = [0.0] * k
        self.size = [0] * k
        self.near = [0] * k
        self.moved_hh = 0.0
        for i, b in enumerate(self.assign):
            self._add(i, b, 1)
            if self.ref[i] != -1 and self.ref[i] != b:
                self.moved_hh += self.hh[i]
        self.members: list[list[int]] = [[] for _ in range(k)]
        self.pos = [0] * n
        for i, b in enumerate(self.assign):
            self.pos[i] = len(self.members[b])
            self.members[b].append(i)
        self.tried = 0
        self.made = 0
        self.stopped_by = "moves"
        for b in range(k):
            if has_k[b] and self.near[b] == 0:
                self.warnings.append(
                    f"beat {problem.beat_ids[b]} neither holds nor touches the unit of its "
                    f"koban {problem.koban_ids[problem.beat_koban[b]]} at the start; "
                    "the rule is kept only where it holds"
                )
        self.movable = [
            i
            for i in range(n)
            if not self.locked_unit[i] and not self.locked_beat[self.assign[i]] and self.nb[i]
        ]

    def _dist(self, i: int, b: int) -> float:
        return math.hypot(self.px[i] - self.kx[b], self.py[i] - self.ky[b])

    def _add(self, i: int, b: int, s: int) -> None:
        w, ar = self.w[i], self.ar[i]
        self.W[b] += s * w
        self.A[b] += s * ar
        if self.has_k[b]:
            self.D[b] += s * w * self._dist(i, b)
            ks = self.kset[b]
            if ks is not None and i in ks:
                self.near[b] += s
        x, y = self.px[i], self.py[i]
        self.Sx[b] += s * ar * x
        self.Sy[b] += s * ar * y
        self.Sq[b] += s * ar * (x * x + y * y)
        self.size[b] += s

    def _beat_cost(
        self, W: float, A: float, D: float, Sx: float, Sy: float, Sq: float, has_k: bool
    ) -> float:
        p = self.p
        mean = self.mean
        dev = (W - mean) / mean if mean > 0 else 0.0
        ex = abs(dev) - self.aim
        cost = p.evenness_weight * dev * dev
        if ex > 0:
            cost += p.balance_weight * ex * ex
        if A > 0:
            area_km2 = A / 1e6
            # Moment of inertia about the centroid, relative to a disc's.
            inertia = Sq - (Sx * Sx + Sy * Sy) / A
            shape = inertia / (A * area_km2 / (2 * math.pi))
            if has_k and W > 0:
                disc = (2.0 / 3.0) * math.sqrt(area_km2 / math.pi)
                shape = 0.5 * shape + (D / W) / disc
            cost += p.compactness_weight * shape / self.k
        return cost

    def _cost_of(self, b: int) -> float:
        return self._beat_cost(
            self.W[b], self.A[b], self.D[b], self.Sx[b], self.Sy[b], self.Sq[b], self.has_k[b]
        )

    def _delta(self, i: int, a: int, b: int) -> float:
        w, ar = self.w[i], self.ar[i]
        x, y = self.px[i], self.py[i]
        ax = ar * x
        ay = ar * y
        aq = ar * (x * x + y * y)
        da = w * self._dist(i, a) if self.has_k[a] else 0.0
        db = w * self._dist(i, b) if self.has_k[b] else 0.0
        new_a = self._beat_cost(
            self.W[a] - w,
            self.A[a] - ar,
            self.D[a] - da,
            self.Sx[a] - ax,
            self.Sy[a] - ay,
            self.Sq[a] - aq,
            self.has_k[a],
        )
        new_b = self._beat_cost(
            self.W[b] + w,
            self.A[b] + ar,
            self.D[b] + db,
            self.Sx[b] + ax,
            self.Sy[b] + ay,
            self.Sq[b] + aq,
            self.has_k[b],
        )
        d = new_a + new_b - self._cost_of(a) - self._cost_of(b)
        r = self.ref[i]
        if r >= 0:
            dm = (self.hh[i] if r == a else 0.0) - (self.hh[i] if r == b else 0.0)
            d -= self.p.moved_weight * dm / self.total_hh
        return d

    def energy(self) -> float:
        e = sum(self._cost_of(b) for b in range(self.k))
        return e + self.p.moved_weight * self.moved_hh / self.total_hh

    def largest_deviation(self) -> float:
        if self.mean <= 0:
            return 0.0
        return max(abs(W - self.mean) for W in self.W) / self.mean

    def _can_leave(self, i: int, a: int) -> bool:
        """Whether beat ``a`` stays non-empty, connected and next to its koban without ``i``."""
        if self.size[a] <= 1:
            return False
        ks = self.kset[a]
        if ks is not None and self.near[a] == 1 and i in ks:
            return False
        assign = self.assign
        nb = self.nb
        targets = [j for j in nb[i] if assign[j] == a]
        if len(targets) <= 1:
            return bool(targets)
        # Often the neighbours of i in a touch each other directly.
        tset = set(targets)
        seen = {targets[0]}
        stack = [targets[0]]
        while stack:
            u = stack.pop()
            for v in nb[u]:
                if v in tset and v not in seen:
                    seen.add(v)
                    stack.append(v)
        if len(seen) == len(tset):
            return True
        # Otherwise search the rest of beat a, stopping once all are reached.
        found = len(seen)
        seen.add(i)
        stack = [t for t in targets if t in seen and t != i]
        while stack:
            u = stack.pop()
            for v in nb[u]:
                if v not in seen and assign[v] == a:
                    seen.add(v)
                    if v in tset:
                        found += 1
                        if found == len(tset):
                            return True
                    stack.append(v)
        return False

    def _move(self, i: int, a: int, b: int) -> None:
        self._add(i, a, -1)
        self._add(i, b, 1)
        self.assign[i] = b
        r = self.ref[i]
        if r >= 0:
            if r == a:
                self.moved_hh += self.hh[i]
            elif r == b:
                self.moved_hh -= self.hh[i]
        # O(1) removal from a's member list.
        ma = self.members[a]
        pi = self.pos[i]
        last = ma[-1]
        ma[pi] = last
        self.pos[last] = pi
        ma.pop()
        self.pos[i] = len(self.members[b])
        self.members[b].append(i)
        self.made += 1

    p_chains = 4  # chain attempts per chunk of single moves
    chunk = 500  # single moves between two rounds of chains and recombinations

    def _beat_neighbours(self, b: int) -> list[int]:
        assign = self.assign
        nb = self.nb
        out = {assign[v] for u in self.members[b] for v in nb[u]}
        out.discard(b)
        return sorted(out)

    chain_beats = 60  # beats a chain search may expand

    def _can_hand(self, x: int, y: int, leave: dict[int, bool]) -> bool:
        """Whether some unit of beat ``x`` next to beat ``y`` may move there."""
        assign = self.assign
        for u in self.members[x]:
            if self.locked_unit[u] or not any(assign[v] == y for v in self.nb[u]):
                continue
            ok = leave.get(u)
            if ok is None:
                ok = self._can_leave(u, x)
                leave[u] = ok
            if ok:
                return True
        return False

    def _chain(self, s: int, rng: random.Random, temp: float) -> float:
        """Shift load along a path of beats from ``s`` to the nearest beat off the other way.

        Each beat on the path hands one boundary unit to the next, so the
        ends change and the beats between barely do. The chain is kept when
        the annealing rule accepts its total change, else undone. Returns the
        energy change kept.
        """
        if self.locked_beat[s]:
            return 0.0
        mean = self.mean
        W = self.W
        over = W[s] > mean
        parent: dict[int, int] = {s: -1}
        depth = {s: 0}
        queue = [s]
        head = 0
        leave: dict[int, bool] = {}
        best_t, best_score = -1, -math.inf
        while head < len(queue) and head < self.chain_beats:
            b = queue[head]
            head += 1
            around = self._beat_neighbours(b)
            # A shuffled search tries other paths each time.
            rng.shuffle(around)
            for c in around:
                if c in parent or self.locked_beat[c]:
                    continue
                # Only edges some unit can cross now: from b to c when load
                # flows out of s, from c to b when it flows into s.
                src, dst = (b, c) if over else (c, b)
                if not self._can_hand(src, dst, leave):
                    continue
                parent[c] = b
                depth[c] = depth[b] + 1
                queue.append(c)
                gap = (mean - W[c]) if over else (W[c] - mean)
                # The far end: as far off the other way as possible, and near.
                score = gap / mean - 0.01 * depth[c] + 0.02 * rng.random()
                if gap > 0 and score > best_score:
                    best_t, best_score = c, score
        target = best_t
        if target < 0:
            return 0.0
        path = [target]
        while parent[path[-1]] >= 0:
            path.append(parent[path[-1]])
        path.reverse()  # s ... target
        if not over:
            path.reverse()  # load flows from target to s
        amount = abs(W[s] - mean) * (0.5 + 0.5 * rng.random())
        done: list[tuple[int, int, int]] = []
        marks: list[tuple[int, float]] = []
        total = 0.0
        cap = self.p.max_moved_share * self.total_hh + 1e-9
        for x, y in zip(path[:-1], path[1:], strict=True):
            step = self._hand_over(x, y, amount, cap)
            if not step:
                break
            for u in step:
                total += self._delta(u, x, y)
                self._move(u, x, y)
                done.append((u, x, y))
            # The next beat hands on about what it just received.
            amount = sum(self.w[u] for u in step)
            marks.append((len(done), total))
        # Every prefix of the chain is a valid plan: keep the best one.
        keep, kept = 0, 0.0
        if marks:
            keep, kept = min(marks, key=lambda m: (m[1], m[0]))
            if not (kept <= 0 or rng.random() < math.exp(-kept / temp)):
                keep, kept = 0, 0.0
        for u, x, y in reversed(done[keep:]):
            self._move(u, y, x)
            self.made -= 2
        return kept

    trees_per_recombination = 12

    def _recombine(self, a: int, rng: random.Random, temp: float) -> float:
        """Merge beat ``a`` with a neighbour and cut the union in two again.

        The cut is the most even one over a few random spanning trees of the
        union (each tree edge cut gives two connected parts). Units are big
        next to a beat's load, and this moves many at once where single moves
        stall. Kept by the annealing rule; returns the energy change kept.
        """
        nbrs = [c for c in self._beat_neighbours(a) if not self.locked_beat[c]]
        if not nbrs or self.locked_beat[a]:
            return 0.0
        mean = self.mean
        W = self.W
        if rng.random() < 0.5:
            # The neighbour most off the other way evens both out fastest.
            sign = 1.0 if W[a] > mean else -1.0
            b = min(nbrs, key=lambda c: (sign * (W[c] - mean), c))
        else:
            b = nbrs[rng.randrange(len(nbrs))]
        e0 = self._cost_of(a) + self._cost_of(b) + self._moved_cost()
        done = self._resplit(a, b, None, rng)
        if done is None:
            return 0.0
        d = self._cost_of(a) + self._cost_of(b) + self._moved_cost() - e0
        if d <= 0 or rng.random() < math.exp(-d / temp):
            return d
        self._undo(done)
        return 0.0

    def _path_recombine(self, s: int, rng: random.Random, temp: float) -> float:
        """Recombine along a path of beats so that each gets the mean load in turn.

        Load travels from ``s`` to a beat off the other way several beats
        away; every beat on the way is cut to the mean with the next one,
        which carries the rest on. Kept by the annealing rule.
        """
        if self.locked_beat[s]:
            return 0.0
        mean = self.mean
        W = self.W
        over = W[s] > mean
        parent: dict[int, int] = {s: -1}
        depth = {s: 0}
        queue = [s]
        head = 0
        best_t, best_score = -1, -math.inf
        while head < len(queue) and head < self.chain_beats:
            b = queue[head]
            head += 1
            around = self._beat_neighbours(b)
            # A shuffled search tries other paths each time.
            rng.shuffle(around)
            for c in around:
                if c in parent or self.locked_beat[c]:
                    continue
                parent[c] = b
                depth[c] = depth[b] + 1
                queue.append(c)
                gap = (mean - W[c]) if over else (W[c] - mean)
                score = gap / mean - 0.01 * depth[c] + 0.02 * rng.random()
                if gap > 0 and score > best_score:
                    best_t, best_score = c, score
        if best_t < 0:
            return 0.0
        path = [best_t]
        while parent[path[-1]] >= 0:
            path.append(parent[path[-1]])
        path.reverse()  # s ... target
        touched = set(path)
        e0 = sum(self._cost_of(b) for b in touched) + self._moved_cost()
        log: list[tuple[int, int, int]] = []
        marks: list[tuple[int, float]] = []
        for x, y in zip(path[:-1], path[1:], strict=True):
            done = self._resplit(x, y, mean, rng)
            if done is None:
                break
            log += done
            e = sum(self._cost_of(b) for b in touched) + self._moved_cost()
            marks.append((len(log), e - e0))
        keep, kept = 0, 0.0
        if marks:
            keep, kept = min(marks, key=lambda m: (m[1], m[0]))
            if not (kept <= 0 or rng.random() < math.exp(-kept / temp)):
                keep, kept = 0, 0.0
        self._undo(log[keep:])
        return kept

    def _moved_cost(self) -> float:
        return self.p.moved_weight * self.moved_hh / self.total_hh

    def _undo(self, done: list[tuple[int, int, int]]) -> None:
        for u, x, y in reversed(done):
            self._move(u, y, x)
            self.made -= 2

    def _resplit(
        self, a: int, b: int, goal_a: float | None, rng: random.Random
    ) -> list[tuple[int, int, int]] | None:
        """Cut the union of beats ``a`` and ``b`` anew and apply it.

        With ``goal_a`` None the cut evens both beats out; else ``a`` gets a
        load as near ``goal_a`` as the cuts allow. Returns the moves made
        (unit, from, to), or None when no allowed cut changes anything.
        """
        units = self.members[a] + self.members[b]
        local = {u: j for j, u in enumerate(units)}
        m = len(units)
        edges = [
            (local[u], local[v])
            for u in units
            for v in self.nb[u]
            if v in local and local[u] < local[v]
        ]
        w = [self.w[u] for u in units]
        total_w = sum(w)
        cuts: list[tuple[float, int, int, int, list[list[int]], list[int]]] = []
        for t in range(self.trees_per_recombination):
            tree = _random_spanning_tree(m, edges, rng)
            if tree is None:
                return None
            parent, found = _tree_cuts(m, tree, w, total_w, self.mean, goal_a, 3)
            cuts += [(dev, t, node, flip, tree, parent) for dev, node, flip in found]
        cuts.sort(key=lambda c: (c[0], c[1], c[2], c[3]))
        choice: tuple[list[int], list[int]] | None = None
        for _, _, node, flip, tree, parent in cuts[:12]:
            side = _subtree_flags(m, tree, parent, node)
            sub = [units[j] for j in range(m) if side[j]]
            rest = [units[j] for j in range(m) if not side[j]]
            pairs = [(rest, sub)] if flip else [(sub, rest)]
            if goal_a is None:
                pairs = [(sub, rest), (rest, sub)]
            ok = [(pa, pb) for pa, pb in pairs if self._parts_ok(a, pa) and self._parts_ok(b, pb)]
            if ok:
                # Of the allowed labelings, the one that moves fewer households.
                choice = min(ok, key=lambda o: self._moved_by(a, b, o[0], o[1]))
                break
        if choice is None:
            return None
        pa, pb = choice
        go_a = [u for u in pa if self.assign[u] == b]
        go_b = [u for u in pb if self.assign[u] == a]
        if not go_a and not go_b:
            return None
        cap = self.p.max_moved_share * self.total_hh + 1e-9
        done: list[tuple[int, int, int]] = []
        for u in go_a:
            self._move(u, b, a)
            done.append((u, b, a))
        for u in go_b:
            self._move(u, a, b)
            done.append((u, a, b))
        if self.moved_hh > cap:
            self._undo(done)
            return None
        return done

    def _moved_by(self, a: int, b: int, pa: list[int], pb: list[int]) -> float:
        return sum(self.hh[u] for u in pa if self.ref[u] == b) + sum(
            self.hh[u] for u in pb if self.ref[u] == a
        )

    def _parts_ok(self, b: int, part: list[int]) -> bool:
        """Whether ``part`` may become beat ``b``: locks kept, koban rule kept."""
        if not part:
            return False
        for u in part:
            if self.locked_unit[u] and self.assign[u] != b:
                return False
        ks = self.kset[b]
        if ks is not None and self.near[b] > 0 and not any(u in ks for u in part):
            return False
        return not any(
            self.locked_unit[u] and self.assign[u] == b and u not in part for u in self.members[b]
        )

    def _hand_over(self, x: int, y: int, amount: float, cap: float) -> list[int]:
        """One or two units of beat ``x`` next to ``y`` weighing about ``amount``.

        Units are big next to a beat's load, so a pair often fits where no
        single unit does. The units returned can leave ``x`` in that order.
        """
        w = self.w
        assign = self.assign
        cands = [
            u
            for u in self.members[x]
            if not self.locked_unit[u]
            and any(assign[v] == y for v in self.nb[u])
            and not (self.ref[u] == x and self.moved_hh + self.hh[u] > cap)
        ]
        if not cands:
            return []
        cands.sort(key=lambda u: (abs(w[u] - amount), u))
        cands = cands[:10]
        options: list[tuple[float, tuple[int, ...]]] = [(abs(w[u] - amount), (u,)) for u in cands]
        for j, u in enumerate(cands):
            for v in cands[j + 1 :]:
                options.append((abs(w[u] + w[v] - amount), (u, v)))
        options.sort()
        for _, combo in options[:12]:
            if len(combo) == 1:
                if self._can_leave(combo[0], x):
                    return [combo[0]]
                continue
            u, v = combo
            if self.size[x] <= 2 or not self._can_leave(u, x):
                continue
            # Check v with u already gone: move u tentatively.
            self._move(u, x, y)
            ok = self._can_leave(v, x)
            self._move(u, y, x)
            self.made -= 2
            if ok:
                return [u, v]
        return []

    def run(self, t0: float) -> None:
        p = self.p
        if not self.movable or self.k <= 1:
            self.stopped_by = "converged"
            return
        rng = random.Random(p.seed)
        budget = p.moves_per_unit * self.pr.n_units
        t_start, t_end = p.start_temperature, p.end_temperature
        cap = p.max_moved_share * self.total_hh + 1e-9
        movable = self.movable
        nb = self.nb
        assign = self.assign
        locked_beat = self.locked_beat
        ref = self.ref
        hh = self.hh
        energy = self.energy()
        best_e = energy
        best_key = (max(self.largest_deviation() - p.tolerance, 0.0), energy)
        self.best = list(assign)
        chunk = self.chunk
        log_ratio = math.log(t_end / t_start)
        mean = self.mean
        rand = rng.random
        randrange = rng.randrange
        it = 0
        while it < budget:
            if time.perf_counter() - t0 > p.time_limit_s:
                self.stopped_by = "time_limit"
                self.warnings.append(
                    f"time limit of {p.time_limit_s:g} s reached after "
                    f"{it} of {budget} moves; a rerun may differ"
                )
                break
            temp = t_start * math.exp(log_ratio * it / budget)
            # Every chunk, focus part of the moves on the worst beats.
            Wl = self.W
            worst = sorted(range(self.k), key=lambda b: -abs(Wl[b] - mean))[: max(3, self.k // 10)]
            for _ in range(chunk):
                it += 1
                if rand() < 0.3:
                    bw = worst[randrange(len(worst))]
                    mem = self.members[bw]
                    if not mem:
                        continue
                    j = mem[randrange(len(mem))]
                    nbj = nb[j]
                    if not nbj:
                        continue
                    o = nbj[randrange(len(nbj))]
                    if self.W[bw] > mean:
                        i, a, b = j, bw, assign[o]
                    else:
                        i, a, b = o, assign[o], bw
                    if self.locked_unit[i]:
                        continue
                else:
                    i = movable[randrange(len(movable))]
                    a = assign[i]
                    nbi = nb[i]
                    b = assign[nbi[randrange(len(nbi))]]
                if a == b or locked_beat[b] or locked_beat[a]:
                    continue
                d = self._delta(i, a, b)
                if d > 0 and rand() >= math.exp(-d / temp):
                    continue
                r = ref[i]
                if r == a and self.moved_hh + hh[i] > cap:
                    continue
                if not self._can_leave(i, a):
                    continue
                self._move(i, a, b)
                energy += d
            # Chains carry load across beats that single moves cannot cross;
            # recombinations reshape two beats at once where units are big.
            for j, bw in enumerate(worst):
                if abs(self.W[bw] - mean) > self.aim * mean:
                    if j < self.p_chains:
                        energy += self._chain(bw, rng, temp)
                        energy += self._path_recombine(bw, rng, temp)
                    energy += self._recombine(bw, rng, temp)
            self.tried = it
            if energy < best_e - 1e-12 or it >= budget:
                key = (max(self.largest_deviation() - p.tolerance, 0.0), energy)
                if key < best_key:
                    best_key = key
                    best_e = energy
                    self.best = list(assign)
        self.tried = min(it, budget)
