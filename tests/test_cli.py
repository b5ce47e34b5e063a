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
