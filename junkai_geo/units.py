"""Units that beats are built from: adjacency between them and household blocks.

A unit is a polygon (a 町丁目, or a block made from households where no
polygons exist). Two units are neighbours when their boundaries share at least
``min_shared_m`` metres once each is grown by ``snap_m`` (so slivers and
rounding between polygons that should touch do not split the map). Units that
touch nothing (islands, a district across a river without a bridge in the
data) are joined to their nearest unit by an explicit *bridge* edge and
reported, so that the beats stay contiguous in a documented sense instead of
the solver failing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass
class UnitGraph:
    """Adjacency of ``n`` units as neighbour lists, plus the bridges added.

    ``bridges`` are ``(i, j, distance_m)`` edges added between separate
    parts of the map (islands); they count as adjacency for contiguity.
    """

    n: int
    neighbours: list[list[int]]
    bridges: list[tuple[int, int, float]] = field(default_factory=list)

    @property
    def edges(self) -> np.ndarray:
        """Undirected edges ``(i, j)`` with ``i < j``, shape ``(m, 2)``."""
        pairs = [(i, j) for i, nb in enumerate(self.neighbours) for j in nb if i < j]
        if not pairs:
            return np.zeros((0, 2), dtype=np.int64)
        return np.asarray(pairs, dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "edges": int(len(self.edges)),
            "bridges": [
                {"from": int(i), "to": int(j), "distance_m": round(float(d), 1)}
                for i, j, d in self.bridges
            ],
        }


def unit_adjacency(
    geometries: Any, *, snap_m: float = 1.0, min_shared_m: float = 1.0
) -> list[list[int]]:
    """Neighbour lists of polygons that share a boundary.

    Parameters
    ----------
    geometries
        Polygons in a metric CRS (sequence or array of shapely geometries).
    snap_m
        Gap tolerated between polygons that should touch, in metres.
    min_shared_m
        Length of shared boundary (beyond the ``2 * snap_m`` a corner shows
        once grown) below which a contact does not count, in metres; with
        ``min_shared_m = 0`` and ``snap_m = 0`` any contact counts (queen).
    """
    geoms = np.asarray(geometries, dtype=object)
    n = len(geoms)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    if n == 0:
        return neighbours
    grown = shapely.buffer(geoms, snap_m) if snap_m > 0 else geoms
    tree = shapely.STRtree(geoms)
    left, right = tree.query(grown, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if (min_shared_m > 0 or snap_m > 0) and len(left):
        # Length of j's boundary lying within i grown by snap_m: shared edge.
        shared = shapely.length(shapely.intersection(grown[left], shapely.boundary(geoms[right])))
        # A corner within snap_m shows up as up to 2 * snap_m of shared edge.
        ok = shared >= min_shared_m + 2 * snap_m
        left, right = left[ok], right[ok]
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        neighbours[i].append(j)
        neighbours[j].append(i)
    for nb in neighbours:
        nb.sort()
    return neighbours


def bridge_components(geometries: Any, neighbours: list[list[int]]) -> list[tuple[int, int, float]]:
    """Edges that join every separate part of the unit map to the main part.

    Each smaller connected part (an island of one or more units) is joined by
    one edge, from its unit nearest to the rest of the map to that nearest
    unit, smallest parts first, until the map is one piece. ``neighbours`` is
    extended in place.
    """
    geoms = np.asarray(geometries, dtype=object)
    n = len(geoms)
    bridges: list[tuple[int, int, float]] = []
    if n <= 1:
        return bridges
    while True:
        labels = _components(n, neighbours)
        n_parts = int(labels.max()) + 1
        if n_parts == 1:
            return bridges
        sizes = np.bincount(labels)
        main = int(np.argmax(sizes))
        # Join the smallest part to whatever is nearest outside it.
        part = int(np.argsort(sizes, kind="stable")[0])
        if part == main:
            part = int(np.argsort(sizes, kind="stable")[1])
        inside = np.flatnonzero(labels == part)
        outside = np.flatnonzero(labels != part)
        tree = shapely.STRtree(geoms[outside])
        idx, dist = tree.query_nearest(geoms[inside], return_distance=True, all_matches=False)
        k = int(np.argmin(dist))
        i = int(inside[idx[0, k]])
        j = int(outside[idx[1, k]])
        neighbours[i].append(j)
        neighbours[j].append(i)
        neighbours[i].sort()
        neighbours[j].sort()
        bridges.append((min(i, j), max(i, j), float(dist[k])))


def build_unit_graph(
    geometries: Any, *, snap_m: float = 1.0, min_shared_m: float = 1.0
) -> UnitGraph:
    """Adjacency of units with islands bridged to their nearest unit."""
    neighbours = unit_adjacency(geometries, snap_m=snap_m, min_shared_m=min_shared_m)
    bridges = bridge_components(geometries, neighbours)
    return UnitGraph(n=len(neighbours), neighbours=neighbours, bridges=bridges)


def _components(n: int, neighbours: list[list[int]]) -> np.ndarray:
    rows = [i for i, nb in enumerate(neighbours) for _ in nb]
    cols = [j for nb in neighbours for j in nb]
    data = np.ones(len(rows), dtype=np.int8)
    graph = coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def household_block_units(
    households: gpd.GeoDataFrame, *, cell_m: float = 250.0, id_prefix: str = "C"
) -> gpd.GeoDataFrame:
    """Square blocks made from household points where no unit polygons exist.

    Every ``cell_m`` square of a grid aligned on multiples of ``cell_m`` that
    holds at least one household becomes a unit. ``households`` must be in a
    metric CRS. Returns a GeoDataFrame with ``unit_id``, ``households``,
    ``area_m2`` and ``geometry`` in the households' CRS.
    """
    import geopandas as gpd
    import pandas as pd

    if cell_m <= 0:
        from .errors import ParameterError

        raise ParameterError(f"cell_m: found {cell_m!r}; expected a number > 0")
    xs = households.geometry.x.to_numpy()
    ys = households.geometry.y.to_numpy()
    cx = np.floor(xs / cell_m).astype(np.int64)
    cy = np.floor(ys / cell_m).astype(np.int64)
    counts = pd.DataFrame({"cx": cx, "cy": cy}).value_counts().sort_index()
    keys = counts.index.to_frame(index=False)
    x0 = keys["cx"].to_numpy() * cell_m
    y0 = keys["cy"].to_numpy() * cell_m
    boxes = shapely.box(x0, y0, x0 + cell_m, y0 + cell_m)
    ids = [f"{id_prefix}{a}_{b}" for a, b in zip(keys["cx"], keys["cy"], strict=True)]
    return gpd.GeoDataFrame(
        {
            "unit_id": ids,
            "households": counts.to_numpy().astype(np.int64),
            "area_m2": np.full(len(ids), cell_m * cell_m),
        },
        geometry=boxes,
        crs=households.crs,
    )


def unit_of_points(unit_geometries: Any, points: Any) -> np.ndarray:
    """Index of the unit containing each point, or of the nearest unit."""
    geoms = np.asarray(unit_geometries, dtype=object)
    pts = np.asarray(points, dtype=object)
    out = np.full(len(pts), -1, dtype=np.int64)
    if len(pts) == 0:
        return out
    tree = shapely.STRtree(geoms)
    p_idx, g_idx = tree.query(pts, predicate="within")
    # A point on a shared edge is 'within' none; first match wins otherwise.
    for p, g in zip(p_idx.tolist()[::-1], g_idx.tolist()[::-1], strict=True):
        out[p] = g
    missing = np.flatnonzero(out < 0)
    if len(missing):
        near = tree.query_nearest(pts[missing], all_matches=False)
        out[missing[near[0]]] = near[1]
    return out


def weighted_kmeans(
    xy: np.ndarray, weights: np.ndarray, k: int, *, seed: int = 0, iterations: int = 50
) -> np.ndarray:
    """Centres of ``k`` clusters of points, each point counting by its weight.

    Seeded k-means++ start then Lloyd iterations; deterministic for a seed.
    ``k`` is capped at the number of distinct points. Returns ``(k', 2)``.
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    w = np.asarray(weights, dtype=float)
    if len(pts) == 0:
        return np.zeros((0, 2))
    distinct = np.unique(pts, axis=0)
    k = max(1, min(int(k), len(distinct)))
    # Zero-weight points (vacant homes) still place the cuts sensibly.
    w = np.where(w > 0, w, 1e-9)
    rng = np.random.default_rng(seed)
    centres = [pts[int(np.argmax(w))]]
    for _ in range(1, k):
        d2 = np.min(((pts[:, None, :] - np.asarray(centres)[None, :, :]) ** 2).sum(-1), axis=1)
        score = d2 * w
        if score.sum() <= 0:
            break
        centres.append(pts[int(rng.choice(len(pts), p=score / score.sum()))])
    c = np.asarray(centres)
    for _ in range(iterations):
        label = np.argmin(((pts[:, None, :] - c[None, :, :]) ** 2).sum(-1), axis=1)
        mass = np.bincount(label, weights=w, minlength=len(c))
        sx = np.bincount(label, weights=w * pts[:, 0], minlength=len(c))
        sy = np.bincount(label, weights=w * pts[:, 1], minlength=len(c))
        new = c.copy()
        ok = mass > 0
        new[ok, 0] = sx[ok] / mass[ok]
        new[ok, 1] = sy[ok] / mass[ok]
        if np.allclose(new, c, atol=1e-3):
            c = new
            break
        c = new
    # Coincident centres would make a degenerate Voronoi diagram.
    return np.unique(np.round(c, 3), axis=0)


def split_polygon(polygon: Any, centres: np.ndarray) -> list[Any]:
    """Voronoi cells of ``centres`` clipped to ``polygon``: pieces that tile it.

    A cell that the clipping leaves in several parts (a concave unit) keeps
    its largest part; the others join the piece they share most boundary
    with, so every piece is in one part where the polygon allows it. Empty
    pieces are dropped. The pieces' union is the polygon and they do not
    overlap (up to floating-point noise).
    """
    poly = shapely.make_valid(polygon)
    c = np.asarray(centres, dtype=float).reshape(-1, 2)
    if len(c) <= 1:
        return [poly]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(c), extend_to=poly, ordered=True)
    )
    pieces = [shapely.make_valid(shapely.intersection(cell, poly)) for cell in cells]
    pieces = [_polygonal(p) for p in pieces]
    main: list[Any] = []
    stray: list[Any] = []
    for p in pieces:
        parts = sorted(shapely.get_parts(p), key=shapely.area, reverse=True)
        parts = [q for q in parts if shapely.area(q) > 0]
        if not parts:
            continue
        main.append(parts[0])
        stray.extend(parts[1:])
    for q in sorted(stray, key=shapely.area, reverse=True):
        grown = shapely.buffer(q, 1e-6)
        shared = [shapely.length(shapely.intersection(grown, shapely.boundary(m))) for m in main]
        best = int(np.argmax(shared))
        if shared[best] > 0:
            main[best] = _polygonal(shapely.make_valid(shapely.union(main[best], q)))
        else:
            # Touches no other piece (a separate part of a multipart unit).
            main.append(q)
    return main


def _polygonal(geom: Any) -> Any:
    """Only the polygonal parts of ``geom`` (intersections can leave lines)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]
