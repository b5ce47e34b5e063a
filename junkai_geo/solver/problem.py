"""Read and check a routing problem: JSON-like dict -> :class:`RoutingData`.

Every check names the offending field the way a user would find it in the
file, for example ``visits[3].time_windows[0]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ProblemError

#: Keys accepted at each level; anything else is a typo and is reported.
PROBLEM_KEYS = {"durations", "locations", "scale", "visits", "officers", "time_limit", "seed"}
VISIT_KEYS = {"id", "location", "service", "value", "time_windows", "required", "demand"}
OFFICER_KEYS = {"id", "start", "end", "shift", "capacity"}

#: A time later than any real one (about 292 years in seconds, far from int64 overflow).
NO_TIME = np.int64(2**53)


@dataclass
class RoutingData:
    """A routing problem as arrays; times in seconds, all integers.

    ``window_open`` / ``window_close`` are padded to the largest number of
    windows of a visit; padding windows have ``open > close`` and never match.
    A window bounds the *start* of service (the Solomon convention).
    """

    durations: np.ndarray  # (n_locations, n_locations) travel time
    visit_ids: list[str]
    visit_location: np.ndarray
    service: np.ndarray
    value: np.ndarray
    window_open: np.ndarray  # (n_visits, n_windows)
    window_close: np.ndarray
    required: np.ndarray  # bool
    demand: np.ndarray
    officer_ids: list[str]
    officer_start: np.ndarray
    officer_end: np.ndarray
    shift_start: np.ndarray
    shift_end: np.ndarray
    capacity: np.ndarray  # a huge number when the officer has no capacity limit
    time_limit_s: float = 1.0
    seed: int = 0
    has_capacity: bool = field(default=False)

    @property
    def n_visits(self) -> int:
        return len(self.visit_ids)

    @property
    def n_officers(self) -> int:
        return len(self.officer_ids)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _int(value: Any, where: str, *, minimum: int | None = 0) -> int:
    if not _is_int(value):
        raise ProblemError(where, f"found {value!r}; expected an integer")
    if minimum is not None and value < minimum:
        raise ProblemError(where, f"found {value}; expected an integer >= {minimum}")
    return int(value)


def _keys(obj: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ProblemError(where, f"found {type(obj).__name__}; expected an object")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        name = f"{where}.{unknown[0]}" if where != "problem" else unknown[0]
        raise ProblemError(name, f"unknown field; expected one of {sorted(allowed)}")
    for key in required:
        if key not in obj:
            name = f"{where}.{key}" if where != "problem" else key
            raise ProblemError(name, "missing")
    return obj


def _fast_matrix(rows: list[Any], n: int) -> np.ndarray | None:
    """The matrix in one conversion when it is clean (square, integers >= 0), else ``None``.

    A 500-visit matrix has 250 000 cells: checked one by one in Python that
    alone takes a good part of a one-second limit. Anything unusual falls
    back to the cell-by-cell check, which names the bad cell.
    """
    if not all(isinstance(row, list) and len(row) == n for row in rows):
        return None
    if any(type(v) is bool for row in rows for v in row):
        return None
    try:
        arr = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.shape != (n, n) or arr.dtype.kind not in "iu" or (n and arr.min() < 0):
        return None
    return arr.astype(np.int64, copy=False)


def _durations(problem: dict[str, Any]) -> np.ndarray:
    if ("durations" in problem) == ("locations" in problem):
        raise ProblemError(
            "durations", "give exactly one of 'durations' (a matrix) or 'locations' (+ 'scale')"
        )
    if "durations" in problem:
        rows = problem["durations"]
        if not isinstance(rows, list) or not rows:
            raise ProblemError("durations", "found no rows; expected a non-empty square matrix")
        n = len(rows)
        fast = _fast_matrix(rows, n)
        if fast is not None:
            return fast
        out = np.zeros((n, n), dtype=np.int64)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != n:
                found = len(row) if isinstance(row, list) else type(row).__name__
                raise ProblemError(f"durations[{i}]", f"found {found} values; expected {n}")
            for j, v in enumerate(row):
                out[i, j] = _int(v, f"durations[{i}][{j}]")
        return out
    points = problem["locations"]
    if not isinstance(points, list) or not points:
        raise ProblemError("locations", "found no points; expected a list of [x, y]")
    xy = np.zeros((len(points), 2))
    for i, p in enumerate(points):
        ok = isinstance(p, list) and len(p) == 2
        ok = ok and all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
        if not ok or not all(math.isfinite(c) for c in p):
            raise ProblemError(f"locations[{i}]", f"found {p!r}; expected [x, y] numbers")
        xy[i] = p
    scale = problem.get("scale", 1)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not scale > 0:
        raise ProblemError("scale", f"found {scale!r}; expected a number > 0")
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return np.rint(dist * scale).astype(np.int64)


def _location(value: Any, where: str, n: int) -> int:
    loc = _int(value, where)
    if loc >= n:
        raise ProblemError(where, f"found {loc}; expected a location index 0..{n - 1}")
    return loc


def _windows(value: Any, where: str) -> list[tuple[int, int]]:
    if not isinstance(value, list) or not value:
        raise ProblemError(where, f"found {value!r}; expected a non-empty list of [open, close]")
    out = []
    for k, w in enumerate(value):
        wk = f"{where}[{k}]"
        if not isinstance(w, list) or len(w) != 2:
            raise ProblemError(wk, f"found {w!r}; expected [open, close]")
        lo, hi = _int(w[0], wk), _int(w[1], wk)
        if lo > hi:
            raise ProblemError(wk, f"found open {lo} > close {hi}; expected open <= close")
        out.append((lo, hi))
    out.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in out:  # overlapping windows are one window
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def read_problem(problem: Any) -> RoutingData:
    """Check a JSON-like problem and turn it into arrays.

    Raises
    ------
    ProblemError
        Naming the first bad field (``visits[3].time_windows[0]``) and what was
        found and expected.
    """
    problem = _keys(problem, "problem", PROBLEM_KEYS, ("visits", "officers"))
    durations = _durations(problem)
    n_loc = durations.shape[0]

    officers = problem["officers"]
    if not isinstance(officers, list) or not officers:
        raise ProblemError("officers", "found none; expected a non-empty list")
    o_ids: list[str] = []
    o_start, o_end, s_start, s_end, cap = [], [], [], [], []
    has_capacity = False
    for k, o in enumerate(officers):
        w = f"officers[{k}]"
        _keys(o, w, OFFICER_KEYS, ("id", "start", "end", "shift"))
        if not isinstance(o["id"], str) or not o["id"]:
            raise ProblemError(f"{w}.id", f"found {o['id']!r}; expected a non-empty string")
        if o["id"] in o_ids:
            raise ProblemError(f"{w}.id", f"found duplicate id {o['id']!r}; expected unique ids")
        o_ids.append(o["id"])
        o_start.append(_location(o["start"], f"{w}.start", n_loc))
        o_end.append(_location(o["end"], f"{w}.end", n_loc))
        sh = o["shift"]
        if not isinstance(sh, list) or len(sh) != 2:
            raise ProblemError(
                f"{w}.shift", f"found {sh!r}; expected [earliest start, latest return]"
            )
        a, b = _int(sh[0], f"{w}.shift[0]"), _int(sh[1], f"{w}.shift[1]")
        if a > b:
            raise ProblemError(
                f"{w}.shift", f"found start {a} > return {b}; expected start <= return"
            )
        s_start.append(a)
        s_end.append(b)
        if "capacity" in o:
            has_capacity = True
            cap.append(_int(o["capacity"], f"{w}.capacity"))
        else:
            cap.append(int(NO_TIME))

    visits = problem["visits"]
    if not isinstance(visits, list):
        raise ProblemError("visits", f"found {type(visits).__name__}; expected a list")
    horizon = max(s_end)
    v_ids: list[str] = []
    seen: set[str] = set()
    v_loc, service, value, required, demand = [], [], [], [], []
    windows: list[list[tuple[int, int]]] = []
    for i, v in enumerate(visits):
        w = f"visits[{i}]"
        _keys(v, w, VISIT_KEYS, ("id", "location"))
        if not isinstance(v["id"], str) or not v["id"]:
            raise ProblemError(f"{w}.id", f"found {v['id']!r}; expected a non-empty string")
        if v["id"] in seen:
            raise ProblemError(f"{w}.id", f"found duplicate id {v['id']!r}; expected unique ids")
        seen.add(v["id"])
        v_ids.append(v["id"])
        v_loc.append(_location(v["location"], f"{w}.location", n_loc))
        service.append(_int(v.get("service", 0), f"{w}.service"))
        value.append(_int(v.get("value", 0), f"{w}.value"))
        demand.append(_int(v.get("demand", 0), f"{w}.demand"))
        req = v.get("required", False)
        if not isinstance(req, bool):
            raise ProblemError(f"{w}.required", f"found {req!r}; expected true or false")
        required.append(req)
        windows.append(_windows(v.get("time_windows", [[0, horizon]]), f"{w}.time_windows"))

    n_win = max((len(ws) for ws in windows), default=1)
    w_open = np.full((len(visits), n_win), NO_TIME, dtype=np.int64)
    w_close = np.full((len(visits), n_win), -1, dtype=np.int64)
    for i, ws in enumerate(windows):
        for k, (lo, hi) in enumerate(ws):
            w_open[i, k], w_close[i, k] = lo, hi

    time_limit = problem.get("time_limit", 1.0)
    if (
        not isinstance(time_limit, int | float)
        or isinstance(time_limit, bool)
        or not (math.isfinite(time_limit) and time_limit > 0)
    ):
        raise ProblemError("time_limit", f"found {time_limit!r}; expected seconds > 0")
    seed = _int(problem.get("seed", 0), "seed")

    data = RoutingData(
        durations=durations,
        visit_ids=v_ids,
        visit_location=np.array(v_loc, dtype=np.int64),
        service=np.array(service, dtype=np.int64),
        value=np.array(value, dtype=np.int64),
        window_open=w_open,
        window_close=w_close,
        required=np.array(required, dtype=bool),
        demand=np.array(demand, dtype=np.int64),
        officer_ids=o_ids,
        officer_start=np.array(o_start, dtype=np.int64),
        officer_end=np.array(o_end, dtype=np.int64),
        shift_start=np.array(s_start, dtype=np.int64),
        shift_end=np.array(s_end, dtype=np.int64),
        capacity=np.array(cap, dtype=np.int64),
        time_limit_s=float(time_limit),
        seed=seed,
        has_capacity=has_capacity,
    )
    check_required(data)
    return data


def alone_feasibility(data: RoutingData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which officer could serve each visit on a route of its own.

    Returns ``(ok, reachable, fits)``, each ``(n_visits, n_officers)``:
    ``reachable`` ignores the windows (out and back within the shift),
    ``fits`` is the capacity check, ``ok`` is everything together.
    """
    t = data.durations
    loc = data.visit_location
    out = t[data.officer_start][:, loc].T  # (n_visits, n_officers)
    back = t[loc][:, data.officer_end]
    arrive = data.shift_start[None, :] + out
    reachable = arrive + data.service[:, None] + back <= data.shift_end[None, :]
    start = earliest_start(data, np.arange(data.n_visits)[:, None], arrive)
    ok = start + data.service[:, None] + back <= data.shift_end[None, :]
    fits = data.demand[:, None] <= data.capacity[None, :]
    return ok & reachable & fits, reachable, fits


def earliest_start(data: RoutingData, visits: np.ndarray, arrival: np.ndarray) -> np.ndarray:
    """Earliest start of service at or after ``arrival`` (broadcast), or ``NO_TIME``."""
    best = np.full(np.broadcast(visits, arrival).shape, NO_TIME, dtype=np.int64)
    for k in range(data.window_open.shape[1]):
        lo = data.window_open[visits, k]
        hi = data.window_close[visits, k]
        cand = np.maximum(arrival, lo)
        best = np.where((arrival <= hi) & (cand < best), cand, best)
    return best


def check_required(data: RoutingData) -> None:
    """A required visit that no officer can serve even alone makes the problem wrong."""
    if not data.required.any():
        return
    ok, reachable, fits = alone_feasibility(data)
    for i in np.flatnonzero(data.required & ~ok.any(axis=1)):
        if not fits[i].any():
            why = f"demand {data.demand[i]} exceeds every officer's capacity"
        elif not reachable[i].any():
            why = "no officer can reach it and return within the shift, even alone"
        else:
            why = "no officer can start it within its time windows and return in time, even alone"
        raise ProblemError(f"visits[{i}]", f"required visit {data.visit_ids[i]!r}: {why}")
