"""Derive the bundled 町字 representative points of Ishikawa (石川県).

Run from the repository root::

    python data/derive_machiaza.py --shared ../shared --out data/ishikawa_machiaza.csv.gz

Input: ``shared/data/kanazawa/addresses/*.json``, one file per municipality
(19 in Ishikawa), each a list of ``{town, koaza, lat, lng}`` (Geolonia
japanese-addresses, CC BY 4.0, based on the MLIT 位置参照情報). Output: one
gzip CSV (UTF-8), one row per point, sorted by municipality, town, koaza:
``prefecture, city, town, koaza, lat, lng``. ``koaza`` is empty for the
town's own point (every town has one). Two towns of 金沢市 have no
coordinates in the source (いなほ三丁目, 金石上越前町): they are kept with
empty lat / lng, so that an address there is reported as "no point in the
reference" rather than "unknown town". Nothing else is changed: names are
copied as published (kanji numerals: 広坂二丁目), coordinates as given. The
gzip header carries no time stamp, so reruns give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from pathlib import Path

PREFECTURE = "石川県"
COLUMNS = ["prefecture", "city", "town", "koaza", "lat", "lng"]


def derive(shared: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    folder = shared / "data" / "kanazawa" / "addresses"
    for path in sorted(folder.glob("*.json")):
        city = path.stem
        for point in json.loads(path.read_text(encoding="utf-8")):
            rows.append(
                [
                    PREFECTURE,
                    city,
                    point["town"],
                    point["koaza"],
                    "" if point["lat"] is None else f"{float(point['lat']):.6f}",
                    "" if point["lng"] is None else f"{float(point['lng']):.6f}",
                ]
            )
    rows.sort(key=lambda r: (r[1], r[2], r[3]))
    return rows


def write(rows: list[list[str]], out: Path) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    data = gzip.compress(text.getvalue().encode("utf-8"), compresslevel=9, mtime=0)
    out.write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("data/ishikawa_machiaza.csv.gz"))
    args = parser.parse_args()
    rows = derive(args.shared)
    write(rows, args.out)
    towns = {(r[1], r[2]) for r in rows}
    empty = sum(1 for r in rows if not r[4])
    print(
        f"{args.out}: {len(rows)} points, {len(towns)} towns, "
        f"{len({r[1] for r in rows})} municipalities, {empty} without coordinates"
    )


if __name__ == "__main__":
    main()
