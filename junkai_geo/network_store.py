"""Street networks kept with an area's data: clipped once, stored as bytes.

``junkai-geo import network AREA.osm.pbf`` reads the extract once
(:func:`junkai_geo.network.read_highways`), keeps the ways inside the area's
beats plus a margin (:func:`clip_ways`), builds the walking and bicycle
graphs and stores each as one blob (:func:`network_to_bytes`); every plan
of that area reads it back (:func:`network_from_bytes`) instead of parsing
the extract again.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import shapely

from .errors import NetworkError
from .network import PROFILES, RawWays, StreetNetwork
from .travel import TravelParams

#: Margin kept around the area's beats when clipping, metres: a route
#: between two households of the beat may leave it along a bigger road.
DEFAULT_MARGIN_M = 500.0

_ARRAYS = (
    "vertex_xy",
    "vertex_osm_id",
    "edge_u",
    "edge_v",
    "edge_forward",
    "edge_backward",
    "edge_weight",
    "edge_length_mm",
    "edge_way_id",
    "geometry_offsets",
    "geometry_xy",
    "dropped_geometry_offsets",
    "dropped_geometry_xy",
)
_FORMAT = 1


def clip_ways(raw: RawWays, area_lonlat: Any) -> RawWays:
    """The ways of ``raw`` cut to the polygon ``area_lonlat`` (lon / lat).

    A way that leaves the area is split into its stretches of two or more
    nodes inside it, as :func:`~junkai_geo.network.read_highways` does with
    a way that leaves the extract.

    Raises
    ------
    NetworkError
        No way of the file has two nodes inside the area.
    """
    shapely.prepare(area_lonlat)
    inside = shapely.contains_xy(area_lonlat, raw.lonlat[:, 0], raw.lonlat[:, 1])
    n_ways = raw.way_ids.shape[0]
    way_of = np.repeat(np.arange(n_ways), np.diff(raw.offsets))
    # Runs of consecutive inside nodes of one way.
    start = inside.copy()
    start[1:] &= ~inside[:-1] | (way_of[1:] != way_of[:-1])
    run = np.cumsum(start) - 1
    run[~inside] = -1
    keep_nodes = np.flatnonzero(inside)
    runs, counts = np.unique(run[keep_nodes], return_counts=True)
    long_runs = runs[counts >= 2]
    node_mask = np.isin(run, long_runs) & inside
    kept = np.flatnonzero(node_mask)
    if kept.size == 0:
        raise NetworkError(
            f"{raw.path}: no street of the file lies within the workspace's beats and "
            "margin; expected an OSM extract that covers the beats"
        )
    run_of_kept = run[kept]
    first = np.ones(kept.size, dtype=bool)
    first[1:] = run_of_kept[1:] != run_of_kept[:-1]
    starts = np.flatnonzero(first)
    offsets = np.concatenate([starts, [kept.size]]).astype(np.int64)
    way_index = way_of[kept[starts]]
    return RawWays(
        path=raw.path,
        sha256=raw.sha256,
        way_ids=raw.way_ids[way_index],
        offsets=offsets,
        node_ids=raw.node_ids[kept],
        lonlat=raw.lonlat[kept],
        tags=[raw.tags[int(k)] for k in way_index],
    )


def network_to_bytes(net: StreetNetwork) -> bytes:
    """The graph as one compressed npz (arrays plus a JSON header)."""
    header = {
        "format": _FORMAT,
        "mode": net.mode,
        "profile": net.profile.to_dict(),
        "params": {k: float(v) for k, v in vars(net.params).items()},
        "source_file": net.source_file,
        "file_sha256": net.file_sha256,
        "crs": net.crs,
        "dropped": net.dropped,
    }
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        header=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
        **{name: getattr(net, name) for name in _ARRAYS},
    )
    return buf.getvalue()


def network_from_bytes(data: bytes) -> StreetNetwork:
    """A graph written by :func:`network_to_bytes`."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        header = json.loads(bytes(z["header"]).decode("utf-8"))
        if header.get("format") != _FORMAT:
            raise NetworkError(
                f"stored street network: format {header.get('format')!r}; expected {_FORMAT} "
                "(import the network again with `junkai-geo import network`)"
            )
        arrays: dict[str, Any] = {name: np.array(z[name]) for name in _ARRAYS}
    mode = str(header["mode"])
    profile = PROFILES[mode]
    if profile.to_dict() != header["profile"]:
        raise NetworkError(
            f"stored street network ({mode}): built with another profile than this version's; "
            "import the network again with `junkai-geo import network`"
        )
    return StreetNetwork(
        mode=mode,
        profile=profile,
        params=TravelParams(**header["params"]),
        source_file=str(header["source_file"]),
        file_sha256=str(header["file_sha256"]),
        crs=str(header["crs"]),
        dropped=dict(header["dropped"]),
        **arrays,
    )
