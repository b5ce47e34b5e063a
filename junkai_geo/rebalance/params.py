"""Parameters of beat rebalancing: what the manager asks for and how the search runs.

:class:`RebalanceParams` holds the targets and the search settings (a run);
:class:`ProblemOptions` says how a unit layer is read into a
:class:`~junkai_geo.rebalance.BeatProblem` (columns, locks, beat count, what
counts as touching). Both check themselves and load from TOML
(:func:`junkai_geo.settings.load_params`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ParameterError
from ..settings import check_positive

#: ``minimal-change``: the fewest households moved that bring every beat within
#: the tolerance (the default); ``best-balance``: the most even beats.
Mode = Literal["minimal-change", "best-balance"]
MODES: tuple[str, ...] = ("minimal-change", "best-balance")
#: Default tolerance per mode: a manager's ±10 % for the smallest change, 3 %
#: for the most even plan.
DEFAULT_TOLERANCE = {"minimal-change": 0.10, "best-balance": 0.03}


@dataclass(frozen=True)
class RebalanceParams:
    """Targets and search settings of beat rebalancing.

    ``mode`` chooses the question answered. ``minimal-change`` (default):
    the fewest households moved (then the shortest boundary between beats)
    such that every beat's workload is within ``tolerance`` of the mean, every
    beat contiguous, holding or touching its koban's unit, locks kept.
    ``best-balance``: the most even workloads, compact beats, few households
    moved as a secondary aim (the koban rule kept where it holds at the start).

    ``tolerance`` is the largest relative deviation of a beat's workload from
    the mean that the manager accepts (0.10 = 10 %); None takes the mode's
    default (10 % minimal-change, 3 % best-balance). The best-balance search
    aims at ``aim_share_of_tolerance * tolerance`` for a margin, the
    minimal-change search at ``change_aim_share_of_tolerance * tolerance``.
    ``compactness_weight`` and ``moved_weight`` trade compactness and the share
    of households that change beat once workloads are within the aim
    (best-balance); ``change_moved_weight`` and ``boundary_weight`` do the same
    for minimal-change. ``max_moved_share`` is a hard cap on the share moved.
    """

    mode: Mode = "minimal-change"
    tolerance: float | None = None
    aim_share_of_tolerance: float = 0.6
    time_limit_s: float = 60.0
    seed: int = 0
    moves_per_unit: int = 1200  # move attempts per unit in one run
    compactness_weight: float = 1.0
    moved_weight: float = 1.0
    max_moved_share: float = 1.0
    balance_weight: float = 2000.0  # penalty per squared deviation above the aim
    evenness_weight: float = 1.0  # small pull towards even loads within the aim
    start_temperature: float = 0.5
    end_temperature: float = 1e-5
    # Minimal-change: weight of the share of households moved, of the share of
    # unit boundaries that lie between beats, the aim, and the temperatures
    # (on the scale of one unit's share of the households).
    change_moved_weight: float = 20.0
    boundary_weight: float = 0.5
    change_aim_share_of_tolerance: float = 0.9
    change_start_temperature: float = 0.02
    change_end_temperature: float = 1e-6
    flow_start: bool = True  # minimal-change: start by handing load along the cheapest flow
    flow_aim_share_of_tolerance: float = 0.9  # the band the flow start aims at
    # Refinement before the search (junkai_geo.workload.refine_units, used by
    # the CLI and the benchmark when household points are known): units above
    # this share of the mean beat workload are split into sub-units; 0 = off.
    split_unit_share: float = 0.15

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(
                f"RebalanceParams.mode: found {self.mode!r}; expected one of {list(MODES)}"
            )
        if self.tolerance is None:
            object.__setattr__(self, "tolerance", DEFAULT_TOLERANCE[self.mode])
        check_positive(
            self,
            "tolerance",
            "aim_share_of_tolerance",
            "time_limit_s",
            "moves_per_unit",
            "max_moved_share",
            "balance_weight",
            "start_temperature",
            "end_temperature",
            "change_aim_share_of_tolerance",
            "change_start_temperature",
            "change_end_temperature",
            "flow_aim_share_of_tolerance",
        )
        for name in (
            "compactness_weight",
            "moved_weight",
            "evenness_weight",
            "split_unit_share",
            "change_moved_weight",
            "boundary_weight",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ParameterError(
                    f"RebalanceParams.{name}: found {value!r}; expected a number >= 0"
                )
        for name in (
            "aim_share_of_tolerance",
            "change_aim_share_of_tolerance",
            "flow_aim_share_of_tolerance",
            "max_moved_share",
        ):
            value = getattr(self, name)
            if value > 1:
                raise ParameterError(
                    f"RebalanceParams.{name}: found {value}; expected a number in (0, 1]"
                )

    @property
    def tol(self) -> float:
        """The tolerance as a float (never None after construction)."""
        assert self.tolerance is not None
        return float(self.tolerance)


@dataclass(frozen=True)
class ProblemOptions:
    """How a unit layer becomes a :class:`~junkai_geo.rebalance.BeatProblem`.

    Columns: ``id_column`` (unit ids), ``weight_column`` (workload; or pass
    ``weights`` values), ``current_column`` (each unit's current beat; empty
    means none), ``households_column``, ``lock_column`` (true/false: the unit
    keeps its beat), ``parent_column`` (the unit a sub-unit was cut from, see
    :func:`junkai_geo.workload.refine_units`; used when present).
    ``locked_units`` / ``locked_beats``: ids that keep what they have.
    ``n_beats``: the beat count wanted (default: as many as now). Two units are
    neighbours when their boundaries share ``min_shared_boundary_m`` once
    grown by ``snap_m`` (corners do not count). ``source`` names the layer in
    error messages.
    """

    weight_column: str | None = None
    id_column: str = "unit_id"
    current_column: str | None = None
    households_column: str | None = "households"
    lock_column: str | None = None
    locked_units: tuple[str, ...] | None = None
    locked_beats: tuple[str, ...] | None = None
    n_beats: int | None = None
    parent_column: str | None = "parent_unit_id"
    snap_m: float = 1.0  # gap between polygons still counted as touching
    min_shared_boundary_m: float = 1.0  # a shorter contact (a corner) is not adjacency
    source: str = "units"

    def __post_init__(self) -> None:
        for name in ("locked_units", "locked_beats"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                if isinstance(value, str):
                    raise ParameterError(
                        f"ProblemOptions.{name}: found {value!r}; expected a list of ids"
                    )
                object.__setattr__(self, name, tuple(str(v) for v in value))
        for name in ("snap_m", "min_shared_boundary_m"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ParameterError(
                    f"ProblemOptions.{name}: found {value!r}; expected a number >= 0"
                )
