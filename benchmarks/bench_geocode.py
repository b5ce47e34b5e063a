"""Addresses located per second: 10,000 household addresses in mixed styles.

Usage: ``python benchmarks/bench_geocode.py [--n 10000] [--repeats 3]``.
Prints a markdown table and writes it to ``benchmarks/results/geocode.md``.

The addresses are those of the bundled Kanazawa households (the census
町丁目 names with synthetic block numbers, e.g. ``古府１丁目 11-7 101号室``),
a seeded sample, each rewritten in one of five styles in turn: full-width
with the prefecture, kanji numerals, without the prefecture, 番地, hyphens.
They are located against the bundled Ishikawa 町字 list, with the
look-up cache cleared before each run (every address is located afresh).

Peer, in the same run: an exact dictionary look-up of the canonical
"市区町村 + 町字" text (no normalisation, no parsing), the lower bound of any
locator; it finds only addresses already written exactly as the reference.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jaconv
import kanjize
import pandas as pd

from junkai_geo import bundled
from junkai_geo.formats.addresses import LEVEL_NONE, AddressReference, geocode_households

RESULTS = Path(__file__).resolve().parent / "results" / "geocode.md"
_ADDRESS = re.compile(r"^(?P<town>\S+)(?: (?P<block>\d+)-(?P<go>\d+))?(?P<rest>.*)$")
_CHOME = re.compile(r"^(?P<base>.*?)(?P<n>[0-9０-９]+)丁目$")


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        AddressReference._locate_key.cache_clear()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def styled(address: str, style: int) -> str:
    """One bundled household address ("古府１丁目 11-7 101号室") in one of five styles."""
    m = _ADDRESS.match(address)
    assert m is not None, address
    town, block, go, rest = m["town"], m["block"] or "1", m["go"] or "1", m["rest"]
    c = _CHOME.match(town)
    base = c["base"] if c else town
    chome = int(jaconv.z2h(c["n"], digit=True)) if c else None
    wide = lambda v: jaconv.h2z(str(v), digit=True)  # noqa: E731
    kan = lambda v: kanjize.number2kanji(int(v))  # noqa: E731
    if style == 0:  # full-width, with prefecture
        t = f"{base}{wide(chome)}丁目" if c else town
        return f"石川県金沢市{t}{wide(block)}番{wide(go)}号{rest}"
    if style == 1:  # kanji numerals
        t = f"{base}{kan(chome)}丁目" if c else town
        return f"石川県金沢市{t}{kan(block)}番{kan(go)}号{rest}"
    if style == 2:  # without prefecture
        t = f"{base}{chome}丁目" if c else town
        return f"金沢市{t}{block}番{go}号{rest}"
    if style == 3:  # 番地
        t = f"{base}{chome}丁目" if c else town
        return f"石川県金沢市{t}{block}番地{go}{rest}"
    t = f"{base}{chome}-" if c else town  # hyphens
    return f"金沢市{t}{block}-{go}{rest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261101)
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

    households = pd.read_parquet(bundled.data_dir() / "households.parquet", columns=["address"])
    rng = random.Random(args.seed)
    sample = rng.sample(households["address"].tolist(), args.n)
    addresses = [styled(a, i % 5) for i, a in enumerate(sample)]

    t0 = time.perf_counter()
    reference = AddressReference.bundled()
    t_load = time.perf_counter() - t0

    t_ours, located = timed(lambda: [reference.locate(a) for a in addresses], args.repeats)
    levels = Counter(x.level for x in located)
    ambiguous = sum(1 for x in located if x.ambiguous)
    by_style = [
        sum(1 for i, x in enumerate(located) if i % 5 == s and x.level != LEVEL_NONE)
        for s in range(5)
    ]
    missed = Counter(
        re.sub(r"[ 0-9-].*$", "", sample[i]) for i, x in enumerate(located) if not x.found
    )

    exact = {f"{c}{t}": (1.0, 1.0) for _, c, t in reference.town_names()}
    canonical = [f"{'金沢市'}{_ADDRESS.match(a)['town']}" for a in sample]  # type: ignore[index]
    t_peer, hits = timed(lambda: [exact.get(a) for a in canonical], args.repeats)
    peer_found = sum(1 for h in hits if h is not None)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "households.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["household_id", "住所", "種別"])
            w.writerows([f"H{i:05d}", a, "世帯"] for i, a in enumerate(addresses))
        t_file, read = timed(lambda: geocode_households(path, reference), args.repeats)

    n = len(addresses)
    styles = ["full-width + 県", "kanji numerals", "without 県", "番地", "hyphens"]
    lines = [
        f"# Address location: {n:,} household addresses in five styles",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}), Python "
        f"{platform.python_version()}; `uptime` at start: `{uptime}` (the machine is shared). "
        f"Median of {args.repeats} runs, cache cleared before each.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| reference load (bundled Ishikawa 町字, {reference.towns:,} points) s | {t_load:.2f} |",
        f"| locate {n:,} addresses s | {t_ours:.3f} |",
        f"| **addresses located per second** | **{n / t_ours:,.0f}** |",
        f"| geocode_households on a {n:,}-row CSV s (read + locate + frame) | {t_file:.3f} |",
        f"| rows per second, whole file | {n / t_file:,.0f} |",
        f"| peer: exact dict look-up of the canonical text s | {t_peer:.4f} |",
        f"| ours / peer time | {t_ours / t_peer:,.0f}x |",
        f"| located at 町字 | {levels.get('町字', 0):,} ({levels.get('町字', 0) / n:.1%}) |",
        f"| not found | {levels.get(LEVEL_NONE, 0) - ambiguous:,} |",
        f"| ambiguous | {ambiguous:,} |",
        f"| peer found (exact canonical text only) | {peer_found:,} ({peer_found / n:.1%}) |",
        "",
        "| style | located |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {k:,} / {n // 5:,} |" for name, k in zip(styles, by_style, strict=True)]
    if missed:
        lines += [
            "",
            "Census names (the bundled households use the 2015 census MOJI) that the "
            "町字 list does not have, reported as not found: "
            + ", ".join(f"{k} ({v})" for k, v in missed.most_common(10)),
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    assert len(read.frame) == n
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
