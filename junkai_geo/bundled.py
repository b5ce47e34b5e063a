"""The bundled, real-derived Kanazawa (金沢市) sample data in ``data/kanazawa/``.

The files are made by ``data/derive_kanazawa.py`` (see ``data/README.md``)
and are part of the repository checkout. Set the environment variable
``JUNKAI_GEO_DATA`` to use a copy elsewhere.
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


def data_dir() -> Path:
    """The directory of the bundled data (``JUNKAI_GEO_DATA`` or :data:`DATA_DIR`)."""
    env = os.environ.get("JUNKAI_GEO_DATA")
    return Path(env) if env else DATA_DIR


def _require(directory: Path, names: list[str]) -> None:
    missing = [n for n in names if not (directory / n).is_file()]
    if missing:
        raise JunkaiGeoError(
            f"bundled Kanazawa data: {', '.join(missing)} missing in {directory}; expected the "
            "files of data/kanazawa/ from the repository checkout. Set JUNKAI_GEO_DATA to the "
            "directory that holds them, or regenerate them with "
            "`python data/derive_kanazawa.py --shared ../shared --out data/kanazawa` "
            "(see data/README.md)"
        )


def meta() -> dict:
    """The content of ``meta.json`` (as_of day, seed, counts, rates)."""
    directory = data_dir()
    _require(directory, ["meta.json"])
    try:
        return dict(json.loads((directory / "meta.json").read_text(encoding="utf-8")))
    except ValueError as exc:
        raise JunkaiGeoError(f"{directory / 'meta.json'}: not valid JSON ({exc})") from exc


def as_of() -> date:
    """The reference day of the bundled visit histories (``meta.json`` ``as_of``)."""
    value = meta().get("as_of")
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise JunkaiGeoError(
            f"{data_dir() / 'meta.json'}: as_of is {value!r}; expected a date YYYY-MM-DD"
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
    from .ingest import read_dataset

    directory = data_dir()
    _require(directory, [*FILES.values(), "meta.json"])
    dataset = read_dataset(
        {layer: directory / name for layer, name in FILES.items()}, today=as_of(), validate=validate
    )
    dataset.notes.append(f"bundled Kanazawa data from {directory}, as of {as_of().isoformat()}")
    return dataset
