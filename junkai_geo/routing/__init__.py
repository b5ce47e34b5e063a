"""One officer's day: which households to visit, in which order, and why not the others.

Building a day and solving it are separate steps (docs/architecture.md):

- :func:`build_day_problem` (:mod:`.problem`) reads a :class:`DayRequest`
  against a dataset, scores the households (:mod:`junkai_geo.priorities`),
  groups the households of one building into a routing node (one approach,
  then a per-floor and per-household service time inside; :mod:`.nodes`),
  keeps the most promising nodes near the start and measures the travel
  between them. The :class:`DayProblem` is plain data (JSON and pickle).
- :func:`plan_day` (:mod:`.plan`) asks the solver for the route of most
  expected contacts inside the liaison windows (:mod:`.windows`) and
  returns a :class:`DayPlan` (:mod:`.result`; JSON form in
  docs/plan_format.md). Every candidate left out gets a reason.
- :func:`replan` plans the rest of a day from the officer's position after
  an incident. docs/routing.md gives the model.
"""

from .clock import Window, WindowLike, format_clock, parse_clock, parse_window
from .inputs import TravelSource
from .nodes import Node, build_nodes, prune_nodes
from .params import RouteParams
from .plan import plan_day, replan
from .problem import (
    NO_CANDIDATE_NOTES,
    Candidates,
    DayProblem,
    DayRequest,
    build_day_problem,
    build_day_problem_from_frames,
    rebuild_day_problem,
)
from .result import SKIP_REASONS, DayPlan, Place, PlannedHousehold, Stop
from .windows import NightApproval, resolve_windows

__all__ = [
    "NO_CANDIDATE_NOTES",
    "SKIP_REASONS",
    "Candidates",
    "DayPlan",
    "DayProblem",
    "DayRequest",
    "NightApproval",
    "Node",
    "Place",
    "PlannedHousehold",
    "RouteParams",
    "Stop",
    "TravelSource",
    "Window",
    "WindowLike",
    "build_day_problem",
    "build_day_problem_from_frames",
    "build_nodes",
    "format_clock",
    "parse_clock",
    "parse_window",
    "plan_day",
    "prune_nodes",
    "rebuild_day_problem",
    "replan",
    "resolve_windows",
]
