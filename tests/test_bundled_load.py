"""The bundled Kanazawa data loads, validates and matches its meta.json."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from junkai_geo import bundled
from junkai_geo.cards import card_table
from junkai_geo.errors import JunkaiGeoError
from junkai_geo.model import LAYER_COLUMNS


@pytest.fixture(scope="module")
def kanazawa():  # type: ignore[no-untyped-def]
    return bundled.load_kanazawa()


def test_data_dir_is_in_the_checkout() -> None:
    assert Path(__file__).resolve().parents[1] / "data" / "kanazawa" == bundled.DATA_DIR
    assert bundled.as_of() == date(2026, 11, 1)


def test_every_layer_loads_in_the_ishikawa_crs(kanazawa) -> None:  # type: ignore[no-untyped-def]
    counts = bundled.meta()["counts"]
    assert kanazawa.crs == "EPSG:6675"
    for layer in bundled.FILES:
        frame = getattr(kanazawa, layer)
        assert len(frame) == counts[layer], layer
        assert set(LAYER_COLUMNS[layer]) <= set(frame.columns), layer
        if hasattr(frame, "crs"):
            assert frame.crs.to_epsg() == 6675, layer
    assert kanazawa.units["unit_id"].is_unique and len(kanazawa.units) == 914
    # Kanazawa lies around (136.65 E, 36.56 N): x about -46 km, y about 62 km in zone VII.
    x0, y0, x1, y1 = kanazawa.households.total_bounds
    assert -70_000 < x0 < x1 < -20_000 and 40_000 < y0 < y1 < 95_000


def test_card_table_on_the_bundle(kanazawa) -> None:  # type: ignore[no-untyped-def]
    table = card_table(kanazawa.households, kanazawa.visits, today=bundled.as_of())
    assert len(table) == len(kanazawa.households)
    assert set(table["status"]) <= {"none", "current", "stale"}
    assert table["visits"].sum() == len(kanazawa.visits)


def test_missing_data_dir_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUNKAI_GEO_DATA", str(tmp_path))
    with pytest.raises(JunkaiGeoError, match="JUNKAI_GEO_DATA.*derive_kanazawa.py"):
        bundled.load_kanazawa()
    with pytest.raises(JunkaiGeoError, match="meta.json missing"):
        bundled.as_of()
