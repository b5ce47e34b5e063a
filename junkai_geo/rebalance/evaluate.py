"""Figures of a beat plan and the rules it breaks, for any assignment.

:func:`evaluate_index` gives per-beat figures (workload, deviation,
compactness, parts, koban) and the plan's (largest deviation, households
moved, rules broken) in milliseconds: the searches' results, the current
beats and a manager's hand edits are scored by the same code.

Compactness of a beat: the workload-weighted mean distance from its koban to
its units (unit representative points), divided by the same mean for a disc
of the beat's area with the koban at its centre, ``(2/3) * sqrt(area / pi)``.
About 1 for a round beat around its koban, larger for long or off-centre
beats. Without kobans the distance is taken from the beat's workload centroid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:
    from .problem import BeatProblem


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


def evaluate_index(problem: BeatProblem, a: np.ndarray) -> BeatEvaluation:
    k = problem.n_beats
    w = problem.weights
    W = np.bincount(a, weights=w, minlength=k)
    H = np.bincount(a, weights=problem.households, minlength=k)
    A = np.bincount(a, weights=problem.area_m2, minlength=k)
    cnt = np.bincount(a, minlength=k)
    mean = float(W.sum() / k) if k else 0.0
    dev = (W - mean) / mean if mean > 0 else np.zeros(k)
    # Anchor of each beat: its koban, else its workload centroid.
    ax, ay = _anchors(problem, a, W)
    d = np.hypot(problem.x - ax[a], problem.y - ay[a])
    D = np.bincount(a, weights=w * d, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        kd = np.where(W > 0, D / W, np.nan)
        disc = (2.0 / 3.0) * np.sqrt(A / math.pi)
        comp = np.where((W > 0) & (disc > 0), kd / disc, np.nan)
    parts = beat_parts(problem, a)
    touches = touches_koban(problem, a)
    ref = problem.reference
    labels = problem.reference_labels
    assert labels is not None
    has_ref = np.array([x is not None for x in labels], dtype=bool)
    new_labels = np.asarray(problem.beat_ids, dtype=object)[a]
    moved = has_ref & (new_labels != labels)
    hh_moved = float(problem.households[moved].sum())
    total_hh = float(problem.households[has_ref].sum())
    lock_bad = problem.locked_units & (a != ref)
    if problem.locked_beats.any():
        lb = problem.locked_beats
        was_locked = (ref >= 0) & lb[np.where(ref >= 0, ref, 0)]
        lock_bad |= was_locked & (a != ref)
        lock_bad |= lb[a] & (a != ref)
    rows = []
    for b in range(k):
        kid = problem.koban_ids[problem.beat_koban[b]] if problem._has_koban(b) else None
        rows.append(
            BeatFigures(
                beat_id=problem.beat_ids[b],
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
        not_contiguous=[problem.beat_ids[b] for b in range(k) if parts[b] > 1],
        lock_violations=problem.unit_ids[lock_bad].tolist(),
        koban_violations=[problem.beat_ids[b] for b in range(k) if touches[b] is False],
        empty_beats=[problem.beat_ids[b] for b in range(k) if cnt[b] == 0],
    )


def _anchors(problem: BeatProblem, a: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = problem.n_beats
    w = problem.weights
    Wx = np.bincount(a, weights=w * problem.x, minlength=k)
    Wy = np.bincount(a, weights=w * problem.y, minlength=k)
    cnt = np.bincount(a, minlength=k).astype(float)
    Sx = np.bincount(a, weights=problem.x, minlength=k)
    Sy = np.bincount(a, weights=problem.y, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        ax = np.where(W > 0, Wx / W, Sx / np.maximum(cnt, 1))
        ay = np.where(W > 0, Wy / W, Sy / np.maximum(cnt, 1))
    for b in range(k):
        if problem._has_koban(b):
            ax[b], ay[b] = problem.koban_xy[problem.beat_koban[b]]
    return ax, ay


def beat_parts(problem: BeatProblem, a: np.ndarray) -> np.ndarray:
    """Number of connected parts of each beat."""
    e = problem._edges
    same = a[e[:, 0]] == a[e[:, 1]]
    rows, cols = e[same, 0], e[same, 1]
    n = problem.n_units
    g = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    pairs = np.unique(np.column_stack([a, comp]), axis=0)
    return np.bincount(pairs[:, 0], minlength=problem.n_beats)


def touches_koban(problem: BeatProblem, a: np.ndarray) -> list[bool | None]:
    out: list[bool | None] = []
    for b in range(problem.n_beats):
        if not problem._has_koban(b):
            out.append(None)
            continue
        u = int(problem.koban_unit[problem.beat_koban[b]])
        near = [u, *problem.graph.neighbours[u]]
        out.append(bool((a[near] == b).any()))
    return out


def evaluate_beats(problem: BeatProblem, assignment: Any) -> BeatEvaluation:
    """Figures of any assignment on a built problem (see :meth:`BeatProblem.evaluate`)."""
    return problem.evaluate(assignment)
