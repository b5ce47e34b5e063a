"""Settings of the calendar planner."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError
from ..settings import check_positive

#: Skip reasons that mean "the day had no room for it" (as opposed to "the day
#: could not reach it"): a waiting 未把握 household skipped for one of these
#: blocks retries on that day.
CAPACITY_REASONS: frozenset[str] = frozenset({"no_time", "less_valuable"})


@dataclass(frozen=True)
class CalendarParams:
    """Settings of the calendar planner.

    Attributes
    ----------
    day_time_limit_s
        Time limit of each officer-day's :func:`plan_day` call.
    max_candidate_nodes
        Building nodes given to the solver per officer-day.
    retry_if_p_below
        Deterministic outcome: an attempt with a contact probability below
        this counts as absent (retried later), at or above as met.
    max_attempts
        Attempts per household within the horizon.
    focus_weekday_p_max
        On focus days, households whose best weekday contact probability is
        below this (or found absent on a weekday in the calendar) go first.
    focus_min_households
        The focus-day restriction applies only when at least this many such
        households wait (else the day takes everyone, so it is not wasted).
    workers
        Processes planning pools in parallel (0: the machine's cores, at most 2).
    unknown_first_min
        While at least this many 未把握 households of a pool wait, its days
        plan first attempts of 未把握 households only (stale and old cards
        wait); 0 lets the priority values alone decide.
    specialist_min_units
        In a koban without large complexes or high-rises, the specialists
        take the households of buildings of at least this many units.
    """

    day_time_limit_s: float = 0.3
    max_candidate_nodes: int = 40
    retry_if_p_below: float = 0.5
    max_attempts: int = 3
    focus_weekday_p_max: float = 0.4
    focus_min_households: int = 20
    unknown_first_min: int = 30
    workers: int = 0
    specialist_min_units: int = 8

    def __post_init__(self) -> None:
        check_positive(
            self,
            "day_time_limit_s",
            "max_candidate_nodes",
            "retry_if_p_below",
            "max_attempts",
            "focus_weekday_p_max",
            "focus_min_households",
            "specialist_min_units",
        )
        if self.retry_if_p_below > 1:
            raise ParameterError(
                f"CalendarParams.retry_if_p_below: found {self.retry_if_p_below!r}; "
                "expected a probability in (0, 1]"
            )
        if not isinstance(self.unknown_first_min, int) or self.unknown_first_min < 0:
            raise ParameterError(
                f"CalendarParams.unknown_first_min: found {self.unknown_first_min!r}; "
                "expected an integer >= 0"
            )
        if not isinstance(self.workers, int) or self.workers < 0:
            raise ParameterError(
                f"CalendarParams.workers: found {self.workers!r}; expected an integer >= 0"
            )
