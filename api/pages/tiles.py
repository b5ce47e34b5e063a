"""A local background map served by the service: an MBTiles or PMTiles file.

``JUNKAI_TILE_FILE`` names a file of raster tiles of the user's area
(``.mbtiles``: SQLite, read with Python's own ``sqlite3``; ``.pmtiles``:
read through the Protomaps project's ``pmtiles`` reader). The pages ask this
service for ``/tiles/{z}/{x}/{y}``, so nothing leaves a closed network. The
readers are in :mod:`junkai_geo.tilefile`, shared with the command line's
Folium maps.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response

from junkai_geo.errors import InputError
from junkai_geo.tilefile import open_tile_file, tile_media_type

from .web import settings_of

router = APIRouter(include_in_schema=False)

#: A transparent 1 x 1 PNG for tiles the file does not hold (no error in the browser).
EMPTY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def tile_format(data: bytes) -> str:
    return tile_media_type(data)


def check_tile_file(path: Path | None) -> None:
    """Open the configured file at start: a missing, bad or vector file stops the service."""
    if path is not None:
        open_tile_file(path)


@router.get("/tiles/{z}/{x}/{y}")
def tile(request: Request, z: int, x: int, y: int) -> Response:
    """One raster tile (XYZ numbering) of the configured MBTiles or PMTiles file."""
    settings = settings_of(request)
    if settings.tile_file is None:
        raise HTTPException(404, detail="no tile file configured (JUNKAI_TILE_FILE)")
    if not (0 <= z <= 24 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise HTTPException(404, detail="no such tile")
    try:
        data = open_tile_file(Path(settings.tile_file)).get(z, x, y)
    except InputError as exc:
        raise HTTPException(500, detail=str(exc)[:500]) from exc
    if data is None:
        return Response(EMPTY_PNG, media_type="image/png")
    return Response(
        data, media_type=tile_format(data), headers={"Cache-Control": "public, max-age=86400"}
    )
