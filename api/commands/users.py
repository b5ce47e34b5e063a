"""``junkai-geo users``: add and list the service's users of a workspace.

The password is read from the environment variable ``JUNKAI_NEW_PASSWORD``
or asked for on the terminal, never from the command line (it would stay in
the shell history and the process list). An officer user must name an
officer of the workspace (``officer_id`` of the officers layer), a manager
a station that a koban of the workspace belongs to, written as the police
list does (金沢東警察署) or as the koban layer stores it (金沢東): it is stored
as the koban layer spells it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..cli import add_workspace_arguments

    parser.add_argument("action", choices=["add", "list"])
    parser.add_argument("username", nargs="?")
    parser.add_argument("--role", choices=["officer", "manager", "admin"], default="officer")
    parser.add_argument(
        "--officer-id", default=None, help="for an officer: their officer_id, e.g. K01-1-O"
    )
    parser.add_argument(
        "--station", default=None, help="for a manager: e.g. 金沢中 or 金沢中警察署"
    )
    parser.add_argument("--sqlite-path", default=None, help="same as --workspace")
    add_workspace_arguments(parser)


def _known(session: object, args: argparse.Namespace) -> str | None:
    """Why the officer id or station is not in the workspace, or None.

    A station found is put in ``args.station`` as the koban layer spells it.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from ..models import OfficerRow

    assert isinstance(session, Session)
    if (
        args.role == "officer"
        and args.officer_id
        and session.get(OfficerRow, args.officer_id) is None
    ):
        known = sorted(session.scalars(select(OfficerRow.officer_id).limit(6)))
        example = ", ".join(known) or "none yet: import the officers first"
        return (
            f"--officer-id: found {args.officer_id!r}, not an officer of the workspace; "
            f"expected an officer_id of the officers layer (e.g. {example})"
        )
    if args.role == "manager" and args.station:
        from ..auth import workspace_station

        station, stations = workspace_station(session, args.station)
        if station is None:
            shown = ", ".join(stations) or "none yet: import the koban first"
            return (
                f"--station: found {args.station!r}, the station of no koban in the workspace; "
                f"expected one of {shown} (警察署 may be written or left out)"
            )
        # Stored as the koban layer spells it: the manager's scope compares them.
        args.station = station
    return None


def run(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from ..auth import create_user
    from ..models import User
    from ..settings import get_settings
    from ..workspace import open_workspace, resolve_url

    url = resolve_url(args.workspace or args.sqlite_path, args.database_url)
    if url is None:
        get_settings.cache_clear()
        url = get_settings().url()
    db = open_workspace(url)
    try:
        if args.action == "list":
            with db.read_session() as session:
                for u in session.scalars(select(User).order_by(User.id)):
                    print(f"{u.username}\t{u.role}\t{u.officer_id or ''}\t{u.station or ''}")
            return 0
        if not args.username:
            print("junkai-geo users add: a username is required", file=sys.stderr)
            return 2
        with db.read_session() as session:
            unknown = _known(session, args)
        if unknown:
            print(f"junkai-geo users add: {unknown}", file=sys.stderr)
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
