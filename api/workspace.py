"""The workspace: the service's database, opened by the command line too.

A workspace is the database the service serves (an embedded SQLite file by
default, PostgreSQL / PostGIS by URL). Every command takes ``--workspace
PATH`` (an SQLite file, created on first use) or ``--database-url URL``;
without them the environment decides (``JUNKAI_DATABASE_URL``, then
``DATABASE_URL``, as the service reads them, then ``JUNKAI_WORKSPACE``, a
file path), and without any of these the commands read the bundled
Kanazawa data, as before.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junkai_geo.errors import InputError, Problem

from .db import Database

if TYPE_CHECKING:
    from junkai_geo.model import Dataset
    from junkai_geo.network import StreetNetwork

#: Environment variable naming a workspace file (after the database URLs).
WORKSPACE_ENV = "JUNKAI_WORKSPACE"
URL_ENVS = ("JUNKAI_DATABASE_URL", "DATABASE_URL")

#: Tables every workspace has (made by migration 0001).
_OWN_TABLES = {"alembic_version", "households", "beats", "koban", "officers", "visits"}


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def normalise_url(url: str) -> str:
    """Plain ``postgres://`` URLs (hosting panels) use psycopg 3, as the service does."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def resolve_url(workspace: str | None = None, database_url: str | None = None) -> str | None:
    """The workspace's SQLAlchemy URL, or None for the bundled demo data.

    Order: ``--database-url``, ``--workspace``, ``JUNKAI_DATABASE_URL``,
    ``DATABASE_URL``, ``JUNKAI_WORKSPACE``.
    """
    if database_url:
        return normalise_url(database_url)
    if workspace:
        return sqlite_url(workspace)
    for name in URL_ENVS:
        if os.environ.get(name):
            return normalise_url(os.environ[name])
    if os.environ.get(WORKSPACE_ENV):
        return sqlite_url(os.environ[WORKSPACE_ENV])
    return None


def describe(url: str) -> str:
    """The URL without its password, or the SQLite file."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"workspace {u.database}"
    return f"workspace {u.render_as_string(hide_password=True)}"


def check_workspace_file(path: Path) -> None:
    """Refuse a file that exists but is not a database of this project.

    Raises
    ------
    InputError
        ``not_a_workspace`` when the file is not SQLite, or is an SQLite
        database made by something else.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    expected = (
        "a junkai-geo workspace (an SQLite file made by `junkai-geo import` or "
        "`junkai-geo serve`), or a path where none exists yet"
    )
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.DatabaseError:
        raise InputError(
            Problem(
                path.name,
                None,
                None,
                "a file that is not an SQLite database",
                expected,
                "not_a_workspace",
            )
        ) from None
    if tables and not tables >= _OWN_TABLES:
        shown = ", ".join(sorted(t for t in tables if not t.startswith("sqlite_"))[:6])
        raise InputError(
            Problem(
                path.name,
                None,
                None,
                f"an SQLite database of another application (tables: {shown})",
                expected,
                "not_a_workspace",
            )
        )


def check_workspace_database(db: Database) -> None:
    """A PostgreSQL (or other) database with tables but not ours is refused too."""
    from sqlalchemy import inspect

    # PostGIS puts its own table in every database made from its template.
    tables = set(inspect(db.engine).get_table_names()) - {"spatial_ref_sys"}
    if tables and not tables >= _OWN_TABLES:
        shown = ", ".join(sorted(tables)[:6])
        raise InputError(
            Problem(
                describe(db.url),
                None,
                None,
                f"a database of another application (tables: {shown})",
                "an empty database or a junkai-geo workspace",
                "not_a_workspace",
            )
        )


def open_workspace(url: str) -> Database:
    """The workspace's database, created or migrated to the newest schema."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
        check_workspace_file(Path(u.database))
    db = Database(url)
    try:
        if u.get_backend_name() != "sqlite":
            check_workspace_database(db)
        db.migrate()
    except BaseException:
        db.dispose()
        raise
    return db


class WorkspaceSource:
    """A :class:`junkai_geo.source.DataSource` over a workspace database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.url = db.url
        self.label = describe(db.url)
        self._dataset: Dataset | None = None
        self._networks: dict[str, StreetNetwork | None] = {}

    def dataset(self) -> Dataset:
        from .store import workspace_dataset

        if self._dataset is None:
            with self.db.read_session() as session:
                self._dataset = workspace_dataset(session)
            self._dataset.notes.append(f"data from the {self.label}")
        return self._dataset

    def as_of(self) -> date:
        from .store import get_meta, today_local

        with self.db.read_session() as session:
            value = get_meta(session, "as_of")
        return date.fromisoformat(value) if value else today_local()

    def network(self, mode: str) -> StreetNetwork | None:
        if mode not in self._networks:
            with self.db.read_session() as session:
                self._networks[mode] = load_network(session, mode)
        return self._networks[mode]

    def close(self) -> None:
        self.db.dispose()


#: (database URL, mode, sha256 of the stored graph) -> graph, per process.
_NETWORKS: dict[tuple[str, str, str], Any] = {}


def load_network(session: Any, mode: str) -> StreetNetwork | None:
    """The stored street network of ``mode`` (None when the workspace has none).

    Decoded graphs are kept per process, so the planner processes decode a
    network once, not per plan.
    """
    from sqlalchemy import select

    from junkai_geo.network_store import network_from_bytes

    from .models import StreetNetworkRow

    head = session.execute(
        select(StreetNetworkRow.file_sha256, StreetNetworkRow.created_at).where(
            StreetNetworkRow.mode == mode
        )
    ).first()
    if head is None:
        return None
    key = (str(session.get_bind().url), mode, f"{head[0]}@{head[1].isoformat()}")
    if key not in _NETWORKS:
        data = session.scalar(select(StreetNetworkRow.data).where(StreetNetworkRow.mode == mode))
        _NETWORKS[key] = network_from_bytes(data)
    net: StreetNetwork = _NETWORKS[key]
    return net


def source_for(workspace: str | None, database_url: str | None) -> Any:
    """A workspace source for the chosen workspace, or None for the bundled data."""
    url = resolve_url(workspace, database_url)
    if url is None:
        return None
    return WorkspaceSource(open_workspace(url))
