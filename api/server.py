"""Run the service on uvicorn, one or several worker processes.

With several workers, uvicorn's own mode shares one listening socket, and
the kernel hands each new connection to whichever worker happens to be
waiting: with officers' tablets holding keep-alive connections for a whole
shift, one worker can end up with most of them while the other idles (in
the load benchmark, splits of 29 to 3 and 32 to 0 connections halved the
throughput). Here each worker listens on a socket of its own with
``SO_REUSEPORT``, and the kernel spreads connections across the sockets by
a hash of their addresses. The parent process only supervises: it restarts
a worker that died and stops them all on SIGTERM or SIGINT.

``SO_REUSEPORT`` is Linux (and BSD) only; elsewhere several workers fall
back to uvicorn's shared socket.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import time
from typing import Any

APP = "api.main:create_app"
#: A worker that dies sooner than this after its start is not restarted
#: (it would die again: a broken configuration, a port taken).
MIN_UPTIME_S = 5.0


def proxy_options() -> dict[str, Any]:
    """uvicorn's X-Forwarded-For handling from ``trusted_proxies``.

    uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so any local
    client could pick the address that login throttling and the audit trail
    see. Here no proxy is believed unless the setting names it.
    """
    from .settings import get_settings

    trusted = get_settings().trusted_proxies.strip()
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def serve(host: str, port: int, workers: int = 1, log_level: str = "warning") -> None:
    """Serve until SIGTERM / SIGINT."""
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=max(1, workers),
            log_level=log_level,
            access_log=False,
            **proxy_options(),
        )
        return
    ctx = multiprocessing.get_context("spawn")
    args = (host, port, log_level)
    procs: list[Any] = []
    started: list[float] = []
    for _ in range(workers):
        procs.append(ctx.Process(target=_worker, args=args, daemon=False))
        procs[-1].start()
        started.append(time.monotonic())
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            time.sleep(0.5)
            for i, p in enumerate(procs):
                if p.is_alive() or stopping:
                    continue
                if time.monotonic() - started[i] < MIN_UPTIME_S:
                    raise SystemExit(f"junkai-geo serve: worker {p.pid} exited at start")
                procs[i] = ctx.Process(target=_worker, args=args, daemon=False)
                procs[i].start()
                started[i] = time.monotonic()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()  # uvicorn stops gracefully on SIGTERM
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with ``SO_REUSEPORT`` (IPv6 when ``host`` is one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = reuseport_socket(host, port)
    config = uvicorn.Config(
        APP, factory=True, log_level=log_level, access_log=False, **proxy_options()
    )
    uvicorn.Server(config).run(sockets=[sock])
