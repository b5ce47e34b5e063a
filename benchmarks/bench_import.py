"""Import + validate the bundled Kanazawa layers and time each step.

Usage: ``python benchmarks/bench_import.py [--repeats 3]``. Prints a markdown
table and writes it to ``benchmarks/results/import.md``.

Peer: a plain, unvalidated read of the same file (``geopandas.read_parquet``
/ ``read_file`` / ``pandas``) plus the projection to EPSG:6675, in the same
run; the ratio is the price of validation. The acceptance target is
households + beats + koban, with the cross-layer checks, in at most 10 s on
2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from junkai_geo import bundled
from junkai_geo.cards import card_table
from junkai_geo.ingest import read_dataset, read_layer

RESULTS = Path(__file__).resolve().parent / "results" / "import.md"
TARGET_S = 10.0
LAYERS = ["households", "beats", "koban", "units", "buildings", "visits", "officers"]


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` runs and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def plain_read(path: Path) -> Any:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        try:
            return gpd.read_parquet(path).to_crs("EPSG:6675")
        except ValueError:  # no geometry: a plain table
            return pd.read_parquet(path)
    return gpd.read_file(path).to_crs("EPSG:6675")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    directory = bundled.data_dir()
    today: date = bundled.as_of()
    paths = {layer: directory / bundled.FILES[layer] for layer in LAYERS}
    # Warm up imports and file caches so the first layer is not charged for them.
    read_layer(paths["koban"], "koban", today=today)
    plain_read(paths["koban"])

    rows = []
    for layer in LAYERS:
        t_ours, frame = timed(
            lambda layer=layer: read_layer(paths[layer], layer, today=today), args.repeats
        )
        t_peer, _ = timed(lambda layer=layer: plain_read(paths[layer]), args.repeats)
        rows.append((layer, len(frame), t_ours, t_peer))

    core = {k: paths[k] for k in ("households", "beats", "koban")}
    t_core, _ = timed(lambda: read_dataset(core, today=today), args.repeats)
    t_all, dataset = timed(lambda: bundled.load_kanazawa(), args.repeats)
    t_cards, _ = timed(
        lambda: card_table(dataset.households, dataset.visits, today=today), args.repeats
    )

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Import and validation of the bundled Kanazawa data",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}), load average {load:.1f} at "
        f"start; Python {platform.python_version()}, pandas {pd.__version__}, "
        f"geopandas {gpd.__version__}. Median of {args.repeats} runs, seconds.",
        "",
        "Peer: plain read of the same file + projection to EPSG:6675, no checks.",
        "",
        "| layer | rows | read_layer (validated) s | plain read s | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for layer, n, ours, peer in rows:
        lines.append(f"| {layer} | {n:,} | {ours:.2f} | {peer:.2f} | {ours / peer:.1f}x |")
    per_layer = sum(r[2] for r in rows)
    lines += [
        f"| **all layers, one by one** | | **{per_layer:.2f}** | "
        f"**{sum(r[3] for r in rows):.2f}** | |",
        "",
        "| step | s | target |",
        "|---|---:|---|",
        f"| read_dataset(households + beats + koban), with cross-layer checks | {t_core:.2f} | "
        f"<= {TARGET_S:g} s: {'met' if t_core <= TARGET_S else 'MISSED'} |",
        f"| bundled.load_kanazawa() (7 layers, all checks) | {t_all:.2f} | |",
        f"| card_table({len(dataset.households):,} households, {len(dataset.visits):,} visits) "
        f"| {t_cards:.2f} | |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
