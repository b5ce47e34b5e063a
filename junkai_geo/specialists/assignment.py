"""Which spare officers work which district: the CP-SAT assignment and its coverage."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParameterError, SolverError

if TYPE_CHECKING:
    pass
from .districts import District
from .params import SpecialistParams


@dataclass(frozen=True)
class SpareOfficer:
    """An officer who can be spared for district work, from his koban."""

    officer_id: str
    koban_id: str
    x: float
    y: float
    days_per_week: int

    def __post_init__(self) -> None:
        if not isinstance(self.days_per_week, int) or not 0 <= self.days_per_week <= 7:
            raise ParameterError(
                f"officer {self.officer_id}: days_per_week found {self.days_per_week!r}; "
                "expected whole days in 0..7"
            )


@dataclass(frozen=True)
class Assignment:
    """``officer_id`` works ``days_per_week`` days a week in ``district_id``."""

    officer_id: str
    district_id: str
    days_per_week: int
    hours_per_week: float
    distance_m: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "district_id": self.district_id,
            "days_per_week": self.days_per_week,
            "hours_per_week": round(float(self.hours_per_week), 2),
            "distance_m": round(float(self.distance_m), 1),
        }


@dataclass
class DistrictCoverage:
    """What the recommendation does for one district."""

    district_id: str
    rank: int
    demand_h_per_week: float
    covered_h_per_week: float
    uncovered_h_per_week: float
    officers_needed: int
    officers: list[str]
    reason_uncovered: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "district_id": self.district_id,
            "rank": self.rank,
            "demand_h_per_week": round(self.demand_h_per_week, 2),
            "covered_h_per_week": round(self.covered_h_per_week, 2),
            "uncovered_h_per_week": round(self.uncovered_h_per_week, 2),
            "officers_needed": self.officers_needed,
            "officers": list(self.officers),
            "reason_uncovered": self.reason_uncovered,
        }


@dataclass
class Recommendation:
    """Officer-days per week per district, and what stays uncovered.

    ``status`` is ``optimal`` when CP-SAT proved both phases optimal,
    ``feasible`` when a time limit stopped it first (then ``notes`` say so).
    """

    assignments: list[Assignment]
    districts: list[DistrictCoverage]
    idle_days: dict[str, int]
    status: str
    covered_min_per_week: int
    distance_cost: int
    notes: list[str]
    time_s: float

    def totals(self) -> dict[str, Any]:
        demand = sum(d.demand_h_per_week for d in self.districts)
        covered = sum(d.covered_h_per_week for d in self.districts)
        return {
            "demand_h_per_week": round(demand, 2),
            "covered_h_per_week": round(covered, 2),
            "uncovered_h_per_week": round(demand - covered, 2),
            "covered_share": round(covered / demand, 4) if demand else 1.0,
            "assigned_officer_days": sum(a.days_per_week for a in self.assignments),
            "idle_officer_days": sum(self.idle_days.values()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "totals": self.totals(),
            "assignments": [a.to_dict() for a in self.assignments],
            "districts": [d.to_dict() for d in self.districts],
            "idle_days": dict(sorted(self.idle_days.items())),
            "notes": list(self.notes),
            "time_s": round(self.time_s, 3),
        }


def _minutes(hours: float) -> int:
    return int(round(hours * 60))


def assignment_objective(
    districts: Sequence[District],
    officers: Sequence[SpareOfficer],
    days: Mapping[tuple[str, str], int],
    params: SpecialistParams | None = None,
) -> tuple[int, int]:
    """(covered minutes per week, distance cost) of an allocation of officer-days.

    The two objectives :func:`recommend_specialists` optimises in order:
    covered minutes (larger is better), then the distance cost (smaller):
    per officer-day, the koban-to-district distance in 10 m steps plus 1
    (so a day that covers nothing is never given).
    """
    p = params or SpecialistParams()
    day_min = _minutes(p.liaison_hours_per_day)
    covered = 0
    cost = 0
    by_id = {o.officer_id: o for o in officers}
    for d in districts:
        given = sum(v for (o, k), v in days.items() if k == d.district_id)
        covered += min(_minutes(d.hours_per_week), day_min * given)
    for (o, k), v in days.items():
        dist = next(x for x in districts if x.district_id == k)
        cost += v * _cost(by_id[o], dist)
    return covered, cost


def _distance(o: SpareOfficer, d: District) -> float:
    return float(math.hypot(o.x - d.x, o.y - d.y))


def _cost(o: SpareOfficer, d: District) -> int:
    return int(round(_distance(o, d) / 10.0)) + 1


def recommend_specialists(
    districts: Sequence[District],
    officers: Sequence[SpareOfficer],
    *,
    params: SpecialistParams | None = None,
    workers: int = 1,
) -> Recommendation:
    """Officer-days per week for each district, with CP-SAT.

    Model: integer ``x[o, d]`` days per week officer ``o`` gives district
    ``d`` (only when his koban is within ``max_officer_distance_m``);
    ``sum_d x[o, d] <= days_per_week[o]``. With ``n_d = sum_o x[o, d]`` and
    the demand ``full_d`` whole days plus ``rem_d`` minutes, a district is
    covered ``day * n_d - (day - rem_d) * y_d`` minutes under ``n_d <=
    full_d + y_d`` (``y_d`` in {0, 1}: a last, partial day is given).
    Phase 1 maximises the covered minutes; phase 2 keeps them and minimises
    the distance cost of :func:`assignment_objective`.

    Raises
    ------
    ProblemError
        Duplicate officer or district ids.
    SolverError
        CP-SAT found no solution (it always should: nothing assigned is one).
    """
    from ortools.sat.python import cp_model

    from ..errors import ProblemError

    t0 = time.perf_counter()
    p = params or SpecialistParams()
    if len({o.officer_id for o in officers}) != len(officers):
        raise ProblemError("officers", "officer ids repeat; expected each officer once")
    if len({d.district_id for d in districts}) != len(districts):
        raise ProblemError("districts", "district ids repeat; expected each district once")
    day_min = _minutes(p.liaison_hours_per_day)
    demand = [_minutes(d.hours_per_week) for d in districts]
    notes: list[str] = []
    pairs: dict[tuple[int, int], Any] = {}

    def build() -> tuple[Any, dict[tuple[int, int], Any], list[Any]]:
        model = cp_model.CpModel()
        x: dict[tuple[int, int], Any] = {}
        for i, o in enumerate(officers):
            for j, d in enumerate(districts):
                if o.days_per_week == 0 or demand[j] == 0:
                    continue
                if _distance(o, d) > p.max_officer_distance_m:
                    continue
                # More days than the district can use never help.
                ub = min(o.days_per_week, math.ceil(demand[j] / day_min))
                x[(i, j)] = model.new_int_var(0, ub, f"x_{i}_{j}")
        # Covered minutes of district j with n_j days: day_min * min(n_j, full_j)
        # plus rem_j when a last, partial day is given (y_j). Written linearly:
        # n_j <= full_j + y_j and cover = day_min * n_j - (day_min - rem_j) * y_j.
        cov: list[Any] = []
        for j in range(len(districts)):
            given = [x[(i, jj)] for (i, jj) in x if jj == j]
            if not given:
                continue
            n_j = sum(given)
            full, rem = divmod(demand[j], day_min)
            if rem == 0:
                model.add(n_j <= full)
                cov.append(day_min * n_j)
            else:
                y = model.new_bool_var(f"y_{j}")
                model.add(n_j <= full + y)
                cov.append(day_min * n_j - (day_min - rem) * y)
        for i, o in enumerate(officers):
            mine = [x[(ii, j)] for (ii, j) in x if ii == i]
            if mine:
                model.add(sum(mine) <= o.days_per_week)
        return model, x, cov

    def solve(model: Any) -> tuple[Any, Any]:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = p.solver_time_limit_s
        solver.parameters.num_workers = max(1, int(workers))
        solver.parameters.random_seed = 0
        status = solver.solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise SolverError(f"CP-SAT: status {solver.status_name(status)}; expected a solution")
        return solver, status

    model, x, cov = build()
    model.maximize(sum(cov))
    s1, st1 = solve(model)
    best = int(round(s1.objective_value))
    model2, x2, cov2 = build()
    model2.add(sum(cov2) >= best)
    model2.minimize(sum(v * _cost(officers[i], districts[j]) for (i, j), v in x2.items()))
    # Start phase 2 from phase 1's answer, which meets its coverage constraint.
    for key, v in x2.items():
        model2.add_hint(v, int(s1.value(x[key])))
    s2, st2 = solve(model2)
    pairs = x2
    optimal = st1 == cp_model.OPTIMAL and st2 == cp_model.OPTIMAL
    if not optimal:
        notes.append(
            f"CP-SAT stopped at the {p.solver_time_limit_s:g} s limit before proving optimality"
        )
    assignments: list[Assignment] = []
    given_days = np.zeros(len(districts), dtype=np.int64)
    used = np.zeros(len(officers), dtype=np.int64)
    for (i, j), v in sorted(pairs.items()):
        days = int(s2.value(v))
        if days <= 0:
            continue
        o, d = officers[i], districts[j]
        given_days[j] += days
        used[i] += days
        share = min(days * day_min, demand[j]) / 60.0
        assignments.append(Assignment(o.officer_id, d.district_id, days, share, _distance(o, d)))
    coverage: list[DistrictCoverage] = []
    reachable = {j for (_, j) in pairs}
    for j, d in enumerate(districts):
        # From the days given, so a time-limited answer is reported as it is.
        covered_min = min(demand[j], day_min * int(given_days[j]))
        gap = demand[j] - covered_min
        reason = None
        if gap > 0:
            reason = (
                f"no spare officer's koban within {p.max_officer_distance_m:g} m"
                if j not in reachable
                else "spare officers' days are used up (or closer to other districts)"
            )
        # Hours per assignment: split the district's covered time by days.
        for k, a in enumerate(assignments):
            if a.district_id == d.district_id and given_days[j]:
                assignments[k] = Assignment(
                    a.officer_id,
                    a.district_id,
                    a.days_per_week,
                    covered_min / 60.0 * a.days_per_week / given_days[j],
                    a.distance_m,
                )
        coverage.append(
            DistrictCoverage(
                district_id=d.district_id,
                rank=d.rank,
                demand_h_per_week=demand[j] / 60.0,
                covered_h_per_week=covered_min / 60.0,
                uncovered_h_per_week=gap / 60.0,
                officers_needed=d.officers_needed,
                officers=[a.officer_id for a in assignments if a.district_id == d.district_id],
                reason_uncovered=reason,
            )
        )
    idle = {o.officer_id: int(o.days_per_week - used[i]) for i, o in enumerate(officers)}
    far = [o.officer_id for i, o in enumerate(officers) if not any(ii == i for ii, _ in pairs)]
    if far:
        notes.append(
            f"officer(s) {', '.join(far)} have no district within "
            f"{p.max_officer_distance_m:g} m of their koban"
        )
    return Recommendation(
        assignments=assignments,
        districts=coverage,
        idle_days=idle,
        status="optimal" if optimal else "feasible",
        covered_min_per_week=int(
            sum(min(dm, day_min * int(g)) for dm, g in zip(demand, given_days, strict=True))
        ),
        distance_cost=int(round(s2.objective_value)),
        notes=notes,
        time_s=time.perf_counter() - t0,
    )
