"""What every request and response goes through before the routes see it.

- **Body limits before authentication.** A request body is refused with 413
  as soon as it is larger than its route class allows (the declared
  Content-Length, or the bytes as they arrive when none is declared), and a
  request to a route that needs credentials but carries neither an
  ``Authorization`` header nor a cookie gets 401 before its body is read:
  nobody can make the service read 300 MB without logging in first.
- **Security headers.** ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY`` on everything;
  ``Cache-Control: no-store`` on every answer that is not a static asset
  (tokens and personal data must not stay in a shared tablet's cache); a
  Content-Security-Policy that allows only the service itself on HTML that
  does not set a stricter one of its own.

Pure ASGI middleware (no ``BaseHTTPMiddleware``): it adds no task or copy per
request, which matters at the service's read rates (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .settings import ApiSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Routes anyone may call without credentials.
PUBLIC_PATHS = frozenset({"/health", "/auth/token", "/login", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/", "/assets/", "/docs")
#: Routes whose bodies are file uploads (limit ``max_upload_bytes``).
UPLOAD_PREFIXES = ("/imports", "/admin/imports")
STATIC_PREFIXES = ("/static/", "/assets/", "/tiles/")

#: Only the service itself; inline styles for Leaflet's positioning, images
#: from data: URLs for its icons.
DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def body_limit_for(path: str, settings: ApiSettings) -> int:
    if path.startswith(UPLOAD_PREFIXES):
        return settings.max_upload_bytes
    return settings.max_body_bytes


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def _send_json(send: Send, status: int, detail: str, headers: list[Any]) -> None:
    body = ('{"detail":"' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Body limits and the credentials check before a body is read."""

    def __init__(self, app: ASGIApp, settings: ApiSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if (
            not is_public(path)
            and _header(scope, b"authorization") is None
            and _header(scope, b"cookie") is None
        ):
            await _send_json(
                send,
                401,
                "missing, invalid or expired token",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        limit = body_limit_for(path, self.settings)
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await _send_json(send, 400, "Content-Length is not a number", [])
                return
            if too_big:
                await _send_json(send, 413, f"request body larger than {limit} bytes", [])
                return
        seen = 0
        started = refused = body_done = False

        async def counted_receive() -> Message:
            # Past the limit the client gets 413 at once and the route sees a
            # disconnect (an exception here would become FastAPI's 400).
            nonlocal seen, refused, body_done
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await _send_json(send, 413, f"request body larger than {limit} bytes", [])
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has gone out; the route's own answer is dropped
            if message["type"] == "http.response.start":
                started = True
                if not body_done:
                    # Answered before the body was read to its end (an early
                    # 400 or 401): close the connection rather than let the
                    # server drain the rest of the body.
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, counted_receive, tracked_send)


class HeadersMiddleware:
    """Security headers on every response (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                add = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if not static:
                    add.append((b"cache-control", b"no-store"))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    add.append((b"content-security-policy", DEFAULT_CSP.encode()))
                headers.extend((k, v) for k, v in add if k not in names)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)
