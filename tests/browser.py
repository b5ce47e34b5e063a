"""Drive Debian's headless Chromium (through Playwright) to check HTML maps.

Playwright's own browser download is never used: the tests launch the
system ``chromium`` (``scripts/ci_system_packages.sh`` installs it). When it
is missing the tests fail, saying what to install, rather than skip.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The system Chromium, or an AssertionError naming what to install."""
    candidates = [
        os.environ.get("JUNKAI_CHROMIUM", ""),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    found = shutil.which("chromium")
    if found:
        return found
    raise AssertionError(
        "headless Chromium is required by the map tests and was not found: run "
        "`bash scripts/ci_system_packages.sh` (apt-get install chromium) or set JUNKAI_CHROMIUM"
    )


@contextmanager
def launch() -> Iterator[object]:
    """A Playwright Chromium browser on the system executable."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # the dev extra lacks it: fail loudly, not skip
        raise AssertionError(
            "the map tests need Playwright for Python: pip install playwright"
        ) from exc
    exe = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free localhost port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class PageReport:
    """What happened while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stop_orders: list[int] = field(default_factory=list)
    marker_count: int = 0
    base_layers: list[str] = field(default_factory=list)
    overlays: list[str] = field(default_factory=list)
    legend: str = ""
    screenshot: bytes = b""

    def foreign_hosts(
        self, allowed: frozenset[str] = frozenset({"127.0.0.1", "localhost"})
    ) -> list[str]:
        """Requests to any host but ``allowed`` (data: URLs are not requests)."""
        out = []
        for url in self.requests:
            parsed = urlparse(url)
            if parsed.scheme in {"data", "blob", "about"}:
                continue
            if parsed.hostname not in allowed:
                out.append(url)
        return out


def open_map(browser: object, url: str, *, screenshot_path: Path | None = None) -> PageReport:
    """Load ``url``, wait for Leaflet, collect errors, requests, stop numbers and a screenshot."""
    report = PageReport()
    page = browser.new_page(viewport={"width": 1000, "height": 700})  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda msg: report.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))
    page.on("request", lambda req: report.requests.append(req.url))
    page.on("requestfailed", lambda req: report.failed.append(req.url))
    page.goto(url, wait_until="load")
    page.wait_for_selector(".leaflet-container", timeout=10_000)
    page.wait_for_timeout(300)  # let fitBounds and marker panes settle
    report.stop_orders = page.eval_on_selector_all(
        ".junkai-stop", "els => els.map(e => parseInt(e.dataset.order, 10))"
    )
    report.marker_count = page.eval_on_selector_all(".leaflet-marker-icon", "els => els.length")
    label_js = "els => els.map(e => e.textContent.trim())"
    report.base_layers = page.eval_on_selector_all(".leaflet-control-layers-base label", label_js)
    report.overlays = page.eval_on_selector_all(".leaflet-control-layers-overlays label", label_js)
    report.legend = " ".join(page.eval_on_selector_all(".junkai-legend", label_js))
    report.screenshot = page.screenshot(path=str(screenshot_path) if screenshot_path else None)
    page.close()
    return report


def pixel_std(png: bytes) -> float:
    """Standard deviation of the grey levels of a PNG (0 for a blank image)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    return float(np.asarray(img, dtype=float).std())


def synthetic_plan(n_stops: int, *, seed: int = 0, with_paths: bool = True) -> dict[str, object]:
    """A day plan in the ``DayPlan.to_dict()`` format around Kanazawa station.

    Stops wander on a jittered spiral; one stop in three has two households;
    the first half of the legs carries a street-like path when ``with_paths``.
    """
    rng = np.random.default_rng(seed)
    lon0, lat0 = 136.6479, 36.5781
    start = {"lon": lon0, "lat": lat0, "label": "金沢駅前交番"}
    towns = ["北安江", "広岡", "本町", "此花町", "昭和町", "堀川新町", "三社町", "藤江北"]
    statuses = ["none", "stale", "current"]
    reasons = {"none": ["no_card"], "stale": ["stale_card"], "current": ["card_update"]}
    kinds = ["home", "home", "home", "business", "public"]
    stops = []
    prev = (lon0, lat0)
    minute = 9 * 60
    for i in range(n_stops):
        angle = i * 0.7
        radius = 0.0015 + 0.00012 * i
        lon = lon0 + radius * np.cos(angle) + rng.normal(0, 0.0002)
        lat = lat0 + radius * np.sin(angle) * 0.8 + rng.normal(0, 0.0002)
        n_hh = 2 if i % 3 == 0 else 1
        households = []
        for j in range(n_hh):
            status = statuses[int(rng.integers(0, 3))]
            households.append(
                {
                    "household_id": f"H{seed:02d}{i:04d}{j}",
                    "kind": kinds[int(rng.integers(0, len(kinds)))],
                    "floor": 1 + j,
                    "card_status": status,
                    "reasons": reasons[status],
                    "expected_contact": round(float(rng.uniform(0.2, 0.8)), 2),
                }
            )
        minute += 3
        arrival = f"{minute // 60:02d}:{minute % 60:02d}:00"
        minute += 10 * n_hh
        departure = f"{minute // 60:02d}:{minute % 60:02d}:00"
        stop: dict[str, object] = {
            "order": i + 1,
            "building_id": f"B{seed:02d}{i:05d}",
            "address": f"{towns[i % len(towns)]}{1 + i % 3}丁目 {1 + i}-{1 + (i * 7) % 20}",
            "lon": round(float(lon), 7),
            "lat": round(float(lat), 7),
            "arrival": arrival,
            "departure": departure,
            "households": households,
        }
        if with_paths and i < n_stops // 2:
            stop["path"] = [[prev[0], prev[1]], [float(lon), prev[1]], [float(lon), float(lat)]]
        stops.append(stop)
        prev = (float(lon), float(lat))
    return {
        "officer_id": f"K12-{seed + 1}",
        "koban_id": "K12",
        "beat_id": "K12-B1",
        "date": "2026-11-27",
        "start": start,
        "end": start,
        "windows": [["09:00:00", "12:00:00"], ["13:00:00", "17:00:00"]],
        "travel_source": "network" if with_paths else "straight_line",
        "travel_mode": "walk",
        "stops": stops,
        "skipped": [],
        "totals": {"stops": n_stops, "households": sum(len(s["households"]) for s in stops)},  # type: ignore[arg-type,misc]
        "notes": [],
    }
