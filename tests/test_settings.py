from __future__ import annotations

import pytest

from junkai_geo.errors import ParameterError
from junkai_geo.settings import CardParams, WorkloadParams, load_params


def test_defaults_and_overrides():
    p = load_params(WorkloadParams, walk_speed_mps=1.1)
    assert p.walk_speed_mps == 1.1
    assert p.service_new_card_s == WorkloadParams().service_new_card_s


def test_load_from_toml_table(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[cards]\nstale_after_months = 12\n", encoding="utf-8")
    assert load_params(CardParams, f, table="cards").stale_after_months == 12


def test_unknown_key_is_an_error(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("stale_after_month = 12\n", encoding="utf-8")
    with pytest.raises(ParameterError, match="unknown parameter.*stale_after_month"):
        load_params(CardParams, f)


def test_non_positive_value_is_an_error():
    with pytest.raises(ParameterError, match=r"walk_speed_mps: found 0; expected a number > 0"):
        WorkloadParams(walk_speed_mps=0)


def test_unreadable_toml_names_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("stale_after_months = = 3", encoding="utf-8")
    with pytest.raises(ParameterError, match="broken.toml"):
        load_params(CardParams, f)
