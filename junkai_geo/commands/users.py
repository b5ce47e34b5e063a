"""``junkai-geo users``: add and list the service's users.

The password is read from the environment variable ``JUNKAI_NEW_PASSWORD``
or asked for on the terminal, never from the command line (it would stay in
the shell history and the process list).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["add", "list"])
    parser.add_argument("username", nargs="?")
    parser.add_argument("--role", choices=["officer", "manager", "admin"], default="officer")
    parser.add_argument("--officer-id", default=None, help="for an officer: their officer_id")
    parser.add_argument("--station", default=None, help="for a manager: e.g. 金沢中")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--sqlite-path", default=None)


def run(args: argparse.Namespace) -> int:
    if args.database_url:
        os.environ["JUNKAI_DATABASE_URL"] = args.database_url
    if args.sqlite_path:
        os.environ["JUNKAI_SQLITE_PATH"] = args.sqlite_path
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from api.auth import create_user
    from api.db import Database
    from api.models import User
    from api.settings import get_settings

    get_settings.cache_clear()
    db = Database(get_settings().url())
    db.migrate()
    try:
        if args.action == "list":
            with db.read_session() as session:
                for u in session.scalars(select(User).order_by(User.id)):
                    print(f"{u.username}\t{u.role}\t{u.officer_id or ''}\t{u.station or ''}")
            return 0
        if not args.username:
            print("junkai-geo users add: a username is required", file=sys.stderr)
            return 2
        password = os.environ.get("JUNKAI_NEW_PASSWORD") or getpass.getpass("password: ")
        try:
            with db.writing() as session:
                create_user(
                    session,
                    args.username,
                    password,
                    args.role,
                    officer_id=args.officer_id,
                    station=args.station,
                )
        except IntegrityError:
            print(f"junkai-geo users add: {args.username!r} exists already", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"junkai-geo users add: {exc}", file=sys.stderr)
            return 2
        print(f"added {args.role} {args.username}")
        return 0
    finally:
        db.dispose()
