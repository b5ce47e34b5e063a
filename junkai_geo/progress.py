"""Progress of patrol liaison per officer and beat, and lagging officers.

:func:`progress_report` reads the visit history of a period and gives, per
officer: attempts, contacts (面接), cards made (first contact of a
household) and corrected (contact with a household that had a card),
coverage of the beat (share of the beat's occupied households attempted in
the period), 未把握 households at the start and at the end, and a weekly
trend.

Lagging rule (documented in docs/calendar.md): an officer with a beat is
flagged when his coverage is below ``lag_ratio`` (default 0.6) times the
median coverage of his peers: the beat officers of his koban when it has at
least ``min_peers`` of them, else those of his station. Specialists (no
beat) are reported but neither flagged nor counted in medians. A flagged
officer gets suggested focus days (巡回連絡強化日): the weekends and public
holidays on which he is on duty in the coming ``focus_weeks`` weeks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from .cards import card_table
from .errors import InputError, ParameterError, Problem
from .model import Dataset
from .roster import RosterParams, build_roster, suggest_focus_days
from .settings import check_positive


@dataclass(frozen=True)
class ProgressParams:
    """Rules of the lagging check.

    Attributes
    ----------
    lag_ratio
        Flag coverage below this times the peers' median.
    min_peers
        Koban median when the koban has at least this many beat officers,
        else the station's.
    focus_weeks, max_focus_days
        Horizon and number of suggested focus days.
    stale_after_months
        Card rule used for the 未把握 counts.
    """

    lag_ratio: float = 0.6
    min_peers: int = 3
    focus_weeks: int = 4
    max_focus_days: int = 4
    stale_after_months: int = 24

    def __post_init__(self) -> None:
        check_positive(
            self, "lag_ratio", "min_peers", "focus_weeks", "max_focus_days", "stale_after_months"
        )
        if self.lag_ratio >= 1:
            raise ParameterError(
                f"ProgressParams.lag_ratio: found {self.lag_ratio!r}; expected a ratio in (0, 1)"
            )


@dataclass
class OfficerProgress:
    officer_id: str
    koban_id: str
    station: str
    role: str
    beat_id: str | None
    attempts: int
    contacts: int
    cards_made: int
    cards_corrected: int
    beat_households: int
    households_attempted: int
    coverage: float | None
    unknown_start: int
    unknown_end: int
    weekly: list[dict[str, Any]]
    peer_median: float | None = None
    peer_group: str = ""
    lagging: bool = False
    reason: str = ""
    suggested_focus_days: list[date] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "koban_id": self.koban_id,
            "station": self.station,
            "role": self.role,
            "beat_id": self.beat_id,
            "attempts": self.attempts,
            "contacts": self.contacts,
            "cards_made": self.cards_made,
            "cards_corrected": self.cards_corrected,
            "beat_households": self.beat_households,
            "households_attempted": self.households_attempted,
            "coverage": None if self.coverage is None else round(self.coverage, 4),
            "unknown_start": self.unknown_start,
            "unknown_end": self.unknown_end,
            "weekly": list(self.weekly),
            "peer_median": None if self.peer_median is None else round(self.peer_median, 4),
            "peer_group": self.peer_group,
            "lagging": self.lagging,
            "reason": self.reason,
            "suggested_focus_days": [d.isoformat() for d in self.suggested_focus_days],
        }


@dataclass
class ProgressResult:
    start: date
    end: date
    params: ProgressParams
    officers: list[OfficerProgress]
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[OfficerProgress]:
        return [o for o in self.officers if o.lagging]

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "lag_ratio": self.params.lag_ratio,
            "officers": [o.to_dict() for o in self.officers],
            "flagged": [o.officer_id for o in self.flagged],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lines = [
            f"progress {self.start.isoformat()} .. {self.end.isoformat()}: "
            f"{len(self.officers)} officers, {len(self.flagged)} flagged "
            f"(coverage < {self.params.lag_ratio} x peers' median)"
        ]
        for o in self.officers:
            cov = "-" if o.coverage is None else f"{100 * o.coverage:.0f}%"
            flag = " LAGGING" if o.lagging else ""
            lines.append(
                f"  {o.officer_id} ({o.beat_id or o.role}): {o.attempts} visits, "
                f"{o.contacts} contacts, {o.cards_made} cards made, {o.cards_corrected} "
                f"corrected, coverage {cov}, 未把握 {o.unknown_start} -> {o.unknown_end}{flag}"
            )
            if o.lagging:
                days = ", ".join(d.isoformat() for d in o.suggested_focus_days) or "none on duty"
                lines.append(f"      {o.reason}; suggested focus days: {days}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def progress_report(
    dataset: Dataset,
    *,
    start: date,
    end: date,
    station: str | None = None,
    koban_id: str | None = None,
    params: ProgressParams | None = None,
    roster_params: RosterParams | None = None,
) -> ProgressResult:
    """Progress of each officer over ``[start, end]`` (both days included).

    ``station`` / ``koban_id`` restrict the officers reported (the medians
    still use their whole koban or station).
    """
    p = params or ProgressParams()
    check_period(start, end)
    for name in ("officers", "households", "visits", "koban"):
        if getattr(dataset, name) is None:
            raise InputError(
                Problem(name, None, None, f"no {name} layer", f"a {name} layer", "missing_layer")
            )
    officers = officers_with_station(dataset.officers, dataset.koban, station)  # type: ignore[arg-type]
    counts = progress_counts(dataset, start=start, end=end, params=p)
    return progress_from_counts(
        officers,
        counts,
        start=start,
        end=end,
        station=station,
        koban_id=koban_id,
        params=p,
        roster_params=roster_params,
    )


def check_period(start: date, end: date) -> None:
    """Raise a ParameterError unless ``start <= end``."""
    if end < start:
        raise ParameterError(
            f"period: found from {start.isoformat()} to {end.isoformat()}; expected from <= to"
        )


def officers_with_station(
    officers: pd.DataFrame, koban: pd.DataFrame, station: str | None = None
) -> pd.DataFrame:
    """A copy of ``officers`` with the ``station`` of each one's koban.

    Raises
    ------
    InputError
        ``station`` is given and no officer's koban belongs to it.
    """
    officers = officers.copy()
    station_of = dict(
        zip(
            koban["koban_id"].astype(str),
            koban["station"].astype(str) if "station" in koban else "",
            strict=True,
        )
    )
    officers["koban_id"] = officers["koban_id"].astype(str)
    officers["station"] = officers["koban_id"].map(station_of).fillna("")
    if station is not None and station not in set(officers["station"]):
        raise InputError(
            Problem(
                "koban",
                None,
                "station",
                repr(station),
                f"one of {sorted(set(officers['station']))}",
                "unknown_station",
            )
        )
    return officers


@dataclass
class ProgressCounts:
    """What :func:`progress_report` reads from the households and visits.

    Per beat (the households' ``beat_id``): ``beat_total`` occupied
    households at the start of the period, ``unknown_start`` /
    ``unknown_end`` occupied households without a card (未把握) at its start
    and end; per officer, the counts of the period's visits
    (:class:`OfficerStats`); ``period_visits`` the number of those visits.
    A database can compute them with grouped queries
    (``api.aggregates.progress_counts``) instead of reading every visit.
    """

    beat_total: dict[str, int]
    unknown_start: dict[str, int]
    unknown_end: dict[str, int]
    stats: OfficerStats
    period_visits: int


def progress_counts(
    dataset: Dataset, *, start: date, end: date, params: ProgressParams | None = None
) -> ProgressCounts:
    """The per-beat and per-officer counts of :func:`progress_report` from a dataset."""
    p = params or ProgressParams()
    officers = dataset.officers
    hh = dataset.households
    visits = dataset.visits
    # Compare datetime64 days, not Python dates (an object per visit).
    when = pd.to_datetime(visits["visited_on"]).to_numpy("datetime64[D]")  # type: ignore[index]
    start64, end64 = np.datetime64(start, "D"), np.datetime64(end, "D")
    before_start = visits[when < start64]  # type: ignore[index]
    upto_end = visits[when <= end64]  # type: ignore[index]
    period = visits[(when >= start64) & (when <= end64)].copy()  # type: ignore[index]
    cards_start = card_table(hh, before_start, today=start, stale_after_months=p.stale_after_months)  # type: ignore[arg-type]
    cards_end = card_table(
        hh,  # type: ignore[arg-type]
        upto_end,
        today=end + timedelta(days=1),
        stale_after_months=p.stale_after_months,
    )
    beat = hh["beat_id"].astype(str).to_numpy()  # type: ignore[index]
    occupied = cards_start["occupancy"].to_numpy() == "occupied"
    none_start = (cards_start["status"].to_numpy() == "none") & occupied
    none_end = (cards_end["status"].to_numpy() == "none") & (
        cards_end["occupancy"].to_numpy() == "occupied"
    )
    hh_beat = pd.Series(beat, index=hh["household_id"].astype(str).to_numpy())  # type: ignore[index]
    beat_total = pd.Series(occupied.astype(int), index=beat).groupby(level=0).sum()
    unknown_start = pd.Series(none_start.astype(int), index=beat).groupby(level=0).sum()
    unknown_end = pd.Series(none_end.astype(int), index=beat).groupby(level=0).sum()

    # A contact makes a card when the household had no contact before it.
    met_all = visits[visits["outcome"].astype(str) == "met"]  # type: ignore[index]
    first_met = pd.to_datetime(met_all["visited_on"]).groupby(met_all["household_id"]).min()
    period["household_id"] = period["household_id"].astype(str)
    period["day"] = pd.to_datetime(period["visited_on"])
    period["met"] = period["outcome"].astype(str) == "met"
    first = period["household_id"].map(first_met)
    period["made"] = period["met"] & (period["day"] <= first)
    period["week"] = (
        period["day"] - pd.to_timedelta(period["day"].dt.day_of_week, unit="D")
    ).dt.date
    period["beat_of_hh"] = period["household_id"].map(hh_beat)

    return ProgressCounts(
        beat_total={str(k): int(v) for k, v in beat_total.items()},
        unknown_start={str(k): int(v) for k, v in unknown_start.items()},
        unknown_end={str(k): int(v) for k, v in unknown_end.items()},
        stats=_officer_stats(period, officers),  # type: ignore[arg-type]
        period_visits=len(period),
    )


def progress_from_counts(
    officers: pd.DataFrame,
    counts: ProgressCounts,
    *,
    start: date,
    end: date,
    station: str | None = None,
    koban_id: str | None = None,
    params: ProgressParams | None = None,
    roster_params: RosterParams | None = None,
) -> ProgressResult:
    """The report from the counts: coverage, lagging flags and focus days.

    ``officers`` carries ``station`` (the station of each officer's koban).
    """
    p = params or ProgressParams()
    stats = counts.stats
    beat_total, unknown_start, unknown_end = (
        counts.beat_total,
        counts.unknown_start,
        counts.unknown_end,
    )
    rows: list[OfficerProgress] = []
    for r in officers.to_dict("records"):
        oid = str(r["officer_id"])
        b = _beat_of(r.get("beat_id"))
        total = int(beat_total.get(b, 0)) if b else 0
        attempted = int(stats.attempted.get(oid, 0)) if b else 0
        rows.append(
            OfficerProgress(
                officer_id=oid,
                koban_id=str(r["koban_id"]),
                station=str(r["station"]),
                role=str(r.get("role") or "beat"),
                beat_id=b,
                attempts=int(stats.attempts.get(oid, 0)),
                contacts=int(stats.contacts.get(oid, 0)),
                cards_made=int(stats.made.get(oid, 0)),
                cards_corrected=int(stats.corrected.get(oid, 0)),
                beat_households=total,
                households_attempted=attempted,
                coverage=(attempted / total) if total else None,
                unknown_start=int(unknown_start.get(b, 0)) if b else 0,
                unknown_end=int(unknown_end.get(b, 0)) if b else 0,
                weekly=stats.weekly.get(oid, []),
            )
        )
    _flag(rows, p)
    flagged = [o for o in rows if o.lagging]
    if flagged:
        roster = build_roster(
            officers[officers["officer_id"].astype(str).isin({o.officer_id for o in flagged})],
            end + timedelta(days=1),
            7 * p.focus_weeks,
            params=roster_params,
        )
        for o in flagged:
            o.suggested_focus_days = suggest_focus_days(
                roster, o.officer_id, max_days=p.max_focus_days
            )
    if station is not None:
        rows = [o for o in rows if o.station == station]
    if koban_id is not None:
        rows = [o for o in rows if o.koban_id == koban_id]
    notes = []
    if counts.period_visits == 0:
        notes.append("no visit in the period")
    return ProgressResult(start, end, p, rows, notes)


def _beat_of(value: Any) -> str | None:
    """An officer's beat id, None when he has none (None, NaN or empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    return str(value)


@dataclass
class OfficerStats:
    attempts: dict[str, int]
    contacts: dict[str, int]
    made: dict[str, int]
    corrected: dict[str, int]
    attempted: dict[str, int]
    weekly: dict[str, list[dict[str, Any]]]


def _officer_stats(period: pd.DataFrame, officers: pd.DataFrame) -> OfficerStats:
    """Per-officer counts of the period's visits, each in one grouped pass.

    ``attempted`` counts the distinct households of the officer's own beat
    he attempted; ``weekly`` lists his weeks in order.
    """
    oid = period["officer_id"].astype(str)
    by = oid.to_numpy()
    met = period["met"].to_numpy(bool)
    made = period["made"].to_numpy(bool)
    counts = (
        pd.DataFrame({"o": by, "n": 1, "met": met, "made": made, "corrected": met & ~made})
        .groupby("o", sort=False)[["n", "met", "made", "corrected"]]
        .sum()
    )
    beat_of = {
        str(r["officer_id"]): _beat_of(r.get("beat_id")) for r in officers.to_dict("records")
    }
    own = oid.map(beat_of)
    in_beat = (own.notna() & (period["beat_of_hh"] == own)).to_numpy(bool)
    hid = period["household_id"].astype(str).to_numpy()
    attempted = pd.DataFrame({"o": by[in_beat], "h": hid[in_beat]}).groupby("o")["h"].nunique()
    week = pd.DataFrame({"o": by, "w": period["week"].to_numpy(), "met": met, "h": hid})
    weeks = week.groupby(["o", "w"]).agg(
        attempts=("h", "size"), contacts=("met", "sum"), households=("h", "nunique")
    )
    weekly: dict[str, list[dict[str, Any]]] = {}
    for (o, w), a, c, h in zip(
        weeks.index,
        weeks["attempts"].to_numpy(),
        weeks["contacts"].to_numpy(),
        weeks["households"].to_numpy(),
        strict=True,
    ):
        weekly.setdefault(str(o), []).append(
            {"week": str(w), "attempts": int(a), "contacts": int(c), "households": int(h)}
        )
    return OfficerStats(
        attempts={str(k): int(v) for k, v in counts["n"].items()},
        contacts={str(k): int(v) for k, v in counts["met"].items()},
        made={str(k): int(v) for k, v in counts["made"].items()},
        corrected={str(k): int(v) for k, v in counts["corrected"].items()},
        attempted={str(k): int(v) for k, v in attempted.items()},
        weekly=weekly,
    )


def _flag(rows: list[OfficerProgress], p: ProgressParams) -> None:
    """Set ``peer_median``, ``lagging`` and ``reason`` by the documented rule."""
    beat_rows = [o for o in rows if o.coverage is not None]
    by_koban: dict[str, list[float]] = {}
    by_station: dict[str, list[float]] = {}
    for o in beat_rows:
        by_koban.setdefault(o.koban_id, []).append(o.coverage or 0.0)
        by_station.setdefault(o.station, []).append(o.coverage or 0.0)
    for o in beat_rows:
        peers = by_koban[o.koban_id]
        group = f"koban {o.koban_id}"
        if len(peers) < p.min_peers:
            peers, group = by_station[o.station], f"station {o.station}"
        if len(peers) < 2:
            o.peer_group = group + " (no peers)"
            continue
        median = float(np.median(peers))
        o.peer_median, o.peer_group = median, group
        if (o.coverage or 0.0) < p.lag_ratio * median:
            o.lagging = True
            o.reason = (
                f"coverage {100 * (o.coverage or 0.0):.0f}% < {p.lag_ratio} x median "
                f"{100 * median:.0f}% of {group}"
            )
