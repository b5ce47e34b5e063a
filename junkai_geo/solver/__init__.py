"""Routing with time windows: JSON problems in, routes and explained skips out.

``solve_problem(dict) -> dict`` is the JSON interface (``junkai-geo solve``);
``read_problem`` + ``solve_routing`` the array-level one. See ``docs/solver.md``.
"""

from .core import (
    REASONS,
    RouteResult,
    RoutingResult,
    SolverParams,
    Stop,
    Unassigned,
    solve_problem,
    solve_routing,
)
from .local import schedule_route
from .problem import RoutingData, alone_feasibility, read_problem

__all__ = [
    "REASONS",
    "RouteResult",
    "RoutingData",
    "RoutingResult",
    "SolverParams",
    "Stop",
    "Unassigned",
    "alone_feasibility",
    "read_problem",
    "schedule_route",
    "solve_problem",
    "solve_routing",
]
