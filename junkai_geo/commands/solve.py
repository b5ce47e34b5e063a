"""``junkai-geo solve PROBLEM.json``: solve a routing problem given as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import InputError, Problem
from ..settings import load_params
from ..solver import SolverParams, solve_problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("problem", type=Path, help="problem JSON (see docs/solver.md)")
    parser.add_argument("--out", type=Path, help="write the solution here instead of stdout")
    parser.add_argument(
        "--params", type=Path, help="TOML file with a [solver] table of SolverParams"
    )


def run(args: argparse.Namespace) -> int:
    try:
        problem = json.loads(args.problem.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            Problem(str(args.problem), None, None, str(exc), "a readable file")
        ) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            Problem(str(args.problem), exc.lineno, None, exc.msg, "valid JSON", "bad_json")
        ) from exc
    params = load_params(SolverParams, args.params, table="solver") if args.params else None
    solution = solve_problem(problem, params=params)
    text = json.dumps(solution, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0 if solution["status"] != "infeasible" else 3
