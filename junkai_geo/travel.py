"""Travel-time and distance matrices between points, and their parameters.

Two sources of travel times exist:

``network``
    shortest paths on a street network built from an OpenStreetMap extract
    (see :mod:`junkai_geo.network`), computed by :func:`network_matrix`.
``straight_line``
    the fallback when no street network is available: the straight-line
    distance times a detour factor, at the mode's speed
    (:func:`straight_line_matrix`). Every such result says so in ``source``
    and in ``notes``, so a plan built on it can tell its reader.

Both give integer seconds and integer metres, so that downstream solvers work
on exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ParameterError
from .settings import check_positive

#: Travel modes with a speed and a detour factor in :class:`TravelParams`.
MODES = ("walk", "bicycle", "car")


@dataclass(frozen=True)
class TravelParams:
    """Speeds, detour factors and snapping limit for travel times.

    Speeds are used both for the straight-line fallback and as the default
    speed on network edges of each mode. The detour factor (network distance
    over straight-line distance) is only used by the fallback: 1.3 is the
    usual ratio in dense urban grids.
    """

    walk_speed_mps: float = 1.3
    bicycle_speed_mps: float = 4.0
    car_speed_mps: float = 8.0
    walk_detour_factor: float = 1.3
    bicycle_detour_factor: float = 1.3
    car_detour_factor: float = 1.4
    max_snap_m: float = 300.0

    def __post_init__(self) -> None:
        check_positive(
            self,
            "walk_speed_mps",
            "bicycle_speed_mps",
            "car_speed_mps",
            "walk_detour_factor",
            "bicycle_detour_factor",
            "car_detour_factor",
            "max_snap_m",
        )
        for name in ("walk_detour_factor", "bicycle_detour_factor", "car_detour_factor"):
            if getattr(self, name) < 1.0:
                raise ParameterError(
                    f"TravelParams.{name}: found {getattr(self, name)!r}; expected a number >= 1 "
                    "(a path is never shorter than the straight line)"
                )

    def speed_mps(self, mode: str) -> float:
        """The speed of ``mode`` in metres per second."""
        return float(getattr(self, f"{check_mode(mode)}_speed_mps"))

    def detour_factor(self, mode: str) -> float:
        """The straight-line detour factor of ``mode``."""
        return float(getattr(self, f"{check_mode(mode)}_detour_factor"))


def check_mode(mode: str) -> str:
    """Return ``mode`` if known, else raise ``ParameterError``."""
    if mode not in MODES:
        raise ParameterError(f"mode: found {mode!r}; expected one of {list(MODES)}")
    return mode


@dataclass
class TravelMatrix:
    """Durations and distances between points, in input order.

    Attributes
    ----------
    ids
        Point ids, in the order of the matrix rows and columns.
    durations_s, distances_m
        ``n x n`` integer arrays; entry ``[i, j]`` is the travel from point
        ``i`` to point ``j``. Never negative, never infinite: an unreachable
        pair holds ``unreachable_s`` / ``unreachable_m`` and is listed in
        ``flagged``.
    source
        ``"network"`` or ``"straight_line"``.
    mode
        ``"walk"``, ``"bicycle"`` or ``"car"``.
    snap_m
        Distance in metres from each point to the network (``None`` for the
        straight-line source).
    flagged
        One dict per point (or pair) that needs attention, with ``id``,
        ``code`` and ``message``; for example a point farther than
        ``max_snap_m`` from any road.
    notes
        Plain sentences for the reader of a plan, for example that the times
        are straight line x detour factor.
    """

    ids: list[str]
    durations_s: np.ndarray
    distances_m: np.ndarray
    source: str
    mode: str
    snap_m: np.ndarray | None = None
    flagged: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("durations_s", "distances_m"):
            arr = getattr(self, name)
            if arr.shape != (n, n):
                raise ValueError(f"TravelMatrix.{name}: shape {arr.shape}; expected ({n}, {n})")
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"TravelMatrix.{name}: dtype {arr.dtype}; expected integers")

    @property
    def n(self) -> int:
        """Number of points."""
        return len(self.ids)

    def index_of(self, point_id: str) -> int:
        """Row / column of ``point_id``."""
        return self.ids.index(point_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (nested lists of ints)."""
        return {
            "ids": list(self.ids),
            "source": self.source,
            "mode": self.mode,
            "durations_s": self.durations_s.astype(np.int64).tolist(),
            "distances_m": self.distances_m.astype(np.int64).tolist(),
            "snap_m": None if self.snap_m is None else [float(v) for v in self.snap_m],
            "flagged": [dict(f) for f in self.flagged],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TravelMatrix:
        """Inverse of :meth:`to_dict`."""
        snap = data.get("snap_m")
        return cls(
            ids=[str(i) for i in data["ids"]],
            durations_s=np.asarray(data["durations_s"], dtype=np.int64).reshape(
                len(data["ids"]), len(data["ids"])
            ),
            distances_m=np.asarray(data["distances_m"], dtype=np.int64).reshape(
                len(data["ids"]), len(data["ids"])
            ),
            source=str(data["source"]),
            mode=str(data["mode"]),
            snap_m=None if snap is None else np.asarray(snap, dtype=float),
            flagged=list(data.get("flagged", [])),
            notes=list(data.get("notes", [])),
        )


def straight_line_matrix(
    xy_m: np.ndarray,
    *,
    ids: list[str] | None = None,
    mode: str = "walk",
    params: TravelParams | None = None,
) -> TravelMatrix:
    """Travel matrix from straight-line distances times a detour factor.

    Parameters
    ----------
    xy_m
        ``(n, 2)`` coordinates in metres of a metric CRS.
    ids
        Point ids (default ``"0"``, ``"1"``, ...).
    mode
        ``"walk"``, ``"bicycle"`` or ``"car"``: picks speed and detour factor.
    params
        Speeds and detour factors (default :class:`TravelParams`).

    Returns
    -------
    TravelMatrix
        ``distances_m = round(euclid * detour)``,
        ``durations_s = round(euclid * detour / speed)``, with
        ``source="straight_line"`` and a note saying so.
    """
    params = params or TravelParams()
    check_mode(mode)
    xy = np.asarray(xy_m, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ParameterError(f"xy_m: found shape {xy.shape}; expected (n, 2) metres")
    if not np.all(np.isfinite(xy)):
        bad = np.flatnonzero(~np.all(np.isfinite(xy), axis=1)).tolist()
        raise ParameterError(f"xy_m: rows {bad[:10]} are not finite; expected metres")
    n = xy.shape[0]
    if ids is None:
        ids = [str(i) for i in range(n)]
    ids = [str(i) for i in ids]
    if len(ids) != n:
        raise ParameterError(f"ids: found {len(ids)} ids; expected {n} (one per point)")
    detour = params.detour_factor(mode)
    speed = params.speed_mps(mode)
    diff = xy[:, None, :] - xy[None, :, :]
    euclid = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    path_m = euclid * detour
    distances = np.rint(path_m).astype(np.int64)
    durations = np.rint(path_m / speed).astype(np.int64)
    note = (
        f"travel times are straight line x {detour:g} at {speed:g} m/s ({mode}); "
        "no street network was used"
    )
    return TravelMatrix(
        ids=ids,
        durations_s=durations,
        distances_m=distances,
        source="straight_line",
        mode=mode,
        snap_m=None,
        flagged=[],
        notes=[note],
    )
