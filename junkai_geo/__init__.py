"""junkai_geo: geospatial beat planning for patrol liaison (巡回連絡)."""

from .errors import (
    InputError,
    JunkaiGeoError,
    NetworkError,
    ParameterError,
    Problem,
    ProblemError,
    SolverError,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The solver imports OR-Tools: loaded on first use, so that the command
    # line and the service start fast.
    if name == "solve_problem":
        from .solver import solve_problem

        return solve_problem
    raise AttributeError(f"module 'junkai_geo' has no attribute {name!r}")


__all__ = [
    "InputError",
    "JunkaiGeoError",
    "NetworkError",
    "ParameterError",
    "Problem",
    "ProblemError",
    "SolverError",
    "__version__",
    "solve_problem",
]
