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
from .render import CARD_STATUS_JA, KIND_JA, STATUS_COLOUR, _stop_status, check_plan, reason_label
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
#: Web tiles for the optional background (OpenStreetMap standard tiles).
OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

HANDLE_WITH_CARE = "取扱注意"
COLUMNS: tuple[str, ...] = ("順番", "予定時刻", "住所 / 建物", "区分", "カード状態", "理由", "結果")


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
    col_widths_mm: tuple[float, ...] = (13.0, 16.0, 54.0, 20.0, 18.0, 35.0, 30.0)
    tile_timeout_s: float = 10.0
    tile_url: str = OSM_TILE_URL

    def __post_init__(self) -> None:
        check_positive(
            self,
            "margin_mm",
            "map_height_mm",
            "font_size_pt",
            "row_height_mm",
            "map_dpi",
            "tile_timeout_s",
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


def route_map_png(
    plan: dict[str, Any],
    *,
    width_mm: float,
    height_mm: float,
    beat_geometry: Any = None,
    tile_background: bool = False,
    params: SheetParams | None = None,
    font_path: Path | None = None,
) -> bytes:
    """The route drawn with matplotlib as PNG bytes (project layers only unless ``tile_background``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    p = params or SheetParams()
    font = FontProperties(fname=str(font_path or find_japanese_font()))
    fig = plt.figure(figsize=(width_mm / 25.4, height_mm / 25.4), dpi=p.map_dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    start = plan["start"]
    end = plan.get("end") or start
    stops = plan["stops"]
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
    from matplotlib.collections import LineCollection

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
    straight = bool(straight_legs)
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
    stop_xy = [_merc(stop["lon"], stop["lat"]) for stop in stops]
    xs += [q[0] for q in stop_xy]
    ys += [q[1] for q in stop_xy]
    if stops:
        ax.scatter(
            [q[0] for q in stop_xy],
            [q[1] for q in stop_xy],
            s=150,
            c=[STATUS_COLOUR.get(_stop_status(stop), "#555") for stop in stops],
            edgecolors="white",
            linewidths=1.0,
            zorder=7,
        )
    for stop, (x, y) in zip(stops, stop_xy, strict=True):
        ax.text(
            x,
            y,
            str(stop["order"]),
            ha="center",
            va="center",
            fontsize=6.5,
            color="white",
            weight="bold",
            zorder=8,
        )
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
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal")
    if tile_background:
        _draw_tiles(ax, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), width_mm, p)
    _draw_scale_bar(ax, cx - w / 2, cy - h / 2, w, h, (start["lat"]), font)
    from matplotlib.lines import Line2D

    handles: list[Any] = [Line2D([], [], marker="s", ls="", color="#1f3c88", label="交番 koban")]
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
    if straight:
        handles.append(Line2D([], [], color="#555", ls=(0, (4, 3)), label="直線 (道路経路なし)"))
    if on_streets and any(s.get("path") for s in stops):
        handles.append(Line2D([], [], color="#1565c0", lw=2, label="道路経路"))
    ax.legend(
        handles=handles,
        loc="upper left",
        ncol=len(handles),
        prop=FontProperties(fname=str(font_path or find_japanese_font()), size=6.5),
        framealpha=0.9,
        handlelength=1.6,
        columnspacing=1.0,
        borderpad=0.4,
    ).set_zorder(9)
    ax.add_patch(plt.Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, ec="#888", lw=0.8))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=p.map_dpi)
    plt.close(fig)
    return buf.getvalue()


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
        "© OpenStreetMap contributors",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=5,
        zorder=9,
    )


# ---------------------------------------------------------------- table rows


def sheet_rows(plan: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per household, grouped by stop in visit order (the 結果 column blank)."""
    rows: list[tuple[str, ...]] = []
    for stop in plan["stops"]:
        hh = stop.get("households") or [{}]
        where = stop.get("address", "")
        if stop.get("building_id"):
            where = f"{where} / {stop['building_id']}" if where else str(stop["building_id"])
        time = f"{_hhmm(stop.get('arrival'))}"
        for j, h in enumerate(hh):
            order = str(stop["order"]) if len(hh) == 1 else f"{stop['order']}-{j + 1}"
            kind = KIND_JA.get(h.get("kind", ""), h.get("kind", ""))
            if h.get("floor") not in (None, "", 1) or (h.get("floor") == 1 and len(hh) > 1):
                kind += f" {h['floor']}階"
            status = CARD_STATUS_JA.get(h.get("card_status", ""), "") if h else ""
            reasons = "、".join(reason_label(r) for r in h.get("reasons", []))
            rows.append(
                (
                    order,
                    time if j == 0 else "",
                    where if j == 0 else "〃",
                    kind,
                    status,
                    reasons,
                    "",
                )
            )
    return rows


def _hhmm(t: object) -> str:
    s = str(t or "")
    return s[:5] if len(s) >= 5 else s


# ---------------------------------------------------------------- the PDF


def route_sheet_pdf(
    plan: dict[str, Any],
    out_path: str | Path,
    *,
    beat_geometry: Any = None,
    tile_background: bool = False,
    params: SheetParams | None = None,
) -> Path:
    """Write the A4 portrait route sheet of ``plan`` (``DayPlan.to_dict()``) to ``out_path``."""
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
            self.cell(0, 7, "巡回連絡 訪問予定表  Route sheet", new_x="LMARGIN", new_y="NEXT")
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
    png = route_map_png(
        plan,
        width_mm=width,
        height_mm=p.map_height_mm,
        beat_geometry=beat_geometry,
        tile_background=tile_background,
        params=p,
        font_path=font_path,
    )
    pdf.image(io.BytesIO(png), x=p.margin_mm, y=pdf.get_y(), w=width, h=p.map_height_mm)
    pdf.set_y(pdf.get_y() + p.map_height_mm + 2)
    pdf.set_font("jp", size=8.5)
    totals = plan.get("totals") or {}
    windows = "、".join(f"{_hhmm(a)}–{_hhmm(b)}" for a, b in plan.get("windows", []))
    n_hh = totals.get("households", sum(len(s.get("households", [])) for s in plan["stops"]))
    travel = "道路網" if plan.get("travel_source") == "network" else "直線距離"
    pdf.multi_cell(
        0,
        4.5,
        f"訪問先 {len(plan['stops'])} 件 / 世帯等 {n_hh}    時間帯 {windows or '-'}    移動 {plan.get('travel_mode', '')} ({travel})",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(1)
    pdf.set_font("jp", size=p.font_size_pt)
    rows = sheet_rows(plan)
    total_w = sum(p.col_widths_mm)
    with pdf.table(
        col_widths=tuple(w / total_w * width for w in p.col_widths_mm),
        width=width,
        line_height=4.2,
        min_row_height=p.row_height_mm,
        text_align=("CENTER", "CENTER", "LEFT", "LEFT", "CENTER", "LEFT", "LEFT"),
        headings_style=FontFace(emphasis="", fill_color=(225, 225, 225)),
        repeat_headings=1,
        v_align="MIDDLE",
        padding=(0.6, 1.0),
    ) as table:
        table.row(COLUMNS)
        for r in rows:
            table.row(r)
    notes = [str(n) for n in plan.get("notes", [])]
    skipped = plan.get("skipped") or []
    if skipped:
        notes.append(f"今回訪問しない世帯等 {len(skipped)} 件 (時間等の理由)")
    if notes:
        pdf.ln(2)
        pdf.set_font("jp", size=7.5)
        for n in notes:
            pdf.multi_cell(0, 4, f"※ {n}", new_x="LMARGIN", new_y="NEXT")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out
