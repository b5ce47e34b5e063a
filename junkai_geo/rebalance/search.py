"""The annealing search over beat plans: state, energy, single moves, the run loop.

One state (per-beat sums, member lists, households moved, boundary between
beats) is updated in O(1) per unit move, so a move's change of energy is known
before it is made. Every move keeps each beat connected (the giving beat is
searched, never the whole map), non-empty, and next to its koban's unit where
that holds; locked units and beats never move. The compound moves (chains,
recombinations) are in :mod:`junkai_geo.rebalance.moves`.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np

from .moves import CompoundMoves
from .params import RebalanceParams
from .problem import BeatProblem


class _Search(CompoundMoves):
    """Simulated annealing over single boundary-unit moves (pure Python, O(1) deltas).

    The energy depends on the mode: best-balance (evenness, compactness, a
    little for households moved) or minimal-change (households moved, then
    boundary length between beats, with deviations above the aim penalised).
    """

    def __init__(
        self, problem: BeatProblem, start: np.ndarray, p: RebalanceParams, warnings: list[str]
    ) -> None:
        self.pr = problem
        self.p = p
        self.warnings = warnings
        n, k = problem.n_units, problem.n_beats
        self.k = k
        self.assign: list[int] = start.tolist()
        self.best: list[int] = list(self.assign)
        self.nb: list[list[int]] = problem.graph.neighbours
        self.w: list[float] = problem.weights.tolist()
        self.hh: list[float] = problem.households.tolist()
        self.ar: list[float] = problem.area_m2.tolist()
        # Centred coordinates in km keep the sums of squares well conditioned.
        cx, cy = float(problem.x.mean()), float(problem.y.mean())
        self.px: list[float] = ((problem.x - cx) / 1000).tolist()
        self.py: list[float] = ((problem.y - cy) / 1000).tolist()
        self.ref: list[int] = problem.reference.tolist()
        self.locked_unit = problem.locked_units.tolist()
        self.locked_beat = problem.locked_beats.tolist()
        has_k = [problem._has_koban(b) for b in range(k)]
        self.kx = [0.0] * k
        self.ky = [0.0] * k
        self.kset: list[frozenset[int] | None] = [None] * k
        for b in range(k):
            if has_k[b]:
                m = int(problem.beat_koban[b])
                self.kx[b] = (problem.koban_xy[m, 0] - cx) / 1000
                self.ky[b] = (problem.koban_xy[m, 1] - cy) / 1000
                u = int(problem.koban_unit[m])
                self.kset[b] = frozenset([u, *self.nb[u]])
        self.has_k = has_k
        total_w = float(problem.weights.sum())
        self.mean = total_w / k if k else 0.0
        total_hh = float(problem.households[problem.reference != -1].sum())
        self.total_hh = total_hh if total_hh > 0 else 1.0
        self.minimal = p.mode == "minimal-change"
        share = p.change_aim_share_of_tolerance if self.minimal else p.aim_share_of_tolerance
        self.aim = p.tol * share
        # Per-beat sums.
        self.W = [0.0] * k
        self.A = [0.0] * k
        self.D = [0.0] * k  # sum w * distance to koban (km)
        self.Sx = [0.0] * k  # area-weighted coordinate sums for the inertia term
        self.Sy = [0.0] * k
        self.Sq = [0.0] * k
        self.size = [0] * k
        self.near = [0] * k
        self.moved_hh = 0.0
        for i, b in enumerate(self.assign):
            self._add(i, b, 1)
            if self.ref[i] != -1 and self.ref[i] != b:
                self.moved_hh += self.hh[i]
        self.members: list[list[int]] = [[] for _ in range(k)]
        self.pos = [0] * n
        for i, b in enumerate(self.assign):
            self.pos[i] = len(self.members[b])
            self.members[b].append(i)
        self.tried = 0
        self.made = 0
        self.stopped_by = "moves"
        # Minimal-change: shared boundary per neighbour, and its total between beats.
        self.nbl: list[list[float]] = [[] for _ in range(n)]
        self.cut = 0.0
        self.total_len = 1.0
        if self.minimal:
            self._init_boundary(problem)
        for b in range(k):
            if has_k[b] and self.near[b] == 0 and not self.minimal:
                self.warnings.append(
                    f"beat {problem.beat_ids[b]} neither holds nor touches the unit of its "
                    f"koban {problem.koban_ids[problem.beat_koban[b]]} at the start; "
                    "the rule is kept only where it holds"
                )
        self.movable = [
            i
            for i in range(n)
            if not self.locked_unit[i] and not self.locked_beat[self.assign[i]] and self.nb[i]
        ]

    def _dist(self, i: int, b: int) -> float:
        return math.hypot(self.px[i] - self.kx[b], self.py[i] - self.ky[b])

    def _add(self, i: int, b: int, s: int) -> None:
        w, ar = self.w[i], self.ar[i]
        self.W[b] += s * w
        self.A[b] += s * ar
        if self.has_k[b]:
            self.D[b] += s * w * self._dist(i, b)
            ks = self.kset[b]
            if ks is not None and i in ks:
                self.near[b] += s
        x, y = self.px[i], self.py[i]
        self.Sx[b] += s * ar * x
        self.Sy[b] += s * ar * y
        self.Sq[b] += s * ar * (x * x + y * y)
        self.size[b] += s

    def _init_boundary(self, problem: BeatProblem) -> None:
        lengths = problem.edge_lengths_m
        edge_len: dict[tuple[int, int], float] = {}
        for (i, j), ln in zip(problem._edges.tolist(), lengths.tolist(), strict=True):
            edge_len[(i, j)] = ln
        for i, nbi in enumerate(self.nb):
            self.nbl[i] = [edge_len.get((min(i, j), max(i, j)), 0.0) for j in nbi]
        self.total_len = max(float(lengths.sum()), 1.0)
        assign = self.assign
        self.cut = sum(
            ln
            for (i, j), ln in zip(problem._edges.tolist(), lengths.tolist(), strict=True)
            if assign[i] != assign[j]
        )

    def _beat_cost(
        self, W: float, A: float, D: float, Sx: float, Sy: float, Sq: float, has_k: bool
    ) -> float:
        p = self.p
        mean = self.mean
        dev = (W - mean) / mean if mean > 0 else 0.0
        ex = abs(dev) - self.aim
        if self.minimal:
            return p.balance_weight * ex * ex if ex > 0 else 0.0
        cost = p.evenness_weight * dev * dev
        if ex > 0:
            cost += p.balance_weight * ex * ex
        if A > 0:
            area_km2 = A / 1e6
            # Moment of inertia about the centroid, relative to a disc's.
            inertia = Sq - (Sx * Sx + Sy * Sy) / A
            shape = inertia / (A * area_km2 / (2 * math.pi))
            if has_k and W > 0:
                disc = (2.0 / 3.0) * math.sqrt(area_km2 / math.pi)
                shape = 0.5 * shape + (D / W) / disc
            cost += p.compactness_weight * shape / self.k
        return cost

    def _cost_of(self, b: int) -> float:
        return self._beat_cost(
            self.W[b], self.A[b], self.D[b], self.Sx[b], self.Sy[b], self.Sq[b], self.has_k[b]
        )

    def _delta(self, i: int, a: int, b: int) -> float:
        if self.minimal:
            return self._delta_change(i, a, b)
        w, ar = self.w[i], self.ar[i]
        x, y = self.px[i], self.py[i]
        ax = ar * x
        ay = ar * y
        aq = ar * (x * x + y * y)
        da = w * self._dist(i, a) if self.has_k[a] else 0.0
        db = w * self._dist(i, b) if self.has_k[b] else 0.0
        new_a = self._beat_cost(
            self.W[a] - w,
            self.A[a] - ar,
            self.D[a] - da,
            self.Sx[a] - ax,
            self.Sy[a] - ay,
            self.Sq[a] - aq,
            self.has_k[a],
        )
        new_b = self._beat_cost(
            self.W[b] + w,
            self.A[b] + ar,
            self.D[b] + db,
            self.Sx[b] + ax,
            self.Sy[b] + ay,
            self.Sq[b] + aq,
            self.has_k[b],
        )
        d = new_a + new_b - self._cost_of(a) - self._cost_of(b)
        r = self.ref[i]
        if r >= 0:
            dm = (self.hh[i] if r == a else 0.0) - (self.hh[i] if r == b else 0.0)
            d -= self.p.moved_weight * dm / self.total_hh
        return d

    def _delta_change(self, i: int, a: int, b: int) -> float:
        """Energy change of moving unit ``i`` from ``a`` to ``b`` (minimal-change)."""
        p = self.p
        w = self.w[i]
        mean = self.mean
        aim = self.aim
        d = 0.0
        for old, new in ((self.W[a], self.W[a] - w), (self.W[b], self.W[b] + w)):
            ex0 = abs(old - mean) / mean - aim
            ex1 = abs(new - mean) / mean - aim
            d += p.balance_weight * (
                (ex1 * ex1 if ex1 > 0 else 0.0) - (ex0 * ex0 if ex0 > 0 else 0.0)
            )
        r = self.ref[i]
        if r >= 0:
            dm = (self.hh[i] if r == a else 0.0) - (self.hh[i] if r == b else 0.0)
            d += p.change_moved_weight * dm / self.total_hh
        return d + p.boundary_weight * self._cut_delta(i, a, b) / self.total_len

    def _cut_delta(self, i: int, a: int, b: int) -> float:
        """Change of the boundary between beats when unit ``i`` goes from ``a`` to ``b``."""
        assign = self.assign
        d = 0.0
        for j, ln in zip(self.nb[i], self.nbl[i], strict=True):
            c = assign[j]
            if c == a:
                d += ln
            elif c == b:
                d -= ln
        return d

    def energy(self) -> float:
        e = sum(self._cost_of(b) for b in range(self.k))
        return e + self._moved_cost()

    def _moved_cost(self) -> float:
        p = self.p
        if self.minimal:
            return (
                p.change_moved_weight * self.moved_hh / self.total_hh
                + p.boundary_weight * self.cut / self.total_len
            )
        return p.moved_weight * self.moved_hh / self.total_hh

    def largest_deviation(self) -> float:
        if self.mean <= 0:
            return 0.0
        return max(abs(W - self.mean) for W in self.W) / self.mean

    def _can_leave(self, i: int, a: int) -> bool:
        """Whether beat ``a`` stays non-empty, connected and next to its koban without ``i``."""
        if self.size[a] <= 1:
            return False
        ks = self.kset[a]
        if ks is not None and self.near[a] == 1 and i in ks:
            return False
        assign = self.assign
        nb = self.nb
        targets = [j for j in nb[i] if assign[j] == a]
        if len(targets) <= 1:
            return bool(targets)
        # Often the neighbours of i in a touch each other directly.
        tset = set(targets)
        seen = {targets[0]}
        stack = [targets[0]]
        while stack:
            u = stack.pop()
            for v in nb[u]:
                if v in tset and v not in seen:
                    seen.add(v)
                    stack.append(v)
        if len(seen) == len(tset):
            return True
        # Otherwise search the rest of beat a, stopping once all are reached.
        found = len(seen)
        seen.add(i)
        stack = [t for t in targets if t in seen and t != i]
        while stack:
            u = stack.pop()
            for v in nb[u]:
                if v not in seen and assign[v] == a:
                    seen.add(v)
                    if v in tset:
                        found += 1
                        if found == len(tset):
                            return True
                    stack.append(v)
        return False

    def _move(self, i: int, a: int, b: int) -> None:
        if self.minimal:
            self.cut += self._cut_delta(i, a, b)
        self._add(i, a, -1)
        self._add(i, b, 1)
        self.assign[i] = b
        r = self.ref[i]
        if r >= 0:
            if r == a:
                self.moved_hh += self.hh[i]
            elif r == b:
                self.moved_hh -= self.hh[i]
        # O(1) removal from a's member list.
        ma = self.members[a]
        pi = self.pos[i]
        last = ma[-1]
        ma[pi] = last
        self.pos[last] = pi
        ma.pop()
        self.pos[i] = len(self.members[b])
        self.members[b].append(i)
        self.made += 1

    p_chains = 4  # chain attempts per chunk of single moves
    chunk = 500  # single moves between two rounds of chains and recombinations
    chain_beats = 60  # beats a chain search may expand

    def run(self, t0: float) -> None:
        p = self.p
        if not self.movable or self.k <= 1:
            self.stopped_by = "converged"
            return
        rng = random.Random(p.seed)
        budget = p.moves_per_unit * self.pr.n_units
        t_start, t_end = p.start_temperature, p.end_temperature
        if self.minimal:
            t_start, t_end = p.change_start_temperature, p.change_end_temperature
        cap = p.max_moved_share * self.total_hh + 1e-9
        movable = self.movable
        nb = self.nb
        assign = self.assign
        locked_beat = self.locked_beat
        ref = self.ref
        hh = self.hh
        energy = self.energy()
        best_e = energy
        best_key = (max(self.largest_deviation() - p.tol, 0.0), energy)
        self.best = list(assign)
        chunk = self.chunk
        log_ratio = math.log(t_end / t_start)
        mean = self.mean
        rand = rng.random
        randrange = rng.randrange
        it = 0
        while it < budget:
            if time.perf_counter() - t0 > p.time_limit_s:
                self.stopped_by = "time_limit"
                self.warnings.append(
                    f"time limit of {p.time_limit_s:g} s reached after "
                    f"{it} of {budget} moves; a rerun may differ"
                )
                break
            temp = t_start * math.exp(log_ratio * it / budget)
            # Every chunk, focus part of the moves on the worst beats.
            Wl = self.W
            worst = sorted(range(self.k), key=lambda b: -abs(Wl[b] - mean))[: max(3, self.k // 10)]
            for _ in range(chunk):
                it += 1
                if rand() < 0.3:
                    bw = worst[randrange(len(worst))]
                    mem = self.members[bw]
                    if not mem:
                        continue
                    j = mem[randrange(len(mem))]
                    nbj = nb[j]
                    if not nbj:
                        continue
                    o = nbj[randrange(len(nbj))]
                    if self.W[bw] > mean:
                        i, a, b = j, bw, assign[o]
                    else:
                        i, a, b = o, assign[o], bw
                    if self.locked_unit[i]:
                        continue
                else:
                    i = movable[randrange(len(movable))]
                    a = assign[i]
                    nbi = nb[i]
                    b = assign[nbi[randrange(len(nbi))]]
                if a == b or locked_beat[b] or locked_beat[a]:
                    continue
                d = self._delta(i, a, b)
                if d > 0 and rand() >= math.exp(-d / temp):
                    continue
                r = ref[i]
                if r == a and self.moved_hh + hh[i] > cap:
                    continue
                if not self._can_leave(i, a):
                    continue
                self._move(i, a, b)
                energy += d
            # Chains carry load across beats that single moves cannot cross;
            # recombinations reshape two beats at once where units are big.
            for j, bw in enumerate(worst):
                if abs(self.W[bw] - mean) > self.aim * mean:
                    if j < self.p_chains:
                        energy += self._chain(bw, rng, temp)
                        energy += self._path_recombine(bw, rng, temp)
                    energy += self._recombine(bw, rng, temp)
            self.tried = it
            if energy < best_e - 1e-12 or it >= budget:
                key = (max(self.largest_deviation() - p.tol, 0.0), energy)
                if key < best_key:
                    best_key = key
                    best_e = energy
                    self.best = list(assign)
        self.tried = min(it, budget)
