"""Coverage forecast: how soon a calendar attempts and meets the 未把握 households.

:func:`forecast_coverage` replays a :class:`~junkai_geo.calendar.CalendarResult`
many times (Monte Carlo, seeded). In each run:

- each officer-day is lost to other duties (incidents, 110 calls) with
  probability ``p_day_lost``; its visits are carried, in order, to the
  officer's next duty day, ahead of that day's own visits;
- a day attempts as many households as it planned; a household already met
  is passed over without using the day's room (its retry is not needed);
- each attempt meets the household with its planned contact probability
  (or ``p_contact_override``).

Per beat and per officer it reports, for every day of the horizon, the
expected share of the 未把握 households attempted and met (the mean over the
runs), and the days to attempt 90 % and 100 % and to meet 90 % of them with
a spread (percentiles over the runs that get there; ``reached_share`` is the
share of runs that get there within the horizon). With ``p_day_lost = 0``
the exact expected contact coverage ``1 - prod(1 - p)`` is given as well.

:func:`compare_beat_assignments` plans and forecasts the same koban on the
current beats and on another assignment of units to beats (for example a
:class:`~junkai_geo.rebalance.RebalanceResult` ``assignment``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ParameterError
from .settings import check_positive

if TYPE_CHECKING:
    import pandas as pd

    from .calendar import CalendarResult
    from .model import Dataset


@dataclass(frozen=True)
class ForecastParams:
    """Settings of the Monte Carlo replay.

    Attributes
    ----------
    runs
        Number of replays.
    seed
        Same seed and calendar, same forecast.
    p_day_lost
        Chance that an officer-day's liaison time is lost to other duties.
    p_contact_override
        When set, every attempt meets the household with this probability.
    percentiles
        Percentiles of the spread of the days to a target.
    attempt_targets, contact_target
        Shares of the 未把握 households to attempt / to meet.
    """

    runs: int = 300
    seed: int = 0
    p_day_lost: float = 0.1
    p_contact_override: float | None = None
    percentiles: tuple[float, ...] = (10.0, 50.0, 90.0)
    attempt_targets: tuple[float, ...] = (0.9, 1.0)
    contact_target: float = 0.9

    def __post_init__(self) -> None:
        check_positive(self, "runs", "contact_target")
        object.__setattr__(self, "percentiles", tuple(self.percentiles))
        object.__setattr__(self, "attempt_targets", tuple(self.attempt_targets))
        if not isinstance(self.runs, int):
            raise ParameterError(f"ForecastParams.runs: found {self.runs!r}; expected an integer")
        if not 0 <= self.p_day_lost < 1:
            raise ParameterError(
                f"ForecastParams.p_day_lost: found {self.p_day_lost!r}; expected a number in [0, 1)"
            )
        if self.p_contact_override is not None and not 0 <= self.p_contact_override <= 1:
            raise ParameterError(
                f"ForecastParams.p_contact_override: found {self.p_contact_override!r}; "
                "expected a probability in [0, 1] or none"
            )
        for name, values in (
            ("percentiles", self.percentiles),
            ("attempt_targets", self.attempt_targets),
        ):
            top = 100 if name == "percentiles" else 1
            if not values or not all(0 < v <= top for v in values):
                raise ParameterError(
                    f"ForecastParams.{name}: found {values!r}; expected numbers in (0, {top}]"
                )
        if self.contact_target > 1:
            raise ParameterError(
                f"ForecastParams.contact_target: found {self.contact_target!r}; "
                "expected a share in (0, 1]"
            )


@dataclass
class Spread:
    """Days (1 = the first day of the horizon) to reach a target, over the runs."""

    mean: float | None
    percentiles: dict[str, float | None]
    reached_share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": None if self.mean is None else round(self.mean, 2),
            "percentiles": {
                k: None if v is None else round(v, 1) for k, v in self.percentiles.items()
            },
            "reached_share": round(self.reached_share, 4),
        }


@dataclass
class CoverageForecast:
    """Forecast for the 未把握 households of one beat or officer."""

    unknown: int
    deterministic_attempt_coverage: list[float]
    expected_attempt_coverage: list[float]
    expected_contact_coverage: list[float]
    days_to_attempt: dict[str, Spread]
    days_to_contact: Spread
    exact_expected_contact_coverage: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        def r(v: list[float] | None) -> list[float] | None:
            return None if v is None else [round(x, 4) for x in v]

        return {
            "unknown": self.unknown,
            "deterministic_attempt_coverage": r(self.deterministic_attempt_coverage),
            "expected_attempt_coverage": r(self.expected_attempt_coverage),
            "expected_contact_coverage": r(self.expected_contact_coverage),
            "exact_expected_contact_coverage": r(self.exact_expected_contact_coverage),
            "days_to_attempt": {k: v.to_dict() for k, v in self.days_to_attempt.items()},
            "days_to_contact": self.days_to_contact.to_dict(),
        }


@dataclass
class ForecastResult:
    """Per beat and per officer forecasts of one calendar."""

    koban_id: str
    start: date
    days: int
    params: ForecastParams
    beats: dict[str, CoverageForecast]
    officers: dict[str, CoverageForecast]
    notes: list[str] = field(default_factory=list)
    #: Per run attempt / contact day of each 未把握 household (``keep_runs``).
    runs: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "koban_id": self.koban_id,
            "start": self.start.isoformat(),
            "days": self.days,
            "runs": self.params.runs,
            "seed": self.params.seed,
            "p_day_lost": self.params.p_day_lost,
            "beats": {k: v.to_dict() for k, v in sorted(self.beats.items())},
            "officers": {k: v.to_dict() for k, v in sorted(self.officers.items())},
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lines = [
            f"forecast {self.koban_id} {self.start.isoformat()} + {self.days} days, "
            f"{self.params.runs} runs, p_day_lost {self.params.p_day_lost}:"
        ]

        def days(s: Spread) -> str:
            if s.mean is None:
                return "not within the horizon"
            pct = "/".join("-" if v is None else f"{v:.0f}" for v in s.percentiles.values())
            return f"{s.mean:.1f} d (p {pct}, {100 * s.reached_share:.0f}% of runs)"

        for name, group in (("beat", self.beats), ("officer", self.officers)):
            for k, f in sorted(group.items()):
                end_a = f.expected_attempt_coverage[-1] if f.expected_attempt_coverage else 0
                end_c = f.expected_contact_coverage[-1] if f.expected_contact_coverage else 0
                first = next(iter(f.days_to_attempt.values()))
                lines.append(
                    f"  {name} {k}: {f.unknown} 未把握, attempted {100 * end_a:.0f}%, "
                    f"met {100 * end_c:.0f}% by the end; 90% attempted: {days(first)}; "
                    f"90% met: {days(f.days_to_contact)}"
                )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _spread(day: np.ndarray, params: ForecastParams) -> Spread:
    """``day``: per run the day index reaching the target (inf when not)."""
    ok = np.isfinite(day)
    share = float(ok.mean()) if day.size else 0.0
    if not ok.any():
        return Spread(None, {f"p{p:g}": None for p in params.percentiles}, share)
    d = day[ok] + 1
    return Spread(
        float(d.mean()),
        {f"p{p:g}": float(np.percentile(d, p)) for p in params.percentiles},
        share,
    )


def _first_reaching(curves: np.ndarray, target: float) -> np.ndarray:
    """Per row, the first column where ``curves >= target`` (inf when none)."""
    hit = curves >= target - 1e-12
    first = np.argmax(hit, axis=1).astype(float)
    first[~hit.any(axis=1)] = np.inf
    return first


def forecast_coverage(
    calendar: CalendarResult, *, params: ForecastParams | None = None, keep_runs: bool = False
) -> ForecastResult:
    """Monte Carlo replay of ``calendar`` (see the module docstring)."""
    p = params or ForecastParams()
    rng = np.random.default_rng(p.seed)
    n_days = calendar.days
    day_of = {d: i for i, d in enumerate(calendar.dates)}
    unknown = sorted({h for ids in calendar.unknown_by_beat.values() for h in ids})
    ids = list(unknown)
    index = {h: i for i, h in enumerate(ids)}
    for a in calendar.attempts:
        if a.household_id not in index:
            index[a.household_id] = len(ids)
            ids.append(a.household_id)
    n_h = len(ids)
    # The officer-days in replay order, each a list of (household, p).
    seq: list[tuple[int, str, list[tuple[int, float]]]] = []
    for a in calendar.attempts:
        key = (day_of[a.date], a.officer_id)
        if not seq or (seq[-1][0], seq[-1][1]) != key:
            seq.append((key[0], key[1], []))
        pc = a.p_contact if p.p_contact_override is None else p.p_contact_override
        seq[-1][2].append((index[a.household_id], float(pc)))
    seq.sort(key=lambda s: (s[0], s[1]))
    n_items = sum(len(s[2]) for s in seq)

    attempt_day = np.full((p.runs, n_h), np.inf)
    contact_day = np.full((p.runs, n_h), np.inf)
    for r in range(p.runs):
        lost = rng.random(len(seq)) < p.p_day_lost
        draws = rng.random(n_items).tolist()
        k = 0
        met = np.zeros(n_h, bool)
        first = attempt_day[r]
        cday = contact_day[r]
        backlog: dict[str, list[tuple[int, float]]] = {}
        for j, (d, officer, items) in enumerate(seq):
            queue = backlog.get(officer, []) + items
            if lost[j]:
                backlog[officer] = [it for it in queue if not met[it[0]]]
                continue
            room = len(items)
            left: list[tuple[int, float]] = []
            for h, pc in queue:
                if met[h]:
                    continue
                if room <= 0:
                    left.append((h, pc))
                    continue
                room -= 1
                if first[h] > d:
                    first[h] = d
                if draws[k] < pc:
                    met[h] = True
                    cday[h] = d
                k += 1
            backlog[officer] = left

    # Deterministic and exact figures from the calendar itself.
    det_first = np.full(n_h, np.inf)
    log_miss = np.zeros((n_days, n_h))
    for a in calendar.attempts:
        h, d = index[a.household_id], day_of[a.date]
        det_first[h] = min(det_first[h], d)
        pc = a.p_contact if p.p_contact_override is None else p.p_contact_override
        log_miss[d, h] += np.log1p(-pc) if pc < 1 else -np.inf
    exact = 1 - np.exp(np.cumsum(log_miss, axis=0))  # P(met by day d), days x households

    def group(members: list[str]) -> CoverageForecast:
        cols = np.array([index[h] for h in members], dtype=np.int64)
        n = len(cols)
        days = np.arange(n_days)
        if n == 0:
            ones = [1.0] * n_days
            spread = Spread(1.0, {f"p{q:g}": 1.0 for q in p.percentiles}, 1.0)
            return CoverageForecast(
                0, ones, ones, ones, {f"{t:g}": spread for t in p.attempt_targets}, spread
            )
        att = (attempt_day[:, cols][:, :, None] <= days).mean(axis=1)  # runs x days
        con = (contact_day[:, cols][:, :, None] <= days).mean(axis=1)
        det = (det_first[cols][:, None] <= days).mean(axis=0)
        return CoverageForecast(
            unknown=n,
            deterministic_attempt_coverage=det.tolist(),
            expected_attempt_coverage=att.mean(axis=0).tolist(),
            expected_contact_coverage=con.mean(axis=0).tolist(),
            days_to_attempt={
                f"{t:g}": _spread(_first_reaching(att, t), p) for t in p.attempt_targets
            },
            days_to_contact=_spread(_first_reaching(con, p.contact_target), p),
            exact_expected_contact_coverage=(
                exact[:, cols].mean(axis=1).tolist() if p.p_day_lost == 0 else None
            ),
        )

    notes = []
    if p.p_contact_override is not None:
        notes.append(f"every contact probability set to {p.p_contact_override}")
    return ForecastResult(
        koban_id=calendar.koban_id,
        start=calendar.start,
        days=n_days,
        params=p,
        beats={b: group(m) for b, m in calendar.unknown_by_beat.items()},
        officers={o: group(m) for o, m in calendar.unknown_by_officer.items()},
        notes=notes,
        runs=(
            {
                "household_ids": np.asarray(ids, dtype=object),
                "attempt_day": attempt_day,
                "contact_day": contact_day,
            }
            if keep_runs
            else None
        ),
    )


def compare_beat_assignments(
    dataset: Dataset,
    cards: pd.DataFrame,
    *,
    koban_id: str,
    start: date,
    unit_beats: Mapping[str, str],
    weeks: int = 4,
    forecast_params: ForecastParams | None = None,
    **calendar_options: Any,
) -> dict[str, Any]:
    """Plan and forecast a koban on its current beats and on ``unit_beats``.

    Returns ``{"current": ForecastResult, "proposed": ForecastResult,
    "table": [...]}`` where the table has one row per beat with the mean
    days to attempt 90 % of the 未把握 households under each assignment.
    """
    from .calendar import plan_calendar

    out: dict[str, Any] = {}
    for name, mapping in (("current", None), ("proposed", unit_beats)):
        cal = plan_calendar(
            dataset,
            cards,
            koban_id=koban_id,
            start=start,
            weeks=weeks,
            unit_beats=mapping,
            **calendar_options,
        )
        out[name] = forecast_coverage(cal, params=forecast_params)
    rows = []
    for b in sorted(set(out["current"].beats) | set(out["proposed"].beats)):
        row: dict[str, Any] = {"beat_id": b}
        for name in ("current", "proposed"):
            f = out[name].beats.get(b)
            row[f"{name}_unknown"] = f.unknown if f else 0
            row[f"{name}_attempted_share_end"] = (
                round(f.expected_attempt_coverage[-1], 4) if f else None
            )
            first = next(iter(f.days_to_attempt.values())) if f else None
            row[f"{name}_days_to_attempt_90"] = None if first is None else first.mean
        rows.append(row)
    out["table"] = rows
    return out
