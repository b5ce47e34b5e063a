"""Small real PMTiles (v3) files for the tests, written with the ``pmtiles`` library.

``write_pmtiles(path, {(z, x, y): bytes}, kind="png")`` writes the tiles
(clustered, as the format wants); ``tile_png(rgb)`` is a real 256 x 256 PNG
of one colour. Run ``python tests/pmtiles_fixture.py OUT.pmtiles`` to make a
file covering 金沢 at zoom 12-14 for trying the service by hand
(``JUNKAI_TILE_FILE=OUT.pmtiles``).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path


def tile_png(rgb: tuple[int, int, int] = (230, 236, 214)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (256, 256), rgb)
    ImageDraw.Draw(img).rectangle((0, 0, 255, 255), outline=(150, 150, 150))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_pmtiles(path: Path, tiles: dict[tuple[int, int, int], bytes], kind: str = "png") -> Path:
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    tile_type = {"png": TileType.PNG, "jpeg": TileType.JPEG, "mvt": TileType.MVT}[kind]
    with open(path, "wb") as f:
        writer = Writer(f)
        for tid, data in sorted((zxy_to_tileid(*k), v) for k, v in tiles.items()):
            writer.write_tile(tid, data)
        zs = [k[0] for k in tiles]
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": Compression.NONE,
                "min_zoom": min(zs),
                "max_zoom": max(zs),
                "min_lon_e7": int(136.5 * 1e7),
                "min_lat_e7": int(36.4 * 1e7),
                "max_lon_e7": int(136.8 * 1e7),
                "max_lat_e7": int(36.7 * 1e7),
                "center_zoom": min(zs),
                "center_lon_e7": int(136.65 * 1e7),
                "center_lat_e7": int(36.56 * 1e7),
            },
            {"name": "junkai test tiles", "attribution": "テスト用"},
        )
    return path


def area_tiles(
    bounds: tuple[float, float, float, float], zooms: range, png: bytes
) -> dict[tuple[int, int, int], bytes]:
    """Every tile covering lon/lat ``bounds`` at ``zooms``, all the same PNG."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from junkai_geo.render import _tile_range

    out = {}
    for z in zooms:
        xs, ys = _tile_range(bounds, z)
        out.update({(z, x, y): png for x in xs for y in ys})
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "kanazawa_test.pmtiles")
    write_pmtiles(target, area_tiles((136.55, 36.50, 136.75, 36.65), range(12, 15), tile_png()))
    print(target)
