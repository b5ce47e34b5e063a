"""Random spanning trees and their cuts: how two beats are cut anew into connected parts.

Cutting one edge of a spanning tree of a connected set of units leaves two
connected parts; trying the edges of a few random trees gives many such
two-part splits (the recombination of ReCom-style redistricting).
"""

from __future__ import annotations

import random


def random_spanning_tree(
    m: int, edges: list[tuple[int, int]], rng: random.Random
) -> list[list[int]] | None:
    """Adjacency lists of a random spanning tree (Kruskal on random weights)."""
    order = edges[:]
    rng.shuffle(order)
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tree: list[list[int]] = [[] for _ in range(m)]
    joined = 0
    for u, v in order:
        ru, rv = find(u), find(v)
        if ru != rv:
            parent[ru] = rv
            tree[u].append(v)
            tree[v].append(u)
            joined += 1
            if joined == m - 1:
                break
    return tree if joined == m - 1 else None


def tree_cuts(
    m: int,
    tree: list[list[int]],
    w: list[float],
    total: float,
    mean: float,
    goal: float | None,
    keep: int,
) -> tuple[list[int], list[tuple[float, int, int]]]:
    """The ``keep`` best tree edges to cut.

    With ``goal`` None a cut is as good as the larger relative deviation of
    its two parts from ``mean``; else as near as one part (the subtree, or the
    rest when ``flip`` is 1) comes to ``goal``. Returns the tree's parent
    array (rooted at 0) and ``(score, node below the cut edge, flip)``.
    """
    parent = [-1] * m
    order = [0]
    parent[0] = 0
    for u in order:
        for v in tree[u]:
            if parent[v] < 0:
                parent[v] = u
                order.append(v)
    sub = w[:]
    for u in reversed(order[1:]):
        sub[parent[u]] += sub[u]
    scale = mean if mean > 0 else 1.0
    found: list[tuple[float, int, int]] = []
    for u in order[1:]:
        if goal is None:
            found.append((max(abs(sub[u] - mean), abs(total - sub[u] - mean)) / scale, u, 0))
        else:
            found.append((abs(sub[u] - goal) / scale, u, 0))
            found.append((abs(total - sub[u] - goal) / scale, u, 1))
    found.sort()
    return parent, found[:keep]


def subtree_flags(m: int, tree: list[list[int]], parent: list[int], node: int) -> list[int]:
    """1 for the nodes of the subtree below ``node`` (the tree rooted at 0)."""
    side = [0] * m
    stack = [node]
    side[node] = 1
    while stack:
        u = stack.pop()
        for v in tree[u]:
            if v != parent[u] and not side[v]:
                side[v] = 1
                stack.append(v)
    return side
