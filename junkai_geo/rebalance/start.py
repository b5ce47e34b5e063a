"""Where the search starts: the current beats made contiguous and brought to the beat count.

Split current beats are repaired (stray parts go to the neighbouring beat
they touch most), units without a beat join their lightest neighbouring beat,
and the beat count is reached by splitting the heaviest beat in two or merging
the lightest into its lightest neighbour. Without current beats, beats are
grown from the kobans' units, or made by recursive bisection without kobans.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import ParameterError, SolverError
from .problem import BeatProblem


def initial_assignment(
    problem: BeatProblem, wanted: int, seed: int, warnings: list[str]
) -> tuple[BeatProblem, np.ndarray]:
    """A contiguous start: the current beats repaired, split or merged to ``wanted``.

    Returns the problem with the beats it ends with (ids, locks, kobans and
    the current beat of units whose beat was merged away) and the assignment.
    """
    rng = np.random.default_rng(seed)
    draft = _Draft(problem)
    a = problem.reference.copy()
    if problem.n_beats == 0:
        a = _grow_from_scratch(draft, wanted, rng, warnings)
        return draft.finish(), a
    _repair_contiguity(draft, a, warnings)
    _fill_unassigned(draft, a)
    while draft.n_beats < wanted:
        _split_largest(draft, a, warnings)
    while draft.n_beats > wanted:
        _merge_smallest(draft, a, warnings)
    return draft.finish(), a


class _Draft:
    """The beats of a frozen problem while the start changes them (count, ids, kobans).

    Everything else is read from the problem.
    """

    def __init__(self, problem: BeatProblem) -> None:
        self.problem: BeatProblem = problem
        self.beat_ids: list[str] = list(problem.beat_ids)
        self._beat_pos: dict[str, int] = {b: k for k, b in enumerate(self.beat_ids)}
        self.locked_beats: np.ndarray = problem.locked_beats.copy()
        self.beat_koban: np.ndarray = problem.beat_koban.copy()
        self.reference: np.ndarray = problem.reference.copy()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.problem, name)

    @property
    def n_beats(self) -> int:
        return len(self.beat_ids)

    def _has_koban(self, b: int) -> bool:
        return len(self.beat_koban) > b and self.beat_koban[b] >= 0

    def finish(self) -> BeatProblem:
        if (
            self.beat_ids == self.problem.beat_ids
            and np.array_equal(self.beat_koban, self.problem.beat_koban)
            and np.array_equal(self.locked_beats, self.problem.locked_beats)
            and np.array_equal(self.reference, self.problem.reference)
        ):
            return self.problem
        return replace(
            self.problem,
            beat_ids=list(self.beat_ids),
            locked_beats=self.locked_beats,
            beat_koban=self.beat_koban,
            reference=self.reference,
        )


def _beat_parts(problem: _Draft, a: np.ndarray, b: int) -> list[list[int]]:
    members = set(np.flatnonzero(a == b).tolist())
    parts: list[list[int]] = []
    seen: set[int] = set()
    nb = problem.graph.neighbours
    for s in sorted(members):
        if s in seen:
            continue
        comp = [s]
        seen.add(s)
        stack = [s]
        while stack:
            u = stack.pop()
            for v in nb[u]:
                if v in members and v not in seen:
                    seen.add(v)
                    comp.append(v)
                    stack.append(v)
        parts.append(comp)
    return parts


def _repair_contiguity(problem: _Draft, a: np.ndarray, warnings: list[str]) -> None:
    """Give stray parts of split current beats to a neighbouring beat."""
    nb = problem.graph.neighbours
    for _ in range(problem.n_units):
        changed = False
        for b in range(problem.n_beats):
            parts = _beat_parts(problem, a, b)
            if len(parts) <= 1:
                continue
            keep = max(
                parts,
                key=lambda c: (
                    _holds_koban(problem, b, c),
                    float(problem.weights[c].sum()),
                    len(c),
                ),
            )
            for comp in parts:
                if comp is keep or problem.locked_units[comp].any() or problem.locked_beats[b]:
                    continue
                counts: dict[int, int] = {}
                for u in comp:
                    for v in nb[u]:
                        if a[v] != b and a[v] >= 0 and not problem.locked_beats[a[v]]:
                            counts[a[v]] = counts.get(a[v], 0) + 1
                if not counts:
                    continue
                to = max(sorted(counts), key=lambda k: counts[k])
                a[comp] = to
                changed = True
                warnings.append(
                    f"beat {problem.beat_ids[b]} was in {len(parts)} parts; "
                    f"{len(comp)} unit(s) given to beat {problem.beat_ids[to]} before rebalancing"
                )
        if not changed:
            return


def _holds_koban(problem: _Draft, b: int, comp: list[int]) -> bool:
    if not problem._has_koban(b):
        return False
    u = int(problem.koban_unit[problem.beat_koban[b]])
    near = {u, *problem.graph.neighbours[u]}
    return any(c in near for c in comp)


def _fill_unassigned(problem: _Draft, a: np.ndarray) -> None:
    """Units without a current beat join the lightest neighbouring beat."""
    nb = problem.graph.neighbours
    W = np.bincount(a[a >= 0], weights=problem.weights[a >= 0], minlength=problem.n_beats)
    while (a < 0).any():
        progress = False
        for i in np.flatnonzero(a < 0):
            cands = [a[j] for j in nb[i] if a[j] >= 0 and not problem.locked_beats[a[j]]]
            if cands:
                b = min(cands, key=lambda k: (W[k], k))
                a[i] = b
                W[b] += problem.weights[i]
                progress = True
        if not progress:
            # A part of the map with no beat at all: it can only be reached by
            # the bridges, which always exist, so this only happens when every
            # neighbouring beat is locked.
            raise SolverError(
                "units "
                f"{problem.unit_ids[a < 0][:5].tolist()} have no beat and only locked neighbours"
            )


def _grow(
    problem: _Draft,
    a: np.ndarray,
    seeds: list[int],
    anchors: np.ndarray,
    allowed: np.ndarray,
    first: int,
) -> None:
    """Grow regions ``first..`` from ``seeds`` over ``allowed`` units, lightest first."""
    nb = problem.graph.neighbours
    w = problem.weights
    k = len(seeds)
    load = np.zeros(k)
    frontier: list[set[int]] = [set() for _ in range(k)]
    for r, s in enumerate(seeds):
        a[s] = first + r
        load[r] = w[s]
        allowed[s] = False
    for r, s in enumerate(seeds):
        frontier[r].update(v for v in nb[s] if allowed[v])
    remaining = int(allowed.sum())
    while remaining > 0:
        order = np.argsort(load, kind="stable")
        grown = False
        for r in order:
            fr = frontier[r]
            fr.difference_update([v for v in fr if not allowed[v]])
            if not fr:
                continue
            ax, ay = anchors[r]
            u = min(fr, key=lambda v: (math.hypot(problem.x[v] - ax, problem.y[v] - ay), v))
            fr.discard(u)
            a[u] = first + r
            allowed[u] = False
            load[r] += w[u]
            fr.update(v for v in nb[u] if allowed[v])
            remaining -= 1
            grown = True
            break
        if not grown:
            return


def _grow_from_scratch(
    problem: _Draft, k: int, rng: np.random.Generator, warnings: list[str]
) -> np.ndarray:
    """Beats grown from seeds next to the kobans (or spread seeds without kobans)."""
    n = problem.n_units
    a = np.full(n, -1, dtype=np.int64)
    nb = problem.graph.neighbours
    beat_koban: list[int] = []
    seeds: list[int] = []
    if len(problem.koban_ids):
        m = len(problem.koban_ids)
        d = np.hypot(
            problem.x[:, None] - problem.koban_xy[None, :, 0],
            problem.y[:, None] - problem.koban_xy[None, :, 1],
        )
        share = np.bincount(np.argmin(d, axis=1), weights=problem.weights, minlength=m)
        counts = _apportion(share, k)
        for kob in np.argsort(-share, kind="stable"):
            c = int(counts[kob])
            if c == 0:
                continue
            u = int(problem.koban_unit[kob])
            ring = [
                u,
                *sorted(
                    nb[u],
                    key=lambda v: math.atan2(
                        problem.y[v] - problem.y[u], problem.x[v] - problem.x[u]
                    ),
                ),
            ]
            ring = [v for v in ring if v not in seeds]
            if len(ring) < c:
                warnings.append(
                    f"koban {problem.koban_ids[kob]} gets {c} beats but its unit "
                    f"has only {len(ring)} free neighbours: some cannot touch it"
                )
                extra = [
                    v
                    for v in np.argsort(d[:, kob], kind="stable").tolist()
                    if v not in seeds and v not in ring
                ]
                ring += extra[: c - len(ring)]
            step = max(len(ring) - 1, 1) / max(c - 1, 1) if c > 1 else 1
            picks = (
                [ring[0]]
                + [ring[1 + int(round(j * step)) % max(len(ring) - 1, 1)] for j in range(c - 1)]
                if len(ring) > 1
                else ring[:c]
            )
            chosen: list[int] = []
            for v in picks + ring:
                if v not in chosen and len(chosen) < c:
                    chosen.append(v)
            seeds += chosen
            beat_koban += [int(kob)] * c
        anchors = problem.koban_xy[np.asarray(beat_koban)]
        allowed = np.ones(n, dtype=bool)
        _grow(problem, a, seeds, anchors, allowed, 0)
    else:
        # Without kobans: recursive bisection by workload along the longer
        # side gives near-even, compact, mostly connected beats to start from.
        _bisect(problem, np.arange(n), k, a, 0)
    problem.beat_ids = [f"B{j + 1:03d}" for j in range(k)]
    problem._beat_pos = {b: j for j, b in enumerate(problem.beat_ids)}
    problem.locked_beats = np.zeros(k, dtype=bool)
    problem.beat_koban = (
        np.asarray(beat_koban, dtype=np.int64) if beat_koban else np.full(k, -1, dtype=np.int64)
    )
    if not len(problem.koban_ids):
        _repair_contiguity(problem, a, [])
    return a


def _bisect(problem: _Draft, idx: np.ndarray, k: int, out: np.ndarray, first: int) -> None:
    """Split units ``idx`` into ``k`` groups of even workload by coordinate cuts."""
    if k == 1 or len(idx) <= 1:
        out[idx] = first
        return
    k1 = k // 2
    xs, ys = problem.x[idx], problem.y[idx]
    coord = xs if np.ptp(xs) >= np.ptp(ys) else ys
    order = idx[np.argsort(coord, kind="stable")]
    cum = np.cumsum(problem.weights[order])
    goal = cum[-1] * k1 / k
    cut = int(np.searchsorted(cum, goal)) + 1
    # Each side keeps at least as many units as beats it gets.
    cut = min(max(cut, k1), len(order) - (k - k1))
    _bisect(problem, order[:cut], k1, out, first)
    _bisect(problem, order[cut:], k - k1, out, first + k1)


def _apportion(share: np.ndarray, k: int) -> np.ndarray:
    """Integer counts summing to ``k`` proportional to ``share`` (largest remainder)."""
    m = len(share)
    total = share.sum()
    if total <= 0:
        share = np.ones(m)
        total = float(m)
    if k >= m:
        base = np.ones(m, dtype=np.int64)
        rest = k - m
    else:
        base = np.zeros(m, dtype=np.int64)
        rest = k
    quota = share / total * (k if k >= m else rest)
    extra = np.floor(np.maximum(quota - base, 0)).astype(np.int64)
    extra = np.minimum(extra, rest)
    while extra.sum() > rest:
        extra[np.argmax(extra)] -= 1
    left = rest - int(extra.sum())
    rem = quota - base - extra
    for j in np.argsort(-rem, kind="stable")[:left]:
        extra[j] += 1
    return base + extra


def _split_largest(problem: _Draft, a: np.ndarray, warnings: list[str]) -> None:
    """Split the heaviest unlocked beat in two, both next to its koban."""
    W = np.bincount(a, weights=problem.weights, minlength=problem.n_beats)
    cnt = np.bincount(a, minlength=problem.n_beats)
    order = [
        b
        for b in np.argsort(-W, kind="stable")
        if cnt[b] >= 2 and not problem.locked_beats[b] and not problem.locked_units[a == b].any()
    ]
    if not order:
        raise ParameterError("n_beats: cannot add beats: every beat with two units is locked")
    b = int(order[0])
    members = np.flatnonzero(a == b)
    if problem._has_koban(b):
        u = int(problem.koban_unit[problem.beat_koban[b]])
        near = [v for v in [u, *problem.graph.neighbours[u]] if a[v] == b]
        ax, ay = problem.koban_xy[problem.beat_koban[b]]
    else:
        near = []
        ax, ay = problem.x[members].mean(), problem.y[members].mean()
    far = members[
        np.argsort(-np.hypot(problem.x[members] - ax, problem.y[members] - ay), kind="stable")
    ]
    s1 = int(near[0]) if near else int(far[0])
    s2_cands = [v for v in near[1:]] if len(near) >= 2 else [v for v in far if v != s1]
    # The second seed lies opposite the first around the anchor.
    s2 = int(
        max(
            s2_cands,
            key=lambda v: math.hypot(problem.x[v] - problem.x[s1], problem.y[v] - problem.y[s1]),
        )
    )
    new = problem.n_beats
    allowed = np.zeros(problem.n_units, dtype=bool)
    allowed[members] = True
    a[members] = -1
    anchors = np.array([[problem.x[s1], problem.y[s1]], [problem.x[s2], problem.y[s2]]])
    tmp = a.copy()
    _grow(problem, tmp, [s1, s2], anchors, allowed, new)
    tmp[tmp == new] = b
    tmp[tmp == new + 1] = new
    a[:] = tmp
    old = problem.beat_ids[b]
    name = f"{old}-2"
    while name in problem._beat_pos:
        name += "b"
    problem.beat_ids.append(name)
    problem._beat_pos[name] = new
    problem.locked_beats = np.append(problem.locked_beats, False)
    if len(problem.beat_koban):
        problem.beat_koban = np.append(problem.beat_koban, problem.beat_koban[b])
    warnings.append(f"beat {old} split in two to reach the beat count: new beat {name}")


def _merge_smallest(problem: _Draft, a: np.ndarray, warnings: list[str]) -> None:
    """Merge the lightest unlocked beat into its lightest unlocked neighbour."""
    W = np.bincount(a, weights=problem.weights, minlength=problem.n_beats)
    nb = problem.graph.neighbours
    for b in np.argsort(W, kind="stable"):
        b = int(b)
        if problem.locked_beats[b] or problem.locked_units[a == b].any():
            continue
        adj = sorted({int(a[v]) for u in np.flatnonzero(a == b) for v in nb[u]} - {b})
        adj = [c for c in adj if not problem.locked_beats[c]]
        if not adj:
            continue
        to = min(adj, key=lambda c: (W[c], c))
        a[a == b] = to
        last = problem.n_beats - 1
        warnings.append(
            f"beat {problem.beat_ids[b]} merged into beat "
            f"{problem.beat_ids[to]} to reach the beat count"
        )
        # Keep indices dense: the last beat takes the freed index.
        if b != last:
            a[a == last] = b
            problem.beat_ids[b] = problem.beat_ids[last]
            problem.locked_beats[b] = problem.locked_beats[last]
            if len(problem.beat_koban):
                problem.beat_koban[b] = problem.beat_koban[last]
            # -2: the unit's current beat is gone, so it moves whatever happens.
            problem.reference = np.where(problem.reference == b, -2, problem.reference)
            problem.reference = np.where(problem.reference == last, b, problem.reference)
        else:
            problem.reference = np.where(problem.reference == b, -2, problem.reference)
        problem.beat_ids.pop()
        problem.locked_beats = problem.locked_beats[:-1]
        if len(problem.beat_koban):
            problem.beat_koban = problem.beat_koban[:-1]
        problem._beat_pos = {x: j for j, x in enumerate(problem.beat_ids)}
        return
    raise ParameterError("n_beats: cannot remove beats: no unlocked beat has an unlocked neighbour")
