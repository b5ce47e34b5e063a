"""``junkai-geo serve``: run the web service (FastAPI on uvicorn).

The embedded SQLite database is created and migrated on first start;
``--demo-data`` loads the bundled Kanazawa data into an empty database and,
when no user exists yet, creates an ``admin`` user whose random password is
printed once.
"""

from __future__ import annotations

import argparse
import os
import secrets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db "
        "(default: DATABASE_URL, else the embedded SQLite file)",
    )
    parser.add_argument(
        "--sqlite-path", default=None, help="file of the embedded database (default junkai.sqlite3)"
    )
    parser.add_argument(
        "--demo-data",
        action="store_true",
        help="load the bundled Kanazawa data when the database is empty",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own listening socket (SO_REUSEPORT); "
        "SQLite too: readers run side by side, writers take turns",
    )
    parser.add_argument("--log-level", default="warning")


def run(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["JUNKAI_DATABASE_URL"] = args.database_url
    if args.sqlite_path:
        os.environ["JUNKAI_SQLITE_PATH"] = args.sqlite_path
    from api.db import Database
    from api.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    db = Database(settings.url())
    db.migrate()
    if args.demo_data:
        load_demo(db)
    db.dispose()
    print(
        f"junkai-geo serve: http://{args.host}:{args.port}/docs  (database: "
        f"{db.engine.url.render_as_string(hide_password=True)})",
        flush=True,
    )
    from api.server import serve

    serve(args.host, args.port, args.workers, args.log_level)
    return 0


def load_demo(db: object) -> None:
    """Bundled Kanazawa data into an empty database; a first admin user."""
    from sqlalchemy import func, select

    from api.auth import create_user
    from api.db import Database
    from api.models import HouseholdRow, User
    from api.store import load_dataset
    from junkai_geo.bundled import load_kanazawa

    assert isinstance(db, Database)
    with db.writing() as session:
        if not session.scalar(select(func.count()).select_from(HouseholdRow)):
            counts = load_dataset(session, load_kanazawa(), source="demo")
            print(
                "junkai-geo serve: loaded the bundled Kanazawa data: "
                + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
                flush=True,
            )
        if not session.scalar(select(func.count()).select_from(User)):
            password = secrets.token_urlsafe(12)
            create_user(session, "admin", password, "admin")
            print(
                f"junkai-geo serve: created user 'admin' with password {password} "
                "(shown once; add others with `junkai-geo users add`)",
                flush=True,
            )
