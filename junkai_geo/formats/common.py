"""What every national-format reader returns, and text decoding shared by them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError, Problem


@dataclass
class NationalRead:
    """One file in a national format, converted to a layer of this project.

    ``frame`` has the layer's canonical columns (``model.LAYER_COLUMNS``) and
    extra columns of the source, with geometry in ``frame.crs`` (the source
    CRS: JGD2011 longitude / latitude for tables). Rows that cannot be
    converted are left out of ``frame`` and each is a :class:`Problem` in
    ``problems`` (or, where the reader was told to skip them, a line in
    ``notes``). An import must not go on while ``problems`` is not empty.
    """

    format: str
    layer: str
    frame: gpd.GeoDataFrame
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    #: Problems name rows by their 1-based data row (tables kept whole) rather than ids.
    table: bool = False
    #: Rows of ``frame`` whose missing geometry is already a problem here.
    reported: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> gpd.GeoDataFrame:
        """``frame`` when there is no problem, else :class:`InputError` with all of them."""
        if self.problems:
            raise InputError(self.problems)
        return self.frame


def decode_text(
    data: bytes, file: str, encoding: str | None, problems: list[Problem]
) -> tuple[str | None, str | None]:
    """Text of a CSV in ``encoding`` or, when ``None``, UTF-8 (with or without BOM) or cp932."""
    tries = [encoding] if encoding else ["utf-8-sig", "cp932"]
    for enc in tries:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig":
            enc = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
        return text, enc
    problems.append(
        Problem(
            file,
            None,
            None,
            "text that is neither UTF-8 nor cp932 (Shift_JIS)"
            if encoding is None
            else f"text that is not {encoding}",
            "a CSV in UTF-8, UTF-8 with BOM or cp932 (Shift_JIS)",
            "encoding",
        )
    )
    return None, None


def read_csv_text(
    path: Path, encoding: str | None, problems: list[Problem]
) -> tuple[pd.DataFrame | None, str | None]:
    """A CSV as strings (no NA conversion), or ``None`` with a problem."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(
            Problem(
                path.name, None, None, f"a file that cannot be read ({exc})", "a CSV", "unreadable"
            )
        )
        return None, None
    text, enc = decode_text(data, path.name, encoding, problems)
    if text is None:
        return None, None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.append(
            Problem(
                path.name,
                None,
                None,
                f"text that is not CSV ({exc})",
                "a CSV table with a header row",
                "unreadable",
            )
        )
        return None, enc
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return frame, enc


def csv_header(path: Path) -> list[str]:
    """Column names of a CSV in UTF-8 or cp932 (empty when unreadable)."""
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return []
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = line.decode(enc)
        except UnicodeDecodeError:
            continue
        return [c.strip().strip('"').lstrip("\ufeff") for c in text.split(",")]
    return []
