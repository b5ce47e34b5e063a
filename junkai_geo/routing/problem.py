"""One officer's day as data: :class:`DayRequest` in, :class:`DayProblem` out.

:func:`build_day_problem` reads what the day needs from a dataset (the
officer's beat, koban, households, buildings and visits), scores the
households (:mod:`junkai_geo.priorities`), groups them into building nodes,
keeps the most promising nodes near the start and measures the travel
between them. The result is plain data: it pickles, it goes to JSON and back
(:meth:`DayProblem.to_json`), and :func:`junkai_geo.routing.plan_day` solves
it with nothing else. :func:`build_day_problem_from_frames` does the same
from tables a caller has already chosen (the calendar, the specialists'
rounds, the service's planner process).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError, Problem
from ..priorities import SLOTS, PriorityParams, contact_probabilities, score_households, slot_of
from ..priorities import visit_cells as _visit_cells
from ..travel import TravelMatrix, TravelParams
from .clock import Window, WindowLike, format_clock
from .inputs import (
    TravelSource,
    crs_of,
    household_xy,
    is_network,
    leg_paths_of,
    officer_fields,
    speeds_of,
    straight_line_params,
    to_lonlat,
    travel_matrix_of,
)
from .nodes import Node, build_nodes, prune_nodes, solver_windows
from .params import RouteParams
from .result import Place
from .serialise import params_dict, priority_params_from_dict, window_json, window_like
from .windows import NightApproval, resolve_windows

#: Version of the JSON form of :class:`DayProblem`.
PROBLEM_FORMAT = 1

#: Why a day has nothing to plan (code, Japanese for the officer, English).
NO_CANDIDATE_NOTES: dict[str, str] = {
    "no_households": "no_households: 受持区に世帯がありません "
    "(the officer's beat has no household in the data)",
    "no_candidates": "no_candidates: 本日訪問が必要な世帯がありません "
    "(every household of the beat was met recently, moved out, is vacant or is excluded)",
}


@dataclass(frozen=True)
class DayRequest:
    """What a caller asks for: one officer, one day, and how to plan it.

    Attributes
    ----------
    officer_id, on
        The officer and the day; the day type (weekday / weekend or
        holiday) sets the contact probabilities.
    windows
        Liaison windows (``"HH:MM-HH:MM"`` or pairs); ``None``:
        ``params.day_windows``. Night windows need ``night_approval``.
    breaks
        Intervals without visits, cut out of the windows.
    start_time_s
        Earliest departure (seconds since midnight); ``None``:
        ``params.leave_before_s`` before the first window.
    exclude
        Household ids not to plan (for example done today).
    focus_days
        Extra days treated like holidays (巡回連絡強化日).
    max_candidates
        Nodes given to the solver (``None``: ``params.max_candidate_nodes``).
    """

    officer_id: str
    on: date
    windows: tuple[WindowLike, ...] | None = None
    breaks: tuple[WindowLike, ...] = ()
    night_approval: NightApproval | None = None
    start_time_s: int | None = None
    exclude: tuple[str, ...] = ()
    focus_days: tuple[date, ...] = ()
    params: RouteParams = field(default_factory=RouteParams)
    priority_params: PriorityParams = field(default_factory=PriorityParams)
    max_candidates: int | None = None

    def __post_init__(self) -> None:
        # Callers pass lists and sets; keep the request hashable and ordered.
        set_ = object.__setattr__
        if self.windows is not None:
            set_(self, "windows", tuple(_as_window_like(w) for w in self.windows))
        set_(self, "breaks", tuple(_as_window_like(w) for w in self.breaks))
        set_(self, "exclude", tuple(str(h) for h in self.exclude))
        set_(self, "focus_days", tuple(sorted(self.focus_days)))
        if self.params is None:
            set_(self, "params", RouteParams())
        if self.priority_params is None:
            set_(self, "priority_params", PriorityParams())
        if self.max_candidates is not None and (
            isinstance(self.max_candidates, bool) or int(self.max_candidates) <= 0
        ):
            raise ParameterError(
                f"max_candidates: found {self.max_candidates!r}; expected an integer > 0"
            )
        if self.start_time_s is not None and not 0 <= int(self.start_time_s) <= 86400:
            raise ParameterError(
                f"start_time_s: found {self.start_time_s!r}; expected seconds in [0, 86400]"
            )


def _as_window_like(w: Any) -> WindowLike:
    return tuple(w) if isinstance(w, list) else w


@dataclass(frozen=True)
class Candidates:
    """The day's candidate households, one entry per household in each column.

    ``p_slot`` and ``prior_slot`` hold the contact probability (from the
    visits) and the prior of the household's kind for each slot of
    :data:`junkai_geo.priorities.SLOTS`, so that the windows may be cut
    later (:func:`junkai_geo.routing.replan`) without scoring again.
    """

    household_id: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    building_id: tuple[str | None, ...] = ()
    floor: tuple[int, ...] = ()
    address: tuple[str, ...] = ()
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    card_status: tuple[str, ...] = ()
    reasons: tuple[tuple[str, ...], ...] = ()
    value: tuple[float, ...] = ()
    service_s: tuple[int, ...] = ()
    p_slot: tuple[tuple[float, ...], ...] = ()
    prior_slot: tuple[tuple[float, ...], ...] = ()

    def __len__(self) -> int:
        return len(self.household_id)

    def take(self, rows: Sequence[int]) -> Candidates:
        """The candidates at ``rows``, in that order."""
        return Candidates(
            **{f.name: tuple(getattr(self, f.name)[r] for r in rows) for f in _fields(self)}
        )

    def to_dict(self) -> dict[str, list[Any]]:
        return {
            f.name: [list(v) if isinstance(v, tuple) else v for v in getattr(self, f.name)]
            for f in _fields(self)
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Sequence[Any]]) -> Candidates:
        conv: dict[str, Callable[[Any], Any]] = {
            "household_id": str,
            "kind": str,
            "building_id": lambda v: None if v is None else str(v),
            "floor": int,
            "address": str,
            "x": float,
            "y": float,
            "card_status": str,
            "reasons": lambda v: tuple(str(r) for r in v),
            "value": float,
            "service_s": int,
            "p_slot": lambda v: tuple(float(p) for p in v),
            "prior_slot": lambda v: tuple(float(p) for p in v),
        }
        return cls(**{k: tuple(conv[k](v) for v in d[k]) for k in conv})


def _fields(obj: Any) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(obj)


@dataclass(frozen=True, eq=False)
class DayProblem:
    """Everything one officer's day needs, as data (JSON form: :meth:`to_dict`).

    Attributes
    ----------
    officer_id, koban_id, beat_id, mode, on
        Who plans which day, and how the officer travels.
    crs
        The metric CRS of every ``x``, ``y``.
    start, end
        Where the day starts and ends.
    day_windows, windows
        The liaison windows after night rules and breaks, before and after
        the cut at ``start_time_s``; the solver sees ``windows``.
    slots
        The contact-probability slot of each window.
    shift
        When the officer may leave the start and must be back at the end.
    breaks, night_approval, focus_days, focus_day
        As asked; ``focus_day`` is True when ``on`` is a focus day.
    params, priority_params, max_candidates
        The parameters used; ``max_candidates`` is the number of nodes kept.
    candidates
        Every candidate household of the day (after ``exclude``).
    nodes
        The building nodes given to the solver; ``rows`` index
        ``candidates``.
    skipped
        ``(candidate row, reason)`` of candidates left out before the solver.
    matrix
        Travel over ``[start, end, nodes...]``; ``travel_source`` is
        ``matrix.source`` (``straight_line`` x detour, or ``network``).
    travel_params
        The straight-line parameters (``None`` when the source was a network
        or a callable, which :func:`~junkai_geo.routing.replan` needs again).
    lonlat
        Longitude and latitude of each matrix location.
    leg_paths
        Street paths between matrix locations, ``"i-j" -> [[lon, lat], ...]``
        when the network gave them; legs not listed are drawn straight.
    notes
        Plain sentences for the reader of the plan.
    """

    officer_id: str
    koban_id: str | None
    beat_id: str | None
    mode: str
    on: date
    crs: str
    start: Place
    end: Place
    day_windows: tuple[Window, ...]
    windows: tuple[Window, ...]
    slots: tuple[str, ...]
    shift: Window
    start_time_s: int | None
    breaks: tuple[WindowLike, ...]
    night_approval: NightApproval | None
    focus_days: tuple[date, ...]
    focus_day: bool
    params: RouteParams
    priority_params: PriorityParams
    max_candidates: int
    candidates: Candidates
    nodes: tuple[Node, ...]
    skipped: tuple[tuple[int, str], ...]
    matrix: TravelMatrix
    travel_params: TravelParams | None
    lonlat: tuple[tuple[float, float], ...]
    leg_paths: Mapping[str, tuple[tuple[float, float], ...]]
    window_notes: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def travel_source(self) -> str:
        return self.matrix.source

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DayProblem):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- JSON ------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (inverse: :meth:`from_dict`)."""
        return {
            "format": PROBLEM_FORMAT,
            "officer_id": self.officer_id,
            "koban_id": self.koban_id,
            "beat_id": self.beat_id,
            "mode": self.mode,
            "on": self.on.isoformat(),
            "crs": self.crs,
            "start": dataclasses.asdict(self.start),
            "end": dataclasses.asdict(self.end),
            "day_windows": [list(w) for w in self.day_windows],
            "windows": [list(w) for w in self.windows],
            "slots": list(self.slots),
            "shift": list(self.shift),
            "start_time_s": self.start_time_s,
            "breaks": [window_json(w) for w in self.breaks],
            "night_approval": None
            if self.night_approval is None
            else {
                "officer_id": self.night_approval.officer_id,
                "date": self.night_approval.date.isoformat(),
                "window": window_json(self.night_approval.window),
            },
            "focus_days": [d.isoformat() for d in self.focus_days],
            "focus_day": self.focus_day,
            "params": params_dict(self.params),
            "priority_params": params_dict(self.priority_params),
            "max_candidates": self.max_candidates,
            "candidates": self.candidates.to_dict(),
            "nodes": [
                {
                    "node_id": n.node_id,
                    "building_id": n.building_id,
                    "x": n.x,
                    "y": n.y,
                    "rows": list(n.rows),
                    "service_s": n.service_s,
                    "value": n.value,
                    "windows": [list(w) for w in n.windows],
                    "address": n.address,
                }
                for n in self.nodes
            ],
            "skipped": [[r, why] for r, why in self.skipped],
            "matrix": self.matrix.to_dict(),
            "travel_params": None
            if self.travel_params is None
            else dataclasses.asdict(self.travel_params),
            "lonlat": [list(p) for p in self.lonlat],
            "leg_paths": {k: [list(p) for p in v] for k, v in self.leg_paths.items()},
            "window_notes": list(self.window_notes),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DayProblem:
        """A problem from :meth:`to_dict`'s form."""
        if d.get("format") != PROBLEM_FORMAT:
            raise ParameterError(
                f"DayProblem.format: found {d.get('format')!r}; expected {PROBLEM_FORMAT}"
            )
        na = d["night_approval"]

        def win(w: Sequence[Any]) -> Window:
            return int(w[0]), int(w[1])

        return cls(
            officer_id=str(d["officer_id"]),
            koban_id=d["koban_id"],
            beat_id=d["beat_id"],
            mode=str(d["mode"]),
            on=date.fromisoformat(d["on"]),
            crs=str(d["crs"]),
            start=Place(**d["start"]),
            end=Place(**d["end"]),
            day_windows=tuple(win(w) for w in d["day_windows"]),
            windows=tuple(win(w) for w in d["windows"]),
            slots=tuple(d["slots"]),
            shift=win(d["shift"]),
            start_time_s=d["start_time_s"],
            breaks=tuple(window_like(w) for w in d["breaks"]),
            night_approval=None
            if na is None
            else NightApproval(
                str(na["officer_id"]), date.fromisoformat(na["date"]), window_like(na["window"])
            ),
            focus_days=tuple(date.fromisoformat(x) for x in d["focus_days"]),
            focus_day=bool(d["focus_day"]),
            params=RouteParams(**d["params"]),
            priority_params=priority_params_from_dict(d["priority_params"]),
            max_candidates=int(d["max_candidates"]),
            candidates=Candidates.from_dict(d["candidates"]),
            nodes=tuple(
                Node(
                    node_id=str(n["node_id"]),
                    building_id=n["building_id"],
                    x=float(n["x"]),
                    y=float(n["y"]),
                    rows=tuple(int(r) for r in n["rows"]),
                    service_s=int(n["service_s"]),
                    value=float(n["value"]),
                    windows=tuple(win(w) for w in n["windows"]),
                    address=str(n["address"]),
                )
                for n in d["nodes"]
            ),
            skipped=tuple((int(r), str(why)) for r, why in d["skipped"]),
            matrix=TravelMatrix.from_dict(d["matrix"]),
            travel_params=None
            if d["travel_params"] is None
            else TravelParams(**d["travel_params"]),
            lonlat=tuple((float(a), float(b)) for a, b in d["lonlat"]),
            leg_paths={
                str(k): tuple((float(a), float(b)) for a, b in v) for k, v in d["leg_paths"].items()
            },
            window_notes=tuple(str(n) for n in d["window_notes"]),
            notes=tuple(str(n) for n in d["notes"]),
        )

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> DayProblem:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


# ----------------------------------------------------------------------------
# building


def build_day_problem(dataset: Any, request: DayRequest, travel: TravelSource = None) -> DayProblem:
    """The day of ``request.officer_id`` on ``request.on`` from ``dataset``.

    The officer's beat gives the households (a specialist without a beat:
    the beats of the koban), the koban the start and the end, the visits the
    card table and the contact probabilities.

    Parameters
    ----------
    dataset
        A :class:`junkai_geo.model.Dataset` with officers, koban and
        households (buildings and visits optional).
    request
        Officer, day, windows and parameters.
    travel
        ``None`` or ``TravelParams`` (straight line x detour), a
        :class:`~junkai_geo.network.StreetNetwork`, or a callable ``xy ->
        TravelMatrix``.
    """
    from ..cards import card_table

    officers, kobans, households = dataset.officers, dataset.koban, dataset.households
    if officers is None or kobans is None or households is None:
        raise ParameterError("dataset: households, officers or koban layer missing")
    rows = officers[officers["officer_id"].astype(str) == str(request.officer_id)]
    if rows.empty:
        known = sorted(officers["officer_id"].astype(str))
        raise InputError(
            Problem(
                "officers",
                None,
                "officer_id",
                repr(request.officer_id),
                f"one of {known[:12]}{' ...' if len(known) > 12 else ''}",
                "unknown_officer",
            )
        )
    officer = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
    beat = officer.get("beat_id")
    if beat is not None and not pd.isna(beat) and str(beat):
        hh = households[households["beat_id"].astype(str) == str(beat)]
    elif dataset.beats is not None:
        # A specialist (専従員) without a beat: the beats of the koban.
        beats = dataset.beats[dataset.beats["koban_id"].astype(str) == str(officer["koban_id"])]
        hh = households[households["beat_id"].astype(str).isin(beats["beat_id"].astype(str))]
    else:
        hh = households.iloc[:0]
    koban = kobans[kobans["koban_id"].astype(str) == str(officer["koban_id"])]
    if koban.empty:
        raise InputError(
            Problem(
                "koban",
                None,
                "koban_id",
                repr(officer["koban_id"]),
                "the koban of the officer",
                "unknown_koban",
            )
        )
    point = koban.geometry.iloc[0]
    label = str(koban["name"].iloc[0]) if "name" in koban else str(officer["koban_id"])
    visits = dataset.visits
    if visits is not None:
        visits = visits[visits["household_id"].isin(hh["household_id"])]
    cards = card_table(
        hh,
        visits,
        today=request.on,
        stale_after_months=request.priority_params.stale_after_months,
    )
    return build_day_problem_from_frames(
        request,
        officer=officer,
        households=hh,
        buildings=dataset.buildings,
        cards=cards,
        visits=visits,
        start_xy=(float(point.x), float(point.y)),
        start_label=label,
        travel=travel,
    )


def build_day_problem_from_frames(
    request: DayRequest,
    *,
    households: pd.DataFrame,
    buildings: pd.DataFrame | None,
    cards: pd.DataFrame,
    visits: pd.DataFrame | None,
    start_xy: tuple[float, float],
    end_xy: tuple[float, float] | None = None,
    officer: Any = None,
    start_label: str = "",
    end_label: str | None = None,
    travel: TravelSource = None,
) -> DayProblem:
    """The day of ``request`` from tables the caller has chosen.

    Parameters
    ----------
    request
        Officer, day, windows and parameters.
    households, buildings, cards, visits
        The candidate households (points in a metric CRS), their buildings,
        their card table and the visit history.
    start_xy, end_xy
        Start and end in the households' CRS (end defaults to start).
    officer
        An :class:`~junkai_geo.model.Officer` or a mapping with
        ``officer_id`` (and ``koban_id``, ``beat_id``, ``mode``); ``None``:
        ``request.officer_id`` walking.
    travel
        As for :func:`build_day_problem`.
    """
    off = officer_fields(request.officer_id if officer is None else officer)
    if off["officer_id"] != str(request.officer_id):
        raise ParameterError(
            f"officer: found {off['officer_id']!r}; expected the request's officer "
            f"{request.officer_id!r}"
        )
    params, pparams, on = request.params, request.priority_params, request.on
    day_windows, window_notes = resolve_windows(
        off["officer_id"],
        on,
        request.windows,
        breaks=request.breaks,
        night_approval=request.night_approval,
        params=params,
    )
    crs = crs_of(households, buildings)
    candidates = _score_candidates(
        households, buildings, cards, visits, request, day_windows, request.start_time_s
    )
    notes: list[str] = []
    if len(candidates) == 0:
        notes.append(NO_CANDIDATE_NOTES["no_households" if households.empty else "no_candidates"])
    return _assemble(
        off=off,
        on=on,
        crs=crs,
        start=(np.asarray(start_xy, float), start_label),
        end=(
            np.asarray(end_xy if end_xy is not None else start_xy, float),
            start_label if end_label is None else end_label,
        ),
        day_windows=tuple(day_windows),
        window_notes=tuple(window_notes),
        start_time_s=request.start_time_s,
        breaks=request.breaks,
        night_approval=request.night_approval,
        focus_days=request.focus_days,
        params=params,
        pparams=pparams,
        keep_n=params.max_candidate_nodes
        if request.max_candidates is None
        else int(request.max_candidates),
        candidates=candidates,
        travel=travel,
        extra_notes=notes,
    )


def _cut(day_windows: Sequence[Window], start_time_s: int | None) -> list[Window]:
    wins = list(day_windows)
    if start_time_s is not None:
        wins = [(max(a, start_time_s), b) for a, b in wins if b > start_time_s]
    return wins


def _slots(wins: Sequence[Window], pparams: PriorityParams) -> list[str]:
    return [slot_of((format_clock(a), format_clock(b)), pparams) for a, b in wins] or ["morning"]


def _score_candidates(
    households: pd.DataFrame,
    buildings: pd.DataFrame | None,
    cards: pd.DataFrame,
    visits: pd.DataFrame | None,
    request: DayRequest,
    day_windows: Sequence[Window],
    start_time_s: int | None,
) -> Candidates:
    """Score the households and keep the candidates, with every slot's probability."""
    params, pparams, on, focus = (
        request.params,
        request.priority_params,
        request.on,
        request.focus_days,
    )
    # The value and the reasons do not depend on the slot.
    first_slot = _slots(_cut(day_windows, start_time_s), pparams)[0]
    cells = _visit_cells(visits, on=on, params=pparams, focus_days=focus)
    ref = score_households(
        households,
        cards,
        buildings,
        visits,
        on=on,
        slot=first_slot,
        params=pparams,
        focus_days=focus,
        cells=cells,
    )
    pw = contact_probabilities(
        households, visits, on=on, slots=SLOTS, params=pparams, focus_days=focus, cells=cells
    )
    prior = contact_probabilities(
        households, None, on=on, slots=SLOTS, params=pparams, focus_days=focus
    )
    ids = households["household_id"].astype(str).to_numpy()
    exclude = request.exclude
    excluded = (
        np.isin(ids, np.asarray(list(exclude), dtype=str))
        if len(exclude)
        else np.zeros(len(ids), bool)
    )
    cand = ref["candidate"].to_numpy(bool) & ~excluded
    xy_all = household_xy(households)
    ci = np.flatnonzero(cand)
    kinds = (
        households["kind"].astype(str).to_numpy()[ci]
        if "kind" in households
        else np.full(len(ci), "home")
    )
    status = ref["card_status"].to_numpy()[ci]
    service = [params.service_s(k, s == "none") for k, s in zip(kinds, status, strict=True)]
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
    floors = (
        pd.to_numeric(floor_col, errors="coerce").fillna(1).clip(lower=1).astype(int).to_numpy()
    )
    p = np.column_stack([pw[s].to_numpy(float)[ci] for s in SLOTS]).reshape(len(ci), len(SLOTS))
    pr = np.column_stack([prior[s].to_numpy(float)[ci] for s in SLOTS]).reshape(len(ci), len(SLOTS))
    bids = bcol.to_numpy(object)[ci]
    return Candidates(
        household_id=tuple(str(h) for h in ids[ci]),
        kind=tuple(str(k) for k in kinds),
        building_id=tuple(None if b is None or pd.isna(b) else str(b) for b in bids),
        floor=tuple(int(f) for f in floors[ci]),
        address=tuple(acol.fillna("").astype(str).to_numpy()[ci].tolist()),
        x=tuple(xy_all[ci, 0].tolist()),
        y=tuple(xy_all[ci, 1].tolist()),
        card_status=tuple(str(s) for s in status),
        reasons=tuple(tuple(str(r) for r in rs) for rs in ref["reasons"].to_numpy(object)[ci]),
        value=tuple(ref["value"].to_numpy(float)[ci].tolist()),
        service_s=tuple(int(s) for s in service),
        p_slot=tuple(tuple(row) for row in p.tolist()),
        prior_slot=tuple(tuple(row) for row in pr.tolist()),
    )


def _assemble(
    *,
    off: dict[str, Any],
    on: date,
    crs: str,
    start: tuple[np.ndarray, str],
    end: tuple[np.ndarray, str],
    day_windows: tuple[Window, ...],
    window_notes: tuple[str, ...],
    start_time_s: int | None,
    breaks: tuple[WindowLike, ...],
    night_approval: NightApproval | None,
    focus_days: tuple[date, ...],
    params: RouteParams,
    pparams: PriorityParams,
    keep_n: int,
    candidates: Candidates,
    travel: TravelSource,
    extra_notes: Sequence[str] = (),
) -> DayProblem:
    """Nodes, pruning and the travel matrix of ``candidates`` in the day's windows."""
    wins = _cut(day_windows, start_time_s)
    slots = _slots(wins, pparams)
    notes = list(window_notes)
    n = len(candidates)
    col = [SLOTS.index(s) for s in slots]
    p_all = np.asarray(candidates.p_slot, float).reshape(n, len(SLOTS))
    prior_all = np.asarray(candidates.prior_slot, float).reshape(n, len(SLOTS))
    p_win = p_all[:, col] if wins else np.zeros((n, 0))
    p_prior = prior_all[:, col] if wins else np.zeros((n, 0))
    best = p_win.max(axis=1) if wins else np.zeros(n)
    allowed = (
        (p_win >= params.min_p_contact_window)
        & (p_win >= params.window_p_tolerance * best[:, None])
        & (p_win >= params.window_p_prior_ratio * p_prior)
    )
    mask = (allowed * (1 << np.arange(allowed.shape[1]))).sum(axis=1) if wins else np.zeros(n, int)
    # Plan with the lowest probability among the allowed windows: the solver
    # does not know in advance which window a node falls in.
    p_plan = np.where(allowed, p_win, np.inf).min(axis=1) if wins else np.zeros(n)
    p_plan = np.where(np.isfinite(p_plan), p_plan, 0.0)
    table = pd.DataFrame(
        {
            "household_id": np.asarray(candidates.household_id, dtype=object),
            "building_id": np.asarray(candidates.building_id, dtype=object),
            "floor": np.asarray(candidates.floor, dtype=np.int64).reshape(n),
            "service_s": np.asarray(candidates.service_s, dtype=np.int64).reshape(n),
            "plan_value": np.asarray(candidates.value, float).reshape(n) * p_plan,
            "window_mask": np.asarray(mask).astype(np.int64).reshape(n),
            "x": np.asarray(candidates.x, float).reshape(n),
            "y": np.asarray(candidates.y, float).reshape(n),
            "address": np.asarray(candidates.address, dtype=object),
        }
    )
    nodes, skip_rows = build_nodes(table, wins, params)
    shift_start = (wins[0][0] - params.leave_before_s) if wins else 0
    if start_time_s is not None:
        shift_start = start_time_s
    shift = (max(shift_start, 0), min((wins[-1][1] if wins else 0) + params.return_after_s, 86400))
    start_xy, end_xy = start[0], end[0]
    speed, detour = speeds_of(travel, off["mode"])
    kept, less, unreach = prune_nodes(
        nodes, start_xy, end_xy, shift=shift, speed_mps=speed, detour=detour, keep=keep_n
    )
    if less:
        notes.append(
            f"{len(less)} of {len(nodes)} building nodes left out before routing "
            f"(max_candidates {keep_n}): lower value per second than those kept"
        )
    reason_of_row: dict[int, str] = dict(skip_rows)
    # A node whose windows all close before the shift starts (re-planning late
    # in a window) cannot be served today.
    late = [nd for nd in kept if not solver_windows(nd, shift)]
    kept = [nd for nd in kept if solver_windows(nd, shift)]
    for nd in late:
        reason_of_row.update({int(r): "outside_window" for r in nd.rows})
    for nd in less:
        reason_of_row.update({int(r): "less_valuable" for r in nd.rows})
    for nd in unreach:
        reason_of_row.update({int(r): "unreachable" for r in nd.rows})

    # The solver's locations: [start, end, nodes...].
    loc_xy = np.vstack(
        [
            start_xy[None, :],
            end_xy[None, :],
            np.array([[nd.x, nd.y] for nd in kept]).reshape(-1, 2),
        ]
    )
    ids = ["start", "end"] + [nd.node_id for nd in kept]
    matrix = travel_matrix_of(travel, loc_xy, ids, off["mode"], crs)
    notes.extend(m for m in matrix.notes if m not in notes)
    notes.extend(m for m in extra_notes if m not in notes)
    lonlat = to_lonlat(loc_xy, crs)
    leg_paths = leg_paths_of(travel, loc_xy, crs, matrix) if is_network(travel) else {}
    return DayProblem(
        officer_id=off["officer_id"],
        koban_id=off["koban_id"],
        beat_id=off["beat_id"],
        mode=off["mode"],
        on=on,
        crs=crs,
        start=Place(
            float(lonlat[0, 0]),
            float(lonlat[0, 1]),
            start[1],
            float(start_xy[0]),
            float(start_xy[1]),
        ),
        end=Place(
            float(lonlat[1, 0]), float(lonlat[1, 1]), end[1], float(end_xy[0]), float(end_xy[1])
        ),
        day_windows=tuple(day_windows),
        windows=tuple(wins),
        slots=tuple(slots),
        shift=(int(shift[0]), int(shift[1])),
        start_time_s=start_time_s,
        breaks=tuple(breaks),
        night_approval=night_approval,
        focus_days=tuple(focus_days),
        focus_day=on in focus_days,
        params=params,
        priority_params=pparams,
        max_candidates=keep_n,
        candidates=candidates,
        nodes=tuple(kept),
        skipped=tuple(sorted(reason_of_row.items())),
        matrix=matrix,
        travel_params=straight_line_params(travel),
        lonlat=tuple((float(a), float(b)) for a, b in lonlat.tolist()),
        leg_paths=leg_paths,
        window_notes=tuple(window_notes),
        notes=tuple(notes),
    )


def rebuild_day_problem(
    problem: DayProblem,
    *,
    start_xy: tuple[float, float],
    start_label: str,
    start_time_s: int,
    exclude: Sequence[str] = (),
    travel: TravelSource = None,
) -> DayProblem:
    """``problem`` again from another start, at another time, without ``exclude``.

    Uses the candidates, windows and parameters stored in ``problem``; the
    travel comes from ``travel``, else from the problem's straight-line
    parameters (a problem made on a street network needs the network again).
    """
    if travel is None:
        if problem.travel_params is None:
            raise ParameterError(
                f"travel: found None; expected the {problem.travel_source} travel source "
                "the problem was built with (a StreetNetwork or a callable)"
            )
        travel = problem.travel_params
    gone = {str(h) for h in exclude}
    rows = [i for i, h in enumerate(problem.candidates.household_id) if h not in gone]
    return _assemble(
        off={
            "officer_id": problem.officer_id,
            "koban_id": problem.koban_id,
            "beat_id": problem.beat_id,
            "mode": problem.mode,
        },
        on=problem.on,
        crs=problem.crs,
        start=(np.asarray(start_xy, float), start_label),
        end=(np.asarray([problem.end.x, problem.end.y], float), problem.end.label),
        day_windows=problem.day_windows,
        window_notes=problem.window_notes,
        start_time_s=start_time_s,
        breaks=problem.breaks,
        night_approval=problem.night_approval,
        focus_days=problem.focus_days,
        params=problem.params,
        pparams=problem.priority_params,
        keep_n=problem.max_candidates,
        candidates=problem.candidates.take(rows),
        travel=travel,
    )
