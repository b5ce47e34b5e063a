"""Uploads through HTTP: the ingest fixture corpus gives 4xx with the full
report and leaves the database as it was; a clean file is stored whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.models import BeatRow, BuildingRow, HouseholdRow, KobanRow, OfficerRow, VisitRow
from junkai_geo.ingest import validate_layer

from .conftest import ApiEnv

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LAYERS = ("koban", "beats", "officers", "buildings", "households", "visits")
SINGLE_FILE = {".geojson", ".gpkg", ".csv"}
#: Every single-file ingest fixture but the clean ``*_ok`` ones; none fits the
#: test database (bad data, or references to ids such as B1 / K1 it does not hold).
CORPUS = sorted(
    p
    for p in FIXTURES.iterdir()
    if p.suffix in SINGLE_FILE and p.name.split("_", 1)[0] in LAYERS and "_ok" not in p.stem
)
DATA_TABLES = (KobanRow, BeatRow, OfficerRow, BuildingRow, HouseholdRow, VisitRow)


def row_counts(env: ApiEnv) -> dict[str, int]:
    with env.db.read_session() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0 for m in DATA_TABLES
        }


def upload(env: ApiEnv, layer: str, name: str, data: bytes, user: str = "admin"):
    return env.client.post(
        "/imports",
        headers=env.auth(user),
        data={"layer": layer},
        files={"file": (name, data, "application/octet-stream")},
    )


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 20, "the ingest fixture corpus is missing"


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_bad_upload_reports_everything_and_changes_nothing(api_env: ApiEnv, path: Path) -> None:
    layer = path.name.split("_", 1)[0]
    before = row_counts(api_env)
    r = upload(api_env, layer, path.name, path.read_bytes())
    assert r.status_code == 422, r.text[:300]
    body = r.json()
    assert body["problems"] and body["file"] == path.name
    assert str(len(body["problems"])) in body["detail"]
    # The full report: every problem the library finds in the file is in it.
    library = Counter((str(p.row), p.field, p.code) for p in validate_layer(path, layer))
    got = Counter((str(p["row"]), p["field"], p["code"]) for p in body["problems"])
    assert not library - got, f"missing from the HTTP report: {library - got}"
    assert all(p["file"] == path.name for p in body["problems"])
    assert row_counts(api_env) == before


def households_csv(rows: list[str]) -> bytes:
    head = "household_id,kind,beat_id,building_id,floor,address,registered_on,lon,lat\n"
    return (head + "\n".join(rows) + "\n").encode("utf-8")


def test_clean_upload_is_stored_and_one_bad_row_stores_nothing(api_env: ApiEnv) -> None:
    good = [
        f"HNEW-{api_env.backend}-{i},home,BEAT-NAKA1,,2,新町 {i},2020-01-01,136.61{i},36.56"
        for i in range(5)
    ]
    before = row_counts(api_env)
    r = upload(api_env, "households", "new_households.csv", households_csv(good))
    assert r.status_code == 201, r.text[:500]
    assert r.json()["rows"] == 5
    after = row_counts(api_env)
    assert after["households"] == before["households"] + 5
    bad = [g.replace("HNEW", "HNEW2") for g in good]
    bad[3] = bad[3].replace("BEAT-NAKA1", "BEAT-NOWHERE")
    bad[4] = bad[4].replace("36.56", "96.56")
    r = upload(api_env, "households", "mixed.csv", households_csv(bad))
    assert r.status_code == 422
    assert len(r.json()["problems"]) >= 1
    assert row_counts(api_env) == after


def test_unsupported_format_and_role(api_env: ApiEnv) -> None:
    r = upload(api_env, "households", "notes.docx", b"PK\x03\x04")
    assert r.status_code == 422 and r.json()["problems"][0]["code"] == "unsupported_format"
    assert upload(api_env, "households", "x.csv", b"a,b\n", user="mgr_naka").status_code == 403
