"""Where a command's data comes from: the bundled demo or a workspace.

The library does not know databases: a command asks :func:`source_of` for
a :class:`DataSource` and gets a :class:`~junkai_geo.model.Dataset`, the
reference day and, when the source holds one, the street network of a
travel mode. The bundled Kanazawa data (:class:`BundledSource`) is the
default; the ``junkai-geo`` console script (``api.cli``) puts a workspace
source (the service's database, ``api.workspace.WorkspaceSource``) on the
parsed arguments when ``--workspace`` / ``--database-url`` or their
environment variables name one, so every command reads the same data the
service serves.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .model import Dataset
    from .network import StreetNetwork


@runtime_checkable
class DataSource(Protocol):
    """What a command reads: one area's layers, its day and its streets."""

    #: A short description for messages ("bundled Kanazawa data", "workspace x.sqlite3").
    label: str

    def dataset(self) -> Dataset:
        """Every layer, in the source's metric CRS."""
        ...

    def as_of(self) -> date:
        """The reference day (the default day of plans and reports)."""
        ...

    def network(self, mode: str) -> StreetNetwork | None:
        """The street network of ``mode`` (walk / bicycle), or None."""
        ...


class BundledSource:
    """The bundled Kanazawa data in ``data/kanazawa`` (no street network)."""

    label = "bundled Kanazawa data"

    def __init__(self) -> None:
        self._dataset: Dataset | None = None

    def dataset(self) -> Dataset:
        from .bundled import load_kanazawa

        if self._dataset is None:
            self._dataset = load_kanazawa(validate=False)
        return self._dataset

    def as_of(self) -> date:
        from .bundled import as_of

        return as_of()

    def network(self, mode: str) -> StreetNetwork | None:
        return None


def source_of(args: Any) -> DataSource:
    """The data source a parsed command line chose (``args.source``), else the bundle."""
    source = getattr(args, "source", None)
    if source is None:
        source = BundledSource()
        if args is not None:
            with contextlib.suppress(AttributeError):
                args.source = source
    assert isinstance(source, DataSource)
    return source


def officer_network(source: DataSource, dataset: Dataset, officer_id: str) -> Any:
    """The source's street network of the officer's travel mode, or None."""
    officers = dataset.officers
    mode = "walk"
    if officers is not None:
        rows = officers.loc[officers["officer_id"].astype(str) == str(officer_id), "mode"]
        if len(rows) and str(rows.iloc[0]) in ("walk", "bicycle"):
            mode = str(rows.iloc[0])
    return source.network(mode)
