"""The plan a rebalancing gives: assignment, before / after figures, moves, polygons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from .evaluate import BeatEvaluation
from .minimal import KobanIssue
from .problem import BeatProblem

if TYPE_CHECKING:
    import geopandas as gpd


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
    ``feasible`` is True when every rule holds and every beat is within the
    tolerance; ``violations`` says what is not. ``koban_issues`` are the beats
    found unable to hold or touch their koban's unit before the search.
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
    mode: str = "best-balance"
    koban_issues: list[KobanIssue] = field(default_factory=list)

    @property
    def within_tolerance(self) -> bool:
        return self.after.largest_deviation <= self.tolerance + 1e-12

    @property
    def feasible(self) -> bool:
        """Every beat contiguous, non-empty, next to its koban, locks kept, within the tolerance."""
        return self.after.feasible and self.within_tolerance

    @property
    def violations(self) -> list[str]:
        """What breaks the rules or the tolerance, one line per beat or unit (empty: feasible)."""
        out = []
        tol = self.tolerance
        for row in self.after.beats:
            if abs(row.deviation) > tol + 1e-12:
                out.append(
                    f"beat {row.beat_id}: workload {row.deviation:+.1%} from the mean, "
                    f"outside ±{tol:.0%}"
                )
        out += [f"beat {b}: in more than one part" for b in self.after.not_contiguous]
        kob = {row.beat_id: row.koban_id for row in self.after.beats}
        out += [
            f"beat {b}: neither holds nor touches the unit of its koban {kob.get(b)}"
            for b in self.after.koban_violations
        ]
        out += [f"unit {u}: locked but moved" for u in self.after.lock_violations]
        out += [f"beat {b}: empty" for b in self.after.empty_beats]
        return out

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
            "feasible": self.feasible,
            "violations": self.violations,
            "mode": self.mode,
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
            "koban_rule_kept": not self.after.koban_violations,
            "rules_kept": self.after.feasible,
            "seed": self.seed,
            "moves_tried": self.moves_tried,
            "moves_made": self.moves_made,
            "time_s": round(self.time_s, 3),
            "stopped_by": self.stopped_by,
            "units_split": len(self.split_units),
        }
        out: dict[str, Any] = {
            "feasible": self.feasible,
            "violations": self.violations,
            "koban_issues": [i.to_dict() for i in self.koban_issues],
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
