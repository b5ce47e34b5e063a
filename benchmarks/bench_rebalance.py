"""Beat rebalancing against spopt's fixed-count regionalisers, in one run.

Bundled Kanazawa 町丁目 units into the bundled beat count, workload from the
household model. Every plan is scored by the same code (junkai_geo's
``BeatProblem.evaluate`` on a problem without kobans, so the figures compare
like with like): largest relative deviation from the mean workload, beats in
more than one part (contiguity), mean compactness around each beat's workload
centroid (1 = a disc), and wall time. Contiguity is also checked on a queen
graph made by libpysal from the geometry alone.

Peers (``pip install spopt``, the ``bench`` extra): AZP, RegionKMeansHeuristic,
Skater and WardSpatial, each given the same adjacency and the workload as
their attribute. They minimise attribute heterogeneity, not workload spread:
that is the point of the comparison, since they are what a GIS analyst would
reach for.

junkai_geo runs twice on the data: on the 町丁目 as they are, and on the
refined units (the default of the household model: units heavier than
``RebalanceParams.split_unit_share`` of a mean beat split into sub-units from
their household points, :func:`junkai_geo.workload.refine_units`); the spopt
rows use the 町丁目. Sub-unit plans are checked on the sub-units' own
geometry (queen graph), so contiguity is recomputed from what is drawn.

Those rows use the best-balance mode (the most even beats). The tolerance
sweep then answers the manager's question, "what is the smallest change that
brings every beat within ±X %?": the minimal-change mode (the default) on the
sub-units with the koban rule at 20 / 15 / 10 / 5 %, and for comparison the
best-balance mode at the same tolerances: feasibility (every rule and the
tolerance), largest deviation, households and units moved, compactness around
the kobans, beats off their koban's unit, split beats on the queen graph.

Also: 5,000 synthetic Voronoi units into 300 beats (scale, best-balance).

Usage: ``python benchmarks/bench_rebalance.py [--quick] [--sweep-only]``;
writes ``benchmarks/results/rebalance.md`` (``--sweep-only``: the sweep section
to ``benchmarks/results/rebalance_sweep.md`` only).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from junkai_geo.rebalance import BeatProblem, RebalanceParams, rebalance_beats  # noqa: E402
from junkai_geo.rebalance.report import sweep_rows  # noqa: E402

DATA = ROOT / "data" / "kanazawa"
OUT = ROOT / "benchmarks" / "results" / "rebalance.md"
SWEEP_OUT = ROOT / "benchmarks" / "results" / "rebalance_sweep.md"
TOLERANCES = (0.20, 0.15, 0.10, 0.05)


def bundled_units(
    split_shares: tuple[float, ...],
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[float, Any]]:
    """町丁目 with household-model workload, the kobans, and refinements by share."""
    from junkai_geo.bundled import as_of, load_kanazawa
    from junkai_geo.cards import card_table
    from junkai_geo.workload import refine_units, unit_workload_h

    ds = load_kanazawa(validate=False)
    assert ds.units is not None and ds.households is not None and ds.koban is not None
    cards = card_table(ds.households, ds.visits, today=as_of())
    hours = unit_workload_h(ds.units, ds.households, cards, ds.buildings, ds.koban)
    units = ds.units.copy()
    units["workload_h"] = units["unit_id"].astype(str).map(hours).to_numpy()
    k = int(units["beat_id"].nunique())
    refined = {}
    for share in split_shares:
        start = time.perf_counter()
        ref = refine_units(
            ds.units, ds.households, cards, ds.buildings, ds.koban, n_beats=k, split_share=share
        )
        refined[share] = (ref, time.perf_counter() - start)
    return units, ds.koban, refined


def queen_parts(units: gpd.GeoDataFrame, labels: np.ndarray) -> int:
    """Beats in more than one part on libpysal's queen graph of the geometry."""
    try:
        from libpysal.weights import Queen
    except ImportError:  # without the bench extra: the same rule from shapely
        neighbours = _queen_neighbours(units)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            neighbours = Queen.from_dataframe(
                units, use_index=False, silence_warnings=True
            ).neighbors
    bad = 0
    for b in np.unique(labels):
        members = set(np.flatnonzero(labels == b).tolist())
        start = next(iter(members))
        seen = {start}
        stack = [start]
        while stack:
            u = stack.pop()
            for v in neighbours[u]:
                if v in members and v not in seen:
                    seen.add(v)
                    stack.append(v)
        bad += len(seen) != len(members)
    return bad


def _queen_neighbours(units: gpd.GeoDataFrame) -> dict[int, list[int]]:
    """Polygons sharing at least a point (queen contiguity), from the geometry alone."""
    geoms = units.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    out: dict[int, list[int]] = {i: [] for i in range(len(geoms))}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i != j:
            out[i].append(j)
    return out


def score(
    problem: BeatProblem,
    units: gpd.GeoDataFrame,
    name: str,
    labels: np.ndarray,
    seconds: float,
    note: str = "",
) -> dict[str, Any]:
    k = problem.n_beats
    codes = np.unique(labels, return_inverse=True)[1]
    n_labels = int(codes.max()) + 1
    if n_labels != k:
        note = (note + f"; {n_labels} regions").lstrip("; ")
        k_codes = np.minimum(codes, k - 1)
    else:
        k_codes = codes
    ev = problem._evaluate_index(k_codes.astype(np.int64))
    return {
        "method": name,
        "units": len(units),
        "largest_deviation": ev.largest_deviation,
        "split_beats": len(ev.not_contiguous),
        "split_queen": queen_parts(units, codes),
        "compactness": ev.mean_compactness,
        "time_s": seconds,
        "note": note,
    }


def run_spopt(
    units: gpd.GeoDataFrame, problem: BeatProblem, k: int, quick: bool
) -> list[dict[str, Any]]:
    try:
        import spopt.region as region
        from libpysal.weights import W
    except ImportError:
        print("spopt is not installed (pip install spopt): peers skipped", file=sys.stderr)
        return []
    nb = {i: list(v) for i, v in enumerate(problem.graph.neighbours)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W(nb, silence_warnings=True)
    gdf = units.reset_index(drop=True)[["workload_h", "geometry"]].copy()
    data = gdf[["workload_h"]].to_numpy()
    peers = {
        "spopt WardSpatial": lambda: region.WardSpatial(gdf, w, ["workload_h"], n_clusters=k),
        "spopt Skater": lambda: region.Skater(gdf, w, ["workload_h"], n_clusters=k),
        "spopt RegionKMeansHeuristic": lambda: region.RegionKMeansHeuristic(data, k, w),
        "spopt AZP": lambda: region.AZP(gdf, w, ["workload_h"], n_clusters=k, random_state=0),
    }
    if quick:
        peers.pop("spopt AZP")
    rows = []
    for name, make in peers.items():
        start = time.perf_counter()
        labels, error = _solve_with_timeout(make, PEER_TIMEOUT_S)
        seconds = time.perf_counter() - start
        if labels is not None:
            rows.append(score(problem, units, name, labels, seconds))
        else:
            rows.append(
                {
                    "method": name,
                    "units": len(units),
                    "largest_deviation": float("nan"),
                    "split_beats": -1,
                    "split_queen": -1,
                    "compactness": float("nan"),
                    "time_s": seconds,
                    "note": error[:90],
                }
            )
        print(rows[-1], flush=True)
    return rows


#: Seconds a peer may take before it is stopped and reported as unfinished.
PEER_TIMEOUT_S = 120.0


def _peer_worker(make: Any, queue: Any) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make()
            model.solve()
        queue.put(("ok", np.asarray(model.labels_)))
    except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
        queue.put(("error", f"failed: {type(exc).__name__}: {exc}"))


def _solve_with_timeout(make: Any, timeout_s: float) -> tuple[np.ndarray | None, str]:
    """Run one peer in a forked process so that a slow one can be stopped."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peer_worker, args=(make, queue))
    proc.start()
    try:
        kind, value = queue.get(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - queue.Empty: the peer is still running
        proc.terminate()
        proc.join()
        return None, f"no result within {timeout_s:g} s (stopped)"
    proc.join()
    return (value, "") if kind == "ok" else (None, value)


def synthetic_units(n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    side = 20_000.0
    pts = rng.uniform(0, side, size=(n, 2))
    frame = shapely.box(0, 0, side, side)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.MultiPoint(pts), extend_to=frame.buffer(1000))
    )
    polys = shapely.intersection(cells, frame)
    # A denser centre, as in a city: more households per unit there.
    centre = np.hypot(*(shapely.get_coordinates(shapely.centroid(polys)) - side / 2).T)
    households = rng.gamma(2.0, 60.0, size=n) * (1 + 3 * np.exp(-centre / 4000))
    return gpd.GeoDataFrame(
        {"unit_id": [f"S{i:05d}" for i in range(n)], "households": households.round()},
        geometry=polys,
        crs="EPSG:6675",
    )


def fmt(rows: list[dict[str, Any]], best_peer: float) -> list[str]:
    lines = [
        "| method | units | largest deviation | x better than best spopt | split beats (our "
        "graph / queen) | compactness | households moved | time (s) | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        dev = r["largest_deviation"]
        if not np.isfinite(dev):
            lines.append(
                f"| {r['method']} | {r['units']} | - | - | - | - | - | {r['time_s']:.1f} | "
                f"{r['note']} |"
            )
            continue
        ratio = best_peer / dev if dev > 0 else float("inf")
        moved = r.get("moved")
        moved_txt = f"{moved[0]:,.0f} ({moved[1]:.0%})" if moved else "-"
        lines.append(
            f"| {r['method']} | {r['units']} | {dev:.1%} | {ratio:.1f} | "
            f"{r['split_beats']} / {r['split_queen']} | {r['compactness']:.3f} | "
            f"{moved_txt} | {r['time_s']:.1f} | {r['note']} |"
        )
    return lines


def sweep_section(layer: gpd.GeoDataFrame, koban: gpd.GeoDataFrame, note: str) -> list[str]:
    """The tolerance sweep, minimal-change and best-balance, on one unit layer with kobans."""
    problem = BeatProblem.from_geodataframe(
        layer, weight_column="workload_h", current_column="beat_id", koban=koban
    )
    lines = [
        "## Tolerance sweep: the smallest change per tolerance (koban rule kept)",
        "",
        f"{note} Same problem, seed 0 and moves budget for every row; no time limit hit "
        "(stopped by moves). Feasible = every beat contiguous, holding or touching its "
        "koban's unit, within the tolerance; compactness here is around the kobans. "
        "Split beats are recounted on the queen graph of the geometry (libpysal, or shapely "
        "without it).",
        "",
        "| mode | tolerance | feasible | largest deviation | households moved | units moved "
        "| compactness | beats off their koban's unit | split beats (queen) | time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ids = layer["unit_id"].astype(str)
    before = problem.evaluate(layer["beat_id"].astype(str).to_numpy())
    lines.append(
        f"| current beats | - | {'yes' if before.feasible else 'no'} | "
        f"{before.largest_deviation:.1%} | - | - | {before.mean_compactness:.3f} | "
        f"{len(before.koban_violations)} | {len(before.not_contiguous)} | - |"
    )
    for mode in ("minimal-change", "best-balance"):
        for tol in TOLERANCES:
            p = RebalanceParams(mode=mode, tolerance=tol, time_limit_s=3600)
            result = rebalance_beats(problem, params=p)
            row = sweep_rows([result])[0]
            labels = np.array([result.assignment[u] for u in ids])
            row["split_queen"] = queen_parts(layer, np.unique(labels, return_inverse=True)[1])
            line = (
                f"| {mode} | ±{tol:.0%} | {'yes' if row['feasible'] else 'NO'} | "
                f"{row['largest_deviation']:.1%} | {row['households_moved']:,.0f} "
                f"({row['moved_share']:.1%}) | {row['units_moved']} | "
                f"{row['compactness']:.3f} | {row['koban_violations']} | {row['split_queen']} | "
                f"{row['time_s']:.1f} |"
            )
            lines.append(line)
            print(line, result.stopped_by, flush=True)
    return lines + [""]


#: Load averages (1, 5, 15 min) when the script started.
LOAD_AT_START = __import__("os").getloadavg()


def machine_line() -> str:
    start = ", ".join(f"{x:.1f}" for x in LOAD_AT_START)
    load = ", ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    return (
        f"Machine: {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, 2 cores shared with other work (load average "
        f"{start} at the start and {load} at the end of the run)."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip AZP and the scale run")
    parser.add_argument("--sweep-only", action="store_true", help="only the tolerance sweep")
    args = parser.parse_args()
    params = RebalanceParams(mode="best-balance")
    shares = (params.split_unit_share, 0.25)
    units, koban, refined = bundled_units(shares)
    ref_default, refine_s = refined[shares[0]]
    sweep_note = (
        f"Bundled Kanazawa data, {len(ref_default.units)} units (sub-units, share "
        f"{shares[0]:g}: {len(ref_default.split)} 町丁目 split) into "
        f"{int(units['beat_id'].nunique())} beats, {len(koban)} koban."
    )
    if args.sweep_only:
        sweep = sweep_section(ref_default.units, koban, sweep_note)
        text = "\n".join(["# Beat rebalancing: tolerance sweep", "", *sweep, machine_line(), ""])
        print(text)
        SWEEP_OUT.write_text(text, encoding="utf-8")
        return 0
    k = int(units["beat_id"].nunique())
    print(f"bundled: {len(units)} units, {k} beats, {len(koban)} koban", flush=True)
    neutral = BeatProblem.from_geodataframe(
        units, weight_column="workload_h", current_column="beat_id"
    )
    rows = [
        score(
            neutral, units, "current beats (bundled)", units["beat_id"].astype(str).to_numpy(), 0.0
        )
    ]
    runs: list[tuple[str, gpd.GeoDataFrame, Any]] = [
        ("junkai_geo, 町丁目, koban rule", units, koban),
        (f"junkai_geo, sub-units (share {shares[0]:g}, default), koban rule", None, koban),
        (f"junkai_geo, sub-units (share {shares[0]:g}, default), no koban rule", None, None),
        (f"junkai_geo, sub-units (share {shares[1]:g}), koban rule", None, koban),
    ]
    for name, layer, kob in runs:
        note = ""
        refine_s = 0.0
        if layer is None:
            share = shares[0] if f"share {shares[0]:g}" in name else shares[1]
            ref, refine_s = refined[share]
            layer = ref.units
            note = f"{len(ref.split)} 町丁目 split (time includes {refine_s:.1f} s refinement); "
        start = time.perf_counter() - refine_s
        result = rebalance_beats(
            layer,
            weight_column="workload_h",
            current_column="beat_id",
            koban=kob,
            params=params,
            time_limit_s=3600,  # the moves budget ends the run, whatever the machine's load
        )
        seconds = time.perf_counter() - start
        labels = np.array([result.assignment[u] for u in layer["unit_id"].astype(str)])
        note += f"stopped by {result.stopped_by}"
        if kob is not None and result.before is not None:
            newly = set(result.after.koban_violations) - set(result.before.koban_violations)
            note += (
                f"; beats off their koban's unit: {len(result.before.koban_violations)} before "
                f"(bundled), {len(result.after.koban_violations)} after, {len(newly)} newly"
            )
        judge = (
            neutral
            if layer is units
            else BeatProblem.from_geodataframe(
                layer, weight_column="workload_h", current_column="beat_id"
            )
        )
        row = score(judge, layer, name, labels, seconds, note)
        row["moved"] = (result.after.households_moved, result.after.moved_share)
        rows.append(row)
        print(rows[-1], flush=True)
    peers = run_spopt(units, neutral, k, args.quick)
    rows += peers
    peer_devs = [r["largest_deviation"] for r in peers if np.isfinite(r["largest_deviation"])]
    best_peer = min(peer_devs) if peer_devs else float("nan")

    scale_lines: list[str] = []
    if not args.quick:
        syn = synthetic_units(5000, seed=1)
        start = time.perf_counter()
        res = rebalance_beats(
            syn,
            weight_column="households",
            n_beats=300,
            params=RebalanceParams(mode="best-balance", time_limit_s=3600),
        )
        seconds = time.perf_counter() - start
        scale_lines = [
            "| units | beats | largest deviation | split beats | compactness | time (s) | "
            "stopped by |",
            "|---|---|---|---|---|---|---|",
            f"| 5000 | 300 | {res.after.largest_deviation:.1%} | "
            f"{len(res.after.not_contiguous)} | {res.after.mean_compactness:.3f} | "
            f"{seconds:.1f} | {res.stopped_by} |",
        ]
        print(scale_lines[-1], flush=True)

    lines = [
        "# Beat rebalancing benchmark",
        "",
        f"Bundled Kanazawa data: {len(units)} 町丁目 units into {k} beats ({len(koban)} koban); "
        "workload per unit from the household model (hours per visiting cycle). Sub-units: "
        "町丁目 heavier than the share of a mean beat split by weighted k-means of their "
        "households and a Voronoi clipped to the 町丁目 (`refine_units`). "
        "All plans scored by the same code; compactness here is around each beat's workload "
        "centroid (no kobans) so that peers without kobans compare. Split beats: counted on "
        "junkai_geo's unit graph / on libpysal's queen graph of the geometry. "
        "Ratios are against the best spopt method of this run.",
        "",
        f"junkai_geo best-balance mode (tolerance {params.tol:.0%}, seed {params.seed}; "
        "stopped by its moves budget, not by a time limit).",
        "",
        *fmt(rows, best_peer),
        "",
        *sweep_section(ref_default.units, koban, sweep_note),
    ]
    if scale_lines:
        lines += [
            "## Scale: synthetic Voronoi units, from scratch (no current beats)",
            "",
            *scale_lines,
            "",
        ]
    text = "\n".join([*lines, machine_line(), ""])
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
