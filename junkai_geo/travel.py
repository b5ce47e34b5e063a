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

import copy
import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import settings
from .errors import ParameterError
from .travel_params import MODES as MODES  # re-exported: travel.MODES keeps working
from .travel_params import TravelParams, check_mode

if TYPE_CHECKING:
    from .network import StreetNetwork


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


# --------------------------------------------------------------------------
# Network matrices
# --------------------------------------------------------------------------

#: Duration given to a pair with no network path (a point not snapped, or a
#: pair beyond ``limit_s``): about 116 days, far above any working day, so a
#: solver treats it as infeasible, yet small enough that sums of a few of
#: them stay exact in int64 (and in int32 for a single entry). Such pairs are
#: always listed in ``TravelMatrix.flagged``.
UNREACHABLE_S = 10_000_000
#: Distance given to the same pairs (10,000 km).
UNREACHABLE_M = 10_000_000

#: Bumped when the matrix computation changes, so old caches are not reused.
_MATRIX_VERSION = 1
#: Matrices kept in memory, most recent last.
_MEMORY_CACHE: OrderedDict[str, TravelMatrix] = OrderedDict()
_MEMORY_CACHE_SIZE = 16
#: Dijkstra rows computed at once are bounded to about this many float64
#: values (64 MB), so a regional extract does not need n x V memory.
_CHUNK_VALUES = 8_000_000


def network_matrix(
    network: StreetNetwork,
    points: np.ndarray,
    *,
    crs: str = "EPSG:4326",
    ids: list[str] | None = None,
    max_snap_m: float | None = None,
    limit_s: float | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> TravelMatrix:
    """Many-to-many travel matrix on a street network.

    Parameters
    ----------
    network
        Graph of one mode (:func:`junkai_geo.network.read_network`).
    points
        ``(n, 2)`` points in ``crs`` (default longitude / latitude).
    crs
        CRS of ``points``, for example ``"EPSG:6675"`` for the model's metres.
    ids
        Point ids (default ``"0"``, ``"1"``, ...).
    max_snap_m
        Points farther from the network are flagged and unreachable
        (default ``network.params.max_snap_m``).
    limit_s
        Stop each search at this duration; farther pairs get
        :data:`UNREACHABLE_S` and are flagged. ``None`` searches the whole
        network.
    cache
        Look up and store the result in memory and under ``cache_dir``.
    cache_dir
        Disk cache directory (default ``settings.CACHE_DIR``, or the
        ``JUNKAI_CACHE_DIR`` environment variable when set).

    Returns
    -------
    TravelMatrix
        Integer seconds and metres with ``source="network"``. Durations are
        the exact shortest-path cost in integer graph units rounded up to
        whole seconds (and distances to whole metres); rounding up keeps
        the triangle inequality exact. Pairs that cannot be reached hold
        :data:`UNREACHABLE_S` / :data:`UNREACHABLE_M` and are flagged.
    """
    pts = _check_points(points, ids)
    ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(pts.shape[0])]
    key = ""
    if cache:
        key = _sha256(
            repr(
                (
                    _MATRIX_VERSION,
                    network.fingerprint(),
                    crs,
                    ids,
                    pts.tobytes().hex(),
                    max_snap_m,
                    limit_s,
                )
            )
        )
        hit = _cache_get(key, cache_dir)
        if hit is not None:
            return hit
    result = _compute_network_matrix(network, pts, crs, ids, max_snap_m, limit_s)
    if cache:
        _cache_put(key, result, cache_dir)
    return result


def _compute_network_matrix(
    net: StreetNetwork,
    pts: np.ndarray,
    crs: str,
    ids: list[str],
    max_snap_m: float | None,
    limit_s: float | None,
) -> TravelMatrix:
    from .snapping import snap_points

    n = pts.shape[0]
    snap = snap_points(net, net.to_metric(pts, crs=crs), max_snap_m=max_snap_m)
    ok = np.flatnonzero(snap.ok)
    uniform = net.profile.uniform_speed
    speed = net.speed_mm_per_s
    limit_w = np.inf
    if limit_s is not None:
        if limit_s <= 0:
            raise ParameterError(f"limit_s: found {limit_s!r}; expected seconds > 0 or None")
        limit_w = float(limit_s) * (speed if uniform else 1000.0)
    n_beyond = 0
    sub_dur: np.ndarray = np.zeros((0, 0), dtype=np.int64)
    sub_dist: np.ndarray | None = np.zeros((0, 0), dtype=np.int64)
    if ok.shape[0]:
        cost = _point_costs(net, snap, ok, "weight", limit_w)
        sub_dur, sub_dist, n_beyond = _to_seconds_metres(
            cost, speed if uniform else 1000, 1000 if uniform else None
        )
        if not uniform:
            # Any path within limit_s is at most limit_s x the top speed long.
            top = net.params.speed_mps(net.mode) * max(net.profile.speed_factors.values())
            limit_len = np.inf if limit_s is None else float(limit_s) * top * 1000.0
            length = _point_costs(net, snap, ok, "length", limit_len)
            length[sub_dur == UNREACHABLE_S] = np.inf
            sub_dist = _to_seconds_metres(length, 1000, 1000)[1]
    assert sub_dist is not None
    if ok.shape[0] == n:
        durations, distances = sub_dur, sub_dist
    else:
        durations = np.full((n, n), UNREACHABLE_S, dtype=np.int64)
        distances = np.full((n, n), UNREACHABLE_M, dtype=np.int64)
        if ok.shape[0]:
            durations[np.ix_(ok, ok)] = sub_dur
            distances[np.ix_(ok, ok)] = sub_dist
    np.fill_diagonal(durations, 0)
    np.fill_diagonal(distances, 0)
    flagged = [dict(f, id=ids[f["index"]]) for f in snap.flagged]
    if n_beyond:
        flagged.append(
            {
                "index": None,
                "id": None,
                "code": "beyond_limit",
                "message": (
                    f"{n_beyond} pair(s) farther than limit_s={limit_s:g} s hold "
                    f"UNREACHABLE_S={UNREACHABLE_S}"
                ),
                "snap_m": None,
            }
        )
    notes = [
        f"travel times on the OpenStreetMap {net.mode} network of "
        f"{Path(net.source_file).name} at {net.params.speed_mps(net.mode):g} m/s"
        + ("" if uniform else " x road-class factors"),
    ]
    if not uniform:
        notes.append(
            "distances are shortest-path lengths; the fastest route can be a little longer"
        )
    n_far = int(n - ok.shape[0])
    if n_far:
        notes.append(
            f"{n_far} point(s) not snapped (farther than max_snap_m from any connected road): "
            f"their travel times are UNREACHABLE_S={UNREACHABLE_S}"
        )
    if net.dropped.get("components"):
        notes.append(
            f"{net.dropped['components']} piece(s) of road not connected to the main network "
            f"({net.dropped['length_km']} km) are not used"
        )
    snap_m = np.where(np.isfinite(snap.snap_m), snap.snap_m, -1.0)
    return TravelMatrix(
        ids=ids,
        durations_s=durations,
        distances_m=distances,
        source="network",
        mode=net.mode,
        snap_m=np.round(snap_m, 2),
        flagged=flagged,
        notes=notes,
    )


def _to_seconds_metres(
    cost: np.ndarray, per_second: int, per_metre: int | None
) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Exact integer costs (float array, inf = unreached) rounded up to whole
    seconds and metres, with the sentinels for unreached pairs.

    Rounding up is subadditive (ceil(a + b) <= ceil(a) + ceil(b)), so the
    triangle inequality of the exact costs survives the rounding.
    """
    reached = np.isfinite(cost)
    all_reached = bool(reached.all())
    if not all_reached:
        cost[~reached] = 0.0
    c = cost.astype(np.int64)
    dur = c + (per_second - 1)
    dur //= per_second
    dist = None
    if per_metre is not None:
        dist = c + (per_metre - 1)
        dist //= per_metre
    if not all_reached:
        dur[~reached] = UNREACHABLE_S
        if dist is not None:
            dist[~reached] = UNREACHABLE_M
    return dur, dist, int((~reached).sum())


def _check_points(points: np.ndarray, ids: list[str] | None) -> np.ndarray:
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ParameterError(f"points: found shape {pts.shape}; expected (n, 2)")
    bad = np.flatnonzero(~np.all(np.isfinite(pts), axis=1))
    if bad.shape[0]:
        raise ParameterError(
            f"points: rows {bad[:10].tolist()} are not finite; expected coordinates"
        )
    if ids is not None and len(ids) != pts.shape[0]:
        raise ParameterError(f"ids: found {len(ids)} ids; expected {pts.shape[0]}")
    if ids is not None and len(set(map(str, ids))) != len(ids):
        raise ParameterError("ids: found duplicates; expected one distinct id per point")
    return np.ascontiguousarray(pts)


@dataclass
class _Augmented:
    """The network's arcs plus arcs that split edges at snapped points."""

    csr: Any
    point_nodes: np.ndarray  # graph node of each snapped point, in ``ok`` order
    tail: np.ndarray
    head: np.ndarray
    edge: np.ndarray
    frac_from: np.ndarray
    frac_to: np.ndarray


def _augment(net: StreetNetwork, snap: Any, ok: np.ndarray, weight: str) -> _Augmented:
    """Insert snapped points ``ok`` as graph nodes on their edges.

    Points on one edge are chained in order of position
    (``u - p1 - p2 - ... - v``) with the integer differences of their
    offsets as weights, so that the pieces add up exactly to the edge and
    two points on the same edge reach each other along it.
    """
    import scipy.sparse as sp

    tail, head, w, e = net.arcs("weight" if weight == "weight" else "length")
    fw_frac = np.where(net.edge_u[e] == tail, 0.0, 1.0)
    V = net.n_vertices
    k = ok.shape[0]
    pe = snap.edge[ok]
    ew = net.edge_weight if weight == "weight" else net.edge_length_mm
    if weight == "weight":
        off = snap.offset[ok]
    else:
        off = np.clip(np.rint(snap.fraction[ok] * ew[pe]).astype(np.int64), 0, ew[pe])
    frac = snap.fraction[ok]
    order = np.lexsort((np.arange(k), off, pe))
    s_edge, s_off, s_frac = pe[order], off[order], frac[order]
    s_node = V + order  # point j (in ok order) is node V + j
    first = np.ones(k, dtype=bool)
    first[1:] = s_edge[1:] != s_edge[:-1]
    last = np.ones(k, dtype=bool)
    last[:-1] = s_edge[1:] != s_edge[:-1]
    prev_node = np.where(first, net.edge_u[s_edge], np.roll(s_node, 1))
    prev_off = np.where(first, 0, np.roll(s_off, 1))
    prev_frac = np.where(first, 0.0, np.roll(s_frac, 1))
    next_node = np.where(last, net.edge_v[s_edge], np.roll(s_node, -1))
    next_off = np.where(last, ew[s_edge], np.roll(s_off, -1))
    next_frac = np.where(last, 1.0, np.roll(s_frac, -1))
    fwd = net.edge_forward[s_edge]
    bwd = net.edge_backward[s_edge]
    # Arcs prev->p and p->next along the edge; their reverses if two-way.
    # The piece p->next of a point is the piece prev->p of the next one, so
    # only the arcs ending a chain (p_last->v) are added from ``next``.
    p_tail = np.concatenate(
        [prev_node[fwd], s_node[fwd & last], s_node[bwd], next_node[bwd & last]]
    )
    p_head = np.concatenate(
        [s_node[fwd], next_node[fwd & last], prev_node[bwd], s_node[bwd & last]]
    )
    p_w = np.concatenate(
        [
            (s_off - prev_off)[fwd],
            (next_off - s_off)[fwd & last],
            (s_off - prev_off)[bwd],
            (next_off - s_off)[bwd & last],
        ]
    )
    p_e = np.concatenate([s_edge[fwd], s_edge[fwd & last], s_edge[bwd], s_edge[bwd & last]])
    p_ff = np.concatenate([prev_frac[fwd], s_frac[fwd & last], s_frac[bwd], next_frac[bwd & last]])
    p_ft = np.concatenate([s_frac[fwd], next_frac[fwd & last], prev_frac[bwd], s_frac[bwd & last]])
    # Points at one spot reach each other at no cost even on a one-way edge.
    z = p_w == 0
    p_tail, p_head = np.concatenate([p_tail, p_head[z]]), np.concatenate([p_head, p_tail[z]])
    p_w, p_e = np.concatenate([p_w, p_w[z]]), np.concatenate([p_e, p_e[z]])
    p_ff, p_ft = np.concatenate([p_ff, p_ft[z]]), np.concatenate([p_ft, p_ff[z]])
    # A loop edge (u == v) can give the same pair twice: keep the lighter.
    o = np.lexsort((p_w, p_head, p_tail))
    p_tail, p_head, p_w, p_e, p_ff, p_ft = (a[o] for a in (p_tail, p_head, p_w, p_e, p_ff, p_ft))
    keep = np.ones(p_tail.shape[0], dtype=bool)
    keep[1:] = (p_tail[1:] != p_tail[:-1]) | (p_head[1:] != p_head[:-1])
    p_tail, p_head, p_w, p_e, p_ff, p_ft = (a[keep] for a in (p_tail, p_head, p_w, p_e, p_ff, p_ft))
    all_tail = np.concatenate([tail, p_tail])
    all_head = np.concatenate([head, p_head])
    all_w = np.concatenate([w, p_w]).astype(np.float64)
    size = V + k
    # Explicit zero weights (two points at one spot) are arcs for csgraph.
    csr = sp.csr_matrix((all_w, (all_tail, all_head)), shape=(size, size))
    return _Augmented(
        csr=csr,
        point_nodes=V + np.arange(k),
        tail=all_tail,
        head=all_head,
        edge=np.concatenate([e, p_e]),
        frac_from=np.concatenate([fw_frac, p_ff]),
        frac_to=np.concatenate([1.0 - fw_frac, p_ft]),
    )


def _point_offsets(net: StreetNetwork, snap: Any, ok: np.ndarray, weight: str) -> np.ndarray:
    """Integer cost from each snapped point's edge ``u`` end to the point."""
    if weight == "weight":
        out: np.ndarray = snap.offset[ok]
        return out
    full = net.edge_length_mm[snap.edge[ok]]
    return np.clip(np.rint(snap.fraction[ok] * full).astype(np.int64), 0, full)


def _base_csr(net: StreetNetwork, weight: str) -> Any:
    import scipy.sparse as sp

    key = f"csr:{weight}"
    if key not in net._cache:
        tail, head, w, _ = net.arcs("weight" if weight == "weight" else "length")
        size = net.n_vertices
        net._cache[key] = sp.csr_matrix((w.astype(np.float64), (tail, head)), shape=(size, size))
    return net._cache[key]


def _point_costs(
    net: StreetNetwork, snap: Any, ok: np.ndarray, weight: str, limit: float
) -> np.ndarray:
    """Shortest-path costs between snapped points ``ok`` (float, inf if beyond ``limit``).

    A point splits its edge ``u - v`` into ``off`` and ``w - off``. A path
    from point p to point q leaves p's edge by one end, crosses the graph
    between vertices and enters q's edge by one end, or stays on a shared
    edge. So Dijkstra runs only from the vertices that points leave by, on
    the network's own graph, and the point-to-point costs are the minimum
    over the (at most) 2 x 2 ways in and out, plus the direct run along a
    shared edge: the same exact integer costs as inserting every point in
    the graph, with fewer and smaller searches.
    """
    from scipy.sparse.csgraph import dijkstra

    from .network import _ranges

    k = ok.shape[0]
    pe = snap.edge[ok]
    off = _point_offsets(net, snap, ok, weight).astype(np.float64)
    full = (net.edge_weight if weight == "weight" else net.edge_length_mm)[pe].astype(np.float64)
    fwd = net.edge_forward[pe]
    bwd = net.edge_backward[pe]
    u, v = net.edge_u[pe], net.edge_v[pe]
    inf = np.inf
    # Ways out of a point: to v along the edge if forward, to u if backward;
    # ways in: from u if forward, from v if backward. A point exactly on an
    # end is that vertex, whatever the edge's direction.
    at_u, at_v = off == 0, off == full
    out_node = (v, u)
    out_cost = (np.where(fwd | at_v, full - off, inf), np.where(bwd | at_u, off, inf))
    in_node = (u, v)
    in_cost = (np.where(fwd | at_u, off, inf), np.where(bwd | at_v, full - off, inf))
    sources = np.unique(
        np.concatenate([n[np.isfinite(c)] for n, c in zip(out_node, out_cost, strict=True)])
    )
    targets = np.unique(
        np.concatenate([n[np.isfinite(c)] for n, c in zip(in_node, in_cost, strict=True)])
    )
    csr = _base_csr(net, weight)
    between = np.empty((sources.shape[0], targets.shape[0]), dtype=np.float64)
    step = max(1, _CHUNK_VALUES // max(1, net.n_vertices))
    for s in range(0, sources.shape[0], step):
        dist = dijkstra(csr, directed=True, indices=sources[s : s + step], limit=limit)
        between[s : s + step] = dist[:, targets]
    # First the cost from every source vertex to every point (best way in),
    # then from every point (best way out): 2 gathers of |S| x k and 2 of k x k.
    to_point: np.ndarray | None = None
    for node_i, cost_i in zip(in_node, in_cost, strict=True):
        if targets.shape[0] == 0:
            break
        cols = np.searchsorted(targets, node_i).clip(0, targets.shape[0] - 1)
        cand = between[:, cols]
        cand += cost_i[None, :]
        to_point = cand if to_point is None else np.minimum(to_point, cand, out=to_point)
    result = np.full((k, k), inf) if to_point is None else None
    for node_o, cost_o in zip(out_node, out_cost, strict=True):
        if to_point is None:
            break
        rows = np.searchsorted(sources, node_o).clip(0, sources.shape[0] - 1)
        cand = to_point[rows]
        cand += cost_o[:, None]
        result = cand if result is None else np.minimum(result, cand, out=result)
    assert result is not None
    # Points sharing an edge also reach each other directly along it.
    order = np.argsort(pe, kind="stable")
    se = pe[order]
    starts = np.flatnonzero(np.r_[True, se[1:] != se[:-1]])
    sizes = np.diff(np.r_[starts, k])
    multi = sizes > 1
    if multi.any():
        g_start, g_size = starts[multi], sizes[multi]
        rep = np.repeat(g_size, g_size)
        first = np.repeat(g_start, g_size)
        members = order[_ranges(g_start, g_size)]
        p = np.repeat(members, rep)
        q = order[_ranges(first, rep)]
        d = off[q] - off[p]
        direct = np.where((d > 0) & fwd[p], d, inf)
        direct = np.minimum(direct, np.where((d < 0) & bwd[p], -d, inf))
        direct[d == 0] = 0.0
        np.minimum.at(result, (p, q), direct)
    result[result > limit] = inf
    np.fill_diagonal(result, 0.0)
    return result


@dataclass
class Route:
    """The path between two points, for drawing.

    ``lonlat`` is the polyline from the origin's snapped position to the
    destination's; ``duration_s`` and ``distance_m`` equal the matrix entry
    of the same pair.
    """

    mode: str
    source: str
    lonlat: list[tuple[float, float]]
    duration_s: int
    distance_m: int
    snap_m: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "source": self.source,
            "lonlat": [list(p) for p in self.lonlat],
            "duration_s": self.duration_s,
            "distance_m": self.distance_m,
            "snap_m": list(self.snap_m),
        }

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature (LineString) with the route's figures as properties."""
        props = {k: v for k, v in self.to_dict().items() if k != "lonlat"}
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(p) for p in self.lonlat]},
            "properties": props,
        }


def route_path(
    network: StreetNetwork,
    origin: tuple[float, float],
    destination: tuple[float, float],
    *,
    crs: str = "EPSG:4326",
    max_snap_m: float | None = None,
) -> Route:
    """Fastest path between two points on ``network``, with its geometry.

    Raises
    ------
    NetworkError
        A point is farther than ``max_snap_m`` from the connected network.
    """
    import shapely
    from scipy.sparse.csgraph import dijkstra
    from shapely.ops import substring

    from .errors import NetworkError
    from .snapping import snap_points

    pts = _check_points(np.asarray([origin, destination], dtype=float), None)
    snap = snap_points(network, network.to_metric(pts, crs=crs), max_snap_m=max_snap_m)
    if not snap.ok.all():
        bad = [f["message"] for f in snap.flagged if f["code"] == "far_from_network"]
        raise NetworkError(f"{Path(network.source_file).name}: cannot route: {'; '.join(bad)}")
    ok = np.arange(2)
    aug = _augment(network, snap, ok, "weight")
    dist, pred = dijkstra(
        aug.csr, directed=True, indices=int(aug.point_nodes[0]), return_predecessors=True
    )
    target = int(aug.point_nodes[1])
    nodes = [target]
    while nodes[-1] != aug.point_nodes[0]:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()
    arc_index = _arc_lookup(aug)
    coords: list[np.ndarray] = [snap.snapped_xy[0][None, :]]
    length_mm = 0.0
    for a, b in zip(nodes[:-1], nodes[1:], strict=True):
        i = int(arc_index[a, b]) - 1
        e = int(aug.edge[i])
        line = shapely.LineString(network.edge_coords(e))
        f0, f1 = float(aug.frac_from[i]), float(aug.frac_to[i])
        piece = substring(line, f0, f1, normalized=True)
        coords.append(shapely.get_coordinates(piece))
        length_mm += abs(f1 - f0) * float(network.edge_length_mm[e])
    coords.append(snap.snapped_xy[1][None, :])
    xy = np.concatenate(coords)
    keep = np.ones(xy.shape[0], dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 1e-6, axis=1)
    lonlat = network.to_lonlat(xy[keep])
    cost = int(dist[target])
    if network.profile.uniform_speed:
        duration = -(-cost // network.speed_mm_per_s)
        distance = -(-cost // 1000)
    else:
        duration = -(-cost // 1000)
        distance = int(np.ceil(length_mm / 1000.0))
    return Route(
        mode=network.mode,
        source="network",
        lonlat=[(float(x), float(y)) for x, y in lonlat],
        duration_s=int(duration),
        distance_m=int(distance),
        snap_m=(float(snap.snap_m[0]), float(snap.snap_m[1])),
    )


def _arc_lookup(aug: _Augmented) -> Any:
    import scipy.sparse as sp

    size = aug.csr.shape[0]
    idx = np.arange(1, aug.tail.shape[0] + 1, dtype=np.int64)
    return sp.csr_matrix((idx, (aug.tail, aug.head)), shape=(size, size))


def travel_matrix(
    points: np.ndarray,
    *,
    mode: str = "walk",
    network: StreetNetwork | None = None,
    crs: str = "EPSG:4326",
    ids: list[str] | None = None,
    params: TravelParams | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> TravelMatrix:
    """Travel matrix on ``network`` if given, else the straight-line fallback.

    ``points`` are in ``crs`` (default longitude / latitude); for the
    fallback they are projected to the metric CRS of their centre (or used
    as they are when ``crs`` is already metric).
    """
    check_mode(mode)
    if network is not None:
        if network.mode != mode:
            raise ParameterError(
                f"mode: found {mode!r} but the network is for {network.mode!r}; expected the same"
            )
        return network_matrix(network, points, crs=crs, ids=ids, cache=cache, cache_dir=cache_dir)
    pts = _check_points(points, ids)
    return straight_line_matrix(_to_metric_any(pts, crs), ids=ids, mode=mode, params=params)


def _to_metric_any(pts: np.ndarray, crs: str) -> np.ndarray:
    """Points in ``crs`` to metres: as they are if metric, else to the local metric CRS."""
    from pyproj import CRS, Transformer

    from .projection import metric_crs_for

    src = CRS.from_user_input(crs)
    if src.is_projected:
        return pts.astype(float)
    to_ll = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(pts[:, 0], pts[:, 1])
    if len(lon) == 0:
        return pts.astype(float)
    target = metric_crs_for(float(np.mean(lon)), float(np.mean(lat)))
    x, y = Transformer.from_crs("EPSG:4326", target, always_xy=True).transform(lon, lat)
    return np.column_stack([x, y])


# --------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``JUNKAI_CACHE_DIR``, else ``settings.CACHE_DIR``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("JUNKAI_CACHE_DIR")
    return Path(env) if env else settings.CACHE_DIR


def _cache_get(key: str, cache_dir: str | Path | None) -> TravelMatrix | None:
    if key in _MEMORY_CACHE:
        _MEMORY_CACHE.move_to_end(key)
        return copy.deepcopy(_MEMORY_CACHE[key])
    path = resolve_cache_dir(cache_dir) / "matrices" / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        result = load_matrix_npz(path)
    except (OSError, ValueError, KeyError):
        return None  # an unreadable cache entry is recomputed and overwritten
    _remember(key, result)
    return copy.deepcopy(result)


def _cache_put(key: str, result: TravelMatrix, cache_dir: str | Path | None) -> None:
    _remember(key, copy.deepcopy(result))
    folder = resolve_cache_dir(cache_dir) / "matrices"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.{os.getpid()}.tmp.npz"
        save_matrix_npz(result, tmp)
        tmp.replace(folder / f"{key}.npz")
    except OSError:
        pass  # a read-only or full disk only costs a recomputation next time


def _remember(key: str, result: TravelMatrix) -> None:
    _MEMORY_CACHE[key] = result
    _MEMORY_CACHE.move_to_end(key)
    while len(_MEMORY_CACHE) > _MEMORY_CACHE_SIZE:
        _MEMORY_CACHE.popitem(last=False)


def clear_memory_cache() -> None:
    """Forget matrices cached in memory (the disk cache stays)."""
    _MEMORY_CACHE.clear()


def save_matrix_npz(matrix: TravelMatrix, path: str | Path) -> None:
    """Write a matrix as ``.npz``: ``durations_s``, ``distances_m``, ``ids``,
    ``snap_m``, ``source``, ``mode`` and ``meta_json`` (flags and notes)."""
    snap = matrix.snap_m if matrix.snap_m is not None else np.full(matrix.n, np.nan)
    meta = json.dumps({"flagged": matrix.flagged, "notes": matrix.notes}, ensure_ascii=False)
    with open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            durations_s=matrix.durations_s.astype(np.int64),
            distances_m=matrix.distances_m.astype(np.int64),
            ids=np.asarray(matrix.ids, dtype=str),
            snap_m=np.asarray(snap, dtype=float),
            source=np.asarray(matrix.source),
            mode=np.asarray(matrix.mode),
            meta_json=np.asarray(meta),
        )


def load_matrix_npz(path: str | Path) -> TravelMatrix:
    """Read a matrix written by :func:`save_matrix_npz`."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta_json"]))
        source = str(z["source"])
        snap = z["snap_m"].astype(float)
        return TravelMatrix(
            ids=[str(i) for i in z["ids"].tolist()],
            durations_s=z["durations_s"].astype(np.int64),
            distances_m=z["distances_m"].astype(np.int64),
            source=source,
            mode=str(z["mode"]),
            snap_m=None if source == "straight_line" else snap,
            flagged=list(meta["flagged"]),
            notes=list(meta["notes"]),
        )
