"""The A4 route sheet, read back with pypdf."""

from __future__ import annotations

import http.server
import io
import json
import re
import sys
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import synthetic_plan  # noqa: E402

from junkai_geo import offline  # noqa: E402
from junkai_geo.cli import main  # noqa: E402
from junkai_geo.errors import NetworkError  # noqa: E402
from junkai_geo.render import read_plan  # noqa: E402
from junkai_geo.sheet import (  # noqa: E402
    FONT_ENV,
    HANDLE_WITH_CARE,
    FontNotFoundError,
    SheetParams,
    find_japanese_font,
    route_sheet_pdf,
    sheet_rows,
)


@pytest.fixture(scope="module")
def plan(fixtures_dir: Path) -> dict:
    return read_plan(fixtures_dir / "maps_plan_small.json")


@pytest.fixture(scope="module")
def beat(fixtures_dir: Path) -> dict:
    return json.loads((fixtures_dir / "maps_beat_k12b1.geojson").read_text(encoding="utf-8"))


def _texts(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def _positions(text: str, needles: list[str]) -> list[int]:
    return [text.index(n) for n in needles]


def test_sheet_lists_stops_in_order_with_officer_and_date(plan, beat, tmp_path):
    path = route_sheet_pdf(plan, tmp_path / "sheet.pdf", beat_geometry=beat)
    (text,) = _texts(path)
    assert plan["officer_id"] in text and plan["date"] in text
    assert plan["beat_id"] in text and plan["start"]["label"] in text
    for col in ("番号", "予定時刻", "住所 / 建物", "部屋・戸口", "区分・階", "カード", "理由"):
        assert col in text
    addresses = [s["address"] for s in plan["stops"]]
    pos = _positions(text, addresses)
    assert pos == sorted(pos), "stop rows are not in visit order"
    assert "未把握" in text and "要更新" in text and "1 / 1" in text
    assert HANDLE_WITH_CARE in text


def test_fonts_are_embedded_truetype(plan, tmp_path):
    path = route_sheet_pdf(plan, tmp_path / "sheet.pdf")
    reader = PdfReader(path)
    embedded = []
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        for ref in fonts.values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target["/FontDescriptor"].get_object()
            embedded.append("/FontFile2" in descriptor)
    assert embedded and all(embedded)


def test_long_route_paginates_with_marking_and_page_numbers(tmp_path):
    plan = synthetic_plan(80, seed=4)
    path = route_sheet_pdf(plan, tmp_path / "long.pdf")
    texts = _texts(path)
    n = len(texts)
    assert n >= 3
    for i, t in enumerate(texts, start=1):
        assert HANDLE_WITH_CARE in t
        assert f"{i} / {n}" in t
        assert plan["officer_id"] in t and plan["date"] in t
        assert "番号" in t  # the table heading repeats on every page
    joined = "\n".join(texts)
    pos = _positions(joined, [s["address"] for s in plan["stops"]])
    assert pos == sorted(pos)


def test_rows_cover_every_household_in_order():
    plan = synthetic_plan(30, seed=9)
    rows = sheet_rows(plan)
    assert len(rows) == sum(len(s["households"]) for s in plan["stops"])
    orders = [int(r[0]) for r in rows if r[0]]
    assert orders == list(range(1, len(plan["stops"]) + 1))  # one building per stop here
    assert all(r[-1] == "" for r in rows)  # the result column is left blank


def test_missing_font_names_what_to_install(monkeypatch, plan, tmp_path):
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "nofont.ttf"))
    with pytest.raises(FontNotFoundError, match=FONT_ENV):
        route_sheet_pdf(plan, tmp_path / "x.pdf")


def test_font_found_is_truetype():
    head = find_japanese_font().read_bytes()[:4]
    assert head in (b"\x00\x01\x00\x00", b"true")


class _TileHandler(http.server.BaseHTTPRequestHandler):
    png: bytes = b""
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_tile_background_from_a_local_tile_server(plan, tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (120, 200, 120)).save(buf, format="PNG")
    handler = type("H", (_TileHandler,), {"png": buf.getvalue(), "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        params = SheetParams(tile_url=url)
        path = route_sheet_pdf(plan, tmp_path / "tiles.pdf", tile_background=True, params=params)
    finally:
        server.shutdown()
        server.server_close()
    assert handler.hits and all(re.fullmatch(r"/\d+/\d+/\d+\.png", h) for h in handler.hits)
    assert "OpenStreetMap" not in _texts(path)[0]  # attribution is drawn in the image


def test_unreachable_tile_server_is_a_clear_error(plan, tmp_path):
    params = SheetParams(tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png", tile_timeout_s=2.0)
    with pytest.raises(NetworkError, match="tile_background=False"):
        route_sheet_pdf(plan, tmp_path / "x.pdf", tile_background=True, params=params)


def test_cli_writes_sheet_and_offline_map(fixtures_dir, tmp_path, capsys):
    offline.install_assets()  # from the npm registry when absent
    out = tmp_path / "cli.pdf"
    html = tmp_path / "m" / "route.html"
    rc = main(
        [
            "sheet",
            str(fixtures_dir / "maps_plan_small.json"),
            "--out",
            str(out),
            "--beat",
            str(fixtures_dir / "maps_beat_k12b1.geojson"),
            "--html",
            str(html),
            "--offline",
        ]
    )
    assert rc == 0 and out.is_file() and html.is_file()
    assert (html.parent / "assets" / "leaflet" / "leaflet.js").is_file()
    assert "route sheet:" in capsys.readouterr().out


def test_cli_bad_plan_exits_1_naming_the_file(fixtures_dir, tmp_path, capsys):
    rc = main(
        ["sheet", str(fixtures_dir / "maps_plan_bad_order.json"), "--out", str(tmp_path / "x.pdf")]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert "maps_plan_bad_order.json" in err and "order" in err


# ---------------------------------------------------------------- to the door (issue 16)

#: ASCII words allowed on the sheet: units of the scale bar. Any other run of
#: ASCII letters must sit in a token with a digit (an id such as B0200001 or
#: K12-1, a door label such as 4F-2, an address number); a token of letters
#: only ("Route", "koban", "note") is English and fails.
ALLOWED_ASCII_WORDS = frozenset({"m", "km"})


def english_words(text: str) -> list[str]:
    """Tokens of ``text`` that are ASCII words (see ALLOWED_ASCII_WORDS)."""
    out = []
    for token in re.split(r"[\s/()、,:：（）・]+", text):
        if re.search(r"[A-Za-z]", token) and not re.search(r"\d", token):
            words = re.findall(r"[A-Za-z]+", token)
            if any(w not in ALLOWED_ASCII_WORDS for w in words):
                out.append(token)
    return out


def _door_plan() -> dict:
    """A plan whose building B0 is split into two consecutive stops, door labels set."""
    plan = synthetic_plan(12, seed=5)
    stops = plan["stops"]
    doors = iter(["401号室", "4F-2", "2号棟 101", "1F店舗", "102号室", "3F-1", "B1F-1"] * 10)
    for s in stops:
        for h in s["households"]:
            h["unit"] = next(doors)
    # Stops 3 and 4 are the same building (the routing's floor nodes).
    stops[3]["building_id"] = stops[2]["building_id"]
    stops[3]["address"] = stops[2]["address"]
    stops[3]["households"][0]["floor"] = 1
    stops[2]["households"][0]["floor"] = 5
    # Stops 6..9 stand within a few metres: their badges would overlap.
    for k in range(6, 10):
        stops[k]["lon"] = stops[6]["lon"] + 0.00002 * k
        stops[k]["lat"] = stops[6]["lat"]
    plan["notes"] = ["1803 of 1863 building nodes left out before routing (max_candidates 60)"]
    plan["skipped"] = [{"household_id": "H1", "reason": "no_time"}]
    return plan


def _placed_texts(path: Path) -> list[tuple[int, str, float, float, float]]:
    """(page, text, x_mm, y_mm from the top, font size) of every text run."""
    out = []
    for n, page in enumerate(PdfReader(path).pages):
        height = float(page.mediabox.height)

        def visit(text, cm, tm, _font, size, n=n, height=height):
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                out.append((n, text.strip(), x * 25.4 / 72, (height - y) * 25.4 / 72, size))

        page.extract_text(visitor_text=visit)
    return out


def test_one_number_per_building_visit_on_map_and_list(tmp_path):
    from junkai_geo.render import building_visits

    plan = _door_plan()
    visits, split = building_visits(plan)
    assert len(visits) == len(plan["stops"]) - 1 and split == []
    merged = visits[2]
    assert merged.stop_orders == [3, 4]
    floors = [h["floor"] for h in merged.households]
    assert floors == sorted(floors)  # ground floor up
    p = SheetParams()
    path = route_sheet_pdf(plan, tmp_path / "doors.pdf", params=p)
    placed = _placed_texts(path)
    map_top = p.margin_mm + 14
    in_map = [t for t in placed if t[0] == 0 and map_top <= t[3] <= map_top + p.map_height_mm]
    numbers_on_map = sorted(int(t[1]) for t in in_map if t[1].isdigit())
    assert numbers_on_map == list(range(1, len(visits) + 1))
    # The list: the 番号 column holds each number once, in order.
    col_right = p.margin_mm + p.col_widths_mm[0] / sum(p.col_widths_mm) * (210 - 2 * p.margin_mm)
    in_list = [
        int(t[1])
        for t in placed
        if t[3] > map_top + p.map_height_mm and t[2] < col_right and t[1].isdigit()
    ]
    assert in_list == list(range(1, len(visits) + 1))


def test_badges_never_closer_than_their_radius(tmp_path):
    from fpdf import FPDF

    from junkai_geo.sheet import find_japanese_font

    plan = _door_plan()
    p = SheetParams()
    path = route_sheet_pdf(plan, tmp_path / "doors.pdf", params=p)
    map_top = p.margin_mm + 14
    badges = [
        t
        for t in _placed_texts(path)
        if t[0] == 0 and map_top <= t[3] <= map_top + p.map_height_mm and t[1].isdigit()
    ]
    # Text runs start at their left edge: centre them with the font's own widths.
    ruler = FPDF()
    ruler.add_font("jp", fname=str(find_japanese_font()))
    ruler.set_font("jp", size=badges[0][4])
    centres = [(x + ruler.get_string_width(t) / 2, y) for _, t, x, y, _ in badges]
    assert len(centres) == 11
    closest = min(
        ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5
        for i, a in enumerate(centres)
        for b in centres[i + 1 :]
    )
    assert closest >= 2 * p.badge_radius_mm, closest


def test_every_household_has_its_door_label_and_the_sheet_is_japanese(tmp_path):
    plan = _door_plan()
    path = route_sheet_pdf(plan, tmp_path / "doors.pdf")
    text = "\n".join(_texts(path))
    for s in plan["stops"]:
        for h in s["households"]:
            assert h["unit"] in text
    assert english_words(text) == []
    assert "max_candidates" not in text and "building nodes" not in text
    assert "下の階から上の階へ" in text  # the walking order is said
    assert "予定に入らなかった世帯等 1 件" in text


def test_english_words_are_found():
    assert english_words("Route sheet 巡回連絡") == ["Route", "sheet"]
    assert english_words("K12-1 4F-2 B0200001 250 m 1 km 2号棟 101") == []


def test_building_visited_twice_apart_is_reported():
    from junkai_geo.render import building_visits

    plan = synthetic_plan(5, seed=1)
    plan["stops"][3]["building_id"] = plan["stops"][0]["building_id"]
    visits, split = building_visits(plan)
    assert len(visits) == 5 and split == [plan["stops"][0]["building_id"]]


def test_door_labels_from_addresses():
    import pandas as pd

    from junkai_geo.render import attach_unit_labels, split_address

    assert split_address("上柿木畠 1-1 401号室") == ("上柿木畠 1-1", "401号室")
    assert split_address("広坂２丁目 1-1 1F-2") == ("広坂２丁目 1-1", "1F-2")
    assert split_address("長町３丁目 長町団地 1号棟 101") == ("長町３丁目 長町団地 1号棟", "101")
    assert split_address("暁町 21-9") == ("暁町 21-9", "")
    plan = synthetic_plan(2, seed=0)
    ids = [h["household_id"] for s in plan["stops"] for h in s["households"]]
    table = pd.DataFrame(
        {"household_id": ids, "address": [f"本町 1-1 {k}01号室" for k in range(len(ids))]}
    )
    out = attach_unit_labels(plan, table)
    assert [h["unit"] for s in out["stops"] for h in s["households"]] == [
        f"{k}01号室" for k in range(len(ids))
    ]
    assert "unit" not in plan["stops"][0]["households"][0]  # the input is not changed


def test_unused_night_window_is_said_on_the_sheet(tmp_path):
    plan = synthetic_plan(3, seed=2)
    plan["windows"] = [["09:00:00", "12:00:00"], ["18:00:00", "20:00:00"]]
    plan["night_windows"] = [
        {
            "window": "18:00-20:00",
            "code": "no_candidate",
            "text_ja": "夜間 18:00-20:00 は未使用: この時間帯に面接見込み 0.50 以上の候補なし (最高 0.31)",
        }
    ]
    path = route_sheet_pdf(plan, tmp_path / "night.pdf")
    text = "\n".join(_texts(path))
    assert "夜間 18:00–20:00 の訪問予定なし" in text and "面接見込み 0.50 以上の候補なし" in text
    assert english_words(text) == []
