"""Coverage forecast: Monte Carlo replay of a calendar."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from junkai_geo.calendar import (
    CalendarParams,
    CalendarRequest,
    build_calendar_problem,
    plan_calendar,
)
from junkai_geo.errors import ParameterError
from junkai_geo.forecast import ForecastParams, compare_beat_assignments, forecast_coverage

_spec = importlib.util.spec_from_file_location(
    "calendar_synthetic", Path(__file__).parent / "fixtures" / "calendar_synthetic.py"
)
assert _spec and _spec.loader
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

START = date(2026, 11, 16)
FAST = CalendarParams(workers=1, day_time_limit_s=0.1, max_candidate_nodes=25)


def calendar_of(dataset, cards, *, seed=0, travel=None, **request):
    """Build the calendar problem (the request's fields as keywords) and plan it."""
    problem = build_calendar_problem(
        dataset, CalendarRequest(**request), cards=cards, travel=travel
    )
    return plan_calendar(problem, seed=seed)


@pytest.fixture(scope="module")
def koban():
    return synthetic.make_koban(seed=2, households_per_beat=40)


@pytest.fixture(scope="module")
def calendar(koban):
    ds, cards = koban
    return calendar_of(ds, cards, koban_id="KS", start=START, days=10, params=FAST)


def _curves(runs, members, days):
    cols = [list(runs["household_ids"]).index(h) for h in members]
    att = (runs["attempt_day"][:, cols][:, :, None] <= np.arange(days)).mean(axis=1)
    con = (runs["contact_day"][:, cols][:, :, None] <= np.arange(days)).mean(axis=1)
    return att.mean(axis=0), con.mean(axis=0)


def test_expected_coverage_is_the_mean_of_the_runs(calendar) -> None:
    f = forecast_coverage(calendar, params=ForecastParams(runs=60, seed=3), keep_runs=True)
    assert f.runs is not None
    for beat, members in calendar.unknown_by_beat.items():
        att, con = _curves(f.runs, members, f.days)
        assert np.allclose(att, f.beats[beat].expected_attempt_coverage)
        assert np.allclose(con, f.beats[beat].expected_contact_coverage)
    for officer, members in calendar.unknown_by_officer.items():
        att, _ = _curves(f.runs, members, f.days)
        assert np.allclose(att, f.officers[officer].expected_attempt_coverage)


def test_certain_contact_equals_the_deterministic_coverage(calendar) -> None:
    p = ForecastParams(runs=5, p_day_lost=0.0, p_contact_override=1.0, extend_days=0)
    f = forecast_coverage(calendar, params=p)
    for b in f.beats.values():
        assert b.expected_attempt_coverage == pytest.approx(b.deterministic_attempt_coverage)
        assert b.expected_contact_coverage == pytest.approx(b.deterministic_attempt_coverage)
        assert b.exact_expected_contact_coverage == pytest.approx(b.deterministic_attempt_coverage)
    # And the deterministic coverage is what the calendar attempted.
    for beat, b in f.beats.items():
        done = {a.household_id for a in calendar.attempts} & set(calendar.unknown_by_beat[beat])
        assert b.deterministic_attempt_coverage[-1] == pytest.approx(
            len(done) / max(b.unknown, 1) if b.unknown else 1.0
        )


def test_monte_carlo_matches_the_exact_expectation(calendar) -> None:
    runs = 1500
    f = forecast_coverage(
        calendar, params=ForecastParams(runs=runs, p_day_lost=0.0, extend_days=0, seed=5)
    )
    for b in f.beats.values():
        mc = np.array(b.expected_contact_coverage)
        exact = np.array(b.exact_expected_contact_coverage)
        # Each run's share is a mean of independent Bernoullis over households.
        se = np.sqrt(np.maximum(exact * (1 - exact), 1e-4) / max(b.unknown, 1) / runs)
        assert np.all(np.abs(mc - exact) <= 5 * se + 1e-9)


def test_lost_days_never_bring_an_attempt_forward(calendar) -> None:
    base = forecast_coverage(
        calendar,
        params=ForecastParams(runs=1, p_day_lost=0.0, p_contact_override=0.0, extend_days=0),
        keep_runs=True,
    )
    lossy = forecast_coverage(
        calendar,
        params=ForecastParams(runs=40, p_day_lost=0.4, seed=1, extend_days=0),
        keep_runs=True,
    )
    assert base.runs is not None and lossy.runs is not None
    assert list(base.runs["household_ids"]) == list(lossy.runs["household_ids"])
    assert np.all(lossy.runs["attempt_day"] >= base.runs["attempt_day"][0])
    for b in lossy.beats.values():
        det = np.array(b.deterministic_attempt_coverage)
        assert np.all(np.array(b.expected_attempt_coverage) <= det + 1e-12)


def test_extension_reaches_full_attempt_coverage_with_a_spread(calendar) -> None:
    f = forecast_coverage(calendar, params=ForecastParams(runs=50, extend_days=200, seed=0))
    assert f.days == f.horizon_days + 200
    for b in f.beats.values():
        if b.unknown == 0:
            continue
        full = b.days_to_attempt["1"]
        assert full.reached_share == 1.0
        assert full.mean is not None and 1 <= full.mean <= f.days
        p = full.percentiles
        assert p["p10"] <= p["p50"] <= p["p90"]
        assert b.days_to_attempt["0.9"].mean <= full.mean
        curve = np.array(b.expected_attempt_coverage)
        assert np.all(np.diff(curve) >= -1e-12) and curve[-1] == pytest.approx(1.0)
    json.loads(json.dumps(f.to_dict()))
    assert "forecast KS" in f.summary()


def test_same_seed_same_forecast(calendar) -> None:
    p = ForecastParams(runs=30, seed=9, extend_days=30)
    a = forecast_coverage(calendar, params=p).to_dict()
    b = forecast_coverage(calendar, params=p).to_dict()
    c = forecast_coverage(calendar, params=replace(p, seed=10)).to_dict()
    assert a == b and a != c


def test_compare_beat_assignments(koban) -> None:
    ds, cards = koban
    out = compare_beat_assignments(
        ds,
        cards,
        koban_id="KS",
        start=START,
        unit_beats={"U01": "KS-2"},
        weeks=1,
        forecast_params=ForecastParams(runs=20, extend_days=60),
        params=FAST,
    )
    rows = {r["beat_id"]: r for r in out["table"]}
    assert rows["KS-2"]["proposed_unknown"] > rows["KS-2"]["current_unknown"]
    assert rows["KS-1"]["proposed_unknown"] < rows["KS-1"]["current_unknown"]
    assert (
        rows["KS-1"]["proposed_unknown"] + rows["KS-2"]["proposed_unknown"]
        == rows["KS-1"]["current_unknown"] + rows["KS-2"]["current_unknown"]
    )


def test_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="p_day_lost"):
        ForecastParams(p_day_lost=1.0)
    with pytest.raises(ParameterError, match="p_contact_override"):
        ForecastParams(p_contact_override=1.5)
    with pytest.raises(ParameterError, match="percentiles"):
        ForecastParams(percentiles=(0.0, 150.0))
    with pytest.raises(ParameterError, match="extend_days"):
        ForecastParams(extend_days=-1)
