"""``junkai-geo plan-all`` on a real Dask cluster: a scheduler and two worker processes.

The workspace is a SQLite database holding six rural 駐在所 beats of the
bundled Kanazawa data (three stations), cut to 25 households a beat. Plans
get a short work budget (``TIME_LIMIT``); the run that a worker is killed
in gets a longer one so that the kill falls mid-run. One cluster serves the
whole module: it is started with the ``dask scheduler`` / ``dask worker``
commands on 127.0.0.1, and one worker is killed in the last cluster test.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy import select

from api.cli import main
from api.db import Database
from api.models import DayPlanRow
from api.store import load_dataset
from junkai_geo.model import Dataset
from junkai_geo.plan_all import FolderSink, officer_days, run_plan_all

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "kanazawa"
KOBAN = ["K03", "K12", "K15", "K22", "K27", "K37"]  # 駐在所 of 金沢中, 金沢東, 金沢西
DAY = date(2026, 11, 2)  # a Monday: every 駐在所 officer on duty
PER_BEAT = 25
TIME_LIMIT = 0.25  # the solver's work budget: about half a second of CPU a plan
KILL_TIME_LIMIT = 0.75
DASK = Path(sys.executable).parent / "dask"

pytestmark = pytest.mark.slow  # a cluster of three processes: about 25 s on an idle machine


def small_workspace() -> Dataset:
    """A fresh copy of the six beats (read from the bundled files once)."""
    return copy.deepcopy(_small_workspace())


@functools.cache
def _small_workspace() -> Dataset:
    koban = gpd.read_file(DATA / "koban.geojson")
    koban = koban[koban["koban_id"].isin(KOBAN)]
    beats = gpd.read_parquet(DATA / "beats.parquet")
    beats = beats[beats["koban_id"].isin(KOBAN)]
    units = gpd.read_parquet(DATA / "units.parquet")
    units = units[units["beat_id"].isin(beats["beat_id"])]
    officers = pd.read_csv(DATA / "officers.csv", dtype=str, keep_default_na=False)
    officers = officers[officers["beat_id"].isin(beats["beat_id"])]
    hh = gpd.read_parquet(DATA / "households.parquet")
    hh = hh[hh["beat_id"].isin(beats["beat_id"])].groupby("beat_id").head(PER_BEAT)
    buildings = gpd.read_parquet(DATA / "buildings.parquet")
    buildings = buildings[buildings["building_id"].isin(hh["building_id"])]
    visits = pd.read_parquet(DATA / "visits.parquet")
    visits = visits[visits["household_id"].isin(hh["household_id"])]
    visits = visits.assign(visited_on=pd.to_datetime(visits["visited_on"]).dt.date)
    hh = hh.assign(registered_on=pd.to_datetime(hh["registered_on"]).dt.date)
    return Dataset(
        crs="EPSG:6675",
        koban=koban,
        beats=beats,
        units=units,
        officers=officers,
        buildings=buildings,
        households=hh,
        visits=visits,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('plan_all') / 'workspace.sqlite'}"
    db = Database(url)
    db.migrate()
    with db.writing() as session:
        load_dataset(session, small_workspace(), source="test", today=date(2026, 11, 1))
    db.dispose()
    yield url


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A scheduler and two single-threaded worker processes (no nanny), each its own group."""
    tmp = tmp_path_factory.mktemp("dask")
    sched_file = tmp / "scheduler.json"
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        p = subprocess.Popen(
            [str(DASK), *args],
            env=_env(),
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(p)
        return p

    start(
        "scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-dashboard",
        "--scheduler-file",
        str(sched_file),
    )
    deadline = time.monotonic() + 60
    while not sched_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    address = json.loads(sched_file.read_text())["address"]
    assert address.startswith("tcp://127.0.0.1:")
    workers = [
        start(
            "worker",
            address,
            "--nthreads",
            "1",
            "--no-nanny",  # the worker process itself: killed, it is gone
            "--no-dashboard",
            "--host",
            "127.0.0.1",
            "--name",
            f"w{i}",
        )
        for i in range(2)
    ]
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(2, timeout=60)
    yield {"address": address, "workers": workers}
    try:  # the scheduler closes its workers, then itself
        with Client(address, timeout=10) as client:
            client.shutdown()
    except OSError:
        pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _plans(url: str) -> dict[str, DayPlanRow]:
    db = Database(url)
    with db.read_session() as session:
        rows = {r.officer_id: r for r in session.scalars(select(DayPlanRow))}
        for r in rows.values():
            session.expunge(r)
    db.dispose()
    return rows


def _args(url: str, *extra: str, time_limit: float = TIME_LIMIT) -> list[str]:
    return [
        "plan-all",
        "--date",
        DAY.isoformat(),
        "--database-url",
        url,
        "--time-limit",
        str(time_limit),
        *extra,
    ]


def test_plan_all_on_a_tcp_cluster_then_resume(workspace, cluster, tmp_path, capsys) -> None:
    # One station first, with its A4 sheets
    sheets = tmp_path / "sheets"
    first = main(
        _args(workspace, "--scheduler", cluster["address"], "--station", "金沢中")
        + ["--sheets", str(sheets)]
    )
    out = capsys.readouterr().out
    assert first == 0, out
    chu = _plans(workspace)
    assert sorted(chu) == ["K03-1-O", "K12-1-O", "K15-1-O"]  # the 駐在所 officers of 金沢中
    assert sorted(p.name for p in sheets.glob("*.pdf")) == sorted(
        f"route_{o}_{DAY.isoformat()}.pdf" for o in chu
    )
    # Then the whole day: the stored plans are not redone (a rerun resumes)
    rc = main(_args(workspace, "--scheduler", cluster["address"]))
    out = capsys.readouterr().out
    assert rc == 0 and "3 計画作成 / planned, 3 作成済 / already stored" in out, out
    plans = _plans(workspace)
    assert len(plans) == len(KOBAN)  # one 駐在所 officer per koban, all on duty on a Monday
    for oid, row in plans.items():
        assert row.on_date == DAY and row.plan["officer_id"] == oid and row.plan["stops"]
        assert row.households == sum(len(s["households"]) for s in row.plan["stops"])
        assert 0 < row.unknown <= row.households
        assert row.time_limit_s == TIME_LIMIT and row.seed == 0
    assert {o: plans[o].created_at for o in chu} == {o: r.created_at for o, r in chu.items()}
    for station in ("金沢東", "金沢西"):
        assert any(line.startswith(station) for line in out.splitlines()), out


def test_local_cluster_gives_the_same_plans(workspace, cluster, capsys) -> None:
    """The same tasks and seeds give the same plans on the TCP cluster and on a
    LocalCluster, at any load: the solver stops at its work budget, not its
    clock (CLOCK_BACKSTOP)."""
    before = {o: r.plan for o, r in _plans(workspace).items()}
    assert len(before) == len(KOBAN), "runs after the TCP run"
    rc = main(_args(workspace, "--workers", "1", "--force"))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "6 計画作成 / planned" in out and "on 1 worker(s)" in out, out  # its own cluster
    after = {o: r.plan for o, r in _plans(workspace).items()}
    assert after.keys() == before.keys()
    assert sorted(o for o in after if after[o] != before[o]) == []


def test_a_failing_task_is_reported_while_the_rest_finish(workspace, cluster, tmp_path) -> None:
    from distributed import Client

    from api.store import dataset_from_db

    db = Database(workspace)
    with db.read_session() as session:
        ds = dataset_from_db(session, None, buildings=True)
    db.dispose()
    tasks, off = officer_days(ds, DAY, time_limit_s=TIME_LIMIT)
    tasks = tasks[:3]
    # Data without the officer's koban: building the problem raises on the worker.
    data = dataclasses.replace(tasks[0].data, koban=tasks[0].data.koban.iloc[:0])
    broken = tasks[0] = dataclasses.replace(tasks[0], data=data)
    with Client(cluster["address"]) as client:
        result = run_plan_all(tasks, FolderSink(tmp_path), client=client, retries=0)
    assert [f.officer_id for f in result.failures] == [broken.officer_id]
    reason = result.failures[0].reason
    assert reason.startswith("InputError: ") and "koban_id" in reason, reason
    assert repr(str(data.officers["koban_id"].iloc[0])) in reason, reason
    assert sorted(r.officer_id for r in result.planned) == sorted(t.officer_id for t in tasks[1:])
    assert sorted(p.stem for p in (tmp_path / DAY.isoformat()).glob("*.json")) == sorted(
        t.officer_id for t in tasks[1:]
    )
    station = next(s for s in result.by_station() if s["station"] == broken.station)
    assert station["failures"] == 1


def test_a_task_running_too_long_is_reported_as_timed_out(workspace, cluster, tmp_path) -> None:
    from distributed import Client

    from api.store import dataset_from_db

    db = Database(workspace)
    with db.read_session() as session:
        ds = dataset_from_db(session, None, buildings=True)
    db.dispose()
    tasks, _ = officer_days(ds, DAY, time_limit_s=TIME_LIMIT)
    with Client(cluster["address"]) as client:
        result = run_plan_all(
            tasks[:1], FolderSink(tmp_path), client=client, timeout_s=0.05, poll_s=0.02
        )
    assert result.planned == []
    assert [(f.officer_id, f.reason) for f in result.failures] == [
        (tasks[0].officer_id, "timed out after 0.05 s")
    ]


def test_killing_a_worker_loses_no_plan(workspace, cluster) -> None:
    started = time.time()
    driver = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *_args(workspace, "--force", time_limit=KILL_TIME_LIMIT)]
        + ["--scheduler", cluster["address"]],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    fresh: dict = {}
    while time.monotonic() < deadline and driver.poll() is None:
        fresh = {
            o: r for o, r in _plans(workspace).items() if r.created_at.timestamp() >= started - 1
        }
        if fresh:
            break
        time.sleep(0.2)
    assert 0 < len(fresh) < len(KOBAN), "a worker must be killed mid-run"
    victim = cluster["workers"][0]
    os.killpg(victim.pid, signal.SIGKILL)
    out, _ = driver.communicate(timeout=180)
    assert driver.returncode == 0, out
    plans = _plans(workspace)
    assert len(plans) == len(KOBAN)  # (officer, day) is the key: each plan once
    assert all(r.created_at.timestamp() >= started - 1 for r in plans.values())
    assert "6 計画作成 / planned" in out and "0 失敗 / failed" in out, out


def test_officer_days_follow_the_roster_and_give_specialists_their_koban() -> None:
    from junkai_geo.routing import DayProblem

    ds = small_workspace()
    specialist = {
        "officer_id": "K37-S1",
        "koban_id": "K37",
        "role": "specialist",
        "beat_id": "",
        "mode": "walk",
        "shift_pattern": "day",
    }
    ds.officers = pd.concat([ds.officers, pd.DataFrame([specialist])], ignore_index=True)
    ds.beats = None  # as read from a workspace: the koban's beats come from the units
    for name in ("koban", "units", "buildings", "households"):
        setattr(ds, name, getattr(ds, name).to_crs("EPSG:6675"))
    saturday = date(2026, 11, 7)
    tasks, off = officer_days(ds, saturday, time_limit_s=1.0)
    assert tasks == [] and len(off) == len(KOBAN) + 1  # 駐在所 and 日勤 rest at weekends
    tasks, off = officer_days(ds, DAY, time_limit_s=1.0)
    assert off == [] and len(tasks) == len(KOBAN) + 1
    task = next(t for t in tasks if t.officer_id == "K37-S1")
    problem = task.build()
    assert isinstance(problem, DayProblem)
    assert len(problem.candidates.household_id) > 0
    beat_of = ds.households.set_index("household_id")["beat_id"]
    assert set(beat_of[list(problem.candidates.household_id)]) == {"K37-1"}


def test_plan_day_clock_backstop_widens_the_clock_only() -> None:
    """plan-all's plans end at the work budget: with the clock 64 times later,
    the solver gets the same budget (the plan of an unhurried run), and only
    a power of two keeps that budget bit for bit."""
    from junkai_geo.errors import ParameterError
    from junkai_geo.routing import plan_day

    ds = small_workspace()
    for name in ("koban", "units", "buildings", "households", "beats"):
        setattr(ds, name, getattr(ds, name).to_crs("EPSG:6675"))
    tasks, _ = officer_days(ds, DAY, time_limit_s=TIME_LIMIT)
    problem = tasks[0].build()
    a = plan_day(problem, time_limit_s=0.1, seed=3, clock_backstop=64).to_dict()
    b = plan_day(problem, time_limit_s=0.1, seed=3, clock_backstop=64).to_dict()
    assert a == b and a["stops"]
    with pytest.raises(ParameterError) as err:
        plan_day(problem, time_limit_s=0.1, clock_backstop=3)
    assert str(err.value) == "clock_backstop: found 3; expected a power of two >= 1 (1, 2, 4, ...)"
