"""Street networks from OpenStreetMap extracts, one routable graph per travel mode.

Files are read with pyosmium (package ``osmium``): it reads ``.osm.pbf`` and
``.osm`` XML, ships binary wheels for every platform (nothing to compile) and
streams a regional extract such as Geofabrik's Chubu file at several million
objects per second while keeping node locations in a compact index. It is an
optional dependency (``pip install junkai-geo[network]``); the straight-line
fallback of :mod:`junkai_geo.travel` works without it.

A graph is built per mode from the ways that the mode's :class:`Profile`
allows. Its vertices are OSM nodes where ways meet or end; the nodes between
are kept as edge geometry (for snapping and drawing), which keeps the graph
small and the shortest-path searches fast. Coordinates are projected to the
metric CRS that :func:`junkai_geo.projection.metric_crs_for` picks for the
extract's centre.

Edge weights are integers so that every path cost is an exact integer sum:

* uniform-speed profiles (``walk``, ``bicycle``) weigh edges in millimetres;
  duration and distance both follow from the one shortest path;
* ``car`` has a speed per road class and weighs edges in milliseconds;
  its distances are the lengths of the shortest paths by length, searched
  separately (weights in millimetres).

Only the largest strongly connected component of each mode's graph is kept
(every pair of its vertices is reachable both ways); what was dropped is
reported in :attr:`StreetNetwork.dropped` and the dropped edges are kept for
telling a user that a point lies next to a road that is not connected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import NetworkError
from .projection import metric_crs_for
from .travel_params import TravelParams, check_mode

#: Tags read from every way; the rest are ignored.
_TAG_KEYS = (
    "highway",
    "access",
    "foot",
    "bicycle",
    "vehicle",
    "motor_vehicle",
    "motorcar",
    "oneway",
    "oneway:bicycle",
    "cycleway",
    "junction",
)

#: oneway=* values that mean "only forward".
_TRUTHY_ONEWAY = {"yes", "true", "1"}


@dataclass(frozen=True)
class Profile:
    """Which ways a travel mode may use and how fast.

    Attributes
    ----------
    mode
        ``"walk"``, ``"bicycle"`` or ``"car"``; the base speed is
        ``TravelParams.<mode>_speed_mps``.
    highways
        ``highway=*`` values usable by default.
    highways_if_allowed
        ``highway=*`` values usable only when the most specific access key
        explicitly allows the mode (for example a footway with
        ``bicycle=yes``).
    access_keys
        Access tags from the most general to the most specific; the last one
        present on a way decides.
    denied_access
        Access values that close a way to this mode.
    allowed_access
        Access values that open a ``highways_if_allowed`` way.
    oneway
        Whether ``oneway=*`` and roundabouts restrict the mode.
    oneway_exempt
        ``(key, value)`` pairs that lift a oneway for this mode
        (``oneway:bicycle=no``, ``cycleway=opposite``).
    implied_oneway
        ``highway=*`` values that are oneway unless tagged otherwise.
    speed_factors
        Speed of a road class relative to the base speed; classes not listed
        use the base speed. Empty means one speed on every way, and then
        the fastest path is the shortest one.
    """

    mode: str
    highways: frozenset[str]
    highways_if_allowed: frozenset[str] = frozenset()
    access_keys: tuple[str, ...] = ("access",)
    denied_access: frozenset[str] = frozenset({"no"})
    allowed_access: frozenset[str] = frozenset({"yes", "designated", "permissive"})
    oneway: bool = False
    oneway_exempt: tuple[tuple[str, str], ...] = ()
    implied_oneway: frozenset[str] = frozenset()
    speed_factors: Mapping[str, float] = field(default_factory=dict)

    @property
    def uniform_speed(self) -> bool:
        """True when every way has the base speed."""
        return not self.speed_factors

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "highways": sorted(self.highways),
            "highways_if_allowed": sorted(self.highways_if_allowed),
            "access_keys": list(self.access_keys),
            "denied_access": sorted(self.denied_access),
            "allowed_access": sorted(self.allowed_access),
            "oneway": self.oneway,
            "oneway_exempt": [list(p) for p in self.oneway_exempt],
            "implied_oneway": sorted(self.implied_oneway),
            "speed_factors": dict(sorted(self.speed_factors.items())),
        }

    def way_directions(self, tags: Mapping[str, str]) -> tuple[bool, bool]:
        """``(forward, backward)`` usability of a way with these tags."""
        highway = tags.get("highway", "")
        access = None
        for key in self.access_keys:
            if key in tags:
                access = tags[key]
        if highway in self.highways:
            if access in self.denied_access:
                return False, False
        elif highway in self.highways_if_allowed:
            if access not in self.allowed_access:
                return False, False
        else:
            return False, False
        if not self.oneway:
            return True, True
        if any(tags.get(k) == v for k, v in self.oneway_exempt):
            return True, True
        ow = tags.get("oneway")
        if ow in _TRUTHY_ONEWAY:
            return True, False
        if ow == "-1":
            return False, True
        if ow == "no":
            return True, True
        if tags.get("junction") in ("roundabout", "circular") or highway in self.implied_oneway:
            return True, False
        return True, True

    def speed_factor(self, highway: str) -> float:
        """Relative speed on ``highway=<highway>``."""
        return float(self.speed_factors.get(highway, 1.0))


_ROADS = frozenset(
    {
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)

#: Walking: every road but motorways, and footways, paths, steps, pedestrian
#: streets, platforms, corridors and lifts. Trunk roads stay in because
#: Japanese national routes (国道) are tagged trunk and have pavements.
#: ``access=private`` stays open: the households an officer visits are often
#: on private driveways and inside 団地 grounds.
WALK_PROFILE = Profile(
    mode="walk",
    highways=_ROADS
    | {
        "footway",
        "path",
        "pedestrian",
        "steps",
        "track",
        "cycleway",
        "bridleway",
        "platform",
        "corridor",
        "elevator",
        "trail",
    },
    access_keys=("access", "foot"),
    denied_access=frozenset({"no"}),
)

#: Cycling: roads, cycleways, paths and tracks; footways, pedestrian streets
#: and platforms only with an explicit ``bicycle=yes|designated|permissive``;
#: never steps nor motorways. One-way streets are respected unless
#: ``oneway:bicycle=no`` or a contraflow cycleway is tagged.
BICYCLE_PROFILE = Profile(
    mode="bicycle",
    highways=_ROADS | {"cycleway", "path", "track", "bridleway"},
    highways_if_allowed=frozenset({"footway", "pedestrian", "platform", "corridor"}),
    access_keys=("access", "vehicle", "bicycle"),
    denied_access=frozenset({"no", "dismount"}),
    oneway=True,
    oneway_exempt=(
        ("oneway:bicycle", "no"),
        ("cycleway", "opposite"),
        ("cycleway", "opposite_lane"),
        ("cycleway", "opposite_track"),
    ),
)

#: Driving (optional mode): roads by class, one-way streets respected, speed
#: relative to ``car_speed_mps`` (8 m/s, about 29 km/h, an urban average).
CAR_PROFILE = Profile(
    mode="car",
    highways=_ROADS | {"motorway", "motorway_link"},
    access_keys=("access", "vehicle", "motor_vehicle", "motorcar"),
    denied_access=frozenset({"no", "private", "agricultural", "forestry", "delivery"}),
    oneway=True,
    implied_oneway=frozenset({"motorway", "motorway_link"}),
    speed_factors={
        "motorway": 2.75,
        "motorway_link": 1.6,
        "trunk": 1.9,
        "trunk_link": 1.2,
        "primary": 1.5,
        "primary_link": 1.1,
        "secondary": 1.35,
        "secondary_link": 1.0,
        "tertiary": 1.2,
        "tertiary_link": 0.9,
        "unclassified": 1.0,
        "residential": 0.9,
        "road": 0.9,
        "living_street": 0.5,
        "service": 0.6,
    },
)

#: The named profiles, by mode.
PROFILES: dict[str, Profile] = {
    "walk": WALK_PROFILE,
    "bicycle": BICYCLE_PROFILE,
    "car": CAR_PROFILE,
}


@dataclass
class RawWays:
    """Highway ways read from a file, before any profile is applied.

    Ways are stored end to end: the nodes of way ``k`` are
    ``node_ids[offsets[k]:offsets[k + 1]]``. A way with nodes missing from
    the extract is split into its pieces with known locations.
    """

    path: str
    sha256: str
    way_ids: np.ndarray  # (W,) int64
    offsets: np.ndarray  # (W + 1,) int64
    node_ids: np.ndarray  # (N,) int64
    lonlat: np.ndarray  # (N, 2) float64
    tags: list[dict[str, str]]


@dataclass
class StreetNetwork:
    """The routable graph of one travel mode.

    Vertices are numbered ``0 .. n_vertices - 1``. Edge ``e`` joins
    ``edge_u[e]`` to ``edge_v[e]`` along ``geometry_xy[geometry_offsets[e]:
    geometry_offsets[e + 1]]`` (metres in ``crs``); it can be travelled from
    ``u`` to ``v`` when ``edge_forward[e]`` and back when ``edge_backward[e]``.
    ``edge_weight`` is an integer in ``weight_unit`` (``"mm"`` or ``"ms"``),
    ``edge_length_mm`` the integer length.
    """

    mode: str
    profile: Profile
    params: TravelParams
    source_file: str
    file_sha256: str
    crs: str
    vertex_xy: np.ndarray
    vertex_osm_id: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_forward: np.ndarray
    edge_backward: np.ndarray
    edge_weight: np.ndarray
    edge_length_mm: np.ndarray
    edge_way_id: np.ndarray
    geometry_offsets: np.ndarray
    geometry_xy: np.ndarray
    dropped: dict[str, Any]
    dropped_geometry_offsets: np.ndarray
    dropped_geometry_xy: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def weight_unit(self) -> str:
        """``"mm"`` for uniform-speed profiles, ``"ms"`` otherwise."""
        return "mm" if self.profile.uniform_speed else "ms"

    @property
    def speed_mm_per_s(self) -> int:
        """Base speed in whole millimetres per second (integer, for exact division)."""
        return max(1, round(self.params.speed_mps(self.mode) * 1000))

    @property
    def n_vertices(self) -> int:
        return int(self.vertex_xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    def edge_coords(self, e: int) -> np.ndarray:
        """Metric coordinates of edge ``e`` from ``u`` to ``v``."""
        return self.geometry_xy[self.geometry_offsets[e] : self.geometry_offsets[e + 1]]

    def fingerprint(self) -> str:
        """Content hash of (file, mode, profile, parameters): a cache key part."""
        return _sha256_text(
            repr(
                (
                    self.file_sha256,
                    self.mode,
                    sorted(self.profile.to_dict().items()),
                    sorted(vars(self.params).items()),
                    _GRAPH_VERSION,
                )
            )
        )

    def arcs(self, weight: str = "weight") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Directed arcs ``(tail, head, weight, edge)`` without duplicates or loops.

        ``weight`` is ``"weight"`` (the routing weight) or ``"length"``
        (millimetres). Of parallel arcs the lightest is kept.
        """
        key = f"arcs:{weight}"
        if key not in self._cache:
            w = self.edge_weight if weight == "weight" else self.edge_length_mm
            e = np.arange(self.n_edges)
            fw = self.edge_forward & (self.edge_u != self.edge_v)
            bw = self.edge_backward & (self.edge_u != self.edge_v)
            tail = np.concatenate([self.edge_u[fw], self.edge_v[bw]])
            head = np.concatenate([self.edge_v[fw], self.edge_u[bw]])
            ww = np.concatenate([w[fw], w[bw]])
            ee = np.concatenate([e[fw], e[bw]])
            order = np.lexsort((ww, head, tail))
            tail, head, ww, ee = tail[order], head[order], ww[order], ee[order]
            first = np.ones(tail.shape[0], dtype=bool)
            first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
            self._cache[key] = (tail[first], head[first], ww[first], ee[first])
        arcs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = self._cache[key]
        return arcs

    def summary(self) -> dict[str, Any]:
        """Counts and what was dropped, for reports and ``to_dict``."""
        return {
            "mode": self.mode,
            "source_file": self.source_file,
            "file_sha256": self.file_sha256,
            "crs": self.crs,
            "n_vertices": self.n_vertices,
            "n_edges": self.n_edges,
            "length_km": round(float(self.edge_length_mm.sum()) / 1e6, 3),
            "weight_unit": self.weight_unit,
            "profile": self.profile.to_dict(),
            "dropped": dict(self.dropped),
        }

    def to_dict(self) -> dict[str, Any]:
        return self.summary()

    def to_metric(self, points: np.ndarray, *, crs: str = "EPSG:4326") -> np.ndarray:
        """Points ``(n, 2)`` in ``crs`` (default lon/lat) to this network's metres."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if crs == self.crs:
            return pts.copy()
        x, y = _transformer(crs, self.crs).transform(pts[:, 0], pts[:, 1])
        return np.column_stack([x, y])

    def to_lonlat(self, xy_m: np.ndarray) -> np.ndarray:
        """Metric points ``(n, 2)`` to longitude / latitude."""
        pts = np.asarray(xy_m, dtype=float).reshape(-1, 2)
        lon, lat = _transformer(self.crs, "EPSG:4326").transform(pts[:, 0], pts[:, 1])
        return np.column_stack([lon, lat])


#: Bumped when the graph construction changes, so old caches are not reused.
_GRAPH_VERSION = 2


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_HASHES:
        h = hashlib.sha256()
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _FILE_HASHES[key] = h.hexdigest()
    return _FILE_HASHES[key]


_TRANSFORMERS: dict[tuple[str, str], Any] = {}


def _transformer(src: str, dst: str) -> Any:
    from pyproj import Transformer

    key = (src, dst)
    if key not in _TRANSFORMERS:
        _TRANSFORMERS[key] = Transformer.from_crs(src, dst, always_xy=True)
    return _TRANSFORMERS[key]


def read_highways(path: str | Path) -> RawWays:
    """Read every ``highway=*`` way with its node locations from an OSM file.

    Raises
    ------
    NetworkError
        The file is missing, truncated, corrupt or not an OSM file.
    """
    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise NetworkError(
            "reading OSM files needs pyosmium: pip install 'junkai-geo[network]' (package osmium)"
        ) from exc
    p = Path(path)
    if not p.is_file():
        raise NetworkError(f"{p}: street network file not found; expected an .osm.pbf or .osm file")
    way_ids: list[int] = []
    offsets: list[int] = [0]
    node_ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    tags: list[dict[str, str]] = []
    try:
        fp = (
            osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in fp:
            if not isinstance(way, osmium.osm.Way):
                continue
            wtags = {k: way.tags[k] for k in _TAG_KEYS if k in way.tags}
            # A way leaving the extract has nodes without location: keep each
            # located stretch of two or more nodes as its own way.
            piece_ids: list[int] = []
            piece_lon: list[float] = []
            piece_lat: list[float] = []
            for nd in way.nodes:
                loc = nd.location
                if loc.valid():
                    piece_ids.append(nd.ref)
                    piece_lon.append(loc.lon)
                    piece_lat.append(loc.lat)
                    continue
                if len(piece_ids) >= 2:
                    _append_way(way.id, wtags, piece_ids, piece_lon, piece_lat, way_ids, offsets, node_ids, lons, lats, tags)  # fmt: skip
                piece_ids, piece_lon, piece_lat = [], [], []
            if len(piece_ids) >= 2:
                _append_way(way.id, wtags, piece_ids, piece_lon, piece_lat, way_ids, offsets, node_ids, lons, lats, tags)  # fmt: skip
    except RuntimeError as exc:
        raise NetworkError(
            f"{p}: cannot read as an OpenStreetMap file ({exc}); expected a complete "
            ".osm.pbf or .osm XML extract, for example from Geofabrik"
        ) from exc
    return RawWays(
        path=str(p),
        sha256=file_sha256(p),
        way_ids=np.asarray(way_ids, dtype=np.int64),
        offsets=np.asarray(offsets, dtype=np.int64),
        node_ids=np.asarray(node_ids, dtype=np.int64),
        lonlat=np.column_stack(
            [np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)]
        ).reshape(-1, 2),
        tags=tags,
    )


def _append_way(
    way_id: int,
    wtags: dict[str, str],
    ids: list[int],
    lon: list[float],
    lat: list[float],
    way_ids: list[int],
    offsets: list[int],
    node_ids: list[int],
    lons: list[float],
    lats: list[float],
    tags: list[dict[str, str]],
) -> None:
    way_ids.append(way_id)
    node_ids.extend(ids)
    lons.extend(lon)
    lats.extend(lat)
    offsets.append(len(node_ids))
    tags.append(wtags)


def read_network(
    path: str | Path,
    mode: str = "walk",
    *,
    params: TravelParams | None = None,
    profile: Profile | None = None,
) -> StreetNetwork:
    """Read an OSM extract and build the routable graph of ``mode``.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` XML file.
    mode
        ``"walk"``, ``"bicycle"`` or ``"car"``.
    params
        Speeds (default :class:`~junkai_geo.travel.TravelParams`).
    profile
        Overrides the named profile of ``mode`` (:data:`PROFILES`).

    Raises
    ------
    NetworkError
        The file cannot be read, or it has no road usable by ``mode``.
    """
    check_mode(mode)
    raw = read_highways(path)
    return build_network(raw, mode, params=params, profile=profile)


def read_networks(
    path: str | Path,
    modes: Iterable[str] = ("walk", "bicycle"),
    *,
    params: TravelParams | None = None,
) -> dict[str, StreetNetwork]:
    """Like :func:`read_network` for several modes, reading the file once."""
    raw = read_highways(path)
    return {m: build_network(raw, check_mode(m), params=params) for m in modes}


def build_network(
    raw: RawWays,
    mode: str,
    *,
    params: TravelParams | None = None,
    profile: Profile | None = None,
) -> StreetNetwork:
    """Build the graph of ``mode`` from ways read by :func:`read_highways`."""
    params = params or TravelParams()
    profile = profile or PROFILES[check_mode(mode)]
    n_ways = raw.way_ids.shape[0]
    fwd = np.zeros(n_ways, dtype=bool)
    bwd = np.zeros(n_ways, dtype=bool)
    factor = np.ones(n_ways, dtype=float)
    for k, t in enumerate(raw.tags):
        fwd[k], bwd[k] = profile.way_directions(t)
        factor[k] = profile.speed_factor(t.get("highway", ""))
    keep = fwd | bwd
    if not keep.any():
        highways = sorted({t.get("highway", "") for t in raw.tags})
        raise NetworkError(
            f"{raw.path}: no road usable for mode '{mode}' (found {n_ways} highway way(s)"
            f"{', of types ' + ', '.join(highways[:12]) if highways else ''}); "
            f"expected ways of types {', '.join(sorted(profile.highways)[:12])}, ..."
        )
    # Gather the kept ways' nodes end to end.
    starts, ends = raw.offsets[:-1][keep], raw.offsets[1:][keep]
    lengths = ends - starts
    pos = _ranges(starts, lengths)
    nid = raw.node_ids[pos]
    lonlat = raw.lonlat[pos]
    way_of_node = np.repeat(np.arange(lengths.shape[0]), lengths)
    crs = metric_crs_for(*_centre(lonlat))
    x, y = _transformer("EPSG:4326", crs).transform(lonlat[:, 0], lonlat[:, 1])
    xy = np.column_stack([x, y])
    first = np.zeros(nid.shape[0], dtype=bool)
    last = np.zeros(nid.shape[0], dtype=bool)
    cum = np.concatenate([[0], np.cumsum(lengths)])
    first[cum[:-1]] = True
    last[cum[1:] - 1] = True
    # A vertex is a node where ways meet (used twice or more) or end.
    _, inverse, counts = np.unique(nid, return_inverse=True, return_counts=True)
    is_vertex = first | last | (counts[inverse] >= 2)
    # Segments join node i to i + 1 inside a way; edges are runs of segments
    # between vertices.
    seg = np.flatnonzero(~last)
    seg_len = np.hypot(*(xy[seg + 1] - xy[seg]).T)
    edge_of_seg = np.cumsum(is_vertex[seg]) - 1
    n_edges = int(edge_of_seg[-1]) + 1 if seg.shape[0] else 0
    edge_len_m = np.bincount(edge_of_seg, weights=seg_len, minlength=n_edges)
    seg_first = np.ones(seg.shape[0], dtype=bool)
    seg_first[1:] = edge_of_seg[1:] != edge_of_seg[:-1]
    seg_last = np.ones(seg.shape[0], dtype=bool)
    seg_last[:-1] = edge_of_seg[1:] != edge_of_seg[:-1]
    start_node = seg[seg_first]  # node position where each edge starts
    end_node = seg[seg_last] + 1
    e_way = way_of_node[start_node]
    kept_way_idx = np.flatnonzero(keep)
    e_fwd = fwd[kept_way_idx][e_way]
    e_bwd = bwd[kept_way_idx][e_way]
    e_factor = factor[kept_way_idx][e_way]
    e_osm_way = raw.way_ids[kept_way_idx][e_way]
    # Vertex numbering over the OSM ids of vertex nodes.
    vert_osm, vert_first_pos = np.unique(nid[is_vertex], return_index=True)
    vert_positions = np.flatnonzero(is_vertex)[vert_first_pos]
    e_u = np.searchsorted(vert_osm, nid[start_node])
    e_v = np.searchsorted(vert_osm, nid[end_node])
    length_mm = np.maximum(np.rint(edge_len_m * 1000.0), 0).astype(np.int64)
    if profile.uniform_speed:
        weight = length_mm.copy()
    else:
        speed = params.speed_mps(mode) * e_factor
        weight = np.rint(edge_len_m / speed * 1000.0).astype(np.int64)
    geom_offsets = np.concatenate([[0], np.cumsum(end_node - start_node + 1)]).astype(np.int64)
    geom_pos = _ranges(start_node, end_node - start_node + 1)
    geom_xy = xy[geom_pos]

    # Keep the largest strongly connected component.
    n_vert = vert_osm.shape[0]
    fw = e_fwd & (e_u != e_v)
    bw = e_bwd & (e_u != e_v)
    adj = sp.csr_matrix(
        (
            np.ones(int(fw.sum() + bw.sum()), dtype=np.int8),
            (np.concatenate([e_u[fw], e_v[bw]]), np.concatenate([e_v[fw], e_u[bw]])),
        ),
        shape=(n_vert, n_vert),
    )
    n_comp, labels = connected_components(adj, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    main = int(np.argmax(sizes))
    in_main = labels == main
    keep_edge = in_main[e_u] & in_main[e_v]
    if not keep_edge.any():
        raise NetworkError(
            f"{raw.path}: no connected road for mode '{mode}' (only isolated single "
            "nodes); expected at least one road usable in both directions"
        )
    new_index = np.cumsum(in_main) - 1
    dropped_e = np.flatnonzero(~keep_edge)
    dropped = {
        "components": int(n_comp - 1),
        "vertices": int(n_vert - in_main.sum()),
        "edges": int(dropped_e.shape[0]),
        "length_km": round(float(edge_len_m[dropped_e].sum()) / 1000.0, 3),
        "kept_fraction_of_length": round(
            float(edge_len_m[keep_edge].sum() / max(edge_len_m.sum(), 1e-9)), 4
        ),
    }
    ke = np.flatnonzero(keep_edge)
    k_offsets, k_xy = _subset_geometry(geom_offsets, geom_xy, ke)
    d_offsets, d_xy = _subset_geometry(geom_offsets, geom_xy, dropped_e)
    g = _contract_degree_two(
        {
            "u": new_index[e_u[ke]].astype(np.int64),
            "v": new_index[e_v[ke]].astype(np.int64),
            "fwd": e_fwd[ke],
            "bwd": e_bwd[ke],
            "weight": weight[ke],
            "length": length_mm[ke],
            "way": e_osm_way[ke],
            "factor": e_factor[ke],
            "offsets": k_offsets,
            "xy": k_xy,
        },
        int(in_main.sum()),
    )
    keep_v = g["keep_vertex"]
    return StreetNetwork(
        mode=mode,
        profile=profile,
        params=params,
        source_file=raw.path,
        file_sha256=raw.sha256,
        crs=crs,
        vertex_xy=xy[vert_positions][in_main][keep_v],
        vertex_osm_id=vert_osm[in_main][keep_v],
        edge_u=g["u"],
        edge_v=g["v"],
        edge_forward=g["fwd"],
        edge_backward=g["bwd"],
        edge_weight=g["weight"],
        edge_length_mm=g["length"],
        edge_way_id=g["way"],
        geometry_offsets=g["offsets"],
        geometry_xy=g["xy"],
        dropped=dropped,
        dropped_geometry_offsets=d_offsets,
        dropped_geometry_xy=d_xy,
    )


def _contract_degree_two(g: dict[str, np.ndarray], n_vertices: int) -> dict[str, np.ndarray]:
    """Merge edges through vertices that join exactly two edges alike.

    Such a vertex (where one way continues as another, same directions) is
    never a choice point, so removing it changes no path cost (the integer
    weights add up) but makes every search smaller. The merged edge keeps
    the full geometry and the OSM way id of its first piece.
    """
    g = dict(g)
    factor = g.pop("factor")
    u, v, fwd, bwd = g["u"], g["v"], g["fwd"], g["bwd"]
    n_e = u.shape[0]
    deg = np.bincount(u, minlength=n_vertices) + np.bincount(v, minlength=n_vertices)
    ends = np.concatenate([u, v])
    edge_of_end = np.concatenate([np.arange(n_e), np.arange(n_e)])
    order = np.argsort(ends, kind="stable")
    first_end = np.searchsorted(ends[order], np.arange(n_vertices))
    inc1 = np.full(n_vertices, -1, dtype=np.int64)
    inc2 = np.full(n_vertices, -1, dtype=np.int64)
    two = deg == 2
    inc1[two] = edge_of_end[order[first_end[two]]]
    inc2[two] = edge_of_end[order[first_end[two] + 1]]
    candidate = two & (inc1 != inc2)
    x = np.flatnonzero(candidate)
    e1, e2 = inc1[x], inc2[x]
    # Directions of e1 arriving at x and of e2 leaving x.
    f1 = np.where(v[e1] == x, fwd[e1], bwd[e1])
    b1 = np.where(v[e1] == x, bwd[e1], fwd[e1])
    f2 = np.where(u[e2] == x, fwd[e2], bwd[e2])
    b2 = np.where(u[e2] == x, bwd[e2], fwd[e2])
    contractible = np.zeros(n_vertices, dtype=bool)
    # Same speed on both sides too, so that a point's cost along the merged
    # edge stays proportional to its position.
    same = (f1 == f2) & (b1 == b2) & (factor[e1] == factor[e2])
    contractible[x[same]] = True
    if not contractible.any():
        return {**g, "keep_vertex": np.ones(n_vertices, dtype=bool)}

    visited = np.zeros(n_e, dtype=bool)
    chains: list[list[tuple[int, bool]]] = []  # (edge, reversed)
    u_l, v_l, inc1_l, inc2_l = u.tolist(), v.tolist(), inc1.tolist(), inc2.tolist()
    contr_l = contractible.tolist()

    def walk(start: int, e: int) -> list[tuple[int, bool]]:
        chain: list[tuple[int, bool]] = []
        at = start
        while True:
            rev = u_l[e] != at
            chain.append((e, rev))
            visited[e] = True
            at = u_l[e] if rev else v_l[e]
            if not contr_l[at] or at == start:
                return chain
            e = inc2_l[at] if inc1_l[at] == e else inc1_l[at]

    for e in range(n_e):
        if visited[e]:
            continue
        if not contr_l[u_l[e]]:
            chains.append(walk(u_l[e], e))
        elif not contr_l[v_l[e]]:
            chains.append(walk(v_l[e], e))
    for e in range(n_e):  # rings of contractible vertices only: keep one vertex
        if not visited[e]:
            contr_l[u_l[e]] = False
            chains.append(walk(u_l[e], e))
    contractible = np.asarray(contr_l, dtype=bool)
    offsets, xy = g["offsets"], g["xy"]
    out: dict[str, list[Any]] = {k: [] for k in ("u", "v", "fwd", "bwd", "weight", "length", "way")}
    pieces: list[np.ndarray] = []
    new_offsets = [0]
    for chain in chains:
        e0, r0 = chain[0]
        el, rl = chain[-1]
        out["u"].append(v_l[e0] if r0 else u_l[e0])
        out["v"].append(u_l[el] if rl else v_l[el])
        out["fwd"].append(bool(bwd[e0] if r0 else fwd[e0]))
        out["bwd"].append(bool(fwd[e0] if r0 else bwd[e0]))
        out["weight"].append(int(sum(int(g["weight"][e]) for e, _ in chain)))
        out["length"].append(int(sum(int(g["length"][e]) for e, _ in chain)))
        out["way"].append(int(g["way"][e0]))
        n_pts = 0
        for k, (e, rev) in enumerate(chain):
            c = xy[offsets[e] : offsets[e + 1]]
            c = c[::-1] if rev else c
            pieces.append(c if k == 0 else c[1:])
            n_pts += c.shape[0] if k == 0 else c.shape[0] - 1
        new_offsets.append(new_offsets[-1] + n_pts)
    keep_vertex = ~contractible
    renumber = np.cumsum(keep_vertex) - 1
    return {
        "u": renumber[np.asarray(out["u"], dtype=np.int64)],
        "v": renumber[np.asarray(out["v"], dtype=np.int64)],
        "fwd": np.asarray(out["fwd"], dtype=bool),
        "bwd": np.asarray(out["bwd"], dtype=bool),
        "weight": np.asarray(out["weight"], dtype=np.int64),
        "length": np.asarray(out["length"], dtype=np.int64),
        "way": np.asarray(out["way"], dtype=np.int64),
        "offsets": np.asarray(new_offsets, dtype=np.int64),
        "xy": np.concatenate(pieces).reshape(-1, 2),
        "keep_vertex": keep_vertex,
    }


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each start and length."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(lengths)
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - (cum - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


def _subset_geometry(
    offsets: np.ndarray, xy: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = offsets[edges + 1] - offsets[edges]
    new_offsets = np.concatenate([[0], np.cumsum(n)]).astype(np.int64)
    return new_offsets, xy[_ranges(offsets[edges], n)].reshape(-1, 2)


def _centre(lonlat: np.ndarray) -> tuple[float, float]:
    lo = lonlat.min(axis=0)
    hi = lonlat.max(axis=0)
    return float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2)
