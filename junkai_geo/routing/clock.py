"""Clock times and windows: ``HH:MM`` text, seconds since midnight."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Any

import numpy as np

from ..errors import ParameterError

Window = tuple[int, int]  # seconds since midnight, [open, close)
WindowLike = str | tuple[str | time | int, str | time | int]


def parse_clock(value: str | time | int, name: str = "time") -> int:
    """Seconds since midnight of ``HH:MM[:SS]``, a ``time`` or an int of seconds."""
    if isinstance(value, bool):
        raise ParameterError(f"{name}: found {value!r}; expected HH:MM")
    if isinstance(value, int | np.integer):
        if 0 <= value <= 86400:
            return int(value)
        raise ParameterError(f"{name}: found {value!r}; expected seconds in [0, 86400]")
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            h, m = int(parts[0]), int(parts[1])
            s = int(parts[2]) if len(parts) == 3 else 0
            if 0 <= h <= 24 and 0 <= m < 60 and 0 <= s < 60 and h * 3600 + m * 60 + s <= 86400:
                return h * 3600 + m * 60 + s
    raise ParameterError(f"{name}: found {value!r}; expected HH:MM or HH:MM:SS")


def parse_window(value: WindowLike, name: str = "window") -> Window:
    """``(open, close)`` in seconds of ``"HH:MM-HH:MM"`` or a pair of times."""
    if isinstance(value, str):
        parts = value.split("-")
        if len(parts) != 2:
            raise ParameterError(f"{name}: found {value!r}; expected HH:MM-HH:MM")
        pair: Sequence[Any] = parts
    elif isinstance(value, tuple | list) and len(value) == 2:
        pair = value
    else:
        raise ParameterError(f"{name}: found {value!r}; expected HH:MM-HH:MM or (start, end)")
    a, b = parse_clock(pair[0], name), parse_clock(pair[1], name)
    if a >= b:
        raise ParameterError(f"{name}: found {value!r}; expected the start before the end")
    return a, b


def format_clock(seconds: int | float) -> str:
    """``HH:MM:SS`` of seconds since midnight."""
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
