from __future__ import annotations

import subprocess
import sys

from junkai_geo.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_console_script_runs():
    r = subprocess.run(
        [sys.executable, "-m", "junkai_geo.cli", "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0
    assert "巡回連絡" in r.stdout


def test_solve_problem_is_exposed_at_package_level():
    import json
    from pathlib import Path

    import junkai_geo

    problem = json.loads((Path(__file__).parents[1] / "examples" / "problem.json").read_text())
    solution = junkai_geo.solve_problem(problem)
    assert solution["status"] in {"feasible", "optimal"}
    served = {s["visit"] for r in solution["routes"] for s in r["stops"]}
    skipped = {u["visit"] for u in solution["unassigned"]}
    assert served | skipped == {v["id"] for v in problem["visits"]}
    assert not served & skipped
