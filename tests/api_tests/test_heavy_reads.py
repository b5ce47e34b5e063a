"""Heavy reads (issue #17 item 7): same answers as before, cached, bounded.

The per-officer counts of :func:`junkai_geo.progress.progress_report` are
computed in grouped passes; :func:`reference_counts` is the per-officer loop
they replaced, run on a seeded random visit history of the small dataset.
The service computes the reports' inputs with grouped queries
(:mod:`api.aggregates`): on three koban of the bundled data, on SQLite and
PostgreSQL, they give the library's answers on the whole dataset.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from api import aggregates, heavy_reads
from api.db import Database
from api.heavy_reads import invalidate_heavy_reads
from api.routes.reports import invalidate_survey_cache
from api.store import dataset_from_db, load_dataset
from junkai_geo.progress import progress_report

from .conftest import ApiEnv, new_database_url, small_dataset


def reference_counts(ds: Any, start: date, end: date) -> dict[str, dict[str, Any]]:
    """The previous per-officer loop: one filter of the period per officer."""
    visits = ds.visits
    hh = ds.households
    when = pd.to_datetime(visits["visited_on"]).dt.date
    period = visits[(when >= start) & (when <= end)].copy()
    met_all = visits[visits["outcome"].astype(str) == "met"]
    first_met = pd.to_datetime(met_all["visited_on"]).groupby(met_all["household_id"]).min()
    period["household_id"] = period["household_id"].astype(str)
    period["day"] = pd.to_datetime(period["visited_on"])
    period["met"] = period["outcome"].astype(str) == "met"
    period["made"] = period["met"] & (period["day"] <= period["household_id"].map(first_met))
    period["week"] = (
        period["day"] - pd.to_timedelta(period["day"].dt.day_of_week, unit="D")
    ).dt.date
    beat_of_hh = pd.Series(hh["beat_id"].astype(str).to_numpy(), index=hh["household_id"])
    period["beat_of_hh"] = period["household_id"].map(beat_of_hh)
    out = {}
    for r in ds.officers.to_dict("records"):
        mine = period[period["officer_id"].astype(str) == r["officer_id"]]
        in_beat = mine[mine["beat_of_hh"] == r["beat_id"]]
        out[r["officer_id"]] = {
            "attempts": len(mine),
            "contacts": int(mine["met"].sum()),
            "cards_made": int(mine["made"].sum()),
            "cards_corrected": int((mine["met"] & ~mine["made"]).sum()),
            "households_attempted": int(in_beat["household_id"].nunique()),
            "weekly": [
                {
                    "week": str(w),
                    "attempts": len(g),
                    "contacts": int(g["met"].sum()),
                    "households": int(g["household_id"].nunique()),
                }
                for w, g in mine.groupby("week")
            ],
        }
    return out


def busy_dataset() -> Any:
    """The small dataset with 600 random visits (any officer, any household)."""
    ds = small_dataset()
    rng = np.random.default_rng(17)
    n = 600
    ds.visits = pd.DataFrame(
        {
            "visit_id": [f"V{i}" for i in range(n)],
            "household_id": rng.choice(ds.households["household_id"].to_numpy(), n),
            "officer_id": rng.choice(ds.officers["officer_id"].to_numpy(), n),
            "visited_on": [
                (date(2026, 1, 1) + timedelta(days=int(d))).isoformat()
                for d in rng.integers(0, 300, n)
            ],
            "time": [f"{h:02d}:00" for h in rng.integers(9, 20, n)],
            "outcome": rng.choice(["met", "absent", "refused", "moved_out", "vacant"], n),
        }
    )
    return ds


def test_progress_counts_equal_the_per_officer_loop() -> None:
    ds = busy_dataset()
    for start, end in [
        (date(2026, 3, 1), date(2026, 6, 30)),
        (date(2026, 1, 1), date(2026, 12, 31)),
    ]:
        want = reference_counts(ds, start, end)
        got = progress_report(ds, start=start, end=end).to_dict()["officers"]
        assert len(got) == len(want) == 3
        assert sum(o["attempts"] for o in got) > 100  # the comparison is not vacuous
        for o in got:
            keys = want[o["officer_id"]].keys()
            assert {k: o[k] for k in keys} == want[o["officer_id"]]


def test_heavy_reads_are_cached_and_top_is_bounded(api_env: ApiEnv) -> None:
    invalidate_heavy_reads()
    params = {"start": "2026-01-01", "end": "2026-12-31"}
    first = api_env.client.get("/progress", params=params, headers=api_env.auth("admin"))
    assert first.status_code == 200, first.text
    again = api_env.client.get("/progress", params=params, headers=api_env.auth("admin"))
    assert again.json() == first.json()
    assert [k[1][0] for k in heavy_reads._ANSWERS] == ["progress"]
    invalidate_survey_cache()  # what a visit or an import calls
    assert not heavy_reads._ANSWERS
    spec = api_env.client.get("/specialists", params={"top": 50}, headers=api_env.auth("admin"))
    assert spec.status_code == 200, spec.text
    over = api_env.client.get("/specialists", params={"top": 51}, headers=api_env.auth("admin"))
    assert over.status_code == 422


# --- the grouped queries give the library's answers (bundled data) ------------

#: Three koban of three stations of the bundled Kanazawa data (8,300 households;
#: 小立野台 K10 has high-rise, large and 団地 buildings).
SUBSET_KOBAN = ("K10", "K20", "K38")
SUBSET_STATION = "金沢中"


@functools.cache
def subset() -> Any:
    """The three koban's layers of the bundled data (loaded once)."""
    from dataclasses import replace

    from junkai_geo.bundled import load_kanazawa

    ds = load_kanazawa(validate=False)
    keep = set(SUBSET_KOBAN)
    beats = ds.beats[ds.beats["koban_id"].isin(keep)]
    households = ds.households[ds.households["beat_id"].isin(set(beats["beat_id"]))]
    return replace(
        ds,
        koban=ds.koban[ds.koban["koban_id"].isin(keep)],
        beats=beats,
        officers=ds.officers[ds.officers["koban_id"].isin(keep)],
        units=ds.units[ds.units["beat_id"].isin(set(beats["beat_id"]))],
        households=households,
        buildings=ds.buildings[ds.buildings["building_id"].isin(set(households["building_id"]))],
        visits=ds.visits[ds.visits["household_id"].isin(set(households["household_id"]))],
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def bundled_subset(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A database with three koban of the bundled data, with their visits."""
    from junkai_geo.bundled import as_of

    if not (Path(__file__).resolve().parents[3] / "shared").exists():
        pytest.skip("the bundled data's shared folder is absent")
    url = new_database_url(request.param, tmp_path_factory.mktemp("bundled"), request)
    db = Database(url)
    db.migrate()
    with db.writing() as session:
        load_dataset(session, subset(), source="test", today=as_of())
    yield db
    db.dispose()


def test_progress_from_grouped_queries_equals_the_library(bundled_subset: Database) -> None:
    from junkai_geo.bundled import as_of

    end = as_of()
    with bundled_subset.read_session() as session:
        ds = dataset_from_db(session, None)
        for start, scope, station in [
            (end - timedelta(days=180), None, None),
            (end - timedelta(days=30), frozenset({"K10"}), SUBSET_STATION),
            (date(2024, 1, 1), None, None),
        ]:
            scoped = dataset_from_db(session, scope) if scope else ds
            want = progress_report(scoped, start=start, end=end, station=station).to_dict()
            got = aggregates.progress_report(
                session, scope, start=start, end=end, station=station
            ).to_dict()
            assert sum(o["attempts"] for o in want["officers"]) > 100  # not vacuous
            assert sum(o["unknown_start"] for o in want["officers"]) > 100
            assert got == want


def test_specialists_and_beats_map_from_grouped_queries_equal_the_library(
    bundled_subset: Database,
) -> None:
    from junkai_geo.cards import card_table
    from junkai_geo.specialists import find_specialist_districts
    from junkai_geo.workload import unit_workload_h

    today = date(2026, 11, 1)
    with bundled_subset.read_session() as session:
        ds = dataset_from_db(session, None, buildings=True)
        light, cards, counts = aggregates.specialist_inputs(session, None, today)
        units, work = aggregates.unit_workloads(session, None) or (None, None)
    full_cards = card_table(ds.households, ds.visits, today=today)
    columns = ["status", "occupancy", "last_contact"]
    assert full_cards[columns].equals(cards.loc[full_cards.index, columns])
    want = find_specialist_districts(
        ds.buildings, ds.households, full_cards, visits=ds.visits, units=ds.units, koban=ds.koban
    ).to_dict()
    got = find_specialist_districts(
        light.buildings, light.households, cards, visit_counts=counts, units=light.units,
        koban=light.koban,
    ).to_dict()  # fmt: skip
    assert len(want["districts"]) >= 3
    assert got == want
    # The beats map's workload per 町丁目: the library's on every household.
    lib = unit_workload_h(ds.units, ds.households, full_cards, ds.buildings, ds.koban)
    assert work is not None and sorted(work.index) == sorted(lib.index)
    assert np.allclose(work.reindex(lib.index).to_numpy(), lib.to_numpy(), rtol=1e-12)
    assert work.sum() > 10


def test_a_slow_answer_is_fresh_from_when_it_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer computed in longer than the fresh time is still fresh right after."""
    import threading
    import time

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    monkeypatch.setattr(heavy_reads, "HEAVY_CACHE_S", 1.0)
    invalidate_heavy_reads()
    calls: list[float] = []

    def compute(session: Session) -> int:
        calls.append(time.monotonic())
        time.sleep(1.3)  # longer than the fresh time
        return len(calls)

    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    try:
        with Session(engine) as session:
            assert heavy_reads.cached_heavy_read(session, ("slow",), compute) == 1
            # Right after: fresh, answered from the cache without a refresh.
            assert heavy_reads.cached_heavy_read(session, ("slow",), compute) == 1
            assert not any(t.name == "heavy-refresh" for t in threading.enumerate())
            assert len(calls) == 1
            # After the fresh time: the cached answer, and one refresh behind it.
            time.sleep(1.1)
            assert heavy_reads.cached_heavy_read(session, ("slow",), compute) == 1
            for t in threading.enumerate():
                if t.name == "heavy-refresh":
                    t.join(5)
            assert len(calls) == 2
            assert heavy_reads.cached_heavy_read(session, ("slow",), compute) == 2
    finally:
        invalidate_heavy_reads()
        engine.dispose()
