"""``junkai-geo serve --workers 2``: each worker on its own SO_REUSEPORT socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .test_crash import ROOT, free_port


def workers_of(pid: int) -> set[int]:
    """Processes started by ``pid`` with multiprocessing's spawn (not its resource tracker)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) != pid:
                    continue
                if b"spawn_main" in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.add(int(entry))
            except OSError:  # the process ended meanwhile
                continue
    return found


@pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or not Path("/proc").is_dir(),
    reason="SO_REUSEPORT and /proc are Linux's; elsewhere serve uses uvicorn's workers",
)
def test_two_workers_share_the_port_and_stop_together(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--sqlite-path",
            str(tmp_path / "junkai.sqlite3"),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env={
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JUNKAI_DATABASE_URL")
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            workers = workers_of(proc.pid)
            time.sleep(0.2)
        assert len(workers) == 2
        # Both workers answer on the one port: new connections, spread by the kernel.
        answered = 0
        while time.monotonic() < deadline and answered < 40:
            try:
                answered += (
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                )
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered == 40
        # Each worker listens on a socket of its own: no socket is shared
        # (uvicorn's own workers would all hold the one listening socket).
        sockets = [
            {
                os.readlink(fd)
                for fd in Path(f"/proc/{pid}/fd").iterdir()
                if os.readlink(fd).startswith("socket:")
            }
            for pid in workers
        ]
        assert all(sockets) and not sockets[0] & sockets[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    # No worker outlives the server; the port is free again.
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
