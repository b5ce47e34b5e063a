"""The web pages: the service in a browser, in Japanese, on a closed network.

Server-rendered Jinja2 templates with a little vanilla JavaScript; every
asset (Leaflet, the デジタル庁 design tokens, Swagger UI for ``/docs``) is
served by the service itself, and each page sends a Content-Security-Policy
that forbids other hosts (plus the tile host when one is configured).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from . import account, admin, editor, manager, officer, tiles
from .assets import WebAssetsError, default_assets_dir, install_web_assets, missing_assets
from .i18n import translator
from .web import (
    API_DIR,
    LoginRequired,
    PageForbidden,
    lang_of,
    login_redirect,
    render,
    secure_headers,
)

ROUTERS = [
    account.router,
    officer.router,
    manager.router,
    editor.router,
    admin.router,
    tiles.router,
]

#: Page paths whose HTTP errors are shown as a page, not JSON.
PAGE_PREFIXES = ("/route/", "/officer", "/station/", "/admin/", "/login", "/logout")


def mount(app: FastAPI) -> None:
    """Add the pages, their static files, the local tiles and ``/docs`` to ``app``."""
    settings = app.state.settings
    tiles.check_tile_file(settings.tile_file)
    for router in ROUTERS:
        app.include_router(router)
    if settings.pages_prewarm:
        manager.prewarm(app.state.db)
    app.mount("/static", StaticFiles(directory=str(API_DIR / "static")), name="static")
    assets = settings.web_assets or default_assets_dir()
    if missing_assets(assets):
        # First start on a connected machine: fetch them once (npm registry);
        # on a closed network, say what to do and serve the JSON API as before.
        try:
            install_web_assets(assets)
        except WebAssetsError as exc:
            logging.getLogger("api.pages").warning("pages' assets missing: %s", exc)
    app.mount("/assets", StaticFiles(directory=str(assets), check_dir=False), name="assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="junkai_geo — API",
            swagger_js_url="/assets/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/assets/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/assets/swagger-ui/favicon-32x32.png",
        )
        secure_headers(page, settings, docs=True)
        return page

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "application/json" not in request.headers.get("accept", ""):
            return login_redirect(request)
        return JSONResponse({"detail": "login required"}, status_code=401)

    @app.exception_handler(PageForbidden)
    async def page_forbidden(request: Request, exc: PageForbidden) -> Response:
        t = translator(lang_of(request))
        return render(
            request, "error.html", None, status_code=403, message=t(f"forbidden_{exc.detail}")
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # The pages answer with a page in the caller's language; the JSON API as before.
        page = request.url.path.startswith(PAGE_PREFIXES)
        wants_html = "text/html" in request.headers.get("accept", "")
        if page and wants_html:
            t = translator(lang_of(request))
            message = (
                t("forbidden_csrf")
                if exc.detail == "CSRF token missing or wrong"
                else str(exc.detail)
            )
            return render(request, "error.html", None, status_code=exc.status_code, message=message)
        return await http_exception_handler(request, exc)
