"""Readers of the national formats as published.

* :func:`read_estat_boundaries` — e-Stat 国勢調査 町丁・字等別境界 Shapefile → ``units``
* :func:`read_police_boxes` — prefectural police list of 交番・駐在所 (CSV) → ``koban``
* :func:`geocode_households` — household list by address (住所) → ``households``,
  located offline against an :class:`AddressReference`

:func:`detect_format` tells from a file's columns which of these it is;
:func:`read_national` reads it with :class:`NationalOptions`. The generic
import (:func:`junkai_geo.ingest.read_layer`) calls both, so these files load
like any other layer file. Each reader returns a :class:`NationalRead`:
the converted layer plus every problem and note, never raising for bad data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd

from ..errors import InputError, ParameterError
from .addresses import (
    LEVEL_BLOCK,
    LEVEL_NONE,
    LEVEL_TOWN,
    AddressReference,
    Located,
    geocode_households,
    is_address_list,
    normalize_address,
)
from .common import NationalRead
from .estat import is_estat_boundary, read_estat_boundaries
from .police import is_police_list, koban_id, read_police_boxes

__all__ = [
    "FORMAT_LAYERS",
    "LEVEL_BLOCK",
    "LEVEL_NONE",
    "LEVEL_TOWN",
    "AddressReference",
    "Located",
    "NationalOptions",
    "NationalRead",
    "detect_format",
    "geocode_households",
    "koban_id",
    "normalize_address",
    "read_estat_boundaries",
    "read_national",
    "read_police_boxes",
]

#: Format names and the layer each one gives.
FORMAT_LAYERS: dict[str, str] = {
    "estat_boundary": "units",
    "police_koban": "koban",
    "address_households": "households",
}


@dataclass(frozen=True)
class NationalOptions:
    """Options of the national-format readers (ignored by the other formats).

    ``prefecture`` / ``station``: keep only these rows of a police list.
    ``skip_unlocated``: leave out police-list rows without a location (each
    noted) instead of failing the import. ``reference``: MLIT 位置参照情報
    CSV files (大字・町丁目 or 街区 level) to locate addresses against, used
    instead of the bundled Ishikawa 町字 points.
    """

    prefecture: tuple[str, ...] | None = None
    station: tuple[str, ...] | None = None
    skip_unlocated: bool = False
    reference: tuple[str | os.PathLike[str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # One name or path given alone is one item, not a sequence of characters.
        for name in ("prefecture", "station", "reference"):
            value = getattr(self, name)
            if isinstance(value, str | os.PathLike):
                object.__setattr__(self, name, (value,))
            elif value is not None:
                object.__setattr__(self, name, tuple(value))


def detect_format(path: str | os.PathLike[str], layer: str | None = None) -> str | None:
    """The national format of a file (a key of ``FORMAT_LAYERS``), or ``None``.

    With ``layer``, only a format giving that layer is considered.
    """
    p = Path(path)
    checks = (
        ("estat_boundary", is_estat_boundary),
        ("police_koban", is_police_list),
        ("address_households", is_address_list),
    )
    for name, test in checks:
        if layer is not None and FORMAT_LAYERS[name] != layer:
            continue
        if test(p):
            return name
    return None


def read_national(
    path: str | os.PathLike[str],
    layer: str | None = None,
    *,
    options: NationalOptions | None = None,
    crs: str | None = None,
    encoding: str | None = None,
) -> NationalRead:
    """Read a file in one of the national formats (detected) as its layer."""
    options = options or NationalOptions()
    fmt = detect_format(path, layer)
    if fmt is None:
        raise ParameterError(
            f"{Path(path).name}: not an e-Stat boundary file, a police list of 交番・駐在所 "
            f"or a household list by address{f' for the layer {layer}' if layer else ''}"
        )
    if fmt == "estat_boundary":
        return read_estat_boundaries(path, crs=crs, encoding=encoding)
    if fmt == "police_koban":
        return read_police_boxes(
            path,
            prefecture=list(options.prefecture) if options.prefecture else None,
            station=list(options.station) if options.station else None,
            skip_unlocated=options.skip_unlocated,
            encoding=encoding,
        )
    if options.reference:
        try:
            reference = AddressReference.from_mlit(options.reference)
        except InputError as exc:
            empty = gpd.GeoDataFrame({"household_id": []}, geometry=gpd.GeoSeries([]))
            return NationalRead(fmt, "households", empty, list(exc.problems), table=True)
    else:
        reference = AddressReference.bundled()
    return geocode_households(path, reference, encoding=encoding)
