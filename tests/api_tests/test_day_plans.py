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
