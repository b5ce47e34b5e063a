"""Pages on the whole bundled Kanazawa data, in Chromium over loopback.

- beat editor: the figures after a move (two beats' workload, deviation,
  contiguity and koban attachment, the table and the map redrawn), median of
  20 moves of one 町丁目 each on the largest station (金沢中, 419 units);
  measured inside the page (``performance.now()`` around the move handler)
  and from Playwright (click to the status line), which adds the DevTools
  round trip;
- an officer's route page with its map: navigation to the last stop marker
  drawn. The morning open reads the plan ``plan-all`` stored in ``day_plans``;
  a day without one shows the page at once (map, beat, koban, "being
  planned") and the route when the background plan is stored: both times
  reported, and later opens;
- the station's beats map with its 未把握 aggregated per 町丁目: navigation
  to the beat labels drawn, cold (the workload model runs once per beat
  version and station) and warm.

The database (all 216,536 households) is built once into
``--db`` (default: a file in the system temp folder) and reused.

Run: ``python benchmarks/bench_pages.py`` (writes benchmarks/results/pages.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "correct-horse-battery"
STATION = "金沢中"
TARGET_MOVE_MS = 150
TARGET_ROUTE_S = 1.0
TARGET_BEATS_S = 2.0
#: Officers of 金沢中 whose morning open is measured: ``bench_officer`` (K01-1-O)
#: and the station's next beat officers (read from the database).
MORNING_N = 5


def morning_officers(db: object) -> list[str]:
    from sqlalchemy import select

    from api.models import KobanRow, OfficerRow

    with db.read_session() as session:  # type: ignore[attr-defined]
        ids = session.scalars(
            select(OfficerRow.officer_id)
            .join(KobanRow, KobanRow.koban_id == OfficerRow.koban_id)
            .where(KobanRow.station == STATION, OfficerRow.beat_id.is_not(None))
            .order_by(OfficerRow.officer_id)
        ).all()
    others = [o for o in ids if o != "K01-1-O"]
    return ["K01-1-O", *others[: MORNING_N - 1]]


def build(path: Path) -> None:
    from api.auth import create_user
    from api.db import Database
    from api.store import load_dataset
    from junkai_geo.bundled import load_kanazawa

    db = Database(f"sqlite:///{path}")
    db.migrate()
    t0 = time.perf_counter()
    with db.writing() as session:
        load_dataset(session, load_kanazawa(), source="demo")
        create_user(session, "bench_officer", PASSWORD, "officer", officer_id="K01-1-O")
        create_user(session, "bench_manager", PASSWORD, "manager", station=STATION)
    db.dispose()
    print(f"built {path} in {time.perf_counter() - t0:.0f} s", flush=True)


def serve(path: Path) -> tuple[str, object]:
    import socket

    import uvicorn

    from api.main import create_app
    from api.pages.assets import install_web_assets
    from api.settings import ApiSettings

    # No prewarm: the cold beats map below measures the workload model itself
    # (the service computes it in the background at start by default).
    settings = ApiSettings(sqlite_path=path, web_assets=install_web_assets(), pages_prewarm=False)
    app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def login(page: object, base: str, user: str) -> None:
    # Land on a light page: the timed pages are opened afterwards.
    page.set_default_timeout(180_000)  # type: ignore[attr-defined]
    page.goto(f"{base}/login?next=/officer-near")  # type: ignore[attr-defined]
    page.fill("#username", user)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("form.card button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]


def timed_goto(page: object, url: str, selector: str) -> float:
    """Seconds from ``page.goto`` to ``selector`` in the page, seen from Playwright."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded")  # type: ignore[attr-defined]
    page.wait_for_selector(selector, state="attached", timeout=120_000)  # type: ignore[attr-defined]
    return time.perf_counter() - t0


PAINTED = "performance.getEntriesByName('junkai-map-painted').length > 0"


def painted_s(page: object) -> float:
    """Seconds from the navigation's start to the map painted, in the page
    (``junkai.drawn()``: its layers drawn, then the next frame)."""
    page.wait_for_function(PAINTED, timeout=120_000)  # type: ignore[attr-defined]
    ms = page.evaluate(  # type: ignore[attr-defined]
        "performance.getEntriesByName('junkai-map-painted')[0].startTime"
    )
    return float(ms) / 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "junkai_bench_pages.sqlite3"
    )
    ap.add_argument("--moves", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pages.md")
    args = ap.parse_args(argv)
    if not args.db.exists():
        build(args.db)
    import sqlite3

    base, server = serve(args.db)  # migrates the database (0011: one plan store)
    con = sqlite3.connect(args.db)
    con.execute("DELETE FROM day_plans")  # no plan stored: each case below sets its own
    con.execute("DELETE FROM page_station_maps")  # nor a beats map
    con.commit()
    con.close()
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import launch
    from sqlalchemy import select

    from api.day_plans import DatabaseSink
    from api.models import User
    from api.store import today_local
    from junkai_geo.plan_all import OfficerDayResult

    rows: list[tuple[str, str, str, str]] = []
    with launch() as browser:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        page = ctx.new_page()
        login(page, base, "bench_officer")
        from datetime import timedelta

        def day(n: int) -> str:
            return (today_local() + timedelta(days=n)).isoformat()

        last_stop = ".leaflet-marker-pane .stop-icon:last-child"
        tok = page.request.post(
            f"{base}/auth/token", form={"username": "bench_officer", "password": PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {tok}"}

        def api_plan(on: str) -> tuple[dict, float]:
            t0 = time.perf_counter()
            r = page.request.get(f"{base}/plans/K01-1-O/{on}", headers=auth)
            assert r.status == 200, r.text()
            return r.json(), time.perf_counter() - t0

        # Warm-up: the worker's first plan starts its planner process (imports included).
        _, spawn = api_plan(day(5))
        # Peer in the same run: the JSON API's plan of a day (computed, not stored).
        plan, api_s = api_plan(day(2))

        # 1. The morning as intended: plan-all stored the day's plans overnight
        #    (written here through plan-all's own sink, DatabaseSink, with the
        #    planner's DayPlan.to_dict() of each officer and day). Each of
        #    MORNING officers opens their route once, in a browser of their own.
        from api.auth import create_user
        from api.db import Database

        db = Database(f"sqlite:///{args.db}")
        MORNING = morning_officers(db)
        sink = DatabaseSink(db, seed=0, time_limit_s=5.0)
        sink.save(OfficerDayResult("K01-1-O", STATION, today_local(), plan, 0, 0, api_s, "bench"))
        for oid in MORNING[1:]:
            with db.writing() as session:
                if session.scalar(select(User.id).where(User.username == f"bench_{oid}")) is None:
                    create_user(session, f"bench_{oid}", PASSWORD, "officer", officer_id=oid)
            r = page.request.post(
                f"{base}/auth/token", form={"username": f"bench_{oid}", "password": PASSWORD}
            )
            other_auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = page.request.get(f"{base}/plans/{oid}/{day(0)}", headers=other_auth)
            assert r.status == 200, r.text()
            sink.save(OfficerDayResult(oid, STATION, today_local(), r.json(), 0, 0, 0.0, "bench"))
        db.dispose()
        mornings: list[float] = []
        morning_paint: list[float] = []
        for oid in MORNING:
            c2 = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
            p2 = c2.new_page()
            login(p2, base, "bench_officer" if oid == "K01-1-O" else f"bench_{oid}")
            mornings.append(timed_goto(p2, f"{base}/route/{oid}/{day(0)}", last_stop))
            morning_paint.append(painted_s(p2))
            c2.close()
        url = f"{base}/route/K01-1-O/{day(0)}"
        later, later_paint = [], []
        for _ in range(5):
            later.append(timed_goto(page, url, last_stop))
            later_paint.append(painted_s(page))
        stops = page.locator("li.stop").count()

        # 2. No plan made ahead for the day: the page (map, beat, koban) comes at
        #    once saying the route is being planned; the route follows when the
        #    background plan is stored (the page reloads itself).
        url = f"{base}/route/K01-1-O/{day(1)}"
        t0 = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")  # type: ignore[attr-defined]
        page.wait_for_selector("#plan-pending", state="attached")  # type: ignore[attr-defined]
        page.wait_for_selector(".beat-label", state="attached")  # type: ignore[attr-defined]
        pending_shown = time.perf_counter() - t0
        page.wait_for_selector(last_stop, state="attached", timeout=120_000)  # type: ignore[attr-defined]
        route_arrived = time.perf_counter() - t0
        stops_b = page.locator("li.stop").count()
        rows += [
            (
                f"officer route page + map, morning open: plan stored by plan-all (day_plans); "
                f"median of {len(mornings)} officers, each their first open in a new browser",
                f"{statistics.median(mornings):.2f} s",
                f"{TARGET_ROUTE_S} s",
                f"max {max(mornings):.2f} s; the service's first: {mornings[0]:.2f} s; "
                f"in the page, navigation to map painted: median {statistics.median(morning_paint):.2f} s",
            ),
            (
                "officer route page + map, later opens (stored plan, median of 5)",
                f"{statistics.median(later):.2f} s",
                f"{TARGET_ROUTE_S} s",
                f"max {max(later):.2f} s; {stops} stops; in the page: median "
                f"{statistics.median(later_paint):.2f} s",
            ),
            (
                "officer route page + map, no plan made ahead: page shown (map, beat, "
                "koban, 'being planned')",
                f"{pending_shown:.2f} s",
                f"{TARGET_ROUTE_S} s",
                "",
            ),
            (
                "… the same open: route shown (planned in the background, stored once)",
                f"{route_arrived:.2f} s",
                "",
                f"{stops_b} stops",
            ),
            (
                "peer: `GET /plans/{officer}/{day}` computing a plan (JSON, no page)",
                f"{api_s:.2f} s",
                "",
                "same run",
            ),
            (
                "peer: the planner's first plan in this worker (starts its process)",
                f"{spawn:.2f} s",
                "",
                "",
            ),
        ]
        ctx.close()

        ctx = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        page = ctx.new_page()
        login(page, base, "bench_manager")
        cold = timed_goto(page, f"{base}/station/beats", ".beat-label")
        warm, warm_paint = [], []
        for _ in range(5):
            warm.append(timed_goto(page, f"{base}/station/beats", ".beat-label"))
            warm_paint.append(painted_s(page))
        n_beats = page.locator(".beat-label").count()
        n_unknown = page.locator("path.leaflet-interactive").count()
        rows.append(
            (
                "station beats map with 未把握 per 町丁目, nothing stored yet (computed on "
                "this open and stored; the service computes it at start by default)",
                f"{cold:.2f} s",
                f"{TARGET_BEATS_S} s",
                f"{n_beats} beats",
            )
        )
        rows.append(
            (
                "station beats map with 未把握 per 町丁目, stored (median of 5)",
                f"{statistics.median(warm):.2f} s",
                f"{TARGET_BEATS_S} s",
                f"{n_unknown} shapes; in the page: median {statistics.median(warm_paint):.2f} s",
            )
        )

        t_editor = timed_goto(page, f"{base}/station/editor", "body[data-editor-ready='1']")
        data = page.request.get(f"{base}/station/editor/data.json").json()
        units = data["units"]
        beat_of = {u["i"]: u["beat_id"] for u in units}
        moves = []
        for a, b in data["adjacency"]:
            if beat_of[a] != beat_of[b] and a not in [m[0] for m in moves]:
                moves.append((a, beat_of[b]))
            if len(moves) >= args.moves:
                break
        inside, painted, mouse, clicked = [], [], [], []
        box = page.locator("#move-btn").bounding_box()
        for n, (i, to) in enumerate(moves * 2):
            page.evaluate(
                "name => { for (const l of Object.values(window.junkaiMap._layers)) {"
                " if (l.feature === undefined && l.getTooltip && l.getTooltip() && "
                "l.getTooltip().getContent().startsWith(name + ' (')) { l.fire('click'); return; } } }",
                units[i]["name"],
            )
            page.select_option("#move-to", to if n < len(moves) else beat_of[i])
            page.evaluate(
                "document.getElementById('status').textContent = '';"
                "window.junkaiLastMovePaintMs = undefined"
            )
            t0 = time.perf_counter()
            if n < len(moves):
                # A mouse click at the button (what a manager does).
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            else:
                # The same moves back, through page.click(): Playwright first
                # checks the button (scrolled into view, stable over two
                # frames, receiving events) in several round trips.
                page.click("#move-btn")
            page.wait_for_function("document.getElementById('status').textContent !== ''")
            (mouse if n < len(moves) else clicked).append(1000 * (time.perf_counter() - t0))
            page.wait_for_function("window.junkaiLastMovePaintMs !== undefined")
            inside.append(float(page.evaluate("window.junkaiLastMoveMs")))
            painted.append(float(page.evaluate("window.junkaiLastMovePaintMs")))
        rows.append(
            (
                f"beat editor open ({len(units)} units, {len(data['beats'])} beats)",
                f"{t_editor:.2f} s",
                "",
                "",
            )
        )
        rows.append(
            (
                f"beat editor: the move's work in the page (median of {len(inside)})",
                f"{statistics.median(inside):.1f} ms",
                "",
                f"max {max(inside):.1f} ms",
            )
        )
        rows.append(
            (
                f"beat editor: click to figures painted, in the page: the input event's time "
                f"to the next frame (median of {len(painted)})",
                f"{statistics.median(painted):.1f} ms",
                f"{TARGET_MOVE_MS} ms",
                f"max {max(painted):.1f} ms",
            )
        )
        rows.append(
            (
                f"beat editor: mouse click to figures shown, seen from Playwright "
                f"(median of {len(mouse)})",
                f"{statistics.median(mouse):.1f} ms",
                f"{TARGET_MOVE_MS} ms",
                f"max {max(mouse):.1f} ms",
            )
        )
        rows.append(
            (
                f"… the same through `page.click()` (its checks before clicking included; "
                f"median of {len(clicked)})",
                f"{statistics.median(clicked):.1f} ms",
                "",
                f"max {max(clicked):.1f} ms",
            )
        )
        ctx.close()
    server.should_exit = True  # type: ignore[attr-defined]

    load = os.getloadavg()
    lines = [
        "# Pages on the bundled Kanazawa data (`benchmarks/bench_pages.py`)",
        "",
        f"Chromium (Debian, headless) over loopback; SQLite; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "on a shared 2-core machine.",
        "",
        "| what | measured | target | note |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "Reading. Route page: the plan plan-all stored comes with the HTML; the beat's and its",
        "町丁目's simplified polygons are kept per beat version; the map's labels are plain",
        "elements (no layout per label) and its layers are drawn once, at the fitted view.",
        '"In the page" is the navigation\'s start to the map painted (performance marks),',
        "without Playwright's own round trips. Beats map: stored per station and beat",
        "version (`page_station_maps`); this run empties the table first, so its first open",
        "computes it (a service computes it at start by default; the first open after a",
        "restart: `pages_beats_map.md`). Editor: a move is worked out in the page; the",
        "target row is the click's input event to the next frame painted with the figures,",
        "and the mouse click seen from Playwright; `page.click()` adds Playwright's checks",
        "before it clicks. Absolute times are stretched by the machine's load (above):",
        "compare rows of one run.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


def cold_beats_map(argv: list[str] | None = None) -> int:
    """The station beats map opened first after the service starts (issue #15, #17).

    The manager of 金沢中 (46 beats, 410 町丁目, 100,000 households) opens
    ``/station/beats`` in a service just started (no prewarm): navigation to
    the beat labels drawn, then five more opens. Twice: with the map stored
    in ``page_station_maps`` by an earlier computation (what the service's
    start-up thread, an earlier open or the background refresh leave), and
    with nothing stored (the first open after the table is emptied: computed
    on the open). Peers in the same run, in this process on the same
    database: the computation that is stored
    (``api.pages.manager.compute_beats_map``) and the beat editor's workload
    model on every household and visit that the page waited for before
    (``api.pages.editor._compute``). Writes benchmarks/results/pages_beats_map.md.
    Run: ``python benchmarks/bench_pages.py --cold-beats-map [--db PATH]``.
    """
    ap = argparse.ArgumentParser(description=cold_beats_map.__doc__)
    ap.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "junkai_bench_pages.sqlite3"
    )
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "pages_beats_map.md"
    )
    args = ap.parse_args(argv)
    if not args.db.exists():
        build(args.db)
    from sqlalchemy import delete, select

    from api.auth import create_user, current_version
    from api.db import Database
    from api.models import KobanRow, User
    from api.pages import editor, manager
    from api.pages.models import PageStationMap

    db = Database(f"sqlite:///{args.db}")
    db.migrate()  # a database built by an older checkout gets the newer tables
    with db.writing() as session:
        if session.scalar(select(User).where(User.username == "bench_manager")) is None:
            create_user(session, "bench_manager", PASSWORD, "manager", station=STATION)
        session.execute(delete(PageStationMap))
    with db.read_session() as session:
        version = current_version(session)
        kids = frozenset(
            session.scalars(select(KobanRow.koban_id).where(KobanRow.station == STATION))
        )
    load_before = os.getloadavg()
    # Wall and CPU seconds (the CPU time says what the wall time would be on
    # an idle machine; the shared machine's load stretches the wall time).
    t0, c0 = time.perf_counter(), time.process_time()
    manager.refresh_beats_map(db, STATION, kids)  # stores it, as the start-up thread does
    t_map, c_map = time.perf_counter() - t0, time.process_time() - c0
    sys.path.insert(0, str(ROOT / "tests"))
    from browser import launch

    def opens(browser: object) -> tuple[float, list[float], list[float], int]:
        base, server = serve(args.db)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        page = ctx.new_page()
        login(page, base, "bench_manager")
        first = timed_goto(page, f"{base}/station/beats", ".beat-label")
        more, paint = [], []
        for _ in range(5):
            more.append(timed_goto(page, f"{base}/station/beats", ".beat-label"))
            paint.append(painted_s(page))
        n_beats = page.locator(".beat-label").count()
        ctx.close()
        server.should_exit = True  # type: ignore[attr-defined]
        time.sleep(0.5)
        return first, more, paint, n_beats

    with launch() as browser:
        stored = opens(browser)
        with db.writing() as session:
            session.execute(delete(PageStationMap))
        nothing = opens(browser)
    t0, c0 = time.perf_counter(), time.process_time()
    editor._compute(db, version, kids)
    t_old, c_old = time.perf_counter() - t0, time.process_time() - c0
    db.dispose()
    load = os.getloadavg()
    rows = [
        ("station beats map, first open after the service starts: map stored earlier",
         f"{stored[0]:.2f} s", f"{TARGET_BEATS_S} s", f"{stored[3]} beats"),
        ("… the next five opens (median)", f"{statistics.median(stored[1]):.2f} s",
         f"{TARGET_BEATS_S} s",
         f"max {max(stored[1]):.2f} s; in the page, navigation to map painted: median "
         f"{statistics.median(stored[2]):.2f} s"),
        ("station beats map, first open after the service starts: nothing stored "
         "(computed on the open, then stored)", f"{nothing[0]:.2f} s", "",
         f"{nothing[3]} beats"),
        ("… the next five opens (median)", f"{statistics.median(nothing[1]):.2f} s",
         f"{TARGET_BEATS_S} s", f"max {max(nothing[1]):.2f} s"),
        ("peer: computing the station's map (grouped queries; what is stored)",
         f"{t_map:.2f} s", "", f"in process; CPU {c_map:.2f} s"),
        ("peer: the editor's workload model on every household and visit (read before #17)",
         f"{t_old:.2f} s", "", f"CPU {c_old:.2f} s; ratio {t_old / t_map:.1f}x"),
    ]  # fmt: skip
    lines = [
        "# Station beats map, cold (`benchmarks/bench_pages.py --cold-beats-map`)",
        "",
        f"Chromium (Debian, headless) over loopback; SQLite; bundled Kanazawa data; {STATION}.",
        f"Load average before {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f},"
        f" after {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared 2-core machine).",
        "",
        "| what | measured | target | note |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        "The map (beats with their simplified polygons and label points, workload per",
        "町丁目 from grouped queries, 未把握 per 町丁目, koban) is stored per station and",
        "beat version in `page_station_maps` (migration 0013) when computed: at the",
        "service's start (`JUNKAI_PAGES_PREWARM`, on by default), on an open that finds",
        "none, and again in the background after an open that finds it older than",
        "30 s (the page shows its time). An open reads one row. A service in a new",
        "process imports the workload model's modules at start, not on the first open.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    if "--cold-beats-map" in sys.argv:
        raise SystemExit(cold_beats_map([a for a in sys.argv[1:] if a != "--cold-beats-map"]))
    raise SystemExit(main())
