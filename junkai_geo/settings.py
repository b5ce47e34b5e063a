"""Named defaults, with units in their names, in one place.

Each parameter group is a frozen dataclass that checks itself and can be
loaded from a TOML table (``load_params``). Modules that own a group of
parameters (priorities, routing, rebalancing ...) define their dataclass next
to their code and use :func:`load_params` to read it.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import ParameterError

T = TypeVar("T")

#: Metric CRS of Ishikawa: JGD2011 / Japan Plane Rectangular CS VII.
ISHIKAWA_CRS = "EPSG:6675"
#: Geographic CRS used for every output (longitude / latitude).
OUTPUT_CRS = "EPSG:4326"

#: Where rendered maps and sheets go by default.
MAPS_DIR = Path("maps")
#: On-disk cache of travel-time matrices.
CACHE_DIR = Path(".junkai_cache")


@dataclass(frozen=True)
class CardParams:
    """Rules that turn visit histories into card status."""

    stale_after_months: int = 24
    recent_contact_days: int = 180  # a current card this fresh is not a candidate

    def __post_init__(self) -> None:
        check_positive(self, "stale_after_months", "recent_contact_days")


@dataclass(frozen=True)
class WorkloadParams:
    """The workload model of a beat, in seconds per visiting cycle.

    A cycle is one attempt at every occupied household. Service times are
    per household; households in multi-storey buildings add ``per_floor_s``
    per floor above the ground for stairs and lifts, and each building costs
    one approach (``building_approach_s``). Travel between buildings is
    estimated from their density: the expected nearest-neighbour distance
    ``0.5 / sqrt(density)`` times ``detour_factor`` at ``walk_speed_mps``.
    """

    service_new_card_s: int = 900  # 未把握: a card is made
    service_update_s: int = 420  # current or stale card: checked and corrected
    service_business_s: int = 600
    service_public_s: int = 600
    building_approach_s: int = 60
    per_floor_s: int = 15
    walk_speed_mps: float = 1.3
    detour_factor: float = 1.3
    koban_trip_speed_mps: float = 4.0  # to and from the koban, by bicycle

    def __post_init__(self) -> None:
        check_positive(
            self,
            "service_new_card_s",
            "service_update_s",
            "service_business_s",
            "service_public_s",
            "walk_speed_mps",
            "detour_factor",
            "koban_trip_speed_mps",
        )


def check_positive(obj: object, *names: str) -> None:
    """Raise ``ParameterError`` unless every named attribute is > 0."""
    for name in names:
        value = getattr(obj, name)
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ParameterError(
                f"{type(obj).__name__}.{name}: found {value!r}; expected a number > 0"
            )


def load_params(
    cls: type[T],
    source: str | Path | dict[str, Any] | None = None,
    *,
    table: str | None = None,
    **overrides: Any,
) -> T:
    """Build the parameter dataclass ``cls`` from TOML and keyword overrides.

    ``source`` is a TOML file path or an already-parsed dict; ``table`` picks a
    sub-table (for example ``"routing"``). Unknown keys are an error, so a typo
    in a TOML file does not pass silently.
    """
    values: dict[str, Any] = {}
    if source is not None:
        if isinstance(source, dict):
            data = source
        else:
            path = Path(source)
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ParameterError(f"{path}: cannot read parameters: {exc}") from exc
        if table is not None:
            data = data.get(table, {})
        values.update(data)
    values.update(overrides)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ParameterError(
            f"{cls.__name__}: unknown parameter(s) {unknown}; expected some of {sorted(known)}"
        )
    return cls(**values)
