"""Every number of the 専従員 model (:class:`SpecialistParams`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError
from ..settings import check_positive


@dataclass(frozen=True)
class SpecialistParams:
    """Every number of the 専従員 model, with units in the names.

    Attributes
    ----------
    cluster_distance_m
        Difficult buildings closer than this are one district.
    target_coverage
        Share of a district's occupied households that should hold a
        current card at the end of the period.
    period_weeks
        The period in which the target should be reached.
    absent_attempt_s
        Time of a failed attempt (ringing, leaving a 受持カード).
    min_p_contact
        Floor of the chance of contact per attempt (1 - absence rate).
    liaison_hours_per_day
        Hours of liaison in one officer-day inside a district.
    full_time_days_per_week
        Days per week of a full-time 専従員 (to say how many a district needs).
    default_days_per_week
        Days per week of a spared officer when none is given.
    max_officer_distance_m
        Officers whose koban is farther than this from a district are not
        assigned to it.
    weight_backlog, weight_absence, weight_hours
        Weights of the three ranking criteria, each scaled to [0, 1] by its
        largest value among the districts.
    solver_time_limit_s
        CP-SAT time limit of each of the two solver phases.
    weekend_windows, weekday_windows, evening_window
        Windows of specialist rounds: weekends and holidays, weekdays, and
        the evening window used on a weekday with a night approval.
    walk_max_distance_m
        An officer whose koban is farther from the district rides a bicycle
        on his rounds (its speed is then used inside the district too: a
        small optimism, the buildings being close together).
    round_search_days
        Round days are picked in this many days from the start, weekends
        and holidays first.
    round_time_limit_s
        :func:`plan_day` time limit of each round day.
    """

    cluster_distance_m: float = 150.0
    target_coverage: float = 0.9
    period_weeks: int = 13
    absent_attempt_s: int = 180
    min_p_contact: float = 0.2
    liaison_hours_per_day: float = 5.0
    full_time_days_per_week: int = 5
    default_days_per_week: int = 5
    max_officer_distance_m: float = 8000.0
    weight_backlog: float = 0.4
    weight_absence: float = 0.2
    weight_hours: float = 0.4
    solver_time_limit_s: float = 10.0
    weekend_windows: tuple[str, ...] = ("10:00-12:00", "13:00-17:00")
    weekday_windows: tuple[str, ...] = ("14:00-17:00",)
    evening_window: str = "18:00-20:00"
    walk_max_distance_m: float = 1500.0
    round_search_days: int = 14
    round_time_limit_s: float = 2.0

    def __post_init__(self) -> None:
        check_positive(
            self,
            "cluster_distance_m",
            "target_coverage",
            "period_weeks",
            "absent_attempt_s",
            "min_p_contact",
            "liaison_hours_per_day",
            "full_time_days_per_week",
            "default_days_per_week",
            "max_officer_distance_m",
            "solver_time_limit_s",
            "walk_max_distance_m",
            "round_search_days",
            "round_time_limit_s",
        )
        for name in ("target_coverage", "min_p_contact"):
            if getattr(self, name) > 1:
                raise ParameterError(
                    f"SpecialistParams.{name}: found {getattr(self, name)!r}; "
                    "expected a share in (0, 1]"
                )
        if self.liaison_hours_per_day > 24:
            raise ParameterError(
                f"SpecialistParams.liaison_hours_per_day: found {self.liaison_hours_per_day!r}; "
                "expected hours in (0, 24]"
            )
        for name in ("full_time_days_per_week", "default_days_per_week"):
            value = getattr(self, name)
            if not isinstance(value, int) or value > 7:
                raise ParameterError(
                    f"SpecialistParams.{name}: found {value!r}; expected whole days in 1..7"
                )
        weights = (self.weight_backlog, self.weight_absence, self.weight_hours)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ParameterError(
                f"SpecialistParams weights: found {weights!r}; expected numbers >= 0, not all 0"
            )
        from ..routing import parse_window

        object.__setattr__(self, "weekend_windows", tuple(self.weekend_windows))
        object.__setattr__(self, "weekday_windows", tuple(self.weekday_windows))
        for name in ("weekend_windows", "weekday_windows"):
            for w in getattr(self, name):
                parse_window(w, f"SpecialistParams.{name}")
        parse_window(self.evening_window, "SpecialistParams.evening_window")
