"""One store of day plans (migration 0011): the pages' old ``page_plans`` moves
into ``day_plans``, which plan-all, GET /plans and the route page all use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from api.day_plans import save_day_plan, stored_plan_and_replans
from api.db import Database, alembic_config
from tests.api_tests.conftest import fresh_postgres_database

PLAN = {
    "stops": [
        {"order": 1, "households": [{"household_id": "H1", "card_status": "none"}]},
        {"order": 2, "households": [{"household_id": "H2", "card_status": "current"}]},
    ]
}


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'junkai.sqlite3'}"
        return
    with fresh_postgres_database() as u:
        yield u


def _upgrade(db: Database, revision: str) -> None:
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_page_plans_move_into_day_plans(url: str) -> None:
    db = Database(url)
    try:
        _upgrade(db, "0009")
        now = datetime(2026, 12, 1, 6, 0)
        d1, d2 = date(2026, 12, 1), date(2026, 12, 2)
        with db.engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO koban (koban_id, name, kind, station, lon, lat, x, y) "
                    "VALUES ('K1', '交番', 'koban', '金沢西', 136.6, 36.6, 0, 0)"
                )
            )
            c.execute(
                sa.text(
                    "INSERT INTO officers (officer_id, koban_id, beat_id, role, mode, shift_pattern) "
                    "VALUES ('O1', 'K1', NULL, 'beat', 'walk', 'day')"
                )
            )
            other = {**PLAN, "stops": PLAN["stops"][:1]}
            plans = sa.table(
                "page_plans",
                sa.column("officer_id"),
                sa.column("on_date"),
                sa.column("plan", sa.JSON),
                sa.column("replans"),
                sa.column("updated_at"),
            )
            c.execute(
                sa.insert(plans),
                [
                    # Only the page had it: moved over.
                    dict(officer_id="O1", on_date=d1, plan=PLAN, replans=0, updated_at=now),
                    # plan-all had it too, and the officer re-planned: the re-plan wins.
                    dict(officer_id="O1", on_date=d2, plan=other, replans=2, updated_at=now),
                ],
            )
            c.execute(
                sa.text(
                    "INSERT INTO day_plans (officer_id, on_date, station, plan, households, "
                    "unknown, seed, time_limit_s, seconds, created_at) VALUES "
                    "('O1', :d, '金沢西', :p, 2, 1, 0, 5.0, 1.0, :t)"
                ),
                {"d": d2, "p": '{"stops": []}', "t": now},
            )
        db.migrate()
        assert "page_plans" not in sa.inspect(db.engine).get_table_names()
        with db.read_session() as s:
            assert stored_plan_and_replans(s, "O1", d1) == (PLAN, 0)
            assert stored_plan_and_replans(s, "O1", d2) == (other, 2)
            row = s.execute(
                sa.text("SELECT station, households, unknown FROM day_plans WHERE on_date = :d"),
                {"d": d1},
            ).one()
        assert tuple(row) == ("金沢西", 2, 1)
    finally:
        db.dispose()


def test_a_page_plan_never_replaces_plan_alls_but_a_replan_does(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'j.sqlite3'}")
    try:
        db.migrate()
        d = date(2026, 12, 3)
        save_day_plan(db, "O9", d, PLAN, station="S", replanned=False)
        save_day_plan(db, "O9", d, {"stops": []}, station="S", replanned=False)  # a 2nd worker
        with db.read_session() as s:
            assert stored_plan_and_replans(s, "O9", d) == (PLAN, 0)
        save_day_plan(db, "O9", d, {"stops": []}, station="S", replanned=True)
        with db.read_session() as s:
            assert stored_plan_and_replans(s, "O9", d) == ({"stops": []}, 1)
    finally:
        db.dispose()
