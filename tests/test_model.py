from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from junkai_geo.model import (
    CardStatus,
    Occupancy,
    Outcome,
    Visit,
    add_months,
    card_state,
)

TODAY = date(2026, 11, 1)


def visit(day: date, outcome: Outcome, time: str = "10:00") -> Visit:
    return Visit("v", "h1", "o1", day, time, outcome)


def test_no_visit_is_unknown_household():
    s = card_state([], TODAY)
    assert s.status is CardStatus.NONE
    assert s.occupancy is Occupancy.OCCUPIED
    assert s.is_candidate


def test_met_makes_card_current_then_stale():
    met = visit(date(2025, 1, 10), Outcome.MET)
    assert card_state([met], TODAY).status is CardStatus.CURRENT
    assert card_state([met], date(2027, 1, 10)).status is CardStatus.STALE
    assert card_state([met], date(2027, 1, 9)).status is CardStatus.CURRENT
    assert card_state([met], TODAY, stale_after_months=12).status is CardStatus.STALE


def test_moved_out_removes_card_and_ends_household():
    s = card_state(
        [visit(date(2024, 1, 1), Outcome.MET), visit(date(2025, 1, 1), Outcome.MOVED_OUT)], TODAY
    )
    assert s.status is CardStatus.NONE
    assert s.last_contact is None
    assert not s.is_candidate


def test_vacant_until_met_again():
    history = [visit(date(2024, 1, 1), Outcome.VACANT)]
    assert card_state(history, TODAY).occupancy is Occupancy.VACANT
    history.append(visit(date(2025, 6, 1), Outcome.MET))
    s = card_state(history, TODAY)
    assert s.occupancy is Occupancy.OCCUPIED
    assert s.status is CardStatus.CURRENT


def test_absences_count_since_last_contact_and_order_is_by_date():
    history = [
        visit(date(2025, 3, 1), Outcome.ABSENT),
        visit(date(2024, 1, 1), Outcome.ABSENT),
        visit(date(2024, 6, 1), Outcome.MET),
        visit(date(2025, 4, 1), Outcome.REFUSED),
        visit(date(2025, 5, 1), Outcome.ABSENT),
    ]
    s = card_state(history, TODAY)
    assert s.absences == 2
    assert s.last_contact == date(2024, 6, 1)
    assert s.visits == 5


def test_add_months_clamps_to_month_end():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 11, 15), 14) == date(2026, 1, 15)


outcomes = st.sampled_from(list(Outcome))
days = st.integers(min_value=0, max_value=2000).map(lambda d: date(2021, 1, 1) + timedelta(d))


@given(st.lists(st.tuples(days, outcomes), max_size=12))
def test_status_follows_last_relevant_outcome(history):
    visits = [visit(d, o) for d, o in history]
    s = card_state(visits, TODAY)
    ordered = sorted(history, key=lambda t: t[0])
    # a card exists only if some 'met' comes after the last 'moved_out'
    last_move = max((i for i, (_, o) in enumerate(ordered) if o is Outcome.MOVED_OUT), default=-1)
    has_card = any(o is Outcome.MET for _, o in ordered[last_move + 1 :])
    assert (s.status is not CardStatus.NONE) == has_card
    if s.status is CardStatus.CURRENT:
        assert s.last_contact is not None and add_months(s.last_contact, 24) > TODAY
