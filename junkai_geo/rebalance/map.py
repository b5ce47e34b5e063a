"""The rebalancing map: beats before and after, labelled, moved units and the list of moves.

Neighbouring beats always differ in colour (a greedy graph colouring of the
beats' adjacency, most constrained beat first), every beat carries its id at a
point inside it, only the units that change beat are outlined, and a box lists
the moves (unit, from, to, households), largest first. Shared map: unit
figures only, never personal fields (the render module's column filter).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import folium
import numpy as np
import shapely

from ..render import (
    _add_koban,
    _base_map,
    _display_frame,
    _e,
    _fit,
    _geojson_points,
    _header,
    _Legend,
    _need_columns,
    _scalar_frame,
    _shareable_columns,
)

if TYPE_CHECKING:
    import geopandas as gpd

#: Fill colours for beats (Okabe-Ito, then two soft extras); neighbours never share one.
BEAT_PALETTE: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#CC79A7",
    "#999999",
    "#8DD3C7",
    "#BEBADA",
    "#FDB462",
)
MOVED_COLOUR = "#d00000"


def beat_adjacency(units_gdf: gpd.GeoDataFrame, beat_col: str) -> dict[str, set[str]]:
    """Beats whose units touch (within 1 m, corners included), from the geometry alone."""
    gdf = units_gdf
    if gdf.crs is not None and gdf.crs.is_geographic:
        gdf = gdf.to_crs(gdf.estimate_utm_crs())
    labels = gdf[beat_col].astype(str).to_numpy()
    geoms = shapely.make_valid(gdf.geometry.to_numpy())
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=1.0)
    adj: dict[str, set[str]] = {b: set() for b in sorted(set(labels.tolist()))}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        a, b = labels[i], labels[j]
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    return adj


def colour_beats(adjacency: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """A colour index per beat, different for neighbours (DSATUR greedy colouring).

    The beat with the most differently coloured neighbours goes next (then the
    most neighbours, then the id), and takes the lowest colour its neighbours
    do not use: a map of beats needs four to six colours.
    """
    adj = {str(b): {str(c) for c in n} for b, n in adjacency.items()}
    for b, n in list(adj.items()):
        for c in n:
            adj.setdefault(c, set()).add(b)
    colour: dict[str, int] = {}
    left = set(adj)
    while left:
        b = max(
            left,
            key=lambda x: (len({colour[n] for n in adj[x] if n in colour}), len(adj[x]), x),
        )
        used = {colour[n] for n in adj[b] if n in colour}
        k = 0
        while k in used:
            k += 1
        colour[b] = k
        left.remove(b)
    return colour


def beat_fill_colours(units_gdf: gpd.GeoDataFrame, beat_col: str) -> dict[str, str]:
    """Beat id -> fill colour, neighbours never alike (while the palette lasts)."""
    idx = colour_beats(beat_adjacency(units_gdf, beat_col))
    return {b: BEAT_PALETTE[c % len(BEAT_PALETTE)] for b, c in idx.items()}


def rebalance_map(
    units_gdf: gpd.GeoDataFrame,
    *,
    before_col: str = "beat_before",
    after_col: str = "beat_after",
    households_col: str = "households",
    name_col: str = "name",
    koban_gdf: gpd.GeoDataFrame | None = None,
    simplify_m: float = 5.0,
    moves_listed: int = 40,
    offline: bool = False,
) -> folium.Map:
    """Beats before and after rebalancing as switchable layers, moved units outlined.

    ``units_gdf``: one polygon per unit (any CRS) with the beat of each unit
    before and after; ``households_col`` (optional) gives the households of
    the listed moves, ``name_col`` (optional) a unit name shown beside its id.
    """
    _need_columns(units_gdf, "units", [before_col, after_col])
    units = _display_frame(units_gdf, "units", simplify_m)
    m = _base_map(offline)
    cols = _shareable_columns(units.columns)
    frame = _scalar_frame(units, cols)
    frame["_before"] = units[before_col].astype(str).to_numpy()
    frame["_after"] = units[after_col].astype(str).to_numpy()
    moved = (frame["_before"] != frame["_after"]).to_numpy()
    for label, key, col, show in (
        ("調整前 Before", "_before", before_col, False),
        ("調整後 After", "_after", after_col, True),
    ):
        colours = beat_fill_colours(units_gdf, col)
        layer = folium.FeatureGroup(name=label, overlay=False, show=show).add_to(m)
        folium.GeoJson(
            json.loads(
                frame.drop(columns=[c for c in ("_before", "_after") if c != key]).to_json()
            ),
            style_function=lambda f, key=key, colours=colours: {
                "fillColor": colours[f["properties"][key]],
                "stroke": False,
                "fillOpacity": 0.55,
            },
            tooltip=folium.GeoJsonTooltip(fields=cols, sticky=True),
        ).add_to(layer)
        dissolved = (
            units.assign(_b=frame[key].to_numpy())[["_b", "geometry"]]
            .dissolve(by="_b")
            .reset_index()
        )
        folium.GeoJson(
            json.loads(dissolved.to_json()),
            style_function=lambda _f: {"fill": False, "color": "#222", "weight": 2.0},
            tooltip=folium.GeoJsonTooltip(fields=["_b"], aliases=["受持区"]),
        ).add_to(layer)
        for beat_id, geom in zip(dissolved["_b"], dissolved.geometry, strict=True):
            pt = geom.representative_point()
            folium.Marker(
                (pt.y, pt.x),
                icon=folium.DivIcon(
                    html=f'<div class="junkai-beat-label">{_e(beat_id)}</div>',
                    icon_size=(0, 0),
                    icon_anchor=(0, 0),
                    class_name="junkai-beat-label-icon",
                ),
            ).add_to(layer)
    if moved.any():
        mv = frame[moved]
        folium.GeoJson(
            json.loads(mv.to_json()),
            name=f"移動 Moved units ({int(moved.sum())})",
            style_function=lambda _f: {
                "fill": False,
                "color": MOVED_COLOUR,
                "weight": 3.0,
                "dashArray": "5 3",
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["_before", "_after"], aliases=["調整前", "調整後"]
            ),
        ).add_to(m)
    if koban_gdf is not None:
        _add_koban(m, koban_gdf)
    _header(m).add_child(folium.Element(_CSS))
    m.add_child(
        _Legend(
            _legend(units, moved, before_col, after_col, households_col, name_col, moves_listed)
        )
    )
    folium.LayerControl(collapsed=False).add_to(m)
    _fit(m, _geojson_points(json.loads(units[["geometry"]].to_json())))
    return m


_CSS = """<style>
.junkai-beat-label{transform:translate(-50%,-50%);display:inline-block;font:bold 11px/1.2 sans-serif;
 color:#111;background:rgba(255,255,255,.8);padding:0 3px;border-radius:3px;white-space:nowrap;}
.junkai-moves{max-height:190px;overflow-y:auto;margin-top:4px;}
.junkai-moves td{padding:0 4px;white-space:nowrap;}
.junkai-moves td.n{text-align:right;}
</style>"""


def _legend(
    units: gpd.GeoDataFrame,
    moved: np.ndarray,
    before_col: str,
    after_col: str,
    households_col: str,
    name_col: str,
    moves_listed: int,
) -> str:
    n_moved = int(moved.sum())
    rows: list[tuple[float, str]] = []
    mv = units[moved]
    hh = (
        mv[households_col].astype(float).to_numpy()
        if households_col in mv.columns
        else np.full(len(mv), np.nan)
    )
    ids = mv["unit_id"].astype(str).tolist() if "unit_id" in mv.columns else mv.index.astype(str)
    names = mv[name_col].astype(str).tolist() if name_col in mv.columns else [""] * len(mv)
    for uid, name, b0, b1, h in zip(
        ids, names, mv[before_col].astype(str), mv[after_col].astype(str), hh, strict=True
    ):
        label = f"{_e(uid)} {_e(name)}".strip()
        households = f"{h:,.0f}" if np.isfinite(h) else "-"
        rows.append(
            (
                -h if np.isfinite(h) else 0.0,
                f"<tr><td>{label}</td><td>{_e(b0)} → {_e(b1)}</td>"
                f'<td class="n">{households}</td></tr>',
            )
        )
    rows.sort(key=lambda r: r[0])
    total = float(np.nansum(hh)) if len(hh) else 0.0
    table = ""
    if rows:
        shown = "".join(r for _, r in rows[:moves_listed])
        more = (
            f"<tr><td colspan=3>… ほか {len(rows) - moves_listed} 件 more (JSON)</td></tr>"
            if len(rows) > moves_listed
            else ""
        )
        table = (
            '<div class="junkai-moves"><table><tr><th>単位 unit</th><th>受持区 from → to</th>'
            f"<th>世帯 households</th></tr>{shown}{more}</table></div>"
        )
    return (
        "<b>受持区の調整 beat rebalancing</b><br>"
        "隣接する受持区は別の色 neighbouring beats differ in colour<br>"
        f'<span class="ln" style="border-top:3px dashed {MOVED_COLOUR}"></span>'
        f"移動した単位 moved: {n_moved} / {len(units)} ({total:,.0f} 世帯 households)"
        f"{table}"
    )
