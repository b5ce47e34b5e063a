"""Solving a rebalancing problem: ``rebalance_beats(problem, *, ...) -> RebalanceResult``.

The problem is data (:class:`BeatProblem`); the run options (mode, tolerance,
time limit, seed) are keyword-only. The run is deterministic for a seed: it
stops after a number of moves, not after a time, unless the time limit is hit
first (then it says so). :func:`sweep_tolerances` answers the manager's
question for several tolerances at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParameterError
from .minimal import KobanIssue, check_koban_rule, flow_handover, give_back, repair_koban
from .params import Mode, RebalanceParams
from .problem import BeatProblem
from .result import MovedUnit, RebalanceResult, dissolve_beats
from .search import _Search
from .start import initial_assignment

if TYPE_CHECKING:
    import geopandas as gpd


def rebalance_beats(
    problem: BeatProblem | gpd.GeoDataFrame,
    *,
    params: RebalanceParams | None = None,
    mode: Mode | None = None,
    tolerance: float | None = None,
    time_limit_s: float | None = None,
    seed: int | None = None,
    **build: Any,
) -> RebalanceResult:
    """Rebalance beats: contiguous, each next to its koban, within the tolerance.

    Parameters
    ----------
    problem
        A built :class:`BeatProblem`, or a unit GeoDataFrame; then ``build``
        holds the options of :meth:`BeatProblem.from_geodataframe`
        (``weight_column`` or ``weights``, ``n_beats``, ``current_column``,
        ``koban``, ``lock_column``, ``locked_beats`` ...).
    params
        Targets and search settings (:class:`RebalanceParams`).
    mode, tolerance, time_limit_s, seed
        Override the same fields of ``params``. ``minimal-change`` (default)
        moves the fewest households that bring every beat within the
        tolerance; ``best-balance`` makes the beats as even as it can.
    """
    overrides: dict[str, Any] = {
        k: v
        for k, v in (
            ("mode", mode),
            ("tolerance", tolerance),
            ("time_limit_s", time_limit_s),
            ("seed", seed),
        )
        if v is not None
    }
    if params is None:
        p = RebalanceParams(**overrides)
    else:
        p = replace(params, **overrides) if overrides else params
    t0 = time.perf_counter()
    if not isinstance(problem, BeatProblem):
        problem = BeatProblem.from_geodataframe(problem, **build)
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
    original = problem
    problem, start = initial_assignment(
        problem, problem.wanted_beats or problem.n_beats, p.seed, warnings
    )
    minimal = p.mode == "minimal-change"
    issues = check_koban_rule(problem, start)
    for issue in issues:
        warnings.append(f"koban rule: {issue}")
    search = _Search(problem, start, p, warnings)
    if minimal:
        for b in repair_koban(search):
            if not any(i.beat_id == b and i.blocking for i in issues):
                issues.append(
                    KobanIssue(
                        b,
                        problem.koban_ids[problem.beat_koban[problem._beat_pos[b]]],
                        "",
                        "no corridor to its koban's unit keeps every other beat connected",
                    )
                )
                warnings.append(f"koban rule: {issues[-1]}")
    if minimal and p.flow_start:
        flow_handover(search)
    search.run(t0)
    a = np.asarray(search.best, dtype=np.int64)
    if minimal:
        # Moves the search left but the tolerance does not need go back.
        final = _Search(problem, a, p, [])
        give_back(final, max(p.tol, final.largest_deviation()))
        a = np.asarray(final.assign, dtype=np.int64)
    after = problem._evaluate_index(a)
    if after.largest_deviation > p.tol:
        warnings.append(
            f"largest deviation {after.largest_deviation:.1%} is above the tolerance "
            f"{p.tol:.1%}: " + _why_not(problem, a, p)
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
        tolerance=p.tol,
        seed=p.seed,
        moves_tried=search.tried,
        moves_made=search.made,
        time_s=time.perf_counter() - t0,
        stopped_by=search.stopped_by,
        split_units=_split_units(original),
        mode=p.mode,
        koban_issues=issues,
    )


def sweep_tolerances(
    problem: BeatProblem,
    tolerances: Iterable[float] = (0.20, 0.15, 0.10, 0.05),
    *,
    params: RebalanceParams | None = None,
    mode: Mode | None = None,
    time_limit_s: float | None = None,
    seed: int | None = None,
) -> list[RebalanceResult]:
    """One plan per tolerance, so that the manager chooses the trade-off.

    The same problem, seed and settings for every tolerance; see
    :func:`junkai_geo.rebalance.report.sweep_table` for the table.
    """
    out = []
    for tol in tolerances:
        out.append(
            rebalance_beats(
                problem,
                params=params,
                mode=mode,
                tolerance=float(tol),
                time_limit_s=time_limit_s,
                seed=seed,
            )
        )
    return out


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
    big = np.flatnonzero(problem.weights > mean * (1 + p.tol))
    if len(big):
        names = ", ".join(problem.unit_ids[big][:5])
        return (
            f"unit(s) {names} alone weigh more than the mean beat plus the tolerance; "
            "split them into smaller units"
        )
    if problem.locked_units.any() or problem.locked_beats.any():
        return "locks, the koban rule or the moved-households cap leave too little freedom"
    return "the units are too coarse or the search budget too small (raise moves_per_unit)"
