"""Snapping points (households, buildings, koban) to a street network.

Each point goes to the nearest edge of the network (a shapely ``STRtree`` on
the edge lines) and is placed on it at the closest position: its cost to the
two ends of the edge is the edge weight split at that position, so a point
in the middle of a long block is not moved to a corner. The snapping
distance is kept for every point.

Two cases are flagged rather than hidden:

``far_from_network``
    the nearest usable road is farther than ``max_snap_m``: the point is not
    snapped (its travel times become the unreachable sentinel).
``nearest_road_disconnected``
    the nearest road is a piece dropped from the network because it is not
    connected to the rest (an island, or a footway mapped without its
    junction): the point is snapped to the nearest connected road if that is
    within ``max_snap_m`` (the flag says how far), else it is not snapped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .network import StreetNetwork


@dataclass
class Snapping:
    """Where each point joins the network.

    Attributes
    ----------
    edge
        Index of the edge each point is snapped to, ``-1`` when not snapped.
    offset
        Integer cost (in the network's ``weight_unit``) from the edge's
        ``u`` end to the snapped position; the rest of the edge weight is
        the cost to ``v``. ``0`` for points not snapped.
    fraction
        Position along the edge as a fraction of its length.
    snap_m
        Distance in metres from the point to the network (to the nearest
        connected road, even when it is beyond ``max_snap_m``).
    snapped_xy
        The snapped positions in the network's CRS (the input point when not
        snapped).
    flagged
        One dict per flagged point: ``index``, ``code``, ``message``,
        ``snap_m``.
    """

    edge: np.ndarray
    offset: np.ndarray
    fraction: np.ndarray
    snap_m: np.ndarray
    snapped_xy: np.ndarray
    flagged: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of snapped points."""
        out: np.ndarray = self.edge >= 0
        return out


def _edge_tree(net: StreetNetwork, dropped: bool) -> tuple[Any, Any]:
    import shapely

    key = "tree:dropped" if dropped else "tree:kept"
    if key not in net._cache:
        offsets = net.dropped_geometry_offsets if dropped else net.geometry_offsets
        xy = net.dropped_geometry_xy if dropped else net.geometry_xy
        n = offsets.shape[0] - 1
        if n == 0:
            net._cache[key] = (None, None)
        else:
            idx = np.repeat(np.arange(n), np.diff(offsets))
            lines = np.asarray(shapely.linestrings(xy, indices=idx))
            net._cache[key] = (shapely.STRtree(lines), lines)
    tree_lines: tuple[Any, Any] = net._cache[key]
    return tree_lines


def snap_points(
    net: StreetNetwork, xy_m: np.ndarray, *, max_snap_m: float | None = None
) -> Snapping:
    """Snap metric points (in ``net.crs``) to the nearest edge of ``net``.

    Parameters
    ----------
    net
        The street network.
    xy_m
        ``(n, 2)`` points in metres of ``net.crs`` (see
        :meth:`StreetNetwork.to_metric`).
    max_snap_m
        Farther points are flagged and not snapped (default
        ``net.params.max_snap_m``).
    """
    import shapely

    limit = float(net.params.max_snap_m if max_snap_m is None else max_snap_m)
    pts_xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
    n = pts_xy.shape[0]
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.zeros(n, dtype=np.int64)
    fraction = np.zeros(n, dtype=float)
    snap_m = np.full(n, np.inf, dtype=float)
    snapped = pts_xy.copy()
    flagged: list[dict[str, Any]] = []
    if n == 0:
        return Snapping(edge, offset, fraction, snap_m, snapped, flagged)
    points = np.asarray(shapely.points(pts_xy))
    tree, lines = _edge_tree(net, dropped=False)
    (p_idx, e_idx), dist = tree.query_nearest(points, return_distance=True, all_matches=False)
    nearest = np.full(n, -1, dtype=np.int64)
    nearest[p_idx] = e_idx
    snap_m[p_idx] = dist
    d_tree, _ = _edge_tree(net, dropped=True)
    d_dist = np.full(n, np.inf)
    if d_tree is not None:
        (dp_idx, _), dd = d_tree.query_nearest(points, return_distance=True, all_matches=False)
        d_dist[dp_idx] = dd
    ok = snap_m <= limit
    sel = np.flatnonzero(ok)
    if sel.shape[0]:
        e = nearest[sel]
        frac = shapely.line_locate_point(lines[e], points[sel], normalized=True)
        frac = np.clip(np.nan_to_num(frac, nan=0.0), 0.0, 1.0)
        w = net.edge_weight[e]
        edge[sel] = e
        fraction[sel] = frac
        offset[sel] = np.clip(np.rint(frac * w).astype(np.int64), 0, w)
        on = shapely.line_interpolate_point(lines[e], frac, normalized=True)
        snapped[sel] = shapely.get_coordinates(on)
    for i in np.flatnonzero(~ok):
        flagged.append(
            {
                "index": int(i),
                "code": "far_from_network",
                "message": (
                    f"nearest {net.mode} road is {snap_m[i]:.0f} m away, beyond "
                    f"max_snap_m={limit:g}; not snapped, travel times unreachable"
                ),
                "snap_m": float(snap_m[i]),
            }
        )
    for i in np.flatnonzero((d_dist < snap_m) & (d_dist <= limit)):
        where = (
            f"snapped to the connected network {snap_m[i]:.0f} m away instead"
            if ok[i]
            else "the connected network is beyond max_snap_m"
        )
        flagged.append(
            {
                "index": int(i),
                "code": "nearest_road_disconnected",
                "message": (
                    f"nearest {net.mode} road ({d_dist[i]:.0f} m) is not connected to the "
                    f"network; {where}"
                ),
                "snap_m": float(snap_m[i]),
            }
        )
    flagged.sort(key=lambda f: (f["index"], f["code"]))
    return Snapping(edge, offset, fraction, snap_m, snapped, flagged)
