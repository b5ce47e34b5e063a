"""Migrations go down and up again on both databases, indexes included."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from api.db import Database, alembic_config


def household_indexes(db: Database) -> set[str]:
    return {ix["name"] for ix in inspect(db.engine).get_indexes("households") if ix["name"]}


def test_down_to_0003_and_up_again(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        db.migrate()
        head = household_indexes(db)
        assert {"ix_households_beat_household", "ix_households_unknown_beat"} <= head
        assert "ix_households_last_contact" not in head
        cfg = alembic_config()
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
        before = household_indexes(db)
        assert {"ix_households_beat_id", "ix_households_last_contact"} <= before
        assert not before & {"ix_households_beat_household", "ix_households_unknown_beat"}
        db.migrate()
        assert household_indexes(db) == head
    finally:
        db.dispose()
