"""Parameters of the daily route (service times, windows, search limits)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError
from ..settings import check_positive
from .clock import parse_clock, parse_window


@dataclass(frozen=True)
class RouteParams:
    """Service times, windows and search limits of the daily route.

    Attributes
    ----------
    service_home_new_s, service_home_update_s
        Time at one home: a new card (未把握) is made, or a card is checked
        and corrected.
    service_business_new_s, service_business_update_s, service_public_new_s, service_public_update_s
        The same for businesses and public buildings.
    building_approach_s
        Once per building node: reaching the entrance, intercom, lift lobby.
    per_floor_s
        Stairs and lifts: per floor above the ground up to the highest floor
        visited in the node (climbed once).
    day_windows
        Liaison windows used when none are given (``HH:MM-HH:MM``).
    day_from, night_from
        Daytime is ``[day_from, night_from)``; any window outside it is a
        night window and needs a :class:`NightApproval`.
    leave_before_s, return_after_s
        The officer may leave the start so long before the first window and
        must be back at the end so long after the last one.
    max_candidate_nodes
        Candidate pruning: only this many nodes go to the solver (see
        :func:`prune_nodes`).
    node_max_service_s
        A building's households are split (by floor) into nodes of at most
        this much service time, and never more than the shortest window open
        to them, so that a large 団地 can be done over several windows.
    solver_time_share
        Share of ``time_limit_s`` given to the solver; the rest is for
        scoring, the matrix and the answer.
    value_scale
        Expected values are multiplied by this and rounded for the solver,
        which works on integers.
    min_p_contact_window, window_p_tolerance, window_p_prior_ratio
        A household may be visited in a window when its contact probability
        there is at least ``min_p_contact_window``, at least
        ``window_p_tolerance`` times its best probability among today's
        windows, and at least ``window_p_prior_ratio`` times the prior of
        its kind for that window: so a household found absent again and
        again in the mornings waits for the afternoon, the evening or a
        weekend, and a business is not visited after closing time.
    """

    service_home_new_s: int = 900
    service_home_update_s: int = 420
    service_business_new_s: int = 600
    service_business_update_s: int = 300
    service_public_new_s: int = 600
    service_public_update_s: int = 300
    building_approach_s: int = 60
    per_floor_s: int = 15
    day_windows: tuple[str, ...] = ("10:00-12:00", "14:00-16:00")
    day_from: str = "08:00"
    night_from: str = "18:00"
    leave_before_s: int = 1800
    return_after_s: int = 1800
    max_candidate_nodes: int = 60
    node_max_service_s: int = 2400
    solver_time_share: float = 0.8
    value_scale: int = 1000
    min_p_contact_window: float = 0.1
    window_p_tolerance: float = 0.5
    window_p_prior_ratio: float = 0.6

    def __post_init__(self) -> None:
        check_positive(
            self,
            "service_home_new_s",
            "service_home_update_s",
            "service_business_new_s",
            "service_business_update_s",
            "service_public_new_s",
            "service_public_update_s",
            "max_candidate_nodes",
            "node_max_service_s",
            "solver_time_share",
            "value_scale",
            "window_p_tolerance",
            "window_p_prior_ratio",
            "min_p_contact_window",
        )
        for name in ("building_approach_s", "per_floor_s", "leave_before_s", "return_after_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ParameterError(
                    f"RouteParams.{name}: found {value!r}; expected an integer >= 0 (seconds)"
                )
        # TOML gives lists; keep the dataclass hashable.
        object.__setattr__(self, "day_windows", tuple(self.day_windows))
        for name in ("window_p_tolerance", "window_p_prior_ratio", "solver_time_share"):
            if getattr(self, name) > 1:
                raise ParameterError(
                    f"RouteParams.{name}: found {getattr(self, name)!r}; expected a number in (0, 1]"
                )
        if self.window_p_tolerance > 1:
            raise ParameterError(
                f"RouteParams.window_p_tolerance: found {self.window_p_tolerance!r}; "
                "expected a number in (0, 1]"
            )
        if parse_clock(self.day_from, "RouteParams.day_from") >= parse_clock(
            self.night_from, "RouteParams.night_from"
        ):
            raise ParameterError(
                f"RouteParams.night_from: found {self.night_from!r}; expected later than "
                f"day_from ({self.day_from!r})"
            )
        for w in self.day_windows:
            parse_window(w, "RouteParams.day_windows")

    def service_s(self, kind: str, new_card: bool) -> int:
        """Service time of one household of ``kind``."""
        kind = kind if kind in ("home", "business", "public") else "home"
        return int(getattr(self, f"service_{kind}_{'new' if new_card else 'update'}_s"))
