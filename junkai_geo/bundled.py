"""The bundled, real-derived sample data: Kanazawa (金沢市) and all of Ishikawa (石川県).

``data/kanazawa/`` (one city, the quick default) is made by
``data/derive_kanazawa.py``, ``data/ishikawa/`` (the whole prefecture, 12
police stations) by ``data/derive_ishikawa.py`` (see ``data/README.md``);
both are part of the repository checkout. Set the environment variable
``JUNKAI_GEO_DATA`` (Kanazawa) or ``JUNKAI_GEO_ISHIKAWA_DATA`` to use a copy
elsewhere.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from .errors import JunkaiGeoError
from .model import Dataset

#: Default location: ``data/kanazawa`` next to the package in a checkout.
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "kanazawa"

#: The bundled areas: name -> (default directory, environment variable, label).
AREAS: dict[str, tuple[Path, str, str]] = {
    "kanazawa": (DATA_DIR, "JUNKAI_GEO_DATA", "Kanazawa"),
    "ishikawa": (DATA_DIR.parent / "ishikawa", "JUNKAI_GEO_ISHIKAWA_DATA", "Ishikawa"),
}

#: Layer files of the bundled data, by layer name.
FILES: dict[str, str] = {
    "koban": "koban.geojson",
    "beats": "beats.parquet",
    "units": "units.parquet",
    "buildings": "buildings.parquet",
    "households": "households.parquet",
    "officers": "officers.csv",
    "visits": "visits.parquet",
}


def _area(area: str) -> tuple[Path, str, str]:
    if area not in AREAS:
        raise JunkaiGeoError(f"bundled area: found {area!r}; expected one of {sorted(AREAS)}")
    return AREAS[area]


def data_dir(area: str = "kanazawa") -> Path:
    """The directory of a bundled area (its environment variable, else the checkout's)."""
    default, env_name, _ = _area(area)
    env = os.environ.get(env_name)
    return Path(env) if env else default


def _require(directory: Path, names: list[str], area: str = "kanazawa") -> None:
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        _, env_name, label = _area(area)
        raise JunkaiGeoError(
            f"bundled {label} data: {', '.join(missing)} missing in {directory}; expected the "
            f"files of data/{area}/ from the repository checkout. Set {env_name} to the "
            "directory that holds them, or regenerate them with "
            f"`python data/derive_{area}.py --shared ../shared --out data/{area}` "
            "(see data/README.md)"
        )


def meta(area: str = "kanazawa") -> dict:
    """The content of ``meta.json`` (as_of day, seed, counts, rates)."""
    directory = data_dir(area)
    _require(directory, ["meta.json"], area)
    try:
        return dict(json.loads((directory / "meta.json").read_text(encoding="utf-8")))
    except ValueError as exc:
        raise JunkaiGeoError(f"{directory / 'meta.json'}: not valid JSON ({exc})") from exc


def as_of(area: str = "kanazawa") -> date:
    """The reference day of the bundled visit histories (``meta.json`` ``as_of``)."""
    value = meta(area).get("as_of")
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise JunkaiGeoError(
            f"{data_dir(area) / 'meta.json'}: as_of is {value!r}; expected a date YYYY-MM-DD"
        ) from exc


def load_kanazawa(*, validate: bool = True) -> Dataset:
    """Load every layer of the bundled Kanazawa data in the metric CRS (EPSG:6675).

    Each file is checked as any import is; ``validate=False`` skips the
    cross-layer checks (households in beats, beat overlaps, references), the
    slow part, for callers that load the unchanged bundle repeatedly.
    Dates are checked against :func:`as_of`.

    Raises
    ------
    JunkaiGeoError
        When the data directory or a file is missing.
    InputError
        When the files do not pass validation.
    """
    return load_area("kanazawa", validate=validate)


def load_ishikawa(*, validate: bool = True) -> Dataset:
    """Load the bundled data of all of Ishikawa (3,548 census areas, 166 boxes, 12 stations).

    As :func:`load_kanazawa`; the prefecture is about 2.3 times the city's size
    (491,904 household records, 912,685 visits).
    """
    return load_area("ishikawa", validate=validate)


def load_area(area: str, *, validate: bool = True) -> Dataset:
    """Load a bundled area by name (a key of :data:`AREAS`): see :func:`load_kanazawa`."""
    from .ingest import read_dataset

    directory = data_dir(area)
    _require(directory, [*FILES.values(), "meta.json"], area)
    day = as_of(area)
    dataset = read_dataset(
        {layer: directory / name for layer, name in FILES.items()}, today=day, validate=validate
    )
    dataset.notes.append(f"bundled {_area(area)[2]} data from {directory}, as of {day.isoformat()}")
    return dataset
