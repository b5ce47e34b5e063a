"""What a manager reads: a plan's summary, the tolerance sweep table, the list of moves.

Japanese first, figures the manager signs: whether the plan keeps every rule
(``feasible``) and what it breaks, the largest deviation, households and units
moved, compactness.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .result import RebalanceResult

MODE_JA = {"minimal-change": "最小変更", "best-balance": "最大均等"}


def summary_lines(result: RebalanceResult) -> list[str]:
    """A plan in a few lines: feasibility and violations first, then the figures."""
    r = result
    before = f"{r.before.largest_deviation:.1%} → " if r.before else ""
    lines = [
        f"受持区の調整 ({MODE_JA.get(r.mode, r.mode)} {r.mode}): "
        + ("実行可能 feasible" if r.feasible else "実行不可 NOT feasible"),
        f"  最大偏差 largest deviation {before}{r.after.largest_deviation:.1%} "
        f"(許容 tolerance ±{r.tolerance:.0%})",
        f"  移動 moved: {r.after.households_moved:,.0f} 世帯 households "
        f"({r.after.moved_share:.1%}), {r.after.units_moved} 単位 units; "
        f"コンパクト性 compactness {r.after.mean_compactness:.3f}",
    ]
    violations = r.violations
    if violations:
        lines.append(f"  違反 violations ({len(violations)}):")
        lines += [f"    - {v}" for v in violations[:20]]
        if len(violations) > 20:
            lines.append(f"    … {len(violations) - 20} more")
    blocking = [i for i in r.koban_issues if i.blocking]
    if blocking:
        lines.append("  交番の条件を満たせない受持区 beats that cannot touch their koban:")
        lines += [f"    - {i}" for i in blocking[:20]]
    return lines


def sweep_rows(results: Sequence[RebalanceResult]) -> list[dict[str, Any]]:
    """One row per plan of a sweep (JSON-ready)."""
    rows = []
    for r in results:
        rows.append(
            {
                "mode": r.mode,
                "tolerance": r.tolerance,
                "feasible": r.feasible,
                "largest_deviation": round(r.after.largest_deviation, 5),
                "households_moved": round(r.after.households_moved, 1),
                "moved_share": round(r.after.moved_share, 5),
                "units_moved": r.after.units_moved,
                "compactness": round(r.after.mean_compactness, 4),
                "koban_violations": len(r.after.koban_violations),
                "split_beats": len(r.after.not_contiguous),
                "time_s": round(r.time_s, 2),
                "violations": r.violations,
            }
        )
    return rows


def sweep_table(results: Sequence[RebalanceResult]) -> str:
    """The sweep as a Markdown table: one line per tolerance."""
    lines = [
        "| mode | tolerance 許容 | feasible | largest deviation 最大偏差 | households moved 移動世帯 "
        "| units moved 移動単位 | compactness | beats off their koban | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sweep_rows(results):
        lines.append(
            f"| {row['mode']} | ±{row['tolerance']:.0%} | {'yes' if row['feasible'] else 'NO'} | "
            f"{row['largest_deviation']:.1%} | {row['households_moved']:,.0f} "
            f"({row['moved_share']:.1%}) | {row['units_moved']} | {row['compactness']:.3f} | "
            f"{row['koban_violations']} | {row['time_s']:.1f} |"
        )
    return "\n".join(lines)


def moves_table(result: RebalanceResult, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The moves, largest first: unit, from, to, households (for the map and the sheet)."""
    moves = sorted(result.moved_units, key=lambda m: (-m.households, m.unit_id))
    if limit is not None:
        moves = moves[:limit]
    return [
        {
            "unit_id": m.unit_id,
            "from_beat": m.from_beat,
            "to_beat": m.to_beat,
            "households": round(m.households),
        }
        for m in moves
    ]
