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
the exact expected contact coverage ``1 - prod(1 - p)`` is given as well
(for the calendar's horizon).

A beat usually takes longer than a calendar's horizon, so the replay goes on
for ``extend_days`` more days by extrapolation: each officer keeps the
calendar's pace (first attempts of 未把握 households per duty day, their mean
contact probability) on duty days that repeat the horizon's roster; he works
through the backlog, then the 未把握 households of his pool never planned,
then, pass after pass, those not yet met. The curves and the days to a
target cover the horizon and the extension; ``horizon_days`` says where the
calendar ends.

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
    extend_days
        Days replayed beyond the calendar's horizon by extrapolation (see
        the module docstring); 0 replays the calendar only.
    max_passes
        Passes over an officer's 未把握 households in the extrapolation
        (the first pass attempts, later ones retry those not met).
    """

    runs: int = 300
    seed: int = 0
    p_day_lost: float = 0.1
    p_contact_override: float | None = None
    percentiles: tuple[float, ...] = (10.0, 50.0, 90.0)
    attempt_targets: tuple[float, ...] = (0.9, 1.0)
    contact_target: float = 0.9
    extend_days: int = 365
    max_passes: int = 4

    def __post_init__(self) -> None:
        check_positive(self, "runs", "contact_target", "max_passes")
        if not isinstance(self.extend_days, int) or self.extend_days < 0:
            raise ParameterError(
                f"ForecastParams.extend_days: found {self.extend_days!r}; expected days >= 0"
            )
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
    horizon_days: int
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
            "horizon_days": self.horizon_days,
            "runs": self.params.runs,
            "seed": self.params.seed,
            "p_day_lost": self.params.p_day_lost,
            "beats": {k: v.to_dict() for k, v in sorted(self.beats.items())},
            "officers": {k: v.to_dict() for k, v in sorted(self.officers.items())},
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lines = [
            f"forecast {self.koban_id} {self.start.isoformat()}: calendar of "
            f"{self.horizon_days} days, extrapolated to {self.days} days, "
            f"{self.params.runs} runs, p_day_lost {self.params.p_day_lost}:"
        ]

        def days(s: Spread) -> str:
            if s.mean is None:
                return "not within the horizon"
            pct = "/".join("-" if v is None else f"{v:.0f}" for v in s.percentiles.values())
            return f"{s.mean:.1f} d (p {pct}, {100 * s.reached_share:.0f}% of runs)"

        for name, group in (("beat", self.beats), ("officer", self.officers)):
            for k, f in sorted(group.items()):
                first = next(iter(f.days_to_attempt.values()))
                h = self.horizon_days - 1
                lines.append(
                    f"  {name} {k}: {f.unknown} 未把握; by day {h + 1} attempted "
                    f"{100 * f.expected_attempt_coverage[h]:.0f}%, met "
                    f"{100 * f.expected_contact_coverage[h]:.0f}%; 90% attempted: "
                    f"{days(first)}; 90% met: {days(f.days_to_contact)}"
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

    ext = _extension(calendar, index, p)
    total_days = n_days + (p.extend_days if ext else 0)
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
        for officer, (days_o, cap, pc, never, pool) in ext.items():
            _extend_run(
                rng,
                p,
                days_o,
                cap,
                pc,
                [h for h, _ in backlog.get(officer, [])] + never,
                pool,
                met,
                first,
                cday,
                total_days,
            )

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
        days = np.arange(total_days)
        if n == 0:
            ones = [1.0] * total_days
            spread = Spread(1.0, {f"p{q:g}": 1.0 for q in p.percentiles}, 1.0)
            return CoverageForecast(
                0, ones, ones, ones, {f"{t:g}": spread for t in p.attempt_targets}, spread
            )
        att = (attempt_day[:, cols][:, :, None] <= days).mean(axis=1)  # runs x days
        con = (contact_day[:, cols][:, :, None] <= days).mean(axis=1)
        det = (det_first[cols][:, None] <= np.arange(n_days)).mean(axis=0)
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
        days=total_days,
        horizon_days=n_days,
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


def _extension(
    calendar: CalendarResult, index: dict[str, int], p: ForecastParams
) -> dict[str, tuple[np.ndarray, int, float, list[int], np.ndarray]]:
    """Per officer: extension duty days, pace, mean p, never-planned and pool households."""
    if p.extend_days <= 0:
        return {}
    horizon = calendar.days
    day_of = {d: i for i, d in enumerate(calendar.dates)}
    planned = {a.household_id for a in calendar.attempts}
    taken: set[str] = set()
    out = {}
    for officer, pool in sorted(calendar.unknown_by_officer.items()):
        mine = [h for h in pool if h not in taken]
        taken.update(mine)
        duty = sorted(day_of[pl.date] for pl in calendar.plans.get(officer, []))
        firsts = [
            a
            for a in calendar.attempts
            if a.officer_id == officer and a.attempt == 1 and a.card_status == "none"
        ]
        if not duty or not firsts or not mine:
            continue
        cap = max(1, round(len(firsts) / len(duty)))
        pc = float(np.mean([a.p_contact for a in firsts]))
        if p.p_contact_override is not None:
            pc = p.p_contact_override
        reps = p.extend_days // horizon + 2
        days_o = np.array([d + k * horizon for k in range(1, reps) for d in duty])
        days_o = days_o[days_o < horizon + p.extend_days]
        never = [index[h] for h in mine if h not in planned]
        out[officer] = (days_o, cap, pc, never, np.array([index[h] for h in mine], np.int64))
    return out


def _extend_run(
    rng: np.random.Generator,
    p: ForecastParams,
    days_o: np.ndarray,
    cap: int,
    pc: float,
    first_pass: list[int],
    pool: np.ndarray,
    met: np.ndarray,
    first: np.ndarray,
    cday: np.ndarray,
    total_days: int,
) -> None:
    """One run's extrapolation for one officer, in place (vectorised per pass)."""
    eff = days_o[rng.random(len(days_o)) >= p.p_day_lost]
    slots = len(eff) * cap
    pos = 0
    for k in range(p.max_passes):
        if k == 0:
            items = np.array([h for h in dict.fromkeys(first_pass) if not met[h]], np.int64)
        else:
            items = pool[~met[pool] & np.isfinite(first[pool])]
        if len(items) == 0 or pos >= slots:
            continue
        n = min(len(items), slots - pos)
        items = items[:n]
        day = eff[(pos + np.arange(n)) // cap].astype(float)
        pos += n
        first[items] = np.minimum(first[items], day)
        hit = rng.random(n) < pc
        met[items[hit]] = True
        cday[items[hit]] = np.minimum(cday[items[hit]], day[hit])


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
    from .calendar import CalendarRequest, build_calendar_problem, plan_calendar

    # Run options go to the planner, the rest to the request.
    options = dict(calendar_options)
    seed = int(options.pop("seed", 0))
    travel = options.pop("travel", None)
    out: dict[str, Any] = {}
    for name, mapping in (("current", None), ("proposed", unit_beats)):
        request = CalendarRequest(
            koban_id=koban_id, start=start, weeks=weeks, unit_beats=mapping, **options
        )
        problem = build_calendar_problem(dataset, request, cards=cards, travel=travel)
        cal = plan_calendar(problem, seed=seed)
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
