"""専従員: difficult districts, the CP-SAT recommendation, specialist rounds, the command."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pytest

from junkai_geo.buildings import BuildingParams, match_households_to_buildings
from junkai_geo.cards import card_table
from junkai_geo.cli import main
from junkai_geo.errors import InputError, ParameterError, ProblemError
from junkai_geo.routing import NightApproval, parse_window
from junkai_geo.settings import load_params
from junkai_geo.specialists import (
    District,
    SpareOfficer,
    SpecialistParams,
    assignment_objective,
    cluster_buildings,
    districts_frame,
    find_specialist_districts,
    plan_specialist_rounds,
    recommend_specialists,
    round_days,
    spare_officers,
)

DENSE_PER_KM2 = 5000.0


@pytest.fixture(scope="module")
def kanazawa():
    from junkai_geo.bundled import as_of, load_kanazawa

    ds = load_kanazawa(validate=False)
    today = as_of()
    cards = card_table(ds.households, ds.visits, today=today)
    return ds, cards, today


@pytest.fixture(scope="module")
def search(kanazawa):
    ds, cards, _ = kanazawa
    return find_specialist_districts(
        ds.buildings, ds.households, cards, visits=ds.visits, units=ds.units, koban=ds.koban
    )


def _district(i: int, hours_per_week: float, x: float, y: float) -> District:
    """A district with only what the recommendation reads."""
    return District(
        district_id=f"D{i:02d}", rank=i, score=1.0 / i, name=f"d{i}", koban_id=None,
        x=x, y=y, lon=0.0, lat=0.0, radius_m=0.0, building_ids=[], complex_ids=[],
        unit_ids=[], unit_names=[], density_per_km2=float("nan"), buildings=1,
        highrise_buildings=1, large_buildings=0, complex_buildings=0, max_floors=8,
        dwellings=60, households=60, backlog=30, stale=0, current=0, absence_rate=0.5,
        contacts_needed=54, hours_needed=hours_per_week * 13, hours_per_week=hours_per_week,
        officers_needed=math.ceil(hours_per_week / 25), reasons=[],
    )  # fmt: skip


# ---------------------------------------------------------------- districts


def test_top_districts_lie_in_the_densest_census_areas(kanazawa, search):
    ds, _, _ = kanazawa
    units = ds.units.set_index(ds.units["unit_id"].astype(str))
    dense = set(units.index[units["density_per_km2"] >= DENSE_PER_KM2])
    top = search.districts[:5]
    for d in top:
        assert d.density_per_km2 >= DENSE_PER_KM2, d.to_dict()
        assert set(d.unit_ids) <= dense, (d.name, d.unit_ids)
    # The top-5 districts' areas overlap the 15 densest areas with >= 300 households.
    big = units[units["households"] >= 300].sort_values("density_per_km2", ascending=False)
    densest = set(big.index[:15])
    got = {u for d in top for u in d.unit_ids}
    assert len(got & densest) >= 5
    names = " ".join(n for d in top for n in d.unit_names)
    assert "旭町" in names and "北安江" in names


def test_districts_are_ranked_with_reasons(search):
    ds = search.districts
    assert len(ds) >= 10
    scores = [d.score for d in ds]
    assert scores == sorted(scores, reverse=True)
    assert [d.rank for d in ds] == list(range(1, len(ds) + 1))
    assert [d.district_id for d in ds[:3]] == ["D01", "D02", "D03"]
    for d in ds:
        codes = [r["code"] for r in d.reasons]
        assert codes[:3] == ["backlog", "absence", "hours"]
        assert {"highrise", "large", "complex"} & set(codes)
    text = json.dumps([d.to_dict() for d in ds], ensure_ascii=False)
    assert "geometry" not in text


def test_district_figures_follow_the_model(search):
    p = search.params
    for d in search.districts:
        assert 0 <= d.backlog + d.stale + d.current <= d.households
        assert d.contacts_needed == max(0, math.ceil(p.target_coverage * d.households) - d.current)
        assert d.hours_per_week == pytest.approx(d.hours_needed / p.period_weeks)
        assert 0.0 <= d.absence_rate <= 1.0
        # At least the service of a new card per contact.
        assert d.hours_needed >= d.contacts_needed * 420 / 3600
        assert d.officers_needed == math.ceil(
            d.hours_per_week / (p.full_time_days_per_week * p.liaison_hours_per_day) - 1e-9
        )


def test_every_difficult_building_is_in_one_district(search):
    b = search.classification.buildings
    difficult = set(b.loc[b["difficult"], "building_id"].astype(str))
    seen = [bid for d in search.districts for bid in d.building_ids]
    assert len(seen) == len(set(seen))
    assert set(seen) == difficult
    complexes = b.loc[b["difficult"] & b["complex_id"].notna(), ["building_id", "complex_id"]]
    where = {bid: d.district_id for d in search.districts for bid in d.building_ids}
    for _, group in complexes.groupby("complex_id"):
        assert len({where[str(x)] for x in group["building_id"]}) == 1


@pytest.mark.parametrize("seed", range(6))
def test_clusters_are_the_connected_components(seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, (60, 2))
    r = 120.0
    labels = cluster_buildings(xy, r)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    # Brute force: transitive closure of "closer than r".
    reach = d <= r
    for k in range(len(xy)):
        reach = reach | (reach[:, [k]] & reach[[k], :])
    assert ((labels[:, None] == labels[None, :]) == reach).all()
    assert labels[0] == 0 and set(labels) == set(range(labels.max() + 1))


def test_a_complex_is_one_district_whatever_the_distance():
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [5000.0, 0.0]])
    assert list(cluster_buildings(xy, 150.0)) == [0, 1, 2]
    assert list(cluster_buildings(xy, 150.0, ["C1", None, "C1"])) == [0, 1, 0]


def test_small_fixture_districts(fixtures_dir):
    b = gpd.read_file(fixtures_dir / "specialists_buildings_missing_sizes.geojson").to_crs(6675)
    h = gpd.read_file(fixtures_dir / "specialists_households_unlinked.geojson").to_crs(6675)
    hh = match_households_to_buildings(h, b).households
    cards = card_table(hh, None, today=date(2026, 11, 1))
    found = find_specialist_districts(b, hh, cards)
    groups = sorted(sorted(d.building_ids) for d in found.districts)
    # A is 200 m from the complex D1-D3, whose buildings stand 40 m apart.
    assert groups == [["A_height_only"], ["D1", "D2", "D3"]]
    assert all(d.backlog == d.households for d in found.districts)  # no visits: 未把握
    assert all(d.absence_rate == 0.0 for d in found.districts)
    wide = find_specialist_districts(b, hh, cards, params=SpecialistParams(cluster_distance_m=250))
    assert len(wide.districts) == 1
    # C_empty_highrise holds nobody: reported, not a district.
    assert "C_empty_highrise" not in {x for d in wide.districts for x in d.building_ids}
    assert any(w.code == "no_households" for w in found.classification.warnings)
    frame = districts_frame(found.districts, b.crs)
    assert list(frame["rank"]) == [1, 2] and frame.geometry.area.min() > 0


def test_no_difficult_building_gives_no_district(fixtures_dir):
    b = gpd.read_file(fixtures_dir / "specialists_buildings_missing_sizes.geojson").to_crs(6675)
    h = gpd.read_file(fixtures_dir / "specialists_households_unlinked.geojson").to_crs(6675)
    hh = match_households_to_buildings(h, b).households
    cards = card_table(hh, None, today=date(2026, 11, 1))
    found = find_specialist_districts(
        b,
        hh,
        cards,
        building_params=BuildingParams(highrise_min_floors=20, complex_min_buildings=9),
    )
    assert found.districts == [] and found.notes


def test_districts_need_metric_layers(fixtures_dir):
    b = gpd.read_file(fixtures_dir / "specialists_buildings_missing_sizes.geojson")
    h = gpd.read_file(fixtures_dir / "specialists_households_unlinked.geojson")
    with pytest.raises(InputError, match="metric"):
        find_specialist_districts(b, h, card_table(h, None, today=date(2026, 11, 1)))


# ---------------------------------------------------------------- recommendation


def _brute_force(districts, officers, p):
    """Best (covered, -cost) over every allocation of whole days."""
    allowed = [
        [
            j
            for j, d in enumerate(districts)
            if math.hypot(o.x - d.x, o.y - d.y) <= p.max_officer_distance_m
        ]
        for o in officers
    ]
    per_officer = []
    for o, js in zip(officers, allowed, strict=True):
        options = [
            v for v in itertools.product(range(o.days_per_week + 1), repeat=len(js))
            if sum(v) <= o.days_per_week
        ]  # fmt: skip
        per_officer.append([dict(zip(js, v, strict=True)) for v in options])
    best = None
    for combo in itertools.product(*per_officer):
        days = {
            (officers[i].officer_id, districts[j].district_id): n
            for i, alloc in enumerate(combo)
            for j, n in alloc.items()
            if n
        }
        covered, cost = assignment_objective(districts, officers, days, p)
        if best is None or (covered, -cost) > best:
            best = (covered, -cost)
    return best


@pytest.mark.parametrize("seed", range(25))
def test_recommendation_is_optimal_on_small_cases(seed):
    rng = np.random.default_rng(seed)
    p = SpecialistParams(max_officer_distance_m=3000.0, liaison_hours_per_day=5.0)
    districts = [
        _district(j + 1, float(rng.choice([0.0, 3.5, 7.0, 12.25, 20.0])), *rng.uniform(0, 4000, 2))
        for j in range(int(rng.integers(1, 4)))
    ]
    officers = [
        SpareOfficer(f"O{i}", "K", *rng.uniform(0, 4000, 2), days_per_week=int(rng.integers(0, 4)))
        for i in range(int(rng.integers(1, 4)))
    ]
    rec = recommend_specialists(districts, officers, params=p)
    assert rec.status == "optimal"
    best = _brute_force(districts, officers, p)
    assert (rec.covered_min_per_week, -rec.distance_cost) == best
    days = {(a.officer_id, a.district_id): a.days_per_week for a in rec.assignments}
    assert assignment_objective(districts, officers, days, p) == (best[0], -best[1])
    _check_invariants(rec, districts, officers, p)


def _check_invariants(rec, districts, officers, p):
    by_officer: dict[str, int] = {}
    for a in rec.assignments:
        by_officer[a.officer_id] = by_officer.get(a.officer_id, 0) + a.days_per_week
        assert a.distance_m <= p.max_officer_distance_m
    for o in officers:
        used = by_officer.get(o.officer_id, 0)
        assert used <= o.days_per_week
        assert rec.idle_days[o.officer_id] == o.days_per_week - used
    for d, c in zip(districts, rec.districts, strict=True):
        days = sum(a.days_per_week for a in rec.assignments if a.district_id == d.district_id)
        assert c.covered_h_per_week <= c.demand_h_per_week + 1e-9
        assert c.covered_h_per_week <= days * p.liaison_hours_per_day + 1e-9
        assert c.uncovered_h_per_week == pytest.approx(c.demand_h_per_week - c.covered_h_per_week)
        assert (c.reason_uncovered is None) == (c.uncovered_h_per_week < 1e-9)
    t = rec.totals()
    assert t["uncovered_h_per_week"] == pytest.approx(
        sum(c.uncovered_h_per_week for c in rec.districts), abs=0.02
    )


def test_large_district_gets_several_officers():
    p = SpecialistParams()
    big = _district(1, 40.0, 0.0, 0.0)  # more than one officer's 5 x 5 h
    officers = [
        SpareOfficer("near", "K1", 100.0, 0.0, 5),
        SpareOfficer("mid", "K2", 900.0, 0.0, 5),
        SpareOfficer("far", "K3", 2500.0, 0.0, 5),
    ]
    rec = recommend_specialists([big], officers, params=p)
    assert rec.districts[0].uncovered_h_per_week == 0
    days = {a.officer_id: a.days_per_week for a in rec.assignments}
    # 8 days needed: the nearest officer's 5, then 3 of the next nearest.
    assert days == {"near": 5, "mid": 3}
    assert sorted(rec.districts[0].officers) == ["mid", "near"]
    assert big.officers_needed == 2


def test_uncovered_work_is_reported_with_its_reason():
    p = SpecialistParams(max_officer_distance_m=2000.0)
    near = _district(1, 30.0, 0.0, 0.0)
    remote = _district(2, 10.0, 50_000.0, 0.0)
    officers = [SpareOfficer("a", "K1", 0.0, 500.0, 4), SpareOfficer("off", "K1", 0.0, 0.0, 0)]
    rec = recommend_specialists([near, remote], officers, params=p)
    c1, c2 = rec.districts
    assert c1.covered_h_per_week == pytest.approx(20.0)
    assert c1.uncovered_h_per_week == pytest.approx(10.0)
    assert "used up" in c1.reason_uncovered
    assert c2.covered_h_per_week == 0 and "no spare officer" in c2.reason_uncovered
    assert all(a.officer_id != "off" for a in rec.assignments)
    assert rec.totals()["uncovered_h_per_week"] == pytest.approx(20.0)
    _check_invariants(rec, [near, remote], officers, p)
    json.dumps(rec.to_dict())


def test_recommendation_rejects_repeated_ids():
    d = _district(1, 5.0, 0, 0)
    with pytest.raises(ProblemError, match="officers"):
        recommend_specialists([d], [SpareOfficer("a", "K", 0, 0, 1)] * 2)
    with pytest.raises(ParameterError, match="days_per_week"):
        SpareOfficer("a", "K", 0, 0, 8)


def test_spare_officers_from_the_data(kanazawa):
    ds, _, _ = kanazawa
    default = spare_officers(ds)
    assert {o.officer_id for o in default} == set(
        ds.officers.loc[ds.officers["role"] == "specialist", "officer_id"]
    )
    assert {o.days_per_week for o in default} == {5}
    with pytest.raises(InputError) as info:
        spare_officers(ds, {"K17-S1": 2, "nobody": 1, "K23-S1": 9})
    assert sorted(p.code for p in info.value.problems) == ["bad_days", "unknown_officer"]


def test_recommendation_on_the_bundled_top_districts(kanazawa, search):
    ds, _, _ = kanazawa
    p = search.params
    officers = spare_officers(ds)
    top = search.districts[:5]
    rec = recommend_specialists(top, officers, params=p)
    assert rec.status == "optimal"
    _check_invariants(rec, top, officers, p)
    # Six officers at 25 h a week are enough for the top five districts.
    assert rec.totals()["uncovered_h_per_week"] == pytest.approx(0.0, abs=0.01)


# ---------------------------------------------------------------- rounds


def test_round_days_prefer_weekends_and_holidays():
    start = date(2026, 11, 2)  # a Monday; 3 November is 文化の日
    days = round_days(start, 3)
    assert days == [date(2026, 11, 3), date(2026, 11, 7), date(2026, 11, 8)]
    # Five weekend / holiday days in the next 14, then the approved evening.
    evening = round_days(start, 6, evening_days=[date(2026, 11, 5)])
    assert date(2026, 11, 5) in evening and date(2026, 11, 2) not in evening
    assert date(2026, 11, 5) not in round_days(start, 5, evening_days=[date(2026, 11, 5)])
    assert round_days(start, 0) == []


@pytest.fixture(scope="module")
def rounds(kanazawa, search):
    ds, cards, today = kanazawa
    d = search.districts[0]
    officer = next(o for o in spare_officers(ds) if o.koban_id == d.koban_id)
    weekday = date(2026, 11, 4)
    approval = NightApproval(officer.officer_id, weekday, "18:00-20:00")
    plans = plan_specialist_rounds(
        d,
        officer,
        households=ds.households,
        buildings=ds.buildings,
        cards=cards,
        visits=ds.visits,
        start=today + timedelta(days=1),
        days=2,
        night_approvals=[approval],
        params=SpecialistParams(round_search_days=4, round_time_limit_s=1.0),
    )
    return d, officer, plans


def test_rounds_stay_inside_the_district(kanazawa, rounds):
    ds, _, _ = kanazawa
    d, officer, plans = rounds
    assert [p.date for p in plans] == [date(2026, 11, 3), date(2026, 11, 4)]
    building_of = dict(
        zip(ds.households["household_id"], ds.households["building_id"], strict=True)
    )
    ids = [h for plan in plans for h in plan.household_ids]
    assert ids and len(ids) == len(set(ids))  # no household twice
    assert {building_of[h] for h in ids} <= set(d.building_ids)
    for plan in plans:
        assert plan.officer_id == officer.officer_id
        for stop in plan.stops:
            floors = [h.floor for h in stop.households]
            assert floors == sorted(floors)  # floor by floor inside a building


def test_rounds_use_evenings_only_with_approval(rounds):
    _, _, (holiday, weekday) = rounds
    p = SpecialistParams()
    assert holiday.windows == [parse_window(w) for w in p.weekend_windows]
    assert parse_window(p.evening_window) in weekday.windows
    assert any("night visits approved" in n for n in weekday.notes)


# ---------------------------------------------------------------- params and command


def test_specialist_params():
    with pytest.raises(ParameterError, match="target_coverage"):
        SpecialistParams(target_coverage=1.5)
    with pytest.raises(ParameterError, match="weights"):
        SpecialistParams(weight_backlog=0, weight_absence=0, weight_hours=0)
    with pytest.raises(ParameterError, match="window"):
        SpecialistParams(weekday_windows=("14:00-13:00",))
    p = load_params(SpecialistParams, {"specialists": {"period_weeks": 26}}, table="specialists")
    assert p.period_weeks == 26


def test_specialists_command(tmp_path, capsys):
    out = tmp_path / "specialists.json"
    page = tmp_path / "districts.html"
    code = main(
        [
            "specialists", "--top", "3", "--round-days", "1",
            "--officers", "K17-S1:3,K23-S1,K31-S1:2",
            "--out", str(out), "--map", str(page),
        ]
    )  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "D01" in text and "recommendation (optimal)" in text
    report = json.loads(out.read_text(encoding="utf-8"))
    assert len(report["districts"]) == 3 and report["districts_total"] >= 10
    assert {o["officer_id"] for o in report["officers"]} == {"K17-S1", "K23-S1", "K31-S1"}
    assert report["rounds"] and report["rounds"][0]["stops"]
    assert "専従員地区" in page.read_text(encoding="utf-8")


def test_specialists_command_bad_officers(capsys):
    assert main(["specialists", "--officers", "K17-S1:x,nobody"]) == 1
    assert "bad_days" in capsys.readouterr().err
