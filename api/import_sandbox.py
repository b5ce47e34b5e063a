"""Read an uploaded layer file in a process of its own, within budgets.

An upload is whatever a client sends, so the service never opens it in its
own process:

- **The declared format must be the real one.** The file's first bytes are
  checked against its suffix before any reader sees it (a ``.geojson`` is
  JSON text, a ``.gpkg`` a GeoPackage, a ``.parquet`` Parquet, a ``.csv``
  text): an OGR VRT or an SQLite file named ``innocent.geojson`` is refused
  without being opened.
- **A fresh process for each upload, started in milliseconds.** Readers are
  forks of a fork server (one per service process, started at the first
  upload) that has loaded GeoPandas and GDAL once (:mod:`api.import_reader`)
  and never reads an upload itself; a new interpreter importing them took
  about 0.6 s of every upload.
- **GDAL reads local files only, with no virtual formats.** The fork server
  sets ``GDAL_SKIP`` for the VRT drivers and allows no network
  (``/vsicurl/``, HTTP) before it loads GDAL, so a file cannot make the
  service read another file or send a request.
- **Budgets.** Memory (``RLIMIT_AS``), CPU seconds (``RLIMIT_CPU``) and wall
  time; a Parquet file declaring more rows than ``max_rows`` is refused
  from its metadata; geometries with more vertices than allowed are
  refused. A file over any budget gets one clear problem instead of taking
  the server down; the child ends when the service does (or stops
  waiting for it: api/children.py).
- **Bounded reports.** The first ``MAX_PROBLEMS_KEPT`` problems are kept and
  all are counted (``ProblemList``), so a file with a million bad rows gets a
  short answer.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from junkai_geo.errors import InputError, Problem, ProblemList

#: GDAL settings of the reading process: no virtual drivers, no network.
GDAL_SANDBOX_ENV = {
    "GDAL_SKIP": "VRT OGR_VRT",
    "OGR_SKIP": "VRT,OGR_VRT",  # commas: GDAL read "VRT OGR_VRT" as one unknown name
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".junkai-none",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_MAX_RETRY": "0",
    "CPL_VSIL_CURL_USE_HEAD": "NO",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
}

#: The module the readers' fork server loads once (GDAL settings, then GDAL).
READER_PRELOAD = "api.import_reader"


@dataclass(frozen=True)
class ImportLimits:
    """The budgets of one upload's reading (api settings ``import_*``)."""

    memory_bytes: int = 3 * 1024**3
    cpu_s: int = 120
    wall_s: float = 180.0
    max_rows: int = 2_000_000
    max_vertices_per_feature: int = 100_000
    max_vertices: int = 20_000_000


def _problem(file: str, found: str, expected: str, code: str) -> Problem:
    return Problem(file, None, None, found, expected, code)


def _text_start(head: bytes) -> bytes:
    return head.lstrip(b"\xef\xbb\xbf").lstrip()


def check_declared_format(path: Path, filename: str) -> Problem | None:
    """A problem when the file's content is not what its suffix says."""
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if suffix in (".geojson", ".json"):
        if not _text_start(head).startswith((b"{", b"[")):
            return _problem(
                filename,
                f"content starting {head[:16]!r}",
                "GeoJSON text (a JSON object)",
                "format_mismatch",
            )
    elif suffix == ".gpkg":
        if not head.startswith(b"SQLite format 3\x00") or head[68:72] not in (
            b"GPKG",
            b"GP10",
            b"GP11",
        ):
            return _problem(
                filename, "a file that is not a GeoPackage", "a GeoPackage", "format_mismatch"
            )
        try:  # no views, no triggers: data only
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                kinds = {
                    row[0]
                    for row in con.execute(
                        "SELECT type FROM sqlite_master WHERE type IN ('view', 'trigger')"
                    )
                }
            finally:
                con.close()
        except sqlite3.DatabaseError:
            return _problem(filename, "a damaged GeoPackage", "a GeoPackage", "format_mismatch")
        if kinds:
            return _problem(
                filename,
                f"a GeoPackage with {' and '.join(sorted(kinds))}s",
                "a GeoPackage of tables only (no views or triggers)",
                "format_mismatch",
            )
    elif suffix in (".parquet", ".geoparquet"):
        if not head.startswith(b"PAR1"):
            return _problem(filename, "a file that is not Parquet", "Parquet", "format_mismatch")
    elif suffix in (".csv", ".txt", ".tsv") and (
        b"\x00" in head or head.startswith((b"SQLite format", b"PAR1", b"PK\x03\x04"))
    ):
        return _problem(filename, "binary content", "CSV text", "format_mismatch")
    return None


def _limit_resources(limits: ImportLimits) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))


def _cause_of_death(exitcode: int | None) -> str:
    """Which budget a reader that died without an answer went over.

    ``RLIMIT_CPU`` ends it with SIGXCPU (SIGKILL at the hard limit, 5 s
    later, if SIGXCPU were caught). Over ``RLIMIT_AS`` an allocation fails:
    Python and Arrow raise ``MemoryError`` (answered as ``memory``), C++
    code aborts (SIGABRT) and C code may crash (SIGSEGV); the kernel's OOM
    killer sends SIGKILL. Any other end is the reader failing, not a budget.
    """
    if exitcode is None or exitcode >= 0:
        return "crash"
    if -exitcode == signal.SIGXCPU:
        return "cpu"
    return "memory"


def over_budget(filename: str, budget: str, limits: ImportLimits) -> Problem:
    """The problem of an upload whose reading went over ``budget``.

    ``budget`` is ``memory``, ``cpu`` or ``wall`` (or ``crash``: the reader
    died for another reason). Japanese first, as the pages show it; the
    English after it is for engineers and names the setting to raise.
    """
    mb = limits.memory_bytes // 1024**2
    if budget == "memory":
        return _problem(
            filename,
            f"読み込みにメモリ {mb:,} MB を超える量が必要なファイル"
            f" (a file that needs more than the import's {mb:,} MB of memory)",
            f"メモリ {mb:,} MB 以内で読めるファイル（ファイルを分けてください）"
            f" (at most {mb:,} MB: split the file, or raise import_memory_mb)",
            "too_large",
        )
    if budget == "cpu":
        return _problem(
            filename,
            f"読み込みに CPU 時間 {limits.cpu_s} 秒を超える処理が必要なファイル"
            f" (a file that needs more than the import's {limits.cpu_s} s of CPU)",
            f"CPU 時間 {limits.cpu_s} 秒以内で読めるファイル（ファイルを分けてください）"
            f" (at most {limits.cpu_s} s of CPU: split the file, or raise import_cpu_s)",
            "too_large",
        )
    if budget == "wall":
        return _problem(
            filename,
            f"{limits.wall_s:g} 秒以内に読み終わらなかったファイル"
            f" (reading took longer than {limits.wall_s:g} s)",
            f"{limits.wall_s:g} 秒以内に読めるファイル（ファイルを分けてください）"
            f" (a file read within {limits.wall_s:g} s: split the file, or raise import_wall_s)",
            "too_complex",
        )
    return _problem(
        filename,
        "読み込み処理が途中で止まったファイル (the reading process ended without an answer)",
        "読み込めるファイル (a file the reader can read; see the service log)",
        "unreadable",
    )


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _vertex_problems(frame: Any, filename: str, limits: ImportLimits) -> list[Problem]:
    if "geometry" not in getattr(frame, "columns", ()):
        return []
    import shapely

    counts = shapely.get_num_coordinates(frame.geometry.values)
    problems = []
    big = (counts > limits.max_vertices_per_feature).nonzero()[0]
    for i in big[:20]:
        problems.append(
            Problem(
                filename,
                int(i) + 1,
                "geometry",
                f"{int(counts[i]):,} vertices",
                f"at most {limits.max_vertices_per_feature:,} (simplify the polygon)",
                "too_many_vertices",
            )
        )
    if int(counts.sum()) > limits.max_vertices:
        problems.append(
            _problem(
                filename,
                f"{int(counts.sum()):,} vertices in all",
                f"at most {limits.max_vertices:,}",
                "too_many_vertices",
            )
        )
    return problems


def _child(
    path: str,
    filename: str,
    layer: str,
    crs: str | None,
    today: date,
    limits: ImportLimits,
    conn: Any,
) -> None:
    from .children import die_with_listener

    # The parent is the fork server, which waits for its children: the
    # service's end of ``conn`` closing (the service gone) ends the reader.
    die_with_listener(conn.fileno())
    os.environ.update(GDAL_SANDBOX_ENV)  # as set in the fork server already
    _limit_resources(limits)
    from junkai_geo.ingest import read_layer

    p = Path(path)
    try:
        if p.suffix.lower() in (".parquet", ".geoparquet"):
            rows = _parquet_rows(p)
            if rows > limits.max_rows:
                raise InputError(
                    _problem(
                        filename, f"{rows:,} rows", f"at most {limits.max_rows:,}", "too_large"
                    )
                )
        frame = read_layer(p, layer, crs=crs, today=today)
        if len(frame) > limits.max_rows:
            raise InputError(
                _problem(
                    filename, f"{len(frame):,} rows", f"at most {limits.max_rows:,}", "too_large"
                )
            )
        vertex = _vertex_problems(frame, filename, limits)
        if vertex:
            raise InputError(vertex)
        conn.send(("ok", frame, len(frame)))  # pickled whole before a byte is sent
    except InputError as exc:
        total = exc.total
        conn.send(("problems", [q.to_dict() for q in exc.problems[:1000]], total))
    except ValueError as exc:
        conn.send(("value_error", str(exc)[:200], 0))
    except MemoryError:  # also Arrow's, which the library no longer calls unreadable
        frame = None
        conn.send(("memory", "", 0))


def reader_context() -> Any:
    """The start method of the reading processes: the fork server.

    It is one per process (``multiprocessing``'s own); nothing else in the
    service starts processes from it, so its preload is the readers' alone.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([READER_PRELOAD])
    return ctx


def read_upload(
    path: Path, filename: str, layer: str, *, crs: str | None, today: date, limits: ImportLimits
) -> Any:
    """The layer read from an uploaded file, or :class:`InputError`.

    ``ValueError`` (other than InputError) is raised for a bad ``crs``
    argument, as :func:`junkai_geo.ingest.read_layer` does.
    """
    bad = check_declared_format(path, filename)
    if bad is not None:
        raise InputError(bad)
    ctx = reader_context()
    parent_end, child_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child,
        args=(str(path), filename, layer, crs, today, limits, child_end),
        name="import-reader",
        daemon=True,
    )
    proc.start()
    child_end.close()
    try:
        if not parent_end.poll(limits.wall_s):
            raise InputError(over_budget(filename, "wall", limits))
        try:
            kind, payload, total = parent_end.recv()
        except EOFError:  # the child died without an answer
            proc.join(5)
            raise InputError(
                over_budget(filename, _cause_of_death(proc.exitcode), limits)
            ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent_end.close()
    if kind == "ok":
        return payload
    if kind == "problems":
        problems = ProblemList(Problem(**d) for d in payload)
        problems.total = max(int(total), len(problems))
        raise InputError(problems)
    if kind == "memory":
        raise InputError(over_budget(filename, "memory", limits))
    raise ValueError(payload)
