"""The day's plan: stops, households, places and the JSON form (docs/plan_format.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from ..travel import TravelMatrix
from .clock import Window, format_clock

if TYPE_CHECKING:
    from .problem import DayProblem

#: Reasons a candidate household is not in the plan.
SKIP_REASONS: tuple[str, ...] = ("no_time", "outside_window", "less_valuable", "unreachable")


@dataclass
class PlannedHousehold:
    household_id: str
    kind: str
    floor: int
    card_status: str
    reasons: list[str]
    expected_contact: float
    value: float  # priority points (not serialised: the plan shows reasons)
    #: The door: what the address says after the building ("401号室", "4F-2").
    unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "kind": self.kind,
            "floor": self.floor,
            "unit": self.unit,
            "card_status": self.card_status,
            "reasons": list(self.reasons),
            "expected_contact": round(self.expected_contact, 3),
        }


@dataclass
class Stop:
    """One building visit. ``x``, ``y`` in the metric CRS; lon / lat for output."""

    order: int
    building_id: str | None
    address: str
    lon: float
    lat: float
    arrival_s: int  # start of service (after any wait)
    departure_s: int
    households: list[PlannedHousehold]
    path: list[list[float]]
    x: float = 0.0
    y: float = 0.0
    travel_s: int = 0  # travel of the leg that reaches this stop
    done: bool = False  # kept from an earlier plan by replan
    location: int = -1  # row / column of this stop in the plan's matrix

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "building_id": self.building_id,
            "address": self.address,
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "arrival": format_clock(self.arrival_s),
            "departure": format_clock(self.departure_s),
            "households": [h.to_dict() for h in self.households],
            "path": [[round(a, 7), round(b, 7)] for a, b in self.path],
        }


@dataclass(frozen=True)
class Place:
    """A start or an end: lon / lat for output, ``x``, ``y`` in the metric CRS."""

    lon: float
    lat: float
    label: str
    x: float
    y: float

    def to_dict(self) -> dict[str, Any]:
        return {"lon": round(self.lon, 7), "lat": round(self.lat, 7), "label": self.label}


@dataclass
class DayPlan:
    """The day's route of one officer (JSON form: docs/plan_format.md)."""

    officer_id: str
    koban_id: str | None
    beat_id: str | None
    date: date
    start: Place
    end: Place
    windows: list[Window]
    travel_source: str
    travel_mode: str
    stops: list[Stop]
    skipped: list[dict[str, str]]
    travel_s: int
    notes: list[str]
    status: str = "feasible"
    #: Each approved night window left without a visit and why
    #: (:class:`junkai_geo.priorities.WindowNote` as a dict).
    night_windows: list[dict[str, Any]] = field(default_factory=list)
    #: Travel matrix over [start, end, nodes...] used by the solver.
    matrix: TravelMatrix | None = field(default=None, repr=False)
    #: The problem this plan solves (not serialised; :func:`replan` plans
    #: again from it). ``None`` where a caller dropped it to keep the plan small.
    problem: DayProblem | None = field(default=None, repr=False)

    @property
    def household_ids(self) -> list[str]:
        return [h.household_id for s in self.stops for h in s.households]

    def totals(self) -> dict[str, Any]:
        hh = [h for s in self.stops for h in s.households]
        return {
            "stops": len(self.stops),
            "households": len(hh),
            "expected_contacts": round(sum(h.expected_contact for h in hh), 3),
            "travel_s": int(self.travel_s),
            "service_s": int(sum(s.departure_s - s.arrival_s for s in self.stops)),
            "value": round(sum(h.value * h.expected_contact for h in hh), 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "koban_id": self.koban_id,
            "beat_id": self.beat_id,
            "date": self.date.isoformat(),
            "start": self.start.to_dict(),
            "end": self.end.to_dict(),
            "windows": [[format_clock(a), format_clock(b)] for a, b in self.windows],
            "travel_source": self.travel_source,
            "travel_mode": self.travel_mode,
            "stops": [s.to_dict() for s in self.stops],
            "skipped": [dict(s) for s in self.skipped],
            "totals": self.totals(),
            "notes": list(self.notes),
            "night_windows": [dict(w) for w in self.night_windows],
        }

    def summary(self) -> str:
        """A few readable lines for the command line."""
        t = self.totals()
        lines = [
            f"{self.officer_id} on {self.date.isoformat()}: {t['stops']} stops, "
            f"{t['households']} households, {t['expected_contacts']:.1f} expected contacts, "
            f"travel {t['travel_s'] // 60} min, service {t['service_s'] // 60} min",
            "windows: "
            + ", ".join(f"{format_clock(a)[:5]}-{format_clock(b)[:5]}" for a, b in self.windows),
        ]
        for s in self.stops:
            codes = sorted({r for h in s.households for r in h.reasons})
            lines.append(
                f"  {s.order:>3} {format_clock(s.arrival_s)[:5]}-{format_clock(s.departure_s)[:5]} "
                f"{s.building_id or '-'} {s.address} ({len(s.households)} hh: {', '.join(codes)})"
            )
        counts: dict[str, int] = {}
        for sk in self.skipped:
            counts[sk["reason"]] = counts.get(sk["reason"], 0) + 1
        if counts:
            lines.append("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)
