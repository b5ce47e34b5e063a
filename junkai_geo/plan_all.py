"""Tomorrow's plans for every officer on duty, on a Dask distributed cluster.

:func:`officer_days` reads the roster (shift patterns, public holidays, leave
and focus days: :mod:`junkai_geo.roster`) and makes one :class:`OfficerDay`
per officer on duty: a picklable task carrying everything its plan needs
(the officer's part of the dataset and the day's request), from which the
worker builds the officer's :class:`~junkai_geo.routing.DayProblem` and plans
it. :func:`run_plan_all` submits one Dask task per officer-day
(:func:`plan_officer_day`) to a
``distributed`` client (a ``LocalCluster`` on this machine, or a scheduler
``tcp://host:port``), hands every finished plan to a sink as soon as it
arrives (so a rerun resumes: finished plans are skipped unless ``force``),
reports a failed or timed-out task with its officer and reason while the
others finish, and summarises per station.

A worker that dies mid-task loses nothing: the scheduler runs its tasks
again on another worker (up to ``distributed.scheduler.allowed-failures``
times), and a plan is stored once per officer and day by the sink. The
solver's search ends at its work budget, not the clock (``CLOCK_BACKSTOP``):
the same task gives the same plan on any cluster at any load.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem
from .model import Dataset
from .roster import RosterParams, build_roster

#: A task running longer than this many times its plan time limit (plus
#: ``TIMEOUT_MARGIN_S``) is reported as timed out: generous, since a task runs
#: its whole work budget however loaded the machine (a 1 s plan of the
#: prefecture took up to 1.5 s of CPU, and a worker may get a tenth of a core).
TIMEOUT_FACTOR = 20.0
TIMEOUT_MARGIN_S = 120.0


#: The solver's wall-clock backstop of a plan-all task, as a multiple of its
#: time limit (``plan_day(clock_backstop=...)``): the work budget alone ends
#: the search, so a loaded machine gives the plans of an idle one; the task's
#: timeout (above) is the guard.
CLOCK_BACKSTOP = 64.0


@dataclass(frozen=True, eq=False)
class OfficerDay:
    """One officer's day to plan: what a Dask task carries to build and solve its problem.

    ``data`` is the officer's part of the dataset (:meth:`DayTasks.iter`):
    the officer, the koban, the households of the beat (a 専従員: of the
    koban's beats), their visits and buildings. The worker builds the
    :class:`~junkai_geo.routing.DayProblem` from it
    (:func:`~junkai_geo.routing.build_day_problem`), so the driver only cuts
    the data and schedules.
    """

    officer_id: str
    station: str
    on: date
    time_limit_s: float
    seed: int
    data: Dataset
    request: Any  # junkai_geo.routing.DayRequest (imported lazily)
    clock_backstop: float = CLOCK_BACKSTOP

    @property
    def key(self) -> str:
        """The task's name: ``plan-<officer>-<date>``."""
        return f"plan-{self.officer_id}-{self.on.isoformat()}"

    def build(self) -> Any:
        """The officer's :class:`~junkai_geo.routing.DayProblem`."""
        from .routing import build_day_problem

        return build_day_problem(self.data, self.request)


@dataclass
class OfficerDayResult:
    """A finished task: the plan (``DayPlan.to_dict()``) and its counts."""

    officer_id: str
    station: str
    on: date
    plan: dict[str, Any]
    households: int
    unknown: int
    #: Seconds (wall) of the task on its worker: build and plan.
    seconds: float
    worker: str
    #: Seconds (wall, CPU of the worker's thread) of planning the problem.
    plan_s: float = 0.0
    cpu_s: float = 0.0
    #: Seconds (wall, CPU) of building the problem on the worker.
    build_s: float = 0.0
    build_cpu_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "officer_id": self.officer_id,
            "station": self.station,
            "date": self.on.isoformat(),
            "households": self.households,
            "unknown": self.unknown,
            "seconds": round(self.seconds, 3),
            "build_s": round(self.build_s, 3),
            "plan_s": round(self.plan_s, 3),
            "worker": self.worker,
        }


def plan_officer_day(task: OfficerDay) -> OfficerDayResult:
    """Build and plan one officer-day (runs on a Dask worker).

    The solver's clock is widened (``task.clock_backstop``): its work budget
    ends the search, and the same task gives the same plan on any worker at
    any load.
    """
    from .routing import plan_day

    t0, c0 = time.perf_counter(), time.thread_time()
    problem = task.build()
    t1, c1 = time.perf_counter(), time.thread_time()
    plan = plan_day(
        problem, time_limit_s=task.time_limit_s, seed=task.seed, clock_backstop=task.clock_backstop
    ).to_dict()
    t2, c2 = time.perf_counter(), time.thread_time()
    chosen = [h for s in plan["stops"] for h in s["households"]]
    return OfficerDayResult(
        officer_id=task.officer_id,
        station=task.station,
        on=task.on,
        plan=plan,
        households=len(chosen),
        unknown=sum(1 for h in chosen if h.get("card_status") == "none"),
        seconds=t2 - t0,
        worker=f"{os.uname().nodename}:{os.getpid()}",
        plan_s=t2 - t1,
        cpu_s=c2 - c1,
        build_s=t1 - t0,
        build_cpu_s=c1 - c0,
    )


def officer_days(
    dataset: Dataset,
    on: date,
    *,
    time_limit_s: float,
    seed: int = 0,
    roster_params: RosterParams | None = None,
    leave: Mapping[str, Iterable[date]] | None = None,
    focus_days: Mapping[str, Iterable[date]] | None = None,
    stations: Iterable[str] | None = None,
) -> tuple[list[OfficerDay], list[dict[str, str]]]:
    """The officer-days of ``on``: one task per officer on duty, and those off duty.

    As :func:`day_tasks`, with every officer's data cut now. Returns the tasks (in
    officer order) and, for every officer off duty, ``{"officer_id",
    "station", "shift"}``.
    """
    tasks = day_tasks(
        dataset,
        on,
        time_limit_s=time_limit_s,
        seed=seed,
        roster_params=roster_params,
        leave=leave,
        focus_days=focus_days,
        stations=stations,
    )
    return list(tasks), tasks.off_duty


@dataclass
class DayTasks:
    """The officer-days of one day, each officer's data cut when iterated.

    :func:`run_plan_all` cuts only the data of officers whose plan is not
    stored yet; the workers build the problems.
    """

    on: date
    time_limit_s: float
    seed: int
    #: ``(officer_id, station, shift)`` of every officer on duty, in officer order.
    on_duty: list[tuple[str, str, Any]]
    off_duty: list[dict[str, str]]
    slices: Any
    clock_backstop: float = CLOCK_BACKSTOP

    @property
    def officer_ids(self) -> list[str]:
        return [oid for oid, _, _ in self.on_duty]

    def __len__(self) -> int:
        return len(self.on_duty)

    def __iter__(self) -> Iterator[OfficerDay]:
        return self.iter(skip=())

    def iter(self, *, skip: Iterable[str]) -> Iterator[OfficerDay]:
        """The tasks of the officers not in ``skip``, each with its officer's data."""
        from .routing import DayRequest

        skipped = set(skip)
        for oid, station, shift in self.on_duty:
            if oid in skipped:
                continue
            request = DayRequest(
                officer_id=oid,
                on=self.on,
                windows=tuple(shift.windows),
                focus_days=(self.on,) if shift.focus else (),
            )
            yield OfficerDay(
                officer_id=oid,
                station=station,
                on=self.on,
                time_limit_s=self.time_limit_s,
                seed=self.seed,
                data=self.slices.of_officer(oid),
                request=request,
                clock_backstop=self.clock_backstop,
            )


def day_tasks(
    dataset: Dataset,
    on: date,
    *,
    time_limit_s: float,
    seed: int = 0,
    roster_params: RosterParams | None = None,
    leave: Mapping[str, Iterable[date]] | None = None,
    focus_days: Mapping[str, Iterable[date]] | None = None,
    stations: Iterable[str] | None = None,
) -> DayTasks:
    """Who is on duty on ``on`` (the roster), and their tasks to build.

    The roster (:func:`junkai_geo.roster.build_roster`) gives each officer's
    shift; an officer with liaison windows gets a task whose problem the
    worker builds with those windows (and the focus day).
    """
    for name in ("officers", "households", "koban"):
        if getattr(dataset, name) is None:
            raise InputError(
                Problem(name, None, None, f"no {name} layer", f"a {name} layer", "missing_layer")
            )
    if not (time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise ParameterError(f"time_limit_s: found {time_limit_s!r}; expected seconds > 0")
    assert dataset.officers is not None and dataset.koban is not None  # checked above
    officers = dataset.officers.copy()
    koban = dataset.koban
    station_of = (
        dict(zip(koban["koban_id"].astype(str), koban["station"].astype(str), strict=True))
        if "station" in koban
        else {}
    )
    officers["koban_id"] = officers["koban_id"].astype(str)
    officers["station"] = officers["koban_id"].map(station_of).fillna("")
    if stations is not None:
        wanted = set(stations)
        unknown = wanted - set(officers["station"])
        if unknown:
            raise ParameterError(
                f"stations: found {sorted(unknown)}; expected among "
                f"{sorted(set(officers['station']))}"
            )
        officers = officers[officers["station"].isin(wanted)]
    officers = officers.sort_values("officer_id", kind="stable")
    roster = build_roster(officers, on, 1, params=roster_params, leave=leave, focus_days=focus_days)
    on_duty: list[tuple[str, str, Any]] = []
    off: list[dict[str, str]] = []
    for oid, station in zip(
        officers["officer_id"].astype(str), officers["station"].astype(str), strict=True
    ):
        shift = roster.shift(oid, on)
        if shift.on_duty:
            on_duty.append((oid, station, shift))
        else:
            off.append({"officer_id": oid, "station": station, "shift": shift.kind})
    return DayTasks(on, time_limit_s, seed, on_duty, off, _BeatSlices(dataset))


class _BeatSlices:
    """The dataset cut per beat once, so that each task carries only its officer's part.

    :func:`~junkai_geo.routing.build_day_problem` selects the officer's
    households, visits and buildings from whole layers; over a prefecture
    (half a million households, a million visits) the whole layers would be
    too much for every task, and that selection too slow to repeat per
    officer. The cut gives a task the same rows, in the same order: the
    officer, the koban, the beat's households, their visits and buildings.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        hh = dataset.households
        assert hh is not None and dataset.officers is not None and dataset.koban is not None
        beat = hh["beat_id"].astype(str)
        self.households = {b: g for b, g in hh.groupby(beat, sort=False)}
        self.visits: dict[str, pd.DataFrame] = {}
        if dataset.visits is not None:
            beat_of_household = dict(zip(hh["household_id"], beat, strict=True))
            vb = dataset.visits["household_id"].map(beat_of_household)
            self.visits = {b: g for b, g in dataset.visits.groupby(vb, sort=False)}
        # Rows (positions) of the buildings of each beat's households.
        self.building_rows: dict[str, np.ndarray] = {}
        bld = dataset.buildings
        if bld is not None and "building_id" in hh and "building_id" in bld:
            pos = pd.Series(np.arange(len(bld)), index=bld["building_id"].to_numpy())
            pos = pos[~pos.index.duplicated(keep="first")]
            for b, g in self.households.items():
                ids = pd.unique(g["building_id"].dropna())
                rows = pos.reindex(ids).dropna().to_numpy(dtype=np.int64)
                self.building_rows[b] = np.sort(rows)
        self.officers = dataset.officers
        self.koban = dataset.koban
        # Beats of each koban, for its 専従員: from the beats layer, else the
        # units, else the beat officers (a workspace read may lack beats).
        pairs = next(
            (
                layer[["beat_id", "koban_id"]]
                for layer in (dataset.beats, dataset.units, dataset.officers)
                if layer is not None and {"beat_id", "koban_id"} <= set(layer.columns)
            ),
            pd.DataFrame(columns=["beat_id", "koban_id"]),
        )
        pairs = pairs.dropna().astype(str).drop_duplicates()
        pairs = pairs[pairs["beat_id"] != ""]
        self.beats_of_koban: dict[str, list[str]] = {}
        for b, k in zip(pairs["beat_id"], pairs["koban_id"], strict=True):
            self.beats_of_koban.setdefault(k, []).append(b)

    def of_officer(self, officer_id: str) -> Dataset:
        ds = self.dataset
        assert ds.households is not None
        row = self.officers[self.officers["officer_id"].astype(str) == officer_id]
        beat = row["beat_id"].iloc[0] if len(row) else None
        if beat is not None and not pd.isna(beat) and str(beat):
            beats = [str(beat)]
        else:  # a specialist: the beats of the koban (as build_day_problem takes them)
            beats = self.beats_of_koban.get(str(row["koban_id"].iloc[0]), []) if len(row) else []
        hh_parts = [self.households[b] for b in beats if b in self.households]
        hh = (
            pd.concat(hh_parts).sort_index()
            if len(hh_parts) > 1
            else (hh_parts[0] if hh_parts else ds.households.iloc[:0])
        )
        visits = None
        if ds.visits is not None:
            v_parts = [self.visits[b] for b in beats if b in self.visits]
            visits = (
                pd.concat(v_parts).sort_index()
                if len(v_parts) > 1
                else (v_parts[0] if v_parts else ds.visits.iloc[:0])
            )
        buildings = ds.buildings
        if buildings is not None and self.building_rows:
            parts = [self.building_rows[b] for b in beats if b in self.building_rows]
            rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
            buildings = buildings.iloc[rows]
        elif buildings is not None and "building_id" in hh and "building_id" in buildings:
            buildings = buildings[buildings["building_id"].isin(hh["building_id"])]
        koban_id = str(row["koban_id"].iloc[0]) if len(row) else ""
        koban = self.koban[self.koban["koban_id"].astype(str) == koban_id]
        beats_frame = pd.DataFrame({"beat_id": beats, "koban_id": [koban_id] * len(beats)})
        return Dataset(
            crs=ds.crs,
            koban=koban,
            beats=beats_frame,
            officers=row,
            buildings=buildings,
            households=hh,
            visits=visits,
        )


class PlanSink(Protocol):
    """Where finished plans go (the workspace's table, or a folder)."""

    def done(self, on: date) -> set[str]:
        """Officer ids whose plan of ``on`` is already stored."""

    def save(self, result: OfficerDayResult) -> None:
        """Store one plan (replacing an earlier one of the same officer and day)."""


@dataclass
class Failure:
    officer_id: str
    station: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"officer_id": self.officer_id, "station": self.station, "reason": self.reason}


@dataclass
class PlanAllResult:
    """What a run did: plans made, skipped (already stored), failures, per station."""

    on: date
    planned: list[OfficerDayResult]
    skipped: list[str]
    failures: list[Failure]
    off_duty: list[dict[str, str]]
    wall_s: float
    scheduler: str
    workers: int
    notes: list[str] = field(default_factory=list)

    def by_station(self) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}

        def row(st: str) -> dict[str, Any]:
            return rows.setdefault(
                st,
                {
                    "station": st,
                    "officers": 0,
                    "households": 0,
                    "unknown": 0,
                    "failures": 0,
                    "skipped": 0,
                    "plan_s": 0.0,
                },
            )

        for r in self.planned:
            s = row(r.station)
            s["officers"] += 1
            s["households"] += r.households
            s["unknown"] += r.unknown
            s["plan_s"] += r.seconds
        for f in self.failures:
            row(f.station)["failures"] += 1
        return [
            {**v, "plan_s": round(v["plan_s"], 1)}
            for _, v in sorted(rows.items(), key=lambda kv: kv[0])
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.on.isoformat(),
            "planned": len(self.planned),
            "skipped": len(self.skipped),
            "failed": len(self.failures),
            "off_duty": len(self.off_duty),
            "wall_s": round(self.wall_s, 2),
            "scheduler": self.scheduler,
            "workers": self.workers,
            "stations": self.by_station(),
            "failures": [f.to_dict() for f in self.failures],
            "plans": [r.to_dict() for r in self.planned],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """The per-station table (Japanese headings first)."""
        lines = [
            f"plan-all {self.on.isoformat()}: {len(self.planned)} 計画作成 / planned, "
            f"{len(self.skipped)} 作成済 / already stored, {len(self.failures)} 失敗 / failed, "
            f"{len(self.off_duty)} 非番等 / off duty; {self.wall_s:.1f} s on {self.workers} "
            f"worker(s) ({self.scheduler})",
            f"{'警察署 station':<14}{'officers':>9}{'世帯 households':>16}{'未把握':>8}"
            f"{'失敗 failed':>12}{'plan s':>9}",
        ]
        for s in self.by_station():
            lines.append(
                f"{s['station']:<14}{s['officers']:>9}{s['households']:>16}{s['unknown']:>8}"
                f"{s['failures']:>12}{s['plan_s']:>9.1f}"
            )
        for f in self.failures:
            lines.append(f"失敗 failed: {f.officer_id} ({f.station}): {f.reason}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


class _Progress:
    """Done / failed / remaining and the rate: one rewritten line on a TTY, else a line per 10 %."""

    def __init__(self, total: int, stream: Any = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.last_decile = -1

    def update(self, done: int, failed: int, *, final: bool = False) -> None:
        if self.total == 0:
            return
        elapsed = time.perf_counter() - self.t0
        rate = done / elapsed if elapsed > 0 else 0.0
        left = self.total - done - failed
        text = (
            f"plan-all: {done} done, {failed} failed, {left} remaining of {self.total} "
            f"({rate:.2f} plans/s, {elapsed:.0f} s)"
        )
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self.stream.flush()
            return
        decile = (done + failed) * 10 // self.total
        if decile != self.last_decile or final:
            self.last_decile = decile
            print(text, file=self.stream, flush=True)


def run_plan_all(
    tasks: DayTasks | Iterable[OfficerDay],
    sink: PlanSink,
    *,
    client: Any,
    force: bool = False,
    off_duty: list[dict[str, str]] | None = None,
    timeout_s: float | None = None,
    retries: int = 1,
    on_result: Callable[[OfficerDayResult], None] | None = None,
    progress_stream: Any = None,
    poll_s: float = 0.5,
) -> PlanAllResult:
    """Plan every task on the Dask ``client``; each finished plan goes to ``sink`` at once.

    Parameters
    ----------
    tasks
        From :func:`day_tasks` (the data of stored plans not cut) or
        :func:`officer_days` (all of one day).
    sink
        Stores the plans; with ``force`` False, officers it already holds
        are skipped (a rerun resumes).
    client
        A ``distributed.Client`` (of a ``LocalCluster`` or a remote scheduler).
    timeout_s
        A task running (on a worker) longer than this is reported as timed
        out and its result dropped; default ``TIMEOUT_FACTOR`` x the plan
        time limit + ``TIMEOUT_MARGIN_S``. The clock starts when a worker
        starts running the task (asked of the workers every ``poll_s``).
    retries
        Extra attempts of a task that raised (a worker lost mid-task is
        retried by the scheduler in any case).
    on_result
        Called in this process with every finished plan (A4 sheets).
    """
    from distributed import wait

    t0 = time.perf_counter()
    if isinstance(tasks, DayTasks):
        on, ids, time_limit = tasks.on, tasks.officer_ids, tasks.time_limit_s
    else:
        tasks = list(tasks)
        on = tasks[0].on if tasks else date.today()
        if any(t.on != on for t in tasks):
            raise ParameterError("tasks: found several dates; expected the officer-days of one day")
        ids = [t.officer_id for t in tasks]
        time_limit = max((t.time_limit_s for t in tasks), default=0.0)
    stored = set() if force or not ids else sink.done(on)
    skipped = sorted(i for i in ids if i in stored)
    # Every officer's data is cut (a few milliseconds each) before the first
    # task goes: the driver's interpreter is then free for the
    # LocalCluster's scheduler (a thread of this process); the workers
    # build the problems.
    source: Iterator[OfficerDay] = iter(
        list(tasks.iter(skip=stored))
        if isinstance(tasks, DayTasks)
        else [t for t in tasks if t.officer_id not in stored]
    )
    limit = timeout_s if timeout_s is not None else time_limit * TIMEOUT_FACTOR + TIMEOUT_MARGIN_S
    if len(ids) > len(skipped):
        client.register_plugin(_planner_imports())
    progress = _Progress(len(ids) - len(skipped), progress_stream)
    futures: dict[str, tuple[Any, OfficerDay]] = {}
    pending: set[Any] = set()
    running_since: dict[str, float] = {}
    planned: list[OfficerDayResult] = []
    failures: list[Failure] = []
    building = True
    last_check = 0.0
    while building or pending:
        if building:
            # Submit the next task as soon as its problem is built; look at
            # the finished ones in between without waiting.
            task = next(source, None)
            if task is None:
                building = False
            else:
                fut = client.submit(
                    plan_officer_day, task, key=task.key, pure=False, retries=retries
                )
                futures[fut.key] = (fut, task)
                pending.add(fut)
        done: set[Any] = set()
        if pending:
            try:
                done, _ = wait(
                    list(pending), timeout=0 if building else poll_s, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                done = set()
        for fut in done:
            pending.discard(fut)
            task = futures[fut.key][1]
            if fut.status == "finished":
                result = fut.result()
                sink.save(result)
                planned.append(result)
                if on_result is not None:
                    on_result(result)
            else:
                exc = fut.exception() if fut.status == "error" else None
                reason = f"{type(exc).__name__}: {exc}" if exc is not None else fut.status
                failures.append(Failure(task.officer_id, task.station, reason[:500]))
            fut.release()
        now = time.perf_counter()
        if pending and now - last_check >= poll_s:
            last_check = now
            executing = _executing(client)
            for fut in list(pending):
                if fut.key in executing:
                    running_since.setdefault(fut.key, now)
                if fut.key in running_since and now - running_since[fut.key] > limit:
                    pending.discard(fut)
                    fut.cancel()
                    task = futures[fut.key][1]
                    failures.append(
                        Failure(task.officer_id, task.station, f"timed out after {limit:g} s")
                    )
        progress.update(len(planned), len(failures))
    progress.update(len(planned), len(failures), final=True)
    info = client.scheduler_info()
    return PlanAllResult(
        on=on,
        planned=sorted(planned, key=lambda r: r.officer_id),
        skipped=skipped,
        failures=sorted(failures, key=lambda f: f.officer_id),
        off_duty=list(off_duty or []),
        wall_s=time.perf_counter() - t0,
        scheduler=str(client.scheduler.address),
        workers=len(info.get("workers", {})),
    )


def _import_planner() -> None:
    import importlib

    for module in ("junkai_geo.routing", "junkai_geo.solver", "junkai_geo.cards"):
        importlib.import_module(module)


def _planner_imports() -> Any:
    """A Dask worker plugin: each worker (also one joining later) imports the planner.

    A worker's first task would otherwise spend seconds importing the
    libraries (pandas, geopandas, OR-Tools), counted against its timeout.
    """
    from distributed import WorkerPlugin

    class PlannerImports(WorkerPlugin):
        name = "junkai-geo-planner-imports"
        idempotent = True

        def setup(self, worker: Any) -> None:
            _import_planner()

    return PlannerImports()


def _executing_keys(dask_worker: Any) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


def _executing(client: Any) -> set[str]:
    """Keys the workers are running now (not those only assigned to them and waiting)."""
    got = client.run(_executing_keys, on_error="ignore")
    return {k for keys in got.values() if isinstance(keys, list) for k in keys}


def local_client(workers: int | None = None) -> Any:
    """A ``distributed.Client`` on a new ``LocalCluster`` of single-threaded worker processes."""
    from distributed import Client, LocalCluster

    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster)


class FolderSink:
    """A :class:`PlanSink` writing ``<dir>/<date>/<officer_id>.json`` (for bundled areas)."""

    def __init__(self, directory: Any) -> None:
        from pathlib import Path

        self.directory = Path(directory)

    def done(self, on: date) -> set[str]:
        folder = self.directory / on.isoformat()
        return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()

    def save(self, result: OfficerDayResult) -> None:
        import json

        folder = self.directory / result.on.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{result.officer_id}.json.tmp"
        tmp.write_text(json.dumps(result.plan, ensure_ascii=False, indent=1) + "\n", "utf-8")
        tmp.replace(folder / f"{result.officer_id}.json")  # whole or not at all
