"""The demo data of the browser tests: three koban of 金沢西 from the bundled data.

The whole bundle (216,536 households) takes 100 s to load into a database on
a shared 2-core machine; three neighbouring koban of one station (9,522
households in 5 beats, a 駐在所 among them) exercise every page in a few seconds.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import fields, replace
from pathlib import Path

from junkai_geo.model import Dataset

#: 大野町駐在所, 粟崎交番, 鞍月交番 (金沢西). (K38, once 福増町駐在所 with one
#: small beat, is 安原交番 with four since the 2024 police list: left out.)
DEMO_KOBAN = ("K37", "K39", "K42")
DEMO_STATION = "金沢西"
PASSWORD = "correct-horse-battery"
#: user -> (role, officer_id, station)
DEMO_USERS = {
    "officer1": ("officer", "K39-1-O", None),
    "officer2": ("officer", "K39-2-O", None),
    "manager1": ("manager", None, DEMO_STATION),
    "admin1": ("admin", None, None),
}


def demo_subset(koban_ids: tuple[str, ...] = DEMO_KOBAN) -> Dataset:
    """The subset, read from the bundle once per process (a copy each call)."""
    ds = _subset(koban_ids)
    frames = {
        f.name: getattr(ds, f.name).copy()
        for f in fields(ds)
        if hasattr(getattr(ds, f.name), "copy") and hasattr(getattr(ds, f.name), "columns")
    }
    return replace(ds, **frames)


@functools.cache
def _subset(koban_ids: tuple[str, ...]) -> Dataset:
    from junkai_geo.bundled import load_kanazawa

    ds = load_kanazawa(validate=False)
    keep = set(koban_ids)
    beats = ds.beats[ds.beats["koban_id"].isin(keep)]
    beat_ids = set(beats["beat_id"])
    households = ds.households[ds.households["beat_id"].isin(beat_ids)]
    assert ds.units is not None and ds.buildings is not None and ds.visits is not None
    return replace(
        ds,
        koban=ds.koban[ds.koban["koban_id"].isin(keep)],
        beats=beats,
        officers=ds.officers[ds.officers["koban_id"].isin(keep)],
        units=ds.units[ds.units["beat_id"].isin(beat_ids)],
        households=households,
        buildings=ds.buildings[ds.buildings["building_id"].isin(set(households["building_id"]))],
        visits=ds.visits[ds.visits["household_id"].isin(set(households["household_id"]))],
    )


def load_demo(url: str) -> None:
    """Migrate ``url``, load the subset and add the demo users."""
    from api.auth import create_user
    from api.db import Database
    from api.store import load_dataset

    db = Database(url)
    db.migrate()
    with db.writing() as session:
        load_dataset(session, demo_subset(), source="demo")
        for name, (role, officer_id, station) in DEMO_USERS.items():
            create_user(session, name, PASSWORD, role, officer_id=officer_id, station=station)
    db.dispose()


if __name__ == "__main__":  # python tests/pages_tests/demo.py URL
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    load_demo(sys.argv[1] if len(sys.argv) > 1 else os.environ["JUNKAI_DATABASE_URL"])
