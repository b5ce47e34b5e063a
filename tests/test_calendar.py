"""Calendars replayed against rosters and matrices, on a small synthetic koban."""

from __future__ import annotations

import importlib.util
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from junkai_geo.calendar import (
    CAPACITY_REASONS,
    CalendarParams,
    CalendarProblem,
    CalendarRequest,
    NewOfficerParams,
    build_calendar_problem,
    demo_calendar,
    hilbert_index,
    plan_calendar,
    plan_new_officer,
)
from junkai_geo.errors import InputError, ParameterError
from junkai_geo.priorities import is_holiday
from junkai_geo.roster import build_roster
from junkai_geo.routing import NightApproval, RouteParams, parse_clock, parse_window
from junkai_geo.settings import load_params

_spec = importlib.util.spec_from_file_location(
    "calendar_synthetic", Path(__file__).parent / "fixtures" / "calendar_synthetic.py"
)
assert _spec and _spec.loader
synthetic = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synthetic)

START = date(2026, 11, 16)  # a Monday; 2026-11-23 (勤労感謝の日) is in the horizon
HOLIDAY = date(2026, 11, 23)
FAST = CalendarParams(workers=1, day_time_limit_s=0.1, max_candidate_nodes=25)


def calendar_of(dataset, cards, *, seed=0, travel=None, **request):
    """Build the calendar problem (the request's fields as keywords) and plan it."""
    problem = build_calendar_problem(
        dataset, CalendarRequest(**request), cards=cards, travel=travel
    )
    return plan_calendar(problem, seed=seed)


@pytest.fixture(scope="module")
def koban():
    return synthetic.make_koban(seed=1, households_per_beat=40, specialist=True, beats=3)


@pytest.fixture(scope="module")
def approvals(koban):
    ds, _ = koban
    roster = build_roster(ds.officers, START, 14)
    toban = next(s for s in roster.duty_days("KS-1-O") if s.kind == "toban")
    off = next(d for d in roster.dates if roster.shift("KS-1-O", d).kind == "hiban")
    return [
        NightApproval("KS-1-O", toban.date, "18:00-20:00"),
        NightApproval("KS-1-O", off, "18:00-20:00"),
    ]


@pytest.fixture(scope="module")
def calendar(koban, approvals):
    ds, cards = koban
    return calendar_of(
        ds,
        cards,
        koban_id="KS",
        start=START,
        days=14,
        night_approvals=approvals,
        focus_days={"KS": [HOLIDAY]},
        params=FAST,
    )


def _plans(cal):
    for officer, plans in cal.plans.items():
        for p in plans:
            yield officer, p


def test_every_stop_inside_a_liaison_window_of_the_roster(calendar, approvals) -> None:
    approved = {(a.officer_id, a.date): a.seconds() for a in approvals}
    n = 0
    for officer, plan in _plans(calendar):
        shift = calendar.roster.shift(officer, plan.date)
        assert shift.on_duty, (officer, plan.date, shift.kind)
        wins = [parse_window(w) for w in shift.windows]
        if (officer, plan.date) in approved and shift.night_window:
            wins.append(approved[(officer, plan.date)])
        for s in plan.stops:
            n += 1
            assert any(a <= s.arrival_s and s.departure_s <= b for a, b in wins), (
                officer,
                plan.date,
                s.arrival_s,
                s.departure_s,
                wins,
            )
    assert n > 50


def test_no_night_visit_without_approval(calendar, approvals) -> None:
    night = parse_clock(RouteParams().night_from)
    approved = {(a.officer_id, a.date) for a in approvals}
    used = False
    for officer, plan in _plans(calendar):
        late = [s for s in plan.stops if s.departure_s > night]
        if late:
            assert (officer, plan.date) in approved
            assert calendar.roster.shift(officer, plan.date).kind == "toban"
            used = True
    # The approval on a 非番 day is reported, not used.
    off = approvals[1]
    assert calendar.roster.shift(off.officer_id, off.date).kind == "hiban"
    assert any("not used" in n and off.date.isoformat() in n for n in calendar.notes)
    assert not any(p.date == off.date for p in calendar.plans["KS-1-O"])
    toban = approvals[0]
    plan = next(p for p in calendar.plans["KS-1-O"] if p.date == toban.date)
    assert toban.seconds() in plan.windows or used


def test_stops_follow_the_matrix(calendar) -> None:
    for _, plan in _plans(calendar):
        d = plan.matrix.durations_s
        prev_loc, prev_dep = 0, None
        for s in plan.stops:
            if prev_dep is not None:
                assert s.arrival_s >= prev_dep + d[prev_loc, s.location] - 1
            prev_loc, prev_dep = s.location, s.departure_s


def test_no_second_attempt_while_a_reachable_unknown_waits(calendar) -> None:
    seen: set[str] = set()
    by_day: dict[tuple[str, date], list] = {}
    for a in calendar.attempts:
        by_day.setdefault((a.officer_id, a.date), []).append(a)
    pool = calendar.unknown_by_officer
    retries = 0
    for (officer, on), atts in sorted(by_day.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if any(a.attempt > 1 for a in atts):
            retries += 1
            plan = next(p for p in calendar.plans[officer] if p.date == on)
            waiting = set(pool[officer]) - seen - set(plan.household_ids)
            skipped = {s["household_id"]: s["reason"] for s in plan.skipped}
            for h in waiting:
                assert skipped.get(h) not in CAPACITY_REASONS, (officer, on, h, skipped.get(h))
        seen.update(a.household_id for a in atts)
    assert retries > 0  # the synthetic koban has room for retries in two weeks


def test_days_share_households_only_after_a_failed_attempt(calendar) -> None:
    tries: dict[str, list] = {}
    for a in calendar.attempts:
        tries.setdefault(a.household_id, []).append(a)
    for h, ts in tries.items():
        assert [t.attempt for t in ts] == list(range(1, len(ts) + 1))
        assert len({t.date for t in ts}) == len(ts), h
        for i, t in enumerate(ts[1:], 1):
            assert all(u.expected_outcome == "absent" for u in ts[:i]), h
            # A retry comes on another day type or in another slot.
            assert (t.day_type, t.slot) not in {(u.day_type, u.slot) for u in ts[:i]}
        assert len(ts) <= FAST.max_attempts


def test_holidays_and_focus_days(calendar) -> None:
    assert is_holiday(HOLIDAY) and is_holiday(date(2027, 1, 1))
    focus = {(o, d) for (o, d), s in calendar.roster.shifts.items() if s.focus}
    assert focus and {d for _, d in focus} == {HOLIDAY}
    # Day-shift staff (the specialist) rest on the holiday; 日勤 becomes 週休.
    assert not calendar.roster.shift("KS-S1", HOLIDAY).on_duty
    for officer, plan in _plans(calendar):
        assert calendar.roster.shift(officer, plan.date).on_duty
    for a in calendar.attempts:
        if a.date == HOLIDAY or a.date.weekday() >= 5:
            assert a.day_type == "weekend_or_holiday"


def test_beat_figures_are_consistent(calendar) -> None:
    total = calendar.totals()
    assert total["attempts"] == len(calendar.attempts)
    assert total["attempts"] == sum(len(p.household_ids) for _, p in _plans(calendar))
    for b in calendar.beats.values():
        assert 0 <= b.unknown_attempted <= b.unknown <= b.households
        assert b.attempted <= b.households
        if b.unknown_attempted == b.unknown:
            assert b.hours_missing_unknown == 0
        else:
            assert b.hours_missing_unknown > 0
        assert sum(b.not_attempted.values()) == b.households - b.attempted
    data = json.loads(json.dumps(calendar.to_dict(), ensure_ascii=False))
    assert set(data["officers"]) == {"KS-1-O", "KS-2-O", "KS-3-O", "KS-S1"}
    full = calendar.to_dict(compact=False)
    day = full["officers"]["KS-1-O"]["days"][0]
    assert {"stops", "skipped", "totals", "windows"} <= set(day)
    assert "KS" in calendar.summary()


def test_parallel_plans_the_same_officer_days(koban) -> None:
    ds, cards = koban
    kw = dict(koban_id="KS", start=START, days=4)
    one = calendar_of(ds, cards, params=FAST, **kw)
    two = calendar_of(
        ds,
        cards,
        params=CalendarParams(workers=2, day_time_limit_s=0.1, max_candidate_nodes=25),
        **kw,
    )

    # The solver may stop on its clock on a loaded machine, so routes can
    # differ between runs; the officer-days and the rules cannot.
    def days(cal):
        return {o: [p.date for p in plans] for o, plans in cal.plans.items()}

    assert days(one) == days(two)
    assert abs(len(one.attempts) - len(two.attempts)) <= 0.25 * len(one.attempts)
    assert all(a.attempt == 1 for a in two.attempts)  # 4 days: no room for retries yet


def test_other_beat_assignment_moves_households(koban) -> None:
    ds, cards = koban
    cal = calendar_of(
        ds, cards, koban_id="KS", start=START, days=2, params=FAST, unit_beats={"U01": "KS-2"}
    )
    moved = ds.households[ds.households["unit_id"] == "U01"]
    assert set(moved["household_id"]) & set(cal.unknown_by_beat["KS-2"])
    assert not set(moved["household_id"]) & set(cal.unknown_by_beat["KS-1"])


def test_demo_calendar(koban) -> None:
    ds, cards = koban
    cal = demo_calendar(ds, cards, koban_id="KS", start=START, weeks=1, time_limit_s=0.1)
    assert cal.days == 7 and cal.attempts


def test_bad_inputs(koban, fixtures_dir) -> None:
    ds, cards = koban
    with pytest.raises(InputError, match="unknown_koban"):
        calendar_of(ds, cards, koban_id="NOPE", start=START, days=2, params=FAST)
    with pytest.raises(ParameterError, match="horizon"):
        calendar_of(ds, cards, koban_id="KS", start=START, weeks=0, params=FAST)
    with pytest.raises(ParameterError, match="retry_below"):
        load_params(CalendarParams, fixtures_dir / "calendar_params_typo.toml", table="calendar")
    with pytest.raises(ParameterError, match="retry_if_p_below"):
        CalendarParams(retry_if_p_below=1.5)
    with pytest.raises(InputError, match="unit_id"):
        calendar_of(
            type(ds)(**{**ds.__dict__, "households": ds.households.drop(columns="unit_id")}),
            cards,
            koban_id="KS",
            start=START,
            days=2,
            params=FAST,
            unit_beats={"U01": "KS-2"},
        )


def test_hilbert_order_is_a_continuous_curve() -> None:
    g = np.array([(x, y) for x in range(32) for y in range(32)], float)
    d = hilbert_index(g, order=5)
    assert sorted(d.tolist()) == list(range(1024))
    steps = np.abs(np.diff(g[np.argsort(d)], axis=0)).sum(axis=1)
    assert steps.max() == 1


def test_new_officer_covers_the_beat_area_by_area(koban) -> None:
    ds, cards = koban
    plan = plan_new_officer(
        ds, cards, beat_id="KS-1", start=START, params=NewOfficerParams(route_time_limit_s=0.1)
    )
    occupied = cards.reindex(ds.households.loc[ds.households.beat_id == "KS-1", "household_id"])
    n = int((occupied["occupancy"] == "occupied").sum())
    assert plan.households == n
    visited = [h for d in plan.days for h in (d.plan.household_ids if d.plan else [])]
    assert len(visited) == len(set(visited))  # nobody twice
    assert plan.covered + len(plan.not_covered) == n
    assert plan.covered >= 0.95 * n
    roster = build_roster(ds.officers[ds.officers.officer_id == "KS-1-O"], START, 70)
    duty = [s.date for s in roster.duty_days("KS-1-O")]
    # Every duty day from the start is used until the beat is covered.
    assert [d.date for d in plan.days] == duty[: len(plan.days)]
    assert plan.weeks == (plan.days[-1].date - START).days // 7 + 1
    # Each day's area is smaller than the beat.
    xy = np.column_stack([ds.households.geometry.x, ds.households.geometry.y])
    beat_radius = np.hypot(*(xy - xy.mean(axis=0)).T).max()
    assert np.median([d.radius_m for d in plan.days]) < 0.6 * beat_radius
    json.dumps(plan.to_dict(full=True), ensure_ascii=False)


def test_new_officer_without_routing_fills_each_day(koban) -> None:
    ds, cards = koban
    p = NewOfficerParams(day_utilisation=0.5)
    plan = plan_new_officer(
        ds, cards, beat_id="KS-2", start=START, route=False, params=p, leave=[START]
    )
    assert plan.covered == plan.households and not plan.not_covered
    assert START not in {d.date for d in plan.days}
    roster = build_roster(ds.officers, START, 70)
    for d in plan.days[:-1]:
        cap = sum(b - a for a, b in map(parse_window, roster.shift("KS-2-O", d.date).windows))
        assert d.workload_s <= p.day_utilisation * cap or len(d.household_ids) <= 12
    with pytest.raises(InputError, match="unknown_beat"):
        plan_new_officer(ds, cards, beat_id="XX", start=START)
    assert (plan.days[0].date - START) < timedelta(days=4)


def test_unknown_first_holds_card_updates_back(koban) -> None:
    ds, cards = koban
    params = CalendarParams(
        workers=1, day_time_limit_s=0.1, max_candidate_nodes=25, unknown_first_min=1
    )
    cal = calendar_of(ds, cards, koban_id="KS", start=START, days=5, params=params)
    before: set[str] = set()
    by_day: dict[tuple[date, str], list] = {}
    for a in cal.attempts:
        by_day.setdefault((a.date, a.officer_id), []).append(a)
    for (_, officer), atts in sorted(by_day.items()):
        if any(a.card_status != "none" for a in atts):
            assert set(cal.unknown_by_officer[officer]) <= before, officer
        before.update(a.household_id for a in atts)
    assert any(a.card_status != "none" for a in cal.attempts)
    with pytest.raises(ParameterError, match="unknown_first_min"):
        CalendarParams(unknown_first_min=-1)


def test_cli_rejects_bad_arguments_before_loading(capsys) -> None:
    from junkai_geo.cli import main

    assert main(["calendar", "--night", "KS-1-O"]) == 1
    assert "OFFICER,YYYY-MM-DD" in capsys.readouterr().err
    assert main(["calendar", "--night", "KS-1-O,2026-13-01"]) == 1
    assert main(["calendar", "--weeks", "0"]) == 1
    assert main(["progress", "--from", "2026-10-01", "--to", "2026-09-01"]) == 1
    assert "after --to" in capsys.readouterr().err


def test_cli_calendar_on_the_bundled_data(tmp_path) -> None:
    from junkai_geo.cli import main

    out = tmp_path / "cal.json"
    code = main(
        ["calendar", "--koban", "K03", "--weeks", "1", "--forecast-runs", "20", "--out", str(out)]
    )
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["calendar"]["koban_id"] == "K03" and "forecast" in data
    # As the service's calendar output: the bundle has no street network.
    assert data["travel_source"] == "straight_line"
    assert out.with_suffix(".txt").read_text(encoding="utf-8").startswith("calendar K03")


def test_focus_day_goes_to_households_rarely_home_on_weekdays(koban) -> None:
    from junkai_geo.priorities import contact_probabilities

    ds, cards = koban
    params = CalendarParams(
        workers=1, day_time_limit_s=0.1, max_candidate_nodes=25, focus_min_households=1
    )
    cal = calendar_of(
        ds, cards, koban_id="KS", start=START, days=8, focus_days={"KS": [HOLIDAY]}, params=params
    )
    on_focus = [(o, s) for (o, d), s in cal.roster.shifts.items() if d == HOLIDAY and s.focus]
    assert on_focus
    hh = ds.households
    pw = contact_probabilities(
        hh, ds.visits, on=START, slots=("morning", "afternoon"), params=None
    ).max(axis=1)
    rare = set(hh["household_id"][pw.to_numpy() < params.focus_weekday_p_max])
    seen: set[str] = set()
    for a in cal.attempts:
        if a.date < HOLIDAY and a.day_type == "weekday" and a.expected_outcome == "absent":
            rare.add(a.household_id)
        if a.date < HOLIDAY:
            seen.add(a.household_id)
    checked = 0
    for officer, _ in on_focus:
        firsts = [a for a in cal.attempts if a.officer_id == officer and a.date == HOLIDAY]
        pool = set(cal.unknown_by_officer[officer])
        waiting_rare = (rare & pool) - seen
        for a in firsts:
            # Retries on the focus day are households found absent on weekdays;
            # first attempts go to rarely-home households while any wait.
            if a.attempt > 1 or waiting_rare:
                assert a.household_id in rare, a
                checked += 1
    assert checked > 0


# ----------------------------------------------------------------------------
# the problem object


def test_calendar_problem_json_round_trip(koban, approvals, slow_clock) -> None:
    import pickle

    ds, cards = koban
    request = CalendarRequest(
        koban_id="KS",
        start=START,
        days=3,
        night_approvals=tuple(approvals),
        focus_days={"KS": [HOLIDAY]},
        params=CalendarParams(workers=1, day_time_limit_s=0.5, max_candidate_nodes=10),
    )
    problem = build_calendar_problem(ds, request, cards=cards)
    text = problem.to_json()
    back = CalendarProblem.from_json(text)
    assert back == problem and back.to_json() == text
    assert pickle.loads(pickle.dumps(problem)) == problem
    # Tables come back with their dtypes, CRS and every float bit.
    assert back.households.crs == problem.households.crs
    assert back.households.dtypes.equals(problem.households.dtypes)
    assert (back.households.geometry.x.to_numpy() == problem.households.geometry.x.to_numpy()).all()
    assert back.cards.equals(problem.cards) and back.visits.equals(problem.visits)
    assert [p.rows for p in back.pools] == [p.rows for p in problem.pools]
    one = plan_calendar(problem, seed=5)
    two = plan_calendar(back, seed=5)
    assert one.attempts and one.attempts == two.attempts
    a, b = one.to_dict(compact=True), two.to_dict(compact=True)
    a["totals"].pop("time_s"), b["totals"].pop("time_s")
    assert a == b


def test_plan_calendar_takes_a_problem(koban) -> None:
    ds, cards = koban
    with pytest.raises(ParameterError, match="problem: found Dataset; expected a CalendarProblem"):
        plan_calendar(ds)  # type: ignore[arg-type]
    problem = build_calendar_problem(
        ds, CalendarRequest(koban_id="KS", start=START, days=1, params=FAST), cards=cards
    )
    d = problem.to_dict()
    d["format"] = 7
    with pytest.raises(ParameterError, match="CalendarProblem.format: found 7; expected 1"):
        CalendarProblem.from_dict(d)
    # Run options override the problem's parameters.
    cal = plan_calendar(problem, time_limit_s=0.2, workers=1)
    assert cal.params.day_time_limit_s == 0.2 and cal.params.workers == 1
