"""Priority model: values, contact probabilities and reason codes."""

from __future__ import annotations

import time as _time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo.errors import InputError, ParameterError
from junkai_geo.model import Outcome, Visit, card_state
from junkai_geo.priorities import (
    REASON_CODES,
    PriorityParams,
    contact_probabilities,
    day_type,
    score_households,
    slot_of,
)
from junkai_geo.settings import load_params

ON = date(2026, 11, 25)  # a Wednesday, not a holiday


def cards_from(visits: pd.DataFrame, ids: list[str], today: date) -> pd.DataFrame:
    """Card table built by the model's own rules, one household at a time."""
    rows = []
    for hid in ids:
        vs = [
            Visit(r.visit_id, r.household_id, "o", r.visited_on, r.time, Outcome(r.outcome))
            for r in visits[visits["household_id"] == hid].itertuples()
        ]
        st_ = card_state(vs, today)
        rows.append(
            {
                "household_id": hid,
                "status": st_.status.value,
                "occupancy": st_.occupancy.value,
                "last_contact": st_.last_contact,
                "absences": st_.absences,
            }
        )
    return pd.DataFrame(rows)


def visits_frame(rows: list[tuple[str, date, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"visit_id": f"v{i}", "household_id": h, "visited_on": d, "time": t, "outcome": o}
            for i, (h, d, t, o) in enumerate(rows)
        ],
        columns=["visit_id", "household_id", "visited_on", "time", "outcome"],
    )


@pytest.fixture()
def small():
    """Named tiny instance ``plan_small``: one household per card situation."""
    hh = pd.DataFrame(
        {
            "household_id": [
                "none",
                "stale30",
                "stale60",
                "recent",
                "current_old",
                "moved",
                "vacant",
                "tower",
            ],
            "kind": ["home"] * 8,
            "building_id": ["b1", "b1", "b1", "b1", "b1", "b1", "b1", "t1"],
            "floor": [1] * 7 + [12],
        }
    )
    buildings = pd.DataFrame(
        {
            "building_id": ["b1", "t1"],
            "kind": ["detached", "apartment"],
            "floors": [2, 14],
            "units": [1, 120],
            "complex_id": [None, None],
        }
    )
    d = ON
    visits = visits_frame(
        [
            ("stale30", d - timedelta(days=int(30 * 30.44)), "10:00", "met"),
            ("stale60", d - timedelta(days=int(60 * 30.44)), "10:00", "met"),
            ("recent", d - timedelta(days=30), "10:00", "met"),
            ("current_old", d - timedelta(days=400), "10:00", "met"),
            ("moved", d - timedelta(days=100), "10:00", "moved_out"),
            ("vacant", d - timedelta(days=100), "10:00", "vacant"),
        ]
    )
    cards = cards_from(visits, list(hh["household_id"]), ON)
    return hh, buildings, visits, cards


def test_order_of_values(small):
    hh, b, v, cards = small
    s = score_households(hh, cards, b, v, on=ON, slot="afternoon").set_index("household_id")
    assert s.loc["none", "value"] > s.loc["stale60", "value"] > s.loc["stale30", "value"]
    assert s.loc["stale30", "value"] > s.loc["current_old", "value"] > 0
    assert not s.loc["recent", "candidate"] and s.loc["recent", "value"] == 0
    assert not s.loc["moved", "candidate"] and not s.loc["vacant", "candidate"]
    assert s.loc["stale60", "months_since_contact"] == pytest.approx(60, abs=0.2)
    assert s.loc["none", "reasons"] == ["no_card"]
    assert s.loc["stale30", "reasons"] == ["stale_card"]
    assert s.loc["current_old", "reasons"] == ["card_update"]
    assert s.loc["recent", "reasons"] == ["recent_contact_excluded"]
    assert s.loc["moved", "reasons"] == ["moved_out_excluded"]
    assert s.loc["vacant", "reasons"] == ["vacant_excluded"]
    assert set(s.loc["tower", "reasons"]) == {"no_card", "large_complex", "highrise"}
    # Large complex and high-rise: the larger weight, not the product.
    p = PriorityParams()
    assert s.loc["tower", "value"] == pytest.approx(
        p.no_card_points * max(p.large_complex_weight, p.highrise_weight)
    )
    assert np.allclose(s["expected_value"], s["value"] * s["p_contact"])
    assert all(r in REASON_CODES for rs in s["reasons"] for r in rs)


def test_danchi_complex_units_add_up():
    hh = pd.DataFrame({"household_id": ["a", "b"], "kind": "home", "building_id": ["d1", "x1"]})
    b = pd.DataFrame(
        {
            "building_id": ["d1", "d2", "x1"],
            "kind": ["apartment", "apartment", "apartment"],
            "floors": [4, 4, 4],
            "units": [30, 30, 30],
            "complex_id": ["C1", "C1", None],
        }
    )
    cards = pd.DataFrame(
        {
            "household_id": ["a", "b"],
            "status": "none",
            "occupancy": "occupied",
            "last_contact": None,
        }
    )
    s = score_households(hh, cards, b, None, on=ON, slot="morning").set_index("household_id")
    assert "large_complex" in s.loc["a", "reasons"]
    assert "large_complex" not in s.loc["b", "reasons"]


def test_absences_on_weekday_mornings_move_household_to_weekends():
    hh = pd.DataFrame({"household_id": ["never_am", "fresh"], "kind": "home", "building_id": None})
    weekdays = [ON - timedelta(days=7 * k) for k in range(1, 6)]  # Wednesdays
    v = visits_frame([("never_am", d, "10:30", "absent") for d in weekdays])
    cards = cards_from(v, ["never_am", "fresh"], ON)
    p_wd = contact_probabilities(hh, v, on=ON).set_index(hh["household_id"])
    saturday = date(2026, 11, 28)
    p_we = contact_probabilities(hh, v, on=saturday).set_index(hh["household_id"])
    # Never home on weekday mornings: low there, and better on weekends and evenings.
    assert p_wd.loc["never_am", "morning"] <= 0.2 < p_wd.loc["fresh", "morning"]
    assert p_we.loc["never_am", "morning"] > 2 * p_wd.loc["never_am", "morning"]
    assert p_wd.loc["never_am", "evening"] > 2 * p_wd.loc["never_am", "morning"]
    s = score_households(hh, cards, None, v, on=ON, slot="10:00").set_index("household_id")
    assert "absent_history" in s.loc["never_am", "reasons"]
    assert s.loc["never_am", "expected_value"] < s.loc["fresh", "expected_value"]


def test_holiday_is_weekend_type():
    assert day_type(date(2026, 11, 23)) == "weekend_or_holiday"  # 勤労感謝の日 (Monday)
    assert day_type(date(2026, 11, 24)) == "weekday"
    assert day_type(date(2026, 11, 29)) == "weekend_or_holiday"  # Sunday
    assert day_type(date(2026, 11, 24), focus_days=(date(2026, 11, 24),)) == "weekend_or_holiday"


def test_slot_of_times_and_windows():
    assert slot_of("09:00") == "morning"
    assert slot_of(("10:00", "12:00")) == "morning"
    assert slot_of(("14:00", "16:00")) == "afternoon"
    assert slot_of(("18:00", "20:00")) == "evening"
    with pytest.raises(ParameterError, match="expected HH:MM"):
        slot_of("noonish")


def test_params_from_toml(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text(
        "[priorities]\nno_card_points = 200.0\nstale_max_points = 150.0\n"
        "[priorities.prior_p_contact.home]\nweekday = [0.3, 0.4, 0.7]\n"
        "weekend_or_holiday = [0.5, 0.5, 0.7]\n"
        "[priorities.prior_p_contact.business]\nweekday = [0.8, 0.8, 0.2]\n"
        "weekend_or_holiday = [0.3, 0.3, 0.1]\n"
        "[priorities.prior_p_contact.public]\nweekday = [0.9, 0.9, 0.2]\n"
        "weekend_or_holiday = [0.2, 0.2, 0.1]\n",
        encoding="utf-8",
    )
    p = load_params(PriorityParams, f, table="priorities")
    assert p.no_card_points == 200.0 and p.prior("home", "weekday", "morning") == 0.3


def test_example_toml_loads():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "priorities.toml"
    assert load_params(PriorityParams, example, table="priorities") == PriorityParams()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"stale_max_points": 120.0}, "so 未把握 comes first"),
        (
            {"other_slot_weight": 1.5},
            r"other_slot_weight: found 1.5; expected a number in \[0, 1\]",
        ),
        ({"evening_from": "11:00"}, "expected later than afternoon_from"),
        ({"prior_p_contact": {"home": {"weekday": [0.5, 0.5]}}}, r"prior_p_contact.home.weekday"),
        ({"highrise_weight": 0}, "highrise_weight: found 0"),
    ],
)
def test_bad_params(override, match):
    with pytest.raises(ParameterError, match=match):
        PriorityParams(**override)


def test_cards_missing_column_or_row():
    hh = pd.DataFrame({"household_id": ["a", "b"], "kind": "home", "building_id": None})
    with pytest.raises(InputError, match="field 'occupancy'"):
        score_households(
            hh,
            pd.DataFrame({"household_id": ["a"], "status": ["none"], "last_contact": [None]}),
            None,
            None,
            on=ON,
            slot="morning",
        )
    cards = pd.DataFrame(
        {
            "household_id": ["a"],
            "status": ["none"],
            "occupancy": ["occupied"],
            "last_contact": [None],
        }
    )
    with pytest.raises(InputError, match="without a card row"):
        score_households(hh, cards, None, None, on=ON, slot="morning")


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 9),
            st.integers(1, 700),
            st.sampled_from(["09:30", "14:00", "18:30"]),
            st.sampled_from(["met", "absent", "refused"]),
        ),
        max_size=40,
    )
)
def test_probabilities_are_bounded_and_absence_never_raises(rows):
    ids = [f"h{i}" for i in range(10)]
    hh = pd.DataFrame({"household_id": ids, "kind": "home", "building_id": None})
    v = visits_frame([(f"h{i}", ON - timedelta(days=d), t, o) for i, d, t, o in rows])
    p = contact_probabilities(hh, v, on=ON)
    assert ((p >= PriorityParams().min_p_contact) & (p <= 1)).all().all()
    # One more absence at a slot never raises the probability of that slot.
    extra = visits_frame([(h, ON - timedelta(days=1), "09:30", "absent") for h in ids])
    p2 = contact_probabilities(hh, pd.concat([v, extra], ignore_index=True), on=ON)
    assert (p2["morning"] <= p["morning"] + 1e-12).all()


def test_fast_for_20k_households():
    rng = np.random.default_rng(0)
    n = 20_000
    ids = [f"H{i:06d}" for i in range(n)]
    hh = pd.DataFrame(
        {
            "household_id": ids,
            "kind": rng.choice(["home", "business", "public"], n, p=[0.9, 0.08, 0.02]),
            "building_id": [f"B{i // 8:05d}" for i in range(n)],
        }
    )
    b = pd.DataFrame(
        {
            "building_id": [f"B{i:05d}" for i in range(n // 8)],
            "kind": "apartment",
            "floors": rng.integers(1, 15, n // 8),
            "units": 8,
            "complex_id": None,
        }
    )
    m = 30_000
    v = pd.DataFrame(
        {
            "visit_id": [f"v{i}" for i in range(m)],
            "household_id": rng.choice(ids, m),
            "visited_on": [ON - timedelta(days=int(d)) for d in rng.integers(1, 1500, m)],
            "time": rng.choice(["09:30", "10:15", "14:00", "15:45", "18:30"], m),
            "outcome": rng.choice(["met", "absent", "refused"], m, p=[0.5, 0.45, 0.05]),
        }
    )
    last = v[v["outcome"] == "met"].groupby("household_id")["visited_on"].max()
    cards = pd.DataFrame({"household_id": ids})
    cards["last_contact"] = cards["household_id"].map(last)
    cards["status"] = np.where(cards["last_contact"].isna(), "none", "current")
    cards["occupancy"] = "occupied"
    t0 = _time.perf_counter()
    s = score_households(hh, cards, b, v, on=ON, slot="afternoon")
    elapsed = _time.perf_counter() - t0
    assert len(s) == n and s["candidate"].any()
    assert elapsed < 3.0, f"score_households took {elapsed:.2f} s for 20k households"


# ---------------------------------------------------------------- issue 16: labels, share, night


def _mixed(n_business: int = 40, n_home: int = 40):
    """One high-rise with shops and homes, all without a card, on a weekday."""
    ids = [f"b{i}" for i in range(n_business)] + [f"h{i}" for i in range(n_home)]
    hh = pd.DataFrame(
        {
            "household_id": ids,
            "kind": ["business"] * n_business + ["home"] * n_home,
            "building_id": ["tower"] * len(ids),
            "floor": [1] * len(ids),
        }
    )
    buildings = pd.DataFrame(
        {"building_id": ["tower"], "kind": ["highrise"], "floors": [20], "units": [200]}
    )
    cards = pd.DataFrame(
        {
            "household_id": ids,
            "status": "none",
            "occupancy": "occupied",
            "last_contact": pd.NaT,
        }
    )
    return hh, buildings, cards


def test_a_business_is_never_labelled_as_a_dwelling():
    hh, buildings, cards = _mixed()
    s = score_households(hh, cards, buildings, None, on=ON, slot="morning")
    business = s[hh["kind"] == "business"]
    homes = s[hh["kind"] == "home"]
    assert not any("highrise" in r or "large_complex" in r for r in business["reasons"])
    assert all("highrise" in r and "large_complex" in r for r in homes["reasons"])


@pytest.mark.parametrize("share", [0.0, 0.3, 0.6])
def test_unknown_homes_keep_their_share_of_the_best_candidates(share):
    from junkai_geo.priorities import service_effort_s

    hh, buildings, cards = _mixed(100, 100)
    params = PriorityParams(min_unknown_home_share=share, share_top_n=50)
    s = score_households(hh, cards, buildings, None, on=ON, slot="morning", params=params)
    rate = s["expected_value"] / service_effort_s(hh["kind"].to_numpy(), np.ones(len(hh), bool))
    top = rate.sort_values(ascending=False, kind="stable").index[:50]
    homes_in_top = int((hh.loc[top, "kind"] == "home").sum())
    assert homes_in_top >= int(np.ceil(share * 50))
    if share == 0.0:
        # Rule off: on a weekday businesses (p 0.85, 600 s) beat homes (p 0.45, 900 s).
        assert homes_in_top == 0 and (s["home_share_boost"] == 1.0).all()


def test_share_params_are_checked():
    with pytest.raises(ParameterError, match=r"min_unknown_home_share: found 1.5"):
        PriorityParams(min_unknown_home_share=1.5)
    with pytest.raises(ParameterError, match="share_top_n: found 0"):
        PriorityParams(share_top_n=0)


def test_unused_night_window_is_explained():
    from junkai_geo.priorities import explain_unused_window

    p = np.array([0.2, 0.3, 0.25])
    none = explain_unused_window(
        "18:00-20:00",
        p_contact=p,
        allowed=np.zeros(3, bool),
        kept_allowed=0,
        threshold_p_contact=0.4,
    )
    assert none.code == "no_candidate"
    assert "面接見込み 0.40 以上の候補なし" in none.text_ja and "0.30" in none.text_ja
    kept = explain_unused_window(
        "18:00-20:00",
        p_contact=p,
        allowed=np.array([True, True, False]),
        kept_allowed=0,
        threshold_p_contact=0.1,
    )
    assert kept.code == "not_kept" and kept.candidates == 2
    chosen = explain_unused_window(
        "18:00-20:00",
        p_contact=p,
        allowed=np.ones(3, bool),
        kept_allowed=3,
        threshold_p_contact=0.1,
    )
    assert chosen.code == "not_chosen" and chosen.to_dict()["window"] == "18:00-20:00"
