"""Specialist rounds: day plans inside a district, weekends and approved evenings first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

    from ..routing import DayPlan, NightApproval
from .assignment import SpareOfficer, _distance
from .districts import District
from .params import SpecialistParams


def round_days(
    start: date,
    n_days: int,
    *,
    params: SpecialistParams | None = None,
    focus_days: Iterable[date] = (),
    evening_days: Iterable[date] = (),
) -> list[date]:
    """The ``n_days`` days of rounds from ``start``: when residents are home.

    Within ``round_search_days`` days: weekends, public holidays and focus
    days (巡回連絡強化日) first, then weekdays with an evening approval,
    then other weekdays; returned in date order.
    """
    from ..priorities import day_type

    p = params or SpecialistParams()
    focus = frozenset(focus_days)
    evening = frozenset(evening_days)
    cands = [start + timedelta(days=i) for i in range(p.round_search_days)]

    def key(d: date) -> tuple[int, date]:
        if day_type(d, focus_days=focus) == "weekend_or_holiday":
            return 0, d
        return (1 if d in evening else 2), d

    return sorted(sorted(cands, key=key)[: max(0, int(n_days))])


def plan_specialist_rounds(
    district: District,
    officer: SpareOfficer,
    *,
    households: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    cards: pd.DataFrame,
    visits: pd.DataFrame | None,
    start: date,
    days: int = 1,
    night_approvals: Sequence[NightApproval] = (),
    focus_days: Iterable[date] = (),
    params: SpecialistParams | None = None,
    route_params: Any = None,
    seed: int = 0,
    exclude: Sequence[str] = (),
) -> list[DayPlan]:
    """Day plans of one officer inside one district, on the days residents are home.

    Days come from :func:`round_days`. On weekends and holidays the plan
    uses ``weekend_windows``; on weekdays ``weekday_windows`` plus
    ``evening_window`` when ``night_approvals`` holds an approval for the
    officer and day. Only the district's households are candidates; each
    routing node is a building (split by floors when large), so the route
    goes building by building and, inside, floor by floor. A household
    planned on one day is not planned again on a later one, nor are the
    ``exclude`` households (for example those of another officer's round).
    """
    from ..routing import DayRequest, RouteParams, build_day_problem_from_frames, plan_day

    p = params or SpecialistParams()
    focus = tuple(focus_days)
    approvals = {a.date: a for a in night_approvals if a.officer_id == officer.officer_id}
    ids = set(district.building_ids)
    mine = households[households["building_id"].astype(str).isin(ids)]
    blds = (
        buildings[buildings["building_id"].astype(str).isin(ids)] if buildings is not None else None
    )
    hv = (
        visits[visits["household_id"].astype(str).isin(set(mine["household_id"].astype(str)))]
        if visits is not None
        else None
    )
    plans: list[DayPlan] = []
    done: list[str] = list(exclude)
    mode = "walk" if _distance(officer, district) <= p.walk_max_distance_m else "bicycle"
    from ..priorities import day_type

    for on in round_days(start, days, params=p, focus_days=focus, evening_days=approvals):
        weekend = day_type(on, focus_days=focus) == "weekend_or_holiday"
        approval = approvals.get(on)
        windows = list(p.weekend_windows if weekend else p.weekday_windows)
        if approval is not None and not weekend:
            windows.append(p.evening_window)
        problem = build_day_problem_from_frames(
            DayRequest(
                officer_id=officer.officer_id,
                on=on,
                windows=tuple(windows),
                night_approval=approval,
                exclude=tuple(done),
                focus_days=focus,
                params=route_params or RouteParams(),
            ),
            officer={"officer_id": officer.officer_id, "koban_id": officer.koban_id, "mode": mode},
            households=mine,
            buildings=blds,
            cards=cards,
            visits=hv,
            start_xy=(officer.x, officer.y),
            start_label=f"koban {officer.koban_id}",
        )
        plan = plan_day(problem, time_limit_s=p.round_time_limit_s, seed=seed)
        plan.notes.append(
            f"specialist round in {district.district_id} {district.name} "
            f"({'weekend/holiday' if weekend else 'weekday'})"
        )
        done.extend(plan.household_ids)
        plans.append(plan)
    return plans
