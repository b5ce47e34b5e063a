"""``junkai-geo serve``: run the web service (FastAPI on uvicorn) on a workspace.

The workspace (``--workspace PATH``, ``--database-url URL``, or the
environment; default the embedded SQLite file ``junkai.sqlite3``) is
created and migrated on first start; ``--demo-data`` loads the bundled
Kanazawa data into an empty workspace. When no user exists yet, an
``admin`` user is created and its random password printed once.
"""

from __future__ import annotations

import argparse
import os
import secrets
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli import add_workspace_arguments

    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--sqlite-path",
        default=None,
        help="same as --workspace (default junkai.sqlite3 when no workspace is chosen)",
    )
    parser.add_argument(
        "--demo-data",
        action="store_true",
        help="load the bundled Kanazawa data when the workspace is empty",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own listening socket (SO_REUSEPORT); "
        "SQLite too: readers run side by side, writers take turns",
    )
    parser.add_argument("--log-level", default="warning")
    add_workspace_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from junkai_geo.console import steps

    from ..settings import get_settings
    from ..workspace import open_workspace, resolve_url, sqlite_url

    url = resolve_url(args.workspace or args.sqlite_path, args.database_url)
    if url is None:
        get_settings.cache_clear()
        url = get_settings().url()
        if url.startswith("sqlite:///"):
            url = sqlite_url(url[len("sqlite:///") :])
    # The workers read the URL from the environment (api.settings).
    os.environ["JUNKAI_DATABASE_URL"] = url
    get_settings.cache_clear()
    with steps(getattr(args, "quiet", False)) as progress:
        progress.step("opening and migrating the workspace")
        db = open_workspace(url)
        try:
            if args.demo_data:
                progress.step("loading the bundled Kanazawa data (first start)")
            ensure_data_and_admin(db, demo=args.demo_data)
        finally:
            db.dispose()
    print(
        f"junkai-geo serve: http://{args.host}:{args.port}/docs  (database: "
        f"{db.engine.url.render_as_string(hide_password=True)})",
        flush=True,
    )
    from ..server import serve

    serve(args.host, args.port, args.workers, args.log_level)
    return 0


def ensure_data_and_admin(db: Any, *, demo: bool) -> None:
    """With ``demo``, the bundled Kanazawa data into an empty workspace; a first admin user."""
    from sqlalchemy import func, select

    from junkai_geo.bundled import as_of, load_kanazawa

    from ..auth import create_user
    from ..models import HouseholdRow, User
    from ..store import load_dataset, set_meta

    with db.writing() as session:
        if demo and not session.scalar(select(func.count()).select_from(HouseholdRow)):
            counts = load_dataset(session, load_kanazawa(), source="demo")
            set_meta(session, "as_of", as_of().isoformat())
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


def load_demo(db: Any) -> None:
    """Bundled Kanazawa data into an empty database; a first admin user."""
    ensure_data_and_admin(db, demo=True)
