"""A koban's calendar as data: :class:`CalendarRequest` in, :class:`CalendarProblem` out.

:func:`build_calendar_problem` chooses what the horizon needs from a
dataset: the koban's officers and their roster, the households of its beats
with their cards, buildings and visits, and the *pools* (who plans from which
households: a beat officer his beat, the specialists the large complexes and
high-rises). :func:`junkai_geo.calendar.plan_calendar` plans it. The problem
pickles and goes to JSON and back (:meth:`CalendarProblem.to_json`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError, Problem
from ..model import Dataset
from ..priorities import PriorityParams, score_households
from ..roster import Roster, RosterParams, Shift, build_roster
from ..routing import NightApproval, RouteParams
from ..travel import TravelParams
from .params import CalendarParams

#: Version of the JSON form of :class:`CalendarProblem`.
CALENDAR_FORMAT = 1


@dataclass(frozen=True)
class CalendarRequest:
    """What a caller asks for: one koban over a horizon, and how to plan it.

    Attributes
    ----------
    koban_id, start, weeks, days
        The koban and the horizon (``days`` overrides ``weeks``).
    roster
        Shifts to use; default :func:`~junkai_geo.roster.build_roster` of the
        koban's officers with ``leave``, ``focus_days`` and ``roster_params``.
    officer_ids
        Plan only these officers (default all of the koban).
    unit_beats
        Another beat assignment (unit id -> beat id) to plan on.
    night_approvals
        Approved night windows per officer and day.
    """

    koban_id: str
    start: date
    weeks: int = 4
    days: int | None = None
    roster: Roster | None = None
    officer_ids: tuple[str, ...] | None = None
    unit_beats: Mapping[str, str] | None = None
    leave: Mapping[str, Iterable[date]] | None = None
    focus_days: Mapping[str, Iterable[date]] | None = None
    night_approvals: tuple[NightApproval, ...] = ()
    params: CalendarParams = field(default_factory=CalendarParams)
    route_params: RouteParams = field(default_factory=RouteParams)
    priority_params: PriorityParams = field(default_factory=PriorityParams)
    roster_params: RosterParams | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "koban_id", str(self.koban_id))
        if self.officer_ids is not None:
            set_(self, "officer_ids", tuple(str(o) for o in self.officer_ids))
        set_(self, "night_approvals", tuple(self.night_approvals))
        for name, default in (
            ("params", CalendarParams),
            ("route_params", RouteParams),
            ("priority_params", PriorityParams),
        ):
            if getattr(self, name) is None:
                set_(self, name, default())

    @property
    def n_days(self) -> int:
        return self.days if self.days is not None else 7 * self.weeks


@dataclass(frozen=True)
class PoolSpec:
    """Officers who plan from the same households (rows of the problem's ``households``)."""

    name: str
    officers: tuple[Mapping[str, Any], ...]
    rows: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class CalendarProblem:
    """Everything a koban's calendar needs, as data (JSON form: :meth:`to_dict`).

    ``households`` are the koban's households (metric CRS ``crs``),
    ``cards`` their card table, ``buildings`` and ``visits`` theirs; each
    pool's ``rows`` index ``households``. ``travel`` is ``None`` or
    ``TravelParams`` (straight line) or, not for JSON, a street network.
    """

    koban_id: str
    start: date
    days: int
    crs: str
    start_xy: tuple[float, float]
    start_label: str
    roster: Roster
    pools: tuple[PoolSpec, ...]
    households: pd.DataFrame
    buildings: pd.DataFrame | None
    cards: pd.DataFrame
    visits: pd.DataFrame | None
    night_approvals: tuple[NightApproval, ...]
    travel: Any
    params: CalendarParams
    route_params: RouteParams
    priority_params: PriorityParams
    notes: tuple[str, ...]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CalendarProblem):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (inverse: :meth:`from_dict`)."""
        from ..routing.serialise import params_dict, window_json

        if self.travel is not None and not isinstance(self.travel, TravelParams):
            raise ParameterError(
                f"CalendarProblem.travel: found {type(self.travel).__name__}; expected None or "
                "TravelParams to write JSON (a street network is not part of the JSON; "
                "build the problem again with the network file)"
            )
        return {
            "format": CALENDAR_FORMAT,
            "koban_id": self.koban_id,
            "start": self.start.isoformat(),
            "days": self.days,
            "crs": self.crs,
            "start_xy": list(self.start_xy),
            "start_label": self.start_label,
            "roster": _roster_dict(self.roster),
            "pools": [
                {"name": p.name, "officers": [dict(o) for o in p.officers], "rows": list(p.rows)}
                for p in self.pools
            ],
            "households": frame_to_dict(self.households),
            "buildings": None if self.buildings is None else frame_to_dict(self.buildings),
            "cards": frame_to_dict(self.cards),
            "visits": None if self.visits is None else frame_to_dict(self.visits),
            "night_approvals": [
                {
                    "officer_id": a.officer_id,
                    "date": a.date.isoformat(),
                    "window": window_json(a.window),
                }
                for a in self.night_approvals
            ],
            "travel": None if self.travel is None else dataclasses.asdict(self.travel),
            "params": params_dict(self.params),
            "route_params": params_dict(self.route_params),
            "priority_params": params_dict(self.priority_params),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalendarProblem:
        """A problem from :meth:`to_dict`'s form."""
        from ..routing.serialise import priority_params_from_dict, window_like

        if d.get("format") != CALENDAR_FORMAT:
            raise ParameterError(
                f"CalendarProblem.format: found {d.get('format')!r}; expected {CALENDAR_FORMAT}"
            )
        return cls(
            koban_id=str(d["koban_id"]),
            start=date.fromisoformat(d["start"]),
            days=int(d["days"]),
            crs=str(d["crs"]),
            start_xy=(float(d["start_xy"][0]), float(d["start_xy"][1])),
            start_label=str(d["start_label"]),
            roster=_roster_from_dict(d["roster"]),
            pools=tuple(
                PoolSpec(
                    name=str(p["name"]),
                    officers=tuple(dict(o) for o in p["officers"]),
                    rows=tuple(int(r) for r in p["rows"]),
                )
                for p in d["pools"]
            ),
            households=frame_from_dict(d["households"]),
            buildings=None if d["buildings"] is None else frame_from_dict(d["buildings"]),
            cards=frame_from_dict(d["cards"]),
            visits=None if d["visits"] is None else frame_from_dict(d["visits"]),
            night_approvals=tuple(
                NightApproval(
                    str(a["officer_id"]), date.fromisoformat(a["date"]), window_like(a["window"])
                )
                for a in d["night_approvals"]
            ),
            travel=None if d["travel"] is None else TravelParams(**d["travel"]),
            params=CalendarParams(**d["params"]),
            route_params=RouteParams(**d["route_params"]),
            priority_params=priority_params_from_dict(d["priority_params"]),
            notes=tuple(str(n) for n in d["notes"]),
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text (numbers round-trip exactly)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CalendarProblem:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


# ----------------------------------------------------------------------------
# building


def build_calendar_problem(
    dataset: Dataset,
    request: CalendarRequest,
    *,
    cards: pd.DataFrame | None = None,
    travel: Any = None,
) -> CalendarProblem:
    """The calendar of ``request.koban_id`` from ``dataset``.

    Parameters
    ----------
    dataset
        Layers in a metric CRS (koban, beats, officers, buildings,
        households, visits).
    request
        The koban, the horizon and the parameters.
    cards
        Card table of the households (:func:`junkai_geo.cards.card_table`);
        default: made from the visits on ``request.start``.
    travel
        As for :func:`junkai_geo.routing.build_day_problem` (``None``:
        straight line).
    """
    koban_id = request.koban_id
    params, pp = request.params, request.priority_params
    n_days = request.n_days
    if not isinstance(n_days, int) or n_days <= 0:
        raise ParameterError(f"weeks / days: found {n_days!r} days; expected a horizon > 0 days")
    start_xy, label = koban_xy(dataset, koban_id)
    if dataset.officers is None:
        raise InputError(
            Problem("officers", None, None, "no officers layer", "officers", "missing_layer")
        )
    officers = dataset.officers[dataset.officers["koban_id"].astype(str) == koban_id]
    if request.officer_ids is not None:
        officers = officers[officers["officer_id"].astype(str).isin(set(request.officer_ids))]
    if officers.empty:
        raise InputError(
            Problem(
                "officers",
                None,
                "koban_id",
                f"no officer of koban {koban_id!r}",
                "at least one officer to plan",
                "no_officer",
            )
        )
    roster = request.roster
    if roster is None:
        roster = build_roster(
            officers,
            request.start,
            n_days,
            params=request.roster_params,
            leave=request.leave,
            focus_days=request.focus_days,
        )
    notes = list(roster.notes)
    hh = koban_households(dataset, koban_id, unit_beats=request.unit_beats)
    if cards is None:
        from ..cards import card_table

        cards = card_table(
            hh, dataset.visits, today=request.start, stale_after_months=pp.stale_after_months
        )
    hh_ids = set(hh["household_id"].astype(str))
    card_rows = cards.loc[cards.index.astype(str).isin(hh_ids)] if len(cards) else cards
    visits = dataset.visits
    if visits is not None:
        visits = visits[visits["household_id"].astype(str).isin(hh_ids)]
    buildings = dataset.buildings
    if buildings is not None and "building_id" in hh:
        buildings = buildings[buildings["building_id"].isin(set(hh["building_id"].dropna()))]

    # Pools: specialists take the large complexes and high-rises.
    recs = _records(officers)
    specialists = [r for r in recs if str(r.get("role")) == "specialist" or not _has(r, "beat_id")]
    beat_officers = [r for r in recs if r not in specialists]
    flags = score_households(
        hh, card_rows, buildings, None, on=request.start, slot="morning", params=pp
    )
    complex_mask: np.ndarray = (
        flags["reasons"].map(lambda r: "large_complex" in r or "highrise" in r).to_numpy(bool)
    )
    if specialists and not complex_mask.any():
        complex_mask = units_of(hh, buildings) >= params.specialist_min_units
        notes.append(
            "no large complex or high-rise: the specialists take the households of "
            f"buildings of at least {params.specialist_min_units} units "
            f"({int(complex_mask.sum())} households)"
        )
    if specialists and not complex_mask.any():
        notes.append(
            "specialists "
            + ", ".join(str(r["officer_id"]) for r in specialists)
            + ": no household in a multi-unit building; not planned"
        )
        specialists = []
    groups: dict[str, tuple[list[dict[str, Any]], np.ndarray]] = {}
    beat_col = hh["beat_id"].astype(str).to_numpy()
    rest = ~complex_mask if specialists else np.ones(len(hh), bool)
    for r in beat_officers:
        b = str(r["beat_id"])
        if b not in groups:
            groups[b] = ([], (beat_col == b) & rest)
        groups[b][0].append(r)
    if specialists:
        groups["specialists"] = (specialists, complex_mask)
    for b in sorted(set(beat_col) - set(groups)):
        notes.append(f"beat {b}: no officer of this koban is assigned; not planned")
    for b, (offs, _mask) in groups.items():
        if b != "specialists" and b not in set(beat_col):
            notes.append(f"beat {b} of {offs[0]['officer_id']}: no household; nothing to plan")
    pools = tuple(
        PoolSpec(
            name=name,
            officers=tuple(
                {
                    "officer_id": str(r["officer_id"]),
                    "koban_id": koban_id,
                    "beat_id": None if not _has(r, "beat_id") else str(r["beat_id"]),
                    "mode": str(r["mode"]) if _has(r, "mode") else "walk",
                }
                for r in offs
            ),
            rows=tuple(int(i) for i in np.flatnonzero(mask)),
        )
        for name, (offs, mask) in groups.items()
    )
    in_horizon = set(roster.dates)
    for a in request.night_approvals:
        if a.officer_id not in set(roster.officers):
            notes.append(f"night approval for {a.officer_id}: not an officer of this calendar")
        elif a.date not in in_horizon:
            notes.append(
                f"night approval of {a.officer_id} on {a.date.isoformat()}: outside the horizon"
            )
        elif not roster.shift(a.officer_id, a.date).on_duty:
            kind = roster.shift(a.officer_id, a.date).kind
            notes.append(
                f"night approval of {a.officer_id} on {a.date.isoformat()} not used: "
                f"off duty ({kind})"
            )
    crs = getattr(hh, "crs", None)
    return CalendarProblem(
        koban_id=koban_id,
        start=request.start,
        days=n_days,
        crs=dataset.crs if crs is None else str(crs.to_string()),
        start_xy=start_xy,
        start_label=label,
        roster=roster,
        pools=pools,
        households=hh,
        buildings=buildings,
        cards=card_rows,
        visits=visits,
        night_approvals=request.night_approvals,
        travel=travel,
        params=params,
        route_params=request.route_params,
        priority_params=pp,
        notes=tuple(notes),
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def koban_xy(dataset: Dataset, koban_id: str) -> tuple[tuple[float, float], str]:
    """Where the koban's officers start, and the koban's name."""
    if dataset.koban is None:
        raise InputError(
            Problem("koban", None, None, "no koban layer", "a koban layer", "missing_layer")
        )
    rows = dataset.koban[dataset.koban["koban_id"].astype(str) == koban_id]
    if rows.empty:
        known = sorted(dataset.koban["koban_id"].astype(str))
        raise InputError(
            Problem(
                "koban",
                None,
                "koban_id",
                repr(koban_id),
                f"one of {known[:12]}{' ...' if len(known) > 12 else ''}",
                "unknown_koban",
            )
        )
    g = rows.geometry.iloc[0]
    return (float(g.x), float(g.y)), str(rows["name"].iloc[0]) if "name" in rows else koban_id


def koban_households(
    dataset: Dataset, koban_id: str, *, unit_beats: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The households of a koban's beats; ``unit_beats`` (unit id -> beat id,
    as :class:`~junkai_geo.rebalance.RebalanceResult.assignment`) re-assigns
    them to other beats first."""
    if dataset.households is None or dataset.beats is None:
        raise InputError(
            Problem(
                "dataset",
                None,
                None,
                "no households or beats layer",
                "both layers",
                "missing_layer",
            )
        )
    hh = dataset.households
    beats = dataset.beats
    mine = set(beats.loc[beats["koban_id"].astype(str) == koban_id, "beat_id"].astype(str))
    if unit_beats is not None:
        if "unit_id" not in hh.columns:
            raise InputError(
                Problem(
                    "households",
                    None,
                    "unit_id",
                    "no such column",
                    "the unit of each household, to apply a units -> beat mapping",
                    "missing_column",
                )
            )
        mapping = {str(k): str(v) for k, v in unit_beats.items()}
        new = hh["unit_id"].astype(str).map(mapping)
        hh = hh.assign(beat_id=new.fillna(hh["beat_id"].astype(str)).to_numpy())
        mine |= {v for v in mapping.values() if v in mine or v.startswith(f"{koban_id}-")}
    out = hh[hh["beat_id"].astype(str).isin(mine)]
    return out


def units_of(hh: pd.DataFrame, buildings: pd.DataFrame | None) -> np.ndarray:
    """Units of each household's building (1 when unknown)."""
    if buildings is None or "units" not in buildings or "building_id" not in hh:
        return np.ones(len(hh))
    units = pd.to_numeric(buildings["units"], errors="coerce")
    by_id = pd.Series(units.to_numpy(), index=buildings["building_id"].astype(str))
    by_id = by_id[~by_id.index.duplicated(keep="last")]
    return hh["building_id"].astype(str).map(by_id).fillna(1).to_numpy(float)


def _has(r: Mapping[str, Any], key: str) -> bool:
    v = r.get(key)
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v) != ""


# ----------------------------------------------------------------------------
# JSON of tables and rosters


def frame_to_dict(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as plain JSON data that :func:`frame_from_dict` restores exactly.

    Every column keeps its dtype; floats keep every bit (JSON numbers of
    Python's shortest repr); a geometry column goes as WKB hex with its CRS;
    dates, timestamps and lists in object columns are tagged.
    """
    import geopandas as gpd
    import shapely

    geom_name = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    crs = frame.crs.to_string() if geom_name is not None and frame.crs is not None else None
    columns: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name]
        if name == geom_name:
            values: list[Any] = [
                None if g is None else shapely.to_wkb(g, hex=True) for g in col.array
            ]
        elif col.dtype.kind == "M":
            values = [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in col]
        elif col.dtype.kind in "iub":
            values = col.tolist()
        elif col.dtype.kind == "f":
            values = [None if np.isnan(v) else v for v in col.tolist()]
        else:
            values = [_tag(v) for v in col.tolist()]
        columns[str(name)] = {"dtype": str(col.dtype), "values": values}
    index = frame.index
    return {
        "columns": columns,
        "order": [str(c) for c in frame.columns],
        "index": {"name": index.name, "values": [_tag(v) for v in index.tolist()]},
        "geometry": geom_name,
        "crs": crs,
    }


def frame_from_dict(d: Mapping[str, Any]) -> pd.DataFrame:
    """Inverse of :func:`frame_to_dict`."""
    import geopandas as gpd
    import shapely

    data: dict[str, Any] = {}
    for name in d["order"]:
        c = d["columns"][name]
        dtype, values = c["dtype"], c["values"]
        if name == d["geometry"]:
            data[name] = gpd.GeoSeries(
                [None if v is None else shapely.from_wkb(v) for v in values], crs=d["crs"]
            )
        elif dtype.startswith("datetime64"):
            data[name] = pd.Series(pd.to_datetime(values), dtype=dtype)
        elif dtype == "object" or dtype == "category" or dtype.startswith("string"):
            data[name] = pd.Series([_untag(v) for v in values], dtype="object").astype(dtype)
        else:
            data[name] = pd.Series([np.nan if v is None else v for v in values], dtype=dtype)
    index = pd.Index([_untag(v) for v in d["index"]["values"]], name=d["index"]["name"])
    for s in data.values():
        s.index = index
    frame = pd.DataFrame(data, index=index, columns=d["order"])
    if d["geometry"] is not None:
        return gpd.GeoDataFrame(frame, geometry=d["geometry"], crs=d["crs"])
    return frame


def _tag(v: Any) -> Any:
    if v is None or isinstance(v, str | bool | int):
        return v
    if isinstance(v, float):
        return {"nan": True} if np.isnan(v) else v
    if isinstance(v, np.generic):
        return _tag(v.item())
    if v is pd.NaT:
        return {"nat": True}
    if isinstance(v, pd.Timestamp):
        return {"ts": v.isoformat()}
    if isinstance(v, datetime):
        return {"datetime": v.isoformat()}
    if isinstance(v, date):
        return {"date": v.isoformat()}
    if isinstance(v, list | tuple | np.ndarray):
        return {"list": [_tag(x) for x in v]}
    raise ParameterError(f"table value: found {type(v).__name__} {v!r}; expected plain data")


def _untag(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    if "nan" in v:
        return float("nan")
    if "nat" in v:
        return pd.NaT
    if "ts" in v:
        return pd.Timestamp(v["ts"])
    if "datetime" in v:
        return datetime.fromisoformat(v["datetime"])
    if "date" in v:
        return date.fromisoformat(v["date"])
    return [_untag(x) for x in v["list"]]


def _roster_dict(roster: Roster) -> dict[str, Any]:
    return {
        "start": roster.start.isoformat(),
        "days": roster.days,
        "officers": list(roster.officers),
        "shifts": [
            {
                "officer_id": s.officer_id,
                "date": s.date.isoformat(),
                "kind": s.kind,
                "windows": list(s.windows),
                "night_window": s.night_window,
                "focus": s.focus,
                "holiday": s.holiday,
            }
            for s in roster.shifts.values()
        ],
        "notes": list(roster.notes),
    }


def _roster_from_dict(d: Mapping[str, Any]) -> Roster:
    shifts = [
        Shift(
            officer_id=str(s["officer_id"]),
            date=date.fromisoformat(s["date"]),
            kind=str(s["kind"]),
            windows=tuple(s["windows"]),
            night_window=s["night_window"],
            focus=bool(s["focus"]),
            holiday=bool(s["holiday"]),
        )
        for s in d["shifts"]
    ]
    return Roster(
        start=date.fromisoformat(d["start"]),
        days=int(d["days"]),
        shifts={(s.officer_id, s.date): s for s in shifts},
        officers=[str(o) for o in d["officers"]],
        notes=[str(n) for n in d["notes"]],
    )
