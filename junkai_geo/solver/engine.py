"""The OR-Tools routing model and its guided local search.

Visits become nodes with a disjunction each: an optional visit may be
dropped at a penalty of ``value * weight`` and a required one at a penalty
larger than all values together, so the search always has a solution and an
unserved required visit is reported rather than a solver failure. ``weight``
exceeds any possible total travel, so value comes first and travel second.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from .local import Routes
from .problem import RoutingData

#: OR-Tools costs are int64; keep well below to leave room for sums.
MAX_COST = 2**60


def penalty_weight(data: RoutingData) -> int:
    """A weight per unit of value larger than any total travel."""
    return int((data.shift_end - data.shift_start).sum()) + 1


def improve_with_ortools(
    data: RoutingData,
    routes: Routes | None,
    allowed: np.ndarray,
    *,
    failure_limit: int,
    time_limit_s: float,
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION",
    lns: bool = True,
) -> tuple[Routes | None, int]:
    """Guided local search from ``routes`` (or from OR-Tools' own first solution).

    The search stops after ``failure_limit`` failures of the constraint
    solver (a deterministic measure of work) or after ``time_limit_s``.
    Returns the routes found (``None`` if none) and the failures spent.
    """
    # Building the model counts against the limit too (it is not free on a busy machine).
    ends_at = time.perf_counter() + time_limit_s
    cand = np.flatnonzero(allowed.any(axis=1))
    n, n_off = len(cand), data.n_officers
    node_loc = np.concatenate(
        [data.visit_location[cand], np.stack([data.officer_start, data.officer_end], 1).ravel()]
    )
    starts = [n + 2 * k for k in range(n_off)]
    ends = [n + 2 * k + 1 for k in range(n_off)]
    manager = pywrapcp.RoutingIndexManager(n + 2 * n_off, n_off, starts, ends)
    model = pywrapcp.RoutingModel(manager)

    travel = data.durations[node_loc][:, node_loc]
    service = np.concatenate([data.service[cand], np.zeros(2 * n_off, dtype=np.int64)])
    arc_cb = model.RegisterTransitMatrix(travel.tolist())
    time_cb = model.RegisterTransitMatrix((travel + service[:, None]).tolist())
    model.SetArcCostEvaluatorOfAllVehicles(arc_cb)
    horizon = int(data.shift_end.max())
    model.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = model.GetDimensionOrDie("time")
    if data.has_capacity:
        demand = np.concatenate([data.demand[cand], np.zeros(2 * n_off, dtype=np.int64)])
        load_cb = model.RegisterUnaryTransitVector(demand.tolist())
        caps = np.minimum(data.capacity, MAX_COST).tolist()
        model.AddDimensionWithVehicleCapacity(load_cb, 0, caps, True, "load")

    weight = penalty_weight(data)
    total_value = int(data.value[cand].sum())
    required_penalty = min((total_value + 1) * weight, MAX_COST // max(1, n))
    for node, v in enumerate(cand):
        index = manager.NodeToIndex(node)
        wo, wc = data.window_open[v], data.window_close[v]
        real = wo <= wc
        wo, wc = wo[real], wc[real]
        cumul = time_dim.CumulVar(index)
        cumul.SetRange(int(wo.min()), int(wc.max()))
        for j in range(len(wo) - 1):  # the gaps between windows are forbidden
            if wc[j] + 1 <= wo[j + 1] - 1:
                cumul.RemoveInterval(int(wc[j] + 1), int(wo[j + 1] - 1))
        penalty = (
            required_penalty
            if data.required[v]
            else min(int(data.value[v]) * weight, MAX_COST // max(1, n))
        )
        model.AddDisjunction([index], int(penalty))
        ks = np.flatnonzero(allowed[v])
        if len(ks) < n_off:
            # Not SetAllowedVehiclesForIndex: its binding refuses every Python
            # list in OR-Tools 9.15 ("absl::Span< int const >"). The vehicle
            # variable's domain says the same (-1: not performed).
            model.VehicleVar(index).SetValues([-1, *(int(k) for k in ks)])
    for k in range(n_off):
        time_dim.CumulVar(model.Start(k)).SetRange(int(data.shift_start[k]), int(data.shift_end[k]))
        time_dim.CumulVar(model.End(k)).SetRange(int(data.shift_start[k]), int(data.shift_end[k]))

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, first_solution
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    if lns:
        # OR-Tools' heuristic ruin-and-recreate neighbourhoods (remove the most
        # expensive chain, or nodes close to each other, and reinsert them):
        # measured on Solomon R1/RC1 at 10 s, they took the mean gap of the
        # hardest instances from 10.6 % to 4.3 %. The CP-based LNS operators
        # (path_lns, inactive_lns) cost more than they gave.
        ops = params.local_search_operators
        on = optional_boolean_pb2.BOOL_TRUE
        ops.use_global_cheapest_insertion_expensive_chain_lns = on
        ops.use_local_cheapest_insertion_expensive_chain_lns = on
        ops.use_global_cheapest_insertion_close_nodes_lns = on
        ops.use_local_cheapest_insertion_close_nodes_lns = on

    model.AddSearchMonitor(model.solver().FailuresLimit(max(1, int(failure_limit))))

    position = {int(v): node for node, v in enumerate(cand)}
    solution = None
    params.time_limit.FromMilliseconds(max(1, int((ends_at - time.perf_counter()) * 1000)))
    if routes is not None and any(routes):
        model.CloseModelWithParameters(params)
        node_routes = [[manager.NodeToIndex(position[v]) for v in r] for r in routes]
        initial = model.ReadAssignmentFromRoutes(node_routes, True)
        if initial is not None:
            solution = model.SolveFromAssignmentWithParameters(initial, params)
    if solution is None:
        left = max(1, int((ends_at - time.perf_counter()) * 1000))
        params.time_limit.FromMilliseconds(left)
        solution = model.SolveWithParameters(params)
    solutions = int(model.solver().Failures())
    if solution is None:
        return None, solutions
    out: Routes = []
    for k in range(n_off):
        index = solution.Value(model.NextVar(model.Start(k)))
        route = []
        while not model.IsEnd(index):
            route.append(int(cand[manager.IndexToNode(index)]))
            index = solution.Value(model.NextVar(index))
        out.append(route)
    return out, solutions
