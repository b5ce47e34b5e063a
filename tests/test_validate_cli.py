"""``junkai-geo validate``: report text, JSON output and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from junkai_geo.cli import main

F = Path(__file__).resolve().parent / "fixtures"


def test_clean_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(F / "households_cp932.csv"), "--layer", "households"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "households_cp932.csv (layer households): 4 row(s), CRS EPSG:6668 -> EPSG:6675, "
        "encoding cp932",
        "OK: no problems found",
    ]


def test_problems_are_printed_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(F / "households_swapped_latlon.csv"), "--layer", "households"])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "1 problem(s):"
    assert lines[2] == (
        "  - households_swapped_latlon.csv, row/feature 2, field 'geometry': found lon 36.550000,"
        " lat 136.630000 (outside Japan); expected coordinates in Japan; lon/lat look swapped "
        "[swapped_lonlat]"
    )


def test_json_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(F / "visits_bad_date.csv"), "--layer", "visits", "--json"])
    assert code == 1
    assert json.loads(capsys.readouterr().out) == [
        {
            "file": "visits_bad_date.csv",
            "row": 2,
            "field": "visited_on",
            "found": "'2024-02-30'",
            "expected": "a date YYYY-MM-DD",
            "code": "bad_date",
        },
        {
            "file": "visits_bad_date.csv",
            "row": 3,
            "field": "time",
            "found": "'25:10'",
            "expected": "a time HH:MM",
            "code": "bad_time",
        },
    ]


def test_json_of_a_clean_file_is_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(F / "beats_ok.shp"), "--layer", "beats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_crs_today_and_repair_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "validate",
                str(F / "households_xy.csv"),
                "--layer",
                "households",
                "--crs",
                "EPSG:6675",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "validate",
                str(F / "visits_future_date.csv"),
                "--layer",
                "visits",
                "--today",
                "2031-04-01",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            ["validate", str(F / "beats_self_intersection.geojson"), "--layer", "beats", "--repair"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "note: beats_self_intersection.geojson, row/feature B2: repaired invalid geometry" in out


def test_encoding_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "validate",
                str(F / "households_cp932.csv"),
                "--layer",
                "households",
                "--encoding",
                "utf-8",
            ]
        )
        == 1
    )
    assert "[encoding]" in capsys.readouterr().out


def test_unknown_layer_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", str(F / "beats_ok.geojson"), "--layer", "roads"])
    assert info.value.code == 2


def test_console_script_runs() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "junkai_geo.cli",
            "validate",
            str(F / "koban_unknown_kind.geojson"),
            "--layer",
            "koban",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    [problem] = json.loads(proc.stdout)
    assert (problem["row"], problem["field"], problem["code"]) == ("K2", "kind", "unknown_enum")
