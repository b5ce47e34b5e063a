"""Folium maps of the project's results: routes, beats, rebalancing, 専従員 districts.

Every map is drawn from the project's own layers; ``offline=True`` draws no
web tiles and, once saved with :func:`save_map`, loads Leaflet from files
next to the HTML (see :mod:`junkai_geo.offline`), so that no request leaves
the machine. Online maps use OpenStreetMap tiles with their attribution.

Shared maps (beats, rebalancing, districts) never show personal fields
(``model.PERSONAL_FIELDS``) nor the ids of individual households: 未把握
households are shown as counts per building. The route map is the
officer's own working map and shows addresses, as the printed sheet does,
but no household ids either.
"""

from __future__ import annotations

import html
import json
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import folium
from branca.element import Element, Figure, MacroElement
from folium.plugins import FastMarkerCluster, HeatMap
from jinja2 import Template

from .errors import InputError, Problem
from .model import PERSONAL_FIELDS
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

_OSM_ATTRIBUTION = "© OpenStreetMap contributors"


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


# ---------------------------------------------------------------- helpers


def _base_map(offline: bool, *, attribution_extra: str = "") -> folium.Map:
    if offline:
        # Without a tile layer Leaflet knows no zoom range, which clustering needs.
        m = folium.Map(tiles=None, control_scale=True)
        m.options["maxZoom"] = 19
        # No tiles: a light paper colour instead of Leaflet's grey.
        _header(m).add_child(
            Element("<style>.leaflet-container{background:#f7f7f2 !important;}</style>")
        )
        _OFFLINE_MAPS.add(m)
    else:
        m = folium.Map(tiles=None, control_scale=True)
        folium.TileLayer(
            "OpenStreetMap",
            attr=_OSM_ATTRIBUTION + attribution_extra,
            name="OpenStreetMap",
            control=False,
        ).add_to(m)
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
    return html.escape("" if v is None else str(v))


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
    """Keep ``cols`` + geometry, with values JSON can carry (lists joined, NaN blank)."""
    out = gdf[cols + ["geometry"]].copy()
    for c in cols:
        out[c] = [
            "、".join(map(str, v))
            if isinstance(v, list | tuple)
            else ("" if v is None or (isinstance(v, float) and v != v) else v)
            for v in out[c]
        ]
        if out[c].dtype == object:
            out[c] = out[c].astype(str)
    return out


# ---------------------------------------------------------------- route map


def route_map(
    plan: dict[str, Any], *, beat_geometry: Any = None, offline: bool = False
) -> folium.Map:
    """The day's route of one officer (``DayPlan.to_dict()``) as a Folium map.

    Koban, numbered stops in visit order, the street path where stops carry
    one (straight dashed segments where they do not), popups with address,
    building, card status, reasons and planned time, the beat outline and a
    legend.
    """
    check_plan(plan)
    m = _base_map(offline)
    pts: list[tuple[float, float]] = []
    if beat_geometry is not None:
        gj = _geojson_of(beat_geometry)
        folium.GeoJson(
            gj,
            name="受持区 Beat",
            style_function=lambda _f: {
                "color": "#1f3c88",
                "weight": 3,
                "fill": True,
                "fillOpacity": 0.04,
                "dashArray": "6 4",
            },
            tooltip=f"受持区 {plan.get('beat_id', '')}",
        ).add_to(m)
        pts += _geojson_points(gj)

    start = plan["start"]
    end = plan.get("end") or start
    stops = plan["stops"]
    straight_legs = 0
    street_legs = 0
    # Straight-line plans carry two-point paths; only network paths follow streets.
    on_streets = plan.get("travel_source", "network") == "network"
    route = folium.FeatureGroup(name="経路 Route").add_to(m)
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
                tooltip="直線 straight line",
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
            tooltip="帰所 return (straight line)",
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
        tooltip=f"{koban_label} (出発 start {_hhmm(plan.get('windows', [['']])[0][0]) if plan.get('windows') else ''})",
        z_index_offset=500,
    ).add_to(m)
    pts.append((start["lon"], start["lat"]))

    stops_group = folium.FeatureGroup(name="訪問先 Stops").add_to(m)
    for stop in stops:
        status = _stop_status(stop)
        colour = STATUS_COLOUR.get(status, "#555")
        n = stop["order"]
        folium.Marker(
            (stop["lat"], stop["lon"]),
            icon=folium.DivIcon(
                html=f'<div class="junkai-stop" data-order="{n}" style="background:{colour}">{n}</div>',
                icon_size=(30, 30),
                icon_anchor=(15, 15),
                class_name="junkai-stop-icon",
            ),
            popup=folium.Popup(_stop_popup(stop), max_width=320),
            tooltip=f"{n}. {_hhmm(stop.get('arrival'))} {stop.get('address', '')}",
            z_index_offset=1000 + n,
        ).add_to(stops_group)
        pts.append((stop["lon"], stop["lat"]))

    title = f"{_e(plan.get('date'))} 担当 officer {_e(plan.get('officer_id'))} / 受持区 {_e(plan.get('beat_id', ''))}"
    rows = [
        f"<b>{title}</b>",
        '<span class="sw" style="background:#1f3c88;border-radius:2px"></span>交番 koban',
    ]
    for code in ("none", "stale", "current"):
        rows.append(
            f'<span class="sw" style="background:{STATUS_COLOUR[code]}"></span>{CARD_STATUS_JA[code]} ({code})'
        )
    if street_legs:
        rows.append(
            '<span class="ln" style="border-top:4px solid #1565c0"></span>道路経路 street path'
        )
    if straight_legs:
        rows.append(
            '<span class="ln" style="border-top:3px dashed #555"></span>直線 straight line (道路経路なし)'
        )
    if beat_geometry is not None:
        rows.append('<span class="ln" style="border-top:3px dashed #1f3c88"></span>受持区 beat')
    totals = plan.get("totals") or {}
    rows.append(
        f"訪問先 {len(stops)} 件 stops · 世帯等 {totals.get('households', sum(len(s.get('households', [])) for s in stops))}"
    )
    m.add_child(_Legend("<br>".join(rows)))
    folium.LayerControl(collapsed=True).add_to(m)
    _fit(m, pts)
    return m


def _stop_popup(stop: Mapping[str, Any]) -> str:
    rows = [
        f"<tr><td>順番</td><td><b>{_e(stop.get('order'))}</b></td></tr>",
        f"<tr><td>予定時刻</td><td>{_hhmm(stop.get('arrival'))}–{_hhmm(stop.get('departure'))}</td></tr>",
        f"<tr><td>住所</td><td>{_e(stop.get('address'))}</td></tr>",
        f"<tr><td>建物</td><td>{_e(stop.get('building_id'))}</td></tr>",
    ]
    for h in stop.get("households", []):
        kind = KIND_JA.get(h.get("kind", ""), h.get("kind", ""))
        floor = f" {h['floor']}階" if h.get("floor") not in (None, "") else ""
        status = CARD_STATUS_JA.get(h.get("card_status", "none"), "")
        reasons = "、".join(reason_label(r) for r in h.get("reasons", []))
        rows.append(
            f"<tr><td>{_e(kind)}{_e(floor)}</td><td>{_e(status)}<br><small>{_e(reasons)}</small></td></tr>"
        )
    return f'<table class="junkai-popup">{"".join(rows)}</table>'


# ---------------------------------------------------------------- beats map


def beats_map(
    beats_gdf: gpd.GeoDataFrame,
    *,
    workload_col: str,
    koban_gdf: gpd.GeoDataFrame | None = None,
    unvisited_points: gpd.GeoDataFrame | None = None,
    unvisited_style: str = "cluster",
    simplify_m: float = 5.0,
    offline: bool = False,
) -> folium.Map:
    """Beats coloured by ``workload_col``, with a tooltip of each beat's figures.

    ``unvisited_points`` (未把握 households, any CRS) are aggregated to counts
    per building (``building_id``, else per location) and drawn as clustered
    markers (``unvisited_style="cluster"``) or a heat layer (``"heat"``); no
    household id or personal field is ever written into the map.
    """
    import branca.colormap as cm

    _need_columns(beats_gdf, "beats", [workload_col])
    if unvisited_style not in {"cluster", "heat"}:
        raise InputError(
            Problem(
                "beats_map", None, "unvisited_style", repr(unvisited_style), "'cluster' or 'heat'"
            )
        )
    beats = _display_frame(beats_gdf, "beats", simplify_m)
    m = _base_map(offline)
    cols = _shareable_columns(beats.columns)
    frame = _scalar_frame(beats, cols)
    values = beats[workload_col].astype(float)
    vmin, vmax = float(values.min()), float(values.max())
    if vmax <= vmin:
        vmax = vmin + 1.0
    cmap = cm.LinearColormap(["#ffffcc", "#fd8d3c", "#bd0026"], vmin=vmin, vmax=vmax)
    colour_by_index = {str(i): cmap(float(v)) for i, v in zip(frame.index, values, strict=True)}
    frame["_fill"] = [colour_by_index[str(i)] for i in frame.index]
    folium.GeoJson(
        json.loads(frame.to_json()),
        name="受持区 Beats",
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#333",
            "weight": 1.2,
            "fillOpacity": 0.65,
        },
        highlight_function=lambda _f: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(
            fields=cols, aliases=[_alias(c, workload_col) for c in cols], sticky=True
        ),
    ).add_to(m)
    pts = _geojson_points(json.loads(beats[["geometry"]].to_json()))

    if koban_gdf is not None:
        _add_koban(m, koban_gdf)
    n_unvisited = 0
    if unvisited_points is not None and len(unvisited_points):
        counts = aggregate_unvisited(unvisited_points)
        n_unvisited = int(sum(c for _, _, c in counts))
        _add_unvisited(m, counts, unvisited_style)

    steps = [vmin + (vmax - vmin) * k / 4 for k in range(5)]
    grad = "".join(
        f'<span class="sw" style="background:{cmap(v)};border-radius:2px"></span>{v:,.0f}<br>'
        for v in steps
    )
    body = f"<b>業務量 workload</b> ({_e(workload_col)})<br>{grad}"
    if n_unvisited:
        body += f"未把握 {n_unvisited:,} 世帯 (建物ごとの件数 counts per building)"
    m.add_child(_Legend(body))
    folium.LayerControl(collapsed=True).add_to(m)
    _fit(m, pts)
    return m


def _alias(col: str, workload_col: str) -> str:
    names = {
        "beat_id": "受持区",
        "koban_id": "交番",
        "name": "名称",
        "households": "世帯数",
        "area_m2": "面積 m²",
        "unvisited": "未把握",
    }
    if col == workload_col:
        return f"業務量 ({col})"
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
    """Koban as small badges (names in tooltips: a city has dozens of them)."""
    kob = _to_4326(koban_gdf, "koban")
    group = folium.FeatureGroup(name="交番 Koban").add_to(m)
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
            tooltip=f"{name} ({row.get('koban_id', '')})",
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
    offline: bool = False,
) -> folium.Map:
    """専従員 districts (polygons or points, any CRS) with rank, hours and assigned officers.

    ``beats_gdf`` (outlines) and ``koban_gdf`` give the districts a context,
    which matters most offline, where no tiles are drawn.
    """
    _need_columns(districts_gdf, "districts", [rank_col, hours_col, officers_col])
    d = _display_frame(districts_gdf, "districts", simplify_m).sort_values(rank_col)
    m = _base_map(offline)
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
            tooltip=f"{rank}. {orig.get(name_col, '')} — {orig[hours_col]} h — {row[officers_col]}",
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
    return "<br>".join(f"{_e(a)}: {_e(row[c])}" for c, a in zip(cols, aliases, strict=True))


# ---------------------------------------------------------------- saving


def save_map(m: folium.Map, path: str | Path, *, assets_dir: Path | None = None) -> Path:
    """Write ``m`` as HTML; offline maps get their Leaflet files copied to ``assets/`` beside it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = m.get_root().render()
    if m in _OFFLINE_MAPS:
        page, used = localize_html(page)
        copy_assets(used, out.parent, assets_dir)
    out.write_text(page, encoding="utf-8")
    return out


def is_offline(m: folium.Map) -> bool:
    """Whether ``m`` was made with ``offline=True``."""
    return m in _OFFLINE_MAPS
