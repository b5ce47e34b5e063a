"""Import of layers into a workspace, all or nothing: the service's ``POST
/imports`` and the command line's ``junkai-geo import`` share it.

A layer is read and checked by :func:`junkai_geo.ingest.read_layer`, then
against what the workspace holds (references to koban, beats, buildings,
households), and households and buildings without a ``beat_id`` are
given the beat whose polygon holds them (:func:`place_in_beats`). Any problem stops the
import before anything is written; the caller's transaction then holds
nothing.

Beats by location: a point inside one beat gets that beat; a point on the
shared edge (or corner) of several beats gets the one whose ``beat_id``
sorts first (plain string order), so the result does not depend on the
order of the files or of the rows. A point in no beat is a problem
(``outside_beats``) naming the household, its position and the nearest
beat with its distance; it is never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from junkai_geo.errors import InputError, Problem
from junkai_geo.ingest import read_layer

from .auth import current_version
from .models import BeatRow, BuildingRow, HouseholdRow, KobanRow, VisitRow
from .store import (
    _existing_ids,
    add_beat_version,
    insert_visits,
    recount_beats,
    refresh_statistics,
    today_local,
    upsert_buildings,
    upsert_households,
    upsert_koban,
    upsert_officers,
    upsert_units,
)

LAYERS = ("koban", "beats", "units", "officers", "buildings", "households", "visits")


@dataclass
class ImportResult:
    layer: str
    rows: int
    notes: list[str] = field(default_factory=list)


def read_files(
    layer: str,
    paths: list[Path],
    *,
    crs: str | None = None,
    names: list[str] | None = None,
    national: Any = None,
) -> Any:
    """Read and check every file of one layer; one frame, or every problem raised.

    ``names`` are the names the problems give the files (default their names);
    ``national`` the options of the national formats
    (:class:`junkai_geo.formats.NationalOptions`).
    """
    problems: list[Problem] = []
    frames: list[Any] = []
    for i, path in enumerate(paths):
        name = names[i] if names else Path(path).name
        try:
            frame = read_layer(path, layer, crs=crs, today=today_local(), national=national)
        except InputError as exc:
            problems += [
                Problem(name, p.row, p.field, p.found, p.expected, p.code) for p in exc.problems
            ]
            continue
        frame.attrs["source"] = name
        frames.append(frame)
    if problems:
        raise InputError(problems)
    if len(frames) == 1:
        return frames[0]
    import geopandas as gpd

    spatial = isinstance(frames[0], gpd.GeoDataFrame)
    if spatial:
        crs0 = frames[0].crs
        frames = [f.to_crs(crs0) for f in frames]
    out = pd.concat(frames, ignore_index=True)
    if spatial:
        out = gpd.GeoDataFrame(out, geometry="geometry", crs=frames[0].crs)
    id_col = out.columns[0]
    twice = out[id_col].duplicated(keep="first")
    if twice.any():
        raise InputError(
            [
                Problem(
                    ", ".join(names or [Path(p).name for p in paths]),
                    str(v),
                    id_col,
                    f"{v!r} in more than one file",
                    "each id in one row of one file",
                    "duplicate_id",
                )
                for v in out.loc[twice, id_col]
            ]
        )
    out.attrs["source"] = ", ".join(names or [Path(p).name for p in paths])
    return out


def check_references(session: Session, layer: str, frame: Any, file: str) -> list[Problem]:
    """References from the layer to what the workspace holds."""
    problems: list[Problem] = []

    def check(column: str, known: set[str], what: str) -> None:
        if column not in frame.columns:
            return
        id_col = frame.columns[0]
        for rid, value in zip(frame[id_col], frame[column], strict=True):
            if value is None or (isinstance(value, float) and value != value) or value == "":
                continue
            if str(value) not in known:
                problems.append(
                    Problem(
                        file,
                        str(rid),
                        column,
                        repr(str(value)),
                        f"the id of a {what} in the database",
                        "unknown_ref",
                    )
                )

    version = current_version(session)
    beats = set(session.scalars(select(BeatRow.beat_id).where(BeatRow.version == version)))
    koban = set(session.scalars(select(KobanRow.koban_id)))
    if layer == "beats":
        check("koban_id", koban, "koban")
    elif layer == "units":
        check("beat_id", beats, "beat (current version)")
    elif layer == "officers":
        check("koban_id", koban, "koban")
        check("beat_id", beats, "beat (current version)")
    elif layer == "buildings":
        check("beat_id", beats, "beat (current version)")
    elif layer == "households":
        check("beat_id", beats, "beat (current version)")
        buildings = set(session.scalars(select(BuildingRow.building_id)))
        check("building_id", buildings, "building")
    elif layer == "visits":
        households = set(session.scalars(select(HouseholdRow.household_id)))
        check("household_id", households, "household")
        existing = _existing_ids(session, VisitRow.visit_id, [str(v) for v in frame["visit_id"]])
        for vid in frame["visit_id"]:
            if str(vid) in existing:
                problems.append(
                    Problem(
                        file,
                        str(vid),
                        "visit_id",
                        repr(str(vid)),
                        "a visit id not yet in the database",
                        "duplicate_id",
                    )
                )
    return problems


def current_beats(session: Session, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Ids (sorted) and polygons (in ``crs``) of the current beat version."""
    import geopandas as gpd
    from shapely import wkb

    version = current_version(session)
    rows = session.execute(
        select(BeatRow.beat_id, BeatRow.geom_wkb)
        .where(BeatRow.version == version, BeatRow.geom_wkb.is_not(None))
        .order_by(BeatRow.beat_id)
    ).all()
    ids = np.array([r[0] for r in rows], dtype=object)
    geoms = gpd.GeoSeries([wkb.loads(r[1]) for r in rows if r[1]], crs="EPSG:4326")
    if crs is not None and len(geoms):
        geoms = geoms.to_crs(crs)
    return ids, np.asarray(geoms.to_numpy(), dtype=object)


def beats_of_points(
    points: np.ndarray, beat_ids: np.ndarray, beat_geoms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The beat of each point by location.

    Returns ``(beat, nearest, distance_m)``: ``beat`` the id of the beat
    whose closed polygon holds the point (the first id in string order when
    several do, as on a shared edge), None outside every beat; for those,
    the nearest beat's id and the distance to it.
    """
    n = len(points)
    beat = np.full(n, None, dtype=object)
    nearest = np.full(n, None, dtype=object)
    dist = np.full(n, np.nan)
    if n == 0 or len(beat_geoms) == 0:
        return beat, nearest, dist
    order = np.argsort(beat_ids.astype(str), kind="stable")
    ids, geoms = beat_ids[order], beat_geoms[order]
    tree = shapely.STRtree(geoms)
    # "intersects" of a point with a polygon holds on its boundary too.
    pt, bt = tree.query(points, predicate="intersects")
    if pt.size:
        # The lowest beat index per point is the first id in string order.
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, pt, bt)
        hit = first != np.iinfo(np.int64).max
        beat[hit] = ids[first[hit]]
    out = np.flatnonzero(pd.isna(beat) & ~shapely.is_missing(points))
    if out.size:
        (pi, bi), d = tree.query_nearest(points[out], return_distance=True, all_matches=False)
        nearest[out[pi]] = ids[bi]
        dist[out[pi]] = d
    return beat, nearest, dist


def place_in_beats(session: Session, frame: Any, file: str) -> tuple[Any, list[Problem], int]:
    """Households or buildings without ``beat_id`` get their beat by location.

    The row id is the frame's first column (``household_id``,
    ``building_id``); a building footprint is placed by its representative
    point (the point the workspace keeps). Returns the frame, the problems
    (rows in no beat; rows to place while the workspace has no beats) and
    how many were placed.
    """
    if "beat_id" not in frame.columns:
        frame["beat_id"] = None
    empty = frame["beat_id"].isna().to_numpy() | (frame["beat_id"].astype(str) == "").to_numpy()
    if not empty.any():
        return frame, [], 0
    ids, geoms = current_beats(session, frame.crs)
    rid = frame[frame.columns[0]].to_numpy(dtype=object)
    if len(ids) == 0:
        return (
            frame,
            [
                Problem(
                    file,
                    str(h),
                    "beat_id",
                    "an empty beat_id and no beat in the workspace to place it by location",
                    "a beat_id, or the beats imported first (junkai-geo import beats ...)",
                    "no_beats",
                )
                for h in rid[empty]
            ],
            0,
        )
    where = frame.geometry[empty]
    if not (where.geom_type == "Point").all():
        where = where.representative_point()
    points = np.asarray(where.to_numpy(), dtype=object)
    beat, nearest, dist = beats_of_points(points, ids, geoms)
    lonlat = where.to_crs("EPSG:4326")
    problems = []
    for i in np.flatnonzero(pd.isna(beat)):
        p = lonlat.iloc[i]
        problems.append(
            Problem(
                file,
                str(rid[empty][i]),
                "geometry",
                f"a point at lon {p.x:.6f}, lat {p.y:.6f} outside every beat, "
                f"{dist[i]:.0f} m from the nearest beat {nearest[i]!r}",
                "a point inside a beat of the workspace, or a beat_id",
                "outside_beats",
            )
        )
    if problems:
        return frame, problems, 0
    frame = frame.copy()
    frame.loc[empty, "beat_id"] = beat
    return frame, [], int(empty.sum())


def replace_orphans(session: Session, version: int) -> dict[str, tuple[int, int]]:
    """After a new beat version: households and buildings whose beat is gone
    get one by location.

    Returns, per layer, (placed, left without a beat). Those left keep no
    beat and are reported by ``junkai-geo status``.
    """
    import geopandas as gpd

    from .store import workspace_crs

    ids = set(session.scalars(select(BeatRow.beat_id).where(BeatRow.version == version)))
    crs = workspace_crs(session)
    bids, geoms = current_beats(session, crs)
    out: dict[str, tuple[int, int]] = {}
    for name, model, key in (
        ("households", HouseholdRow, HouseholdRow.household_id),
        ("buildings", BuildingRow, BuildingRow.building_id),
    ):
        rows = session.execute(select(key, model.beat_id, model.x, model.y)).all()
        orphans = [r for r in rows if r[1] is None or r[1] not in ids]
        if not orphans:
            out[name] = (0, 0)
            continue
        pts = gpd.GeoSeries(gpd.points_from_xy([r[2] for r in orphans], [r[3] for r in orphans]))
        beat, _, _ = beats_of_points(np.asarray(pts.to_numpy(), dtype=object), bids, geoms)
        values = [
            {key.key: r[0], "beat_id": b}
            for r, b in zip(orphans, beat, strict=True)
            if b is not None
        ]
        for i in range(0, len(values), 5000):
            session.execute(update(model), values[i : i + 5000])
        # The rest lose a beat that no longer exists.
        left = [r[0] for r, b in zip(orphans, beat, strict=True) if b is None]
        for i in range(0, len(left), 5000):
            session.execute(update(model).where(key.in_(left[i : i + 5000])).values(beat_id=None))
        out[name] = (len(values), len(left))
    return out


def store_layer(session: Session, layer: str, frame: Any, filename: str) -> ImportResult:
    """Check ``frame`` against the workspace and write it; InputError when not clean.

    Nothing is written when a problem is found; on success the caller
    commits.
    """
    problems = check_references(session, layer, frame, filename)
    notes: list[str] = []
    if layer in ("households", "buildings") and not problems:
        frame, problems, placed = place_in_beats(session, frame, filename)
        if placed:
            what = "household(s)" if layer == "households" else "building(s)"
            notes.append(f"{placed} {what} without beat_id placed in the beat that holds them")
    if problems:
        raise InputError(problems)
    if layer == "koban":
        n = upsert_koban(session, frame)
    elif layer == "beats":
        version = add_beat_version(session, frame, source="import", note=filename)
        session.flush()
        for what, (placed, left) in replace_orphans(session, version).items():
            if placed or left:
                notes.append(
                    f"{placed} {what} placed in the new beats by location"
                    + (f"; {left} lie in no beat and have none now" if left else "")
                )
        recount_beats(session, version)
        n = len(frame)
    elif layer == "officers":
        n = upsert_officers(session, frame)
    elif layer == "units":
        n = upsert_units(session, frame)
    elif layer == "buildings":
        n = upsert_buildings(session, frame)
    elif layer == "households":
        n = upsert_households(session, frame)
        session.flush()
        v = current_version(session)
        if v is not None:
            recount_beats(session, v)
    else:
        n = insert_visits(session, frame, today_local())
    if layer in ("households", "buildings", "visits"):
        refresh_statistics(session)
    return ImportResult(layer, n, notes)
