"""The group-commit writer of read audit rows: every reader waits for its own commit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from api.audit import ReadAuditWriter
from api.auth import Principal, Role
from api.db import WRITE_OPTION, Database
from api.models import AuditEntry


def reader(n: int) -> Principal:
    return Principal(
        user_id=n,
        username=f"reader{n}",
        role=Role.OFFICER,
        officer_id=None,
        station=None,
        beat_ids=frozenset(),
        koban_ids=frozenset(),
        client_ip="127.0.0.1",
    )


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    database.migrate()
    yield database
    database.dispose()


def count(db: Database) -> int:
    with db.read_session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_readers_return_after_their_rows_are_committed(db: Database) -> None:
    writer = ReadAuditWriter(db)

    async def many() -> None:
        await asyncio.gather(
            *(writer.record(reader(i), "read", "household", f"H{i}") for i in range(50))
        )
        # Every coroutine has returned: every row is on disk.
        assert count(db) == 50

    asyncio.run(many())
    asyncio.run(writer.record(reader(99), "read", "household", "H99"))  # another event loop
    assert count(db) == 51
    writer.close()


def test_a_failed_commit_fails_its_readers(db: Database) -> None:
    writer = ReadAuditWriter(db)
    with db.writing() as s:  # the trail refuses rows from now on
        s.execute(text("DROP TABLE audit_log"))

    async def one() -> None:
        await writer.record(reader(1), "read", "household", "H1")

    with pytest.raises(Exception, match="audit_log"):
        asyncio.run(one())
    with pytest.raises(Exception, match="audit_log"):
        asyncio.run(writer.record(reader(2), "read", "household", "H2"))
    writer.close()


def test_inline_audit_commits_when_the_lock_is_free_and_barely_waits_for_it(db: Database) -> None:
    from api.audit import try_record_inline

    assert try_record_inline(db, reader(1), "read", "household", "H1")
    assert count(db) == 1
    holder = db.engine.execution_options(**{WRITE_OPTION: True}).connect()
    holder.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE: another writer holds the lock
    try:
        started = time.perf_counter()
        assert not try_record_inline(db, reader(2), "read", "household", "H2")
        assert time.perf_counter() - started < 1.0  # a few ms, not the 30 s of writers
    finally:
        holder.rollback()
        holder.close()
    assert count(db) == 1  # the caller hands that row to the group commit
    assert try_record_inline(db, reader(3), "read", "household", "H3")
    assert count(db) == 2


def test_inline_audit_stops_on_slow_commits_but_keeps_probing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import audit

    monkeypatch.setattr(audit, "INLINE_COMMIT_MAX_MS", -1.0)  # every commit is "slow"
    done = [
        audit.try_record_inline(db, reader(i), "read", "household", f"H{i}") for i in range(101)
    ]
    # The first commit, then one probe in INLINE_PROBE calls; the rest go to the group commit.
    assert done[0] and sum(done) == 1 + 100 // audit.INLINE_PROBE
    assert count(db) == sum(done)
