"""The numeric rebalancing problem: arrays and a unit graph, built once, JSON-able.

Like spopt's ``from_geodataframe``, :meth:`BeatProblem.from_geodataframe`
checks a unit layer and turns it into arrays (weights, households, areas,
points, adjacency, current beats, locks, kobans) once; the searches and the
evaluation work on those only. A problem is frozen and picklable, and goes to
JSON and back (:meth:`BeatProblem.to_json`, :meth:`BeatProblem.from_json`)
without changing any value, so the same problem and seed give the same plan
in another process or on another machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ..errors import ParameterError, ProblemError
from ..units import UnitGraph
from .params import ProblemOptions

if TYPE_CHECKING:
    import geopandas as gpd

    from .evaluate import BeatEvaluation

#: Version of the JSON layout written by :meth:`BeatProblem.to_json`.
JSON_FORMAT = "junkai_geo.BeatProblem/1"


@dataclass(frozen=True, eq=False)
class BeatProblem:
    """The numeric rebalancing problem, built once from a unit layer.

    Arrays are aligned with ``unit_ids``; ``reference`` holds the beat index
    of each unit in the current beats (-1 when a unit has none; -2 when its
    beat was merged away to reach the beat count). ``beat_koban`` gives each
    beat's koban (index into ``koban_ids``, -1 none) and ``koban_unit`` the
    unit holding each koban point (or the nearest one).
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
        object.__setattr__(self, "_edges", self.graph.edges)
        object.__setattr__(self, "_beat_pos", {b: k for k, b in enumerate(self.beat_ids)})
        if self.reference_labels is None:
            labels = np.array(
                [self.beat_ids[r] if r >= 0 else None for r in self.reference], dtype=object
            )
            object.__setattr__(self, "reference_labels", labels)

    _edges: np.ndarray = field(init=False, repr=False)
    _beat_pos: dict[str, int] = field(init=False, repr=False)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def n_beats(self) -> int:
        return len(self.beat_ids)

    def _has_koban(self, b: int) -> bool:
        return len(self.beat_koban) > b and self.beat_koban[b] >= 0

    @cached_property
    def edge_lengths_m(self) -> np.ndarray:
        """Shared boundary (m) of each edge of ``graph.edges``; 0 for bridges and without geometry."""
        e = self._edges
        if self.geometries is None or not len(e):
            return np.zeros(len(e))
        bounds = shapely.boundary(self.geometries)
        near = shapely.buffer(bounds[e[:, 1]], 1.0)
        return np.asarray(shapely.length(shapely.intersection(bounds[e[:, 0]], near)), dtype=float)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_geodataframe(
        cls,
        units: gpd.GeoDataFrame,
        options: ProblemOptions | None = None,
        *,
        weights: Sequence[float] | np.ndarray | pd.Series | None = None,
        koban: gpd.GeoDataFrame | None = None,
        beat_koban: Mapping[str, str] | None = None,
        **option_values: Any,
    ) -> BeatProblem:
        """Check a unit layer and build the problem from it.

        Parameters
        ----------
        units
            Polygons with a unit id column; any CRS (projected to metres here).
        options
            Columns, locks, beat count (:class:`ProblemOptions`); keyword
            arguments named as its fields (``weight_column="households"``,
            ``current_column=...``, ``n_beats=...``) override it.
        weights
            Workload per unit aligned with ``units`` (a Series indexed by unit
            id is aligned by id), when there is no ``weight_column``.
        koban
            Koban points with ``koban_id``. Each beat's koban comes from
            ``beat_koban``, else the units' ``koban_id`` column (most common
            per beat), else the koban lying in the beat, else the nearest.
        """
        from dataclasses import replace

        from .build import build_fields

        opts = options or ProblemOptions()
        if option_values:
            known = {f.name for f in fields(ProblemOptions)}
            unknown = sorted(set(option_values) - known)
            if unknown:
                raise ParameterError(
                    f"BeatProblem.from_geodataframe: unknown option(s) {unknown}; "
                    f"expected some of {sorted(known)}"
                )
            opts = replace(opts, **option_values)
        fields_ = build_fields(units, opts, weights=weights, koban=koban, beat_koban=beat_koban)
        return cls(**fields_)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Every value of the problem as JSON types (geometries as WKB hex, CRS as WKT)."""
        crs = None
        if self.crs is not None:
            from pyproj import CRS

            crs = CRS.from_user_input(self.crs).to_wkt()
        labels = self.reference_labels
        return {
            "format": JSON_FORMAT,
            "unit_ids": [str(u) for u in self.unit_ids],
            "weights": self.weights.tolist(),
            "households": self.households.tolist(),
            "area_m2": self.area_m2.tolist(),
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "neighbours": [list(map(int, nb)) for nb in self.graph.neighbours],
            "bridges": [[int(i), int(j), float(d)] for i, j, d in self.graph.bridges],
            "beat_ids": list(self.beat_ids),
            "reference": self.reference.tolist(),
            "locked_units": self.locked_units.tolist(),
            "locked_beats": self.locked_beats.tolist(),
            "koban_ids": list(self.koban_ids),
            "koban_xy": self.koban_xy.tolist(),
            "koban_unit": self.koban_unit.tolist(),
            "beat_koban": self.beat_koban.tolist(),
            "geometries": (
                None
                if self.geometries is None
                else shapely.to_wkb(self.geometries, hex=True).tolist()
            ),
            "crs": crs,
            "warnings": list(self.warnings),
            "source": self.source,
            "wanted_beats": int(self.wanted_beats),
            "reference_labels": None if labels is None else labels.tolist(),
            "parent_ids": None if self.parent_ids is None else self.parent_ids.tolist(),
        }

    def to_json(self) -> str:
        """The problem as a JSON text (see :meth:`to_dict`); floats round-trip exactly."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BeatProblem:
        """The problem written by :meth:`to_dict`."""
        if data.get("format") != JSON_FORMAT:
            raise ProblemError("format", f"found {data.get('format')!r}; expected {JSON_FORMAT!r}")
        try:
            n = len(data["unit_ids"])
            geoms = data["geometries"]
            crs = data["crs"]
            if crs is not None:
                from pyproj import CRS

                crs = CRS.from_wkt(crs)
            labels = data["reference_labels"]
            parents = data["parent_ids"]
            return cls(
                unit_ids=np.asarray([str(u) for u in data["unit_ids"]], dtype=object),
                weights=np.asarray(data["weights"], dtype=float),
                households=np.asarray(data["households"], dtype=float),
                area_m2=np.asarray(data["area_m2"], dtype=float),
                x=np.asarray(data["x"], dtype=float),
                y=np.asarray(data["y"], dtype=float),
                graph=UnitGraph(
                    n=n,
                    neighbours=[list(map(int, nb)) for nb in data["neighbours"]],
                    bridges=[(int(i), int(j), float(d)) for i, j, d in data["bridges"]],
                ),
                beat_ids=[str(b) for b in data["beat_ids"]],
                reference=np.asarray(data["reference"], dtype=np.int64),
                locked_units=np.asarray(data["locked_units"], dtype=bool),
                locked_beats=np.asarray(data["locked_beats"], dtype=bool),
                koban_ids=[str(k) for k in data["koban_ids"]],
                koban_xy=np.asarray(data["koban_xy"], dtype=float).reshape(-1, 2),
                koban_unit=np.asarray(data["koban_unit"], dtype=np.int64),
                beat_koban=np.asarray(data["beat_koban"], dtype=np.int64),
                geometries=None if geoms is None else shapely.from_wkb(geoms),
                crs=crs,
                warnings=[str(w) for w in data["warnings"]],
                source=str(data["source"]),
                wanted_beats=int(data["wanted_beats"]),
                reference_labels=None if labels is None else np.array(labels, dtype=object),
                parent_ids=(
                    None if parents is None else np.asarray([str(u) for u in parents], dtype=object)
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProblemError("BeatProblem", f"malformed problem JSON: {exc!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> BeatProblem:
        """The problem written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

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
        return self._evaluate_index(self.labels_to_index(assignment))

    def _evaluate_index(self, a: np.ndarray) -> BeatEvaluation:
        from .evaluate import evaluate_index

        return evaluate_index(self, a)
