"""A local background map served by the service: MBTiles of the user's area.

MBTiles is a SQLite database of tiles (``tiles(zoom_level, tile_column,
tile_row, tile_data)``, rows counted from the south: TMS). Python's own
``sqlite3`` reads it, so closed networks need no extra package; GDAL
(``gdal_translate -of MBTILES``), QGIS and tippecanoe write it. We chose it
over PMTiles for that reason: the same database engine the service already
runs on, opened read-only, with an index on (z, x, y) built in.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response

from .web import settings_of

router = APIRouter(include_in_schema=False)

_local = threading.local()
#: A transparent 1 x 1 PNG for tiles the file does not hold (no error in the browser).
EMPTY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _connection(path: Path) -> sqlite3.Connection:
    conns: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
    _local.conns = conns
    key = str(path)
    if key not in conns:
        if not path.is_file():
            raise HTTPException(404, detail=f"tile file {path} not found")
        conns[key] = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=True)
    return conns[key]


def tile_format(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


@router.get("/tiles/{z}/{x}/{y}")
def tile(request: Request, z: int, x: int, y: int) -> Response:
    """One raster tile (XYZ numbering) of the configured MBTiles file."""
    settings = settings_of(request)
    if settings.tile_file is None:
        raise HTTPException(404, detail="no tile file configured (JUNKAI_TILE_FILE)")
    if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise HTTPException(404, detail="no such tile")
    row = (
        _connection(Path(settings.tile_file))
        .execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (2**z - 1) - y),
        )
        .fetchone()
    )
    if row is None:
        return Response(EMPTY_PNG, media_type="image/png")
    data = bytes(row[0])
    return Response(
        data, media_type=tile_format(data), headers={"Cache-Control": "public, max-age=86400"}
    )
