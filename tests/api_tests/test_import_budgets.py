"""The upload readers' budgets, each met for real: memory (``RLIMIT_AS``),
CPU seconds (``RLIMIT_CPU``) and wall time (api/import_sandbox.py).

Each test runs the service with small budgets (``import_memory_mb``,
``import_cpu_s``, ``import_wall_s``), uploads a file over one of them, and
checks the one problem the user gets (Japanese first, naming the file and
the budget), that nothing was imported, and that the service still imports
a clean file under the same budgets: so the budget refused the hostile file,
not every file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api.import_sandbox import ImportLimits, read_upload
from junkai_geo.errors import InputError

from .conftest import ApiEnv
from .test_imports import households_csv, row_counts, upload

ATTACKS = Path(__file__).resolve().parents[1] / "fixtures" / "attacks"
#: 8 koban names of 200 MB each (1.6 GB to read) in 19 KB.
MEMORY_BOMB = ATTACKS / "koban_memory_bomb.parquet"
#: 300,000 households: about 2 s of CPU to read and check.
SLOW = ATTACKS / "households_slow.parquet"


@contextmanager
def budgets(env: ApiEnv, **import_settings: Any) -> Iterator[None]:
    """The service's settings with other ``import_*`` budgets, for one test."""
    app: Any = env.client.app
    before = app.state.settings
    app.state.settings = before.model_copy(update=import_settings)
    try:
        yield
    finally:
        app.state.settings = before


def refused(env: ApiEnv, layer: str, path: Path) -> dict[str, Any]:
    """The one problem of ``path``'s refused upload; nothing was stored."""
    before = row_counts(env)
    started = time.monotonic()
    r = upload(env, layer, path.name, path.read_bytes())
    assert r.status_code == 422, r.text[:500]
    assert time.monotonic() - started < 15
    body = r.json()
    assert body["file"] == path.name and body["problem_count"] == 1
    assert body["detail"].startswith(f"{path.name} を取り込めませんでした（問題 1 件。")
    assert row_counts(env) == before  # nothing half-imported
    (problem,) = body["problems"]
    assert problem["file"] == path.name
    return problem


def still_imports(env: ApiEnv, tag: str) -> None:
    """Under the same budgets, a clean file is read and stored."""
    rows = [
        f"HBUDGET-{env.backend}-{tag}-{i},home,BEAT-NAKA1,,1,新町 {i},2020-01-01,136.61{i},36.56"
        for i in range(3)
    ]
    r = upload(env, "households", f"budget_{tag}.csv", households_csv(rows))
    assert r.status_code == 201, r.text[:500]
    assert r.json()["rows"] == 3
    history = env.client.get("/imports", headers=env.auth("admin")).json()
    assert [h["status"] for h in history[-2:]] == ["rejected", "accepted"]


OVER_BUDGET = [
    pytest.param(
        "memory",
        dict(import_memory_mb=1024, import_cpu_s=60, import_wall_s=60.0),
        "koban",
        MEMORY_BOMB,
        "too_large",
        "読み込みにメモリ 1,024 MB を超える量が必要なファイル"
        " (a file that needs more than the import's 1,024 MB of memory)",
        "メモリ 1,024 MB 以内で読めるファイル（ファイルを分けてください）"
        " (at most 1,024 MB: split the file, or raise import_memory_mb)",
        id="memory",
    ),
    pytest.param(
        "cpu",
        dict(import_memory_mb=2048, import_cpu_s=1, import_wall_s=60.0),
        "households",
        SLOW,
        "too_large",
        "読み込みに CPU 時間 1 秒を超える処理が必要なファイル"
        " (a file that needs more than the import's 1 s of CPU)",
        "CPU 時間 1 秒以内で読めるファイル（ファイルを分けてください）"
        " (at most 1 s of CPU: split the file, or raise import_cpu_s)",
        id="cpu",
    ),
    pytest.param(
        "wall",
        dict(import_memory_mb=2048, import_cpu_s=60, import_wall_s=0.5),
        "households",
        SLOW,
        "too_complex",
        "0.5 秒以内に読み終わらなかったファイル (reading took longer than 0.5 s)",
        "0.5 秒以内に読めるファイル（ファイルを分けてください）"
        " (a file read within 0.5 s: split the file, or raise import_wall_s)",
        id="wall",
    ),
]


@pytest.mark.parametrize(
    ("budget", "limits", "layer", "path", "code", "found", "expected"), OVER_BUDGET
)
def test_a_file_over_a_budget_is_refused(
    api_env: ApiEnv,
    budget: str,
    limits: dict,
    layer: str,
    path: Path,
    code: str,
    found: str,
    expected: str,
) -> None:
    """Memory, CPU seconds and wall time: each budget refuses its file, says
    which in Japanese first, and leaves the service importing clean files."""
    with budgets(api_env, **limits):
        problem = refused(api_env, layer, path)
        assert problem["code"] == code
        assert problem["found"] == found
        assert problem["expected"] == expected
        still_imports(api_env, budget)


def _children_of(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def test_a_blocked_reader_is_stopped_at_the_wall_time_budget(tmp_path: Path) -> None:
    """A reader that waits for ever uses no CPU: the wall-time budget alone
    stops it, and its process is gone afterwards.

    The upload is a named pipe whose writer sends the first 200 rows of a
    CSV (more than the 4 KB the format check reads) and then nothing,
    holding the pipe open: the reader waits for the rest.
    """
    fifo = tmp_path / "households_blocked.csv"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # a FIFO opened read-write does not block
    try:
        rows = [f"H-BLOCKED{i},home,BEAT-NAKA1,136.61,36.56" for i in range(200)]
        os.write(writer, "\n".join(["household_id,kind,beat_id,lon,lat", *rows]).encode())
        limits = ImportLimits(cpu_s=60, wall_s=1.0)
        started = time.monotonic()
        with pytest.raises(InputError) as info:
            read_upload(
                fifo, fifo.name, "households", crs=None, today=date(2026, 11, 1), limits=limits
            )
        took = time.monotonic() - started
    finally:
        os.close(writer)
    (problem,) = info.value.problems
    assert (problem.file, problem.code) == (fifo.name, "too_complex")
    assert problem.found == "1 秒以内に読み終わらなかったファイル (reading took longer than 1 s)"
    assert 1.0 <= took < 10
    from multiprocessing import forkserver

    server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    assert server is not None
    deadline = time.monotonic() + 5
    while _children_of(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children_of(server), "the blocked reader was left running"


def test_a_memory_budget_that_would_refuse_every_file_is_not_accepted() -> None:
    """A reader starts at about 480 MB of address space: at 384 MB even a
    four-row CSV was refused, so the setting's floor is 768 MB."""
    from pydantic import ValidationError

    from api.settings import ApiSettings

    with pytest.raises(ValidationError, match="import_memory_mb"):
        ApiSettings(import_memory_mb=384)
    assert ApiSettings(import_memory_mb=768).import_limits().memory_bytes == 768 * 1024**2
