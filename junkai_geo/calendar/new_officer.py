"""A newly assigned officer's plan: the whole beat, area by area (新たに受持区の担当を命ぜられた場合)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError, Problem
from ..model import Dataset
from ..priorities import PriorityParams
from ..roster import RosterParams, build_roster
from ..routing import (
    DayPlan,
    DayRequest,
    RouteParams,
    build_day_problem_from_frames,
    parse_window,
    plan_day,
)
from ..settings import check_positive
from .problem import koban_xy


@dataclass(frozen=True)
class NewOfficerParams:
    """Settings of the new officer's plan.

    Attributes
    ----------
    day_utilisation
        Share of a day's liaison windows planned as door time when cutting
        areas; the rest is left for walking between buildings.
    max_weeks
        The plan stops after so many weeks even if the beat is not covered.
    route_time_limit_s
        Time limit of each day's route (``route=True``).
    max_carry
        A household left out of its day's route is carried to the next day
        at most so many times, then reported as not covered.
    """

    day_utilisation: float = 0.75
    max_weeks: int = 60
    route_time_limit_s: float = 0.3
    max_carry: int = 3

    def __post_init__(self) -> None:
        check_positive(self, "day_utilisation", "max_weeks", "route_time_limit_s", "max_carry")
        if self.day_utilisation > 1:
            raise ParameterError(
                f"NewOfficerParams.day_utilisation: found {self.day_utilisation!r}; "
                "expected a share in (0, 1]"
            )


@dataclass
class AreaDay:
    """One duty day of the new officer's plan: a compact area of the beat."""

    date: date
    area: int
    household_ids: list[str]
    workload_s: int
    centre_xy: tuple[float, float]
    radius_m: float
    carried_in: int = 0
    plan: DayPlan | None = None

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "date": self.date.isoformat(),
            "area": self.area,
            "households": len(self.household_ids),
            "household_ids": list(self.household_ids),
            "workload_h": round(self.workload_s / 3600, 2),
            "centre_xy": [round(self.centre_xy[0], 1), round(self.centre_xy[1], 1)],
            "radius_m": round(self.radius_m, 1),
            "carried_in": self.carried_in,
        }
        if self.plan is not None:
            out["visited"] = len(self.plan.household_ids)
            out["plan"] = self.plan.to_dict() if full else {"totals": self.plan.totals()}
        return out


@dataclass
class NewOfficerPlan:
    """Area-by-area coverage of a whole beat (新たに受持区の担当を命ぜられた場合)."""

    officer_id: str
    beat_id: str
    start: date
    days: list[AreaDay]
    households: int
    covered: int
    weeks: int
    not_covered: dict[str, str]  # household id -> reason
    notes: list[str]

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "beat_id": self.beat_id,
            "start": self.start.isoformat(),
            "households": self.households,
            "covered": self.covered,
            "weeks": self.weeks,
            "duty_days": len(self.days),
            "days": [d.to_dict(full=full) for d in self.days],
            "not_covered": dict(sorted(self.not_covered.items())),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lines = [
            f"new officer {self.officer_id} on beat {self.beat_id} from "
            f"{self.start.isoformat()}: {self.covered}/{self.households} households in "
            f"{len(self.days)} duty days ({self.weeks} weeks)"
        ]
        for d in self.days[:10]:
            lines.append(
                f"  {d.date.isoformat()} area {d.area}: {len(d.household_ids)} households, "
                f"{d.workload_s / 3600:.1f} h, radius {d.radius_m:.0f} m"
            )
        if len(self.days) > 10:
            lines.append(f"  ... {len(self.days) - 10} more days")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def hilbert_index(xy: np.ndarray, *, order: int = 12) -> np.ndarray:
    """Position of each point along a Hilbert curve over the points' bounding square.

    Consecutive positions are close in space, so consecutive runs of points
    form compact areas.
    """
    n = 1 << order
    lo = xy.min(axis=0)
    span = float(max((xy.max(axis=0) - lo).max(), 1e-9))
    g = np.clip(((xy - lo) / span * (n - 1)).round().astype(np.int64), 0, n - 1)
    x, y = g[:, 0].copy(), g[:, 1].copy()
    d = np.zeros(len(xy), np.int64)
    s = n // 2
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        # Rotate the quadrant so that the curve stays continuous.
        flip = ry == 0
        swap_x = flip & (rx == 1)
        x = np.where(swap_x, n - 1 - x, x)
        y = np.where(swap_x, n - 1 - y, y)
        x, y = np.where(flip, y, x), np.where(flip, x, y)
        s //= 2
    return d


def plan_new_officer(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    beat_id: str,
    start: date,
    officer: Mapping[str, Any] | str | None = None,
    route: bool = True,
    travel: Any = None,
    params: NewOfficerParams | None = None,
    route_params: RouteParams | None = None,
    priority_params: PriorityParams | None = None,
    roster_params: RosterParams | None = None,
    leave: Iterable[date] = (),
) -> NewOfficerPlan:
    """Cover a whole beat, area by area, in the fewest weeks the roster allows.

    Every occupied household of the beat is visited once. Buildings are
    ordered along a Hilbert curve and cut into consecutive runs, one per
    duty day, each as large as the day's windows allow (times
    ``day_utilisation``): so each day's area is compact and no duty day is
    left empty. With ``route``, each day is routed with :func:`plan_day`
    and what it leaves out is carried to the next day.

    ``officer`` is the beat's officer (default the koban's officer of the
    beat) as a row or id, or a mapping for a new officer with
    ``officer_id``, ``shift_pattern`` and ``mode``.
    """
    p = params or NewOfficerParams()
    rp = route_params or RouteParams()
    if dataset.beats is None or dataset.households is None or dataset.officers is None:
        raise InputError(
            Problem(
                "dataset",
                None,
                None,
                "no beats, households or officers",
                "the three layers",
                "missing_layer",
            )
        )
    beats = dataset.beats[dataset.beats["beat_id"].astype(str) == beat_id]
    if beats.empty:
        known = sorted(dataset.beats["beat_id"].astype(str))
        raise InputError(
            Problem(
                "beats",
                None,
                "beat_id",
                repr(beat_id),
                f"one of {known[:12]}{' ...' if len(known) > 12 else ''}",
                "unknown_beat",
            )
        )
    koban_id = str(beats["koban_id"].iloc[0])
    off = _new_officer_row(dataset.officers, beat_id, koban_id, officer)
    start_xy, label = koban_xy(dataset, koban_id)
    hh = dataset.households[dataset.households["beat_id"].astype(str) == beat_id]
    ids = hh["household_id"].astype(str).to_numpy()
    card = cards.reindex(pd.Index(ids))
    occupied = card["occupancy"].astype(str).to_numpy() == "occupied"
    hh, ids = hh[occupied], ids[occupied]
    new_card = card["status"].astype(str).to_numpy()[occupied] == "none"
    kinds = hh["kind"].astype(str).to_numpy() if "kind" in hh else np.full(len(hh), "home")
    service = np.array(
        [rp.service_s(k, bool(n)) for k, n in zip(kinds, new_card, strict=True)], np.int64
    )
    xy = np.column_stack([hh.geometry.x.to_numpy(float), hh.geometry.y.to_numpy(float)])
    floors = (
        pd.to_numeric(hh["floor"], errors="coerce").fillna(1).to_numpy(float)
        if "floor" in hh
        else np.ones(len(hh))
    )
    bkey = (
        hh["building_id"]
        .astype(str)
        .where(hh["building_id"].notna(), pd.Series(ids, index=hh.index))
        if "building_id" in hh
        else pd.Series(ids, index=hh.index)
    ).to_numpy()
    _, bcode = np.unique(bkey, return_inverse=True)
    n_b = int(bcode.max()) + 1 if len(bcode) else 0
    b_work = np.bincount(bcode, weights=service, minlength=n_b) + rp.building_approach_s
    b_top = np.zeros(n_b)
    np.maximum.at(b_top, bcode, floors)
    b_work += rp.per_floor_s * np.maximum(b_top - 1, 0)
    b_xy = (
        np.column_stack(
            [
                np.bincount(bcode, weights=xy[:, 0], minlength=n_b),
                np.bincount(bcode, weights=xy[:, 1], minlength=n_b),
            ]
        )
        / np.maximum(np.bincount(bcode, minlength=n_b), 1)[:, None]
    )
    order = np.argsort(hilbert_index(b_xy), kind="stable") if n_b else np.empty(0, np.int64)
    members: list[list[int]] = [[] for _ in range(n_b)]
    for row, b in enumerate(bcode.tolist()):
        members[b].append(row)

    roster = build_roster(
        [off], start, 7 * p.max_weeks, params=roster_params, leave={off["officer_id"]: leave}
    )
    duty = roster.duty_days(off["officer_id"])
    notes = list(roster.notes)
    days: list[AreaDay] = []
    carried: list[int] = []
    carry_count: dict[int, int] = {}
    not_covered: dict[str, str] = {}
    covered: set[int] = set()
    pos = 0
    for shift in duty:
        if pos >= n_b and not carried:
            break
        cap = p.day_utilisation * sum(b - a for a, b in (parse_window(w) for w in shift.windows))
        cap -= sum(int(service[r]) for r in carried)
        rows: list[int] = []
        work = 0.0
        while pos < n_b:
            b = int(order[pos])
            # At least one building a day unless carried households fill it.
            if work + b_work[b] > cap and (rows or carried):
                break
            rows += members[b]
            work += float(b_work[b])
            pos += 1
        all_rows = carried + rows
        pts = xy[rows] if rows else xy[all_rows]
        centre = pts.mean(axis=0) if len(pts) else np.array(start_xy)
        radius = float(np.hypot(*(pts - centre).T).max()) if len(pts) else 0.0
        day = AreaDay(
            date=shift.date,
            area=len(days) + 1,
            household_ids=[str(ids[r]) for r in all_rows],
            workload_s=int(work + sum(int(service[r]) for r in carried)),
            centre_xy=(float(centre[0]), float(centre[1])),
            radius_m=radius,
            carried_in=len(carried),
        )
        carried = []
        if route and all_rows:
            sub = hh.iloc[all_rows]
            problem = build_day_problem_from_frames(
                DayRequest(
                    officer_id=str(off["officer_id"]),
                    on=shift.date,
                    windows=tuple(shift.windows),
                    params=rp,
                    priority_params=priority_params or PriorityParams(),
                ),
                officer=off,
                households=sub,
                buildings=dataset.buildings,
                cards=cards.reindex(pd.Index(ids[all_rows])).assign(
                    # A new officer visits every household once, also those
                    # met recently: treat every card as due for an update.
                    last_contact=np.full(len(all_rows), np.datetime64("NaT"), "datetime64[ns]"),
                    status=np.where(new_card[all_rows], "none", "stale"),
                ),
                visits=None,
                start_xy=start_xy,
                start_label=label,
                travel=travel,
            )
            plan = plan_day(problem, time_limit_s=p.route_time_limit_s)
            plan.problem = None
            day.plan = plan
            done = set(plan.household_ids)
            reason = {s["household_id"]: s["reason"] for s in plan.skipped}
            for r in all_rows:
                h = str(ids[r])
                if h in done:
                    covered.add(r)
                    continue
                carry_count[r] = carry_count.get(r, 0) + 1
                if carry_count[r] > p.max_carry:
                    not_covered[h] = reason.get(h, "not_routed")
                else:
                    carried.append(r)
        else:
            covered.update(all_rows)
        days.append(day)
    for r in carried:
        not_covered[str(ids[r])] = "horizon_ended"
    for b in order[pos:]:
        for r in members[int(b)]:
            not_covered[str(ids[r])] = "horizon_ended"
    if any(v == "horizon_ended" for v in not_covered.values()):
        notes.append(f"the beat is not covered within max_weeks = {p.max_weeks}")
    last = days[-1].date if days else start
    return NewOfficerPlan(
        officer_id=off["officer_id"],
        beat_id=beat_id,
        start=start,
        days=days,
        households=len(ids),
        covered=len(covered),
        weeks=(last - start).days // 7 + 1,
        not_covered=not_covered,
        notes=notes,
    )


def _new_officer_row(
    officers: pd.DataFrame, beat_id: str, koban_id: str, officer: Mapping[str, Any] | str | None
) -> dict[str, Any]:
    if isinstance(officer, Mapping):
        row = {str(k): v for k, v in officer.items()}
        if not row.get("officer_id"):
            raise ParameterError(f"officer: found {row!r}; expected an officer_id")
    else:
        rows = officers[officers["beat_id"].astype(str) == beat_id]
        if officer is not None:
            rows = officers[officers["officer_id"].astype(str) == str(officer)]
        if rows.empty:
            raise InputError(
                Problem(
                    "officers",
                    None,
                    "officer_id" if officer is not None else "beat_id",
                    repr(officer if officer is not None else beat_id),
                    "an officer of the beat, or a mapping describing the new officer",
                    "unknown_officer",
                )
            )
        row = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
    row.setdefault("shift_pattern", "day")
    row.setdefault("mode", "walk")
    row["officer_id"] = str(row["officer_id"])
    row["koban_id"] = koban_id
    row["beat_id"] = beat_id
    return row
