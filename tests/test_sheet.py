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
    for col in ("順番", "予定時刻", "住所 / 建物", "区分", "カード状態", "理由", "結果"):
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
        assert "順番" in t  # the table heading repeats on every page
    joined = "\n".join(texts)
    pos = _positions(joined, [s["address"] for s in plan["stops"]])
    assert pos == sorted(pos)


def test_rows_cover_every_household_in_order():
    plan = synthetic_plan(30, seed=9)
    rows = sheet_rows(plan)
    assert len(rows) == sum(len(s["households"]) for s in plan["stops"])
    orders = [int(r[0].split("-")[0]) for r in rows]
    assert orders == sorted(orders)
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
