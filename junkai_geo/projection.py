"""Choosing a metric CRS and moving between it and longitude / latitude."""

from __future__ import annotations

import math

# Origins (lat, lon in degrees) of the Japan Plane Rectangular CS zones I-XIII
# on JGD2011 (EPSG:6669 + zone - 1). Zones XIV-XIX cover remote islands and
# are only chosen when data lies there.
_JPRCS_ORIGINS: dict[int, tuple[float, float]] = {
    1: (33.0, 129.5),
    2: (33.0, 131.0),
    3: (36.0, 132 + 10 / 60),
    4: (33.0, 133.5),
    5: (36.0, 134 + 20 / 60),
    6: (36.0, 136.0),
    7: (36.0, 137 + 10 / 60),
    8: (36.0, 138.5),
    9: (36.0, 139 + 50 / 60),
    10: (40.0, 140 + 50 / 60),
    11: (44.0, 140.25),
    12: (44.0, 142.25),
    13: (44.0, 144.25),
    14: (26.0, 142.0),
    15: (26.0, 127.5),
    16: (26.0, 124.0),
    17: (26.0, 131.0),
    18: (20.0, 136.0),
    19: (26.0, 154.0),
}

#: Rough bounding box of Japan (lon_min, lat_min, lon_max, lat_max).
JAPAN_BOUNDS = (122.0, 20.0, 154.0, 46.0)


def in_japan(lon: float, lat: float) -> bool:
    """True when the point lies in Japan's bounding box."""
    x0, y0, x1, y1 = JAPAN_BOUNDS
    return x0 <= lon <= x1 and y0 <= lat <= y1


def metric_crs_for(lon: float, lat: float) -> str:
    """A projected CRS suited to data centred on (lon, lat).

    In Japan: the Japan Plane Rectangular CS zone whose origin is nearest
    (Ishikawa gets zone VII, EPSG:6675, as the prefecture uses). Zones are
    defined by prefecture, not by distance, so a user near a zone border can
    pass the official zone explicitly; the nearest origin is never more than a
    few kilometres of scale error off. Elsewhere: the UTM zone on WGS84.
    """
    if in_japan(lon, lat):
        best = min(
            _JPRCS_ORIGINS,
            key=lambda z: _deg_dist(lat, lon, *_JPRCS_ORIGINS[z]),
        )
        return f"EPSG:{6668 + best}"
    zone = int((lon + 180) // 6) + 1
    zone = min(max(zone, 1), 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _deg_dist(lat: float, lon: float, lat0: float, lon0: float) -> float:
    return math.hypot((lon - lon0) * math.cos(math.radians(lat)), lat - lat0)
