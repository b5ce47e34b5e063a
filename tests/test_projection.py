from __future__ import annotations

import pytest

from junkai_geo.projection import in_japan, metric_crs_for


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [
        (136.65, 36.56, "EPSG:6675"),  # Kanazawa: zone VII
        (139.69, 35.69, "EPSG:6677"),  # Tokyo: zone IX
        (141.35, 43.06, "EPSG:6680"),  # Sapporo: zone XII
        (24.94, 60.17, "EPSG:32635"),  # Helsinki: UTM 35N
        (-70.6, -33.4, "EPSG:32719"),  # Santiago: UTM 19S
    ],
)
def test_metric_crs(lon, lat, crs):
    assert metric_crs_for(lon, lat) == crs


def test_in_japan():
    assert in_japan(136.65, 36.56)
    assert not in_japan(36.56, 136.65)  # swapped
