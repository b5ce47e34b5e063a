"""Rosters: three-shift rotation, day patterns, holidays, leave and focus days."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from junkai_geo.errors import InputError, ParameterError
from junkai_geo.priorities import is_holiday
from junkai_geo.roster import (
    RosterParams,
    build_roster,
    shift_of,
    suggest_focus_days,
)
from junkai_geo.settings import load_params

OFFICERS = pd.DataFrame(
    {
        "officer_id": ["A", "B", "C", "D", "S"],
        "koban_id": ["K", "K", "K", "Z", "K"],
        "shift_pattern": ["3shift-A", "3shift-B", "3shift-C", "chuzaisho", "day"],
    }
)
HOLIDAYS = (date(2026, 11, 23), date(2027, 1, 1))


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
@settings(max_examples=60, deadline=None)
def test_each_day_one_group_is_on_toban_and_toban_is_followed_by_hiban(d: date) -> None:
    kinds = [shift_of(p, p, d).kind for p in ("3shift-A", "3shift-B", "3shift-C")]
    assert kinds.count("toban") == 1
    assert kinds.count("hiban") == 1
    for p in ("3shift-A", "3shift-B", "3shift-C"):
        if shift_of(p, p, d).kind == "toban":
            assert shift_of(p, p, d + timedelta(days=1)).kind == "hiban"
            after = shift_of(p, p, d + timedelta(days=2))
            assert after.kind in ("nikkin", "weekly_rest")
            assert shift_of(p, p, d + timedelta(days=3)).kind == "toban"


def test_epoch_groups() -> None:
    epoch = RosterParams().epoch
    assert [shift_of(p, "x", epoch).kind for p in ("3shift-A", "3shift-B", "3shift-C")][
        0
    ] == "toban"
    assert shift_of("3shift-C", "x", epoch).kind == "hiban"


def test_japanese_holidays_are_honoured() -> None:
    for d in HOLIDAYS:
        assert is_holiday(d)
        assert d.weekday() < 5  # a weekday holiday: only the holiday rule makes it rest
        assert shift_of("day", "S", d).kind == "holiday_rest"
        assert shift_of("chuzaisho", "D", d).kind == "holiday_rest"
        for p in ("3shift-A", "3shift-B", "3shift-C"):
            s = shift_of(p, p, d)
            assert s.holiday
            assert s.kind != "nikkin"  # a 日勤 on a holiday is a weekly rest
            assert s.on_duty == (s.kind == "toban")
    assert not is_holiday(date(2026, 11, 24))
    assert shift_of("day", "S", date(2026, 11, 24)).kind == "day"


def test_windows_and_night_window_by_shift() -> None:
    p = RosterParams()
    r = build_roster(OFFICERS, date(2026, 11, 16), 28)
    for (_, _), s in r.shifts.items():
        if s.kind == "toban":
            assert s.windows == p.toban_windows and s.night_window == p.toban_night_window
        elif s.kind == "nikkin":
            assert s.windows == p.nikkin_windows and s.night_window is None
        elif s.kind == "day":
            assert s.night_window is None and s.windows
        else:
            assert not s.on_duty
        if s.windows and s.date.weekday() >= 5:
            assert s.kind == "toban"  # only 当番 works on weekends


def test_leave_removes_the_shift() -> None:
    d = date(2026, 11, 17)
    r = build_roster(OFFICERS, date(2026, 11, 16), 7, leave={"S": [d]})
    assert r.shift("S", d).kind == "leave" and not r.shift("S", d).on_duty
    assert r.shift("S", d + timedelta(days=1)).on_duty


def test_focus_days_only_when_chosen() -> None:
    start = date(2026, 11, 16)
    plain = build_roster(OFFICERS, start, 50)
    assert not any(s.focus for s in plain.shifts.values())
    chosen = build_roster(OFFICERS, start, 50, focus_days={"K": [HOLIDAYS[0]], "D": [HOLIDAYS[1]]})
    focus = {(o, d) for (o, d), s in chosen.shifts.items() if s.focus}
    on_duty_k = {o for o in ("A", "B", "C", "S") if plain.shift(o, HOLIDAYS[0]).on_duty}
    assert focus == {(o, HOLIDAYS[0]) for o in on_duty_k}
    for o in on_duty_k:
        assert chosen.shift(o, HOLIDAYS[0]).windows == RosterParams().focus_windows
    # D (chuzaisho) rests on 1 January: the focus day is not used and a note says so.
    assert not chosen.shift("D", HOLIDAYS[1]).on_duty
    assert any("2027-01-01" in n and "D" in n for n in chosen.notes)


def test_suggested_focus_days_are_weekend_or_holiday_duty_days() -> None:
    r = build_roster(OFFICERS, date(2026, 11, 16), 28)
    for o in ("A", "B", "C"):
        days = suggest_focus_days(r, o, max_days=10)
        assert days
        for d in days:
            assert (d.weekday() >= 5 or is_holiday(d)) and r.shift(o, d).on_duty
    toban_on_holiday = next(o for o in "ABC" if r.shift(o, HOLIDAYS[0]).kind == "toban")
    assert HOLIDAYS[0] in suggest_focus_days(r, toban_on_holiday, max_days=10)
    assert suggest_focus_days(r, "S") == []  # day staff never work weekends


def test_unknown_shift_pattern_fixture(fixtures_dir) -> None:
    officers = pd.read_csv(fixtures_dir / "calendar_officers_bad_shift.csv")
    with pytest.raises(InputError) as err:
        build_roster(officers, date(2026, 11, 16), 7)
    assert [(p.row, p.field) for p in err.value.problems] == [
        (2, "shift_pattern"),
        (3, "shift_pattern"),
    ]
    assert "4shift-D" in str(err.value)


def test_bad_window_in_toml_fixture(fixtures_dir) -> None:
    with pytest.raises(ParameterError, match="toban_windows"):
        load_params(RosterParams, fixtures_dir / "calendar_roster_bad_window.toml", table="roster")


def test_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="rotation_epoch"):
        RosterParams(rotation_epoch="01/01/2026")
    with pytest.raises(ParameterError, match="days"):
        build_roster(OFFICERS, date(2026, 11, 16), 0)
    with pytest.raises(ParameterError, match="no shift"):
        build_roster(OFFICERS, date(2026, 11, 16), 3).shift("A", date(2027, 1, 1))


def test_to_dict_is_json() -> None:
    import json

    r = build_roster(OFFICERS, date(2026, 11, 16), 3)
    data = json.loads(json.dumps(r.to_dict()))
    assert set(data["officers"]) == {"A", "B", "C", "D", "S"}
    assert len(data["officers"]["A"]) == 3
