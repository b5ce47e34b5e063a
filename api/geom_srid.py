"""The SRID of the PostGIS point columns is the workspace's own metric CRS.

Every point row keeps ``x`` / ``y`` in the workspace's metric CRS
(``workspace_meta.crs``: EPSG:6675 in Ishikawa, the UTM zone abroad, chosen
by the first spatial import) and, on PostgreSQL, a ``geom`` column filled
from them by a trigger. The column is declared with that CRS's EPSG code,
so that PostGIS knows what the numbers are (``ST_Transform`` to
longitude / latitude gives the imported point back) and distances stay in
metres (``ST_DWithin(geom, point, 250)`` is 250 m, with the GiST index).
A CRS without an EPSG code is declared SRID 0 (unknown) rather than a wrong
code. Beat polygons are longitude / latitude and stay SRID 4326.

The SRID is set when the workspace's CRS is set (the first spatial import,
in its transaction: a failed import leaves the old one) and by migration
``0010_geom_srid`` for a database made before. SQLite has no ``geom``
column: nothing to do there.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import text

#: Tables whose ``geom`` point column follows (x, y).
POINT_TABLES = ("koban", "buildings", "households")


@lru_cache(maxsize=32)
def srid_of(crs: str) -> int:
    """The EPSG code of ``crs`` (e.g. ``"EPSG:32635"`` -> 32635); 0 when it has none."""
    import pyproj

    code = pyproj.CRS.from_user_input(crs).to_epsg()
    return int(code) if code else 0


def column_srid(conn: Any, table: str) -> int | None:
    """The SRID declared for ``table.geom`` (None when there is no such column)."""
    value = conn.execute(
        text(
            "SELECT srid FROM geometry_columns WHERE f_table_schema = current_schema() "
            "AND f_table_name = :t AND f_geometry_column = 'geom'"
        ),
        {"t": table},
    ).scalar()
    return None if value is None else int(value)


def trigger_sql(table: str, srid: int) -> str:
    """The trigger function that fills ``table.geom`` from (x, y) with ``srid``."""
    return (
        f"CREATE OR REPLACE FUNCTION {table}_set_geom() RETURNS trigger AS $$ BEGIN "
        f"NEW.geom := ST_SetSRID(ST_MakePoint(NEW.x, NEW.y), {int(srid)}); RETURN NEW; "
        "END $$ LANGUAGE plpgsql"
    )


def set_point_srid(conn: Any, crs: str) -> list[str]:
    """Declare the point columns with the SRID of ``crs``; returns the tables changed.

    The points already there keep their (x, y), which are in ``crs``: only
    the label changes. ``conn`` is a connection or session (PostgreSQL).
    """
    srid = srid_of(crs)
    changed = []
    for table in POINT_TABLES:
        current = column_srid(conn, table)
        if current is None or current == srid:
            continue
        conn.execute(
            text(
                f"ALTER TABLE {table} ALTER COLUMN geom TYPE geometry(Point, {srid}) "
                f"USING ST_SetSRID(geom, {srid})"
            )
        )
        conn.execute(text(trigger_sql(table, srid)))
        changed.append(table)
    return changed
