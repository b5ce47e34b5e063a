"""Rebuild the gallery from the bundled Kanazawa data.

Writes, next to this file: a beats map (workload, 未把握 per building) and a
route map of one officer's planned day as HTML (offline mode, assets in
``assets/``, not committed) and PNG screenshots taken in headless Chromium,
and page 1 of the route sheet as PNG (rasterised with pypdfium2 or pdftoppm).

Run: ``python maps/gallery/make_gallery.py [--officer K01-1-O]``. Needs the
dev tools of the map tests (Playwright, the system chromium) and pypdfium2.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import launch, serve  # noqa: E402

MAX_PNG_BYTES = 500_000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--officer", default="K01-1-O")
    args = ap.parse_args(argv)

    from junkai_geo import offline
    from junkai_geo.bundled import as_of, load_kanazawa
    from junkai_geo.cards import card_table
    from junkai_geo.cli import main as cli
    from junkai_geo.render import (
        attach_unit_labels,
        beats_map,
        building_visits,
        read_plan,
        route_map,
        save_map,
    )
    from junkai_geo.sheet import route_sheet_pdf
    from junkai_geo.workload import beat_workload_h

    offline.install_assets()
    data = load_kanazawa(validate=False)
    assert data.beats is not None and data.households is not None and data.units is not None
    cards = card_table(data.households, data.visits, today=as_of())
    beats = data.beats.copy()
    work = beat_workload_h(data.units, data.households, cards, data.buildings, data.koban)
    beats["workload_h"] = beats["beat_id"].astype(str).map(work).round(1).to_numpy()
    status = cards.reindex(data.households["household_id"])["status"].to_numpy()
    unvisited = data.households.loc[status == "none", ["building_id", "geometry"]]
    beats["unvisited"] = (
        data.households.loc[status == "none", "beat_id"]
        .value_counts()
        .reindex(beats["beat_id"])
        .fillna(0)
        .astype(int)
        .to_numpy()
    )
    save_map(
        beats_map(
            beats,
            workload_col="workload_h",
            koban_gdf=data.koban,
            unvisited_points=unvisited,
            units_gdf=data.units,
        ),
        HERE / "beats_kanazawa.html",
    )

    with tempfile.TemporaryDirectory() as tmp:
        plan_path = Path(tmp) / "plan.json"
        rc = cli(["plan", "--officer", args.officer, "--out", str(plan_path)])
        if rc != 0:
            return rc
        plan = read_plan(plan_path)
    # The plan JSON has no door labels yet: take them from the households layer.
    plan = attach_unit_labels(plan, data.households)
    _visits, split = building_visits(plan)
    if split:
        print(f"buildings visited at non-consecutive stops: {split}")
    (HERE / "plan_example.json").write_text(
        json.dumps(plan, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    beat_geom = data.beats[data.beats["beat_id"] == plan["beat_id"]].to_crs(4326)
    save_map(
        route_map(plan, beat_geometry=beat_geom, units_gdf=data.units),
        HERE / "route_example.html",
    )
    sheet = route_sheet_pdf(
        plan, HERE / "route_sheet_example.pdf", beat_geometry=beat_geom, units=data.units
    )

    with launch() as browser, serve(HERE) as base:
        for name in ("beats_kanazawa", "route_example"):
            size = (
                {"width": 1000, "height": 900}
                if name.startswith("beats")
                else {"width": 900, "height": 620}
            )
            page = browser.new_page(viewport=size)  # type: ignore[attr-defined]
            page.goto(f"{base}/{name}.html", wait_until="load")
            page.wait_for_selector(".leaflet-container")
            page.wait_for_timeout(500)
            _save_png(page.screenshot(), HERE / f"{name}.png")
            page.close()

    _save_png(_page1_png(sheet), HERE / "route_sheet_page1.png")
    for p in sorted(HERE.glob("*.png")):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size / 1000:.0f} kB")
    return 0


def _page1_png(pdf_path: Path) -> bytes:
    """Page 1 of a PDF as PNG: pypdfium2 when installed, else poppler's pdftoppm."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        import shutil
        import subprocess

        exe = shutil.which("pdftoppm")
        if exe is None:
            raise SystemExit(
                "rasterising the sheet needs pypdfium2 or pdftoppm (poppler-utils)"
            ) from None
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [exe, "-r", "90", "-png", "-f", "1", "-l", "1", str(pdf_path), f"{tmp}/p"],
                check=True,
            )
            return next(Path(tmp).glob("p*.png")).read_bytes()
    pdf = pdfium.PdfDocument(str(pdf_path))
    img = pdf[0].render(scale=1.25).to_pil()
    pdf.close()
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _save_png(png: bytes, path: Path) -> None:
    """Write ``png``, quantised to a palette when it is over the size limit."""
    if len(png) > MAX_PNG_BYTES:
        from PIL import Image

        img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        png = buf.getvalue()
    if len(png) > MAX_PNG_BYTES:
        raise SystemExit(f"{path}: {len(png)} bytes; expected at most {MAX_PNG_BYTES}")
    path.write_bytes(png)


if __name__ == "__main__":
    sys.exit(main())
