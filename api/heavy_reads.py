"""Cache and bound the heavy reports (``GET /progress``, ``GET /specialists``).

Each of them summarises every household and visit of the caller's scope
(on the bundled Kanazawa data 216,536 households and 397,522 visits), with
grouped queries (:mod:`api.aggregates`) but still for a second or more.
Answers are kept per (route, scope, parameters, day, beat version), as the
beat survey's are (:mod:`api.routes.reports`):

- fresh for :data:`HEAVY_CACHE_S` after its computation finished: answered
  at once;
- older but younger than :data:`HEAVY_STALE_S` (also counted from the end of
  its computation): answered at once while one background thread computes
  the next answer;
- older: computed again.

Writes in this process (visits, imports) clear the cache at once through
:func:`api.routes.reports.invalidate_survey_cache`; writes through another
worker process show within the stale time plus one computation. Requests
for the same answer wait for one computation (no stampede), and at most
:data:`HEAVY_READS_AT_ONCE` computations run at a time in a process, so a
burst of reports cannot take every worker thread's CPU and memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy.orm import Session

#: Seconds an answer is given without recomputing it.
HEAVY_CACHE_S = 30.0
#: Seconds an answer may be given while the next one is computed.
HEAVY_STALE_S = 300.0
#: Heavy computations running at once in one process; more wait their turn.
HEAVY_READS_AT_ONCE = 2
#: Answers kept; the cache is emptied when it grows past this.
HEAVY_MAX_ENTRIES = 256

_LOCK = threading.Lock()
_ANSWERS: dict[Hashable, tuple[float, Any]] = {}
_KEY_LOCKS: dict[Hashable, threading.Lock] = {}
_REFRESHING: set[Hashable] = set()
_RUNNING = threading.BoundedSemaphore(HEAVY_READS_AT_ONCE)
_generation = 0


def invalidate_heavy_reads() -> None:
    """Forget every cached report (after a write that changes their inputs)."""
    global _generation
    with _LOCK:
        _ANSWERS.clear()
        _generation += 1


def cached_heavy_read(session: Session, key: Hashable, compute: Callable[[Session], Any]) -> Any:
    """``compute(session)``, answered from the cache.

    ``key`` is completed with the session's database. Call it from a worker
    thread (a plain ``def`` route), not the event loop: a miss computes in
    the calling thread on ``session``; a background refresh on a new session
    of the same engine. Errors are not cached.
    """
    bind = session.get_bind()
    key = (bind.engine.url.render_as_string(hide_password=True), key)
    now = time.monotonic()
    with _LOCK:
        hit = _ANSWERS.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        if hit is not None and now < hit[0] - HEAVY_CACHE_S + HEAVY_STALE_S:
            if key not in _REFRESHING:
                _REFRESHING.add(key)
                threading.Thread(
                    target=_refresh, args=(bind, key, compute), name="heavy-refresh", daemon=True
                ).start()
            return hit[1]
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _LOCK:
            hit = _ANSWERS.get(key)
            if hit is not None and time.monotonic() < hit[0]:
                return hit[1]  # computed by the request we waited for
        return _compute_and_store(session, key, compute)


def _compute_and_store(session: Session, key: Hashable, compute: Callable[[Session], Any]) -> Any:
    with _LOCK:
        generation = _generation
    with _RUNNING:
        out = compute(session)
    with _LOCK:
        # A write cleared the cache meanwhile: this answer may predate it.
        if generation == _generation:
            if len(_ANSWERS) >= HEAVY_MAX_ENTRIES:
                _ANSWERS.clear()
                _KEY_LOCKS.clear()
            # Fresh from when it was computed: counted from the start, an
            # answer that takes longer than HEAVY_CACHE_S would never be fresh
            # and every request would start another refresh.
            _ANSWERS[key] = (time.monotonic() + HEAVY_CACHE_S, out)
    return out


def _refresh(bind: Any, key: Hashable, compute: Callable[[Session], Any]) -> None:
    try:
        # The bind carries the read engine's options (autocommit on PostgreSQL).
        with Session(bind=bind, expire_on_commit=False) as session:
            _compute_and_store(session, key, compute)
    except Exception:  # noqa: BLE001 - the next request computes and reports it
        with _LOCK:
            _ANSWERS.pop(key, None)
    finally:
        with _LOCK:
            _REFRESHING.discard(key)
