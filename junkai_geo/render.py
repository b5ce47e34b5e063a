"""Folium maps of the project's results: routes, beats, rebalancing, 専従員 districts.

Maps are offline-safe by default (``offline=True``): once saved with
:func:`save_map` they load Leaflet from files next to the HTML (see
:mod:`junkai_geo.offline`) and request nothing from another host unless a
tile URL is configured (:class:`Background`: a tile URL such as 地理院タイル,
a local XYZ folder or MBTiles file, or none). Without a background the maps
say so and show 町丁目, beat and koban names. ``offline=False`` loads Leaflet
from CDNs and 地理院タイル. Every text from data is escaped for HTML and for
folium's JavaScript strings (:func:`_e`).

Shared maps (beats, rebalancing, districts) never show personal fields
(``model.PERSONAL_FIELDS``) nor the ids of individual households: 未把握
households are shown as counts per building. The route map is the
officer's own working map and shows addresses and door labels, as the
printed sheet does, but no household ids either.
"""

from __future__ import annotations

import copy
import html
import json
import os
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import folium
from branca.element import Element, Figure, MacroElement
from folium.plugins import FastMarkerCluster, HeatMap
from jinja2 import Template

from .errors import InputError, Problem
from .model import PERSONAL_FIELDS, split_address
from .offline import copy_assets, localize_html

if TYPE_CHECKING:
    import geopandas as gpd

#: Card status codes -> the words on the cards' ledgers.
CARD_STATUS_JA: dict[str, str] = {"none": "未把握", "current": "現行", "stale": "要更新"}
#: Household kind codes -> Japanese.
KIND_JA: dict[str, str] = {"home": "世帯", "business": "事業所", "public": "公共施設"}
#: Reason codes (``priorities.REASON_CODES``) -> short Japanese; unknown codes are shown as they are.
REASON_JA: dict[str, str] = {
    "no_card": "未把握",
    "stale_card": "カード要更新",
    "card_update": "定期更新",
    "large_complex": "大規模団地",
    "highrise": "高層住宅",
    "absent_history": "不在履歴",
    "recent_contact_excluded": "最近面接済",
    "moved_out_excluded": "転出",
    "vacant_excluded": "空家",
}
#: Marker colours by the most urgent card status of a stop.
STATUS_COLOUR: dict[str, str] = {"none": "#d7301f", "stale": "#f28e2b", "current": "#2e7d32"}
_STATUS_RANK = {"none": 0, "stale": 1, "current": 2}
#: Columns never shown on shared maps besides the personal fields.
INDIVIDUAL_ID_COLUMNS: frozenset[str] = frozenset({"household_id", "visit_id"})

# Maps made with offline=True; save_map looks them up (folium.Map has no slot for it).
_OFFLINE_MAPS: weakref.WeakSet[folium.Map] = weakref.WeakSet()


# ---------------------------------------------------------------- plan input


def read_plan(path: str | Path) -> dict[str, Any]:
    """Read a day plan JSON file (``DayPlan.to_dict()``) and check it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            Problem(
                str(p), None, None, f"unreadable file ({exc})", "a day plan JSON file", "unreadable"
            )
        ) from exc
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            Problem(str(p), f"line {exc.lineno}", None, exc.msg, "valid JSON", "bad_json")
        ) from exc
    check_plan(plan, source=str(p))
    return plan


def check_plan(plan: Any, *, source: str = "plan") -> None:
    """Raise ``InputError`` listing every problem of a day plan dict."""
    problems: list[Problem] = []

    def bad(
        row: str | None, field: str | None, found: object, expected: str, code: str = "invalid"
    ) -> None:
        problems.append(Problem(source, row, field, _short(found), expected, code))

    if not isinstance(plan, dict):
        raise InputError(
            Problem(
                source,
                None,
                None,
                type(plan).__name__,
                "a JSON object (DayPlan.to_dict())",
                "not_object",
            )
        )
    for key in ("officer_id", "date"):
        if not isinstance(plan.get(key), str) or not plan.get(key):
            bad(None, key, plan.get(key), "a non-empty string", "missing")
    start = plan.get("start")
    if not isinstance(start, dict):
        bad(None, "start", start, "an object with lon, lat, label", "missing")
    else:
        _check_lonlat(start, "start", None, bad)
    stops = plan.get("stops")
    if not isinstance(stops, list):
        bad(None, "stops", stops, "a list of stops", "missing")
        stops = []
    last_order = 0
    for i, stop in enumerate(stops):
        row = f"stops[{i}]"
        if not isinstance(stop, dict):
            bad(row, None, stop, "an object", "not_object")
            continue
        order = stop.get("order")
        if not isinstance(order, int) or isinstance(order, bool) or order <= last_order:
            bad(
                row,
                "order",
                order,
                f"an integer > {last_order} (stops in visit order)",
                "bad_order",
            )
        else:
            last_order = order
        _check_lonlat(stop, "", row, bad)
        hh = stop.get("households", [])
        if not isinstance(hh, list):
            bad(row, "households", hh, "a list", "invalid")
        else:
            for j, h in enumerate(hh):
                if not isinstance(h, dict):
                    bad(f"{row}.households[{j}]", None, h, "an object", "not_object")
                    continue
                leaked = sorted(PERSONAL_FIELDS & set(h))
                if leaked:
                    bad(
                        f"{row}.households[{j}]",
                        leaked[0],
                        "a personal field",
                        "no personal fields in a plan",
                        "personal_field",
                    )
                status = h.get("card_status", "none")
                if status not in CARD_STATUS_JA:
                    bad(
                        f"{row}.households[{j}]",
                        "card_status",
                        status,
                        f"one of {sorted(CARD_STATUS_JA)}",
                    )
        path = stop.get("path")
        if path is not None and not (
            isinstance(path, list)
            and all(
                isinstance(q, list | tuple) and len(q) == 2 and all(_is_num(c) for c in q)
                for q in path
            )
        ):
            bad(row, "path", path, "a list of [lon, lat] pairs", "bad_path")
    if problems:
        raise InputError(problems)


def _check_lonlat(obj: Mapping[str, Any], prefix: str, row: str | None, bad: Any) -> None:
    lon, lat = obj.get("lon"), obj.get("lat")
    name = f"{prefix}." if prefix else ""
    if not _is_num(lon) or not -180 <= lon <= 180:
        bad(row, f"{name}lon", lon, "a longitude in degrees (-180..180)", "bad_coordinate")
    if not _is_num(lat) or not -90 <= lat <= 90:
        hint = (
            " (lon and lat swapped?)" if _is_num(lat) and _is_num(lon) and -90 <= lon <= 90 else ""
        )
        bad(row, f"{name}lat", lat, f"a latitude in degrees (-90..90){hint}", "bad_coordinate")


def _is_num(v: object) -> TypeGuard[float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v


def _short(v: object) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


# ---------------------------------------------------------------- building visits


#: A token that ends the building part of an address: a lot number (番-号,
#: "14-10") or a block of a housing complex ("2号棟"). What follows it is the
#: door: "401号室", "4F-2", "1F店舗", "101".
def attach_unit_labels(plan: dict[str, Any], households: Any) -> dict[str, Any]:
    """A copy of ``plan`` whose households carry ``unit``, their door label.

    ``households``: a table with ``household_id`` and ``unit`` (taken as it
    is) or ``address`` (the door label is what follows the building part,
    :func:`split_address`). Households already carrying ``unit`` keep it.
    """
    ids = {str(h.get("household_id")) for s in plan.get("stops", []) for h in s["households"]}
    table = households[households["household_id"].astype(str).isin(ids)]
    if "unit" in table.columns:
        labels = dict(zip(table["household_id"].astype(str), table["unit"].fillna(""), strict=True))
    elif "address" in table.columns:
        labels = {
            str(i): split_address(a)[1]
            for i, a in zip(table["household_id"], table["address"], strict=True)
        }
    else:
        raise InputError(
            Problem(
                "households", None, "unit", "no unit or address column", "a column unit or address"
            )
        )
    out = copy.deepcopy(plan)
    for stop in out.get("stops", []):
        for h in stop["households"]:
            if not h.get("unit"):
                h["unit"] = str(labels.get(str(h.get("household_id")), "") or "")
    return out


@dataclass
class BuildingVisit:
    """One numbered building visit: the plan's consecutive stops at one building.

    The routing splits a large building into several nodes (by floor); the
    officer walks it once, so the sheet and the map show one number, with
    the households in walking order (ground floor up).
    """

    number: int
    stop_orders: list[int]
    building_id: str | None
    address: str
    lon: float
    lat: float
    arrival: str
    departure: str
    households: list[dict[str, Any]]


#: How the sheet and the map walk a building.
WALKING_ORDER_JA = "建物内は下の階から上の階へ (1階から順に)"


def _floor_key(h: Mapping[str, Any]) -> tuple[float, str]:
    f = h.get("floor")
    return (float(f) if _is_num(f) else 1.0, str(h.get("unit") or ""))


def building_visits(plan: Mapping[str, Any]) -> tuple[list[BuildingVisit], list[str]]:
    """Merge consecutive stops of one building into numbered visits.

    Returns the visits and the ids of buildings that the plan visits at
    non-consecutive stops (kept as separate visits; the routing should not
    do that).
    """
    groups: list[list[Mapping[str, Any]]] = []
    for stop in plan.get("stops", []):
        b = stop.get("building_id")
        if groups and b is not None and groups[-1][0].get("building_id") == b:
            groups[-1].append(stop)
        else:
            groups.append([stop])
    seen: dict[str, int] = {}
    split: list[str] = []
    visits: list[BuildingVisit] = []
    for k, group in enumerate(groups, 1):
        b = group[0].get("building_id")
        if b is not None:
            if str(b) in seen and str(b) not in split:
                split.append(str(b))
            seen[str(b)] = k
        hh = [h for s in group for h in s.get("households", [])]
        address = split_address(group[0].get("address", ""))[0] or str(group[0].get("address", ""))
        visits.append(
            BuildingVisit(
                number=k,
                stop_orders=[int(s["order"]) for s in group],
                building_id=None if b is None else str(b),
                address=address,
                lon=sum(float(s["lon"]) for s in group) / len(group),
                lat=sum(float(s["lat"]) for s in group) / len(group),
                arrival=str(group[0].get("arrival", "")),
                departure=str(group[-1].get("departure", "")),
                households=sorted(hh, key=_floor_key),
            )
        )
    return visits, split


# ---------------------------------------------------------------- background

#: 地理院タイル (標準地図) of the Geospatial Information Authority of Japan:
#: the documented online background. Their terms ask for this attribution.
GSI_TILE_URL = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION = (
    '<a href="https://maps.gsi.go.jp/development/ichiran.html" target="_blank">地理院タイル</a>'
)
#: Environment variables of the background setting (see :meth:`Background.from_env`).
TILE_URL_ENV = "JUNKAI_GEO_TILE_URL"
TILE_ATTRIBUTION_ENV = "JUNKAI_GEO_TILE_ATTRIBUTION"
TILE_PATH_ENV = "JUNKAI_GEO_TILE_PATH"
#: Folder of exported local tiles, next to a saved map.
TILES_SUBDIR = "tiles"
NO_BACKGROUND_JA = "背景地図は設定されていません (町丁目名・受持区・交番名で位置を確認してください)"


@dataclass(frozen=True)
class Background:
    """The maps' background tiles: a tile URL, a local tile file, or none.

    ``tile_url``: an XYZ URL template (``{z}/{x}/{y}``), for example
    :data:`GSI_TILE_URL`; the map then loads tiles from that host.
    ``tile_path``: a local XYZ folder (``z/x/y.png``), an MBTiles or a PMTiles file;
    :func:`save_map` copies the tiles that cover the map next to the HTML
    (``tiles/``), so the page still loads nothing from another host.
    Neither: no background; the maps say so and show 町丁目, beat and koban
    names instead.
    """

    tile_url: str | None = None
    attribution: str = ""
    tile_path: Path | None = None
    min_zoom: int = 10
    max_zoom: int = 18
    max_tiles: int = 20_000

    def __post_init__(self) -> None:
        if self.tile_url is not None and self.tile_path is not None:
            raise InputError(
                Problem(
                    "Background",
                    None,
                    "tile_url",
                    "both tile_url and tile_path",
                    "one tile source at most",
                )
            )
        if self.tile_url is not None and not all(k in self.tile_url for k in ("{z}", "{x}", "{y}")):
            raise InputError(
                Problem(
                    "Background",
                    None,
                    "tile_url",
                    repr(self.tile_url),
                    "an XYZ URL template with {z}, {x} and {y}",
                )
            )
        if self.tile_path is not None and not Path(self.tile_path).exists():
            raise InputError(
                Problem(
                    str(self.tile_path),
                    None,
                    "tile_path",
                    "no such file or folder",
                    "an XYZ tile folder (z/x/y.png), an .mbtiles or a .pmtiles file",
                    "missing_file",
                )
            )

    @property
    def configured(self) -> bool:
        return self.tile_url is not None or self.tile_path is not None

    @classmethod
    def gsi(cls) -> Background:
        """地理院タイル 標準地図, with its attribution."""
        return cls(tile_url=GSI_TILE_URL, attribution=GSI_ATTRIBUTION, max_zoom=18)

    @classmethod
    def from_env(cls) -> Background:
        """``$JUNKAI_GEO_TILE_URL`` / ``$JUNKAI_GEO_TILE_PATH`` (none by default)."""
        url = os.environ.get(TILE_URL_ENV) or None
        path = os.environ.get(TILE_PATH_ENV) or None
        attribution = os.environ.get(TILE_ATTRIBUTION_ENV, "")
        if url == "gsi":
            return cls.gsi()
        if url and url.rstrip("/") == GSI_TILE_URL and not attribution:
            attribution = GSI_ATTRIBUTION
        return cls(tile_url=url, tile_path=Path(path) if path else None, attribution=attribution)


# Maps whose local tiles save_map must export (folium.Map has no slot for it).
_LOCAL_TILES: weakref.WeakKeyDictionary[folium.Map, Background] = weakref.WeakKeyDictionary()


def _tile_range(bounds: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    """x and y ranges of the XYZ tiles covering lon/lat ``bounds`` at zoom ``z``."""
    import math

    lon0, lat0, lon1, lat1 = bounds
    n = 2**z

    def tx(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180) / 360 * n)))

    def ty(lat: float) -> int:
        lat = max(min(lat, 85.0511), -85.0511)
        r = math.radians(lat)
        return min(n - 1, max(0, int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)))

    return range(tx(lon0), tx(lon1) + 1), range(ty(lat1), ty(lat0) + 1)


def export_tiles(
    background: Background, bounds: tuple[float, float, float, float], out_dir: Path
) -> int:
    """Copy the local tiles covering ``bounds`` (lon/lat) into ``out_dir/z/x/y.png``.

    Reads an XYZ folder, an MBTiles file (SQLite, opened read-only; rows
    are TMS, so y is flipped) or a PMTiles file (:mod:`junkai_geo.tilefile`). Returns the number of tiles written; at most
    ``background.max_tiles`` (the highest zooms are dropped first).
    """
    from .tilefile import open_tile_file

    src = Path(background.tile_path or "")
    wanted: list[tuple[int, int, int]] = []
    for z in range(background.min_zoom, background.max_zoom + 1):
        xs, ys = _tile_range(bounds, z)
        if len(wanted) + len(xs) * len(ys) > background.max_tiles:
            break
        wanted += [(z, x, y) for x in xs for y in ys]
    written = 0
    if src.is_dir():
        for z, x, y in wanted:
            for ext in ("png", "jpg", "jpeg", "webp"):
                f = src / str(z) / str(x) / f"{y}.{ext}"
                if f.is_file():
                    target = out_dir / str(z) / str(x) / f"{y}.png"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(f.read_bytes())
                    written += 1
                    break
        return written
    tiles = open_tile_file(src)  # MBTiles or PMTiles, by suffix (junkai_geo.tilefile)
    for z, x, y in wanted:
        data = tiles.get(z, x, y)
        if data is not None:
            target = out_dir / str(z) / str(x) / f"{y}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
    return written


class _Scale(MacroElement):
    """Leaflet's scale control, metric only, at the bottom right (the legend is bottom left)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
L.control.scale({metric: true, imperial: false, position: 'bottomright', maxWidth: 150})
 .addTo({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "JunkaiScale"


class _Notice(MacroElement):
    """A fixed note at the top of the map (HTML text, escaped by the caller)."""

    _template = Template(
        """{% macro html(this, kwargs) %}<div class="junkai-notice">{{ this.body }}</div>{% endmacro %}"""
    )

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "JunkaiNotice"
        self.body = body


# ---------------------------------------------------------------- helpers


def _base_map(
    offline: bool = True, *, background: Background | None = None, attribution_extra: str = ""
) -> folium.Map:
    """An empty map: local Leaflet files when ``offline``, tiles as ``background`` says.

    ``background`` defaults to :meth:`Background.from_env` offline (none
    unless configured) and to 地理院タイル online.
    """
    if background is None:
        background = Background.from_env() if offline else Background.gsi()
    # Without a tile layer Leaflet knows no zoom range, which clustering needs.
    m = folium.Map(tiles=None, control_scale=False)
    m.options["maxZoom"] = 19
    if offline:
        _OFFLINE_MAPS.add(m)
    if background.tile_url is not None:
        folium.TileLayer(
            tiles=background.tile_url,
            attr=(background.attribution or _e(background.tile_url)) + attribution_extra,
            name="背景地図",
            control=False,
            min_zoom=0,
            max_zoom=19,  # over-zoomed past the source's own last zoom
            max_native_zoom=background.max_zoom,
        ).add_to(m)
    elif background.tile_path is not None:
        folium.TileLayer(
            tiles=f"{TILES_SUBDIR}/{{z}}/{{x}}/{{y}}.png",
            attr=(background.attribution or "背景地図 (ローカル)") + attribution_extra,
            name="背景地図",
            control=False,
            min_zoom=0,
            max_zoom=19,
            max_native_zoom=background.max_zoom,
        ).add_to(m)
        _LOCAL_TILES[m] = background
    else:
        # No tiles: a light paper colour instead of Leaflet's grey, and say so.
        _header(m).add_child(
            Element("<style>.leaflet-container{background:#f7f7f2 !important;}</style>")
        )
        m.add_child(_Notice(_e(NO_BACKGROUND_JA)))
    m.add_child(_Scale())
    # Fractional zoom so that fitBounds fills the window (a city fits at 10.5, not 10).
    m.options["zoomSnap"] = 0.25
    _header(m).add_child(Element(_CSS))
    # No favicon request (a 404 in the console, and a request in offline mode).
    _header(m).add_child(Element('<link rel="icon" href="data:,">'))
    return m


def _header(m: folium.Map) -> Element:
    root = m.get_root()
    assert isinstance(root, Figure)
    return root.header


_CSS = """<style>
.junkai-stop{width:26px;height:26px;border-radius:13px;color:#fff;font:bold 13px/26px sans-serif;
 text-align:center;border:2px solid #fff;box-shadow:0 0 3px rgba(0,0,0,.6);}
.junkai-koban{display:inline-block;background:#1f3c88;color:#fff;font:bold 12px/22px sans-serif;padding:0 4px;
 border-radius:3px;white-space:nowrap;border:1px solid #fff;box-shadow:0 0 3px rgba(0,0,0,.6);}
.junkai-rank{background:#4a1486;color:#fff;font:bold 12px/22px sans-serif;border-radius:11px;
 width:22px;text-align:center;border:1px solid #fff;}
.junkai-legend{position:absolute;z-index:1000;bottom:24px;left:10px;background:rgba(255,255,255,.93);
 padding:6px 9px;border:1px solid #999;border-radius:4px;font:12px/1.45 sans-serif;max-width:280px;}
.junkai-legend .sw{display:inline-block;width:14px;height:14px;vertical-align:middle;margin-right:5px;
 border-radius:7px;border:1px solid #fff;}
.junkai-legend .ln{display:inline-block;width:26px;height:0;vertical-align:middle;margin-right:5px;}
.junkai-popup td{padding:1px 4px;vertical-align:top;}
.junkai-notice{position:absolute;z-index:1000;top:10px;left:50px;right:60px;margin:auto;max-width:460px;
 background:rgba(255,255,224,.95);border:1px solid #b59f3b;border-radius:4px;padding:4px 8px;
 font:12px/1.4 sans-serif;text-align:center;}
.junkai-label{font:bold 11px/1.2 sans-serif;color:#222;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff;
 white-space:nowrap;transform:translate(-50%,-50%);display:inline-block;pointer-events:none;}
.junkai-unit-label{font:11px/1.2 sans-serif;color:#555;text-shadow:0 0 3px #fff,0 0 2px #fff;white-space:nowrap;
 transform:translate(-50%,-50%);display:inline-block;pointer-events:none;}
.junkai-koban-name{font:bold 11px/1.2 sans-serif;color:#1f3c88;text-shadow:0 0 3px #fff,0 0 2px #fff;
 white-space:nowrap;display:inline-block;pointer-events:none;}
.junkai-hide-units .junkai-unit-label{display:none;}
.junkai-hide-koban .junkai-koban-name{display:none;}
</style>"""


class _Legend(MacroElement):
    """A fixed HTML box on the map (no external script, works offline)."""

    _template = Template(
        """{% macro html(this, kwargs) %}<div class="junkai-legend" id="{{ this.get_name() }}">{{ this.body }}</div>{% endmacro %}"""
    )

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "JunkaiLegend"
        self.body = body


def _fit(m: folium.Map, lonlats: Iterable[tuple[float, float]]) -> None:
    pts = list(lonlats)
    if not pts:
        return
    lons = [p[0] for p in pts]
    lats = [p[1] for p in pts]
    m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))


def _geojson_of(geometry: Any) -> dict[str, Any]:
    """GeoJSON dict of a shapely geometry, GeoSeries/GeoDataFrame or GeoJSON dict (lon/lat)."""
    if isinstance(geometry, dict):
        return geometry
    if hasattr(geometry, "to_crs") and hasattr(geometry, "crs"):
        g = geometry.to_crs(4326) if geometry.crs is not None else geometry
        return json.loads(g.to_json())
    from shapely.geometry import mapping

    return dict(mapping(geometry))


def _geojson_points(gj: dict[str, Any]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if isinstance(c, list | tuple) and c and _is_num(c[0]) and len(c) >= 2:
            out.append((float(c[0]), float(c[1])))
        elif isinstance(c, list | tuple):
            for x in c:
                walk(x)

    def geom(g: Any) -> None:
        if not isinstance(g, dict):
            return
        if g.get("type") == "FeatureCollection":
            for f in g.get("features", []):
                geom(f)
        elif g.get("type") == "Feature":
            geom(g.get("geometry"))
        elif g.get("type") == "GeometryCollection":
            for x in g.get("geometries", []):
                geom(x)
        else:
            walk(g.get("coordinates"))

    geom(gj)
    return out


def _e(v: object) -> str:
    """``v`` as HTML text that is also inert inside a JavaScript template literal.

    folium writes tooltip and popup HTML into backtick strings of its
    script; HTML escaping alone leaves `` ` ``, ``${`` and ``\\`` live there,
    so they become character references too (issue 17: an address ran as
    script). Leaflet sets the string as innerHTML, which shows them as typed.
    """
    text = html.escape("" if v is None else str(v), quote=True)
    return text.translate(_JS_TEMPLATE_ESCAPES)


_JS_TEMPLATE_ESCAPES = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def _hhmm(t: object) -> str:
    s = str(t or "")
    return s[:5] if len(s) >= 5 else s


def _stop_status(stop: Mapping[str, Any]) -> str:
    statuses = [h.get("card_status", "none") for h in stop.get("households", [])]
    return min(statuses, key=lambda s: _STATUS_RANK.get(s, 0)) if statuses else "current"


def reason_label(code: str) -> str:
    """Japanese label of a reason code (the code itself when unknown)."""
    return REASON_JA.get(code, code)


def _to_4326(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise InputError(
            Problem(name, None, "crs", "no CRS", "a GeoDataFrame with a CRS (any EPSG)", "no_crs")
        )
    return gdf.to_crs(4326)


def _display_frame(gdf: gpd.GeoDataFrame, name: str, simplify_m: float) -> gpd.GeoDataFrame:
    """``gdf`` in lon/lat, simplified by ``simplify_m`` metres and rounded to ~0.1 m.

    Census-derived beats carry thousands of vertices; a map needs far fewer,
    and full precision makes the HTML tens of megabytes.
    """
    import numpy as np
    import shapely

    from .projection import metric_crs_for

    if gdf.crs is None:
        raise InputError(
            Problem(name, None, "crs", "no CRS", "a GeoDataFrame with a CRS (any EPSG)", "no_crs")
        )
    if simplify_m < 0:
        raise InputError(
            Problem(name, None, "simplify_m", repr(simplify_m), "a distance in metres >= 0")
        )
    out = gdf.copy()
    if simplify_m > 0 and len(out):
        metric = out
        if not out.crs.is_projected:
            x0, y0, x1, y1 = out.to_crs(4326).total_bounds
            metric = out.to_crs(metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2))
        metric = metric.set_geometry(metric.geometry.simplify(simplify_m, preserve_topology=True))
        out = metric
    out = out.to_crs(4326)
    return out.set_geometry(
        shapely.transform(out.geometry.to_numpy(), lambda c: np.round(c, 6)), crs=4326
    )


def _shareable_columns(columns: Iterable[str]) -> list[str]:
    return [
        c
        for c in columns
        if c != "geometry" and c not in PERSONAL_FIELDS and c not in INDIVIDUAL_ID_COLUMNS
    ]


def _need_columns(gdf: Any, name: str, cols: Iterable[str]) -> None:
    missing = [c for c in cols if c not in gdf.columns]
    if missing:
        raise InputError(
            [
                Problem(
                    name,
                    None,
                    c,
                    "column missing",
                    f"a column '{c}' (have {list(gdf.columns)})",
                    "missing_column",
                )
                for c in missing
            ]
        )


def _scalar_frame(gdf: gpd.GeoDataFrame, cols: list[str]) -> gpd.GeoDataFrame:
    """Keep ``cols`` + geometry, with values JSON can carry (lists joined, NaN blank).

    Text values are HTML-escaped (:func:`_e`): the frame feeds tooltips only.
    """
    import pandas as pd

    out = gdf[cols + ["geometry"]].copy()
    for c in cols:
        out[c] = [
            "、".join(map(str, v))
            if isinstance(v, list | tuple)
            else ("" if v is None or (isinstance(v, float) and v != v) else v)
            for v in out[c]
        ]
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            # Tooltips put these into innerHTML (GeoJsonTooltip): text, never markup.
            out[c] = [_e(v) for v in out[c]]
    return out


# ---------------------------------------------------------------- route map


def route_map(
    plan: dict[str, Any],
    *,
    beat_geometry: Any = None,
    offline: bool = True,
    background: Background | None = None,
    units_gdf: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """The day's route of one officer (``DayPlan.to_dict()``) as a Folium map.

    Koban, numbered stops in visit order, the street path where stops carry
    one (straight dashed segments where they do not), popups with address,
    building, card status, reasons and planned time, the beat outline and a
    legend.
    """
    check_plan(plan)
    m = _base_map(offline, background=background)
    if units_gdf is not None:
        _add_units(m, units_gdf, 5.0)
    pts: list[tuple[float, float]] = []
    if beat_geometry is not None:
        gj = _geojson_of(beat_geometry)
        folium.GeoJson(
            gj,
            name="受持区",
            style_function=lambda _f: {
                "color": "#1f3c88",
                "weight": 3,
                "fill": True,
                "fillOpacity": 0.04,
                "dashArray": "6 4",
            },
            tooltip=f"受持区 {_e(plan.get('beat_id', ''))}",
        ).add_to(m)
        pts += _geojson_points(gj)

    start = plan["start"]
    end = plan.get("end") or start
    stops = plan["stops"]
    straight_legs = 0
    street_legs = 0
    # Straight-line plans carry two-point paths; only network paths follow streets.
    on_streets = plan.get("travel_source", "network") == "network"
    route = folium.FeatureGroup(name="経路", control=False).add_to(m)
    prev = (start["lon"], start["lat"])
    for stop in stops:
        here = (stop["lon"], stop["lat"])
        path = stop.get("path") if on_streets else None
        if path and len(path) >= 2:
            street_legs += 1
            folium.PolyLine(
                [(q[1], q[0]) for q in path], color="#1565c0", weight=4, opacity=0.85
            ).add_to(route)
            pts += [(q[0], q[1]) for q in path]
        else:
            straight_legs += 1
            folium.PolyLine(
                [(prev[1], prev[0]), (here[1], here[0])],
                color="#555",
                weight=3,
                dash_array="7 6",
                opacity=0.9,
                tooltip="直線 (道路経路なし)",
            ).add_to(route)
        prev = here
    if stops:
        # The plan format carries no path for the way back: always a straight line.
        straight_legs += 1
        folium.PolyLine(
            [(prev[1], prev[0]), (end["lat"], end["lon"])],
            color="#555",
            weight=2,
            dash_array="2 6",
            opacity=0.8,
            tooltip="帰所 (直線)",
        ).add_to(route)

    koban_label = start.get("label") or plan.get("koban_id") or "交番"
    folium.Marker(
        (start["lat"], start["lon"]),
        icon=folium.DivIcon(
            html=f'<div class="junkai-koban">交 {_e(koban_label)}</div>',
            icon_size=(0, 0),
            icon_anchor=(12, 11),
            class_name="junkai-koban-icon",
        ),
        tooltip=f"{_e(koban_label)} (出発 {_hhmm(plan.get('windows', [['']])[0][0]) if plan.get('windows') else ''})",
        z_index_offset=500,
    ).add_to(m)
    pts.append((start["lon"], start["lat"]))

    stops_group = folium.FeatureGroup(name="訪問先", control=False).add_to(m)
    visits, _split = building_visits(plan)
    markers: list[folium.Marker] = []
    for visit in visits:
        status = _stop_status({"households": visit.households})
        colour = STATUS_COLOUR.get(status, "#555")
        n = visit.number
        # A small dot marks the true place; the numbered badge may be moved
        # off it (with a leader line) so that no badge hides another.
        folium.CircleMarker(
            (visit.lat, visit.lon), radius=3, color="#222", weight=1, fill=True, fill_opacity=1
        ).add_to(stops_group)
        mk = folium.Marker(
            (visit.lat, visit.lon),
            icon=folium.DivIcon(
                html=f'<div class="junkai-stop" data-order="{n}" style="background:{colour}">{n}</div>',
                icon_size=(30, 30),
                icon_anchor=(15, 15),
                class_name="junkai-stop-icon",
            ),
            popup=folium.Popup(_visit_popup(visit), max_width=340),
            tooltip=f"{n}. {_e(_hhmm(visit.arrival))} {_e(visit.address)}",
            z_index_offset=1000 + n,
        ).add_to(stops_group)
        markers.append(mk)  # type: ignore[arg-type]
        pts.append((visit.lon, visit.lat))

    title = (
        f"{_e(plan.get('date'))} 担当 {_e(plan.get('officer_id'))} / 受持区 "
        f"{_e(plan.get('beat_id', ''))}"
    )
    rows = [
        f"<b>{title}</b>",
        '<span class="sw" style="background:#1f3c88;border-radius:2px"></span>交番',
    ]
    for code in ("none", "stale", "current"):
        rows.append(
            f'<span class="sw" style="background:{STATUS_COLOUR[code]}"></span>{CARD_STATUS_JA[code]}'
        )
    if street_legs:
        rows.append('<span class="ln" style="border-top:4px solid #1565c0"></span>道路経路')
    if straight_legs:
        rows.append(
            '<span class="ln" style="border-top:3px dashed #555"></span>直線 (道路経路なし)'
        )
    if beat_geometry is not None:
        rows.append('<span class="ln" style="border-top:3px dashed #1f3c88"></span>受持区')
    n_hh = sum(len(v.households) for v in visits)
    rows.append(f"訪問先 {len(visits)} 件 · 世帯等 {n_hh}")
    rows.append("番号 = 訪問順 (1つの建物に1つの番号)")
    m.add_child(_Legend("<br>".join(rows)))
    if units_gdf is None:
        _add_town_labels(m, visits)
    m.add_child(_ZoomClasses())
    _fit(m, pts)
    m.add_child(_Declutter(markers))
    return m


def _add_town_labels(m: folium.Map, visits: list[BuildingVisit]) -> None:
    """町丁目 names from the plan's addresses, above their visits (no layer needed)."""
    towns: dict[str, list[tuple[float, float]]] = {}
    for v in visits:
        town = str(v.address).split(" ")[0] if v.address else ""
        if town:
            towns.setdefault(town, []).append((v.lon, v.lat))
    group = folium.FeatureGroup(name="町丁目名", control=False).add_to(m)
    for town, pts in towns.items():
        lon = sum(p[0] for p in pts) / len(pts)
        lat = max(p[1] for p in pts)
        folium.Marker(
            (lat, lon),
            icon=folium.DivIcon(
                html=f'<div class="junkai-label" style="color:#666;font-weight:normal">{_e(town)}</div>',
                icon_size=(0, 0),
                icon_anchor=(0, 24),
                class_name="junkai-label-icon",
            ),
            interactive=False,
        ).add_to(group)


class _Declutter(MacroElement):
    """Moves numbered badges apart on every zoom so that none hides another.

    Each badge keeps its place when free, else takes the nearest free place
    on rings around it, joined to its true place by a thin leader line. The
    script receives only the markers' variable names (folium identifiers),
    never data.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var markers = [{% for mk in this.markers %}{{ mk.get_name() }}{% if not loop.last %}, {% endif %}{% endfor %}];
  var D = {{ this.spacing_px }};
  var lines = L.layerGroup().addTo(map);
  markers.forEach(function (mk) { mk._junkaiHome = mk.getLatLng(); });
  function layout() {
    lines.clearLayers();
    var placed = [];
    markers.forEach(function (mk) {
      var p = map.latLngToLayerPoint(mk._junkaiHome);
      var best = null;
      for (var ring = 0; ring < 12 && best === null; ring++) {
        var n = ring === 0 ? 1 : 6 * ring;
        for (var a = 0; a < n; a++) {
          var ang = 2 * Math.PI * a / n - Math.PI / 2;
          var q = L.point(p.x + ring * D * Math.cos(ang), p.y + ring * D * Math.sin(ang));
          if (placed.every(function (o) { return o.distanceTo(q) >= D; })) { best = q; break; }
        }
      }
      if (best === null) { best = p; }
      placed.push(best);
      var ll = map.layerPointToLatLng(best);
      mk.setLatLng(ll);
      if (best.distanceTo(p) > 0.5) {
        L.polyline([mk._junkaiHome, ll], {color: '#222', weight: 1.2, interactive: false}).addTo(lines);
      }
    });
  }
  map.on('zoomend viewreset', layout);
  map.whenReady(layout);
})();
{% endmacro %}"""
    )

    def __init__(self, markers: list[folium.Marker], spacing_px: int = 30) -> None:
        super().__init__()
        self._name = "JunkaiDeclutter"
        self.markers = markers
        self.spacing_px = int(spacing_px)


def _visit_popup(visit: BuildingVisit) -> str:
    rows = [
        f"<tr><td>番号</td><td><b>{visit.number}</b></td></tr>",
        f"<tr><td>予定時刻</td><td>{_e(_hhmm(visit.arrival))}–{_e(_hhmm(visit.departure))}</td></tr>",
        f"<tr><td>住所</td><td>{_e(visit.address)}</td></tr>",
        f"<tr><td>建物</td><td>{_e(visit.building_id)}</td></tr>",
    ]
    for h in visit.households:
        rows.append(
            f"<tr><td>{_e(household_line(h))}</td><td>{_e(CARD_STATUS_JA.get(h.get('card_status', 'none'), ''))}"
            f"<br><small>{_e(reasons_ja(h))}</small></td></tr>"
        )
    return f'<table class="junkai-popup">{"".join(rows)}</table>'


def household_line(h: Mapping[str, Any]) -> str:
    """``"401号室 世帯 4階"``: door label, kind and floor of a planned household."""
    kind = KIND_JA.get(str(h.get("kind", "")), str(h.get("kind", "")))
    floor = f"{h['floor']}階" if _is_num(h.get("floor")) else ""
    return " ".join(x for x in (str(h.get("unit") or ""), kind, floor) if x)


def reasons_ja(h: Mapping[str, Any]) -> str:
    """The household's reasons in Japanese, 、-separated."""
    return "、".join(reason_label(str(r)) for r in h.get("reasons", []))


# ---------------------------------------------------------------- beats map


def beats_map(
    beats_gdf: gpd.GeoDataFrame,
    *,
    workload_col: str,
    koban_gdf: gpd.GeoDataFrame | None = None,
    unvisited_points: gpd.GeoDataFrame | None = None,
    unvisited_style: str = "cluster",
    simplify_m: float = 5.0,
    offline: bool = True,
    background: Background | None = None,
    units_gdf: gpd.GeoDataFrame | None = None,
    colour_by: str = "workload",
    workload_unit: str = "時間",
    label_col: str = "beat_id",
) -> folium.Map:
    """Beats coloured by ``workload_col``, labelled, with a tooltip of each beat's figures.

    ``colour_by="beat"`` colours the beats so that neighbours differ
    (:func:`adjacent_colours`) instead of by workload. ``units_gdf``
    (町丁目 polygons with ``name``) adds their outlines and names (shown from
    zoom 14). ``unvisited_points`` (未把握 households, any CRS) are
    aggregated to counts per building (``building_id``, else per location)
    and drawn as clustered markers (``unvisited_style="cluster"``) or a heat
    layer (``"heat"``); no household id or personal field is ever written
    into the map.
    """
    import branca.colormap as cm

    _need_columns(beats_gdf, "beats", [workload_col])
    if unvisited_style not in {"cluster", "heat"}:
        raise InputError(
            Problem(
                "beats_map", None, "unvisited_style", repr(unvisited_style), "'cluster' or 'heat'"
            )
        )
    if colour_by not in {"workload", "beat"}:
        raise InputError(
            Problem("beats_map", None, "colour_by", repr(colour_by), "'workload' or 'beat'")
        )
    beats = _display_frame(beats_gdf, "beats", simplify_m)
    m = _base_map(offline, background=background)
    if units_gdf is not None:
        _add_units(m, units_gdf, simplify_m)
    cols = _shareable_columns(beats.columns)
    frame = _scalar_frame(beats, cols)
    values = beats[workload_col].astype(float)
    vmin, vmax = float(values.min()), float(values.max())
    if vmax <= vmin:
        vmax = vmin + 1.0
    cmap = cm.LinearColormap(["#ffffcc", "#fd8d3c", "#bd0026"], vmin=vmin, vmax=vmax)
    if colour_by == "beat":
        ids = beats[label_col] if label_col in beats.columns else pd_index_str(beats)
        by_beat = adjacent_colours(beats.assign(_id=list(map(str, ids))), "_id")
        frame["_fill"] = [by_beat[str(b)] for b in ids]
    else:
        frame["_fill"] = [cmap(float(v)) for v in values]
    folium.GeoJson(
        json.loads(frame.to_json()),
        name="受持区",
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#333",
            "weight": 1.2,
            "fillOpacity": 0.65 if colour_by == "workload" else 0.45,
        },
        highlight_function=lambda _f: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(
            fields=cols,
            aliases=[_alias(c, workload_col, workload_unit) for c in cols],
            sticky=True,
        ),
    ).add_to(m)
    pts = _geojson_points(json.loads(beats[["geometry"]].to_json()))
    if label_col in beats.columns:
        _add_labels(m, beats, label_col, "junkai-label", "受持区名")

    if koban_gdf is not None:
        _add_koban(m, koban_gdf)
    n_unvisited = 0
    if unvisited_points is not None and len(unvisited_points):
        counts = aggregate_unvisited(unvisited_points)
        n_unvisited = int(sum(c for _, _, c in counts))
        _add_unvisited(m, counts, unvisited_style)

    unit = _e(workload_unit)
    if colour_by == "workload":
        edges = [vmin + (vmax - vmin) * k / 5 for k in range(6)]
        grad = "".join(
            f'<span class="sw" style="background:{cmap((lo + hi) / 2)};border-radius:2px"></span>'
            f"{lo:,.0f}–{hi:,.0f} {unit}<br>"
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        )
        body = f"<b>業務量 ({unit} / 1巡)</b><br>{grad}"
    else:
        body = "<b>受持区</b> (隣り合う受持区は別の色)<br>"
    if n_unvisited:
        body += (
            '<span class="sw" style="background:#b30000"></span>'
            f"未把握 {n_unvisited:,} 世帯 (円の数字 = 世帯数)"
        )
    m.add_child(_Legend(body))
    m.add_child(_ZoomClasses())
    folium.LayerControl(collapsed=True).add_to(m)
    _fit(m, pts)
    return m


def pd_index_str(frame: Any) -> list[str]:
    return [str(i) for i in frame.index]


#: Colours for beats that touch: distinct, light enough under labels.
ADJACENT_PALETTE: tuple[str, ...] = (
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
)


def adjacent_colours(
    gdf: gpd.GeoDataFrame, id_col: str, *, palette: tuple[str, ...] = ADJACENT_PALETTE
) -> dict[str, str]:
    """A colour per id such that polygons that touch never share one.

    Greedy graph colouring (networkx, DSATUR) of the adjacency graph
    (shared boundary or corner, within 1 m); planar maps need at most a few
    colours, far fewer than the palette's ten.
    """
    import networkx as nx

    from .projection import metric_crs_for

    if gdf.crs is None:
        raise InputError(
            Problem("beats", None, "crs", "no CRS", "a GeoDataFrame with a CRS", "no_crs")
        )
    g4326 = gdf.to_crs(4326)
    x0, y0, x1, y1 = g4326.total_bounds
    metric = gdf.to_crs(metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2))
    ids = [str(v) for v in metric[id_col]]
    geoms = metric.geometry.buffer(0.5).to_numpy()
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(ids)
    import shapely

    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    graph.add_edges_from(
        (ids[i], ids[j]) for i, j in zip(left, right, strict=True) if ids[i] != ids[j]
    )
    colouring = nx.coloring.greedy_color(graph, strategy="DSATUR")
    return {b: palette[c % len(palette)] for b, c in colouring.items()}


def _add_labels(m: folium.Map, gdf: Any, col: str, css: str, name: str) -> None:
    """Permanent text labels at each polygon's representative point (escaped text)."""
    group = folium.FeatureGroup(name=name, control=False).add_to(m)
    for value, geom in zip(gdf[col], gdf.geometry, strict=True):
        if geom is None or geom.is_empty or value is None or str(value) == "":
            continue
        pt = geom.representative_point()
        folium.Marker(
            (pt.y, pt.x),
            icon=folium.DivIcon(
                html=f'<div class="{css}">{_e(value)}</div>',
                icon_size=(0, 0),
                icon_anchor=(0, 0),
                class_name="junkai-label-icon",
            ),
            interactive=False,
        ).add_to(group)


def _add_units(m: folium.Map, units_gdf: Any, simplify_m: float) -> None:
    """町丁目 outlines and names (names from zoom 14 on: a city has hundreds)."""
    units = _display_frame(
        units_gdf[[c for c in ("name", "geometry") if c in units_gdf]], "units", simplify_m
    )
    folium.GeoJson(
        json.loads(units[["geometry"]].to_json()),
        name="町丁目",
        style_function=lambda _f: {"color": "#888", "weight": 0.6, "fill": False},
        interactive=False,
        control=False,
    ).add_to(m)
    if "name" in units.columns:
        _add_labels(m, units, "name", "junkai-unit-label", "町丁目名")


class _ZoomClasses(MacroElement):
    """Hides 町丁目 names below zoom 14, koban names below zoom 13, and labels that collide."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  function apply() {
    var z = map.getZoom(), c = map.getContainer().classList;
    c.toggle('junkai-hide-units', z < 14);
    c.toggle('junkai-hide-koban', z < 13);
    // A label that would run into one already shown waits for a closer zoom.
    var shown = [];
    document.querySelectorAll('.junkai-label, .junkai-unit-label').forEach(function (el) {
      el.style.visibility = '';
      var r = el.getBoundingClientRect();
      if (r.width === 0) { return; }
      var hit = shown.some(function (o) {
        return !(r.right < o.left || o.right < r.left || r.bottom < o.top || o.bottom < r.top);
      });
      if (hit) { el.style.visibility = 'hidden'; } else { shown.push(r); }
    });
  }
  // After every handler: Leaflet moves markers on 'viewreset', fired after 'zoomend'.
  function later() { setTimeout(apply, 0); }
  map.on('zoomend viewreset', later);
  map.whenReady(later);
})();
{% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "JunkaiZoomClasses"


def _alias(col: str, workload_col: str, unit: str = "時間") -> str:
    names = {
        "beat_id": "受持区",
        "koban_id": "交番",
        "name": "名称",
        "households": "世帯数 (世帯)",
        "area_m2": "面積 m²",
        "unvisited": "未把握 (世帯)",
    }
    if col == workload_col:
        return f"業務量 ({unit})"
    return names.get(col, col)


def aggregate_unvisited(points: gpd.GeoDataFrame) -> list[tuple[float, float, int]]:
    """(lon, lat, count) of 未把握 households per building (else per location)."""
    pts = _to_4326(points, "unvisited_points")
    lon = pts.geometry.x.round(6)
    lat = pts.geometry.y.round(6)
    import pandas as pd

    df = pd.DataFrame({"lon": lon.to_numpy(), "lat": lat.to_numpy()})
    if "building_id" in pts.columns:
        df["key"] = pts["building_id"].astype(str).to_numpy()
        df.loc[pts["building_id"].isna().to_numpy(), "key"] = (
            df["lon"].astype(str) + "," + df["lat"].astype(str)
        )
    else:
        df["key"] = df["lon"].astype(str) + "," + df["lat"].astype(str)
    g = df.groupby("key", sort=True).agg(
        lon=("lon", "mean"), lat=("lat", "mean"), n=("lon", "size")
    )
    return [
        (float(a), float(b), int(c)) for a, b, c in zip(g["lon"], g["lat"], g["n"], strict=True)
    ]


_UNVISITED_MARKER = """function (row) {
  var n = row[2];
  var mk = L.circleMarker(new L.LatLng(row[0], row[1]),
    {radius: 4 + Math.sqrt(Math.min(n, 30)) * 1.5, color: '#b30000', fillColor: '#b30000',
     fill: true, fillOpacity: 0.8, weight: 1, households: n});
  mk.bindTooltip('未把握 ' + n + ' 世帯');
  return mk;
}"""

# Clusters show the number of households, not of buildings.
_CLUSTER_ICON = """function(cluster) {
  var n = 0; cluster.getAllChildMarkers().forEach(function(mk){ n += (mk.options.households || 1); });
  var c = n < 20 ? 'small' : (n < 100 ? 'medium' : 'large');
  return L.divIcon({html: '<div><span>' + n + '</span></div>', className: 'marker-cluster marker-cluster-' + c,
                    iconSize: L.point(40, 40)});
}"""


def _add_unvisited(m: folium.Map, counts: list[tuple[float, float, int]], style: str) -> None:
    if style == "heat":
        HeatMap(
            [[lat, lon, n] for lon, lat, n in counts], name="未把握 heat", radius=18, blur=14
        ).add_to(m)
        return
    # One data array and a callback instead of a Leaflet call per building:
    # a city has tens of thousands of buildings with 未把握 households.
    FastMarkerCluster(
        [[round(lat, 6), round(lon, 6), n] for lon, lat, n in counts],
        callback=_UNVISITED_MARKER,
        name="未把握 Unvisited",
        icon_create_function=_CLUSTER_ICON,
    ).add_to(m)


def _add_koban(m: folium.Map, koban_gdf: gpd.GeoDataFrame) -> None:
    """Koban as small badges, their names beside them from zoom 13 on (and in tooltips)."""
    kob = _to_4326(koban_gdf, "koban")
    group = folium.FeatureGroup(name="交番").add_to(m)
    for _, row in kob.iterrows():
        pt = (
            row.geometry
            if row.geometry.geom_type == "Point"
            else row.geometry.representative_point()
        )
        name = row.get("name", "") or row.get("koban_id", "")
        folium.Marker(
            (pt.y, pt.x),
            icon=folium.DivIcon(
                html='<div class="junkai-koban">交</div>',
                icon_size=(0, 0),
                icon_anchor=(8, 11),
                class_name="junkai-koban-icon",
            ),
            tooltip=f"{_e(name)} ({_e(row.get('koban_id', ''))})",
        ).add_to(group)
        folium.Marker(
            (pt.y, pt.x),
            icon=folium.DivIcon(
                html=f'<div class="junkai-koban-name">{_e(name)}</div>',
                icon_size=(0, 0),
                icon_anchor=(-10, 8),
                class_name="junkai-label-icon",
            ),
            interactive=False,
        ).add_to(group)


# ---------------------------------------------------------------- rebalancing


_PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
]


def beat_colours(beat_ids: Iterable[object]) -> dict[str, str]:
    """A stable colour per beat id (sorted ids cycle through a 16-colour palette)."""
    ids = sorted({str(b) for b in beat_ids})
    return {b: _PALETTE[i % len(_PALETTE)] for i, b in enumerate(ids)}


# ---------------------------------------------------------------- 専従員 districts


def districts_map(
    districts_gdf: gpd.GeoDataFrame,
    *,
    rank_col: str = "rank",
    hours_col: str = "hours",
    officers_col: str = "officers",
    name_col: str = "name",
    beats_gdf: gpd.GeoDataFrame | None = None,
    koban_gdf: gpd.GeoDataFrame | None = None,
    simplify_m: float = 5.0,
    offline: bool = True,
    background: Background | None = None,
) -> folium.Map:
    """専従員 districts (polygons or points, any CRS) with rank, hours and assigned officers.

    ``beats_gdf`` (outlines) and ``koban_gdf`` give the districts a context,
    which matters most offline, where no tiles are drawn.
    """
    _need_columns(districts_gdf, "districts", [rank_col, hours_col, officers_col])
    d = _display_frame(districts_gdf, "districts", simplify_m).sort_values(rank_col)
    m = _base_map(offline, background=background)
    if beats_gdf is not None:
        outlines = _display_frame(beats_gdf[["geometry"]], "beats", simplify_m)
        folium.GeoJson(
            outlines.to_json(),
            name="受持区 Beats",
            style_function=lambda _f: {"color": "#555555", "weight": 1, "fillOpacity": 0.03},
        ).add_to(m)
    if koban_gdf is not None:
        _add_koban(m, koban_gdf)
    cols = _shareable_columns(d.columns)
    frame = _scalar_frame(d, cols)
    n = max(len(frame), 1)
    group = folium.FeatureGroup(name="専従員地区 Districts").add_to(m)
    pts: list[tuple[float, float]] = []
    aliases = [
        {
            rank_col: "順位 rank",
            hours_col: "所要時間 h",
            officers_col: "担当 officers",
            name_col: "地区",
        }.get(c, c)
        for c in cols
    ]
    for (_, row), (_, orig) in zip(frame.iterrows(), d.iterrows(), strict=True):
        rank = int(orig[rank_col])
        shade = 0.35 + 0.5 * (1 - (rank - 1) / n)
        geom = orig.geometry
        feature = json.loads(frame.loc[[row.name]].to_json())
        if geom.geom_type in {"Point", "MultiPoint"}:
            pt = geom.centroid
            folium.CircleMarker(
                (pt.y, pt.x),
                radius=8 + 10 * shade,
                color="#4a1486",
                fill=True,
                fill_opacity=shade,
                weight=1,
                tooltip=folium.Tooltip(_district_tip(row, cols, aliases)),
            ).add_to(group)
        else:
            folium.GeoJson(
                feature,
                style_function=lambda _f, s=shade: {
                    "fillColor": "#6a51a3",
                    "color": "#3f007d",
                    "weight": 1.5,
                    "fillOpacity": s,
                },
                tooltip=folium.GeoJsonTooltip(fields=cols, aliases=aliases, sticky=True),
            ).add_to(group)
            pt = geom.representative_point()
        folium.Marker(
            (pt.y, pt.x),
            icon=folium.DivIcon(
                html=f'<div class="junkai-rank">{rank}</div>',
                icon_size=(24, 24),
                icon_anchor=(12, 12),
                class_name="junkai-rank-icon",
            ),
            tooltip=f"{rank}. {_e(orig.get(name_col, ''))} — {_e(orig[hours_col])} h — {row[officers_col]}",
        ).add_to(group)
        pts += _geojson_points(feature)
    m.add_child(
        _Legend(
            "<b>専従員地区 specialist districts</b><br>番号 = 順位 (rank, 1 = most difficult)<br>"
            "濃い色ほど上位 darker = higher rank<br>所要時間 hours · 担当 officers in tooltip"
        )
    )
    folium.LayerControl(collapsed=True).add_to(m)
    _fit(m, pts)
    return m


def _district_tip(row: Any, cols: list[str], aliases: list[str]) -> str:
    # ``row`` comes from _scalar_frame: its text is escaped already.
    return "<br>".join(f"{_e(a)}: {row[c]}" for c, a in zip(cols, aliases, strict=True))


# ---------------------------------------------------------------- saving


def save_map(m: folium.Map, path: str | Path, *, assets_dir: Path | None = None) -> Path:
    """Write ``m`` as HTML; offline maps get their Leaflet files copied to ``assets/`` beside it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = m.get_root().render()
    background = _LOCAL_TILES.get(m)
    if background is not None:
        export_tiles(background, _map_bounds(m), out.parent / TILES_SUBDIR)
    if m in _OFFLINE_MAPS:
        page, used = localize_html(page)
        copy_assets(used, out.parent, assets_dir)
    out.write_text(page, encoding="utf-8")
    return out


def _map_bounds(m: folium.Map) -> tuple[float, float, float, float]:
    """(lon0, lat0, lon1, lat1) the map was fitted to, with a margin of a quarter."""
    from folium.map import FitBounds

    for child in m._children.values():
        if isinstance(child, FitBounds):
            (lat0, lon0), (lat1, lon1) = child.bounds
            dx, dy = (lon1 - lon0) / 4, (lat1 - lat0) / 4
            return (lon0 - dx, lat0 - dy, lon1 + dx, lat1 + dy)
    raise InputError(
        Problem("map", None, "bounds", "a map without bounds", "a map fitted to its layers")
    )


def is_offline(m: folium.Map) -> bool:
    """Whether ``m`` was made with ``offline=True``."""
    return m in _OFFLINE_MAPS
