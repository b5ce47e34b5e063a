"""Progress of long commands on a terminal (rich), silent elsewhere.

A command shows what it is doing and for how long (a spinner per step, a
bar when the number of items is known) on standard error, only when that
is a terminal and ``--quiet`` was not given: logs, pipes and tests get
nothing but the command's own output.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Steps:
    """Steps of one command; ``step(text)`` starts the next, ``advance()`` counts items."""

    def __init__(self, progress: Any | None) -> None:
        self._progress = progress
        self._task: Any = None

    @property
    def active(self) -> bool:
        return self._progress is not None

    def step(self, description: str, total: float | None = None) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            task = next(t for t in self._progress.tasks if t.id == self._task)
            if task.description == "…":
                self._progress.remove_task(self._task)
            else:
                self._progress.update(self._task, completed=task.total or 1)
                self._progress.stop_task(self._task)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: float = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)

    def done(self, description: str) -> None:
        """A finished step (shown complete), then a spinner for what comes next."""
        if self._progress is None:
            return
        self.step(description, total=1)
        self.advance(1)
        self.step("…")


def progress_of(args: Any) -> Steps:
    """The progress display the console script opened for this command (``args.progress``)."""
    progress = getattr(args, "progress", None)
    return progress if isinstance(progress, Steps) else Steps(None)


def wants_progress(quiet: bool = False, stream: Any = None) -> bool:
    """True when progress should be drawn: a terminal and not ``--quiet``."""
    stream = sys.stderr if stream is None else stream
    return not quiet and bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def steps(quiet: bool = False) -> Iterator[Steps]:
    """A progress display on standard error for the duration of the block."""
    if not wants_progress(quiet):
        yield Steps(None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        yield Steps(progress)


def add_quiet_argument(parser: Any) -> None:
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress display (also when not a terminal)"
    )
