"""Beat rebalancing (受持区の調整): the smallest change that evens the beats out.

Units (町丁目, sub-units of them, or household blocks) are assigned to beats so that

- every beat is contiguous in the unit graph (hard; islands are joined to
  their nearest unit by a reported bridge, see :mod:`junkai_geo.units`);
- every beat holds its koban's unit or a unit touching it (hard; a koban may
  own several beats; where it cannot hold, the beat and the reason are said
  before the search, :func:`check_koban_rule`);
- every beat's workload is within ``RebalanceParams.tolerance`` of the mean;
- locked units and locked beats keep what they have;
- and, by mode: ``minimal-change`` (default) moves the fewest households (then
  the shortest boundary between beats); ``best-balance`` makes the beats as
  even and compact as it can.

Rooms, in the order data flows through them:

- :mod:`.params`: :class:`RebalanceParams` (the run), :class:`ProblemOptions` (the layer);
- :mod:`.problem` / :mod:`.build`: :class:`BeatProblem`, built once from a unit
  layer (:meth:`BeatProblem.from_geodataframe`), frozen, JSON round trip;
- :mod:`.start`: the start (current beats repaired, brought to the beat count);
- :mod:`.search`, :mod:`.moves`, :mod:`.trees`: the annealing search and its moves;
- :mod:`.minimal`: the koban rule as a constraint and the minimal-change passes;
- :mod:`.evaluate`: figures and broken rules of any assignment (what-if editing);
- :mod:`.solve`: :func:`rebalance_beats`, :func:`sweep_tolerances`;
- :mod:`.result`, :mod:`.report`, :mod:`.map`: the plan, its tables and its map.

See ``docs/rebalancing.md``.
"""

from __future__ import annotations

from .evaluate import BeatEvaluation, BeatFigures, evaluate_beats
from .minimal import KobanIssue, check_koban_rule
from .params import MODES, ProblemOptions, RebalanceParams
from .problem import BeatProblem
from .result import MovedUnit, RebalanceResult, dissolve_beats
from .solve import rebalance_beats, sweep_tolerances

__all__ = [
    "MODES",
    "BeatEvaluation",
    "BeatFigures",
    "BeatProblem",
    "KobanIssue",
    "MovedUnit",
    "ProblemOptions",
    "RebalanceParams",
    "RebalanceResult",
    "check_koban_rule",
    "dissolve_beats",
    "evaluate_beats",
    "rebalance_beats",
    "sweep_tolerances",
]
