"""Manager and admin pages end to end in Chromium, on SQLite and PostgreSQL.

Manager: the station's beats map, progress, approve a night visit, 専従員,
the survey and its .xlsx, the beat editor (move two units, see the figures
change, accept a new beat version, its change map). Admin: import a file
with an error and see the report in the page; users; audit trail. Every
page: no console error, no request to another host, no serious or critical
axe-core violation.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select, update

from api.auth import current_version
from api.models import BeatRow, BeatVersion, BuildingRow, HouseholdRow, NightApproval, UnitRow
from api.pages.models import PageStationMap

from .conftest import axe_violations, dump, login_state, open_context, shot

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def manager(service: Any, browser: Any) -> Any:
    ctx, rec = open_context(browser, state=login_state(browser, service.base, "manager1"))
    page = ctx.new_page()
    yield page, rec
    ctx.close()


@pytest.fixture(scope="module")
def admin(service: Any, browser: Any) -> Any:
    ctx, rec = open_context(browser, state=login_state(browser, service.base, "admin1"))
    page = ctx.new_page()
    yield page, rec
    ctx.close()


def test_beats_map(service: Any, manager: Any, web_assets: Any) -> None:
    page, rec = manager
    page.goto(f"{service.base}/")  # a manager's start page
    assert page.url.endswith("/station/beats")
    page.wait_for_selector(".leaflet-container .beat-label")
    assert page.locator(".map-label.beat-label").count() == 5  # K37-1, K39-1, K39-2, K42-1, K42-2
    assert "時間／巡回1周" in page.inner_text("#legend")
    assert page.locator(".map-label.koban-label").count() == 3
    assert "背景地図は設定されていません" in page.inner_text("#map-note")
    shot(page, "manager_beats", service.backend)
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))


@pytest.mark.both_dbs
def test_beats_map_stored(service: Any, manager: Any) -> None:
    """The beats map is stored per station and beat version: an old one is
    served at once, with its time, and computed again after the answer."""
    page, _ = manager
    page.goto(f"{service.base}/station/beats")
    with service.db.read_session() as session:
        row = session.scalars(
            select(PageStationMap).where(PageStationMap.version == current_version(session))
        ).one()
        station, version, data = row.station, row.version, row.data
    old = datetime(2020, 1, 2, 3, 4, tzinfo=UTC)
    with service.db.writing() as session:
        row = session.get(PageStationMap, (station, version))
        row.data = {**data, "beats": [{**data["beats"][0], "workload_h": 12345.6}]}
        row.computed_at = old
    page.goto(f"{service.base}/station/beats")
    page.wait_for_selector(".map-label.beat-label")
    assert "12345.6" in page.inner_text("table.data")  # as stored
    assert "2020-01-02" in page.inner_text("#as-of")
    deadline = time.monotonic() + 60
    while True:  # recomputed in the background
        with service.db.read_session() as session:
            row = session.get(PageStationMap, (station, version))
            if row.computed_at > old:
                assert row.data == data  # the same figures as computed first
                break
        assert time.monotonic() < deadline, "the stored beats map was not computed again"
        time.sleep(0.2)
    page.goto(f"{service.base}/station/beats")
    assert "12345.6" not in page.inner_text("table.data")
    assert "2020-01-02" not in page.inner_text("#as-of")


def test_progress_flags_lagging(service: Any, manager: Any, web_assets: Any) -> None:
    page, rec = manager
    page.goto(f"{service.base}/station/progress?start=2026-08-01&end=2026-10-31")
    rows = page.locator("#progress-table tbody tr")
    assert rows.count() >= 5
    shot(page, "manager_progress", service.backend)
    assert axe_violations(page, web_assets) == []


@pytest.mark.both_dbs
def test_approve_a_night_visit(service: Any, manager: Any, web_assets: Any) -> None:
    page, rec = manager
    page.goto(f"{service.base}/station/night")
    page.select_option("#a-officer", "K39-1-O")
    page.fill("#a-start", "18:30")
    page.fill("#a-end", "20:00")
    page.click("#approve-form button[type=submit]")
    page.wait_for_selector("#approvals tbody tr")
    assert "K39-1-O" in page.inner_text("#approvals") and "18:30–20:00" in page.inner_text(
        "#approvals"
    )
    with service.db.read_session() as s:
        assert s.scalar(select(func.count()).select_from(NightApproval)) == 1
    shot(page, "manager_night", service.backend)
    assert axe_violations(page, web_assets) == []


def test_specialists_and_survey_xlsx(service: Any, manager: Any, web_assets: Any) -> None:
    page, rec = manager
    # The four demo koban have no building of 6 floors or more: raise the five
    # apartment blocks with the most households to 8 floors, as a 団地 would be.
    with service.db.writing() as s:
        counts = (
            select(HouseholdRow.building_id, func.count().label("n"))
            .group_by(HouseholdRow.building_id)
            .subquery()
        )
        tall = s.scalars(
            select(BuildingRow.building_id)
            .join(counts, counts.c.building_id == BuildingRow.building_id)
            .where(BuildingRow.kind == "apartment")
            .order_by(counts.c.n.desc())
            .limit(5)
        ).all()
        assert tall
        s.execute(update(BuildingRow).where(BuildingRow.building_id.in_(tall)).values(floors=8))
    page.goto(f"{service.base}/station/specialists")
    assert page.locator("h1").count() == 1
    # The districts on a map too: outlined and labelled with their officers.
    page.wait_for_selector(".map-label.district-label")
    rows = page.locator("table.data").first.locator("tbody tr")
    labels = page.locator(".map-label.district-label")
    assert rows.count() >= 1 and labels.count() == rows.count()
    assert page.locator("path.leaflet-interactive").count() >= rows.count()
    first = rows.first.locator("td").first.inner_text()
    assert any(labels.nth(i).inner_text().startswith(first + " ") for i in range(labels.count()))
    assert "背景地図は設定されていません" in page.inner_text("#map-note")
    # No household in the map's data: areas, counts and staff ids only.
    data = page.evaluate("window.junkai.data")
    assert "household_id" not in dump(data) and "building_ids" not in dump(data)
    shot(page, "manager_specialists", service.backend)
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))
    page.goto(f"{service.base}/station/survey")
    assert page.locator("#survey-table tbody tr").count() == 6  # 5 beats + total
    assert axe_violations(page, web_assets) == []
    shot(page, "manager_survey", service.backend)
    resp = page.request.get(f"{service.base}/station/survey.xlsx")
    assert resp.status == 200
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(resp.body())).active
    assert ws.cell(4, 3).value == "受持区" and ws.cell(4, 4).value == "世帯等数"
    assert ws.max_row == 4 + 6


@pytest.mark.both_dbs
def test_beat_editor_move_two_units_and_accept(service: Any, manager: Any, web_assets: Any) -> None:
    page, rec = manager
    page.goto(f"{service.base}/station/editor")
    page.wait_for_selector("body[data-editor-ready='1']", timeout=60_000)
    assert page.locator("#figures tbody tr").count() == 5
    before = page.inner_text("#fig-K39-2 .w")
    # Two units of K39-1 that border K39-2.
    units = page.request.get(f"{service.base}/station/editor/data.json").json()
    idx = {u["i"]: u for u in units["units"]}
    border = []
    for a, b in units["adjacency"]:
        for x, y in ((a, b), (b, a)):
            if idx[x]["beat_id"] == "K39-1" and idx[y]["beat_id"] == "K39-2" and x not in border:
                border.append(x)
    assert len(border) >= 2
    for i in border[:2]:
        page.evaluate(
            "name => { for (const l of Object.values(window.junkaiMap._layers)) {"
            " if (l.feature === undefined && l.getTooltip && l.getTooltip() && "
            "l.getTooltip().getContent().startsWith(name + ' (')) { l.fire('click'); return; } } }",
            idx[i]["name"],
        )
    assert page.inner_text("#sel-count") == "2"
    page.select_option("#move-to", "K39-2")
    page.click("#move-btn")
    after = page.inner_text("#fig-K39-2 .w")
    assert float(after) > float(before)
    assert "changed" in (page.get_attribute("#fig-K39-2 .w", "class") or "")
    ms = page.evaluate("window.junkaiLastMoveMs")
    assert ms < 150, ms
    shot(page, "manager_editor", service.backend)
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))
    page.click("#accept-btn")
    page.wait_for_url("**/station/changes/*")
    assert page.locator("table.data tbody tr").count() == 2
    # The change map: both moved units drawn and labelled, inside the view.
    page.wait_for_selector(".map-label.change-label")
    assert page.locator(".map-label.change-label").count() == 2
    assert page.evaluate("window.junkaiMap.getBounds().isValid()")
    with service.db.read_session() as s:
        assert s.scalar(select(func.max(BeatVersion.version))) == 2
        moved = {idx[i]["unit_id"] for i in border[:2]}
        beats = set(s.scalars(select(UnitRow.beat_id).where(UnitRow.unit_id.in_(moved))))
    assert beats == {"K39-2"}
    shot(page, "manager_change_map", service.backend)
    assert axe_violations(page, web_assets) == []


def test_beat_editor_runs_the_rebalancer_with_the_locks(
    service: Any, manager: Any, web_assets: Any
) -> None:
    """Lock a beat, run the rebalancer from the page, compare, accept: the lock held.

    The beat locked is the one nearest the mean workload, so that the others
    can still be evened out (locking the most uneven beat would leave the
    largest deviation where it is, whatever the rebalancer does)."""
    page, rec = manager
    page.goto(f"{service.base}/station/editor")
    page.wait_for_selector("body[data-editor-ready='1']", timeout=60_000)
    figures = {
        row.get_attribute("data-beat") or "": float(row.locator(".w").inner_text())
        for row in page.locator("#figures tbody tr").all()
    }
    mean = sum(figures.values()) / len(figures)
    locked = min(sorted(figures), key=lambda b: abs(figures[b] - mean))
    with service.db.read_session() as s:
        version = s.scalar(select(func.max(BeatVersion.version)))
        kept = set(s.scalars(select(UnitRow.unit_id).where(UnitRow.beat_id == locked)))
    page.check(f"#fig-{locked} input.lock")
    expect(page.locator("#status")).to_contain_text(locked)  # the locks were saved
    with service.db.read_session() as s:
        assert s.scalar(
            select(BeatRow.locked).where(BeatRow.version == version, BeatRow.beat_id == locked)
        )
    # The most even beats within ±10 %, the locked beat staying as it is.
    page.select_option("#rb-mode", "best-balance")
    page.fill("#rb-tol", "10")
    page.click("#rebalance-btn")
    page.wait_for_selector("#job-figures:not([hidden])", timeout=120_000)
    compare = page.inner_text("#job-figures")
    for word in ("変更前", "変更後", "偏差", "移動した町丁目", "連続性", "交番の所在"):
        assert word in compare, (word, compare)
    jobs = [u for u in rec.requests if "/station/editor/jobs/" in u]
    job = page.request.get(jobs[-1]).json()
    assert job["status"] == "done", dump(job)
    moved = job["result"]["moved_units"]
    assert moved, dump(job["result"])
    assert all(locked not in (m["from_beat"], m["to_beat"]) for m in moved), dump(moved)
    plan = job["result"]["plan"]
    assert job["params"]["mode"] == "best-balance" and job["params"]["tolerance"] == 0.1
    assert plan["largest_deviation_after"] < plan["largest_deviation_before"]
    after = page.locator("#job-figures tbody tr").first.locator("td").nth(1).inner_text()
    assert after == f"{100 * plan['largest_deviation_after']:.1f} %"
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))
    page.click("#job-accept")
    page.wait_for_url("**/station/changes/*")
    assert page.locator("table.data tbody tr").count() == len(moved)
    with service.db.read_session() as s:
        assert s.scalar(select(func.max(BeatVersion.version))) == version + 1
        assert set(s.scalars(select(UnitRow.unit_id).where(UnitRow.beat_id == locked))) == kept
        for m in moved:
            assert s.get(UnitRow, m["unit_id"]).beat_id == m["to_beat"]


@pytest.mark.both_dbs
def test_manager_pages_made_no_errors_and_no_foreign_requests(service: Any, manager: Any) -> None:
    page, rec = manager
    assert rec.console_errors == [] and rec.page_errors == [], rec.console_errors
    assert rec.foreign(service.base) == []


@pytest.mark.both_dbs
def test_admin_import_with_an_error_shows_the_report(
    service: Any, admin: Any, web_assets: Any
) -> None:
    page, rec = admin
    page.goto(f"{service.base}/")  # an admin's start page
    assert page.url.endswith("/admin/imports")
    page.select_option("#i-layer", "households")
    page.set_input_files("#i-file", str(FIXTURES / "households_swapped_latlon.csv"))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-report")
    rec.forgive(422)
    row = page.locator("#import-report tr.problem").first.inner_text()
    for part in (
        "households_swapped_latlon.csv",
        "2",
        "geometry",
        "lon 36.550000, lat 136.630000 (outside Japan)",
        "coordinates in Japan; lon/lat look swapped",
    ):
        assert part in row, (part, row)
    shot(page, "admin_import_report", service.backend)
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))


def test_admin_import_over_the_memory_budget_is_told_in_japanese(service: Any, admin: Any) -> None:
    """The page's report of a file over the reader's memory budget (a small
    budget here; tests/api_tests/test_import_budgets.py has every budget)."""
    page, rec = admin
    before = service.app.state.settings
    service.app.state.settings = before.model_copy(update={"import_memory_mb": 1024})
    try:
        page.goto(f"{service.base}/admin/imports")
        page.select_option("#i-layer", "koban")
        page.set_input_files("#i-file", str(FIXTURES / "attacks" / "koban_memory_bomb.parquet"))
        page.click("#import-form button[type=submit]")
        page.wait_for_selector("#import-report")
    finally:
        service.app.state.settings = before
    rec.forgive(422)
    report = page.inner_text("#import-report")
    assert report.startswith("取り込めませんでした。"), report
    assert "koban_memory_bomb.parquet を取り込めませんでした（問題 1 件。" in report
    row = page.locator("#import-report tr.problem").inner_text()
    assert "koban_memory_bomb.parquet" in row
    assert "読み込みにメモリ 1,024 MB を超える量が必要なファイル" in row
    assert "メモリ 1,024 MB 以内で読めるファイル（ファイルを分けてください）" in row


def test_admin_users_and_audit(service: Any, admin: Any, web_assets: Any) -> None:
    page, rec = admin
    page.goto(f"{service.base}/admin/users")
    assert "officer1" in page.inner_text("table.data")
    assert axe_violations(page, web_assets) == []
    page.goto(f"{service.base}/admin/audit")
    text = page.inner_text("#audit-table")
    assert "import_rejected" in text and "login" in text
    shot(page, "admin_audit", service.backend)
    assert axe_violations(page, web_assets) == []
    # The admin is not a manager: the editor is refused on the server.
    resp = page.goto(f"{service.base}/station/editor")
    assert resp is not None and resp.status == 403
    rec.forgive(403)
    assert rec.console_errors == [] and rec.foreign(service.base) == []
