"""Engine, sessions and migrations.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` so a
commit that returned is on disk: a visit acknowledged to an officer survives
a crash or a power cut. Writers take the write lock when their transaction
starts (``BEGIN IMMEDIATE``) rather than on their first write, because a
deferred transaction that read first and writes later cannot wait for the
lock and fails at once with "database is locked".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

API_DIR = Path(__file__).resolve().parent

#: Execution option that makes a SQLite transaction begin IMMEDIATE.
WRITE_OPTION = "junkai_write"

#: How long a writer of ``Database.try_write_engine`` waits for the write
#: lock: about one short commit of another process (1.5 ms at the median
#: under load). With 0, one audited read in seven under load found the lock
#: taken and went the slow way (p95 139 ms); with 3 ms, p95 73 ms.
TRY_WRITE_WAIT_MS = 3


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


def make_engine(
    url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 10, max_overflow: int = 30
) -> Engine:
    """An engine for ``url`` with the project's durability settings."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        connect_args = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        if not path or path == ":memory:":
            # One shared connection, or every session would see its own empty database.
            engine = create_engine(url, connect_args=connect_args, poolclass=StaticPool)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Keep as many connections as the pool may hand out: an overflow
            # connection is opened (with its PRAGMAs) and closed per request,
            # which under load costs more than the query.
            engine = create_engine(
                url,
                connect_args=connect_args,
                pool_size=pool_size + max_overflow,
                max_overflow=max_overflow,
            )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    # No pre-ping: it is a round trip to the server at every checkout, half
    # the statements of a short read (without it, 418 -> 655 reads/s under
    # load). A connection the server dropped (a restart) fails the one
    # request that holds it; SQLAlchemy then discards every older pooled
    # connection, so the next requests reconnect. Connections are renewed
    # after half an hour, before firewalls and server timeouts drop them.
    return create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the driver) emit BEGIN, so it can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


class Database:
    """One engine with a read and a write session factory."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        read_engine = self.engine
        if not self.is_sqlite:
            # Reads on PostgreSQL in autocommit: no BEGIN and ROLLBACK round
            # trips around a one-query read (26 % more reads/s under load).
            # Each statement sees what was committed when it began; a read of
            # several statements (a report, a plan's inputs) may see a write
            # land between two of them, as it would a moment later anyway.
            read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read = sessionmaker(read_engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        self._try_write: Engine | None = None

    def read_session(self) -> Session:
        return self._read()

    def try_write_engine(self) -> Engine:
        """SQLite: an engine whose writers barely wait for the write lock.

        ``BEGIN IMMEDIATE`` fails ("database is locked") when another writer
        holds the lock for longer than ``TRY_WRITE_WAIT_MS``, so a caller on
        the event loop can try a short write there and hand it to a thread
        when the lock is taken. One connection; use it from one thread (the
        event loop's).
        """
        if self._try_write is None:
            engine = make_engine(
                self.url, busy_timeout_ms=TRY_WRITE_WAIT_MS, pool_size=1, max_overflow=0
            )
            self._try_write = engine.execution_options(**{WRITE_OPTION: True})
        return self._try_write

    def write_session(self) -> Session:
        return self._write()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction committed on success, rolled back on error."""
        with self.write_session() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._try_write is not None:
            self._try_write.engine.dispose()


def alembic_config() -> Config:
    cfg = Config(str(API_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(API_DIR / "migrations"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Run Alembic's upgrade to ``revision`` on ``engine``."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
