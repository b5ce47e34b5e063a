"""Progress per officer and the lagging-officer check."""

from __future__ import annotations

import importlib.util
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from junkai_geo.errors import InputError, ParameterError
from junkai_geo.priorities import is_holiday
from junkai_geo.progress import ProgressParams, progress_report

_spec = importlib.util.spec_from_file_location(
    "calendar_synthetic", Path(__file__).parent / "fixtures" / "calendar_synthetic.py"
)
assert _spec and _spec.loader
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

START, END = date(2026, 8, 3), date(2026, 10, 25)  # 12 weeks


@pytest.fixture(scope="module")
def koban():
    ds, _ = synthetic.make_koban(seed=4, households_per_beat=50, beats=5, specialist=True)
    return ds


def _history(ds, *, share=0.5, thin: dict[str, float] | None = None, seed=0):
    """Period visits: each beat officer attempts ``share`` of his beat (thinned for some)."""
    rng = np.random.default_rng(seed)
    rows = []
    days = [START + timedelta(days=i) for i in range((END - START).days + 1)]
    for o in ds.officers.itertuples():
        if o.role != "beat":
            continue
        hh = ds.households[ds.households.beat_id == o.beat_id]["household_id"].to_numpy()
        keep = share * (thin or {}).get(o.officer_id, 1.0) * rng.uniform(0.9, 1.1)
        chosen = rng.choice(hh, size=int(round(keep * len(hh))), replace=False)
        for h in chosen:
            d = days[int(rng.integers(len(days)))]
            out = "met" if rng.random() < 0.5 else "absent"
            rows.append((h, o.officer_id, d, "10:30", out))
    new = pd.DataFrame(
        [
            {
                "visit_id": f"P{i:05d}",
                "household_id": h,
                "officer_id": oid,
                "visited_on": pd.Timestamp(d),
                "time": t,
                "outcome": out,
            }
            for i, (h, oid, d, t, out) in enumerate(rows)
        ]
    )
    return type(ds)(**{**ds.__dict__, "visits": pd.concat([ds.visits, new], ignore_index=True)})


def test_even_history_flags_nobody(koban) -> None:
    for seed in range(3):
        r = progress_report(_history(koban, seed=seed), start=START, end=END)
        assert r.flagged == []
        beat = [o for o in r.officers if o.beat_id]
        assert all(o.peer_median is not None for o in beat)


def test_thinned_officer_is_flagged_with_focus_days(koban) -> None:
    ds = _history(koban, thin={"KS-3-O": 0.3}, seed=1)
    r = progress_report(ds, start=START, end=END)
    assert [o.officer_id for o in r.flagged] == ["KS-3-O"]
    o = r.flagged[0]
    assert o.coverage < ProgressParams().lag_ratio * o.peer_median
    assert "koban KS" in o.peer_group
    assert o.suggested_focus_days
    for d in o.suggested_focus_days:
        assert d > END and (d.weekday() >= 5 or is_holiday(d))
    assert "LAGGING" in r.summary()
    json.loads(json.dumps(r.to_dict(), ensure_ascii=False))


def test_counts_add_up(koban) -> None:
    ds = _history(koban, seed=2)
    r = progress_report(ds, start=START, end=END)
    period = ds.visits[
        (pd.to_datetime(ds.visits.visited_on) >= pd.Timestamp(START))
        & (pd.to_datetime(ds.visits.visited_on) <= pd.Timestamp(END))
    ]
    for o in r.officers:
        mine = period[period.officer_id == o.officer_id]
        assert o.attempts == len(mine)
        assert o.contacts == int((mine.outcome == "met").sum())
        assert o.cards_made + o.cards_corrected == o.contacts
        assert sum(w["attempts"] for w in o.weekly) == o.attempts
        if o.beat_id:
            assert o.unknown_end <= o.unknown_start
            assert o.unknown_start - o.unknown_end <= o.cards_made
            assert 0 <= o.coverage <= 1
        else:
            assert o.coverage is None and not o.lagging


def test_first_contact_makes_a_card_and_later_ones_correct_it(koban) -> None:
    h = koban.households.household_id.iloc[0]
    oid = "KS-1-O"
    extra = pd.DataFrame(
        [
            {
                "visit_id": "Z1",
                "household_id": h,
                "officer_id": oid,
                "visited_on": pd.Timestamp(START),
                "time": "10:00",
                "outcome": "met",
            },
            {
                "visit_id": "Z2",
                "household_id": h,
                "officer_id": oid,
                "visited_on": pd.Timestamp(START + timedelta(days=7)),
                "time": "10:00",
                "outcome": "met",
            },
        ]
    )
    visits = koban.visits[koban.visits.household_id != h]

    def counts(v):
        ds = type(koban)(**{**koban.__dict__, "visits": v})
        o = next(
            o for o in progress_report(ds, start=START, end=END).officers if o.officer_id == oid
        )
        return np.array([o.cards_made, o.cards_corrected, o.contacts])

    delta = counts(pd.concat([visits, extra], ignore_index=True)) - counts(visits)
    assert delta.tolist() == [1, 1, 2]


def test_filters_and_bad_inputs(koban) -> None:
    ds = _history(koban)
    r = progress_report(ds, start=START, end=END, station="試験署", koban_id="KS")
    assert len(r.officers) == len(ds.officers)
    with pytest.raises(InputError, match="unknown_station"):
        progress_report(ds, start=START, end=END, station="nowhere")
    with pytest.raises(ParameterError, match="from <= to"):
        progress_report(ds, start=END, end=START)
    with pytest.raises(ParameterError, match="lag_ratio"):
        ProgressParams(lag_ratio=1.2)
