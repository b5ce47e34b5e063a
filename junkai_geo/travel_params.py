"""Travel modes and their speeds: the parameters every travel source shares.

Kept apart from :mod:`junkai_geo.travel` (the matrices) and
:mod:`junkai_geo.network` (the street graph) so that both can use them
without importing each other (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ParameterError
from .settings import check_positive

#: Travel modes with a speed and a detour factor in :class:`TravelParams`.
MODES = ("walk", "bicycle", "car")


@dataclass(frozen=True)
class TravelParams:
    """Speeds, detour factors and snapping limit for travel times.

    Speeds are used both for the straight-line fallback and as the default
    speed on network edges of each mode. The detour factor (network distance
    over straight-line distance) is only used by the fallback: 1.3 is the
    usual ratio in dense urban grids.
    """

    walk_speed_mps: float = 1.3
    bicycle_speed_mps: float = 4.0
    car_speed_mps: float = 8.0
    walk_detour_factor: float = 1.3
    bicycle_detour_factor: float = 1.3
    car_detour_factor: float = 1.4
    max_snap_m: float = 300.0

    def __post_init__(self) -> None:
        check_positive(
            self,
            "walk_speed_mps",
            "bicycle_speed_mps",
            "car_speed_mps",
            "walk_detour_factor",
            "bicycle_detour_factor",
            "car_detour_factor",
            "max_snap_m",
        )
        for name in ("walk_detour_factor", "bicycle_detour_factor", "car_detour_factor"):
            if getattr(self, name) < 1.0:
                raise ParameterError(
                    f"TravelParams.{name}: found {getattr(self, name)!r}; expected a number >= 1 "
                    "(a path is never shorter than the straight line)"
                )

    def speed_mps(self, mode: str) -> float:
        """The speed of ``mode`` in metres per second."""
        return float(getattr(self, f"{check_mode(mode)}_speed_mps"))

    def detour_factor(self, mode: str) -> float:
        """The straight-line detour factor of ``mode``."""
        return float(getattr(self, f"{check_mode(mode)}_detour_factor"))


def check_mode(mode: str) -> str:
    """Return ``mode`` if known, else raise ``ParameterError``."""
    if mode not in MODES:
        raise ParameterError(f"mode: found {mode!r}; expected one of {list(MODES)}")
    return mode
