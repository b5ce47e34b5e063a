"""Day plans computed in a separate, lower-priority process.

``plan_day`` is CPU-bound for its whole time limit (1.5 s by default). Run
in a thread of the server worker it holds that worker's GIL most of the
time, and every read the worker serves meanwhile waits for it: under load
the reads' latency was mostly that wait. So each server worker hands its
plans to a small process pool of its own (``JUNKAI_PLAN_PROCESSES``,
default 1), started on the first plan, whose processes run at a lower
scheduling priority (``PLAN_NICE``): a read wins the CPU over a plan, and a
plan still finishes within its wall-clock limit plus the wait.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

#: Added to the planner processes' niceness (Linux: 0 normal, 19 lowest).
PLAN_NICE = 5

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0


class PlanFailed(Exception):
    """The library refused the inputs (a JunkaiGeoError in the planner)."""


def _init() -> None:
    # Where raising the niceness is not allowed, plan at normal priority.
    with contextlib.suppress(OSError):
        os.nice(PLAN_NICE)
    import junkai_geo.routing  # noqa: F401  (imported once, not per plan)


def _run(kwargs: dict[str, Any]) -> tuple[str, Any]:
    from junkai_geo.errors import JunkaiGeoError
    from junkai_geo.routing import plan_day

    try:
        return "ok", plan_day(**kwargs)
    except JunkaiGeoError as exc:
        # Library errors carry structured arguments that need not pickle back.
        return "error", str(exc)


def _get_pool(size: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(
                max_workers=size, mp_context=multiprocessing.get_context("spawn"), initializer=_init
            )
            _pool_size = size
        return _pool


def _drop(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def plan_day_in_pool(processes: int, **kwargs: Any) -> Any:
    """``junkai_geo.routing.plan_day(**kwargs)`` in the planner pool.

    ``processes`` 0 plans in the calling thread. A pool whose process died
    is replaced and the plan tried once more. Raises :class:`PlanFailed`
    with the library's message when it refused the inputs.
    """
    if processes <= 0:
        status, value = _run(kwargs)
    else:
        for attempt in (1, 2):
            pool = _get_pool(processes)
            try:
                status, value = pool.submit(_run, kwargs).result()
                break
            except BrokenProcessPool:
                _drop(pool)
                if attempt == 2:
                    raise
    if status == "error":
        raise PlanFailed(value)
    return value


def shutdown() -> None:
    """Stop this process's planner pool (at server shutdown)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
