"""The append-only audit trail: who did what, when, from where.

Every read of household details and every write adds one row, in the same
transaction as the write (so a write without its audit row cannot commit)
and before the data of a read leaves the service. Nothing in the service
updates or deletes these rows, and triggers on both databases refuse it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .auth import Principal
from .db import utcnow
from .models import AuditEntry


def audit_row(
    who: Principal | None,
    action: str,
    resource: str,
    resource_id: str = "",
    *,
    client_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """The columns of one audit row (fields cut to their column sizes)."""
    return {
        "at": utcnow(),
        "user_id": who.user_id if who else None,
        "username": (who.username if who else username or "")[:64],
        "role": who.role.value if who else "",
        "action": action,
        "resource": resource,
        "resource_id": str(resource_id)[:128],
        "client_ip": (client_ip if client_ip is not None else who.client_ip if who else "")[:64],
        "detail": detail,
    }


def record(
    session: Session,
    who: Principal | None,
    action: str,
    resource: str,
    resource_id: str = "",
    *,
    client_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
) -> None:
    """Add one audit row to ``session``'s transaction."""
    session.add(
        AuditEntry(
            **audit_row(
                who,
                action,
                resource,
                resource_id,
                client_ip=client_ip,
                detail=detail,
                username=username,
            )
        )
    )


class ReadAuditWriter:
    """Group commit of read audit rows: one transaction for many readers.

    A read of household details must be on the trail before its data leaves
    the service, so each reader waits for the commit of its row; but one
    write transaction (and, on SQLite, one fsync under the single write
    lock) per read caps the service at the disk's commit rate. Readers hand
    their row to one writer thread per process and wait; the thread commits
    whatever rows have gathered in one transaction, then releases their
    readers. Each reader still gets its answer only after its row is on
    disk; a failed commit fails every reader of the batch.
    """

    #: Rows committed at most per transaction.
    MAX_BATCH = 500

    def __init__(self, db: Any) -> None:
        self.db = db
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], _Waiter] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def record(
        self,
        who: Principal,
        action: str,
        resource: str,
        resource_id: str = "",
        *,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Add one row and return once it is committed (raises if it was not).

        The coroutine waits for the commit without holding a thread.
        """
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop, loop.create_future())
        self._ensure_thread()
        self._queue.put((audit_row(who, action, resource, resource_id, detail=detail), waiter))
        await waiter.future

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self.MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                # One INSERT of many rows (Core, not the ORM's unit of work,
                # which under load took the writer longer than the commit).
                with self.db.writing() as session:
                    session.execute(insert(AuditEntry), [row for row, _ in batch])
            except BaseException as exc:  # every waiter of the batch must hear of it
                error = exc
            for _, waiter in batch:
                waiter.done(error)


class _Waiter:
    """A coroutine waiting for its row's commit, woken from the writer thread."""

    __slots__ = ("error", "future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        self.loop, self.future = loop, future
        self.error: BaseException | None = None

    def done(self, error: BaseException | None) -> None:
        self.error = error
        self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if self.future.done():  # the request was cancelled (client gone)
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(None)


_WRITERS_LOCK = threading.Lock()


def read_writer(db: Any) -> ReadAuditWriter:
    """The group-commit writer of ``db`` (one per database per process)."""
    with _WRITERS_LOCK:
        writer: ReadAuditWriter | None = getattr(db, "_read_audit_writer", None)
        if writer is None:
            writer = ReadAuditWriter(db)
            db._read_audit_writer = writer
        return writer


#: Inline commits slower than this on average (a slow disk: on the test
#: machines they take 1.5 ms at the median under load, 5 ms at the 90th
#: percentile) stop the inline path, but for one try in ``INLINE_PROBE``
#: calls that keeps the average current: the event loop must not wait for
#: a slow disk.
INLINE_COMMIT_MAX_MS = 8.0
INLINE_PROBE = 50


def try_record_inline(
    db: Any,
    who: Principal,
    action: str,
    resource: str,
    resource_id: str = "",
    *,
    detail: dict[str, Any] | None = None,
) -> bool:
    """SQLite: commit one audit row here and now if that is quick; else False.

    On the event loop, a read waiting for the group commit thread waits for
    the loop's next turn too, which under load was most of its time. When
    the write lock is free within a few milliseconds (see
    :meth:`api.db.Database.try_write_engine`) and commits have been fast
    (a running mean under ``INLINE_COMMIT_MAX_MS``), the row is committed
    inline (1.5 ms at the median under load). Otherwise the caller hands the row
    to :class:`ReadAuditWriter`. Either way the row is on disk before the
    data leaves.
    """
    if not db.is_sqlite:
        return False
    # Per database: the running mean (None before the first commit) and the
    # calls skipped since the path stopped.
    mean: float | None = getattr(db, "_inline_commit_ms", None)
    if mean is not None and mean > INLINE_COMMIT_MAX_MS:
        db._inline_skipped = getattr(db, "_inline_skipped", 0) + 1
        if db._inline_skipped % INLINE_PROBE:
            return False
    started = time.perf_counter()
    try:
        with db.try_write_engine().begin() as conn:
            conn.execute(
                insert(AuditEntry), [audit_row(who, action, resource, resource_id, detail=detail)]
            )
    except OperationalError:  # the write lock is taken: the group commit will do
        return False
    ms = (time.perf_counter() - started) * 1000
    # The first commit also opened the connection: it does not count.
    db._inline_commit_ms = 0.0 if mean is None else 0.9 * mean + 0.1 * ms
    return True
