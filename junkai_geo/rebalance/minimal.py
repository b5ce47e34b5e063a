"""The koban rule as a constraint, and the smallest change (minimal-change mode).

Every beat holds its koban's unit or a unit touching it. :func:`check_koban_rule`
says, before any search, which beats cannot meet the rule and why (a locked
beat away from its koban, a koban with more beats than units around it, a way
there blocked by locks, a koban unit reached only across a bridge).
:func:`repair_koban` gives each beat that does not meet the rule a corridor of
units to its koban's unit (the fewest households that keep every other beat
connected). :func:`give_back` returns moved units to their current beat while
the plan stays within the tolerance: the search minimises households moved,
this pass removes moves it left that are not needed.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .problem import BeatProblem
    from .search import _Search


@dataclass(frozen=True)
class KobanIssue:
    """A beat that cannot hold or touch its koban's unit, or reaches it only by a bridge.

    ``blocking`` is True when the rule cannot be met (the plan will not be
    feasible); False for a note (a koban unit on an island, reached over a
    bridge edge that stands in for a ferry or a road the data lacks).
    """

    beat_id: str
    koban_id: str
    unit_id: str
    reason: str
    blocking: bool = True

    def __str__(self) -> str:
        return f"beat {self.beat_id} (koban {self.koban_id}, unit {self.unit_id}): {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "beat_id": self.beat_id,
            "koban_id": self.koban_id,
            "unit_id": self.unit_id,
            "reason": self.reason,
            "blocking": self.blocking,
        }


def koban_sets(problem: BeatProblem) -> list[set[int] | None]:
    """Per beat: its koban's unit and the units touching it (None: the beat has no koban)."""
    nb = problem.graph.neighbours
    out: list[set[int] | None] = []
    for b in range(problem.n_beats):
        if not problem._has_koban(b):
            out.append(None)
            continue
        u = int(problem.koban_unit[problem.beat_koban[b]])
        out.append({u, *nb[u]})
    return out


def check_koban_rule(problem: BeatProblem, start: np.ndarray | None = None) -> list[KobanIssue]:
    """Beats that cannot hold or touch their koban's unit, with the reason, before solving.

    ``start`` is the assignment the search starts from (default: the current
    beats). Checked: a locked beat away from its koban's unit; more beats of a
    koban than free units in and around its unit; several beats on a koban
    unit inside another unit (an enclave); no way from the beat to the
    koban's unit that avoids locked units and locked beats; a koban unit that
    only a bridge (an island) joins to the rest (a note, not blocking).
    """
    a = problem.reference if start is None else start
    if not problem.n_beats or not len(problem.koban_ids) or (a < 0).any():
        return []
    nb = problem.graph.neighbours
    sets = koban_sets(problem)
    issues: list[KobanIssue] = []
    bridged = {(i, j) for i, j, _ in problem.graph.bridges} | {
        (j, i) for i, j, _ in problem.graph.bridges
    }
    locked_unit = problem.locked_units
    locked_beat = problem.locked_beats
    by_koban: dict[int, list[int]] = {}
    for b in range(problem.n_beats):
        if problem._has_koban(b):
            by_koban.setdefault(int(problem.beat_koban[b]), []).append(b)
    for m, beats in sorted(by_koban.items()):
        u = int(problem.koban_unit[m])
        around = {u, *nb[u]}
        # Units that could belong to one of this koban's beats.
        free = [
            v for v in around if not (locked_unit[v] or locked_beat[a[v]]) or int(a[v]) in beats
        ]
        if len(beats) > len(free):
            names = ", ".join(problem.beat_ids[b] for b in beats)
            issues.append(
                KobanIssue(
                    problem.beat_ids[beats[-1]],
                    problem.koban_ids[m],
                    str(problem.unit_ids[u]),
                    f"koban {problem.koban_ids[m]} has {len(beats)} beats ({names}) but only "
                    f"{len(free)} unit(s) hold or touch its unit {problem.unit_ids[u]} and are "
                    "free to join them: not every one of its beats can touch it",
                )
            )
        if len(nb[u]) == 1 and len(beats) > 1 and (u, nb[u][0]) not in bridged:
            names = ", ".join(problem.beat_ids[b] for b in beats)
            issues.append(
                KobanIssue(
                    problem.beat_ids[beats[-1]],
                    problem.koban_ids[m],
                    str(problem.unit_ids[u]),
                    f"the koban's unit {problem.unit_ids[u]} lies inside unit "
                    f"{problem.unit_ids[nb[u][0]]}, its only neighbour: a beat holding it could "
                    f"grow only through that unit, so one beat, not {len(beats)} ({names}), "
                    "can be anchored there",
                )
            )
        if nb[u] and all((u, v) in bridged for v in nb[u]):
            issues.append(
                KobanIssue(
                    ",".join(problem.beat_ids[b] for b in beats),
                    problem.koban_ids[m],
                    str(problem.unit_ids[u]),
                    f"the koban's unit {problem.unit_ids[u]} touches no other unit (an island); "
                    "it is joined to its nearest unit by a bridge edge, so its beats touch it "
                    "only across that bridge",
                    blocking=False,
                )
            )
    for b in range(problem.n_beats):
        ks = sets[b]
        if ks is None:
            continue
        members = np.flatnonzero(a == b)
        if any(a[v] == b for v in ks):
            continue
        kid = problem.koban_ids[problem.beat_koban[b]]
        uid = str(problem.unit_ids[int(problem.koban_unit[problem.beat_koban[b]])])
        if locked_beat[b]:
            issues.append(
                KobanIssue(
                    problem.beat_ids[b],
                    kid,
                    uid,
                    "the beat is locked and neither holds nor touches its koban's unit",
                )
            )
            continue
        # Breadth-first from the beat over units that may change beat.
        seen = set(members.tolist())
        queue = list(seen)
        reached = False
        while queue and not reached:
            nxt = []
            for x in queue:
                for v in nb[x]:
                    if v in seen or locked_unit[v] or locked_beat[a[v]]:
                        continue
                    seen.add(v)
                    if v in ks:
                        reached = True
                        break
                    nxt.append(v)
                if reached:
                    break
            queue = nxt
        if not reached:
            issues.append(
                KobanIssue(
                    problem.beat_ids[b],
                    kid,
                    uid,
                    "every way from the beat to its koban's unit crosses locked units or "
                    "locked beats",
                )
            )
    return issues


def repair_koban(s: _Search, tries: int = 20) -> list[str]:
    """Give every beat off its koban's unit a corridor of units to it.

    The corridor is the path of fewest households (Dijkstra over units that
    may move) from the beat to its koban's unit or a unit touching it; each
    unit on it leaves its beat, and any part of that beat cut off by it goes
    along (the beat keeps the part next to its koban). A unit that cannot move
    (the last one next to its beat's koban, or a locked part) is avoided and
    the path searched again.
    Returns the ids of the beats that could not be repaired.
    """
    pr = s.pr
    failed: list[str] = []
    for b in range(s.k):
        ks = s.kset[b]
        if ks is None or s.near[b] > 0 or s.locked_beat[b]:
            continue
        blocked: set[int] = set()
        done = False
        for _ in range(tries):
            path = _cheapest_path(s, b, ks, blocked)
            if path is None:
                break
            applied: list[tuple[int, int]] = []
            ok = True
            for v in path:
                taken = _take(s, v, b)
                if taken is None:
                    blocked.add(v)
                    ok = False
                    break
                applied += taken
            if ok:
                done = True
                break
            for v, a in reversed(applied):
                s._move(v, b, a)
        if not done:
            failed.append(pr.beat_ids[b])
    return failed


def _take(s: _Search, v: int, b: int) -> list[tuple[int, int]] | None:
    """Move unit ``v`` into beat ``b``; parts of its beat cut off by that go along.

    The giving beat keeps the part that holds or touches its koban's unit (or
    its heaviest part); the rest joins ``b``, which ``v`` connects. None (and
    nothing moved) when ``v`` is the giving beat's last unit next to its koban,
    or when a part to move holds a locked unit.
    """
    a = s.assign[v]
    if s._can_leave(v, a):
        s._move(v, a, b)
        return [(v, a)]
    ks = s.kset[a]
    if s.size[a] <= 1 or (ks is not None and s.near[a] == 1 and v in ks):
        return None
    rest = [u for u in s.members[a] if u != v]
    parts: list[list[int]] = []
    seen = {v}
    for start in rest:
        if start in seen:
            continue
        comp = [start]
        seen.add(start)
        stack = [start]
        while stack:
            u = stack.pop()
            for x in s.nb[u]:
                if x not in seen and s.assign[x] == a:
                    seen.add(x)
                    comp.append(x)
                    stack.append(x)
        parts.append(comp)
    if ks is not None and s.near[a] > 0:
        keep = next(c for c in parts if any(u in ks for u in c))
    else:
        keep = max(parts, key=lambda c: (sum(s.w[u] for u in c), -min(c)))
    go = [v] + [u for c in parts if c is not keep for u in c]
    if any(s.locked_unit[u] for u in go):
        return None
    for u in go:
        s._move(u, a, b)
    return [(u, a) for u in go]


def _cheapest_path(
    s: _Search, b: int, target: frozenset[int], blocked: set[int]
) -> list[int] | None:
    """Units (in order from the beat) to take so that beat ``b`` reaches ``target``."""
    assign = s.assign
    nb = s.nb
    dist: dict[int, float] = {}
    prev: dict[int, int] = {}
    heap: list[tuple[float, int]] = []
    for u in s.members[b]:
        for v in nb[u]:
            if assign[v] == b:
                continue
            cost = s.hh[v] + 1.0
            if cost < dist.get(v, float("inf")):
                dist[v] = cost
                prev[v] = -1
                heapq.heappush(heap, (cost, v))
    while heap:
        d, v = heapq.heappop(heap)
        if d > dist.get(v, float("inf")):
            continue
        if v in blocked or s.locked_unit[v] or s.locked_beat[assign[v]] or assign[v] == b:
            continue
        if v in target:
            path = [v]
            while prev[path[-1]] >= 0:
                path.append(prev[path[-1]])
            return path[::-1]
        for x in nb[v]:
            if assign[x] == b:
                continue
            nd = d + s.hh[x] + 1.0
            if nd < dist.get(x, float("inf")):
                dist[x] = nd
                prev[x] = v
                heapq.heappush(heap, (nd, x))
    return None


def give_back(s: _Search, limit: float) -> int:
    """Return moved units to their current beat while every beat stays within ``limit``.

    Largest households first, repeated until nothing more can go back. A unit
    goes back only next to its current beat, when its new beat stays
    connected, non-empty and next to its koban, and when neither beat's
    deviation from the mean rises above ``limit``. Returns the units returned.
    """
    mean = s.mean
    if mean <= 0:
        return 0
    cap = limit * mean * (1 + 1e-9)
    returned = 0
    changed = True
    while changed:
        changed = False
        order = sorted(
            (i for i in range(len(s.assign)) if s.ref[i] >= 0 and s.assign[i] != s.ref[i]),
            key=lambda i: (-s.hh[i], i),
        )
        for i in order:
            a, r = s.assign[i], s.ref[i]
            if s.locked_unit[i] or s.locked_beat[a] or s.locked_beat[r]:
                continue
            if not any(s.assign[v] == r for v in s.nb[i]):
                continue
            w = s.w[i]
            if abs(s.W[a] - w - mean) > cap or abs(s.W[r] + w - mean) > cap:
                continue
            if not s._can_leave(i, a):
                continue
            s._move(i, a, r)
            returned += 1
            changed = True
    return returned


def flow_handover(s: _Search, passes: int = 3) -> int:
    """Hand load from heavy to light beats along the cheapest flow, before the search.

    A min-cost flow between neighbouring beats (a linear programme, HiGHS via
    SciPy) says how much workload must cross each boundary so that every beat
    comes within the aim with the least workload moved, counting every hop.
    Each such crossing is then made by boundary units, those with the fewest
    households per hour of workload first, while every beat stays connected
    and next to its koban. Returns the units moved (0 when the flow has no
    solution, for example when locks leave a beat out of reach).
    """
    from scipy.optimize import linprog

    k, mean = s.k, s.mean
    aim = s.p.tol * s.p.flow_aim_share_of_tolerance
    if k < 2 or mean <= 0:
        return 0
    assign, nb = s.assign, s.nb
    pairs = sorted(
        {(assign[i], assign[j]) for i in range(len(assign)) for j in nb[i]}
        - {(b, b) for b in range(k)}
    )
    pairs = [(u, v) for u, v in pairs if u != v]
    if not pairs:
        return 0
    m = len(pairs)
    A = np.zeros((k, m))
    for e, (u, v) in enumerate(pairs):
        A[u, e] -= 1.0
        A[v, e] += 1.0
    W = np.asarray(s.W)
    lo = np.where(s.locked_beat, -np.inf, (1 - aim) * mean)
    hi = np.where(s.locked_beat, np.inf, (1 + aim) * mean)
    bounds = [(0.0, 0.0) if s.locked_beat[u] or s.locked_beat[v] else (0.0, None) for u, v in pairs]
    keep = np.isfinite(hi)
    res = linprog(
        np.ones(m),
        A_ub=np.vstack([A[keep], -A[keep]]),
        b_ub=np.concatenate([(hi - W)[keep], (W - lo)[keep]]),
        bounds=bounds,
        method="highs",
    )
    if not res.success:
        return 0
    left = {pairs[e]: float(res.x[e]) for e in range(m) if res.x[e] > 1e-9}
    cap = s.p.max_moved_share * s.total_hh + 1e-9
    moved = 0
    for _ in range(passes):
        progress = False
        for (u, v), r in sorted(left.items(), key=lambda kv: (-kv[1], kv[0])):
            while r > 0:
                cands = [
                    i
                    for i in s.members[u]
                    if not s.locked_unit[i]
                    and 0 < s.w[i] <= 1.5 * r
                    and any(assign[j] == v for j in nb[i])
                    and not (s.ref[i] == u and s.moved_hh + s.hh[i] > cap)
                ]
                cands.sort(key=lambda i: (s.hh[i] / s.w[i], i))
                for i in cands[:20]:
                    if s._can_leave(i, u):
                        s._move(i, u, v)
                        r -= s.w[i]
                        moved += 1
                        progress = True
                        break
                else:
                    break
            left[(u, v)] = r
        if not progress:
            break
    return moved
