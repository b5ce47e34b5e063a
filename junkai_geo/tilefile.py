"""Local background-map files: raster tiles of the user's area in one file.

Two formats, both written by common tools for closed networks:

- **MBTiles** (``.mbtiles``): a SQLite database (``tiles(zoom_level,
  tile_column, tile_row, tile_data)``, rows counted from the south: TMS),
  read with Python's own ``sqlite3``, opened read-only. GDAL
  (``gdal_translate -of MBTILES``), QGIS and tippecanoe write it.
- **PMTiles** (``.pmtiles``, version 3): one file with a tile directory,
  read through ``pmtiles``, the Protomaps project's own Python reader (memory
  mapped, nothing else needed). ``pmtiles convert`` makes one from MBTiles;
  rio-pmtiles and the go-pmtiles tool write it too.

Only raster tiles (PNG, JPEG, WebP) can be drawn by the pages' Leaflet;
a vector (MVT) file is refused with the file, found and expected named.
"""

from __future__ import annotations

import gzip
import mmap
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

from .errors import InputError, Problem

RASTER_EXPECTED = "raster tiles (PNG, JPEG or WebP)"


class TileFile(Protocol):
    path: Path

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at z/x/y (XYZ numbering, rows from the north), or None."""


class MBTiles:
    """An MBTiles file; one read-only connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self.get(0, 0, 0)  # opens it: a bad file fails here, naming itself

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            except sqlite3.Error as exc:
                raise InputError(
                    Problem(str(self.path), None, None, str(exc), "an MBTiles file", "bad_mbtiles")
                ) from exc
            self._local.con = con
        return con

    def get(self, z: int, x: int, y: int) -> bytes | None:
        try:
            row = (
                self._con()
                .execute(
                    "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? "
                    "AND tile_row=?",
                    (z, x, (2**z - 1) - y),
                )
                .fetchone()
            )
        except sqlite3.Error as exc:
            raise InputError(
                Problem(
                    str(self.path),
                    None,
                    "tiles",
                    str(exc),
                    "an MBTiles file with a tiles table",
                    "bad_mbtiles",
                )
            ) from exc
        return None if row is None else bytes(row[0])


class PMTiles:
    """A PMTiles (v3) file of raster tiles, memory-mapped once."""

    def __init__(self, path: Path) -> None:
        from pmtiles.reader import Reader
        from pmtiles.tile import Compression, TileType

        self.path = path
        with open(path, "rb") as f:
            try:
                self._map: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError as exc:  # an empty file
                raise self._bad(f"{exc}") from exc
        self._reader = Reader(lambda offset, length: self._map[offset : offset + length])
        try:
            header = self._reader.header()
        except Exception as exc:  # the library's MagicNumberNotFound & co.
            raise self._bad(f"not a PMTiles v3 header ({type(exc).__name__})") from exc
        kind = header["tile_type"]
        if kind not in (TileType.PNG, TileType.JPEG, TileType.WEBP):
            raise InputError(
                Problem(
                    str(path),
                    None,
                    "tile_type",
                    f"{kind.name} tiles",
                    RASTER_EXPECTED,
                    "vector_tiles",
                )
            )
        self._gzip = header["tile_compression"] == Compression.GZIP

    def _bad(self, found: str) -> InputError:
        return InputError(
            Problem(str(self.path), None, None, found, "a PMTiles file (v3)", "bad_pmtiles")
        )

    def get(self, z: int, x: int, y: int) -> bytes | None:
        data = self._reader.get(z, x, y)
        if data is None:
            return None
        data = bytes(data)
        return gzip.decompress(data) if self._gzip else data


_open: dict[str, TileFile] = {}
_open_lock = threading.Lock()


def open_tile_file(path: str | Path) -> TileFile:
    """The reader of a local tile file by its suffix (cached per path and process)."""
    p = Path(path)
    key = str(p.resolve())
    with _open_lock:
        found = _open.get(key)
        if found is None:
            if not p.is_file():
                raise InputError(
                    Problem(str(p), None, None, "no such file", "an .mbtiles or .pmtiles file")
                )
            found = PMTiles(p) if p.suffix.lower() == ".pmtiles" else MBTiles(p)
            _open[key] = found
    return found


def tile_media_type(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
