"""Printable A4 route sheet of one officer's day (巡回連絡 訪問予定表).

A static map drawn with matplotlib from the plan's own layers (no network
needed; a web tile background only on request), then a table of the visits
with a blank column for the result, the officer, date, beat and koban in the
header, ``n / N`` page numbers and a 取扱注意 marking on every page.

Japanese text needs a Japanese TrueType font, embedded (subset) in the PDF:
IPAex Gothic from the PyPI package ``matplotlib-fontja`` (installed with the
project), Debian's ``fonts-ipaexfont-gothic`` / ``fonts-ipafont-gothic``, or
any TTF named by ``$JUNKAI_GEO_FONT``.
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import JunkaiGeoError, NetworkError
from .render import (
    CARD_STATUS_JA,
    STATUS_COLOUR,
    WALKING_ORDER_JA,
    BuildingVisit,
    _stop_status,
    building_visits,
    check_plan,
    household_line,
    reasons_ja,
)
from .settings import check_positive

#: Environment variable naming a TrueType font file with Japanese glyphs.
FONT_ENV = "JUNKAI_GEO_FONT"
#: TrueType files tried after the PyPI one (Debian packages fonts-ipaexfont-gothic, fonts-ipafont-gothic).
SYSTEM_FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
)
#: Web tiles for the optional background: 地理院タイル (標準地図), credited on the map.
GSI_TILE_URL = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_CREDIT = "出典: 地理院タイル"

HANDLE_WITH_CARE = "取扱注意"
#: Windows starting at or after this are evening / night windows on the sheet.
NIGHT_FROM = "17:00"
COLUMNS: tuple[str, ...] = (
    "番号",
    "予定時刻",
    "住所 / 建物",
    "部屋・戸口",
    "区分・階",
    "カード",
    "理由",
    "結果",
)


class FontNotFoundError(JunkaiGeoError, FileNotFoundError):
    """No Japanese TrueType font was found."""


@dataclass(frozen=True)
class SheetParams:
    """Layout of the route sheet (millimetres, points, dots per inch)."""

    margin_mm: float = 12.0
    map_height_mm: float = 105.0
    font_size_pt: float = 8.5
    row_height_mm: float = 7.0  # room to write the result by hand
    map_dpi: int = 150
    col_widths_mm: tuple[float, ...] = (9.0, 23.0, 37.0, 22.0, 20.0, 14.0, 32.0, 27.0)
    badge_radius_mm: float = 2.4
    tile_timeout_s: float = 10.0
    tile_url: str = GSI_TILE_URL
    tile_credit: str = GSI_CREDIT

    def __post_init__(self) -> None:
        check_positive(
            self,
            "margin_mm",
            "map_height_mm",
            "font_size_pt",
            "row_height_mm",
            "map_dpi",
            "tile_timeout_s",
            "badge_radius_mm",
        )
        if len(self.col_widths_mm) != len(COLUMNS):
            raise JunkaiGeoError(
                f"SheetParams.col_widths_mm: found {len(self.col_widths_mm)} widths; expected {len(COLUMNS)}"
            )


def find_japanese_font() -> Path:
    """Path of a Japanese TrueType font, or ``FontNotFoundError`` saying what to install."""
    env = os.environ.get(FONT_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise FontNotFoundError(
                f"{FONT_ENV}={env}: no such font file; expected a TrueType (.ttf) font with Japanese glyphs"
            )
        return p
    # Located without importing it: importing matplotlib_fontja changes matplotlib's defaults.
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is not None and spec.origin is not None:
        p = Path(spec.origin).parent / "fonts" / "ipaexg.ttf"
        if p.is_file():
            return p
    for c in SYSTEM_FONT_CANDIDATES:
        if Path(c).is_file():
            return Path(c)
    raise FontNotFoundError(
        "no Japanese TrueType font found for the route sheet: install one with "
        "`pip install matplotlib-fontja` (IPAex Gothic) or `apt-get install fonts-ipaexfont-gothic`, "
        f"or set {FONT_ENV} to a .ttf file"
    )


# ---------------------------------------------------------------- geometry


def _merc(lon: float, lat: float) -> tuple[float, float]:
    """Web Mercator metres: conformal, so the static map keeps its shape, and tiles align."""
    r = 6378137.0
    x = math.radians(lon) * r
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * r
    return x, y


def _beat_rings(beat_geometry: Any) -> list[list[tuple[float, float]]]:
    if beat_geometry is None:
        return []
    from shapely.geometry import shape

    from .render import _geojson_of

    gj = _geojson_of(beat_geometry)
    geoms = []
    if gj.get("type") == "FeatureCollection":
        geoms = [shape(f["geometry"]) for f in gj.get("features", []) if f.get("geometry")]
    elif gj.get("type") == "Feature":
        geoms = [shape(gj["geometry"])]
    else:
        geoms = [shape(gj)]
    rings: list[list[tuple[float, float]]] = []
    for g in geoms:
        polys = getattr(g, "geoms", [g])
        for poly in polys:
            if hasattr(poly, "exterior"):
                rings.append([(float(x), float(y)) for x, y in poly.exterior.coords])
            elif hasattr(poly, "coords"):
                rings.append([(float(x), float(y)) for x, y in poly.coords])
    return rings


# ---------------------------------------------------------------- static map


@dataclass(frozen=True)
class MapFrame:
    """Where the static map's Web Mercator extent falls on the page (mm)."""

    x0: float
    y0: float
    w: float
    h: float
    width_mm: float
    height_mm: float

    def to_mm(self, lon: float, lat: float) -> tuple[float, float]:
        """Page offset (mm, from the map's top-left corner) of a lon / lat."""
        x, y = _merc(lon, lat)
        return (
            (x - self.x0) / self.w * self.width_mm,
            (1 - (y - self.y0) / self.h) * self.height_mm,
        )


def place_badges(
    points_mm: list[tuple[float, float]],
    *,
    spacing_mm: float,
    bounds_mm: tuple[float, float, float, float] | None = None,
) -> list[tuple[float, float]]:
    """Badge centres, in order, none closer than ``spacing_mm`` to another.

    A badge stays on its point when that is free, else takes the nearest
    free place on rings of ``spacing_mm`` around it (inside ``bounds_mm``
    ``(x0, y0, x1, y1)`` when given); the caller draws a leader line.
    """
    placed: list[tuple[float, float]] = []
    for px, py in points_mm:
        best: tuple[float, float] | None = None
        for ring in range(0, 40):
            n = 1 if ring == 0 else 6 * ring
            for k in range(n):
                ang = 2 * math.pi * k / n - math.pi / 2
                q = (px + ring * spacing_mm * math.cos(ang), py + ring * spacing_mm * math.sin(ang))
                if bounds_mm is not None and not (
                    bounds_mm[0] <= q[0] <= bounds_mm[2] and bounds_mm[1] <= q[1] <= bounds_mm[3]
                ):
                    continue
                if all(math.dist(q, o) >= spacing_mm for o in placed):
                    best = q
                    break
            if best is not None:
                break
        placed.append(best if best is not None else (px, py))
    return placed


def _town_and_block(address: str) -> tuple[str, str]:
    """(町丁目, 番) of a building address ``"広坂２丁目 14-10"`` (block ``""`` if none)."""
    tokens = address.split()
    if not tokens:
        return "", ""
    block = ""
    if len(tokens) > 1 and "-" in tokens[1] and tokens[1].split("-")[0].isdigit():
        block = tokens[1].split("-")[0]
    return tokens[0], block


def _lines_of(geometry: Any) -> list[list[tuple[float, float]]]:
    """Line strings (lon / lat) of a GeoDataFrame / GeoJSON of lines or polygons (outlines)."""
    if geometry is None:
        return []
    return _beat_rings(geometry)


def route_map_png(
    plan: dict[str, Any],
    *,
    width_mm: float,
    height_mm: float,
    beat_geometry: Any = None,
    tile_background: bool = False,
    params: SheetParams | None = None,
    font_path: Path | None = None,
    units: Any = None,
    streets: Any = None,
    draw_stops: bool = True,
) -> bytes:
    """The route drawn with matplotlib as PNG bytes (project layers only unless ``tile_background``)."""
    return _route_map(
        plan,
        width_mm=width_mm,
        height_mm=height_mm,
        beat_geometry=beat_geometry,
        tile_background=tile_background,
        params=params,
        font_path=font_path,
        units=units,
        streets=streets,
        draw_stops=draw_stops,
    )[0]


def _route_map(
    plan: dict[str, Any],
    *,
    width_mm: float,
    height_mm: float,
    beat_geometry: Any,
    tile_background: bool,
    params: SheetParams | None,
    font_path: Path | None,
    units: Any,
    streets: Any,
    draw_stops: bool,
) -> tuple[bytes, MapFrame]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.font_manager import FontProperties

    p = params or SheetParams()
    fpath = str(font_path or find_japanese_font())
    font = FontProperties(fname=fpath)
    fig = plt.figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=p.map_dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    start = plan["start"]
    end = plan.get("end") or start
    stops = plan["stops"]
    visits, _split = building_visits(plan)
    xs: list[float] = []
    ys: list[float] = []
    for ring in _beat_rings(beat_geometry):
        pts = [_merc(x, y) for x, y in ring]
        ax.plot(
            [q[0] for q in pts],
            [q[1] for q in pts],
            color="#1f3c88",
            lw=1.6,
            ls=(0, (5, 3)),
            zorder=2,
        )
        xs += [q[0] for q in pts]
        ys += [q[1] for q in pts]

    # One collection per line style: hundreds of separate artists are slow to draw.
    on_streets = plan.get("travel_source", "network") == "network"
    prev = _merc(start["lon"], start["lat"])
    street: list[list[tuple[float, float]]] = []
    straight_legs: list[list[tuple[float, float]]] = []
    for stop in stops:
        here = _merc(stop["lon"], stop["lat"])
        path = stop.get("path") if on_streets else None
        if path and len(path) >= 2:
            pts = [_merc(q[0], q[1]) for q in path]
            street.append(pts)
            xs += [q[0] for q in pts]
            ys += [q[1] for q in pts]
        else:
            straight_legs.append([prev, here])
        prev = here
    if street:
        ax.add_collection(LineCollection(street, colors="#1565c0", linewidths=2.2, zorder=3))
    if straight_legs:
        ax.add_collection(
            LineCollection(
                straight_legs, colors="#555", linewidths=1.5, linestyles=[(0, (4, 3))], zorder=3
            )
        )
    if stops:
        back = _merc(end["lon"], end["lat"])
        ax.plot(
            [prev[0], back[0]], [prev[1], back[1]], color="#555", lw=1.0, ls=(0, (1, 3)), zorder=3
        )
    kx, ky = _merc(start["lon"], start["lat"])
    ax.scatter([kx], [ky], marker="s", s=90, color="#1f3c88", edgecolor="white", zorder=5)
    ax.annotate(
        f"交 {start.get('label') or plan.get('koban_id', '')}",
        (kx, ky),
        xytext=(7, -3),
        textcoords="offset points",
        fontproperties=font,
        fontsize=7,
        color="#1f3c88",
        zorder=6,
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
    )
    xs.append(kx)
    ys.append(ky)
    visit_xy = [_merc(v.lon, v.lat) for v in visits]
    xs += [q[0] for q in visit_xy]
    ys += [q[1] for q in visit_xy]
    # Frame the drawing with a margin and the page box's aspect ratio.
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    y1 += (y1 - y0) * 0.1  # room for the legend across the top
    w = max(x1 - x0, 50.0) * 1.12
    h = max(y1 - y0, 50.0) * 1.12
    aspect = width_mm / height_mm
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    frame = MapFrame(cx - w / 2, cy - h / 2, w, h, width_mm, height_mm)
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal")
    _draw_context(ax, frame, visits, units, streets, font)
    if tile_background:
        _draw_tiles(ax, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), width_mm, p)
    _draw_scale_bar(ax, cx - w / 2, cy - h / 2, w, h, (start["lat"]), font)
    if draw_stops and visits:
        _draw_badges_mpl(ax, frame, visits, p)
    from matplotlib.lines import Line2D

    handles: list[Any] = [Line2D([], [], marker="s", ls="", color="#1f3c88", label="交番")]
    handles += [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color=STATUS_COLOUR[c],
            markeredgecolor="white",
            label=CARD_STATUS_JA[c],
        )
        for c in ("none", "stale", "current")
    ]
    if straight_legs:
        handles.append(Line2D([], [], color="#555", ls=(0, (4, 3)), label="直線 (道路経路なし)"))
    if street:
        handles.append(Line2D([], [], color="#1565c0", lw=2, label="道路経路"))
    ax.legend(
        handles=handles,
        loc="upper left",
        ncol=len(handles),
        prop=FontProperties(fname=fpath, size=6.5),
        framealpha=0.9,
        handlelength=1.6,
        columnspacing=1.0,
        borderpad=0.4,
    ).set_zorder(9)
    ax.add_patch(plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, ec="#888", lw=0.8))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=p.map_dpi)
    plt.close(fig)
    return buf.getvalue(), frame


def _draw_context(
    ax: Any, frame: MapFrame, visits: list[BuildingVisit], units: Any, streets: Any, font: Any
) -> None:
    """Streets, 町丁目 outlines and names, and block numbers, so the officer can orient."""
    from matplotlib.collections import LineCollection

    box = (frame.x0, frame.y0, frame.x0 + frame.w, frame.y0 + frame.h)

    def inside(x: float, y: float) -> bool:
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    street_lines = [[_merc(x, y) for x, y in line] for line in _lines_of(streets)]
    if street_lines:
        ax.add_collection(LineCollection(street_lines, colors="#c8c8c8", linewidths=1.2, zorder=1))
    named: set[str] = set()
    if units is not None:
        gdf = units.to_crs(4326) if hasattr(units, "to_crs") else None
        if gdf is not None:
            # Only the units around the route: a city has hundreds.
            from shapely.geometry import box as sbox

            lon0, lat0 = _unmerc(box[0], box[1])
            lon1, lat1 = _unmerc(box[2], box[3])
            near = gdf[gdf.intersects(sbox(lon0, lat0, lon1, lat1))]
            ax.add_collection(
                LineCollection(
                    [[_merc(x, y) for x, y in r] for r in _beat_rings(near[["geometry"]])],
                    colors="#9e9e9e",
                    linewidths=0.6,
                    zorder=1,
                )
            )
            name_col = "name" if "name" in near.columns else None
            taken: list[tuple[float, float, float, float]] = []
            if name_col is not None:
                for name, geom in zip(near[name_col], near.geometry, strict=True):
                    pt = geom.representative_point()
                    x, y = _merc(pt.x, pt.y)
                    # A name that would run into another is left out (mm on the page).
                    cx, cy = frame.to_mm(pt.x, pt.y)
                    half_w, half_h = len(str(name)) * 1.4, 1.8
                    mine = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
                    if any(
                        not (mine[2] < o[0] or o[2] < mine[0] or mine[3] < o[1] or o[3] < mine[1])
                        for o in taken
                    ):
                        continue
                    taken.append(mine)
                    if inside(x, y) and str(name):
                        named.add(str(name))
                        ax.text(
                            x,
                            y,
                            str(name),
                            ha="center",
                            va="center",
                            fontproperties=font,
                            fontsize=7.5,
                            color="#6d6d6d",
                            zorder=1.5,
                        )
    # Names and block numbers from the plan's own addresses (no layer needed).
    towns: dict[str, list[tuple[float, float]]] = {}
    blocks: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for v in visits:
        town, block = _town_and_block(v.address)
        xy = _merc(v.lon, v.lat)
        if town:
            towns.setdefault(town, []).append(xy)
        if town and block:
            blocks.setdefault((town, block), []).append(xy)
    dy = frame.h / frame.height_mm * 4.0  # 4 mm below the badges
    for town, pts in towns.items():
        if town in named:
            continue
        x = sum(q[0] for q in pts) / len(pts)
        y = max(q[1] for q in pts) + dy * 1.6
        ax.text(
            x,
            y,
            town,
            ha="center",
            va="bottom",
            fontproperties=font,
            fontsize=8,
            color="#6d6d6d",
            zorder=1.5,
        )
    for (_town, block), pts in blocks.items():
        x = sum(q[0] for q in pts) / len(pts)
        y = min(q[1] for q in pts) - dy
        ax.text(
            x,
            y,
            f"{block}番",
            ha="center",
            va="top",
            fontproperties=font,
            fontsize=6,
            color="#8a8a8a",
            zorder=1.5,
        )


def _unmerc(x: float, y: float) -> tuple[float, float]:
    r = 6378137.0
    return math.degrees(x / r), math.degrees(2 * math.atan(math.exp(y / r)) - math.pi / 2)


def _badge_layout(
    frame: MapFrame, visits: list[BuildingVisit], p: SheetParams
) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(true place, badge centre) in mm of each visit, badges never overlapping."""
    true = [frame.to_mm(v.lon, v.lat) for v in visits]
    r = p.badge_radius_mm
    badges = place_badges(
        true,
        spacing_mm=2 * r + 0.3,
        bounds_mm=(r, r + 8.0, frame.width_mm - r, frame.height_mm - r),
    )
    return list(zip(true, badges, strict=True))


def _draw_badges_mpl(ax: Any, frame: MapFrame, visits: list[BuildingVisit], p: SheetParams) -> None:
    import matplotlib.pyplot as plt

    def to_data(q: tuple[float, float]) -> tuple[float, float]:
        return (
            frame.x0 + q[0] / frame.width_mm * frame.w,
            frame.y0 + (1 - q[1] / frame.height_mm) * frame.h,
        )

    r_data = p.badge_radius_mm / frame.width_mm * frame.w
    layout = _badge_layout(frame, visits, p)
    for t, b in layout:
        tx, ty = to_data(t)
        bx, by = to_data(b)
        ax.plot([tx], [ty], marker="o", ms=2, color="#222", zorder=6)
        if math.dist(t, b) > 0.1:
            ax.plot([tx, bx], [ty, by], color="#222", lw=0.6, zorder=6)
    for v, (_t, b) in zip(visits, layout, strict=True):
        bx, by = to_data(b)
        colour = STATUS_COLOUR.get(_stop_status({"households": v.households}), "#555")
        ax.add_patch(plt.Circle((bx, by), r_data, color=colour, ec="white", lw=0.8, zorder=7))
        ax.text(
            bx,
            by,
            str(v.number),
            ha="center",
            va="center",
            fontsize=6.5,
            color="white",
            weight="bold",
            zorder=8,
        )


def _draw_scale_bar(
    ax: Any, x0: float, y0: float, w: float, h: float, lat: float, font: Any
) -> None:
    ground_per_merc = math.cos(math.radians(lat))  # Mercator metres are stretched by 1/cos(lat)
    target = w * ground_per_merc / 5
    nice = max(
        v for v in (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000) if v <= max(target, 10)
    )
    length = nice / ground_per_merc
    bx, by = x0 + w * 0.03, y0 + h * 0.05
    ax.plot([bx, bx + length], [by, by], color="black", lw=2.5, solid_capstyle="butt", zorder=9)
    label = f"{nice // 1000} km" if nice >= 1000 else f"{nice} m"
    ax.text(
        bx + length / 2,
        by + h * 0.015,
        label,
        ha="center",
        va="bottom",
        fontsize=6.5,
        fontproperties=font,
        zorder=9,
    )


def _draw_tiles(
    ax: Any, bbox: tuple[float, float, float, float], width_mm: float, p: SheetParams
) -> None:
    """Fetch the web tiles covering ``bbox`` (Web Mercator) and draw them under the layers."""
    from matplotlib.font_manager import FontProperties
    from PIL import Image

    r = 6378137.0 * math.pi
    x0, y0, x1, y1 = bbox
    # Zoom such that one tile pixel is about one printed dot.
    px_wanted = width_mm / 25.4 * p.map_dpi
    z = int(max(1, min(19, math.log2(px_wanted * 2 * r / (256 * (x1 - x0))))))
    n = 2**z

    def tile_xy(x: float, y: float) -> tuple[int, int]:
        return int((x + r) / (2 * r) * n), int((r - y) / (2 * r) * n)

    tx0, ty0 = tile_xy(x0, y1)
    tx1, ty1 = tile_xy(x1, y0)
    if (tx1 - tx0 + 1) * (ty1 - ty0 + 1) > 64:
        raise NetworkError(
            f"tile background: {(tx1 - tx0 + 1) * (ty1 - ty0 + 1)} tiles needed at zoom {z}; expected at most 64"
        )
    mosaic = Image.new("RGB", ((tx1 - tx0 + 1) * 256, (ty1 - ty0 + 1) * 256), "white")
    for tx in range(tx0, tx1 + 1):
        for ty in range(ty0, ty1 + 1):
            url = p.tile_url.format(z=z, x=tx, y=ty)
            req = urllib.request.Request(url, headers={"User-Agent": "junkai-geo route sheet"})
            try:
                with urllib.request.urlopen(req, timeout=p.tile_timeout_s) as resp:
                    tile = Image.open(io.BytesIO(resp.read())).convert("RGB")
            except (OSError, ValueError) as exc:
                raise NetworkError(
                    f"tile background: cannot fetch {url} ({exc}); expected a reachable tile server, "
                    "or use tile_background=False (the default) for a sheet drawn from the project's own layers"
                ) from exc
            mosaic.paste(tile, ((tx - tx0) * 256, (ty - ty0) * 256))
    size = 2 * r / n
    extent = (tx0 * size - r, (tx1 + 1) * size - r, r - (ty1 + 1) * size, r - ty0 * size)
    ax.imshow(mosaic, extent=extent, zorder=0, alpha=0.75, interpolation="bilinear")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.text(
        0.995,
        0.005,
        p.tile_credit,
        fontproperties=FontProperties(fname=str(find_japanese_font())),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=5,
        zorder=9,
    )


# ---------------------------------------------------------------- table rows


def sheet_blocks(plan: dict[str, Any]) -> list[list[tuple[str, ...]]]:
    """One block of rows per building visit, one row per household (結果 blank).

    The first row of a block carries the visit's number, time and address;
    the following rows leave them blank (the PDF spans them over the block).
    """
    visits, _split = building_visits(plan)
    blocks: list[list[tuple[str, ...]]] = []
    for v in visits:
        where = v.address
        if v.building_id:
            where = f"{where} / {v.building_id}" if where else v.building_id
        time = f"{_hhmm(v.arrival)}–{_hhmm(v.departure)}"
        rows: list[tuple[str, ...]] = []
        for j, h in enumerate(v.households or [{}]):
            kind = household_line({k: h.get(k) for k in ("kind", "floor")}) if h else ""
            status = CARD_STATUS_JA.get(h.get("card_status", ""), "") if h else ""
            rows.append(
                (
                    str(v.number) if j == 0 else "",
                    time if j == 0 else "",
                    where if j == 0 else "",
                    str(h.get("unit") or ""),
                    kind,
                    status,
                    reasons_ja(h),
                    "",
                )
            )
        blocks.append(rows)
    return blocks


def sheet_rows(plan: dict[str, Any]) -> list[tuple[str, ...]]:
    """The rows of :func:`sheet_blocks`, flat."""
    return [r for block in sheet_blocks(plan) for r in block]


def sheet_notes(plan: dict[str, Any]) -> list[str]:
    """The sheet's notes, in Japanese, for the officer.

    Planning detail (candidates left out, travel model, solver) stays in the
    plan JSON; the sheet says how to walk, what was not planned and, for a
    night window without visits, why (from the plan's ``night_windows``).
    """
    notes = [WALKING_ORDER_JA + "。同じ番号の行は同じ建物。"]
    skipped = plan.get("skipped") or []
    if skipped:
        notes.append(f"今回の予定に入らなかった世帯等 {len(skipped)} 件 (時間・優先度による)")
    explained = {
        str(w.get("window")): str(w["text_ja"])
        for w in plan.get("night_windows") or []
        if isinstance(w, dict) and w.get("text_ja")
    }
    arrivals = [_hhmm(s.get("arrival")) for s in plan.get("stops", [])]
    for a, b in plan.get("windows") or []:
        a5, b5 = _hhmm(a), _hhmm(b)
        if a5 >= NIGHT_FROM and not any(a5 <= t < b5 for t in arrivals):
            why = explained.get(f"{a5}-{b5}")
            notes.append(f"夜間 {a5}–{b5} の訪問予定なし" + (f": {why}" if why else ""))
    if plan.get("travel_source") != "network":
        notes.append("経路の線は直線 (道路に沿っていない)。移動時間は直線距離からの見込み。")
    return notes


def _hhmm(t: object) -> str:
    s = str(t or "")
    return s[:5] if len(s) >= 5 else s


# ---------------------------------------------------------------- the PDF

#: Travel modes of a plan, in Japanese.
TRAVEL_MODE_JA: dict[str, str] = {"walk": "徒歩", "bicycle": "自転車", "car": "車", "drive": "車"}


def _draw_badges_pdf(
    pdf: Any, frame: MapFrame, visits: list[BuildingVisit], p: SheetParams, x0: float, y0: float
) -> None:
    """Numbered badges as vector shapes and text over the map (never overlapping)."""
    r = p.badge_radius_mm
    pdf.set_font("jp", size=7)
    layout = _badge_layout(frame, visits, p)
    # Dots and leader lines first, badges on top: nothing covers a number.
    pdf.set_draw_color(34, 34, 34)
    pdf.set_fill_color(34, 34, 34)
    pdf.set_line_width(0.2)
    for t, b in layout:
        tx, ty, bx, by = x0 + t[0], y0 + t[1], x0 + b[0], y0 + b[1]
        pdf.circle(tx, ty, 0.55, style="F")
        if math.dist(t, b) > 0.1:
            pdf.line(tx, ty, bx, by)
    for v, (_t, b) in zip(visits, layout, strict=True):
        bx, by = x0 + b[0], y0 + b[1]
        colour = STATUS_COLOUR.get(_stop_status({"households": v.households}), "#555555")
        pdf.set_fill_color(*_rgb(colour))
        pdf.set_draw_color(255, 255, 255)
        pdf.set_line_width(0.3)
        pdf.circle(bx, by, r, style="FD")
        pdf.set_text_color(255, 255, 255)
        pdf.set_xy(bx - r, by - r)
        pdf.cell(2 * r, 2 * r, str(v.number), align="C")
    pdf.set_text_color(0)
    pdf.set_draw_color(0)
    pdf.set_fill_color(255)
    pdf.set_line_width(0.2)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def route_sheet_pdf(
    plan: dict[str, Any],
    out_path: str | Path,
    *,
    beat_geometry: Any = None,
    tile_background: bool = False,
    params: SheetParams | None = None,
    units: Any = None,
    streets: Any = None,
) -> Path:
    """Write the A4 portrait route sheet of ``plan`` (``DayPlan.to_dict()``) to ``out_path``.

    ``units`` (町丁目 polygons with ``name``, any CRS) and ``streets`` (lines)
    are drawn under the route so that the officer can orient; without them
    the 町丁目 names and block numbers come from the plan's addresses.
    Households show their door label from the plan's ``unit`` field
    (:func:`junkai_geo.render.attach_unit_labels` adds it).
    """
    from fpdf import FPDF, FontFace

    check_plan(plan)
    p = params or SheetParams()
    font_path = find_japanese_font()
    title_line = (
        f"日付 {plan.get('date', '')}    担当 {plan.get('officer_id', '')}    "
        f"受持区 {plan.get('beat_id', '')}    交番 {plan['start'].get('label', '')} ({plan.get('koban_id', '')})"
    )

    class _Sheet(FPDF):
        def header(self) -> None:
            self.set_xy(self.l_margin, p.margin_mm)
            self.set_font("jp", size=12)
            self.set_text_color(0)
            self.cell(0, 7, "巡回連絡 訪問予定表", new_x="LMARGIN", new_y="NEXT")
            self.set_font("jp", size=9)
            self.cell(0, 5, title_line, new_x="LMARGIN", new_y="NEXT")
            # The marking sits in the top right corner of every page.
            self.set_xy(self.w - self.r_margin - 24, p.margin_mm - 1)
            self.set_draw_color(200, 0, 0)
            self.set_text_color(200, 0, 0)
            self.set_font("jp", size=11)
            self.cell(24, 8, HANDLE_WITH_CARE, border=1, align="C")
            self.set_text_color(0)
            self.set_draw_color(0)
            self.set_xy(self.l_margin, p.margin_mm + 14)

        def footer(self) -> None:
            self.set_y(-10)
            self.set_font("jp", size=7.5)
            self.set_text_color(200, 0, 0)
            self.cell(
                0,
                5,
                f"{HANDLE_WITH_CARE}: 個人情報を含む。持出し・複写・放置をしないこと",
                align="L",
            )
            self.set_text_color(0)
            self.set_x(self.l_margin)
            self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")

    pdf = _Sheet(orientation="P", unit="mm", format="A4")
    pdf.set_margins(p.margin_mm, p.margin_mm + 13, p.margin_mm)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font("jp", fname=str(font_path))
    pdf.set_title(f"巡回連絡 訪問予定表 {plan.get('date', '')} {plan.get('officer_id', '')}")
    pdf.set_creator("junkai-geo")
    pdf.add_page()
    width = pdf.w - 2 * p.margin_mm
    png, frame = _route_map(
        plan,
        width_mm=width,
        height_mm=p.map_height_mm,
        beat_geometry=beat_geometry,
        tile_background=tile_background,
        params=p,
        font_path=font_path,
        units=units,
        streets=streets,
        draw_stops=False,
    )
    map_x, map_y = p.margin_mm, pdf.get_y()
    pdf.image(io.BytesIO(png), x=map_x, y=map_y, w=width, h=p.map_height_mm)
    visits, _split = building_visits(plan)
    _draw_badges_pdf(pdf, frame, visits, p, map_x, map_y)
    pdf.set_y(map_y + p.map_height_mm + 2)
    pdf.set_font("jp", size=8.5)
    windows = "、".join(f"{_hhmm(a)}–{_hhmm(b)}" for a, b in plan.get("windows", []))
    n_hh = sum(len(v.households) for v in visits)
    travel = "道路網" if plan.get("travel_source") == "network" else "直線距離"
    mode = TRAVEL_MODE_JA.get(str(plan.get("travel_mode", "")), "")
    pdf.multi_cell(
        0,
        4.5,
        f"訪問先 {len(visits)} 件 / 世帯等 {n_hh}    時間帯 {windows or 'なし'}    "
        f"移動 {mode} ({travel})",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(1)
    pdf.set_font("jp", size=p.font_size_pt)
    total_w = sum(p.col_widths_mm)
    with pdf.table(
        col_widths=tuple(w / total_w * width for w in p.col_widths_mm),
        width=width,
        line_height=4.2,
        min_row_height=p.row_height_mm,
        text_align=("CENTER", "CENTER", "LEFT", "LEFT", "LEFT", "CENTER", "LEFT", "LEFT"),
        headings_style=FontFace(emphasis="", fill_color=(225, 225, 225)),
        repeat_headings=1,
        v_align="MIDDLE",
        padding=(0.6, 1.0),
    ) as table:
        table.row(COLUMNS)
        for block in sheet_blocks(plan):
            for j, r in enumerate(block):
                row = table.row()
                for c, text in enumerate(r):
                    if c < 3:
                        # Number, time and address span the building's rows.
                        if j == 0:
                            row.cell(text, rowspan=len(block))
                    else:
                        row.cell(text)
    notes = sheet_notes(plan)
    if notes:
        pdf.ln(2)
        pdf.set_font("jp", size=7.5)
        for n in notes:
            pdf.multi_cell(0, 4, f"※ {n}", new_x="LMARGIN", new_y="NEXT")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out
