"""``junkai-geo template LAYER --out FILE``: an empty file with the layer's columns.

CSV in UTF-8 with BOM (what Japanese Excel opens), CSV in cp932, or a
GeoPackage. Point layers get ``lon`` / ``lat`` columns in a CSV (JGD2011
longitude / latitude), polygon layers a ``wkt`` column; the GeoPackage
declares JGD2011 (EPSG:6668). ``--japanese`` writes the Japanese column
names the readers also accept (``docs/data_formats.md``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ParameterError

FORMATS = ("csv", "csv-cp932", "gpkg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..validation import LAYERS

    parser.add_argument("layer", choices=list(LAYERS))
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="csv (UTF-8 with BOM), csv-cp932 or gpkg (default: from the file's suffix)",
    )
    parser.add_argument(
        "--japanese", action="store_true", help="Japanese column names (住所, 種別, 階 ...)"
    )


def template_columns(layer: str, *, japanese: bool = False, table: bool = True) -> list[str]:
    """The columns of ``layer``'s template, required first."""
    from ..validation import COLUMN_ALIASES, GEOMETRY_TYPES, LAYER_SPECS

    specs = LAYER_SPECS[layer]
    names = [s.name for s in sorted(specs, key=lambda s: not s.required)]
    if japanese:
        back: dict[str, str] = {}
        for alias, canonical in COLUMN_ALIASES.get(layer, {}).items():
            back.setdefault(canonical, alias)
        names = [back.get(n, n).replace("id", "ID") for n in names]
    if table and layer in GEOMETRY_TYPES:
        if "Point" in GEOMETRY_TYPES[layer]:
            names += ["経度", "緯度"] if japanese else ["lon", "lat"]
        else:
            names += ["wkt"]
    return names


def write_template(
    layer: str, out: Path, *, fmt: str | None = None, japanese: bool = False
) -> Path:
    """Write the empty file; returns its path."""
    from ..validation import GEOMETRY_TYPES

    fmt = fmt or ("gpkg" if out.suffix.lower() == ".gpkg" else "csv")
    if fmt not in FORMATS:
        raise ParameterError(f"--format: found {fmt!r}; expected one of {', '.join(FORMATS)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt.startswith("csv"):
        header = ",".join(template_columns(layer, japanese=japanese)) + "\r\n"
        encoding = "cp932" if fmt == "csv-cp932" else "utf-8-sig"
        out.write_bytes(header.encode(encoding))
        return out
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    columns = template_columns(layer, japanese=japanese, table=False)
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    if layer in GEOMETRY_TYPES:
        gtype = GEOMETRY_TYPES[layer][-1]
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:6668"))
        pyogrio.write_dataframe(gdf, out, layer=layer, driver="GPKG", geometry_type=gtype)
    else:
        pyogrio.write_dataframe(frame, out, layer=layer, driver="GPKG")
    return out


def run(args: argparse.Namespace) -> int:
    path = write_template(args.layer, args.out, fmt=args.format, japanese=args.japanese)
    print(f"template of {args.layer}: {path}")
    return 0
