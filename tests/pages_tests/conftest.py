"""The pages in a real browser: one service per test module and database.

The demo database (three koban of 金沢西 from the bundled data, see
``demo.py``) is built once per test session and database kind, then copied
for each module: a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL. Each module runs the service (uvicorn, in a thread) on a free
loopback port and drives Debian's Chromium through Playwright: one browser
for the whole package, one login per role and service (a stored state).

The whole matrix runs on SQLite; on PostgreSQL only the tests marked
``both_dbs`` run: each role's main flow (the acceptance's flows), the scope
and CSRF refusals, and the no-console-error / own-address checks. The other
pages read through the same queries and are deselected there (counted in
pytest's "deselected"), which keeps the suite inside its time budget.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.api_tests.conftest import postgres_admin_url
from tests.browser import launch

from .demo import PASSWORD, load_demo

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "maps" / "gallery"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_dbs: a main flow, run on PostgreSQL as well as on SQLite"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, only the main flows (``both_dbs``); everything on SQLite."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("service") == "postgres"
        (drop if on_pg and item.get_closest_marker("both_dbs") is None else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def web_assets() -> Path:
    from api.pages.assets import install_web_assets

    return install_web_assets()  # from the npm registry when absent


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages_tpl") / "demo.sqlite3"
    load_demo(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_admin_url())
    name = f"junkai_pages_tpl_{uuid.uuid4().hex[:8]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        load_demo(admin.set(database=name).render_as_string(hide_password=False))
        yield name
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_copy(template: str) -> tuple[str, Any]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_admin_url())
    name = f"junkai_pages_{uuid.uuid4().hex[:8]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.set(database=name).render_as_string(hide_password=False), drop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    backend: str
    url: str  # database URL
    base: str  # http://127.0.0.1:PORT
    db: Any
    app: Any = None


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, web_assets: Path
) -> Iterator[Service]:
    import uvicorn

    from api.db import Database
    from api.main import create_app
    from api.settings import ApiSettings

    drop = None
    if request.param == "sqlite":
        tpl = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("pages_db") / "junkai.sqlite3"
        shutil.copyfile(tpl, path)
        url = f"sqlite:///{path}"
    else:
        url, drop = _postgres_copy(request.getfixturevalue("postgres_template"))
    settings = ApiSettings(
        database_url=url,
        plan_time_limit_s=0.5,
        plan_processes=0,
        web_assets=web_assets,
        # A module of officer pages needs no station figures computed at start.
        pages_prewarm=getattr(request.module, "PAGES_PREWARM", True),
    )
    db = Database(url, pool_size=5, max_overflow=10)
    app = create_app(settings, db=db)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the service did not start"
    try:
        yield Service(request.param, url, f"http://127.0.0.1:{port}", db, app)
    finally:
        server.should_exit = True
        thread.join(10)
        db.dispose()
        if drop is not None:
            drop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the pages' tests, closed before other tests start their own
    (Playwright's sync API runs one instance per thread at a time)."""
    with launch() as b:
        yield b


_STATES: dict[tuple[str, str], Any] = {}


def login_state(browser: Any, base: str, user: str) -> Any:
    """The browser state (session cookie) of ``user`` logged in on ``base``, made once.

    The login form is filled in a real page the first time; later contexts of
    the same role and service start from the stored state.
    """
    key = (base, user)
    if key not in _STATES:
        ctx = browser.new_context(locale="ja-JP")
        page = ctx.new_page()
        page.goto(f"{base}/login?next=/static/favicon.svg")  # land on a light file
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("form.card button[type=submit]")
        page.wait_for_load_state("load")
        _STATES[key] = ctx.storage_state()
        ctx.close()
    return _STATES[key]


@dataclass
class Recorder:
    """Console errors and every request of a browser context."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def forgive(self, status: int) -> None:
        """Drop the console line of a refusal the test provoked on purpose (403, 422)."""
        for i, e in enumerate(self.console_errors):
            if f"status of {status}" in e:
                del self.console_errors[i]
                return

    def foreign(self, base: str) -> list[str]:
        own = urlparse(base).netloc
        return [
            u
            for u in self.requests
            if urlparse(u).scheme not in ("data", "blob", "about") and urlparse(u).netloc != own
        ]


def open_context(
    browser: Any, *, viewport: tuple[int, int] = (1280, 800), state: Any = None
) -> tuple[Any, Recorder]:
    rec = Recorder()
    ctx = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]},
        locale="ja-JP",
        storage_state=state,
    )

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            rec.console_errors.append(msg.text)

    def on_page(page: Any) -> None:
        page.on("console", on_console)
        page.on("pageerror", lambda exc: rec.page_errors.append(str(exc)))

    ctx.on("page", on_page)
    ctx.on("request", lambda req: rec.requests.append(req.url))
    return ctx, rec


def login(page: Any, base: str, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("form.card button[type=submit]")
    page.wait_for_load_state("load")


AXE = None


def axe_violations(page: Any, web_assets: Path) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page (axe from a local copy).

    axe is evaluated through the DevTools protocol, which the page's CSP does
    not govern: the page itself loads nothing from outside.
    """
    global AXE
    if AXE is None:
        AXE = (web_assets / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
    page.evaluate(AXE)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3)"
        ".map(n => n.target.join(' '))}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def shot(page: Any, name: str, backend: str) -> None:
    """A screenshot into maps/gallery/ when ``JUNKAI_GALLERY=1`` (SQLite run only).

    ``JUNKAI_GALLERY=1 pytest tests/pages_tests -k sqlite`` remakes the
    README's page screenshots; an ordinary run leaves the checkout alone.
    """
    if backend == "sqlite" and os.environ.get("JUNKAI_GALLERY") == "1":
        GALLERY.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(GALLERY / f"page_{name}.png"), full_page=False)


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1)[:3000]
