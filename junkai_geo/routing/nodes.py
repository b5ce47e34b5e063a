"""Routing nodes: a building's households grouped into one approach, and pruning."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .clock import Window
from .params import RouteParams


@dataclass(frozen=True)
class Node:
    """A routing node: some households of one building, one approach."""

    node_id: str
    building_id: str | None
    x: float
    y: float
    rows: tuple[int, ...]  # positions in the candidate table
    service_s: int
    value: float  # sum of expected values used for planning
    windows: tuple[Window, ...]  # windows the node may be served in
    address: str = ""


def build_nodes(
    table: pd.DataFrame, windows: list[Window], params: RouteParams
) -> tuple[list[Node], dict[int, str]]:
    """Group candidate households into building nodes.

    ``table`` has one row per candidate with ``building_id``, ``floor``,
    ``service_s``, ``plan_value``, ``window_mask`` (bit i: window i allowed),
    ``x``, ``y``, ``address``. Returns the nodes and, for rows that fit no
    node, the reason ``outside_window``.
    """
    nodes: list[Node] = []
    skipped: dict[int, str] = {}
    lengths = np.array([b - a for a, b in windows], dtype=np.int64)
    key_building = table["building_id"].where(table["building_id"].notna(), None)
    # Households without a building are their own node.
    key = np.where(
        key_building.isna(),
        "H:" + table["household_id"].astype(str),
        "B:" + key_building.astype(str),
    )
    # Inside a building the most valuable households per second of service
    # go into the first chunks; floors break ties.
    masks = table["window_mask"].to_numpy(np.int64)
    density = -table["plan_value"].to_numpy(float) / table["service_s"].to_numpy(float)
    floors = table["floor"].to_numpy(np.int64)
    _, key_code = np.unique(key, return_inverse=True)
    order = np.lexsort((np.arange(len(table)), floors, density, masks, key_code))
    service = table["service_s"].to_numpy(np.int64)
    plan_value = table["plan_value"].to_numpy(float)
    xs, ys = table["x"].to_numpy(float), table["y"].to_numpy(float)
    bid = table["building_id"].to_numpy(object)
    addr = table["address"].to_numpy(object)
    group = np.stack([key_code[order], masks[order]], axis=1)
    cuts = np.flatnonzero(np.any(np.diff(group, axis=0) != 0, axis=1)) + 1
    # Plain Python numbers in the loop: most groups are one household, where
    # numpy calls cost more than the arithmetic.
    service_l, floors_l = service.tolist(), floors.tolist()
    value_l, xs_l, ys_l = plan_value.tolist(), xs.tolist(), ys.tolist()
    approach, per_floor = params.building_approach_s, params.per_floor_s
    for rows_arr in np.split(order, cuts) if len(order) else []:
        rows = rows_arr.tolist()
        k, mask = str(key[rows[0]]), int(masks[rows[0]])
        allowed = [i for i in range(len(windows)) if mask >> i & 1]
        if not allowed:
            for r in rows:
                skipped[r] = "outside_window"
            continue
        longest = max(int(lengths[i]) for i in allowed)
        limit = min(params.node_max_service_s, longest)
        day_s = sum(int(lengths[i]) for i in allowed)
        # Greedy chunks in the sorted order; (rows, service_s) each.
        chunks: list[tuple[list[int], int]] = []
        chunk: list[int] = []
        work, top = 0, 1
        for r in rows:
            w2, t2 = work + service_l[r], max(top, floors_l[r])
            if chunk and approach + w2 + per_floor * (t2 - 1) > limit:
                chunks.append((chunk, approach + work + per_floor * (top - 1)))
                chunk, work, top = [r], service_l[r], floors_l[r]
            else:
                chunk.append(r)
                work, top = w2, t2
        if chunk:
            chunks.append((chunk, approach + work + per_floor * (top - 1)))
        # Chunks beyond what the day's windows can hold never reach the solver.
        used = 0
        for c, s in chunks:
            used += s
            if used > day_s and used - s > 0:
                for r in c:
                    skipped[r] = "no_time"
                continue
            if s > longest:
                # Even alone it does not fit the longest window it may use.
                for r in c:
                    skipped[r] = "outside_window"
                continue
            if len(c) > 1:
                c = sorted(c, key=lambda r: (floors_l[r], r))
            first = bid[c[0]]
            nodes.append(
                Node(
                    node_id=f"{k[2:]}#{mask}#{len(nodes)}",
                    building_id=None if first is None or pd.isna(first) else str(first),
                    x=sum(xs_l[r] for r in c) / len(c),
                    y=sum(ys_l[r] for r in c) / len(c),
                    rows=tuple(int(r) for r in c),
                    service_s=int(s),
                    value=float(sum(value_l[r] for r in c)),
                    windows=tuple(
                        windows[i] for i in allowed if windows[i][1] - windows[i][0] >= s
                    ),
                    address=_common_address([addr[r] for r in c]),
                )
            )
    return nodes, skipped


def _common_address(addresses: list[Any]) -> str:
    """The address shared by a node's households (without room numbers)."""
    texts = [str(a) for a in addresses if a is not None and not pd.isna(a) and str(a)]
    if not texts:
        return ""
    if len(set(texts)) == 1:
        return texts[0]
    prefix = os.path.commonprefix(texts)
    # Cut back to a whole token: "25-1 105号室" / "25-1 106号室" -> "25-1".
    cut = prefix.rsplit(" ", 1)[0] if " " in prefix and not prefix.endswith(" ") else prefix
    return cut.strip() or texts[0]


def prune_nodes(
    nodes: list[Node],
    start_xy: np.ndarray,
    end_xy: np.ndarray,
    *,
    shift: Window,
    speed_mps: float,
    detour: float,
    keep: int,
) -> tuple[list[Node], list[Node], list[Node]]:
    """Split nodes into (kept, less_valuable, unreachable) before the solver.

    A node is unreachable when going there from the start, serving it and
    going on to the end does not fit in the shift (straight line x detour).
    Of the others, the ``keep`` nodes of highest ``value / (service_s +
    t_start)`` are kept, where ``t_start`` is the estimated travel time from
    the start: value per second of the officer's time, with the trip out
    charged to the node, so near nodes win ties and far clusters must be
    worth the walk.
    """
    if not nodes:
        return [], [], []
    xy = np.array([[n.x, n.y] for n in nodes])
    t_start = np.hypot(*(xy - start_xy).T) * detour / speed_mps
    t_end = np.hypot(*(xy - end_xy).T) * detour / speed_mps
    service = np.array([n.service_s for n in nodes], float)
    value = np.array([n.value for n in nodes], float)
    fits = (t_start + service + t_end <= shift[1] - shift[0]) & np.array(
        [bool(n.windows) for n in nodes]
    )
    score = value / (service + t_start + 1.0)
    order = np.lexsort((np.arange(len(nodes)), -score))  # stable on ties: input order
    reach = [int(i) for i in order if fits[i]]
    kept_idx = set(reach[:keep])
    kept = [nodes[i] for i in sorted(kept_idx)]
    less = [nodes[i] for i in reach[keep:]]
    unreachable = [nodes[i] for i in range(len(nodes)) if not fits[i]]
    return kept, less, unreachable


def solver_windows(node: Node, shift: Window) -> list[list[int]]:
    """The windows of ``node`` as the solver bounds the start of its service."""
    # The solver bounds the start of service; the whole visit must fit in the
    # window, so the latest start is the close minus the service time.
    return [
        [max(a, shift[0]), b - node.service_s]
        for a, b in node.windows
        if b - node.service_s >= max(a, shift[0])
    ]
