"""One small error hierarchy.

Every error subclasses a built-in as well, so ``except ValueError`` still works
for callers who do not know this package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class JunkaiGeoError(Exception):
    """Base class of every error raised on purpose by junkai_geo."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an input file.

    ``row`` is the 1-based data row for tables (the header is not counted) or
    the feature id / index for spatial layers.
    """

    file: str
    row: str | int | None
    field: str | None
    found: str
    expected: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row/feature {self.row}"
        if self.field is not None:
            where += f", field '{self.field}'"
        return f"{where}: found {self.found}; expected {self.expected} [{self.code}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Problems of one file kept in full; the rest are only counted.
MAX_PROBLEMS_KEPT = 1000


class ProblemList(list[Problem]):
    """The first ``limit`` problems of a file, and how many there were in all.

    A file with a million bad rows must not make a million-line answer (nor
    the memory to build it): validation appends here and ``total`` counts on.
    """

    def __init__(self, items: Any = (), *, limit: int = MAX_PROBLEMS_KEPT) -> None:
        super().__init__()
        self.limit = limit
        self.total = 0
        self.extend(items)

    def append(self, problem: Problem) -> None:
        self.total += 1
        if len(self) < self.limit:
            super().append(problem)

    def extend(self, problems: Any) -> None:
        for p in problems:
            self.append(p)

    def __iadd__(self, problems: Any) -> ProblemList:  # type: ignore[override,misc]
        self.extend(problems)
        return self


def problem_total(problems: list[Problem]) -> int:
    """How many problems there were (more than ``len`` for a full ProblemList)."""
    return max(len(problems), int(getattr(problems, "total", 0)))


class InputError(JunkaiGeoError, ValueError):
    """Bad input data. Carries every problem found (the first
    ``MAX_PROBLEMS_KEPT`` in full), not only the first."""

    def __init__(self, problems: list[Problem] | Problem, *, max_shown: int = 20) -> None:
        if isinstance(problems, Problem):
            problems = [problems]
        self.total = problem_total(problems)
        self.problems: list[Problem] = list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:max_shown])
        more = self.total - min(max_shown, len(self.problems))
        if more > 0:
            shown += f"\n  ... and {more} more"
        super().__init__(f"{self.total} problem(s) in input:\n{shown}")


class ParameterError(JunkaiGeoError, ValueError):
    """A parameter has a value outside what it accepts."""


class ProblemError(JunkaiGeoError, ValueError):
    """A solver problem (JSON or arrays) is malformed or infeasible.

    ``field`` names the offending field, for example ``visits[3].location``.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class SolverError(JunkaiGeoError, RuntimeError):
    """The solver failed to produce any solution."""


class NetworkError(JunkaiGeoError, ValueError):
    """A street network file cannot be read or has no usable roads."""
