"""The workspace: choosing it, importing into it all or nothing, beats by
location, status, templates, and the layering (``junkai_geo`` never imports
``api``)."""

from __future__ import annotations

import ast
import io
import re
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import box

from api.cli import main
from api.importer import beats_of_points
from api.workspace import WORKSPACE_ENV, resolve_url, sqlite_url

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def test_junkai_geo_never_imports_api() -> None:
    offenders = []
    for path in sorted((ROOT / "junkai_geo").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {n}"  # type: ignore[attr-defined]
                for n in names
                if n == "api" or n.startswith("api.")
            ]
    assert not offenders, offenders


def test_workspace_url_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("JUNKAI_DATABASE_URL", "DATABASE_URL", WORKSPACE_ENV):
        monkeypatch.delenv(name, raising=False)
    assert resolve_url() is None  # the bundled data
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "env.sqlite3"))
    assert resolve_url() == sqlite_url(tmp_path / "env.sqlite3")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@h/db")
    assert resolve_url() == "postgresql+psycopg://u:p@h/db"
    assert resolve_url(str(tmp_path / "w.sqlite3")) == sqlite_url(tmp_path / "w.sqlite3")
    assert resolve_url("ignored", "sqlite:///x.db") == "sqlite:///x.db"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--quiet"] if argv[0] not in ("users",) else list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("workspace_not_a_database.sqlite3", "a file that is not an SQLite database"),
        (
            "workspace_other_app.sqlite3",
            "an SQLite database of another application (tables: notes)",
        ),
    ],
)
def test_a_file_that_is_not_a_workspace_is_refused_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, found: str
) -> None:
    copy = tmp_path / name
    copy.write_bytes((FIXTURES / name).read_bytes())
    code, _, err = run(capsys, "status", "--workspace", str(copy))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"  - {name}: found {found}; expected a junkai-geo workspace (an SQLite file made by "
        "`junkai-geo import` or `junkai-geo serve`), or a path where none exists yet "
        "[not_a_workspace]"
    )
    assert copy.read_bytes() == (FIXTURES / name).read_bytes()


def counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("koban", "beats", "officers", "households", "visits")
        }
    finally:
        con.close()


@pytest.fixture
def workspace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    path = tmp_path / "ws.sqlite3"
    for layer, name in (("koban", "koban_ok.geojson"), ("beats", "beats_ok.geojson")):
        code, out, err = run(
            capsys, "import", layer, str(FIXTURES / name), "--workspace", str(path)
        )
        assert code == 0, err
    return path


def test_officers_naming_an_unknown_koban_change_nothing(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    before = counts(workspace)
    code, _, err = run(
        capsys,
        "import",
        "officers",
        str(FIXTURES / "workspace_officers_unknown_koban.csv"),
        "--workspace",
        str(workspace),
    )
    assert code == 1
    assert err.splitlines() == [
        "junkai-geo import officers: 1 problem(s); nothing was imported into the workspace "
        f"{workspace}",
        "  - workspace_officers_unknown_koban.csv, row/feature O3, field 'koban_id': found "
        "'K9'; expected the id of a koban in the database [unknown_ref]",
    ]
    assert counts(workspace) == before  # O1 (clean) was not imported either


def test_households_outside_every_beat_are_reported_and_nothing_is_imported(
    capsys: pytest.CaptureFixture[str], workspace: Path, tmp_path: Path
) -> None:
    fixture = FIXTURES / "workspace_households_outside_beats.csv"
    code, _, err = run(capsys, "import", "households", str(fixture), "--workspace", str(workspace))
    assert code == 1
    assert err.splitlines() == [
        "junkai-geo import households: 2 problem(s); nothing was imported into the workspace "
        f"{workspace}",
        "  - workspace_households_outside_beats.csv, row/feature W4, field 'geometry': found a "
        "point at lon 136.580000, lat 36.610000 outside every beat, 2851 m from the nearest "
        "beat 'B1'; expected a point inside a beat of the workspace, or a beat_id "
        "[outside_beats]",
        "  - workspace_households_outside_beats.csv, row/feature W5, field 'geometry': found a "
        "point at lon 136.590000, lat 36.650000 outside every beat, 6718 m from the nearest "
        "beat 'B1'; expected a point inside a beat of the workspace, or a beat_id "
        "[outside_beats]",
    ]
    assert counts(workspace)["households"] == 0
    # Without the two, every household is placed in the beat that holds it.
    inside = tmp_path / "households_inside.csv"
    lines = fixture.read_text(encoding="utf-8").splitlines()
    inside.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "import", "households", str(inside), "--workspace", str(workspace))
    assert code == 0, err
    assert "3 household(s) without beat_id placed in the beat that holds them" in out
    con = sqlite3.connect(workspace)
    placed = dict(con.execute("SELECT household_id, beat_id FROM households").fetchall())
    con.close()
    assert placed == {"W1": "B1", "W2": "B1", "W3": "B2"}
    code, out, _ = run(capsys, "status", "--workspace", str(workspace))
    assert code == 0
    assert "households without a beat: 0" in out
    assert "beats without an officer: 2 (B1, B2)" in out


def ray_casting(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    """Even-odd rule, strictly inside (an independent point-in-polygon)."""
    inside = False
    n = len(ring)
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xc:
                inside = not inside
    return inside


def on_boundary(x: float, y: float, ring: list[tuple[float, float]]) -> bool:
    n = len(ring)
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if (
            abs(cross) < 1e-9
            and min(x1, x2) - 1e-9 <= x <= max(x1, x2) + 1e-9
            and min(y1, y2) - 1e-9 <= y <= max(y1, y2) + 1e-9
        ):
            return True
    return False


def test_beats_by_location_match_an_independent_point_in_polygon() -> None:
    rng = np.random.default_rng(7)
    # A 4 x 3 grid of beats sharing edges, with jagged (non-rectangular) cells.
    polys, ids = [], []
    for i in range(4):
        for j in range(3):
            cell = box(i * 100, j * 100, (i + 1) * 100, (j + 1) * 100)
            if (i + j) % 2 == 0:  # a notch handed to no one
                cell = cell.difference(box(i * 100 + 40, j * 100 + 40, i * 100 + 60, j * 100 + 60))
            polys.append(cell)
            ids.append(f"B{(11 - (i * 3 + j)):02d}")  # ids not in grid order
    beat_ids = np.array(ids, dtype=object)
    geoms = np.array(polys, dtype=object)
    xy = np.vstack(
        [
            rng.uniform(-30, 430, size=(400, 2)),
            # on shared edges and corners
            np.column_stack([np.repeat([100.0, 200.0, 300.0], 5), rng.uniform(0, 300, 15)]),
            np.column_stack([rng.uniform(0, 400, 10), np.repeat([100.0, 200.0], 5)]),
            [[100.0, 100.0], [200.0, 200.0]],
        ]
    )
    points = shapely.points(xy)
    beat, nearest, dist = beats_of_points(points, beat_ids, geoms)
    for k, (x, y) in enumerate(xy):
        holders = []
        for bid, poly in zip(ids, polys, strict=True):
            rings = [list(poly.exterior.coords)[:-1]] + [
                list(r.coords)[:-1] for r in poly.interiors
            ]
            inside = sum(ray_casting(x, y, r) for r in rings) % 2 == 1
            if inside or any(on_boundary(x, y, r) for r in rings):
                holders.append(bid)
        expected = min(holders) if holders else None  # the shared-edge rule
        assert beat[k] == expected, (x, y, holders)
        if expected is None:
            d = {
                bid: poly.distance(shapely.Point(x, y))
                for bid, poly in zip(ids, polys, strict=True)
            }
            assert dist[k] == pytest.approx(min(d.values()))
            assert d[nearest[k]] == pytest.approx(min(d.values()))
    assert sum(b is None for b in beat) > 20  # the test exercises both cases


def test_status_of_the_bundled_data_matches_data_readme(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("JUNKAI_DATABASE_URL", "DATABASE_URL", WORKSPACE_ENV):
        monkeypatch.delenv(name, raising=False)
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith("| `kanazawa/`"))
    figures = {
        k: int(v.replace(",", ""))
        for v, k in re.findall(
            r"([\d,]+) (census areas|koban|beats|officers|buildings|households|visits)", line
        )
    }
    kinds = re.search(r"home ([\d,]+) / business ([\d,]+) / public ([\d,]+)", readme)
    assert kinds is not None and len(figures) == 7
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    import json

    status = json.loads(out)
    c = status["counts"]
    assert {
        "census areas": c["units"],
        "koban": c["koban"],
        "beats": c["beats"],
        "officers": c["officers"],
        "buildings": c["buildings"],
        "households": c["households"],
        "visits": c["visits"],
    } == figures
    assert [status["households_by_kind"][k] for k in ("home", "business", "public")] == [
        int(v.replace(",", "")) for v in kinds.groups()
    ]
    assert status["households_without_beat"] == 0
    assert status["beats_without_officer"] == 0
    assert status["buildings_without_beat"] == 0
    assert status["unknown"] > 0


def test_templates_have_the_columns_and_read_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pyogrio

    from junkai_geo.ingest import read_layer

    code, _, _ = run(capsys, "template", "households", "--out", str(tmp_path / "h.csv"))
    assert code == 0
    assert (tmp_path / "h.csv").read_bytes() == (
        b"\xef\xbb\xbfhousehold_id,kind,beat_id,building_id,floor,address,registered_on,lon,lat\r\n"
    )
    code, _, _ = run(
        capsys,
        "template",
        "koban",
        "--out",
        str(tmp_path / "k.csv"),
        "--format",
        "csv-cp932",
        "--japanese",
    )
    assert code == 0
    header = (tmp_path / "k.csv").read_bytes().decode("cp932")
    assert header == "交番ID,交番名,種別,警察署,経度,緯度\r\n"
    # A file filled in under the Japanese names reads as the canonical columns.
    (tmp_path / "k.csv").write_bytes(
        (header + "K1,香林坊交番,交番,金沢中,136.65,36.56\r\n").encode("cp932")
    )
    koban = read_layer(tmp_path / "k.csv", "koban")
    assert koban[["koban_id", "name", "kind", "station"]].iloc[0].tolist() == [
        "K1",
        "香林坊交番",
        "koban",
        "金沢中",
    ]
    code, _, _ = run(capsys, "template", "beats", "--out", str(tmp_path / "b.gpkg"))
    assert code == 0
    info = pyogrio.read_info(tmp_path / "b.gpkg")
    assert list(info["fields"]) == ["beat_id", "koban_id", "name"]
    assert info["geometry_type"] == "MultiPolygon" and info["crs"] == "EPSG:6668"


def test_users_add_needs_an_officer_of_the_workspace(
    capsys: pytest.CaptureFixture[str], workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = run(
        capsys,
        "import",
        "officers",
        str(FIXTURES / "officers_ok.csv"),
        "--workspace",
        str(workspace),
    )
    assert code == 0
    monkeypatch.setenv("JUNKAI_NEW_PASSWORD", "correct-horse-battery")
    code, _, err = run(
        capsys, "users", "add", "taro", "--officer-id", "B1", "--workspace", str(workspace)
    )
    assert code == 2
    assert err.strip() == (
        "junkai-geo users add: --officer-id: found 'B1', not an officer of the workspace; "
        "expected an officer_id of the officers layer (e.g. O1, O2)"
    )
    code, out, _ = run(
        capsys, "users", "add", "taro", "--officer-id", "O1", "--workspace", str(workspace)
    )
    assert code == 0 and out.strip() == "added officer taro"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_long_commands_show_progress_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, quiet: bool
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["import", "koban", str(FIXTURES / "koban_ok.geojson")]
    argv += ["--workspace", str(tmp_path / "w.sqlite3")] + (["--quiet"] if quiet else [])
    assert main(argv) == 0
    shown = terminal.getvalue()
    assert ("reading and checking 1 koban file(s)" in shown) is not quiet
    assert ("reading and checking" in shown) is not quiet


def test_an_officer_whose_beat_has_no_households_gets_an_empty_plan_saying_why(
    capsys: pytest.CaptureFixture[str], workspace: Path, tmp_path: Path
) -> None:
    import json

    code, _, err = run(
        capsys,
        "import",
        "officers",
        str(FIXTURES / "officers_ok.csv"),
        "--workspace",
        str(workspace),
    )
    assert code == 0, err
    out = tmp_path / "plan.json"
    code, _, err = run(
        capsys, "plan", "--officer", "O1", "--date", "2026-11-02", "--out", str(out),
        "--workspace", str(workspace),
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["stops"] == [] and plan["beat_id"] == "B1"
    assert any(n.startswith("no_households: 受持区に世帯がありません") for n in plan["notes"])


def test_buildings_outside_every_beat_are_reported_and_nothing_is_imported(
    capsys: pytest.CaptureFixture[str], workspace: Path
) -> None:
    fixture = FIXTURES / "workspace_buildings_outside_beats.csv"
    code, _, err = run(capsys, "import", "buildings", str(fixture), "--workspace", str(workspace))
    assert code == 1
    assert err.splitlines() == [
        "junkai-geo import buildings: 2 problem(s); nothing was imported into the workspace "
        f"{workspace}",
        "  - workspace_buildings_outside_beats.csv, row/feature G3, field 'geometry': found a "
        "point at lon 136.580000, lat 36.610000 outside every beat, 2851 m from the nearest "
        "beat 'B1'; expected a point inside a beat of the workspace, or a beat_id "
        "[outside_beats]",
        "  - workspace_buildings_outside_beats.csv, row/feature G4, field 'geometry': found a "
        "point at lon 136.700000, lat 36.620000 outside every beat, 3328 m from the nearest "
        "beat 'B2'; expected a point inside a beat of the workspace, or a beat_id "
        "[outside_beats]",
    ]
    con = sqlite3.connect(workspace)
    assert con.execute("SELECT count(*) FROM buildings").fetchone()[0] == 0
    con.close()


def _segment_distance(x: float, y: float, ring: list[tuple[float, float]]) -> float:
    """Distance from (x, y) to a closed ring's edges (independent of shapely)."""
    best = np.inf
    n = len(ring)
    for i in range(n):
        (x1, y1), (x2, y2) = ring[i], ring[(i + 1) % n]
        dx, dy = x2 - x1, y2 - y1
        t = min(1.0, max(0.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
        best = min(best, float(np.hypot(x - (x1 + t * dx), y - (y1 + t * dy))))
    return best


def test_buildings_by_location_match_an_independent_point_in_polygon(
    capsys: pytest.CaptureFixture[str], workspace: Path, tmp_path: Path
) -> None:
    """Buildings imported without beat_id: every one placed in the beat a
    ray-casting test (in the workspace's metres) finds, or all reported with
    the distance to the nearest beat; status then counts those without a beat."""
    import json

    import pandas as pd
    import pyproj

    rng = np.random.default_rng(11)
    n = 300
    lon = np.concatenate([rng.uniform(136.58, 136.74, n - 20), np.full(20, 136.66)])
    lat = np.concatenate([rng.uniform(36.51, 36.61, n - 20), rng.uniform(36.535, 36.585, 20)])
    frame = pd.DataFrame(
        {"building_id": [f"G{i:03d}" for i in range(n)], "kind": "detached", "lon": lon, "lat": lat}
    )
    frame.to_csv(tmp_path / "all.csv", index=False)
    # The independent answer, in the workspace's CRS (EPSG:6675) as the rows are kept.
    to_m = pyproj.Transformer.from_crs("EPSG:6668", "EPSG:6675", always_xy=True)
    beats = json.loads((FIXTURES / "beats_ok.geojson").read_text(encoding="utf-8"))
    rings = {
        f["properties"]["beat_id"]: [
            to_m.transform(*pyproj.Transformer.from_crs(4326, 6668, always_xy=True).transform(a, b))
            for a, b in f["geometry"]["coordinates"][0][:-1]
        ]
        for f in beats["features"]
    }
    xs, ys = to_m.transform(lon, lat)
    expected: list[set[str]] = []
    for x, y in zip(xs, ys, strict=True):
        near = {b for b, r in rings.items() if _segment_distance(x, y, r) < 1e-3}
        inside = {b for b, r in rings.items() if ray_casting(x, y, r)}
        # Within a millimetre of an edge either side is right; exactly on a
        # shared edge the lowest id (test_beats_by_location_...).
        expected.append(near | inside)
    outside = [i for i, e in enumerate(expected) if not e]
    assert 50 < len(outside) < n - 100
    code, _, err = run(
        capsys, "import", "buildings", str(tmp_path / "all.csv"), "--workspace", str(workspace)
    )
    assert code == 1
    lines = err.splitlines()[1:]
    assert len(lines) == len(outside)
    for i, line in zip(outside, lines, strict=True):
        d = min(_segment_distance(xs[i], ys[i], r) for r in rings.values())
        m = re.search(r"row/feature (G\d+),.* outside every beat, (\d+) m from", line)
        assert m is not None and m.group(1) == f"G{i:03d}", line
        assert abs(int(m.group(2)) - d) <= 0.5 + 1e-6, (line, d)
    frame.drop(index=outside).to_csv(tmp_path / "inside.csv", index=False)
    code, out, err = run(
        capsys, "import", "buildings", str(tmp_path / "inside.csv"), "--workspace", str(workspace)
    )
    assert code == 0, err
    assert f"{n - len(outside)} building(s) without beat_id placed" in out
    con = sqlite3.connect(workspace)
    placed = dict(con.execute("SELECT building_id, beat_id FROM buildings").fetchall())
    con.close()
    assert len(placed) == n - len(outside)
    for i, e in enumerate(expected):
        if e:
            assert placed[f"G{i:03d}"] in e, (i, lon[i], lat[i], e)
    assert {placed[f"G{i:03d}"] for i in range(n - 20, n)} <= {"B1", "B2"}
    code, out, _ = run(capsys, "status", "--workspace", str(workspace))
    assert "buildings without a beat: 0" in out
    # A new beat version without B2: its buildings have no beat now, and status says so.
    only_b1 = {
        **beats,
        "features": [f for f in beats["features"] if f["properties"]["beat_id"] == "B1"],
    }
    (tmp_path / "b1.geojson").write_text(json.dumps(only_b1), encoding="utf-8")
    code, out, err = run(
        capsys, "import", "beats", str(tmp_path / "b1.geojson"), "--workspace", str(workspace)
    )
    assert code == 0, err
    lost = sorted(b for b, beat in placed.items() if beat == "B2")
    assert f"0 buildings placed in the new beats by location; {len(lost)} lie in no beat" in out
    code, out, _ = run(capsys, "status", "--workspace", str(workspace), "--json")
    status = json.loads(out)
    assert status["buildings_without_beat"] == len(lost)
    assert status["buildings_without_beat_ids"] == lost[:20]


def test_postgis_points_carry_the_workspace_crs_abroad(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A workspace in Helsinki: PostGIS points are labelled with its CRS (UTM 35N,
    EPSG:32635), transform back to the imported longitude / latitude, measure in
    metres, and the migration relabels a database made before (down and up)."""
    import geopandas as gpd
    from alembic import command
    from sqlalchemy import create_engine, text

    from api.db import alembic_config
    from tests.api_tests.conftest import fresh_postgres_database
    from tests.test_own_data import helsinki_files

    helsinki_files(tmp_path)
    source = gpd.read_file(tmp_path / "households.geojson").set_index("household_id")
    with fresh_postgres_database() as url:
        for layer, name in (
            ("koban", "koban.geojson"),
            ("beats", "beats.geojson"),
            ("households", "households.geojson"),
        ):
            code, _, err = run(capsys, "import", layer, str(tmp_path / name), "--database-url", url)
            assert code == 0, err
        engine = create_engine(url)

        def srids(conn: object) -> dict[str, set[int]]:
            return {
                t: {
                    int(v)
                    for (v,) in conn.execute(  # type: ignore[attr-defined]
                        text(f"SELECT DISTINCT ST_SRID(geom) FROM {t}")
                    )
                }
                | {
                    int(
                        conn.execute(  # type: ignore[attr-defined]
                            text(f"SELECT Find_SRID(current_schema()::text, '{t}', 'geom')")
                        ).scalar()
                    )
                }
                for t in ("koban", "households", "beats")
            }

        try:
            with engine.connect() as conn:
                crs = conn.execute(text("SELECT value FROM workspace_meta WHERE key = 'crs'"))
                assert crs.scalar() == "EPSG:32635"
                assert srids(conn) == {"koban": {32635}, "households": {32635}, "beats": {4326}}
                rows = conn.execute(
                    text(
                        "SELECT household_id, ST_X(ST_Transform(geom, 4326)), "
                        "ST_Y(ST_Transform(geom, 4326)), x, y FROM households"
                    )
                ).all()
                assert len(rows) == len(source) == 60
                for hid, lon, lat, _, _ in rows:
                    p = source.geometry[hid]
                    assert abs(lon - p.x) < 1e-8 and abs(lat - p.y) < 1e-8, (hid, lon, lat)
                # Distances in metres, as the GiST-indexed ST_DWithin of /households/near.
                hid0, _, _, x0, y0 = rows[0]
                near = conn.execute(
                    text(
                        "SELECT count(*) FROM households WHERE "
                        "ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:x, :y), 32635), 150)"
                    ),
                    {"x": x0, "y": y0},
                ).scalar()
                assert near == sum(np.hypot(x - x0, y - y0) <= 150 for *_, x, y in rows) > 1
            # A database made before: labelled 6675 at 0009, relabelled by 0010_geom_srid.
            cfg = alembic_config()
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "0009")
            with engine.connect() as conn:
                assert srids(conn)["households"] == {6675}
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            with engine.connect() as conn:
                assert srids(conn) == {"koban": {32635}, "households": {32635}, "beats": {4326}}
        finally:
            engine.dispose()


def test_users_add_takes_the_station_as_the_police_list_writes_it(
    capsys: pytest.CaptureFixture[str], workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The koban layer stores 金沢中署 / 金沢東署; a manager may be given the
    # station as the police list writes it, or in full-width characters.
    monkeypatch.setenv("JUNKAI_NEW_PASSWORD", "correct-horse-battery")
    for user, given in (("sato", "金沢東警察署"), ("kato", "金沢中"), ("ito", "　金沢中署")):
        code, out, err = run(
            capsys,
            "users",
            "add",
            user,
            "--role",
            "manager",
            "--station",
            given,
            "--workspace",
            str(workspace),
        )
        assert code == 0, err
        assert out.strip() == f"added manager {user}"
    code, out, _ = run(capsys, "users", "list", "--workspace", str(workspace))
    assert code == 0
    # Stored as the koban layer spells it: the manager's scope compares stations as stored.
    assert [line.split("\t")[3] for line in out.splitlines()] == [
        "金沢東署",
        "金沢中署",
        "金沢中署",
    ]
    code, _, err = run(
        capsys,
        "users",
        "add",
        "kudo",
        "--role",
        "manager",
        "--station",
        "金沢西警察署",
        "--workspace",
        str(workspace),
    )
    assert code == 2
    assert err.strip() == (
        "junkai-geo users add: --station: found '金沢西警察署', the station of no koban in the "
        "workspace; expected one of 金沢中署, 金沢東署 (警察署 may be written or left out)"
    )
