"""Plans made ahead by ``junkai-geo plan-all`` are served by GET /plans/{officer}/{day}."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import inspect

from api.db import Database, alembic_config, utcnow
from api.models import DayPlanRow

from .conftest import ApiEnv

DAY = date(2030, 1, 7)  # a day no other test plans


def test_stored_plan_is_served_in_scope(api_env: ApiEnv) -> None:
    computed = api_env.client.get(
        f"/plans/O-NAKA1/{DAY.isoformat()}", headers=api_env.auth("off_naka1")
    )
    assert computed.status_code == 200, computed.text
    stored = {**computed.json(), "notes": ["made ahead by plan-all"]}
    with api_env.db.writing() as session:
        session.add(
            DayPlanRow(
                officer_id="O-NAKA1",
                on_date=DAY,
                station="金沢中",
                plan=stored,
                households=0,
                unknown=0,
                seed=0,
                time_limit_s=1.0,
                seconds=0.5,
                created_at=utcnow(),
            )
        )
    r = api_env.client.get(f"/plans/O-NAKA1/{DAY.isoformat()}", headers=api_env.auth("off_naka1"))
    assert r.status_code == 200 and r.json()["notes"] == ["made ahead by plan-all"]
    # Other windows or seeds are planned afresh; other officers stay out of scope
    r = api_env.client.get(
        f"/plans/O-NAKA1/{DAY.isoformat()}?seed=1", headers=api_env.auth("off_naka1")
    )
    assert r.status_code == 200 and r.json()["notes"] != ["made ahead by plan-all"]
    r = api_env.client.get(f"/plans/O-NAKA1/{DAY.isoformat()}", headers=api_env.auth("off_naka2"))
    assert r.status_code == 403


def test_day_plans_table_down_and_up(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        db.migrate()
        assert "day_plans" in inspect(db.engine).get_table_names()
        cfg = alembic_config()
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
        assert "day_plans" not in inspect(db.engine).get_table_names()
        db.migrate()
        assert "day_plans" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_plan_all_force_keeps_the_days_replan_count(api_env: ApiEnv) -> None:
    from api.day_plans import DatabaseSink, save_day_plan, stored_plan_and_replans
    from junkai_geo.plan_all import OfficerDayResult

    day = date(2030, 1, 8)  # a day no other test plans
    first = {"officer_id": "O-NAKA1", "stops": [], "notes": ["page plan"]}
    save_day_plan(api_env.db, "O-NAKA1", day, first, station="金沢中", replanned=False)
    for n in (1, 2):
        again = {**first, "notes": [f"re-plan {n}"]}
        save_day_plan(api_env.db, "O-NAKA1", day, again, station="金沢中", replanned=True)
    with api_env.db.read_session() as session:
        assert stored_plan_and_replans(session, "O-NAKA1", day) == (again, 2)
    forced = {**first, "notes": ["plan-all --force"]}
    sink = DatabaseSink(api_env.db, seed=0, time_limit_s=1.0)
    sink.save(OfficerDayResult("O-NAKA1", "金沢中", day, forced, 0, 0, 0.1, "w"))
    with api_env.db.read_session() as session:
        assert stored_plan_and_replans(session, "O-NAKA1", day) == (forced, 2)
    # A day without a row starts at 0.
    sink.save(OfficerDayResult("O-NAKA1", "金沢中", day.replace(day=9), forced, 0, 0, 0.1, "w"))
    with api_env.db.read_session() as session:
        assert stored_plan_and_replans(session, "O-NAKA1", day.replace(day=9)) == (forced, 0)
