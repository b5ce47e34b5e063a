"""Compound moves of the beat search: chains and recombinations along paths of beats.

Units are big next to a beat's load, so single boundary moves stall; these
moves reshape two beats at once (the union cut anew along a random spanning
tree) or carry load along a path of beats, each handing one or two units to
the next. Each is kept by the annealing rule at the current temperature and
undone otherwise. They work on the state of :class:`~junkai_geo.rebalance.search._Search`.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from .trees import random_spanning_tree, subtree_flags, tree_cuts

if TYPE_CHECKING:
    from .params import RebalanceParams


class CompoundMoves:
    """Chains and recombinations, mixed into the search (they use its state)."""

    # The search's state and single moves (see search._Search).
    p: RebalanceParams
    k: int
    assign: list[int]
    nb: list[list[int]]
    w: list[float]
    hh: list[float]
    ref: list[int]
    locked_unit: list[bool]
    locked_beat: list[bool]
    kset: list[frozenset[int] | None]
    near: list[int]
    size: list[int]
    members: list[list[int]]
    W: list[float]
    mean: float
    minimal: bool
    aim: float
    moved_hh: float
    total_hh: float
    made: int
    chain_beats: int

    if TYPE_CHECKING:  # provided by the search class this mixin is part of

        def _can_leave(self, i: int, a: int) -> bool: ...

        def _move(self, i: int, a: int, b: int) -> None: ...

        def _delta(self, i: int, a: int, b: int) -> float: ...

        def _cost_of(self, b: int) -> float: ...

        def _moved_cost(self) -> float: ...

    def _beat_neighbours(self, b: int) -> list[int]:
        assign = self.assign
        nb = self.nb
        out = {assign[v] for u in self.members[b] for v in nb[u]}
        out.discard(b)
        return sorted(out)

    def _can_hand(self, x: int, y: int, leave: dict[int, bool]) -> bool:
        """Whether some unit of beat ``x`` next to beat ``y`` may move there."""
        assign = self.assign
        for u in self.members[x]:
            if self.locked_unit[u] or not any(assign[v] == y for v in self.nb[u]):
                continue
            ok = leave.get(u)
            if ok is None:
                ok = self._can_leave(u, x)
                leave[u] = ok
            if ok:
                return True
        return False

    def _chain(self, s: int, rng: random.Random, temp: float) -> float:
        """Shift load along a path of beats from ``s`` to the nearest beat off the other way.

        Each beat on the path hands one boundary unit to the next, so the
        ends change and the beats between barely do. The chain is kept when
        the annealing rule accepts its total change, else undone. Returns the
        energy change kept.
        """
        if self.locked_beat[s]:
            return 0.0
        mean = self.mean
        W = self.W
        over = W[s] > mean
        parent: dict[int, int] = {s: -1}
        depth = {s: 0}
        queue = [s]
        head = 0
        leave: dict[int, bool] = {}
        best_t, best_score = -1, -math.inf
        while head < len(queue) and head < self.chain_beats:
            b = queue[head]
            head += 1
            around = self._beat_neighbours(b)
            # A shuffled search tries other paths each time.
            rng.shuffle(around)
            for c in around:
                if c in parent or self.locked_beat[c]:
                    continue
                # Only edges some unit can cross now: from b to c when load
                # flows out of s, from c to b when it flows into s.
                src, dst = (b, c) if over else (c, b)
                if not self._can_hand(src, dst, leave):
                    continue
                parent[c] = b
                depth[c] = depth[b] + 1
                queue.append(c)
                gap = (mean - W[c]) if over else (W[c] - mean)
                # The far end: as far off the other way as possible, and near.
                score = gap / mean - 0.01 * depth[c] + 0.02 * rng.random()
                if gap > 0 and score > best_score:
                    best_t, best_score = c, score
        target = best_t
        if target < 0:
            return 0.0
        path = [target]
        while parent[path[-1]] >= 0:
            path.append(parent[path[-1]])
        path.reverse()  # s ... target
        if not over:
            path.reverse()  # load flows from target to s
        gap = abs(W[s] - mean)
        if self.minimal:
            # Only what lies beyond the aim needs to go: less load, fewer households.
            gap = max(gap - self.aim * mean, 0.05 * mean)
        amount = gap * (0.5 + 0.5 * rng.random())
        done: list[tuple[int, int, int]] = []
        marks: list[tuple[int, float]] = []
        total = 0.0
        cap = self.p.max_moved_share * self.total_hh + 1e-9
        for x, y in zip(path[:-1], path[1:], strict=True):
            step = self._hand_over(x, y, amount, cap)
            if not step:
                break
            for u in step:
                total += self._delta(u, x, y)
                self._move(u, x, y)
                done.append((u, x, y))
            # The next beat hands on about what it just received.
            amount = sum(self.w[u] for u in step)
            marks.append((len(done), total))
        # Every prefix of the chain is a valid plan: keep the best one.
        keep, kept = 0, 0.0
        if marks:
            keep, kept = min(marks, key=lambda m: (m[1], m[0]))
            if not (kept <= 0 or rng.random() < math.exp(-kept / temp)):
                keep, kept = 0, 0.0
        for u, x, y in reversed(done[keep:]):
            self._move(u, y, x)
            self.made -= 2
        return kept

    trees_per_recombination = 12

    def _recombine(self, a: int, rng: random.Random, temp: float) -> float:
        """Merge beat ``a`` with a neighbour and cut the union in two again.

        The cut is the most even one over a few random spanning trees of the
        union (each tree edge cut gives two connected parts). Units are big
        next to a beat's load, and this moves many at once where single moves
        stall. Kept by the annealing rule; returns the energy change kept.
        """
        nbrs = [c for c in self._beat_neighbours(a) if not self.locked_beat[c]]
        if not nbrs or self.locked_beat[a]:
            return 0.0
        mean = self.mean
        W = self.W
        if rng.random() < 0.5:
            # The neighbour most off the other way evens both out fastest.
            sign = 1.0 if W[a] > mean else -1.0
            b = min(nbrs, key=lambda c: (sign * (W[c] - mean), c))
        else:
            b = nbrs[rng.randrange(len(nbrs))]
        e0 = self._cost_of(a) + self._cost_of(b) + self._moved_cost()
        done = self._resplit(a, b, None, rng)
        if done is None:
            return 0.0
        d = self._cost_of(a) + self._cost_of(b) + self._moved_cost() - e0
        if d <= 0 or rng.random() < math.exp(-d / temp):
            return d
        self._undo(done)
        return 0.0

    def _path_recombine(self, s: int, rng: random.Random, temp: float) -> float:
        """Recombine along a path of beats so that each gets the mean load in turn.

        Load travels from ``s`` to a beat off the other way several beats
        away; every beat on the way is cut to the mean with the next one,
        which carries the rest on. Kept by the annealing rule.
        """
        if self.locked_beat[s]:
            return 0.0
        mean = self.mean
        W = self.W
        over = W[s] > mean
        parent: dict[int, int] = {s: -1}
        depth = {s: 0}
        queue = [s]
        head = 0
        best_t, best_score = -1, -math.inf
        while head < len(queue) and head < self.chain_beats:
            b = queue[head]
            head += 1
            around = self._beat_neighbours(b)
            # A shuffled search tries other paths each time.
            rng.shuffle(around)
            for c in around:
                if c in parent or self.locked_beat[c]:
                    continue
                parent[c] = b
                depth[c] = depth[b] + 1
                queue.append(c)
                gap = (mean - W[c]) if over else (W[c] - mean)
                score = gap / mean - 0.01 * depth[c] + 0.02 * rng.random()
                if gap > 0 and score > best_score:
                    best_t, best_score = c, score
        if best_t < 0:
            return 0.0
        path = [best_t]
        while parent[path[-1]] >= 0:
            path.append(parent[path[-1]])
        path.reverse()  # s ... target
        touched = set(path)
        e0 = sum(self._cost_of(b) for b in touched) + self._moved_cost()
        log: list[tuple[int, int, int]] = []
        marks: list[tuple[int, float]] = []
        for x, y in zip(path[:-1], path[1:], strict=True):
            goal = mean
            if self.minimal:
                # The nearest edge of the aim band, not the mean: the smallest change.
                goal = min(max(W[x], (1 - self.aim) * mean), (1 + self.aim) * mean)
            done = self._resplit(x, y, goal, rng)
            if done is None:
                break
            log += done
            e = sum(self._cost_of(b) for b in touched) + self._moved_cost()
            marks.append((len(log), e - e0))
        keep, kept = 0, 0.0
        if marks:
            keep, kept = min(marks, key=lambda m: (m[1], m[0]))
            if not (kept <= 0 or rng.random() < math.exp(-kept / temp)):
                keep, kept = 0, 0.0
        self._undo(log[keep:])
        return kept

    def _undo(self, done: list[tuple[int, int, int]]) -> None:
        for u, x, y in reversed(done):
            self._move(u, y, x)
            self.made -= 2

    def _resplit(
        self, a: int, b: int, goal_a: float | None, rng: random.Random
    ) -> list[tuple[int, int, int]] | None:
        """Cut the union of beats ``a`` and ``b`` anew and apply it.

        With ``goal_a`` None the cut evens both beats out; else ``a`` gets a
        load as near ``goal_a`` as the cuts allow. Returns the moves made
        (unit, from, to), or None when no allowed cut changes anything.
        """
        units = self.members[a] + self.members[b]
        local = {u: j for j, u in enumerate(units)}
        m = len(units)
        edges = [
            (local[u], local[v])
            for u in units
            for v in self.nb[u]
            if v in local and local[u] < local[v]
        ]
        w = [self.w[u] for u in units]
        total_w = sum(w)
        cuts: list[tuple[float, int, int, int, list[list[int]], list[int]]] = []
        for t in range(self.trees_per_recombination):
            tree = random_spanning_tree(m, edges, rng)
            if tree is None:
                return None
            parent, found = tree_cuts(m, tree, w, total_w, self.mean, goal_a, 3)
            cuts += [(dev, t, node, flip, tree, parent) for dev, node, flip in found]
        cuts.sort(key=lambda c: (c[0], c[1], c[2], c[3]))
        choice: tuple[list[int], list[int]] | None = None
        for _, _, node, flip, tree, parent in cuts[:12]:
            side = subtree_flags(m, tree, parent, node)
            sub = [units[j] for j in range(m) if side[j]]
            rest = [units[j] for j in range(m) if not side[j]]
            pairs = [(rest, sub)] if flip else [(sub, rest)]
            if goal_a is None:
                pairs = [(sub, rest), (rest, sub)]
            ok = [(pa, pb) for pa, pb in pairs if self._parts_ok(a, pa) and self._parts_ok(b, pb)]
            if ok:
                # Of the allowed labelings, the one that moves fewer households.
                choice = min(ok, key=lambda o: self._moved_by(a, b, o[0], o[1]))
                break
        if choice is None:
            return None
        pa, pb = choice
        go_a = [u for u in pa if self.assign[u] == b]
        go_b = [u for u in pb if self.assign[u] == a]
        if not go_a and not go_b:
            return None
        cap = self.p.max_moved_share * self.total_hh + 1e-9
        done: list[tuple[int, int, int]] = []
        for u in go_a:
            self._move(u, b, a)
            done.append((u, b, a))
        for u in go_b:
            self._move(u, a, b)
            done.append((u, a, b))
        if self.moved_hh > cap:
            self._undo(done)
            return None
        return done

    def _moved_by(self, a: int, b: int, pa: list[int], pb: list[int]) -> float:
        return sum(self.hh[u] for u in pa if self.ref[u] == b) + sum(
            self.hh[u] for u in pb if self.ref[u] == a
        )

    def _parts_ok(self, b: int, part: list[int]) -> bool:
        """Whether ``part`` may become beat ``b``: locks kept, koban rule kept."""
        if not part:
            return False
        for u in part:
            if self.locked_unit[u] and self.assign[u] != b:
                return False
        ks = self.kset[b]
        if ks is not None and self.near[b] > 0 and not any(u in ks for u in part):
            return False
        return not any(
            self.locked_unit[u] and self.assign[u] == b and u not in part for u in self.members[b]
        )

    def _hand_over(self, x: int, y: int, amount: float, cap: float) -> list[int]:
        """One or two units of beat ``x`` next to ``y`` weighing about ``amount``.

        Units are big next to a beat's load, so a pair often fits where no
        single unit does. The units returned can leave ``x`` in that order.
        """
        w = self.w
        assign = self.assign
        cands = [
            u
            for u in self.members[x]
            if not self.locked_unit[u]
            and any(assign[v] == y for v in self.nb[u])
            and not (self.ref[u] == x and self.moved_hh + self.hh[u] > cap)
        ]
        if not cands:
            return []
        cands.sort(key=lambda u: (abs(w[u] - amount), u))
        cands = cands[:10]
        options: list[tuple[float, tuple[int, ...]]] = [(abs(w[u] - amount), (u,)) for u in cands]
        for j, u in enumerate(cands):
            for v in cands[j + 1 :]:
                options.append((abs(w[u] + w[v] - amount), (u, v)))
        options.sort()
        for _, combo in options[:12]:
            if len(combo) == 1:
                if self._can_leave(combo[0], x):
                    return [combo[0]]
                continue
            u, v = combo
            if self.size[x] <= 2 or not self._can_leave(u, x):
                continue
            # Check v with u already gone: move u tentatively.
            self._move(u, x, y)
            ok = self._can_leave(v, x)
            self._move(u, y, x)
            self.made -= 2
            if ok:
                return [u, v]
        return []
