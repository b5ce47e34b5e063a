from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from junkai_geo.errors import MAX_PROBLEMS_KEPT, InputError, Problem, ProblemList, problem_total

from .. import audit
from ..auth import Principal
from ..db import utcnow
from ..deps import DB, Admin, ReadSession, Settings
from ..import_sandbox import read_upload
from ..importer import store_layer
from ..models import ImportRecord
from ..schemas import ImportOut, ImportRejected, ProblemOut
from ..store import today_local
from .reports import invalidate_survey_cache

router = APIRouter(prefix="/imports", tags=["imports"])

Layer = Literal["koban", "beats", "units", "officers", "buildings", "households", "visits"]
SUFFIXES = {".geojson", ".json", ".gpkg", ".csv", ".txt", ".tsv", ".parquet", ".geoparquet"}


def _out(r: ImportRecord) -> ImportOut:
    return ImportOut(
        id=r.id,
        layer=r.layer,
        filename=r.filename,
        status=r.status,
        rows=r.rows,
        problems=r.problems,
        at=r.at,
    )


def _reject(
    session: Session, who: Principal, layer: str, filename: str, problems: list[Problem]
) -> JSONResponse:
    total = problem_total(problems)
    rec = ImportRecord(
        at=utcnow(),
        user_id=who.user_id,
        layer=layer,
        filename=filename,
        status="rejected",
        rows=0,
        problems=total,
    )
    session.add(rec)
    audit.record(session, who, "import_rejected", layer, filename, detail={"problems": total})
    session.commit()
    shown = problems[:MAX_PROBLEMS_KEPT]
    # Japanese first (the pages show it under their own heading), then English.
    detail = (
        f"{filename} を取り込めませんでした（問題 {total:,} 件。何も取り込まれていません）。"
        f" {total} problem(s) in {filename}; nothing was imported"
    )
    if total > len(shown):
        detail += f" (the first {len(shown):,} of {total:,} are listed)"
    body = ImportRejected(
        detail=detail,
        file=filename,
        layer=layer,
        problem_count=total,
        problems=[ProblemOut(**p.to_dict()) for p in shown],
    )
    return JSONResponse(status_code=422, content=body.model_dump())


@router.post(
    "",
    response_model=ImportOut,
    status_code=201,
    responses={422: {"model": ImportRejected}, 413: {"description": "file too large"}},
)
def import_layer(
    who: Admin,
    db: DB,
    settings: Settings,
    layer: Annotated[Layer, Form()],
    file: Annotated[UploadFile, File(description="GeoJSON, GeoPackage, CSV or GeoParquet")],
    crs: Annotated[str | None, Form(max_length=64)] = None,
) -> Any:
    """Import one layer, all or nothing.

    The file is checked completely (columns, values, geometry, CRS, location,
    references to what the database holds); any problem gives 422 with the
    full list and the database is left as it was. Rows are added or updated
    by id; beats become a new beat version. Households without ``beat_id``
    get the beat that holds them (``docs/data_formats.md``); a household in
    no beat is a problem.
    """
    filename = Path(file.filename or "upload").name[:200] or "upload"
    suffix = Path(filename).suffix.lower()
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"file larger than {settings.max_upload_bytes} bytes",
        )
    if suffix not in SUFFIXES:
        with db.write_session() as session:
            return _reject(
                session,
                who,
                layer,
                filename,
                [
                    Problem(
                        filename,
                        None,
                        None,
                        f"file type {suffix or '(none)'!r}",
                        f"one of {sorted(SUFFIXES)}",
                        "unsupported_format",
                    )
                ],
            )
    # Read and check the file before any transaction: in a process of its
    # own, within budgets (api/import_sandbox.py), holding no database lock.
    rejected: list[Problem] | None = None
    with tempfile.TemporaryDirectory(prefix="junkai_import_") as tmp:
        safe = re.sub(r"[^\w.\-]", "_", filename)
        path = Path(tmp) / safe
        path.write_bytes(data)
        del data
        try:
            frame = read_upload(
                path, filename, layer, crs=crs, today=today_local(), limits=settings.import_limits()
            )
        except InputError as exc:
            rejected = ProblemList(
                Problem(filename, p.row, p.field, p.found, p.expected, p.code) for p in exc.problems
            )
            rejected.total = exc.total
        except ValueError as exc:  # e.g. an unknown CRS given by the caller
            rejected = [
                Problem(filename, None, "crs", str(exc)[:200], "a CRS pyproj knows", "bad_crs")
            ]
    with db.write_session() as session:
        if rejected is not None:
            return _reject(session, who, layer, filename, rejected)
        try:
            result = store_layer(session, layer, frame, filename)
        except InputError as exc:
            session.rollback()
            return _reject(session, who, layer, filename, exc.problems)
        rows = result.rows
        rec = ImportRecord(
            at=utcnow(),
            user_id=who.user_id,
            layer=layer,
            filename=filename,
            status="accepted",
            rows=rows,
            problems=0,
        )
        session.add(rec)
        audit.record(session, who, "import", layer, filename, detail={"rows": rows})
        session.commit()
        invalidate_survey_cache()
        return _out(rec)


@router.get("", response_model=list[ImportOut])
def list_imports(who: Admin, session: ReadSession) -> list[ImportOut]:
    return [_out(r) for r in session.scalars(select(ImportRecord).order_by(ImportRecord.id))]
