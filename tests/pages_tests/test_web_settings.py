"""Tile settings, the local MBTiles reader, CSP, login CSRF and logout (no browser)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import create_user
from api.db import Database
from api.main import create_app
from api.pages.tiles import EMPTY_PNG
from api.settings import GSI_TILE_URL, ApiSettings
from junkai_geo.errors import InputError
from tests.pmtiles_fixture import tile_png, write_pmtiles

PASSWORD = "correct-horse-battery"
PNG = EMPTY_PNG  # any PNG will do as the one tile of the file


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    made: list[Any] = []

    def make(**kw: Any) -> TestClient:
        url = f"sqlite:///{tmp_path / f'db{len(made)}.sqlite3'}"
        db = Database(url)
        db.migrate()
        with db.writing() as s:
            create_user(s, "adm", PASSWORD, "admin")
        app = create_app(ApiSettings(database_url=url, **kw), db=db)
        client = TestClient(app, base_url="http://127.0.0.1")
        made.append((client, db))
        return client

    yield make
    for client, db in made:
        client.close()
        db.dispose()


def mbtiles(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name text, value text)")
    con.execute(
        "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, "
        "tile_data blob)"
    )
    # Tile z=14, x=14601, y=6416 (XYZ) is row 2**14 - 1 - 6416 in TMS numbering.
    con.execute("INSERT INTO tiles VALUES (14, 14601, ?, ?)", (2**14 - 1 - 6416, PNG))
    con.commit()
    con.close()
    return path


def login(client: TestClient, user: str = "adm") -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_without_tiles_the_csp_names_no_other_host(make_client: Any) -> None:
    client = make_client()
    r = client.get("/login")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data:;" in csp
    assert "http" not in csp
    tiles = json.loads(re.search(r'id="page-tiles">(.*?)</script>', r.text).group(1))  # type: ignore[union-attr]
    assert tiles == {"url": "", "attribution": "", "kind": "none"}
    assert client.get("/tiles/14/14601/6416").status_code == 404


def test_gsi_tiles_add_their_host_and_attribution(make_client: Any) -> None:
    client = make_client(tile_url=GSI_TILE_URL)
    r = client.get("/login")
    csp = r.headers["content-security-policy"]
    assert "img-src 'self' data: https://cyberjapandata.gsi.go.jp;" in csp
    assert "connect-src 'self'" in csp and "script-src 'self';" in csp
    tiles = json.loads(re.search(r'id="page-tiles">(.*?)</script>', r.text).group(1))  # type: ignore[union-attr]
    assert tiles["url"] == GSI_TILE_URL and "地理院タイル" in tiles["attribution"]


def test_local_mbtiles_are_served_by_the_service(make_client: Any, tmp_path: Path) -> None:
    client = make_client(tile_file=mbtiles(tmp_path / "area.mbtiles"))
    r = client.get("/tiles/14/14601/6416")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == PNG
    # A tile the file does not hold: a transparent tile, not an error in the browser.
    empty = client.get("/tiles/14/0/0")
    assert empty.status_code == 200 and empty.content == EMPTY_PNG
    assert client.get("/tiles/3/9/0").status_code == 404  # outside the tile grid
    csp = client.get("/login").headers["content-security-policy"]
    assert "http" not in csp  # local tiles come from the service itself


def test_local_pmtiles_are_served_by_the_service(make_client: Any, tmp_path: Path) -> None:
    png = tile_png()
    path = write_pmtiles(tmp_path / "area.pmtiles", {(14, 14601, 6416): png, (13, 7300, 3208): png})
    client = make_client(tile_file=path)
    r = client.get("/tiles/14/14601/6416")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == png
    assert client.get("/tiles/13/7300/3208").content == png
    empty = client.get("/tiles/14/0/0")  # not in the file: a transparent tile
    assert empty.status_code == 200 and empty.content == EMPTY_PNG
    tiles = json.loads(
        re.search(r'id="page-tiles">(.*?)</script>', client.get("/login").text).group(1)
    )  # type: ignore[union-attr]
    assert tiles["url"] == "/tiles/{z}/{x}/{y}" and tiles["kind"] == "local"
    assert "http" not in client.get("/login").headers["content-security-policy"]


def test_a_vector_or_broken_tile_file_stops_the_service_naming_it(tmp_path: Path) -> None:
    vector = write_pmtiles(tmp_path / "roads.pmtiles", {(14, 14601, 6416): b"\x1a\x00"}, "mvt")
    with pytest.raises(InputError) as err:
        create_app(
            ApiSettings(database_url=f"sqlite:///{tmp_path / 'v.sqlite3'}", tile_file=vector)
        )
    assert [str(p) for p in err.value.problems] == [
        f"{vector}, field 'tile_type': found MVT tiles; "
        "expected raster tiles (PNG, JPEG or WebP) [vector_tiles]"
    ]
    broken = tmp_path / "broken.pmtiles"
    broken.write_bytes(b"not a tile archive" * 10)
    with pytest.raises(InputError, match=r"broken\.pmtiles: found not a PMTiles v3 header"):
        create_app(
            ApiSettings(database_url=f"sqlite:///{tmp_path / 'b.sqlite3'}", tile_file=broken)
        )


def test_login_needs_its_csrf_token_and_logout_ends_the_session(make_client: Any) -> None:
    client = make_client()
    client.get("/login")
    r = client.post(
        "/login", data={"username": "adm", "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 403
    login(client)
    assert client.get("/admin/users", follow_redirects=False).status_code == 200
    page = client.get("/admin/users")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/logout", follow_redirects=False).status_code == 403
    session = client.cookies.get("junkai_session")
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    # The old cookie no longer opens anything: the token expired at logout.
    client.cookies.set("junkai_session", session or "")
    r = client.get("/admin/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_docs_load_swagger_from_the_service(make_client: Any) -> None:
    client = make_client()
    r = client.get("/docs")
    assert r.status_code == 200
    assert "/assets/swagger-ui/swagger-ui-bundle.js" in r.text
    assert "cdn" not in r.text.lower() and "https://" not in r.text.split("<body>")[0]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    # The JSON API is unchanged.
    assert client.get("/health").status_code == 200
    assert client.get("/beats").status_code == 401


def test_open_redirect_is_refused(make_client: Any) -> None:
    client = make_client()
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
    r = client.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"
