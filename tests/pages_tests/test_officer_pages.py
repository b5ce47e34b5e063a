"""Officer pages end to end in Chromium, on SQLite and PostgreSQL.

Log in, open today's route, record three results with one tap each,
re-plan from a tap on the map, print the sheet; near 未把握 and the month's
progress; no console errors, no request to another host, CSP on each page,
no serious or critical axe-core violation; another officer's route is
refused by URL; a form without its CSRF token is refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.day_plans import DatabaseSink, stored_plan_and_replans
from api.models import VisitRow
from api.store import today_local
from junkai_geo.plan_all import OfficerDayResult

from .conftest import axe_violations, dump, login_state, open_context, shot
from .demo import PASSWORD

#: The service of this module computes no station figures at start (officer pages).
PAGES_PREWARM = False


#: The map's zoom, and for each marker of ``cls`` (all markers: "") whether the view holds it.
IN_VIEW = """cls => { const m = window.junkaiMap, b = m.getBounds(), held = [];
  m.eachLayer(l => { if (!l.getLatLng) return;
    const icon = l.options.icon ? l.options.icon.options.className : "";
    if (!cls || icon === cls) held.push(b.contains(l.getLatLng())); });
  return [m.getZoom(), held]; }"""


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
    with service.db.read_session() as s:  # plan-all made no plan for today
        assert stored_plan_and_replans(s, "K39-1-O", today_local()) is None
    page.goto(f"{service.base}/officer/today")
    assert page.url.endswith(f"/route/K39-1-O/{today}")
    # The page comes at once; the route when planned (in the background, stored once).
    page.wait_for_selector(".leaflet-container .stop-icon", timeout=120_000)
    stops = page.locator("li.stop").count()
    assert stops >= 3
    with service.db.read_session() as s:
        plan, replans = stored_plan_and_replans(s, "K39-1-O", today_local())  # type: ignore[misc]
    assert len(plan["stops"]) == stops and replans == 0
    assert page.locator(".stop-icon").count() == stops
    # The view holds every stop (junkai.layeredMap: the beats' and the route's bounds).
    _, held = page.evaluate(IN_VIEW, "stop-icon")
    assert len(held) == stops and all(held)
    # Without a background the page says so, and the map still names places.
    assert "背景地図は設定されていません" in page.inner_text("#map-note")
    assert page.locator(".map-label.koban-label").count() >= 1
    assert page.locator(".map-label.beat-label").count() >= 1
    assert page.locator(".leaflet-tile").count() == 0
    assert page.locator(".leaflet-control-scale-line").count() == 1
    shot(page, "officer_route", service.backend)
    assert axe_violations(page, web_assets) == [], dump(axe_violations(page, web_assets))


@pytest.mark.both_dbs
def test_a_plan_made_ahead_is_shown_as_stored_and_is_the_apis(service: Any, officer: Any) -> None:
    """The morning open: plan-all's stored plan, no planning, and GET /plans serves the same."""
    page, rec = officer
    on = today_local() + timedelta(days=1)
    with service.db.read_session() as s:
        plan = dict(stored_plan_and_replans(s, "K39-1-O", today_local())[0])  # type: ignore[index]
    plan["date"] = on.isoformat()
    plan["stops"] = plan["stops"][:2]  # not what the planner would make: proves it is read
    DatabaseSink(service.db, seed=0, time_limit_s=5.0).save(
        OfficerDayResult("K39-1-O", "金沢西", on, plan, 2, 0, 1.0, "test")
    )
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    html = httpx.get(f"{service.base}/route/K39-1-O/{on.isoformat()}", cookies=cookies)
    assert html.status_code == 200 and 'id="plan-pending"' not in html.text
    page.goto(f"{service.base}/route/K39-1-O/{on.isoformat()}")
    page.wait_for_selector(".leaflet-container .stop-icon")
    assert page.locator("li.stop").count() == 2
    tok = httpx.post(
        f"{service.base}/auth/token", data={"username": "officer1", "password": PASSWORD}
    ).json()["access_token"]
    api = httpx.get(
        f"{service.base}/plans/K39-1-O/{on.isoformat()}",
        headers={"Authorization": f"Bearer {tok}"},
    ).json()
    assert [s["order"] for s in api["stops"]] == [1, 2]
    assert [s["address"] for s in api["stops"]] == [s["address"] for s in plan["stops"]]
    page.goto(f"{service.base}/officer/today")  # back to today's route for the next tests
    page.wait_for_selector(".leaflet-container .stop-icon")


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
    found = page.locator("table.data tbody tr").count()
    assert found >= 1
    # The view holds the officer and every household found, at most at zoom 17.
    zoom, held = page.evaluate(IN_VIEW, "")
    assert zoom <= 17 and len(held) == found + 1 and all(held)
    shot(page, "officer_near", service.backend)
    assert axe_violations(page, web_assets) == []
    page.goto(f"{service.base}/officer-progress")
    assert page.locator("dl.figures dd").count() == 6
    assert axe_violations(page, web_assets) == []
    # English is available.
    page.click("a[lang=en]")
    assert "My progress this month" in page.inner_text("h1")
    page.click("a[lang=ja]")


def test_a_local_pmtiles_background_comes_from_the_service(
    service: Any, officer: Any, tmp_path_factory: Any
) -> None:
    """With ``tile_file`` a PMTiles file, the route map draws its tiles, all from here."""
    from tests.pmtiles_fixture import area_tiles, tile_png, write_pmtiles

    page, rec = officer
    png = tile_png()
    path = write_pmtiles(
        tmp_path_factory.mktemp("tiles") / "kanazawa.pmtiles",
        area_tiles((136.55, 36.55, 136.72, 36.66), range(11, 17), png),
    )
    settings = service.app.state.settings
    service.app.state.settings = settings.model_copy(update={"tile_file": path})
    try:
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url))
        resp = page.goto(f"{service.base}/officer/today")
        assert resp is not None and "http" not in resp.headers["content-security-policy"]
        page.wait_for_selector(".leaflet-container .stop-icon")
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.leaflet-tile')]"
            ".some(i => i.complete && i.naturalWidth === 256)"
        )
        tiles = [u for u in seen if "/tiles/" in u]
        assert tiles and all(u.startswith(f"{service.base}/tiles/") for u in tiles)
        assert rec.foreign(service.base) == []
        assert page.inner_text("#map-note") == ""  # a background is configured
        shot(page, "officer_route_pmtiles", service.backend)
    finally:
        page.goto("about:blank")  # no tile request of this page left in flight
        service.app.state.settings = settings


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
