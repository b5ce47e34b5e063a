"""The whole chain on a dataset: districts, recommendation and sample rounds."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..buildings import BuildingParams
from ..errors import InputError, ParameterError, Problem
from ..settings import WorkloadParams

if TYPE_CHECKING:
    from ..model import Dataset
    from ..routing import DayPlan, NightApproval
from .assignment import Recommendation, SpareOfficer, recommend_specialists
from .districts import District, VisitCounts, find_specialist_districts
from .params import SpecialistParams
from .rounds import plan_specialist_rounds


@dataclass
class SpecialistReport:
    """Top districts, the recommended officers, and sample specialist rounds."""

    today: date
    districts: list[District]
    districts_total: int
    buildings: dict[str, Any]
    officers: list[SpareOfficer]
    recommendation: Recommendation
    rounds: list[DayPlan]
    params: SpecialistParams
    notes: list[str]
    time_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "districts_total": self.districts_total,
            "districts": [d.to_dict() for d in self.districts],
            "buildings": self.buildings,
            "officers": [
                asdict(o) | {"x": round(o.x, 1), "y": round(o.y, 1)} for o in self.officers
            ],
            "recommendation": self.recommendation.to_dict(),
            "rounds": [r.to_dict() for r in self.rounds],
            "params": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.params).items()
            },
            "notes": list(self.notes),
            "time_s": round(self.time_s, 2),
        }

    def summary(self) -> str:
        """Readable lines for the command line."""
        p = self.params
        lines = [
            f"専従員 districts as of {self.today.isoformat()}: top {len(self.districts)} of "
            f"{self.districts_total} (target {p.target_coverage:.0%} current cards in "
            f"{p.period_weeks} weeks, {p.liaison_hours_per_day:g} h of liaison per officer-day)",
            f"{'rank':>4} {'id':<4} {'name':<22} {'koban':<5} {'bldg':>4} {'hh':>5} "
            f"{'未把握':>5} {'absent':>6} {'h/week':>7} {'need':>4}",
        ]
        for d in self.districts:
            lines.append(
                f"{d.rank:>4} {d.district_id:<4} {d.name[:22]:<22} {d.koban_id or '-':<5} "
                f"{d.buildings:>4} {d.households:>5} {d.backlog:>7} {d.absence_rate:>6.0%} "
                f"{d.hours_per_week:>7.1f} {d.officers_needed:>4}"
            )
            lines.append("       " + "; ".join(r["text"] for r in d.reasons[3:]))
        rec = self.recommendation
        t = rec.totals()
        lines.append(
            f"recommendation ({rec.status}): {t['covered_h_per_week']:.1f} of "
            f"{t['demand_h_per_week']:.1f} h/week covered, {t['uncovered_h_per_week']:.1f} "
            f"uncovered; {t['assigned_officer_days']} officer-days assigned, "
            f"{t['idle_officer_days']} idle"
        )
        for c in rec.districts:
            who = ", ".join(
                f"{a.officer_id} {a.days_per_week} d ({a.distance_m / 1000:.1f} km)"
                for a in rec.assignments
                if a.district_id == c.district_id
            )
            lines.append(
                f"  {c.district_id}: {who or 'nobody'}"
                + (
                    f"; uncovered {c.uncovered_h_per_week:.1f} h/week: {c.reason_uncovered}"
                    if c.reason_uncovered
                    else ""
                )
            )
        for plan in self.rounds:
            lines.append(plan.summary())
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def spare_officers(
    dataset: Dataset,
    days: Mapping[str, int] | None = None,
    *,
    params: SpecialistParams | None = None,
) -> list[SpareOfficer]:
    """Officers that can be spared, placed at their koban.

    ``days`` maps officer ids to days per week; without it every officer of
    role ``specialist`` gets ``default_days_per_week``.

    Raises
    ------
    InputError
        An unknown officer id, or an officer whose koban is not in the data.
    """
    p = params or SpecialistParams()
    officers = dataset.officers
    koban = dataset.koban
    if officers is None or koban is None:
        raise InputError(
            Problem("dataset", None, "officers/koban", "missing layer",
                    "officers and koban layers", "missing_layer")
        )  # fmt: skip
    by_id = officers.set_index(officers["officer_id"].astype(str))
    if days is None:
        chosen = by_id[by_id["role"].astype(str) == "specialist"].index.tolist()
        days = dict.fromkeys(chosen, p.default_days_per_week)
    kxy = {
        str(k): (float(g.x), float(g.y))
        for k, g in zip(koban["koban_id"], koban.geometry, strict=True)
    }
    problems: list[Problem] = []
    out: list[SpareOfficer] = []
    for oid, n in days.items():
        if oid not in by_id.index:
            problems.append(
                Problem("officers", None, "officer_id", repr(oid),
                        f"one of the {len(by_id)} officers of the data", "unknown_officer")
            )  # fmt: skip
            continue
        kid = str(by_id.loc[oid, "koban_id"])
        if kid not in kxy:
            problems.append(
                Problem("officers", oid, "koban_id", repr(kid), "a koban of the data", "unknown_koban")
            )  # fmt: skip
            continue
        try:
            out.append(SpareOfficer(oid, kid, *kxy[kid], days_per_week=n))
        except ParameterError as exc:
            problems.append(
                Problem("officers", oid, "days_per_week", repr(n), str(exc), "bad_days")
            )
    if problems:
        raise InputError(problems)
    return out


def recommend_for_dataset(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    today: date,
    top: int = 5,
    officers: Sequence[SpareOfficer] | Mapping[str, int] | None = None,
    params: SpecialistParams | None = None,
    building_params: BuildingParams | None = None,
    workload_params: WorkloadParams | None = None,
    rounds: bool = True,
    round_days_per_officer: int = 1,
    night_approvals: Sequence[NightApproval] = (),
    seed: int = 0,
    visit_counts: VisitCounts | None = None,
) -> SpecialistReport:
    """Districts, recommendation and rounds on a whole dataset.

    Parameters
    ----------
    dataset
        Layers in a metric CRS (buildings, households, units, koban,
        officers, visits), for example :func:`junkai_geo.bundled.load_kanazawa`.
    cards
        :func:`junkai_geo.cards.card_table` of the households at ``today``.
    top
        Districts reported and staffed (the most difficult ``top``).
    officers
        Spared officers (or a mapping officer id -> days per week); default
        the dataset's specialists at ``default_days_per_week``.
    rounds
        Plan ``round_days_per_officer`` day(s) of rounds for each officer
        assigned to the rank-1 district, starting the day after ``today``.
    visit_counts
        Absent and answered visits per household, for a dataset given
        without its visits (see :func:`find_specialist_districts`).
    """
    t0 = time.perf_counter()
    p = params or SpecialistParams()
    if not isinstance(top, int) or top <= 0:
        raise ParameterError(f"top: found {top!r}; expected a number of districts > 0")
    if dataset.buildings is None or dataset.households is None:
        raise InputError(
            Problem("dataset", None, "buildings/households", "missing layer",
                    "buildings and households layers", "missing_layer")
        )  # fmt: skip
    search = find_specialist_districts(
        dataset.buildings,
        dataset.households,
        cards,
        visits=dataset.visits,
        units=dataset.units,
        koban=dataset.koban,
        params=p,
        building_params=building_params,
        workload_params=workload_params,
        visit_counts=visit_counts,
    )
    chosen = search.districts[:top]
    spare = (
        list(officers)
        if officers is not None and not isinstance(officers, Mapping)
        else spare_officers(dataset, officers, params=p)
    )
    rec = recommend_specialists(chosen, spare, params=p)
    plans: list[DayPlan] = []
    if rounds and chosen:
        first = chosen[0]
        by_id = {o.officer_id: o for o in spare}
        # Officers sharing a district share its households, not visit them twice.
        taken: list[str] = []
        for a in rec.assignments:
            if a.district_id != first.district_id:
                continue
            plans.extend(
                plan_specialist_rounds(
                    first,
                    by_id[a.officer_id],
                    households=dataset.households,
                    buildings=dataset.buildings,
                    cards=cards,
                    visits=dataset.visits,
                    start=today + timedelta(days=1),
                    days=round_days_per_officer,
                    night_approvals=night_approvals,
                    params=p,
                    seed=seed,
                    exclude=taken,
                )
            )
            taken = [h for plan in plans for h in plan.household_ids]
    return SpecialistReport(
        today=today,
        districts=chosen,
        districts_total=len(search.districts),
        buildings=search.classification.to_dict(),
        officers=spare,
        recommendation=rec,
        rounds=plans,
        params=p,
        notes=search.notes + rec.notes,
        time_s=time.perf_counter() - t0,
    )
