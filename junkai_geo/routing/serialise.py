"""JSON forms of the routing parameters and windows, shared by the problem objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..priorities import PriorityParams
from .clock import WindowLike, format_clock, parse_clock


def params_dict(p: Any) -> dict[str, Any]:
    """A parameter dataclass as plain JSON data (tuples become lists)."""
    import dataclasses

    return {f.name: _plain(getattr(p, f.name)) for f in dataclasses.fields(p)}


def window_json(w: WindowLike) -> str | list[str]:
    """A window as asked: text stays text, a pair of times becomes ``HH:MM:SS`` text."""
    if isinstance(w, str):
        return w
    return [format_clock(parse_clock(v, "window")) for v in w]


def window_like(w: Any) -> WindowLike:
    return w if isinstance(w, str) else (str(w[0]), str(w[1]))


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_plain(x) for x in v]
    return v


def priority_params_from_dict(d: Mapping[str, Any]) -> PriorityParams:
    # The dataclass keeps nested tuples; JSON gives lists.
    defaults = PriorityParams()
    out: dict[str, Any] = {}
    for k, v in d.items():
        out[k] = _like(getattr(defaults, k), v)
    return PriorityParams(**out)


def _like(template: Any, v: Any) -> Any:
    if isinstance(template, tuple) and isinstance(v, list):
        inner = template[0] if template else None
        return tuple(_like(inner, x) for x in v)
    if isinstance(template, Mapping) and isinstance(v, Mapping):
        first = next(iter(template.values()), None)
        return {k: _like(template.get(k, first), x) for k, x in v.items()}
    return v
