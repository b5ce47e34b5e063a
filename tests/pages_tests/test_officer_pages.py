"""Officer pages end to end in Chromium, on SQLite and PostgreSQL.

Log in, open today's route, record three results with one tap each,
re-plan from a tap on the map, print the sheet; near 未把握 and the month's
progress; no console errors, no request to another host, CSP on each page,
no serious or critical axe-core violation; another officer's route is
refused by URL; a form without its CSRF token is refused.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.models import VisitRow
from api.store import today_local

from .conftest import axe_violations, dump, login_state, open_context, shot

#: The service of this module computes no station figures at start (officer pages).
PAGES_PREWARM = False


@pytest.fixture(scope="module")
def officer(service: Any, browser: Any) -> Any:
    ctx, rec = open_context(browser, state=login_state(browser, service.base, "officer1"))
    page = ctx.new_page()
    yield page, rec
    ctx.close()


@pytest.mark.both_dbs
def test_login_lands_on_todays_route(service: Any, officer: Any, web_assets: Any) -> None:
    page, rec = officer
    today = today_local().isoformat()
    page.goto(f"{service.base}/officer/today")
    assert page.url.endswith(f"/route/K39-1-O/{today}")
    page.wait_for_selector(".leaflet-container .stop-icon")
    stops = page.locator("li.stop").count()
    assert stops >= 3
    assert page.locator(".stop-icon").count() == stops
    # Without a background the page says so, and the map still names places.
    assert "背景地図は設定されていません" in page.inner_text("#map-note")
    assert page.locator(".leaflet-tooltip.koban-label").count() >= 1
    assert page.locator(".leaflet-tooltip.beat-label").count() >= 1
    assert page.locator(".leaflet-tile").count() == 0
    assert page.locator(".leaflet-control-scale-line").count() == 1
    shot(page, "officer_route", service.backend)
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))


@pytest.mark.both_dbs
def test_record_three_results_with_one_tap_each(service: Any, officer: Any) -> None:
    page, rec = officer
    rows = page.locator("tr.hh-row:not(.done)")
    ids = [rows.nth(i).get_attribute("data-household") for i in range(3)]
    for hid, label in zip(ids, ["面接", "不在", "拒否"], strict=True):
        row = page.locator(f"tr#h-{hid}")
        row.get_by_role("button", name=label, exact=False).first.click()
        page.wait_for_selector(f"tr#h-{hid}.done")
        assert row.locator(".result").inner_text() == label
    assert page.inner_text("#done-count") == str(page.locator("tr.hh-row.done").count())
    with service.db.read_session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(VisitRow)
            .where(VisitRow.household_id.in_(ids), VisitRow.visited_on == today_local())
        )
    assert n == 3
    # The results stay after a reload (the plan is stored, not recomputed).
    page.reload()
    for hid in ids:
        assert page.locator(f"tr#h-{hid}.done").count() == 1


@pytest.mark.both_dbs
def test_replan_from_a_tap_on_the_map(service: Any, officer: Any) -> None:
    page, rec = officer
    page.wait_for_selector(".leaflet-container")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    assert page.input_value("#rp-lat") != ""
    page.fill("#rp-now", "13:00")
    page.click("#replan-submit")
    page.wait_for_url("**?replanned=1")
    assert "再計画しました" in page.inner_text("main")
    # Stops already done stay in the list (with their times); the rest start from 13:00.
    stops = page.locator("li.stop")
    assert stops.count() >= 1
    for i in range(stops.count()):
        li = stops.nth(i)
        all_done = li.locator("tr.hh-row:not(.done)").count() == 0
        assert all_done or li.locator(".time").inner_text() >= "13:00", li.inner_text()
    assert page.locator("li.stop tr.hh-row:not(.done)").count() >= 1


@pytest.mark.both_dbs
def test_print_sheet_and_page(service: Any, officer: Any) -> None:
    page, rec = officer
    href = page.get_attribute("#sheet-link", "href")
    resp = page.request.get(service.base + href)
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.body()[:5] == b"%PDF-"
    pdf = page.pdf(format="A4")  # the page's print layout (headless Chromium)
    assert pdf[:5] == b"%PDF-"


def test_near_and_progress_pages(service: Any, officer: Any, web_assets: Any) -> None:
    page, rec = officer
    page.goto(f"{service.base}/officer-near?lat=36.6210&lon=136.6150")
    page.wait_for_selector(".leaflet-container")
    assert page.locator("table.data tbody tr").count() >= 1
    shot(page, "officer_near", service.backend)
    assert axe_violations(page, web_assets) == []
    page.goto(f"{service.base}/officer-progress")
    assert page.locator("dl.figures dd").count() == 6
    assert axe_violations(page, web_assets) == []
    # English is available.
    page.click("a[lang=en]")
    assert "My progress this month" in page.inner_text("h1")
    page.click("a[lang=ja]")


def test_tablet_portrait_fits_the_screen(service: Any, officer: Any) -> None:
    """A 10-inch tablet held upright (800 x 1280): no sideways scrolling, big buttons."""
    page, rec = officer
    page.set_viewport_size({"width": 800, "height": 1280})
    try:
        page.goto(f"{service.base}/officer/today")
        page.wait_for_selector(".leaflet-container .stop-icon")
        assert page.evaluate("document.documentElement.scrollWidth") <= 800
        box = page.locator("form.outcomes button").first.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.both_dbs
def test_another_officers_route_is_refused(service: Any, officer: Any) -> None:
    page, rec = officer
    resp = page.goto(f"{service.base}/route/K39-2-O/{today_local().isoformat()}")
    assert resp is not None and resp.status == 403
    assert "表示できません" in page.inner_text("h1")
    rec.forgive(403)
    resp = page.goto(f"{service.base}/route/K39-2-O/{today_local().isoformat()}/sheet.pdf")
    assert resp is not None and resp.status == 403
    rec.forgive(403)
    resp = page.goto(f"{service.base}/station/beats")
    assert resp is not None and resp.status == 403
    rec.forgive(403)


@pytest.mark.both_dbs
def test_form_without_csrf_is_refused(service: Any, officer: Any) -> None:
    page, rec = officer
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    url = f"{service.base}/route/K39-1-O/{today_local().isoformat()}/visits"
    body = {"household_id": "x", "outcome": "met", "key": "k1"}
    r = httpx.post(url, data=body, cookies=cookies)
    assert r.status_code == 403
    r = httpx.post(url, data={**body, "csrf_token": "0" * 40}, cookies=cookies)
    assert r.status_code == 403
    # Without a session at all: to the login page, never the data.
    r = httpx.get(f"{service.base}/route/K39-1-O/{today_local().isoformat()}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


@pytest.mark.both_dbs
def test_no_console_errors_no_foreign_requests_and_csp(service: Any, officer: Any) -> None:
    page, rec = officer
    assert rec.console_errors == [] and rec.page_errors == []
    assert len(rec.requests) > 10
    assert rec.foreign(service.base) == []
    r = page.request.get(f"{service.base}/officer/today")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    docs = httpx.get(f"{service.base}/docs")
    assert "/assets/swagger-ui/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    cookie = [c for c in page.context.cookies() if c["name"] == "junkai_session"][0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
