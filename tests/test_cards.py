"""card_table gives, for every household, exactly what model.card_state gives."""

from __future__ import annotations

from datetime import date

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo.cards import add_months_array, card_table
from junkai_geo.model import Outcome, Visit, add_months, card_state

TODAY = date(2026, 11, 1)

visit_st = st.tuples(
    st.integers(0, 3),  # household
    st.dates(date(2020, 1, 1), date(2026, 12, 31)),
    st.sampled_from(["09:00", "10:30", "14:00"]),
    st.sampled_from(list(Outcome)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(visit_st, max_size=25),
    st.integers(1, 36),
    st.dates(date(2022, 1, 1), date(2028, 12, 31)),
)
def test_card_table_matches_card_state(rows: list, months: int, today: date) -> None:
    ids = ["H0", "H1", "H2", "H3"]
    visits = [Visit(f"V{i}", ids[h], "O1", d, t, o) for i, (h, d, t, o) in enumerate(rows)]
    frame = pd.DataFrame(
        {
            "household_id": [v.household_id for v in visits],
            "visited_on": pd.to_datetime([v.visited_on for v in visits]),
            "time": [v.time for v in visits],
            "outcome": [v.outcome.value for v in visits],
        },
        columns=["household_id", "visited_on", "time", "outcome"],
    )
    table = card_table(
        pd.DataFrame({"household_id": ids}), frame, today=today, stale_after_months=months
    )
    assert list(table.index) == ids
    for hid in ids:
        want = card_state(
            [v for v in visits if v.household_id == hid], today, stale_after_months=months
        )
        got = table.loc[hid]
        assert got["status"] == want.status.value
        assert got["occupancy"] == want.occupancy.value
        lc = None if pd.isna(got["last_contact"]) else got["last_contact"].date()
        assert lc == want.last_contact
        assert got["absences"] == want.absences
        assert got["visits"] == want.visits


@given(st.dates(date(1990, 1, 1), date(2040, 12, 31)), st.integers(0, 120))
def test_add_months_array_matches_add_months(d: date, months: int) -> None:
    out = add_months_array(pd.to_datetime([d]).to_numpy(), months)
    assert pd.Timestamp(out[0]).date() == add_months(d, months)


def test_unvisited_and_unknown_households() -> None:
    visits = pd.DataFrame(
        {
            "household_id": ["H9"],
            "visited_on": [pd.Timestamp("2025-01-01")],
            "time": ["10:00"],
            "outcome": ["met"],
        }
    )
    table = card_table(pd.DataFrame({"household_id": ["H1", "H2"]}), visits, today=TODAY)
    assert table["status"].tolist() == ["none", "none"]
    assert table["visits"].tolist() == [0, 0]
    assert table["last_contact"].isna().all()
    empty = card_table(pd.DataFrame({"household_id": ["H1"]}), None, today=TODAY)
    assert empty.loc["H1", "occupancy"] == "occupied"


def test_card_table_is_fast_on_a_city() -> None:
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    n, m = 200_000, 400_000
    households = pd.DataFrame({"household_id": [f"H{i}" for i in range(n)]})
    start = np.datetime64("2023-01-01")
    visits = pd.DataFrame(
        {
            "household_id": households["household_id"].to_numpy()[rng.integers(0, n, m)],
            "visited_on": start + rng.integers(0, 1300, m).astype("timedelta64[D]"),
            "time": rng.choice(["09:00", "13:00", "15:30"], m),
            "outcome": rng.choice([o.value for o in Outcome], m),
        }
    )
    t0 = time.perf_counter()
    table = card_table(households, visits, today=TODAY)
    assert time.perf_counter() - t0 < 5.0
    assert len(table) == n and table["visits"].sum() == m
