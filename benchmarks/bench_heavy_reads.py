"""Heavy reads of the service (issue #17 item 7): ``GET /progress``, ``GET /specialists``.

On a SQLite database loaded with the bundled Kanazawa data (built once at
``--db`` when missing: a few minutes), measures in one run:

1. **Inputs**: :func:`api.store.dataset_from_db` (every household and visit
   of the scope) of the baseline (``--baseline``, default where this branch left ``main``, loaded
   from git with ``git show``) against this checkout's;
2. **Progress**: :func:`junkai_geo.progress.progress_report` of the
   baseline against this checkout's, on the same dataset, with a check that
   the answers are equal;
3. **Routes**: admin ``GET /progress`` (180 days) and ``GET
   /specialists?top=49`` through the app: the first request (computed) and
   the next (answered from the cache), and the baseline's whole path
   (baseline inputs + baseline computation) for the same answer.

Run: ``python benchmarks/bench_heavy_reads.py`` (writes
benchmarks/results/heavy_reads.md). The machine load (``uptime``) is
written with the figures: compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "heavy_reads.md"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def baseline_module(ref: str, path: str, name: str) -> ModuleType:
    """The module at ``path`` as of git ``ref``, importable beside today's."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tmp = Path(tempfile.mkdtemp()) / Path(path).name
    tmp.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, tmp)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build(db_path: Path) -> None:
    from api.db import Database
    from api.store import load_dataset
    from junkai_geo import bundled

    db = Database(f"sqlite:///{db_path}")
    db.migrate()
    with db.writing() as session:
        load_dataset(
            session,
            bundled.load_kanazawa(validate=False),
            source="bench",
            today=bundled.as_of(),
        )
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("/tmp/junkai_heavy_reads.sqlite3"))
    ap.add_argument(
        "--baseline",
        default=None,
        help="git ref of the previous code (default: merge-base with main)",
    )
    args = ap.parse_args()
    if args.baseline is None:
        args.baseline = subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()[:10]
    from fastapi.testclient import TestClient

    from api import store
    from api.auth import create_user
    from api.db import Database
    from api.heavy_reads import invalidate_heavy_reads
    from api.main import create_app
    from api.settings import ApiSettings
    from junkai_geo import bundled
    from junkai_geo.cards import card_table
    from junkai_geo.progress import progress_report
    from junkai_geo.specialists import recommend_for_dataset

    if not args.db.exists():
        print(f"building {args.db} from the bundled Kanazawa data ...", flush=True)
        build(args.db)
    old_store = baseline_module(args.baseline, "api/store.py", "api._baseline_store")
    old_progress = baseline_module(
        args.baseline, "junkai_geo/progress.py", "junkai_geo._baseline_progress"
    )
    url = f"sqlite:///{args.db}"
    db = Database(url)
    end = bundled.as_of()
    start = end - timedelta(days=180)
    rows: list[tuple[str, str, str, str]] = []

    with db.read_session() as s:
        ds_old, t_ds_old = timed(lambda: old_store.dataset_from_db(s, None))
        ds_new, t_ds_new = timed(lambda: store.dataset_from_db(s, None))
    assert ds_new.visits is not None and ds_new.households is not None
    n = f"{len(ds_new.households):,} households, {len(ds_new.visits):,} visits"
    rows.append(("dataset_from_db (admin scope)", f"{t_ds_old:.2f} s", f"{t_ds_new:.2f} s", n))
    p_old, t_p_old = timed(lambda: old_progress.progress_report(ds_old, start=start, end=end))
    p_new, t_p_new = timed(lambda: progress_report(ds_new, start=start, end=end))
    same = p_old.to_dict() == p_new.to_dict()
    rows.append(
        (
            "progress_report (180 days)",
            f"{t_p_old:.2f} s",
            f"{t_p_new:.2f} s",
            f"{len(p_new.officers)} officers; answers equal: {same}",
        )
    )

    with db.writing() as session:
        from sqlalchemy import select

        from api.models import User

        if session.scalar(select(User).where(User.username == "bench_admin")) is None:
            create_user(session, "bench_admin", "bench-password-17", "admin")
    app = create_app(ApiSettings(database_url=url), db=db)
    client = TestClient(app)
    r = client.post(
        "/auth/token", data={"username": "bench_admin", "password": "bench-password-17"}
    )
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    invalidate_heavy_reads()
    params = {"start": start.isoformat(), "end": end.isoformat()}
    first, t_first = timed(lambda: client.get("/progress", params=params, headers=auth))
    second, t_second = timed(lambda: client.get("/progress", params=params, headers=auth))
    assert first.status_code == second.status_code == 200, first.text
    rows.append(
        (
            "GET /progress, first request (computed)",
            f"{t_ds_old + t_p_old:.2f} s (old inputs + old report)",
            f"{t_first:.2f} s",
            "answer equal to the baseline's: "
            + str(first.json()["officers"] == p_old.to_dict()["officers"]),
        )
    )
    rows.append(("GET /progress, next request (cached)", "same as first", f"{t_second:.3f} s", ""))

    def old_specialists() -> Any:
        with db.read_session() as s:
            ds = old_store.dataset_from_db(s, None, buildings=True)
        today = store.today_local()
        cards = card_table(ds.households, ds.visits, today=today)
        return recommend_for_dataset(ds, cards, today=today, top=49, rounds=False)

    rep_old, t_s_old = timed(old_specialists)
    s1, t_s1 = timed(lambda: client.get("/specialists", params={"top": 49}, headers=auth))
    s2, t_s2 = timed(lambda: client.get("/specialists", params={"top": 49}, headers=auth))
    assert s1.status_code == s2.status_code == 200, s1.text
    old_ids = [d.district_id + d.name for d in rep_old.districts]
    new_ids = [d["district_id"] + d["name"] for d in s1.json()["districts"]]
    rows.append(
        (
            "GET /specialists?top=49, first request (computed)",
            f"{t_s_old:.2f} s (old inputs + report)",
            f"{t_s1:.2f} s",
            f"{len(new_ids)} districts; same districts as the baseline: {old_ids == new_ids}",
        )
    )
    rows.append(
        ("GET /specialists?top=49, next request (cached)", "same as first", f"{t_s2:.3f} s", "")
    )
    client.close()
    db.dispose()

    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Heavy reads (issue #17 item 7)",
        "",
        f"Bundled Kanazawa data in SQLite ({n}); baseline `{args.baseline}` loaded with",
        "`git show` and run in the same process. One run each (the machine is shared).",
        f"Machine load: `{load}`.",
        "",
        "The issue measured admin `GET /progress` at 12.5-14.2 s and `GET /specialists?top=49`",
        "at 13.7 s (its machine load not recorded).",
        "",
        "| step | baseline | this checkout | note |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
