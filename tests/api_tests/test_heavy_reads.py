"""Heavy reads (issue #17 item 7): same answers as before, cached, bounded.

The per-officer counts of :func:`junkai_geo.progress.progress_report` are
computed in grouped passes; :func:`reference_counts` is the per-officer loop
they replaced, run on a seeded random visit history of the small dataset.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from api import heavy_reads
from api.heavy_reads import invalidate_heavy_reads
from api.routes.reports import invalidate_survey_cache
from junkai_geo.progress import progress_report

from .conftest import ApiEnv, small_dataset


def reference_counts(ds: Any, start: date, end: date) -> dict[str, dict[str, Any]]:
    """The previous per-officer loop: one filter of the period per officer."""
    visits = ds.visits
    hh = ds.households
    when = pd.to_datetime(visits["visited_on"]).dt.date
    period = visits[(when >= start) & (when <= end)].copy()
    met_all = visits[visits["outcome"].astype(str) == "met"]
    first_met = pd.to_datetime(met_all["visited_on"]).groupby(met_all["household_id"]).min()
    period["household_id"] = period["household_id"].astype(str)
    period["day"] = pd.to_datetime(period["visited_on"])
    period["met"] = period["outcome"].astype(str) == "met"
    period["made"] = period["met"] & (period["day"] <= period["household_id"].map(first_met))
    period["week"] = (
        period["day"] - pd.to_timedelta(period["day"].dt.day_of_week, unit="D")
    ).dt.date
    beat_of_hh = pd.Series(hh["beat_id"].astype(str).to_numpy(), index=hh["household_id"])
    period["beat_of_hh"] = period["household_id"].map(beat_of_hh)
    out = {}
    for r in ds.officers.to_dict("records"):
        mine = period[period["officer_id"].astype(str) == r["officer_id"]]
        in_beat = mine[mine["beat_of_hh"] == r["beat_id"]]
        out[r["officer_id"]] = {
            "attempts": len(mine),
            "contacts": int(mine["met"].sum()),
            "cards_made": int(mine["made"].sum()),
            "cards_corrected": int((mine["met"] & ~mine["made"]).sum()),
            "households_attempted": int(in_beat["household_id"].nunique()),
            "weekly": [
                {
                    "week": str(w),
                    "attempts": len(g),
                    "contacts": int(g["met"].sum()),
                    "households": int(g["household_id"].nunique()),
                }
                for w, g in mine.groupby("week")
            ],
        }
    return out


def busy_dataset() -> Any:
    """The small dataset with 600 random visits (any officer, any household)."""
    ds = small_dataset()
    rng = np.random.default_rng(17)
    n = 600
    ds.visits = pd.DataFrame(
        {
            "visit_id": [f"V{i}" for i in range(n)],
            "household_id": rng.choice(ds.households["household_id"].to_numpy(), n),
            "officer_id": rng.choice(ds.officers["officer_id"].to_numpy(), n),
            "visited_on": [
                (date(2026, 1, 1) + timedelta(days=int(d))).isoformat()
                for d in rng.integers(0, 300, n)
            ],
            "time": [f"{h:02d}:00" for h in rng.integers(9, 20, n)],
            "outcome": rng.choice(["met", "absent", "refused", "moved_out", "vacant"], n),
        }
    )
    return ds


def test_progress_counts_equal_the_per_officer_loop() -> None:
    ds = busy_dataset()
    for start, end in [
        (date(2026, 3, 1), date(2026, 6, 30)),
        (date(2026, 1, 1), date(2026, 12, 31)),
    ]:
        want = reference_counts(ds, start, end)
        got = progress_report(ds, start=start, end=end).to_dict()["officers"]
        assert len(got) == len(want) == 3
        assert sum(o["attempts"] for o in got) > 100  # the comparison is not vacuous
        for o in got:
            keys = want[o["officer_id"]].keys()
            assert {k: o[k] for k in keys} == want[o["officer_id"]]


def test_heavy_reads_are_cached_and_top_is_bounded(api_env: ApiEnv) -> None:
    invalidate_heavy_reads()
    params = {"start": "2026-01-01", "end": "2026-12-31"}
    first = api_env.client.get("/progress", params=params, headers=api_env.auth("admin"))
    assert first.status_code == 200, first.text
    again = api_env.client.get("/progress", params=params, headers=api_env.auth("admin"))
    assert again.json() == first.json()
    assert [k[1][0] for k in heavy_reads._ANSWERS] == ["progress"]
    invalidate_survey_cache()  # what a visit or an import calls
    assert not heavy_reads._ANSWERS
    spec = api_env.client.get("/specialists", params={"top": 50}, headers=api_env.auth("admin"))
    assert spec.status_code == 200, spec.text
    over = api_env.client.get("/specialists", params={"top": 51}, headers=api_env.auth("admin"))
    assert over.status_code == 422
