"""What a day is built from: the officer, the households' points and CRS, the travel source."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError, Problem
from ..settings import ISHIKAWA_CRS
from ..travel import UNREACHABLE_S, TravelMatrix, TravelParams, straight_line_matrix

#: Where travel times come from: straight-line parameters, a street network
#: (:class:`junkai_geo.network.StreetNetwork`), or any callable xy -> matrix.
TravelSource = TravelParams | Callable[[np.ndarray], TravelMatrix] | Any | None


def officer_fields(officer: Any) -> dict[str, Any]:
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


def household_xy(households: pd.DataFrame) -> np.ndarray:
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


def crs_of(*frames: Any) -> str:
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


def to_lonlat(xy: np.ndarray, crs: str) -> np.ndarray:
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(lon, float), np.asarray(lat, float)])


def is_network(travel: Any) -> bool:
    # Without the network module loaded nothing can be a StreetNetwork; not
    # importing it spares its import time on every straight-line plan.
    module = sys.modules.get("junkai_geo.network")
    return module is not None and isinstance(travel, module.StreetNetwork)


def travel_matrix_of(
    travel: TravelSource, xy: np.ndarray, ids: list[str], mode: str, crs: str
) -> TravelMatrix:
    if travel is None or isinstance(travel, TravelParams):
        return straight_line_matrix(xy, ids=ids, mode=mode, params=travel)
    if is_network(travel):
        from ..travel import network_matrix

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


def speeds_of(travel: TravelSource, mode: str) -> tuple[float, float]:
    if isinstance(travel, TravelParams):
        p = travel
    elif is_network(travel):
        p = travel.params  # type: ignore[union-attr]
    else:
        p = TravelParams()
    return p.speed_mps(mode), p.detour_factor(mode)


def straight_line_params(travel: TravelSource) -> TravelParams | None:
    if travel is None:
        return TravelParams()
    return travel if isinstance(travel, TravelParams) else None


def leg_paths_of(
    travel: Any, loc_xy: np.ndarray, crs: str, matrix: TravelMatrix
) -> dict[str, tuple[tuple[float, float], ...]]:
    """Street paths of every leg a route may use (not into the start, not out of the end)."""
    from ..travel import route_paths

    d = matrix.durations_s
    n = len(loc_xy)
    pairs = [
        (a, b)
        for a in range(n)
        for b in range(n)
        if a != b and b != 0 and a != 1 and d[a, b] < UNREACHABLE_S
    ]
    paths = route_paths(travel, loc_xy, crs=crs, pairs=pairs)
    return {f"{a}-{b}": tuple(p) for (a, b), p in sorted(paths.items())}
