"""One officer's day: which households to visit, in which order, and why not the others.

:func:`plan_day` scores the households (:mod:`junkai_geo.priorities`), groups
the households of one building into a routing node (one approach, then a
per-floor and per-household service time inside), keeps the most promising
nodes near the start, asks the solver (:func:`junkai_geo.solver.solve_problem`)
for the route of most expected contacts inside the liaison windows, and
returns a :class:`DayPlan` (JSON form in docs/plan_format.md). Every
candidate left out gets a reason. :func:`replan` plans the rest of a day from
the officer's position after an incident. docs/routing.md gives the model.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem
from .priorities import (
    PriorityParams,
    contact_probabilities,
    score_households,
    slot_of,
    visit_cells,
)
from .settings import ISHIKAWA_CRS, check_positive
from .travel import TravelMatrix, TravelParams, straight_line_matrix

#: Reasons a candidate household is not in the plan.
SKIP_REASONS: tuple[str, ...] = ("no_time", "outside_window", "less_valuable", "unreachable")

Window = tuple[int, int]  # seconds since midnight, [open, close)
WindowLike = str | tuple[str | time | int, str | time | int]
#: Where travel times come from: straight-line parameters, a street network
#: (:class:`junkai_geo.network.StreetNetwork`), or any callable xy -> matrix.
TravelSource = TravelParams | Callable[[np.ndarray], TravelMatrix] | Any | None


@dataclass(frozen=True)
class RouteParams:
    """Service times, windows and search limits of the daily route.

    Attributes
    ----------
    service_home_new_s, service_home_update_s
        Time at one home: a new card (未把握) is made, or a card is checked
        and corrected.
    service_business_new_s, service_business_update_s, service_public_new_s, service_public_update_s
        The same for businesses and public buildings.
    building_approach_s
        Once per building node: reaching the entrance, intercom, lift lobby.
    per_floor_s
        Stairs and lifts: per floor above the ground up to the highest floor
        visited in the node (climbed once).
    day_windows
        Liaison windows used when none are given (``HH:MM-HH:MM``).
    day_from, night_from
        Daytime is ``[day_from, night_from)``; any window outside it is a
        night window and needs a :class:`NightApproval`.
    leave_before_s, return_after_s
        The officer may leave the start so long before the first window and
        must be back at the end so long after the last one.
    max_candidate_nodes
        Candidate pruning: only this many nodes go to the solver (see
        :func:`prune_nodes`).
    node_max_service_s
        A building's households are split (by floor) into nodes of at most
        this much service time, and never more than the shortest window open
        to them, so that a large 団地 can be done over several windows.
    solver_time_share
        Share of ``time_limit_s`` given to the solver; the rest is for
        scoring, the matrix and the answer.
    value_scale
        Expected values are multiplied by this and rounded for the solver,
        which works on integers.
    min_p_contact_window, window_p_tolerance, window_p_prior_ratio
        A household may be visited in a window when its contact probability
        there is at least ``min_p_contact_window``, at least
        ``window_p_tolerance`` times its best probability among today's
        windows, and at least ``window_p_prior_ratio`` times the prior of
        its kind for that window: so a household found absent again and
        again in the mornings waits for the afternoon, the evening or a
        weekend, and a business is not visited after closing time.
    """

    service_home_new_s: int = 900
    service_home_update_s: int = 420
    service_business_new_s: int = 600
    service_business_update_s: int = 300
    service_public_new_s: int = 600
    service_public_update_s: int = 300
    building_approach_s: int = 60
    per_floor_s: int = 15
    day_windows: tuple[str, ...] = ("10:00-12:00", "14:00-16:00")
    day_from: str = "08:00"
    night_from: str = "18:00"
    leave_before_s: int = 1800
    return_after_s: int = 1800
    max_candidate_nodes: int = 60
    node_max_service_s: int = 2400
    solver_time_share: float = 0.8
    value_scale: int = 1000
    min_p_contact_window: float = 0.1
    window_p_tolerance: float = 0.5
    window_p_prior_ratio: float = 0.6

    def __post_init__(self) -> None:
        check_positive(
            self,
            "service_home_new_s",
            "service_home_update_s",
            "service_business_new_s",
            "service_business_update_s",
            "service_public_new_s",
            "service_public_update_s",
            "max_candidate_nodes",
            "node_max_service_s",
            "solver_time_share",
            "value_scale",
            "window_p_tolerance",
            "window_p_prior_ratio",
            "min_p_contact_window",
        )
        for name in ("building_approach_s", "per_floor_s", "leave_before_s", "return_after_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ParameterError(
                    f"RouteParams.{name}: found {value!r}; expected an integer >= 0 (seconds)"
                )
        # TOML gives lists; keep the dataclass hashable.
        object.__setattr__(self, "day_windows", tuple(self.day_windows))
        for name in ("window_p_tolerance", "window_p_prior_ratio", "solver_time_share"):
            if getattr(self, name) > 1:
                raise ParameterError(
                    f"RouteParams.{name}: found {getattr(self, name)!r}; expected a number in (0, 1]"
                )
        if self.window_p_tolerance > 1:
            raise ParameterError(
                f"RouteParams.window_p_tolerance: found {self.window_p_tolerance!r}; "
                "expected a number in (0, 1]"
            )
        if parse_clock(self.day_from, "RouteParams.day_from") >= parse_clock(
            self.night_from, "RouteParams.night_from"
        ):
            raise ParameterError(
                f"RouteParams.night_from: found {self.night_from!r}; expected later than "
                f"day_from ({self.day_from!r})"
            )
        for w in self.day_windows:
            parse_window(w, "RouteParams.day_windows")

    def service_s(self, kind: str, new_card: bool) -> int:
        """Service time of one household of ``kind``."""
        kind = kind if kind in ("home", "business", "public") else "home"
        return int(getattr(self, f"service_{kind}_{'new' if new_card else 'update'}_s"))


@dataclass(frozen=True)
class NightApproval:
    """A manager's approval of night visits (夜間の巡回連絡) for one officer and date."""

    officer_id: str
    date: date
    window: WindowLike = "18:00-20:00"

    def seconds(self) -> Window:
        """The approved window in seconds since midnight."""
        return parse_window(self.window, "NightApproval.window")


def parse_clock(value: str | time | int, name: str = "time") -> int:
    """Seconds since midnight of ``HH:MM[:SS]``, a ``time`` or an int of seconds."""
    if isinstance(value, bool):
        raise ParameterError(f"{name}: found {value!r}; expected HH:MM")
    if isinstance(value, int | np.integer):
        if 0 <= value <= 86400:
            return int(value)
        raise ParameterError(f"{name}: found {value!r}; expected seconds in [0, 86400]")
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            h, m = int(parts[0]), int(parts[1])
            s = int(parts[2]) if len(parts) == 3 else 0
            if 0 <= h <= 24 and 0 <= m < 60 and 0 <= s < 60 and h * 3600 + m * 60 + s <= 86400:
                return h * 3600 + m * 60 + s
    raise ParameterError(f"{name}: found {value!r}; expected HH:MM or HH:MM:SS")


def parse_window(value: WindowLike, name: str = "window") -> Window:
    """``(open, close)`` in seconds of ``"HH:MM-HH:MM"`` or a pair of times."""
    if isinstance(value, str):
        parts = value.split("-")
        if len(parts) != 2:
            raise ParameterError(f"{name}: found {value!r}; expected HH:MM-HH:MM")
        pair: Sequence[Any] = parts
    elif isinstance(value, tuple | list) and len(value) == 2:
        pair = value
    else:
        raise ParameterError(f"{name}: found {value!r}; expected HH:MM-HH:MM or (start, end)")
    a, b = parse_clock(pair[0], name), parse_clock(pair[1], name)
    if a >= b:
        raise ParameterError(f"{name}: found {value!r}; expected the start before the end")
    return a, b


def format_clock(seconds: int | float) -> str:
    """``HH:MM:SS`` of seconds since midnight."""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class PlannedHousehold:
    household_id: str
    kind: str
    floor: int
    card_status: str
    reasons: list[str]
    expected_contact: float
    value: float  # priority points (not serialised: the plan shows reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "kind": self.kind,
            "floor": self.floor,
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


@dataclass
class Place:
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
    #: Travel matrix over [start, end, nodes...] used by the solver.
    matrix: TravelMatrix | None = field(default=None, repr=False)
    #: Everything replan needs to plan again (not serialised).
    context: dict[str, Any] = field(default_factory=dict, repr=False)

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


# ----------------------------------------------------------------------------
# windows


def _is_night(w: Window, params: RouteParams) -> bool:
    day_a = parse_clock(params.day_from)
    day_b = parse_clock(params.night_from)
    return w[0] < day_a or w[1] > day_b


def _subtract(windows: list[Window], breaks: list[Window]) -> list[Window]:
    out = list(windows)
    for ba, bb in breaks:
        nxt: list[Window] = []
        for a, b in out:
            if bb <= a or ba >= b:
                nxt.append((a, b))
                continue
            if a < ba:
                nxt.append((a, ba))
            if bb < b:
                nxt.append((bb, b))
        out = nxt
    return out


def _merge(windows: list[Window]) -> list[Window]:
    out: list[Window] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def resolve_windows(
    officer_id: str,
    on: date,
    windows: Sequence[WindowLike] | None,
    *,
    breaks: Sequence[WindowLike] = (),
    night_approval: NightApproval | None = None,
    params: RouteParams | None = None,
) -> tuple[list[Window], list[str]]:
    """The liaison windows of the day after night rules and breaks, and notes.

    Daytime windows are kept; a night window is kept only when
    ``night_approval`` is for this officer and date and covers it; an
    approval adds its own window. Breaks are cut out.
    """
    params = params or RouteParams()
    notes: list[str] = []
    asked = [
        parse_window(w, f"windows[{i}]")
        for i, w in enumerate(windows if windows else params.day_windows)
    ]
    approved: Window | None = None
    if night_approval is not None:
        if night_approval.officer_id == officer_id and night_approval.date == on:
            approved = night_approval.seconds()
            asked.append(approved)
            notes.append(
                f"night visits approved for {officer_id} on {on.isoformat()} "
                f"{format_clock(approved[0])[:5]}-{format_clock(approved[1])[:5]}"
            )
        else:
            notes.append(
                f"night approval for {night_approval.officer_id} on "
                f"{night_approval.date.isoformat()} does not apply to {officer_id} on "
                f"{on.isoformat()}; ignored"
            )
    kept: list[Window] = []
    for w in asked:
        if not _is_night(w, params):
            kept.append(w)
            continue
        if approved is not None and approved[0] <= w[0] and w[1] <= approved[1]:
            kept.append(w)
            continue
        # A night window without approval: keep only its daytime part.
        day = _subtract(
            [w], [(0, parse_clock(params.day_from)), (parse_clock(params.night_from), 86400)]
        )
        kept.extend(day)
        notes.append(
            f"window {format_clock(w[0])[:5]}-{format_clock(w[1])[:5]} reaches into the night "
            f"(before {params.day_from} or after {params.night_from}) without an approval; "
            "night part ignored"
        )
    cut = _subtract(_merge(kept), [parse_window(b, f"breaks[{i}]") for i, b in enumerate(breaks)])
    return [w for w in cut if w[1] > w[0]], notes


# ----------------------------------------------------------------------------
# nodes


@dataclass
class Node:
    """A routing node: some households of one building, one approach."""

    node_id: str
    building_id: str | None
    x: float
    y: float
    rows: np.ndarray  # positions in the candidate table
    service_s: int
    value: float  # sum of expected values used for planning
    windows: list[Window]  # windows the node may be served in
    address: str = ""


def _officer_fields(officer: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(officer) and not isinstance(officer, type):
        data = dataclasses.asdict(officer)
    elif isinstance(officer, Mapping):
        data = dict(officer)
    elif isinstance(officer, pd.Series):
        data = {str(k): v for k, v in officer.items()}
    elif isinstance(officer, str):
        data = {"officer_id": officer}
    else:
        raise ParameterError(
            f"officer: found {type(officer).__name__}; expected an Officer, a mapping or an id"
        )
    if not data.get("officer_id"):
        raise ParameterError(f"officer: found {data!r}; expected an officer_id")
    mode = str(data.get("mode") or "walk")
    mode = getattr(data.get("mode"), "value", mode)
    return {
        "officer_id": str(data["officer_id"]),
        "koban_id": None if data.get("koban_id") is None else str(data["koban_id"]),
        "beat_id": None if data.get("beat_id") is None else str(data["beat_id"]),
        "mode": str(mode),
    }


def _household_xy(households: pd.DataFrame) -> np.ndarray:
    if "geometry" in households.columns:
        geom = households.geometry if hasattr(households, "geometry") else households["geometry"]
        xs = np.asarray(geom.x, dtype=float)
        ys = np.asarray(geom.y, dtype=float)
    elif {"x", "y"} <= set(households.columns):
        xs = households["x"].to_numpy(float)
        ys = households["y"].to_numpy(float)
    else:
        raise InputError(
            Problem(
                "households",
                None,
                "geometry",
                "no geometry and no x / y columns",
                "point geometry in a metric CRS",
                "missing_column",
            )
        )
    xy = np.column_stack([xs, ys])
    bad = ~np.all(np.isfinite(xy), axis=1)
    if bad.any():
        ids = households["household_id"].astype(str).to_numpy()[bad][:5]
        raise InputError(
            Problem(
                "households",
                ", ".join(ids),
                "geometry",
                "empty or non-finite point",
                "a point in metres",
                "bad_geometry",
            )
        )
    return xy


def _crs_of(*frames: Any) -> str:
    for name, f in zip(("households", "buildings"), frames, strict=False):
        crs = getattr(f, "crs", None)
        if crs is None:
            continue
        if getattr(crs, "is_geographic", False):
            raise InputError(
                Problem(
                    name,
                    None,
                    "geometry",
                    f"coordinates in {crs.to_string()} (degrees)",
                    "a metric CRS such as EPSG:6675 (to_crs first)",
                    "geographic_crs",
                )
            )
        return str(crs.to_string() if hasattr(crs, "to_string") else crs)
    return ISHIKAWA_CRS


def _to_lonlat(xy: np.ndarray, crs: str) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(lon, float), np.asarray(lat, float)])


def build_nodes(
    table: pd.DataFrame, windows: list[Window], params: RouteParams
) -> tuple[list[Node], dict[int, str]]:
    """Group candidate households into building nodes.

    ``table`` has one row per candidate with ``building_id``, ``floor``,
    ``service_s``, ``plan_value``, ``window_mask`` (bit i: window i allowed),
    ``x``, ``y``, ``address``. Returns the nodes and, for rows that fit no
    node, the reason ``outside_window``.
    """
    nodes: list[Node] = []
    skipped: dict[int, str] = {}
    lengths = np.array([b - a for a, b in windows], dtype=np.int64)
    key_building = table["building_id"].where(table["building_id"].notna(), None)
    # Households without a building are their own node.
    key = np.where(
        key_building.isna(),
        "H:" + table["household_id"].astype(str),
        "B:" + key_building.astype(str),
    )
    # Inside a building the most valuable households per second of service
    # go into the first chunks; floors break ties.
    masks = table["window_mask"].to_numpy(np.int64)
    density = -table["plan_value"].to_numpy(float) / table["service_s"].to_numpy(float)
    floors = table["floor"].to_numpy(np.int64)
    _, key_code = np.unique(key, return_inverse=True)
    order = np.lexsort((np.arange(len(table)), floors, density, masks, key_code))
    service = table["service_s"].to_numpy(np.int64)
    plan_value = table["plan_value"].to_numpy(float)
    xs, ys = table["x"].to_numpy(float), table["y"].to_numpy(float)
    bid = table["building_id"].to_numpy(object)
    addr = table["address"].to_numpy(object)
    group = np.stack([key_code[order], masks[order]], axis=1)
    cuts = np.flatnonzero(np.any(np.diff(group, axis=0) != 0, axis=1)) + 1
    # Plain Python numbers in the loop: most groups are one household, where
    # numpy calls cost more than the arithmetic.
    service_l, floors_l = service.tolist(), floors.tolist()
    value_l, xs_l, ys_l = plan_value.tolist(), xs.tolist(), ys.tolist()
    approach, per_floor = params.building_approach_s, params.per_floor_s
    for rows_arr in np.split(order, cuts) if len(order) else []:
        rows = rows_arr.tolist()
        k, mask = str(key[rows[0]]), int(masks[rows[0]])
        allowed = [i for i in range(len(windows)) if mask >> i & 1]
        if not allowed:
            for r in rows:
                skipped[r] = "outside_window"
            continue
        longest = max(int(lengths[i]) for i in allowed)
        limit = min(params.node_max_service_s, longest)
        day_s = sum(int(lengths[i]) for i in allowed)
        # Greedy chunks in the sorted order; (rows, service_s) each.
        chunks: list[tuple[list[int], int]] = []
        chunk: list[int] = []
        work, top = 0, 1
        for r in rows:
            w2, t2 = work + service_l[r], max(top, floors_l[r])
            if chunk and approach + w2 + per_floor * (t2 - 1) > limit:
                chunks.append((chunk, approach + work + per_floor * (top - 1)))
                chunk, work, top = [r], service_l[r], floors_l[r]
            else:
                chunk.append(r)
                work, top = w2, t2
        if chunk:
            chunks.append((chunk, approach + work + per_floor * (top - 1)))
        # Chunks beyond what the day's windows can hold never reach the solver.
        used = 0
        for c, s in chunks:
            used += s
            if used > day_s and used - s > 0:
                for r in c:
                    skipped[r] = "no_time"
                continue
            if s > longest:
                # Even alone it does not fit the longest window it may use.
                for r in c:
                    skipped[r] = "outside_window"
                continue
            if len(c) > 1:
                c = sorted(c, key=lambda r: (floors_l[r], r))
            first = bid[c[0]]
            nodes.append(
                Node(
                    node_id=f"{k[2:]}#{mask}#{len(nodes)}",
                    building_id=None if first is None or pd.isna(first) else str(first),
                    x=sum(xs_l[r] for r in c) / len(c),
                    y=sum(ys_l[r] for r in c) / len(c),
                    rows=np.asarray(c, dtype=np.int64),
                    service_s=int(s),
                    value=float(sum(value_l[r] for r in c)),
                    windows=[windows[i] for i in allowed if windows[i][1] - windows[i][0] >= s],
                    address=_common_address([addr[r] for r in c]),
                )
            )
    return nodes, skipped


def _common_address(addresses: list[Any]) -> str:
    """The address shared by a node's households (without room numbers)."""
    texts = [str(a) for a in addresses if a is not None and not pd.isna(a) and str(a)]
    if not texts:
        return ""
    if len(set(texts)) == 1:
        return texts[0]
    prefix = os.path.commonprefix(texts)
    # Cut back to a whole token: "25-1 105号室" / "25-1 106号室" -> "25-1".
    cut = prefix.rsplit(" ", 1)[0] if " " in prefix and not prefix.endswith(" ") else prefix
    return cut.strip() or texts[0]


def prune_nodes(
    nodes: list[Node],
    start_xy: np.ndarray,
    end_xy: np.ndarray,
    *,
    shift: Window,
    speed_mps: float,
    detour: float,
    keep: int,
) -> tuple[list[Node], list[Node], list[Node]]:
    """Split nodes into (kept, less_valuable, unreachable) before the solver.

    A node is unreachable when going there from the start, serving it and
    going on to the end does not fit in the shift (straight line x detour).
    Of the others, the ``keep`` nodes of highest ``value / (service_s +
    t_start)`` are kept, where ``t_start`` is the estimated travel time from
    the start: value per second of the officer's time, with the trip out
    charged to the node, so near nodes win ties and far clusters must be
    worth the walk.
    """
    if not nodes:
        return [], [], []
    xy = np.array([[n.x, n.y] for n in nodes])
    t_start = np.hypot(*(xy - start_xy).T) * detour / speed_mps
    t_end = np.hypot(*(xy - end_xy).T) * detour / speed_mps
    service = np.array([n.service_s for n in nodes], float)
    value = np.array([n.value for n in nodes], float)
    fits = (t_start + service + t_end <= shift[1] - shift[0]) & np.array(
        [bool(n.windows) for n in nodes]
    )
    score = value / (service + t_start + 1.0)
    order = np.lexsort((np.arange(len(nodes)), -score))  # stable on ties: input order
    reach = [int(i) for i in order if fits[i]]
    kept_idx = set(reach[:keep])
    kept = [nodes[i] for i in sorted(kept_idx)]
    less = [nodes[i] for i in reach[keep:]]
    unreachable = [nodes[i] for i in range(len(nodes)) if not fits[i]]
    return kept, less, unreachable


# ----------------------------------------------------------------------------
# the plan


def _is_network(travel: Any) -> bool:
    # Without the network module loaded nothing can be a StreetNetwork; not
    # importing it spares its import time on every straight-line plan.
    module = sys.modules.get("junkai_geo.network")
    return module is not None and isinstance(travel, module.StreetNetwork)


def _travel_matrix(
    travel: TravelSource, xy: np.ndarray, ids: list[str], mode: str, crs: str
) -> TravelMatrix:
    if travel is None or isinstance(travel, TravelParams):
        return straight_line_matrix(xy, ids=ids, mode=mode, params=travel)
    if _is_network(travel):
        from .travel import network_matrix

        return network_matrix(travel, xy, crs=crs, ids=ids)  # type: ignore[arg-type]
    if callable(travel):
        m = travel(xy)
        if not isinstance(m, TravelMatrix) or m.n != len(xy):
            raise ParameterError(
                f"travel: the callable returned {type(m).__name__} of size "
                f"{getattr(m, 'n', '?')}; expected a TravelMatrix over {len(xy)} points"
            )
        return m
    raise ParameterError(
        f"travel: found {type(travel).__name__}; expected TravelParams, a StreetNetwork, "
        "a callable xy -> TravelMatrix, or None"
    )


def _leg_path(
    travel: TravelSource, a_xy: np.ndarray, b_xy: np.ndarray, lonlat: np.ndarray, crs: str
) -> list[list[float]]:
    """Street path of one leg on a network, else the straight segment."""
    if _is_network(travel):
        from .errors import NetworkError
        from .travel import route_path

        try:
            route = route_path(travel, tuple(a_xy), tuple(b_xy), crs=crs)  # type: ignore[arg-type]
            return [[float(x), float(y)] for x, y in route.lonlat]
        except NetworkError:
            pass  # drawn as a straight segment; the matrix already flags the point
    return [lonlat[0].tolist(), lonlat[1].tolist()]


def _speed(travel: TravelSource, mode: str) -> tuple[float, float]:
    if isinstance(travel, TravelParams):
        p = travel
    elif _is_network(travel):
        p = travel.params  # type: ignore[union-attr]
    else:
        p = TravelParams()
    return p.speed_mps(mode), p.detour_factor(mode)


def _solver_windows(node: Node, shift: Window) -> list[list[int]]:
    # The solver bounds the start of service; the whole visit must fit in the
    # window, so the latest start is the close minus the service time.
    return [
        [max(a, shift[0]), b - node.service_s]
        for a, b in node.windows
        if b - node.service_s >= max(a, shift[0])
    ]


def _solve(problem: dict[str, Any]) -> dict[str, Any]:
    from .solver import solve_problem

    return solve_problem(problem)


def plan_day(
    officer: Any,
    on: date,
    *,
    windows: Sequence[WindowLike] | None = None,
    households: pd.DataFrame,
    buildings: pd.DataFrame | None,
    cards: pd.DataFrame,
    visits: pd.DataFrame | None,
    start_xy: tuple[float, float],
    end_xy: tuple[float, float] | None = None,
    travel: TravelSource = None,
    breaks: Sequence[WindowLike] = (),
    night_approval: NightApproval | None = None,
    params: RouteParams | None = None,
    priority_params: PriorityParams | None = None,
    time_limit_s: float = 2.0,
    seed: int = 0,
    max_candidates: int | None = None,
    start_label: str = "",
    end_label: str | None = None,
    exclude: Sequence[str] = (),
    start_time_s: int | None = None,
    focus_days: tuple[date, ...] | frozenset[date] = (),
) -> DayPlan:
    """Plan one officer's liaison route for one day.

    Parameters
    ----------
    officer
        An :class:`~junkai_geo.model.Officer`, a row / mapping with
        ``officer_id`` (and ``koban_id``, ``beat_id``, ``mode``), or an id.
    on
        The day; its day type (weekday / weekend or holiday) sets the
        contact probabilities.
    windows
        Liaison windows (``"HH:MM-HH:MM"`` or pairs); default
        ``params.day_windows``. Night windows need ``night_approval``.
    households, buildings, cards, visits
        The candidate households (points in a metric CRS), their buildings,
        their card table and the visit history.
    start_xy, end_xy
        Start and end in the households' CRS (end defaults to start).
    travel
        ``TravelParams`` for straight-line times, a callable ``xy ->
        TravelMatrix`` (for example a street network's), or ``None``.
    breaks
        Intervals without visits, cut out of the windows.
    time_limit_s
        Wall-clock budget of the whole call; the solver gets what is left.
    seed
        Same seed and inputs, same plan.
    max_candidates
        Nodes given to the solver (default ``params.max_candidate_nodes``).
    exclude
        Household ids not to plan (for example done today).
    start_time_s
        Earliest departure (seconds since midnight); default
        ``params.leave_before_s`` before the first window.
    """
    params = params or RouteParams()
    pparams = priority_params or PriorityParams()
    off = _officer_fields(officer)
    keep_n = params.max_candidate_nodes if max_candidates is None else int(max_candidates)
    if keep_n <= 0:
        raise ParameterError(f"max_candidates: found {max_candidates!r}; expected an integer > 0")
    if not time_limit_s > 0:
        raise ParameterError(f"time_limit_s: found {time_limit_s!r}; expected seconds > 0")
    wins, notes = resolve_windows(
        off["officer_id"], on, windows, breaks=breaks, night_approval=night_approval, params=params
    )
    if start_time_s is not None:
        wins = [(max(a, start_time_s), b) for a, b in wins if b > start_time_s]
    start = np.asarray(start_xy, float)
    end = np.asarray(end_xy if end_xy is not None else start_xy, float)
    crs = _crs_of(households, buildings)
    context = {
        "officer": officer,
        "on": on,
        "windows": windows,
        "households": households,
        "buildings": buildings,
        "cards": cards,
        "visits": visits,
        "end_xy": tuple(end),
        "travel": travel,
        "breaks": breaks,
        "night_approval": night_approval,
        "params": params,
        "priority_params": pparams,
        "max_candidates": max_candidates,
        "end_label": end_label,
        "start_label": start_label,
        "focus_days": focus_days,
    }

    # Scores for the slot of each window; the value does not depend on the slot.
    slots = [slot_of((format_clock(a), format_clock(b)), pparams) for a, b in wins] or ["morning"]
    cells = visit_cells(visits, on=on, params=pparams, focus_days=focus_days)
    ref = score_households(
        households,
        cards,
        buildings,
        visits,
        on=on,
        slot=slots[0],
        params=pparams,
        focus_days=focus_days,
        cells=cells,
    )
    pw = contact_probabilities(
        households,
        visits,
        on=on,
        slots=tuple(dict.fromkeys(slots)),
        params=pparams,
        focus_days=focus_days,
        cells=cells,
    )
    ids = households["household_id"].astype(str).to_numpy()
    excluded = (
        np.isin(ids, np.asarray(list(exclude), dtype=str))
        if len(exclude)
        else np.zeros(len(ids), bool)
    )
    cand = ref["candidate"].to_numpy(bool) & ~excluded
    xy_all = _household_xy(households)
    ci = np.flatnonzero(cand)
    p_win = (
        np.column_stack([pw[s].to_numpy(float)[ci] for s in slots])
        if wins
        else np.zeros((len(ci), 0))
    )
    prior = contact_probabilities(
        households,
        None,
        on=on,
        slots=tuple(dict.fromkeys(slots)),
        params=pparams,
        focus_days=focus_days,
    )
    p_prior = (
        np.column_stack([prior[s].to_numpy(float)[ci] for s in slots])
        if wins
        else np.zeros((len(ci), 0))
    )
    best = p_win.max(axis=1) if wins else np.zeros(len(ci))
    allowed = (
        (p_win >= params.min_p_contact_window)
        & (p_win >= params.window_p_tolerance * best[:, None])
        & (p_win >= params.window_p_prior_ratio * p_prior)
    )
    mask = (
        (allowed * (1 << np.arange(allowed.shape[1]))).sum(axis=1)
        if wins
        else np.zeros(len(ci), int)
    )
    # Plan with the lowest probability among the allowed windows: the solver
    # does not know in advance which window a node falls in.
    p_plan = np.where(allowed, p_win, np.inf).min(axis=1) if wins else np.zeros(len(ci))
    p_plan = np.where(np.isfinite(p_plan), p_plan, 0.0)
    kinds = (
        households["kind"].astype(str).to_numpy()[ci]
        if "kind" in households
        else np.full(len(ci), "home")
    )
    status = ref["card_status"].to_numpy()[ci]
    service = np.array(
        [params.service_s(k, s == "none") for k, s in zip(kinds, status, strict=True)], np.int64
    )
    floor_col = (
        households["floor"] if "floor" in households else pd.Series(1, index=households.index)
    )
    bcol = (
        households["building_id"]
        if "building_id" in households
        else pd.Series(None, index=households.index)
    )
    acol = (
        households["address"] if "address" in households else pd.Series("", index=households.index)
    )
    table = pd.DataFrame(
        {
            "household_id": ids[ci],
            "building_id": bcol.to_numpy(object)[ci],
            "floor": pd.to_numeric(floor_col, errors="coerce")
            .fillna(1)
            .clip(lower=1)
            .astype(int)
            .to_numpy()[ci],
            "service_s": service,
            "plan_value": ref["value"].to_numpy(float)[ci] * p_plan,
            "window_mask": mask.astype(np.int64),
            "x": xy_all[ci, 0],
            "y": xy_all[ci, 1],
            "address": acol.fillna("").astype(str).to_numpy()[ci],
        }
    )
    nodes, skip_rows = build_nodes(table, wins, params)
    shift_start = (wins[0][0] - params.leave_before_s) if wins else 0
    if start_time_s is not None:
        shift_start = start_time_s
    shift = (max(shift_start, 0), min((wins[-1][1] if wins else 0) + params.return_after_s, 86400))
    speed, detour = _speed(travel, off["mode"])
    kept, less, unreach = prune_nodes(
        nodes, start, end, shift=shift, speed_mps=speed, detour=detour, keep=keep_n
    )
    if less:
        notes.append(
            f"{len(less)} of {len(nodes)} building nodes left out before routing "
            f"(max_candidates {keep_n}): lower value per second than those kept"
        )
    reason_of_row: dict[int, str] = dict(skip_rows)
    # A node whose windows all close before the shift starts (re-planning late
    # in a window) cannot be served today.
    late = [n for n in kept if not _solver_windows(n, shift)]
    kept = [n for n in kept if _solver_windows(n, shift)]
    for n in late:
        reason_of_row.update({int(r): "outside_window" for r in n.rows})
    for n in less:
        reason_of_row.update({int(r): "less_valuable" for r in n.rows})
    for n in unreach:
        reason_of_row.update({int(r): "unreachable" for r in n.rows})

    # The solver: locations [start, end, nodes...].
    loc_xy = np.vstack(
        [start[None, :], end[None, :], np.array([[n.x, n.y] for n in kept]).reshape(-1, 2)]
    )
    matrix = _travel_matrix(
        travel, loc_xy, ["start", "end"] + [n.node_id for n in kept], off["mode"], crs
    )
    from .travel import UNREACHABLE_S

    # On a network some nodes cannot be reached at all (cut off, or too far
    # from any road): they never go to the solver.
    d = matrix.durations_s
    cut_off = {
        i for i in range(len(kept)) if d[0, i + 2] >= UNREACHABLE_S or d[i + 2, 1] >= UNREACHABLE_S
    }
    notes.extend(n for n in matrix.notes if n not in notes)
    chosen: list[dict[str, Any]] = []
    route_travel = 0
    status_txt = "empty"
    if kept and wins:
        visits_json = []
        for i, n in enumerate(kept):
            tw = _solver_windows(n, shift)
            visits_json.append(
                {
                    "id": str(i),
                    "location": i + 2,
                    "service": int(n.service_s),
                    "value": int(round(n.value * params.value_scale)),
                    "time_windows": tw,
                    "required": False,
                }
            )
        # The solver gets a fixed share of the limit, not what is left after
        # preparation: its work budget (and so the plan) follows the limit
        # it is given, and the same inputs must give the same plan. The
        # limit is honoured as long as preparation takes less than the rest.
        solver_limit = time_limit_s * params.solver_time_share
        problem = {
            "durations": matrix.durations_s.astype(np.int64).tolist(),
            "visits": visits_json,
            "officers": [
                {
                    "id": off["officer_id"],
                    "start": 0,
                    "end": 1,
                    "shift": [int(shift[0]), int(shift[1])],
                }
            ],
            "time_limit": max(solver_limit, 0.05),
            "seed": int(seed),
        }
        solution = _solve(problem)
        status_txt = str(solution.get("status", ""))
        route: dict[str, Any] = (
            solution["routes"][0] if solution.get("routes") else {"stops": [], "travel": 0}
        )
        chosen = list(route["stops"])
        route_travel = int(route.get("travel", 0))
        unassigned = {
            str(u["visit"]): str(u.get("reason", "")) for u in solution.get("unassigned", [])
        }
        chosen_values = [kept[int(s["visit"])].value for s in chosen]
        floor_value = min(chosen_values) if chosen_values else float("inf")
        served = {int(s["visit"]) for s in chosen}
        for i, n in enumerate(kept):
            if i in served:
                continue
            why = "unreachable" if i in cut_off else unassigned.get(str(i), "")
            if why == "unreachable" or not n.windows:
                reason = "unreachable" if why == "unreachable" else "outside_window"
            elif n.value >= floor_value:
                reason = "no_time"
            else:
                reason = "less_valuable"
            reason_of_row.update({int(r): reason for r in n.rows})
    else:
        for n in kept:
            reason_of_row.update(
                {int(r): "outside_window" if not wins else "no_time" for r in n.rows}
            )
        if not wins:
            notes.append("no liaison window is left on this day")

    # Stops, in the solver's order.
    lonlat = _to_lonlat(loc_xy, crs)
    stops: list[Stop] = []
    prev = 0
    floors_t = table["floor"].to_numpy(np.int64)
    reasons_all = ref["reasons"].to_numpy(object)
    values_all = ref["value"].to_numpy(float)
    for order, s in enumerate(chosen, 1):
        i = int(s["visit"])
        n = kept[i]
        loc = i + 2
        win_i = next((k for k, (a, b) in enumerate(wins) if a <= int(s["start"]) < b), 0)
        slot = slots[win_i]
        p_here = pw[slot].to_numpy(float)[ci[n.rows]]
        members = [
            PlannedHousehold(
                household_id=str(table["household_id"].iat[r]),
                kind=str(kinds[r]),
                floor=int(floors_t[r]),
                card_status=str(status[r]),
                reasons=list(reasons_all[ci[r]]),
                expected_contact=float(p),
                value=float(values_all[ci[r]]),
            )
            for r, p in zip(n.rows, p_here, strict=True)
        ]
        stops.append(
            Stop(
                order=order,
                building_id=n.building_id,
                address=n.address,
                lon=float(lonlat[loc, 0]),
                lat=float(lonlat[loc, 1]),
                arrival_s=int(s["start"]),
                departure_s=int(s["end"]),
                households=members,
                path=_leg_path(travel, loc_xy[prev], loc_xy[loc], lonlat[[prev, loc]], crs),
                x=n.x,
                y=n.y,
                travel_s=int(matrix.durations_s[prev, loc]),
                location=loc,
            )
        )
        prev = loc
    cand_ids = table["household_id"].to_numpy(object)
    skipped = [
        {"household_id": str(cand_ids[r]), "reason": reason}
        for r, reason in sorted(reason_of_row.items())
    ]
    return DayPlan(
        officer_id=off["officer_id"],
        koban_id=off["koban_id"],
        beat_id=off["beat_id"],
        date=on,
        start=Place(
            float(lonlat[0, 0]), float(lonlat[0, 1]), start_label, float(start[0]), float(start[1])
        ),
        end=Place(
            float(lonlat[1, 0]),
            float(lonlat[1, 1]),
            start_label if end_label is None else end_label,
            float(end[0]),
            float(end[1]),
        ),
        windows=wins,
        travel_source=matrix.source,
        travel_mode=matrix.mode,
        stops=stops,
        skipped=skipped,
        travel_s=route_travel,
        notes=notes,
        status=status_txt,
        matrix=matrix,
        context=context,
    )


def replan(
    plan: DayPlan,
    *,
    now: time | str | int,
    position_xy: tuple[float, float],
    done: Sequence[str],
    time_limit_s: float = 2.0,
    seed: int = 0,
    position_label: str = "current position",
) -> DayPlan:
    """Plan the rest of the day from ``position_xy`` at ``now``.

    The stops of ``plan`` whose households are in ``done`` are kept (with
    only the done households); the other candidates, including those of the
    old plan not yet visited, are planned again in the windows left after
    ``now``. Uses the inputs ``plan`` was made from.
    """
    if not plan.context:
        raise ParameterError("plan: has no planning context; expected a DayPlan made by plan_day")
    now_s = parse_clock(now, "now")
    done_set = {str(h) for h in done}
    unknown = sorted(done_set - set(plan.household_ids))
    c = plan.context
    fresh = plan_day(
        c["officer"],
        c["on"],
        windows=c["windows"],
        households=c["households"],
        buildings=c["buildings"],
        cards=c["cards"],
        visits=c["visits"],
        start_xy=position_xy,
        end_xy=c["end_xy"],
        travel=c["travel"],
        breaks=c["breaks"],
        night_approval=c["night_approval"],
        params=c["params"],
        priority_params=c["priority_params"],
        time_limit_s=time_limit_s,
        seed=seed,
        max_candidates=c["max_candidates"],
        start_label=position_label,
        end_label=plan.end.label,
        exclude=sorted(done_set),
        start_time_s=now_s,
        focus_days=c["focus_days"],
    )
    kept: list[Stop] = []
    kept_travel = 0
    for s in plan.stops:
        members = [h for h in s.households if h.household_id in done_set]
        if not members:
            continue
        # A stop interrupted part-way ends at ``now`` at the latest.
        departure = min(s.departure_s, max(now_s, s.arrival_s))
        kept.append(
            dataclasses.replace(
                s, households=members, done=True, departure_s=departure, location=-1
            )
        )
        kept_travel += s.travel_s
    for i, s in enumerate(kept + fresh.stops, 1):
        s.order = i
    fresh.stops = kept + fresh.stops
    fresh.travel_s += kept_travel
    fresh.notes.insert(
        0,
        f"re-planned at {format_clock(now_s)} from ({position_xy[0]:.0f}, {position_xy[1]:.0f}); "
        f"{len(done_set)} household(s) done kept as the first {len(kept)} stop(s)",
    )
    if unknown:
        fresh.notes.append(f"done households not in the earlier plan: {', '.join(unknown[:10])}")
    return fresh
