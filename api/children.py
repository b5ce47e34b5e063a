"""Child processes (planners, background jobs) that end with the service.

A planner or job process started by a worker must not outlive it: killed
workers (SIGKILL, the kernel's OOM killer) used to leave their planner
processes behind, holding connections and the SQLite file. Each child runs
:func:`die_with_parent` at its start: a daemon thread that ends the process
as soon as it is handed to another parent. (``PR_SET_PDEATHSIG`` would fire
when the *thread* that started the child ends, and the thread pools that
start planners retire idle threads, so polling the parent is the safe way.)
A child forked by a fork server runs :func:`die_with_listener` instead.
"""

from __future__ import annotations

import os
import threading
import time

#: How often a child looks whether its parent is still there, seconds.
POLL_S = 0.5


def die_with_parent(parent_pid: int | None = None, *, poll_s: float = POLL_S) -> None:
    """End this process soon after ``parent_pid`` (default: the current parent) is gone."""
    parent = os.getppid() if parent_pid is None else parent_pid

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(poll_s)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def die_with_listener(conn_fd: int) -> None:
    """End this process as soon as no process can read what it writes to ``conn_fd``.

    For a child whose parent is not the process waiting for its answer (an
    upload reader is a fork of the fork server, which stays while its
    children live): the waiting process holds the only read end of the pipe,
    so the pipe breaking means that process died or stopped waiting.
    """
    import select

    watched = os.dup(conn_fd)  # stays open however the process closes ``conn_fd``
    poll = select.poll()
    poll.register(watched, 0)  # POLLERR, always reported: the read end is gone

    def watch() -> None:
        poll.poll()
        os._exit(1)

    threading.Thread(target=watch, name="die-with-listener", daemon=True).start()
