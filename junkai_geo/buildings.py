"""Buildings with height and size: readers, household matching, classification.

Three sources give buildings:

- the household / building layers of a dataset (``floors``, ``units``,
  ``complex_id``), as the bundled Kanazawa data has them;
- PLATEAU CityGML 2.0 building tiles (:func:`read_plateau_buildings`):
  ``bldg:storeysAboveGround``, ``bldg:measuredHeight``, ``bldg:usage`` and a
  footprint (``lod0FootPrint``, ``lod0RoofEdge`` or the floor of
  ``lod1Solid``), in EPSG:6697 (latitude, longitude, height);
- OpenStreetMap buildings (:func:`read_osm_buildings`): ``building``,
  ``building:levels``, ``height``, ``building:flats``.

Both readers return a :class:`BuildingLayer` whose GeoDataFrame has the
columns of :data:`BUILDING_COLUMNS` in a metric CRS. When floors are not
given they are estimated as ``round(height_m / storey_height_m)`` (at least
one), else set to ``default_floors``; each such building is reported.

:func:`match_households_to_buildings` links households without a
``building_id`` to the nearest footprint within ``match_max_distance_m``.
:func:`classify_buildings` fills floors and units, counts households, and
marks the buildings that make liaison difficult (high-rise, large, or part
of a complex of several buildings) with reason codes. docs/specialists.md
gives every rule and default.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import InputError, ParameterError, Problem
from .settings import check_positive

if TYPE_CHECKING:
    import geopandas as gpd

#: Columns of a building layer read from PLATEAU or OSM (besides ``geometry``).
BUILDING_COLUMNS: list[str] = [
    "building_id",
    "name",
    "kind",
    "floors",
    "floors_source",
    "height_m",
    "usage_code",
    "usage",
    "units",
    "footprint_m2",
    "source",
]

#: PLATEAU ``bldg:usage`` codes (codelist Building_usage.xml, 建物用途) and labels.
PLATEAU_USAGE: dict[str, str] = {
    "401": "業務施設 (offices)",
    "402": "商業施設 (commercial)",
    "403": "宿泊施設 (lodging)",
    "404": "商業系複合施設 (mixed commercial)",
    "411": "住宅 (house)",
    "412": "共同住宅 (apartment building)",
    "413": "店舗等併用住宅 (house with shop)",
    "414": "店舗等併用共同住宅 (apartments with shops)",
    "415": "作業所併用住宅 (house with workshop)",
    "421": "官公庁施設 (government)",
    "422": "文教厚生施設 (education, welfare, culture)",
    "431": "運輸倉庫施設 (transport, warehouse)",
    "441": "工場 (factory)",
    "451": "農林漁業用施設 (farming, fishery)",
    "452": "供給処理施設 (utilities)",
    "453": "防衛施設 (defence)",
    "454": "その他 (other)",
    "461": "不明 (unknown)",
}

#: Building kind (``model.BuildingKind`` values) of each PLATEAU usage code.
#: Apartments become ``highrise`` when they have ``highrise_min_floors``.
PLATEAU_USAGE_KIND: dict[str, str] = {
    "401": "office",
    "402": "office",
    "403": "office",
    "404": "office",
    "411": "detached",
    "412": "apartment",
    "413": "detached",
    "414": "apartment",
    "415": "detached",
    "421": "public",
    "422": "public",
    "431": "office",
    "441": "office",
}

#: Building kind of OSM ``building=*`` values; other values (``yes``, ``roof``
#: ...) leave the kind unknown.
OSM_BUILDING_KIND: dict[str, str] = {
    **dict.fromkeys(
        ("apartments", "residential", "dormitory", "flats", "block"), "apartment"
    ),
    **dict.fromkeys(
        ("house", "detached", "semidetached_house", "terrace", "bungalow", "farm"), "detached"
    ),
    **dict.fromkeys(
        (
            "commercial", "office", "retail", "industrial", "warehouse", "kiosk",
            "supermarket", "hotel", "shop",
        ),
        "office",
    ),
    **dict.fromkeys(
        (
            "public", "school", "university", "college", "hospital", "church", "civic",
            "government", "kindergarten", "museum", "train_station", "fire_station",
        ),
        "public",
    ),
}  # fmt: skip

#: Kinds whose buildings hold homes in several dwellings.
MULTI_UNIT_KINDS: tuple[str, ...] = ("apartment", "highrise", "danchi")

_NS = {
    "core": "http://www.opengis.net/citygml/2.0",
    "bldg": "http://www.opengis.net/citygml/building/2.0",
    "gml": "http://www.opengis.net/gml",
}
# CRSs whose posList is (latitude, longitude[, height]), the axis order of
# EPSG:6697 (JGD2011 + height) that PLATEAU uses.
_LATLON_CRS: dict[str, str] = {
    "6697": "EPSG:6668",
    "6668": "EPSG:6668",
    "4612": "EPSG:4612",
    "4326": "EPSG:4326",
}
_FOOTPRINT_TAGS = ("lod0FootPrint", "lod0RoofEdge")
_SOLID_TAGS = ("lod1Solid", "lod2Solid")


@dataclass(frozen=True)
class BuildingParams:
    """Thresholds and defaults of building classification.

    Attributes
    ----------
    highrise_min_floors
        A multi-unit building with at least this many floors is high-rise.
    large_min_units
        A multi-unit building with at least this many dwellings is large.
    complex_min_buildings
        Buildings sharing a ``complex_id`` form a complex (団地) when there
        are at least this many.
    storey_height_m
        Floors are estimated as ``round(height / storey_height_m)`` when the
        source gives a height but no storeys.
    default_floors, default_units
        Used (and reported) when neither floors nor a height, or neither
        units nor matched households, are known.
    match_max_distance_m
        A household is matched to the nearest building footprint within this
        distance; farther households stay unmatched (and are reported).
    """

    highrise_min_floors: int = 6
    large_min_units: int = 50
    complex_min_buildings: int = 3
    storey_height_m: float = 3.0
    default_floors: int = 1
    default_units: int = 1
    match_max_distance_m: float = 30.0

    def __post_init__(self) -> None:
        check_positive(
            self,
            "highrise_min_floors",
            "large_min_units",
            "complex_min_buildings",
            "storey_height_m",
            "default_floors",
            "default_units",
            "match_max_distance_m",
        )
        for name in (
            "highrise_min_floors",
            "large_min_units",
            "complex_min_buildings",
            "default_floors",
            "default_units",
        ):
            if not isinstance(getattr(self, name), int):
                raise ParameterError(
                    f"BuildingParams.{name}: found {getattr(self, name)!r}; expected an integer"
                )


@dataclass
class BuildingLayer:
    """Buildings read from a file, with what was estimated or not understood.

    ``buildings`` has the columns of :data:`BUILDING_COLUMNS` and footprint
    polygons in ``crs``. ``warnings`` lists what was kept with a default or
    an unknown code (never a reason to reject the file).
    """

    buildings: gpd.GeoDataFrame
    source: str
    crs: str
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        b = self.buildings
        return {
            "source": self.source,
            "crs": self.crs,
            "buildings": len(b),
            "floors_source": {str(k): int(v) for k, v in b["floors_source"].value_counts().items()},
            "with_height": int(b["height_m"].notna().sum()),
            "usage": {str(k): int(v) for k, v in b["usage"].dropna().value_counts().items()},
            "warnings": [w.to_dict() for w in self.warnings],
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------
# PLATEAU CityGML


def _q(prefix: str, tag: str) -> str:
    return f"{{{_NS[prefix]}}}{tag}"


def _child(elem: ET.Element, prefix: str, tag: str) -> ET.Element | None:
    return elem.find(_q(prefix, tag))


def _epsg_of(srs: str) -> str | None:
    """The EPSG code at the end of an srsName URI or ``EPSG:nnnn``."""
    tail = srs.replace("::", ":").rstrip("/").split("/")[-1].split(":")[-1]
    return tail if tail.isdigit() else None


@dataclass
class _Raw:
    """One bldg:Building (with its parts) before projection."""

    gml_id: str
    name: str | None
    storeys: int | None
    height_m: float | None
    usage_code: str | None
    rings_2d: list[list[np.ndarray]]  # polygons: [exterior, holes...] in (lat, lon)


def _poslist(elem: ET.Element, dims: int) -> np.ndarray:
    values = np.array(elem.text.split() if elem.text else [], dtype=float)
    if values.size == 0 or values.size % dims:
        raise ValueError(f"{values.size} numbers, not a multiple of {dims}")
    return values.reshape(-1, dims)


def _polygons(container: ET.Element, dims: int) -> list[list[np.ndarray]]:
    """Every gml:Polygon under ``container`` as [exterior, interiors...] arrays."""
    out: list[list[np.ndarray]] = []
    for poly in container.iter(_q("gml", "Polygon")):
        rings: list[np.ndarray] = []
        for role in ("exterior", "interior"):
            for ring in poly.findall(_q("gml", role)):
                pos = ring.find(f".//{_q('gml', 'posList')}")
                if pos is not None:
                    rings.append(_poslist(pos, dims))
        if rings:
            out.append(rings)
    return out


def _solid_floor(polys: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """The floor surfaces of a LOD1 solid: polygons lying at its lowest height."""
    if not polys or polys[0][0].shape[1] < 3:
        return polys
    zmin = min(float(p[0][:, 2].min()) for p in polys)
    floor = [p for p in polys if np.allclose(p[0][:, 2], zmin, atol=0.01)]
    return floor or polys


def _parse_int(text: str | None) -> int:
    value = float(str(text).strip())
    if not value.is_integer():
        raise ValueError("not an integer")
    return int(value)


def _own_attributes(
    elem: ET.Element, gml_id: str, file: str, dims: int, errors: list[Problem]
) -> tuple[str | None, int | None, float | None, str | None, list[list[np.ndarray]]]:
    """Name, storeys, height, usage code and footprint polygons of one (part of a) building."""
    name_el = _child(elem, "gml", "name")
    name = name_el.text.strip() if name_el is not None and name_el.text else None
    storeys: int | None = None
    el = _child(elem, "bldg", "storeysAboveGround")
    if el is not None:
        try:
            storeys = _parse_int(el.text)
            if storeys < 0:
                raise ValueError("negative")
        except ValueError:
            errors.append(
                Problem(file, gml_id, "bldg:storeysAboveGround", repr(el.text),
                        "a whole number of storeys >= 0", "bad_storeys")
            )  # fmt: skip
            storeys = None
        if storeys == 0:
            storeys = None  # PLATEAU writes 0 or 9999 for "not surveyed"
    if storeys is not None and storeys >= 9999:
        storeys = None
    height: float | None = None
    el = _child(elem, "bldg", "measuredHeight")
    if el is not None:
        try:
            height = float(str(el.text).strip())
            if not math.isfinite(height):
                raise ValueError("not finite")
        except ValueError:
            errors.append(
                Problem(file, gml_id, "bldg:measuredHeight", repr(el.text),
                        "a height in metres", "bad_height")
            )  # fmt: skip
            height = None
        # PLATEAU writes -9999 for "not measured"; other negatives are errors.
        if height is not None and height <= -9999:
            height = None
        elif height is not None and height < 0:
            errors.append(
                Problem(file, gml_id, "bldg:measuredHeight", repr(el.text),
                        "a height in metres >= 0", "bad_height")
            )  # fmt: skip
            height = None
    el = _child(elem, "bldg", "usage")
    usage = el.text.strip() if el is not None and el.text and el.text.strip() else None
    polys: list[list[np.ndarray]] = []
    try:
        for tag in _FOOTPRINT_TAGS:
            sub = _child(elem, "bldg", tag)
            if sub is not None:
                polys = _polygons(sub, dims)
                if polys:
                    break
        if not polys:
            for tag in _SOLID_TAGS:
                sub = _child(elem, "bldg", tag)
                if sub is not None:
                    polys = _solid_floor(_polygons(sub, dims))
                    if polys:
                        break
    except ValueError as exc:
        errors.append(
            Problem(file, gml_id, "gml:posList", str(exc),
                    f"coordinates in groups of {dims} (latitude longitude height)", "bad_coordinates")
        )  # fmt: skip
        polys = []
    return name, storeys, height, usage, polys


def _file_crs(path: Path) -> tuple[str | None, int]:
    """EPSG code and dimension of the first srsName in the file head."""
    for _event, elem in ET.iterparse(path, events=("start",)):
        srs = elem.get("srsName")
        if srs:
            dims = elem.get("srsDimension")
            return _epsg_of(srs), int(dims) if dims and dims.isdigit() else 3
        if elem.tag == _q("bldg", "Building"):
            break
    return None, 3


def read_plateau_buildings(
    path: str | Path,
    *,
    crs: str = "EPSG:6675",
    params: BuildingParams | None = None,
) -> BuildingLayer:
    """Read the buildings of a PLATEAU CityGML 2.0 file (``*_bldg_6697_op.gml``).

    A building made of ``bldg:BuildingPart`` elements is one building: its
    floors and height are the largest of its parts, its footprint their
    union. Usage codes are decoded with :data:`PLATEAU_USAGE`; an unknown
    code is kept (``usage`` = ``unknown code N``) with a warning.

    Parameters
    ----------
    path
        The ``.gml`` file.
    crs
        Metric CRS of the result (default EPSG:6675, Ishikawa).
    params
        ``storey_height_m`` and ``default_floors`` for buildings without storeys.

    Raises
    ------
    InputError
        Missing or malformed file, an unsupported CRS, a building without
        footprint, or storeys / heights / coordinates that are not numbers:
        every problem of the file at once, nothing half-read.
    """
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    p = params or BuildingParams()
    src = Path(path)
    file = str(src)
    if not src.is_file():
        raise InputError(
            Problem(file, None, None, "no such file", "a PLATEAU CityGML file", "missing")
        )
    try:
        epsg, dims = _file_crs(src)
    except ET.ParseError as exc:
        raise InputError(
            Problem(file, f"line {exc.position[0]}", None, f"malformed XML ({exc})",
                    "a well-formed CityGML 2.0 document", "bad_xml")
        ) from exc  # fmt: skip
    problems: list[Problem] = []
    notes: list[str] = []
    if epsg is None:
        notes.append(f"{file}: no srsName; assumed EPSG:6697 (PLATEAU's CRS)")
        epsg = "6697"
    if epsg not in _LATLON_CRS:
        raise InputError(
            Problem(file, None, "srsName", f"EPSG:{epsg}",
                    f"a latitude/longitude CRS, one of EPSG:{', EPSG:'.join(_LATLON_CRS)}", "bad_crs")
        )  # fmt: skip
    raws: list[_Raw] = []
    root_seen = False
    try:
        for event, elem in ET.iterparse(src, events=("start", "end")):
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if elem.tag != _q("core", "CityModel"):
                        raise InputError(
                            Problem(file, None, None, f"root element {elem.tag}",
                                    "core:CityModel of CityGML 2.0", "not_citygml")
                        )  # fmt: skip
                continue
            if elem.tag != _q("bldg", "Building"):
                continue
            gml_id = elem.get(_q("gml", "id")) or f"#{len(raws) + 1}"
            first_problem = len(problems)
            name, storeys, height, usage, polys = _own_attributes(
                elem, gml_id, file, dims, problems
            )
            for part in elem.iter(_q("bldg", "BuildingPart")):
                pid = part.get(_q("gml", "id")) or gml_id
                pn, ps, ph, pu, pp = _own_attributes(part, pid, file, dims, problems)
                name = name or pn
                storeys = (
                    max(s for s in (storeys, ps) if s is not None) if (storeys or ps) else None
                )
                height = max(h for h in (height, ph) if h is not None) if (height or ph) else None
                usage = usage or pu
                polys = polys + pp
            # A building whose coordinates were unreadable is reported once.
            bad_coords = any(pr.code == "bad_coordinates" for pr in problems[first_problem:])
            if not polys and not bad_coords:
                problems.append(
                    Problem(file, gml_id, "geometry", "no footprint, roof edge nor LOD1 solid",
                            "bldg:lod0FootPrint, bldg:lod0RoofEdge or bldg:lod1Solid", "no_geometry")
                )  # fmt: skip
            raws.append(_Raw(gml_id, name, storeys, height, usage, polys))
            elem.clear()
    except ET.ParseError as exc:
        raise InputError(
            Problem(file, f"line {exc.position[0]}", None, f"malformed XML ({exc})",
                    "a well-formed CityGML 2.0 document", "bad_xml")
        ) from exc  # fmt: skip
    if problems:
        raise InputError(problems)
    if not raws:
        raise InputError(
            Problem(file, None, None, "no bldg:Building", "at least one building", "no_buildings")
        )
    to_metric = Transformer.from_crs(_LATLON_CRS[epsg], crs, always_xy=True)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    warns: list[Problem] = []
    for r in raws:
        polygons = []
        for rings in r.rings_2d:
            # (lat, lon) -> (lon, lat) -> metres.
            proj = [np.column_stack(to_metric.transform(a[:, 1], a[:, 0])) for a in rings]
            poly = shapely.Polygon(proj[0], proj[1:])
            polygons.append(poly if poly.is_valid else shapely.make_valid(poly))
        geom = shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]
        code = r.usage_code
        if code is not None and code not in PLATEAU_USAGE:
            warns.append(
                Problem(file, r.gml_id, "bldg:usage", repr(code),
                        f"a code of Building_usage.xml ({min(PLATEAU_USAGE)}-{max(PLATEAU_USAGE)})",
                        "unknown_usage")
            )  # fmt: skip
        floors, fsource = _floors(r.storeys, r.height_m, p)
        if fsource == "default":
            warns.append(
                Problem(file, r.gml_id, "bldg:storeysAboveGround", "no storeys nor height",
                        f"storeys or a height; default {p.default_floors} floor(s) used",
                        "floors_default")
            )  # fmt: skip
        rows.append(
            {
                "building_id": r.gml_id,
                "name": r.name,
                "kind": _kind(PLATEAU_USAGE_KIND.get(code or ""), floors, p),
                "floors": floors,
                "floors_source": fsource,
                "height_m": r.height_m,
                "usage_code": code,
                "usage": PLATEAU_USAGE.get(code, f"unknown code {code}") if code else None,
                "units": np.nan,
                "footprint_m2": float(geom.area),
                "source": "plateau",
            }
        )
        geoms.append(geom)
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=BUILDING_COLUMNS), geometry=geoms, crs=crs)
    frame["height_m"] = frame["height_m"].astype(float)
    frame["units"] = frame["units"].astype(float)
    return BuildingLayer(frame, file, crs, warns, notes)


def _floors(storeys: int | None, height_m: float | None, p: BuildingParams) -> tuple[int, str]:
    """Floors and where they come from: ``storeys``, ``height`` or ``default``."""
    if storeys is not None and storeys > 0:
        return int(storeys), "storeys"
    if height_m is not None and height_m > 0:
        return max(1, int(round(height_m / p.storey_height_m))), "height"
    return p.default_floors, "default"


def _kind(kind: str | None, floors: int, p: BuildingParams) -> str | None:
    if kind == "apartment" and floors >= p.highrise_min_floors:
        return "highrise"
    return kind


# ----------------------------------------------------------------------------
# OpenStreetMap


def _osm_number(value: str | None) -> float | None:
    """A number from an OSM tag (``"12"``, ``"12.5 m"``); None when it is not one."""
    if value is None:
        return None
    text = value.strip().removesuffix("m").strip().replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _way_outline(way: Any, shapely: Any) -> tuple[Any, bool]:
    """Polygon of a building way and whether all its nodes were located.

    A way cut by the extract's boundary keeps the ring of its located nodes
    (so its households can still be matched); one or two located nodes give
    their mean point; none gives None.
    """
    pts = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
    complete = len(pts) == len(way.nodes)
    if len(pts) >= 2 and pts[0] == pts[-1]:
        pts = pts[:-1]
    if not pts:
        return None, complete
    if len(set(pts)) < 3:
        return shapely.Point(np.mean(np.asarray(pts), axis=0)), complete
    poly = shapely.Polygon(pts)
    if not poly.is_valid or poly.area == 0:
        poly = shapely.convex_hull(shapely.MultiPoint(pts))
    return poly, complete


def read_osm_buildings(
    path: str | Path,
    *,
    crs: str | None = None,
    params: BuildingParams | None = None,
) -> BuildingLayer:
    """Read ``building=*`` ways and multipolygons of an OSM file as footprints.

    Floors come from ``building:levels`` (fractions such as ``2.5`` round up:
    the half level holds rooms), else ``height`` / ``storey_height_m``, else
    ``default_floors``; a ``building:levels`` value that is not a number is
    kept as a warning. ``units`` comes from ``building:flats`` when present.
    Building nodes (points without a footprint) are counted in ``notes`` and
    not read.

    Parameters
    ----------
    path
        An ``.osm.pbf`` or ``.osm`` file.
    crs
        Metric CRS of the result; default the local one for the data
        (:func:`junkai_geo.projection.metric_crs_for`).

    Raises
    ------
    InputError
        Missing, truncated or corrupt file.
    """
    import geopandas as gpd
    import shapely

    from .projection import metric_crs_for

    try:
        import osmium
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise InputError(
            Problem(str(path), None, None, "pyosmium is not installed",
                    "pip install osmium", "missing_dependency")
        ) from exc  # fmt: skip
    p = params or BuildingParams()
    src = Path(path)
    file = str(src)
    if not src.is_file():
        raise InputError(Problem(file, None, None, "no such file", "an OSM file", "missing"))
    wkb = osmium.geom.WKBFactory()
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    warns: list[Problem] = []
    skipped_nodes = 0
    partial = 0
    try:
        fp = (
            osmium.FileProcessor(str(src))
            .with_areas()
            .with_filter(osmium.filter.KeyFilter("building"))
        )
        for obj in fp:
            if isinstance(obj, osmium.osm.Node):
                skipped_nodes += 1
                continue
            if isinstance(obj, osmium.osm.Way):
                osm_id = f"w{obj.id}"
                geom, complete = _way_outline(obj, shapely)
                if geom is None:
                    warns.append(
                        Problem(file, osm_id, "geometry", "no located node",
                                "a closed ring of located nodes", "bad_geometry")
                    )  # fmt: skip
                    continue
                if not complete:
                    partial += 1
            elif isinstance(obj, osmium.osm.Area) and not obj.from_way():
                # Multipolygon relations; closed ways are read above as ways.
                osm_id = f"r{obj.orig_id()}"
                try:
                    geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                except RuntimeError:
                    warns.append(
                        Problem(file, osm_id, "geometry", "an incomplete multipolygon",
                                "closed rings of located nodes", "bad_geometry")
                    )  # fmt: skip
                    continue
            else:
                continue
            tags = {t.k: t.v for t in obj.tags}
            building = tags.get("building", "yes")
            levels_text = tags.get("building:levels")
            levels = _osm_number(levels_text)
            if levels_text is not None and levels is None:
                warns.append(
                    Problem(file, osm_id, "building:levels", repr(levels_text),
                            "a number of levels", "bad_levels")
                )  # fmt: skip
            height = _osm_number(tags.get("height"))
            storeys = int(math.ceil(levels)) if levels else None
            floors, fsource = _floors(storeys, height, p)
            if fsource == "storeys":
                fsource = "levels"
            flats = _osm_number(tags.get("building:flats"))
            rows.append(
                {
                    "building_id": osm_id,
                    "name": tags.get("name"),
                    "kind": _kind(OSM_BUILDING_KIND.get(building), floors, p),
                    "floors": floors,
                    "floors_source": fsource,
                    "height_m": height,
                    "usage_code": building,
                    "usage": building,
                    "units": float(flats) if flats else np.nan,
                    "footprint_m2": np.nan,
                    "source": "osm",
                }
            )
            geoms.append(geom)
    except RuntimeError as exc:
        raise InputError(
            Problem(file, None, None, f"unreadable OSM data ({exc})",
                    "a complete .osm.pbf or .osm extract", "bad_osm")
        ) from exc  # fmt: skip
    frame = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=BUILDING_COLUMNS), geometry=geoms, crs="EPSG:4326"
    )
    if len(frame):
        x0, y0, x1, y1 = frame.total_bounds
        target = crs or metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2)
    else:
        target = crs or "EPSG:3857"
    frame = frame.to_crs(target)
    frame["footprint_m2"] = frame.geometry.area
    frame["height_m"] = frame["height_m"].astype(float)
    frame["units"] = frame["units"].astype(float)
    notes = (
        [f"{skipped_nodes} building node(s) without footprint not read"] if skipped_nodes else []
    )
    if partial:
        notes.append(
            f"{partial} building way(s) cut by the extract's edge: outline from their located nodes"
        )
    defaults = int((frame["floors_source"] == "default").sum())
    if defaults:
        notes.append(
            f"{defaults} building(s) without building:levels nor height: "
            f"{p.default_floors} floor(s) assumed"
        )
    return BuildingLayer(frame, file, target, warns, notes)


# ----------------------------------------------------------------------------
# households <-> buildings


@dataclass
class MatchResult:
    """Households with a ``building_id`` found by location, and what was not matched."""

    households: gpd.GeoDataFrame
    already_linked: int
    matched: int
    unmatched: list[str]
    max_distance_m: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "already_linked": self.already_linked,
            "matched": self.matched,
            "unmatched": len(self.unmatched),
            "unmatched_ids": self.unmatched[:100],
            "max_distance_m": self.max_distance_m,
        }


def match_households_to_buildings(
    households: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    params: BuildingParams | None = None,
    relink: bool = False,
) -> MatchResult:
    """Give each household without a ``building_id`` the nearest building.

    The nearest building footprint (or point) within
    ``params.match_max_distance_m`` wins; equal distances go to the smaller
    ``building_id``. A household inside a footprint is at distance 0.
    ``relink=True`` matches every household, ignoring existing links. The
    column ``match_distance_m`` holds the distance (0 for kept links, NaN
    for unmatched households).
    """
    import geopandas as gpd

    p = params or BuildingParams()
    for name, frame in (("households", households), ("buildings", buildings)):
        if frame.crs is None or not frame.crs.is_projected:
            raise InputError(
                Problem(name, None, "geometry", f"CRS {frame.crs}",
                        "a metric (projected) CRS, for example EPSG:6675", "bad_crs")
            )  # fmt: skip
    if "building_id" not in buildings.columns:
        raise InputError(
            Problem("buildings", None, "building_id", f"columns {list(buildings.columns)}",
                    "a building_id column", "missing_column")
        )  # fmt: skip
    hh = households.copy()
    if "building_id" not in hh.columns:
        hh["building_id"] = None
    bld = buildings[["building_id", "geometry"]]
    if bld.crs != hh.crs:
        bld = bld.to_crs(hh.crs)
    bld = bld.sort_values("building_id", kind="stable")
    linked = hh["building_id"].notna() & (hh["building_id"].astype(str) != "")
    if relink:
        linked[:] = False
    todo = hh[~linked.to_numpy()]
    hh["match_distance_m"] = np.where(linked, 0.0, np.nan)
    matched = 0
    if len(todo) and len(bld):
        probe = gpd.GeoDataFrame({"_row": np.flatnonzero(~linked.to_numpy())},
                                 geometry=todo.geometry.to_numpy(), crs=hh.crs)  # fmt: skip
        joined = gpd.sjoin_nearest(
            probe,
            bld.reset_index(drop=True),
            how="inner",
            max_distance=p.match_max_distance_m,
            distance_col="_d",
        )
        joined = joined.sort_values(["_row", "_d", "building_id"], kind="stable")
        joined = joined.drop_duplicates("_row")
        rows = joined["_row"].to_numpy()
        col_b = hh.columns.get_loc("building_id")
        col_d = hh.columns.get_loc("match_distance_m")
        hh.iloc[rows, col_b] = joined["building_id"].astype(str).to_numpy()
        hh.iloc[rows, col_d] = joined["_d"].to_numpy(float)
        matched = len(rows)
    unmatched_mask = ~linked.to_numpy() & hh["match_distance_m"].isna().to_numpy()
    ids = (
        hh["household_id"].astype(str).to_numpy()
        if "household_id" in hh
        else hh.index.astype(str).to_numpy()
    )
    return MatchResult(
        households=hh,
        already_linked=int(linked.sum()),
        matched=matched,
        unmatched=sorted(ids[unmatched_mask].tolist()),
        max_distance_m=p.match_max_distance_m,
    )


# ----------------------------------------------------------------------------
# classification


#: Reason codes of a difficult building (column ``reasons``).
BUILDING_REASONS: tuple[str, ...] = ("highrise", "large", "complex")


@dataclass
class BuildingClassification:
    """Buildings with filled floors / units, household counts and difficulty.

    Columns added to the buildings: ``floors`` and ``units`` (filled),
    ``floors_source`` (given / height / default), ``units_source`` (given /
    households / default), ``households`` (household records),
    ``homes`` (of kind home), ``multi_unit``, ``highrise``, ``large``,
    ``in_complex``, ``difficult`` (bool) and ``reasons`` (``;``-joined codes
    of :data:`BUILDING_REASONS`).
    """

    buildings: gpd.GeoDataFrame
    params: BuildingParams
    warnings: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        b = self.buildings
        return {
            "buildings": len(b),
            "floors_from_height": int((b["floors_source"] == "height").sum()),
            "floors_default": int((b["floors_source"] == "default").sum()),
            "units_from_households": int((b["units_source"] == "households").sum()),
            "units_default": int((b["units_source"] == "default").sum()),
            "no_households": int((b["households"] == 0).sum()),
            "highrise": int(b["highrise"].sum()),
            "large": int(b["large"].sum()),
            "in_complex": int(b["in_complex"].sum()),
            "difficult": int(b["difficult"].sum()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "thresholds": {
                "highrise_min_floors": self.params.highrise_min_floors,
                "large_min_units": self.params.large_min_units,
                "complex_min_buildings": self.params.complex_min_buildings,
                "storey_height_m": self.params.storey_height_m,
            },
            "warnings": [w.to_dict() for w in self.warnings[:100]],
            "warnings_total": len(self.warnings),
        }


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def classify_buildings(
    buildings: gpd.GeoDataFrame,
    households: pd.DataFrame | None = None,
    *,
    params: BuildingParams | None = None,
    source: str = "buildings",
) -> BuildingClassification:
    """Fill floors and units, count households and mark the difficult buildings.

    Rules (``params`` names the thresholds):

    - floors: the ``floors`` column when a whole number >= 1; else
      ``round(height_m / storey_height_m)``; else ``default_floors``;
    - units: the ``units`` column when >= 1; else the number of household
      records linked to the building; else ``default_units``;
    - multi-unit: kind apartment / highrise / danchi, or (kind unknown or
      missing) more than one home linked;
    - high-rise: multi-unit with floors >= ``highrise_min_floors``;
    - large: multi-unit with units >= ``large_min_units``;
    - in a complex: its ``complex_id`` is shared by at least
      ``complex_min_buildings`` buildings;
    - difficult: high-rise, large or in a complex, and (when households are
      given) at least one household linked: a building nobody lives in has
      nothing to visit. Such buildings stay in the table, reported.

    Every default used and every building without households is listed in
    ``warnings`` (codes ``floors_default``, ``units_default``,
    ``no_households``).
    """
    p = params or BuildingParams()
    if "building_id" not in buildings.columns:
        raise InputError(
            Problem(source, None, "building_id", f"columns {list(buildings.columns)}",
                    "a building_id column", "missing_column")
        )  # fmt: skip
    b = buildings.copy()
    ids = b["building_id"].astype(str)
    n = len(b)
    warns: list[Problem] = []
    floors = _numeric(b, "floors")
    given = np.isfinite(floors) & (floors >= 1) & (np.mod(floors, 1) == 0)
    height = _numeric(b, "height_m")
    from_height = ~given & np.isfinite(height) & (height > 0)
    fsrc = np.where(given, "given", np.where(from_height, "height", "default"))
    if "floors_source" in b.columns:
        # Keep the reader's finer label (storeys / levels / height / default).
        prior = b["floors_source"].astype(str).to_numpy()
        fsrc = np.where(
            given & np.isin(prior, ["storeys", "levels", "height", "default"]), prior, fsrc
        )
    est = np.maximum(1, np.round(np.where(from_height, height, 0) / p.storey_height_m))
    floors = np.where(given, floors, np.where(from_height, est, p.default_floors)).astype(np.int64)
    if households is not None and len(households):
        if "building_id" not in households.columns:
            raise InputError(
                Problem("households", None, "building_id", f"columns {list(households.columns)}",
                        "a building_id column (see match_households_to_buildings)",
                        "missing_column")
            )  # fmt: skip
        hb = households["building_id"].astype(str)
        per = hb.value_counts()
        kind_hh = (
            households["kind"].astype(str)
            if "kind" in households.columns
            else pd.Series("home", index=households.index)
        )
        homes_per = hb[kind_hh.to_numpy() == "home"].value_counts()
        hh_count = ids.map(per).fillna(0).to_numpy(np.int64)
        homes = ids.map(homes_per).fillna(0).to_numpy(np.int64)
        have_households = True
    else:
        hh_count = np.zeros(n, np.int64)
        homes = np.zeros(n, np.int64)
        have_households = False
    units = _numeric(b, "units")
    ugiven = np.isfinite(units) & (units >= 1)
    from_hh = ~ugiven & (hh_count > 0)
    usrc = np.where(ugiven, "given", np.where(from_hh, "households", "default"))
    units = np.where(ugiven, units, np.where(from_hh, hh_count, p.default_units)).astype(np.int64)
    kind = (
        b["kind"].astype(object).where(b["kind"].notna(), None).to_numpy()
        if "kind" in b.columns
        else np.full(n, None, dtype=object)
    )
    known_kind = np.array([k is not None and str(k) not in ("", "nan", "None") for k in kind])
    multi = np.isin(kind.astype(str), MULTI_UNIT_KINDS) | (~known_kind & (homes > 1))
    highrise = multi & (floors >= p.highrise_min_floors)
    large = multi & (units >= p.large_min_units)
    if "complex_id" in b.columns:
        cid = b["complex_id"].astype(object)
        valid = cid.notna() & (cid.astype(str).str.strip() != "") & (cid.astype(str) != "nan")
        sizes = cid[valid].astype(str).value_counts()
        in_complex = (
            valid & cid.astype(str).map(sizes).fillna(0).ge(p.complex_min_buildings)
        ).to_numpy()
    else:
        in_complex = np.zeros(n, bool)
    occupied = hh_count > 0 if have_households else np.ones(n, bool)
    difficult = (highrise | large | in_complex) & occupied
    codes = np.stack([highrise, large, in_complex], axis=1)
    reasons = [
        ";".join(c for c, on in zip(BUILDING_REASONS, row, strict=True) if on) for row in codes
    ]
    b["floors"] = floors
    b["floors_source"] = fsrc
    b["units"] = units
    b["units_source"] = usrc
    b["households"] = hh_count
    b["homes"] = homes
    b["multi_unit"] = multi
    b["highrise"] = highrise
    b["large"] = large
    b["in_complex"] = in_complex
    b["difficult"] = difficult
    b["reasons"] = reasons
    for i in np.flatnonzero(fsrc == "default"):
        warns.append(
            Problem(source, ids.iat[i], "floors", "no floors nor height",
                    f"floors >= 1; default {p.default_floors} used", "floors_default")
        )  # fmt: skip
    for i in np.flatnonzero(usrc == "default"):
        warns.append(
            Problem(source, ids.iat[i], "units", "no units nor linked households",
                    f"units >= 1; default {p.default_units} used", "units_default")
        )  # fmt: skip
    if have_households:
        for i in np.flatnonzero((hh_count == 0) & (highrise | large | in_complex)):
            warns.append(
                Problem(source, ids.iat[i], "households", "0 households linked",
                        "households in a high-rise, large or complex building; "
                        "kept but not counted as difficult", "no_households")
            )  # fmt: skip
    return BuildingClassification(b, p, warns)
